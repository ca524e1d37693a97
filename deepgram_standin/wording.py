"""What each result says: the next announced phrase (the start of it in interims), the same
words again for audio heard before on an earlier connection, or words made from the audio."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from deepgram_standin import messages
from deepgram_standin.recogniser import Cut, Recogniser

if TYPE_CHECKING:
    from deepgram_standin.server import DeepgramStandin

Words = list[dict[str, Any]]


class Wording:
    def __init__(
        self,
        server: DeepgramStandin,
        connection: int,
        bytes_per_second: int,
        recogniser: Recogniser,
    ) -> None:
        self.server = server
        self.connection = connection
        self.bytes_per_second = bytes_per_second
        self.recogniser = recogniser
        # at the start of a reconnection, where an engine replays audio it sent before
        self.replaying = connection > 0

    def seconds(self, n_bytes: int) -> float:
        return round(n_bytes / self.bytes_per_second, 6)

    def final(self, cut: Cut) -> tuple[str, Words, str | None]:
        """A repeat (replayed audio), the next phrase, or the default words; and the phrase
        taken from the queue, if any."""
        if not cut.words:
            return "", [], None
        if self.replaying:
            known = self.server.recall(cut.audio, before=self.connection)
            if known is not None:
                return known, self.spread(known, cut), None
            self.replaying = False
        phrase = self.server.take_phrase()
        if phrase is None:
            return (*self.default_words(cut), None)
        return phrase, self.spread(phrase, cut), phrase

    def interim(self, cut: Cut) -> tuple[str, Words]:
        """The growing start of the phrase the final will say, or the default words."""
        phrase = self.server.next_phrase() if cut.words else None
        if phrase is None:
            return self.default_words(cut)
        tokens = phrase.split()
        fraction = min(1.0, (cut.end - cut.start) / self.recogniser.segment_bytes)
        text = " ".join(tokens[: max(1, math.ceil(len(tokens) * fraction))])
        return text, self.spread(text, cut)

    def default_words(self, cut: Cut) -> tuple[str, Words]:
        words = [messages.word(w, w, self.seconds(b), self.seconds(e)) for w, b, e in cut.words]
        return " ".join(w for w, _, _ in cut.words), words

    def spread(self, text: str, cut: Cut) -> Words:
        """Words of ``text`` spread evenly over the loud part of the cut."""
        tokens = text.split()
        if not tokens or not cut.words:
            return []
        begin, end = cut.words[0][1], cut.words[-1][2]
        step = (end - begin) / len(tokens)
        return [
            messages.word(
                token.strip(".,!?;:").lower() or token,
                token,
                self.seconds(begin + round(i * step)),
                self.seconds(begin + round((i + 1) * step)),
            )
            for i, token in enumerate(tokens)
        ]
