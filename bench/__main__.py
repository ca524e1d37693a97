"""``python -m bench``: run the benchmarks and write docs/benchmarks.md and
docs/fanout-latency.png. ``--quick`` for a smoke run of a few minutes; ``--help`` for the rest.
Raw results and every server's log go to bench/results/<time>/ (git-ignored)."""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import time
import traceback
from pathlib import Path

from bench import capacity, harness, latency, machine, report
from bench.deepgram_server import bench_timing
from bench.servers import CONFIGS, ROOT, raise_open_file_limit

PARTS = ("bridge", "gate", "fanout", "soak")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="a fast smoke run: fewer, shorter")
    parser.add_argument("--runs", type=int, help="repetitions of each measurement (3; quick 1)")
    parser.add_argument("--viewers", help="fan-out viewer counts (100,1000,5000; quick 50,200)")
    parser.add_argument(
        "--configs", default=",".join(CONFIGS), help=f"fan-out configurations ({','.join(CONFIGS)})"
    )
    parser.add_argument("--only", default=",".join(PARTS), help=f"parts to run ({','.join(PARTS)})")
    parser.add_argument("--finals", type=int, help="finals per fan-out run (20; quick 10)")
    parser.add_argument("--segment", type=float, default=0.3, help="seconds between finals")
    parser.add_argument("--bridge-seconds", type=float, help="audio per bridge run (20; quick 5)")
    parser.add_argument("--soak-seconds", type=float, help="soak duration (600; quick 20)")
    parser.add_argument("--soak-viewers", type=int, help="viewers in the soak (1000; quick 200)")
    parser.add_argument("--soak-config", default="pubsub", choices=CONFIGS)
    parser.add_argument("--gate-config", default="pubsub", choices=CONFIGS)
    parser.add_argument("--http-clients", type=int, default=16, help="concurrent HTTP clients")
    parser.add_argument("--http-seconds", type=float, help="per gate run (10; quick 3)")
    parser.add_argument(
        "--concurrency",
        type=int,
        default=50,
        help="viewers connecting at once (Daphne drops a handshake not accepted within 5 s)",
    )
    parser.add_argument(
        "--patience",
        type=float,
        help="seconds to wait, before each run, for other work on the machine to stop (180; "
        "quick 15)",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="extra setting for every Daphne process, e.g. DATABASE_POOL=false (repeatable)",
    )
    parser.add_argument(
        "--profile", action="store_true", help="py-spy process A during the fan-out runs"
    )
    parser.add_argument("--output", default=str(ROOT / "docs" / "benchmarks.md"))
    parser.add_argument("--plot", default=str(ROOT / "docs" / "fanout-latency.png"))
    parser.add_argument("--from-json", help="only rewrite the report from a results.json")
    args = parser.parse_args(argv)
    quick = args.quick

    def pick(value, full, fast):
        return value if value is not None else (fast if quick else full)

    args.runs = pick(args.runs, 3, 1)
    args.viewers = [int(v) for v in pick(args.viewers, "100,1000,5000", "50,200").split(",")]
    args.finals = pick(args.finals, 20, 10)
    args.bridge_seconds = pick(args.bridge_seconds, 20.0, 5.0)
    args.soak_seconds = pick(args.soak_seconds, 600.0, 20.0)
    args.soak_viewers = pick(args.soak_viewers, 1000, 200)
    args.patience = pick(args.patience, 180.0, 15.0)
    args.http_seconds = pick(args.http_seconds, 10.0, 3.0)
    args.only = [p for p in args.only.split(",") if p]
    args.configs = [CONFIGS[c] for c in args.configs.split(",") if c]
    return args


async def run(args: argparse.Namespace, workdir: Path) -> dict:
    options = harness.Options(
        runs=args.runs,
        viewers=args.viewers,
        configs=args.configs,
        finals=args.finals,
        segment=args.segment,
        bridge_seconds=args.bridge_seconds,
        soak_seconds=args.soak_seconds,
        soak_viewers=args.soak_viewers,
        soak_config=CONFIGS[args.soak_config],
        http_clients=args.http_clients,
        http_seconds=args.http_seconds,
        concurrency=args.concurrency,
        patience=args.patience,
        profile=args.profile,
        env=dict(item.split("=", 1) for item in args.env),
    )
    results: dict = {
        "machine": machine.describe(),
        "options": {k: v for k, v in vars(args).items() if k not in ("configs",)}
        | {"configs": [c.key for c in args.configs]}
        | {"standin_timing": bench_timing(args.segment).describe()},
        "started": time.strftime("%Y-%m-%d %H:%M:%S %Z"),
        "errors": [],
    }
    harness.say(f"results and logs in {workdir}")
    bench = harness.Bench(options, workdir)
    try:
        harness.say("preparing the database (migrate, collectstatic)")
        bench.site.prepare()
        results["settings"] = bench.site.settings()
        steps = []
        if "bridge" in args.only:
            steps += [("bridge", lambda c=c: latency.bridge(bench, c)) for c in args.configs
                      if c.processes == 1]  # fmt: skip
            steps.append(("bridge_direct", lambda: latency.bridge_direct(bench)))
        if "gate" in args.only:
            steps.append(("gate", lambda: capacity.gate(bench, CONFIGS[args.gate_config])))
        if "fanout" in args.only:
            steps += [
                ("fanout", lambda c=c, n=n: latency.fanout(bench, c, n))
                for n in args.viewers
                for c in args.configs
            ]
        if "soak" in args.only:
            steps.append(("soak", lambda: capacity.soak(bench)))
        for name, step in steps:
            try:
                outcome = await step()
            except Exception as error:
                traceback.print_exc()
                results["errors"].append(f"{name}: {error!r}")
                continue
            outcome["checkout"] = machine.checkout()
            if name in ("bridge", "fanout"):
                results.setdefault(name, []).append(outcome)
            else:
                results[name] = outcome
            save(results, workdir)
    finally:
        bench.close()
        bench.site.drop_database()
    results["finished"] = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    return results


def save(results: dict, workdir: Path) -> None:
    (workdir / "results.json").write_text(json.dumps(results, indent=1))


def interrupted(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def main() -> None:
    # Stop cleanly (servers stopped, database dropped) on SIGTERM, and on SIGINT even when
    # started in the background (where SIGINT arrives ignored).
    signal.signal(signal.SIGTERM, interrupted)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    args = parse_args()
    if args.from_json:
        results = json.loads(Path(args.from_json).read_text())
    else:
        raise_open_file_limit()
        workdir = ROOT / "bench" / "results" / time.strftime("%Y%m%d-%H%M%S")
        workdir.mkdir(parents=True)
        results = asyncio.run(run(args, workdir))
        save(results, workdir)
    report.write(results, Path(args.output), Path(args.plot))
    harness.say(f"wrote {args.output} and {args.plot}")


if __name__ == "__main__":
    main()
