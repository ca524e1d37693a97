"""Speech engines: the one place the site talks to a speech-to-text service.

The caption session only sees the small interface in :mod:`captions.speech.base`;
:func:`get_engine` picks the implementation by name (``settings.CAPTIONS_ENGINE`` by default):
Deepgram's live API, or PocketSphinx on this machine.
"""

from captions.speech.base import (
    EngineStatus,
    SpeechEngine,
    SpeechEvent,
    SpeechRefused,
    SpeechSession,
    Transcript,
)

__all__ = [
    "EngineStatus",
    "SpeechEngine",
    "SpeechEvent",
    "SpeechRefused",
    "SpeechSession",
    "Transcript",
    "get_engine",
]


def get_engine(name: str | None = None) -> SpeechEngine:
    """Return the speech engine ``name`` ("deepgram" or "local"), by default the site's."""
    from django.conf import settings

    name = name or settings.CAPTIONS_ENGINE
    if name == "local":
        from captions.speech.local import LocalEngine

        return LocalEngine()
    if name == "deepgram":
        if not settings.DEEPGRAM_API_KEY:
            raise SpeechRefused(
                "Captions are not set up on this server: DEEPGRAM_API_KEY is empty."
            )
        from captions.speech.deepgram import DeepgramEngine

        return DeepgramEngine(
            url=settings.DEEPGRAM_URL,
            api_key=settings.DEEPGRAM_API_KEY,
            model=settings.DEEPGRAM_MODEL,
            **settings.CAPTIONS_ENGINE_OPTIONS,
        )
    raise ValueError(f"Unknown CAPTIONS_ENGINE {name!r}")
