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
    lasts as long as ``seconds``. Import it: ``from tests.browser.hls_streams import make_hls``.
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
``PageLog`` (tests/browser/pages.py)
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

Helpers for tests (import them from ``tests.browser.page_steps``): ``enter_code(page, site,
code)`` types a code into the real entry form and submits it; ``wait_for_player_state(page,
state, timeout_ms=20_000)`` waits for ``document.body.dataset.playerState``; ``video_time(page)``
reads ``video.currentTime``. The HLS stream and its server are made in
``tests.browser.hls_streams``, pages and their logs in ``tests.browser.pages``, and what a
failed test's report gets in ``tests.browser.failure_reports``.

Mind the site's CSP when scripting pages: ``page.wait_for_function`` needs a function
(``"() => ..."``), since a bare expression is run through ``eval``, which the policy refuses
(and the refusal would show up as a violation). ``page.evaluate`` is not affected.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.failure_reports import on_failure
from tests.browser.hls_streams import (
    HlsServer,
    make_hls,
    serve_directory,
    start_live_hls,
    stop_live_hls,
)
from tests.browser.pages import CHROMIUM_ARGS, PageFactory, PageLog, save_screenshot
from tests.conftest import require, require_program
from tests.live_site import SITE_ENV, LiveSite, start_daphne

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

BASE_DIR = Path(__file__).resolve().parents[2]
IVS_SDK = BASE_DIR / "static" / "ivs" / "amazon-ivs-player.js"


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


# --- The HLS stream ----------------------------------------------------------------------------


@pytest.fixture(scope="session")
def hls_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HlsServer]:
    server = serve_directory(tmp_path_factory.mktemp("hls"))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def hls_stream(hls_server: HlsServer) -> str:
    make_hls(hls_server.directory / "testsrc")
    return hls_server.url("testsrc/index.m3u8")


@pytest.fixture(scope="session")
def live_hls_stream(hls_server: HlsServer) -> Iterator[str]:
    process = start_live_hls(hls_server.directory / "live")
    yield hls_server.url("live/index.m3u8")
    stop_live_hls(process)


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
        on_failure(request, lambda: (f"daphne log ({site.url})", site.log()))
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


@pytest.fixture
def screenshot() -> Callable[..., Path]:
    return save_screenshot
