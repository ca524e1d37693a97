"""Finals in order on the page, whatever order they arrive in, and none lost (real Chromium).

The page keeps finals in sequence order: one that arrives ahead of a missing one waits, and a gap
that does not fill by itself (including one before the first final the page sees) is fetched
from the record with ``?after=``. First through the real site (Daphne, Redis channel layer,
finals stored and then broadcast in the order 4, 1, 2, 3, 5), then with the page's socket played
by the test, to make finals go missing on purpose."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest

from tests.browser.caption_feed import FakeCaptions, final, status
from tests.browser.page_steps import enter_code
from tests.conftest import require_program
from tests.live_site import free_port
from tests.multiprocess.conftest import PrivateRedis

TEXTS = ["One.", "Two.", "Three.", "Four.", "Five."]

STORE = """
import uuid
from django.utils import timezone
from captions.models import Caption
from livestream.models import Stream

stream = Stream.objects.get(slug=params["slug"])
began = timezone.now()
now_ms = int(began.timestamp() * 1000)
result = [
    Caption.store(
        stream, text=text, start=2.0 * n, end=2.0 * n + 1.5, session_started_at=began,
        key=uuid.uuid4(), spoken_at=now_ms + 2000 * n, spoken_until=now_ms + 2000 * n + 1500,
    ).seq
    for n, text in enumerate(params["texts"])
]
"""

BROADCAST = """
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from captions.events import broadcast_event
from captions.models import Caption
from livestream.models import Stream

stream = Stream.objects.get(slug=params["slug"])
origin = Caption.objects.timeline_origin(stream.pk)
stored = {caption.seq: caption for caption in Caption.objects.for_stream(stream.pk)}
layer = get_channel_layer()

async def send_all():
    for seq in params["order"]:
        await layer.group_send(stream.group_name, broadcast_event(stored[seq].as_message(origin)))

async_to_sync(send_all)()
result = params["order"]
"""


def transcript(page) -> list[str]:
    return page.locator("#transcript-list .transcript-text").all_text_contents()


def drawn_seqs(page) -> list[int]:
    return [entry["seq"] for entry in page.evaluate("window.__captionsTiming")]


def wait_for_transcript(page, count: int) -> None:
    page.wait_for_function(
        "n => document.querySelectorAll('#transcript-list li').length >= n", arg=count
    )


@pytest.fixture
def private_redis(tmp_path):
    require_program("redis-server")
    server = PrivateRedis(free_port(), tmp_path)
    server.start()
    yield server
    server.stop()


def test_finals_broadcast_4_1_2_3_5_show_as_1_to_5(
    live_server_factory, private_redis, hls_stream, page, screenshot
):
    site = live_server_factory(REDIS_URL=private_redis.url)
    stream = site.create_stream(hls_stream, title="In order", viewer_code="INORDER42")
    enter_code(page, site, stream.viewer_code)
    page.wait_for_function("() => document.body.dataset.captionsState === 'off'")
    assert transcript(page) == []

    assert site.django(STORE, slug=stream.slug, texts=TEXTS) == [1, 2, 3, 4, 5]
    site.django(BROADCAST, slug=stream.slug, order=[4, 1, 2, 3, 5])

    wait_for_transcript(page, 5)
    page.wait_for_function("() => window.__captionsTiming.length >= 5")
    assert transcript(page) == TEXTS
    assert drawn_seqs(page) == [1, 2, 3, 4, 5]
    assert page.locator("#caption-final").text_content() == " ".join(TEXTS)
    assert page.evaluate("window.liveCaptions.lastSeq") == 5
    screenshot(page, "captions-in-order")


@pytest.fixture
def stream(site, hls_stream):
    return site.create_stream(hls_stream, title="Gaps", viewer_code="GAPS42")


def open_player(page, site, stream, **feed_options):
    feed = FakeCaptions(page, **feed_options)
    enter_code(page, site, stream.viewer_code)
    page.wait_for_function("() => document.body.dataset.captionsState === 'on'")
    return feed


def after_values(feed) -> list[str | None]:
    return [parse_qs(urlsplit(url).query).get("after", [None])[0] for url in feed.urls]


def test_finals_arriving_4_1_2_3_5_are_kept_in_order_without_refetching(site, stream, page):
    feed = open_player(page, site, stream)
    feed.send(*(final(seq, TEXTS[seq - 1]) for seq in (4, 1, 2, 3, 5)))
    wait_for_transcript(page, 5)
    page.wait_for_function("() => window.__captionsTiming.length >= 5")
    assert transcript(page) == TEXTS
    assert drawn_seqs(page) == [1, 2, 3, 4, 5]
    assert page.locator("#caption-final").text_content() == " ".join(TEXTS)


def test_finals_missed_before_the_first_one_seen_are_fetched(site, stream, page):
    feed = open_player(page, site, stream)
    feed.store(*(final(seq, TEXTS[seq - 1]) for seq in (1, 2, 3)))  # stored, never delivered
    feed.send(final(4, "Four."), final(5, "Five."))
    wait_for_transcript(page, 5)
    page.wait_for_function("() => window.__captionsTiming.length >= 5")
    assert transcript(page) == TEXTS
    assert drawn_seqs(page) == [1, 2, 3, 4, 5]
    assert after_values(feed) == [None, "0"]  # it asked for everything after what it had


def test_a_gap_in_the_middle_is_filled_from_the_record(site, stream, page):
    feed = open_player(page, site, stream, stored=[final(1, "One."), final(2, "Two.")])
    wait_for_transcript(page, 2)
    feed.store(final(3, "Three."), final(4, "Four."))
    feed.send(final(5, "Five."))
    wait_for_transcript(page, 5)
    assert transcript(page) == TEXTS
    page.wait_for_function("() => window.__captionsTiming.length >= 3")
    assert drawn_seqs(page) == [3, 4, 5]  # the two in the history were said before it opened
    assert after_values(feed) == [None, "2"]
    # A final that comes again (the old socket, a retry) is not shown twice.
    feed.send(final(4, "Four."), final(5, "Five."))
    page.wait_for_timeout(500)
    assert transcript(page) == TEXTS


def test_a_last_final_whose_broadcast_was_lost_is_fetched_when_a_status_names_it(
    site, stream, page
):
    feed = open_player(page, site, stream)
    feed.send(final(1, "One."), final(2, "Two."))
    wait_for_transcript(page, 2)
    feed.store(final(3, "Three."))  # stored; its broadcast lost, and no final comes after it
    feed.send({**status(False, "Captions stopped."), "last_seq": 3})
    wait_for_transcript(page, 3)
    assert transcript(page) == TEXTS[:3]
    assert after_values(feed) == [None, "2"]  # asked the record for what followed its last


def test_a_status_naming_a_final_the_page_has_asks_for_nothing(site, stream, page):
    feed = open_player(page, site, stream)
    feed.send(final(1, "One."), final(2, "Two."))
    wait_for_transcript(page, 2)
    feed.send({**status(False, "Captions stopped."), "last_seq": 2})
    page.wait_for_timeout(1000)  # longer than the page waits before asking
    assert after_values(feed) == [None]
    assert transcript(page) == TEXTS[:2]
