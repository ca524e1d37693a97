"""Why a handshake with Deepgram failed, and what to do about it: refuse the session for good
(with a message the captioner can act on) or retry it (maybe later, when the service is busy).
The wording follows Deepgram's documented meaning of each status (``docs/speech-engine.md``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Final

from websockets.exceptions import InvalidHandshake, InvalidStatus, InvalidURI

from captions.speech.base import SpeechRefused

log = logging.getLogger("captions.speech")


class Retry(Exception):
    """A failure worth retrying; ``busy`` for HTTP 429."""

    def __init__(self, reason: str, *, busy: bool = False) -> None:
        super().__init__(reason)
        self.busy = busy


REFUSALS: Final[dict[int, str]] = {
    400: (
        "The speech service rejected the caption settings (400){detail}. An administrator "
        "must check DEEPGRAM_MODEL and the stream's caption language."
    ),
    401: (
        "The speech service refused the server's credentials (401): the API key is wrong, "
        "revoked, or lacks the permission to transcribe{detail}. An administrator must fix "
        "DEEPGRAM_API_KEY or the key's permissions."
    ),
    402: (
        "The speech service account is out of credit (402). An administrator must add credit "
        "to the Deepgram project."
    ),
    403: (
        "The speech service does not allow this API key to use the model {model!r} (403). An "
        "administrator must change DEEPGRAM_MODEL or the key's permissions."
    ),
}


CONNECT_ERRORS: Final = (OSError, TimeoutError, InvalidHandshake, InvalidURI)


def classify(
    exc: BaseException, *, model: str, redact: Callable[[str], str]
) -> SpeechRefused | Retry:
    """Turn a failed handshake into a refusal (do not retry) or a retry (maybe busy)."""
    if isinstance(exc, InvalidURI):
        log.error("DEEPGRAM_URL is not a websocket URL")
        return SpeechRefused(
            "The speech service address is not a websocket URL. An administrator must fix "
            "DEEPGRAM_URL."
        )
    if not isinstance(exc, InvalidStatus):
        return Retry(f"{type(exc).__name__}: {redact(str(exc))}")
    response = exc.response
    status = response.status_code
    err_code, err_msg = error_body(response.body)
    if not err_msg:  # a body that is not Deepgram's JSON: the dg-error header says it too
        err_msg = response.headers.get("dg-error", "")
    request_id = response.headers.get("dg-request-id", "-")
    if status == 429:
        log.warning("Speech service busy (HTTP 429 %s, dg-request-id %s)", err_code, request_id)
        return Retry("HTTP 429", busy=True)
    if status >= 500 or status == 408:
        return Retry(f"HTTP {status}")
    detail = f": {redact(err_msg)[:200].rstrip('. ')}" if err_msg else ""
    template = REFUSALS.get(
        status,
        "The speech service refused the connection (HTTP {status}). An administrator must check "
        "DEEPGRAM_URL.",
    )
    message = template.format(detail=detail, model=model, status=status)
    log.error(
        "Speech service refused the session: HTTP %s %s%s (dg-request-id %s)",
        status,
        err_code,
        detail,
        request_id,
    )
    return SpeechRefused(message, status=status)


def error_body(body: bytes | bytearray) -> tuple[str, str]:
    try:
        data = json.loads(body)
    except ValueError:
        return "", ""
    if not isinstance(data, dict):
        return "", ""
    return str(data.get("err_code", "")), str(data.get("err_msg", ""))
