import logging

from django.conf import settings
from django.core.cache import cache
from django.core.exceptions import ImproperlyConfigured
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from gate import grant as grants
from gate.decorators import grant_required
from ivs import tokens
from livestream import player
from livestream.models import Stream

logger = logging.getLogger(__name__)


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    grant = grants.read(request.session)
    if grant is not None:
        stream = Stream.objects.filter(pk=grant.stream_id).first()
        if stream is not None:
            return HttpResponseRedirect(stream.get_absolute_url())
    return HttpResponseRedirect(reverse("enter"))


def _playback_token(request: HttpRequest, stream: Stream) -> tokens.PlaybackToken | None:
    """A fresh token for a private stream; None (and an ERROR line) when none can be signed."""
    try:
        return tokens.issue(request, stream, request.grant)
    except ImproperlyConfigured as error:
        # The message names the setting, never the key.
        logger.error("private stream %s cannot be played: %s", stream.slug, error)
        return None


@never_cache
@require_GET
@grant_required
def watch(request: HttpRequest, stream: Stream) -> HttpResponse:
    playback = _playback_token(request, stream) if stream.is_private else None
    response = render(
        request,
        "livestream/watch.html",
        {
            "stream": stream,
            "grant": request.grant,
            "player_config": player.player_config(stream, playback),
            "captions_config": {
                "captions": f"/ws/watch/{stream.slug}/captions/",
                "audio": f"/ws/watch/{stream.slug}/audio/",
                "workletUrl": static("js/pcm-worklet.js"),
            },
        },
    )
    extra = player.csp_extra(stream)
    # The caption sockets: same host, named explicitly for browsers whose 'self' omits ws(s).
    scheme = "wss" if request.is_secure() else "ws"
    extra["connect-src"].append(f"{scheme}://{request.get_host()}")
    response.csp_extra = extra
    return response


@never_cache
@require_GET
@grant_required(forbid=True)
def playback(request: HttpRequest, stream: Stream) -> JsonResponse:
    """Where the player loads the video from now: for a private stream, the playback URL with a
    fresh token for this viewer. Without a grant (revoked, expired, never): 403."""
    if not stream.is_private:
        return JsonResponse({"url": stream.playback_url, "expires_at": None, "expires_in": None})
    token = _playback_token(request, stream)
    if token is None:
        return JsonResponse({"error": "The video cannot be played right now."}, status=503)
    return JsonResponse(
        {"url": token.url, "expires_at": token.expires_at, "expires_in": token.expires_in}
    )


def _database_ok() -> bool:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            return cursor.fetchone() == (1,)
    except Exception:
        logger.exception("health check: database unreachable")
        return False


def _redis_ok() -> bool:
    try:
        cache.set("healthz", "ok", 5)
        return cache.get("healthz") == "ok"
    except Exception:
        logger.exception("health check: cache unreachable")
        return False


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    checks = {"database": _database_ok()}
    if settings.REDIS_URL:
        checks["redis"] = _redis_ok()
    healthy = all(checks.values())
    return JsonResponse(
        {"status": "ok" if healthy else "unavailable", "checks": checks},
        status=200 if healthy else 503,
    )
