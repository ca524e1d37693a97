"""The readings of ``bench.sync``: for every caption a page drew, the picture on screen and
the page's own picture clock against the moment its words were spoken, merged per viewer."""

from __future__ import annotations

import math
import statistics
from typing import Any

from bench.live_hls import LiveStream
from bench.sync_page import Result


def frame_on_screen(frames: list[list], wall: float) -> int | None:
    """The number of the frame on screen at ``wall``: the last one presented by then."""
    found = None
    for shown_at, number in frames:
        if shown_at > wall:
            break
        if number is not None:
            found = number
    return found


def summary(errors: list[float]) -> dict[str, float] | None:
    if not errors:
        return None
    ordered = sorted(errors)
    absolute = sorted(abs(e) for e in errors)

    def rank(values: list[float], p: float) -> float:
        return values[max(0, math.ceil(p / 100 * len(values)) - 1)]  # nearest rank

    return {
        "n": len(errors),
        "median": statistics.median(ordered),
        "p95": rank(ordered, 95),
        "p5": rank(ordered, 5),
        "min": ordered[0],
        "max": ordered[-1],
        "abs_p95": rank(absolute, 95),
    }


def measure(result: Result, stream: LiveStream) -> dict[str, Any]:
    """One viewer's raw figures in one round: every error in ms."""
    frames = sorted(result.frames, key=lambda f: f[0])
    sent = {s.seq: s for s in result.sent}
    truth, own = [], []
    for timing in result.timings:
        if timing["seq"] not in sent:
            continue
        spoken_at = sent[timing["seq"]].spoken_at
        number = frame_on_screen(frames, timing["shown_at_wall"])
        picture = stream.utc_of_frame(number) if number is not None else None
        if picture is not None:
            truth.append(picture - spoken_at)
        if timing["shown_at_picture_utc"] is not None:
            own.append(timing["shown_at_picture_utc"] - spoken_at)
    clock, behind, latency = [], [], []
    for wall, picture, reported in result.clock:
        number = frame_on_screen(frames, wall)
        on_screen = stream.utc_of_frame(number) if number is not None else None
        if on_screen is None:
            continue
        behind.append(wall - on_screen)
        if picture is not None:
            clock.append(picture - on_screen)
        if reported is not None:
            latency.append(reported)
    return {
        "truth": truth,
        "own": own,
        "own_missing": sum(1 for t in result.timings if t["shown_at_picture_utc"] is None),
        "clock": clock,
        "behind": behind,
        "latency": latency,
        "sent": len(result.sent),
        "drawn": len({t["seq"] for t in result.timings} & set(sent)),
        "frames": len(frames),
        "frames_read": sum(1 for f in frames if f[1] is not None),
    }


def analyse(results: list[tuple[Result, LiveStream]]) -> list[dict[str, Any]]:
    """Each viewer's figures over every round."""
    merged: dict[str, dict[str, Any]] = {}
    for result, stream in results:
        figures = measure(result, stream)
        row = merged.setdefault(
            result.viewer.key,
            {
                "phase": result.phase.key,
                "viewer": result.viewer.key,
                "player": result.viewer.player,
                "mode": result.viewer.mode,
                "source": result.source,
            },
        )
        for name, value in figures.items():
            row[name] = row.get(name, [] if isinstance(value, list) else 0) + value
    rows = []
    for row in merged.values():
        rows.append(
            {
                **{k: v for k, v in row.items() if not isinstance(v, list)},
                "truth": summary(row["truth"]),
                "own": summary(row["own"]),
                "own_clock_missing": row["own_missing"],
                "clock_error": summary(row["clock"]),
                "behind_live": statistics.median(row["behind"]) if row["behind"] else None,
                "reported_latency": statistics.median(row["latency"]) if row["latency"] else None,
                "frames_read": f"{row['frames_read']} of {row['frames']}",
            }
        )
    return rows
