"""Authoring writes. Every function is keyword-only, validates before writing, runs
in one ``transaction.atomic`` and moves the project's ``last_modified_at``."""

from __future__ import annotations

from projects.services._common import project_touch
from projects.services.authoring import (
    entity_create,
    entity_delete,
    entity_update,
    intent_create,
    intent_delete,
    intent_update,
    utterance_create,
    utterance_delete,
    utterance_update,
    utterances_bulk_create,
    utterances_bulk_delete,
    utterances_bulk_update,
)
from projects.services.kb import (
    kb_export,
    kb_feedback_add,
    kb_import,
    kb_import_check,
    kb_qna_add,
    kb_qnas_update,
    kb_qnas_update_as_job,
    kb_sources_update_as_job,
    kb_synonyms_document,
    kb_synonyms_update,
    qna_project_create_or_update,
)
from projects.services.links import (
    TaskLink,
    intent_link_set,
    intent_unlink,
    intents_link_tasks,
    linkable_tasks,
    orchestration_link,
)
from projects.services.members import (
    member_add,
    member_make_admin,
    member_make_owner,
    member_remove,
    member_role_change,
)
from projects.services.projects import (
    project_create_or_update,
    project_delete,
    project_export,
    project_import,
    utterances_import,
)

__all__ = [
    "TaskLink",
    "entity_create",
    "entity_delete",
    "entity_update",
    "intent_link_set",
    "intent_unlink",
    "intents_link_tasks",
    "intent_create",
    "intent_delete",
    "intent_update",
    "kb_export",
    "kb_feedback_add",
    "kb_import",
    "kb_import_check",
    "kb_qna_add",
    "kb_qnas_update",
    "kb_qnas_update_as_job",
    "kb_sources_update_as_job",
    "kb_synonyms_document",
    "kb_synonyms_update",
    "member_add",
    "member_make_admin",
    "member_make_owner",
    "member_remove",
    "member_role_change",
    "linkable_tasks",
    "orchestration_link",
    "project_create_or_update",
    "project_delete",
    "project_export",
    "project_import",
    "project_touch",
    "qna_project_create_or_update",
    "utterance_create",
    "utterance_delete",
    "utterance_update",
    "utterances_bulk_create",
    "utterances_bulk_delete",
    "utterances_bulk_update",
    "utterances_import",
]
