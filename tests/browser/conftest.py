"""End-to-end fixtures: the real site under Daphne, a real HLS stream, a real Chromium.

Everything here runs real processes. ffmpeg encodes a short stream, a threaded HTTP server on
127.0.0.1 serves it, Daphne serves the site from a subprocess (its own SQLite file, its
settings from the environment, exactly as in production), and Playwright drives Debian's
Chromium (``/usr/bin/chromium``; ``playwright install`` is never needed and must not be run).
What is missing (chromium, ffmpeg, the IVS SDK build) skips the tests locally, with the reason
printed, and fails them in CI (``REQUIRE_ALL_TESTS=1``): see ``tests.conftest.require``.
Every test in this folder gets the ``browser`` marker (``pytest -m "not browser"`` skips them).

Fixtures
--------
``hls_stream`` (session) -> ``str``
    URL of ``index.m3u8``: 20 s of H.264 (testsrc2, 640x360, 30 fps, a keyframe every 2 s) +
    AAC (a 440 Hz sine), in 2 s MPEG-TS segments, as a VOD playlist (``#EXT-X-ENDLIST``).
    Players start at 0 and reach the end after 20 s (the IVS SDK then says "The stream has
    ended" and retries); for longer playback make another with ``make_hls(seconds=...)``.
``hls_server`` (session) -> ``HlsServer``
    The server behind ``hls_stream``. ``.url(path)`` is the URL of any file under
    ``.directory`` (a session temp dir: write more streams into subfolders, e.g. with
    ``make_hls``); ``.missing_url`` is a playlist that 404s (with CORS headers, so a player
    sees the 404 rather than a network error); ``.requests`` lists the paths asked for, e.g.
    ``[p for p in hls_server.requests if p.endswith(".ts")]``. Content types: ``.m3u8`` is
    ``application/vnd.apple.mpegurl``, ``.ts`` ``video/mp2t``; every answer carries
    ``Access-Control-Allow-Origin: *`` and ``Cache-Control: no-cache``.
``make_hls(directory, *, seconds=20, audio=None, segment_seconds=2) -> Path`` (plain function)
    Encodes a stream into ``directory`` and returns its playlist. ``audio`` is a file
    (e.g. speech from ``espeak-ng -w speech.wav``) to use instead of the sine; the video then
    lasts as long as ``seconds``. Import it: ``from tests.browser.conftest import make_hls``.
``live_hls_stream`` (session) -> ``str``
    URL of a *live* playlist that ffmpeg makes in real time while the session runs: 1 s segments
    (H.264 testsrc2 426x240 + AAC sine), a sliding window of 10, an ``EXT-X-PROGRAM-DATE-TIME``
    on every segment (the wall-clock time its frames were made), no ``#EXT-X-ENDLIST``. hls.js
    reports the picture's UTC time from it (``playingDate``); the IVS SDK plays it but reports
    no sync time or latency (it reads those from IVS's own segment metadata).
``site_env`` -> ``dict[str, str | None]``
    Extra environment for the ``site`` fixture; ``{}`` unless a test overrides it, e.g.
    ``@pytest.mark.parametrize("site_env", [{"IVS_PLAYER_SCRIPT_URL": "..."}])``.
``live_server_factory(**env) -> LiveSite`` (function)
    Starts the site under Daphne on a free port with a fresh, migrated SQLite database in a
    temp dir and returns once ``/healthz`` answers 200. ``env`` overrides the environment
    (a value of ``None`` removes the variable); the defaults are ``DEBUG=true``,
    ``IVS_PLAYER_SCRIPT_URL=local`` (the SDK from ``make ivs-sdk``; required, so it skips when
    missing), no Redis, ``ALLOWED_HOSTS=127.0.0.1,localhost``. Each call starts another
    process; all are stopped at teardown, and when the test fails their logs are added to the
    report (as "daphne log" sections).
``site`` -> ``LiveSite``
    ``live_server_factory(**site_env)``.
``LiveSite``
    ``.url`` (``http://127.0.0.1:PORT``, no trailing slash), ``.env``, ``.directory``,
    ``.log()`` (Daphne's output so far), ``.get(path) -> (status, headers, body)``,
    ``.manage(*args) -> stdout`` (``manage.py`` with the site's environment),
    ``.django(code, **params)`` (runs ``code`` after ``django.setup()`` in a subprocess with
    the site's environment; ``params`` is a dict there, and whatever JSON-able value the code
    assigns to ``result`` is returned),
    ``.create_stream(playback_url, *, slug="demo", title="Demo stream", viewer_code="",
    captioner_code="", **fields) -> SiteStream`` (a stream with one viewer and one captioner
    code; empty codes are generated) and ``.create_code(slug, code="", *, role="viewer",
    **fields) -> str`` (another code, e.g. ``is_active=False``; returns it normalised).
``SiteStream``
    ``.slug``, ``.title``, ``.playback_url``, ``.viewer_code`` and ``.captioner_code`` (as
    stored: upper case, no dashes), ``.watch_path`` (``/watch/<slug>/``).
``browser`` (package) -> ``playwright.sync_api.Browser``
    Headless Chromium with autoplay allowed, shared by every test in this folder. (Package,
    not session, scope: while Playwright's sync API is up an asyncio loop counts as running
    in the main thread, and the async tests in other folders could not run theirs.)
``new_page(**context_options) -> Page`` (function)
    A page in a new browser context (own cookies); the options go to
    ``Browser.new_context`` (default viewport 1280x720; e.g. ``viewport={"width": 390,
    "height": 844}, is_mobile=True, has_touch=True``). What it logs is recorded:
    ``new_page.log(page) -> PageLog``. On failure each page's log is added to the report and
    a screenshot saved to ``test-artifacts/failures/<test>-<n>.png``.
``page`` -> ``Page``
    ``new_page()``; ``page_log`` is its ``PageLog``.
``PageLog``
    ``.console`` (Playwright's console events, ``"type: text (url:line)"``),
    ``.page_errors`` (uncaught exceptions), ``.failed_requests``, ``.browser_log`` (the
    browser's own log, workers included), ``.csp_events`` (``securitypolicyviolation``
    events of the documents) and ``.csp_violations()``: every violation, from documents and
    workers alike, as readable strings; ``[]`` when there was none. (A worker's violations
    reach neither Playwright's console events nor the document's events: only the CDP
    ``Log`` domain, which ``new_page`` enables.)
``screenshot(page, name, **options) -> Path``
    Saves ``test-artifacts/<name>.png`` (git-ignored) at the repository root.
``local_ivs_sdk`` -> ``Path``
    The built SDK (``static/ivs/amazon-ivs-player.js``); skips (fails in CI) when missing.

Helpers for tests (import them from ``tests.browser.conftest``): ``enter_code(page, site,
code)`` types a code into the real entry form and submits it; ``wait_for_player_state(page,
state, timeout_ms=20_000)`` waits for ``document.body.dataset.playerState``; ``video_time(page)``
reads ``video.currentTime``.

Mind the site's CSP when scripting pages: ``page.wait_for_function`` needs a function
(``"() => ..."``), since a bare expression is run through ``eval``, which the policy refuses
(and the refusal would show up as a violation). ``page.evaluate`` is not affected.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.conftest import require, require_program
from tests.live_site import SITE_ENV, LiveSite, start_daphne

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

BASE_DIR = Path(__file__).resolve().parents[2]
ARTIFACTS_DIR = BASE_DIR / "test-artifacts"
IVS_SDK = BASE_DIR / "static" / "ivs" / "amazon-ivs-player.js"

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--autoplay-policy=no-user-gesture-required",
]


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents:
            item.add_marker(pytest.mark.browser)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo) -> pytest.TestReport:
    """Keep each phase's report on the item, and add the servers' and pages' logs on failure."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    if report.failed:
        for describe in getattr(item, "_failure_context", []):
            try:
                title, text = describe()
            except Exception as error:  # the context of a failure must not hide the failure
                title, text = "failure context", f"could not be collected: {error!r}"
            report.sections.append((title, text or "(empty)"))
    return report


def _on_failure(request: pytest.FixtureRequest, describe: Callable[[], tuple[str, str]]) -> None:
    node = request.node
    if not hasattr(node, "_failure_context"):
        node._failure_context = []
    node._failure_context.append(describe)


def _failed(request: pytest.FixtureRequest) -> bool:
    return any(
        getattr(getattr(request.node, f"rep_{phase}", None), "failed", False)
        for phase in ("setup", "call")
    )


# --- The HLS stream ----------------------------------------------------------------------------


def make_hls(
    directory: Path,
    *,
    seconds: float = 20,
    audio: Path | None = None,
    segment_seconds: int = 2,
) -> Path:
    """Encode an H.264 + AAC HLS stream (VOD playlist) into ``directory``; return the playlist."""
    ffmpeg = require_program("ffmpeg")
    directory.mkdir(parents=True, exist_ok=True)
    fps = 30
    sound = ["-i", str(audio)] if audio else ["-f", "lavfi", "-i", "sine=frequency=440:r=48000"]
    playlist = directory / "index.m3u8"
    command = [
        ffmpeg,
        *("-hide_banner", "-loglevel", "error", "-y"),
        *("-f", "lavfi", "-i", f"testsrc2=size=640x360:rate={fps}"),
        *sound,
        *("-t", str(seconds)),
        *("-map", "0:v", "-map", "1:a"),
        *("-c:v", "libx264", "-preset", "veryfast", "-profile:v", "main", "-pix_fmt", "yuv420p"),
        *("-g", str(fps * segment_seconds), "-keyint_min", str(fps * segment_seconds)),
        *("-sc_threshold", "0", "-b:v", "800k"),
        # Shorter audio is padded with silence: the stream lasts `seconds` either way.
        *("-af", "apad", "-c:a", "aac", "-b:a", "96k", "-ar", "48000", "-ac", "2"),
        *("-f", "hls", "-hls_time", str(segment_seconds), "-hls_playlist_type", "vod"),
        *("-hls_segment_filename", str(directory / "segment%03d.ts")),
        str(playlist),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, check=False, timeout=120)
    if completed.returncode != 0 or not playlist.exists():
        raise RuntimeError(f"ffmpeg failed ({completed.returncode}):\n{completed.stderr}")
    return playlist


class _HlsHandler(SimpleHTTPRequestHandler):
    extensions_map = {
        **SimpleHTTPRequestHandler.extensions_map,
        ".m3u8": "application/vnd.apple.mpegurl",
        ".ts": "video/mp2t",
        ".m4s": "video/iso.segment",
        ".mp4": "video/mp4",
        ".aac": "audio/aac",
        ".vtt": "text/vtt",
    }

    def end_headers(self) -> None:
        self.send_header("Access-Control-Allow-Origin", "*")
        self.send_header("Cache-Control", "no-cache")
        super().end_headers()

    def do_OPTIONS(self) -> None:
        self.send_response(204)
        self.send_header("Access-Control-Allow-Methods", "GET, HEAD, OPTIONS")
        self.send_header("Access-Control-Allow-Headers", "*")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        self.server.requests.append(self.path)  # type: ignore[attr-defined]

    def log_message(self, format: str, *args: Any) -> None:
        pass


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Players drop connections mid-segment when they seek or stop: not an error here.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


@dataclass
class HlsServer:
    directory: Path
    base_url: str
    requests: list[str]
    _server: ThreadingHTTPServer

    def url(self, path: str) -> str:
        return f"{self.base_url}/{path.lstrip('/')}"

    @property
    def missing_url(self) -> str:
        return self.url("missing/index.m3u8")

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()


def serve_directory(directory: Path, port: int = 0) -> HlsServer:
    """Serve ``directory`` over HTTP on 127.0.0.1 (``port``, or a free one) from a background
    thread."""
    handler = functools.partial(_HlsHandler, directory=str(directory))
    server = _QuietServer(("127.0.0.1", port), handler)
    server.requests = []  # type: ignore[attr-defined]
    threading.Thread(target=server.serve_forever, name="hls-server", daemon=True).start()
    host, port = server.server_address[:2]
    return HlsServer(directory, f"http://{host}:{port}", server.requests, server)  # type: ignore[attr-defined]


@pytest.fixture(scope="session")
def hls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HlsServer]:
    server = serve_directory(tmp_path_factory.mktemp("hls"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def hls_stream(hls_server: HlsServer) -> str:
    make_hls(hls_server.directory / "testsrc")
    return hls_server.url("testsrc/index.m3u8")


LIVE_SEGMENTS_READY = 3


@pytest.fixture(scope="session")
def live_hls_stream(hls_server: HlsServer) -> Iterator[str]:
    ffmpeg = require_program("ffmpeg")
    directory = hls_server.directory / "live"
    directory.mkdir()
    playlist = directory / "index.m3u8"
    command = [
        ffmpeg,
        *("-hide_banner", "-loglevel", "error", "-re"),
        *("-f", "lavfi", "-i", "testsrc2=size=426x240:rate=25"),
        *("-f", "lavfi", "-i", "sine=frequency=440:r=48000"),
        *("-map", "0:v", "-map", "1:a"),
        *("-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency"),
        *("-profile:v", "main", "-pix_fmt", "yuv420p", "-g", "25", "-keyint_min", "25"),
        *("-sc_threshold", "0", "-b:v", "400k"),
        *("-c:a", "aac", "-b:a", "64k", "-ar", "48000", "-ac", "2"),
        *("-f", "hls", "-hls_time", "1", "-hls_list_size", "10"),
        *("-hls_flags", "program_date_time+delete_segments+independent_segments"),
        *("-hls_segment_filename", str(directory / "live%06d.ts")),
        str(playlist),
    ]
    process = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        if playlist.exists() and playlist.read_text().count("#EXTINF") >= LIVE_SEGMENTS_READY:
            break
        time.sleep(0.2)
    else:
        process.kill()
        raise RuntimeError(f"ffmpeg made no live stream:\n{process.communicate()[1]}")
    yield hls_server.url("live/index.m3u8")
    process.terminate()
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(timeout=10)


# --- The site under Daphne ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def _migrated_database(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file, copied for each site: cheaper than migrating per test."""
    directory = tmp_path_factory.mktemp("database")
    path = directory / "db.sqlite3"
    env = {**os.environ, **SITE_ENV, "DATABASE_URL": f"sqlite:///{path}"}
    LiveSite("", env, directory, directory / "none.log", None).manage(  # type: ignore[arg-type]
        "migrate", "--noinput", "-v", "0"
    )
    return path


@pytest.fixture
def live_server_factory(
    request: pytest.FixtureRequest, _migrated_database: Path
) -> Iterator[Callable[..., LiveSite]]:
    sites: list[LiveSite] = []

    def start(**overrides: str | None) -> LiveSite:
        directory = Path(tempfile.mkdtemp(prefix="site-", dir=_migrated_database.parent.parent))
        database = directory / "db.sqlite3"
        shutil.copyfile(_migrated_database, database)
        env = {**os.environ, **SITE_ENV, "DATABASE_URL": f"sqlite:///{database}"}
        for name, value in overrides.items():
            if value is None:
                env.pop(name, None)
            else:
                env[name] = value
        if env.get("IVS_PLAYER_SCRIPT_URL", "local") == "local":
            require(IVS_SDK.exists(), f"the IVS SDK is not built ({IVS_SDK}): run `make ivs-sdk`")
        site = start_daphne(env, directory)
        sites.append(site)
        _on_failure(request, lambda: (f"daphne log ({site.url})", site.log()))
        status = site.get("/static/js/player.js")[0]
        assert status == 200, f"Daphne does not serve static files ({status}):\n{site.log()}"
        return site

    yield start
    for site in sites:
        site.stop()


@pytest.fixture
def site_env() -> dict[str, str | None]:
    return {}


@pytest.fixture
def site(live_server_factory: Callable[..., LiveSite], site_env: dict[str, str | None]) -> LiveSite:
    return live_server_factory(**site_env)


@pytest.fixture
def local_ivs_sdk() -> Path:
    require(IVS_SDK.exists(), f"the IVS SDK is not built ({IVS_SDK}): run `make ivs-sdk`")
    return IVS_SDK


# --- The browser -------------------------------------------------------------------------------

# Runs in every document before its own scripts; Playwright injects it past the page's CSP.
_CSP_RECORDER = """
document.addEventListener("securitypolicyviolation", (event) => {
  window.__recordCspViolation({
    directive: event.effectiveDirective,
    blocked: event.blockedURI,
    source: event.sourceFile,
    line: event.lineNumber,
    sample: event.sample,
    disposition: event.disposition,
    document: event.documentURI,
  });
});
"""


@dataclass
class PageLog:
    """What a page and its workers said, and what its Content Security Policy refused."""

    console: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    failed_requests: list[str] = field(default_factory=list)
    # The browser's own log (CDP Log domain), workers' entries included: Playwright's
    # console events leave out what a worker's CSP refuses.
    browser_log: list[str] = field(default_factory=list)
    # securitypolicyviolation events of the documents (workers fire theirs on themselves).
    csp_events: list[dict[str, Any]] = field(default_factory=list)

    def csp_violations(self) -> list[str]:
        found = [line for line in self.browser_log if "Content Security Policy" in line]
        found += [
            f"{e['directive']} blocked {e['blocked'] or '(inline)'} in {e['document']} "
            f"({e['source']}:{e['line']}, {e['disposition']})"
            for e in self.csp_events
        ]
        return found

    def text(self) -> str:
        parts = ["console:", *self.console, "page errors:", *self.page_errors]
        parts += ["failed requests:", *self.failed_requests]
        parts += ["CSP violations:", *self.csp_violations()]
        return "\n".join(parts)


class PageFactory:
    """``new_page(**context_options) -> Page``; ``new_page.log(page) -> PageLog``."""

    def __init__(self, browser: Browser, request: pytest.FixtureRequest) -> None:
        self._browser = browser
        self._request = request
        self._logs: dict[int, PageLog] = {}
        self.pages: list[Page] = []

    def __call__(self, **context_options: Any) -> Page:
        context_options.setdefault("viewport", {"width": 1280, "height": 720})
        context = self._browser.new_context(**context_options)
        context.set_default_timeout(15_000)
        log = PageLog()
        context.expose_function("__recordCspViolation", lambda event: log.csp_events.append(event))
        context.add_init_script(_CSP_RECORDER)
        page = context.new_page()
        cdp = context.new_cdp_session(page)
        cdp.on(
            "Log.entryAdded",
            lambda event: log.browser_log.append(
                "{source} {level}: {text} ({url})".format_map({"url": "", **event["entry"]})
            ),
        )
        cdp.send("Log.enable")

        def on_console(message: Any) -> None:
            where = message.location or {}
            url, line = where.get("url", ""), where.get("lineNumber", "")
            log.console.append(f"{message.type}: {message.text} ({url}:{line})")

        page.on("console", on_console)
        page.on("pageerror", lambda error: log.page_errors.append(str(error)))
        page.on(
            "requestfailed",
            lambda request: log.failed_requests.append(f"{request.url}: {request.failure}"),
        )
        self._logs[id(page)] = log
        self.pages.append(page)
        n = len(self.pages)
        _on_failure(self._request, lambda: (f"browser page {n} ({page.url})", log.text()))
        return page

    def log(self, page: Page) -> PageLog:
        return self._logs[id(page)]

    def close(self) -> None:
        failed = _failed(self._request)
        for n, page in enumerate(self.pages, 1):
            if failed and not page.is_closed():
                name = self._request.node.name.replace("/", "_")
                try:
                    save_screenshot(page, f"failures/{name}-{n}")
                except Exception as error:
                    print(f"could not save a failure screenshot: {error!r}")  # noqa: T201
            page.context.close()


# Package scope, not session: while Playwright's sync API is up, an asyncio loop counts as
# running in this thread, and the async tests of other folders could not run their own.
@pytest.fixture(scope="package")
def playwright_instance() -> Iterator[Playwright]:
    require(
        importlib.util.find_spec("playwright") is not None, "playwright (Python) is not installed"
    )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="package")
def browser(playwright_instance: Playwright) -> Iterator[Browser]:
    chromium = os.environ.get("CHROMIUM") or require_program("chromium")
    browser = playwright_instance.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
    yield browser
    browser.close()


@pytest.fixture
def new_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[PageFactory]:
    factory = PageFactory(browser, request)
    yield factory
    factory.close()


@pytest.fixture
def page(new_page: PageFactory) -> Page:
    return new_page()


@pytest.fixture
def page_log(new_page: PageFactory, page: Page) -> PageLog:
    return new_page.log(page)


def save_screenshot(page: Page, name: str, **options: Any) -> Path:
    path = ARTIFACTS_DIR / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), **options)
    return path


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    return save_screenshot


# --- Helpers for tests -------------------------------------------------------------------------


def enter_code(page: Page, site: LiveSite, code: str) -> None:
    """Open the entry page, type ``code`` into the real form and submit it."""
    page.goto(f"{site.url}/enter/")
    field_ = page.get_by_label("Access code")
    field_.fill("")
    field_.press_sequentially(code)
    with page.expect_navigation():
        page.get_by_role("button", name="Enter").click()


def wait_for_player_state(page: Page, state: str, timeout_ms: float = 20_000) -> None:
    page.wait_for_function(
        "state => document.body.dataset.playerState === state", arg=state, timeout=timeout_ms
    )


def video_time(page: Page) -> float:
    return page.evaluate("document.getElementById('video').currentTime")
