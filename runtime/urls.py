"""The HTTP surface of the prediction runtime, one pattern list per mount point.

``studio/urls.py`` mounts these lists and names the namespaces that span apps.

* ``language_patterns``: the runtime calls of bots under ``/language/``
  (azure-api.md §1, §2): ``:analyze-conversations``, ``:query-knowledgebases``,
  ``:query-text``, and the conversation jobs Azure offers but this studio does not.
* ``ui_patterns``: the studio's Playground screen (namespace ``ui``).
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from runtime import views
from runtime.apis import (
    ConversationAnalyzeApi,
    KnowledgeBaseQueryApi,
    TextQueryApi,
)
from studio.api.not_offered import CONVERSATION_JOBS, NotOfferedApi

# --- /language/ (no namespace) ----------------------------------------------------

language_patterns: list[URLPattern | URLResolver] = [
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
    # Conversation PII and summarization (begin_conversation_analysis) are not
    # offered; the job id segment also takes "<id>:cancel".
    path(
        "analyze-conversations/jobs",
        NotOfferedApi.as_view(feature=CONVERSATION_JOBS),
        name="runtime-conversation-jobs",
    ),
    path(
        "analyze-conversations/jobs/<str:job_id>",
        NotOfferedApi.as_view(feature=CONVERSATION_JOBS),
        name="runtime-conversation-job",
    ),
]

# --- The studio UI (namespace "ui") -----------------------------------------------

G = "projects/<str:name>/playground/"

ui_patterns: list[URLPattern | URLResolver] = [
    path(G, views.playground_page, name="playground"),
    path(G + "query", views.playground_query, name="playground-query"),
    path(G + "add", views.playground_add, name="playground-add"),
]
