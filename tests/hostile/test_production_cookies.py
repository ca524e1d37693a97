"""The row of docs/security.md about cookies and deployment: Daphne with the production settings
docs/deployment.md lists, behind a TLS proxy, sends only secure cookies, redirects plain HTTP
and passes ``check --deploy``.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import re
import subprocess
import sys
import time
import urllib.parse
from pathlib import Path

from tests.hostile.conftest import DEEPGRAM_KEY, STREAM_URL
from tests.live_site import BASE_DIR, SITE_ENV, LiveSite, free_port

# The production settings docs/deployment.md lists, on this machine: DEBUG off, behind a TLS
# proxy that says so with X-Forwarded-Proto. SECURE_SSL_REDIRECT and HSTS keep their defaults.
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "x9!kq2-production-like-secret-key-with-enough-entropy-7f3a9c1e5b",
    "ALLOWED_HOSTS": "127.0.0.1",
    "BEHIND_TLS_PROXY": "true",
    "TRUSTED_PROXY_COUNT": "1",
}
VIA_TLS_PROXY = {"X-Forwarded-Proto": "https", "X-Forwarded-For": "198.51.100.20"}


def start_production_site(tmp_path: Path) -> LiveSite:
    """Daphne with the production settings. Not ``single_site``: its start-up probe asks for
    /healthz over plain HTTP, which production answers with a redirect to HTTPS."""
    env = {**os.environ, **SITE_ENV, **PRODUCTION}
    for development_only in ("SECURE_SSL_REDIRECT", "CSRF_TRUSTED_ORIGINS"):
        env.pop(development_only)
    env |= {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "STATIC_ROOT": str(tmp_path / "static"),
        "IVS_PLAYER_SCRIPT_URL": "https://player.live-video.net/1.56.1/amazon-ivs-player.min.js",
        "DEEPGRAM_API_KEY": DEEPGRAM_KEY,
    }
    probe = LiveSite("", env, tmp_path, tmp_path / "none.log", None)  # type: ignore[arg-type]
    probe.manage("migrate", "--noinput", "-v", "0")
    probe.manage("collectstatic", "--noinput", "-v", "0")
    port = free_port()
    log_path = tmp_path / "daphne.log"
    with log_path.open("w") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "daphne", "-b", "127.0.0.1", "-p", str(port),
             "livestream.asgi:application"],
            cwd=BASE_DIR, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    site = LiveSite(f"http://127.0.0.1:{port}", env, tmp_path, log_path, process)
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        with contextlib.suppress(OSError):
            if raw_request(site, "GET", "/healthz", VIA_TLS_PROXY)[0] == 200:
                return site
        time.sleep(0.1)
    site.stop()
    raise RuntimeError(f"Daphne did not start with production settings:\n{site.log()}")


def raw_request(
    site: LiveSite, method: str, path: str, sent: dict[str, str], body: bytes | None = None
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request; every header of the answer, Set-Cookie lines included."""
    address = urllib.parse.urlsplit(site.url)
    connection = http.client.HTTPConnection(address.hostname, address.port, timeout=10)
    try:
        connection.request(method, path, body=body, headers=sent)
        response = connection.getresponse()
        return response.status, response.msg, response.read()
    finally:
        connection.close()


def set_cookies(answer: http.client.HTTPMessage) -> dict[str, set[str]]:
    """Each cookie set, with its attributes as written, lower-cased (``secure``,
    ``samesite=lax``...)."""
    cookies = {}
    for line in answer.get_all("Set-Cookie") or []:
        name_value, *attributes = (part.strip().lower() for part in line.split(";"))
        cookies[name_value.split("=", 1)[0]] = set(attributes)
    return cookies


def test_production_settings_behind_a_tls_proxy_send_only_secure_cookies(tmp_path):
    site = start_production_site(tmp_path)
    try:
        stream = site.create_stream(STREAM_URL, slug="talk", title="Talk")
        check = site.manage("check", "--deploy", "--fail-level", "WARNING")
        assert "no issues" in check

        status, answer, _ = raw_request(site, "GET", "/enter/", {})  # plain HTTP, no proxy
        assert (status, answer["Location"]) == (301, f"https://{site.url[7:]}/enter/")

        status, answer, page = raw_request(site, "GET", "/enter/", VIA_TLS_PROXY)
        assert status == 200
        assert answer["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
        csrf_cookie = re.search(r"csrftoken=([^;]+)", answer["Set-Cookie"])[1]
        token = re.search(rb'name="csrfmiddlewaretoken" value="([^"]+)"', page)[1].decode()
        form = urllib.parse.urlencode({"code": stream.viewer_code, "csrfmiddlewaretoken": token})
        status, answer, _ = raw_request(
            site,
            "POST",
            "/enter/",
            {
                **VIA_TLS_PROXY,
                "Cookie": f"csrftoken={csrf_cookie}",
                "Referer": f"https://{site.url[7:]}/enter/",
                "Content-Type": "application/x-www-form-urlencoded",
            },
            form.encode(),
        )
        assert status == 302
        cookies = set_cookies(answer)
        assert set(cookies) == {"sessionid", "csrftoken"}
        for name, attributes in cookies.items():
            assert {"secure", "httponly", "samesite=lax"} <= attributes, name
    finally:
        site.stop()
