from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.http import HttpRequest

from studio.models import ApiKey, WorkerHeartbeat
from studio.services import apikey_create, apikey_revoke


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = [
        "name",
        "prefix",
        "created_by",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["revoked_at"]
    search_fields = ["name", "prefix"]
    fields = ["name"]
    actions = ["revoke"]

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        # Keys are immutable once made; revoke and create a new one instead.
        return obj is None and super().has_change_permission(request, obj)

    def save_model(
        self, request: HttpRequest, obj: ApiKey, form: Any, change: bool
    ) -> None:
        api_key, raw_key = apikey_create(name=obj.name, created_by=request.user)  # type: ignore[arg-type]
        obj.pk = api_key.pk
        obj.refresh_from_db()
        messages.warning(
            request,
            f"New API key {api_key.name!r}: {raw_key} "
            "(copy it now: it is not shown again).",
        )

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        for api_key in queryset:
            apikey_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["hostname", "pid", "started_at", "last_seen_at"]
    readonly_fields = ["hostname", "pid", "started_at", "last_seen_at"]
