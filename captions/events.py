"""Messages on the wire: channel-layer events between processes, and JSON to browsers."""

from __future__ import annotations

import json
from typing import Literal, TypedDict

# What viewers are told in each state of a caption session.
VIEWER_MESSAGES = {
    "live": "",
    "reconnecting": "",
    "delayed": "Captions are delayed.",
    "skipped": "",  # the captioner is told; viewers see captions resume
    "stopped": "Captions are paused.",
    "unavailable": "Captions are unavailable right now.",
}


class CaptionMessage(TypedDict):
    type: Literal["caption"]
    seq: int | None
    text: str
    is_final: bool
    start: float  # seconds on the stream's transcript timeline
    end: float
    spoken_at: int | None  # UTC milliseconds since the epoch when the words were spoken
    spoken_until: int | None


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
    captioning: bool | None  # for statuses: whether captions are on (relays keep track)


def encode(message: CaptionMessage | StatusMessage | dict) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def broadcast_event(message: CaptionMessage | StatusMessage) -> BroadcastEvent:
    is_caption = message["type"] == "caption"
    return {
        "type": "stream.broadcast",
        "payload": encode(message),
        "seq": message.get("seq") if is_caption else None,
        "captioning": None if is_caption else message["captioning"],
    }


def status_message(*, captioning: bool, engine: str, message: str = "") -> StatusMessage:
    return {"type": "status", "captioning": captioning, "engine": engine, "message": message}
