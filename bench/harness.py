"""What every measurement shares: the options, the servers and a stream served by them, the
CPU readings, and the wait for a quiet machine before each run."""

from __future__ import annotations

import asyncio
import gc
import itertools
import os
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench.clients import Audio, Target
from bench.servers import (
    DEEPGRAM_KEY,
    Config,
    Daphne,
    Helper,
    Site,
    cpu_seconds,
    flush_redis,
    machine_jiffies,
    read_jsonl,
)
from bench.web import session_for


@dataclass
class Options:
    runs: int
    viewers: list[int]
    configs: list[Config]
    finals: int  # finals per fan-out run
    segment: float  # seconds of audio per final
    bridge_seconds: float
    soak_seconds: float
    soak_viewers: int
    soak_config: Config
    http_clients: int
    http_seconds: float
    concurrency: int
    patience: float  # how long to wait for the machine to quiet down before a run
    profile: bool
    env: dict[str, str]  # settings overriding the production-like defaults


def say(message: str) -> None:
    print(time.strftime("%H:%M:%S"), message, flush=True)


class Bench:
    """What every measurement shares: the options, the site's settings, the speech double and
    the floor server (both running for the whole bench), and the double's logs."""

    def __init__(self, options: Options, workdir: Path) -> None:
        self.options = options
        self.workdir = workdir
        self.finals_log = workdir / "finals.jsonl"
        self.audio_log = workdir / "audio.jsonl"
        self._offsets = {self.finals_log: 0, self.audio_log: 0}
        self.double = Helper(
            "bench.deepgram_server",
            *("--key", DEEPGRAM_KEY, "--segment", str(options.segment)),
            *("--finals-log", str(self.finals_log), "--audio-log", str(self.audio_log)),
            log_path=workdir / "deepgram.log",
        )
        self.floor = Helper("bench.floor_server", log_path=workdir / "floor.log")
        self.site = Site(workdir, self.double.url, options.env)
        self.audio = Audio()
        self._slugs = itertools.count(1)
        self._daphnes: list[Daphne] = []

    def running(self) -> list[Daphne | Helper]:
        processes = [*self._daphnes, self.double, self.floor]
        return [p for p in processes if p.process.poll() is None]

    def close(self) -> None:
        for process in self.running():
            process.stop()

    def _new_rows(self, path: Path) -> list[dict]:
        rows, self._offsets[path] = read_jsonl(path, self._offsets[path])
        return rows

    def sent_finals(self) -> dict[str, float]:
        """Finals the double sent since the last call: text -> wall-clock send time."""
        return {row["text"]: row["sent_time"] for row in self._new_rows(self.finals_log)}

    def received_audio(self) -> dict[str, float]:
        """Audio frames the double received since the last call: frame id -> receive time."""
        return {row["id"]: row["t"] for row in self._new_rows(self.audio_log)}

    def new_stream(self, purpose: str) -> dict[str, str]:
        return self.site.create_stream(f"{purpose}-{next(self._slugs)}")

    def start_site(self, config: Config) -> list[Daphne]:
        if config.backend:
            flush_redis()
        started = []
        for name in "AB"[: config.processes]:
            started.append(Daphne(self.site, config, name))
            self._daphnes.append(started[-1])
        return started


class Served:
    """A stream served by one or two Daphne processes, with a viewer and a captioner session."""

    def __init__(self, daphnes: list[Daphne], stream: dict[str, str]) -> None:
        self.daphnes = daphnes
        self.slug = stream["slug"]
        self.stream = stream

    async def enter(self) -> None:
        main = self.daphnes[0].url
        self.viewer_cookie = "sessionid=" + await session_for(main, self.stream["viewer_code"])
        self.captioner_cookie = "sessionid=" + await session_for(
            main, self.stream["captioner_code"]
        )

    def _target(self, daphne: Daphne, socket: str, cookie: str) -> Target:
        ws = daphne.url.replace("http://", "ws://")
        return Target(f"{ws}/ws/watch/{self.slug}/{socket}/", daphne.url, cookie)

    def viewer_targets(self, n: int) -> list[Target]:
        """Viewers split evenly across the processes (a load balancer's round robin)."""
        return [
            self._target(self.daphnes[i % len(self.daphnes)], "captions", self.viewer_cookie)
            for i in range(n)
        ]

    def captioner_target(self) -> Target:
        return self._target(self.daphnes[0], "audio", self.captioner_cookie)

    def rss(self) -> list[int]:
        return [d.rss() for d in self.daphnes]

    def cpu(self) -> list[float]:
        return [d.cpu() for d in self.daphnes]

    def stop(self) -> dict[str, int]:
        """Stop the processes; returns the warnings and errors they logged."""
        for daphne in self.daphnes:
            daphne.stop()
        return dict(sum((d.problems() for d in self.daphnes), Counter()))


class ClientCollections:
    """This process's own full garbage collections (they delay every arrival they overlap)."""

    def __init__(self) -> None:
        self.pauses: list[tuple[float, float]] = []  # (wall time at the end, pause in ms)
        self._started = 0.0
        gc.callbacks.append(self._note)

    def _note(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        elif info["generation"] == 2:
            self.pauses.append((time.time(), (time.perf_counter() - self._started) * 1000))

    def between(self, since: float, until: float) -> dict:
        pauses = [p for when, p in self.pauses if since <= when <= until]
        return {"count": len(pauses), "max": max(pauses, default=0.0), "total": sum(pauses)}


client_collections = ClientCollections()


def freeze_client_heap() -> None:
    """Move the client's thousands of open connections out of reach of its own garbage
    collector: full collections of that heap would stall the client (not the server) for
    hundreds of milliseconds and show up in every figure, the floor's included."""
    gc.collect()
    gc.freeze()


def progress(what: str):
    return lambda done, total: say(f"    {what}: {done:,} of {total:,} connected")


class Usage:
    """CPU used over a stretch of wall time, in % of one core: by each server process named,
    by this client, and by the whole machine (the rest is Redis, PostgreSQL, the double, and
    whatever else runs on the machine)."""

    def __init__(self, readers: dict[str, Callable[[], float]]) -> None:
        self.readers = readers
        self.wall = time.monotonic()
        self.start = {name: read() for name, read in readers.items()}
        self.client = time.process_time()
        self.machine = machine_jiffies()

    def done(self) -> dict[str, float]:
        wall = time.monotonic() - self.wall
        usage = {
            name: round(100 * (read() - self.start[name]) / wall)
            for name, read in self.readers.items()
        }
        usage["client"] = round(100 * (time.process_time() - self.client) / wall)
        busy, total = machine_jiffies()
        share = (busy - self.machine[0]) / max(1, total - self.machine[1])
        usage["machine"] = round(100 * share * os.cpu_count())
        return usage


class OtherLoad:
    """CPU the rest of the machine uses (in cores): everything busy minus this client and the
    bench's own servers (Redis and PostgreSQL count as the rest). Each call to
    :meth:`since_last` covers the time since the previous."""

    def __init__(self, bench: Bench) -> None:
        self.bench = bench
        self.last = self._read()

    def _read(self) -> tuple[int, int, float, float]:
        pids = [p.pid for p in self.bench.running()]
        own = sum(cpu_seconds(pid) for pid in pids) + time.process_time()
        return (*machine_jiffies(), own, time.monotonic())

    def since_last(self) -> float:
        (busy0, total0, own0, wall0), now = self.last, self._read()
        busy1, total1, own1, wall1 = self.last = now
        machine = (busy1 - busy0) / max(1, total1 - total0) * os.cpu_count()
        return max(0.0, machine - (own1 - own0) / max(1e-6, wall1 - wall0))


async def quiet(bench: Bench, limit: float = 0.25) -> float:
    """Wait (up to ``--patience`` s) until the rest of the machine is nearly idle: other
    people's work on a 2-core machine would show up in the figures. Our own servers, idle
    between runs but still pinging thousands of sockets, do not count. Returns the seconds
    waited."""
    began = time.monotonic()
    told = False
    load = OtherLoad(bench)
    while time.monotonic() - began < bench.options.patience:
        await asyncio.sleep(1)
        cores = load.since_last()
        if cores < limit:
            return round(time.monotonic() - began, 1)
        if not told:
            say(f"    waiting for the machine to quiet down ({cores:.1f} cores busy elsewhere)")
            told = True
    say("    the machine stayed busy; measuring anyway")
    return round(time.monotonic() - began, 1)
