from django.conf import settings
from django.contrib import admin
from django.urls import include, path

from livestream import metrics, views

admin.site.site_header = "Live stream administration"
admin.site.site_title = "Live stream admin"

urlpatterns = [
    path("", views.home, name="home"),
    path("", include("gate.urls")),
    path("", include("captions.urls")),
    path("watch/<slug:slug>/", views.watch, name="watch"),
    path("watch/<slug:slug>/playback/", views.playback, name="playback"),
    path("healthz", views.healthz, name="healthz"),
    path("metrics", metrics.metrics, name="metrics"),
    path("admin/", admin.site.urls),
]

if settings.DEBUG:  # the offline demo's live stream (make run), never in production
    from demo.views import live_file

    urlpatterns.append(path("demo-live/<path:path>", live_file, name="demo_live"))
