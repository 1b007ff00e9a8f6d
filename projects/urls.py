"""The HTTP surface of the authoring app, one pattern list per mount point.

``studio/urls.py`` mounts these lists and names the namespaces that span apps
(``conversations``, ``ui``); each list reads top to bottom in resolution order.

* ``conversation_patterns``: Azure's conversation authoring, under
  ``/language/authoring/analyze-conversations/`` (namespace ``conversations``,
  followed by the training app's train, models, deployments and deployment-resource
  routes, ``projects/global/deployments/resources`` included).
* ``qna_patterns``: question-answering authoring, under ``/language/`` at both
  ``authoring/query-knowledgebases/`` (api-version 2023-04-01 and later) and
  ``query-knowledgebases/`` (2021-10-01, what the 1.1.0 SDK calls), followed by the
  training app's knowledge-base deployments.
* ``api_v1_patterns``: ``/api/v1/``, fine-grained authoring CRUD beyond Azure.
* ``ui_patterns``: the studio UI (namespace ``ui``): projects list, overview,
  settings, audit, schema, orchestration, Data and knowledge-base screens.
"""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from projects.apis import conversations as api
from projects.apis import fine_grained as v1
from projects.apis import question_answering as qa
from projects.views import (
    audit,
    data,
    kb,
    orchestration,
    projects,
    schema,
    settings,
)

# --- /language/authoring/analyze-conversations/ (namespace "conversations") ---------
# The projects/global/... routes come first: "global" is a reserved project name, so
# they never shadow a project.

conversation_patterns: list[URLPattern | URLResolver] = [
    path("projects", api.ProjectListApi.as_view(), name="project-list"),
    path(
        "projects/global/deletion-jobs/<str:job_id>",
        api.ProjectDeletionJobApi.as_view(),
        name="project-deletion-job",
    ),
    path(
        "projects/global/languages",
        api.LanguageListApi.as_view(),
        name="language-list",
    ),
    path(
        "projects/global/prebuilt-entities",
        api.PrebuiltEntityListApi.as_view(),
        name="prebuilt-entity-list",
    ),
    path(
        "projects/global/training-config-versions",
        api.TrainingConfigVersionListApi.as_view(),
        name="training-config-version-list",
    ),
    path("projects/<str:project_name>", api.ProjectApi.as_view(), name="project"),
    path(
        "projects/<str:project_name>/:import",
        api.ProjectImportApi.as_view(),
        name="project-import",
    ),
    path(
        "projects/<str:project_name>/:export",
        api.ProjectExportApi.as_view(),
        name="project-export",
    ),
    path(
        "projects/<str:project_name>/import/jobs/<str:job_id>",
        api.ProjectImportJobApi.as_view(),
        name="project-import-job",
    ),
    path(
        "projects/<str:project_name>/export/jobs/<str:job_id>",
        api.ProjectExportJobApi.as_view(),
        name="project-export-job",
    ),
    path(
        "projects/<str:project_name>/export/jobs/<str:job_id>/result",
        api.ProjectExportResultApi.as_view(),
        name="project-export-result",
    ),
]

# --- /language/{authoring/,}query-knowledgebases/ (no namespace; mounted twice) ------
# Project sub-routes come before projects/deletion-jobs/<jobId> so that a project
# named "deletion-jobs" keeps its own routes.

Q = "projects/<str:project_name>"

qna_patterns: list[URLPattern | URLResolver] = [
    path("projects", qa.QnaProjectListApi.as_view(), name="qna-project-list"),
    path(f"{Q}/:import", qa.QnaImportApi.as_view(), name="qna-import"),
    path(f"{Q}/:export", qa.QnaExportApi.as_view(), name="qna-export"),
    path(
        f"{Q}/import/jobs/<str:job_id>",
        qa.QnaImportJobApi.as_view(),
        name="qna-import-job",
    ),
    path(
        f"{Q}/export/jobs/<str:job_id>",
        qa.QnaExportJobApi.as_view(),
        name="qna-export-job",
    ),
    path(
        f"{Q}/export/jobs/<str:job_id>/result",
        qa.QnaExportResultApi.as_view(),
        name="qna-export-result",
    ),
    path(f"{Q}/qnas", qa.QnaListApi.as_view(), name="qna-qnas"),
    path(
        f"{Q}/qnas/jobs/<str:job_id>",
        qa.QnaUpdateJobApi.as_view(),
        name="qna-qnas-job",
    ),
    path(f"{Q}/feedback", qa.QnaFeedbackApi.as_view(), name="qna-feedback"),
    path(f"{Q}/synonyms", qa.QnaSynonymsApi.as_view(), name="qna-synonyms"),
    path(f"{Q}/sources", qa.QnaSourcesApi.as_view(), name="qna-sources"),
    path(
        f"{Q}/sources/jobs/<str:job_id>",
        qa.QnaSourcesJobApi.as_view(),
        name="qna-sources-job",
    ),
    path(
        "projects/deletion-jobs/<str:job_id>",
        qa.QnaDeletionJobApi.as_view(),
        name="qna-deletion-job",
    ),
    path(Q, qa.QnaProjectApi.as_view(), name="qna-project"),
]

# --- /api/v1/ (no namespace) ------------------------------------------------------
# Actions on collections use Azure's ":verb" style (utterances:import), so they cannot
# collide with an utterance id.

api_v1_patterns: list[URLPattern | URLResolver] = [
    path(f"{Q}/intents", v1.IntentListApi.as_view(), name="v1-intents"),
    path(f"{Q}/intents/<str:name>", v1.IntentApi.as_view(), name="v1-intent"),
    path(f"{Q}/entities", v1.EntityListApi.as_view(), name="v1-entities"),
    path(f"{Q}/entities/<str:name>", v1.EntityApi.as_view(), name="v1-entity"),
    path(f"{Q}/utterances", v1.UtteranceListApi.as_view(), name="v1-utterances"),
    path(
        f"{Q}/utterances:import",
        v1.UtteranceImportApi.as_view(),
        name="v1-utterances-import",
    ),
    path(
        f"{Q}/utterances:batch-update",
        v1.UtteranceBatchUpdateApi.as_view(),
        name="v1-utterances-batch-update",
    ),
    path(
        f"{Q}/utterances:batch-delete",
        v1.UtteranceBatchDeleteApi.as_view(),
        name="v1-utterances-batch-delete",
    ),
    path(
        f"{Q}/utterances/<int:utterance_id>",
        v1.UtteranceApi.as_view(),
        name="v1-utterance",
    ),
    path(f"{Q}/qnas", v1.QnaPairListApi.as_view(), name="v1-qnas"),
    path(f"{Q}/qnas/<int:qna_id>", v1.QnaPairApi.as_view(), name="v1-qna"),
]

# --- The studio UI (namespace "ui") -----------------------------------------------
# "projects/new" and "projects/import" have no trailing slash, so they never shadow a
# project called "new" or "import" (projects/<name>/).

P = "projects/<str:name>/"
S = P + "settings/"
SC = P + "schema/"
E = SC + "entities/<int:pk>/"
O = P + "orchestration/"  # noqa: E741 - a route prefix, read as the letter O
D = P + "data/"
K = P + "kb/"
KQ = K + "qnas/<int:qna_id>/"

ui_patterns: list[URLPattern | URLResolver] = [
    # Projects list, overview, import/export/delete, audit, settings.
    path("", projects.project_list, name="projects"),
    path("projects/new", projects.project_create, name="project-new"),
    path("projects/import", projects.project_import, name="project-import"),
    path("jobs/<str:job_id>/", projects.job_detail, name="job"),
    path("jobs/<str:job_id>/cancel", projects.job_cancel_view, name="job-cancel"),
    path(P, projects.project_overview, name="project"),
    path(P + "export", projects.project_download, name="project-export"),
    path(P + "delete", projects.project_delete, name="project-delete"),
    path(P + "restore/<int:pk>", projects.project_restore, name="project-restore"),
    path(P + "audit/", audit.audit_page, name="audit"),
    path(P + "audit/export.jsonl", audit.audit_export, name="audit-export"),
    path(S, settings.settings_page, name="settings"),
    path(S + "general", settings.settings_general, name="settings-general"),
    path(S + "gate", settings.settings_gate, name="settings-gate"),
    path(S + "gate/pin", settings.settings_gate_pin, name="settings-gate-pin"),
    path(S + "members/add", settings.member_create, name="settings-member-add"),
    path(
        S + "members/<int:pk>/role",
        settings.member_role,
        name="settings-member-role",
    ),
    path(
        S + "members/<int:pk>/remove",
        settings.member_delete,
        name="settings-member-remove",
    ),
    # Schema: intents and entities (Conversation projects).
    path(SC, schema.schema_page, name="schema"),
    path(SC + "intents/add", schema.intent_add, name="schema-intent-add"),
    path(SC + "intents/<int:pk>/", schema.intent_row, name="schema-intent-row"),
    path(
        SC + "intents/<int:pk>/rename",
        schema.intent_rename,
        name="schema-intent-rename",
    ),
    path(
        SC + "intents/<int:pk>/delete",
        schema.intent_delete,
        name="schema-intent-delete",
    ),
    path(SC + "entities/add", schema.entity_add, name="schema-entity-add"),
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
    # Data (labeling).
    path(D, data.data_page, name="data"),
    path(D + "distribution/", data.data_distribution, name="data-distribution"),
    path(D + "add/", data.data_add, name="data-add"),
    path(D + "upload/", data.data_upload, name="data-upload"),
    path(D + "bulk/", data.data_bulk, name="data-bulk"),
    path(D + "undo/", data.data_undo, name="data-undo"),
    path(D + "keys/", data.data_label_key, name="data-keys"),
    path(D + "<int:pk>/", data.data_row, name="data-row"),
    path(D + "<int:pk>/intent/", data.data_row_intent, name="data-intent"),
    path(D + "<int:pk>/dataset/", data.data_row_dataset, name="data-dataset"),
    path(D + "<int:pk>/golden/", data.data_row_golden, name="data-golden"),
    path(D + "<int:pk>/text/", data.data_row_text, name="data-text"),
    path(D + "<int:pk>/spans/", data.data_span_add, name="data-span-add"),
    path(
        D + "<int:pk>/spans/<int:span_id>/delete/",
        data.data_span_remove,
        name="data-span-remove",
    ),
    # Knowledge base (QuestionAnswering projects).
    path(K, kb.kb_page, name="kb"),
    path(K + "qnas/add", kb.qna_add, name="kb-qna-add"),
    path(K + "qnas/lookup", kb.qna_lookup, name="kb-qna-lookup"),
    path(K + "preview", kb.answer_preview, name="kb-answer-preview"),
    path(K + "sources/", kb.sources_page, name="kb-sources"),
    path(K + "sources/delete", kb.source_delete, name="kb-source-delete"),
    path(KQ, kb.qna_card, name="kb-qna"),
    path(KQ + "edit", kb.qna_edit, name="kb-qna-edit"),
    path(KQ + "delete", kb.qna_delete, name="kb-qna-delete"),
    path(KQ + "suggestions", kb.qna_suggestion, name="kb-qna-suggestion"),
    path(K + "synonyms/", kb.synonyms_page, name="kb-synonyms"),
    path(K + "synonyms/save", kb.synonyms_save, name="kb-synonyms-save"),
]
