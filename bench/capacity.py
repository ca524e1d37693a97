"""How much the site holds: memory (idle viewers are measured with the fan-out; here a soak)
and gate throughput. Each measurement returns plain data for the report."""

from __future__ import annotations

import asyncio
import gc
import re
import statistics
import time

from bench.clients import FRAME_SECONDS, Arrivals, Captioner, Viewers
from bench.harness import (
    Bench,
    Options,
    OtherLoad,
    Served,
    Usage,
    freeze_client_heap,
    progress,
    quiet,
    say,
)
from bench.latency import deliveries, describe, wait_for_arrivals
from bench.servers import Config, Daphne
from bench.stats import median_of_runs, summarize
from bench.web import HttpClient, session_for

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
