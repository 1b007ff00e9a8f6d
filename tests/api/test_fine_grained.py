"""``/api/v1/``: fine-grained CRUD for intents, entities, utterances and QnAs."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from projects.models import Entity, EntitySpan, Intent, Project, QnaPair, Utterance
from studio.services import apikey_create
from tests.conftest import require_shared_data

pytestmark = pytest.mark.django_db

V1 = "/api/v1/projects"
AUTHORING = "/language/authoring/analyze-conversations/projects"


class Api:
    def __init__(self, client: Client, key: str) -> None:
        self.client = client
        self.key = key

    def __call__(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        key: str | None = "",
        headers: dict[str, str] | None = None,
    ) -> Any:
        headers = dict(headers or {})
        used = self.key if key == "" else key
        if used is not None:
            headers["Ocp-Apim-Subscription-Key"] = used
        data = json.dumps(body) if body is not None else None
        return getattr(self.client, method.lower())(
            path, data, content_type="application/json", headers=headers
        )


@pytest.fixture
def api(client: Client) -> Api:
    return Api(client, apikey_create(name="v1-tests")[1])


def make_project(api: Api, name: str = "clu", kind: str = "Conversation") -> None:
    response = api.client.patch(
        f"{AUTHORING}/{name}?api-version=2023-04-01",
        json.dumps({"projectName": name, "projectKind": kind, "language": "en-us"}),
        content_type="application/merge-patch+json",
        headers={"Ocp-Apim-Subscription-Key": api.key},
    )
    assert response.status_code == 201, response.content


@pytest.fixture
def clu(api: Api) -> str:
    """A Conversation project with intents BookFlight, Greet and an entity City."""
    make_project(api)
    for name in ("BookFlight", "Greet"):
        assert api("POST", f"{V1}/clu/intents", {"category": name}).status_code == 201
    entity = {"category": "City", "list": {"sublists": []}}
    assert api("POST", f"{V1}/clu/entities", entity).status_code == 201
    return "clu"


def snapshot(name: str = "clu") -> Any:
    project = Project.objects.get(name=name)
    return (
        project.last_modified_at,
        list(Intent.objects.filter(project=project).values_list("name", "target_kind")),
        list(
            Entity.objects.filter(project=project).values_list(
                "name", "list_sublists", "prebuilts", "regex_expressions"
            )
        ),
        list(
            Utterance.objects.filter(project=project).values_list(
                "id", "text", "intent__name", "dataset"
            )
        ),
        list(
            EntitySpan.objects.filter(utterance__project=project).values_list(
                "utterance_id", "entity__name", "offset", "length"
            )
        ),
    )


UTT = {
    "text": "fly to Paris",
    "intent": "BookFlight",
    "dataset": "Train",
    "entities": [{"category": "City", "offset": 7, "length": 5}],
}


# --- auth, api-version, unknown things -------------------------------------------


def test_v1_needs_a_key_but_no_api_version(api: Api, clu: str) -> None:
    assert api("GET", f"{V1}/clu/intents", key=None).status_code == 401
    assert api("GET", f"{V1}/clu/intents", key="osk_wrong").status_code == 401
    assert api("GET", f"{V1}/clu/intents").status_code == 200


def test_unknown_project_and_wrong_kind_are_project_not_found(api: Api) -> None:
    api.client.patch(
        "/language/authoring/query-knowledgebases/projects/kb?api-version=2023-04-01",
        json.dumps({"language": "en"}),
        content_type="application/json",
        headers={"Ocp-Apim-Subscription-Key": api.key},
    )
    for path in (f"{V1}/nope/intents", f"{V1}/kb/intents", f"{V1}/kb/utterances"):
        response = api("GET", path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "ProjectNotFound"


def test_unknown_v1_path_is_an_azure_404(api: Api) -> None:
    for path in ("nothing-here", "intents/a%0Ab/c", "%0A"):
        response = api("GET", f"{V1}/clu/{path}")
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "NotFound"


# --- intents -------------------------------------------------------------------------


def test_intents_list_with_utterance_counts_per_dataset(api: Api, clu: str) -> None:
    api("POST", f"{V1}/clu/utterances", [UTT, {**UTT, "dataset": "Test"}])
    api("POST", f"{V1}/clu/utterances", {"text": "hi", "intent": "Greet"})
    intents = {
        i["category"]: i for i in api("GET", f"{V1}/clu/intents").json()["value"]
    }
    assert set(intents) == {"None", "BookFlight", "Greet"}
    assert intents["None"]["isBuiltin"] is True
    assert "orchestration" not in intents["Greet"]
    assert intents["BookFlight"]["utteranceCounts"] == {
        "Train": 1,
        "Test": 1,
        "unassigned": 0,
        "total": 2,
    }
    assert intents["Greet"]["utteranceCounts"]["unassigned"] == 1
    one = api("GET", f"{V1}/clu/intents/Greet").json()
    assert one["utteranceCounts"]["total"] == 1


def test_intent_rename_keeps_its_utterances(api: Api, clu: str) -> None:
    api("POST", f"{V1}/clu/utterances", UTT)
    response = api("PATCH", f"{V1}/clu/intents/BookFlight", {"category": "Book"})
    assert response.status_code == 200, response.content
    assert response.json()["category"] == "Book"
    assert api("GET", f"{V1}/clu/intents/BookFlight").status_code == 404
    assert Utterance.objects.get().intent.name == "Book"


def test_orchestration_intent_link_is_set_by_patch(api: Api) -> None:
    make_project(api, "orch", "Orchestration")
    created = api("POST", f"{V1}/orch/intents", {"category": "Faq"}).json()
    assert created["orchestration"] == {"targetProjectKind": "NonLinked"}
    link = {
        "targetProjectKind": "QuestionAnswering",
        "questionAnsweringOrchestration": {"projectName": "kb"},
    }
    response = api("PATCH", f"{V1}/orch/intents/Faq", {"orchestration": link})
    assert response.status_code == 200, response.content
    assert response.json()["orchestration"] == link
    assert Intent.objects.get(name="Faq").target_kind == "QuestionAnswering"
    unlinked = api(
        "PATCH",
        f"{V1}/orch/intents/Faq",
        {"orchestration": {"targetProjectKind": "NonLinked"}},
    )
    assert unlinked.json()["orchestration"] == {"targetProjectKind": "NonLinked"}
    assert Intent.objects.get(name="Faq").target_kind == ""


def test_intent_delete_and_builtin_none_refused(api: Api, clu: str) -> None:
    assert api("DELETE", f"{V1}/clu/intents/Greet").status_code == 204
    assert not Intent.objects.filter(name="Greet").exists()
    before = snapshot()
    assert api("DELETE", f"{V1}/clu/intents/None").status_code == 400
    assert api("PATCH", f"{V1}/clu/intents/None", {"category": "X"}).status_code == 400
    assert snapshot() == before


@pytest.mark.parametrize(
    "body",
    [
        {"category": "Bad/Name"},
        {"category": ""},
        {"category": "x" * 51},
        {"category": "BookFlight"},  # duplicate
        {},
        {"category": 5},
    ],
)
def test_bad_intent_creates_are_400_naming_the_field(
    api: Api, clu: str, body: Any
) -> None:
    before = snapshot()
    response = api("POST", f"{V1}/clu/intents", body)
    assert response.status_code in (400, 409), response.content
    assert "error" in response.json()
    assert snapshot() == before


def test_unknown_intent_is_404(api: Api, clu: str) -> None:
    for method, body in (("GET", None), ("PATCH", {"category": "X"}), ("DELETE", None)):
        response = api(method, f"{V1}/clu/intents/Nope", body)
        assert response.status_code == 404


# --- entities ------------------------------------------------------------------------


def test_entity_components_round_trip(api: Api, clu: str) -> None:
    body = {
        "category": "Airport",
        "compositionSetting": "returnLongestOverlap",
        "list": {
            "sublists": [
                {
                    "listKey": "CDG",
                    "synonyms": [{"language": "en-us", "values": ["Roissy"]}],
                }
            ]
        },
        "regex": {
            "expressions": [
                {"regexKey": "code", "language": "en-us", "regexPattern": "[A-Z]{3}"}
            ]
        },
        "prebuilts": [{"category": "Quantity.Number"}],
        "requiredComponents": ["list"],
    }
    created = api("POST", f"{V1}/clu/entities", body)
    assert created.status_code == 201, created.content
    got = api("GET", f"{V1}/clu/entities/Airport").json()
    assert got["compositionSetting"] == "returnLongestOverlap"
    assert got["list"]["sublists"][0]["listKey"] == "CDG"
    assert got["regex"]["expressions"][0]["regexPattern"] == "[A-Z]{3}"
    assert got["requiredComponents"] == ["list"]
    assert got["prebuilts"] == [{"category": "Quantity.Number"}]
    names = [e["category"] for e in api("GET", f"{V1}/clu/entities").json()["value"]]
    assert names == ["City", "Airport"]
    patched = api("PATCH", f"{V1}/clu/entities/Airport", {"category": "Port"})
    assert patched.status_code == 200, patched.content
    assert api("DELETE", f"{V1}/clu/entities/Port").status_code == 204
    assert api("GET", f"{V1}/clu/entities/Port").status_code == 404


@pytest.mark.parametrize(
    "body",
    [
        {"category": "Bad:Name"},
        {"category": "City"},
        {"category": "E", "compositionSetting": "whatever"},
        {
            "category": "E",
            "regex": {
                "expressions": [
                    {"regexKey": "k", "language": "en-us", "regexPattern": "([a-z"}
                ]
            },
        },
        {"category": "E", "requiredComponents": ["magic"]},
        {"category": "E", "prebuilts": [{"category": "Bogus.Thing"}]},
    ],
)
def test_bad_entities_are_400_and_change_nothing(api: Api, clu: str, body: Any) -> None:
    before = snapshot()
    response = api("POST", f"{V1}/clu/entities", body)
    assert response.status_code in (400, 409), response.content
    assert snapshot() == before


# --- utterances ----------------------------------------------------------------------


def test_create_get_update_delete_one_utterance(api: Api, clu: str) -> None:
    created = api("POST", f"{V1}/clu/utterances", UTT)
    assert created.status_code == 201, created.content
    body = created.json()
    assert body["entities"] == UTT["entities"]
    uid = body["id"]
    assert api("GET", f"{V1}/clu/utterances/{uid}").json()["text"] == "fly to Paris"
    patched = api(
        "PATCH",
        f"{V1}/clu/utterances/{uid}",
        {
            "text": "fly to Rome",
            "entities": [{"category": "City", "offset": 7, "length": 4}],
        },
    )
    assert patched.status_code == 200, patched.content
    assert patched.json()["text"] == "fly to Rome"
    moved = api(
        "PATCH", f"{V1}/clu/utterances/{uid}", {"intent": "Greet", "dataset": "Test"}
    )
    assert (moved.json()["intent"], moved.json()["dataset"]) == ("Greet", "Test")
    assert api("DELETE", f"{V1}/clu/utterances/{uid}").status_code == 204
    assert api("GET", f"{V1}/clu/utterances/{uid}").status_code == 404


def test_offsets_follow_string_index_type(api: Api, clu: str) -> None:
    # The emoji is 2 UTF-16 units but 1 code point: "Paris" starts at 10 in UTF-16.
    text = "\U0001f600 fly to Paris"
    body = {
        "text": text,
        "intent": "BookFlight",
        "entities": [{"category": "City", "offset": 10, "length": 5}],
    }
    created = api("POST", f"{V1}/clu/utterances", body)
    assert created.status_code == 201, created.content
    span = EntitySpan.objects.get()
    assert text[span.offset : span.offset + span.length] == "Paris"
    uid = created.json()["id"]
    cp = api("GET", f"{V1}/clu/utterances/{uid}?stringIndexType=UnicodeCodePoint")
    assert cp.json()["entities"][0]["offset"] == 9
    assert api("GET", f"{V1}/clu/utterances?stringIndexType=Bytes").status_code == 400


def test_utterance_list_filters_and_pages(api: Api, clu: str) -> None:
    api(
        "POST",
        f"{V1}/clu/utterances",
        [
            UTT,
            {"text": "hello there", "intent": "Greet", "dataset": "Test"},
            {"text": "hi", "intent": "Greet"},
            {"text": "book a flight", "intent": "BookFlight"},
        ],
    )

    def texts(query: str) -> list[str]:
        response = api("GET", f"{V1}/clu/utterances?{query}")
        assert response.status_code == 200, response.content
        return [u["text"] for u in response.json()["value"]]

    assert texts("intent=Greet") == ["hello there", "hi"]
    assert texts("dataset=Train") == ["fly to Paris"]
    assert texts("dataset=unassigned") == ["hi", "book a flight"]
    assert texts("search=FLY") == ["fly to Paris"]
    assert texts("hasEntities=true") == ["fly to Paris"]
    assert len(texts("hasEntities=false")) == 3
    page = api("GET", f"{V1}/clu/utterances?maxpagesize=3").json()
    assert len(page["value"]) == 3
    assert "skip=3" in page["nextLink"]
    assert api("GET", f"{V1}/clu/utterances?dataset=Dev").status_code == 400
    assert api("GET", f"{V1}/clu/utterances?hasEntities=maybe").status_code == 400


@pytest.mark.parametrize(
    "bad",
    [
        {"text": "x" * 600, "intent": "Greet"},
        {"text": "   ", "intent": "Greet"},
        {"text": "hi", "intent": "Unknown"},
        {"text": "hi", "intent": "Greet", "dataset": "Dev"},
        {
            "text": "hi",
            "intent": "Greet",
            "entities": [{"category": "City", "offset": 1, "length": 5}],
        },
        {
            "text": "hi",
            "intent": "Greet",
            "entities": [{"category": "Nope", "offset": 0, "length": 1}],
        },
        {
            "text": "fly to Paris",
            "intent": "BookFlight",
            "entities": [
                {"category": "City", "offset": 7, "length": 5},
                {"category": "City", "offset": 8, "length": 2},
            ],
        },
    ],
)
def test_bad_utterances_are_400_and_bulk_create_is_atomic(
    api: Api, clu: str, bad: Any
) -> None:
    before = snapshot()
    one = api("POST", f"{V1}/clu/utterances", bad)
    assert one.status_code == 400, one.content
    assert one.json()["error"].get("target") or one.json()["error"].get("details")
    bulk = api("POST", f"{V1}/clu/utterances", [UTT, bad])
    assert bulk.status_code == 400, bulk.content
    assert snapshot() == before


def test_bad_utterance_update_changes_nothing(api: Api, clu: str) -> None:
    uid = api("POST", f"{V1}/clu/utterances", UTT).json()["id"]
    before = snapshot()
    for body in (
        {"text": ""},
        {"intent": "Nope"},
        {"dataset": "Dev"},
        {"text": "Pa"},  # the City span would run past the text
    ):
        response = api("PATCH", f"{V1}/clu/utterances/{uid}", body)
        assert response.status_code == 400, (body, response.content)
    assert snapshot() == before


def test_batch_update_and_delete_are_atomic(api: Api, clu: str) -> None:
    created = api(
        "POST",
        f"{V1}/clu/utterances",
        [UTT, {"text": "hi", "intent": "Greet"}, {"text": "yo", "intent": "Greet"}],
    ).json()["value"]
    ids = [u["id"] for u in created]
    updated = api(
        "POST",
        f"{V1}/clu/utterances:batch-update",
        {"ids": ids[1:], "dataset": "Test"},
    )
    assert updated.status_code == 200, updated.content
    assert list(
        Utterance.objects.filter(id__in=ids[1:]).values_list("dataset", flat=True)
    ) == ["Test", "Test"]
    before = snapshot()
    for body in (
        {"ids": [*ids, 999_999], "dataset": "Train"},
        {"ids": ids, "intent": "Nope"},
        {"ids": "all", "dataset": "Train"},
    ):
        response = api("POST", f"{V1}/clu/utterances:batch-update", body)
        assert response.status_code in (400, 404), (body, response.content)
    bad_delete = api(
        "POST", f"{V1}/clu/utterances:batch-delete", {"ids": [ids[0], 999_999]}
    )
    assert bad_delete.status_code in (400, 404)
    assert snapshot() == before
    deleted = api("POST", f"{V1}/clu/utterances:batch-delete", {"ids": ids[:2]})
    assert deleted.status_code == 200, deleted.content
    assert list(Utterance.objects.values_list("id", flat=True)) == [ids[2]]


def test_utterance_ids_of_another_project_are_not_found(api: Api, clu: str) -> None:
    make_project(api, "other")
    api("POST", f"{V1}/other/intents", {"category": "Greet"})
    uid = api(
        "POST", f"{V1}/other/utterances", {"text": "hi", "intent": "Greet"}
    ).json()["id"]
    assert api("GET", f"{V1}/clu/utterances/{uid}").status_code == 404
    assert api("DELETE", f"{V1}/clu/utterances/{uid}").status_code == 404
    response = api("POST", f"{V1}/clu/utterances:batch-delete", {"ids": [uid]})
    assert response.status_code in (400, 404)
    assert Utterance.objects.filter(id=uid).exists()


def test_clu_utterances_sample_imports_as_a_flat_list(api: Api) -> None:
    path = (
        require_shared_data() / "azure-language-samples" / "CLU" / "clu_utterances.json"
    )
    document = json.loads(path.read_text(encoding="utf-8"))
    make_project(api, "bulk")
    response = api("POST", f"{V1}/bulk/utterances:import", document)
    assert response.status_code == 201, response.content
    assert response.json()["imported"] == len(document)
    assert Utterance.objects.filter(project__name="bulk").count() == len(document)


def test_bad_flat_import_is_atomic(api: Api, clu: str) -> None:
    before = snapshot()
    document = [
        {"text": "hi", "intent": "Greet", "language": "en-us"},
        {"text": "", "intent": "Greet", "language": "en-us"},
    ]
    response = api("POST", f"{V1}/clu/utterances:import", document)
    assert response.status_code == 400
    assert "[1]" in json.dumps(response.json())
    assert api("POST", f"{V1}/clu/utterances:import", {"a": 1}).status_code == 400
    assert snapshot() == before


# --- knowledge-base QnAs -------------------------------------------------------------


def test_kb_qna_crud(api: Api) -> None:
    assert _kb_with_a_qna(api) == f"{V1}/kb/qnas/4"
    patched = api("PATCH", f"{V1}/kb/qnas/4", {"answer": "b"})
    assert patched.status_code == 200, patched.content
    assert patched.json()["answer"] == "b"
    assert patched.json()["questions"] == ["q"]
    assert [q["id"] for q in api("GET", f"{V1}/kb/qnas").json()["value"]] == [4]
    before = list(QnaPair.objects.values_list("qna_id", "answer"))
    assert api("PATCH", f"{V1}/kb/qnas/4", {"answer": ""}).status_code == 400
    assert list(QnaPair.objects.values_list("qna_id", "answer")) == before
    assert api("DELETE", f"{V1}/kb/qnas/4").status_code == 204
    assert api("GET", f"{V1}/kb/qnas/4").status_code == 404


def test_dataset_null_unassigns_one_or_many(api: Api, clu: str) -> None:
    ids = [
        u["id"]
        for u in api(
            "POST", f"{V1}/clu/utterances", [UTT, {**UTT, "text": "fly to Paris now"}]
        ).json()["value"]
    ]
    one = api("PATCH", f"{V1}/clu/utterances/{ids[0]}", {"dataset": None})
    assert one.status_code == 200, one.content
    assert one.json()["dataset"] is None
    many = api(
        "POST", f"{V1}/clu/utterances:batch-update", {"ids": ids, "dataset": None}
    )
    assert many.json() == {"updated": 2}
    assert not Utterance.objects.exclude(dataset=None).exists()


def test_link_to_a_studio_project_of_the_wrong_kind_is_refused(api: Api) -> None:
    make_project(api, "orch", "Orchestration")
    make_project(api, "clu")
    api("POST", f"{V1}/orch/intents", {"category": "Faq"})
    before = snapshot("orch")
    link = {
        "targetProjectKind": "QuestionAnswering",
        "questionAnsweringOrchestration": {"projectName": "clu"},
    }
    response = api("PATCH", f"{V1}/orch/intents/Faq", {"orchestration": link})
    assert response.status_code == 400, response.content
    assert "clu" in response.json()["error"]["message"]
    assert snapshot("orch") == before


def test_a_qna_posted_without_id_gets_the_next_one(api: Api) -> None:
    api.client.patch(
        "/language/authoring/query-knowledgebases/projects/kb?api-version=2023-04-01",
        json.dumps({"language": "en"}),
        content_type="application/json",
        headers={"Ocp-Apim-Subscription-Key": api.key},
    )
    api("POST", f"{V1}/kb/qnas", {"id": 3, "answer": "a", "questions": ["q"]})
    created = api("POST", f"{V1}/kb/qnas", {"answer": "b", "questions": ["r"]})
    assert created.status_code == 201, created.content
    assert created.json()["id"] > 3
    assert created.json()["answer"] == "b"


def test_a_page_of_utterances_costs_a_fixed_number_of_queries(
    api: Api, clu: str, django_assert_max_num_queries: Any
) -> None:
    items = [{**UTT, "text": f"fly to Paris {i}", "dataset": None} for i in range(60)]
    assert api("POST", f"{V1}/clu/utterances", items).status_code == 201
    with django_assert_max_num_queries(8):
        page = api("GET", f"{V1}/clu/utterances?maxpagesize=50")
    assert len(page.json()["value"]) == 50
    assert all(u["entities"][0]["category"] == "City" for u in page.json()["value"])


def test_a_bulk_create_response_costs_a_fixed_number_of_queries(
    api: Api, clu: str, django_assert_max_num_queries: Any
) -> None:
    items = [{**UTT, "text": f"fly to Paris {i}"} for i in range(60)]
    with django_assert_max_num_queries(20):
        created = api("POST", f"{V1}/clu/utterances", items)
    assert created.status_code == 201, created.content
    body = created.json()["value"]
    assert [u["text"] for u in body] == [i["text"] for i in items]
    assert all(u["intent"] == "BookFlight" for u in body)
    assert all(u["entities"][0]["category"] == "City" for u in body)


# --- optimistic concurrency: ETag / If-Match, writes of the changed fields only ------


def _utterance(api: Api, text: str = "fly to Paris") -> tuple[str, str]:
    """A new BookFlight utterance labeled City at Paris: its URL and ETag."""
    body = {
        "text": text,
        "intent": "BookFlight",
        "entities": [{"category": "City", "offset": 7, "length": 5}],
    }
    created = api("POST", f"{V1}/clu/utterances", body)
    assert created.status_code == 201, created.content
    return f"{V1}/clu/utterances/{created.json()['id']}", created["ETag"]


def test_a_patch_of_dataset_keeps_a_concurrent_intent_change(
    api: Api, clu: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The request loads the utterance, another request changes its intent, then
    this one saves its dataset: the intent change stays (it used to be overwritten
    with the intent this request loaded, both answered 200)."""
    from projects.apis import fine_grained

    url, _ = _utterance(api)
    real_get = fine_grained.selectors.utterance_get

    def load_then_race(**kwargs: Any) -> Utterance:
        loaded = real_get(**kwargs)
        greet = Intent.objects.get(project=loaded.project, name="Greet")
        Utterance.objects.filter(pk=loaded.pk).update(intent=greet)
        return loaded

    monkeypatch.setattr(fine_grained.selectors, "utterance_get", load_then_race)
    response = api("PATCH", url, {"dataset": "Test"})
    assert response.status_code == 200, response.content
    assert response.json()["intent"] == "Greet"
    assert response.json()["dataset"] == "Test"
    stored = Utterance.objects.get(pk=response.json()["id"])
    assert (stored.intent.name, stored.dataset) == ("Greet", "Test")


def test_utterance_etag_and_if_match(api: Api, clu: str) -> None:
    url, created_tag = _utterance(api)
    got = api("GET", url)
    assert got["ETag"] == created_tag
    patched = api("PATCH", url, {"dataset": "Test"}, headers={"If-Match": created_tag})
    assert patched.status_code == 200
    assert patched["ETag"] not in (None, created_tag)
    # The first writer moved the version: a second one holding the old tag is
    # refused with 412 in Azure's shape, and nothing changes.
    before = snapshot()
    stale = api("PATCH", url, {"intent": "Greet"}, headers={"If-Match": created_tag})
    assert stale.status_code == 412
    error = stale.json()["error"]
    assert error["code"] == "PreconditionFailed"
    assert "changed by someone else" in error["message"]
    assert api("DELETE", url, headers={"If-Match": created_tag}).status_code == 412
    assert snapshot() == before
    # A weak tag never matches (strong comparison); "*" and a list holding the
    # current tag do.
    weak = api(
        "PATCH", url, {"intent": "Greet"}, headers={"If-Match": "W/" + patched["ETag"]}
    )
    assert weak.status_code == 412
    listed = f'"nope", {patched["ETag"]}'
    ok = api("PATCH", url, {"intent": "Greet"}, headers={"If-Match": listed})
    assert ok.status_code == 200
    assert api("DELETE", url, headers={"If-Match": "*"}).status_code == 204


def test_utterance_etag_moves_with_spans_and_with_names_it_shows(
    api: Api, clu: str
) -> None:
    url, tag = _utterance(api)
    tags = {tag}
    spans = api("PATCH", url, {"entities": []})
    tags.add(spans["ETag"])
    api("PATCH", url, {"entities": [{"category": "City", "offset": 7, "length": 5}]})
    tags.add(api("GET", url)["ETag"])
    api("PATCH", f"{V1}/clu/intents/BookFlight", {"category": "Book"})
    tags.add(api("GET", url)["ETag"])
    api("PATCH", f"{V1}/clu/entities/City", {"category": "Town"})
    tags.add(api("GET", url)["ETag"])
    api("DELETE", f"{V1}/clu/entities/Town")
    tags.add(api("GET", url)["ETag"])
    assert len(tags) == 6


def test_intent_and_entity_etags_and_if_match(api: Api, clu: str) -> None:
    for url, change in (
        (f"{V1}/clu/intents/Greet", {"category": "Hello"}),
        (f"{V1}/clu/entities/City", {"compositionSetting": "returnLongestOverlap"}),
    ):
        tag = api("GET", url)["ETag"]
        assert tag
        moved = api("PATCH", url, change, headers={"If-Match": tag})
        assert moved.status_code == 200, moved.content
        assert moved["ETag"] != tag
        new_url = url.replace("Greet", "Hello")
        stale = api("PATCH", new_url, {"category": "X1"}, headers={"If-Match": tag})
        assert stale.status_code == 412
        assert stale.json()["error"]["code"] == "PreconditionFailed"
        assert api("DELETE", new_url, headers={"If-Match": tag}).status_code == 412
        assert api("GET", new_url).status_code == 200


def _kb_with_a_qna(api: Api) -> str:
    api.client.patch(
        "/language/authoring/query-knowledgebases/projects/kb?api-version=2023-04-01",
        json.dumps({"language": "en"}),
        content_type="application/json",
        headers={"Ocp-Apim-Subscription-Key": api.key},
    )
    created = api("POST", f"{V1}/kb/qnas", {"id": 4, "answer": "a", "questions": ["q"]})
    assert created.status_code == 201, created.content
    assert created.json()["id"] == 4
    return f"{V1}/kb/qnas/4"


def test_a_qna_patch_keeps_a_concurrent_change_of_another_key(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from projects.apis import fine_grained

    url = _kb_with_a_qna(api)
    real_get = fine_grained.selectors.kb_qna_get

    def load_then_race(**kwargs: Any) -> QnaPair:
        loaded = real_get(**kwargs)
        QnaPair.objects.filter(pk=loaded.pk).update(questions=["q", "q2"])
        return loaded

    monkeypatch.setattr(fine_grained.selectors, "kb_qna_get", load_then_race)
    patched = api("PATCH", url, {"answer": "b"})
    assert patched.status_code == 200, patched.content
    assert (patched.json()["answer"], patched.json()["questions"]) == ("b", ["q", "q2"])


def test_qna_etag_and_if_match(api: Api) -> None:
    url = _kb_with_a_qna(api)
    tag = api("GET", url)["ETag"]
    assert tag
    moved = api("PATCH", url, {"answer": "b"}, headers={"If-Match": tag})
    assert moved.status_code == 200
    assert moved["ETag"] != tag
    stale = api("PATCH", url, {"answer": "c"}, headers={"If-Match": tag})
    assert stale.status_code == 412
    assert stale.json()["error"]["code"] == "PreconditionFailed"
    assert api("DELETE", url, headers={"If-Match": tag}).status_code == 412
    assert QnaPair.objects.get(qna_id=4).answer == "b"
    assert api("DELETE", url, headers={"If-Match": moved["ETag"]}).status_code == 204


@pytest.mark.django_db(transaction=True)
def test_parallel_patches_of_different_fields_both_land_on_postgresql() -> None:
    """The reported race, with real threads: in each of 20 rounds two requests
    released by a barrier PATCH one utterance, one its intent and one its dataset;
    both changes must be stored (PostgreSQL: SQLite serializes whole transactions)."""
    import threading

    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL row locks (run with DATABASE_URL=postgres://...)")
    api = Api(Client(), apikey_create(name="race")[1])
    make_project(api)
    for name in ("BookFlight", "Greet"):
        api("POST", f"{V1}/clu/intents", {"category": name})
    created = api("POST", f"{V1}/clu/utterances", {"text": "hi", "intent": "Greet"})
    url = f"{V1}/clu/utterances/{created.json()['id']}"
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def patch(body: dict[str, Any]) -> None:
        client = Api(Client(), api.key)
        try:
            barrier.wait(timeout=10)
            statuses.append(client("PATCH", url, body).status_code)
        finally:
            connection.close()

    for round_ in range(20):
        intent = ("BookFlight", "Greet")[round_ % 2]
        dataset = ("Test", "Train")[round_ % 2]
        threads = [
            threading.Thread(target=patch, args=({"intent": intent},)),
            threading.Thread(target=patch, args=({"dataset": dataset},)),
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
        stored = api("GET", url).json()
        assert (stored["intent"], stored["dataset"]) == (intent, dataset), round_
    assert set(statuses) == {200}
