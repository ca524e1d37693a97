"""Audio bookkeeping for a speech session that may reconnect: what Deepgram has not finalised
yet (replayed on a new connection), and how a connection's audio time maps to session time.
"""

from __future__ import annotations

from bisect import bisect_right
from collections import deque
from dataclasses import dataclass

from captions.speech.base import SAMPLE_WIDTH


@dataclass(slots=True)
class Chunk:
    pos: int  # session byte position of data[0]
    data: bytes


class AudioBuffer:
    """Audio not yet finalised by Deepgram, bounded to ``cap`` bytes.

    ``sent`` holds what went out on the current connection since the last final (replayed after
    a reconnect); ``unsent`` what has not gone out yet. When full, the oldest audio goes. Only
    unsent audio counts as *dropped*: audio already sent merely loses its replay safety net.
    """

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.end = 0  # session position after the last byte received
        self.size = 0
        self.dropped = 0  # bytes lost to the bound, in all
        self._sent: deque[Chunk] = deque()
        self._unsent: deque[Chunk] = deque()

    def add(self, data: bytes) -> int:
        """Append audio; returns how many bytes the bound made us drop."""
        pos = self.end
        self.end += len(data)
        dropped = 0
        if len(data) > self.cap:
            dropped = len(data) - self.cap
            pos, data = pos + dropped, data[dropped:]
        self._unsent.append(Chunk(pos, data))
        self.size += len(data)
        dropped += self._trim(self.size - self.cap)
        self.dropped += dropped
        return dropped

    def take(self) -> Chunk | None:
        """The next chunk to send, now counted as sent."""
        if not self._unsent:
            return None
        chunk = self._unsent.popleft()
        self._sent.append(chunk)
        return chunk

    def confirm(self, upto: int) -> None:
        """Deepgram finalised everything before session position ``upto``: forget it."""
        while self._sent and self._sent[0].pos < upto:
            chunk = self._sent[0]
            if chunk.pos + len(chunk.data) <= upto:
                self._sent.popleft()
                self.size -= len(chunk.data)
            else:
                cut = upto - chunk.pos
                self._sent[0] = Chunk(upto, chunk.data[cut:])
                self.size -= cut

    def rewind(self) -> None:
        """On a new connection, what was sent but not finalised goes out again first."""
        self._unsent.extendleft(reversed(self._sent))
        self._sent.clear()

    @property
    def has_unsent(self) -> bool:
        return bool(self._unsent)

    @property
    def unsent_from(self) -> int:
        """Session position of the oldest audio not sent yet (``end`` when there is none)."""
        return self._unsent[0].pos if self._unsent else self.end

    def next_size(self) -> int:
        return len(self._unsent[0].data) if self._unsent else 0

    def skip_unsent(self, upto: int) -> int:
        """Forget unsent audio before session position ``upto``; returns the bytes skipped."""
        skipped = 0
        while self._unsent and self._unsent[0].pos < upto:
            chunk = self._unsent[0]
            cut = min(len(chunk.data), upto - chunk.pos)
            cut -= cut % SAMPLE_WIDTH
            if cut <= 0:
                break
            if cut == len(chunk.data):
                self._unsent.popleft()
            else:
                self._unsent[0] = Chunk(chunk.pos + cut, chunk.data[cut:])
            self.size -= cut
            skipped += cut
        return skipped

    def _trim(self, excess: int) -> int:
        """Forget ``excess`` bytes, oldest first; returns how many of them were never sent."""
        dropped = 0
        while excess > 0:
            queue = self._sent or self._unsent
            chunk = queue[0]
            if len(chunk.data) <= excess:
                queue.popleft()
                cut = len(chunk.data)
            else:
                cut = excess - excess % SAMPLE_WIDTH or SAMPLE_WIDTH
                queue[0] = Chunk(chunk.pos + cut, chunk.data[cut:])
            self.size -= cut
            excess -= cut
            if queue is self._unsent:
                dropped += cut
        return dropped


class Timeline:
    """Maps this connection's audio time (restarting at 0) to session time.

    A connection's audio is usually one contiguous stretch of the session starting at the
    replay point, but audio dropped by the bound, or a frame of silence sent only to keep a
    new connection open, breaks that; each break starts a new (connection, session) pair.
    """

    def __init__(self, bytes_per_second: int) -> None:
        self.bytes_per_second = bytes_per_second
        self.sent = 0  # bytes sent on this connection
        self._conn: list[int] = []
        self._session: list[int] = []
        self._next: int | None = None

    def note(self, session_pos: int, length: int) -> None:
        if session_pos != self._next:
            self._conn.append(self.sent)
            self._session.append(session_pos)
        self.sent += length
        self._next = session_pos + length

    def note_filler(self, session_pos: int, length: int) -> None:
        """Audio that is not part of the session (it sits at ``session_pos``)."""
        self.note(session_pos, length)
        self._next = None

    def to_session_bytes(self, seconds: float) -> int:
        if not self._conn:
            return 0
        conn_pos = round(seconds * self.bytes_per_second)
        i = max(0, bisect_right(self._conn, conn_pos) - 1)
        return self._session[i] + conn_pos - self._conn[i]

    def to_session(self, seconds: float) -> float:
        return self.to_session_bytes(seconds) / self.bytes_per_second
