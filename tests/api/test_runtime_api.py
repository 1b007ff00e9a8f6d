"""Runtime prediction API: ``:analyze-conversations``, ``:query-knowledgebases``,
``:query-text`` (azure-api.md §1, §2)."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.core.cache import cache
from django.db import OperationalError
from django.test import Client
from django.test.utils import CaptureQueriesContext

from projects.services import project_create_or_update
from runtime import keys, registry
from runtime.registry import runtime_reset
from studio.deployment_state import deployment_state_bump
from studio.services import apikey_create, apikey_revoke
from tests.azure_spec import assert_matches_azure_definition
from tests.factories import (
    KbProjectFactory,
    OrchestrationProjectFactory,
    ProjectFactory,
)
from tests.training.runtime_helpers import (
    EMAIL_EXAMPLES,
    TRAVEL_EXAMPLES,
    conversation_bundle,
    deploy_bundle,
    kb_bundle,
    orchestration_bundle,
)
from training.engine.bundles import TargetSpec
from training.engine.entities import EntityDefinition, ListSublist
from training.engine.qna import QnaRecord
from training.models import PredictionLog

pytestmark = pytest.mark.django_db

ANALYZE = "/language/:analyze-conversations?api-version=2023-04-01"
QUERY_KB = "/language/:query-knowledgebases"
QUERY_TEXT = "/language/:query-text?api-version=2021-10-01"
# A thumbs-up with a skin tone (2 code points, 4 UTF-16 units, 1 grapheme) and a
# "Zürich" whose ü is u + a combining diaeresis (2 code points, 1 grapheme).
EMOJI_TEXT = "👍🏽 fly to Zu\u0308rich now"
CITY = EntityDefinition(
    category="City",
    list_sublists=(ListSublist("zurich", {"": ("Zürich",)}),),
)
FAQ = [
    QnaRecord(
        id=1,
        questions=("How do I reset my password?",),
        answer="Open settings and choose reset password.",
        metadata={"area": "account"},
    ),
    QnaRecord(
        id=2,
        questions=("What are your opening hours?",),
        answer="We are open from 9 to 5 on weekdays.",
        metadata={"area": "store"},
    ),
    QnaRecord(
        id=3,
        questions=("How long does shipping take?",),
        answer="Shipping takes two to four days.",
        metadata={"area": "store"},
    ),
]


@pytest.fixture(autouse=True)
def loopback_targets_allowed(settings: Any) -> None:
    """The test targets below listen on loopback, which the studio refuses unless
    an administrator allows it (studio/target_policy.py), as one would here."""
    settings.STUDIO_TARGET_ALLOWED_HOSTS = ["127.0.0.1"]


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
def key() -> str:
    return apikey_create(name="bot")[1]


class Api:
    def __init__(self, client: Client, key: str) -> None:
        self.client = client
        self.key = key

    def post(self, url: str, body: Any, *, raw: bool = False) -> Any:
        return self.client.post(
            url,
            body if raw else json.dumps(body),
            content_type="application/json",
            headers={"Ocp-Apim-Subscription-Key": self.key},
        )

    def analyze(self, text: str = "send an email to carol", **parameters: Any) -> Any:
        parameters.setdefault("projectName", "Email")
        parameters.setdefault("deploymentName", "production")
        return self.post(ANALYZE, analyze_body(text, **parameters))


def analyze_body(text: str, **parameters: Any) -> dict[str, Any]:
    return {
        "kind": "Conversation",
        "analysisInput": {
            "conversationItem": {"id": "1", "participantId": "user", "text": text}
        },
        "parameters": parameters,
    }


@pytest.fixture
def api(client: Client, key: str) -> Api:
    return Api(client, key)


@pytest.fixture
def email_app() -> None:
    project = ProjectFactory.create(name="Email", language="en")
    deploy_bundle(project, conversation_bundle(EMAIL_EXAMPLES, entities=[CITY]))


@pytest.fixture
def faq() -> None:
    deploy_bundle(KbProjectFactory.create(name="Faq"), kb_bundle(FAQ))


class Target:
    """A local HTTP endpoint standing in for LUIS or an external bot backend."""

    def __init__(self) -> None:
        self.requests: list[dict[str, Any]] = []
        self.status = 200
        self.body: bytes = json.dumps({"prediction": {"topIntent": "Ext"}}).encode()
        self.delay = 0.0
        self.headers: dict[str, str] = {}
        target = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                target.requests.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers),
                        "body": self.rfile.read(length) if length else b"",
                    }
                )
                if target.delay:
                    time.sleep(target.delay)
                try:
                    self.send_response(target.status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(target.body)))
                    for name, value in target.headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(target.body)
                except OSError:
                    pass  # the client gave up (timeout test)

            do_GET = _answer
            do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/predict"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def target() -> Iterator[Target]:
    server = Target()
    yield server
    server.close()


def _orchestrator(
    targets: dict[str, TargetSpec], examples: dict[str, list[str]] | None = None
) -> None:
    examples = examples or {
        "EmailIntent": EMAIL_EXAMPLES["SendEmail"] + EMAIL_EXAMPLES["ReadEmail"],
        "TravelIntent": TRAVEL_EXAMPLES["BookFlight"],
        "FaqIntent": [
            "how do i reset my password",
            "what are your opening hours",
            "how long does shipping take",
            "when are you open",
            "i forgot my password",
            "shipping time question",
        ],
    }
    project = OrchestrationProjectFactory.create(name="Router", language="en")
    deploy_bundle(project, orchestration_bundle(examples, targets))


# ------------------------------------------------------------ Conversation projects


def test_conversation_prediction_has_azure_shape_with_sorted_intents(
    api: Api, email_app: None
) -> None:
    response = api.analyze("please send an email to carol", verbose=True)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json; charset=utf-8"
    body = response.json()
    assert body["kind"] == "ConversationResult"
    assert body["result"]["query"] == "please send an email to carol"
    prediction = body["result"]["prediction"]
    assert prediction["projectKind"] == "Conversation"
    assert prediction["topIntent"] == "SendEmail"
    scores = [i["confidenceScore"] for i in prediction["intents"]]
    assert scores == sorted(scores, reverse=True)
    assert {i["category"] for i in prediction["intents"]} == {"SendEmail", "ReadEmail"}
    assert abs(sum(scores) - 1) < 1e-6
    assert prediction["entities"] == []


@pytest.mark.parametrize(
    ("index_type", "offset", "length"),
    [
        ("UnicodeCodePoint", 10, 7),
        ("Utf16CodeUnit", 12, 7),
        ("TextElements_v8", 9, 6),
        (None, 9, 6),  # the default is TextElements_v8
    ],
)
def test_entity_offsets_follow_the_requested_string_index_type(
    api: Api, email_app: None, index_type: str | None, offset: int, length: int
) -> None:
    parameters = {"stringIndexType": index_type} if index_type else {}
    response = api.analyze(EMOJI_TEXT, **parameters)
    assert response.status_code == 200, response.content
    (entity,) = response.json()["result"]["prediction"]["entities"]
    assert entity["category"] == "City"
    assert entity["text"] == "Zu\u0308rich"
    assert (entity["offset"], entity["length"]) == (offset, length)
    assert entity["confidenceScore"] == 1
    assert entity["extraInformation"] == [
        {"extraInformationKind": "ListKey", "key": "zurich"}
    ]


def test_below_the_confidence_threshold_the_top_intent_is_none(
    api: Api, email_app: None
) -> None:
    from projects.models import Project

    Project.objects.filter(name="Email").update(confidence_threshold=0.999)
    registry.runtime().directory.invalidate()
    prediction = api.analyze("send an email").json()["result"]["prediction"]
    assert prediction["topIntent"] == "None"
    assert prediction["intents"][0]["category"] == "SendEmail"


def test_with_per_intent_thresholds_below_the_intents_own_the_top_intent_is_none(
    api: Api, email_app: None
) -> None:
    import numpy as np

    from projects.models import Project

    prediction = api.analyze("send an email").json()["result"]["prediction"]
    assert prediction["topIntent"] == "SendEmail"
    confidence = prediction["intents"][0]["confidenceScore"]
    threshold = confidence / 2
    Project.objects.filter(name="Email").update(confidence_threshold=threshold)
    deployment_state_bump()  # as the settings services do
    registry.runtime().directory.invalidate()
    assert api.analyze("send an email").json()["result"]["prediction"]["topIntent"] == (
        "SendEmail"
    )
    # Held out, SendEmail was often predicted wrongly just above this confidence
    # and rightly only far above it: its own threshold lies above the answer's.
    current = registry.runtime()
    model = current.directory.lookup("Email", "production", kinds=("Conversation",))
    classifier = current.models.get(model).intents
    wrong_at = (confidence + 1.0) / 2
    classifier.held_out_confidences["SendEmail"] = np.full(20_000, 1.0, np.float32)
    classifier.held_out_mistakes["SendEmail"] = np.full(20_000, wrong_at, np.float32)
    classifier._threshold_cache.clear()
    assert classifier.intent_thresholds(threshold)["SendEmail"] > confidence

    # The option is off: the project's one threshold decides.
    off = api.analyze("send an email").json()["result"]["prediction"]
    assert off["topIntent"] == "SendEmail"
    Project.objects.filter(name="Email").update(per_intent_thresholds=True)
    deployment_state_bump()  # as the settings services do
    registry.runtime().directory.invalidate()
    on = api.analyze("send an email").json()["result"]["prediction"]
    assert on["topIntent"] == "None"
    assert on["intents"] == off["intents"]  # the scores are reported unchanged


def test_a_single_intent_project_predicts_it_with_full_confidence(api: Api) -> None:
    project = ProjectFactory.create(name="Echo", language="en")
    deploy_bundle(project, conversation_bundle({"Echo": ["say it again"]}))
    prediction = api.analyze("anything at all", projectName="Echo").json()["result"][
        "prediction"
    ]
    assert prediction["topIntent"] == "Echo"
    assert prediction["intents"] == [{"category": "Echo", "confidenceScore": 1.0}]


def test_a_warm_prediction_costs_no_database_query(
    api: Api, email_app: None, django_assert_max_num_queries: Any
) -> None:
    assert api.analyze().status_code == 200  # loads key, directory and model
    with django_assert_max_num_queries(0):
        for _ in range(20):
            assert api.analyze().status_code == 200
    registry.runtime().directory.invalidate()  # as when the refresh time passes
    with django_assert_max_num_queries(1):
        assert api.analyze().status_code == 200
    assert registry.runtime().models.loads == 1


# ------------------------------------------------------------ request validation


@pytest.mark.parametrize(
    ("mutate", "code", "target"),
    [
        (lambda b: b.pop("kind"), "InvalidRequest", "kind"),
        (lambda b: b.update(kind="ConversationalTask"), "InvalidArgument", "kind"),
        (lambda b: b.pop("analysisInput"), "InvalidRequest", "analysisInput"),
        (
            lambda b: b["analysisInput"].pop("conversationItem"),
            "InvalidRequest",
            "analysisInput.conversationItem",
        ),
        (
            lambda b: b["analysisInput"]["conversationItem"].pop("id"),
            "InvalidRequest",
            "analysisInput.conversationItem.id",
        ),
        (
            lambda b: b["analysisInput"]["conversationItem"].pop("participantId"),
            "InvalidRequest",
            "analysisInput.conversationItem.participantId",
        ),
        (
            lambda b: b["analysisInput"]["conversationItem"].pop("text"),
            "InvalidRequest",
            "analysisInput.conversationItem.text",
        ),
        (
            lambda b: b["analysisInput"]["conversationItem"].update(text=""),
            "InvalidArgument",
            "analysisInput.conversationItem.text",
        ),
        (
            lambda b: b["analysisInput"]["conversationItem"].update(text="a" * 1001),
            "InvalidArgument",
            "analysisInput.conversationItem.text",
        ),
        (lambda b: b.pop("parameters"), "InvalidRequest", "parameters"),
        (
            lambda b: b["parameters"].pop("projectName"),
            "InvalidRequest",
            "parameters.projectName",
        ),
        (
            lambda b: b["parameters"].pop("deploymentName"),
            "InvalidRequest",
            "parameters.deploymentName",
        ),
        (
            lambda b: b["parameters"].update(stringIndexType="Utf8CodeUnit"),
            "InvalidArgument",
            "parameters.stringIndexType",
        ),
        (
            lambda b: b["parameters"].update(verbose="yes"),
            "InvalidArgument",
            "parameters.verbose",
        ),
        (
            lambda b: b["parameters"].update(targetProjectParameters=[]),
            "InvalidArgument",
            "parameters.targetProjectParameters",
        ),
    ],
)
def test_bad_analyze_requests_get_a_400_naming_the_field(
    api: Api, email_app: None, mutate: Any, code: str, target: str
) -> None:
    body = analyze_body(
        "send an email", projectName="Email", deploymentName="production"
    )
    mutate(body)
    response = api.post(ANALYZE, body)
    assert response.status_code == 400, response.content
    error = response.json()["error"]
    assert (error["code"], error["target"]) == (code, target)
    assert response["x-ms-error-code"] == code
    assert not PredictionLog.objects.exists()


def test_a_1000_character_query_is_accepted(api: Api, email_app: None) -> None:
    assert api.analyze("email " + "a" * 994).status_code == 200


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        (b"{not json", "InvalidRequest"),
        (b"[1, 2]", "InvalidRequest"),
        (b"", "InvalidRequest"),
    ],
)
def test_malformed_bodies_get_a_400(api: Api, raw: bytes, code: str) -> None:
    response = api.post(ANALYZE, raw, raw=True)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == code


def test_unknown_project_and_deployment_are_404s(api: Api, email_app: None) -> None:
    missing = api.analyze(projectName="Nope")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ProjectNotFound"
    undeployed = api.analyze(deploymentName="staging")
    assert undeployed.status_code == 404
    assert undeployed.json()["error"]["code"] == "NotFound"
    assert "staging" in undeployed.json()["error"]["message"]


def test_wrong_project_kind_is_a_400(api: Api, faq: None, email_app: None) -> None:
    response = api.analyze(projectName="Faq")
    assert response.status_code == 400
    assert "QuestionAnswering" in response.json()["error"]["message"]
    response = api.post(
        QUERY_KB
        + "?projectName=Email&deploymentName=production&api-version=2021-10-01",
        {"question": "hello"},
    )
    assert response.status_code == 400


def test_api_version_and_key_are_required(
    client: Client, api: Api, email_app: None
) -> None:
    body = analyze_body("hi", projectName="Email", deploymentName="production")
    no_version = api.post("/language/:analyze-conversations", body)
    assert no_version.status_code == 400
    assert no_version.json()["error"]["target"] == "api-version"
    qna_version = api.post(
        "/language/:analyze-conversations?api-version=2021-10-01", body
    )
    assert qna_version.status_code == 400
    no_key = client.post(ANALYZE, json.dumps(body), content_type="application/json")
    assert no_key.status_code == 401
    bad_key = client.post(
        ANALYZE,
        json.dumps(body),
        content_type="application/json",
        headers={"Ocp-Apim-Subscription-Key": "osk_wrong"},
    )
    assert bad_key.status_code == 401


def test_a_revoked_key_stops_working_once_its_cache_entry_expires(
    api: Api, email_app: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.models import ApiKey

    assert api.analyze().status_code == 200
    apikey_revoke(api_key=ApiKey.objects.get())
    monkeypatch.setattr(keys, "KEY_CACHE_SECONDS", 0.0)
    keys.key_cache.clear()
    assert api.analyze().status_code == 401


# ------------------------------------------------------------ orchestration


def test_orchestration_routes_to_the_clu_deployment_and_embeds_its_prediction(
    api: Api, email_app: None, target: Target
) -> None:
    _orchestrator(
        {
            "EmailIntent": TargetSpec(
                kind="Conversation", project_name="Email", deployment_name="production"
            ),
            "TravelIntent": TargetSpec(kind="Http", url=target.url),
            "FaqIntent": TargetSpec(
                kind="QuestionAnswering",
                project_name="Faq",
                deployment_name="production",
            ),
        }
    )
    response = api.analyze(
        "send an email to carol in Zürich",
        projectName="Router",
        stringIndexType="UnicodeCodePoint",
        targetProjectParameters={
            "EmailIntent": {
                "targetProjectKind": "Conversation",
                "callingOptions": {"verbose": True, "language": "en"},
            }
        },
    )
    assert response.status_code == 200, response.content
    prediction = response.json()["result"]["prediction"]
    assert prediction["projectKind"] == "Orchestration"
    assert prediction["topIntent"] == "EmailIntent"
    intents = prediction["intents"]
    assert set(intents) == {"EmailIntent", "TravelIntent", "FaqIntent", "None"}
    assert intents["TravelIntent"]["targetProjectKind"] == "Luis"  # Http -> Luis
    assert intents["FaqIntent"]["targetProjectKind"] == "QuestionAnswering"
    assert intents["None"] == {"targetProjectKind": "NonLinked", "confidenceScore": 0.0}
    assert all("result" not in v for k, v in intents.items() if k != "EmailIntent")
    routed = intents["EmailIntent"]
    assert routed["targetProjectKind"] == "Conversation"
    assert routed["confidenceScore"] > 0.5
    inner = routed["result"]
    assert inner["query"] == "send an email to carol in Zürich"
    assert inner["prediction"]["projectKind"] == "Conversation"
    assert inner["prediction"]["topIntent"] == "SendEmail"
    (city,) = inner["prediction"]["entities"]
    assert (city["offset"], city["length"]) == (inner["query"].index("Zürich"), 6)
    assert target.requests == []


def test_orchestration_routes_to_the_knowledge_base_with_calling_options(
    api: Api, faq: None
) -> None:
    _orchestrator(
        {"FaqIntent": TargetSpec(kind="QuestionAnswering", project_name="Faq")}
    )
    response = api.analyze(
        "i forgot my password, how do i reset it",
        projectName="Router",
        targetProjectParameters={
            "FaqIntent": {
                "targetProjectKind": "QuestionAnswering",
                "callingOptions": {
                    "question": "what are your opening hours",
                    "top": 1,
                    "confidenceScoreThreshold": 0.1,
                },
            }
        },
    )
    assert response.status_code == 200, response.content
    routed = response.json()["result"]["prediction"]["intents"]["FaqIntent"]
    (answer,) = routed["result"]["answers"]
    assert answer["id"] == 2  # the callingOptions question, not the query
    # Without options the query itself is the question.
    plain = api.analyze("how do i reset my password", projectName="Router").json()
    answers = plain["result"]["prediction"]["intents"]["FaqIntent"]["result"]["answers"]
    assert answers[0]["id"] == 1


def test_bad_qna_calling_options_are_a_400(api: Api, faq: None) -> None:
    _orchestrator(
        {"FaqIntent": TargetSpec(kind="QuestionAnswering", project_name="Faq")}
    )
    response = api.analyze(
        "send an email",
        projectName="Router",
        targetProjectParameters={"FaqIntent": {"callingOptions": {"top": 0}}},
    )
    assert response.status_code == 400
    assert response.json()["error"]["target"] == (
        "parameters.targetProjectParameters.FaqIntent.callingOptions.top"
    )


def test_bad_clu_calling_options_are_a_400(api: Api, email_app: None) -> None:
    email = TargetSpec(kind="Conversation", project_name="Email")
    _orchestrator({"EmailIntent": email})
    response = api.analyze(
        "send an email",
        projectName="Router",
        targetProjectParameters={"EmailIntent": {"callingOptions": {"verbose": "no"}}},
    )
    assert response.status_code == 400
    assert response.json()["error"]["target"] == (
        "parameters.targetProjectParameters.EmailIntent.callingOptions.verbose"
    )


def test_orchestration_calls_an_http_target_and_embeds_its_json(
    api: Api, target: Target
) -> None:
    _orchestrator({"TravelIntent": TargetSpec(kind="Http", url=target.url,
                                              headers={"X-Bot": "1"})})  # fmt: skip
    response = api.analyze(
        "book a flight to paris",
        projectName="Router",
        targetProjectParameters={"TravelIntent": {"callingOptions": {"a": 1}}},
    )
    assert response.status_code == 200
    routed = response.json()["result"]["prediction"]["intents"]["TravelIntent"]
    assert routed["result"] == {"prediction": {"topIntent": "Ext"}}
    (request,) = target.requests
    assert request["method"] == "POST"
    assert request["headers"]["X-Bot"] == "1"
    assert json.loads(request["body"]) == {
        "query": "book a flight to paris",
        "language": None,
        "callingOptions": {"a": 1},
    }


def test_orchestration_calls_a_luis_target_with_get_and_query(
    api: Api, target: Target
) -> None:
    _orchestrator({"TravelIntent": TargetSpec(kind="Luis", url=target.url)})
    response = api.analyze(
        "book a flight to paris",
        projectName="Router",
        targetProjectParameters={
            "TravelIntent": {
                "targetProjectKind": "Luis",
                "query": "flight to paris",
                "callingOptions": {"verbose": True, "show-all-intents": True},
            }
        },
    )
    routed = response.json()["result"]["prediction"]["intents"]["TravelIntent"]
    assert routed["targetProjectKind"] == "Luis"
    assert routed["result"] == {"prediction": {"topIntent": "Ext"}}
    (request,) = target.requests
    assert request["method"] == "GET"
    query = parse_qs(urlsplit(request["path"]).query)
    assert query == {
        "query": ["flight to paris"],
        "verbose": ["true"],
        "show-all-intents": ["true"],
    }


def test_a_luis_link_calls_the_configured_luis_endpoint(
    api: Api, target: Target, settings: Any
) -> None:
    settings.STUDIO_LUIS_ENDPOINT = target.url.removesuffix("/predict")
    settings.STUDIO_LUIS_KEY = "luis-key"
    spec = TargetSpec(kind="Luis", luis_app_id="app-1", luis_slot_name="staging")
    _orchestrator({"TravelIntent": spec})
    response = api.analyze("book a flight to paris", projectName="Router")
    routed = response.json()["result"]["prediction"]["intents"]["TravelIntent"]
    assert routed["result"] == {"prediction": {"topIntent": "Ext"}}
    (request,) = target.requests
    path = urlsplit(request["path"])
    assert path.path == "/luis/prediction/v3.0/apps/app-1/slots/staging/predict"
    assert parse_qs(path.query) == {"query": ["book a flight to paris"]}
    assert request["headers"]["Ocp-Apim-Subscription-Key"] == "luis-key"
    settings.STUDIO_LUIS_ENDPOINT = ""
    unconfigured = api.analyze("book a flight to paris", projectName="Router").json()
    error = unconfigured["result"]["prediction"]["intents"]["TravelIntent"]["error"]
    assert "STUDIO_LUIS_ENDPOINT" in error["message"]


@pytest.mark.parametrize(
    ("status", "body", "delay", "code"),
    [
        (500, b'{"error": "boom"}', 0.0, "InternalServerError"),
        (200, b"<html>not json</html>", 0.0, "InternalServerError"),
        (200, b"{}", 1.5, "Timeout"),
    ],
)
def test_a_failing_target_never_fails_the_request(
    api: Api,
    target: Target,
    settings: Any,
    status: int,
    body: bytes,
    delay: float,
    code: str,
) -> None:
    settings.STUDIO_TARGET_TIMEOUT_SECONDS = 0.3
    target.status, target.body, target.delay = status, body, delay
    _orchestrator({"TravelIntent": TargetSpec(kind="Http", url=target.url)})
    started = time.monotonic()
    response = api.analyze("book a flight to paris", projectName="Router")
    assert time.monotonic() - started < 1.2
    assert response.status_code == 200
    prediction = response.json()["result"]["prediction"]
    assert prediction["topIntent"] == "TravelIntent"
    routed = prediction["intents"]["TravelIntent"]
    assert "result" not in routed
    assert routed["error"]["code"] == code
    assert set(prediction["intents"]) == {
        "EmailIntent",
        "TravelIntent",
        "FaqIntent",
        "None",
    }


def test_an_unreachable_or_undeployed_target_is_reported_not_raised(api: Api) -> None:
    _orchestrator(
        {
            "TravelIntent": TargetSpec(kind="Http", url="http://127.0.0.1:9/none"),
            "EmailIntent": TargetSpec(
                kind="Conversation", project_name="Email", deployment_name="production"
            ),
        }
    )
    travel = api.analyze("book a flight to paris", projectName="Router").json()
    error = travel["result"]["prediction"]["intents"]["TravelIntent"]["error"]
    assert error["code"] == "ServiceUnavailable"
    email = api.analyze("send an email to carol", projectName="Router").json()
    routed = email["result"]["prediction"]["intents"]["EmailIntent"]
    assert "result" not in routed
    assert routed["error"]["code"] == "NotFound"


def test_below_threshold_the_router_answers_none_and_calls_no_target(
    api: Api, target: Target
) -> None:

    _orchestrator({"TravelIntent": TargetSpec(kind="Http", url=target.url)})
    project_create_or_update(
        name="Router", data={"settings": {"confidenceThreshold": 1.0}}
    )
    registry.runtime().directory.invalidate()  # as when the refresh time passes
    prediction = api.analyze("book a flight to paris", projectName="Router").json()[
        "result"
    ]["prediction"]
    assert prediction["topIntent"] == "None"
    assert all("result" not in v for v in prediction["intents"].values())
    assert prediction["intents"]["TravelIntent"]["confidenceScore"] > 0.3
    assert target.requests == []


def test_direct_target_skips_routing_and_reports_only_the_target_at_1(
    api: Api, target: Target
) -> None:
    """Azure's directTarget example: the forced intent alone, confidence 1 — not
    the classifier's score for it, nor the other intents."""
    _orchestrator({"TravelIntent": TargetSpec(kind="Http", url=target.url)})
    response = api.analyze(
        "send an email to carol", projectName="Router", directTarget="TravelIntent"
    )
    assert response.status_code == 200, response.content
    result = response.json()["result"]
    assert result["query"] == "send an email to carol"
    prediction = result["prediction"]
    assert prediction["topIntent"] == "TravelIntent"
    assert prediction["intents"] == {
        "TravelIntent": {
            "targetProjectKind": "Luis",
            "confidenceScore": 1,
            "result": {"prediction": {"topIntent": "Ext"}},
        }
    }
    assert len(target.requests) == 1
    assert_matches_azure_definition(
        prediction, "analyzeconversations.json", "OrchestrationPrediction"
    )


def test_direct_target_to_a_knowledge_base_queries_the_calling_options_question(
    api: Api, faq: None
) -> None:
    _orchestrator(
        {"FaqIntent": TargetSpec(kind="QuestionAnswering", project_name="Faq")}
    )
    response = api.analyze(
        "send an email to carol",
        projectName="Router",
        directTarget="FaqIntent",
        targetProjectParameters={
            "FaqIntent": {
                "targetProjectKind": "QuestionAnswering",
                "callingOptions": {"question": "what are your opening hours"},
            }
        },
    )
    assert response.status_code == 200, response.content
    result = response.json()["result"]
    assert result["query"] == "what are your opening hours"
    routed = result["prediction"]["intents"]["FaqIntent"]
    assert routed["confidenceScore"] == 1
    assert routed["result"]["answers"][0]["id"] == 2
    assert_matches_azure_definition(
        result, "analyzeconversations.json", "AnalyzeConversationResult"
    )


def test_a_luis_target_receives_the_top_level_verbose(api: Api, target: Target) -> None:
    _orchestrator({"TravelIntent": TargetSpec(kind="Luis", url=target.url)})
    response = api.analyze("book a flight to paris", projectName="Router", verbose=True)
    assert response.status_code == 200, response.content
    (request,) = target.requests
    query = parse_qs(urlsplit(request["path"]).query)
    assert query == {"query": ["book a flight to paris"], "verbose": ["true"]}
    # callingOptions.verbose, when sent, is the LUIS call's own setting.
    target.requests.clear()
    api.analyze(
        "book a flight to paris",
        projectName="Router",
        verbose=True,
        targetProjectParameters={
            "TravelIntent": {"callingOptions": {"verbose": False}}
        },
    )
    (request,) = target.requests
    assert parse_qs(urlsplit(request["path"]).query)["verbose"] == ["false"]


def test_direct_target_must_be_an_intent_of_an_orchestration_project(
    api: Api, email_app: None
) -> None:
    _orchestrator({})
    unknown = api.analyze(projectName="Router", directTarget="Nope")
    assert unknown.status_code == 400
    assert unknown.json()["error"]["target"] == "parameters.directTarget"
    on_clu = api.analyze(directTarget="SendEmail")
    assert on_clu.status_code == 400


# ------------------------------------------------------------ logging, rate limits


def test_logging_stores_the_query_only_when_asked(api: Api, email_app: None) -> None:
    api.analyze("send an email to carol")
    assert not PredictionLog.objects.exists()
    api.analyze("send an email to bob", isLoggingEnabled=True)
    (row,) = PredictionLog.objects.all()
    assert row.query == "send an email to bob"
    assert row.deployment_name == "production"
    assert row.project.name == "Email"
    assert row.top_intent == "SendEmail"
    assert row.model_id.startswith("m1-")
    assert row.api_key_prefix.startswith("osk_")
    assert row.prediction["projectKind"] == "Conversation"
    assert 0 < row.confidence <= 1


def test_a_prediction_writes_nothing_inside_the_request(
    api: Api, email_app: None, settings: Any
) -> None:
    """The logged query (and, once a minute, the key's last-used time) was written
    inside the request: on SQLite it waited for the write lock behind an upload's
    chunk or anybody's save. Now a thread of the process writes them after."""
    from django.db import connection

    from studio.models import ApiKey
    from studio.writebehind import write_behind_flush

    settings.STUDIO_WRITE_BEHIND_MS = 60_000  # no flush by the thread meanwhile
    ApiKey.objects.update(last_used_at=None)
    keys.key_cache.clear()

    with CaptureQueriesContext(connection) as queries:
        response = api.analyze("send an email to bob", isLoggingEnabled=True)

    assert response.status_code == 200
    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].lstrip().upper().startswith(("INSERT", "UPDATE", "DELETE"))
    ]
    assert writes == []
    assert not PredictionLog.objects.exists()
    assert write_behind_flush() == 2  # the row and the key's last use
    (row,) = PredictionLog.objects.all()
    assert row.query == "send an email to bob" and row.top_intent == "SendEmail"
    assert ApiKey.objects.filter(last_used_at__isnull=False).count() == 1


def test_deferred_writes_that_fail_are_kept_for_the_next_flush(
    api: Api, email_app: None, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from studio.writebehind import write_behind_flush

    settings.STUDIO_WRITE_BEHIND_MS = 60_000
    api.analyze("send an email to bob", isLoggingEnabled=True)
    real = PredictionLog.objects.bulk_create

    def locked(*args: Any, **kwargs: Any) -> Any:
        raise OperationalError("database is locked")

    monkeypatch.setattr(PredictionLog.objects, "bulk_create", locked)
    assert write_behind_flush() == 0
    monkeypatch.setattr(PredictionLog.objects, "bulk_create", real)
    assert write_behind_flush() >= 1
    assert PredictionLog.objects.get().query == "send an email to bob"


def test_logged_predictions_are_purged_after_the_retention_by_the_worker_sweep(
    api: Api, email_app: None, settings: Any
) -> None:
    from datetime import timedelta

    from django.utils import timezone

    from studio.worker import WorkerMonitor

    api.analyze("send an email to bob", isLoggingEnabled=True)
    api.analyze("read my new emails", isLoggingEnabled=True)
    old = PredictionLog.objects.get(query="send an email to bob")
    PredictionLog.objects.filter(pk=old.pk).update(
        created_at=timezone.now() - timedelta(days=31)
    )
    settings.STUDIO_PREDICTION_LOG_RETENTION_DAYS = 0  # keep forever
    WorkerMonitor.from_settings(hostname="test-host").sweep()
    assert PredictionLog.objects.count() == 2
    settings.STUDIO_PREDICTION_LOG_RETENTION_DAYS = 30
    WorkerMonitor.from_settings(hostname="test-host").sweep()
    assert list(PredictionLog.objects.values_list("query", flat=True)) == [
        "read my new emails"
    ]


def test_rate_limit_answers_429_with_retry_after(
    api: Api, email_app: None, settings: Any, key: str, client: Client
) -> None:
    settings.STUDIO_RATE_LIMIT_PER_MINUTE = 2
    assert api.analyze().status_code == 200
    assert api.analyze().status_code == 200
    limited = api.analyze()
    assert limited.status_code == 429
    assert limited.json()["error"]["code"] == "TooManyRequests"
    assert 1 <= int(limited["Retry-After"]) <= 60
    # Another key has its own quota.
    other = Api(client, apikey_create(name="other")[1])
    assert other.analyze().status_code == 200


def test_rate_limit_is_off_by_default(api: Api, email_app: None) -> None:
    for _ in range(5):
        assert api.analyze().status_code == 200


# ------------------------------------------------------------ database failures


def test_database_outage_without_a_directory_is_a_clean_503(
    api: Api, email_app: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert api.analyze().status_code == 200  # caches the key
    runtime_reset()

    def down() -> int:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(registry, "deployment_state_stamp", down)
    response = api.analyze()
    assert response.status_code == 503
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "ServiceUnavailable"
    assert response["Retry-After"] == "1"
    monkeypatch.undo()
    runtime_reset()
    assert api.analyze().status_code == 200


def test_database_error_in_authentication_is_a_503(
    api: Api, email_app: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    def down(**kwargs: Any) -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(keys, "apikey_authenticate", down)
    response = api.analyze()
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "ServiceUnavailable"


# ------------------------------------------------------------ question answering


def _kb_url(version: str = "2021-10-01", project: str = "Faq") -> str:
    return (
        f"{QUERY_KB}?projectName={project}&deploymentName=production"
        f"&api-version={version}"
    )


@pytest.mark.parametrize("version", ["2021-10-01", "2023-04-01"])
def test_query_knowledgebases_answers(api: Api, faq: None, version: str) -> None:
    response = api.post(
        _kb_url(version), {"question": "how do I reset my password?", "top": 2}
    )
    assert response.status_code == 200, response.content
    answers = response.json()["answers"]
    assert answers[0]["id"] == 1
    assert answers[0]["answer"] == "Open settings and choose reset password."
    assert 0 < answers[0]["confidenceScore"] <= 1
    assert len(answers) <= 2


def test_query_knowledgebases_options(api: Api, faq: None) -> None:
    by_id = api.post(_kb_url(), {"qnaId": 3}).json()["answers"]
    assert [a["id"] for a in by_id] == [3]
    filtered = api.post(
        _kb_url(),
        {
            "question": "how long does shipping take",
            "filters": {
                "metadataFilter": {"metadata": [{"key": "area", "value": "account"}]}
            },
            "userId": "u1",
            "rankerType": "QuestionOnly",
            "includeUnstructuredSources": True,
        },
    ).json()["answers"]
    assert all(a["id"] != 3 for a in filtered)
    span = api.post(
        _kb_url(),
        {
            "question": "how long does shipping take",
            "answerSpanRequest": {"enable": True, "topAnswersWithSpan": 1},
        },
    ).json()["answers"]
    assert span[0]["id"] == 3 and "answerSpan" in span[0]


def test_answer_span_request_without_enable_is_enabled_as_in_azure(
    api: Api, faq: None
) -> None:
    """Azure answers 200 to ``answerSpanRequest`` without ``enable``: sending the
    object asks for spans."""
    response = api.post(
        _kb_url(),
        {
            "question": "how long does shipping take",
            "answerSpanRequest": {"confidenceScoreThreshold": 0.0},
        },
    )
    assert response.status_code == 200, response.content
    answers = response.json()["answers"]
    assert answers[0]["id"] == 3 and "answerSpan" in answers[0]
    assert_matches_azure_definition(
        response.json(), "questionanswering.json", "AnswersResult"
    )


def test_nothing_good_enough_returns_the_default_answer(api: Api, faq: None) -> None:
    from projects.models import Project

    answers = api.post(_kb_url(), {"question": "zebra giraffe"}).json()["answers"]
    assert [a["id"] for a in answers] == [-1]
    Project.objects.filter(name="Faq").update(default_answer="Ask a human.")
    deployment_state_bump()  # as the knowledge-base services do
    registry.runtime().directory.invalidate()
    answers = api.post(_kb_url(), {"question": "zebra giraffe"}).json()["answers"]
    assert answers[0]["answer"] == "Ask a human."


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({"top": 1}, "question"),
        ({"question": ""}, "question"),
        ({"question": "x" * 1001}, "question"),
        ({"question": "hi", "top": 0}, "top"),
        (
            {"question": "hi", "confidenceScoreThreshold": 1.5},
            "confidenceScoreThreshold",
        ),
        ({"question": "hi", "rankerType": "Fancy"}, "rankerType"),
        ({"question": "hi", "context": {}}, "context.previousQnaId"),
        ({"question": "hi", "filters": []}, "filters"),
        (
            {"question": "hi", "answerSpanRequest": {"enable": False}},
            "answerSpanRequest.enable",
        ),
        ({"question": "hi", "userId": 5}, "userId"),
        (
            {
                "question": "hi",
                "filters": {"metadataFilter": {"logicalOperation": "XOR"}},
            },
            "filters.metadataFilter.logicalOperation",
        ),
    ],
)
def test_bad_knowledgebase_queries_get_a_400_naming_the_field(
    api: Api, faq: None, body: dict[str, Any], target: str
) -> None:
    response = api.post(_kb_url(), body)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["target"] == target


def test_knowledgebase_names_are_required_and_checked(api: Api, faq: None) -> None:
    no_names = api.post(f"{QUERY_KB}?api-version=2021-10-01", {"question": "hi"})
    assert no_names.status_code == 400
    assert no_names.json()["error"]["target"] == "projectName"
    missing = api.post(_kb_url(project="Nope"), {"question": "hi"})
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "ProjectNotFound"
    KbProjectFactory.create(name="Draft")
    undeployed = api.post(_kb_url(project="Draft"), {"question": "hi"})
    assert undeployed.status_code == 404
    assert undeployed.json()["error"]["code"] == "NotFound"


def test_query_text_answers_from_the_given_records(api: Api) -> None:
    response = api.post(
        QUERY_TEXT,
        {
            "question": "how long does the battery last?",
            "records": [
                {
                    "id": "0",
                    "text": "🔋 The screen is bright. The battery lasts ten hours.",
                },
                {"id": "1", "text": "Shipping is free."},
            ],
            "language": "en",
            "stringIndexType": "Utf16CodeUnit",
        },
    )
    assert response.status_code == 200, response.content
    best = response.json()["answers"][0]
    assert best["id"] == "0"
    assert "battery" in best["answer"]
    text = "🔋 The screen is bright. The battery lasts ten hours."
    start = text.index(best["answer"])
    assert best["offset"] == start + 1  # the battery emoji is two UTF-16 units


@pytest.mark.parametrize(
    "question",
    [
        "How long it takes to charge surface?",
        "How long does it take to charge a Surface?",
    ],
)
def test_query_text_sample_gets_azures_confidence_and_short_answer(
    api: Api, question: str
) -> None:
    """azure-ai-language-questionanswering's sample_query_text over its two records:
    the samples keep answers above 0.9 and print the short answer."""
    sentence = (
        "It takes two to four hours to charge the Surface Pro 4 battery fully from "
        "an empty state."
    )
    first = (
        f"Power and charging. {sentence} It can take longer if you’re using your "
        "Surface for power-intensive activities like gaming or video streaming while "
        "you’re charging it."
    )
    second = (
        "You can use the USB port on your Surface Pro 4 power supply to charge other "
        "devices, like a phone, while your Surface charges. The USB port on the power "
        "supply is only for charging, not for data transfer. If you want to use a USB "
        "device, plug it into the USB port on your Surface."
    )
    response = api.post(
        QUERY_TEXT,
        {
            "question": question,
            "records": [{"id": "0", "text": first}, {"id": "1", "text": second}],
            "language": "en",
            "stringIndexType": "UnicodeCodePoint",
        },
    )
    assert response.status_code == 200, response.content
    answers = response.json()["answers"]
    confident = [a for a in answers if a["confidenceScore"] > 0.9]
    assert len(confident) == 1
    best = confident[0]
    assert best == answers[0]
    assert (best["id"], best["answer"]) == ("0", sentence)
    assert first[best["offset"] : best["offset"] + best["length"]] == sentence
    assert best["answerSpan"]["text"] == "two to four hours"
    assert best["answerSpan"]["offset"] == sentence.index("two")
    assert best["answerSpan"]["length"] == len("two to four hours")


@pytest.mark.parametrize(
    ("body", "target"),
    [
        ({"records": [{"id": "0", "text": "x"}]}, "question"),
        ({"question": "q"}, "records"),
        ({"question": "q", "records": []}, "records"),
        ({"question": "q", "records": [{"text": "x"}]}, "records[0].id"),
        ({"question": "q", "records": [{"id": "0"}]}, "records[0].text"),
        (
            {
                "question": "q",
                "records": [{"id": "0", "text": "a"}, {"id": "0", "text": "b"}],
            },
            "records[1].id",
        ),
        (
            {
                "question": "q",
                "records": [{"id": "0", "text": "a"}],
                "stringIndexType": "x",
            },
            "stringIndexType",
        ),
    ],
)
def test_bad_text_queries_get_a_400(
    api: Api, body: dict[str, Any], target: str
) -> None:
    response = api.post(QUERY_TEXT, body)
    assert response.status_code == 400, response.content
    assert response.json()["error"]["target"] == target


def test_warm_orchestration_with_nested_clu_call_costs_no_query(
    api: Api, email_app: None
) -> None:
    _orchestrator(
        {
            "EmailIntent": TargetSpec(
                kind="Conversation", project_name="Email", deployment_name="production"
            )
        }
    )
    from django.db import connection

    assert api.analyze(projectName="Router").status_code == 200
    with CaptureQueriesContext(connection) as queries:
        for _ in range(10):
            response = api.analyze(projectName="Router")
    assert len(queries) == 0
    routed = response.json()["result"]["prediction"]["intents"]["EmailIntent"]
    assert routed["result"]["prediction"]["topIntent"] == "SendEmail"


# ------------------------------------------------------------ review: targets


class DripTarget(Target):
    """Answers headers at once, then one byte every 0.1 s for ~10 s: every single
    read finishes within a short socket timeout, the whole answer does not."""

    def __init__(self) -> None:
        super().__init__()
        handler = self.server.RequestHandlerClass

        def answer(self: Any) -> None:
            try:
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "100")
                self.end_headers()
                for _ in range(100):
                    self.wfile.write(b" ")
                    self.wfile.flush()
                    time.sleep(0.1)
            except OSError:
                pass

        handler.do_POST = answer  # type: ignore[attr-defined]
        handler.do_GET = answer  # type: ignore[attr-defined]


def test_a_slowly_dripping_target_is_cut_off_at_the_timeout(
    api: Api, settings: Any
) -> None:
    settings.STUDIO_TARGET_TIMEOUT_SECONDS = 0.5
    drip = DripTarget()
    try:
        _orchestrator({"TravelIntent": TargetSpec(kind="Http", url=drip.url)})
        started = time.monotonic()
        response = api.analyze("book a flight to paris", projectName="Router")
        elapsed = time.monotonic() - started
    finally:
        drip.close()
    assert response.status_code == 200
    routed = response.json()["result"]["prediction"]["intents"]["TravelIntent"]
    assert routed["error"]["code"] == "Timeout"
    # Cut off at 0.5 s, far from the 10 s the whole answer takes; the margin is
    # for the router's own prediction on a loaded machine.
    assert elapsed < 5


def test_a_target_redirect_is_not_followed(api: Api, target: Target) -> None:
    other = Target()
    try:
        target.status = 302
        target.body = b"{}"
        target.headers = {"Location": other.url}
        _orchestrator({"TravelIntent": TargetSpec(kind="Http", url=target.url)})
        response = api.analyze("book a flight to paris", projectName="Router")
    finally:
        other.close()
    routed = response.json()["result"]["prediction"]["intents"]["TravelIntent"]
    assert "result" not in routed
    assert "302" in routed["error"]["message"]
    assert other.requests == []


def test_a_target_database_outage_is_reported_not_raised(
    api: Api, email_app: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runtime.errors import ServiceUnavailable
    from studio.errors import StudioError

    _orchestrator(
        {"EmailIntent": TargetSpec(kind="Conversation", project_name="Email")}
    )
    assert api.analyze(projectName="Router").status_code == 200
    directory = registry.runtime().directory
    real_lookup = directory.lookup

    def lookup(project: str, deployment: str, *, kinds: Any) -> Any:
        if project == "Email":
            raise ServiceUnavailable("The database is unavailable. Retry shortly.")
        return real_lookup(project, deployment, kinds=kinds)

    monkeypatch.setattr(directory, "lookup", lookup)
    response = api.analyze(projectName="Router")
    assert response.status_code == 200, response.content
    routed = response.json()["result"]["prediction"]["intents"]["EmailIntent"]
    assert routed["error"]["code"] == "ServiceUnavailable"
    assert issubclass(ServiceUnavailable, StudioError)


@pytest.mark.parametrize(
    ("parameters", "field"),
    [
        (
            {"FaqIntent": {"callingOptions": {"filters": {"logicalOperation": "X"}}}},
            "parameters.targetProjectParameters.FaqIntent.callingOptions.filters"
            ".logicalOperation",
        ),
        (
            {"FaqIntent": {"callingOptions": {"answerSpanRequest": {"enable": False}}}},
            "parameters.targetProjectParameters.FaqIntent.callingOptions"
            ".answerSpanRequest.enable",
        ),
        (
            {
                "FaqIntent": {
                    "callingOptions": {
                        "answerSpanRequest": {"enable": True, "topAnswersWithSpan": 11}
                    }
                }
            },
            "parameters.targetProjectParameters.FaqIntent.callingOptions"
            ".answerSpanRequest.topAnswersWithSpan",
        ),
        (
            {"TravelIntent": {"targetProjectKind": "Luis", "query": "x" * 501}},
            "parameters.targetProjectParameters.TravelIntent.query",
        ),
        (
            {"TravelIntent": {"targetProjectKind": "Orchestrator"}},
            "parameters.targetProjectParameters.TravelIntent.targetProjectKind",
        ),
    ],
)
def test_bad_target_parameters_are_a_400_whichever_intent_wins(
    api: Api, faq: None, target: Target, parameters: Any, field: str
) -> None:
    _orchestrator(
        {
            "FaqIntent": TargetSpec(kind="QuestionAnswering", project_name="Faq"),
            "TravelIntent": TargetSpec(kind="Luis", url=target.url),
        }
    )
    # "send an email" routes to EmailIntent: neither FaqIntent nor TravelIntent.
    response = api.analyze(
        "send an email", projectName="Router", targetProjectParameters=parameters
    )
    assert response.status_code == 400, response.content
    assert response.json()["error"]["target"] == field


# ------------------------------------------------------------ review: access


def _members() -> dict[str, Any]:
    """Two users: a viewer of Router only, and a viewer of Router and Faq."""
    from django.contrib.auth import get_user_model

    from projects.models import Project, ProjectMembership

    user_model = get_user_model()
    outsider = user_model.objects.create_user(username="router-only", password="x")
    insider = user_model.objects.create_user(username="both", password="x")
    router = Project.objects.get(name="Router")
    faq_project = Project.objects.get(name="Faq")
    ProjectMembership.objects.create(project=router, user=outsider, role="viewer")
    ProjectMembership.objects.create(project=router, user=insider, role="viewer")
    ProjectMembership.objects.create(project=faq_project, user=insider, role="viewer")
    return {"outsider": outsider, "insider": insider}


def test_a_user_key_reaches_only_the_targets_its_owner_may_read(
    client: Client, faq: None
) -> None:
    _orchestrator(
        {"FaqIntent": TargetSpec(kind="QuestionAnswering", project_name="Faq")}
    )
    users = _members()
    outsider = Api(client, apikey_create(name="o", created_by=users["outsider"])[1])
    insider = Api(client, apikey_create(name="i", created_by=users["insider"])[1])
    # Directly, the outsider cannot see the knowledge base at all.
    direct = outsider.post(_kb_url(), {"question": "how do i reset my password"})
    assert direct.status_code == 404
    # Through the router: the routing scores, but no answers of the KB (not even
    # by qnaId through callingOptions), and the request itself succeeds.
    for options in ({}, {"qnaId": 1}):
        response = outsider.analyze(
            "how do i reset my password",
            projectName="Router",
            targetProjectParameters={"FaqIntent": {"callingOptions": options}},
        )
        assert response.status_code == 200, response.content
        routed = response.json()["result"]["prediction"]["intents"]["FaqIntent"]
        assert "result" not in routed
        assert routed["error"]["code"] == "ProjectNotFound"
        assert "reset password" not in response.content.decode()
    # A member of both projects gets the answers, as does a resource key.
    allowed = insider.analyze("how do i reset my password", projectName="Router")
    routed = allowed.json()["result"]["prediction"]["intents"]["FaqIntent"]
    assert routed["result"]["answers"][0]["id"] == 1
    resource = Api(client, apikey_create(name="r")[1])
    routed = resource.analyze(
        "how do i reset my password", projectName="Router"
    ).json()["result"]["prediction"]["intents"]["FaqIntent"]
    assert routed["result"]["answers"][0]["id"] == 1


def test_a_warm_user_key_prediction_costs_no_database_query(
    client: Client, faq: None, django_assert_max_num_queries: Any
) -> None:
    _orchestrator(
        {"FaqIntent": TargetSpec(kind="QuestionAnswering", project_name="Faq")}
    )
    users = _members()
    insider = Api(client, apikey_create(name="i", created_by=users["insider"])[1])
    question = "how do i reset my password"
    assert insider.analyze(question, projectName="Router").status_code == 200
    with django_assert_max_num_queries(0):
        for _ in range(5):
            response = insider.analyze(question, projectName="Router")
    routed = response.json()["result"]["prediction"]["intents"]["FaqIntent"]
    assert routed["result"]["answers"][0]["id"] == 1


def test_a_deleted_deployment_leaves_the_model_cache_on_the_next_reload(
    api: Api, email_app: None
) -> None:
    from training.models import Deployment

    assert api.analyze().status_code == 200
    cache_ = registry.runtime().models
    assert len(cache_) == 1
    Deployment.objects.filter(project__name="Email").delete()
    deployment_state_bump()
    registry.runtime().directory.invalidate()
    assert api.analyze().status_code == 404
    assert len(cache_) == 0


@pytest.mark.parametrize(
    "url",
    [
        "http://169.254.169.254/metadata/identity/oauth2/token",
        "http://[fe80::1]/x",
        "http://[::ffff:169.254.169.254]/x",
        "http://0.0.0.0:9/x",
    ],
)
def test_a_target_on_a_metadata_or_unspecified_address_is_refused(
    api: Api, url: str
) -> None:
    _orchestrator({"TravelIntent": TargetSpec(kind="Http", url=url)})
    response = api.analyze("book a flight to paris", projectName="Router")
    assert response.status_code == 200
    routed = response.json()["result"]["prediction"]["intents"]["TravelIntent"]
    assert "result" not in routed
    # The same words as any unreachable target (tests/training/test_target_policy).
    assert routed["error"] == {
        "code": "ServiceUnavailable",
        "message": "The target endpoint could not be reached.",
    }


def test_loopback_targets_are_refused_unless_allowed(
    api: Api, target: Target, settings: Any
) -> None:
    settings.STUDIO_TARGET_ALLOWED_HOSTS = []
    _orchestrator({"TravelIntent": TargetSpec(kind="Http", url=target.url)})
    response = api.analyze("book a flight to paris", projectName="Router")
    routed = response.json()["result"]["prediction"]["intents"]["TravelIntent"]
    assert routed["error"]["code"] == "ServiceUnavailable"
    assert target.requests == []


def test_source_and_metadata_filters_combine_with_and_or(api: Api) -> None:
    records = [
        QnaRecord(1, ("How do I pay by card?",), "Cards work.", source="billing.md",
                  metadata={"area": "billing"}),
        QnaRecord(2, ("How do I pay by invoice?",), "Invoices work.",
                  source="billing.md", metadata={"area": "sales"}),
        QnaRecord(3, ("How do I pay by cash?",), "Cash works.", source="store.md",
                  metadata={"area": "billing"}),
    ]  # fmt: skip
    deploy_bundle(KbProjectFactory.create(name="Pay"), kb_bundle(records))

    def ids(filters: dict[str, Any]) -> set[int]:
        body = {"question": "how do i pay", "top": 10, "filters": filters}
        response = api.post(_kb_url(project="Pay"), body)
        assert response.status_code == 200, response.content
        return {a["id"] for a in response.json()["answers"]}

    billing = {"metadata": [{"key": "area", "value": "billing"}]}
    assert ids({"sourceFilter": ["billing.md"]}) == {1, 2}
    assert ids({"metadataFilter": billing, "sourceFilter": ["billing.md"]}) == {1}
    assert ids(
        {"metadataFilter": billing, "sourceFilter": ["billing.md"],
         "logicalOperation": "OR"}
    ) == {1, 2, 3}  # fmt: skip
    either = {
        "metadata": [
            {"key": "area", "value": "sales"},
            {"key": "area", "value": "billing"},
        ],
        "logicalOperation": "OR",
    }
    assert ids({"metadataFilter": either}) == {1, 2, 3}
    assert ids({"metadataFilter": {**either, "logicalOperation": "AND"}}) == {-1}


def test_the_nested_clu_result_uses_the_target_projects_own_threshold(
    api: Api, email_app: None
) -> None:
    from projects.models import Project

    _orchestrator(
        {"EmailIntent": TargetSpec(kind="Conversation", project_name="Email")}
    )
    Project.objects.filter(name="Email").update(confidence_threshold=0.999)
    deployment_state_bump()
    registry.runtime().directory.invalidate()
    prediction = api.analyze("send an email to carol", projectName="Router").json()[
        "result"
    ]["prediction"]
    assert prediction["topIntent"] == "EmailIntent"  # the router's threshold is 0
    nested = prediction["intents"]["EmailIntent"]["result"]["prediction"]
    assert nested["topIntent"] == "None"
    assert nested["intents"][0]["category"] == "SendEmail"


@pytest.mark.parametrize(
    ("answer", "code"),
    [
        # Not HTTP at all: reads as unreachable, like a closed port.
        (b"SSH-2.0-OpenSSH_9.6\r\n", "ServiceUnavailable"),
        # An HTTP answer cut short.
        (b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n{}", "InternalServerError"),
    ],
)
def test_a_target_speaking_broken_http_is_reported_not_raised(
    api: Api, answer: bytes, code: str
) -> None:
    import socket

    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = server.accept()
                with conn:
                    # Read the whole request first: answering while the client
                    # still sends its body resets the connection (a different,
                    # "unreachable" error) instead of the broken answer under test.
                    request = b""
                    while b"\r\n\r\n" not in request:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        request += chunk
                    head, _, body = request.partition(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n"):
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value.strip())
                    while len(body) < length:
                        chunk = conn.recv(65536)
                        if not chunk:
                            break
                        body += chunk
                    conn.sendall(answer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{port}/predict"
        _orchestrator({"TravelIntent": TargetSpec(kind="Http", url=url)})
        response = api.analyze("book a flight to paris", projectName="Router")
    finally:
        server.close()
    assert response.status_code == 200, response.content
    routed = response.json()["result"]["prediction"]["intents"]["TravelIntent"]
    assert "result" not in routed
    assert routed["error"]["code"] == code


def test_an_unforeseen_failure_of_a_nested_model_is_reported_not_raised(
    api: Api, email_app: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runtime import routing

    _orchestrator(
        {"EmailIntent": TargetSpec(kind="Conversation", project_name="Email")}
    )

    def broken(*args: Any, **kwargs: Any) -> Any:
        raise RuntimeError("the entity extractor broke")

    monkeypatch.setattr(routing, "conversation_prediction", broken)
    response = api.analyze("send an email to carol", projectName="Router")
    assert response.status_code == 200, response.content
    routed = response.json()["result"]["prediction"]["intents"]["EmailIntent"]
    assert "result" not in routed
    assert routed["error"]["code"] == "InternalServerError"


def test_qna_id_takes_priority_over_the_question(api: Api, faq: None) -> None:
    body = {"qnaId": 3, "question": "how do i reset my password"}
    answers = api.post(_kb_url(), body).json()["answers"]
    assert [(a["id"], a["confidenceScore"]) for a in answers] == [(3, 1.0)]
    unknown = api.post(_kb_url(), {"qnaId": 99, "question": "reset password"})
    assert [a["id"] for a in unknown.json()["answers"]] == [-1]


@pytest.mark.parametrize(
    ("answer", "reason"),
    [
        (b"[" * 5000 + b"]" * 5000, "nested deeper"),
        (b'{"prediction": {"topIntent": "\\ud800"}}', "surrogate"),
    ],
)
def test_a_hostile_http_target_answer_fails_only_its_intent(
    api: Api, target: Target, answer: bytes, reason: str
) -> None:
    target.body = answer
    _orchestrator({"TravelIntent": TargetSpec(kind="Http", url=target.url)})
    response = api.analyze("book a flight to paris", projectName="Router")
    assert response.status_code == 200, response.content
    routed = response.json()["result"]["prediction"]["intents"]["TravelIntent"]
    assert "result" not in routed
    assert reason in routed["error"]["message"]
