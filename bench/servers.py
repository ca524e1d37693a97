"""The processes a benchmark drives: Daphne serving the site, the Deepgram double, the floor
server; and what they share: a PostgreSQL database, Redis database 14, collected static files.

Every server is a real subprocess started the way production starts it; the bench talks to them
only over sockets (and reads their memory from ``/proc``)."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable

POSTGRES_ADMIN_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DATABASE_NAME = "livestream_bench"
REDIS_URL = "redis://127.0.0.1:6379/14"
DEEPGRAM_KEY = "bench-key"
HOST = "127.0.0.1"
LOG_PROBLEM = re.compile(r"^\S+ \S+ ((?:WARNING|ERROR|CRITICAL) \S+: .*)$")


@dataclass(frozen=True)
class Config:
    """One way of serving the site: a channel layer and a number of Daphne processes."""

    key: str
    label: str
    backend: str | None  # channel layer with Redis; None: in-memory layer, no Redis
    processes: int


CONFIGS = {
    c.key: c
    for c in [
        Config("memory", "in-memory layer, 1 process", None, 1),
        Config("core", "RedisChannelLayer, 1 process", "channels_redis.core.RedisChannelLayer", 1),
        Config(
            "core-2", "RedisChannelLayer, 2 processes", "channels_redis.core.RedisChannelLayer", 2
        ),
        Config(
            "pubsub",
            "RedisPubSubChannelLayer, 1 process",
            "channels_redis.pubsub.RedisPubSubChannelLayer",
            1,
        ),
        Config(
            "pubsub-2",
            "RedisPubSubChannelLayer, 2 processes",
            "channels_redis.pubsub.RedisPubSubChannelLayer",
            2,
        ),
    ]
}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind((HOST, 0))
        return probe.getsockname()[1]


def rss_bytes(pid: int) -> int:
    """Resident memory of a process (VmRSS in /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    raise RuntimeError(f"no VmRSS for {pid}")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time a process has used (/proc/<pid>/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def machine_jiffies() -> tuple[int, int]:
    """(busy, total) CPU time of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    idle = values[3] + values[4]  # idle + iowait
    return sum(values) - idle, sum(values)


def raise_open_file_limit() -> int:
    """Lift the soft limit on open files to the hard one (children inherit it)."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return hard


def stop_process(process: subprocess.Popen, timeout: float = 15) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Site:
    """The site's settings for a bench run, as the environment Daphne and manage.py get."""

    def __init__(self, workdir: Path, deepgram_url: str, extra: dict[str, str]) -> None:
        self.workdir = workdir
        self.deepgram_url = deepgram_url
        self.extra = extra
        self.database_url = f"postgres://postgres@127.0.0.1:5432/{DATABASE_NAME}"

    def env(self, config: Config | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "GATE_"))}
        env.update(
            DJANGO_SETTINGS_MODULE="bench.settings",
            STATIC_ROOT=str(self.workdir / "staticfiles"),
            # Production settings, over plain http on 127.0.0.1 (see docs/benchmarks.md).
            DEBUG="false",
            SECRET_KEY="bench-" + "x" * 50,
            ALLOWED_HOSTS="127.0.0.1,localhost",
            CSRF_TRUSTED_ORIGINS="",
            SECURE_SSL_REDIRECT="false",
            SECURE_HSTS_SECONDS="0",
            BEHIND_TLS_PROXY="false",
            TRUSTED_PROXY_COUNT="0",
            DATABASE_URL=self.database_url,
            REDIS_URL=REDIS_URL if config and config.backend else "",
            CHANNEL_LAYER_BACKEND=(config and config.backend) or "",
            CAPTIONS_ENGINE="deepgram",
            DEEPGRAM_URL=self.deepgram_url,
            DEEPGRAM_API_KEY=DEEPGRAM_KEY,
            # Every client is 127.0.0.1 and enters the same code: lift the gate's rate limits.
            GATE_RATE_LIMIT_PER_IP="1000000000",
            GATE_RATE_LIMIT_PER_CODE="1000000000",
            # ...and the per-address websocket limits (1,000 open, 20 handshakes a second).
            WS_MAX_PER_IP="1000000000",
            WS_HANDSHAKES_PER_SECOND="1000000000",
            WS_HANDSHAKE_BURST="1000000000",
            LOG_LEVEL="WARNING",
            PYTHONUNBUFFERED="1",
        )
        env.update(self.extra)
        return env

    def manage(self, *args: str) -> str:
        return self._run([PYTHON, "manage.py", *args])

    def _run(self, command: list[str]) -> str:
        done = subprocess.run(
            command, cwd=ROOT, env=self.env(), capture_output=True, text=True, check=False
        )
        if done.returncode:
            raise RuntimeError(f"{' '.join(command)} failed:\n{done.stdout}\n{done.stderr}")
        return done.stdout

    def prepare(self) -> None:
        """A fresh database, migrated; static files collected; Redis database 14 empty."""
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as db:
            db.execute(f"DROP DATABASE IF EXISTS {DATABASE_NAME} WITH (FORCE)")
            db.execute(f"CREATE DATABASE {DATABASE_NAME}")
        self.manage("migrate", "--noinput")
        self.manage("collectstatic", "--noinput")
        flush_redis()

    def create_stream(self, slug: str) -> dict[str, str]:
        return json.loads(self._run([PYTHON, "-m", "bench.site_data", slug]))

    def settings(self) -> dict[str, str]:
        """The settings that shape the figures, as Django resolves them for the bench."""
        return json.loads(self._run([PYTHON, "-m", "bench.site_data", "--settings"]))

    def drop_database(self) -> None:
        with psycopg.connect(POSTGRES_ADMIN_URL, autocommit=True) as db:
            db.execute(f"DROP DATABASE IF EXISTS {DATABASE_NAME} WITH (FORCE)")


def flush_redis() -> None:
    redis.Redis.from_url(REDIS_URL).flushdb()


class Daphne:
    """One Daphne process serving ``livestream.asgi:application``, as in production."""

    def __init__(self, site: Site, config: Config, name: str) -> None:
        self.port = free_port()
        self.url = f"http://{HOST}:{self.port}"
        self.name = name
        self.log_path = site.workdir / f"daphne-{name}-{self.port}.log"
        self.gc_log = site.workdir / f"gc-{name}-{self.port}.log"
        log = self.log_path.open("w")
        command = [PYTHON, "-m", "daphne", "-b", HOST, "-p", str(self.port)]
        self.process = subprocess.Popen(
            [*command, "livestream.asgi:application"],
            cwd=ROOT,
            env=site.env(config) | {"BENCH_GC_LOG": str(self.gc_log)},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self._wait_ready()

    @property
    def pid(self) -> int:
        return self.process.pid

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"Daphne exited; see {self.log_path}")
            try:
                health = f"{self.url}/healthz"
                with urllib.request.urlopen(health, timeout=2) as response:  # noqa: S310
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"Daphne did not answer /healthz within {timeout} s")

    def rss(self) -> int:
        return rss_bytes(self.pid)

    def problems(self) -> Counter[str]:
        """Warnings and errors in the server's log, numbers blanked out, counted."""
        found: Counter[str] = Counter()
        for line in self.log_path.read_text(errors="replace").splitlines():
            match = LOG_PROBLEM.match(line)
            if match:
                found[re.sub(r"\d+", "N", match.group(1))[:140]] += 1
        return found

    def gc_pauses(self, since: float, until: float) -> dict:
        """Full (generation 2) collections between two wall-clock times: how many, the
        longest and the total pause in ms."""
        pauses = []
        if self.gc_log.exists():
            for line in self.gc_log.read_text().splitlines():
                when, generation, pause, _ = line.split()
                if generation == "2" and since <= float(when) <= until:
                    pauses.append(float(pause))
        return {"count": len(pauses), "max": max(pauses, default=0.0), "total": sum(pauses)}

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def stop(self) -> None:
        stop_process(self.process)


class Helper:
    """A helper server (the double, the floor) that prints ``READY <url>`` when listening."""

    def __init__(self, module: str, *args: str, log_path: Path) -> None:
        self.log_path = log_path
        self.process = subprocess.Popen(
            [PYTHON, "-m", module, *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log_path.open("w"),
            text=True,
        )
        line = self.process.stdout.readline()
        if not line.startswith("READY "):
            raise RuntimeError(f"{module} did not start; see {log_path}")
        self.url = line.split()[1]

    @property
    def pid(self) -> int:
        return self.process.pid

    def stop(self) -> None:
        stop_process(self.process)


def read_jsonl(path: Path, offset: int) -> tuple[list[dict], int]:
    """Complete JSON lines appended to ``path`` since ``offset``; and the new offset."""
    with path.open("rb") as log:
        log.seek(offset)
        data = log.read()
    end = data.rfind(b"\n") + 1
    rows = [json.loads(line) for line in data[:end].splitlines() if line.strip()]
    return rows, offset + end
