"""Fetching a stream's playlists and segments, with a playback token when the stream is private.

HTTP goes through urllib in a thread (``asyncio.to_thread``): a few small requests a second per
stream need no HTTP client beyond the standard library. Only ``http`` and ``https`` URLs are
fetched, whatever a playlist says.

A private stream's multivariant playlist is fetched with a fresh token each time (IVS checks
the token only there; the media playlist and segments it lists carry IVS's own session). The
worker has a viewer id of its own (an ``ivs.PlaybackGrant`` with no access code, made when it
takes the stream), so its playback shows up at IVS apart from every person's, and revoking
people's codes never stops captions. Its tokens allow only an origin no browser has: IVS
checks the origin only for browsers, so a leaked worker token plays in no web page.
"""

from __future__ import annotations

import asyncio
import time
import urllib.error
import urllib.request
from urllib.parse import urlsplit

from channels.db import database_sync_to_async

from captions.worker.playlist import (
    MediaPlaylist,
    NotAPlaylist,
    Segment,
    audio_playlist_url,
    is_multivariant,
    parse_media,
)
from livestream.models import Stream

TIMEOUT = 10.0  # seconds for one request
MAX_PLAYLIST_BYTES = 1 << 20
MAX_SEGMENT_BYTES = 64 << 20
USER_AGENT = "livestream-caption-worker/1"
# The worker's tokens name an origin that no web page has (.invalid is reserved, RFC 2606).
WORKER_ORIGIN = "https://caption-worker.invalid"


class Offline(Exception):
    """The stream is not live: 404/410, or a playlist with nothing to play."""


class Refused(Exception):
    """The playback service refused us (401/403): a token it does not take, a revoked viewer."""


class FetchFailed(Exception):
    """A network error, a timeout, a 5xx, or a body that is not what was asked for."""


def _get(url: str, limit: int) -> bytes:
    if urlsplit(url).scheme not in ("http", "https"):
        raise FetchFailed(f"not an http(s) URL: {url[:80]}")
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT) as response:  # noqa: S310
            body = response.read(limit + 1)
    except urllib.error.HTTPError as error:
        if error.code in (404, 410):
            raise Offline(f"HTTP {error.code}") from None
        if error.code in (401, 403):
            reason = error.headers.get("x-standin-refused", "")
            raise Refused(f"HTTP {error.code} {reason}".strip()) from None
        raise FetchFailed(f"HTTP {error.code}") from None
    except (OSError, ValueError) as error:  # URLError, timeouts, resets, bad URLs
        raise FetchFailed(str(error) or type(error).__name__) from None
    if len(body) > limit:
        raise FetchFailed(f"answer larger than {limit} bytes")
    return body


async def get(url: str, limit: int = MAX_PLAYLIST_BYTES) -> bytes:
    return await asyncio.to_thread(_get, url, limit)


def _display(url: str) -> str:
    """A URL for log lines: never its query (a private stream's token)."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"


class StreamSource:
    """One stream's audio, as the worker follows it: its media playlist, then its segments."""

    def __init__(self, stream: Stream) -> None:
        self.stream = stream
        self.media_url: str | None = None
        self._viewer = None  # the worker's ivs.PlaybackGrant, made on the first private fetch
        self._init: tuple[str, bytes] | None = None  # the last EXT-X-MAP section fetched

    @property
    def where(self) -> str:
        return _display(self.media_url or self.stream.playback_url)

    async def playlist(self) -> MediaPlaylist:
        """The current media playlist. Raises Offline, Refused or FetchFailed."""
        if self.media_url is None:
            playlist = await self._resolve()
        else:
            try:
                playlist = await self._media(self.media_url)
            except (Offline, Refused):
                # A media playlist that is gone (IVS ends a playback session when the broadcast
                # restarts) or refused: start again from the stream's playback URL.
                self.media_url = None
                raise
        if not playlist.segments:
            raise Offline("empty playlist")
        return playlist

    async def segment(self, segment: Segment) -> bytes:
        data = await get(segment.url, MAX_SEGMENT_BYTES)
        if segment.init_url is None:
            return data
        if self._init is None or self._init[0] != segment.init_url:
            self._init = (segment.init_url, await get(segment.init_url, MAX_SEGMENT_BYTES))
        return self._init[1] + data

    async def _resolve(self) -> MediaPlaylist:
        url = await database_sync_to_async(self._playback_url)()
        text = await self._text(url)
        if is_multivariant(text):
            try:
                self.media_url = audio_playlist_url(text, url)
            except NotAPlaylist as error:
                raise FetchFailed(str(error)) from None
            return await self._media(self.media_url)
        self.media_url = url
        return self._parse(text, url)

    async def _media(self, url: str) -> MediaPlaylist:
        return self._parse(await self._text(url), url)

    async def _text(self, url: str) -> str:
        return (await get(url)).decode("utf-8", "replace")

    @staticmethod
    def _parse(text: str, url: str) -> MediaPlaylist:
        try:
            return parse_media(text, url)
        except (NotAPlaylist, ValueError) as error:
            raise FetchFailed(f"not a media playlist: {error}") from None

    def _playback_url(self) -> str:
        if not self.stream.is_private:
            return self.stream.playback_url
        from ivs import keys, tokens
        from ivs.models import PlaybackGrant

        if not keys.configured():
            raise Refused("private stream, but this site has no playback key")
        if self._viewer is None:
            self._viewer = PlaybackGrant.objects.create(
                channel_arn=self.stream.channel_arn, stream=self.stream, code=None
            )
        payload = tokens.claims(self.stream, self._viewer, WORKER_ORIGIN, time.time())
        return tokens.with_token(self.stream.playback_url, tokens.sign(payload))
