""" "Add to data" from the playground: the query just tried joins the data with the
corrected intent (the prediction by default), in the project's review dataset, or
relabels the utterance of the same text; analysts only; audited with its source."""

from __future__ import annotations

import html
from typing import Any

import pytest
from django.test import Client

from projects.models import Intent, Project, Utterance
from studio.models import AuditEvent
from tests.factories import UtteranceFactory
from tests.ui.conftest import HTMX, UiProjects
from tests.ui.test_playground import ask, deployed  # noqa: F401 - the fixture

pytestmark = pytest.mark.django_db
ADD = "/projects/conv/playground/add"


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
