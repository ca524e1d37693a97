"""``manage.py rundemo`` (what ``make run`` serves with) in a subprocess, on a fresh database,
with no Redis and no speech-service key: the offline demo as a newcomer gets it."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.live_site import free_port

BASE_DIR = Path(__file__).resolve().parents[2]
CLIP_WORDS = set(re.findall(r"[a-z]+", (BASE_DIR / "demo" / "speech.txt").read_text().lower()))
# Words of the clip a caption must have one of to count as the clip's words being recognised.
TELLING_WORDS = CLIP_WORDS - {"the", "and", "to", "is", "on", "for", "us", "we", "will", "there"}


@dataclass
class DemoSite:
    process: subprocess.Popen
    url: str
    log: Path

    def wait_for(self, pattern: str, within: float = 60) -> re.Match:
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            found = re.search(pattern, self.log.read_text())
            if found:
                return found
            time.sleep(0.2)
        raise AssertionError(f"{pattern!r} not in the log:\n{self.log.read_text()}")

    @property
    def viewer_code(self) -> str:
        return self.wait_for(r"viewer code:\s+(\S+)")[1]

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start_demo(directory: Path, **env: str) -> DemoSite:
    port = free_port()
    env = {
        **os.environ,
        "DEBUG": "true",
        "DATABASE_URL": f"sqlite:///{directory / 'db.sqlite3'}",
        "REDIS_URL": "",
        "DEEPGRAM_API_KEY": "",
        "CAPTIONS_ENGINE": "",
        "PYTHONUNBUFFERED": "1",
        **env,
    }
    env.pop("IVS_PLAYER_SCRIPT_URL", None)  # the default, as for a newcomer
    manage = [sys.executable, "manage.py"]
    subprocess.run([*manage, "migrate", "-v", "0"], cwd=BASE_DIR, env=env, check=True)
    log = directory / "rundemo.log"
    with log.open("w") as out:
        process = subprocess.Popen(
            [*manage, "rundemo", f"127.0.0.1:{port}", "--noreload"],
            cwd=BASE_DIR,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    site = DemoSite(process, f"http://127.0.0.1:{port}", log)
    site.wait_for("Listening on TCP address")
    return site
