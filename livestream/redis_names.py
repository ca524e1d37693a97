"""Names this site uses in a Redis server it may share with other sites.

Keys live in a Redis database (the number in ``REDIS_URL``), so two sites on one server with
different database numbers never see each other's cache. Pub/sub channels do not: they are
server-wide, whatever the database. With ``RedisPubSubChannelLayer`` (the default layer) two
sites on one prefix would deliver each other's captions, for streams with the same id. So the
channel layer's prefix carries the database number unless ``CHANNEL_LAYER_PREFIX`` names one.
"""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

BASE_PREFIX = "livestream"


def redis_database(url: str) -> int:
    """The database number of a Redis URL: ``/N``, or ``?db=N`` (as a unix socket gives it);
    0 when it names none."""
    parts = urlsplit(url)
    in_path = "" if parts.scheme == "unix" else parts.path.strip("/")  # a socket's path is not
    return int(in_path or parse_qs(parts.query).get("db", ["0"])[0] or 0)


def channel_layer_prefix(url: str, override: str = "") -> str:
    """``livestream`` on database 0 (as before), ``livestream-dbN`` on database N."""
    if override:
        return override
    database = redis_database(url)
    return BASE_PREFIX if database == 0 else f"{BASE_PREFIX}-db{database}"
