"""Latency measurements: fan-out (with the floor beside it) and bridge overhead, and how the
arrivals of a run become its figures. Each measurement returns plain data for the report."""

from __future__ import annotations

import asyncio
import gc
import secrets
import time

from bench import profile
from bench.clients import (
    FRAME_SECONDS,
    Arrivals,
    Captioner,
    Target,
    Viewers,
    direct_to_double,
    floor_burst,
)
from bench.harness import (
    Bench,
    Served,
    Usage,
    client_collections,
    freeze_client_heap,
    progress,
    quiet,
    say,
)
from bench.servers import DEEPGRAM_KEY, Config, cpu_seconds
from bench.stats import median_of_runs, summarize


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


def describe(run: dict) -> str:
    latency = run["latency"] or {}
    figures = " ".join(f"{k} {latency.get(k, float('nan')):.1f}" for k in ("median", "p99", "max"))
    return f"{figures} ms, lost {run['lost']} of {run['expected']:,}"


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
