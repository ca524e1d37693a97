import json
import logging
import time

import pytest
from asgiref.sync import sync_to_async

from captions import limits
from captions.models import Caption
from deepgram_standin import sentences, speech
from gate.models import AccessCode, Role
from tests.captions.conftest import DEEPGRAM_KEY, closed_with, receive_until, socket

pytestmark = pytest.mark.django_db(transaction=True)

FRAME = 3200  # 100 ms of 16 kHz 16-bit mono


def frames(pcm: bytes, size: int = FRAME) -> list[bytes]:
    return [pcm[i : i + size] for i in range(0, len(pcm), size)]


async def connected(communicator) -> object:
    ok, _ = await communicator.connect(timeout=5)
    assert ok
    return communicator


async def open_viewer(slug: str, session_key: str, query: str = ""):
    viewer = await connected(socket(f"/ws/watch/{slug}/captions/{query}", session_key=session_key))
    history = await viewer.receive_json_from(timeout=5)
    assert history["type"] == "history"
    status = await viewer.receive_json_from(timeout=5)
    assert status["type"] == "status"
    return viewer, history, status


async def open_captioner(slug: str, session_key: str):
    captioner = await connected(socket(f"/ws/watch/{slug}/audio/", session_key=session_key))
    await receive_until(captioner, lambda m: m.get("state") == "live")
    return captioner


async def speak(captioner, seconds: float, seed: int = 1) -> None:
    """A phrase and a pause per whole second (a final each, ending 300 ms into the pause, as
    Deepgram's endpointing ends it), then any fraction of a second spoken through."""
    whole, rest = divmod(seconds, 1)
    await say(
        captioner, sentences(int(whole), seed=seed) + (speech(rest, seed=seed) if rest else b"")
    )


async def say(captioner, audio: bytes) -> None:
    for frame in frames(audio):
        await captioner.send_to(bytes_data=frame)


async def stop(captioner) -> list[dict]:
    await captioner.send_to(text_data=json.dumps({"type": "stop"}))
    seen = await receive_until(captioner, lambda m: m.get("state") == "stopped", timeout=10)
    assert await closed_with(captioner) == 1000
    return seen


def finals(messages: list[dict]) -> list[dict]:
    return [m for m in messages if m["type"] == "caption" and m["is_final"]]


async def test_captions_reach_two_viewers_in_order_with_increasing_seq(
    deepgram, viewer_key, captioner_key
):
    deepgram.announce("Hello and welcome.", "This is the keynote.", "Thanks for coming.")
    one, history, status = await open_viewer("keynote", viewer_key)
    assert history["captions"] == []
    assert status["captioning"] is False
    two, *_ = await open_viewer("keynote", viewer_key)
    captioner = await open_captioner("keynote", captioner_key)
    for viewer in (one, two):
        live = await receive_until(viewer, lambda m: m["type"] == "status")
        assert live[-1] == {
            "type": "status",
            "captioning": True,
            "engine": "deepgram",
            "label": "Live captions",
            "message": "",
            "last_seq": 0,  # nothing stored yet
        }

    # phrases longer than a second, so that interims (about one a second) come before finals
    await say(captioner, sentences(3, seconds=1.2, pause=0.5))
    await stop(captioner)

    for viewer in (one, two):
        seen = await receive_until(viewer, lambda m: m["type"] == "status" and not m["captioning"])
        got = finals(seen)
        assert [m["text"] for m in got] == [
            "Hello and welcome.",
            "This is the keynote.",
            "Thanks for coming.",
        ]
        seqs = [m["seq"] for m in got]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == 3
        assert [m["start"] for m in got] == pytest.approx([0.0, 1.5, 3.2], abs=0.01)
        assert all(m["end"] > m["start"] for m in got)
        interims = [m for m in seen if m["type"] == "caption" and not m["is_final"]]
        assert interims
        assert all(m["seq"] is None for m in interims)
        assert seen[-1]["message"] == "Captions are paused."
        await viewer.disconnect()

    stored = await sync_to_async(list)(Caption.objects.order_by("seq").values_list("text", "seq"))
    assert [text for text, _ in stored] == [
        "Hello and welcome.",
        "This is the keynote.",
        "Thanks for coming.",
    ]
    assert deepgram.audio_bytes == int(5.1 * 32000)
    assert deepgram.controls[-1] == "CloseStream"


async def test_a_viewer_joining_late_gets_history_and_can_resume_after_a_seq(
    deepgram, viewer_key, captioner_key
):
    deepgram.announce("One.", "Two.", "Three.")
    captioner = await open_captioner("keynote", captioner_key)
    await speak(captioner, 3.0)
    await stop(captioner)

    late, history, status = await open_viewer("keynote", viewer_key)
    assert [c["text"] for c in history["captions"]] == ["One.", "Two.", "Three."]
    assert status["captioning"] is False
    first_seq = history["captions"][0]["seq"]
    resumed, resumed_history, _ = await open_viewer("keynote", viewer_key, f"?after={first_seq}")
    assert [c["text"] for c in resumed_history["captions"]] == ["Two.", "Three."]
    for viewer in (late, resumed):
        await viewer.disconnect()


async def test_a_second_captioner_is_told_and_closed_with_4409(
    deepgram, captioner_key, session_cookie, make_code
):
    other = await sync_to_async(make_code)("CAPT-TWO", role=Role.CAPTIONER)
    first = await open_captioner("keynote", captioner_key)
    other_key = await sync_to_async(session_cookie)(other)
    second = await connected(socket("/ws/watch/keynote/audio/", session_key=other_key))
    busy = await second.receive_json_from(timeout=5)
    assert busy == {
        "type": "status",
        "state": "busy",
        "message": "Someone else is already captioning this stream.",
    }
    assert await closed_with(second) == 4409
    await stop(first)
    third = await open_captioner("keynote", captioner_key)  # the lease was released
    await stop(third)
    assert len(deepgram.connections) == 2


async def test_a_viewer_without_a_grant_is_refused(stream):
    communicator = socket("/ws/watch/keynote/captions/")
    ok, _code = await communicator.connect(timeout=5)
    assert not ok


async def test_a_grant_for_another_stream_is_refused(session_cookie, make_stream, make_code):
    other = await sync_to_async(make_stream)(slug="other")
    code = await sync_to_async(make_code)("OTHER-CODE", stream=other)
    key = await sync_to_async(session_cookie)(code)
    for path in ("/ws/watch/keynote/captions/", "/ws/watch/keynote/audio/"):
        ok, _ = await socket(path, session_key=key).connect(timeout=5)
        assert not ok


async def test_an_unknown_stream_is_refused(viewer_key):
    ok, _ = await socket("/ws/watch/nope/captions/", session_key=viewer_key).connect(timeout=5)
    assert not ok


@pytest.mark.parametrize("origin", [b"https://evil.example", b"null", None])
async def test_foreign_null_and_missing_origins_are_refused(viewer_key, origin):
    communicator = socket("/ws/watch/keynote/captions/", session_key=viewer_key, origin=origin)
    ok, _ = await communicator.connect(timeout=5)
    assert not ok


async def test_a_viewer_cannot_open_the_audio_socket(deepgram, viewer_key):
    ok, _ = await socket("/ws/watch/keynote/audio/", session_key=viewer_key).connect(timeout=5)
    assert not ok
    assert deepgram.handshakes == []


async def test_a_staff_user_may_caption_without_a_code(deepgram, stream, transactional_db):
    from django.contrib.auth import get_user_model
    from django.contrib.sessions.backends.db import SessionStore

    @sync_to_async
    def staff_session() -> str:
        user = get_user_model().objects.create_user("ops", password="pw-123456", is_staff=True)
        session = SessionStore()
        session["_auth_user_id"] = str(user.pk)
        session["_auth_user_backend"] = "django.contrib.auth.backends.ModelBackend"
        session["_auth_user_hash"] = user.get_session_auth_hash()
        session.save()
        return session.session_key

    captioner = await open_captioner("keynote", await staff_session())
    await stop(captioner)


async def test_what_a_viewer_sends_is_ignored_and_a_flood_closes_only_that_socket(viewer_key):
    noisy, *_ = await open_viewer("keynote", viewer_key)
    calm, *_ = await open_viewer("keynote", viewer_key)
    await noisy.send_to(text_data='{"type": "caption", "text": "fake"}')
    assert await calm.receive_nothing(timeout=0.2)
    for _ in range(limits.VIEWER_MESSAGES_BURST + 5):
        await noisy.send_to(text_data="x")
    assert await closed_with(noisy) == 4408
    assert await calm.receive_nothing(timeout=0.2)
    await calm.disconnect()


async def test_an_oversize_frame_closes_with_4413(deepgram, captioner_key):
    captioner = await open_captioner("keynote", captioner_key)
    await captioner.send_to(bytes_data=b"\x00" * (2 * 1024 * 1024))
    seen = await receive_until(captioner, lambda m: m.get("state") == "error")
    assert "at most 65536 bytes" in seen[-1]["message"]
    assert await closed_with(captioner) == 4413
    assert deepgram.audio_bytes == 0


async def test_a_text_frame_that_is_not_a_control_message_closes_with_4400(deepgram, captioner_key):
    captioner = await open_captioner("keynote", captioner_key)
    await captioner.send_to(text_data="hello")
    seen = await receive_until(captioner, lambda m: m.get("state") == "error")
    assert "JSON control messages" in seen[-1]["message"]
    assert await closed_with(captioner) == 4400


async def test_an_empty_frame_closes_with_4400_and_is_never_forwarded(deepgram, captioner_key):
    captioner = await open_captioner("keynote", captioner_key)
    await captioner.send_to(bytes_data=speech(0.5))
    await deepgram.wait_for(lambda: deepgram.audio_bytes == 16000)
    await captioner.send_input({"type": "websocket.receive", "bytes": b""})
    seen = await receive_until(captioner, lambda m: m.get("state") == "error")
    assert "Empty audio frames" in seen[-1]["message"]
    assert await closed_with(captioner) == 4400
    assert deepgram.empty_frames == 0


async def test_audio_faster_than_real_time_closes_with_4408(deepgram, captioner_key):
    captioner = await open_captioner("keynote", captioner_key)
    chunk = b"\x01\x00" * 16000  # one second of audio per frame
    for _ in range(15):
        await captioner.send_to(bytes_data=chunk)
    assert await closed_with(captioner, timeout=5) == 4408


async def test_revoking_a_code_closes_its_sockets_within_two_seconds(
    deepgram, viewer_key, captioner_key, viewer_code, captioner_code, settings
):
    viewer, *_ = await open_viewer("keynote", viewer_key)
    captioner = await open_captioner("keynote", captioner_key)
    revoked_at = time.monotonic()
    await sync_to_async(
        AccessCode.objects.filter(pk__in=[viewer_code.pk, captioner_code.pk]).update
    )(is_active=False)
    assert await closed_with(viewer, timeout=2.0) == 4403
    assert await closed_with(captioner, timeout=2.0) == 4403
    assert time.monotonic() - revoked_at < 2.0
    ok, _ = await socket("/ws/watch/keynote/captions/", session_key=viewer_key).connect(timeout=5)
    assert not ok


async def test_a_refused_key_tells_the_captioner_and_viewers_without_leaking_it(
    deepgram, viewer_key, captioner_key, caplog
):
    caplog.set_level(logging.DEBUG)
    deepgram.refuse(401)
    viewer, *_ = await open_viewer("keynote", viewer_key)
    captioner = await connected(socket("/ws/watch/keynote/audio/", session_key=captioner_key))
    seen = await receive_until(captioner, lambda m: m.get("state") == "error")
    assert "401" in seen[-1]["message"]
    assert "DEEPGRAM_API_KEY" in seen[-1]["message"]
    assert await closed_with(captioner) == 4500
    status = await viewer.receive_json_from(timeout=5)
    assert status == {
        "type": "status",
        "captioning": False,
        "engine": "deepgram",
        "label": "Live captions",
        "message": "Captions are unavailable right now.",
        "last_seq": 0,
    }
    assert len(deepgram.handshakes) == 1
    everything = json.dumps(seen) + json.dumps(status) + caplog.text
    assert DEEPGRAM_KEY not in everything
    await viewer.disconnect()


async def test_without_a_key_captions_are_unavailable(settings, captioner_key):
    settings.CAPTIONS_ENGINE = "deepgram"  # asked for by name (the default without a key: local)
    settings.DEEPGRAM_API_KEY = ""
    captioner = await connected(socket("/ws/watch/keynote/audio/", session_key=captioner_key))
    seen = await receive_until(captioner, lambda m: m.get("state") == "error")
    assert "DEEPGRAM_API_KEY is empty" in seen[-1]["message"]


async def test_a_busy_speech_service_delays_captions_then_they_flow(
    deepgram, settings, viewer_key, captioner_key
):
    settings.CAPTIONS_ENGINE_OPTIONS = {"busy_backoff_base": 0.2, "busy_backoff_cap": 0.2}
    deepgram.refuse(429)
    deepgram.announce("After the wait.")
    viewer, *_ = await open_viewer("keynote", viewer_key)
    captioner = await connected(socket("/ws/watch/keynote/audio/", session_key=captioner_key))
    told = await receive_until(captioner, lambda m: m.get("state") == "delayed")
    assert "delayed" in told[-1]["message"]
    delayed = await receive_until(viewer, lambda m: m.get("message") == "Captions are delayed.")
    assert delayed[-1]["captioning"] is True
    await speak(captioner, 1.0)
    got = await receive_until(viewer, lambda m: m["type"] == "caption" and m["is_final"])
    assert got[-1]["text"] == "After the wait."
    await stop(captioner)
    await viewer.disconnect()


async def test_a_dropped_speech_connection_loses_and_repeats_no_final(
    deepgram, settings, viewer_key, captioner_key
):
    settings.CAPTIONS_ENGINE_OPTIONS = {"backoff_base": 0.05, "backoff_cap": 0.1}
    deepgram.drop_after(1.5, how="abort")
    viewer, *_ = await open_viewer("keynote", viewer_key)
    captioner = await open_captioner("keynote", captioner_key)
    await speak(captioner, 4.0, seed=7)
    await stop(captioner)
    seen = await receive_until(viewer, lambda m: m["type"] == "status" and not m["captioning"])
    got = finals(seen)
    assert len(deepgram.connections) == 2
    assert [m["start"] for m in got] == pytest.approx([0.0, 0.9, 1.9, 2.9], abs=0.01)
    texts = [m["text"] for m in got]
    assert len(set(texts)) == 4
    assert [m["seq"] for m in got] == sorted({m["seq"] for m in got})
    await viewer.disconnect()


async def test_an_open_socket_closes_when_its_grant_grows_too_old(viewer_key, settings):
    settings.GATE_SOCKET_RECHECK = 0.1
    settings.GATE_GRANT_MAX_AGE = 2  # as a page would refuse the grant after it
    viewer, *_ = await open_viewer("keynote", viewer_key)
    assert await closed_with(viewer, timeout=6) == 4403
