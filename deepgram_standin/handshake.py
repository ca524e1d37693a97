"""The upgrade request: authentication, the settings Deepgram would refuse, refusal bodies."""

from __future__ import annotations

import http
import json

from websockets.datastructures import Headers
from websockets.http11 import Response

from deepgram_standin.records import Handshake

PATH = "/v1/listen"

ERRORS: dict[int, tuple[str, str]] = {
    400: ("Bad Request", "Bad Request: the request could not be processed."),
    401: ("INVALID_AUTH", "Invalid credentials."),
    402: (
        "ASR_PAYMENT_REQUIRED",
        "Project does not have enough credits for an ASR request and does not have an "
        "overage agreement.",
    ),
    403: ("INSUFFICIENT_PERMISSIONS", "Project does not have access to the requested model."),
    404: ("NOT_FOUND", "Not found."),
    429: ("TOO_MANY_REQUESTS", "Too many requests. Please try again later."),
}
NO_SUCH_MODEL = "No such model/language/tier combination found."

ENGLISH = ("en", "en-US", "en-GB", "en-AU", "en-NZ", "en-IN", "en-CA")
_NOVA_3_LANGUAGES = (
    *ENGLISH, "multi", "bg", "ca", "cs", "da", "da-DK", "de", "de-CH", "el", "es", "es-419",
    "et", "fi", "fr", "fr-CA", "hi", "hu", "id", "it", "ja", "ko", "ko-KR", "lt", "lv", "ms",
    "nl", "nl-BE", "no", "pl", "pt", "pt-BR", "pt-PT", "ro", "ru", "sk", "sv", "sv-SE", "tr",
    "uk", "vi", "zh", "zh-CN", "zh-Hans", "zh-TW", "zh-Hant",
)  # fmt: skip
_NOVA_2_LANGUAGES = (
    *ENGLISH, "multi", "bg", "ca", "cs", "da", "da-DK", "de", "de-CH", "el", "es", "es-419",
    "et", "fi", "fr", "fr-CA", "hi", "hu", "id", "it", "ja", "ko", "ko-KR", "lt", "lv", "ms",
    "nl", "nl-BE", "no", "pl", "pt", "pt-BR", "pt-PT", "ro", "ru", "sk", "sv", "sv-SE", "th",
    "tr", "uk", "vi", "zh", "zh-CN", "zh-Hans", "zh-TW", "zh-Hant", "zh-HK",
)  # fmt: skip

# What each model reports about itself in ``metadata.model_info`` (nova-3's as seen on the
# wire in 2025-2026), and the languages it takes.
MODELS: dict[str, dict[str, object]] = {
    "nova-3": {
        "name": "general-nova-3",
        "version": "2025-04-17.21547",
        "arch": "nova-3",
        "uuid": "40bd3654-e622-47c4-a111-63a61b23bfe8",
        "languages": frozenset(_NOVA_3_LANGUAGES),
    },
    "nova-2": {
        "name": "2-general-nova",
        "version": "2024-01-18.26916",
        "arch": "nova-2",
        "uuid": "c0d1a568-ce81-4fea-97e7-bd45cb1fdf3c",
        "languages": frozenset(_NOVA_2_LANGUAGES),
    },
}
ALIASES = {"nova-3-general": "nova-3", "nova-2-general": "nova-2"}
DEFAULT_MODEL = "nova-3"


def model_for(name: str | None) -> dict[str, str]:
    """``model_info`` fields of a model the handshake accepted (the default when none named)."""
    entry = MODELS[ALIASES.get(name or DEFAULT_MODEL, name or DEFAULT_MODEL)]
    return {k: v for k, v in entry.items() if isinstance(v, str)}


def settings_problem(query: dict[str, list[str]]) -> str | None:
    """Why Deepgram would answer 400 to these query parameters, or None."""
    encoding, rate = query.get("encoding"), query.get("sample_rate")
    if bool(encoding) != bool(rate):
        return "Bad Request: encoding and sample_rate must be given together for raw audio."
    if not encoding or encoding != ["linear16"]:
        return "Bad Request: this stand-in only accepts encoding=linear16."
    if not rate[0].isdigit() or int(rate[0]) <= 0:
        return "Bad Request: sample_rate must be a positive integer."
    if query.get("channels", ["1"]) != ["1"]:
        return "Bad Request: this stand-in only accepts channels=1."
    name = query.get("model", [DEFAULT_MODEL])[-1]
    model = MODELS.get(ALIASES.get(name, name))
    if model is None or query.get("language", ["en"])[-1] not in model["languages"]:
        return NO_SUCH_MODEL
    arch = model["arch"]
    if arch == "nova-3" and "keywords" in query:
        return "Bad Request: Keywords are not supported for Nova-3. Use keyterm instead."
    if arch != "nova-3" and "keyterm" in query:
        return "Bad Request: Keyterm prompting is only supported for Nova-3."
    for name in ("endpointing", "utterance_end_ms"):
        value = query.get(name, ["10"])[-1]
        if not (value.isdigit() or (name == "endpointing" and value in ("true", "false"))):
            return f"Bad Request: {name} must be an integer number of milliseconds."
    return None


def refusal(shake: Handshake, status: int, message: str | None = None) -> Response:
    """A refused upgrade as Deepgram answers it: a JSON body, ``dg-request-id``, ``dg-error``."""
    shake.status = status
    code, default = ERRORS.get(status, ("ERROR", http.HTTPStatus(status).phrase))
    err_msg = message or default
    body = json.dumps(
        {"err_code": code, "err_msg": err_msg, "request_id": shake.request_id},
        separators=(",", ":"),
    ).encode()
    headers = Headers(
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
            ("dg-request-id", shake.request_id),
            ("dg-error", err_msg),
        ]
    )
    return Response(status, http.HTTPStatus(status).phrase, headers, body)
