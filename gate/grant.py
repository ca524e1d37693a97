"""The grant: what an accepted access code leaves in the session.

Stored signed and timed (``TimestampSigner``), so a grant cannot be forged from a tampered
session store and expires after ``GATE_GRANT_MAX_AGE`` even if the session lives on.
Every check also asks the database whether the code is still valid, so revoking a code or
letting it expire takes effect on the next request or socket check.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.core import signing
from django.utils import timezone

from gate.models import AccessCode, Role

SESSION_KEY = "gate_grant"
_SALT = "gate.grant"


@dataclass(frozen=True, slots=True)
class Grant:
    stream_id: int
    code_id: int | None  # None for a staff user, who needs no code
    role: str
    granted_at: str

    @property
    def can_caption(self) -> bool:
        return self.role == Role.CAPTIONER


def store(session, code: AccessCode) -> Grant:
    grant = Grant(
        stream_id=code.stream_id,
        code_id=code.pk,
        role=code.role,
        granted_at=timezone.now().isoformat(),
    )
    signer = signing.TimestampSigner(salt=_SALT)
    session[SESSION_KEY] = signer.sign_object(
        {"s": grant.stream_id, "c": grant.code_id, "r": grant.role, "t": grant.granted_at}
    )
    return grant


def drop(session) -> None:
    session.pop(SESSION_KEY, None)


def read(session) -> Grant | None:
    """The session's grant if its signature and age are good (the code is not checked)."""
    token = session.get(SESSION_KEY)
    if not token:
        return None
    try:
        data = signing.TimestampSigner(salt=_SALT).unsign_object(
            token, max_age=settings.GATE_GRANT_MAX_AGE
        )
    except signing.BadSignature:
        return None
    return Grant(stream_id=data["s"], code_id=data["c"], role=data["r"], granted_at=data["t"])


def code_still_valid(grant: Grant) -> bool:
    if grant.code_id is None:
        return True
    code = AccessCode.objects.filter(pk=grant.code_id, stream_id=grant.stream_id).first()
    return code is not None and code.is_still_valid()


def staff_grant(user, stream_id: int | None) -> Grant | None:
    if user is None or isinstance(user, AnonymousUser) or not user.is_staff:
        return None
    if not user.is_active:
        return None
    return Grant(stream_id=stream_id, code_id=None, role=Role.CAPTIONER, granted_at="")


class Outcome:
    """Why a check for a stream failed, so callers can tell the viewer."""

    NONE = "none"  # no grant for this stream
    REVOKED = "revoked"  # there was one, but its code no longer works


def check(session, user, stream_id: int | None) -> tuple[Grant | None, str]:
    """The grant admitting this session to ``stream_id``, re-checked against the database.

    Returns ``(grant, "")`` on success, else ``(None, Outcome.…)``. A grant whose code was
    revoked or expired is dropped from the session. ``stream_id=None`` (a stream that does not
    exist) runs the same checks, so the answer is the one for a stream without a grant; only
    a staff user gets a grant for it.
    """
    staff = staff_grant(user, stream_id)
    if staff is not None:
        return staff, ""
    grant = read(session)
    if grant is None:
        if session.get(SESSION_KEY):
            drop(session)  # too old or tampered with
            return None, Outcome.REVOKED
        return None, Outcome.NONE
    if grant.stream_id != stream_id:
        return None, Outcome.NONE
    if not code_still_valid(grant):
        drop(session)
        return None, Outcome.REVOKED
    return grant, ""
