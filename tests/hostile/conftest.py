"""The hostile-client suite: real Daphne processes over real sockets, as an attacker or a
failing dependency would meet them. Never ``WebsocketCommunicator``: only the wire counts.

Fixtures:

- ``single_site(**env) -> LiveSite``: one Daphne on SQLite and the in-memory channel layer
  (what ``runserver`` users get), with the Deepgram double as the speech service and a stream
  ``talk`` whose codes are on ``single_site.stream``. Needs neither Redis nor PostgreSQL.
- ``cluster`` (from tests/multiprocess): Daphne processes on real Redis and PostgreSQL.
- ``many_descriptors``: room for thousands of sockets in this process and the servers it starts
  (``pytestmark = pytest.mark.usefixtures("many_descriptors")``).
"""

from __future__ import annotations

import contextlib
import os
import re
import resource
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.conftest import require
from tests.live_site import (
    SITE_ENV,
    DoubleProcess,
    LiveSite,
    SiteStream,
    start_daphne,
    start_deepgram_double,
)
from tests.multiprocess.conftest import (  # noqa: F401  (fixtures shared with this suite)
    DEEPGRAM_KEY,
    LEASE_SECONDS,
    PHRASES,
    cluster,
    postgres_database,
    private_redis,
)

STREAM_URL = "https://example.live-video.net/api/video/v1/test.m3u8"
DESCRIPTORS_NEEDED = 16_384


def rss_kib(pid: int) -> int:
    """A process's resident memory, from /proc/<pid>/status."""
    status = Path(f"/proc/{pid}/status").read_text()
    return int(re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE).group(1))


class SingleSite:
    def __init__(self, request: pytest.FixtureRequest, tmp_path: Path) -> None:
        self.request = request
        self.tmp_path = tmp_path
        self.sites: list[LiveSite] = []
        self.double: DoubleProcess | None = None
        self.stream: SiteStream | None = None

    def __call__(
        self,
        double_args: list[str] = (),
        speech_url: str = "",
        preamble: str = "",
        **env: str,
    ) -> LiveSite:
        """Start the site; ``speech_url`` points it at a Deepgram double of the test's own
        (else one is started with ``double_args``); ``preamble`` runs before Daphne."""
        if not speech_url:
            self.double = start_deepgram_double(
                DEEPGRAM_KEY, phrases=PHRASES, args=list(double_args)
            )
            speech_url = self.double.url
        directory = self.tmp_path / f"site-{len(self.sites)}"
        directory.mkdir()
        full_env = {
            **os.environ,
            **SITE_ENV,
            "IVS_PLAYER_SCRIPT_URL": "https://player.live-video.net/1.56.1/amazon-ivs-player.min.js",
            "DATABASE_URL": f"sqlite:///{directory / 'db.sqlite3'}",
            "DEEPGRAM_URL": speech_url,
            "DEEPGRAM_API_KEY": DEEPGRAM_KEY,
            "CAPTIONS_LEASE_SECONDS": str(LEASE_SECONDS),
            "GATE_RATE_LIMIT_PER_CODE": "1000",
            **env,
        }
        probe = LiveSite("", full_env, directory, directory / "none.log", None)  # type: ignore[arg-type]
        probe.manage("migrate", "--noinput", "-v", "0")
        site = start_daphne(full_env, directory, preamble)
        self.sites.append(site)
        self.stream = site.create_stream(STREAM_URL, slug="talk", title="Talk")
        return site

    def logs(self) -> str:
        return "\n".join(f"--- {site.url}\n{site.log()}" for site in self.sites)

    def stop(self) -> None:
        for site in self.sites:
            site.stop()
        if self.double:
            self.double.stop()


@pytest.fixture
def single_site(request, tmp_path) -> Iterator[Callable[..., LiveSite]]:
    running = SingleSite(request, tmp_path)
    yield running
    print(running.logs())  # noqa: T201  (pytest shows it only when the test failed)
    running.stop()
    assert "invalid close code" not in running.logs()


@pytest.fixture
def many_descriptors() -> Iterator[None]:
    """Thousands of sockets in this process, and in the servers it starts (they inherit it)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < DESCRIPTORS_NEEDED:
        try:
            resource.setrlimit(
                resource.RLIMIT_NOFILE, (DESCRIPTORS_NEEDED, max(hard, DESCRIPTORS_NEEDED))
            )
        except (ValueError, OSError):
            require(False, f"cannot raise RLIMIT_NOFILE to {DESCRIPTORS_NEEDED} (hard {hard})")
    yield
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
