"""The Data screen at the size of real projects (issue #12): CLINC150 as one project,
150 intents and 15,000 utterances. Rows show their intent as text (the label
palette's intent list comes once per page, as a JSON data block, not as a select in
every row), so a 50-row page stays small; the search matches words in any order."""

from __future__ import annotations

import json
import re

import pytest
from django.test import Client

from projects.models import Project
from tests.factories import scale_intent_names, scale_project
from tests.ui.conftest import HTMX, UiUsers

TABLE = {**HTMX, "HTTP_HX_TARGET": "utterance-table"}
PAGE_BUDGET_BYTES = 150_000


@pytest.fixture
def clinc(users: UiUsers) -> Project:
    from projects.models import ProjectMembership

    project = scale_project()
    ProjectMembership.objects.create(
        project=project, user=users.analyst, role="analyst"
    )
    return project


def palette_data(html: str) -> dict[str, object]:
    found = re.findall(
        r'<script id="intent-palette-data" type="application/json">(.*?)</script>',
        html,
        re.S,
    )
    assert len(found) == 1, "the intent list is delivered once per page"
    data: dict[str, object] = json.loads(found[0])
    return data


def test_a_50_row_page_at_150_intents_is_at_most_150_kb(
    analyst_client: Client, clinc: Project
) -> None:
    response = analyst_client.get(f"/projects/{clinc.name}/data/?size=50")
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="utt-row') == 50
    assert len(response.content) <= PAGE_BUDGET_BYTES, len(response.content)
    # No row carries its own list of intents: only the filter bar and the "add
    # utterances" form list them.
    assert html.count(">balance_transfer</option>") == 2


def test_a_50_row_page_of_pre_labels_at_150_intents_is_at_most_150_kb(
    analyst_client: Client, clinc: Project
) -> None:
    """Pre-label on: the unlabeled page also carries the suggestions' data block
    and echoes its longer query in each row's form."""
    from projects.models import Intent, Utterance
    from projects.selectors import labeling as sl
    from tests.training.model_helpers import deploy_trained_model, make_trained_model

    names = scale_intent_names()
    # Two examples of every intent: enough for a model that suggests them all.
    texts = [f"please {n.replace('_', ' ')} {w}" for n in names for w in ("now", "x")]
    deploy_trained_model(
        make_trained_model(clinc, "m1", texts, [n for n in names for _ in "ab"])
    )
    none = Intent.objects.get(project=clinc, name=Intent.BUILTIN_NONE)
    first = clinc.utterances.order_by("pk").values_list("pk", flat=True)[:60]
    Utterance.objects.filter(pk__in=list(first)).update(intent=none)
    sl.predictors_clear()
    try:
        response = analyst_client.get(
            f"/projects/{clinc.name}/data/",
            {"unlabeled": "1", "prelabel": "1", "size": "50"},
        )
    finally:
        sl.predictors_clear()
    assert response.status_code == 200
    html = response.content.decode()
    assert html.count('class="utt-row') == 50
    found = re.search(
        r'<script id="prelabel-data" type="application/json">(.*?)</script>', html
    )
    assert found and len(json.loads(found.group(1))) == 50
    assert len(response.content) <= PAGE_BUDGET_BYTES, len(response.content)


def test_rows_show_their_intent_as_text_and_the_page_lists_intents_once(
    analyst_client: Client, clinc: Project
) -> None:
    html = analyst_client.get(f"/projects/{clinc.name}/data/?size=50").content.decode()
    assert 'class="row-intent"' not in html
    data = palette_data(html)
    assert data["intents"] == ["None", *scale_intent_names()]
    # Keys 1-9 default to None and the first eight intents.
    assert data["keys"] == {
        str(n + 1): name for n, name in enumerate(data["intents"][:9])
    }
    first = clinc.utterances.order_by("pk").first()
    assert first is not None
    row = html[html.index(f'<tr id="utterance-{first.pk}"') :]
    row = row[: row.index("</tr>")]
    assert f'data-intent="{first.intent.name}"' in row
    assert "<select" not in row.split('class="utt-intent"')[1].split("</td>")[0]


def test_the_table_fragment_carries_no_intent_list(
    analyst_client: Client, clinc: Project
) -> None:
    response = analyst_client.get(f"/projects/{clinc.name}/data/?size=200", **TABLE)
    html = response.content.decode()
    assert html.count('class="utt-row') == 200
    # No intent list at all: the bulk assignment uses the palette too.
    assert "balance_transfer</option>" not in html
    assert html.count("<option") <= 200 * 3 + 4  # each row's dataset select


def test_search_matches_all_words_in_any_order(
    analyst_client: Client, clinc: Project
) -> None:
    def found(q: str) -> list[str]:
        response = analyst_client.get(
            f"/projects/{clinc.name}/data/", {"q": q, "size": "200"}, **TABLE
        )
        html = response.content.decode()
        return re.findall(r'<div class="utt-text">(.*?)</div>', html)

    # "transfer balance" finds "please balance transfer number 0" (words swapped).
    texts = found("number transfer   balance")
    assert "please balance transfer number 0" in texts
    assert texts and all(
        {"number", "transfer", "balance"} <= set(t.split()) for t in texts
    )
    # Every word must occur: a word no utterance has matches nothing.
    assert found("please zebra") == []


def test_an_intent_pinned_to_a_key_is_what_the_key_assigns(
    analyst_client: Client, clinc: Project
) -> None:
    keys_url = f"/projects/{clinc.name}/data/keys/"
    response = analyst_client.post(
        keys_url, {"key": "3", "intent": "weather_alarm"}, **HTMX
    )
    assert response.status_code == 200
    data = palette_data(response.content.decode())
    assert data["keys"]["3"] == "weather_alarm"  # type: ignore[index]
    # Keys not pinned keep their default intent.
    assert data["keys"]["1"] == "None"  # type: ignore[index]
    # Pinning it to another key moves it; the page lists the pin.
    analyst_client.post(keys_url, {"key": "5", "intent": "weather_alarm"}, **HTMX)
    html = analyst_client.get(f"/projects/{clinc.name}/data/").content.decode()
    keys = palette_data(html)["keys"]
    assert keys["5"] == "weather_alarm"  # type: ignore[index]
    assert keys["3"] != "weather_alarm"  # type: ignore[index]
    assert clinc.intents.get(name="weather_alarm").label_key == 5
    # Unpinning gives the key its default back.
    analyst_client.post(keys_url, {"key": "5", "intent": ""}, **HTMX)
    assert not clinc.intents.filter(label_key__isnull=False).exists()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"key": "0", "intent": "weather_alarm"}, "one of 1 to 9"),
        ({"key": "x", "intent": "weather_alarm"}, "one of 1 to 9"),
        ({"key": "2", "intent": "no_such_intent"}, "does not exist"),
    ],
)
def test_a_bad_pin_is_refused_and_changes_nothing(
    analyst_client: Client, clinc: Project, body: dict[str, str], message: str
) -> None:
    response = analyst_client.post(f"/projects/{clinc.name}/data/keys/", body, **HTMX)
    assert response.status_code == 422
    assert message in response.content.decode()
    assert not clinc.intents.filter(label_key__isnull=False).exists()


def test_a_viewer_cannot_pin_keys(
    viewer_client: Client, users: UiUsers, clinc: Project
) -> None:
    from projects.models import ProjectMembership

    ProjectMembership.objects.create(project=clinc, user=users.viewer, role="viewer")
    response = viewer_client.post(
        f"/projects/{clinc.name}/data/keys/", {"key": "2", "intent": "None"}, **HTMX
    )
    assert response.status_code in (403, 404)
    assert not clinc.intents.filter(label_key__isnull=False).exists()
