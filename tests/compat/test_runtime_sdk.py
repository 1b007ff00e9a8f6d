"""Train, evaluate, deploy, swap and predict with the official clients, unchanged,
against a live studio (gunicorn + Celery worker + PostgreSQL + Redis).

``azure-ai-language-conversations==1.1.0`` (``ConversationAuthoringClient``,
``ConversationAnalysisClient``) and ``azure-ai-language-questionanswering==1.1.0``
(``QuestionAnsweringClient``, and its ``AuthoringClient`` to import and deploy a
knowledge base). Only the endpoint and the key differ from how a bot calls Azure.
Pollers rely on the server's ``Retry-After: 1``; no ``polling_interval`` is passed.

One module-scoped set-up builds what the tests read: the EmailAppDemo sample trained
and deployed to ``production``, the QnA Maker sample knowledge base deployed to
``production``, and an orchestration project linking both.
"""

from __future__ import annotations

import contextlib
import copy
import json
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from azure.ai.language.conversations import ConversationAnalysisClient
from azure.ai.language.conversations.authoring import ConversationAuthoringClient
from azure.ai.language.questionanswering import QuestionAnsweringClient
from azure.ai.language.questionanswering.authoring import AuthoringClient
from azure.ai.language.questionanswering.models import ShortAnswerOptions, TextDocument
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import (
    ClientAuthenticationError,
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.core.rest import HttpRequest

from tests.compat import helpers
from tests.compat.helpers import unique, wait_for
from tests.conftest import LiveStudio, clinc150_import_document

pytestmark = pytest.mark.integration

POLL_TIMEOUT = 180
# A deploy or swap reaches every web process within one second (issue #4).
PROPAGATION_SECONDS = 1.5
PERCENTAGE_SPLIT = {
    "kind": "percentage",
    "trainingSplitPercentage": 80,
    "testingSplitPercentage": 20,
}
# Not in EmailAppDemo; worded as its SendEmail / ReadAloud utterances are.
SEND_EMAIL_TEXT = "send a new email to my sister about the party on friday"
READ_ALOUD_TEXT = "please read my new emails aloud"
HOSTING_QUESTION = "Can I host my bot on my own servers?"
HOSTING_ANSWER_START = "Yes. Your bot can be hosted anywhere"
BAN_QUESTION = "How do you ban or remove bots from the service?"
BAN_ANSWER_START = "Users have a way to report a misbehaving bot"


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


def utf16_slice(text: str, offset: int, length: int) -> str:
    data = text.encode("utf-16-le")
    return data[2 * offset : 2 * (offset + length)].decode("utf-16-le")


def conversation_task(
    text: str, project: str, deployment: str = "production", **parameters: Any
) -> dict[str, Any]:
    """The task dict exactly as Azure's samples build it (they ask for verbose
    output: every intent scored)."""
    return helpers.conversation_task(
        text, project, deployment, **{"verbose": True, **parameters}
    )


def assert_clu_prediction(
    prediction: dict[str, Any], text: str, intents: set[str], index_type: str
) -> None:
    """The Conversation prediction shape of azure-api.md §1.3."""
    assert prediction["projectKind"] == "Conversation"
    listed = prediction["intents"]
    assert isinstance(listed, list) and listed
    scores = [i["confidenceScore"] for i in listed]
    assert all(0.0 <= s <= 1.0 for s in scores)
    assert scores == sorted(scores, reverse=True)
    assert {i["category"] for i in listed} <= intents
    assert prediction["topIntent"] in {listed[0]["category"], "None"}
    for entity in prediction["entities"]:
        assert set(entity) >= {
            "category",
            "text",
            "offset",
            "length",
            "confidenceScore",
        }
        assert 0.0 <= entity["confidenceScore"] <= 1.0
        if index_type == "Utf16CodeUnit":
            piece = utf16_slice(text, entity["offset"], entity["length"])
        else:  # UnicodeCodePoint; the texts used here have no combining marks
            piece = text[entity["offset"] : entity["offset"] + entity["length"]]
        assert piece == entity["text"], entity


# -- clients -------------------------------------------------------------------


@pytest.fixture(scope="module")
def authoring(live_studio: LiveStudio) -> ConversationAuthoringClient:
    return ConversationAuthoringClient(
        live_studio.url, AzureKeyCredential(live_studio.api_key)
    )


@pytest.fixture(scope="module")
def runtime(live_studio: LiveStudio) -> ConversationAnalysisClient:
    return ConversationAnalysisClient(
        live_studio.url, AzureKeyCredential(live_studio.api_key)
    )


@pytest.fixture(scope="module")
def qna(live_studio: LiveStudio) -> QuestionAnsweringClient:
    return QuestionAnsweringClient(
        live_studio.url, AzureKeyCredential(live_studio.api_key)
    )


@pytest.fixture(scope="module")
def qna_authoring(live_studio: LiveStudio) -> AuthoringClient:
    return AuthoringClient(live_studio.url, AzureKeyCredential(live_studio.api_key))


# -- the module's set-up -----------------------------------------------------------


@pytest.fixture(scope="module")
def email_app(shared_data: Path) -> dict[str, Any]:
    path = shared_data / "azure-language-samples" / "CLU" / "EmailAppDemo.json"
    return dict(json.loads(path.read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def clu(
    authoring: ConversationAuthoringClient, email_app: dict[str, Any]
) -> dict[str, Any]:
    """EmailAppDemo imported, trained as ``m1`` (80/20 split) and deployed."""
    name = unique("EmailApp")
    imported = authoring.begin_import_project(name, email_app).result(
        timeout=POLL_TIMEOUT
    )
    assert imported["status"] == "succeeded", imported
    started = time.monotonic()
    trained = authoring.begin_train(
        name,
        {
            "modelLabel": "m1",
            "trainingMode": "standard",
            "trainingConfigVersion": "latest",
            "evaluationOptions": PERCENTAGE_SPLIT,
        },
    ).result(timeout=POLL_TIMEOUT)
    train_seconds = time.monotonic() - started
    deployed = authoring.begin_deploy_project(
        name, "production", {"trainedModelLabel": "m1"}
    ).result(timeout=POLL_TIMEOUT)
    return {
        "name": name,
        "train": trained,
        "train_seconds": train_seconds,
        "deployment": deployed,
        "intents": {i["category"] for i in email_app["assets"]["intents"]} | {"None"},
    }


@pytest.fixture(scope="module")
def kb(qna_authoring: AuthoringClient, shared_data: Path) -> str:
    """The QnA Maker sample knowledge base, imported (TSV) and deployed."""
    tsv = shared_data / "azure-language-samples" / "qna-maker" / "SampleQnAs.tsv"
    name = unique("BotFaq")
    # The SDK sends bytes as the raw body (see test_qna_authoring_rest.py).
    body: Any = tsv.read_bytes()
    qna_authoring.begin_import_assets(
        name, body, file_format="tsv", content_type="text/tab-separated-values"
    ).result(timeout=POLL_TIMEOUT)
    deployed = qna_authoring.begin_deploy_project(name, "production").result(
        timeout=POLL_TIMEOUT
    )
    assert deployed is None or deployed["deploymentName"] == "production", deployed
    return name


@pytest.fixture(scope="module")
def orchestration(
    authoring: ConversationAuthoringClient, clu: dict[str, Any], kb: str
) -> str:
    """A router linking the CLU deployment and the knowledge base, with no utterances
    of its own: linking is enough to train it (DESIGN.md §1)."""
    name = unique("Router")
    document = {
        "projectFileVersion": "2022-05-01",
        "stringIndexType": "Utf16CodeUnit",
        "metadata": {
            "projectName": name,
            "projectKind": "Orchestration",
            "language": "en-us",
            "multilingual": False,
            "settings": {"confidenceThreshold": 0.0},
        },
        "assets": {
            "projectKind": "Orchestration",
            "intents": [
                {
                    "category": "EmailIntent",
                    "orchestration": {
                        "targetProjectKind": "Conversation",
                        "conversationOrchestration": {
                            "projectName": clu["name"],
                            "deploymentName": "production",
                        },
                    },
                },
                {
                    "category": "QnaIntent",
                    "orchestration": {
                        "targetProjectKind": "QuestionAnswering",
                        "questionAnsweringOrchestration": {"projectName": kb},
                    },
                },
                {"category": "None"},
            ],
            "utterances": [],
        },
    }
    authoring.begin_import_project(name, document).result(timeout=POLL_TIMEOUT)
    trained = authoring.begin_train(
        name,
        {
            "modelLabel": "router",
            "trainingMode": "standard",
            "evaluationOptions": PERCENTAGE_SPLIT,
        },
    ).result(timeout=POLL_TIMEOUT)
    assert trained["status"] == "succeeded", trained
    authoring.begin_deploy_project(
        name, "production", {"trainedModelLabel": "router"}
    ).result(timeout=POLL_TIMEOUT)
    return name


# -- training, models, evaluation ----------------------------------------------------


def test_training_job_result_status_and_list(
    authoring: ConversationAuthoringClient, clu: dict[str, Any]
) -> None:
    state = clu["train"]
    assert state["status"] == "succeeded", state
    result = state["result"]
    assert result["modelLabel"] == "m1"
    assert result["trainingMode"] == "standard"
    assert result["trainingConfigVersion"] == "2022-05-01"
    assert result["trainingStatus"]["status"] == "succeeded"
    assert result["trainingStatus"]["percentComplete"] == 100
    assert result["evaluationStatus"]["status"] == "succeeded"
    assert result["evaluationStatus"]["percentComplete"] == 100
    assert "resourceLocation" not in state
    # Polling the job again gives the same finished state.
    again = authoring.get_training_job_status(clu["name"], state["jobId"])
    assert again["status"] == "succeeded"
    assert again["result"]["modelLabel"] == "m1"
    jobs = list(authoring.list_training_jobs(clu["name"]))
    assert state["jobId"] in [j["jobId"] for j in jobs]
    with pytest.raises(ResourceNotFoundError):
        authoring.get_training_job_status(clu["name"], "no-such-job")


def test_trained_models_list_and_get(
    authoring: ConversationAuthoringClient, clu: dict[str, Any]
) -> None:
    models = list(authoring.list_trained_models(clu["name"]))
    assert [m["label"] for m in models] == ["m1"]
    model = authoring.get_trained_model(clu["name"], "m1")
    assert model == models[0]
    assert set(model) >= {
        "label",
        "modelId",
        "lastTrainedDateTime",
        "lastTrainingDurationInSeconds",
        "modelExpirationDate",
        "modelTrainingConfigVersion",
        "hasSnapshot",
    }
    assert model["modelTrainingConfigVersion"] == "2022-05-01"
    assert 0 <= model["lastTrainingDurationInSeconds"] <= clu["train_seconds"] + 1
    project = authoring.get_project(clu["name"])
    assert project["lastTrainedDateTime"] is not None
    with pytest.raises(ResourceNotFoundError):
        authoring.get_trained_model(clu["name"], "no-such-model")


def test_evaluation_summary_agrees_with_the_per_utterance_results(
    authoring: ConversationAuthoringClient,
    clu: dict[str, Any],
    email_app: dict[str, Any],
) -> None:
    results = list(
        authoring.list_model_evaluation_results(
            clu["name"], "m1", string_index_type="Utf16CodeUnit"
        )
    )
    total = len(email_app["assets"]["utterances"])
    # Only the test share of the 80/20 split is evaluated.
    assert 0.1 * total < len(results) < 0.3 * total
    labels_by_text: dict[str, list[Any]] = {}
    for utterance in email_app["assets"]["utterances"]:
        labels_by_text.setdefault(utterance["text"], []).append(
            sorted(
                (e["category"], e["offset"], e["length"]) for e in utterance["entities"]
            )
        )
    pairs: Counter[tuple[str, str]] = Counter()
    for row in results:
        expected = row["intentsResult"]["expectedIntent"]
        predicted = row["intentsResult"]["predictedIntent"]
        assert expected in clu["intents"] and predicted in clu["intents"]
        pairs[(expected, predicted)] += 1
        # Expected entities are the sample's own labels, in UTF-16 code units.
        entities = row["entitiesResult"]
        got = sorted(
            (e["category"], e["offset"], e["length"])
            for e in entities["expectedEntities"]
        )
        assert got in labels_by_text[row["text"]], row
        for span in entities["predictedEntities"]:
            assert span["offset"] + span["length"] <= utf16_len(row["text"])

    summary = authoring.get_model_evaluation_summary(clu["name"], "m1")
    assert summary["evaluationOptions"] == PERCENTAGE_SPLIT
    intents = summary["intentsEvaluation"]
    matrix = intents["confusionMatrix"]
    cells = {
        (expected, predicted): cell
        for expected, row in matrix.items()
        for predicted, cell in row.items()
    }
    # Sparse: exactly the non-zero cells, with row-normalized percentages.
    assert {pair: cell["rawValue"] for pair, cell in cells.items()} == dict(pairs)
    for expected, row in matrix.items():
        row_total = sum(c["rawValue"] for c in row.values())
        for cell in row.values():
            assert cell["normalizedValue"] == pytest.approx(
                100.0 * cell["rawValue"] / row_total, abs=0.01
            )
        assert sum(c["normalizedValue"] for c in row.values()) == pytest.approx(
            100.0, abs=0.05
        ), expected
    n = len(results)
    for name, metrics in intents["intents"].items():
        tp = pairs[(name, name)]
        fp = sum(c for (e, p), c in pairs.items() if p == name and e != name)
        fn = sum(c for (e, p), c in pairs.items() if e == name and p != name)
        assert metrics["truePositiveCount"] == tp, name
        assert metrics["falsePositiveCount"] == fp, name
        assert metrics["falseNegativeCount"] == fn, name
        assert metrics["trueNegativeCount"] == n - tp - fp - fn, name
    correct = sum(c for (e, p), c in pairs.items() if e == p)
    # One expected and one predicted intent per utterance: micro P = R = F1 = accuracy.
    assert intents["microF1"] == pytest.approx(correct / n, abs=1e-3)
    assert intents["microPrecision"] == pytest.approx(correct / n, abs=1e-3)
    assert correct / n > 0.6  # EmailAppDemo is learnable
    entities_evaluation = summary["entitiesEvaluation"]
    assert set(entities_evaluation) >= {
        "confusionMatrix",
        "entities",
        "microF1",
        "macroF1",
    }
    assert 0.0 <= entities_evaluation["microF1"] <= 1.0


# -- deployments and prediction -----------------------------------------------------


def test_deploy_returns_the_deployment_which_get_and_list_show(
    authoring: ConversationAuthoringClient, clu: dict[str, Any]
) -> None:
    deployment = clu["deployment"]
    model = authoring.get_trained_model(clu["name"], "m1")
    assert deployment["deploymentName"] == "production"
    assert deployment["modelId"] == model["modelId"]
    assert deployment["modelTrainingConfigVersion"] == "2022-05-01"
    assert set(deployment) >= {
        "lastTrainedDateTime",
        "lastDeployedDateTime",
        "deploymentExpirationDate",
    }
    assert authoring.get_deployment(clu["name"], "production") == deployment
    listed = list(authoring.list_deployments(clu["name"]))
    assert [d["deploymentName"] for d in listed] == ["production"]
    assert authoring.get_project(clu["name"])["lastDeployedDateTime"] is not None
    with pytest.raises(ResourceNotFoundError):
        authoring.get_deployment(clu["name"], "no-such-deployment")


def test_analyze_conversation_predicts_with_the_deployment(
    runtime: ConversationAnalysisClient, clu: dict[str, Any]
) -> None:
    response = runtime.analyze_conversation(
        conversation_task(SEND_EMAIL_TEXT, clu["name"], stringIndexType="Utf16CodeUnit")
    )
    assert response["kind"] == "ConversationResult"
    result = response["result"]
    assert result["query"] == SEND_EMAIL_TEXT
    prediction = result["prediction"]
    assert_clu_prediction(prediction, SEND_EMAIL_TEXT, clu["intents"], "Utf16CodeUnit")
    assert prediction["intents"][0]["category"] == "SendEmail"
    assert prediction["topIntent"] == "SendEmail"
    # verbose: every intent of the project is scored.
    assert {i["category"] for i in prediction["intents"]} == clu["intents"]

    read = runtime.analyze_conversation(conversation_task(READ_ALOUD_TEXT, clu["name"]))
    assert read["result"]["prediction"]["intents"][0]["category"] == "ReadAloud"


def test_entity_offsets_follow_the_string_index_type(
    runtime: ConversationAnalysisClient, clu: dict[str, Any]
) -> None:
    # A training utterance behind an astral character (two UTF-16 code units).
    text = "\U0001f4e7 send a mail to daniel"
    utf16 = runtime.analyze_conversation(
        conversation_task(text, clu["name"], stringIndexType="Utf16CodeUnit")
    )["result"]["prediction"]
    points = runtime.analyze_conversation(
        conversation_task(text, clu["name"], stringIndexType="UnicodeCodePoint")
    )["result"]["prediction"]
    assert_clu_prediction(utf16, text, clu["intents"], "Utf16CodeUnit")
    assert_clu_prediction(points, text, clu["intents"], "UnicodeCodePoint")
    assert utf16["entities"], "the learned ContactName of a training utterance"
    assert [e["text"] for e in utf16["entities"]] == [
        e["text"] for e in points["entities"]
    ]
    for a, b in zip(utf16["entities"], points["entities"], strict=True):
        assert a["offset"] == b["offset"] + 1
        assert a["length"] == b["length"]


def test_multi_turn_conversational_ai_through_the_sdk(
    live_studio: LiveStudio, clu: dict[str, Any]
) -> None:
    """``kind: ConversationalAI`` (2025-11-15-preview) through the 1.1.0 client,
    which sends the task dict as-is, on the trained EmailAppDemo: every item the
    deployment predicts alone as an intent is in a range of that intent, ranges
    of different intents do not overlap, and every entity's offsets point into
    its own item."""
    client = ConversationAnalysisClient(
        live_studio.url,
        AzureKeyCredential(live_studio.api_key),
        api_version="2025-11-15-preview",
    )
    texts = [
        "Hi",
        "Hello, how can I help you?",
        "\U0001f4e7 send a mail to daniel",
        SEND_EMAIL_TEXT,
        READ_ALOUD_TEXT,
    ]
    singles = [top_intent_above_threshold(client, clu["name"], t) for t in texts]
    assert singles[2:] == ["SendEmail", "SendEmail", "ReadAloud"]
    response = client.analyze_conversation(
        {
            "kind": "ConversationalAI",
            "analysisInput": {
                "conversations": [
                    {
                        "id": "order",
                        "language": "en-GB",
                        "modality": "text",
                        "conversationItems": [
                            {
                                "id": f"item{n}",
                                "participantId": "bot" if n == 1 else "user",
                                "text": text,
                            }
                            for n, text in enumerate(texts)
                        ],
                    }
                ]
            },
            "parameters": {
                "projectName": clu["name"],
                "deploymentName": "production",
                "stringIndexType": "Utf16CodeUnit",
            },
        }
    )
    assert response["kind"] == "ConversationalAIResult"
    (analysis,) = response["result"]["conversations"]
    assert analysis["id"] == "order"
    covered: dict[int, str] = {}
    for intent in analysis["intents"]:
        assert intent["type"] == "action"
        for span in intent["conversationItemRanges"]:
            for index in range(span["offset"], span["offset"] + span["count"]):
                assert index not in covered, analysis
                covered[index] = intent["name"]
    for index, single in enumerate(singles):
        if single != "None":
            assert covered.get(index) == single, (index, analysis)
    assert covered[3] == covered[2] == "SendEmail"
    send = next(i for i in analysis["intents"] if i["name"] == "SendEmail")
    assert send["entities"], "the ContactName of the mail to daniel"
    for intent in analysis["intents"]:
        for entity in intent["entities"]:
            assert covered[entity["conversationItemIndex"]] == intent["name"]
    for entity in analysis["entities"] + [
        e for i in analysis["intents"] for e in i["entities"]
    ]:
        index = entity["conversationItemIndex"]
        assert entity["conversationItemId"] == f"item{index}"
        piece = utf16_slice(texts[index], entity["offset"], entity["length"])
        assert piece == entity["text"], entity


def top_intent_above_threshold(
    client: ConversationAnalysisClient, project: str, text: str
) -> str:
    prediction = client.analyze_conversation(conversation_task(text, project))
    return str(prediction["result"]["prediction"]["topIntent"])


def top_intent(runtime: ConversationAnalysisClient, project: str, text: str) -> str:
    prediction = runtime.analyze_conversation(conversation_task(text, project))
    return str(prediction["result"]["prediction"]["intents"][0]["category"])


def test_swap_moves_predictions_then_delete_deployment_and_model(
    authoring: ConversationAuthoringClient,
    runtime: ConversationAnalysisClient,
    clu: dict[str, Any],
    email_app: dict[str, Any],
) -> None:
    name = clu["name"]
    # A second model that names the SendEmail intent differently.
    renamed = copy.deepcopy(email_app)
    for intent in renamed["assets"]["intents"]:
        if intent["category"] == "SendEmail":
            intent["category"] = "ComposeMail"
    for utterance in renamed["assets"]["utterances"]:
        if utterance["intent"] == "SendEmail":
            utterance["intent"] = "ComposeMail"
    authoring.begin_import_project(name, renamed).result(timeout=POLL_TIMEOUT)
    authoring.begin_train(
        name,
        {
            "modelLabel": "m2",
            "trainingMode": "standard",
            "evaluationOptions": PERCENTAGE_SPLIT,
        },
    ).result(timeout=POLL_TIMEOUT)
    staging = authoring.begin_deploy_project(
        name, "staging", {"trainedModelLabel": "m2"}
    ).result(timeout=POLL_TIMEOUT)
    assert staging["modelId"] == authoring.get_trained_model(name, "m2")["modelId"]
    assert top_intent(runtime, name, SEND_EMAIL_TEXT) == "SendEmail"
    assert (
        runtime.analyze_conversation(
            conversation_task(SEND_EMAIL_TEXT, name, deployment="staging")
        )["result"]["prediction"]["intents"][0]["category"]
        == "ComposeMail"
    )
    production_model = authoring.get_deployment(name, "production")["modelId"]

    def swap() -> None:
        # While the swap runs, production answers every request with one model or
        # the other, never an error or a half-loaded model.
        seen: list[Any] = []
        stop = threading.Event()

        def watch() -> None:
            while not stop.is_set():
                try:
                    seen.append(top_intent(runtime, name, SEND_EMAIL_TEXT))
                except HttpResponseError as exc:
                    seen.append(exc)

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            state = authoring.begin_swap_deployments(
                name,
                {
                    "firstDeploymentName": "production",
                    "secondDeploymentName": "staging",
                },
            ).result(timeout=POLL_TIMEOUT)
        finally:
            stop.set()
            watcher.join(timeout=30)
        assert state["status"] == "succeeded", state
        assert seen and set(seen) <= {"SendEmail", "ComposeMail"}, seen

    def serves(deployment: str, intent: str) -> Callable[[], bool]:
        # Several calls, so that both gunicorn workers are asked.
        return lambda: all(
            runtime.analyze_conversation(
                conversation_task(SEND_EMAIL_TEXT, name, deployment=deployment)
            )["result"]["prediction"]["intents"][0]["category"]
            == intent
            for _ in range(6)
        )

    swap()
    wait_for(
        serves("production", "ComposeMail"),
        timeout=PROPAGATION_SECONDS,
        what="production serves m2 after the swap",
    )
    assert serves("staging", "SendEmail")()
    assert authoring.get_deployment(name, "staging")["modelId"] == production_model
    swap()
    wait_for(
        serves("production", "SendEmail"),
        timeout=PROPAGATION_SECONDS,
        what="production serves m1 after swapping back",
    )
    assert authoring.get_deployment(name, "production")["modelId"] == production_model

    deleted = authoring.begin_delete_deployment(name, "staging").result(
        timeout=POLL_TIMEOUT
    )
    assert deleted["status"] == "succeeded", deleted
    with pytest.raises(ResourceNotFoundError):
        authoring.get_deployment(name, "staging")

    def staging_gone() -> bool:
        # Like a swap, a delete reaches every web worker within the refresh
        # interval (a worker that served staging a moment ago may still hold it).
        for _ in range(6):
            try:
                runtime.analyze_conversation(
                    conversation_task(SEND_EMAIL_TEXT, name, deployment="staging")
                )
            except ResourceNotFoundError:
                continue
            return False
        return True

    wait_for(
        staging_gone,
        timeout=PROPAGATION_SECONDS,
        what="every web worker answers 404 for the deleted deployment",
    )
    # delete_trained_model answers 204, which the SDK returns as None.
    assert authoring.delete_trained_model(name, "m2") is None
    with pytest.raises(ResourceNotFoundError):
        authoring.get_trained_model(name, "m2")
    assert [m["label"] for m in authoring.list_trained_models(name)] == ["m1"]
    assert top_intent(runtime, name, SEND_EMAIL_TEXT) == "SendEmail"


def test_cancel_a_training_job_fire_and_check(
    authoring: ConversationAuthoringClient, shared_data: Path
) -> None:
    """Cancel, then poll with get_training_job_status: an SDK poller would wait
    forever on the spec's ``cancelled`` (azure-api.md §3.1 quirk 1)."""
    name = unique("Cancel")
    document = clinc150_import_document(shared_data, name, per_intent=60)
    authoring.begin_import_project(name, document).result(timeout=POLL_TIMEOUT)
    authoring.begin_train(
        name,
        {"modelLabel": "big", "trainingMode": "standard"},
        polling=False,
    )
    running = [
        j
        for j in authoring.list_training_jobs(name)
        if j["status"] in ("notStarted", "running")
    ]
    assert len(running) == 1, running
    job_id = running[0]["jobId"]
    authoring.begin_cancel_training_job(name, job_id, polling=False)
    final: dict[str, Any] = {}

    def finished() -> bool:
        final.update(authoring.get_training_job_status(name, job_id))
        return final["status"] not in ("notStarted", "running", "cancelling")

    wait_for(finished, timeout=60, what="the cancelled job finishes", interval=0.5)
    assert final["status"] == "cancelled", final
    assert [m["label"] for m in authoring.list_trained_models(name)] == []
    # The project is free to train again, and that job runs to the end.
    again = authoring.begin_train(
        name, {"modelLabel": "big", "trainingMode": "standard"}
    ).result(timeout=POLL_TIMEOUT)
    assert again["status"] == "succeeded", again
    assert [m["label"] for m in authoring.list_trained_models(name)] == ["big"]


# -- question answering ---------------------------------------------------------------


def test_get_answers_from_the_deployed_knowledge_base(
    qna: QuestionAnsweringClient, kb: str
) -> None:
    output = qna.get_answers(
        question=HOSTING_QUESTION, project_name=kb, deployment_name="production"
    )
    assert output.answers
    best = output.answers[0]
    assert best.answer is not None and best.answer.startswith(HOSTING_ANSWER_START)
    assert best.confidence is not None and 0.5 < best.confidence <= 1.0
    assert best.questions == [HOSTING_QUESTION]
    assert best.qna_id is not None and best.qna_id > 0
    assert best.source
    confidences = [a.confidence or 0.0 for a in output.answers]
    assert confidences == sorted(confidences, reverse=True)

    one = qna.get_answers(
        question=BAN_QUESTION, top=1, project_name=kb, deployment_name="production"
    )
    assert one.answers is not None and len(one.answers) == 1
    assert str(one.answers[0].answer).startswith(BAN_ANSWER_START)
    by_id = qna.get_answers(
        qna_id=best.qna_id, project_name=kb, deployment_name="production"
    )
    assert by_id.answers and by_id.answers[0].qna_id == best.qna_id


def test_get_answers_options_through_the_sdk_models(
    qna: QuestionAnsweringClient, kb: str
) -> None:
    """The SDK's Python option models serialize to the wire names of §2.1."""
    output = qna.get_answers(
        question=HOSTING_QUESTION,
        project_name=kb,
        deployment_name="production",
        top=3,
        user_id="sdk-test",
        confidence_threshold=0.2,
        ranker_kind="QuestionOnly",
        short_answer_options=ShortAnswerOptions(confidence_threshold=0.0, top=1),
        include_unstructured_sources=True,
    )
    assert output.answers and len(output.answers) <= 3
    best = output.answers[0]
    assert str(best.answer).startswith(HOSTING_ANSWER_START)
    assert all((a.confidence or 0.0) >= 0.2 for a in output.answers)
    assert best.short_answer is not None
    assert best.short_answer.text and best.short_answer.text in str(best.answer)

    # A question the KB cannot answer, with a high threshold: only the default answer.
    nothing = qna.get_answers(
        question="What is the boiling point of tungsten on Mars?",
        project_name=kb,
        deployment_name="production",
        confidence_threshold=0.9,
    )
    assert nothing.answers is not None
    assert all(
        a.qna_id == -1 or (a.confidence or 0.0) >= 0.9 for a in nothing.answers
    ), nothing.answers


def test_get_answers_from_text(qna: QuestionAnsweringClient) -> None:
    documents = [
        "Power and charging. It takes two to four hours to charge the Surface Pro 4 "
        "battery fully from an empty state.",
        "You can use the USB port on the power supply to charge other devices, like "
        "a phone, while your Surface charges.",
    ]
    output = qna.get_answers_from_text(
        question="How long does it take to charge a Surface?",
        text_documents=list[str | TextDocument](documents),
        language="en",
    )
    assert output.answers
    best = output.answers[0]
    assert best.id == "0"
    assert best.answer and best.answer in documents[0]
    assert best.confidence is not None and 0.0 < best.confidence <= 1.0
    assert best.offset is not None and best.length is not None
    assert documents[0][best.offset : best.offset + best.length] == best.answer
    # sample_query_text keeps answers above 0.9 and prints the short answer.
    assert best.confidence >= 0.9
    assert best.short_answer is not None
    assert best.short_answer.text == "two to four hours"
    assert best.short_answer.offset == best.answer.index("two to four hours")
    # The 1.1.0 sample's own phrasing finds the same sentence as confidently.
    sample = qna.get_answers_from_text(
        question="How long it takes to charge surface?",
        text_documents=list[str | TextDocument](documents),
        language="en",
    )
    assert sample.answers
    assert sample.answers[0].answer == best.answer
    assert (sample.answers[0].confidence or 0.0) >= 0.9


# -- orchestration ---------------------------------------------------------------


def assert_orchestration_envelope(
    response: Mapping[str, Any], text: str, routed: str
) -> dict[str, Any]:
    assert response["kind"] == "ConversationResult"
    assert response["result"]["query"] == text
    prediction = response["result"]["prediction"]
    assert prediction["projectKind"] == "Orchestration"
    assert prediction["topIntent"] == routed
    intents = prediction["intents"]
    assert isinstance(intents, dict)
    assert {name: i["targetProjectKind"] for name, i in intents.items()} == {
        "EmailIntent": "Conversation",
        "QnaIntent": "QuestionAnswering",
        "None": "NonLinked",
    }
    assert all(0.0 <= i["confidenceScore"] <= 1.0 for i in intents.values())
    # Only the routed intent carries its target's result.
    assert [n for n, i in intents.items() if "result" in i] == [routed]
    return dict(intents)


def test_orchestration_routes_an_email_request_to_the_clu_deployment(
    runtime: ConversationAnalysisClient, orchestration: str, clu: dict[str, Any]
) -> None:
    response = runtime.analyze_conversation(
        conversation_task(SEND_EMAIL_TEXT, orchestration)
    )
    intents = assert_orchestration_envelope(response, SEND_EMAIL_TEXT, "EmailIntent")
    routed = intents["EmailIntent"]
    assert routed["confidenceScore"] == max(
        i["confidenceScore"] for i in intents.values()
    )
    nested = routed["result"]
    assert nested["query"] == SEND_EMAIL_TEXT
    assert_clu_prediction(
        nested["prediction"], SEND_EMAIL_TEXT, clu["intents"], "TextElements_v8"
    )
    assert nested["prediction"]["topIntent"] == "SendEmail"


def test_orchestration_routes_a_question_to_the_knowledge_base(
    runtime: ConversationAnalysisClient, orchestration: str
) -> None:
    response = runtime.analyze_conversation(
        conversation_task(HOSTING_QUESTION, orchestration)
    )
    intents = assert_orchestration_envelope(response, HOSTING_QUESTION, "QnaIntent")
    answers = intents["QnaIntent"]["result"]["answers"]
    assert answers[0]["answer"].startswith(HOSTING_ANSWER_START)
    # Wire names of azure-api.md §2.2, not the SDK's Python names.
    assert set(answers[0]) >= {"answer", "confidenceScore", "id", "questions"}


def test_direct_target_and_target_project_parameters(
    runtime: ConversationAnalysisClient, orchestration: str
) -> None:
    # directTarget skips routing: an email request sent to the knowledge base. As
    # in Azure's example, only the forced intent is listed, with confidence 1.
    direct = runtime.analyze_conversation(
        conversation_task(SEND_EMAIL_TEXT, orchestration, directTarget="QnaIntent")
    )
    assert direct["result"]["query"] == SEND_EMAIL_TEXT
    prediction = direct["result"]["prediction"]
    assert prediction["topIntent"] == "QnaIntent"
    assert list(prediction["intents"]) == ["QnaIntent"]
    routed = prediction["intents"]["QnaIntent"]
    assert routed["confidenceScore"] == 1
    assert isinstance(routed["result"]["answers"], list)

    # With a forced question, that question is the query answered.
    forced = runtime.analyze_conversation(
        conversation_task(
            SEND_EMAIL_TEXT,
            orchestration,
            directTarget="QnaIntent",
            targetProjectParameters={
                "QnaIntent": {
                    "targetProjectKind": "QuestionAnswering",
                    "callingOptions": {"question": BAN_QUESTION, "top": 1},
                }
            },
        )
    )
    assert forced["result"]["query"] == BAN_QUESTION
    answers = forced["result"]["prediction"]["intents"]["QnaIntent"]["result"]
    assert answers["answers"][0]["answer"].startswith(BAN_ANSWER_START)

    # callingOptions pass through: another question and top=1 for the KB.
    overridden = runtime.analyze_conversation(
        conversation_task(
            HOSTING_QUESTION,
            orchestration,
            targetProjectParameters={
                "QnaIntent": {
                    "targetProjectKind": "QuestionAnswering",
                    "callingOptions": {"question": BAN_QUESTION, "top": 1},
                }
            },
        )
    )
    intents = assert_orchestration_envelope(overridden, HOSTING_QUESTION, "QnaIntent")
    answers = intents["QnaIntent"]["result"]["answers"]
    assert len(answers) == 1
    assert answers[0]["answer"].startswith(BAN_ANSWER_START)


SDK_TARGET_KEY = "Ocp-Apim-Subscription-Key"


class _TargetHandler(BaseHTTPRequestHandler):
    """An external endpoint: ``/ok`` echoes the request as JSON, ``/slow`` answers
    after ``SLOW_SECONDS``."""

    SLOW_SECONDS = 8.0
    received: list[dict[str, Any]] = []

    def do_POST(self) -> None:
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).received.append(
            {"path": self.path, "body": body, "key": self.headers.get(SDK_TARGET_KEY)}
        )
        if self.path == "/slow":
            time.sleep(self.SLOW_SECONDS)
        data = json.dumps({"echo": body, "from": "external"}).encode()
        with contextlib.suppress(OSError):  # the studio may have hung up
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def test_orchestration_http_targets_answer_time_out_or_are_down(
    authoring: ConversationAuthoringClient,
    runtime: ConversationAnalysisClient,
) -> None:
    """A failing or slow external target never fails the request: 200 with the
    routed intent's ``error`` instead of ``result`` (training/README)."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _TargetHandler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{server.server_address[1]}"
    with socket.socket() as sock:  # a port nothing listens on
        sock.bind(("127.0.0.1", 0))
        down = f"http://127.0.0.1:{sock.getsockname()[1]}/down"
    try:
        name = unique("HttpRouter")
        links = {"Weather": f"{base}/ok", "Slowpoke": f"{base}/slow", "Gone": down}
        examples = {
            "Weather": ["will it rain today", "weather forecast", "is it sunny"],
            "Slowpoke": ["order a pizza", "get me some food", "i am hungry"],
            "Gone": ["play some music", "next song", "turn the music up"],
        }
        document = {
            "projectFileVersion": "2022-05-01",
            "stringIndexType": "Utf16CodeUnit",
            "metadata": {
                "projectName": name,
                "projectKind": "Orchestration",
                "language": "en-us",
            },
            "assets": {
                "projectKind": "Orchestration",
                "intents": [
                    {
                        "category": intent,
                        "orchestration": {
                            "targetProjectKind": "Http",
                            # Stored encrypted, carried encrypted in the model,
                            # decrypted only for the call (README, "Security").
                            "httpOrchestration": {"url": url, "key": "target-key-1"},
                        },
                    }
                    for intent, url in links.items()
                ],
                "utterances": [
                    {"text": text, "intent": intent}
                    for intent, texts in examples.items()
                    for text in texts
                ],
            },
        }
        authoring.begin_import_project(name, document).result(timeout=POLL_TIMEOUT)
        authoring.begin_train(
            name, {"modelLabel": "m", "trainingMode": "standard"}
        ).result(timeout=POLL_TIMEOUT)
        authoring.begin_deploy_project(
            name, "production", {"trainedModelLabel": "m"}
        ).result(timeout=POLL_TIMEOUT)

        def routed(intent: str, text: str) -> dict[str, Any]:
            started = time.monotonic()
            response = runtime.analyze_conversation(
                conversation_task(text, name, directTarget=intent)
            )
            # The default target timeout is 3 s; never the target's 8 s.
            assert time.monotonic() - started < 6.0
            prediction = response["result"]["prediction"]
            assert prediction["projectKind"] == "Orchestration"
            assert prediction["topIntent"] == intent
            # directTarget: only the forced intent is listed, as in Azure's example.
            assert set(prediction["intents"]) == {intent}
            return dict(prediction["intents"][intent])

        ok = routed("Weather", "will it snow tomorrow")
        assert ok["result"]["from"] == "external"
        assert ok["result"]["echo"]["query"] == "will it snow tomorrow"
        assert "error" not in ok

        slow = routed("Slowpoke", "order a pizza")
        assert "result" not in slow
        assert slow["error"]["code"] == "Timeout", slow

        gone = routed("Gone", "play some music")
        assert "result" not in gone
        assert gone["error"]["code"] == "ServiceUnavailable", gone
        assert [r["path"] for r in _TargetHandler.received] == ["/ok", "/slow"]
        assert {r["key"] for r in _TargetHandler.received} == {"target-key-1"}
        export = authoring.begin_export_project(
            name, string_index_type="Utf16CodeUnit", polling_interval=1
        ).result(timeout=POLL_TIMEOUT)
        response = authoring.send_request(HttpRequest("GET", export["resultUrl"]))
        response.raise_for_status()
        assert "target-key-1" not in response.text()
        assert '"key": "***"' in json.dumps(response.json())
    finally:
        server.shutdown()
        server.server_close()


def test_below_the_router_threshold_the_top_intent_is_none_and_no_target_runs(
    authoring: ConversationAuthoringClient,
    runtime: ConversationAnalysisClient,
    orchestration: str,
) -> None:
    text = "what a lovely day it is"
    authoring.create_project(
        orchestration,
        {"projectName": orchestration, "settings": {"confidenceThreshold": 1.0}},
    )
    try:
        last: dict[str, Any] = {}

        def routed_to_none() -> bool:
            response = runtime.analyze_conversation(
                conversation_task(text, orchestration)
            )
            last.update(response["result"]["prediction"])
            return last["topIntent"] == "None"

        # Settings the runtime reads reach it like a deployment change.
        wait_for(
            routed_to_none,
            timeout=PROPAGATION_SECONDS,
            what="the raised threshold applies",
        )
        assert set(last["intents"]) == {"EmailIntent", "QnaIntent", "None"}
        assert not [n for n, i in last["intents"].items() if "result" in i], last
    finally:
        authoring.create_project(
            orchestration,
            {"projectName": orchestration, "settings": {"confidenceThreshold": 0.0}},
        )
    wait_for(
        lambda: top_intent_of(runtime, orchestration, SEND_EMAIL_TEXT) == "EmailIntent",
        timeout=PROPAGATION_SECONDS,
        what="the lowered threshold applies",
    )


def top_intent_of(runtime: ConversationAnalysisClient, project: str, text: str) -> str:
    response = runtime.analyze_conversation(conversation_task(text, project))
    return str(response["result"]["prediction"]["topIntent"])


# -- errors ----------------------------------------------------------------------


def test_runtime_errors_surface_as_sdk_exceptions(
    live_studio: LiveStudio,
    runtime: ConversationAnalysisClient,
    qna: QuestionAnsweringClient,
    clu: dict[str, Any],
    kb: str,
) -> None:
    wrong = AzureKeyCredential("osk_not-a-real-key")
    with pytest.raises(ClientAuthenticationError):
        ConversationAnalysisClient(live_studio.url, wrong).analyze_conversation(
            conversation_task(SEND_EMAIL_TEXT, clu["name"])
        )
    with pytest.raises(ClientAuthenticationError):
        QuestionAnsweringClient(live_studio.url, wrong).get_answers(
            question=HOSTING_QUESTION, project_name=kb, deployment_name="production"
        )
    with pytest.raises(ResourceNotFoundError):
        runtime.analyze_conversation(
            conversation_task(SEND_EMAIL_TEXT, unique("NoSuchProject"))
        )
    with pytest.raises(ResourceNotFoundError):
        runtime.analyze_conversation(
            conversation_task(SEND_EMAIL_TEXT, clu["name"], deployment="nowhere")
        )
    with pytest.raises(ResourceNotFoundError):
        qna.get_answers(
            question=HOSTING_QUESTION,
            project_name=unique("NoSuchKb"),
            deployment_name="production",
        )
    with pytest.raises(ResourceNotFoundError):
        qna.get_answers(
            question=HOSTING_QUESTION, project_name=kb, deployment_name="nowhere"
        )
    with pytest.raises(HttpResponseError) as bad:
        runtime.analyze_conversation(
            conversation_task("x" * 1001, clu["name"], stringIndexType="Utf16CodeUnit")
        )
    assert bad.value.status_code == 400
