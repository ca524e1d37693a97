"""A local stand-in for Deepgram's live speech-to-text API (``/v1/listen``).

It speaks the wire protocol described in ``deepgram-live.md`` over a real websocket, with
Deepgram's timing, so the site is run and tested as it talks to the real service: ``make run``
uses it when no ``DEEPGRAM_API_KEY`` is set, the tests and the benchmarks use it too. The
official SDK parses everything it sends (``tests/deepgram_standin/test_sdk_conformance.py``).
It never recognises speech.

Timing (:mod:`deepgram_standin.timing`, :mod:`deepgram_standin.recogniser`)
    Realistic by default: a final with ``speech_final: true`` at each pause of at least the
    query's ``endpointing`` ms; in continuous speech a final every ``segment`` (4) seconds of
    audio; with ``interim_results=true`` an interim after each ``interim_every`` (1) second;
    every reply ``delay`` (0.6) seconds after the audio it describes arrived; audio read at up
    to ``intake_ratio`` (1.25)x real time, the client held back beyond that. ``timing=FAST``
    (``--fast``) is the old fast cadence: a final per second, an interim per quarter second, no
    delay, no intake cap. ``start``/``duration`` are seconds of audio received on *this*
    connection, restarting at 0 on each. Silence gives ``Results`` with an empty transcript.

What finals say
    Announced phrases: ``DeepgramStandin(phrases=[...])``, ``dg.announce("Hello world")``,
    ``dg.phrases.append(...)``, ``--phrases "a|b|c"``. Each non-silent final says the next
    phrase (interims show its growing start). Once they are used up it says them again from the
    start: it never makes up filler words. A real recogniser says the same thing when it hears
    the same audio again, so on a reconnect, finals whose audio is byte-identical to a final sent
    on an earlier connection repeat that final's text instead of taking a new phrase (only at the
    start of the new connection, where an engine replays audio; feed non-periodic audio, such
    as :func:`speech`, when a test relies on this).

    Without any phrase (the library's default; the command line says a short demo text unless
    given ``--no-phrases``): one word per loud quarter second of audio, the CRC-32 of its bytes
    in hex (``"3fa2c19b"``), so a test can check what arrived; :func:`expected_finals` computes
    them.

Control messages
    ``Finalize`` makes the pending audio a final with ``from_finalize: true``. ``CloseStream``
    makes it a final, sends ``Metadata`` and closes with 1000. ``KeepAlive`` gets no answer and
    counts as activity, but (as Deepgram warns) only once the connection has received audio.
    After ``idle_timeout`` seconds without activity: ``Metadata``, then close 1011 with
    Deepgram's NET-0001 sentence. Any other text gets an ``Error`` (``SchemaError``). An empty
    binary frame is counted in :attr:`DeepgramStandin.empty_frames`.

Handshake
    ``Authorization: Token <key>`` or 401; 400 with a Deepgram-like JSON body (and
    ``dg-error``) for settings Deepgram refuses: raw audio without ``encoding``/``sample_rate``,
    an unknown model or a language the model lacks (``No such model/language/tier combination
    found.``), ``keywords`` with Nova-3 (which takes ``keyterm``), ``keyterm`` with older models.

Scripted failures
    ``dg.refuse(status, times=1)``, ``dg.drop_after(seconds, how="close" | "abort" |
    "undecodable")``, ``dg.delay = seconds``, ``await dg.go_down()`` / ``await dg.come_up()``
    (stop listening and cut every connection, then listen again on the same port),
    ``dg.inject(message)``, ``dg.inject_error(description)``. ``extras=True`` also sends
    ``SpeechStarted`` and ``UtteranceEnd`` whatever the query asked, and an unknown ``Surprise``.

Counters (for assertions)
    ``dg.handshakes`` (every upgrade, refused or not: query, headers, status, time),
    ``dg.connections`` (accepted ones: query, headers, audio bytes, intake times, controls,
    keepalives, empty frames, finals, types sent, close code and reason), and across connections
    ``dg.audio_bytes``, ``dg.keepalives``, ``dg.empty_frames``, ``dg.controls``, ``dg.finals``
    (:class:`SentFinal`, with the ``time.monotonic()`` and ``time.time()`` it left at),
    ``dg.final_texts``, ``dg.errors``, ``dg.open_connections``.
    ``await dg.wait_for(predicate, within=2.0)`` waits for a condition. Hooks:
    ``on_final(SentFinal)`` and ``on_audio(connection_index, frame)``.

Command line: ``python -m deepgram_standin --help`` (:mod:`deepgram_standin.cli`).
"""

from deepgram_standin.audio import rms, sentences, silence, speech, tick_word, tick_words
from deepgram_standin.recogniser import expected_finals
from deepgram_standin.records import ConnectionRecord, Handshake, SentFinal
from deepgram_standin.server import DeepgramDouble, DeepgramStandin
from deepgram_standin.timing import FAST, REALISTIC, Timing

__all__ = [
    "FAST",
    "REALISTIC",
    "ConnectionRecord",
    "DeepgramDouble",
    "DeepgramStandin",
    "Handshake",
    "SentFinal",
    "Timing",
    "expected_finals",
    "rms",
    "sentences",
    "silence",
    "speech",
    "tick_word",
    "tick_words",
]
