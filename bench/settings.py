"""The site's own settings (``livestream.settings``) plus a probe for benchmarks.

With ``BENCH_GC_LOG`` set, the process logs each garbage collection of generation 1 or 2 (wall
time at its end, generation, pause in ms, objects collected): full collections stop the event
loop, and their pauses show up in the latency tails. The cost is a function call per collection.
"""

import gc
import os
import time

from livestream.settings import *  # noqa: F403

if os.environ.get("BENCH_GC_LOG"):
    _gc_log = open(os.environ["BENCH_GC_LOG"], "a", buffering=1)  # noqa: SIM115
    _gc_started = [0.0]

    def _log_collection(phase: str, info: dict) -> None:
        if phase == "start":
            _gc_started[0] = time.perf_counter()
        elif info["generation"] >= 1:
            pause = (time.perf_counter() - _gc_started[0]) * 1000
            line = f"{time.time():.6f} {info['generation']} {pause:.3f} {info['collected']}\n"
            _gc_log.write(line)

    gc.callbacks.append(_log_collection)
