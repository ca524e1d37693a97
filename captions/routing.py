from django.urls import path

from captions.audio_consumer import AudioConsumer
from captions.consumers import CaptionsConsumer

websocket_urlpatterns = [
    path("ws/watch/<slug:slug>/captions/", CaptionsConsumer.as_asgi()),
    path("ws/watch/<slug:slug>/audio/", AudioConsumer.as_asgi()),
]
