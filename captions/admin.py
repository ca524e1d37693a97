from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from captions.models import Caption
from livestream.models import Stream


@admin.register(Caption)
class CaptionAdmin(admin.ModelAdmin):
    list_display = ["seq", "stream", "text", "start", "end", "created_at"]
    list_display_links = ["seq"]
    list_filter = ["stream"]
    search_fields = ["text"]
    list_select_related = ["stream"]
    ordering = ["stream", "-seq"]
    readonly_fields = ["stream", "seq", "text", "start", "end", "session_started_at", "created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.action(
    description="Clear the stored captions of the selected streams", permissions=["change"]
)
def clear_captions(modeladmin, request: HttpRequest, queryset: QuerySet[Stream]) -> None:
    deleted, _ = Caption.objects.filter(stream__in=queryset).delete()
    modeladmin.message_user(
        request,
        f"Cleared {deleted} caption(s) from {queryset.count()} stream(s). "
        "Sequence numbers continue where they were.",
        messages.SUCCESS,
    )
