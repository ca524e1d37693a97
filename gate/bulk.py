"""Many codes at once ("50 viewer codes, single use, expiring Friday"), with a CSV to send out."""

import csv
import io
from collections.abc import Iterable
from datetime import datetime

from django import forms
from django.db import transaction
from django.utils import timezone

from gate.invites import invite_link
from gate.models import AccessCode, Role, format_code, generate_code
from livestream.models import Stream

MAX_BULK_CODES = 1000
CSV_HEADER = ["code", "invite link", "role", "max uses", "expires", "label"]


class DateTimeLocalInput(forms.DateTimeInput):
    """The browser's own date-and-time picker: one compact field instead of the admin's two."""

    input_type = "datetime-local"

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__(attrs, format="%Y-%m-%dT%H:%M")


class MinuteDateTimeField(forms.DateTimeField):
    """A time to the minute, as ``datetime-local`` sends it.

    A stored time with seconds counts as unchanged when its minute is resubmitted, so saving
    a page does not quietly cut the seconds off every row.
    """

    widget = DateTimeLocalInput

    def has_changed(self, initial: datetime | None, data: str | None) -> bool:
        if isinstance(initial, datetime):
            initial = timezone.localtime(initial).replace(second=0, microsecond=0)
        return super().has_changed(initial, data)


class BulkCodesForm(forms.Form):
    stream = forms.ModelChoiceField(Stream.objects.all())
    count = forms.IntegerField(
        label="How many",
        min_value=1,
        max_value=MAX_BULK_CODES,
        initial=50,
        help_text=f"1 to {MAX_BULK_CODES:,}.",
    )
    role = forms.ChoiceField(choices=Role.choices, initial=Role.VIEWER)
    max_uses = forms.IntegerField(
        label="Uses each",
        min_value=1,
        required=False,
        initial=1,
        help_text="How many times each code may be entered: 1 for single use. Empty: no limit.",
    )
    expires_at = MinuteDateTimeField(
        label="Expires",
        required=False,
        help_text="Empty: never. Times are in the site's time zone "
        f"({timezone.get_default_timezone_name()}).",
    )
    label = forms.CharField(
        max_length=200, required=False, help_text="Who they are for, e.g. 'Friday guests'."
    )

    def clean_expires_at(self) -> datetime | None:
        expires_at = self.cleaned_data["expires_at"]
        if expires_at is not None and expires_at <= timezone.now():
            raise forms.ValidationError("That time has passed: the codes would never work.")
        return expires_at


def unused_codes(count: int) -> list[str]:
    """``count`` new codes, distinct from each other and from every stored code."""
    codes: set[str] = set()
    while len(codes) < count:
        fresh = {generate_code() for _ in range(count - len(codes))} - codes
        taken = set(AccessCode.objects.filter(code__in=fresh).values_list("code", flat=True))
        codes |= fresh - taken
    return sorted(codes)


def create_codes(
    *,
    stream: Stream,
    count: int,
    role: str,
    max_uses: int | None,
    expires_at: datetime | None,
    label: str,
) -> list[AccessCode]:
    """Create ``count`` codes alike but for the code itself: all of them, or (on error) none."""
    with transaction.atomic():
        return AccessCode.objects.bulk_create(
            [
                AccessCode(
                    stream=stream,
                    code=code,
                    role=role,
                    max_uses=max_uses,
                    expires_at=expires_at,
                    label=label,
                )
                for code in unused_codes(count)
            ],
            batch_size=200,
        )


def _cell(text: str) -> str:
    # A spreadsheet would run a cell starting with = + - @ as a formula.
    return f"'{text}" if text[:1] in ("=", "+", "-", "@") else text


def codes_csv(codes: Iterable[AccessCode], origin: str) -> str:
    """One row per code: the code grouped for reading, its invite link, and its terms."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(CSV_HEADER)
    for code in codes:
        expires = (
            f"{timezone.localtime(code.expires_at):%Y-%m-%d %H:%M %Z}" if code.expires_at else ""
        )
        writer.writerow(
            [
                format_code(code.code),
                invite_link(origin, code.code),
                code.role,
                "" if code.max_uses is None else code.max_uses,
                expires,
                _cell(code.label),
            ]
        )
    return out.getvalue()
