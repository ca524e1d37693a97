from django.urls import path, re_path

from captions import views

urlpatterns = [
    re_path(
        r"^watch/(?P<slug>[-a-zA-Z0-9_]+)/transcript\.(?P<fmt>vtt|srt|txt)$",
        views.transcript,
        name="transcript",
    ),
    path("watch/<slug:slug>/captions/<int:seq>/", views.correct_caption, name="correct-caption"),
]
