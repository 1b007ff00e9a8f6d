"""Beyond Azure: fine-grained authoring CRUD under ``/api/v1/`` (intents, entities,
single and bulk utterances, knowledge-base QnAs).

Our own REST design, with the same key authentication and Azure's error body, but no
``api-version``. Intent and entity bodies use the shapes of Azure's exported project
(``category``, ``orchestration``, ``list``/``prebuilts``/``regex``...), so what a user
exports can be posted here unchanged. Utterance offsets are in the ``stringIndexType``
query parameter's units (default ``Utf16CodeUnit``, like Azure's exports); inside the
studio they are code points. Every write is one service call and is atomic.

Intents, entities, utterances and QnAs carry an ``ETag`` (their row version);
``PATCH`` and ``DELETE`` honour ``If-Match`` (412 ``PreconditionFailed`` when someone
else changed the resource since), and a ``PATCH`` writes only the fields its body
names, onto the resource as stored when its turn comes.
"""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from projects import services
from projects.apis.base import READ_WRITE, ProjectApiView
from projects.formats.conversation import intent_link, link_as_azure
from projects.formats.qna import qna_as_azure
from projects.models import Entity, Intent, Project, Utterance
from projects.selectors import authoring as selectors
from studio.api.conditional import if_match_versions, with_etag
from studio.api.paging import paged_response
from studio.api.tokens import BearerToken
from studio.errors import InvalidArgument, InvalidRequest
from studio.inputs import echo
from studio.models import ApiKey
from training.engine.offsets import (
    OffsetError,
    StringIndexType,
    from_code_points,
    parse_index_type,
)

LABELED_KINDS = (Project.Kind.CONVERSATION, Project.Kind.ORCHESTRATION)
KB_KINDS = (Project.Kind.QUESTION_ANSWERING,)
DEFAULT_INDEX_TYPE = StringIndexType.UTF16_CODE_UNIT
TAGS = ["fine-grained authoring (v1)"]

PROJECT_NAME = OpenApiParameter(
    "project_name", str, OpenApiParameter.PATH, description="Name of the project."
)
INDEX_TYPE = OpenApiParameter(
    "stringIndexType", str, enum=[t.value for t in StringIndexType]
)
IF_MATCH = OpenApiParameter(
    "If-Match",
    str,
    OpenApiParameter.HEADER,
    description=(
        "An ETag from a previous response: the write happens only if the resource "
        "is still at that version, else 412 PreconditionFailed."
    ),
)
PAGING = [
    OpenApiParameter("top", int),
    OpenApiParameter("skip", int),
    OpenApiParameter("maxpagesize", int),
]
UTTERANCE_FILTERS = [
    OpenApiParameter("intent", str),
    OpenApiParameter("dataset", str, enum=["Train", "Test", "unassigned"]),
    OpenApiParameter("search", str, description="Case-insensitive text contains."),
    OpenApiParameter("hasEntities", bool),
]


# The OpenAPI operations of a resource: read, create, and the writes that honour
# If-Match (412 when the resource changed since the ETag the client sent).


def read_schema(operation_id: str, *parameters: OpenApiParameter) -> Any:
    return extend_schema(
        operation_id=operation_id,
        parameters=[PROJECT_NAME, *parameters],
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
    )


def create_schema(operation_id: str) -> Any:
    return extend_schema(
        operation_id=operation_id,
        parameters=[PROJECT_NAME],
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT},
        tags=TAGS,
    )


def conditional_update_schema(operation_id: str, *parameters: OpenApiParameter) -> Any:
    return extend_schema(
        operation_id=operation_id,
        parameters=[PROJECT_NAME, *parameters, IF_MATCH],
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT, 412: OpenApiTypes.OBJECT},
        tags=TAGS,
    )


def conditional_delete_schema(operation_id: str) -> Any:
    return extend_schema(
        operation_id=operation_id,
        parameters=[PROJECT_NAME, IF_MATCH],
        responses={204: None, 412: OpenApiTypes.OBJECT},
        tags=TAGS,
    )


class V1ApiView(ProjectApiView):
    require_api_version = False
    project_actions = READ_WRITE


def index_type(request: Request) -> StringIndexType:
    raw = request.query_params.get("stringIndexType")
    if not raw:
        return DEFAULT_INDEX_TYPE
    try:
        return parse_index_type(raw)
    except OffsetError as exc:
        raise InvalidArgument(str(exc), target="stringIndexType") from None


def _labeled(name: str) -> Project:
    return selectors.project_get(name=name, kinds=LABELED_KINDS)


def request_labeler(request: Request) -> services.Labeler:
    """The key's owner (or the token's user), or the key itself when it is a
    resource key."""
    if isinstance(request.auth, BearerToken):
        return services.Labeler.of_user(request.auth.user)
    assert isinstance(request.auth, ApiKey)  # noqa: S101 - ProjectApiView requires one
    return services.Labeler.of_key(request.auth)


def _flag(request: Request, name: str) -> bool | None:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return None
    if raw.lower() in ("true", "1"):
        return True
    if raw.lower() in ("false", "0"):
        return False
    raise InvalidArgument(
        f"Query parameter {name!r} must be true or false; got {echo(raw)}.", target=name
    )


def _object_list(request: Request, key: str) -> list[Any]:
    """A JSON array body, or ``{key: [...]}``."""
    data = request.data
    if isinstance(data, dict) and key in data:
        data = data[key]
    if not isinstance(data, list) or not data:
        raise InvalidRequest(
            f"The request body must be a non-empty JSON array (or {{{key!r}: [...]}}).",
            inner_code="EmptyRequest",
        )
    return data


# --- rendering -------------------------------------------------------------------


def intent_as_v1(
    intent: Intent, kind: str, counts: dict[str, int] | None = None
) -> dict[str, Any]:
    """An intent as in Azure's export; orchestration intents always carry their
    ``orchestration`` object (``NonLinked`` when they route nowhere)."""
    body: dict[str, Any] = {"category": intent.name, "isBuiltin": intent.is_builtin}
    if kind == Project.Kind.ORCHESTRATION:
        link = link_as_azure(intent_link(intent))
        body["orchestration"] = link or {"targetProjectKind": "NonLinked"}
    if counts is not None:
        body["utteranceCounts"] = counts
    return body


def entity_as_v1(entity: Entity) -> dict[str, Any]:
    return {
        "category": entity.name,
        "compositionSetting": entity.composition_setting,
        "list": {"sublists": list(entity.list_sublists)},
        "prebuilts": [{"category": c} for c in entity.prebuilts],
        "regex": {"expressions": list(entity.regex_expressions)},
        "requiredComponents": list(entity.required_components),
    }


def utterance_as_v1(utterance: Utterance, units: StringIndexType) -> dict[str, Any]:
    text = utterance.text
    entities = []
    for span in utterance.spans.all():
        offset, length = from_code_points(text, span.offset, span.length, units)
        entities.append(
            {"category": span.entity.name, "offset": offset, "length": length}
        )
    return {
        "id": utterance.pk,
        "text": text,
        "intent": utterance.intent.name,
        "language": utterance.language,
        "dataset": utterance.dataset,
        "entities": entities,
        # Beyond Azure: in the deploy gate's golden set (PUT/DELETE .../golden/{id}).
        "golden": utterance.golden,
    }


# --- intents ---------------------------------------------------------------------


class IntentListApi(V1ApiView):
    @read_schema("v1_intents_list")
    def get(self, request: Request, project_name: str) -> Response:
        project = _labeled(project_name)
        rows = selectors.intent_list_with_counts(project=project)
        return Response({"value": [intent_as_v1(i, project.kind, c) for i, c in rows]})

    @create_schema("v1_intents_create")
    def post(self, request: Request, project_name: str) -> Response:
        project = _labeled(project_name)
        intent = services.intent_create(
            project=project,
            data=self.json_body(request),
            targets_allowed=self.project_allows(project_name, "admin"),
            actor=self.key_owner,
        )
        return with_etag(
            Response(intent_as_v1(intent, project.kind), status=201), intent.version
        )


class IntentApi(V1ApiView):
    @read_schema("v1_intents_get")
    def get(self, request: Request, project_name: str, name: str) -> Response:
        project = _labeled(project_name)
        intent = selectors.intent_get(project=project, name=name)
        counts = selectors.intent_utterance_counts(intent=intent)
        return with_etag(
            Response(intent_as_v1(intent, project.kind, counts)), intent.version
        )

    @conditional_update_schema("v1_intents_update")
    def patch(self, request: Request, project_name: str, name: str) -> Response:
        project = _labeled(project_name)
        intent = selectors.intent_get(project=project, name=name)
        intent = services.intent_update(
            intent=intent,
            data=self.json_body(request),
            targets_allowed=self.project_allows(project_name, "admin"),
            actor=self.key_owner,
            expected_versions=if_match_versions(request),
        )
        return with_etag(Response(intent_as_v1(intent, project.kind)), intent.version)

    @conditional_delete_schema("v1_intents_delete")
    def delete(self, request: Request, project_name: str, name: str) -> Response:
        project = _labeled(project_name)
        services.intent_delete(
            intent=selectors.intent_get(project=project, name=name),
            expected_versions=if_match_versions(request),
        )
        return Response(status=204)


# --- entities --------------------------------------------------------------------


class EntityListApi(V1ApiView):
    @read_schema("v1_entities_list")
    def get(self, request: Request, project_name: str) -> Response:
        project = _labeled(project_name)
        return Response(
            {"value": [entity_as_v1(e) for e in selectors.entity_list(project=project)]}
        )

    @create_schema("v1_entities_create")
    def post(self, request: Request, project_name: str) -> Response:
        project = _labeled(project_name)
        entity = services.entity_create(project=project, data=self.json_body(request))
        return with_etag(Response(entity_as_v1(entity), status=201), entity.version)


class EntityApi(V1ApiView):
    @read_schema("v1_entities_get")
    def get(self, request: Request, project_name: str, name: str) -> Response:
        project = _labeled(project_name)
        entity = selectors.entity_get(project=project, name=name)
        return with_etag(Response(entity_as_v1(entity)), entity.version)

    @conditional_update_schema("v1_entities_update")
    def patch(self, request: Request, project_name: str, name: str) -> Response:
        project = _labeled(project_name)
        entity = selectors.entity_get(project=project, name=name)
        entity = services.entity_update(
            entity=entity,
            data=self.json_body(request),
            expected_versions=if_match_versions(request),
        )
        return with_etag(Response(entity_as_v1(entity)), entity.version)

    @conditional_delete_schema("v1_entities_delete")
    def delete(self, request: Request, project_name: str, name: str) -> Response:
        project = _labeled(project_name)
        services.entity_delete(
            entity=selectors.entity_get(project=project, name=name),
            expected_versions=if_match_versions(request),
        )
        return Response(status=204)


# --- utterances ------------------------------------------------------------------


class UtteranceListApi(V1ApiView):
    @extend_schema(
        operation_id="v1_utterances_list",
        parameters=[PROJECT_NAME, INDEX_TYPE, *PAGING, *UTTERANCE_FILTERS],
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def get(self, request: Request, project_name: str) -> Response:
        project = _labeled(project_name)
        units = index_type(request)
        params = request.query_params
        dataset = params.get("dataset") or None
        if dataset not in (None, "Train", "Test", "unassigned"):
            raise InvalidArgument(
                f"dataset must be Train, Test or unassigned; got {echo(dataset)}.",
                target="dataset",
            )
        utterances = selectors.utterance_list(
            project=project,
            search=params.get("search") or None,
            intent=params.get("intent") or None,
            dataset=dataset,
            has_entities=_flag(request, "hasEntities"),
        )
        return paged_response(request, utterances, lambda u: utterance_as_v1(u, units))

    @extend_schema(
        operation_id="v1_utterances_create",
        parameters=[PROJECT_NAME, INDEX_TYPE],
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT},
        tags=TAGS,
        description="One utterance object, or a JSON array of them (atomic).",
    )
    def post(self, request: Request, project_name: str) -> Response:
        project = _labeled(project_name)
        units = index_type(request)
        if isinstance(request.data, list):
            created = services.utterances_bulk_create(
                project=project,
                items=_object_list(request, "value"),
                string_index_type=units,
                labeled_by=request_labeler(request),
            )
            rows = selectors.utterances_prefetch_labels(utterances=created)
            return Response(
                {"value": [utterance_as_v1(u, units) for u in rows]}, status=201
            )
        utterance = services.utterance_create(
            project=project,
            data=self.json_body(request),
            string_index_type=units,
            labeled_by=request_labeler(request),
        )
        return with_etag(
            Response(utterance_as_v1(utterance, units), status=201), utterance.version
        )


class UtteranceImportApi(V1ApiView):
    @extend_schema(
        operation_id="v1_utterances_import",
        parameters=[PROJECT_NAME],
        request={"application/json": {"type": "array", "items": {"type": "object"}}},
        responses={201: OpenApiTypes.OBJECT},
        tags=TAGS,
        description=(
            "The flat CLU utterance list ([{text, intent, language, dataset, "
            "entities}]); all or nothing: every item is checked first, then the "
            "rows go in short transactions (a failure removes them again). 409 "
            "while an import, upload or deletion of the project runs."
        ),
    )
    def post(self, request: Request, project_name: str) -> Response:
        project = _labeled(project_name)
        data = request.data
        if not isinstance(data, list):
            raise InvalidRequest("The request body must be a JSON array of utterances.")
        count = services.utterances_import(
            project=project, document=data, string_index_type=index_type(request)
        )
        return Response({"imported": count}, status=201)


class UtteranceApi(V1ApiView):
    @read_schema("v1_utterances_get", INDEX_TYPE)
    def get(self, request: Request, project_name: str, utterance_id: int) -> Response:
        project = _labeled(project_name)
        utterance = selectors.utterance_get(project=project, pk=utterance_id)
        return with_etag(
            Response(utterance_as_v1(utterance, index_type(request))), utterance.version
        )

    @conditional_update_schema("v1_utterances_update", INDEX_TYPE)
    def patch(self, request: Request, project_name: str, utterance_id: int) -> Response:
        project = _labeled(project_name)
        units = index_type(request)
        utterance = selectors.utterance_get(project=project, pk=utterance_id)
        utterance = services.utterance_update(
            utterance=utterance,
            data=self.json_body(request),
            string_index_type=units,
            expected_versions=if_match_versions(request),
            labeled_by=request_labeler(request),
        )
        return with_etag(Response(utterance_as_v1(utterance, units)), utterance.version)

    @conditional_delete_schema("v1_utterances_delete")
    def delete(
        self, request: Request, project_name: str, utterance_id: int
    ) -> Response:
        project = _labeled(project_name)
        utterance = selectors.utterance_get(project=project, pk=utterance_id)
        services.utterance_delete(
            utterance=utterance, expected_versions=if_match_versions(request)
        )
        return Response(status=204)


class UtteranceBatchUpdateApi(V1ApiView):
    @extend_schema(
        operation_id="v1_utterances_batch_update",
        parameters=[PROJECT_NAME],
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
        description='{"ids": [...], "intent"?: str, "dataset"?: "Train"|"Test"|null}',
    )
    def post(self, request: Request, project_name: str) -> Response:
        project = _labeled(project_name)
        body = self.json_body(request)
        changes = {k: v for k, v in body.items() if k != "ids"}
        count = services.utterances_bulk_update(
            project=project,
            ids=body.get("ids", []),
            changes=changes,
            labeled_by=request_labeler(request),
        )
        return Response({"updated": count})


class UtteranceBatchDeleteApi(V1ApiView):
    @extend_schema(
        operation_id="v1_utterances_batch_delete",
        parameters=[PROJECT_NAME],
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
        description='{"ids": [...]}',
    )
    def post(self, request: Request, project_name: str) -> Response:
        project = _labeled(project_name)
        body = self.json_body(request)
        count = services.utterances_bulk_delete(
            project=project, ids=body.get("ids", [])
        )
        return Response({"deleted": count})


# --- knowledge-base QnAs ---------------------------------------------------------


class QnaPairListApi(V1ApiView):
    @extend_schema(
        operation_id="v1_qnas_list",
        parameters=[PROJECT_NAME, *PAGING, OpenApiParameter("source", str)],
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
    )
    def get(self, request: Request, project_name: str) -> Response:
        project = selectors.project_get(name=project_name, kinds=KB_KINDS)
        qnas = selectors.kb_qna_list(
            project=project, source=request.query_params.get("source") or None
        )
        return paged_response(request, qnas, qna_as_azure)

    @create_schema("v1_qnas_create")
    def post(self, request: Request, project_name: str) -> Response:
        project = selectors.project_get(name=project_name, kinds=KB_KINDS)
        qna = services.kb_qna_add(project=project, record=self.json_body(request))
        return with_etag(Response(qna_as_azure(qna), status=201), qna.version)


class QnaPairApi(V1ApiView):
    @read_schema("v1_qnas_get")
    def get(self, request: Request, project_name: str, qna_id: int) -> Response:
        project = selectors.project_get(name=project_name, kinds=KB_KINDS)
        qna = selectors.kb_qna_get(project=project, qna_id=qna_id)
        return with_etag(Response(qna_as_azure(qna)), qna.version)

    @conditional_update_schema("v1_qnas_update")
    def patch(self, request: Request, project_name: str, qna_id: int) -> Response:
        project = selectors.project_get(name=project_name, kinds=KB_KINDS)
        qna = selectors.kb_qna_get(project=project, qna_id=qna_id)
        qna = services.kb_qna_patch(
            project=project,
            qna_id=qna.qna_id,
            data=self.json_body(request),
            expected_versions=if_match_versions(request),
        )
        return with_etag(Response(qna_as_azure(qna)), qna.version)

    @conditional_delete_schema("v1_qnas_delete")
    def delete(self, request: Request, project_name: str, qna_id: int) -> Response:
        project = selectors.project_get(name=project_name, kinds=KB_KINDS)
        qna = selectors.kb_qna_get(project=project, qna_id=qna_id)
        services.kb_qna_delete(
            project=project,
            qna_id=qna.qna_id,
            expected_versions=if_match_versions(request),
        )
        return Response(status=204)
