"""Revoking a code revokes its viewers at IVS (the stand-in, through boto3 and SigV4): from the
admin action, the change form, deletion and unnoticed expiry; retried with backoff on
throttling and network errors, failed with the error otherwise; idempotent."""

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.test import Client
from django.utils import timezone

from gate.models import AccessCode
from ivs import revocations
from ivs.models import PlaybackGrant, Revocation
from tests.ivs.conftest import CHANNEL_ARN

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def viewers(enter, private_code) -> list[str]:
    """Three browsers that entered the private code and got playback tokens."""
    ids = []
    for n in range(3):
        browser = Client()
        enter("BOARD-2026", c=browser, ip=f"203.0.113.{n}")
        assert browser.get("/watch/board/playback/").status_code == 200
    ids = list(PlaybackGrant.objects.values_list("viewer_id", flat=True))
    assert len(ids) == 3
    return ids


@pytest.fixture
def admin(django_user_model) -> Client:
    client = Client()
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw"))
    return client


def revocation_calls(standin) -> list[dict]:
    return [c.body for c in standin.calls if c.operation == "StartViewerSessionRevocation"]


def states() -> set[str]:
    return set(PlaybackGrant.objects.values_list("revocation", flat=True))


def test_the_admin_revoke_action_revokes_every_viewer_of_the_code_at_ivs(
    admin, viewers, private_code, standin, enter
):
    other = AccessCode.objects.create(stream=private_code.stream, code="OTHER-2026")
    bystander = Client()  # another code's viewer: untouched
    enter("OTHER-2026", c=bystander, ip="198.51.100.7")
    bystander.get("/watch/board/playback/")
    admin.post(
        "/admin/gate/accesscode/",
        {"action": "revoke", "_selected_action": [private_code.pk]},
    )
    mine = PlaybackGrant.objects.filter(code=private_code)
    assert set(mine.values_list("revocation", flat=True)) == {Revocation.PENDING}
    assert revocation_calls(standin) == []  # nothing is sent inside the request

    assert revocations.process_due() == 3

    assert {c["viewerId"] for c in revocation_calls(standin)} == set(viewers)
    for body in revocation_calls(standin):
        assert body == {
            "channelArn": CHANNEL_ARN,
            "viewerId": body["viewerId"],
            # The tokens' version: IVS's default (0) would not revoke a version-1 session.
            "viewerSessionVersionsLessThanOrEqualTo": 1,
        }
    assert {(arn, v) for arn, v in standin.revoked} == {(CHANNEL_ARN, v) for v in viewers}
    assert all(c.region == "us-west-2" for c in standin.calls)
    done = PlaybackGrant.objects.filter(code=private_code)
    assert {g.revocation for g in done} == {Revocation.DONE}
    assert all(g.revoked_at and g.attempts == 1 for g in done)
    assert other.playback_grants.get().revocation == Revocation.NONE
    assert bystander.get("/watch/board/playback/").status_code == 200


def test_unticking_active_in_the_change_form_revokes_them(admin, viewers, private_code, standin):
    form = {
        "stream": private_code.stream_id,
        "code": "BOARD-2026",
        "label": "",
        "role": "viewer",
        "expires_at_0": "",
        "expires_at_1": "",
        "max_uses": "",
    }  # "is_active" left out: unticked
    response = admin.post(f"/admin/gate/accesscode/{private_code.pk}/change/", form)
    assert response.status_code == 302
    revocations.process_due()
    assert {v for _, v in standin.revoked} == set(viewers)


def test_deleting_the_code_revokes_them_and_keeps_the_record(viewers, private_code, standin):
    private_code.delete()
    revocations.process_due()
    assert {v for _, v in standin.revoked} == set(viewers)
    assert PlaybackGrant.objects.filter(revocation=Revocation.DONE).count() == 3
    assert set(PlaybackGrant.objects.values_list("revocation_reason", flat=True)) == {
        "code deleted"
    }


def test_an_expiry_nobody_noticed_is_found_by_the_sweep_command(viewers, private_code, standin):
    AccessCode.objects.filter(pk=private_code.pk).update(
        expires_at=timezone.now() - timedelta(seconds=1)
    )
    out = StringIO()
    call_command("ivs_revocations", stdout=out)
    assert "3 newly expired or revoked, 3 sent; 0 pending, 0 failed" in out.getvalue()
    assert {v for _, v in standin.revoked} == set(viewers)
    call_command("ivs_revocations", stdout=out)  # again: nothing new, nothing sent twice
    assert len(revocation_calls(standin)) == 3


def test_the_worker_thread_sends_them_once_the_revocation_commits(
    admin, viewers, private_code, standin, settings
):
    settings.IVS_REVOCATION_WORKER = "thread"
    admin.post(
        "/admin/gate/accesscode/", {"action": "revoke", "_selected_action": [private_code.pk]}
    )
    deadline = time.monotonic() + 30
    while states() != {Revocation.DONE} and time.monotonic() < deadline:
        time.sleep(0.05)
    assert states() == {Revocation.DONE}
    assert {v for _, v in standin.revoked} == set(viewers)
    revocations._thread_done.wait(10)  # the thread ends when nothing is left


def test_a_throttled_call_is_retried_with_backoff(viewers, private_code, standin, settings):
    settings.IVS_REVOCATION_BACKOFF = 10.0
    standin.fail_next("StartViewerSessionRevocation", "ThrottlingException", times=2)
    AccessCode.objects.filter(pk=private_code.pk).revoke()
    now = timezone.now()

    assert revocations.process_due(now) == 3
    throttled = PlaybackGrant.objects.filter(attempts=1, revocation=Revocation.PENDING)
    assert throttled.count() == 2
    for grant in throttled:
        assert grant.last_error.startswith("ThrottlingException (HTTP 429)")
        assert 8 <= (grant.next_attempt_at - now).total_seconds() <= 12  # 10 s ± 20 %
    assert revocations.process_due(now) == 0  # not due yet

    assert revocations.process_due(now + timedelta(seconds=13)) == 2
    assert states() == {Revocation.DONE}
    assert {v for _, v in standin.revoked} == set(viewers)
    statuses = [c.status for c in standin.calls]
    assert statuses.count(429) == 2
    assert statuses.count(200) == 3


def test_a_dropped_connection_is_retried(viewers, private_code, standin):
    standin.fail_next("StartViewerSessionRevocation", "drop", times=1)
    AccessCode.objects.filter(pk=private_code.pk).revoke()
    revocations.process_due()
    failed_once = PlaybackGrant.objects.get(attempts=1, revocation=Revocation.PENDING)
    assert "ConnectionClosedError" in failed_once.last_error
    revocations.process_due(timezone.now() + timedelta(seconds=5))
    assert states() == {Revocation.DONE}


def test_an_error_that_will_not_pass_fails_at_once_with_the_error(
    viewers, private_code, standin, admin
):
    standin.fail_next("StartViewerSessionRevocation", "AccessDeniedException", times=3)
    AccessCode.objects.filter(pk=private_code.pk).revoke()
    revocations.process_due()
    failed = PlaybackGrant.objects.filter(revocation=Revocation.FAILED)
    assert failed.count() == 3
    assert all(g.attempts == 1 and g.next_attempt_at is None for g in failed)
    assert all(g.last_error.startswith("AccessDeniedException (HTTP 403)") for g in failed)
    assert "AccessDeniedException (HTTP 403)" in admin.get("/admin/ivs/playbackgrant/").text

    # The operator fixes the IAM policy and retries from the admin.
    admin.post(
        "/admin/ivs/playbackgrant/",
        {"action": "retry", "_selected_action": [g.pk for g in failed]},
    )
    revocations.process_due()
    assert states() == {Revocation.DONE}


def test_throttling_that_never_ends_fails_after_the_last_attempt(
    viewers, private_code, standin, settings
):
    settings.IVS_REVOCATION_MAX_ATTEMPTS = 3
    standin.fail_next("StartViewerSessionRevocation", "ThrottlingException", times=100)
    AccessCode.objects.filter(pk=private_code.pk).revoke()
    later = timezone.now()
    for _ in range(3):
        revocations.process_due(later)
        later += timedelta(seconds=settings.IVS_REVOCATION_BACKOFF_MAX * 2)
    assert states() == {Revocation.FAILED}
    assert set(PlaybackGrant.objects.values_list("attempts", flat=True)) == {3}
    assert revocations.process_due(later) == 0


def test_a_row_is_sent_by_one_worker_only(viewers, private_code):
    AccessCode.objects.filter(pk=private_code.pk).revoke()
    grant = PlaybackGrant.objects.first()
    now = timezone.now()
    assert revocations._claim(grant.pk, now) is True
    assert revocations._claim(grant.pk, now) is False  # another process asking at once
    assert revocations._claim(grant.pk, now + timedelta(seconds=61)) is True  # claimer died


def test_revoking_twice_is_harmless(viewers, private_code, standin):
    AccessCode.objects.filter(pk=private_code.pk).revoke()
    revocations.process_due()
    AccessCode.objects.filter(pk=private_code.pk).revoke()  # already inactive: nothing new
    private_code.refresh_from_db()
    private_code.save()  # saving an inactive code again
    revocations.process_due()
    assert len(revocation_calls(standin)) == 3


def test_the_revoked_viewer_gets_a_new_viewer_id_when_the_code_works_again(
    enter, private_code, standin, viewers
):
    AccessCode.objects.filter(pk=private_code.pk).revoke()
    revocations.process_due()
    AccessCode.objects.filter(pk=private_code.pk).update(is_active=True)
    browser = Client()
    enter("BOARD-2026", c=browser, ip="198.51.100.1")
    browser.get("/watch/board/playback/")
    assert PlaybackGrant.objects.live().count() == 1
    assert PlaybackGrant.objects.live().get().viewer_id not in viewers
