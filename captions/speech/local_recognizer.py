"""PocketSphinx, one caption session's worth: voice activity detection and decoding.

Everything here is blocking CPU work and runs in the session's worker thread
(:mod:`captions.speech.local`); nothing here touches the event loop. PocketSphinx holds the GIL
inside each call, so calls are kept short: one 30 ms frame of audio at a time, and no
second decoding pass at the end of an utterance (``fwdflat``, which holds it for about a
tenth of a second per second of speech).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Final

from pocketsphinx import Decoder, Endpointer

from captions.speech.base import SAMPLE_WIDTH, Transcript

# Decoder settings: the packaged US-English model (acoustic model, CMUdict, 3-gram LM).
DECODER_CONFIG: Final = {"samprate": 16000, "fwdflat": False, "loglevel": "FATAL"}


class DecoderPool:
    """Keeps one loaded decoder for the next session of this process.

    Loading takes about 0.3 s (mostly the 130,000-word dictionary), holding the GIL, and
    about 90 MB; with the pool a process pays that once, not at every captioner's start.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._idle: Decoder | None = None
        self._initial_cmn = ""  # a fresh decoder's cepstral mean (the model's default)

    def take(self) -> Decoder:
        with self._lock:
            decoder, self._idle = self._idle, None
        if decoder is None:
            decoder = Decoder(**DECODER_CONFIG)
            self._initial_cmn = decoder.get_cmn()
            return decoder
        # Forget the last session's speaker and room, so the same audio decodes the same.
        decoder.set_cmn(self._initial_cmn)
        return decoder

    def give_back(self, decoder: Decoder) -> None:
        """Only once no thread uses ``decoder`` any more."""
        with self._lock:
            self._idle = self._idle or decoder


decoders = DecoderPool()


@dataclass(frozen=True, slots=True)
class Word:
    text: str
    start: float  # seconds since the session's first audio
    end: float


class Recognizer:
    """Turns a session's audio into transcripts.

    ``feed`` takes 16-bit mono PCM in order and returns what it recognised: an interim
    hypothesis now and then while someone speaks, and a final, with the times of its first and
    last words, when the voice activity detector hears a pause (or an utterance grows past
    ``max_utterance`` seconds). Times are seconds since the session's first audio, skipped
    audio included.
    """

    def __init__(
        self,
        decoder: Decoder,
        *,
        sample_rate: int,
        interim_every: float,
        max_utterance: float,
        vad_window: float,
    ) -> None:
        self.decoder = decoder
        self._rate = sample_rate
        self._bps = sample_rate * SAMPLE_WIDTH
        self._frate = int(decoder.config["frate"])  # decoder frames per second
        self._vad_window = vad_window
        self._interim_bytes = round(interim_every * self._bps)
        self._max_bytes = round(max_utterance * self._bps)
        self._ep = Endpointer(window=vad_window, sample_rate=sample_rate)
        self._ep_base = 0  # session byte at the endpointer's time 0
        self._pos = 0  # session bytes consumed: through the endpointer, or skipped
        self._rest = b""  # less than a frame, waiting for more
        self._in_utt = False
        self._utt_start = 0.0  # session seconds of the decoder's first frame
        self._utt_bytes = 0  # audio given to the decoder in this utterance
        self._since_interim = 0
        self._last_interim = ""
        # The session's first utterance, kept to decode it again once the cepstral mean
        # (the normalisation for this microphone and voice) has been learnt from it.
        self._first: list[bytes] | None = []

    def feed(self, pcm: bytes, skipped: int = 0) -> list[Transcript]:
        """Recognise ``pcm``, which follows ``skipped`` bytes of audio nobody will decode."""
        out: list[Transcript] = []
        if skipped:
            # The gap ends the utterance; the endpointer starts afresh after it.
            out += self._end_utterance()
            self._pos += len(self._rest) + skipped
            self._rest = b""
            self._ep = Endpointer(window=self._vad_window, sample_rate=self._rate)
            self._ep_base = self._pos
        size = self._ep.frame_bytes
        data = self._rest + pcm
        whole = len(data) - len(data) % size
        for i in range(0, whole, size):
            out += self._frame(data[i : i + size])
            yield_gil()
        self._rest = data[whole:]
        return out

    def flush(self) -> list[Transcript]:
        """The audio ended: the last utterance becomes a final."""
        if self._ep.in_speech:
            # end_stream wants at least one sample; silence pads an empty remainder.
            speech = self._ep.end_stream(self._rest or bytes(SAMPLE_WIDTH))
            if speech:
                self._decode(speech)
        self._rest = b""
        return self._end_utterance()

    def release(self) -> Decoder:
        """The decoder, out of any utterance, for another session."""
        if self._in_utt:
            self.decoder.end_utt()
            self._in_utt = False
        return self.decoder

    def _frame(self, frame: bytes) -> list[Transcript]:
        speech = self._ep.process(frame)
        self._pos += len(frame)
        if speech is None:
            return []
        if not self._in_utt:
            self._start_utterance(self._ep_base / self._bps + self._ep.speech_start)
        self._decode(speech)
        if not self._ep.in_speech:
            return self._end_utterance()
        if self._utt_bytes >= self._max_bytes:
            # Someone talks on without a pause: cut here so captions keep coming.
            resume_at = self._utt_start + self._utt_bytes / self._bps
            finals = self._end_utterance()
            self._start_utterance(resume_at)
            return finals
        return self._interim()

    def _start_utterance(self, at: float) -> None:
        self.decoder.start_utt()
        self._in_utt = True
        self._utt_start = at
        self._utt_bytes = self._since_interim = 0
        self._last_interim = ""

    def _decode(self, speech: bytes) -> None:
        self.decoder.process_raw(speech)
        self._utt_bytes += len(speech)
        self._since_interim += len(speech)
        if self._first is not None:
            self._first.append(speech)

    def _interim(self) -> list[Transcript]:
        if self._since_interim < self._interim_bytes:
            return []
        self._since_interim = 0
        words = self._words()
        text = caption_text(words)
        if not text or text == self._last_interim:
            return []
        self._last_interim = text
        end = self._utt_start + self._utt_bytes / self._bps
        return [Transcript(text, False, words[0].start, end)]

    def _end_utterance(self) -> list[Transcript]:
        if not self._in_utt:
            return []
        self.decoder.end_utt()
        self._in_utt = False
        if self._first is not None:
            self._redecode_first()
        words = self._words()
        if not words:
            return []
        return [Transcript(caption_text(words), True, words[0].start, words[-1].end)]

    def _redecode_first(self) -> None:
        """Decode the first utterance again with the cepstral mean learnt from it.

        A session starts from the model's default mean, far from most microphones and voices:
        measured on speech from espeak-ng, decoding the first sentence again this way halves
        its errors (docs/speech-engine.md). Costs one more decoding of at most
        ``max_utterance`` seconds, once per session, a frame at a time (the GIL again).
        """
        audio, self._first = b"".join(self._first or ()), None
        self.decoder.get_cmn(True)  # update the mean from this utterance
        self.decoder.start_utt()
        size = self._ep.frame_bytes
        for i in range(0, len(audio), size):
            self.decoder.process_raw(audio[i : i + size])
            yield_gil()
        self.decoder.end_utt()

    def _words(self) -> list[Word]:
        """The best hypothesis's words with their times, without silences and noises."""
        if self.decoder.hyp() is None:
            return []
        words = []
        for seg in self.decoder.seg():
            if seg.word.startswith(("<", "[")):  # <s>, </s>, <sil>, [NOISE], [SPEECH]
                continue
            words.append(
                Word(
                    seg.word.split("(", 1)[0],  # "the(2)": the second pronunciation
                    round(self._utt_start + seg.start_frame / self._frate, 3),
                    round(self._utt_start + (seg.end_frame + 1) / self._frate, 3),
                )
            )
        return words


def yield_gil() -> None:
    """Hand the GIL to a thread waiting for it (the event loop's) now, rather than when the
    interpreter's 5 ms switch interval runs out: measured, it halves the loop's typical wait."""
    time.sleep(0)


def caption_text(words: list[Word]) -> str:
    """PocketSphinx writes lower case without punctuation: capitalise the start and "I"."""
    texts = [
        "I" + w.text[1:] if w.text == "i" or w.text.startswith("i'") else w.text for w in words
    ]
    text = " ".join(texts)
    return text[:1].upper() + text[1:]
