from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.models import ADDITION, LogEntry
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import CharField, Q, QuerySet, Value
from django.forms.models import BaseInlineFormSet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html

from captions.live_state import viewer_counts
from gate import bulk
from gate.invites import invite_link, qr_svg, site_origin
from gate.models import AccessCode, format_code, normalize_code

EDITABLE_FIELDS = ["stream", "code", "label", "role", "is_active", "expires_at", "max_uses"]
ADMIN_MEDIA = forms.Media(js=["js/admin-invites.js"], css={"all": ["css/admin-codes.css"]})


def with_site_origin(queryset: QuerySet[AccessCode], request: HttpRequest) -> QuerySet[AccessCode]:
    """Each code carries ``site_origin``, so list cells and inline rows, which are given only the
    code, can show its absolute invite link."""
    return queryset.annotate(site_origin=Value(site_origin(request), output_field=CharField()))


def _invite(obj: AccessCode) -> str | None:
    origin = getattr(obj, "site_origin", None)
    return invite_link(origin, obj.code) if origin and obj.code else None


def _qr_url(obj: AccessCode) -> str:
    return reverse("admin:gate_accesscode_qr", args=[obj.pk])


def copy_button(link: str) -> str:
    """A button that copies ``link`` (static/js/admin-invites.js), its text the link's title."""
    return format_html(
        '<button type="button" class="invite-copy" data-invite="{}" title="{}">Copy link</button>',
        link,
        link,
    )


def announce_generated(request: HttpRequest, codes: list[AccessCode]) -> None:
    """Say which codes were generated, grouped for reading, each with its invite link."""
    origin = site_origin(request)
    for code in codes:
        messages.success(
            request,
            f"Generated code {format_code(code.code)} ({code.get_role_display().lower()}"
            f"{f', {code.label}' if code.label else ''}): invite link "
            f"{invite_link(origin, code.code)}",
        )


class AccessCodeForm(forms.ModelForm):
    """Shows a stored code grouped (``GDRP-N3JA-J9``) and stores what is typed normalised."""

    code = forms.CharField(
        required=False,
        # Room for a 64-character code typed with its dashes.
        max_length=100,
        help_text=AccessCode._meta.get_field("code").help_text,
        widget=forms.TextInput(
            attrs={"autocomplete": "off", "spellcheck": "false", "class": "vTextField"}
        ),
    )

    class Meta:
        model = AccessCode
        fields = EDITABLE_FIELDS

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if self.instance.code:
            self.initial["code"] = format_code(self.instance.code)

    def clean_code(self) -> str:
        return normalize_code(self.cleaned_data["code"])


class CompactAccessCodeForm(AccessCodeForm):
    """The codes on a stream's page: narrow inputs, one date-and-time picker."""

    code = forms.CharField(
        required=False,
        max_length=100,
        help_text="Leave empty to generate one.",
        widget=forms.TextInput(
            attrs={
                "size": 13,
                "placeholder": "generated",
                "autocomplete": "off",
                "spellcheck": "false",
                "autocapitalize": "characters",
            }
        ),
    )
    expires_at = bulk.MinuteDateTimeField(label="Expires", required=False)

    class Meta:
        model = AccessCode
        fields = EDITABLE_FIELDS
        widgets = {
            "label": forms.TextInput(attrs={"size": 14}),
            "max_uses": forms.NumberInput(attrs={"min": 1, "class": "uses-input"}),
        }
        labels = {"is_active": "Active", "max_uses": "Max uses"}
        help_texts = {"max_uses": "Empty: no limit.", "is_active": "Untick to revoke."}


@admin.register(AccessCode)
class AccessCodeAdmin(admin.ModelAdmin):
    form = AccessCodeForm
    list_display = [
        "readable_code",
        "invite",
        "stream",
        "role",
        "label",
        "status",
        "uses",
        "expires_at",
        "last_used_at",
        "watching_now",
    ]
    list_filter = ["role", "is_active", "stream"]
    search_fields = ["code", "label", "stream__title", "stream__slug"]
    list_select_related = ["stream"]
    readonly_fields = ["invite_link_and_qr", "use_count", "last_used_at", "created_at"]
    fields = [
        "stream",
        "code",
        "invite_link_and_qr",
        "label",
        "role",
        "is_active",
        "expires_at",
        "max_uses",
        "use_count",
        "last_used_at",
        "created_at",
    ]
    actions = ["revoke", "reactivate"]
    date_hierarchy = "created_at"

    @property
    def media(self) -> forms.Media:
        return super().media + ADMIN_MEDIA

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccessCode]:
        return with_site_origin(super().get_queryset(request), request)

    def get_search_results(self, request: HttpRequest, queryset, search_term: str):
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        # A code as printed (GDRP-N3JA-J9, gdrp n3ja) finds the stored GDRPN3JAJ9.
        normalized = normalize_code(search_term)
        if normalized:
            results |= queryset.filter(Q(code__contains=normalized))
        return results, may_have_duplicates

    def get_urls(self):
        own = [
            path(
                "<int:object_id>/qr.svg",
                self.admin_site.admin_view(self.qr_view),
                name="gate_accesscode_qr",
            ),
            path("bulk/", self.admin_site.admin_view(self.bulk_view), name="gate_accesscode_bulk"),
        ]
        return own + super().get_urls()

    @admin.display(description="code", ordering="code")
    def readable_code(self, obj: AccessCode) -> str:
        return format_code(obj.code)

    @admin.display(description="watching now")
    def watching_now(self, obj: AccessCode) -> int:
        return viewer_counts()[1].get(obj.pk, 0)

    @admin.display(description="uses")
    def uses(self, obj: AccessCode) -> str:
        limit = "∞" if obj.max_uses is None else obj.max_uses
        return f"{obj.use_count} / {limit}"

    @admin.display(description="status")
    def status(self, obj: AccessCode) -> str:
        return obj.status

    @admin.display(description="invite")
    def invite(self, obj: AccessCode) -> str:
        link = _invite(obj)
        if link is None:
            return "—"
        return format_html(
            '<span class="invite-tools">{} <a href="{}" class="invite-qr-link">QR</a></span>',
            copy_button(link),
            _qr_url(obj),
        )

    @admin.display(description="invite link")
    def invite_link_and_qr(self, obj: AccessCode) -> str:
        link = _invite(obj)
        if link is None:
            return "Save the code to get its invite link and QR code."
        qr = _qr_url(obj)
        return format_html(
            '<div class="invite">'
            '<p class="invite-row"><input type="text" readonly class="invite-link" value="{}" '
            'aria-label="Invite link"> {}</p>'
            '<p class="invite-help">Opens the entry page with the code filled in; the guest still '
            "presses Enter.</p>"
            '<img src="{}" class="invite-qr" alt="QR code of the invite link">'
            '<p><a href="{}?download=1">Download the QR code (SVG, for print)</a></p>'
            "</div>",
            link,
            copy_button(link),
            qr,
            qr,
        )

    def save_model(self, request: HttpRequest, obj: AccessCode, form, change: bool) -> None:
        generated = not obj.code
        super().save_model(request, obj, form, change)
        if generated:
            announce_generated(request, [obj])

    def qr_view(self, request: HttpRequest, object_id: int) -> HttpResponse:
        """The invite link as a QR code (SVG), for a printed programme."""
        code = get_object_or_404(AccessCode, pk=object_id)
        if not self.has_view_permission(request, code):
            raise PermissionDenied
        grouped = format_code(code.code)
        response = HttpResponse(
            qr_svg(invite_link(site_origin(request), code.code), title=f"Invite: {grouped}"),
            content_type="image/svg+xml",
        )
        disposition = "attachment" if request.GET.get("download") else "inline"
        response["Content-Disposition"] = f'{disposition}; filename="invite-{grouped}.svg"'
        response["Cache-Control"] = "private, no-store"
        return response

    def bulk_view(self, request: HttpRequest) -> HttpResponse:
        """Many codes alike in one go; the answer is a CSV of them with their invite links."""
        if not self.has_add_permission(request):
            raise PermissionDenied
        if request.method == "POST":
            form = bulk.BulkCodesForm(request.POST)
            if form.is_valid():
                try:
                    with transaction.atomic():
                        codes = bulk.create_codes(**form.cleaned_data)
                        LogEntry.objects.log_actions(
                            request.user.pk, codes, ADDITION, "Created in bulk."
                        )
                except IntegrityError:
                    form.add_error(
                        None,
                        "The codes could not be stored (another code was added with the same "
                        "value at that moment). Nothing was created: please submit again.",
                    )
                else:
                    return self._bulk_answer(request, form.cleaned_data, codes)
        else:
            form = bulk.BulkCodesForm(initial={"stream": request.GET.get("stream")})
        adminform = helpers.AdminForm(
            form, [(None, {"fields": list(form.fields)})], {}, model_admin=self
        )
        context = {
            **self.admin_site.each_context(request),
            "title": "Create access codes in bulk",
            "opts": self.opts,
            "adminform": adminform,
            "errors": helpers.AdminErrorList(form, []),
            "media": self.media + adminform.media,
        }
        return TemplateResponse(request, "admin/gate/accesscode/bulk.html", context)

    def _bulk_answer(self, request: HttpRequest, data: dict, codes: list[AccessCode]):
        stream = data["stream"]
        role = dict(AccessCode._meta.get_field("role").choices)[data["role"]].lower()
        messages.success(
            request,
            f"Generated {len(codes)} {role} code(s) for “{stream}” "
            f"({format_code(codes[0].code)} … {format_code(codes[-1].code)}); the CSV download "
            "lists them all with their invite links.",
        )
        filename = f"codes-{stream.slug}-{timezone.localtime():%Y%m%d-%H%M}.csv"
        response = HttpResponse(
            bulk.codes_csv(codes, site_origin(request)), content_type="text/csv; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        response["Cache-Control"] = "private, no-store"
        return response

    @admin.action(description="Revoke selected codes (they stop working at once)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[AccessCode]) -> None:
        count = queryset.revoke()
        self.message_user(request, f"Revoked {count} code(s).", messages.SUCCESS)

    @admin.action(description="Reactivate selected codes")
    def reactivate(self, request: HttpRequest, queryset: QuerySet[AccessCode]) -> None:
        count = queryset.filter(is_active=False).update(is_active=True)
        self.message_user(request, f"Reactivated {count} code(s).", messages.SUCCESS)


class AccessCodeFormSet(BaseInlineFormSet):
    """Notes the codes it generated (rows saved with the code left empty) in
    ``generated_codes``, for the stream's admin to announce."""

    def save(self, commit: bool = True) -> list[AccessCode]:
        blank = {id(form.instance) for form in self.forms if not form.instance.code}
        saved = super().save(commit)
        self.generated_codes = [code for code in saved if id(code) in blank]
        return saved


class AccessCodeInline(admin.TabularInline):
    """The stream's codes as a compact table (templates/admin/gate/accesscode/codes_inline.html:
    each row's uses and status above it, cards on a phone)."""

    model = AccessCode
    form = CompactAccessCodeForm
    formset = AccessCodeFormSet
    template = "admin/gate/accesscode/codes_inline.html"
    extra = 1
    fields = ["code", "label", "role", "is_active", "expires_at", "max_uses", "invite"]
    readonly_fields = ["invite"]
    show_change_link = True

    @property
    def media(self) -> forms.Media:
        return super().media + ADMIN_MEDIA

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccessCode]:
        queryset = super().get_queryset(request).order_by("role", "-created_at")
        return with_site_origin(queryset, request)

    @admin.display(description="Invite")
    def invite(self, obj: AccessCode) -> str:
        link = _invite(obj)
        return copy_button(link) if link else ""
