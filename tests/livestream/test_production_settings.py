"""The settings as production runs them: DEBUG off, in a fresh interpreter."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x9!kq2-production-like-secret-key-with-enough-entropy-7f3a9c1e5b",
    "ALLOWED_HOSTS": "live.example.com",
    "CSRF_TRUSTED_ORIGINS": "https://live.example.com",
}


def run(args: list[str], env: dict[str, str], **kwargs) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if k not in PRODUCTION and k != "DATABASE_URL"}
    return subprocess.run(
        [sys.executable, *args],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        **kwargs,
    )


def test_check_deploy_passes_with_production_settings():
    result = run(["manage.py", "check", "--deploy", "--fail-level", "WARNING"], PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS"])
def test_start_up_refuses_a_missing_required_setting(missing):
    env = {**PRODUCTION, missing: ""}
    result = run(["manage.py", "check"], env)
    assert result.returncode != 0
    assert f"{missing} must be set when DEBUG is off" in result.stderr


def test_a_wildcard_allowed_host_is_refused():
    result = run(["manage.py", "check"], {**PRODUCTION, "ALLOWED_HOSTS": "*"})
    assert result.returncode != 0
    assert "'*' is refused" in result.stderr


COOKIE_PROBE = """
import json, django
django.setup()
from django.core.management import call_command
call_command("migrate", verbosity=0)
from django.test import Client
from gate.models import AccessCode
from livestream.models import Stream
stream = Stream.objects.create(title="T", slug="t", playback_url="https://x.live-video.net/a.m3u8")
AccessCode.objects.create(stream=stream, code="PROD-CODE")
client = Client(HTTP_HOST="live.example.com")
response = client.post("/enter/", {"code": "PROD-CODE"}, secure=True)
redirect = Client(HTTP_HOST="live.example.com").get("/enter/")
cookies = {
    name: {"secure": bool(m["secure"]), "httponly": bool(m["httponly"]), "samesite": m["samesite"]}
    for name, m in response.cookies.items()
}
print(json.dumps({
    "status": response.status_code,
    "cookies": cookies,
    "plain_http": [redirect.status_code, redirect.get("Location")],
    "hsts": response.get("Strict-Transport-Security", ""),
}))
"""


def test_cookies_are_secure_httponly_and_lax_in_production(tmp_path):
    env = {
        **PRODUCTION,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "livestream.settings",
    }
    result = run(["-c", COOKIE_PROBE], env)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["status"] == 302
    assert set(report["cookies"]) == {"sessionid", "csrftoken"}
    for flags in report["cookies"].values():
        assert flags == {"secure": True, "httponly": True, "samesite": "Lax"}
    assert report["plain_http"] == [301, "https://live.example.com/enter/"]
    assert "max-age=31536000" in report["hsts"]


def test_collectstatic_builds_the_production_manifest(tmp_path):
    env = {**PRODUCTION, "STATIC_ROOT": str(tmp_path / "static")}
    result = run(["manage.py", "collectstatic", "--noinput", "-v", "0"], env)
    assert result.returncode == 0, result.stderr
    manifest = json.loads((tmp_path / "static" / "staticfiles.json").read_text())
    for name in ("js/player.js", "js/captions.js", "js/pcm-worklet.js", "vendor/hls.js/hls.min.js"):
        assert name in manifest["paths"]
    assert (tmp_path / "static" / manifest["paths"]["js/player.js"]).with_suffix(".js.gz").exists()


@pytest.mark.parametrize(
    "layer",
    ["channels_redis.core.RedisChannelLayer", "channels_redis.pubsub.RedisPubSubChannelLayer"],
)
def test_the_channel_layer_waits_for_redis_longer_than_a_blocking_receive(layer):
    """RedisChannelLayer blocks in BZPOPMIN for ``brpop_timeout``; a socket timeout no longer
    than that made idle receives fail with a TimeoutError now and then."""
    code = (
        "import django; django.setup()\n"
        "from channels.layers import get_channel_layer\n"
        "from channels_redis.core import RedisChannelLayer\n"
        "from channels_redis.utils import create_pool, decode_hosts\n"
        "from django.conf import settings\n"
        "hosts = decode_hosts(settings.CHANNEL_LAYERS['default']['CONFIG']['hosts'])\n"
        "pool = create_pool(hosts[0])\n"
        "print(type(get_channel_layer()).__module__, pool.connection_kwargs['socket_timeout'],"
        " RedisChannelLayer.brpop_timeout)\n"
    )
    env = {**PRODUCTION, "DJANGO_SETTINGS_MODULE": "livestream.settings",
           "REDIS_URL": "redis://127.0.0.1:6379/0", "CHANNEL_LAYER_BACKEND": layer}  # fmt: skip
    done = run(["-c", code], env)
    assert done.returncode == 0, done.stderr
    module, socket_timeout, blocking = done.stdout.split()
    assert layer.startswith(module)
    assert float(socket_timeout) > float(blocking)


def test_a_load_balancer_probe_gets_the_health_answer_not_a_redirect(tmp_path):
    """Plain HTTP, straight to a process, with an address for a Host: 200, not 301 or 400."""
    import urllib.request

    from tests.live_site import SITE_ENV, start_daphne

    env = {
        **os.environ,
        **SITE_ENV,
        "DEBUG": "false",
        "SECRET_KEY": "x" * 60,
        "ALLOWED_HOSTS": "live.example.com",
        "SECURE_SSL_REDIRECT": "true",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
    }
    site = start_daphne(env, tmp_path)  # start_daphne itself waits for /healthz to be 200
    try:
        request = urllib.request.Request(f"{site.url}/healthz", headers={"Host": "10.0.3.7:8001"})
        with urllib.request.urlopen(request, timeout=10) as response:
            assert response.status == 200
        page = urllib.request.Request(f"{site.url}/enter/", headers={"Host": "10.0.3.7:8001"})
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(page, timeout=10)
        assert refused.value.code == 400  # everything else still checks the Host
    finally:
        site.stop()
