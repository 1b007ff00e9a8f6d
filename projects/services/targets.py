"""The secrets and the write rights of external orchestration targets.

An ``Http`` link's header values and key are write-only (README, "Security"): they
are stored encrypted (``studio.crypto``), every read and export shows
``SECRET_MASK`` instead, and a write that sends the mask back keeps the value stored
for that header (or key) of the same intent. The mask keeps a value only while the
URL keeps its scheme, host and port: whoever could point a link elsewhere with the
mask would receive the stored key without ever having read it.

LUIS and HTTP targets are called by the runtime on behalf of anyone allowed to
predict, so only project admins (and resource keys) create, change or remove them
(``targets_allowed``); routing intents and links to studio projects stay with
analysts.
"""

from __future__ import annotations

import dataclasses
import urllib.parse

from django.db import transaction

from projects.formats.conversation import SECRET_MASK, LinkData
from projects.models import Intent
from studio.crypto import SecretUnreadable, secret_encrypt, secret_rotate
from studio.errors import ErrorCollector, ErrorDetail, Forbidden

EXTERNAL_KINDS = ("Luis", "Http")


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urllib.parse.urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    return parts.scheme.lower(), (parts.hostname or "").lower(), port


def link_seal(
    *,
    link: LinkData,
    current: LinkData | None,
    path: str,
    errors: ErrorCollector,
    warnings: list[ErrorDetail] | None = None,
    intent_name: str = "",
) -> LinkData:
    """``link`` (as parsed: plain values or the mask) with its secrets encrypted,
    masks replaced by the values ``current`` (the intent's link now) stores.

    A mask that cannot be kept (nothing stored, or the URL moved to another host)
    is an error in ``errors``, or, for imports (``warnings`` given), dropped with a
    warning: an export imported into another project or studio carries only masks.
    """
    if link.target_kind != "Http":
        return link
    keep = (
        current is not None
        and current.target_kind == "Http"
        and _origin(current.http_url) == _origin(link.http_url)
    )
    stored = {k.lower(): v for k, v in current.http_headers.items()} if current else {}
    base = f"{path}.httpOrchestration" if path else "httpOrchestration"

    def unkept(what: str, target: str) -> None:
        reason = (
            "the target's URL now names another host"
            if current is not None and current.target_kind == "Http" and not keep
            else "no value is stored for it"
        )
        if warnings is None:
            errors.add(
                f'{what} is "{SECRET_MASK}" (keep the stored value), but {reason}; '
                "enter the value.",
                target=target,
            )
        else:
            warnings.append(
                ErrorDetail(
                    "Warning",
                    f'Intent {intent_name!r}: {what} is "{SECRET_MASK}" but '
                    f"{reason}; it was left out. Enter it again.",
                    target,
                )
            )

    headers: dict[str, str] = {}
    for name, value in link.http_headers.items():
        if value != SECRET_MASK:
            headers[name] = secret_encrypt(value)
        elif keep and name.lower() in stored:
            headers[name] = stored[name.lower()]
        else:
            unkept(f"Header {name!r}", f"{base}.headers")
    key = ""
    if link.http_key and link.http_key != SECRET_MASK:
        key = secret_encrypt(link.http_key)
    elif link.http_key == SECRET_MASK:
        if keep and current is not None and current.http_key:
            key = current.http_key
        else:
            unkept("The key", f"{base}.key")
    return dataclasses.replace(link, http_headers=headers, http_key=key)


def _public_part(link: LinkData) -> LinkData:
    return dataclasses.replace(
        link,
        http_headers={k.lower(): "" for k in link.http_headers},
        http_key="set" if link.http_key else "",
    )


def link_changes_target(link: LinkData, current: LinkData | None) -> bool:
    """Does writing ``link`` (as parsed) over ``current`` create, change or remove
    an external target? A secret sent in clear text is a change; the mask is not."""
    before = current or LinkData()
    if link.target_kind not in EXTERNAL_KINDS and (
        before.target_kind not in EXTERNAL_KINDS
    ):
        return False
    new_secret = any(v != SECRET_MASK for v in link.http_headers.values()) or (
        link.http_key not in ("", SECRET_MASK)
    )
    return new_secret or _public_part(link) != _public_part(before)


def require_target_rights(
    *, link: LinkData, current: LinkData | None, allowed: bool
) -> None:
    if not allowed and link_changes_target(link, current):
        raise Forbidden(
            "Only project admins can create, change or remove LUIS and HTTP targets.",
            target="orchestration.targetProjectKind",
        )


def target_secrets_rotate() -> tuple[int, list[str]]:
    """Re-encrypt every stored target secret under the current ``SECRET_KEY`` (after
    a rotation, while the old key is still in ``SECRET_KEY_FALLBACKS``), so that the
    old key can then be dropped. Returns (intents rewritten, ``project/intent`` names
    whose secrets no key can read: they are left as they are and must be entered
    again). Trained routers carry their own encrypted copy inside their artifact:
    ``training.artifact_store.router_target_secrets_reseal`` moves those."""
    rewritten = 0
    unreadable: list[str] = []
    rows = Intent.objects.exclude(http_key="", http_headers={}).select_related(
        "project"
    )
    with transaction.atomic():
        for intent in rows.select_for_update(of=("self",)).order_by("pk"):
            try:
                headers = {
                    str(k): secret_rotate(str(v))
                    for k, v in (intent.http_headers or {}).items()
                }
                key = secret_rotate(intent.http_key) if intent.http_key else ""
            except SecretUnreadable:
                unreadable.append(f"{intent.project.name}/{intent.name}")
                continue
            Intent.objects.filter(pk=intent.pk).update(
                http_headers=headers, http_key=key
            )
            rewritten += 1
    return rewritten, unreadable
