"""What the stand-in's two servers share: channels, imported keys, revoked viewers, and a
record of everything asked of them, for tests to read."""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

ACCOUNT = "123456789012"


@dataclass
class Channel:
    arn: str
    authorized: bool  # playback authorization on: a private channel
    media: Path  # a folder with an HLS stream (index.m3u8 + segments), played on a loop
    live: bool = True

    @property
    def region(self) -> str:
        return self.arn.split(":")[3]

    @property
    def playback_path(self) -> str:
        """Like IVS: /api/video/v1/<region>.<account>.channel.<id>.m3u8"""
        _, _, _, region, account, resource = self.arn.split(":", 5)
        return f"/api/video/v1/{region}.{account}.channel.{resource.split('/', 1)[1]}.m3u8"


@dataclass
class KeyPair:
    arn: str
    name: str
    public_key: ec.EllipticCurvePublicKey
    fingerprint: str


@dataclass
class Session:
    """One viewer's playback, started by a multivariant playlist request."""

    id: str
    channel_arn: str
    viewer_id: str
    version: int
    ended: bool = False


@dataclass(frozen=True)
class Call:
    operation: str
    body: dict
    region: str
    access_key: str
    status: int


@dataclass(frozen=True)
class PlaybackRequest:
    path: str
    status: int
    reason: str  # why a request was refused ("" when served)
    viewer_id: str
    origin: str


@dataclass
class Fault:
    operation: str
    error: str  # an IVS error type, or "drop" (close the connection without answering)
    times: int


@dataclass
class IvsState:
    credentials: dict[str, str]
    channels: dict[str, Channel] = field(default_factory=dict)
    keys: dict[str, KeyPair] = field(default_factory=dict)
    revoked: dict[tuple[str, str], int] = field(default_factory=dict)
    sessions: dict[str, Session] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    requests: list[PlaybackRequest] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    lock: threading.RLock = field(default_factory=threading.RLock)

    # --- control side ---

    def take_fault(self, operation: str) -> str | None:
        with self.lock:
            for fault in self.faults:
                if fault.operation == operation and fault.times > 0:
                    fault.times -= 1
                    return fault.error
        return None

    def import_key(self, region: str, name: str, public_key: ec.EllipticCurvePublicKey) -> KeyPair:
        from ivs_standin.tokens import public_der

        fingerprint = hashlib.sha256(public_der(public_key)).hexdigest()
        arn = f"arn:aws:ivs:{region}:{ACCOUNT}:playback-key/{secrets.token_hex(6)}"
        pair = KeyPair(arn, name, public_key, fingerprint)
        with self.lock:
            self.keys[arn] = pair
        return pair

    def revoke(self, channel_arn: str, viewer_id: str, up_to_version: int) -> None:
        with self.lock:
            key = (channel_arn, viewer_id)
            self.revoked[key] = max(self.revoked.get(key, -1), up_to_version)

    def is_revoked(self, channel_arn: str, viewer_id: str, version: int) -> bool:
        if not viewer_id:
            return False
        with self.lock:
            limit = self.revoked.get((channel_arn, viewer_id))
        return limit is not None and version <= limit

    # --- playback side ---

    def channel_at(self, path: str) -> Channel | None:
        with self.lock:
            return next((c for c in self.channels.values() if c.playback_path == path), None)

    def start_session(self, channel: Channel, viewer_id: str, version: int) -> Session:
        session = Session(secrets.token_urlsafe(12), channel.arn, viewer_id, version)
        with self.lock:
            self.sessions[session.id] = session
        return session

    def end_sessions(self, channel_arn: str) -> int:
        """As when a broadcast restarts: players must load the channel's playlist again."""
        with self.lock:
            ended = [s for s in self.sessions.values() if s.channel_arn == channel_arn]
            for session in ended:
                session.ended = True
        return len(ended)

    def record(self, request: PlaybackRequest) -> None:
        with self.lock:
            self.requests.append(request)

    @staticmethod
    def now() -> float:
        return time.time()
