"""Messages on the wire: channel-layer events between processes, and JSON to browsers."""

from __future__ import annotations

import json
import time
from typing import Literal, NotRequired, TypedDict

# What viewers are told in each state of a caption session.
VIEWER_MESSAGES = {
    "live": "",
    "reconnecting": "",
    "delayed": "Captions are delayed.",
    "skipped": "",  # the captioner is told; viewers see captions resume
    "stopped": "Captions are paused.",
    "unavailable": "Captions are unavailable right now.",
}

# How viewers see each speech engine named: honestly, the offline one with its limits.
ENGINE_LABELS = {
    "deepgram": "Live captions",
    "local": "Automatic captions — offline engine, lower accuracy",
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
    removed: NotRequired[bool]  # a final taken out by staff (its text is then empty)


class CorrectionMessage(TypedDict):
    """Staff corrected or removed the final ``seq``: pages replace it wherever they show it."""

    type: Literal["correction"]
    seq: int
    text: str  # empty when removed
    removed: bool


class StatusMessage(TypedDict):
    type: Literal["status"]
    captioning: bool
    engine: str
    label: str  # the engine's name for viewers (ENGINE_LABELS)
    message: str
    # The newest final stored when the status was sent: a page that has not seen it asks the
    # record (a final lost on the way with nothing after it would otherwise go unnoticed).
    last_seq: NotRequired[int]


class BroadcastEvent(TypedDict):
    """Sent to a stream's group; every process relays ``payload`` verbatim to its viewers."""

    type: Literal["stream.broadcast"]
    payload: str  # JSON text, encoded once by the sender
    seq: int | None  # the caption's seq for finals, so a relay can order and dedupe
    captioning: bool | None  # for statuses: whether captions are on (relays keep track)
    sent_at: float  # time.time() at the sender, for the fan-out latency metric


def encode(message: CaptionMessage | StatusMessage | CorrectionMessage | dict) -> str:
    return json.dumps(message, ensure_ascii=False, separators=(",", ":"))


def broadcast_event(message: CaptionMessage | StatusMessage | CorrectionMessage) -> BroadcastEvent:
    is_status = message["type"] == "status"
    return {
        "type": "stream.broadcast",
        "payload": encode(message),
        # Only new finals carry their seq: relays and the history backlog order by it.
        "seq": message.get("seq") if message["type"] == "caption" else None,
        "captioning": message["captioning"] if is_status else None,
        "sent_at": time.time(),
    }


def status_message(
    *, captioning: bool, engine: str, message: str = "", last_seq: int | None = None
) -> StatusMessage:
    status: StatusMessage = {
        "type": "status",
        "captioning": captioning,
        "engine": engine,
        "label": ENGINE_LABELS.get(engine, engine),
        "message": message,
    }
    if last_seq is not None:
        status["last_seq"] = last_seq
    return status
