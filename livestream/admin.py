from django.contrib import admin
from django.db import models
from django.db.models import Count, QuerySet
from django.http import HttpRequest

from gate.admin import AccessCodeInline
from livestream.models import Stream


@admin.register(Stream)
class StreamAdmin(admin.ModelAdmin):
    list_display = ["title", "slug", "caption_language", "code_count", "created_at"]
    search_fields = ["title", "slug", "playback_url"]
    list_filter = ["caption_language"]
    prepopulated_fields = {"slug": ["title"]}
    inlines = [AccessCodeInline]
    view_on_site = True
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}

    def get_queryset(self, request: HttpRequest) -> QuerySet[Stream]:
        return super().get_queryset(request).annotate(code_count=Count("access_codes"))

    @admin.display(description="access codes", ordering="code_count")
    def code_count(self, obj: Stream) -> int:
        return obj.code_count
