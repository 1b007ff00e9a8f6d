"""``/api/v1/projects/{p}/review/clusters``: the review queue's waiting queries
grouped by similarity (``training.selectors.clusters``), and labeling a cluster at
once with per-item exclusions (``training.services.clusters``). Reading needs the
read role, acting the labeling one; errors in Azure's error body."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from projects.apis.fine_grained import PAGING, PROJECT_NAME, V1ApiView, request_labeler
from projects.apis.fine_grained import _labeled as labeled_project
from projects.models import Project
from studio.api.paging import paged_response
from studio.errors import InvalidArgument, NotFound
from studio.inputs import echo
from training.apis.review import body_action
from training.engine.clusters import MAX_TEXTS
from training.selectors import clusters as sc
from training.services import clusters as svc

TAGS = ["review queue (v1)"]
MAX_SAMPLES = 1000
DEPLOYMENT = OpenApiParameter(
    "deployment", str, description="Only queries logged by this deployment."
)
LIST_PARAMETERS = [
    DEPLOYMENT,
    OpenApiParameter(
        "intent", str, description="Only clusters whose top predicted intent is this."
    ),
    OpenApiParameter(
        "minSize", int, description="Clusters of at least this many queries (2)."
    ),
    OpenApiParameter(
        "sort",
        str,
        enum=list(sc.SORTS),
        description=(
            "size: the most logged queries first (default); cohesion: the tightest "
            "first; confidence: the least confident first."
        ),
    ),
    OpenApiParameter(
        "samples",
        int,
        description=f"Items shown per cluster, the most central first (5, at most "
        f"{MAX_SAMPLES}); a cluster's own path lists all of them.",
    ),
]


def _int(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        value = low - 1
    if not low <= value <= high:
        raise InvalidArgument(
            f"{name} must be an integer from {low} to {high}; got {echo(raw)}.",
            target=name,
        )
    return value


def cluster_filter(request: Request) -> sc.ClusterFilter:
    params = request.query_params
    sort = params.get("sort") or "size"
    if sort not in sc.SORTS:
        raise InvalidArgument(
            f"sort must be one of {', '.join(sc.SORTS)}; got {echo(sort)}.",
            target="sort",
        )
    return sc.ClusterFilter(
        deployment=params.get("deployment") or "",
        intent=params.get("intent") or "",
        min_size=_int(request, "minSize", 2, 1, MAX_TEXTS),
        sort=sort,
    )


def _taken(project: Project) -> list[str]:
    return list(project.intents.values_list("name", flat=True))


class ReviewClusterListApi(V1ApiView):
    @extend_schema(
        operation_id="v1_review_clusters_list",
        parameters=[PROJECT_NAME, *PAGING, *LIST_PARAMETERS],
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
        description=(
            "Queries waiting for review (the newest 5,000 logs; repeats collapsed "
            "into one item) grouped by similarity of their text and of the model's "
            "prediction. Each cluster: `id` (for its path), `size` (items), `count` "
            "(logs), `version` (the clustering it belongs to: pass it when acting), "
            "`cohesion` (mean cosine similarity to its centre, 0-1), "
            "`topIntent` (most predicted) with `topIntentShare`, `meanConfidence`, "
            "`topTerms`, `suggestedIntent` (a new intent's name when a dense "
            "cluster has no good intent: mostly None or low confidence; else "
            "null) and sample `items` (each: `id`, `text`, `count`, at most 1,000 "
            "`logIds`, the oldest). Cached until new traffic is logged."
        ),
    )
    def get(self, request: Request, project_name: str) -> Response:
        project = labeled_project(project_name)
        filters = cluster_filter(request)
        samples = _int(request, "samples", 5, 0, MAX_SAMPLES)
        taken = _taken(project)
        found = sc.review_clusters(project=project, filters=filters)
        return paged_response(
            request,
            found,
            lambda c: sc.review_cluster_document(c, taken=taken, samples=samples),
        )


class ReviewClusterApi(V1ApiView):
    @extend_schema(
        operation_id="v1_review_clusters_get",
        parameters=[
            PROJECT_NAME,
            OpenApiParameter("cluster_id", int, OpenApiParameter.PATH),
            DEPLOYMENT,
            OpenApiParameter("version", int, description="The cluster's version."),
        ],
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
        description=(
            "One cluster with all its items (404 once it is gone); `version`: the "
            "clustering it was listed in. An item's `logIds` lists at most 1,000 "
            "of its logs (the oldest), `count` all; actions name the cluster."
        ),
    )
    def get(self, request: Request, project_name: str, cluster_id: int) -> Response:
        project = labeled_project(project_name)
        cluster = sc.review_cluster(
            project=project,
            cluster_id=cluster_id,
            deployment=request.query_params.get("deployment") or "",
            version=_int(request, "version", 0, 0, 2**62) or None,
        )
        if cluster is None:
            raise NotFound(
                "There is no such cluster waiting for review.", target="cluster_id"
            )
        return Response(sc.review_cluster_document(cluster, taken=_taken(project)))

    @extend_schema(
        operation_id="v1_review_clusters_act",
        parameters=[
            PROJECT_NAME,
            OpenApiParameter("cluster_id", int, OpenApiParameter.PATH),
        ],
        request=OpenApiTypes.OBJECT,
        responses={200: OpenApiTypes.OBJECT},
        tags=TAGS,
        description=(
            '{"action": "label"|"none"|"create"|"skip"|"discard", "intent"?: str, '
            '"newIntent"?: str, "exclude"?: [item id, ...], "deployment"?: str}: '
            "act on every item of the cluster except the excluded ones (they stay "
            "waiting). `label` adds them to the data (the project's review "
            "dataset) with `intent`, `none` as out of scope, `create` first "
            "creates the intent `newIntent` (e.g. the cluster's `suggestedIntent`); "
            "an utterance of the same text is relabeled instead of added. "
            "`deployment` and `version`: the filter and the clustering (the "
            "cluster's `version`) it was listed with, so that traffic logged since "
            "does not regroup it away. One audit event "
            "for the action, one per utterance labeled."
        ),
    )
    def post(self, request: Request, project_name: str, cluster_id: int) -> Response:
        project = labeled_project(project_name)
        body = self.json_body(request)
        action = body_action(body, svc.CLUSTER_ACTIONS)
        for name in ("intent", "newIntent", "deployment"):
            if body.get(name) is not None and not isinstance(body.get(name), str):
                raise InvalidArgument(f"{name} must be a string.", target=name)
        outcome = svc.review_cluster_act(
            project=project,
            cluster_id=cluster_id,
            action=action,
            intent=body.get("intent"),
            new_intent=body.get("newIntent"),
            exclude=body.get("exclude"),
            deployment=body.get("deployment") or "",
            version=body.get("version"),
            user=self.key_owner,
            labeled_by=request_labeler(request),
        )
        return Response(
            {
                "action": outcome.action,
                "count": outcome.items,
                "logs": outcome.logs,
                "excluded": outcome.excluded,
                "intent": outcome.intent,
                "createdIntent": outcome.created_intent,
                "added": outcome.added,
                "relabeled": outcome.relabeled,
            }
        )
