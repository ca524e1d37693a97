"""A local stand-in for Deepgram's live speech-to-text API (``/v1/listen``).

Run it with ``python -m deepgram_standin --port 8765 --key K``; see :mod:`deepgram_standin.server`
for what it does.
"""

from deepgram_standin.server import (
    ConnectionRecord,
    DeepgramDouble,
    DeepgramStandin,
    Handshake,
    SentFinal,
    expected_finals,
    rms,
    silence,
    speech,
    tick_word,
    tick_words,
)

__all__ = [
    "ConnectionRecord",
    "DeepgramDouble",
    "DeepgramStandin",
    "Handshake",
    "SentFinal",
    "expected_finals",
    "rms",
    "silence",
    "speech",
    "tick_word",
    "tick_words",
]
