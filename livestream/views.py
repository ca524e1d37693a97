import logging

from django.conf import settings
from django.core.cache import cache
from django.db import connection
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.templatetags.static import static
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from gate import grant as grants
from gate.decorators import grant_required
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


@never_cache
@require_GET
@grant_required
def watch(request: HttpRequest, stream: Stream) -> HttpResponse:
    response = render(
        request,
        "livestream/watch.html",
        {
            "stream": stream,
            "grant": request.grant,
            "player_config": player.player_config(stream),
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
