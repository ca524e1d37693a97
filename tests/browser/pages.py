"""Chromium pages for the browser tests that record what they say: the console, uncaught errors,
failed requests, the browser's own log (workers included) and every Content Security Policy
violation (``PageLog``); ``PageFactory`` is behind the ``new_page`` fixture."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from tests.browser.failure_reports import has_failed, on_failure

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ARTIFACTS_DIR = Path(__file__).resolve().parents[2] / "test-artifacts"
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
        on_failure(self._request, lambda: (f"browser page {n} ({page.url})", log.text()))
        return page

    def log(self, page: Page) -> PageLog:
        return self._logs[id(page)]

    def close(self) -> None:
        failed = has_failed(self._request)
        for n, page in enumerate(self.pages, 1):
            if failed and not page.is_closed():
                name = self._request.node.name.replace("/", "_")
                try:
                    save_screenshot(page, f"failures/{name}-{n}")
                except Exception as error:
                    print(f"could not save a failure screenshot: {error!r}")  # noqa: T201
            page.context.close()


def save_screenshot(page: Page, name: str, **options: Any) -> Path:
    path = ARTIFACTS_DIR / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(path), **options)
    return path
