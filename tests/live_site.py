"""The real site under Daphne in a subprocess, configured from the environment exactly as in
production, for tests that need real server processes (browser tests, several processes).

``start_daphne(env, directory) -> LiveSite`` starts one on a free port and returns once
``/healthz`` answers 200. See ``LiveSite`` for what a test can do with it.
"""

from __future__ import annotations

import http.cookiejar
import json
import re
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BASE_DIR = Path(__file__).resolve().parents[1]

SITE_ENV: dict[str, str] = {
    "DEBUG": "true",
    "DJANGO_SETTINGS_MODULE": "livestream.settings",
    "ALLOWED_HOSTS": "127.0.0.1,localhost",
    "CSRF_TRUSTED_ORIGINS": "",
    "REDIS_URL": "",
    "SECURE_SSL_REDIRECT": "false",
    "BEHIND_TLS_PROXY": "false",
    "TRUSTED_PROXY_COUNT": "0",
    "IVS_PLAYER_SCRIPT_URL": "local",
    "LOG_LEVEL": "INFO",
    "PYTHONUNBUFFERED": "1",
}
STARTUP_TIMEOUT_S = 30

_DJANGO_RUNNER = """
import json, os, sys
import django
django.setup()
params = json.loads(os.environ["BROWSER_TEST_PARAMS"])
result = None
exec(compile(sys.stdin.read(), "<LiveSite.django>", "exec"))
print("\\n@@RESULT@@" + json.dumps(result, default=str))
"""

_CREATE_STREAM = """
from gate.models import AccessCode, Role
from livestream.models import Stream
codes = params.pop("codes")
stream = Stream.objects.create(**params)
result = {
    role: AccessCode.objects.create(stream=stream, role=role, code=code, label=role).code
    for role, code in codes.items()
}
"""

_CREATE_CODE = """
from gate.models import AccessCode
from livestream.models import Stream
slug = params.pop("slug")
result = AccessCode.objects.create(stream=Stream.objects.get(slug=slug), **params).code
"""


@dataclass(frozen=True)
class SiteStream:
    slug: str
    title: str
    playback_url: str
    viewer_code: str
    captioner_code: str

    @property
    def watch_path(self) -> str:
        return f"/watch/{self.slug}/"


@dataclass
class LiveSite:
    url: str
    env: dict[str, str]
    directory: Path
    log_path: Path
    process: subprocess.Popen = field(repr=False)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def get(self, path: str, timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
        try:
            # Always http://127.0.0.1:PORT/...: the site this fixture started.
            with urllib.request.urlopen(f"{self.url}{path}", timeout=timeout) as response:
                return response.status, dict(response.headers), response.read()
        except urllib.error.HTTPError as error:
            return error.code, dict(error.headers), error.read()

    def _run(self, args: list[str], stdin: str = "", extra_env: dict[str, str] | None = None):
        completed = subprocess.run(
            [sys.executable, *args],
            cwd=BASE_DIR,
            env={**self.env, **(extra_env or {})},
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if completed.returncode != 0:
            raise RuntimeError(
                f"{' '.join(args[:3])} failed ({completed.returncode}):\n"
                f"{completed.stdout}\n{completed.stderr}"
            )
        return completed.stdout

    def manage(self, *args: str) -> str:
        return self._run(["manage.py", *args])

    def django(self, source: str, /, **params: Any) -> Any:
        out = self._run(
            ["-c", _DJANGO_RUNNER],
            stdin=source,
            extra_env={"BROWSER_TEST_PARAMS": json.dumps(params, default=str)},
        )
        return json.loads(out.rsplit("@@RESULT@@", 1)[1])

    def create_stream(
        self,
        playback_url: str,
        *,
        slug: str = "demo",
        title: str = "Demo stream",
        viewer_code: str = "",
        captioner_code: str = "",
        **fields: Any,
    ) -> SiteStream:
        codes = self.django(
            _CREATE_STREAM,
            slug=slug,
            title=title,
            playback_url=playback_url,
            codes={"viewer": viewer_code, "captioner": captioner_code},
            **fields,
        )
        return SiteStream(slug, title, playback_url, codes["viewer"], codes["captioner"])

    def create_code(self, slug: str, code: str = "", *, role: str = "viewer", **fields: Any) -> str:
        return self.django(_CREATE_CODE, slug=slug, code=code, role=role, **fields)

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def start_daphne(env: dict[str, str], directory: Path, preamble: str = "") -> LiveSite:
    """``preamble``: Python run in the server process before Daphne starts (to break a
    dependency on purpose, as an upgrade might)."""
    launcher = ["-m", "daphne"]
    if preamble:
        launcher = ["-c", f"{preamble}\nfrom daphne.cli import CommandLineInterface\n"
                    "CommandLineInterface.entrypoint()"]  # fmt: skip
    for attempt in range(3):
        port = free_port()
        log_path = directory / f"daphne-{attempt}.log"
        command = [sys.executable, *launcher, "-b", "127.0.0.1", "-p", str(port)]
        with log_path.open("w") as log:
            process = subprocess.Popen(
                [*command, "livestream.asgi:application"],
                cwd=BASE_DIR,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        site = LiveSite(f"http://127.0.0.1:{port}", env, directory, log_path, process)
        deadline = time.monotonic() + STARTUP_TIMEOUT_S
        while time.monotonic() < deadline and process.poll() is None:
            try:
                if site.get("/healthz", timeout=2)[0] == 200:
                    return site
            except OSError:
                pass
            time.sleep(0.1)
        site.stop()
        if "Address already in use" not in site.log():
            break
    raise RuntimeError(f"Daphne did not become healthy at {site.url}; its log:\n{site.log()}")


# --- Clients and companions ---------------------------------------------------------------------


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


def enter(site_url: str, code: str) -> tuple[int, str | None]:
    """Enter ``code`` through the site's real form, as a new browser would.

    Returns the HTTP status (302 when accepted) and the session cookie it was given.
    """
    jar = http.cookiejar.CookieJar()
    opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(jar), _NoRedirect)
    form = opener.open(f"{site_url}/enter/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    body = urllib.parse.urlencode({"code": code, "csrfmiddlewaretoken": token}).encode()
    try:
        with opener.open(f"{site_url}/enter/", data=body, timeout=10) as response:
            status = response.status
    except urllib.error.HTTPError as error:
        status = error.code
    session = next((cookie.value for cookie in jar if cookie.name == "sessionid"), None)
    return status, session if status == 302 else None


def session_for(site_url: str, code: str) -> str:
    status, session = enter(site_url, code)
    assert status == 302, f"code {code} was refused by {site_url} ({status})"
    return session


@dataclass
class DoubleProcess:
    """The Deepgram double (``python -m deepgram_standin``) in a subprocess."""

    url: str
    process: subprocess.Popen = field(repr=False)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)


def start_deepgram_double(
    key: str, *, phrases: list[str] = (), args: list[str] = ()
) -> DoubleProcess:
    command = [sys.executable, "-m", "deepgram_standin", "--port", "0", "--key", key, *args]
    if phrases:
        command += ["--phrases", "|".join(phrases)]
    process = subprocess.Popen(command, cwd=BASE_DIR, stdout=subprocess.PIPE, text=True)
    line = process.stdout.readline()
    if not line.startswith("READY "):
        process.kill()
        raise RuntimeError(f"the Deepgram double did not start: {line!r}")
    return DoubleProcess(line.split()[1], process)
