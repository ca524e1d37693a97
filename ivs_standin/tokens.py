"""Checking a playback token as IVS does on a private channel's multivariant playlist.

From "Generate and Sign IVS Playback Tokens": an ES384 JWT signed by one of the account's
playback keys, ``aws:channel-arn`` naming this channel, ``exp`` (a whole number of seconds) in
the future — no more than 10 minutes ahead when ``aws:viewer-id`` (at most 40 characters) is
given — the request's origin among ``aws:access-control-allow-origin`` (only browsers send
one), and the viewer's session not revoked at or above its ``aws:viewer-session-version``
(default 0). Stricter than IVS in one way, on purpose: claims IVS does not document are
refused, so a token the stand-in takes has exactly the documented claims.
"""

from __future__ import annotations

import fnmatch

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

DOCUMENTED_CLAIMS = {
    "aws:channel-arn",
    "aws:access-control-allow-origin",
    "aws:strict-origin-enforcement",
    "aws:single-use-uuid",
    "aws:viewer-id",
    "aws:viewer-session-version",
    "aws:maximum-resolution",
    "exp",
}
MAX_EXP_WITH_VIEWER_ID = 600


class Refused(Exception):
    """The token does not admit this request (HTTP 403); the message says why."""


def public_der(key: ec.EllipticCurvePublicKey) -> bytes:
    return key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def origin_allowed(allowed: str, origin: str) -> bool:
    return any(
        fnmatch.fnmatchcase(origin, pattern.strip()) for pattern in allowed.split(",") if pattern
    )


def check(
    token: str,
    channel_arn: str,
    public_keys: list[ec.EllipticCurvePublicKey],
    origin: str,
    now: float,
) -> dict:
    """The token's claims when it admits playback of ``channel_arn``; else Refused."""
    if not token:
        raise Refused("no token")
    try:
        header = jwt.get_unverified_header(token)
    except jwt.DecodeError:
        raise Refused("not a JWT") from None
    if header.get("alg") != "ES384":
        raise Refused(f"alg {header.get('alg')!r}, not ES384")
    claims = None
    for key in public_keys:
        try:
            claims = jwt.decode(
                token,
                key,
                algorithms=["ES384"],
                options={"verify_exp": False, "verify_aud": False, "verify_iat": False},
            )
            break
        except jwt.InvalidSignatureError:
            continue
        except jwt.InvalidTokenError as error:
            raise Refused(f"invalid token ({error})") from None
    if claims is None:
        raise Refused("signature matches no imported playback key")
    unknown = set(claims) - DOCUMENTED_CLAIMS
    if unknown:
        raise Refused(f"claims IVS does not document: {sorted(unknown)}")
    if claims.get("aws:channel-arn") != channel_arn:
        raise Refused("token for another channel")
    exp = claims.get("exp")
    if not isinstance(exp, int) or isinstance(exp, bool):
        raise Refused("exp is not a whole number of seconds")
    if exp <= now:
        raise Refused("token expired")
    viewer_id = claims.get("aws:viewer-id", "")
    if viewer_id:
        if not isinstance(viewer_id, str) or len(viewer_id) > 40:
            raise Refused("aws:viewer-id must be a string of at most 40 characters")
        if exp > now + MAX_EXP_WITH_VIEWER_ID:
            raise Refused("exp more than 10 minutes ahead with a viewer id")
    version = claims.get("aws:viewer-session-version", 0)
    if not isinstance(version, int) or isinstance(version, bool) or not -(2**63) <= version < 2**63:
        raise Refused("aws:viewer-session-version must be an Int64")
    allowed = claims.get("aws:access-control-allow-origin")
    if allowed is not None and origin and not origin_allowed(allowed, origin):
        raise Refused(f"origin {origin} not in aws:access-control-allow-origin")
    return claims
