"""Training, trained models and evaluation through the Azure API (azure-api.md
§3.4–§3.6, §3.8), with Django's test client and eager Celery."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from django.test import Client
from django.utils import timezone

from jobs.models import Job
from projects.models import Project, Utterance
from studio.services import apikey_create
from tests.api.test_conversation_authoring import BASE, Api, assert_error
from tests.azure_spec import assert_matches_azure_definition
from tests.conftest import skip_or_fail
from tests.factories import KbProjectFactory
from tests.training.test_train_service import MAIL, clu_document
from training.models import EvaluationResult, TrainedModel

pytestmark = pytest.mark.django_db

TRAIN_BODY = {
    "modelLabel": "model1",
    "trainingMode": "standard",
    "trainingConfigVersion": "latest",
    "evaluationOptions": {
        "kind": "percentage",
        "trainingSplitPercentage": 80,
        "testingSplitPercentage": 20,
    },
}
EMOJI_READ = [
    "😀 read Blake's mail",
    "read the 👍 mail from Dana",
    "open my messages please",
    "read new mail",
    "show unread messages",
]


@pytest.fixture
def api(client: Client, django_capture_on_commit_callbacks: Any) -> Api:
    return Api(
        client, apikey_create(name="tests")[1], django_capture_on_commit_callbacks
    )


def imported(api: Api, name: str = "Mail", **kwargs: Any) -> None:
    job = api.import_(name, clu_document(name, **kwargs))
    assert job["status"] == "succeeded", job


def trained(api: Api, name: str = "Mail", **body: Any) -> dict[str, Any]:
    job = api.follow(
        api.call("POST", f"{BASE}/projects/{name}/:train", {**TRAIN_BODY, **body})
    )
    assert job["status"] == "succeeded", job
    return job


def test_train_answers_202_and_the_job_reports_azure_training_state(
    api: Api,
) -> None:
    imported(api)
    response = api.call("POST", f"{BASE}/projects/Mail/:train", TRAIN_BODY)
    assert response.status_code == 202
    assert response.content == b""
    location = urlsplit(response["Operation-Location"])
    assert location.path.startswith(f"{BASE}/projects/Mail/train/jobs/")
    assert parse_qs(location.query)["api-version"] == ["2023-04-01"]
    assert int(response["Retry-After"]) >= 1
    assert "Location" not in response
    job = api.follow(response)
    assert job["status"] == "succeeded"
    assert "resourceLocation" not in job
    result = job["result"]
    assert result["modelLabel"] == "model1"
    assert result["trainingConfigVersion"] == "2022-05-01"
    assert result["trainingMode"] == "standard"
    assert result["trainingStatus"]["status"] == "succeeded"
    assert result["trainingStatus"]["percentComplete"] == 100
    assert result["trainingStatus"]["startDateTime"].endswith("Z")
    assert result["evaluationStatus"]["status"] == "succeeded"
    assert result["estimatedEndDateTime"].endswith("Z")

    listed = api.call("GET", f"{BASE}/projects/Mail/train/jobs").json()
    assert [j["jobId"] for j in listed["value"]] == [job["jobId"]]
    assert listed["value"][0]["result"]["modelLabel"] == "model1"

    models = api.call("GET", f"{BASE}/projects/Mail/models").json()["value"]
    assert len(models) == 1
    model = models[0]
    assert set(model) == {
        "label",
        "modelId",
        "lastTrainedDateTime",
        "lastTrainingDurationInSeconds",
        "modelExpirationDate",
        "modelTrainingConfigVersion",
        "hasSnapshot",
    }
    assert model["label"] == "model1"
    assert model["modelId"].startswith("model1-")
    assert model["hasSnapshot"] is True
    assert model["modelExpirationDate"] == "2099-12-31"
    assert api.call("GET", f"{BASE}/projects/Mail/models/model1").json() == model
    project = api.call("GET", f"{BASE}/projects/Mail").json()
    # The project's metadata shows whole seconds.
    assert project["lastTrainedDateTime"][:19] == model["lastTrainedDateTime"][:19]


def test_training_jobs_are_listed_newest_first(api: Api) -> None:
    imported(api)
    first = trained(api, modelLabel="a")
    second = trained(api, modelLabel="b")
    listed = api.call("GET", f"{BASE}/projects/Mail/train/jobs").json()["value"]
    assert [j["jobId"] for j in listed] == [second["jobId"], first["jobId"]]


def test_a_running_job_shows_live_percentages(api: Api) -> None:
    imported(api)
    response = api.call(
        "POST", f"{BASE}/projects/Mail/:train", TRAIN_BODY, run_jobs=False
    )
    job_id = urlsplit(response["Operation-Location"]).path.rsplit("/", 1)[1]
    waiting = api.call("GET", f"{BASE}/projects/Mail/train/jobs/{job_id}")
    assert waiting["Retry-After"]
    body = waiting.json()
    assert body["status"] == "notStarted"
    assert body["result"]["trainingStatus"] == {
        "percentComplete": 0,
        "startDateTime": None,
        "status": "notStarted",
    }
    Job.objects.filter(job_id=job_id).update(
        status="running", percent_complete=40, started_at=timezone.now()
    )
    running = api.call("GET", f"{BASE}/projects/Mail/train/jobs/{job_id}").json()
    assert running["result"]["trainingStatus"]["status"] == "running"
    assert running["result"]["trainingStatus"]["percentComplete"] == 50
    assert running["result"]["evaluationStatus"]["status"] == "notStarted"
    Job.objects.filter(job_id=job_id).update(percent_complete=86)
    evaluating = api.call("GET", f"{BASE}/projects/Mail/train/jobs/{job_id}").json()
    assert evaluating["result"]["trainingStatus"]["status"] == "succeeded"
    assert evaluating["result"]["evaluationStatus"] == {
        "percentComplete": 40,
        "status": "running",
    }


def test_a_second_train_while_one_is_queued_is_409(api: Api) -> None:
    imported(api)
    api.call("POST", f"{BASE}/projects/Mail/:train", TRAIN_BODY, run_jobs=False)
    second = api.call("POST", f"{BASE}/projects/Mail/:train", TRAIN_BODY)
    assert "already training" in assert_error(second, 409, "Conflict")["message"]
    assert Job.objects.filter(kind="train").count() == 1


def test_cancel_a_queued_training_job(api: Api) -> None:
    imported(api)
    response = api.call(
        "POST", f"{BASE}/projects/Mail/:train", TRAIN_BODY, run_jobs=False
    )
    path = urlsplit(response["Operation-Location"]).path
    cancel = api.call("POST", f"{path}/:cancel")
    assert cancel.status_code == 202
    assert urlsplit(cancel["Operation-Location"]).path == path
    job = api.follow(cancel)
    assert job["status"] == "cancelled"
    assert job["result"]["trainingStatus"]["status"] == "notStarted"
    again = api.call("POST", f"{path}/:cancel")
    assert "already finished" in assert_error(again, 409, "Conflict")["message"]
    # The project may train again at once.
    trained(api)


def test_bad_train_requests_are_400_and_queue_nothing(api: Api) -> None:
    imported(api)
    for body, target in (
        ({**TRAIN_BODY, "modelLabel": "no spaces"}, "modelLabel"),
        ({**TRAIN_BODY, "trainingMode": "fast"}, "trainingMode"),
        (
            {
                **TRAIN_BODY,
                "evaluationOptions": {
                    "trainingSplitPercentage": 60,
                    "testingSplitPercentage": 60,
                },
            },
            "evaluationOptions",
        ),
    ):
        response = api.call("POST", f"{BASE}/projects/Mail/:train", body)
        assert assert_error(response, 400, "InvalidArgument")["target"] == target
    empty = api.call("POST", f"{BASE}/projects/Mail/:train")
    assert_error(empty, 400, "InvalidRequest")
    assert not Job.objects.filter(kind="train").exists()


def test_unknown_projects_models_and_jobs_are_404(api: Api) -> None:
    imported(api)
    assert_error(
        api.call("POST", f"{BASE}/projects/Nope/:train", TRAIN_BODY),
        404,
        "ProjectNotFound",
    )
    KbProjectFactory(name="Faq")
    assert_error(
        api.call("POST", f"{BASE}/projects/Faq/:train", TRAIN_BODY),
        404,
        "ProjectNotFound",
    )
    assert_error(api.call("GET", f"{BASE}/projects/Mail/models/m9"), 404, "NotFound")
    assert_error(
        api.call("GET", f"{BASE}/projects/Mail/train/jobs/nope"),
        404,
        "OperationNotFound",
    )
    assert_error(
        api.call(
            "GET",
            f"{BASE}/projects/Mail/models/m9/evaluation/result",
            query="stringIndexType=Utf16CodeUnit",
        ),
        404,
        "NotFound",
    )


def test_a_failed_training_job_says_why(api: Api) -> None:
    imported(api, extra_intents=("Forward",))
    job = api.follow(api.call("POST", f"{BASE}/projects/Mail/:train", TRAIN_BODY))
    assert job["status"] == "failed"
    assert "Forward" in job["errors"][0]["message"]
    assert job["result"]["trainingStatus"]["status"] == "failed"
    assert api.call("GET", f"{BASE}/projects/Mail/models").json()["value"] == []


def test_evaluation_result_needs_a_valid_string_index_type(api: Api) -> None:
    imported(api)
    trained(api)
    path = f"{BASE}/projects/Mail/models/model1/evaluation/result"
    missing = api.call("GET", path)
    assert assert_error(missing, 400, "InvalidArgument")["target"] == "stringIndexType"
    bad = api.call("GET", path, query="stringIndexType=Bytes")
    assert assert_error(bad, 400, "InvalidArgument")["target"] == "stringIndexType"


def test_evaluation_results_in_each_string_index_type(api: Api) -> None:
    document = clu_document("Mail", {"Read": EMOJI_READ, "Delete": MAIL["Delete"][:5]})
    for utterance in document["assets"]["utterances"]:
        utterance["dataset"] = "Test" if "😀" in utterance["text"] else "Train"
    document["assets"]["utterances"][1]["dataset"] = "Test"
    job = api.import_("Mail", document)
    assert job["status"] == "succeeded"
    trained(api, evaluationOptions={"kind": "manual"})
    path = f"{BASE}/projects/Mail/models/model1/evaluation/result"
    pages: dict[str, list[dict[str, Any]]] = {}
    for index_type in ("Utf16CodeUnit", "UnicodeCodePoint", "TextElements_v8"):
        first = api.call(
            "GET", path, query=f"stringIndexType={index_type}&maxpagesize=1"
        ).json()
        assert len(first["value"]) == 1
        next_link = urlsplit(first["nextLink"])
        assert parse_qs(next_link.query)["skip"] == ["1"]
        second = api.call(
            "GET", next_link.path, query=next_link.query.replace("api-version=", "x=")
        ).json()
        pages[index_type] = first["value"] + second["value"]
    emoji = {t: next(r for r in v if "😀" in r["text"]) for t, v in pages.items()}
    expected = emoji["Utf16CodeUnit"]["entitiesResult"]["expectedEntities"]
    assert expected == [{"category": "Contact", "offset": 8, "length": 5}]
    for index_type in ("UnicodeCodePoint", "TextElements_v8"):
        spans = emoji[index_type]["entitiesResult"]["expectedEntities"]
        assert spans == [{"category": "Contact", "offset": 7, "length": 5}]
    item = emoji["Utf16CodeUnit"]
    assert item["intentsResult"]["expectedIntent"] == "Read"
    assert item["intentsResult"]["predictedIntent"] in ("Read", "Delete")
    assert item["language"] == "en-us"
    assert {r["text"] for r in pages["Utf16CodeUnit"]} == {
        "😀 read Blake's mail",
        "read the 👍 mail from Dana",
    }


def test_evaluation_summary_has_azure_shape(api: Api) -> None:
    imported(api)
    trained(api)
    summary = api.call(
        "GET", f"{BASE}/projects/Mail/models/model1/evaluation/summary-result"
    ).json()
    assert set(summary) == {
        "intentsEvaluation",
        "entitiesEvaluation",
        "evaluationOptions",
    }
    assert summary["evaluationOptions"] == TRAIN_BODY["evaluationOptions"]
    intents = summary["intentsEvaluation"]
    for key in (
        "microF1",
        "microPrecision",
        "microRecall",
        "macroF1",
        "macroPrecision",
        "macroRecall",
    ):
        assert 0.0 <= intents[key] <= 1.0
    read = intents["intents"]["Read"]
    assert set(read) == {
        "f1",
        "precision",
        "recall",
        "truePositiveCount",
        "trueNegativeCount",
        "falsePositiveCount",
        "falseNegativeCount",
    }
    total = EvaluationResult.objects.count()
    assert sum(read[k] for k in read if k.endswith("Count")) == total
    matrix = intents["confusionMatrix"]
    for row in matrix.values():
        assert all(cell["rawValue"] > 0 for cell in row.values())  # sparse
        assert sum(c["normalizedValue"] for c in row.values()) == pytest.approx(100)
    entities = summary["entitiesEvaluation"]
    assert entities["entities"]["Contact"]["trueNegativeCount"] == 0
    # Beyond Azure: the calibration of the intent confidences (issue 15 item 6),
    # inside an object Azure's schema leaves open, so the body still validates.
    calibration = intents["calibration"]
    assert calibration["utteranceCount"] == total
    assert 0.0 <= calibration["expectedCalibrationError"] <= 1.0
    assert len(calibration["bins"]) == 10
    assert_matches_azure_definition(
        summary,
        "analyzeconversations-authoring.json",
        "ConversationalAnalysisAuthoringEvaluationSummary",
    )


def test_delete_model_is_204_and_then_404(api: Api) -> None:
    imported(api)
    trained(api)
    deleted = api.call("DELETE", f"{BASE}/projects/Mail/models/model1")
    assert deleted.status_code == 204
    assert deleted.content == b""
    assert not TrainedModel.objects.exists()
    assert not EvaluationResult.objects.exists()
    assert_error(
        api.call("DELETE", f"{BASE}/projects/Mail/models/model1"), 404, "NotFound"
    )


def test_load_snapshot_restores_assets_through_a_job(api: Api) -> None:
    imported(api)
    trained(api)
    Utterance.objects.filter(intent__name="Send").delete()
    response = api.call("POST", f"{BASE}/projects/Mail/models/model1/:load-snapshot")
    location = urlsplit(response["Operation-Location"]).path
    assert location.startswith(
        f"{BASE}/projects/Mail/models/model1/load-snapshot/jobs/"
    )
    job = api.follow(response)
    assert job["status"] == "succeeded", job
    assert Utterance.objects.filter(project__name="Mail").count() == 30
    assert_error(
        api.call("POST", f"{BASE}/projects/Mail/models/nope/:load-snapshot"),
        404,
        "NotFound",
    )


def test_export_with_trained_model_label_exports_the_snapshot(api: Api) -> None:
    imported(api)
    trained(api)
    Utterance.objects.filter(intent__name="Send").delete()
    job = api.follow(
        api.call(
            "POST",
            f"{BASE}/projects/Mail/:export",
            query="stringIndexType=Utf16CodeUnit&trainedModelLabel=model1",
        )
    )
    assert job["status"] == "succeeded", job
    url = urlsplit(job["resultUrl"])
    document = api.call("GET", url.path).json()
    assert document["stringIndexType"] == "Utf16CodeUnit"
    assert len(document["assets"]["utterances"]) == 30
    assert len(api.export("Mail")["assets"]["utterances"]) == 20


def test_email_app_demo_trains_with_entities(api: Api, shared_data: Any) -> None:
    path = shared_data / "azure-language-samples" / "CLU" / "EmailAppDemo.json"
    if not path.exists():
        skip_or_fail(f"{path} is not available")
    document = json.loads(path.read_text(encoding="utf-8"))
    assert api.import_("EmailAppDemo", document)["status"] == "succeeded"
    job = trained(api, "EmailAppDemo")
    assert job["result"]["evaluationStatus"]["status"] == "succeeded"
    summary = api.call(
        "GET",
        f"{BASE}/projects/EmailAppDemo/models/model1/evaluation/summary-result",
    ).json()
    assert summary["intentsEvaluation"]["microF1"] > 0.5
    assert summary["entitiesEvaluation"]["entities"]
    results = api.call(
        "GET",
        f"{BASE}/projects/EmailAppDemo/models/model1/evaluation/result",
        query="stringIndexType=Utf16CodeUnit&maxpagesize=1000",
    ).json()["value"]
    # 20% of 607 utterances per intent, rounded per intent.
    assert 110 <= len(results) <= 135
    assert Project.objects.get(name="EmailAppDemo").last_trained_at is not None


def test_training_endpoints_follow_the_key_owners_project_role(
    client: Client,
) -> None:
    from tests.ui.conftest import make_projects, make_users

    users = make_users(make_projects())

    def call(role: str, method: str, path: str, body: Any = None) -> Any:
        key = apikey_create(name=role, created_by=users.get(role))[1]
        kwargs: dict[str, Any] = {"headers": {"Ocp-Apim-Subscription-Key": key}}
        if body is not None:
            kwargs.update(data=json.dumps(body), content_type="application/json")
        return getattr(client, method)(f"{path}?api-version=2023-04-01", **kwargs)

    models = f"{BASE}/projects/conv/models"
    train = f"{BASE}/projects/conv/:train"
    assert call("viewer", "get", models).status_code == 200
    assert_error(call("viewer", "post", train, TRAIN_BODY), 403, "Forbidden")
    assert_error(call("outsider", "get", models), 404, "ProjectNotFound")
    assert_error(call("outsider", "post", train, TRAIN_BODY), 404, "ProjectNotFound")
    assert call("analyst", "post", train, TRAIN_BODY).status_code == 202


# --- issue #13: the newest api-versions ---------------------------------------------

NEWEST = "2025-11-15-preview"
DATA_GENERATION = {
    "enableDataGeneration": True,
    "dataGenerationConnectionInfo": {"kind": "AzureOpenAI", "deploymentName": "gpt"},
}


def _call_at(api: Api, method: str, path: str, version: str, body: Any = None) -> Any:
    """``api.call`` at another api-version (``Api`` pins 2023-04-01)."""
    kwargs: dict[str, Any] = {"headers": {"Ocp-Apim-Subscription-Key": api.key}}
    if body is not None:
        kwargs.update(data=json.dumps(body), content_type="application/json")
    with api.capture(execute=True):
        return getattr(api.client, method.lower())(
            f"{path}?api-version={version}", **kwargs
        )


@pytest.mark.parametrize(
    "version", ["2024-11-15-preview", "2025-05-15-preview", "2025-11-01", NEWEST]
)
def test_newest_versions_list_training_jobs_with_data_generation_status(
    api: Api, version: str
) -> None:
    """The 1.0.0b4 SDK types ``TrainingJobResult.dataGenerationStatus`` as required."""
    imported(api)
    started = _call_at(api, "POST", f"{BASE}/projects/Mail/:train", version, TRAIN_BODY)
    job = api.follow(started)
    assert job["status"] == "succeeded", job
    status = job["result"]["dataGenerationStatus"]
    assert status["status"] == "succeeded" and status["percentComplete"] == 100
    listed = _call_at(api, "GET", f"{BASE}/projects/Mail/train/jobs", version).json()
    assert listed["value"][0]["result"]["dataGenerationStatus"] == status
    # (each job; the page's null nextLink is engineer fuzz's, issue #13 item 3)
    assert_matches_azure_definition(
        listed["value"][0],
        "analyzeconversations-authoring.json",
        "ConversationalAnalysisAuthoringTrainingJobState",
    )
    assert_matches_azure_definition(
        status,
        "analyzeconversations-authoring.json",
        "ConversationalAnalysisAuthoringSubTrainingJobState",
    )
    # The stable version keeps the 2023-04-01 shape.
    stable = api.call("GET", f"{BASE}/projects/Mail/train/jobs").json()["value"][0]
    assert "dataGenerationStatus" not in stable["result"]


def test_a_queued_job_reports_data_generation_not_started(api: Api) -> None:
    imported(api)
    response = api.call(
        "POST", f"{BASE}/projects/Mail/:train", TRAIN_BODY, run_jobs=False
    )
    path = urlsplit(response["Operation-Location"]).path
    body = api.client.get(
        f"{path}?api-version={NEWEST}",
        headers={"Ocp-Apim-Subscription-Key": api.key},
    ).json()
    assert body["result"]["dataGenerationStatus"] == {
        "percentComplete": 0,
        "status": "notStarted",
    }


def test_data_generation_settings_are_reported_as_ignored_in_warnings(
    api: Api,
) -> None:
    imported(api)
    body = {**TRAIN_BODY, "dataGenerationSettings": DATA_GENERATION}
    started = _call_at(api, "POST", f"{BASE}/projects/Mail/:train", NEWEST, body)
    job = api.follow(started)
    assert job["status"] == "succeeded", job
    [warning] = job["warnings"]
    assert warning["code"] and "data generation" in warning["message"].lower()
    assert "ignored" in warning["message"]
    # Disabled data generation asks for nothing: no warning.
    off = trained(api, dataGenerationSettings={"enableDataGeneration": False})
    assert off["warnings"] == []


@pytest.mark.parametrize(
    "settings",
    [[], "yes", {"enableDataGeneration": "yes"}],
)
def test_bad_data_generation_settings_are_400_and_queue_nothing(
    api: Api, settings: Any
) -> None:
    imported(api)
    body = {**TRAIN_BODY, "dataGenerationSettings": settings}
    response = _call_at(api, "POST", f"{BASE}/projects/Mail/:train", NEWEST, body)
    assert assert_error(response, 400, "InvalidArgument")["target"].startswith(
        "dataGenerationSettings"
    )
    assert not Job.objects.filter(kind="train").exists()
