from django.contrib import admin
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest
from django.urls import reverse
from django.utils.html import format_html

from captions.admin import clear_captions
from gate.admin import AccessCodeInline
from livestream.models import Stream


@admin.register(Stream)
class StreamAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "caption_language", "code_count", "captions", "created_at"]
    search_fields = ["title", "slug", "playback_url"]
    list_filter = ["caption_language"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [AccessCodeInline]
    actions = [clear_captions]
    view_on_site = True
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Stream]:
        return (
            super()
            .get_queryset(request)
            .annotate(code_count=Count("access_codes", distinct=True))
            .annotate(caption_count=Count("captions", distinct=True))
        )

    @admin.display(description="access codes", ordering="code_count")
    def code_count(self, obj: Stream) -> int:
        return obj.code_count

    @admin.display(description="captions", ordering="caption_count")
    def captions(self, obj: Stream) -> str:
        url = reverse("admin:captions_caption_changelist") + f"?stream__id__exact={obj.pk}"
        return format_html('<a href="{}">{}</a>', url, obj.caption_count)
