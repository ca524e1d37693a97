"""Caption.store on the real PostgreSQL, from several processes at once."""

from __future__ import annotations

import asyncio

from tests.multiprocess.conftest import PUBSUB

STORE = """
from django.utils import timezone
from captions.models import Caption
from livestream.models import Stream

stream = Stream.objects.get(slug=params["slug"])
at = timezone.now()
result = [
    Caption.store(stream, text=f"{params['who']} {n}", start=n, end=n + 0.5,
                  session_started_at=at).seq
    for n in range(params["count"])
]
"""

ROWS = """
from captions.models import Caption
from livestream.models import Stream

stream = Stream.objects.get(slug=params["slug"])
rows = Caption.objects.for_stream(stream.pk).values_list("seq", "text", "start", "end")
result = {"rows": [list(row) for row in rows], "last": stream.last_caption_seq}
"""

CLEAR_AND_STORE = """
from django.utils import timezone
from captions.models import Caption
from livestream.models import Stream

stream = Stream.objects.get(slug=params["slug"])
Caption.objects.filter(stream=stream).delete()
result = Caption.store(stream, text="After clearing.", start=0, end=1,
                       session_started_at=timezone.now()).seq
"""


async def test_finals_stored_from_several_processes_at_once_get_unique_consecutive_seqs(cluster):
    (site,) = cluster(PUBSUB, processes=1)
    slug = cluster.stream.slug
    writers = "abcd"
    seqs = await asyncio.gather(
        *(asyncio.to_thread(site.django, STORE, slug=slug, who=who, count=25) for who in writers)
    )
    for mine in seqs:
        assert mine == sorted(mine)  # each writer's finals keep their order
    assert sorted(seq for mine in seqs for seq in mine) == list(range(1, 101))

    stored = site.django(ROWS, slug=slug)
    assert stored["last"] == 100
    by_seq = {seq: (text, start, end) for seq, text, start, end in stored["rows"]}
    for who, mine in zip(writers, seqs, strict=True):
        assert [by_seq[seq] for seq in mine] == [(f"{who} {n}", n, n + 0.5) for n in range(25)]

    assert site.django(CLEAR_AND_STORE, slug=slug) == 101  # numbers never go back
