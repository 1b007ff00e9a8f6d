from __future__ import annotations

from django.contrib import admin

from projects.models import (
    Entity,
    EntitySpan,
    Intent,
    KbSynonymGroup,
    Project,
    ProjectMembership,
    QnaPair,
    Utterance,
)


class IntentInline(admin.TabularInline):
    model = Intent
    extra = 0
    fields = ("name", "target_kind", "target_project_name", "target_deployment_name")
    show_change_link = True


class MembershipInline(admin.TabularInline):
    model = ProjectMembership
    extra = 0
    fields = ("user", "role")
    autocomplete_fields = ("user",)


@admin.register(ProjectMembership)
class ProjectMembershipAdmin(admin.ModelAdmin):
    list_display = ("project", "user", "role", "created_at")
    list_filter = ("role",)
    search_fields = ("project__name", "user__username", "user__email")
    autocomplete_fields = ("project", "user")


@admin.register(Project)
class ProjectAdmin(admin.ModelAdmin):
    list_display = ("name", "kind", "language", "multilingual", "last_modified_at")
    list_filter = ("kind",)
    search_fields = ("name", "description")
    readonly_fields = (
        "created_at",
        "last_modified_at",
        "last_trained_at",
        "last_deployed_at",
    )
    inlines = [IntentInline, MembershipInline]


@admin.register(Intent)
class IntentAdmin(admin.ModelAdmin):
    list_display = ("name", "project", "target_kind", "target_project_name")
    list_filter = ("target_kind", "project")
    search_fields = ("name",)
    list_select_related = ("project",)
    # Encrypted, write-only target secrets: set through the studio or the API, which
    # encrypt them; the admin would show ciphertext and save plain text.
    exclude = ("http_headers", "http_key")


@admin.register(Entity)
class EntityAdmin(admin.ModelAdmin):
    list_display = ("name", "project", "composition_setting")
    list_filter = ("project",)
    search_fields = ("name",)
    list_select_related = ("project",)


class EntitySpanInline(admin.TabularInline):
    model = EntitySpan
    extra = 0
    raw_id_fields = ("entity",)


@admin.register(Utterance)
class UtteranceAdmin(admin.ModelAdmin):
    list_display = ("text", "intent", "dataset", "language", "project")
    list_filter = ("dataset", "project")
    search_fields = ("text",)
    raw_id_fields = ("intent",)
    list_select_related = ("intent", "project")
    inlines = [EntitySpanInline]


@admin.register(QnaPair)
class QnaPairAdmin(admin.ModelAdmin):
    list_display = ("qna_id", "project", "source", "is_context_only", "last_updated_at")
    list_filter = ("project", "is_context_only")
    search_fields = ("answer",)
    list_select_related = ("project",)


@admin.register(KbSynonymGroup)
class KbSynonymGroupAdmin(admin.ModelAdmin):
    list_display = ("__str__", "project", "position")
    list_filter = ("project",)
