from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from captions import corrections
from captions.models import Caption, CaptionCorrection
from livestream.models import Stream


class CorrectionInline(admin.TabularInline):
    model = CaptionCorrection
    extra = 0
    can_delete = False
    fields = ["at", "by", "before", "after", "removed"]
    readonly_fields = fields

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


@admin.register(Caption)
class CaptionAdmin(admin.ModelAdmin):
    """Finals are the record: staff may correct a caption's text or remove it; each change is
    logged and reaches every viewer's screen (captions/corrections.py). Nothing else changes."""

    list_display = ["seq", "stream", "text", "removed", "start", "end", "created_at"]
    list_display_links = ["seq"]
    list_filter = ["stream", "removed"]
    search_fields = ["text"]
    list_select_related = ["stream"]
    ordering = ["stream", "-seq"]
    fields = ["stream", "seq", "text", "removed", "start", "end", "spoken_at", "created_at"]
    readonly_fields = ["stream", "seq", "removed", "start", "end", "spoken_at", "created_at"]
    inlines = [CorrectionInline]
    actions = ["remove_captions"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Caption, form, change: bool) -> None:
        if "text" not in form.changed_data:
            return
        stored = Caption.objects.get(pk=obj.pk)
        try:
            corrections.correct(stored, obj.text, request.user)
        except corrections.NothingToCorrect as problem:
            self.message_user(request, str(problem), messages.WARNING)
            return
        self.message_user(
            request, f"Caption {obj.seq} corrected; viewers see the new text now.", messages.INFO
        )

    @admin.action(description="Remove the selected captions (viewers see them go)")
    def remove_captions(self, request: HttpRequest, queryset: QuerySet[Caption]) -> None:
        removed = 0
        for caption in queryset.filter(removed=False).select_related("stream"):
            corrections.remove(caption, request.user)
            removed += 1
        self.message_user(request, f"Removed {removed} caption(s).", messages.SUCCESS)


@admin.register(CaptionCorrection)
class CaptionCorrectionAdmin(admin.ModelAdmin):
    list_display = ["at", "caption", "by", "before", "after", "removed"]
    list_select_related = ["caption", "by"]
    readonly_fields = ["caption", "before", "after", "removed", "by", "at"]

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
