"""Revoking viewer sessions at IVS when the code that admitted them stops working.

A revoked, expired or deleted code marks every live viewer id granted through it *pending*
(in the same transaction as the change). Sending happens outside the request: once the
transaction commits, a worker thread in this process (``IVS_REVOCATION_WORKER=thread``) sends
what is due; ``manage.py ivs_revocations`` (run periodically) does the same from anywhere, and
also finds codes that expired with nobody there to notice. Each row is claimed with one
conditional UPDATE before it is sent, so several processes never send the same row at once;
sending one twice (a process dying mid-call) is harmless, as revoking a revoked viewer changes
nothing at IVS. Throttling, server and network errors are retried with doubling delays (with
jitter) up to ``IVS_REVOCATION_MAX_ATTEMPTS``; other errors fail at once. Every outcome — pending,
done, failed with the error — is on the row, in the admin.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import Q
from django.utils import timezone

from gate.models import AccessCode
from ivs import client
from ivs.models import PlaybackGrant, Revocation

logger = logging.getLogger(__name__)

# How long a claimed row is left to the worker that claimed it before another may send it.
CLAIM_SECONDS = 60


def request(code_ids: Iterable[int], reason: str, now: datetime | None = None) -> int:
    """Mark every live viewer id granted through these codes pending; send once committed."""
    now = now or timezone.now()
    count = (
        PlaybackGrant.objects.live()
        .filter(code_id__in=list(code_ids))
        .update(
            revocation=Revocation.PENDING,
            revocation_reason=reason,
            revocation_requested_at=now,
            next_attempt_at=now,
            attempts=0,
            last_error="",
        )
    )
    if count:
        transaction.on_commit(kick)
    return count


def find_expired(now: datetime | None = None) -> int:
    """Mark pending the live viewer ids whose code was revoked or expired unnoticed."""
    now = now or timezone.now()
    dead = AccessCode.objects.filter(
        Q(is_active=False) | Q(expires_at__lte=now), playback_grants__revocation=Revocation.NONE
    ).distinct()
    expired = [code.pk for code in dead if code.is_active]
    revoked = [code.pk for code in dead if not code.is_active]
    return request(expired, "code expired", now) + request(revoked, "code revoked", now)


def retry_failed(grants: Iterable[PlaybackGrant] | None = None) -> int:
    rows = PlaybackGrant.objects.filter(revocation=Revocation.FAILED)
    if grants is not None:
        rows = rows.filter(pk__in=[grant.pk for grant in grants])
    count = rows.update(
        revocation=Revocation.PENDING, attempts=0, next_attempt_at=timezone.now(), last_error=""
    )
    if count:
        transaction.on_commit(kick)
    return count


def backoff(attempts: int) -> float:
    """Seconds before attempt ``attempts + 1``: doubling from IVS_REVOCATION_BACKOFF, ±20 %."""
    base = settings.IVS_REVOCATION_BACKOFF * 2 ** max(attempts - 1, 0)
    return min(base, settings.IVS_REVOCATION_BACKOFF_MAX) * random.uniform(0.8, 1.2)  # noqa: S311


def _claim(pk: int, now: datetime) -> bool:
    return (
        PlaybackGrant.objects.filter(
            pk=pk, revocation=Revocation.PENDING, next_attempt_at__lte=now
        ).update(next_attempt_at=now + timedelta(seconds=CLAIM_SECONDS))
        == 1
    )


def send(grant: PlaybackGrant, now: datetime | None = None) -> None:
    """One attempt at revoking ``grant`` at IVS; the outcome is saved on the row."""
    now = now or timezone.now()
    grant.attempts += 1
    try:
        client.start_viewer_session_revocation(
            grant.channel_arn, grant.viewer_id, grant.session_version
        )
    except client.IvsCallFailed as error:
        grant.last_error = str(error)[:2000]
        if error.retryable and grant.attempts < settings.IVS_REVOCATION_MAX_ATTEMPTS:
            grant.next_attempt_at = now + timedelta(seconds=backoff(grant.attempts))
            logger.warning(
                "IVS revocation of viewer %s: attempt %d failed, retrying: %s",
                grant.viewer_id,
                grant.attempts,
                error,
            )
        else:
            grant.revocation = Revocation.FAILED
            grant.next_attempt_at = None
            logger.error(
                "IVS revocation of viewer %s FAILED after %d attempt(s): %s "
                "(admin: IVS playback › Playback grants)",
                grant.viewer_id,
                grant.attempts,
                error,
            )
    else:
        grant.revocation = Revocation.DONE
        grant.revoked_at = now
        grant.next_attempt_at = None
        grant.last_error = ""
        logger.info("IVS revoked viewer %s on %s", grant.viewer_id, grant.channel_arn)
    grant.save(
        update_fields=["attempts", "last_error", "next_attempt_at", "revocation", "revoked_at"]
    )


def process_due(now: datetime | None = None, limit: int = 500) -> int:
    """Send every pending revocation that is due; returns how many were attempted.

    ``now`` fixes the clock (tests); otherwise each row is claimed and timed when it is sent.
    """
    due = list(
        PlaybackGrant.objects.filter(
            revocation=Revocation.PENDING, next_attempt_at__lte=now or timezone.now()
        )
        .order_by("next_attempt_at")
        .values_list("pk", flat=True)[:limit]
    )
    attempted = 0
    for pk in due:
        moment = now or timezone.now()
        if _claim(pk, moment):
            send(PlaybackGrant.objects.get(pk=pk), moment)
            attempted += 1
    return attempted


def seconds_until_next(now: datetime | None = None) -> float | None:
    now = now or timezone.now()
    first = (
        PlaybackGrant.objects.filter(revocation=Revocation.PENDING)
        .order_by("next_attempt_at")
        .values_list("next_attempt_at", flat=True)
        .first()
    )
    if first is None:
        return None
    return max((first - now).total_seconds(), 0.0)


# --- The worker thread -------------------------------------------------------------------------

_lock = threading.Lock()
_wake = threading.Event()
_thread: threading.Thread | None = None
_thread_done = threading.Event()  # set whenever the worker thread has ended
IDLE_CHECK_SECONDS = 30.0
ERROR_RETRY_SECONDS = 2.0


def kick() -> None:
    """Have this process's worker thread send what is due (starting it if needed)."""
    global _thread
    if settings.IVS_REVOCATION_WORKER != "thread":
        return
    with _lock:
        _wake.set()
        if _thread is None:
            _thread_done.clear()
            _thread = threading.Thread(target=_run, name="ivs-revocations", daemon=True)
            _thread.start()


def _run() -> None:
    global _thread
    try:
        while True:
            _wake.clear()
            try:
                process_due()
                delay = seconds_until_next()
            except Exception:
                # A passing database error (a lock, a dropped connection): try again soon;
                # sending twice is harmless (IVS revocations are idempotent).
                logger.exception("IVS revocation worker: will try again")
                close_old_connections()
                delay = ERROR_RETRY_SECONDS
            with _lock:
                if delay is None and not _wake.is_set():
                    _thread = None
                    return
            _wake.wait(timeout=min(delay if delay is not None else 0, IDLE_CHECK_SECONDS))
    finally:
        connection.close()
        with _lock:
            if _thread is threading.current_thread():
                _thread = None
            _thread_done.set()
