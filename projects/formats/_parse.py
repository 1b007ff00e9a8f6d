"""Helpers for walking untrusted JSON with an ``ErrorCollector`` and JSON paths."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from studio.errors import ErrorCollector


def child(path: str, key: str | int) -> str:
    if isinstance(key, int):
        return f"{path}[{key}]"
    return f"{path}.{key}" if path else key


def get_ci(obj: Mapping[str, Any], key: str, default: Any = None) -> Any:
    """``obj[key]``, also matching a key that differs only in case.

    QnA Maker and Language Studio files spell the same keys ``Assets`` / ``assets``.
    """
    if key in obj:
        return obj[key]
    lowered = key.lower()
    for k, value in obj.items():
        if isinstance(k, str) and k.lower() == lowered:
            return value
    return default


def expect_dict(
    value: Any, path: str, errors: ErrorCollector, *, what: str = "an object"
) -> dict[str, Any] | None:
    if isinstance(value, dict):
        return value
    errors.add(f"{path or 'The document'} must be {what}.", target=path or None)
    return None


def expect_list(
    value: Any, path: str, errors: ErrorCollector, *, required: bool = False
) -> list[Any]:
    if value is None and not required:
        return []
    if isinstance(value, list):
        return value
    errors.add(f"{path} must be an array.", target=path)
    return []


def expect_str(
    value: Any,
    path: str,
    errors: ErrorCollector,
    *,
    required: bool = True,
    allow_empty: bool = False,
    max_length: int | None = None,
) -> str | None:
    if value is None:
        if required:
            errors.add(f"{path} is required.", target=path)
        return None
    if not isinstance(value, str):
        errors.add(f"{path} must be a string.", target=path)
        return None
    if not allow_empty and not value.strip():
        errors.add(f"{path} must not be empty.", target=path)
        return None
    if max_length is not None and len(value) > max_length:
        errors.add(
            f"{path} is {len(value)} characters long; the limit is {max_length}.",
            target=path,
        )
        return None
    return value


def expect_bool(
    value: Any, path: str, errors: ErrorCollector, *, default: bool
) -> bool:
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    errors.add(f"{path} must be true or false.", target=path)
    return default
