"""The JSON messages the stand-in sends, shaped as Deepgram's live API sends them (and as
deepgram-sdk 7.17's models read them: tests/deepgram_standin/test_sdk_conformance.py)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

CHANNEL = [0, 1]  # channel 0 of 1

# Close reasons as Deepgram words them: the code, a sentence, a link. NET-0000 and NET-0001 are
# Deepgram's own wording as seen on the wire; DATA-0000's is the stand-in's, in the same form.
CLOSE_REASONS: dict[str, tuple[int, str]] = {
    "NET-0000": (
        1011,
        "Deepgram did not provide a response message within the timeout window. "
        "See https://dpgr.am/net0000",
    ),
    "NET-0001": (
        1011,
        "Deepgram did not receive audio data or a text message within the timeout window. "
        "See https://dpgr.am/net0001",
    ),
    "DATA-0000": (
        1008,
        "Deepgram could not decode the audio data: corrupt or unsupported data. "
        "See https://dpgr.am/data0000",
    ),
}


def now_iso() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def dumps(message: dict[str, Any]) -> str:
    return json.dumps(message, separators=(",", ":"))


def word(text: str, punctuated: str, start: float, end: float) -> dict[str, Any]:
    return {
        "word": text,
        "start": start,
        "end": end,
        "confidence": 0.99,
        "punctuated_word": punctuated,
    }


def results(
    *,
    start: float,
    duration: float,
    transcript: str,
    words: list[dict[str, Any]],
    is_final: bool,
    speech_final: bool,
    from_finalize: bool,
    request_id: str,
    model: dict[str, str],
) -> str:
    return dumps(
        {
            "type": "Results",
            "channel_index": CHANNEL,
            "duration": duration,
            "start": start,
            "is_final": is_final,
            "speech_final": speech_final,
            "channel": {
                "alternatives": [
                    {
                        "transcript": transcript,
                        "confidence": 0.99 if transcript else 0.0,
                        "words": words,
                    }
                ]
            },
            "metadata": {
                "request_id": request_id,
                "model_info": model_info(model),
                "model_uuid": model["uuid"],
            },
            "from_finalize": from_finalize,
        }
    )


def model_info(model: dict[str, str]) -> dict[str, str]:
    return {"name": model["name"], "version": model["version"], "arch": model["arch"]}


def metadata(
    *, request_id: str, sha256: str, created: str, duration: float, model: dict[str, str]
) -> str:
    """The summary sent before the connection closes. As on the wire, ``models`` and
    ``model_info`` (keyed by model UUID) are there only once audio was processed."""
    message: dict[str, Any] = {
        "type": "Metadata",
        "transaction_key": "deprecated",
        "request_id": request_id,
        "sha256": sha256,
        "created": created,
        "duration": duration,
        "channels": 1,
    }
    if duration:
        message["models"] = [model["uuid"]]
        message["model_info"] = {model["uuid"]: model_info(model)}
    return dumps(message)


def speech_started(timestamp: float) -> str:
    return dumps({"type": "SpeechStarted", "channel": CHANNEL, "timestamp": timestamp})


def utterance_end(last_word_end: float) -> str:
    return dumps({"type": "UtteranceEnd", "channel": CHANNEL, "last_word_end": last_word_end})


def error(description: str, *, variant: str = "SchemaError", message: str | None = None) -> str:
    """Deepgram's ``Error`` message. ``variant`` ``SchemaError``: a client text message could
    not be parsed, and ``message`` is that message."""
    body: dict[str, Any] = {"type": "Error", "variant": variant, "description": description}
    if message is not None:
        body["message"] = message
    return dumps(body)
