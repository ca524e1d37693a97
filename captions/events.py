"""Messages on the wire: channel-layer events between processes, and JSON to browsers."""

from __future__ import annotations

import json
from typing import Literal, TypedDict


class CaptionMessage(TypedDict):
    type: Literal["caption"]
    seq: int | None
    text: str
    is_final: bool
    start: float
    end: float


class StatusMessage(TypedDict):
    type: Literal["status"]
    captioning: bool
    engine: str
    message: str


class BroadcastEvent(TypedDict):
    """Sent to a stream's group; every process relays ``payload`` verbatim to its viewers."""

    type: Literal["stream.broadcast"]
    payload: str  # JSON text, encoded once by the sender
    seq: int | None  # the caption's seq for finals, so a relay can order and dedupe


def encode(message: CaptionMessage | StatusMessage | dict) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def broadcast_event(message: CaptionMessage | StatusMessage) -> BroadcastEvent:
    seq = message.get("seq") if message["type"] == "caption" else None
    return {"type": "stream.broadcast", "payload": encode(message), "seq": seq}


def status_message(*, captioning: bool, engine: str, message: str = "") -> StatusMessage:
    return {"type": "status", "captioning": captioning, "engine": engine, "message": message}
