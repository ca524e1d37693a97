import re
import secrets
import string
from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import F, Q
from django.utils import timezone

from gate.signals import codes_revoked

# Readable and unambiguous: no 0/O, 1/I/L, 5/S, 2/Z, 8/B.
CODE_ALPHABET = "ACDEFGHJKMNPQRTUVWXY34679"
GENERATED_CODE_LENGTH = 10
_SEPARATORS = re.compile(r"[\s\-_]+")
_ASCII_UPPER = str.maketrans(string.ascii_lowercase, string.ascii_uppercase)


def normalize_code(raw: str) -> str:
    """The form codes are stored and compared in: upper case, no spaces or dashes.

    Only ASCII letters are upper-cased. ``str.upper`` would turn look-alikes into real code
    letters (the Turkish dotless i, U+0131, into ``I``; ``ß`` into ``SS``; the ligature ``ﬁ``
    into ``FI``); left as they are, they never match a code, which is only ever ASCII.
    """
    return _SEPARATORS.sub("", raw).translate(_ASCII_UPPER)


def generate_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(GENERATED_CODE_LENGTH))


def format_code(code: str) -> str:
    """Group a code for reading aloud or typing: ``ACDE-FGHJ-KM``."""
    return "-".join(code[i : i + 4] for i in range(0, len(code), 4))


class Role(models.TextChoices):
    VIEWER = "viewer", "Viewer"
    CAPTIONER = "captioner", "Captioner"


class AccessCodeQuerySet(models.QuerySet):
    def usable(self, now: datetime | None = None) -> "AccessCodeQuerySet":
        """Codes that admit someone right now: active, not expired, uses left."""
        now = now or timezone.now()
        return self.filter(
            Q(is_active=True),
            Q(expires_at__isnull=True) | Q(expires_at__gt=now),
            Q(max_uses__isnull=True) | Q(use_count__lt=F("max_uses")),
        )

    def matching(self, raw: str) -> "AccessCodeQuerySet":
        return self.filter(code=normalize_code(raw))

    def revoke(self) -> int:
        """Deactivate these codes at once; ``codes_revoked`` tells who must know (IVS playback)."""
        ids = list(self.filter(is_active=True).values_list("pk", flat=True))
        count = AccessCode.objects.filter(pk__in=ids).update(is_active=False)
        codes_revoked.send(sender=AccessCode, code_ids=ids)
        return count


class AccessCode(models.Model):
    stream = models.ForeignKey(
        "livestream.Stream", on_delete=models.CASCADE, related_name="access_codes"
    )
    code = models.CharField(
        max_length=64,
        unique=True,
        blank=True,
        help_text="Leave empty to generate a readable one. Spaces, dashes and case are ignored.",
    )
    label = models.CharField(
        max_length=200, blank=True, help_text="Who it is for, e.g. 'Press' or 'Jane (captions)'."
    )
    role = models.CharField(max_length=12, choices=Role.choices, default=Role.VIEWER)
    is_active = models.BooleanField(
        "active", default=True, help_text="Untick to revoke: it stops working at once."
    )
    expires_at = models.DateTimeField(null=True, blank=True)
    max_uses = models.PositiveIntegerField(
        null=True, blank=True, help_text="How many times it may be entered. Empty: no limit."
    )
    use_count = models.PositiveIntegerField("uses", default=0, editable=False)
    last_used_at = models.DateTimeField(null=True, blank=True, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)

    objects = AccessCodeQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return format_code(self.code)

    def save(self, *args, **kwargs) -> None:
        self.code = normalize_code(self.code) or self._unused_code()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        self.code = normalize_code(self.code)
        if self.code and not re.fullmatch(r"[A-Z0-9]{4,64}", self.code):
            raise ValidationError(
                {"code": "Use 4 to 64 letters and digits (spaces and dashes are ignored)."}
            )

    @staticmethod
    def _unused_code() -> str:
        while True:
            code = generate_code()
            if not AccessCode.objects.filter(code=code).exists():
                return code

    def admits(self, now: datetime | None = None) -> bool:
        now = now or timezone.now()
        return (
            self.is_active
            and (self.expires_at is None or self.expires_at > now)
            and (self.max_uses is None or self.use_count < self.max_uses)
        )

    @property
    def status(self) -> str:
        now = timezone.now()
        if not self.is_active:
            return "revoked"
        if self.expires_at is not None and self.expires_at <= now:
            return "expired"
        if self.max_uses is not None and self.use_count >= self.max_uses:
            return "used up"
        return "usable"

    def redeem(self) -> bool:
        """Count one use, atomically; False when the code stopped being usable meanwhile."""
        now = timezone.now()
        updated = (
            AccessCode.objects.usable(now)
            .filter(pk=self.pk)
            .update(use_count=F("use_count") + 1, last_used_at=now)
        )
        return updated == 1

    def is_still_valid(self) -> bool:
        """Whether a grant made from this code still holds (the code was not revoked or expired).

        A code that reached its use limit keeps admitting those who already entered it.
        """
        now = timezone.now()
        return self.is_active and (self.expires_at is None or self.expires_at > now)
