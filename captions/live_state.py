"""What is happening now, for the admin: viewers per stream and per code (every process
summed), and who captions a stream, since when, with which engine."""

from __future__ import annotations

from collections import Counter
from contextvars import ContextVar

from captions import lease, presence

# Read once per request (each request runs in a context of its own), however many rows.
_counts: ContextVar[tuple[Counter[int], Counter[int]] | None] = ContextVar(
    "viewer_counts", default=None
)


def viewer_counts() -> tuple[Counter[int], Counter[int]]:
    """(viewers per stream id, per access code id) now, summed over every server process."""
    counts = _counts.get()
    if counts is None:
        counts = presence.counts()
        _counts.set(counts)
    return counts


def holder(stream_id: int) -> dict | None:
    """``{"by", "since", "engine"}`` while someone captions the stream, else None."""
    return lease.holders([stream_id]).get(stream_id)
