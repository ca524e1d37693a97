from django.urls import path

from captions import consumers

websocket_urlpatterns = [
    path("ws/watch/<slug:slug>/captions/", consumers.CaptionsConsumer.as_asgi()),
    path("ws/watch/<slug:slug>/audio/", consumers.AudioConsumer.as_asgi()),
]
