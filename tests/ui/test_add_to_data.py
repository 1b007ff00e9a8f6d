""" "Add to data" from the playground: the query just tried joins the data with the
corrected intent (the prediction by default), in the project's review dataset, or
relabels the utterance of the same text; analysts only; audited with its source."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.db.models import F
from django.test import Client

from bench.labeling import SeededEvaluation, seed_evaluation
from projects.models import Intent, Project, Utterance
from studio.models import AuditEvent
from tests.factories import UtteranceFactory
from tests.ui.conftest import HTMX, UiProjects, UiUsers
from tests.ui.test_playground import ask, deployed  # noqa: F401 - the fixture
from training.models import EvaluationResult

pytestmark = pytest.mark.django_db
ADD = "/projects/conv/playground/add"
MEMBERS = (("ana-analyst", "analyst"), ("vic-viewer", "viewer"))


@pytest.fixture
def intents(deployed: UiProjects) -> UiProjects:  # noqa: F811
    for name in ("Travel", "Weather"):
        Intent.objects.get_or_create(project=deployed.conv, name=name)
    return deployed


def test_the_result_offers_add_to_data_with_the_prediction_chosen(
    analyst_client: Client, intents: UiProjects
) -> None:
    page = ask(analyst_client, "conv", "book a flight to rome").content.decode()

    form = page.split('id="playground-add"')[1].split("</form>")[0]
    assert 'value="book a flight to rome"' in form
    assert '<option value="Travel" selected>' in form
    assert "Add to data" in form


def test_viewers_and_knowledge_bases_get_no_add_form(
    viewer_client: Client, admin_client_ui: Client, intents: UiProjects
) -> None:
    viewer = ask(viewer_client, "conv", "book a flight to rome").content.decode()
    kb = ask(admin_client_ui, "kb", "what are the opening hours").content.decode()

    assert 'id="playground-add"' not in viewer and 'id="playground-add"' not in kb
    refused = viewer_client.post(ADD, {"text": "x", "intent": "Travel"})
    assert refused.status_code == 403
    assert not Utterance.objects.filter(text="x").exists()


def test_adding_with_a_corrected_intent(
    analyst_client: Client, intents: UiProjects
) -> None:
    Project.objects.filter(name="conv").update(review_dataset="Test")

    response = analyst_client.post(
        ADD,
        {"text": "is it windy", "intent": "Weather", "deployment": "production"},
        **HTMX,
    )

    text = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert "Added “is it windy” as Weather to Test." in text
    added = Utterance.objects.get(project__name="conv", text="is it windy")
    assert (added.intent.name, added.dataset) == ("Weather", "Test")
    assert added.labeled_by is not None
    assert added.labeled_by.get_username() == "ana-analyst"
    event: Any = AuditEvent.objects.get(action="data.add")
    assert event.before == {
        "source": {"from": "playground", "deployment": "production"}
    }
    assert event.after["created"] is True


def test_the_same_text_is_relabeled_not_duplicated(
    analyst_client: Client, intents: UiProjects
) -> None:
    travel = intents.conv.intents.get(name="Travel")
    UtteranceFactory.create(project=intents.conv, intent=travel, text="is it windy")

    response = analyst_client.post(
        ADD, {"text": "is it windy", "intent": "Weather"}, **HTMX
    )

    assert "“is it windy” is in the data as Weather." in html.unescape(
        response.content.decode()
    )
    (row,) = Utterance.objects.filter(project__name="conv", text="is it windy")
    assert row.intent.name == "Weather"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"text": "hi", "intent": "Nope"}, "There is no intent 'Nope' in project"),
        ({"text": "   ", "intent": "Travel"}, "There is no text to add."),
        ({"text": "hi", "intent": ""}, "Choose an intent."),
    ],
)
def test_bad_input_is_refused_next_to_the_field(
    analyst_client: Client, intents: UiProjects, data: dict[str, str], message: str
) -> None:
    response = analyst_client.post(ADD, data, **HTMX)

    assert response.status_code == 422
    assert message in html.unescape(response.content.decode())
    assert 'aria-invalid="true"' in response.content.decode()
    assert not AuditEvent.objects.filter(action="data.add").exists()


def test_a_plain_post_redirects_back_to_the_playground(
    analyst_client: Client, intents: UiProjects
) -> None:
    response = analyst_client.post(ADD, {"text": "sunny?", "intent": "Weather"})

    assert response.status_code == 302
    assert response["Location"] == "/projects/conv/playground/"
    page = analyst_client.get(response["Location"]).content.decode()
    assert "Added “sunny?” as Weather to Train." in html.unescape(page)


# ---------------------------------------------------------------- evaluation


def first_error() -> EvaluationResult:
    result = (
        EvaluationResult.objects.filter(model__project__name="big", model__label="m1")
        .exclude(predicted_intent=F("expected_intent"))
        .order_by("position")
        .first()
    )
    assert result is not None and result.utterance_id is not None
    return result


@pytest.fixture
def evaluated(users: UiUsers) -> SeededEvaluation:
    return seed_evaluation(n_intents=5, n_utterances=200, name="big", members=MEMBERS)


def test_an_error_whose_utterance_was_deleted_can_be_added_back(
    analyst_client: Client, viewer_client: Client, evaluated: SeededEvaluation
) -> None:
    result = first_error()
    Utterance.objects.filter(pk=result.utterance_id or 0).delete()
    url = "/projects/big/models/m1/"

    page = analyst_client.get(url).content.decode()
    row = page.split(f'id="errors-result-{result.position}"')[1].split("</tr>")[0]
    assert "Add to data" in row
    assert f'<option value="{result.expected_intent}" selected>' in row
    viewer_page = viewer_client.get(url).content.decode()
    assert "Add to data" not in viewer_page
    data = {"position": result.position, "source": "errors", "intent": ""}
    refused = analyst_client.post(url + "add", data, **HTMX)
    assert (
        refused.status_code == 422 and "Choose an intent." in refused.content.decode()
    )
    forbidden = viewer_client.post(url + "add", {**data, "intent": "x"}, **HTMX)
    assert forbidden.status_code == 403

    response = analyst_client.post(
        url + "add",
        {**data, "intent": result.expected_intent, "text": "ignored"},
        **HTMX,
    )

    text = html.unescape(response.content.decode())
    assert response.status_code == 200
    assert text.lstrip().startswith(f'<tr id="errors-result-{result.position}"')
    assert f"as {result.expected_intent}" in text and "Retrain" in text
    added = Utterance.objects.get(project__name="big", text=result.text)
    assert added.intent.name == result.expected_intent
    assert not Utterance.objects.filter(text="ignored").exists()
    event: Any = AuditEvent.objects.get(action="data.add")
    assert event.before["source"] == {
        "from": "evaluation",
        "model": "m1",
        "position": result.position,
    }
