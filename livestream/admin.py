from urllib.parse import urlsplit

from django.contrib import admin, messages
from django.db import models
from django.db.models import Count, Max, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.dateparse import parse_datetime
from django.utils.html import format_html
from django.utils.timezone import localtime

from captions.admin import clear_captions
from captions.live_state import holder, viewer_counts
from gate.admin import AccessCodeInline, announce_generated
from livestream.models import Stream


@admin.register(Stream)
class StreamAdmin(admin.ModelAdmin):
    list_display = [
        "title",
        "slug",
        "viewers_now",
        "captioning_now",
        "last_caption",
        "code_count",
        "captions",
    ]
    search_fields = ["title", "slug", "playback_url"]
    list_filter = ["caption_language"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [AccessCodeInline]
    actions = [clear_captions]
    view_on_site = True
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def save_model(self, request: HttpRequest, obj: Stream, form, change: bool) -> None:
        super().save_model(request, obj, form, change)
        if not obj.on_ivs_host:
            messages.warning(
                request,
                f"“{obj}” plays from {urlsplit(obj.playback_url).hostname}, not an IVS playback "
                "host (….playback.live-video.net): fine for a test stream, but private-channel "
                "tokens and revocation only protect video served by IVS.",
            )

    def save_formset(self, request: HttpRequest, form, formset, change: bool) -> None:
        super().save_formset(request, form, formset, change)
        # Codes left empty in the inline were generated: say which.
        announce_generated(request, getattr(formset, "generated_codes", []))

    def get_queryset(self, request: HttpRequest) -> QuerySet[Stream]:
        return (
            super()
            .get_queryset(request)
            .annotate(code_count=Count("access_codes", distinct=True))
            .annotate(caption_count=Count("captions", distinct=True))
            .annotate(last_caption_at=Max("captions__created_at"))
        )

    @admin.display(description="watching now")
    def viewers_now(self, obj: Stream) -> int:
        return viewer_counts()[0].get(obj.pk, 0)

    @admin.display(description="captions now")
    def captioning_now(self, obj: Stream) -> str:
        now = holder(obj.pk)
        if now is None:
            return "off"
        since = parse_datetime(now["since"])
        note = f" — {now['note']}" if now.get("note") else ""  # a caption worker waiting
        return f"by {now['by']} since {localtime(since):%H:%M} ({now['engine']}){note}"

    @admin.display(description="last caption", ordering="last_caption_at")
    def last_caption(self, obj: Stream):
        return obj.last_caption_at

    @admin.display(description="access codes", ordering="code_count")
    def code_count(self, obj: Stream) -> int:
        return obj.code_count

    @admin.display(description="captions", ordering="caption_count")
    def captions(self, obj: Stream) -> str:
        url = reverse("admin:captions_caption_changelist") + f"?stream__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj.caption_count)
