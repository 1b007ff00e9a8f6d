"""Question-answering knowledge bases: Azure's import/export JSON and QnA Maker TSV.

JSON: ``{"metadata": {...}, "assets": {"qnas": [QnaRecord], "synonyms":
[{"alterations": [...]}]}}`` (the 2023-04-01 spec's casing; ``Metadata``/``Assets``
and PascalCase record keys from older tools are accepted too).

TSV (QnA Maker): a header row naming the columns — ``Question, Answer, Source,
Metadata`` and optionally ``SuggestedQuestions, IsContextOnly, Prompts, QnaId`` — and
one row per question. Rows with the same ``QnaId`` (or, without that column, the same
answer, source and metadata) are alternate questions of one pair. Line breaks in an
answer are written as a literal ``\\n``. A synonyms file has the single header
``Synonyms`` and one comma-separated, quoted group per line.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from projects import validators as v
from projects.formats._parse import (
    child,
    expect_bool,
    expect_dict,
    expect_list,
    expect_str,
    get_ci,
)
from studio.errors import ErrorCollector

QNA_MODEL_FIELDS = (
    "questions",
    "answer",
    "source",
    "metadata",
    "is_context_only",
    "prompts",
    "active_learning_suggestions",
)


@dataclass
class QnaData:
    qna_id: int
    questions: list[str]
    answer: str
    source: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    is_context_only: bool = False
    prompts: list[dict[str, Any]] = field(default_factory=list)
    active_learning_suggestions: list[dict[str, Any]] = field(default_factory=list)
    # The record's lastUpdatedDateTime when the file carries one (kept on import so
    # export -> import -> export is identical); None means "now".
    last_updated: datetime | None = None
    path: str = ""

    def model_fields(self) -> dict[str, Any]:
        """The ``QnaPair`` fields this record sets (all but id and timestamp)."""
        return {name: getattr(self, name) for name in QNA_MODEL_FIELDS}


@dataclass
class KbMetadata:
    description: str | None = None
    language: str | None = None
    multilingual: bool | None = None
    default_answer: str | None = None


@dataclass
class KbDocument:
    metadata: KbMetadata
    qnas: list[QnaData] | None  # None: the document has no QnAs asset
    synonyms: list[list[str]] | None


def parse_metadata(obj: Any, path: str, errors: ErrorCollector) -> KbMetadata:
    meta = KbMetadata()
    if obj is None:
        return meta
    data = expect_dict(obj, path, errors)
    if data is None:
        return meta
    if get_ci(data, "description") is not None:
        meta.description = expect_str(
            get_ci(data, "description"),
            child(path, "description"),
            errors,
            allow_empty=True,
            max_length=v.MAX_DESCRIPTION_LENGTH,
        )
    language = get_ci(data, "language")
    if language is not None:
        if (msg := v.language_error(language)) is not None:
            errors.add(msg, target=child(path, "language"))
        else:
            meta.language = language
    multi = get_ci(data, "multilingualResource")
    if multi is not None:
        meta.multilingual = expect_bool(
            multi, child(path, "multilingualResource"), errors, default=False
        )
    settings = get_ci(data, "settings")
    if settings is not None:
        sdata = expect_dict(settings, child(path, "settings"), errors)
        if sdata is not None and get_ci(sdata, "defaultAnswer") is not None:
            meta.default_answer = expect_str(
                get_ci(sdata, "defaultAnswer"),
                child(path, "settings.defaultAnswer"),
                errors,
                allow_empty=True,
                max_length=v.MAX_ANSWER_LENGTH,
            )
    return meta


def _bounded_list(
    obj: Any, path: str, errors: ErrorCollector, what: str, limit: int
) -> list[Any]:
    """The list at ``path``; empty (with an error) when it holds more than ``limit``,
    so nothing of an oversized list is parsed."""
    items = expect_list(obj, path, errors)
    if len(items) > limit:
        errors.add(f"{len(items)} {what}; the limit is {limit}.", target=path)
        return []
    return items


def parse_synonyms(obj: Any, path: str, errors: ErrorCollector) -> list[list[str]]:
    groups: list[list[str]] = []
    items = _bounded_list(obj, path, errors, "synonym groups", v.MAX_SYNONYM_GROUPS)
    for i, item in enumerate(items):
        item_path = child(path, i)
        alterations: Any = item
        if isinstance(item, dict):
            alterations = get_ci(item, "alterations")
        alt_path = child(item_path, "alterations")
        values = expect_list(alterations, alt_path, errors, required=True)
        if len(values) < 2 or len(values) > v.MAX_ALTERATIONS_PER_GROUP:
            errors.add(
                f"A synonym group needs 2 to {v.MAX_ALTERATIONS_PER_GROUP} words; "
                f"this one has {len(values)}.",
                target=alt_path,
            )
            continue
        group: list[str] = []
        for j, word in enumerate(values):
            text = expect_str(word, child(alt_path, j), errors, max_length=200)
            if text is not None:
                group.append(text)
        groups.append(group)
    return groups


def _parse_prompts(
    obj: Any, path: str, errors: ErrorCollector, inline: list[tuple[str, Any]]
) -> list[dict[str, Any]]:
    prompts: list[dict[str, Any]] = []
    items = _bounded_list(obj, path, errors, "follow-up prompts", v.MAX_PROMPTS_PER_QNA)
    for i, item in enumerate(items):
        item_path = child(path, i)
        data = expect_dict(item, item_path, errors)
        if data is None:
            continue
        order = get_ci(data, "displayOrder", i)
        if isinstance(order, bool) or not isinstance(order, int):
            errors.add(
                "displayOrder must be an integer.",
                target=child(item_path, "displayOrder"),
            )
            continue
        text = expect_str(
            get_ci(data, "displayText"),
            child(item_path, "displayText"),
            errors,
            max_length=v.MAX_PROMPT_TEXT_LENGTH,
        )
        qna_id = get_ci(data, "qnaId")
        nested = get_ci(data, "qna")
        prompt: dict[str, Any] = {"displayOrder": order, "displayText": text}
        if qna_id is None and nested is not None:
            # Resolved to an id by the caller once every record is known.
            inline.append((child(item_path, "qna"), nested))
            prompt["qnaId"] = None
            prompt["_inline"] = len(inline) - 1
        elif isinstance(qna_id, bool) or not isinstance(qna_id, int) or qna_id < 1:
            errors.add(
                "A prompt needs a positive qnaId or a qna record.",
                target=child(item_path, "qnaId"),
            )
            continue
        else:
            prompt["qnaId"] = qna_id
        if text is not None:
            prompts.append(prompt)
    return prompts


def parse_qna(
    obj: Any,
    path: str,
    errors: ErrorCollector,
    *,
    require_id: bool,
    inline: list[tuple[str, Any]],
) -> QnaData | None:
    """One QnA record. ``id`` 0 or absent (when allowed) means "assign one"."""
    data = expect_dict(obj, path, errors)
    if data is None:
        return None
    qna_id = get_ci(data, "id")
    if qna_id is None and not require_id:
        qna_id = 0
    if isinstance(qna_id, bool) or not isinstance(qna_id, int) or qna_id < 0:
        errors.add("id must be a positive integer.", target=child(path, "id"))
        return None
    if qna_id == 0 and require_id:
        errors.add("id must be a positive integer.", target=child(path, "id"))
        return None
    answer = expect_str(
        get_ci(data, "answer"),
        child(path, "answer"),
        errors,
        max_length=v.MAX_ANSWER_LENGTH,
    )
    q_path = child(path, "questions")
    raw_questions = expect_list(
        get_ci(data, "questions"), q_path, errors, required=True
    )
    questions: list[str] = []
    if not raw_questions or len(raw_questions) > v.MAX_QUESTIONS_PER_QNA:
        errors.add(
            f"A QnA needs 1 to {v.MAX_QUESTIONS_PER_QNA} questions; this one has "
            f"{len(raw_questions)}.",
            target=q_path,
        )
    for i, q in enumerate(raw_questions):
        text = expect_str(q, child(q_path, i), errors, max_length=v.MAX_QUESTION_LENGTH)
        if text is not None and text not in questions:
            questions.append(text)
    source = expect_str(
        get_ci(data, "source"),
        child(path, "source"),
        errors,
        required=False,
        allow_empty=True,
        max_length=v.MAX_SOURCE_LENGTH,
    )
    metadata: dict[str, str] = {}
    raw_meta = get_ci(data, "metadata")
    if raw_meta is not None:
        m_path = child(path, "metadata")
        meta = expect_dict(raw_meta, m_path, errors)
        if meta is not None:
            if len(meta) > v.MAX_METADATA_PER_QNA:
                errors.add(
                    f"{len(meta)} metadata pairs; the limit is "
                    f"{v.MAX_METADATA_PER_QNA}.",
                    target=m_path,
                )
            for key, value in meta.items():
                if (
                    not isinstance(key, str)
                    or not key.strip()
                    or len(key) > v.MAX_METADATA_KEY_LENGTH
                    or not isinstance(value, str)
                    or not value.strip()
                    or len(value) > v.MAX_METADATA_VALUE_LENGTH
                ):
                    errors.add(
                        f"Metadata {key!r}: {value!r} needs a non-empty key of at "
                        f"most {v.MAX_METADATA_KEY_LENGTH} characters and a non-empty "
                        f"value of at most {v.MAX_METADATA_VALUE_LENGTH}.",
                        target=child(m_path, str(key)),
                    )
                else:
                    metadata[key] = value
    is_context_only = False
    prompts: list[dict[str, Any]] = []
    dialog = get_ci(data, "dialog")
    if dialog is not None:
        d_path = child(path, "dialog")
        ddata = expect_dict(dialog, d_path, errors)
        if ddata is not None:
            is_context_only = expect_bool(
                get_ci(ddata, "isContextOnly"),
                child(d_path, "isContextOnly"),
                errors,
                default=False,
            )
            prompts = _parse_prompts(
                get_ci(ddata, "prompts"), child(d_path, "prompts"), errors, inline
            )
    last_updated: datetime | None = None
    stamp = get_ci(data, "lastUpdatedDateTime")
    if stamp is not None:
        try:
            last_updated = datetime.fromisoformat(str(stamp).replace("Z", "+00:00"))
        except ValueError:
            errors.add(
                f"lastUpdatedDateTime {stamp!r} is not an ISO-8601 date-time.",
                target=child(path, "lastUpdatedDateTime"),
            )
        else:
            if last_updated.tzinfo is None:
                last_updated = last_updated.replace(tzinfo=UTC)
    suggestions = get_ci(data, "activeLearningSuggestions")
    als = expect_list(suggestions, child(path, "activeLearningSuggestions"), errors)
    if answer is None or not questions:
        return None
    return QnaData(
        qna_id=qna_id,
        questions=questions,
        answer=answer,
        source=source or "",
        metadata=metadata,
        is_context_only=is_context_only,
        prompts=prompts,
        active_learning_suggestions=als,
        last_updated=last_updated,
        path=path,
    )


def resolve_qnas(
    records: list[QnaData],
    inline: list[tuple[str, Any]],
    errors: ErrorCollector,
    *,
    existing_ids: set[int],
    id_floor: int = 0,
) -> list[QnaData]:
    """Assign ids to new records and to nested prompt records, then check that every
    prompt points at a QnA that exists. ``existing_ids`` are ids kept in the KB;
    new ids start above ``id_floor`` too, so a just-deleted id is never reused."""
    used = set(existing_ids)
    for record in records:
        if record.qna_id:
            if record.qna_id in used:
                errors.add(
                    f"QnA id {record.qna_id} is used twice.",
                    target=child(record.path, "id"),
                )
            used.add(record.qna_id)
    next_id = max(max(used, default=0), id_floor) + 1
    out = list(records)
    for record in out:
        if not record.qna_id:
            record.qna_id = next_id
            used.add(next_id)
            next_id += 1
    nested: list[QnaData] = []
    for index, (path, obj) in enumerate(inline):
        sub = parse_qna(obj, path, errors, require_id=False, inline=inline)
        if sub is None:
            continue
        if sub.qna_id and sub.qna_id in used:
            errors.add(f"QnA id {sub.qna_id} is used twice.", target=child(path, "id"))
        if not sub.qna_id:
            sub.qna_id = next_id
            next_id += 1
        used.add(sub.qna_id)
        nested.append(sub)
        for record in [*out, *nested]:
            for prompt in record.prompts:
                if prompt.get("_inline") == index:
                    prompt["qnaId"] = sub.qna_id
                    del prompt["_inline"]
    out.extend(nested)
    for record in out:
        for i, prompt in enumerate(record.prompts):
            if prompt["qnaId"] is not None and prompt["qnaId"] not in used:
                errors.add(
                    f"Prompt {prompt['displayText']!r} refers to QnA id "
                    f"{prompt['qnaId']}, which does not exist.",
                    target=f"{record.path}.dialog.prompts[{i}].qnaId",
                )
    if len(out) + len(existing_ids) > v.MAX_QNAS_PER_PROJECT:
        errors.add(
            f"The knowledge base would have more than {v.MAX_QNAS_PER_PROJECT} QnAs.",
            target="assets.qnas",
        )
    return out


def parse_json_document(document: Any) -> KbDocument:
    errors = ErrorCollector()
    root = expect_dict(
        document, "", errors, what="a JSON object with metadata and assets"
    )
    if root is None:
        errors.raise_if_any("The knowledge base file is invalid")
        raise AssertionError("unreachable")
    metadata = parse_metadata(get_ci(root, "metadata"), "metadata", errors)
    # Azure accepts a document without assets (the 1.1.0 sample
    # ``sample_export_import_project`` imports only ``Metadata``): it sets the
    # metadata and leaves the QnAs and synonyms as they are.
    assets_obj = get_ci(root, "assets")
    assets = {} if assets_obj is None else expect_dict(assets_obj, "assets", errors)
    assets = assets or {}
    qnas: list[QnaData] | None = None
    synonyms: list[list[str]] | None = None
    if get_ci(assets, "qnas") is not None:
        inline: list[tuple[str, Any]] = []
        records = []
        for i, item in enumerate(
            expect_list(get_ci(assets, "qnas"), "assets.qnas", errors)
        ):
            record = parse_qna(
                item, f"assets.qnas[{i}]", errors, require_id=False, inline=inline
            )
            if record is not None:
                records.append(record)
        qnas = resolve_qnas(records, inline, errors, existing_ids=set())
    if get_ci(assets, "synonyms") is not None:
        synonyms = parse_synonyms(get_ci(assets, "synonyms"), "assets.synonyms", errors)
    errors.raise_if_any("The knowledge base file is invalid")
    return KbDocument(metadata=metadata, qnas=qnas, synonyms=synonyms)


def qna_as_azure(qna: Any) -> dict[str, Any]:
    """A ``QnaPair`` as Azure's RetrieveQnaRecord."""
    body: dict[str, Any] = {
        "id": qna.qna_id,
        "answer": qna.answer,
        "source": qna.source,
        "questions": list(qna.questions),
        "metadata": dict(qna.metadata),
        "dialog": {
            "isContextOnly": qna.is_context_only,
            "prompts": [
                {
                    "displayOrder": p["displayOrder"],
                    "qnaId": p["qnaId"],
                    "displayText": p["displayText"],
                }
                for p in qna.prompts
            ],
        },
        "activeLearningSuggestions": list(qna.active_learning_suggestions),
        "lastUpdatedDateTime": qna.last_updated_at.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    return body


def project_metadata_as_azure(project: Any) -> dict[str, Any]:
    return {
        "projectName": project.name,
        "description": project.description,
        "language": project.language,
        "multilingualResource": project.multilingual,
        "settings": {"defaultAnswer": project.default_answer},
    }


def export_document(project: Any, *, asset_kind: str | None = None) -> dict[str, Any]:
    """The knowledge base as Azure's import/export JSON, read from the project's
    rows: both assets, or only ``"qnas"`` or ``"synonyms"`` (``asset_kind``)."""
    assets: dict[str, Any] = {}
    if asset_kind in (None, "qnas"):
        assets["qnas"] = [qna_as_azure(q) for q in project.qnas.order_by("qna_id")]
    if asset_kind in (None, "synonyms"):
        groups = project.kb_synonyms.order_by("position")
        assets["synonyms"] = [{"alterations": g.alterations} for g in groups]
    return {"metadata": project_metadata_as_azure(project), "assets": assets}


# ---------------------------------------------------------------- TSV

TSV_COLUMNS = [
    "Question",
    "Answer",
    "Source",
    "Metadata",
    "SuggestedQuestions",
    "IsContextOnly",
    "Prompts",
    "QnaId",
]


def _unescape(value: str) -> str:
    return value.replace("\\n", "\n")


def _escape(value: str) -> str:
    return value.replace("\r\n", "\n").replace("\n", "\\n").replace("\t", " ")


def _lower_keys(obj: Any) -> Any:
    """QnA Maker's PascalCase JSON keys to Azure's camelCase."""
    if isinstance(obj, dict):
        return {
            (k[:1].lower() + k[1:] if isinstance(k, str) else k): _lower_keys(val)
            for k, val in obj.items()
        }
    if isinstance(obj, list):
        return [_lower_keys(x) for x in obj]
    return obj


def _suggestions_from_tsv(clusters: list[Any]) -> list[dict[str, Any]]:
    out = []
    for cluster in clusters:
        c = _lower_keys(cluster)
        if not isinstance(c, dict):
            continue
        questions = c.get("suggestedQuestions") or c.get("alternateQuestionList") or []
        out.append(
            {
                "clusterHead": c.get("clusterHead", ""),
                "suggestedQuestions": [
                    {
                        "question": q.get("question", ""),
                        "userSuggestedCount": q.get("userSuggestedCount", 0),
                        "autoSuggestedCount": q.get("autoSuggestedCount", 0),
                    }
                    for q in questions
                    if isinstance(q, dict)
                ],
            }
        )
    return out


def is_synonyms_tsv(text: str) -> bool:
    first = text.lstrip("\ufeff").splitlines()[0:1]
    return bool(first) and first[0].strip().lower() == "synonyms"


def parse_synonyms_tsv(text: str) -> list[list[str]]:
    errors = ErrorCollector()
    lines = text.lstrip("\ufeff").splitlines()
    raw: list[list[str]] = []
    for lineno, row in enumerate(
        csv.reader(io.StringIO("\n".join(lines[1:]))), start=2
    ):
        if not any(cell.strip() for cell in row):
            continue
        raw.append([cell.strip() for cell in row])
        if len(raw[-1]) < 2:
            errors.add(
                "A synonym group needs at least 2 words.", target=f"line {lineno}"
            )
    groups = parse_synonyms(raw, "synonyms", errors)
    errors.raise_if_any("The synonyms file is invalid")
    return groups


def parse_qna_tsv(text: str) -> list[QnaData]:
    errors = ErrorCollector()
    lines = text.lstrip("\ufeff").replace("\r\n", "\n").replace("\r", "\n").split("\n")
    if not lines or not lines[0].strip():
        errors.add("The TSV file is empty; expected a header row.", target="line 1")
        errors.raise_if_any("The QnA TSV file is invalid")
    header = [h.strip() for h in lines[0].split("\t")]
    lookup = {h.lower(): i for i, h in enumerate(header)}
    for required in ("question", "answer"):
        if required not in lookup:
            errors.add(
                f"The header row has no {required.title()} column (found: "
                f"{', '.join(header)}).",
                target="line 1",
            )
    unknown = [h for h in header if h.lower() not in {c.lower() for c in TSV_COLUMNS}]
    if unknown:
        errors.add(f"Unknown column(s): {', '.join(unknown)}.", target="line 1")
    errors.raise_if_any("The QnA TSV file is invalid")

    groups: dict[Any, dict[str, Any]] = {}
    order: list[Any] = []
    for lineno, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        cells = line.split("\t")
        target = f"line {lineno}"
        if len(cells) != len(header):
            errors.add(
                f"Expected {len(header)} tab-separated columns, found {len(cells)}.",
                target=target,
            )
            continue

        def cell(name: str, cells: list[str] = cells) -> str:
            i = lookup.get(name.lower())
            return cells[i].strip() if i is not None else ""

        question = cell("Question")
        answer = _unescape(cell("Answer"))
        if not question or not answer:
            errors.add("Question and Answer must not be empty.", target=target)
            continue
        metadata: dict[str, str] = {}
        for pair in filter(None, cell("Metadata").split("|")):
            meta_key, sep, meta_value = pair.partition(":")
            if not sep or not meta_key.strip() or not meta_value.strip():
                errors.add(
                    f"Metadata {pair!r} is not key:value (pairs are separated by '|').",
                    target=target,
                )
                continue
            metadata[meta_key.strip()] = meta_value.strip()
        qna_id_text = cell("QnaId")
        if qna_id_text:
            if not qna_id_text.isdigit() or int(qna_id_text) < 1:
                errors.add(
                    f"QnaId {qna_id_text!r} is not a positive integer.", target=target
                )
                continue
            group_key: Any = int(qna_id_text)
        else:
            group_key = (answer, cell("Source"), tuple(sorted(metadata.items())))
        context_text = cell("IsContextOnly").lower()
        if context_text not in ("", "true", "false"):
            errors.add(
                f"IsContextOnly {context_text!r} is not True or False.", target=target
            )
            continue
        parsed_json: dict[str, list[Any]] = {}
        for column in ("Prompts", "SuggestedQuestions"):
            raw = cell(column)
            try:
                loaded: Any = json.loads(raw) if raw else []
            except json.JSONDecodeError as exc:
                errors.add(f"{column} is not valid JSON: {exc}.", target=target)
                loaded = []
            if not isinstance(loaded, list):
                errors.add(f"{column} must be a JSON array.", target=target)
                loaded = []
            parsed_json[column] = loaded
        if group_key not in groups:
            order.append(group_key)
            groups[group_key] = {
                "id": group_key if isinstance(group_key, int) else 0,
                "questions": [],
                "answer": answer,
                "source": cell("Source"),
                "metadata": metadata,
                "dialog": {
                    "isContextOnly": context_text == "true",
                    "prompts": _lower_keys(parsed_json["Prompts"]),
                },
                "activeLearningSuggestions": _suggestions_from_tsv(
                    parsed_json["SuggestedQuestions"]
                ),
                "_line": lineno,
            }
        group = groups[group_key]
        if question not in group["questions"]:
            group["questions"].append(question)
    errors.raise_if_any("The QnA TSV file is invalid")
    inline: list[tuple[str, Any]] = []
    records: list[QnaData] = []
    for key in order:
        group = groups[key]
        path = f"line {group.pop('_line')}"
        for prompt in group["dialog"]["prompts"]:
            if isinstance(prompt, dict) and prompt.get("qna") is None:
                prompt.pop("qna", None)
        record = parse_qna(group, path, errors, require_id=False, inline=inline)
        if record is not None:
            records.append(record)
    records = resolve_qnas(records, inline, errors, existing_ids=set())
    errors.raise_if_any("The QnA TSV file is invalid")
    return records


def qnas_to_tsv(qnas: list[Any]) -> str:
    out = ["\t".join(TSV_COLUMNS)]
    for qna in qnas:
        prompts = json.dumps(
            [
                {
                    "DisplayOrder": p["displayOrder"],
                    "QnaId": p["qnaId"],
                    "Qna": None,
                    "DisplayText": p["displayText"],
                }
                for p in qna.prompts
            ],
            separators=(",", ":"),
            ensure_ascii=False,
        )
        suggestions = json.dumps(
            [
                {
                    "ClusterHead": c.get("clusterHead", ""),
                    "AlternateQuestionList": [
                        {
                            "Question": q.get("question", ""),
                            "AutoSuggestedCount": q.get("autoSuggestedCount", 0),
                            "UserSuggestedCount": q.get("userSuggestedCount", 0),
                        }
                        for q in c.get("suggestedQuestions", [])
                    ],
                }
                for c in qna.active_learning_suggestions
            ],
            separators=(",", ":"),
            ensure_ascii=False,
        )
        metadata = "|".join(f"{k}:{val}" for k, val in qna.metadata.items())
        for question in qna.questions:
            out.append(
                "\t".join(
                    [
                        _escape(question),
                        _escape(qna.answer),
                        _escape(qna.source),
                        _escape(metadata),
                        suggestions,
                        "True" if qna.is_context_only else "False",
                        prompts,
                        str(qna.qna_id),
                    ]
                )
            )
    return "\n".join(out) + "\n"


def synonyms_to_tsv(groups: list[list[str]]) -> str:
    buffer = io.StringIO()
    buffer.write("Synonyms\n")
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    for group in groups:
        writer.writerow(group)
    return buffer.getvalue()
