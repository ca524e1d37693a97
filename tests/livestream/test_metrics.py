"""``/metrics`` is for the operator's monitoring only: 404 until METRICS_TOKEN is set, then
only with ``Authorization: Bearer <token>``."""

import pytest
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.django_db


def test_metrics_do_not_exist_without_a_token(client, settings):
    settings.METRICS_TOKEN = ""
    assert client.get("/metrics").status_code == 404
    assert client.get("/metrics", HTTP_AUTHORIZATION="Bearer ").status_code == 404


@pytest.mark.parametrize("header", [None, "Bearer wrong", "Basic c2VjcmV0", "secret-metrics"])
def test_metrics_need_the_bearer_token(client, settings, header):
    settings.METRICS_TOKEN = "secret-metrics"
    extra = {"HTTP_AUTHORIZATION": header} if header else {}
    response = client.get("/metrics", **extra)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_with_the_token_they_parse_as_prometheus_text(client, settings):
    settings.METRICS_TOKEN = "secret-metrics"
    response = client.get("/metrics", HTTP_AUTHORIZATION="Bearer secret-metrics")
    assert response.status_code == 200
    names = {family.name for family in text_string_to_metric_families(response.text)}
    assert {
        "livestream_viewers",
        "livestream_captions",
        "livestream_fanout_latency_seconds",
        "livestream_speech_sessions",
        "livestream_gate_attempts",
        "livestream_websocket_closes",
    } <= names
