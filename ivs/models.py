import secrets

from django.db import models


def new_viewer_id() -> str:
    """32 URL-safe characters from 24 random bytes: unguessable, and within IVS's 40."""
    return secrets.token_urlsafe(24)


class Revocation(models.TextChoices):
    NONE = "", "not revoked"
    PENDING = "pending", "pending"
    DONE = "done", "done"
    FAILED = "failed", "failed"


class PlaybackGrantQuerySet(models.QuerySet):
    def live(self) -> "PlaybackGrantQuerySet":
        return self.filter(revocation=Revocation.NONE)


class PlaybackGrant(models.Model):
    """One viewer id, made for one grant (one entry of a code, in one browser session).

    Every playback token for that grant carries this id, so revoking the code can revoke
    exactly these viewers' sessions at IVS. The id says nothing about the person. The channel
    is recorded as it was when the id was granted: revocation goes to that channel even if the
    stream is later pointed at another one, or deleted.
    """

    viewer_id = models.CharField(max_length=40, unique=True, default=new_viewer_id)
    session_version = models.PositiveIntegerField(
        default=1, help_text="aws:viewer-session-version in this viewer's tokens."
    )
    channel_arn = models.CharField("channel ARN", max_length=128)
    stream = models.ForeignKey(
        "livestream.Stream", null=True, on_delete=models.SET_NULL, related_name="+"
    )
    code = models.ForeignKey(
        "gate.AccessCode",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="playback_grants",
        help_text="Empty for staff, or once the code was deleted.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    revocation = models.CharField(
        max_length=8, choices=Revocation.choices, default=Revocation.NONE, blank=True
    )
    revocation_reason = models.CharField(max_length=40, blank=True)
    revocation_requested_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField("revoked at IVS", null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    objects = PlaybackGrantQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["revocation", "next_attempt_at"])]

    def __str__(self) -> str:
        return self.viewer_id
