"""Multi-turn ``:analyze-conversations`` with ``kind: ConversationalAI``
(api-versions 2025-05-15-preview and 2025-11-15-preview; the shapes of
azure-ai-language-conversations 2.0.0b2): intents over conversation-item ranges,
entities per item, bad input as Azure's 400, limits, query logging, and answers
checked with the 2.0.0b2 models themselves."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client

from projects.models import Project
from runtime import keys, parsing
from runtime.parsing import ConversationTurn
from runtime.predict import conversation_analysis
from runtime.registry import runtime, runtime_reset
from studio.services import apikey_create
from tests.compat.published_samples import PREVIEW as PREVIEW_SDK
from tests.compat.published_samples import (
    IndexUnavailable,
    Package,
    SamplesBroken,
    fetch_sources,
)
from tests.conftest import skip_or_fail
from tests.factories import OrchestrationProjectFactory, ProjectFactory
from tests.training.runtime_helpers import (
    EMAIL_EXAMPLES,
    TRAVEL_EXAMPLES,
    conversation_bundle,
    deploy_bundle,
    orchestration_bundle,
)
from training.engine.entities import EntityDefinition, ListSublist
from training.models import PredictionLog

pytestmark = pytest.mark.django_db

PREVIEW = "2025-11-15-preview"
ANALYZE = "/language/:analyze-conversations?api-version="
# A thumbs-up with a skin tone (2 code points, 4 UTF-16 units, 1 grapheme) and a
# "Zürich" whose ü is u + a combining diaeresis (2 code points, 1 grapheme).
EMOJI_TEXT = "👍🏽 fly to Zu\u0308rich now"
CITY = EntityDefinition(
    category="City",
    list_sublists=(ListSublist("zurich", {"": ("Zürich", "zurich")}),),
)
SMALL_TALK = [
    "hi",
    "hello",
    "hello there",
    "thanks",
    "thank you very much",
    "how can i help you",
    "good morning",
    "bye",
]
EXAMPLES = {
    **EMAIL_EXAMPLES,
    "BookFlight": TRAVEL_EXAMPLES["BookFlight"],
    "None": SMALL_TALK,
}


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[None]:
    runtime_reset()
    keys.key_cache.clear()
    keys.access_cache.clear()
    cache.clear()
    yield
    runtime_reset()
    keys.key_cache.clear()
    keys.access_cache.clear()


@pytest.fixture
def assistant() -> Project:
    project = ProjectFactory.create(name="Assistant", language="en")
    deploy_bundle(project, conversation_bundle(EXAMPLES, entities=[CITY]))
    return project


class Api:
    def __init__(self, client: Client, key: str) -> None:
        self.client = client
        self.key = key

    def post(self, body: Any, *, version: str = PREVIEW) -> Any:
        return self.client.post(
            ANALYZE + version,
            json.dumps(body),
            content_type="application/json",
            headers={"Ocp-Apim-Subscription-Key": self.key},
        )


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client, apikey_create(name="bot")[1])


def item(item_id: str, text: str, **extra: Any) -> dict[str, Any]:
    return {"id": item_id, "participantId": "user", "text": text, **extra}


def task(*conversations: dict[str, Any], **parameters: Any) -> dict[str, Any]:
    parameters.setdefault("projectName", "Assistant")
    parameters.setdefault("deploymentName", "production")
    return {
        "kind": "ConversationalAI",
        "analysisInput": {"conversations": list(conversations)},
        "parameters": parameters,
    }


def conversation(conversation_id: str, *texts: str, **extra: Any) -> dict[str, Any]:
    return {
        "id": conversation_id,
        "language": "en",
        "modality": "text",
        "conversationItems": [item(str(n), t) for n, t in enumerate(texts, 1)],
        **extra,
    }


DIALOG = conversation(
    "order",
    "hi",  # 0: small talk (None)
    "send an email to carol",  # 1: SendEmail
    "email bob about the meeting",  # 2: SendEmail, same run
    "book a flight to zurich",  # 3: BookFlight, with a City
    "thanks",  # 4: None
    "mail the report to dave",  # 5: SendEmail again, a second range
)


# ------------------------------------------------------------------ happy paths


def test_a_multi_turn_conversation_gets_intents_over_item_ranges(
    api: Api, assistant: Project
) -> None:
    response = api.post(task(DIALOG, stringIndexType="Utf16CodeUnit"))
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert body["kind"] == "ConversationalAIResult"
    assert body["result"]["warnings"] == []
    (analysis,) = body["result"]["conversations"]
    assert analysis["id"] == "order"
    assert [
        (i["name"], i["type"], i["conversationItemRanges"]) for i in analysis["intents"]
    ] == [
        (
            "SendEmail",
            "action",
            [{"offset": 1, "count": 2}, {"offset": 5, "count": 1}],
        ),
        ("BookFlight", "action", [{"offset": 3, "count": 1}]),
    ]
    flight = analysis["intents"][1]
    assert flight["entities"] == [
        {
            "name": "City",
            "text": "zurich",
            "confidenceScore": 1.0,
            "offset": 17,
            "length": 6,
            "conversationItemId": "4",
            "conversationItemIndex": 3,
            "extraInformation": [{"extraInformationKind": "ListKey", "key": "zurich"}],
        }
    ]
    assert analysis["intents"][0]["entities"] == []
    assert analysis["entities"] == []


def test_conversations_keep_their_ids_and_order(api: Api, assistant: Project) -> None:
    first = conversation("a", "book a flight to paris")
    second = conversation("b", "read my new emails", "check my email")
    body = api.post(task(first, second)).json()
    analyses = body["result"]["conversations"]
    assert [a["id"] for a in analyses] == ["a", "b"]
    assert analyses[0]["intents"][0]["name"] == "BookFlight"
    assert analyses[1]["intents"] == [
        {
            "name": "ReadEmail",
            "type": "action",
            "conversationItemRanges": [{"offset": 0, "count": 2}],
            "entities": [],
        }
    ]


def test_items_below_the_threshold_join_no_range_and_keep_their_entities(
    api: Api, assistant: Project
) -> None:
    Project.objects.filter(name="Assistant").update(confidence_threshold=0.9999)
    runtime().directory.invalidate()
    body = api.post(task(conversation("c", "hi", "fly to zurich"))).json()
    (analysis,) = body["result"]["conversations"]
    assert analysis["intents"] == []
    (city,) = analysis["entities"]
    assert (city["name"], city["conversationItemId"]) == ("City", "2")
    assert city["conversationItemIndex"] == 1


@pytest.mark.parametrize(
    ("index_type", "offset", "length"),
    [
        ("UnicodeCodePoint", 10, 7),
        ("Utf16CodeUnit", 12, 7),
        ("TextElements_v8", 9, 6),
        (None, 9, 6),  # the default is TextElements_v8
    ],
)
def test_entity_offsets_are_within_their_item_in_the_requested_units(
    api: Api, assistant: Project, index_type: str | None, offset: int, length: int
) -> None:
    parameters = {"stringIndexType": index_type} if index_type else {}
    dialog = conversation("c", "hello", EMOJI_TEXT)
    body = api.post(task(dialog, **parameters)).json()
    (analysis,) = body["result"]["conversations"]
    entities = analysis["entities"] + [
        e for intent in analysis["intents"] for e in intent["entities"]
    ]
    (city,) = entities
    assert city["text"] == "Zu\u0308rich"
    assert (city["offset"], city["length"]) == (offset, length)
    assert (city["conversationItemId"], city["conversationItemIndex"]) == ("2", 1)


def test_the_sdk_samples_body_is_answered(api: Api, assistant: Project) -> None:
    """What 2.0.0b2's sample sends: a conversation in en-GB, items without
    modality, Utf16CodeUnit."""
    body = {
        "kind": "ConversationalAI",
        "analysisInput": {
            "conversations": [
                {
                    "id": "order",
                    "language": "en-GB",
                    "modality": "text",
                    "conversationItems": [
                        {"id": "1", "participantId": "user", "text": "Hi"},
                        {
                            "id": "2",
                            "participantId": "bot",
                            "text": "Hello, how can I help you?",
                        },
                        {
                            "id": "3",
                            "participantId": "user",
                            "text": "Send an email to Carol about tomorrow's demo",
                        },
                    ],
                }
            ]
        },
        "parameters": {
            "projectName": "Assistant",
            "deploymentName": "production",
            "stringIndexType": "Utf16CodeUnit",
        },
    }
    response = api.post(body)
    assert response.status_code == 200, response.content
    (analysis,) = response.json()["result"]["conversations"]
    assert {"name": "SendEmail", "type": "action"}.items() <= analysis["intents"][
        -1
    ].items()
    assert {"offset": 2, "count": 1} in analysis["intents"][-1][
        "conversationItemRanges"
    ]


def test_language_and_modality_may_be_left_out(api: Api, assistant: Project) -> None:
    dialog = {"id": "c", "conversationItems": [item("1", "send an email to carol")]}
    response = api.post(task(dialog))
    assert response.status_code == 200, response.content
    (analysis,) = response.json()["result"]["conversations"]
    assert analysis["intents"][0]["name"] == "SendEmail"


def test_the_conversation_kind_is_still_served_on_the_preview_version(
    api: Api, assistant: Project
) -> None:
    body = {
        "kind": "Conversation",
        "analysisInput": {"conversationItem": item("1", "send an email to carol")},
        "parameters": {"projectName": "Assistant", "deploymentName": "production"},
    }
    response = api.post(body)
    assert response.status_code == 200, response.content
    assert response.json()["result"]["prediction"]["topIntent"] == "SendEmail"


def _prediction(top: str, entities: list[dict[str, Any]] | None = None) -> Any:
    return {"topIntent": top, "intents": [], "entities": entities or []}


def _turns(*spoken: tuple[str, str]) -> list[ConversationTurn]:
    return [
        ConversationTurn(
            id=str(n), participant_id=who, text=text, language=None, role=None
        )
        for n, (who, text) in enumerate(spoken, 1)
    ]


def _entity(text: str, category: str = "Date") -> dict[str, Any]:
    return {
        "category": category,
        "text": text,
        "offset": 0,
        "length": len(text),
        "confidenceScore": 1.0,
        "resolutions": [{"resolutionKind": "DateTimeResolution"}],
    }


def test_segmentation_merges_runs_and_lists_intents_by_first_appearance() -> None:
    today = _entity("today")
    result = conversation_analysis(
        "c",
        _turns(*[("user", t) for t in ("b", "a", "a today", "today", "a", "b")]),
        [
            _prediction("B"),
            _prediction("A"),
            _prediction("A", [today]),
            _prediction("None", [today]),  # the same user, no question: closes
            _prediction("A"),
            _prediction("B"),
        ],
    )
    assert [(i["name"], i["conversationItemRanges"]) for i in result["intents"]] == [
        ("B", [{"offset": 0, "count": 1}, {"offset": 5, "count": 1}]),
        ("A", [{"offset": 1, "count": 2}, {"offset": 4, "count": 1}]),
    ]
    (scoped,) = result["intents"][1]["entities"]
    assert (scoped["conversationItemId"], scoped["conversationItemIndex"]) == ("3", 2)
    assert scoped["resolutions"] == today["resolutions"]
    assert "extraInformation" not in scoped
    (loose,) = result["entities"]
    assert (loose["name"], loose["conversationItemId"]) == ("Date", "4")


def test_segmentation_reproduces_azures_example() -> None:
    """The dialog of Azure's SuccessfulAnalyzeConversationalAITask example
    (2025-11-15-preview), with the intents a model would give each item alone:
    the bot's question and the user's answer continue BookFlight ({2, 3}); the
    user's aside closes it and is in no range, its entity global."""
    items = _turns(
        ("user", "Hi!"),
        ("bot", "Hello, how can I help you?"),
        ("user", "I would like to book a flight from Paris to Berlin on Oct 10th."),
        ("bot", "Do you have any airline preference?"),
        ("user", "No."),
        ("user", "I like New York and Boston."),
        ("user", "Actualy, change the destination to New York."),
        ("user", "Wait, I do not like the food in New York."),
        ("user", "Ok, change the destination back to Berlin."),
    )
    tops = ["None", "None", "BookFlight", "None", "None", "None"]
    tops += ["BookFlight", "None", "BookFlight"]
    predictions = [_prediction(top) for top in tops]
    predictions[2]["entities"] = [_entity("Oct 10th")]
    predictions[4]["entities"] = [_entity("No", "Airline")]
    predictions[5]["entities"] = [_entity("Boston", "City")]
    result = conversation_analysis("order", items, predictions)
    (flight,) = result["intents"]
    assert flight["conversationItemRanges"] == [
        {"offset": 2, "count": 3},
        {"offset": 6, "count": 1},
        {"offset": 8, "count": 1},
    ]
    assert [(e["text"], e["conversationItemIndex"]) for e in flight["entities"]] == [
        ("Oct 10th", 2),
        ("No", 4),
    ]
    assert [(e["text"], e["conversationItemId"]) for e in result["entities"]] == [
        ("Boston", "6")
    ]


def test_a_dialog_before_any_intent_joins_no_range() -> None:
    """Greetings of both sides before the request, and a bot's question that
    follows no intent, are in no range."""
    items = _turns(
        ("user", "Hi"),
        ("bot", "How can I help?"),
        ("user", "Not sure"),
        ("user", "send an email"),
        ("bot", "To whom?"),
        ("user", "Carol"),
        ("user", "great weather today"),
        ("bot", "Indeed"),
    )
    tops = ["None", "None", "None", "SendEmail", "None", "None", "None", "None"]
    result = conversation_analysis("c", items, [_prediction(top) for top in tops])
    assert result["intents"][0]["conversationItemRanges"] == [{"offset": 3, "count": 3}]


# ------------------------------------------------------------------ bad input


def _body() -> dict[str, Any]:
    return task(conversation("c", "hi", "send an email to carol"))


def _items(body: dict[str, Any]) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = body["analysisInput"]["conversations"][0][
        "conversationItems"
    ]
    return items


CONV = "analysisInput.conversations"
ITEM = f"{CONV}[0].conversationItems"


@pytest.mark.parametrize(
    ("mutate", "code", "target"),
    [
        (lambda b: b.pop("analysisInput"), "InvalidRequest", "analysisInput"),
        (lambda b: b["analysisInput"].pop("conversations"), "InvalidRequest", CONV),
        (
            lambda b: b["analysisInput"].update(conversations=[]),
            "InvalidArgument",
            CONV,
        ),
        (
            lambda b: b["analysisInput"].update(conversations="hi"),
            "InvalidArgument",
            CONV,
        ),
        (
            lambda b: b["analysisInput"]["conversations"].append(3),
            "InvalidArgument",
            f"{CONV}[1]",
        ),
        (
            lambda b: b["analysisInput"]["conversations"][0].pop("id"),
            "InvalidRequest",
            f"{CONV}[0].id",
        ),
        (
            lambda b: b["analysisInput"]["conversations"].append(
                conversation("c", "hello")
            ),
            "InvalidArgument",
            f"{CONV}[1].id",
        ),
        (
            lambda b: b["analysisInput"]["conversations"][0].update(
                modality="transcript"
            ),
            "InvalidArgument",
            f"{CONV}[0].modality",
        ),
        (
            lambda b: b["analysisInput"]["conversations"][0].update(language=5),
            "InvalidArgument",
            f"{CONV}[0].language",
        ),
        (
            lambda b: b["analysisInput"]["conversations"][0].update(
                conversationItems=[]
            ),
            "InvalidArgument",
            ITEM,
        ),
        (lambda b: _items(b)[1].pop("text"), "InvalidRequest", f"{ITEM}[1].text"),
        (
            lambda b: _items(b)[1].update(text="  "),
            "InvalidArgument",
            f"{ITEM}[1].text",
        ),
        (
            lambda b: _items(b)[1].update(text="a" * 1001),
            "InvalidArgument",
            f"{ITEM}[1].text",
        ),
        (
            lambda b: _items(b)[0].pop("participantId"),
            "InvalidRequest",
            f"{ITEM}[0].participantId",
        ),
        (lambda b: _items(b)[1].update(id="1"), "InvalidArgument", f"{ITEM}[1].id"),
        (lambda b: _items(b)[1].update(role=1), "InvalidArgument", f"{ITEM}[1].role"),
        (
            lambda b: b["parameters"].pop("projectName"),
            "InvalidRequest",
            "parameters.projectName",
        ),
        (
            lambda b: b["parameters"].update(stringIndexType="Utf8"),
            "InvalidArgument",
            "parameters.stringIndexType",
        ),
        (
            lambda b: b["parameters"].update(isLoggingEnabled="yes"),
            "InvalidArgument",
            "parameters.isLoggingEnabled",
        ),
    ],
)
def test_bad_requests_get_a_400_naming_the_field_and_log_nothing(
    api: Api, assistant: Project, mutate: Any, code: str, target: str
) -> None:
    body = _body()
    body["parameters"]["isLoggingEnabled"] = True
    mutate(body)
    response = api.post(body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["target"]) == (code, target), error
    assert response["x-ms-error-code"] == code
    assert target.rsplit(".", 1)[-1] in error["message"]
    assert not PredictionLog.objects.exists()


@pytest.mark.parametrize("version", ["2025-05-15-preview", "2025-11-15-preview"])
def test_the_api_versions_that_have_the_kind_serve_it(
    api: Api, assistant: Project, version: str
) -> None:
    """Azure's spec has the ConversationalAI example from 2025-05-15-preview."""
    assert api.post(_body(), version=version).status_code == 200


@pytest.mark.parametrize("version", ["2023-04-01", "2024-11-15-preview", "2025-11-01"])
def test_older_api_versions_answer_the_unknown_kind_400(
    api: Api, assistant: Project, version: str
) -> None:
    response = api.post(_body(), version=version)
    assert response.status_code == 400
    error = response.json()["error"]
    assert (error["code"], error["target"]) == ("InvalidArgument", "kind")
    assert f"'Conversation' on api-version {version}" in error["message"]
    assert "2025-05-15-preview or 2025-11-15-preview" in error["message"]


def test_an_unknown_kind_names_both_served_kinds(api: Api, assistant: Project) -> None:
    unknown = api.post({**_body(), "kind": "Summarize"}).json()["error"]
    assert unknown["target"] == "kind"
    assert "'Conversation' and 'ConversationalAI'" in unknown["message"]


def test_an_orchestration_project_is_a_400_saying_what_to_send(
    api: Api, assistant: Project
) -> None:
    router = OrchestrationProjectFactory.create(name="Router", language="en")
    deploy_bundle(router, orchestration_bundle(EMAIL_EXAMPLES, {}))
    response = api.post(task(conversation("c", "hi"), projectName="Router"))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["target"] == "parameters.projectName"
    assert "Orchestration project" in error["message"]
    assert "kind 'Conversation'" in error["message"]


def test_unknown_projects_and_deployments_are_404s(
    api: Api, assistant: Project
) -> None:
    missing = api.post(task(conversation("c", "hi"), projectName="Nope"))
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ProjectNotFound"
    undeployed = api.post(task(conversation("c", "hi"), deploymentName="staging"))
    assert undeployed.status_code == 404
    assert undeployed.json()["error"]["code"] == "NotFound"


def test_a_user_key_needs_a_role_in_the_project(
    client: Client, assistant: Project
) -> None:
    from django.contrib.auth import get_user_model

    from projects.models import ProjectMembership

    user = get_user_model().objects.create_user(username="outsider", password="x")
    outsider = Api(client, apikey_create(name="o", created_by=user)[1])
    assert outsider.post(_body()).status_code == 404
    ProjectMembership.objects.create(project=assistant, user=user, role="viewer")
    keys.access_cache.clear()
    assert outsider.post(_body()).status_code == 200


# ------------------------------------------------------------------ limits


def test_limits_on_conversations_items_and_characters(
    api: Api, assistant: Project
) -> None:
    many = [conversation(f"c{n}", "hi") for n in range(parsing.MAX_CONVERSATIONS + 1)]
    error = api.post(task(*many)).json()["error"]
    assert error["target"] == CONV
    assert f"the limit is {parsing.MAX_CONVERSATIONS}" in error["message"]

    # Items count across conversations: 100 in all is the limit.
    dialogs = [conversation("c0", *["hi"] * 60), conversation("c1", *["hi"] * 40)]
    assert api.post(task(*dialogs)).status_code == 200
    dialogs.append(conversation("c2", "hi"))
    error = api.post(task(*dialogs)).json()["error"]
    assert error["target"] == CONV
    assert "more than 100 conversation items" in error["message"]
    assert f"{CONV}[2]" in error["message"]

    text = "send an email " + "a" * 986  # 1,000 characters, the item limit
    # 25 items of 1,000 characters in two conversations: exactly the limit.
    heavy = [conversation("c0", *[text] * 13), conversation("c1", *[text] * 12)]
    assert api.post(task(*heavy)).status_code == 200
    heavy[1]["conversationItems"].append(item("extra", "hi"))
    response = api.post(task(*heavy))
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["target"] == CONV
    assert "25,000 characters" in error["message"]
    assert f"{CONV}[1].conversationItems[12]" in error["message"]


def test_the_limits_are_the_documented_ones() -> None:
    assert (
        parsing.MAX_CONVERSATIONS,
        parsing.MAX_CONVERSATION_ITEMS,
        parsing.MAX_CONVERSATIONAL_AI_CHARACTERS,
        parsing.MAX_QUERY_LENGTH,
    ) == (10, 100, 25_000, 1000)


# ------------------------------------------------------------------ logging


def test_logging_stores_one_query_per_item_except_the_agents(
    api: Api, assistant: Project
) -> None:
    from training.selectors.review import ReviewFilter, review_queue

    dialog = conversation("c", "hi", "send an email to carol")
    dialog["conversationItems"].insert(
        1,
        {
            "id": "bot",
            "participantId": "bot",
            "role": "agent",
            "text": "hello, how can i help you",
        },
    )
    api.post(task(dialog))
    assert not PredictionLog.objects.exists()

    response = api.post(task(dialog, isLoggingEnabled=True))
    assert response.status_code == 200
    rows = PredictionLog.objects.order_by("id")
    assert [(r.query, r.top_intent) for r in rows] == [
        ("hi", "None"),
        ("send an email to carol", "SendEmail"),
    ]
    row = rows[1]
    assert (row.project, row.deployment_name, row.language) == (
        assistant,
        "production",
        "en",
    )
    assert row.prediction["projectKind"] == "Conversation"
    assert 0 < row.confidence <= 1
    assert row.api_key_prefix.startswith("osk_")
    # The review queue reads them as it reads single-item queries.
    queue = review_queue(project=assistant, filters=ReviewFilter())
    assert {group.text for group in queue} == {"hi", "send an email to carol"}


# ------------------------------------------------------------------ the 2.0.0b2 SDK

# Run with azure-ai-language-conversations 2.0.0b2 first on the path (it cannot be
# installed beside 1.1.0): deserialize an answer as the client does and walk every
# declared field. Required fields must be present, values must have the declared
# types (discriminated subclasses included), and nothing may be sent that the
# models do not declare. Prints the problems as JSON, an empty list when none.
SDK_CHECK = r"""
import json, sys, types, typing
from collections.abc import Mapping
from azure.ai.language.conversations import models
from azure.ai.language.conversations._utils.model_base import Model, _deserialize

problems = []

def check(value, raw, annotation, path):
    # value: as the client deserialized it; raw: the JSON it came from.
    origin = typing.get_origin(annotation)
    if annotation is typing.Any:
        return True
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if raw is None:
            return type(None) in options
        return any(
            check(value, raw, o, path) for o in options if o is not type(None)
        )
    if origin is list:
        if not isinstance(raw, list) or not isinstance(value, list):
            return False
        (inner,) = typing.get_args(annotation)
        for n, (element, raw_element) in enumerate(zip(value, raw)):
            if not check(element, raw_element, inner, f"{path}[{n}]"):
                problems.append(f"{path}[{n}]: {raw_element!r} is not {inner}")
        return True
    if origin is typing.Literal:
        return raw in typing.get_args(annotation)
    if isinstance(annotation, type) and issubclass(annotation, Model):
        if not isinstance(raw, Mapping) or not isinstance(value, annotation):
            return False
        walk(value, path)
        return True
    if annotation is float:
        return isinstance(raw, (int, float)) and not isinstance(raw, bool)
    if annotation is int:
        return isinstance(raw, int) and not isinstance(raw, bool)
    if isinstance(annotation, type):
        return isinstance(raw, annotation)
    return False

def walk(model, path):
    cls = type(model)
    hints = typing.get_type_hints(cls, localns={"_models": models})
    declared = {rf._rest_name for rf in cls._attr_to_rest_field.values()}
    for key in set(model.keys()) - declared:
        problems.append(f"{path}.{key}: not a field of {cls.__name__}")
    for attr, rf in cls._attr_to_rest_field.items():
        where = f"{path}.{rf._rest_name}"
        annotation = hints[attr]
        optional = type(None) in typing.get_args(annotation)
        raw = model.get(rf._rest_name)
        if raw is None:
            if not optional:
                problems.append(f"{where}: required by {cls.__name__}, missing")
            continue
        if not check(getattr(model, attr), raw, annotation, where):
            problems.append(f"{where}: {raw!r} is not {annotation}")

answer = _deserialize(models.AnalyzeConversationActionResult, json.load(sys.stdin))
walk(answer, "$")
print(json.dumps({"type": type(answer).__name__, "problems": problems}))
"""


@pytest.fixture(scope="module")
def sdk_2_0_0b2() -> Path:
    package = Package("azure-ai-language-conversations", "2.0.0b2", PREVIEW_SDK)
    try:
        return fetch_sources(package)
    except IndexUnavailable as exc:
        skip_or_fail(f"the package index cannot give the 2.0.0b2 sdist: {exc}")
    except SamplesBroken as exc:
        skip_or_fail(f"the 2.0.0b2 sdist is unusable: {exc}")
    raise AssertionError("unreachable")


def sdk_check(source: Path, answer: dict[str, Any]) -> dict[str, Any]:
    result = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", SDK_CHECK],
        input=json.dumps(answer),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={**os.environ, "PYTHONPATH": str(source)},
    )
    assert result.returncode == 0, result.stderr
    checked: dict[str, Any] = json.loads(result.stdout)
    return checked


def test_answers_deserialize_strictly_with_the_2_0_0b2_models(
    api: Api, sdk_2_0_0b2: Path
) -> None:
    project = ProjectFactory.create(name="Assistant", language="en")
    when = EntityDefinition(category="When", prebuilts=("DateTime",))
    deploy_bundle(project, conversation_bundle(EXAMPLES, entities=[CITY, when]))
    dialog = conversation(
        "order",
        "hi",
        "send an email to carol tomorrow at 5pm",
        "book a flight to zurich",
        "thanks, bye tomorrow",
    )
    answer = api.post(
        task(dialog, conversation("b", "hello"), stringIndexType="Utf16CodeUnit")
    ).json()
    intents = answer["result"]["conversations"][0]["intents"]
    found = [e for i in intents for e in i["entities"]]
    assert {"City", "When"} <= {e["name"] for e in found}
    assert any(e.get("resolutions") for e in found)
    assert sdk_check(sdk_2_0_0b2, answer) == {
        "type": "ConversationalAITaskResult",
        "problems": [],
    }


def test_the_sdk_check_finds_what_the_models_refuse(sdk_2_0_0b2: Path) -> None:
    """The check can fail: a missing required field, a wrong type and an unknown
    field are each reported."""
    bad = {
        "kind": "ConversationalAIResult",
        "result": {
            "conversations": [
                {
                    "id": "c",
                    "intents": [
                        {
                            "name": "A",
                            "conversationItemRanges": [{"offset": "0", "count": 1}],
                            "entities": [],
                            "confidenceScore": 0.5,
                        }
                    ],
                }
            ]
        },
    }
    problems = sdk_check(sdk_2_0_0b2, bad)["problems"]
    intent = "$.result.conversations[0].intents[0]"
    assert f"{intent}.type: required by ConversationalAIIntent, missing" in problems
    assert any(p.startswith(f"{intent}.conversationItemRanges[0]") for p in problems)
    assert f"{intent}.confidenceScore: not a field of ConversationalAIIntent" in (
        problems
    )


def test_every_item_counts_against_the_keys_rate_limit(
    api: Api, assistant: Project, settings: Any
) -> None:
    """A request of N items is N predictions of work: the per-minute quota counts
    them all, or a 100-item request would pass a quota of 1 request."""
    settings.STUDIO_RATE_LIMIT_PER_MINUTE = 5
    assert api.post(task(conversation("a", "hi", "hello", "thanks"))).status_code == 200
    assert api.post(task(conversation("b", "hi", "bye"))).status_code == 200
    limited = api.post(task(conversation("c", "hi")))
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "TooManyRequests"
    assert 1 <= int(limited["Retry-After"]) <= 60
