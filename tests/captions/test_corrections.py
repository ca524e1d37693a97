"""Staff fix a final caption: in the admin or from the player page. Viewers' screens get a
``correction`` message, histories and downloads carry the fix, and each change is logged."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from captions.models import Caption, CaptionCorrection
from tests.captions.test_consumers import open_viewer

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def stored(stream) -> list[Caption]:
    began = timezone.now()
    return [
        Caption.store(stream, text=text, start=n, end=n + 1, session_started_at=began)
        for n, text in enumerate(["the sea of fighter spoke.", "Um, er, well.", "Thank you."])
    ]


@pytest.fixture
def staff() -> Client:
    user = User.objects.create_superuser("editor", "editor@example.com", "pw-for-tests-only")
    client = Client()
    client.force_login(user)
    return client


def admin_change(staff: Client, caption: Caption, text: str):
    inline = {f"corrections-{name}": "0" for name in ("TOTAL_FORMS", "INITIAL_FORMS")}
    return staff.post(f"/admin/captions/caption/{caption.pk}/change/", {"text": text, **inline})


async def test_a_correction_in_the_admin_reaches_viewers_histories_and_downloads(
    stored, staff, viewer_key, watching
):
    viewer, history, _ = await open_viewer("keynote", viewer_key)
    assert history["captions"][0]["text"] == "the sea of fighter spoke."

    response = await sync_to_async(admin_change)(staff, stored[0], "the CEO of Pfizer spoke.")
    assert response.status_code == 302

    message = await viewer.receive_json_from(timeout=5)
    assert message == {
        "type": "correction",
        "seq": stored[0].seq,
        "text": "the CEO of Pfizer spoke.",
        "removed": False,
    }
    _, history, _ = await open_viewer("keynote", viewer_key)
    assert history["captions"][0]["text"] == "the CEO of Pfizer spoke."
    download = await sync_to_async(watching.get)("/watch/keynote/transcript.txt")
    assert download.content.decode().splitlines()[0] == "the CEO of Pfizer spoke."
    log = await sync_to_async(list)(CaptionCorrection.objects.values_list("before", "after"))
    assert log == [("the sea of fighter spoke.", "the CEO of Pfizer spoke.")]


async def test_a_removed_caption_keeps_its_seq_but_not_its_words(
    stored, staff, viewer_key, watching
):
    viewer, *_ = await open_viewer("keynote", viewer_key)
    response = await sync_to_async(staff.post)(
        "/admin/captions/caption/",
        {"action": "remove_captions", "_selected_action": [stored[1].pk]},
    )
    assert response.status_code == 302
    message = await viewer.receive_json_from(timeout=5)
    assert message == {"type": "correction", "seq": stored[1].seq, "text": "", "removed": True}

    _, history, _ = await open_viewer("keynote", viewer_key)
    assert [c["seq"] for c in history["captions"]] == [c.seq for c in stored]  # no gap
    assert history["captions"][1]["removed"] is True
    assert history["captions"][1]["text"] == ""
    vtt = (await sync_to_async(watching.get)("/watch/keynote/transcript.vtt")).content.decode()
    assert "Um, er" not in vtt
    assert "Thank you." in vtt


def test_staff_correct_from_the_player_page_and_others_may_not(stored, staff, watching):
    path = f"/watch/keynote/captions/{stored[2].seq}/"
    assert watching.post(path, {"text": "Thanks, all."}).status_code == 403  # a viewer
    assert Client().post(path, {"text": "Thanks, all."}).status_code == 403  # nobody

    answer = staff.post(path, {"text": "Thank you all."})
    assert answer.status_code == 200
    assert answer.json()["text"] == "Thank you all."
    assert staff.post(path, {"text": "Thank you all."}).status_code == 400  # nothing changes
    assert staff.post(path, {"remove": "1"}).json()["removed"] is True
    assert staff.post("/watch/keynote/captions/999/", {"text": "x"}).status_code == 404
    entries = CaptionCorrection.objects.filter(caption=stored[2]).order_by("at")
    assert [(c.after, c.removed, c.by.username) for c in entries] == [
        ("Thank you all.", False, "editor"),
        ("", True, "editor"),
    ]
