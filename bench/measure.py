"""The measurements: fan-out (with the floor beside it), bridge overhead, memory (idle viewers
and a soak) and gate throughput. Each returns plain data for the report."""

from __future__ import annotations

import asyncio
import gc
import itertools
import os
import re
import secrets
import statistics
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from bench import profile
from bench.clients import (
    FRAME_SECONDS,
    Arrivals,
    Audio,
    Captioner,
    Target,
    Viewers,
    direct_to_double,
    floor_burst,
)
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
from bench.stats import median_of_runs, summarize
from bench.web import HttpClient, session_for


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


async def wait_for_arrivals(arrivals: Arrivals, sent: dict[str, float], viewers: int) -> None:
    """Until every viewer has every final, or a timeout (what is still missing is lost)."""
    expected = len(sent) * viewers
    deadline = time.monotonic() + 10 + viewers / 500
    while time.monotonic() < deadline:
        if sum(len(t) for t in arrivals.times.values()) >= expected:
            return
        await asyncio.sleep(0.1)


def deliveries(sent: dict[str, float], arrivals: Arrivals, viewers: int) -> dict:
    """Latency of every (final, viewer) pair, and what never arrived."""
    by_text = arrivals.by_text()
    latencies: list[float] = []
    spans: list[tuple[float, float]] = []  # per final: first and last viewer, in ms
    lost = 0
    for text, sent_time in sent.items():
        times = by_text.get(text, ())
        latencies.extend(t - sent_time for t in times)
        lost += max(0, viewers - len(times))
        if times:
            spans.append(((min(times) - sent_time) * 1000, (max(times) - sent_time) * 1000))
    return {
        "latency": summarize(latencies),
        "first_viewer": summarize(first / 1000 for first, _ in spans),
        "last_viewer": summarize(last / 1000 for _, last in spans),
        "spans": [(round(a, 2), round(b, 2)) for a, b in spans],
        "finals": len(sent),
        "viewers": viewers,
        "expected": len(sent) * viewers,
        "lost": lost,
        "disorder": arrivals.disorder,
    }


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


# --- Fan-out -----------------------------------------------------------------------------------


async def fanout(bench: Bench, config: Config, n: int) -> dict:
    """``n`` viewers; ``runs`` caption sessions of ``finals`` finals each, every one followed by
    the same number of broadcasts from the floor server to ``n`` clients of its own."""
    options = bench.options
    say(f"fan-out · {config.label} · {n:,} viewers")
    site = Served(bench.start_site(config), bench.new_stream(f"fanout-{config.key}-{n}"))
    arrivals, floor_arrivals = Arrivals(), Arrivals()
    viewers, floor_viewers = Viewers(arrivals), Viewers(floor_arrivals)
    result: dict = {"config": config.key, "viewers": n, "runs": []}
    try:
        await site.enter()
        rss_before = site.rss()
        began = time.monotonic()
        await viewers.open(site.viewer_targets(n), options.concurrency, progress("viewers"))
        result["connect_seconds"] = round(time.monotonic() - began, 1)
        await asyncio.sleep(2)
        rss_after = site.rss()
        result["rss_before"], result["rss_after"] = rss_before, rss_after
        result["rss_per_viewer"] = (sum(rss_after) - sum(rss_before)) / max(1, len(viewers))
        result["connected"], result["retries"] = len(viewers), viewers.retries
        say(
            f"    {len(viewers):,} viewers in {result['connect_seconds']} s "
            f"({viewers.retries} retries, {viewers.failed} failed); "
            f"RSS +{result['rss_per_viewer'] / 1024:.1f} KiB per viewer"
        )
        await floor_viewers.open(
            [Target(bench.floor.url)] * n, options.concurrency, progress("floor clients")
        )
        freeze_client_heap()
        profiler = None
        if options.profile:
            profiler = profile.Profiler(site.daphnes[0].pid, bench.workdir / f"{config.key}-{n}")
        for run in range(options.runs):
            fan = await fanout_run(bench, site, viewers, arrivals)
            floor = await floor_run(bench, floor_viewers, floor_arrivals)
            result["runs"].append({"fanout": fan, "floor": floor})
            say(f"    run {run + 1}: {describe(fan)}  |  floor: {describe(floor)}")
        if profiler is not None:
            result["profile"] = profiler.stop()
        result["rss_end"] = site.rss()
        result["dropped"] = viewers.dropped()
    finally:
        gc.unfreeze()
        await viewers.close()
        await floor_viewers.close()
        result["log"] = site.stop()
    for part in ("fanout", "floor"):
        result[part] = median_of_runs([r[part]["latency"] for r in result["runs"]])
        result[f"{part}_lost"] = sum(r[part]["lost"] for r in result["runs"])
        result[f"{part}_expected"] = sum(r[part]["expected"] for r in result["runs"])
    return result


def describe(run: dict) -> str:
    latency = run["latency"] or {}
    figures = " ".join(f"{k} {latency.get(k, float('nan')):.1f}" for k in ("median", "p99", "max"))
    return f"{figures} ms, lost {run['lost']} of {run['expected']:,}"


async def fanout_run(bench: Bench, site: Served, viewers: Viewers, arrivals: Arrivals) -> dict:
    options = bench.options
    waited = await quiet(bench)
    arrivals.clear()
    bench.sent_finals()  # forget anything earlier
    captioner = Captioner(site.captioner_target(), bench.audio)
    await captioner.start()
    usage = Usage({d.name: d.cpu for d in site.daphnes})
    began = time.time()
    await captioner.send(round(options.finals * options.segment / FRAME_SECONDS))
    await captioner.stop()
    sent = bench.sent_finals()
    await wait_for_arrivals(arrivals, sent, len(viewers))
    result = deliveries(sent, arrivals, len(viewers))
    result["cpu"], result["waited"] = usage.done(), waited
    result["gc"] = {d.name: d.gc_pauses(began, time.time()) for d in site.daphnes}
    result["client_gc"] = client_collections.between(began, time.time())
    return result


async def floor_run(bench: Bench, viewers: Viewers, arrivals: Arrivals) -> dict:
    options = bench.options
    waited = await quiet(bench)
    arrivals.clear()
    usage = Usage({"floor": lambda: cpu_seconds(bench.floor.pid)})
    prefix = f"floor {secrets.token_hex(3)}"
    began = time.time()
    sent = dict(await floor_burst(bench.floor.url, options.finals, options.segment, prefix))
    await wait_for_arrivals(arrivals, sent, len(viewers))
    result = deliveries(sent, arrivals, len(viewers))
    result["cpu"], result["waited"] = usage.done(), waited
    result["client_gc"] = client_collections.between(began, time.time())
    return result


# --- Bridge overhead ---------------------------------------------------------------------------


async def bridge(bench: Bench, config: Config) -> dict:
    """Audio frame: captioner's socket → the double; and a final: the double → one viewer."""
    options = bench.options
    say(f"bridge · {config.label}")
    site = Served(bench.start_site(config), bench.new_stream(f"bridge-{config.key}"))
    arrivals = Arrivals()
    viewers = Viewers(arrivals)
    runs = []
    try:
        await site.enter()
        await viewers.open(site.viewer_targets(1), 1)
        for run in range(options.runs):
            waited = await quiet(bench)
            arrivals.clear()
            bench.sent_finals()
            bench.received_audio()
            captioner = Captioner(site.captioner_target(), bench.audio)
            await captioner.start()
            usage = Usage({"A": site.daphnes[0].cpu})
            wall = time.time()
            await captioner.send(round(options.bridge_seconds / FRAME_SECONDS))
            await captioner.stop()
            sent = bench.sent_finals()
            await wait_for_arrivals(arrivals, sent, 1)
            audio = frame_delays(captioner.sent, bench.received_audio())
            results = deliveries(sent, arrivals, 1)
            collections = site.daphnes[0].gc_pauses(wall, time.time())
            runs.append(
                {
                    "audio": audio,
                    "result": results,
                    "cpu": usage.done(),
                    "gc": collections,
                    "waited": waited,
                }
            )
            say(
                f"    run {run + 1}: frame → double p99 {audio['latency']['p99']:.2f} ms "
                f"({audio['lost']} lost); final → viewer {describe(results)}"
            )
    finally:
        await viewers.close()
        log = site.stop()
    return {
        "config": config.key,
        "log": log,
        "runs": runs,
        "audio": median_of_runs([r["audio"]["latency"] for r in runs]),
        "audio_lost": sum(r["audio"]["lost"] for r in runs),
        "result": median_of_runs([r["result"]["latency"] for r in runs]),
        "result_lost": sum(r["result"]["lost"] for r in runs),
    }


async def bridge_direct(bench: Bench) -> dict:
    """The same frames sent straight to the double: one websocket hop, no site."""
    say("bridge · baseline: captioner → double directly")
    runs = []
    for _ in range(bench.options.runs):
        await quiet(bench)
        bench.received_audio()
        frames = round(bench.options.bridge_seconds / FRAME_SECONDS)
        sent = await direct_to_double(bench.double.url, DEEPGRAM_KEY, bench.audio, frames)
        runs.append(frame_delays(sent, bench.received_audio()))
        bench.sent_finals()
    return {"runs": runs, "audio": median_of_runs([r["latency"] for r in runs])}


def frame_delays(sent: dict[str, float], received: dict[str, float]) -> dict:
    delays = [received[i] - t for i, t in sent.items() if i in received]
    return {"latency": summarize(delays), "frames": len(sent), "lost": len(sent) - len(delays)}


# --- Memory: the soak --------------------------------------------------------------------------


async def soak(bench: Bench) -> dict:
    """``soak_viewers`` viewers and a final every ``segment`` seconds for ``soak_seconds``;
    Daphne's RSS sampled throughout."""
    options = bench.options
    config, n, seconds = options.soak_config, options.soak_viewers, options.soak_seconds
    say(f"soak · {config.label} · {n:,} viewers · {seconds:.0f} s")
    site = Served(bench.start_site(config), bench.new_stream("soak"))
    arrivals = Arrivals()
    viewers = Viewers(arrivals)
    samples: list[tuple[float, int, float]] = []  # seconds in, RSS, other load (cores)
    try:
        await site.enter()
        rss_idle = site.rss()
        await viewers.open(site.viewer_targets(n), options.concurrency, progress("viewers"))
        freeze_client_heap()
        waited = await quiet(bench)
        bench.sent_finals()
        captioner = Captioner(site.captioner_target(), bench.audio)
        await captioner.start()
        began = time.monotonic()
        interval = max(1.0, min(10.0, seconds / 60))

        load = OtherLoad(bench)

        def sample() -> None:
            samples.append((time.monotonic() - began, sum(site.rss()), load.since_last()))

        async def sample_every(seconds: float) -> None:
            while True:
                sample()
                await asyncio.sleep(seconds)

        sampler = asyncio.create_task(sample_every(interval))
        usage = Usage({d.name: d.cpu for d in site.daphnes})
        wall = time.time()
        await captioner.send(round(seconds / FRAME_SECONDS))
        await captioner.stop()
        sent = bench.sent_finals()
        await wait_for_arrivals(arrivals, sent, len(viewers))
        sampler.cancel()
        sample()
        cpu = usage.done()
        dropped, connected = viewers.dropped(), len(viewers)
        collections = {d.name: d.gc_pauses(wall, time.time()) for d in site.daphnes}
    finally:
        gc.unfreeze()
        await viewers.close()
        log = site.stop()
    result = deliveries(sent, arrivals, connected)
    window = 60.0 if seconds >= 180 else max(5.0, seconds / 6)
    first_sent = min(sent.values(), default=0)
    by_window: dict[int, list[float]] = {}
    by_text = arrivals.by_text()
    for text, sent_time in sent.items():
        by_window.setdefault(int((sent_time - first_sent) // window), []).extend(
            t - sent_time for t in by_text.get(text, ())
        )
    result.update(
        config=config.key,
        seconds=seconds,
        rss_idle=sum(rss_idle),
        samples=samples,
        window=window,
        windows=[summarize(by_window[k]) for k in sorted(by_window)],
        cpu=cpu,
        gc=collections,
        log=log,
        waited=waited,
        dropped=dropped,
        growth=rss_growth(samples, warmup=window),
    )
    say(f"    {describe(result)}; RSS {result['growth']}")
    return result


def rss_growth(samples: list[tuple], warmup: float) -> dict:
    """RSS after the warm-up window, at the end, its maximum, and the least-squares slope
    after the warm-up (bytes per minute)."""
    after = [(t, rss) for t, rss, *_ in samples if t >= warmup] or samples
    slope = 0.0
    if len(after) >= 3:
        slope = statistics.linear_regression([t for t, _ in after], [r for _, r in after]).slope
    return {
        "start": samples[0][1],
        "after_warmup": after[0][1],
        "end": samples[-1][1],
        "max": max(sample[1] for sample in samples),
        "slope_per_minute": slope * 60,
    }


# --- Gate throughput ---------------------------------------------------------------------------


async def gate(bench: Bench, config: Config) -> dict:
    """Accepted code entries per second, and player page requests per second, from
    ``http_clients`` concurrent keep-alive clients."""
    options = bench.options
    say(f"gate · {config.label} · {options.http_clients} clients")
    site = Served(bench.start_site(config), bench.new_stream("gate"))
    daphne = site.daphnes[0]
    slug, code = site.slug, site.stream["viewer_code"]
    results: dict = {"config": config.key, "clients": options.http_clients}
    try:
        results["checks"] = await plain_http_checks(daphne.url, code, slug)
        session = await session_for(daphne.url, code)

        async def enter(client: HttpClient) -> bool:
            client.cookies.clear()
            response = await client.enter(code)
            return response.status == 302 and response.header("location") == f"/watch/{slug}/"

        async def watch(client: HttpClient) -> bool:
            client.cookies["sessionid"] = session
            response = await client.request("GET", f"/watch/{slug}/")
            return response.status == 200

        for name, action in (("entries", enter), ("pages", watch)):
            runs = []
            for _ in range(options.runs):
                waited = await quiet(bench)
                runs.append(await hammer(daphne, options.http_clients, options, action))
                runs[-1]["waited"] = waited
                say(f"    {name}: {runs[-1]['rate']:.0f}/s ({runs[-1]['errors']} errors)")
            results[name] = {
                "runs": runs,
                "rate": statistics.median(r["rate"] for r in runs),
                "latency": median_of_runs([r["latency"] for r in runs]),
                "errors": sum(r["errors"] for r in runs),
            }
    finally:
        results["log"] = site.stop()
    return results


async def hammer(daphne: Daphne, clients: int, options: Options, action) -> dict:
    base_url = daphne.url
    usage = Usage({"A": daphne.cpu})
    latencies: list[float] = []
    errors = 0
    deadline = time.monotonic() + options.http_seconds

    async def client_loop() -> None:
        nonlocal errors
        client = HttpClient(base_url)
        try:
            while time.monotonic() < deadline:
                began = time.perf_counter()
                if await action(client):
                    latencies.append(time.perf_counter() - began)
                else:
                    errors += 1
        finally:
            await client.close()

    began = time.monotonic()
    await asyncio.gather(*(client_loop() for _ in range(clients)))
    elapsed = time.monotonic() - began
    return {
        "rate": len(latencies) / elapsed,
        "errors": errors,
        "latency": summarize(latencies),
        "cpu": usage.done(),
    }


async def plain_http_checks(base_url: str, code: str, slug: str) -> dict[str, str]:
    """With DEBUG=false over plain http: do the CSRF cookie, the session cookie and the static
    files (manifest names, served by WhiteNoise) still work?"""
    client = HttpClient(base_url)
    try:
        entered = await client.enter(code)
        page = await client.request("GET", f"/watch/{slug}/")
        static = re.search(rb'(/static/[^"]+\.css)"', page.body)
        asset = await client.request("GET", static.group(1).decode()) if static else None
        return {
            "entry": f"{entered.status} → {entered.header('location')}",
            "session cookie": next(
                (c for c in entered.headers.get("set-cookie", []) if c.startswith("sessionid")),
                "missing",
            )
            .split(";", 1)[1]
            .strip(),
            "player page": str(page.status),
            "static file": (
                f"{static.group(1).decode()} → {asset.status} {asset.header('content-type')}"
                if asset
                else "no stylesheet link found"
            ),
        }
    finally:
        await client.close()
