"""What an operator's monitoring scrapes from ``/metrics`` (Prometheus text format).

With several server processes on a host, set ``PROMETHEUS_MULTIPROC_DIR`` to a directory they
share (emptied when the service starts): every process writes its numbers there and any one of
them answers a scrape for all, as prometheus-client documents for multi-process servers.
Without it, a scrape shows the process that answered it.
"""

from __future__ import annotations

import hmac
import os

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

VIEWERS = Gauge(
    "livestream_viewers",
    "Viewers connected to a stream's captions now.",
    ["stream"],
    multiprocess_mode="livesum",
)
CAPTIONS = Counter(
    "livestream_captions_total", "Captions sent to a stream's viewers.", ["stream", "kind"]
)
FANOUT_LATENCY = Histogram(
    "livestream_fanout_latency_seconds",
    "From a caption's send to the channel layer until a process has written it to all of its "
    "viewers.",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
)
SPEECH_SESSIONS = Gauge(
    "livestream_speech_sessions",
    "Caption sessions open with the speech service.",
    multiprocess_mode="livesum",
)
SPEECH_EVENTS = Counter(
    "livestream_speech_events_total",
    "Speech-service trouble by kind: reconnecting, busy (429), skipped, refused.",
    ["kind"],
)
GATE_ATTEMPTS = Counter(
    "livestream_gate_attempts_total",
    "Access codes entered, by outcome: admitted, refused, limited (answered 429).",
    ["outcome"],
)
WEBSOCKET_CLOSES = Counter(
    "livestream_websocket_closes_total",
    "Websockets ended, by close code and by who closed them.",
    ["code", "by"],
)


def _registry() -> CollectorRegistry:
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return registry
    return REGISTRY


def metrics(request: HttpRequest) -> HttpResponse:
    """``GET /metrics`` with ``Authorization: Bearer <METRICS_TOKEN>``; 404 while unset."""
    token = settings.METRICS_TOKEN
    if not token:
        raise Http404
    given = request.headers.get("Authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        response = HttpResponse("A bearer token is needed.\n", status=401)
        response["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    return HttpResponse(generate_latest(_registry()), content_type=CONTENT_TYPE_LATEST)
