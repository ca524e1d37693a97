from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from ivs import revocations
from ivs.models import PlaybackGrant, Revocation


@admin.register(PlaybackGrant)
class PlaybackGrantAdmin(admin.ModelAdmin):
    """Viewer ids given out for private streams, and how revoking them at IVS went."""

    list_display = [
        "viewer_id",
        "stream",
        "code",
        "created_at",
        "revocation_state",
        "attempts",
        "revoked_at",
        "last_error",
    ]
    list_filter = ["revocation", "stream"]
    search_fields = ["viewer_id", "code__code", "code__label", "channel_arn"]
    list_select_related = ["stream", "code"]
    date_hierarchy = "created_at"
    actions = ["retry"]
    readonly_fields = [field.name for field in PlaybackGrant._meta.fields]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    @admin.display(description="revocation at IVS", ordering="revocation")
    def revocation_state(self, obj: PlaybackGrant) -> str:
        if obj.revocation == Revocation.PENDING and obj.attempts:
            return f"pending (retrying after {obj.attempts} attempt(s))"
        return obj.get_revocation_display()

    def has_retry_permission(self, request: HttpRequest) -> bool:
        return request.user.has_perm("ivs.change_playbackgrant")

    @admin.action(description="Retry the selected failed revocations", permissions=["retry"])
    def retry(self, request: HttpRequest, queryset: QuerySet[PlaybackGrant]) -> None:
        count = revocations.retry_failed(queryset)
        self.message_user(request, f"Retrying {count} revocation(s).", messages.SUCCESS)
