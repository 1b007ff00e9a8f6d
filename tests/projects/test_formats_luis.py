"""LUIS app import (``format="Luis"``), converted to a Conversation project."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from projects import services
from projects.models import EntitySpan
from studio.errors import InvalidArgument
from tests.projects.helpers import db_snapshot

pytestmark = pytest.mark.django_db


def luis_app(shared_data: Path, name: str) -> Any:
    path = shared_data / "azure-language-samples" / "luis" / name
    return json.loads(path.read_text(encoding="utf-8-sig"))


def test_human_resources_luis_app_imports(shared_data: Path) -> None:
    app = luis_app(shared_data, "HumanResources.json")
    warnings: list[Any] = []
    project = services.project_import(
        name="HR", document=app, format="Luis", warnings=warnings
    )
    assert project.language == "en-us"
    assert project.utterances.count() == len(app["utterances"])
    assets = {e.name: e for e in project.entities.all()}
    assert assets["MaterialAssets"].list_sublists[0]["listKey"] == "A/V equipment"
    assert (
        assets["DepartmentNumber"].regex_expressions[0]["regexPattern"]
        == "dept[0-9]{6,}"
    )
    assert assets["number"].prebuilts == ["number"]
    span = EntitySpan.objects.filter(
        utterance__text="are there any forms that are only for the redmond office?"
    ).get()
    assert (span.entity.name, span.offset, span.length) == ("Location", 42, 7)
    assert "patterns" in [w.target for w in warnings]


def test_pizza_luis_app_flattens_child_entities(shared_data: Path) -> None:
    app = luis_app(shared_data, "pizza-app-for-luis-v6.json")
    project = services.project_import(name="Pizza", document=app, format="Luis")
    names = set(project.entities.values_list("name", flat=True))
    assert {
        "Order",
        "FullPizzaWithModifiers",
        "PizzaType",
        "Topping",
        "CrustList",
    } <= names
    assert project.utterances.count() == len(app["utterances"])
    exported = services.project_export(project=project)
    first = exported["assets"]["utterances"][0]
    assert {"category": "Size", "offset": 15, "length": 6} in first["entities"]


def test_bad_luis_file_changes_nothing() -> None:
    before = db_snapshot()
    with pytest.raises(InvalidArgument) as info:
        services.project_import(
            name="Bad",
            document={
                "intents": [{"name": "A"}],
                "utterances": [
                    {
                        "text": "hi",
                        "intent": "A",
                        "entities": [{"entity": "X", "startPos": 3, "endPos": 1}],
                    }
                ],
            },
            format="Luis",
        )
    assert info.value.target == "utterances[0].entities[0]"
    with pytest.raises(InvalidArgument, match="LUIS export"):
        services.project_import(name="Bad", document={"name": "x"}, format="Luis")
    assert db_snapshot() == before
