"""Playback tokens for private streams: one viewer id per grant, a short-lived ES384 JWT.

The claims are exactly those IVS documents ("Generate and Sign IVS Playback Tokens"):
``aws:channel-arn``, ``aws:access-control-allow-origin``, ``aws:viewer-id``,
``aws:viewer-session-version`` and ``exp`` (whole seconds; at most 10 minutes ahead, IVS's
limit for a token with a viewer id). IVS checks a token only when playback starts, so a
viewer keeps watching past ``exp``; the page asks for a fresh one whenever it loads again.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit, urlunsplit

import jwt
from django.conf import settings

from gate.grant import Grant
from ivs import keys
from ivs.models import PlaybackGrant
from livestream.models import Stream

SESSION_KEY = "ivs_viewer"
MAX_TOKEN_SECONDS = 600


@dataclass(frozen=True)
class PlaybackToken:
    url: str
    expires_at: int  # Unix seconds, the token's exp
    expires_in: int  # seconds


def _grant_key(grant: Grant, user) -> str:
    """What identifies one grant in a session: a new entry of a code is a new grant."""
    if grant.code_id is None:
        return f"staff:{getattr(user, 'pk', '')}"
    return f"{grant.code_id}:{grant.granted_at}"


def viewer_for(session, stream: Stream, grant: Grant, user=None) -> PlaybackGrant:
    """The viewer id of this session's grant on this stream's channel, made on first use.

    A grant whose viewer id was revoked (its code was revoked, then reactivated) gets a new one.
    """
    key = _grant_key(grant, user)
    stored = session.get(SESSION_KEY) or {}
    if stored.get("g") == key:
        existing = (
            PlaybackGrant.objects.live()
            .filter(viewer_id=stored.get("v"), channel_arn=stream.channel_arn)
            .first()
        )
        if existing is not None:
            return existing
    made = PlaybackGrant.objects.create(
        channel_arn=stream.channel_arn, stream=stream, code_id=grant.code_id
    )
    session[SESSION_KEY] = {"g": key, "v": made.viewer_id}
    return made


def claims(stream: Stream, viewer: PlaybackGrant, origin: str, now: float) -> dict[str, object]:
    seconds = min(settings.IVS_PLAYBACK_TOKEN_SECONDS, MAX_TOKEN_SECONDS)
    return {
        "aws:channel-arn": stream.channel_arn,
        "aws:access-control-allow-origin": origin,
        "aws:viewer-id": viewer.viewer_id,
        "aws:viewer-session-version": viewer.session_version,
        "exp": int(now) + seconds,
    }


def sign(payload: dict[str, object]) -> str:
    return jwt.encode(payload, keys.private_key(), algorithm="ES384")


def with_token(playback_url: str, token: str) -> str:
    parts = urlsplit(playback_url)
    query = "&".join(q for q in (parts.query, urlencode({"token": token})) if q)
    return urlunsplit(parts._replace(query=query))


def issue(request, stream: Stream, grant: Grant) -> PlaybackToken:
    """A playback URL with a fresh token for this request's grant on a private stream."""
    assert stream.is_private
    viewer = viewer_for(request.session, stream, grant, getattr(request, "user", None))
    origin = f"{request.scheme}://{request.get_host()}"
    now = time.time()
    payload = claims(stream, viewer, origin, now)
    expires_at = int(payload["exp"])
    return PlaybackToken(
        url=with_token(stream.playback_url, sign(payload)),
        expires_at=expires_at,
        expires_in=expires_at - int(now),
    )
