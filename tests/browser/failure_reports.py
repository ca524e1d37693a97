"""What a browser test adds to its report when it fails: each fixture registers a function that
describes what it ran (a server's log, a page's console), and the ``pytest_runtest_makereport``
hook of tests/browser/conftest.py adds those descriptions to a failed test's report."""

from __future__ import annotations

from collections.abc import Callable

import pytest


def on_failure(request: pytest.FixtureRequest, describe: Callable[[], tuple[str, str]]) -> None:
    node = request.node
    if not hasattr(node, "_failure_context"):
        node._failure_context = []
    node._failure_context.append(describe)


def has_failed(request: pytest.FixtureRequest) -> bool:
    return any(
        getattr(getattr(request.node, f"rep_{phase}", None), "failed", False)
        for phase in ("setup", "call")
    )
