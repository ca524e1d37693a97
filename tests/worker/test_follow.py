"""Following a live playlist, playlist by playlist, against a scripted source: where it starts,
what counts as new, skipping to the live edge, a stream that goes away and comes back, a stall,
segment errors. (The same against a real ffmpeg stream: test_captions_from_the_stream.py.)"""

from __future__ import annotations

import asyncio
from collections import deque
from types import SimpleNamespace

import pytest

from captions.worker import follow
from captions.worker.follow import Follower, Media, Skipped
from captions.worker.playlist import MediaPlaylist, Segment
from captions.worker.source import FetchFailed, Offline

T0 = 1_780_000_000_000  # the stream's clock, UTC ms


def playlist(first: int, last: int, *, t0: int = T0, dated: bool = True, **flags) -> MediaPlaylist:
    segments = [
        Segment(
            seq,
            f"http://hls/{seq}.ts",
            1.0,
            t0 + seq * 1000 if dated else None,
            discontinuity=seq in flags.get("discontinuity", ()),
        )
        for seq in range(first, last + 1)
    ]
    return MediaPlaylist(1.0, segments, flags.get("ended", False))


class ScriptedSource:
    """Answers each playlist request with the next item of ``script`` (the last one repeats)."""

    def __init__(self, *script: MediaPlaylist | Exception) -> None:
        self.stream = SimpleNamespace(pk=7)
        self.where = "http://hls/index.m3u8"
        self.script = deque(script)
        self.segment_failures: dict[int, deque[Exception]] = {}

    async def playlist(self) -> MediaPlaylist:
        item = self.script.popleft() if len(self.script) > 1 else self.script[0]
        if isinstance(item, Exception):
            raise item
        return item

    async def segment(self, segment: Segment) -> bytes:
        failures = self.segment_failures.get(segment.seq)
        if failures:
            raise failures.popleft()
        return f"segment {segment.seq}".encode()


@pytest.fixture(autouse=True)
def _no_waiting(monkeypatch):
    real_sleep = asyncio.sleep
    monkeypatch.setattr(follow.asyncio, "sleep", lambda seconds: real_sleep(0))


async def take(follower: Follower, count: int) -> list:
    events = []
    async with asyncio.timeout(5):
        async for event in follower.events():
            events.append(event)
            if len(events) == count:
                return events
    return events


def described(events: list) -> list:
    out = []
    for event in events:
        if isinstance(event, Media):
            out.append((event.segment.seq, "contiguous" if event.contiguous else "fresh"))
        elif isinstance(event, Skipped):
            out.append(("skipped", event.segments))
        else:
            out.append(("gone", event.reason))
    return out


async def test_it_starts_at_the_live_edge_and_takes_each_new_segment_once():
    source = ScriptedSource(playlist(0, 5), playlist(0, 5), playlist(1, 6), playlist(3, 8))
    events = await take(Follower(source), 4)
    assert described(events) == [
        (5, "fresh"),
        (6, "contiguous"),
        (7, "contiguous"),
        (8, "contiguous"),
    ]


async def test_it_resumes_where_the_last_caption_ended_while_that_is_in_the_window():
    resume_at = T0 + 2_400  # inside segment 2
    source = ScriptedSource(playlist(0, 9))
    events = await take(Follower(source, resume_at=resume_at), 8)
    assert [e.segment.seq for e in events] == [2, 3, 4, 5, 6, 7, 8, 9]  # no skip: a catch-up
    assert events[0].resume_at == resume_at
    assert all(e.resume_at is None for e in events[1:])


async def test_a_resume_point_older_than_the_window_starts_at_the_live_edge():
    source = ScriptedSource(playlist(10, 15), playlist(10, 16))
    events = await take(Follower(source, resume_at=T0 + 2_000), 2)
    assert described(events) == [(15, "fresh"), (16, "contiguous")]
    assert events[0].resume_at is None


async def test_more_than_a_few_segments_behind_it_skips_to_the_live_edge_and_says_so():
    source = ScriptedSource(playlist(0, 3), playlist(4, 13), playlist(5, 14))
    events = await take(Follower(source), 4)
    assert described(events) == [(3, "fresh"), ("skipped", 9), (13, "fresh"), (14, "contiguous")]
    assert events[1].seconds == 9.0


async def test_a_few_segments_behind_it_catches_up_without_skipping():
    source = ScriptedSource(playlist(0, 3), playlist(1, 7))
    events = await take(Follower(source), 5)
    assert [e.segment.seq for e in events] == [3, 4, 5, 6, 7]


async def test_it_says_once_when_the_stream_goes_and_resumes_a_new_broadcast_from_its_start(
    monkeypatch,
):
    monkeypatch.setattr(Follower, "_stall_after", staticmethod(lambda target: 0.0))
    restarted = T0 + 60_000  # a new broadcast: numbers from 0 again, later dates
    source = ScriptedSource(
        Offline("HTTP 404"),  # not live yet: nothing said
        playlist(0, 2),
        Offline("HTTP 404"),
        Offline("HTTP 404"),
        Offline("empty playlist"),
        playlist(0, 1, t0=restarted),
        playlist(0, 2, t0=restarted),
    )
    events = await take(Follower(source), 5)
    assert described(events) == [
        (2, "fresh"),
        ("gone", "Offline: HTTP 404"),
        (0, "fresh"),
        (1, "contiguous"),
        (2, "contiguous"),
    ]


async def test_a_playlist_that_stops_changing_is_a_stall_and_nothing_is_fed_twice(monkeypatch):
    monkeypatch.setattr(Follower, "_stall_after", staticmethod(lambda target: 0.0))
    source = ScriptedSource(playlist(0, 4), playlist(0, 4), playlist(0, 4), playlist(2, 6))
    events = await take(Follower(source), 4)
    assert described(events) == [
        (4, "fresh"),
        ("gone", "the playlist stalled"),
        (5, "contiguous"),
        (6, "contiguous"),
    ]


async def test_one_bad_answer_from_a_live_stream_is_not_the_end_of_it():
    source = ScriptedSource(playlist(0, 2), Offline("empty playlist"), playlist(1, 3))
    events = await take(Follower(source), 2)
    assert described(events) == [(2, "fresh"), (3, "contiguous")]


async def test_an_ended_playlist_means_the_broadcast_ended():
    source = ScriptedSource(playlist(0, 2), playlist(0, 2, ended=True))
    events = await take(Follower(source), 2)
    assert described(events) == [(2, "fresh"), ("gone", "the broadcast ended")]


async def test_a_discontinuity_or_a_missing_segment_is_not_contiguous():
    later = ScriptedSource(playlist(0, 1), playlist(0, 3, discontinuity={2}), playlist(0, 4))
    later.segment_failures[3] = deque([FetchFailed("HTTP 500")] * 3)
    events = await take(Follower(later), 3)
    assert described(events) == [(1, "fresh"), (2, "fresh"), (4, "fresh")]


async def test_a_segment_that_fails_once_is_fetched_again():
    source = ScriptedSource(playlist(0, 0), playlist(0, 2))
    source.segment_failures[1] = deque([FetchFailed("timed out")])
    events = await take(Follower(source), 3)
    assert described(events) == [(0, "fresh"), (1, "contiguous"), (2, "contiguous")]
    assert events[1].data == b"segment 1"


async def test_without_program_date_times_sequence_numbers_decide():
    source = ScriptedSource(playlist(0, 2, dated=False), playlist(1, 4, dated=False))
    events = await take(Follower(source), 3)
    assert described(events) == [(2, "fresh"), (3, "contiguous"), (4, "contiguous")]
