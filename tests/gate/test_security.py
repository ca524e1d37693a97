from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from gate import grant as grants
from gate.models import AccessCode

pytestmark = pytest.mark.django_db


def test_the_session_key_changes_when_a_code_is_accepted(client, viewer_code, enter):
    client.get("/enter/")
    client.session.save()
    planted = client.cookies["sessionid"].value
    response = enter("VIEW-2024")
    assert response.status_code == 302
    assert client.cookies["sessionid"].value != planted


def test_the_csrf_token_is_rotated_when_a_code_is_accepted(viewer_code):
    browser = Client(enforce_csrf_checks=True)
    browser.get("/enter/")
    before = browser.cookies["csrftoken"].value
    response = browser.post(
        "/enter/", {"code": "VIEW-2024", "csrfmiddlewaretoken": before}, REMOTE_ADDR="192.0.2.9"
    )
    assert response.status_code == 302
    assert browser.cookies["csrftoken"].value != before


def test_the_entry_form_needs_a_csrf_token(viewer_code):
    assert (
        Client(enforce_csrf_checks=True).post("/enter/", {"code": "VIEW-2024"}).status_code == 403
    )


@pytest.mark.parametrize(
    "target",
    [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "http://testserver.evil.example/",
        "https:///evil.example",
    ],
)
def test_next_never_leaves_the_site(enter, viewer_code, target):
    response = enter("VIEW-2024", next_url=target)
    assert response["Location"] == "/watch/keynote/"


def test_a_safe_next_path_is_followed(enter, viewer_code):
    response = enter("VIEW-2024", next_url="/watch/keynote/?from=mail")
    assert response["Location"] == "/watch/keynote/?from=mail"


def test_a_revoked_code_is_dropped_on_the_next_request(enter, viewer_code, client):
    enter("VIEW-2024")
    assert client.get("/watch/keynote/").status_code == 200
    AccessCode.objects.filter(pk=viewer_code.pk).update(is_active=False)
    response = client.get("/watch/keynote/", follow=True)
    assert response.redirect_chain[0][0].startswith("/enter/?next=")
    assert "no longer works" in response.text
    assert grants.SESSION_KEY not in client.session


def test_an_expired_code_is_dropped_on_the_next_request(enter, viewer_code, client):
    enter("VIEW-2024")
    AccessCode.objects.filter(pk=viewer_code.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    assert client.get("/watch/keynote/").status_code == 302
    assert grants.SESSION_KEY not in client.session


def test_a_grant_older_than_its_max_age_no_longer_admits(enter, viewer_code, client, settings):
    enter("VIEW-2024")
    settings.GATE_GRANT_MAX_AGE = -1
    assert client.get("/watch/keynote/").status_code == 302


def test_a_tampered_grant_is_refused(enter, viewer_code, make_stream, client):
    other = make_stream(slug="other")
    enter("VIEW-2024")
    session = client.session
    token = session[grants.SESSION_KEY]
    session[grants.SESSION_KEY] = token.replace(f'"s":{viewer_code.stream_id}', f'"s":{other.pk}')
    session.save()
    assert client.get("/watch/other/").status_code == 302


class TestRateLimit:
    def test_many_wrong_codes_from_one_ip_get_429_with_retry_after(self, enter, settings):
        settings.GATE_RATE_LIMIT_PER_IP = 5
        statuses = [enter(f"WRONG-{n}", ip="198.51.100.20").status_code for n in range(7)]
        assert statuses[:5] == [200] * 5
        assert statuses[5:] == [429, 429]
        limited = enter("WRONG-X", ip="198.51.100.20")
        assert int(limited["Retry-After"]) > 0
        assert "Too many attempts" in limited.text

    def test_a_limited_ip_cannot_get_in_even_with_a_good_code(self, enter, viewer_code, settings):
        settings.GATE_RATE_LIMIT_PER_IP = 3
        for n in range(3):
            enter(f"WRONG-{n}", ip="198.51.100.21")
        assert enter("VIEW-2024", ip="198.51.100.21").status_code == 429

    def test_another_ip_still_gets_in(self, enter, viewer_code, settings):
        settings.GATE_RATE_LIMIT_PER_IP = 3
        for n in range(5):
            enter(f"WRONG-{n}", ip="198.51.100.22")
        response = Client().post("/enter/", {"code": "VIEW-2024"}, REMOTE_ADDR="198.51.100.23")
        assert response.status_code == 302

    def test_the_code_itself_is_never_locked(self, enter, viewer_code, settings):
        settings.GATE_RATE_LIMIT_PER_CODE = 2
        for _ in range(4):
            Client().post("/enter/", {"code": "VIEW-2024"}, REMOTE_ADDR="198.51.100.30")
        fresh = Client().post("/enter/", {"code": "VIEW-2024"}, REMOTE_ADDR="198.51.100.31")
        assert fresh.status_code == 302

    def test_one_ip_cannot_burn_a_limited_code(self, viewer_code, settings):
        settings.GATE_RATE_LIMIT_PER_CODE = 3
        statuses = [
            Client().post("/enter/", {"code": "VIEW-2024"}, REMOTE_ADDR="198.51.100.40").status_code
            for _ in range(5)
        ]
        assert statuses == [302, 302, 302, 429, 429]
        viewer_code.refresh_from_db()
        assert viewer_code.use_count == 3

    def test_x_forwarded_for_is_ignored_by_default(self, settings):
        settings.GATE_RATE_LIMIT_PER_IP = 2
        statuses = [
            Client()
            .post(
                "/enter/",
                {"code": f"WRONG-{n}"},
                REMOTE_ADDR="198.51.100.50",
                HTTP_X_FORWARDED_FOR=f"10.0.0.{n}",
            )
            .status_code
            for n in range(3)
        ]
        assert statuses == [200, 200, 429]

    def test_behind_a_trusted_proxy_the_forwarded_client_is_counted(self, settings):
        settings.GATE_RATE_LIMIT_PER_IP = 2
        settings.TRUSTED_PROXY_COUNT = 1

        def attempt(client_ip: str, spoofed: str = "") -> int:
            chain = f"{spoofed}, {client_ip}" if spoofed else client_ip
            return (
                Client()
                .post(
                    "/enter/",
                    {"code": "WRONG"},
                    REMOTE_ADDR="10.0.0.1",  # the proxy
                    HTTP_X_FORWARDED_FOR=chain,
                )
                .status_code
            )

        # A client forging its own X-Forwarded-For entry is still counted by its real address.
        assert [attempt("203.0.113.60", spoofed=f"1.1.1.{n}") for n in range(3)] == [
            200,
            200,
            429,
        ]
        assert attempt("203.0.113.61") == 200
