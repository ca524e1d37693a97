"""Sites sharing one Redis server on different database numbers never hear each other's
captions: pub/sub channels are server-wide, so the database number goes into the channel
layer's prefix (livestream/redis_names.py). Checked with the real layer on the real Redis."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from channels_redis.pubsub import RedisPubSubChannelLayer

from livestream.redis_names import channel_layer_prefix, redis_database
from tests.conftest import REDIS_TEST_URL


@pytest.mark.parametrize(
    ("url", "database"),
    [
        ("redis://127.0.0.1:6379", 0),
        ("redis://127.0.0.1:6379/", 0),
        ("redis://127.0.0.1:6379/0", 0),
        ("redis://:secret@redis.internal:6379/3", 3),
        ("rediss://redis.internal:6380/12", 12),
        ("redis://127.0.0.1:6379?db=7", 7),
        ("unix:///run/redis.sock?db=2", 2),
    ],
)
def test_the_database_number_is_read_from_the_url(url, database):
    assert redis_database(url) == database


def test_the_prefix_carries_the_database_number_unless_one_is_given():
    assert channel_layer_prefix("redis://127.0.0.1:6379/0") == "livestream"
    assert channel_layer_prefix("redis://127.0.0.1:6379/3") == "livestream-db3"
    assert channel_layer_prefix("redis://127.0.0.1:6379/3", "staging") == "staging"


async def delivered(sender_url: str, receiver_url: str) -> bool:
    """Does a group message sent by a site on ``sender_url`` reach a site on ``receiver_url``?"""
    base = REDIS_TEST_URL.rsplit("/", 1)[0]

    def layer(url: str) -> RedisPubSubChannelLayer:
        return RedisPubSubChannelLayer(hosts=[base], prefix=channel_layer_prefix(url))

    sender, receiver = layer(sender_url), layer(receiver_url)
    group = f"stream-{uuid.uuid4().hex[:8]}"  # the same stream id on both sites
    try:
        channel = await receiver.new_channel()
        await receiver.group_add(group, channel)
        await asyncio.sleep(0.2)  # the subscription reaches Redis
        await sender.group_send(group, {"type": "caption", "text": "Hello."})
        try:
            await asyncio.wait_for(receiver.receive(channel), timeout=1.0)
        except TimeoutError:
            return False
        return True
    finally:
        await sender.flush()
        await receiver.flush()


async def test_sites_on_different_databases_do_not_hear_each_other(redis_url):
    base = redis_url.rsplit("/", 1)[0]
    assert await delivered(f"{base}/13", f"{base}/13")  # one site: it arrives
    assert not await delivered(f"{base}/13", f"{base}/14")
    assert not await delivered(f"{base}/0", f"{base}/14")
