"""Azure's exported-project JSON (azure-api.md §3.3) for Conversation and Orchestration.

Parsing turns an untrusted document into plain validated values (offsets converted to
code points) and collects every problem with its JSON path; it touches no database.
The services check what needs the database (link targets, existing rows) and write.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from projects import validators as v
from projects.formats._parse import (
    child,
    expect_bool,
    expect_dict,
    expect_list,
    expect_str,
)
from studio.errors import ErrorCollector, ErrorDetail
from studio.inputs import echo
from training.engine.offsets import (
    OffsetError,
    StringIndexType,
    from_code_points,
    parse_index_type,
    to_code_points,
)

if TYPE_CHECKING:
    from projects.models import Project

PROJECT_FILE_VERSION = "2022-05-01"
LINK_KEYS = {
    "Conversation": "conversationOrchestration",
    "QuestionAnswering": "questionAnsweringOrchestration",
    "Luis": "luisOrchestration",
    "Http": "httpOrchestration",
}
DEFAULT_QA_DEPLOYMENT = "production"
# What every read and export shows instead of an HTTP target's header values and key;
# sent back in a write, it keeps the stored value (projects/services/targets.py).
SECRET_MASK = "***"  # noqa: S105 - the placeholder shown instead of a secret


@dataclass
class LinkData:
    target_kind: str = ""  # "" = NonLinked
    project_name: str = ""
    deployment_name: str = ""
    luis_app_id: str = ""
    luis_app_version: str = ""
    luis_slot_name: str = ""
    http_url: str = ""
    http_headers: dict[str, str] = field(default_factory=dict)
    http_key: str = ""

    def model_fields(self) -> dict[str, Any]:
        return {
            "target_kind": self.target_kind,
            "target_project_name": self.project_name,
            "target_deployment_name": self.deployment_name,
            "luis_app_id": self.luis_app_id,
            "luis_app_version": self.luis_app_version,
            "luis_slot_name": self.luis_slot_name,
            "http_url": self.http_url,
            "http_headers": dict(self.http_headers),
            "http_key": self.http_key,
        }


@dataclass
class IntentData:
    name: str
    link: LinkData = field(default_factory=LinkData)
    path: str = ""


@dataclass
class EntityData:
    name: str
    composition_setting: str = "combineComponents"
    list_sublists: list[dict[str, Any]] = field(default_factory=list)
    prebuilts: list[str] = field(default_factory=list)
    regex_expressions: list[dict[str, str]] = field(default_factory=list)
    required_components: list[str] = field(default_factory=list)
    path: str = ""

    def model_fields(self) -> dict[str, Any]:
        return {
            "composition_setting": self.composition_setting,
            "list_sublists": self.list_sublists,
            "prebuilts": self.prebuilts,
            "regex_expressions": self.regex_expressions,
            "required_components": self.required_components,
        }


@dataclass
class SpanData:
    category: str
    offset: int  # code points
    length: int


@dataclass
class UtteranceData:
    text: str
    intent: str
    language: str = ""
    dataset: str | None = None
    spans: list[SpanData] = field(default_factory=list)
    path: str = ""


@dataclass
class MetadataData:
    name: str
    kind: str
    language: str
    multilingual: bool = False
    description: str = ""
    confidence_threshold: float = 0.0
    # settings.perIntentThresholds (our extension; absent in Azure's files: off).
    per_intent_thresholds: bool = False
    # metadata.lastModifiedDateTime: when the exported project last changed.
    source_modified_at: datetime | None = None


@dataclass
class ProjectDocument:
    metadata: MetadataData
    intents: list[IntentData]
    entities: list[EntityData]
    utterances: list[UtteranceData]
    warnings: list[ErrorDetail] = field(default_factory=list)


# ---------------------------------------------------------------- parsing pieces


def parse_link(obj: Any, path: str, errors: ErrorCollector) -> LinkData:
    """An intent's ``orchestration`` object; ``None`` means NonLinked."""
    if obj is None:
        return LinkData()
    data = expect_dict(obj, path, errors)
    if data is None:
        return LinkData()
    kind = data.get("targetProjectKind")
    if kind in (None, "", "NonLinked"):
        return LinkData()
    if kind not in LINK_KEYS:
        errors.add(
            f"{path}.targetProjectKind {kind!r} is not one of "
            f"{', '.join(LINK_KEYS)} or NonLinked.",
            target=child(path, "targetProjectKind"),
        )
        return LinkData()
    key = LINK_KEYS[kind]
    target_path = child(path, key)
    target = expect_dict(data.get(key), target_path, errors)
    if target is None:
        return LinkData()
    link = LinkData(target_kind=kind)
    if kind in ("Conversation", "QuestionAnswering"):
        pname_path = child(target_path, "projectName")
        pname = expect_str(target.get("projectName"), pname_path, errors)
        if pname is not None:
            if (msg := v.project_name_error(pname)) is not None:
                errors.add(msg, target=pname_path)
            link.project_name = pname
        dep_path = child(target_path, "deploymentName")
        default = DEFAULT_QA_DEPLOYMENT if kind == "QuestionAnswering" else None
        dep = target.get("deploymentName", default)
        dep_name = expect_str(dep, dep_path, errors, max_length=v.MAX_NAME_LENGTH)
        if dep_name is not None:
            if dep_name.lower() == "swap" or (v.project_name_error(dep_name)):
                errors.add(f"Deployment name {dep_name!r} is invalid.", target=dep_path)
            link.deployment_name = dep_name
    elif kind == "Luis":
        for attr, key_name in (
            ("luis_app_id", "appId"),
            ("luis_app_version", "appVersion"),
            ("luis_slot_name", "slotName"),
        ):
            required = key_name == "appId"
            value = expect_str(
                target.get(key_name),
                child(target_path, key_name),
                errors,
                required=required,
                max_length=100,
            )
            setattr(link, attr, value or "")
    else:
        url_path = child(target_path, "url")
        url = target.get("url")
        if (msg := v.http_url_error(url)) is not None:
            errors.add(msg, target=url_path)
        else:
            link.http_url = str(url)
        headers = target.get("headers") or {}
        hdr_path = child(target_path, "headers")
        if not isinstance(headers, dict) or not all(
            isinstance(k, str) and isinstance(val, str) and k.strip()
            for k, val in headers.items()
        ):
            errors.add(f"{hdr_path} must map header names to strings.", target=hdr_path)
        elif (msg := v.http_headers_error(headers)) is not None:
            errors.add(msg, target=hdr_path)
        else:
            link.http_headers = dict(headers)
        key_value = expect_str(
            target.get("key"),
            child(target_path, "key"),
            errors,
            required=False,
            max_length=255,
        )
        link.http_key = key_value or ""
    return link


def parse_intent(
    obj: Any, path: str, errors: ErrorCollector, *, project_kind: str
) -> IntentData | None:
    data = expect_dict(obj, path, errors)
    if data is None:
        return None
    name = data.get("category")
    if (msg := v.label_name_error(name, what="Intent")) is not None:
        errors.add(msg, target=child(path, "category"))
        return None
    link = LinkData()
    if data.get("orchestration") is not None:
        if project_kind != "Orchestration":
            errors.add(
                "Only intents of Orchestration projects can link to a target.",
                target=child(path, "orchestration"),
            )
        else:
            link = parse_link(
                data["orchestration"], child(path, "orchestration"), errors
            )
    return IntentData(name=str(name), link=link, path=path)


def _parse_sublists(
    obj: Any, path: str, errors: ErrorCollector
) -> tuple[list[dict[str, Any]], int]:
    data = expect_dict(obj, path, errors)
    if data is None:
        return [], 0
    sublists_path = child(path, "sublists")
    out: list[dict[str, Any]] = []
    keys: set[str] = set()
    count = 0
    for i, sub in enumerate(expect_list(data.get("sublists"), sublists_path, errors)):
        sub_path = child(sublists_path, i)
        sub_data = expect_dict(sub, sub_path, errors)
        if sub_data is None:
            continue
        key = expect_str(
            sub_data.get("listKey"), child(sub_path, "listKey"), errors, max_length=500
        )
        if key is None:
            continue
        if key in keys:
            errors.add(
                f"listKey {key!r} is repeated.", target=child(sub_path, "listKey")
            )
        keys.add(key)
        synonyms: list[dict[str, Any]] = []
        syn_path = child(sub_path, "synonyms")
        for j, syn in enumerate(
            expect_list(sub_data.get("synonyms"), syn_path, errors)
        ):
            one_path = child(syn_path, j)
            syn_data = expect_dict(syn, one_path, errors)
            if syn_data is None:
                continue
            language = syn_data.get("language")
            if (msg := v.language_error(language)) is not None:
                errors.add(msg, target=child(one_path, "language"))
                continue
            values_path = child(one_path, "values")
            values: list[str] = []
            for k, value in enumerate(
                expect_list(syn_data.get("values"), values_path, errors)
            ):
                text = expect_str(value, child(values_path, k), errors, max_length=500)
                if text is not None:
                    values.append(text)
            count += len(values)
            synonyms.append({"language": language, "values": values})
        out.append({"listKey": key, "synonyms": synonyms})
    return out, count


def parse_entity(
    obj: Any,
    path: str,
    errors: ErrorCollector,
    *,
    catalog: Callable[[str], bool] | None,
) -> EntityData | None:
    data = expect_dict(obj, path, errors)
    if data is None:
        return None
    name = data.get("category")
    if (msg := v.label_name_error(name, what="Entity")) is not None:
        errors.add(msg, target=child(path, "category"))
        return None
    entity = EntityData(name=str(name), path=path)
    setting = data.get("compositionSetting")
    if setting is not None:
        if setting not in v.COMPOSITION_SETTINGS:
            errors.add(
                f"compositionSetting {setting!r} is not one of "
                f"{', '.join(v.COMPOSITION_SETTINGS)}.",
                target=child(path, "compositionSetting"),
            )
        else:
            entity.composition_setting = setting
    # Some exports carry the list component under "entities" instead of "list".
    list_obj, list_key = data.get("list"), "list"
    if list_obj is None and isinstance(data.get("entities"), dict):
        list_obj, list_key = data["entities"], "entities"
    elif list_obj is not None and data.get("entities") is not None:
        errors.add(
            "The list component is given twice, under 'list' and 'entities'.",
            target=child(path, "entities"),
        )
    if list_obj is not None:
        entity.list_sublists, count = _parse_sublists(
            list_obj, child(path, list_key), errors
        )
        if count > v.MAX_LIST_SYNONYMS_PER_ENTITY:
            errors.add(
                f"Entity {name!r} has {count} list synonyms; the limit is "
                f"{v.MAX_LIST_SYNONYMS_PER_ENTITY}.",
                target=child(path, list_key),
            )
    pre_path = child(path, "prebuilts")
    prebuilts = expect_list(data.get("prebuilts"), pre_path, errors)
    if len(prebuilts) > v.MAX_PREBUILTS_PER_ENTITY:
        errors.add(
            f"Entity {name!r} has {len(prebuilts)} prebuilt components; the limit is "
            f"{v.MAX_PREBUILTS_PER_ENTITY}.",
            target=pre_path,
        )
    for i, pre in enumerate(prebuilts):
        item_path = child(pre_path, i)
        pre_data = expect_dict(pre, item_path, errors)
        if pre_data is None:
            continue
        category = pre_data.get("category")
        if (msg := v.prebuilt_error(category, catalog)) is not None:
            errors.add(msg, target=child(item_path, "category"))
        elif category in entity.prebuilts:
            errors.add(
                f"Prebuilt {category!r} is repeated.",
                target=child(item_path, "category"),
            )
        else:
            entity.prebuilts.append(str(category))
    regex_obj = data.get("regex")
    if regex_obj is not None:
        regex_path = child(path, "regex")
        regex_data = expect_dict(regex_obj, regex_path, errors)
        exp_path = child(regex_path, "expressions")
        keys: set[str] = set()
        for i, exp in enumerate(
            expect_list((regex_data or {}).get("expressions"), exp_path, errors)
        ):
            item_path = child(exp_path, i)
            exp_data = expect_dict(exp, item_path, errors)
            if exp_data is None:
                continue
            key = expect_str(
                exp_data.get("regexKey"), child(item_path, "regexKey"), errors
            )
            language = exp_data.get("language")
            pattern = exp_data.get("regexPattern")
            ok = key is not None
            if key is not None and key in keys:
                errors.add(
                    f"regexKey {key!r} is repeated.",
                    target=child(item_path, "regexKey"),
                )
                ok = False
            if (msg := v.language_error(language)) is not None:
                errors.add(msg, target=child(item_path, "language"))
                ok = False
            if (msg := v.regex_pattern_error(pattern)) is not None:
                errors.add(msg, target=child(item_path, "regexPattern"))
                ok = False
            if ok and key is not None:
                keys.add(key)
                entity.regex_expressions.append(
                    {
                        "regexKey": key,
                        "language": str(language),
                        "regexPattern": str(pattern),
                    }
                )
    req_path = child(path, "requiredComponents")
    for i, comp in enumerate(
        expect_list(data.get("requiredComponents"), req_path, errors)
    ):
        if comp not in v.ENTITY_COMPONENTS:
            errors.add(
                f"requiredComponents item {comp!r} is not one of "
                f"{', '.join(v.ENTITY_COMPONENTS)}.",
                target=child(req_path, i),
            )
        elif comp in entity.required_components:
            errors.add(f"{comp!r} is repeated.", target=child(req_path, i))
        else:
            entity.required_components.append(comp)
    return entity


def parse_utterance(
    obj: Any,
    path: str,
    errors: ErrorCollector,
    *,
    project_kind: str,
    index_type: StringIndexType,
) -> UtteranceData | None:
    """One utterance; ``intent`` and span categories are checked by the caller."""
    data = expect_dict(obj, path, errors)
    if data is None:
        return None
    text = data.get("text")
    if (msg := v.utterance_text_error(text)) is not None:
        errors.add(msg, target=child(path, "text"))
        return None
    assert isinstance(text, str)  # noqa: S101 - narrowed by utterance_text_error
    intent = data.get("intent")
    if (msg := v.label_name_error(intent, what="Intent")) is not None:
        errors.add(msg, target=child(path, "intent"))
        return None
    utterance = UtteranceData(text=text, intent=str(intent), path=path)
    language = data.get("language")
    if language is not None:
        if (msg := v.language_error(language)) is not None:
            errors.add(msg, target=child(path, "language"))
        else:
            utterance.language = str(language)
    dataset = data.get("dataset")
    if (msg := v.dataset_error(dataset)) is not None:
        errors.add(msg, target=child(path, "dataset"))
    else:
        utterance.dataset = dataset
    ents_path = child(path, "entities")
    entities = expect_list(data.get("entities"), ents_path, errors)
    if entities and project_kind != "Conversation":
        errors.add(
            "Only utterances of Conversation projects carry entity labels.",
            target=ents_path,
        )
        return utterance
    raw: list[tuple[str, int, int]] = []
    ok = True
    for i, ent in enumerate(entities):
        ent_path = child(ents_path, i)
        ent_data = expect_dict(ent, ent_path, errors)
        if ent_data is None:
            ok = False
            continue
        category = ent_data.get("category")
        if (msg := v.label_name_error(category, what="Entity")) is not None:
            errors.add(msg, target=child(ent_path, "category"))
            ok = False
            continue
        offset, length = ent_data.get("offset"), ent_data.get("length")
        bad = None
        for key, value in (("offset", offset), ("length", length)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                bad = key
                errors.add(
                    f"{key} {value!r} must be a non-negative integer.",
                    target=child(ent_path, key),
                )
                break
        if bad is not None:
            ok = False
            continue
        assert isinstance(offset, int) and isinstance(length, int)  # noqa: S101
        if length == 0:
            errors.add("length must be at least 1.", target=child(ent_path, "length"))
            ok = False
            continue
        try:
            cp_offset, cp_length = to_code_points(text, offset, length, index_type)
        except OffsetError as exc:
            errors.add(
                f"Entity {category!r} at {offset}+{length} ({index_type}) does not "
                f"fit the text {text!r}: {exc}.",
                target=child(ent_path, "offset"),
            )
            ok = False
            continue
        raw.append((str(category), cp_offset, cp_length))
    if ok:
        problem = v.spans_error(text, raw)
        if problem is not None:
            index, msg = problem
            errors.add(msg, target=child(child(ents_path, index), "offset"))
            return utterance
    utterance.spans = [SpanData(c, o, n) for c, o, n in raw]
    return utterance


def parse_metadata(
    obj: Any, path: str, errors: ErrorCollector, *, name: str
) -> MetadataData | None:
    data = expect_dict(obj, path, errors)
    if data is None:
        return None
    kind = data.get("projectKind")
    if kind not in ("Conversation", "Orchestration"):
        errors.add(
            f"projectKind {kind!r} is not one of Conversation, Orchestration.",
            target=child(path, "projectKind"),
        )
    language = data.get("language")
    if (msg := v.language_error(language)) is not None:
        errors.add(msg, target=child(path, "language"))
    description = expect_str(
        data.get("description"),
        child(path, "description"),
        errors,
        required=False,
        allow_empty=True,
        max_length=v.MAX_DESCRIPTION_LENGTH,
    )
    multilingual = expect_bool(
        data.get("multilingual"), child(path, "multilingual"), errors, default=False
    )
    threshold = 0.0
    per_intent = False
    settings = data.get("settings")
    if settings is not None:
        settings_data = expect_dict(settings, child(path, "settings"), errors)
        if settings_data is not None and "confidenceThreshold" in settings_data:
            value = settings_data["confidenceThreshold"]
            if (msg := v.confidence_threshold_error(value)) is not None:
                errors.add(msg, target=child(path, "settings.confidenceThreshold"))
            else:
                threshold = float(value)
        if settings_data is not None and "perIntentThresholds" in settings_data:
            per_intent = expect_bool(
                settings_data["perIntentThresholds"],
                child(path, "settings.perIntentThresholds"),
                errors,
                default=False,
            )
    stamp = data.get("lastModifiedDateTime")
    source_modified_at = None
    if stamp is not None:
        source_modified_at = parse_stamp(stamp)
        if source_modified_at is None:
            errors.add(
                f"lastModifiedDateTime {echo(stamp)} is not a date and time with a "
                "time zone (ISO 8601, e.g. 2026-12-06T13:20:00.000000Z).",
                target=child(path, "lastModifiedDateTime"),
            )
    if errors:
        return None
    return MetadataData(
        name=name,
        kind=str(kind),
        language=str(language),
        multilingual=multilingual,
        description=description or "",
        confidence_threshold=threshold,
        per_intent_thresholds=bool(per_intent),
        source_modified_at=source_modified_at,
    )


def parse_stamp(value: Any) -> datetime | None:
    """An aware datetime from an ISO 8601 string with a time zone, else None."""
    if not isinstance(value, str) or len(value) > 40:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed.astimezone(UTC) if parsed.tzinfo is not None else None


def format_stamp(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def export_stamp(project: Project) -> datetime:
    """The ``lastModifiedDateTime`` an export carries: when the content last
    changed. A copy imported from a stamped export and not changed since carries
    its source's stamp, so exporting it again gives the same document and
    comparing stamps tells copies that drifted (projects/README.md)."""
    if (
        project.source_modified_at is not None
        and project.imported_at == project.last_modified_at
    ):
        return project.source_modified_at
    return project.last_modified_at


# ---------------------------------------------------------------- whole document


def _check_count(
    items: list[Any], path: str, what: str, limit: int, errors: ErrorCollector
) -> bool:
    """Whether ``items`` is within ``limit`` (an error on ``path`` when not)."""
    if len(items) <= limit:
        return True
    errors.add(
        f"The project has {len(items)} {what}; the limit is {limit}.", target=path
    )
    return False


def _unique_by_name[Named: (IntentData, EntityData)](
    raw: list[Any],
    path: str,
    label: str,
    parse: Callable[[Any, str], Named | None],
    errors: ErrorCollector,
) -> list[Named]:
    """The parsed items; a name defined twice is an error on the second."""
    out: list[Named] = []
    seen: dict[str, str] = {}  # name_key -> the name first defined with it
    for i, obj in enumerate(raw):
        item = parse(obj, f"{path}[{i}]")
        if item is None:
            continue
        key = v.name_key(item.name)
        if key in seen:
            first = seen[key]
            errors.add(
                f"{label} {echo(item.name)} is defined more than once."
                if first == item.name
                else v.lookalike_error(item.name, first, what=label),
                target=f"{path}[{i}].category",
            )
            continue
        seen[key] = item.name
        out.append(item)
    return out


def parse_project_document(
    document: Any, *, name: str, catalog: Callable[[str], bool] | None
) -> ProjectDocument:
    """Validate a whole exported project; raise ``InvalidArgument`` naming every
    offending item by its JSON path."""
    errors = ErrorCollector()
    warnings: list[ErrorDetail] = []
    root = expect_dict(document, "", errors, what="a JSON object (an exported project)")
    if root is None:
        errors.raise_if_any("The project file is invalid")
        raise AssertionError("unreachable")
    expect_str(root.get("projectFileVersion"), "projectFileVersion", errors)
    # Azure reads a document without stringIndexType as Utf16CodeUnit (the
    # encoding of every Azure export), so a missing one is that default.
    index_type = StringIndexType.UTF16_CODE_UNIT
    if "stringIndexType" in root:
        try:
            index_type = parse_index_type(root["stringIndexType"])
        except OffsetError as exc:
            errors.add(str(exc), target="stringIndexType")
    if "metadata" not in root:
        errors.add("metadata is required.", target="metadata")
    if "assets" not in root:
        errors.add("assets is required.", target="assets")
    meta_errors = ErrorCollector()
    metadata = (
        parse_metadata(root["metadata"], "metadata", meta_errors, name=name)
        if "metadata" in root
        else None
    )
    errors.details.extend(meta_errors.details)
    if metadata is not None:
        doc_name = root["metadata"].get("projectName")
        if doc_name is not None and doc_name != name:
            warnings.append(
                ErrorDetail(
                    "Warning",
                    f"metadata.projectName {doc_name!r} differs from the project "
                    f"name {name!r}; the project is imported as {name!r}.",
                    "metadata.projectName",
                )
            )
    assets = (
        expect_dict(root.get("assets"), "assets", errors) if "assets" in root else None
    )
    if assets is None or metadata is None:
        errors.raise_if_any("The project file is invalid")
        raise AssertionError("unreachable")
    kind = metadata.kind
    if assets.get("projectKind") != kind:
        errors.add(
            f"assets.projectKind {assets.get('projectKind')!r} must equal "
            f"metadata.projectKind {kind!r}.",
            target="assets.projectKind",
        )

    raw_intents = expect_list(assets.get("intents"), "assets.intents", errors)
    _check_count(
        raw_intents, "assets.intents", "intents", v.MAX_INTENTS_PER_PROJECT, errors
    )
    intents = _unique_by_name(
        raw_intents,
        "assets.intents",
        "Intent",
        lambda obj, path: parse_intent(obj, path, errors, project_kind=kind),
        errors,
    )
    intent_names = {i.name for i in intents}
    if "None" not in intent_names:
        intents.insert(0, IntentData(name="None"))

    raw_entities = expect_list(assets.get("entities"), "assets.entities", errors)
    if kind == "Orchestration" and raw_entities:
        errors.add("Orchestration projects have no entities.", target="assets.entities")
        raw_entities = []
    _check_count(
        raw_entities, "assets.entities", "entities", v.MAX_ENTITIES_PER_PROJECT, errors
    )
    entities = _unique_by_name(
        raw_entities,
        "assets.entities",
        "Entity",
        lambda obj, path: parse_entity(obj, path, errors, catalog=catalog),
        errors,
    )
    entity_names = {e.name for e in entities}
    regex_count = sum(len(e.regex_expressions) for e in entities)
    if regex_count > v.MAX_REGEX_PER_PROJECT:
        errors.add(
            f"The project has {regex_count} regular expressions; the limit is "
            f"{v.MAX_REGEX_PER_PROJECT}.",
            target="assets.entities",
        )

    utterances: list[UtteranceData] = []
    raw_utterances = expect_list(assets.get("utterances"), "assets.utterances", errors)
    if not _check_count(
        raw_utterances,
        "assets.utterances",
        "utterances",
        v.MAX_UTTERANCES_PER_PROJECT,
        errors,
    ):
        raw_utterances = []
    for i, obj in enumerate(raw_utterances):
        path = f"assets.utterances[{i}]"
        utterance = parse_utterance(
            obj, path, errors, project_kind=kind, index_type=index_type
        )
        if utterance is None:
            continue
        if utterance.intent not in intent_names and utterance.intent != "None":
            errors.add(
                f"Utterance refers to intent {utterance.intent!r}, which is not in "
                "assets.intents.",
                target=f"{path}.intent",
            )
        for j, span in enumerate(utterance.spans):
            if span.category not in entity_names:
                errors.add(
                    f"Utterance labels entity {span.category!r}, which is not in "
                    "assets.entities.",
                    target=f"{path}.entities[{j}].category",
                )
        utterances.append(utterance)
    errors.raise_if_any("The project file is invalid")
    return ProjectDocument(metadata, intents, entities, utterances, warnings)


# ---------------------------------------------------------------- export


def link_as_azure(link: LinkData) -> dict[str, Any] | None:
    if not link.target_kind:
        return None
    body: dict[str, Any] = {"targetProjectKind": link.target_kind}
    key = LINK_KEYS[link.target_kind]
    if link.target_kind == "Conversation":
        body[key] = {
            "projectName": link.project_name,
            "deploymentName": link.deployment_name,
        }
    elif link.target_kind == "QuestionAnswering":
        body[key] = {"projectName": link.project_name}
        if link.deployment_name != DEFAULT_QA_DEPLOYMENT:
            body[key]["deploymentName"] = link.deployment_name
    elif link.target_kind == "Luis":
        body[key] = {"appId": link.luis_app_id}
        if link.luis_app_version:
            body[key]["appVersion"] = link.luis_app_version
        if link.luis_slot_name:
            body[key]["slotName"] = link.luis_slot_name
    else:
        # Header values and the key are write-only: never shown, whatever holds them.
        body[key] = {"url": link.http_url}
        if link.http_headers:
            body[key]["headers"] = dict.fromkeys(link.http_headers, SECRET_MASK)
        if link.http_key:
            body[key]["key"] = SECRET_MASK
    return body


def document_mask_secrets(document: dict[str, Any]) -> dict[str, Any]:
    """Mask the HTTP target secrets of an exported document in place (snapshots
    written before secrets were masked hold them in plain text)."""
    for intent in document.get("assets", {}).get("intents") or ():
        target = (intent.get("orchestration") or {}).get(LINK_KEYS["Http"])
        if not isinstance(target, dict):
            continue
        if isinstance(target.get("headers"), dict):
            target["headers"] = dict.fromkeys(target["headers"], SECRET_MASK)
        if target.get("key"):
            target["key"] = SECRET_MASK
    return document


def metadata_as_azure(project: Project) -> dict[str, Any]:
    settings: dict[str, Any] = {"confidenceThreshold": project.confidence_threshold}
    if project.per_intent_thresholds:
        # Extension (not in Azure's contract), so only when on: Azure's files and
        # tools never see it otherwise.
        settings["perIntentThresholds"] = True
    return {
        "projectKind": project.kind,
        "settings": settings,
        "projectName": project.name,
        "multilingual": project.multilingual,
        "description": project.description,
        "language": project.language,
    }


def export_document(project: Project, *, index_type: StringIndexType) -> dict[str, Any]:
    """The project as Azure's exported JSON; lists keep insertion order, so exporting
    what was imported gives the same document."""
    from projects.models import EntitySpan

    intents = list(project.intents.all())
    intent_names = {i.pk: i.name for i in intents}
    entities = list(project.entities.all())
    entity_names = {e.pk: e.name for e in entities}
    kind = project.kind
    intents_out: list[dict[str, Any]] = []
    for intent in intents:
        item: dict[str, Any] = {"category": intent.name}
        link = link_as_azure(intent_link(intent))
        if link is not None:
            item["orchestration"] = link
        intents_out.append(item)
    entities_out: list[dict[str, Any]] = []
    for entity in entities:
        body: dict[str, Any] = {
            "category": entity.name,
            "compositionSetting": entity.composition_setting,
        }
        if entity.list_sublists:
            body["list"] = {"sublists": entity.list_sublists}
        if entity.prebuilts:
            body["prebuilts"] = [{"category": c} for c in entity.prebuilts]
        if entity.regex_expressions:
            body["regex"] = {"expressions": entity.regex_expressions}
        if entity.required_components:
            body["requiredComponents"] = entity.required_components
        entities_out.append(body)
    spans_by_utterance: dict[int, list[tuple[int, int, int]]] = {}
    if kind == "Conversation":
        for utterance_id, entity_id, offset, length in (
            EntitySpan.objects.filter(utterance__project=project)
            .order_by("utterance_id", "id")
            .values_list("utterance_id", "entity_id", "offset", "length")
        ):
            spans_by_utterance.setdefault(utterance_id, []).append(
                (entity_id, offset, length)
            )
    utterances_out: list[dict[str, Any]] = []
    for pk, text, intent_id, language, dataset in project.utterances.order_by(
        "id"
    ).values_list("pk", "text", "intent_id", "language", "dataset"):
        u: dict[str, Any] = {"text": text}
        if language:
            u["language"] = language
        u["intent"] = intent_names[intent_id]
        if kind == "Conversation":
            ents = []
            for entity_id, offset, length in spans_by_utterance.get(pk, []):
                o, n = from_code_points(text, offset, length, index_type)
                ents.append(
                    {"category": entity_names[entity_id], "offset": o, "length": n}
                )
            u["entities"] = ents
        if dataset:
            u["dataset"] = dataset
        utterances_out.append(u)
    assets: dict[str, Any] = {"projectKind": kind, "intents": intents_out}
    if kind == "Conversation":
        assets["entities"] = entities_out
    assets["utterances"] = utterances_out
    return {
        "projectFileVersion": PROJECT_FILE_VERSION,
        "stringIndexType": str(index_type),
        "metadata": {
            **metadata_as_azure(project),
            "lastModifiedDateTime": format_stamp(export_stamp(project)),
        },
        "assets": assets,
    }


def intent_link(intent: Any) -> LinkData:
    return LinkData(
        target_kind=intent.target_kind,
        project_name=intent.target_project_name,
        deployment_name=intent.target_deployment_name,
        luis_app_id=intent.luis_app_id,
        luis_app_version=intent.luis_app_version,
        luis_slot_name=intent.luis_slot_name,
        http_url=intent.http_url,
        http_headers=dict(intent.http_headers or {}),
        http_key=intent.http_key,
    )
