"""``/api/v1/``: fine-grained authoring CRUD beyond Azure (projects/apis/fine_grained).

Actions on collections use Azure's ``:verb`` style (``utterances:import``), so they
cannot collide with an utterance id.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path, re_path

from projects.apis import fine_grained as v1
from projects.apis.conversations import UnknownPathApi

P = "projects/<str:project_name>"

urlpatterns: list[URLPattern | URLResolver] = [
    path(f"{P}/intents", v1.IntentListApi.as_view(), name="v1-intents"),
    path(f"{P}/intents/<str:name>", v1.IntentApi.as_view(), name="v1-intent"),
    path(f"{P}/entities", v1.EntityListApi.as_view(), name="v1-entities"),
    path(f"{P}/entities/<str:name>", v1.EntityApi.as_view(), name="v1-entity"),
    path(f"{P}/utterances", v1.UtteranceListApi.as_view(), name="v1-utterances"),
    path(
        f"{P}/utterances:import",
        v1.UtteranceImportApi.as_view(),
        name="v1-utterances-import",
    ),
    path(
        f"{P}/utterances:batch-update",
        v1.UtteranceBatchUpdateApi.as_view(),
        name="v1-utterances-batch-update",
    ),
    path(
        f"{P}/utterances:batch-delete",
        v1.UtteranceBatchDeleteApi.as_view(),
        name="v1-utterances-batch-delete",
    ),
    path(
        f"{P}/utterances/<int:utterance_id>",
        v1.UtteranceApi.as_view(),
        name="v1-utterance",
    ),
    path(f"{P}/qnas", v1.QnaPairListApi.as_view(), name="v1-qnas"),
    path(f"{P}/qnas/<int:qna_id>", v1.QnaPairApi.as_view(), name="v1-qna"),
    # Unknown paths get Azure's 404 body, not Django's HTML page ([\s\S]: also
    # paths holding a newline, %0A).
    re_path(r"^[\s\S]*\Z", UnknownPathApi.as_view(), name="v1-unknown-path"),
]
