"""``/api/v1/resources``: the deployment-resource registry over REST (beyond Azure),
for studio staff: a resource key, or the personal key (or token) of a staff member
or superuser; anyone else gets 403. The key is write-only: never in an answer."""

from __future__ import annotations

from typing import Any

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response

from projects.apis.fine_grained import V1ApiView
from studio.errors import Forbidden, InvalidArgument, NotFound
from studio.inputs import echo
from training.models import DeploymentResource
from training.selectors.resources import resources_list
from training.services.resources import (
    resource_create,
    resource_delete,
    resource_update,
)

TAGS = ["Deployment resources (beyond Azure)"]
FIELDS = ("azureResourceId", "region", "endpoint", "kind", "key")


def resource_as_json(resource: DeploymentResource) -> dict[str, Any]:
    return {
        "id": resource.pk,
        "azureResourceId": resource.azure_resource_id,
        "region": resource.region,
        "endpoint": resource.endpoint,
        "kind": resource.kind,
        "assignedProjects": sorted(a.project.name for a in resource.assignments.all()),
        "createdDateTime": resource.created_at.isoformat().replace("+00:00", "Z"),
    }


class _StaffApi(V1ApiView):
    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        owner = self.key_owner
        if owner is not None and not (
            getattr(owner, "is_staff", False) or getattr(owner, "is_superuser", False)
        ):
            raise Forbidden(
                "Only studio staff and superusers manage deployment resources."
            )

    def strings(
        self, body: dict[str, Any], required: tuple[str, ...]
    ) -> dict[str, str]:
        unknown = sorted(set(body) - set(FIELDS))
        if unknown:
            raise InvalidArgument(
                f"Unknown field {echo(unknown[0])}; the fields are "
                f"{', '.join(FIELDS)}.",
                target=unknown[0],
            )
        values: dict[str, str] = {}
        for name in FIELDS:
            value = body.get(name)
            if value is None:
                if name in required:
                    raise InvalidArgument(f"{name} is required.", target=name)
                continue
            if not isinstance(value, str):
                raise InvalidArgument(f"{name} must be a string.", target=name)
            values[name] = value
        return values


def _get(pk: int) -> DeploymentResource:
    resource = (
        DeploymentResource.objects.prefetch_related("assignments__project")
        .filter(pk=pk)
        .first()
    )
    if resource is None:
        raise NotFound(f"Resource {pk} was not found.", target="id")
    return resource


class ResourceListApi(_StaffApi):
    @extend_schema(
        tags=TAGS, operation_id="v1_resource_list", responses=OpenApiTypes.OBJECT
    )
    def get(self, request: Request) -> Response:
        resources = resources_list().prefetch_related("assignments__project")
        return Response({"value": [resource_as_json(r) for r in resources]})

    @extend_schema(
        tags=TAGS,
        operation_id="v1_resource_create",
        request=OpenApiTypes.OBJECT,
        responses={201: OpenApiTypes.OBJECT},
    )
    def post(self, request: Request) -> Response:
        values = self.strings(
            self.json_body(request), ("azureResourceId", "region", "endpoint", "key")
        )
        resource = resource_create(
            azure_resource_id=values["azureResourceId"],
            region=values["region"],
            endpoint=values["endpoint"],
            key=values["key"],
            kind=values.get("kind", DeploymentResource.Kind.STUDIO),
            created_by=self.key_owner,
        )
        return Response(resource_as_json(_get(resource.pk)), status=201)


class ResourceApi(_StaffApi):
    @extend_schema(
        tags=TAGS, operation_id="v1_resource_get", responses=OpenApiTypes.OBJECT
    )
    def get(self, request: Request, pk: int) -> Response:
        return Response(resource_as_json(_get(pk)))

    @extend_schema(
        tags=TAGS,
        operation_id="v1_resource_update",
        request=OpenApiTypes.OBJECT,
        responses=OpenApiTypes.OBJECT,
    )
    def patch(self, request: Request, pk: int) -> Response:
        resource = _get(pk)
        values = self.strings(self.json_body(request), ())
        if "azureResourceId" in values and (
            values["azureResourceId"] != resource.azure_resource_id
        ):
            raise InvalidArgument(
                "A resource's id cannot change: projects and clients know it by it. "
                "Register a new resource instead.",
                target="azureResourceId",
            )
        resource_update(
            resource=resource,
            region=values.get("region", resource.region),
            endpoint=values.get("endpoint", resource.endpoint),
            kind=values.get("kind", resource.kind),
            key=values.get("key", ""),
        )
        return Response(resource_as_json(_get(pk)))

    @extend_schema(tags=TAGS, operation_id="v1_resource_delete", responses={204: None})
    def delete(self, request: Request, pk: int) -> Response:
        resource_delete(resource=_get(pk))
        return Response(status=204)
