"""Studio UI routes of the schema and orchestration screens; included by
projects/urls_ui.py (namespace "ui")."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from projects.views import orchestration, schema

P = "projects/<str:name>/"
S = P + "schema/"
E = S + "entities/<int:pk>/"
O = P + "orchestration/"  # noqa: E741 - a route prefix, read as the letter O

urlpatterns: list[URLPattern | URLResolver] = [
    path(S, schema.schema_page, name="schema"),
    path(S + "intents/add", schema.intent_add, name="schema-intent-add"),
    path(S + "intents/<int:pk>/", schema.intent_row, name="schema-intent-row"),
    path(
        S + "intents/<int:pk>/rename", schema.intent_rename, name="schema-intent-rename"
    ),
    path(
        S + "intents/<int:pk>/delete", schema.intent_delete, name="schema-intent-delete"
    ),
    path(S + "entities/add", schema.entity_add, name="schema-entity-add"),
    path(E, schema.entity_page, name="schema-entity"),
    path(E + "rename", schema.entity_rename, name="schema-entity-rename"),
    path(E + "settings", schema.entity_settings, name="schema-entity-settings"),
    path(E + "delete", schema.entity_delete, name="schema-entity-delete"),
    path(E + "list/add", schema.entity_list_add, name="schema-entity-list-add"),
    path(
        E + "list/remove", schema.entity_list_remove, name="schema-entity-list-remove"
    ),
    path(
        E + "list/synonyms/add",
        schema.entity_synonyms_add,
        name="schema-entity-synonyms-add",
    ),
    path(
        E + "list/synonyms/remove",
        schema.entity_synonym_remove,
        name="schema-entity-synonym-remove",
    ),
    path(E + "regex/add", schema.entity_regex_add, name="schema-entity-regex-add"),
    path(
        E + "regex/remove",
        schema.entity_regex_remove,
        name="schema-entity-regex-remove",
    ),
    path(
        E + "prebuilts/add",
        schema.entity_prebuilt_add,
        name="schema-entity-prebuilt-add",
    ),
    path(
        E + "prebuilts/remove",
        schema.entity_prebuilt_remove,
        name="schema-entity-prebuilt-remove",
    ),
    # Configure orchestration (Orchestration projects).
    path(O, orchestration.orchestration_page, name="orchestration"),
    path(O + "link", orchestration.tasks_link, name="orchestration-link"),
    path(O + "intents/add", orchestration.intent_add, name="orchestration-intent-add"),
    path(
        O + "intents/<int:pk>/",
        orchestration.intent_row,
        name="orchestration-intent-row",
    ),
    path(
        O + "intents/<int:pk>/target",
        orchestration.intent_target,
        name="orchestration-intent-target",
    ),
    path(
        O + "intents/<int:pk>/unlink",
        orchestration.intent_unlink,
        name="orchestration-intent-unlink",
    ),
]
