"""Knowledge-base reads of the studio's knowledge-base screen (the REST API's reads
are in ``projects.selectors.authoring``).

Every read here is bounded by a page or a limit, or is one aggregate, so the
screen's cost does not grow with the knowledge base beyond the database's own
scans of one project's rows.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Q, QuerySet, TextField
from django.db.models.fields.json import KeyTextTransform
from django.db.models.functions import Cast

from projects.models import Project, QnaPair

LOOKUP_LIMIT = 10


def _json_text_match(query: str) -> Q:
    """``questions`` (a JSON list, annotated as ``questions_text``) contains
    ``query``. SQLite stores non-ASCII characters there as ``\\u`` escapes and
    PostgreSQL as themselves, so both spellings are tried."""
    match = Q(questions_text__icontains=query)
    escaped = json.dumps(query)[1:-1]
    if escaped != query:
        match |= Q(questions_text__icontains=escaped)
    return match


def kb_qna_search(
    *,
    project: Project,
    query: str = "",
    source: str | None = None,
    metadata: tuple[str, str] | None = None,
) -> QuerySet[QnaPair]:
    """The KB's QnA pairs in id order; with ``query``, those whose answer or any of
    whose questions contain it (case-insensitive), or the pair ``#12``; with
    ``source``, those of that source; with ``metadata`` ``(key, value)``, those
    with that pair (case-insensitive; an empty value: any value of the key)."""
    qs = project.qnas.order_by("qna_id")
    query = query.strip()
    by_id = re.fullmatch(r"#\s*(\d{1,9})", query)
    if by_id:
        # "#12" is pair 12 (where a follow-up link leads).
        qs = qs.filter(qna_id=int(by_id.group(1)))
    elif query:
        qs = qs.annotate(questions_text=Cast("questions", TextField())).filter(
            Q(answer__icontains=query) | _json_text_match(query)
        )
    if source is not None:
        qs = qs.filter(source=source)
    if metadata is not None:
        key, value = metadata
        qs = qs.annotate(meta_value=KeyTextTransform(key, "metadata"))
        if value:
            qs = qs.filter(meta_value__iexact=value)
        else:
            qs = qs.filter(meta_value__isnull=False)
    return qs


def kb_qna_ids(*, project: Project) -> set[int]:
    """Every QnA id of the KB (what a follow-up prompt may point at)."""
    return set(project.qnas.values_list("qna_id", flat=True))


@dataclass(frozen=True)
class KbSource:
    name: str
    count: int


def kb_source_list(*, project: Project) -> list[KbSource]:
    """The KB's sources with how many pairs each has, by name (``""``: pairs
    without a source). One grouped query."""
    rows = (
        project.qnas.order_by("source")
        .values("source")
        .annotate(count=Count("id"))
        .values_list("source", "count")
    )
    return [KbSource(name=name, count=count) for name, count in rows]


def kb_qna_lookup(*, project: Project, query: str) -> list[QnaPair]:
    """At most ``LOOKUP_LIMIT`` pairs whose questions contain ``query`` (or whose id
    it is, as ``12`` or ``#12``): the choices of the follow-up prompt picker."""
    query = query.strip()
    if not query:
        return []
    qs = project.qnas.order_by("qna_id").only("qna_id", "questions")
    match = re.fullmatch(r"#?\s*(\d{1,9})", query)
    wanted = Q(qna_id=int(match.group(1))) if match else Q(pk__in=[])
    qs = qs.annotate(questions_text=Cast("questions", TextField())).filter(
        wanted | _json_text_match(query)
    )
    return list(qs[:LOOKUP_LIMIT])


def kb_qna_titles(*, project: Project, qna_ids: Iterable[int]) -> dict[int, str]:
    """``{qna_id: first question}`` of the given ids that exist (one query)."""
    rows = project.qnas.filter(qna_id__in=set(qna_ids)).values_list(
        "qna_id", "questions"
    )
    return {qna_id: (questions[0] if questions else "") for qna_id, questions in rows}


def question_key(question: str) -> str:
    """A question as compared for duplicates: Unicode-normalized (NFKC), case
    folded, whitespace collapsed and trailing punctuation dropped, so "Reset my
    password?" and "reset  my password" are the same question."""
    text = unicodedata.normalize("NFKC", question).casefold()
    return " ".join(text.split()).rstrip(" ?!.。？！")


def kb_question_owners(
    *, project: Project, questions: Iterable[str], exclude_qna_id: int | None = None
) -> dict[str, int]:
    """``{question: qna_id}`` for each of ``questions`` that another pair of the KB
    already has (compared with ``question_key``).

    Normalization cannot be done in SQL portably, so the database only narrows
    the pairs down to those whose questions contain the longest word of one of
    the questions (when those words are ASCII, which SQL compares without case
    on every backend) and Python compares the normalized questions of those.
    A question in full-width or other compatibility characters is found only
    when the asked-about question has a non-ASCII word (then every pair is read).
    """
    wanted = {question_key(q): q for q in questions if question_key(q)}
    if not wanted:
        return {}
    pairs = project.qnas.all()
    words = [max(key.split(), key=len) for key in wanted]
    if all(word.isascii() for word in words):
        narrow = Q()
        for word in words:
            narrow |= Q(questions_text__icontains=word)
        pairs = pairs.annotate(questions_text=Cast("questions", TextField())).filter(
            narrow
        )
    rows = pairs.values_list("qna_id", "questions")
    if exclude_qna_id is not None:
        rows = rows.exclude(qna_id=exclude_qna_id)
    owners: dict[str, int] = {}
    for qna_id, stored in rows.order_by("qna_id").iterator(chunk_size=2000):
        for question in stored:
            key = question_key(question)
            if key in wanted and wanted[key] not in owners:
                owners[wanted[key]] = qna_id
        if len(owners) == len(wanted):
            break
    return owners
