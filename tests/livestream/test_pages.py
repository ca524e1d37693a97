import json
import re

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


@pytest.fixture
def watching(client, enter, viewer_code):
    enter("VIEW-2024")
    return client


def test_the_player_page_has_the_title_video_and_states(watching):
    page = watching.get("/watch/keynote/")
    html = page.text
    assert '<h1 class="stream-title">Keynote</h1>' in html
    assert re.search(r"<video[^>]*\bplaysinline\b[^>]*\bmuted\b", html)
    assert 'id="player-state"' in html
    assert 'id="unmute"' in html


def test_the_playback_url_reaches_the_script_through_json_script(watching, stream):
    html = watching.get("/watch/keynote/").text
    match = re.search(r'<script id="player-config" type="application/json">(.*?)</script>', html)
    config = json.loads(match.group(1))
    assert config["playbackUrl"] == stream.playback_url
    assert config["ivs"]["script"].startswith("https://player.live-video.net/1.56.1/")
    assert config["hlsJs"] == "/static/vendor/hls.js/hls.min.js"


def test_a_local_sdk_build_is_served_from_static(watching, settings):
    settings.IVS_PLAYER_SCRIPT_URL = "local"
    config = watching.get("/watch/keynote/").text
    assert '"script": "/static/ivs/amazon-ivs-player.js"' in config
    assert '"wasmWorker": "/static/ivs/amazon-ivs-wasmworker.min.js"' in config


def test_a_title_with_html_is_shown_as_text(client, enter, make_stream, make_code):
    evil = make_stream(title='<img src=x onerror="alert(1)">', slug="evil")
    make_code("EVIL-CODE", stream=evil)
    enter("EVIL-CODE")
    html = client.get("/watch/evil/").text
    assert "<img src=x" not in html
    assert "&lt;img src=x onerror=&quot;alert(1)&quot;&gt;" in html


def test_the_player_page_has_a_tight_content_security_policy(watching, stream):
    csp = watching.get("/watch/keynote/")["Content-Security-Policy"]
    directives = dict(part.strip().split(" ", 1) for part in csp.split(";"))
    assert directives["default-src"] == "'self'"
    assert directives["object-src"] == "'none'"
    assert directives["frame-ancestors"] == "'none'"
    assert "'unsafe-inline'" not in csp
    assert "https://player.live-video.net" in directives["script-src"]
    assert "https://example.live-video.net" in directives["media-src"]
    assert "https://example.live-video.net" in directives["connect-src"]


def test_the_entry_page_allows_only_this_site(client):
    csp = client.get("/enter/")["Content-Security-Policy"]
    assert "live-video.net" not in csp
    assert "script-src 'self'" in csp


def test_the_player_page_is_not_cached(watching):
    assert "no-cache" in watching.get("/watch/keynote/")["Cache-Control"]


def test_static_files_are_served(db):
    response = Client().get("/static/js/player.js")
    assert response.status_code == 200
    assert b"IVSPlayer" in b"".join(response.streaming_content)


def _use_redis(settings, url: str) -> None:
    settings.REDIS_URL = url
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": url}
    }


class TestHealth:
    def test_healthy_with_a_database(self, client, db):
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json() == {"status": "ok", "checks": {"database": True}}

    def test_healthy_with_a_real_redis(self, client, db, settings, redis_url):
        _use_redis(settings, redis_url)
        response = client.get("/healthz")
        assert response.status_code == 200
        assert response.json()["checks"] == {"database": True, "redis": True}

    def test_unhealthy_when_redis_is_configured_but_down(self, client, db, settings):
        _use_redis(settings, "redis://127.0.0.1:1/0")
        response = client.get("/healthz")
        assert response.status_code == 503
        assert response.json() == {
            "status": "unavailable",
            "checks": {"database": True, "redis": False},
        }
