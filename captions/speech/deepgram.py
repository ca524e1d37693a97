"""The Deepgram live speech-to-text engine (wire protocol: ``deepgram-live.md``).

:class:`DeepgramEngine` holds the settings and the key, builds the listen URL and makes each
connection; :class:`~captions.speech.deepgram_session.DeepgramSession` is one caption session's
stream, with reconnects and replay; :mod:`captions.speech.deepgram_refusals` words Deepgram's
refusals. ``docs/speech-engine.md`` explains the details.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from websockets.asyncio.client import ClientConnection, connect

from captions.speech.deepgram_session import DeepgramSession

# Deepgram's advice for code-switching (language=multi).
MULTI_ENDPOINTING_MS: Final = 100


class _RedactAuthorization(logging.Filter):
    """websockets logs the handshake headers at DEBUG level; hide the Authorization value."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if isinstance(args, tuple) and len(args) == 2 and str(args[0]).lower() == "authorization":
            record.args = (args[0], "[redacted]")
        return True


_wire_log = logging.getLogger("captions.speech.wire")
_wire_log.addFilter(_RedactAuthorization())


@dataclass(frozen=True, slots=True)
class Tuning:
    """Knobs of the engine; the defaults suit production, tests shrink the times."""

    buffer_seconds: float = 30.0  # audio kept while Deepgram is away (and not yet finalised)
    keepalive_interval: float = 4.0  # KeepAlive after this long without audio
    backoff_base: float = 0.5  # reconnect delay doubles from here...
    backoff_cap: float = 10.0  # ...up to here (with jitter)
    busy_backoff_base: float = 5.0  # same after HTTP 429
    busy_backoff_cap: float = 60.0
    # How long finish() waits for the last results. Deepgram answers a CloseStream with what is
    # left, which takes seconds when it is behind; a captioner's explicit stop waits this long.
    finish_timeout: float = 15.0
    open_timeout: float = 10.0  # per connection attempt
    close_timeout: float = 2.0  # for our side of a closing handshake
    ping_interval: float | None = 10.0  # websocket pings notice a dead network...
    ping_timeout: float | None = 10.0  # ...sooner than TCP does
    warning_interval: float = 10.0  # at most one "buffer full" warning this often
    endpointing_ms: int = 300  # language=multi uses MULTI_ENDPOINTING_MS
    finalize_after: float = 1.0  # Finalize once the captioner's audio stalls this long
    replay_speed: float = 1.2  # audio sent at most this much faster than real time...
    replay_burst: float = 1.0  # ...after a head start of this many seconds
    latency_budget: float = 20.0  # backlog older than this is skipped, with a status
    utterance_end_ms: int = 1000
    extra_params: Mapping[str, str | bool | int | Sequence[str]] = field(default_factory=dict)


class DeepgramEngine:
    """``SpeechEngine`` for Deepgram's live API. ``tuning`` takes the fields of :class:`Tuning`."""

    name = "deepgram"

    def __init__(self, url: str, api_key: str, model: str, **tuning: Any) -> None:
        self.url = url
        self.model = model
        self._api_key = api_key
        self.tuning = Tuning(**tuning)

    def __repr__(self) -> str:  # never show the key
        return f"DeepgramEngine(url={self.url!r}, model={self.model!r})"

    async def open(self, *, language: str, sample_rate: int = 16000) -> DeepgramSession:
        """Connect and start a session.

        Raises :class:`SpeechRefused` when Deepgram refuses the handshake for a reason that
        retrying will not fix (400, 401, 402, 403). When it is busy (429) or unreachable, the
        session is returned anyway: it buffers audio, retries in the background and reports
        ``delayed`` / ``reconnecting`` through ``results()``.
        """
        session = DeepgramSession(self, language=language, sample_rate=sample_rate)
        await session.start()
        return session

    def listen_url(self, *, language: str, sample_rate: int) -> str:
        params: list[tuple[str, str]] = [
            ("model", self.model),
            ("language", language),
            ("encoding", "linear16"),
            ("sample_rate", str(sample_rate)),
            ("channels", "1"),
            ("interim_results", "true"),
            ("smart_format", "true"),
            ("punctuate", "true"),
            ("endpointing", str(self.endpointing_ms(language))),
            ("utterance_end_ms", str(self.tuning.utterance_end_ms)),
            ("vad_events", "true"),
        ]
        for key, value in self.tuning.extra_params.items():
            values = value if isinstance(value, list | tuple) else [value]
            params.extend((key, _query_value(v)) for v in values)
        parts = urlsplit(self.url)
        query = parse_qsl(parts.query, keep_blank_values=True) + params
        return urlunsplit(parts._replace(query=urlencode(query)))

    def endpointing_ms(self, language: str) -> int:
        return MULTI_ENDPOINTING_MS if language == "multi" else self.tuning.endpointing_ms

    async def connect(self, url: str) -> ClientConnection:
        """One handshake; ``deepgram_refusals.classify`` sorts its errors."""
        return await connect(
            url,
            additional_headers={"Authorization": f"Token {self._api_key}"},
            open_timeout=self.tuning.open_timeout,
            close_timeout=self.tuning.close_timeout,
            ping_interval=self.tuning.ping_interval,
            ping_timeout=self.tuning.ping_timeout,
            compression=None,
            logger=_wire_log,
        )

    def redact(self, text: str) -> str:
        return text.replace(self._api_key, "[redacted]") if self._api_key else text


def _query_value(value: object) -> str:
    return str(value).lower() if isinstance(value, bool) else str(value)


# ---------------------------------------------------------------------------------------------
# The session
