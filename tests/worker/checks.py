"""What the worker's tests check captions against: the utterances of the live test stream."""

from __future__ import annotations

import asyncio
import itertools

from tests.captions.test_consumers import finals

Utterance = tuple[int, int, str]  # onset, end (UTC ms on the stream's clock), phrase
OVERLAP_MS = 50  # two finals sharing more of the stream's time than this repeat each other
COVER_MS = 150  # an utterance counts as captioned when all but this much of it is in finals


def is_final(message: dict) -> bool:
    return message["type"] == "caption" and message["is_final"]


def is_status(captioning: bool):
    return lambda m: m["type"] == "status" and m["captioning"] is captioning


async def receive_finals(viewer, count: int, *, timeout: float = 30.0) -> list[dict]:
    """The next ``count`` finals, whatever else arrives meanwhile (also returned: ``seen``)."""
    seen: list[dict] = []
    async with asyncio.timeout(timeout):
        while len(finals(seen)) < count:
            seen.append(await viewer.receive_json_from(timeout=timeout))
    return seen


def assert_in_order_and_unrepeated(got: list[dict]) -> None:
    seqs = [c["seq"] for c in got]
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), f"gaps or repeats: {seqs}"
    ranges = sorted((c["spoken_at"], c["spoken_until"]) for c in got)
    for (_, until), (at, _) in itertools.pairwise(ranges):
        assert at >= until - OVERLAP_MS, f"two finals cover the same words: {ranges}"


def assert_every_utterance_captioned(got: list[dict], utterances: list[Utterance]) -> None:
    """Each utterance between the first final and the last is inside the finals' ranges."""
    start, end = min(c["spoken_at"] for c in got), max(c["spoken_until"] for c in got)
    ranges = [(c["spoken_at"], c["spoken_until"]) for c in got]
    for onset, until, phrase in utterances:
        if onset < start or until > end:
            continue
        inside = sum(max(0, min(until, b) - max(onset, a)) for a, b in ranges)
        assert inside >= until - onset - COVER_MS, (
            f"{phrase!r} at {onset}-{until} not captioned: {ranges}"
        )
