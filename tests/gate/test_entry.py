import re

import pytest
from django.test import Client

from gate import grant as grants
from gate.models import AccessCode

pytestmark = pytest.mark.django_db


def test_entry_page_shows_the_form(client):
    response = client.get("/enter/")
    assert response.status_code == 200
    assert b'name="code"' in response.content
    assert b"csrfmiddlewaretoken" in response.content


def test_a_good_code_lands_on_the_player(enter, viewer_code, client):
    response = enter("VIEW-2024")
    assert response.status_code == 302
    assert response["Location"] == "/watch/keynote/"
    page = client.get("/watch/keynote/")
    assert page.status_code == 200
    assert b"Keynote" in page.content


@pytest.mark.parametrize("typed", ["view2024", "  view - 2024 ", "V I E W-2-0-2-4", "View_2024"])
def test_codes_ignore_case_spaces_and_dashes(enter, viewer_code, typed):
    assert enter(typed)["Location"] == "/watch/keynote/"


def test_accepting_a_code_counts_one_use(enter, viewer_code):
    enter("VIEW-2024")
    viewer_code.refresh_from_db()
    assert viewer_code.use_count == 1
    assert viewer_code.last_used_at is not None


def test_entering_the_same_code_again_in_one_session_does_not_count_twice(enter, viewer_code):
    enter("VIEW-2024")
    enter("VIEW-2024")
    viewer_code.refresh_from_db()
    assert viewer_code.use_count == 1


@pytest.mark.usefixtures("expired_code", "revoked_code", "used_up_code")
def test_bad_codes_all_get_the_same_generic_answer(client):
    answers = []
    for code in ["NOPE-NOPE", "OLD-CODE-1", "GONE-CODE-1", "FULL-CODE-1"]:
        fresh = Client()
        response = fresh.post("/enter/", {"code": code}, REMOTE_ADDR="198.51.100.1")
        body = re.sub(rb'value="[^"]*"', b"", response.content)  # the echoed code and CSRF token
        answers.append((response.status_code, body))
        assert "That code doesn’t work" in response.text
        assert grants.SESSION_KEY not in fresh.session
    assert len(set(answers)) == 1


def test_a_used_up_code_is_not_counted_further(enter, used_up_code):
    enter("FULL-CODE-1")
    used_up_code.refresh_from_db()
    assert used_up_code.use_count == 2


def test_the_last_use_of_a_limited_code_admits_and_keeps_admitting(enter, make_code, client):
    make_code("ONCE-ONLY", max_uses=1)
    assert enter("ONCE-ONLY").status_code == 302
    assert client.get("/watch/keynote/").status_code == 200
    assert Client().post("/enter/", {"code": "ONCE-ONLY"}).status_code == 200  # refused


def test_an_empty_code_is_a_form_error(client):
    response = client.post("/enter/", {"code": ""})
    assert response.status_code == 400
    assert b"This field is required" in response.content


def test_without_a_grant_the_player_sends_you_to_the_entry_page(client, stream):
    response = client.get("/watch/keynote/")
    assert response.status_code == 302
    assert response["Location"] == "/enter/?next=%2Fwatch%2Fkeynote%2F"


def test_an_unknown_stream_answers_like_a_known_one_without_a_grant(client, stream):
    unknown = client.get("/watch/nope/")
    assert unknown.status_code == 302
    assert unknown["Location"] == "/enter/?next=%2Fwatch%2Fnope%2F"
    assert client.get("/watch/nope/transcript.txt").status_code == 403
    assert client.get("/watch/keynote/transcript.txt").status_code == 403


def test_staff_get_a_404_for_an_unknown_stream(client, db, django_user_model):
    staff = django_user_model.objects.create_user("ops", password="pw-123456", is_staff=True)
    client.force_login(staff)
    assert client.get("/watch/nope/").status_code == 404


@pytest.mark.parametrize(
    ("stored", "typed"),
    [
        ("VIEW-2024", "v\u0131ew-2024"),  # Turkish dotless i, upper-cased by str.upper to "I"
        ("STRASSE", "stra\u00dfe"),  # "ß".upper() == "SS"
        ("FIVE-CODE", "\ufb01ve-code"),  # the ligature "ﬁ".upper() == "FI"
        ("SAFE-CODE", "\u017fafe-code"),  # long s, upper-cased by str.upper to "S"
    ],
)
def test_non_ascii_look_alikes_never_match_a_code(enter, make_code, stored, typed):
    make_code(stored)
    assert typed.upper().replace("-", "") == stored.replace("-", "")  # str.upper would admit it
    response = enter(typed)
    assert response.status_code == 200
    assert "That code doesn’t work" in response.text


def test_a_grant_for_one_stream_does_not_open_another(enter, viewer_code, make_stream, client):
    make_stream(title="Other", slug="other")
    enter("VIEW-2024")
    response = client.get("/watch/other/")
    assert response.status_code == 302
    assert response["Location"].startswith("/enter/")


def test_home_goes_to_the_granted_stream_or_the_entry_page(enter, viewer_code, client):
    assert client.get("/")["Location"] == "/enter/"
    enter("VIEW-2024")
    assert client.get("/")["Location"] == "/watch/keynote/"


def test_leave_drops_the_grant(enter, viewer_code, client):
    enter("VIEW-2024")
    response = client.post("/leave/")
    assert response["Location"] == "/enter/"
    assert client.get("/watch/keynote/").status_code == 302


def test_leave_needs_post(client):
    assert client.get("/leave/").status_code == 405


def test_leave_needs_a_csrf_token(db):
    strict = Client(enforce_csrf_checks=True)
    assert strict.post("/leave/").status_code == 403


def test_a_staff_user_watches_any_stream_without_a_code(client, stream, django_user_model):
    staff = django_user_model.objects.create_user("ops", password="pw-123456", is_staff=True)
    client.force_login(staff)
    assert client.get("/watch/keynote/").status_code == 200


def test_the_code_is_found_case_insensitively_in_the_database(make_code):
    code = make_code("ab-cd ef")
    assert code.code == "ABCDEF"
    assert AccessCode.objects.matching("abc-def").get() == code


def test_an_invite_link_fills_the_form_in_but_never_lets_anyone_in(client, viewer_code):
    response = client.get("/enter/?code=VIEW-2024")
    assert response.status_code == 200
    assert b'value="VIEW-2024"' in response.content
    assert "gate_grant" not in client.session  # a GET alone admits nobody
    assert client.get("/watch/keynote/").status_code == 302
