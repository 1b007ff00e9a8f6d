"""The deploy gate in the studio: the settings section (threshold, pin), the Data
screen's golden toggle, and the deployments screen's comparison before a deploy or
swap is confirmed (blocked: an admin's reason, or nothing)."""

from __future__ import annotations

from collections.abc import Callable
from html import unescape
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client

from jobs.models import Job
from projects.models import Intent, Project, Utterance
from projects.services.gate import evaluation_set_pin, project_gate_update
from studio.models import AuditEvent
from tests.training.model_helpers import make_trained_model
from tests.training.test_gate import BAD, GOOD, TEXTS
from tests.ui.conftest import HTMX, UiProjects
from tests.ui.training_helpers import run_jobs
from training import deploy_jobs
from training.models import Deployment

pytestmark = pytest.mark.django_db

SETTINGS = "/projects/conv/settings/"
DEPLOYMENTS = "/projects/conv/deployments/"


@pytest.fixture
def project(
    ui_projects: UiProjects, django_capture_on_commit_callbacks: Callable[..., Any]
) -> Project:
    project = ui_projects.conv
    intents = {
        name: Intent.objects.create(project=project, name=name)
        for name in ("Travel", "Weather")
    }
    for text, label in zip(TEXTS, GOOD, strict=True):
        Utterance.objects.create(
            project=project, text=text, intent=intents[label], dataset="Test"
        )
    return project


@pytest.fixture
def serving(
    project: Project, django_capture_on_commit_callbacks: Callable[..., Any]
) -> Project:
    """``good`` serves production; ``bad`` and ``good2`` are trained; pinned."""
    make_trained_model(project, "good", TEXTS, GOOD)
    make_trained_model(project, "good2", TEXTS, GOOD)
    make_trained_model(project, "bad", TEXTS, BAD)
    with django_capture_on_commit_callbacks(execute=True):
        deploy_jobs.deploy_start(
            project_name=project.name,
            deployment_name="production",
            body={"trainedModelLabel": "good"},
        )
    evaluation_set_pin(project=project)
    return project


def _serving(project: Project, name: str = "production") -> str:
    return Deployment.objects.get(project=project, name=name).model_label


# ---------------------------------------------------------------- settings


def test_settings_show_the_gate_and_admins_set_the_threshold(
    admin_client_ui: Client, project: Project
) -> None:
    page = admin_client_ui.get(SETTINGS).content.decode()
    assert 'id="settings-gate"' in page and "Not pinned yet" in page
    assert "Off: deploys are compared, never blocked" in page
    saved = admin_client_ui.post(SETTINGS + "gate", {"max_drop": "2.5"}, **HTMX)
    assert saved.status_code == 200
    html = saved.content.decode()
    assert html.lstrip().startswith('<section id="settings-gate"')
    assert "Deploys worse by more than 2.5 accuracy points are blocked." in html
    project.refresh_from_db()
    assert project.gate_max_drop == 2.5
    # Bad input: the reason next to the field, nothing changes.
    bad = admin_client_ui.post(SETTINGS + "gate", {"max_drop": "150"}, **HTMX)
    assert bad.status_code == 422
    assert 'aria-invalid="true"' in bad.content.decode()
    project.refresh_from_db()
    assert project.gate_max_drop == 2.5
    # Empty turns the block off (a plain post redirects).
    off = admin_client_ui.post(SETTINGS + "gate", {"max_drop": ""})
    assert off.status_code == 302
    project.refresh_from_db()
    assert project.gate_max_drop is None


def test_admins_name_the_guarded_deployments_errors_next_to_the_field(
    admin_client_ui: Client, project: Project
) -> None:
    page = admin_client_ui.get(SETTINGS).content.decode()
    assert 'name="gated_deployments"' in page and "All deployments" in page
    assert "The deployments the gate protects" in page
    saved = admin_client_ui.post(
        SETTINGS + "gate",
        {"max_drop": "1", "gated_deployments": "production, eu.prod"},
        **HTMX,
    )
    assert saved.status_code == 200, saved.content
    html = saved.content.decode()
    assert "The gate guards production, eu.prod only." in html
    assert "production, eu.prod only; deploys into the others are not compared" in html
    project.refresh_from_db()
    assert project.gate_deployments == ["production", "eu.prod"]
    event = AuditEvent.objects.filter(action="project.settings").latest("id")
    assert (event.after or {})["gateDeployments"] == ["production", "eu.prod"]
    # A bad name: a plain-language reason beside that field, nothing changes.
    bad = admin_client_ui.post(
        SETTINGS + "gate",
        {"max_drop": "3", "gated_deployments": "prod uction?"},
        **HTMX,
    )
    assert bad.status_code == 422
    field = unescape(bad.content.decode())
    field = field[field.index('data-field="gated_deployments"') :]
    field = field[: field.index("Save gate")]
    assert "Deployment name 'uction?' is invalid" in field
    assert 'aria-invalid="true"' in field
    project.refresh_from_db()
    assert project.gate_max_drop == 1
    assert project.gate_deployments == ["production", "eu.prod"]


def test_analysts_pin_viewers_only_read(
    analyst_client: Client, viewer_client: Client, project: Project
) -> None:
    page = analyst_client.get(SETTINGS).content.decode()
    assert 'id="gate-pin"' in page and 'name="max_drop"' not in page
    pinned = analyst_client.post(SETTINGS + "gate/pin", **HTMX)
    assert pinned.status_code == 200
    html = pinned.content.decode()
    assert "Pinned the Test set: 6 utterances." in html
    assert "6 utterances, pinned" in html and "ana-analyst" in html
    assert analyst_client.post(SETTINGS + "gate", {"max_drop": "1"}).status_code == 403
    assert 'id="gate-pin"' not in viewer_client.get(SETTINGS).content.decode()
    assert viewer_client.post(SETTINGS + "gate/pin").status_code == 403
    assert AuditEvent.objects.filter(action="gate.pin").count() == 1


def test_knowledge_bases_show_no_gate(
    admin_client_ui: Client, ui_projects: UiProjects
) -> None:
    page = admin_client_ui.get("/projects/kb/settings/").content.decode()
    assert 'id="settings-gate"' not in page
    assert admin_client_ui.post("/projects/kb/settings/gate/pin").status_code == 404


# ---------------------------------------------------------------- data screen


def test_golden_toggle_on_the_data_screen(
    analyst_client: Client, viewer_client: Client, project: Project
) -> None:
    row = Utterance.objects.filter(project=project).first()
    assert row is not None
    url = f"/projects/conv/data/{row.pk}/golden/"
    page = analyst_client.get("/projects/conv/data/").content.decode()
    assert 'aria-keyshortcuts="m"' in page and "<kbd>m</kbd>" in page
    marked = analyst_client.post(url, {"golden": "1", "version": row.version}, **HTMX)
    assert marked.status_code == 200
    html = marked.content.decode()
    assert html.lstrip().startswith(f'<tr id="utterance-{row.pk}"')
    assert 'aria-pressed="true"' in html
    row.refresh_from_db()
    assert row.golden
    toggled = analyst_client.post(url, {"toggle": "1"}, **HTMX)
    assert 'aria-pressed="false"' in toggled.content.decode()
    # A stale version: 409 with the row as it is now.
    stale = analyst_client.post(url, {"golden": "1", "version": "1"}, **HTMX)
    assert stale.status_code == 409
    bad = analyst_client.post(url, {"golden": "yes"}, **HTMX)
    assert bad.status_code == 422
    assert "Say whether the utterance is golden." in bad.content.decode()
    assert viewer_client.post(url, {"golden": "1"}).status_code == 403
    row.refresh_from_db()
    assert not row.golden
    assert AuditEvent.objects.filter(action="utterance.golden").count() == 2


# ---------------------------------------------------------------- deployments


def test_deploy_shows_the_comparison_then_deploys_on_confirm(
    admin_client_ui: Client,
    serving: Project,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    jobs = Job.objects.count()
    form = {"deployment_name": "production", "model_label": "bad"}
    preview = admin_client_ui.post(DEPLOYMENTS + "deploy", form, **HTMX)
    assert preview.status_code == 200
    html = preview.content.decode()
    assert 'id="gate-preview"' in html and "Blocked" not in html
    assert "on 6 utterances: accuracy 100.0% → 0.0% (−100.0 points)" in html
    assert "6 new errors" in html and "F1 per intent" in html
    assert "new error</span>" in html and TEXTS[0] in html
    assert 'id="gate-confirm-button"' in html and "Confirm deploy" in html
    assert Job.objects.count() == jobs  # nothing started yet
    with run_jobs(django_capture_on_commit_callbacks):
        done = admin_client_ui.post(
            DEPLOYMENTS + "deploy", form | {"confirm": "1"}, **HTMX
        )
    assert done.status_code == 200
    assert "Deploying bad to production." in done.content.decode()
    assert _serving(serving) == "bad"
    page = admin_client_ui.get(DEPLOYMENTS).content.decode()
    assert "Deploy gate: model &#x27;bad&#x27; compared with &#x27;good&#x27;" in page


def test_a_blocked_deploy_needs_an_admins_reason(
    admin_client_ui: Client,
    serving: Project,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    project_gate_update(project=serving, max_drop=5)
    form = {"deployment_name": "production", "model_label": "bad"}
    preview = admin_client_ui.post(DEPLOYMENTS + "deploy", form, **HTMX)
    html = preview.content.decode()
    assert 'id="gate-blocked"' in html
    assert "worse by more than 5 accuracy points" in html
    assert 'name="override_reason"' in html and "Deploy anyway" in html
    # Confirming without a reason: refused, the reason asked for beside the field.
    refused = admin_client_ui.post(
        DEPLOYMENTS + "deploy", form | {"confirm": "1"}, **HTMX
    )
    assert refused.status_code == 422
    assert "Give the reason for deploying over the gate" in refused.content.decode()
    assert 'aria-invalid="true"' in refused.content.decode()
    assert _serving(serving) == "good"
    with run_jobs(django_capture_on_commit_callbacks):
        done = admin_client_ui.post(
            DEPLOYMENTS + "deploy",
            form | {"confirm": "1", "override_reason": "known regression, demo"},
            **HTMX,
        )
    assert "Deploying bad over the gate to production." in done.content.decode()
    assert _serving(serving) == "bad"
    event = AuditEvent.objects.get(action="deployment.gate_override")
    assert (event.after or {})["reason"] == "known regression, demo"
    assert event.username == "alice-admin"
    assert AuditEvent.objects.filter(action="deployment.gate_block").count() == 1


def test_a_better_model_with_nothing_to_compare_deploys_at_once(
    admin_client_ui: Client,
    project: Project,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    make_trained_model(project, "good", TEXTS, GOOD)
    with run_jobs(django_capture_on_commit_callbacks):
        done = admin_client_ui.post(
            DEPLOYMENTS + "deploy",
            {"deployment_name": "production", "model_label": "good"},
            **HTMX,
        )
    html = done.content.decode()
    assert "Deploying good to production." in html and "gate-preview" not in html
    page = admin_client_ui.get(DEPLOYMENTS).content.decode()
    assert "nothing serves deployment &#x27;production&#x27; yet" in page


def test_swap_shows_both_sides_and_blocks(
    admin_client_ui: Client,
    serving: Project,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    with django_capture_on_commit_callbacks(execute=True):
        deploy_jobs.deploy_start(
            project_name=serving.name,
            deployment_name="staging",
            body={"trainedModelLabel": "bad"},
        )
    project_gate_update(project=serving, max_drop=5)
    form = {"first": "production", "second": "staging"}
    # The comparison is the swap's confirm: the form does not ask first.
    page = admin_client_ui.get(DEPLOYMENTS).content.decode()
    assert 'id="swap-form"' in page and 'hx-confirm="Swap' not in page
    preview = admin_client_ui.post(DEPLOYMENTS + "swap", form, **HTMX)
    html = preview.content.decode()
    assert html.count('class="gate-check"') == 2
    assert "Swap anyway" in html
    with run_jobs(django_capture_on_commit_callbacks):
        done = admin_client_ui.post(
            DEPLOYMENTS + "swap",
            form | {"confirm": "1", "override_reason": "rollback drill"},
            **HTMX,
        )
    assert "Swapping production and staging." in done.content.decode()
    assert _serving(serving) == "bad"


class _RowForms(HTMLParser):
    """The forms of one Data-screen row as a browser without JavaScript sees them:
    each form's action, its fields (hidden inputs, the selected option of a select:
    its value, or else its text) and its submit buttons."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.options: list[str] = []  # what each option of a select would send
        self._select: str | None = None
        self._option: dict[str, str] | None = None  # an option without a value

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self.forms.append({"action": a["action"], "fields": {}, "buttons": []})
        elif not self.forms:
            return
        elif tag == "input" and a.get("type") == "hidden":
            self.forms[-1]["fields"][a["name"]] = a["value"]
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select:
            if "value" in a:
                self._option_value(a, a["value"])
            else:
                self._option = a
        elif tag == "button" and a.get("type", "submit") == "submit":
            self.forms[-1]["buttons"].append(a)

    def _option_value(self, attrs: dict[str, str], value: str) -> None:
        assert self._select is not None
        self.options.append(value)
        if "selected" in attrs:
            self.forms[-1]["fields"][self._select] = value

    def handle_data(self, data: str) -> None:
        if self._option is not None:
            self._option_value(self._option, " ".join(data.split()))
            self._option = None

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None


def _row_html(page: str, pk: int) -> str:
    row = page[page.index(f'<tr id="utterance-{pk}"') :]
    return row[: row.index("</tr>")]


def test_the_golden_star_is_a_button_of_the_rows_dataset_form_and_works_without_js(
    analyst_client: Client, project: Project
) -> None:
    row = Utterance.objects.filter(project=project).order_by("pk").first()
    assert row is not None
    page = analyst_client.get("/projects/conv/data/?dataset=Test").content.decode()
    html = _row_html(page, row.pk)
    parser = _RowForms()
    parser.feed(html)
    # One form per row (the dataset's): the star costs a button, not a form.
    assert len(parser.forms) == 1, html
    form = parser.forms[0]
    star = next(b for b in form["buttons"] if "data-golden" in b)
    assert star["formaction"] == f"/projects/conv/data/{row.pk}/golden/"
    assert (star["name"], star["value"]) == ("golden", "1")
    assert star["aria-pressed"] == "false"
    assert star["aria-label"] == "Golden"
    assert star["aria-keyshortcuts"] == "m"
    # The dataset's own Save (no JS) comes first: it is the form's default button.
    assert form["buttons"][0].get("formaction") is None
    # Without JavaScript the star submits the row's form to golden/: marked, and
    # back to the table as it was filtered; the dataset field is ignored.
    body = {**form["fields"], star["name"]: star["value"]}
    assert body["next"] == "?dataset=Test"
    response = analyst_client.post(star["formaction"], body)
    assert response.status_code == 302
    assert response["Location"] == "/projects/conv/data/?dataset=Test"
    row.refresh_from_db()
    assert row.golden
    assert row.dataset == "Test"
    page = analyst_client.get("/projects/conv/data/?dataset=Test").content.decode()
    parser = _RowForms()
    parser.feed(_row_html(page, row.pk))
    star = next(b for b in parser.forms[0]["buttons"] if "data-golden" in b)
    assert (star["value"], star["aria-pressed"]) == ("0", "true")
    # Unmarked the same way.
    body = {**parser.forms[0]["fields"], "golden": "0"}
    assert analyst_client.post(star["formaction"], body).status_code == 302
    row.refresh_from_db()
    assert not row.golden
    # The form's own Save still moves the utterance (the options send what the
    # dataset view takes).
    assert parser.options == ["unassigned", "Train", "Test"]
    row.refresh_from_db()
    body = {**parser.forms[0]["fields"], "dataset": "Train", "version": row.version}
    response = analyst_client.post(parser.forms[0]["action"], body)
    assert response.status_code == 302
    row.refresh_from_db()
    assert (row.dataset, row.golden) == ("Train", False)


def test_a_viewer_sees_the_golden_mark_as_text(
    viewer_client: Client, project: Project
) -> None:
    row = Utterance.objects.filter(project=project).order_by("pk").first()
    assert row is not None
    Utterance.objects.filter(pk=row.pk).update(golden=True)
    html = _row_html(viewer_client.get("/projects/conv/data/").content.decode(), row.pk)
    assert "<form" not in html and "data-golden" not in html
    assert "★ golden" in html


def test_the_data_screen_filters_golden_utterances(
    analyst_client: Client, project: Project
) -> None:
    rows = list(Utterance.objects.filter(project=project).order_by("id"))
    Utterance.objects.filter(pk=rows[1].pk).update(golden=True)
    page = analyst_client.get("/projects/conv/data/?golden=1").content.decode()
    assert f'id="utterance-{rows[1].pk}"' in page
    assert f'id="utterance-{rows[0].pk}"' not in page
    assert 'id="filter-golden" checked' in page
    settings_page = analyst_client.get(SETTINGS).content.decode()
    assert 'href="/projects/conv/data/?golden=1">1</a>' in settings_page


def test_without_a_gate_set_the_swap_form_asks_first(
    admin_client_ui: Client,
    project: Project,
    django_capture_on_commit_callbacks: Callable[..., Any],
) -> None:
    make_trained_model(project, "good", TEXTS, GOOD)
    for name in ("production", "staging"):
        with django_capture_on_commit_callbacks(execute=True):
            deploy_jobs.deploy_start(
                project_name=project.name,
                deployment_name=name,
                body={"trainedModelLabel": "good"},
            )
    page = admin_client_ui.get(DEPLOYMENTS).content.decode()
    assert 'hx-confirm="Swap the models of the two deployments?"' in page
