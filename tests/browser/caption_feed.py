"""Helpers for browser tests of the captions on the player page.

``FakeCaptions(page)`` stands in for the site's captions socket in one page (Playwright's
``page.route_web_socket``): the page connects to it instead of the server, gets ``history``
(the record's finals after the page's ``?after=``) and a status, and then whatever the test
sends, in the order it sends it. Finals sent are put in the record, as the server stores each
before broadcasting it; ``store`` puts finals in the record without sending them (finals a page
missed). ``.urls`` lists the socket URLs the page opened.

``final(seq, text, ...)`` and ``interim(text, ...)`` build ``caption`` messages as the server
sends them; ``words(n)`` is a caption of ``n`` distinct words.
"""

from __future__ import annotations

import json
import re
from typing import Any
from urllib.parse import parse_qs, urlsplit

CAPTIONS_SOCKET = re.compile(r"/ws/watch/[^/]+/captions/")

PROSE = (
    "captions roll up line by line so the newest words are always at the bottom of the picture "
    "where viewers expect them and the older lines move up and out of sight while the speaker "
    "keeps talking about the plan for next quarter the budget the schedule and the people who "
    "will help us deliver it on time and within the limits we agreed on last week"
)
WORDS = PROSE.split()


def words(count: int, offset: int = 0) -> str:
    """``count`` words of plain prose, numbered at the end so each is unique: "captions1 roll2"."""
    return " ".join(f"{WORDS[(offset + i) % len(WORDS)]}{offset + i + 1}" for i in range(count))


def final(seq: int, text: str, *, spoken_at: int | None = None, start: float | None = None,
          duration_ms: int = 1500) -> dict[str, Any]:  # fmt: skip
    start = float(seq) if start is None else start
    return {
        "type": "caption",
        "seq": seq,
        "text": text,
        "is_final": True,
        "start": start,
        "end": start + duration_ms / 1000,
        "spoken_at": spoken_at,
        "spoken_until": None if spoken_at is None else spoken_at + duration_ms,
    }


def interim(text: str, *, spoken_at: int | None = None, duration_ms: int = 800) -> dict[str, Any]:
    return {
        "type": "caption",
        "seq": None,
        "text": text,
        "is_final": False,
        "start": 0.0,
        "end": duration_ms / 1000,
        "spoken_at": spoken_at,
        "spoken_until": None if spoken_at is None else spoken_at + duration_ms,
    }


def status(captioning: bool, message: str = "") -> dict[str, Any]:
    return {"type": "status", "captioning": captioning, "engine": "deepgram", "message": message}


class FakeCaptions:
    def __init__(self, page, *, captioning: bool = True, stored: list[dict] | None = None) -> None:
        self.stored: list[dict] = list(stored or [])
        self.status = status(captioning)
        self.urls: list[str] = []
        self.connections: list[Any] = []
        page.route_web_socket(CAPTIONS_SOCKET, self._connect)

    def _connect(self, ws) -> None:
        self.urls.append(ws.url)
        self.connections.append(ws)
        after = parse_qs(urlsplit(ws.url).query).get("after")
        history = [c for c in self.stored if after is None or c["seq"] > int(after[0])]
        ws.send(json.dumps({"type": "history", "captions": history}))
        ws.send(json.dumps(self.status))

    def store(self, *captions: dict) -> None:
        """Put finals in the record (what ``history`` and ``?after=`` return)."""
        self.stored.extend(captions)
        self.stored.sort(key=lambda c: c["seq"])

    def send(self, *messages: dict) -> None:
        """Send to the page's current socket, in this order. Finals go in the record first, as
        the server stores each final before it broadcasts it."""
        for message in messages:
            if message.get("type") == "status":
                self.status = message
            if message.get("type") == "caption" and message["is_final"]:
                self.store(message)
            self.connections[-1].send(json.dumps(message))
