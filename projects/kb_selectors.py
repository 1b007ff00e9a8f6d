"""Knowledge-base reads of the studio's knowledge-base screen (the REST API's reads
are in ``projects.selectors``)."""

from __future__ import annotations

import json

from django.db.models import Q, QuerySet, TextField
from django.db.models.functions import Cast

from projects.models import Project, QnaPair


def kb_qna_search(*, project: Project, query: str = "") -> QuerySet[QnaPair]:
    """The KB's QnA pairs in id order; with ``query``, those whose answer or any of
    whose questions contain it (case-insensitive).

    Questions are a JSON list, searched as its JSON text: SQLite stores non-ASCII
    characters there as ``\\u`` escapes and PostgreSQL as themselves, so both
    spellings of the query are tried.
    """
    qs = project.qnas.order_by("qna_id")
    query = query.strip()
    if not query:
        return qs
    escaped = json.dumps(query)[1:-1]
    match = Q(answer__icontains=query) | Q(questions_text__icontains=query)
    if escaped != query:
        match |= Q(questions_text__icontains=escaped)
    return qs.annotate(questions_text=Cast("questions", TextField())).filter(match)


def kb_qna_ids(*, project: Project) -> set[int]:
    """Every QnA id of the KB (what a follow-up prompt may point at)."""
    return set(project.qnas.values_list("qna_id", flat=True))
