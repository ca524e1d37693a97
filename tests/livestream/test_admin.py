import re

import pytest

from gate.models import CODE_ALPHABET, AccessCode
from livestream.models import Stream

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin(client, django_user_model):
    user = django_user_model.objects.create_superuser("admin", "admin@example.com", "pw-123456")
    client.force_login(user)
    return client


def inline_management(prefix: str = "access_codes", total: int = 1) -> dict[str, str]:
    return {
        f"{prefix}-TOTAL_FORMS": str(total),
        f"{prefix}-INITIAL_FORMS": "0",
        f"{prefix}-MIN_NUM_FORMS": "0",
        f"{prefix}-MAX_NUM_FORMS": "1000",
    }


def test_admin_creates_a_stream_with_a_typed_code_through_its_form(admin, enter, client):
    form = admin.get("/admin/livestream/stream/add/")
    assert form.status_code == 200
    assert 'name="access_codes-0-code"' in form.text
    response = admin.post(
        "/admin/livestream/stream/add/",
        {
            "title": "Annual meeting",
            "slug": "annual-meeting",
            "playback_url": "https://abc.us-west-2.playback.live-video.net/api/video/v1/x.m3u8",
            "caption_language": "en",
            "caption_source": "microphone",
            **inline_management(),
            "access_codes-0-code": "meet-2026",
            "access_codes-0-label": "Members",
            "access_codes-0-role": "viewer",
            "access_codes-0-is_active": "on",
        },
    )
    assert response.status_code == 302, response.context["errors"] if response.context else ""
    stream = Stream.objects.get(slug="annual-meeting")
    code = stream.access_codes.get()
    assert code.code == "MEET2026"
    client.logout()
    assert enter("Meet-2026")["Location"] == "/watch/annual-meeting/"


def test_admin_generates_a_readable_code_when_left_empty(admin, stream):
    response = admin.post(
        "/admin/gate/accesscode/add/",
        {"stream": stream.pk, "code": "", "label": "Press", "role": "captioner", "is_active": "on"},
        follow=True,
    )
    code = AccessCode.objects.get(label="Press")
    assert len(code.code) == 10
    assert set(code.code) <= set(CODE_ALPHABET)
    assert not set(code.code) & set("0O1IL5S2Z8B")
    assert f"Generated code {code.code[:4]}-{code.code[4:8]}-{code.code[8:]}" in response.text


def test_admin_refuses_a_duplicate_code_whatever_its_spelling(admin, stream, viewer_code):
    response = admin.post(
        "/admin/gate/accesscode/add/",
        {"stream": stream.pk, "code": "view 2024", "role": "viewer", "is_active": "on"},
    )
    assert response.status_code == 200
    assert "Access code with this Code already exists" in response.text


def test_admin_refuses_a_code_with_odd_characters(admin, stream):
    response = admin.post(
        "/admin/gate/accesscode/add/",
        {"stream": stream.pk, "code": "héllo!", "role": "viewer", "is_active": "on"},
    )
    assert "Use 4 to 64 letters and digits" in response.text
    assert not AccessCode.objects.exists()


def test_the_revoke_action_takes_effect_at_once(admin, viewer_code, captioner_code, enter):
    from django.test import Client

    viewer = Client()
    viewer.post("/enter/", {"code": "VIEW-2024"})
    assert viewer.get("/watch/keynote/").status_code == 200
    response = admin.post(
        "/admin/gate/accesscode/",
        {"action": "revoke", "_selected_action": [viewer_code.pk]},
        follow=True,
    )
    assert "Revoked 1 code(s)." in response.text
    assert viewer.get("/watch/keynote/").status_code == 302
    captioner_code.refresh_from_db()
    assert captioner_code.is_active


def test_the_code_list_shows_status_uses_and_finds_by_label(admin, make_code, used_up_code):
    make_code("LIST-ME-1", label="Front row")
    page = admin.get("/admin/gate/accesscode/", {"q": "front"})
    assert "LIST-ME1" in page.text
    assert "FULL-CODE-1" not in page.text
    everything = admin.get("/admin/gate/accesscode/").text
    assert re.search(r"used up", everything)
    assert "2 / 2" in everything


def test_the_stream_list_counts_codes(admin, viewer_code, captioner_code):
    page = admin.get("/admin/livestream/stream/")
    assert "Keynote" in page.text
    assert re.search(r'<td class="field-code_count">2</td>', page.text)
