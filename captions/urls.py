from django.urls import re_path

from captions import views

urlpatterns = [
    re_path(
        r"^watch/(?P<slug>[-a-zA-Z0-9_]+)/transcript\.(?P<fmt>vtt|srt|txt)$",
        views.transcript,
        name="transcript",
    ),
]
