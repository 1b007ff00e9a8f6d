"""Writes of the deployment-resource registry (studio staff only: the views check).

A resource is registered with its id (what API clients name it by), region,
endpoint URL and key. The key is write-only: encrypted at rest
(``studio.crypto``), never shown again; an edit with no key keeps the stored one.
The endpoint must be an http(s) URL without credentials, query or fragment, and its
host must not be a local or private address unless ``STUDIO_TARGET_ALLOWED_HOSTS``
allows it (checked again, resolved, at every call: ``studio.outbound``). A resource
assigned to a project cannot be removed until it is unassigned. Every change is in
the studio-wide audit trail (never the key). After a ``SECRET_KEY`` rotation
``resource_keys_rotate`` (``manage.py rotatesecrets``, and a restore under another
key) moves the stored keys to the current key.
"""

from __future__ import annotations

import re
import urllib.parse
from typing import Any

from django.db import IntegrityError, transaction

from studio import target_policy
from studio.audit import audit_record
from studio.crypto import (
    SecretUnreadable,
    secret_encrypt,
    secret_is_current,
    secret_rotate,
)
from studio.errors import Conflict, ErrorCollector, InvalidArgument
from studio.inputs import echo
from training.models import DeploymentResource, ProjectResource

RESOURCE_ID_RE = re.compile(r"^[^\s\x00-\x1f\x7f]{1,300}$")
REGION_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 _.-]{0,63}$")
MAX_KEY_LENGTH = 500


def _endpoint_clean(endpoint: str) -> str:
    """The endpoint without a trailing slash, or 400 saying what is wrong."""
    text = endpoint.strip()
    parts = urllib.parse.urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise InvalidArgument(
            "The endpoint must be an http(s) URL, such as https://studio.example.com.",
            target="endpoint",
        )
    if parts.username or parts.password or parts.query or parts.fragment:
        raise InvalidArgument(
            "The endpoint must not carry a user name, password, query or fragment: "
            "the key goes in its own field.",
            target="endpoint",
        )
    try:
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        raise InvalidArgument(
            "The endpoint's port is not a number from 1 to 65535.", target="endpoint"
        ) from None
    problem = target_policy.literal_host_error(parts.hostname)
    if problem is not None:
        raise InvalidArgument(problem, target="endpoint")
    return text.rstrip("/")


def _fields_check(*, azure_resource_id: str, region: str, kind: str) -> None:
    errors = ErrorCollector()
    if not RESOURCE_ID_RE.fullmatch(azure_resource_id):
        errors.add(
            "The resource id is required: up to 300 characters without spaces.",
            target="azureResourceId",
        )
    if not REGION_RE.fullmatch(region):
        errors.add(
            "The region is required: up to 64 letters, digits, spaces, '_', '.' "
            "or '-' (for example westeurope).",
            target="region",
        )
    if kind not in DeploymentResource.Kind.values:
        errors.add(
            f"Kind {echo(kind)} is not one of "
            f"{', '.join(DeploymentResource.Kind.values)}.",
            target="kind",
        )
    errors.raise_if_any("The resource is not valid")


def _key_check(key: str) -> None:
    if not key or len(key) > MAX_KEY_LENGTH or any(c in key for c in "\r\n"):
        raise InvalidArgument(
            f"The key is required: one line of up to {MAX_KEY_LENGTH} characters.",
            target="key",
        )


def _snapshot(resource: DeploymentResource) -> dict[str, Any]:
    return {
        "azureResourceId": resource.azure_resource_id,
        "region": resource.region,
        "endpoint": resource.endpoint,
        "kind": resource.kind,
    }


def _duplicate(azure_resource_id: str) -> Conflict:
    return Conflict(
        f"A resource with id {echo(azure_resource_id)} is already registered.",
        target="azureResourceId",
    )


def resource_create(
    *,
    azure_resource_id: str,
    region: str,
    endpoint: str,
    key: str,
    kind: str = DeploymentResource.Kind.STUDIO,
    created_by: Any = None,
) -> DeploymentResource:
    azure_resource_id = azure_resource_id.strip()
    region = region.strip()
    _fields_check(azure_resource_id=azure_resource_id, region=region, kind=kind)
    endpoint = _endpoint_clean(endpoint)
    _key_check(key)
    try:
        with transaction.atomic():
            if DeploymentResource.objects.filter(
                azure_resource_id__iexact=azure_resource_id
            ).exists():
                raise _duplicate(azure_resource_id)
            resource = DeploymentResource.objects.create(
                azure_resource_id=azure_resource_id,
                region=region,
                endpoint=endpoint,
                kind=kind,
                key_sealed=secret_encrypt(key),
                created_by=created_by,
            )
            audit_record(
                action="resource.create",
                target=f"resource {azure_resource_id}",
                after=_snapshot(resource),
            )
    except IntegrityError:
        raise _duplicate(azure_resource_id) from None
    return resource


def resource_update(
    *,
    resource: DeploymentResource,
    region: str,
    endpoint: str,
    kind: str,
    key: str = "",
) -> DeploymentResource:
    """Change a resource's region, endpoint, kind and (when given) key. Its id
    stays: projects and API clients know it by that."""
    region = region.strip()
    _fields_check(
        azure_resource_id=resource.azure_resource_id, region=region, kind=kind
    )
    endpoint = _endpoint_clean(endpoint)
    if key:
        _key_check(key)
    with transaction.atomic():
        locked = DeploymentResource.objects.select_for_update().get(pk=resource.pk)
        before = _snapshot(locked)
        locked.region = region
        locked.endpoint = endpoint
        locked.kind = kind
        if key:
            locked.key_sealed = secret_encrypt(key)
        locked.save()
        after = _snapshot(locked)
        if key:
            after["key"] = "(changed)"
        audit_record(
            action="resource.update",
            target=f"resource {locked.azure_resource_id}",
            before=before,
            after=after,
        )
    return locked


def resource_keys_rotate() -> tuple[int, list[str]]:
    """Re-encrypt every resource key not yet under the current ``SECRET_KEY`` (it
    was encrypted under a key now in ``SECRET_KEY_FALLBACKS``), so the old key can
    be dropped; one transaction, rows locked, a second run rewrites nothing.
    Returns (keys rewritten, ids of resources whose key no listed key decrypts:
    left as they are, their key must be entered again)."""
    rewritten = 0
    unreadable: list[str] = []
    with transaction.atomic():
        rows = DeploymentResource.objects.select_for_update().order_by("pk")
        for resource in rows:
            if secret_is_current(resource.key_sealed):
                continue
            try:
                sealed = secret_rotate(resource.key_sealed)
            except SecretUnreadable:
                unreadable.append(resource.azure_resource_id)
                continue
            DeploymentResource.objects.filter(pk=resource.pk).update(key_sealed=sealed)
            rewritten += 1
    return rewritten, unreadable


def resource_delete(*, resource: DeploymentResource) -> None:
    """Remove a resource from the registry; 409 while projects have it assigned."""
    with transaction.atomic():
        locked = (
            DeploymentResource.objects.select_for_update()
            .filter(pk=resource.pk)
            .first()
        )
        if locked is None:
            return
        projects = sorted(
            ProjectResource.objects.filter(resource=locked).values_list(
                "project__name", flat=True
            )
        )
        if projects:
            raise Conflict(
                f"Resource {locked.azure_resource_id!r} is assigned to "
                f"{', '.join(projects)}; unassign it from "
                f"{'them' if len(projects) > 1 else 'it'} first.",
                target="azureResourceId",
            )
        audit_record(
            action="resource.delete",
            target=f"resource {locked.azure_resource_id}",
            before=_snapshot(locked),
        )
        locked.delete()
