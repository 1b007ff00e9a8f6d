"""Studio UI routes of the knowledge-base screen; included by projects/urls_ui.py
(namespace "ui")."""

from __future__ import annotations

from django.urls import URLPattern, URLResolver, path

from projects.views import kb

K = "projects/<str:name>/kb/"
Q = K + "qnas/<int:qna_id>/"

urlpatterns: list[URLPattern | URLResolver] = [
    path(K, kb.kb_page, name="kb"),
    path(K + "qnas/add", kb.qna_add, name="kb-qna-add"),
    path(K + "qnas/lookup", kb.qna_lookup, name="kb-qna-lookup"),
    path(K + "preview", kb.answer_preview, name="kb-answer-preview"),
    path(K + "sources/", kb.sources_page, name="kb-sources"),
    path(K + "sources/delete", kb.source_delete, name="kb-source-delete"),
    path(Q, kb.qna_card, name="kb-qna"),
    path(Q + "edit", kb.qna_edit, name="kb-qna-edit"),
    path(Q + "delete", kb.qna_delete, name="kb-qna-delete"),
    path(Q + "suggestions", kb.qna_suggestion, name="kb-qna-suggestion"),
    path(K + "synonyms/", kb.synonyms_page, name="kb-synonyms"),
    path(K + "synonyms/save", kb.synonyms_save, name="kb-synonyms-save"),
]
