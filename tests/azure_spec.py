"""Check a response body against a definition of Azure's published REST spec.

The specs live in the shared reference folder (``azure-specs/2023-04-01``), read at
test time: absent, the test is skipped with the reason (failed under
``STUDIO_REQUIRE_SERVICES=1``). Swagger 2.0 definitions are JSON Schema draft 4
plus keywords jsonschema ignores (``discriminator``, ``x-ms-*``), which is enough to
check required fields, types and enums of a body.
"""

from __future__ import annotations

import json
from functools import cache
from typing import Any

from tests.conftest import shared_data_dir, skip_or_fail


@cache
def _spec(name: str) -> dict[str, Any]:
    path = shared_data_dir().parent / "reference" / "azure-specs" / "2023-04-01" / name
    if not path.is_file():
        skip_or_fail(f"Azure spec {path} is absent")
    return dict(json.loads(path.read_text()))


def assert_matches_azure_definition(body: Any, spec: str, definition: str) -> None:
    """Fail with jsonschema's message when ``body`` is not a valid ``definition`` of
    the spec file ``spec`` (e.g. ``analyzeconversations.json``)."""
    import jsonschema

    document = _spec(spec)
    assert definition in document["definitions"], definition
    schema = {"$ref": f"#/definitions/{definition}", **document}
    jsonschema.Draft4Validator(schema).validate(body)
