"""Schema screen: intents with counts per dataset, add / rename / delete; entities and
their components (list sublists and synonyms, regex, prebuilts, settings). Pages and
htmx fragments, roles, bad input on every form, and plain form posts."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from django.test import Client

from projects import validators as v
from projects.models import Entity, Intent
from tests.factories import EntityFactory, EntitySpanFactory, UtteranceFactory
from tests.ui.conftest import HTMX, UiProjects

pytestmark = pytest.mark.django_db


def url(project: str, suffix: str = "") -> str:
    return f"/projects/{project}/schema/{suffix}"


@pytest.fixture
def intent(ui_projects: UiProjects) -> Intent:
    conv = ui_projects.conv
    intent = Intent.objects.create(project=conv, name="BookFlight")
    for dataset in ("Train", "Train", "Test", None):
        UtteranceFactory.create(project=conv, intent=intent, dataset=dataset)
    return intent


@pytest.fixture
def entity(ui_projects: UiProjects) -> Entity:
    return EntityFactory.create(project=ui_projects.conv, name="City")


# ---------------------------------------------------------------- access


def test_page_lists_intents_with_counts_per_dataset(
    viewer_client: Client, intent: Intent, entity: Entity
) -> None:
    response = viewer_client.get(url("conv"))
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="intent-table"' in html
    row = html[html.index(f'id="intent-{intent.pk}"') :]
    row = row[: row.index("</tr>")]
    cells = [c.split(">")[-1] for c in row.split("</td>")[:-1]]
    assert cells[1:] == ["2", "1", "1", "4"]
    assert "City" in html
    # A viewer sees no forms.
    assert 'id="intent-add"' not in html and "Rename" not in html


def test_orchestration_project_has_intents_but_no_entities(
    viewer_client: Client, ui_projects: UiProjects
) -> None:
    html = viewer_client.get(url("orch")).content.decode()
    assert 'id="intents"' in html and 'id="entities"' not in html


def test_knowledge_base_has_no_schema(viewer_client: Client) -> None:
    assert viewer_client.get(url("kb")).status_code == 404


@pytest.mark.parametrize("role", ["outsider"])
def test_non_member_gets_404_everywhere(
    client_for: Callable[[str], Client], role: str, intent: Intent, entity: Entity
) -> None:
    client = client_for(role)
    assert client.get(url("conv")).status_code == 404
    assert client.get(url("conv", f"entities/{entity.pk}/")).status_code == 404
    assert client.post(url("conv", "intents/add"), {"category": "X"}).status_code == 404
    assert client.post(url("conv", f"intents/{intent.pk}/delete")).status_code == 404
    assert Intent.objects.filter(pk=intent.pk).exists()


def test_anonymous_is_sent_to_sign_in(client: Client, ui_projects: UiProjects) -> None:
    response = client.get(url("conv"))
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_viewer_cannot_change_anything(
    viewer_client: Client, intent: Intent, entity: Entity
) -> None:
    posts = [
        ("intents/add", {"category": "New"}),
        (f"intents/{intent.pk}/rename", {"category": "Renamed"}),
        (f"intents/{intent.pk}/delete", {}),
        ("entities/add", {"category": "Thing"}),
        (
            f"entities/{entity.pk}/regex/add",
            {"regexKey": "k", "language": "en-us", "regexPattern": "a+"},
        ),
        (f"entities/{entity.pk}/delete", {}),
    ]
    for suffix, data in posts:
        assert viewer_client.post(url("conv", suffix), data).status_code == 403
    assert (
        viewer_client.get(url("conv", f"intents/{intent.pk}/rename")).status_code == 403
    )
    assert Intent.objects.filter(name="BookFlight").exists()
    assert not Intent.objects.filter(name="New").exists()
    assert Entity.objects.get(pk=entity.pk).regex_expressions == []


def test_intent_of_another_project_is_not_found(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    other = Intent.objects.create(project=ui_projects.orch, name="Elsewhere")
    response = admin_client_ui.post(
        url("conv", f"intents/{other.pk}/rename"), {"category": "Hijacked"}
    )
    assert response.status_code == 404
    other.refresh_from_db()
    assert other.name == "Elsewhere"


# ---------------------------------------------------------------- intents


def test_add_intent_with_htmx_returns_the_table(
    analyst_client: Client, ui_projects: UiProjects
) -> None:
    response = analyst_client.post(
        url("conv", "intents/add"), {"category": "Greet"}, **HTMX
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith('<section id="intents"')
    # The cursor goes back to the name field, ready for the next intent.
    assert 'data-shortcut="n" autofocus' in html
    assert "Greet" in html and "<html" not in html
    assert ui_projects.conv.intents.filter(name="Greet").exists()


def test_add_intent_plain_post_redirects(
    analyst_client: Client, ui_projects: UiProjects
) -> None:
    response = analyst_client.post(url("conv", "intents/add"), {"category": "Greet"})
    assert response.status_code == 302
    assert response["Location"] == url("conv")
    page = analyst_client.get(response["Location"]).content.decode()
    assert "Intent &#x27;Greet&#x27; added." in page


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "non-empty"),
        ("What?", "forbidden character"),
        ("a/b", "forbidden character"),
        ("x" * 51, "longer than 50"),
        ("None", "already exists"),
    ],
)
def test_add_intent_bad_input_shows_the_error_next_to_the_field(
    analyst_client: Client, ui_projects: UiProjects, name: str, message: str
) -> None:
    before = ui_projects.conv.intents.count()
    for extra in ({}, HTMX):
        response = analyst_client.post(
            url("conv", "intents/add"), {"category": name}, **extra
        )
        assert response.status_code == 422
        html = response.content.decode()
        assert 'id="intent-add-name-error"' in html and message in html
        assert 'aria-invalid="true"' in html
        # What was typed is still there.
        assert f'value="{name}"' in html
    assert ui_projects.conv.intents.count() == before


def test_intent_limit_is_enforced(
    analyst_client: Client, ui_projects: UiProjects, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(v, "MAX_INTENTS_PER_PROJECT", 1)
    response = analyst_client.post(
        url("conv", "intents/add"), {"category": "Two"}, **HTMX
    )
    assert response.status_code == 422
    assert "the limit" in response.content.decode()


def test_rename_inline_with_htmx(analyst_client: Client, intent: Intent) -> None:
    form = analyst_client.get(url("conv", f"intents/{intent.pk}/rename"), **HTMX)
    assert form.status_code == 200
    assert form.content.decode().lstrip().startswith(f'<tr id="intent-{intent.pk}"')
    assert 'value="BookFlight"' in form.content.decode()
    response = analyst_client.post(
        url("conv", f"intents/{intent.pk}/rename"), {"category": "BookTrip"}, **HTMX
    )
    assert response.status_code == 200
    assert "BookTrip" in response.content.decode()
    intent.refresh_from_db()
    assert intent.name == "BookTrip"
    assert intent.utterances.count() == 4
    cancel = analyst_client.get(url("conv", f"intents/{intent.pk}/"), **HTMX)
    assert (
        "BookTrip" in cancel.content.decode() and "<form" not in cancel.content.decode()
    )


def test_rename_plain_page_and_post(analyst_client: Client, intent: Intent) -> None:
    page = analyst_client.get(url("conv", f"intents/{intent.pk}/rename"))
    assert page.status_code == 200 and "<html" in page.content.decode()
    response = analyst_client.post(
        url("conv", f"intents/{intent.pk}/rename"), {"category": "BookTrip"}
    )
    assert response.status_code == 302
    intent.refresh_from_db()
    assert intent.name == "BookTrip"


@pytest.mark.parametrize("name", ["", "None", "bad#name", "y" * 60])
def test_rename_bad_input_keeps_the_typed_name(
    analyst_client: Client, intent: Intent, name: str
) -> None:
    response = analyst_client.post(
        url("conv", f"intents/{intent.pk}/rename"), {"category": name}, **HTMX
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert f'<ul class="errorlist" id="intent-{intent.pk}-name-error">' in html
    assert f'aria-describedby="intent-{intent.pk}-name-error"' in html
    assert f'value="{name}"' in html
    intent.refresh_from_db()
    assert intent.name == "BookFlight"


def test_builtin_none_intent_cannot_be_renamed_or_deleted(
    analyst_client: Client, ui_projects: UiProjects
) -> None:
    none = ui_projects.conv.intents.get(name="None")
    response = analyst_client.post(
        url("conv", f"intents/{none.pk}/rename"), {"category": "Other"}, **HTMX
    )
    assert response.status_code == 422
    response = analyst_client.post(url("conv", f"intents/{none.pk}/delete"), **HTMX)
    assert response.status_code == 422
    assert "cannot be deleted" in response.content.decode()
    assert ui_projects.conv.intents.filter(name="None").exists()


def test_delete_confirmation_says_how_many_utterances_go(
    analyst_client: Client, intent: Intent
) -> None:
    for extra in ({}, HTMX):
        response = analyst_client.get(
            url("conv", f"intents/{intent.pk}/delete"), **extra
        )
        assert response.status_code == 200
        html = response.content.decode()
        assert "4 utterances" in html and "2 Train, 1 Test, 1 unassigned" in html
    assert Intent.objects.filter(pk=intent.pk).exists()


def test_delete_with_htmx_and_plain(
    analyst_client: Client, intent: Intent, ui_projects: UiProjects
) -> None:
    response = analyst_client.post(url("conv", f"intents/{intent.pk}/delete"), **HTMX)
    assert response.status_code == 200
    assert "BookFlight" not in response.content.decode()
    assert not ui_projects.conv.utterances.exists()
    other = Intent.objects.create(project=ui_projects.conv, name="Other")
    response = analyst_client.post(url("conv", f"intents/{other.pk}/delete"))
    assert response.status_code == 302
    assert not Intent.objects.filter(pk=other.pk).exists()


def test_get_is_not_allowed_to_add(
    analyst_client: Client, ui_projects: UiProjects
) -> None:
    assert analyst_client.get(url("conv", "intents/add")).status_code == 405


# ---------------------------------------------------------------- entities


def test_add_entity_then_its_page(
    analyst_client: Client, ui_projects: UiProjects
) -> None:
    response = analyst_client.post(url("conv", "entities/add"), {"category": "Airport"})
    entity = ui_projects.conv.entities.get(name="Airport")
    assert response.status_code == 302
    assert response["Location"] == url("conv", f"entities/{entity.pk}/")
    page = analyst_client.get(response["Location"])
    assert page.status_code == 200
    html = page.content.decode()
    for section in (
        "entity-settings",
        "entity-list",
        "entity-regex",
        "entity-prebuilts",
    ):
        assert f'id="{section}"' in html


@pytest.mark.parametrize("name", ["", "Air:port", "z" * 51])
def test_add_entity_bad_input(
    analyst_client: Client, ui_projects: UiProjects, name: str
) -> None:
    response = analyst_client.post(
        url("conv", "entities/add"), {"category": name}, **HTMX
    )
    assert response.status_code == 422
    assert 'id="entity-add-name-error"' in response.content.decode()
    assert not ui_projects.conv.entities.exists()


def test_duplicate_entity_is_refused(analyst_client: Client, entity: Entity) -> None:
    response = analyst_client.post(
        url("conv", "entities/add"), {"category": "City"}, **HTMX
    )
    assert response.status_code == 422
    assert "already exists" in response.content.decode()


def test_entities_are_conversation_only(
    analyst_client: Client, ui_projects: UiProjects
) -> None:
    response = analyst_client.post(url("orch", "entities/add"), {"category": "City"})
    assert response.status_code == 404


def test_learned_component_follows_labels(
    viewer_client: Client, entity: Entity, intent: Intent
) -> None:
    html = viewer_client.get(url("conv", f"entities/{entity.pk}/")).content.decode()
    assert "no utterance labels this entity yet" in html
    utterance = intent.utterances.first()
    assert utterance is not None
    EntitySpanFactory.create(utterance=utterance, entity=entity)
    html = viewer_client.get(url("conv", f"entities/{entity.pk}/")).content.decode()
    assert "trained on 1 labeled span" in html


def test_rename_entity(analyst_client: Client, entity: Entity) -> None:
    base = url("conv", f"entities/{entity.pk}/")
    response = analyst_client.post(base + "rename", {"category": "Town"}, **HTMX)
    assert response.status_code == 200
    assert 'id="entity-head"' in response.content.decode()
    entity.refresh_from_db()
    assert entity.name == "Town"
    response = analyst_client.post(base + "rename", {"category": "T?wn"}, **HTMX)
    assert response.status_code == 422
    assert 'id="entity-name-error"' in response.content.decode()


def test_settings_composition_and_required_components(
    analyst_client: Client, entity: Entity
) -> None:
    base = url("conv", f"entities/{entity.pk}/settings")
    response = analyst_client.post(
        base,
        {"compositionSetting": "requireExactOverlap", "requiredComponents": ["list"]},
        **HTMX,
    )
    assert response.status_code == 200
    entity.refresh_from_db()
    assert entity.composition_setting == "requireExactOverlap"
    assert entity.required_components == ["list"]
    response = analyst_client.post(
        base,
        {"compositionSetting": "sometimes", "requiredComponents": ["magic"]},
        **HTMX,
    )
    assert response.status_code == 422
    html = response.content.decode()
    assert "entity-composition-error" in html and "entity-required-error" in html
    entity.refresh_from_db()
    assert entity.composition_setting == "requireExactOverlap"


def test_list_sublists_and_synonyms(analyst_client: Client, entity: Entity) -> None:
    base = url("conv", f"entities/{entity.pk}/list/")
    response = analyst_client.post(
        base + "add",
        {
            "listKey": "Paris",
            "language": "en-us",
            "synonyms": "Paris\nCity of Light\n\n",
        },
        **HTMX,
    )
    assert response.status_code == 200
    assert response.content.decode().lstrip().startswith('<section id="entity-list"')
    entity.refresh_from_db()
    assert entity.list_sublists == [
        {
            "listKey": "Paris",
            "synonyms": [{"language": "en-us", "values": ["Paris", "City of Light"]}],
        }
    ]
    analyst_client.post(
        base + "synonyms/add",
        {"listKey": "Paris", "language": "fr", "synonyms": "Ville Lumière"},
        **HTMX,
    )
    analyst_client.post(
        base + "synonyms/add",
        {"listKey": "Paris", "language": "en-us", "synonyms": "Paris\nParee"},
        **HTMX,
    )
    entity.refresh_from_db()
    assert entity.list_sublists[0]["synonyms"] == [
        {"language": "en-us", "values": ["Paris", "City of Light", "Paree"]},
        {"language": "fr", "values": ["Ville Lumière"]},
    ]
    analyst_client.post(
        base + "synonyms/remove",
        {"listKey": "Paris", "language": "fr", "value": "Ville Lumière"},
        **HTMX,
    )
    entity.refresh_from_db()
    assert [g["language"] for g in entity.list_sublists[0]["synonyms"]] == ["en-us"]
    response = analyst_client.post(base + "remove", {"listKey": "Paris"})
    assert response.status_code == 302
    entity.refresh_from_db()
    assert entity.list_sublists == []


def test_list_bad_input(analyst_client: Client, entity: Entity) -> None:
    base = url("conv", f"entities/{entity.pk}/list/")
    analyst_client.post(
        base + "add", {"listKey": "A", "language": "en", "synonyms": "a"}
    )
    cases = [
        (base + "add", {"listKey": "A", "language": "en", "synonyms": "x"}, "repeated"),
        (base + "add", {"listKey": "", "language": "en", "synonyms": "x"}, "listKey"),
        (
            base + "add",
            {"listKey": "B", "language": "not a tag", "synonyms": "x"},
            "BCP-47",
        ),
        (
            base + "synonyms/add",
            {"listKey": "A", "language": "en", "synonyms": " "},
            "at least one synonym",
        ),
        (
            base + "synonyms/add",
            {"listKey": "Nope", "language": "en", "synonyms": "x"},
            "no list key",
        ),
        (base + "remove", {"listKey": "Nope"}, "no list key"),
    ]
    for path, data, message in cases:
        response = analyst_client.post(path, data, **HTMX)
        assert response.status_code == 422, (path, data)
        assert message in response.content.decode(), (path, data)
    entity.refresh_from_db()
    assert [s["listKey"] for s in entity.list_sublists] == ["A"]


def test_regex_add_remove_and_compile_errors_next_to_the_pattern(
    analyst_client: Client, entity: Entity
) -> None:
    base = url("conv", f"entities/{entity.pk}/regex/")
    good = {"regexKey": "code", "language": "en-us", "regexPattern": r"[A-Z]{3}"}
    assert analyst_client.post(base + "add", good, **HTMX).status_code == 200
    entity.refresh_from_db()
    assert entity.regex_expressions == [good]
    bad = {"regexKey": "broken", "language": "en-us", "regexPattern": "([a-z"}
    response = analyst_client.post(base + "add", bad, **HTMX)
    assert response.status_code == 422
    html = response.content.decode()
    assert 'id="regex-pattern-error"' in html and "does not compile" in html
    assert 'value="([a-z"' in html
    response = analyst_client.post(base + "add", good, **HTMX)
    assert (
        response.status_code == 422
        and 'id="regex-key-error"' in response.content.decode()
    )
    response = analyst_client.post(base + "remove", {"regexKey": "code"})
    assert response.status_code == 302
    entity.refresh_from_db()
    assert entity.regex_expressions == []
    assert (
        analyst_client.post(base + "remove", {"regexKey": "code"}, **HTMX).status_code
        == 422
    )


def test_regex_project_limit(
    analyst_client: Client, entity: Entity, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(v, "MAX_REGEX_PER_PROJECT", 0)
    base = url("conv", f"entities/{entity.pk}/regex/")
    data = {"regexKey": "k", "language": "en-us", "regexPattern": "a"}
    response = analyst_client.post(base + "add", data, **HTMX)
    assert response.status_code == 422 and "the limit is 0" in response.content.decode()


def test_prebuilts_from_the_catalog(analyst_client: Client, entity: Entity) -> None:
    base = url("conv", f"entities/{entity.pk}/")
    page = analyst_client.get(base).content.decode()
    assert 'value="Quantity.Number"' in page
    response = analyst_client.post(
        base + "prebuilts/add", {"category": "Quantity.Number"}, **HTMX
    )
    assert response.status_code == 200
    # Chosen ones leave the picker.
    assert (
        'value="Quantity.Number"' not in response.content.decode().split("<select")[1]
    )
    entity.refresh_from_db()
    assert entity.prebuilts == ["Quantity.Number"]
    for bad in ("Quantity.Number", "Mood", ""):
        response = analyst_client.post(
            base + "prebuilts/add", {"category": bad}, **HTMX
        )
        assert response.status_code == 422, bad
        assert 'id="prebuilt-error"' in response.content.decode()
    analyst_client.post(base + "prebuilts/remove", {"category": "Quantity.Number"})
    entity.refresh_from_db()
    assert entity.prebuilts == []


def test_entity_page_offers_azures_breadth_of_prebuilts(
    analyst_client: Client, entity: Entity
) -> None:
    """Regression: the picker offered 7 prebuilts; Azure has Age, Currency,
    Temperature, Speed, Weight, IP, Boolean... too."""
    base = url("conv", f"entities/{entity.pk}/")
    page = analyst_client.get(base).content.decode()
    picker = page.split('id="prebuilt-category"')[1].split("</select>")[0]
    for category in (
        "Quantity.Age",
        "Choice.Boolean",
        "Quantity.Currency",
        "Quantity.Dimension",
        "IP",
        "Quantity.Speed",
        "Quantity.Temperature",
        "Quantity.Weight",
    ):
        assert f'value="{category}"' in picker, category
    response = analyst_client.post(
        base + "prebuilts/add", {"category": "Quantity.Temperature"}, **HTMX
    )
    assert response.status_code == 200
    entity.refresh_from_db()
    assert entity.prebuilts == ["Quantity.Temperature"]


def test_delete_entity_confirms_then_deletes(
    analyst_client: Client, entity: Entity, intent: Intent
) -> None:
    utterance = intent.utterances.first()
    assert utterance is not None
    EntitySpanFactory.create(utterance=utterance, entity=entity)
    base = url("conv", f"entities/{entity.pk}/delete")
    page = analyst_client.get(base)
    assert "1 label" in page.content.decode()
    response = analyst_client.post(base)
    assert response.status_code == 302
    assert not Entity.objects.filter(pk=entity.pk).exists()
    assert utterance.spans.count() == 0
