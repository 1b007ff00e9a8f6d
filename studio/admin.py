from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils.cache import add_never_cache_headers

from studio.accounts import AdminSignInForm
from studio.models import ApiKey, WorkerHeartbeat
from studio.services import apikey_create, apikey_revoke

# The admin's sign-in hashes passwords through the same bounded slots as the studio's.
admin.site.login_form = AdminSignInForm


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

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Raw keys between save_model and response_add of the same request, by key
        # id; popped at once, so a key lives here only while its page is rendered.
        self._raw_keys: dict[int, str] = {}

    def save_model(
        self, request: HttpRequest, obj: ApiKey, form: Any, change: bool
    ) -> None:
        api_key, raw_key = apikey_create(name=obj.name, created_by=request.user)  # type: ignore[arg-type]
        obj.pk = api_key.pk
        obj.refresh_from_db()
        self._raw_keys[api_key.pk] = raw_key

    def response_add(
        self, request: HttpRequest, obj: ApiKey, post_url_continue: str | None = None
    ) -> HttpResponse:
        """Show the new key once, in this response's body only.

        Django admin would redirect with a flash message, and messages travel in a
        cookie that is signed, not encrypted: the key would sit in the browser's
        cookie jar (and in proxies' logs) in clear text.
        """
        raw_key = self._raw_keys.pop(obj.pk)
        response = TemplateResponse(
            request,
            "admin/studio/apikey/created.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": f"API key {obj.name} created",
                "api_key": obj,
                "raw_key": raw_key,
            },
        )
        add_never_cache_headers(response)
        return response

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request: HttpRequest, queryset: Any) -> None:
        for api_key in queryset:
            apikey_revoke(api_key=api_key)
        self.message_user(request, f"Revoked {queryset.count()} key(s).")


@admin.register(WorkerHeartbeat)
class WorkerHeartbeatAdmin(admin.ModelAdmin):
    list_display = ["hostname", "pid", "started_at", "last_seen_at"]
    readonly_fields = ["hostname", "pid", "started_at", "last_seen_at"]
