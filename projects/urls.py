"""Everything under ``/language/``: Azure's authoring (and, later, runtime) paths.

Question answering is mounted twice: ``authoring/query-knowledgebases/`` is the path
of api-version 2023-04-01 and later, ``query-knowledgebases/`` the one the 1.1.0 SDK
calls (2021-10-01). The last route is a catch-all, so that an unknown path (or one of a
later issue, such as ``:train`` or ``/deployments``) gets Azure's 404 body instead of
Django's HTML page.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path, re_path

from projects.apis.conversations import UnknownPathApi
from studio.api.not_offered import CONVERSATION_JOBS, NotOfferedApi

urlpatterns: list[URLPattern | URLResolver] = [
    path(
        "authoring/analyze-conversations/",
        include("projects.urls_conversations"),
    ),
    path("authoring/query-knowledgebases/", include("projects.urls_qna")),
    path("query-knowledgebases/", include("projects.urls_qna")),
    # Runtime: :analyze-conversations, :query-knowledgebases, :query-text.
    path("", include("runtime.urls")),
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
    # [\s\S]: a path may hold a newline (%0A), which "." would not match (and
    # Django cannot reverse a (?s) flag).
    re_path(r"^[\s\S]*\Z", UnknownPathApi.as_view(), name="unknown-path"),
]
