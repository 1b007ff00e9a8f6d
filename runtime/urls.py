"""Runtime routes under ``/language/`` (azure-api.md §1, §2)."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from runtime.apis import (
    ConversationAnalyzeApi,
    KnowledgeBaseQueryApi,
    TextQueryApi,
)

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        ":analyze-conversations",
        ConversationAnalyzeApi.as_view(),
        name="runtime-analyze-conversations",
    ),
    path(
        ":query-knowledgebases",
        KnowledgeBaseQueryApi.as_view(),
        name="runtime-query-knowledgebases",
    ),
    path(":query-text", TextQueryApi.as_view(), name="runtime-query-text"),
]
