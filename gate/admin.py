from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest

from captions.live_state import viewer_counts
from gate.models import AccessCode, format_code


@admin.register(AccessCode)
class AccessCodeAdmin(admin.ModelAdmin):
    list_display = [
        "readable_code",
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
    readonly_fields = ["use_count", "last_used_at", "created_at"]
    fields = [
        "stream",
        "code",
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

    def save_model(self, request: HttpRequest, obj: AccessCode, form, change: bool) -> None:
        generated = not obj.code
        super().save_model(request, obj, form, change)
        if generated:
            messages.success(request, f"Generated code {format_code(obj.code)}.")

    @admin.action(description="Revoke selected codes (they stop working at once)")
    def revoke(self, request: HttpRequest, queryset: QuerySet[AccessCode]) -> None:
        count = queryset.revoke()
        self.message_user(request, f"Revoked {count} code(s).", messages.SUCCESS)

    @admin.action(description="Reactivate selected codes")
    def reactivate(self, request: HttpRequest, queryset: QuerySet[AccessCode]) -> None:
        count = queryset.filter(is_active=False).update(is_active=True)
        self.message_user(request, f"Reactivated {count} code(s).", messages.SUCCESS)


class AccessCodeInline(admin.TabularInline):
    model = AccessCode
    extra = 1
    fields = ["code", "label", "role", "is_active", "expires_at", "max_uses", "use_count"]
    readonly_fields = ["use_count"]
    show_change_link = True

    def get_queryset(self, request: HttpRequest) -> QuerySet[AccessCode]:
        return super().get_queryset(request).order_by("role", "-created_at")
