"""The local speech engine: PocketSphinx on this machine, no service, no account, no network.

US English only (the model the ``pocketsphinx`` wheel ships), and far less accurate than
Deepgram: viewers see it labelled as such (``captions.events.ENGINE_LABELS``). Audio handed to
:meth:`LocalSession.send` waits in a bounded buffer; a runner task hands it, half a second at
a time, to a worker thread of the session's own that runs the voice activity detector and the
decoder (:mod:`captions.speech.local_recognizer`), so the event loop stays free. When decoding
falls behind real time, the oldest audio is skipped and the captioner told.
``docs/speech-engine.md`` has the measurements.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Final, Literal

from captions.speech.base import SAMPLE_WIDTH, EngineStatus, SpeechRefused, Transcript
from captions.speech.local_recognizer import Recognizer, decoders
from captions.speech.queued_session import QueuedSession

log = logging.getLogger("captions.speech")

SAMPLE_RATE: Final = 16000
SKIPPED_MESSAGE: Final = (
    "Captions skipped {seconds:.0f} s of speech to catch up: the offline speech engine is "
    "slower than real time on this server right now."
)
ENGLISH_ONLY_MESSAGE: Final = (
    "The offline speech engine understands only English, and this stream's caption language "
    "is {language!r}. An administrator must change the stream's language, or set "
    "DEEPGRAM_API_KEY and CAPTIONS_ENGINE=deepgram."
)


@dataclass(frozen=True, slots=True)
class Tuning:
    """Knobs of the engine; the defaults suit live captions, tests change some."""

    max_backlog: float = 10.0  # undecoded audio beyond this is skipped, down to half of it
    chunk: float = 0.5  # audio handed to the worker thread per call
    interim_every: float = 0.5  # an interim hypothesis per this much speech, when it changed
    max_utterance: float = 10.0  # a final at least this often while someone talks on
    vad_window: float = 0.3  # seconds of audio the pause/speech decision looks at
    finish_timeout: float = 10.0  # bound on finish()


class LocalEngine:
    """``SpeechEngine`` running PocketSphinx; ``tuning`` takes the fields of :class:`Tuning`."""

    name = "local"

    def __init__(self, **tuning: Any) -> None:
        self.tuning = Tuning(**tuning)

    def __repr__(self) -> str:
        return "LocalEngine()"

    async def open(self, *, language: str, sample_rate: int = SAMPLE_RATE) -> LocalSession:
        """Load the model (in the session's thread) and start a session.

        Raises :class:`SpeechRefused` for a language other than English or another sample rate.
        """
        if language.split("-", 1)[0].lower() != "en":
            raise SpeechRefused(ENGLISH_ONLY_MESSAGE.format(language=language))
        if sample_rate != SAMPLE_RATE:
            raise SpeechRefused(f"The offline speech engine needs {SAMPLE_RATE} Hz audio.")
        session = LocalSession(self.tuning)
        await session.start()
        return session


class LocalSession(QueuedSession):
    """One caption session's recogniser. Made by :meth:`LocalEngine.open`."""

    name = "Offline speech engine"

    def __init__(self, tuning: Tuning) -> None:
        super().__init__(finish_timeout=tuning.finish_timeout)
        self._tuning = tuning
        self._bps = SAMPLE_RATE * SAMPLE_WIDTH
        self._max_backlog = _aligned(tuning.max_backlog * self._bps)
        self._chunk = _aligned(tuning.chunk * self._bps)
        self._pending: deque[bytes] = deque()  # audio not yet handed to the worker
        self._pending_bytes = 0
        self._skipped = 0  # bytes dropped from the front of _pending since the last hand-over
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="local-speech")
        self._recognizer: Recognizer | None = None
        self._last_interim_at = -float("inf")
        self.skipped_seconds = 0.0  # audio never decoded because decoding fell behind

    # -- public API ---------------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            decoder = await loop.run_in_executor(self._executor, decoders.take)
        except Exception:
            log.exception("Offline speech engine: could not load the model")
            self._executor.shutdown(wait=False)
            raise SpeechRefused(
                "The offline speech engine could not start on this server (see its log)."
            ) from None
        self._recognizer = Recognizer(
            decoder,
            sample_rate=SAMPLE_RATE,
            interim_every=self._tuning.interim_every,
            max_utterance=self._tuning.max_utterance,
            vad_window=self._tuning.vad_window,
        )
        self._runner = asyncio.create_task(self._run(), name="local-speech-session")

    async def send(self, pcm: bytes) -> None:
        """Queue 16-bit mono PCM. Never waits for decoding; empty input is ignored."""
        data = self._whole_samples(pcm)
        if not data:
            return
        self._pending.append(data)
        self._pending_bytes += len(data)
        if self._pending_bytes > self._max_backlog:
            self._drop_oldest(self._pending_bytes - self._max_backlog // 2)
        self._wake.set()

    # finish(): decode what was sent, turn the last utterance into a final, end results().

    async def close(self) -> None:
        """Stop at once: cancel the runner; the worker thread stops after its current call."""
        await self._stop_runner()
        self._pending.clear()
        self._pending_bytes = 0
        recognizer, self._recognizer = self._recognizer, None
        try:
            if recognizer is not None:
                # Queued behind the thread's current call (one chunk at most): then the
                # decoder is idle and goes back to the pool. The loop runs meanwhile.
                last = self._executor.submit(_give_back, recognizer)
                await asyncio.wait({asyncio.wrap_future(last)})
        finally:
            self._executor.shutdown(wait=False)
            self._end()

    @property
    def state(self) -> Literal["live"]:
        """Always ``live``: there is no service to wait for."""
        return "live"

    @property
    def backlog_seconds(self) -> float:
        """Audio received and not yet decoded."""
        return self._pending_bytes / self._bps

    # -- decoding -----------------------------------------------------------------------------

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        recognizer = self._recognizer
        assert recognizer is not None
        try:
            while True:
                if not self._pending:
                    if self._finishing:
                        self._publish(await loop.run_in_executor(self._executor, recognizer.flush))
                        return
                    self._wake.clear()
                    await self._wake.wait()
                    continue
                chunk, skipped = self._take()
                if skipped:
                    self._report_skip(skipped)
                events = await loop.run_in_executor(self._executor, recognizer.feed, chunk, skipped)
                self._publish(events)
        except Exception:
            log.exception("Offline speech engine failed")
        finally:
            self._end()

    def _take(self) -> tuple[bytes, int]:
        """Up to one chunk of the oldest pending audio, and the bytes skipped before it."""
        parts: list[bytes] = []
        size = 0
        while self._pending and size < self._chunk:
            part = self._pending.popleft()
            room = self._chunk - size
            if len(part) > room:
                self._pending.appendleft(part[room:])
                part = part[:room]
            parts.append(part)
            size += len(part)
        self._pending_bytes -= size
        skipped, self._skipped = self._skipped, 0
        return b"".join(parts), skipped

    def _drop_oldest(self, amount: int) -> None:
        amount = _aligned(amount)
        dropped = 0
        while self._pending and dropped < amount:
            part = self._pending.popleft()
            if dropped + len(part) > amount:
                self._pending.appendleft(part[amount - dropped :])
                part = part[: amount - dropped]
            dropped += len(part)
        self._pending_bytes -= dropped
        self._skipped += dropped

    def _report_skip(self, skipped: int) -> None:
        seconds = skipped / self._bps
        self.skipped_seconds += seconds
        log.warning(
            "Offline speech engine behind by over %.0f s: skipped %.1f s",
            self._tuning.max_backlog,
            seconds,
        )
        self._events.put_nowait(
            EngineStatus("skipped", SKIPPED_MESSAGE.format(seconds=max(1, seconds)))
        )

    def _publish(self, events: list[Transcript]) -> None:
        """Every final goes out; of the interims after the last final only the newest, and
        no more often than ``interim_every`` (decoding a backlog would yield bursts)."""
        latest: Transcript | None = None
        for event in events:
            if event.is_final:
                self._events.put_nowait(event)
                latest = None
            else:
                latest = event
        now = asyncio.get_running_loop().time()
        if latest is not None and now - self._last_interim_at >= self._tuning.interim_every:
            self._last_interim_at = now
            self._events.put_nowait(latest)


def _aligned(size: float) -> int:
    size = round(size)
    return max(SAMPLE_WIDTH, size - size % SAMPLE_WIDTH)


def _give_back(recognizer: Recognizer) -> None:
    try:
        decoders.give_back(recognizer.release())
    except Exception:  # a decoder that fails to reset is not reused
        log.exception("Offline speech engine: could not reset the decoder")
