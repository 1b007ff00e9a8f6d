"""Question-answering authoring routes, mounted under ``/language/`` at both
``authoring/query-knowledgebases/`` (2023-04-01 and later) and
``query-knowledgebases/`` (2021-10-01, what the 1.1.0 SDK calls).

Project sub-routes come before ``projects/deletion-jobs/<jobId>`` so that a project
named ``deletion-jobs`` keeps its own routes. Deployments are the training app's
(``training.urls_qna_deployments``).
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, include, path

from projects.apis import question_answering as qa

P = "projects/<str:project_name>"

urlpatterns: list[URLPattern | URLResolver] = [
    path("projects", qa.QnaProjectListApi.as_view(), name="qna-project-list"),
    path(f"{P}/:import", qa.QnaImportApi.as_view(), name="qna-import"),
    path(f"{P}/:export", qa.QnaExportApi.as_view(), name="qna-export"),
    path(
        f"{P}/import/jobs/<str:job_id>",
        qa.QnaImportJobApi.as_view(),
        name="qna-import-job",
    ),
    path(
        f"{P}/export/jobs/<str:job_id>",
        qa.QnaExportJobApi.as_view(),
        name="qna-export-job",
    ),
    path(
        f"{P}/export/jobs/<str:job_id>/result",
        qa.QnaExportResultApi.as_view(),
        name="qna-export-result",
    ),
    path(f"{P}/qnas", qa.QnaListApi.as_view(), name="qna-qnas"),
    path(
        f"{P}/qnas/jobs/<str:job_id>",
        qa.QnaUpdateJobApi.as_view(),
        name="qna-qnas-job",
    ),
    path(f"{P}/feedback", qa.QnaFeedbackApi.as_view(), name="qna-feedback"),
    path(f"{P}/synonyms", qa.QnaSynonymsApi.as_view(), name="qna-synonyms"),
    path(f"{P}/sources", qa.QnaSourcesApi.as_view(), name="qna-sources"),
    path(
        f"{P}/sources/jobs/<str:job_id>",
        qa.QnaSourcesJobApi.as_view(),
        name="qna-sources-job",
    ),
    path(
        "projects/deletion-jobs/<str:job_id>",
        qa.QnaDeletionJobApi.as_view(),
        name="qna-deletion-job",
    ),
    path("", include("training.urls_qna_deployments")),
    path(P, qa.QnaProjectApi.as_view(), name="qna-project"),
]
