"""``/demo-live/<file>``: the demo broadcast's playlists and segments, in development only."""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.static import serve

from demo.broadcast import OUTPUT

CONTENT_TYPES = {".m3u8": "application/vnd.apple.mpegurl", ".ts": "video/mp2t"}


def live_file(request: HttpRequest, path: str) -> HttpResponse:
    if not settings.DEBUG:
        raise Http404("The demo broadcast is served in development only.")
    response = serve(request, path, document_root=OUTPUT)
    suffix = path[path.rfind(".") :]
    if suffix in CONTENT_TYPES:
        response["Content-Type"] = CONTENT_TYPES[suffix]
    # Live playlists change every segment; players on localhost and 127.0.0.1 alike may load it.
    response["Cache-Control"] = "no-cache"
    response["Access-Control-Allow-Origin"] = "*"
    return response
