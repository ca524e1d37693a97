"""The Deepgram stand-in speaks the protocol of deepgram-live.md, seen from a raw client."""

from __future__ import annotations

import asyncio
import contextlib
import json
import sys
import time
from pathlib import Path

import pytest
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from deepgram_standin import DeepgramDouble, silence, speech, tick_words

KEY = "double-key"
AUTH = {"Authorization": f"Token {KEY}"}
QUERY = "?model=nova-3&encoding=linear16&sample_rate=16000&channels=1&interim_results=true"
BPS = 32000
ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
async def dg():
    async with DeepgramDouble(api_key=KEY, idle_timeout=5) as double:
        yield double


async def refusal(url: str, headers: dict[str, str] | None = None) -> InvalidStatus:
    with pytest.raises(InvalidStatus) as refused:
        async with connect(url, additional_headers=AUTH if headers is None else headers):
            pass
    return refused.value


async def send_audio(ws: ClientConnection, audio: bytes, chunk: int = 3200) -> None:
    for begin in range(0, len(audio), chunk):
        await ws.send(audio[begin : begin + chunk])


async def read_all(ws: ClientConnection) -> list[dict]:
    """Every message until the connection ends, however it ends."""
    messages = []
    async with asyncio.timeout(3):
        with contextlib.suppress(ConnectionClosed):
            async for message in ws:
                messages.append(json.loads(message))
    return messages


def results(messages: list[dict]) -> list[tuple[bool, float, float, str]]:
    return [
        (m["is_final"], m["start"], m["duration"], m["channel"]["alternatives"][0]["transcript"])
        for m in messages
        if m["type"] == "Results"
    ]


# -- handshake ------------------------------------------------------------------------------


async def test_a_wrong_key_gets_deepgrams_401(dg):
    refused = await refusal(dg.url + QUERY, {"Authorization": "Token nope"})

    response = refused.response
    body = json.loads(response.body)
    assert response.status_code == 401
    assert response.body.startswith(b'{"err_code":"INVALID_AUTH","err_msg":"Invalid credentials.",')
    assert body["request_id"] == response.headers["dg-request-id"]
    assert response.headers["dg-error"] == "Invalid credentials."
    assert dg.connections == []


async def test_a_missing_key_gets_401(dg):
    assert (await refusal(dg.url + QUERY, {})).response.status_code == 401


async def test_an_accepted_upgrade_carries_a_request_id(dg):
    async with connect(dg.url + QUERY, additional_headers=AUTH) as ws:
        assert ws.response.headers["dg-request-id"] == dg.handshakes[0].request_id


@pytest.mark.parametrize(
    "query",
    [
        "?encoding=linear16",
        "?sample_rate=16000",
        "?encoding=opus&sample_rate=16000",
        "?encoding=linear16&sample_rate=16000&channels=2",
        "",
    ],
)
async def test_raw_audio_parameters_are_validated(dg, query):
    response = (await refusal(dg.url + query)).response

    assert response.status_code == 400
    assert json.loads(response.body)["err_code"] == "Bad Request"
    assert "dg-error" in response.headers


@pytest.mark.parametrize(
    ("status", "code"),
    [(402, "ASR_PAYMENT_REQUIRED"), (403, "INSUFFICIENT_PERMISSIONS"), (429, "TOO_MANY_REQUESTS")],
)
async def test_scripted_refusals_have_deepgram_like_bodies(dg, status, code):
    dg.refuse(status, times=2)

    for _ in range(2):
        response = (await refusal(dg.url + QUERY)).response
        assert response.status_code == status
        assert json.loads(response.body)["err_code"] == code
    async with connect(dg.url + QUERY, additional_headers=AUTH):
        pass
    assert [h.status for h in dg.handshakes] == [status, status, 101]


async def test_query_and_headers_of_every_connection_are_recorded(dg):
    async with connect(dg.url + QUERY + "&keyterm=a&keyterm=b", additional_headers=AUTH):
        pass

    assert dg.connections[0].query["sample_rate"] == "16000"
    assert dg.handshakes[0].query["keyterm"] == ["a", "b"]
    assert dg.connections[0].headers["Authorization"] == f"Token {KEY}"


# -- results --------------------------------------------------------------------------------


async def test_results_follow_the_audio_received(dg):
    audio = speech(1.5, seed=1)
    async with connect(dg.url + QUERY, additional_headers=AUTH) as ws:
        await send_audio(ws, audio)
        await ws.send(json.dumps({"type": "CloseStream"}))
        messages = await read_all(ws)
        close = (ws.close_code, ws.close_reason)

    first = " ".join(w for w, _, _ in tick_words(audio[:BPS], BPS // 4, 200))
    second = " ".join(w for w, _, _ in tick_words(audio[BPS:], BPS // 4, 200))
    assert results(messages) == [
        (False, 0.0, 0.25, first.split()[0]),
        (False, 0.0, 0.5, " ".join(first.split()[:2])),
        (False, 0.0, 0.75, " ".join(first.split()[:3])),
        (True, 0.0, 1.0, first),
        (False, 1.0, 0.25, second.split()[0]),
        (False, 1.0, 0.5, second),
        (True, 1.0, 0.5, second),
    ]
    final = next(m for m in messages if m["type"] == "Results" and m["is_final"])
    assert final["speech_final"] is True
    assert final["channel"]["alternatives"][0]["words"][1]["start"] == 0.25
    assert messages[-1]["type"] == "Metadata"
    assert messages[-1]["duration"] == 1.5
    assert close == (1000, "")
    assert dg.audio_bytes == len(audio)
    assert dg.controls == ["CloseStream"]
    assert [(f.start, f.end) for f in dg.finals] == [(0.0, 1.0), (1.0, 1.5)]
    assert dg.finals[0].sent_monotonic <= dg.finals[1].sent_monotonic <= time.monotonic()


async def test_without_interim_results_only_finals_come(dg):
    async with connect(
        dg.url + "?encoding=linear16&sample_rate=16000", additional_headers=AUTH
    ) as ws:
        await send_audio(ws, speech(2.0, seed=2))
        await ws.send(json.dumps({"type": "CloseStream"}))
        messages = await read_all(ws)

    assert [r[0] for r in results(messages)] == [True, True]


async def test_silence_gives_empty_transcripts(dg):
    async with connect(dg.url + QUERY, additional_headers=AUTH) as ws:
        await send_audio(ws, silence(1.0))
        await ws.send(json.dumps({"type": "CloseStream"}))
        messages = await read_all(ws)

    assert {r[3] for r in results(messages)} == {""}
    assert dg.finals[0].text == ""
    assert dg.final_texts == []


async def test_each_final_says_the_next_announced_phrase(dg):
    dg.announce("Hello world.", "Second phrase here")
    audio = speech(2.0, seed=3) + silence(1.0) + speech(1.0, seed=4)
    async with connect(dg.url + QUERY, additional_headers=AUTH) as ws:
        await send_audio(ws, audio)
        await ws.send(json.dumps({"type": "CloseStream"}))
        messages = await read_all(ws)

    texts = [r[3] for r in results(messages)]
    assert texts[:4] == ["Hello", "Hello", "Hello world.", "Hello world."]
    assert texts[4:8] == ["Second", "Second phrase", "Second phrase here", "Second phrase here"]
    assert dg.final_texts[:2] == ["Hello world.", "Second phrase here"]
    assert dg.finals[2].text == ""  # silence does not use up a phrase
    assert dg.final_texts[2] == " ".join(w for w, _, _ in tick_words(audio[3 * BPS :], 8000, 200))
    words = next(m for m in messages if m.get("is_final"))["channel"]["alternatives"][0]["words"]
    assert [(w["word"], w["punctuated_word"]) for w in words] == [
        ("hello", "Hello"),
        ("world", "world."),
    ]


async def test_finalize_flushes_the_partial_segment(dg):
    async with connect(dg.url + QUERY, additional_headers=AUTH) as ws:
        await send_audio(ws, speech(0.6, seed=5))
        await ws.send(json.dumps({"type": "Finalize"}))
        async with asyncio.timeout(2):
            while (message := json.loads(await ws.recv()))["is_final"] is False:
                pass

    assert message["from_finalize"] is True
    assert (message["start"], message["duration"]) == (0.0, 0.6)
    assert dg.finals[0].from_finalize


async def test_extras_send_vad_events_and_an_unknown_type():
    async with (
        DeepgramDouble(api_key=KEY, extras=True) as dg,
        connect(dg.url + QUERY, additional_headers=AUTH) as ws,
    ):
        await send_audio(ws, speech(1.0, seed=6))
        await ws.send(json.dumps({"type": "CloseStream"}))
        messages = await read_all(ws)

    kinds = [m["type"] for m in messages]
    assert kinds[0] == "SpeechStarted"
    assert {"UtteranceEnd", "Surprise"} <= set(kinds)


async def test_replies_can_be_delayed(dg):
    dg.delay = 0.3
    async with connect(dg.url + QUERY, additional_headers=AUTH) as ws:
        started = time.monotonic()
        await send_audio(ws, speech(0.25, seed=7))
        await ws.recv()

    assert time.monotonic() - started >= 0.3


async def test_an_empty_frame_is_counted_as_an_error(dg):
    async with connect(dg.url + QUERY, additional_headers=AUTH) as ws:
        await ws.send(b"")
        await ws.send(json.dumps({"type": "KeepAlive"}))
        await dg.wait_for(lambda: dg.keepalives == 1)

    assert dg.empty_frames == 1
    assert dg.errors


# -- timeouts and failures ------------------------------------------------------------------


async def test_keepalive_alone_does_not_keep_a_connection_that_never_got_audio():
    async with (
        DeepgramDouble(api_key=KEY, idle_timeout=0.3) as dg,
        connect(dg.url + QUERY, additional_headers=AUTH) as ws,
    ):
        with contextlib.suppress(ConnectionClosed):
            for _ in range(6):
                await ws.send(json.dumps({"type": "KeepAlive"}))
                await asyncio.sleep(0.1)
        messages = await read_all(ws)

    assert messages[-1]["type"] == "Metadata"
    assert (ws.close_code, ws.close_reason) == (1011, "NET-0001")
    assert dg.keepalives >= 2


async def test_keepalive_keeps_a_connection_that_got_audio():
    async with (
        DeepgramDouble(api_key=KEY, idle_timeout=0.3) as dg,
        connect(dg.url + QUERY, additional_headers=AUTH) as ws,
    ):
        await ws.send(silence(0.02))
        for _ in range(8):
            await ws.send(json.dumps({"type": "KeepAlive"}))
            await asyncio.sleep(0.1)
        assert dg.open_connections == 1
    assert dg.connections[0].close_code == 1000  # closed by the client, not timed out


@pytest.mark.parametrize(("how", "code"), [("close", 1011), ("abort", 1006)])
async def test_a_scripted_drop_cuts_the_connection(dg, how, code):
    dg.drop_after(1.5, how=how)
    async with connect(dg.url + QUERY, additional_headers=AUTH) as ws:
        await send_audio(ws, speech(3.0, seed=8))
        await read_all(ws)

    assert ws.close_code == code
    if how == "close":
        assert ws.close_reason == "NET-0000"
    await dg.wait_for(lambda: dg.open_connections == 0)
    assert dg.connections[0].close_code == code


async def test_replayed_audio_gets_the_same_phrases_again(dg):
    dg.announce("one", "two", "three")
    audio = speech(3.0, seed=9)
    async with connect(dg.url + QUERY, additional_headers=AUTH) as ws:
        await send_audio(ws, audio[: 2 * BPS])
        await dg.wait_for(lambda: len(dg.finals) == 2)  # "one" and "two" have left the double
        dg.drop_after(2.5, how="abort")
        await send_audio(ws, audio[2 * BPS :])
        await dg.wait_for(lambda: dg.open_connections == 0)
    # as an engine would: resend from the end of the first final
    async with connect(dg.url + QUERY, additional_headers=AUTH) as ws:
        await send_audio(ws, audio[BPS:])
        await ws.send(json.dumps({"type": "CloseStream"}))
        messages = await read_all(ws)

    finals = [r[3] for r in results(messages) if r[0]]
    assert finals == ["two", "three"]


async def test_go_down_and_come_up(dg):
    await dg.go_down()
    with pytest.raises(ConnectionRefusedError):
        async with connect(dg.url + QUERY, additional_headers=AUTH):
            pass
    await dg.come_up()
    async with connect(dg.url + QUERY, additional_headers=AUTH):
        assert len(dg.connections) == 1


# -- command line ---------------------------------------------------------------------------


async def test_it_runs_as_a_subprocess(tmp_path):
    log = tmp_path / "finals.jsonl"
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "deepgram_standin",
        "--port=0",
        f"--key={KEY}",
        "--phrases=Hello from the double|unused",
        f"--finals-log={log}",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(10):
            line = (await process.stdout.readline()).decode()
        assert line.startswith("READY ws://127.0.0.1:")
        url = line.split()[1]
        assert url.endswith("/v1/listen")
        async with connect(url + QUERY, additional_headers=AUTH) as ws:
            await send_audio(ws, speech(1.0, seed=10))
            await ws.send(json.dumps({"type": "CloseStream"}))
            messages = await read_all(ws)
    finally:
        process.terminate()
        await process.wait()

    assert [r[3] for r in results(messages) if r[0]] == ["Hello from the double"]
    logged = [json.loads(row) for row in log.read_text().splitlines()]
    assert [row["text"] for row in logged] == ["Hello from the double"]
    assert logged[0]["sent_time"] <= time.time()
    assert process.returncode == 0
