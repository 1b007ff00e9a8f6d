"""Issue #16's "Done when" in a real browser: 50 predictions logged through the
runtime API, 10 of them triaged from the review queue by keyboard only, the project
retrained, the new model deployed through the deploy gate (compared, accepted), a
deliberately worse model blocked by the gate (and then deployed by an admin with a
reason), and every step read back on the audit trail page."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from projects.models import Intent, Project, Utterance
from runtime import keys
from runtime.registry import runtime_reset
from studio.models import AuditEvent
from studio.services import apikey_create
from tests.browser.conftest import StudioPage, axe_violations
from tests.browser.test_review import ANALYZE, QUERIES
from tests.factories import ProjectFactory
from tests.training.model_helpers import make_trained_model
from tests.training.runtime_helpers import (
    EMAIL_EXAMPLES,
    conversation_bundle,
    deploy_bundle,
)
from training.models import Deployment, PredictionLog, TrainedModel

pytestmark = pytest.mark.django_db(transaction=True)

# Held-out utterances: the Test set the gate pins.
TEST_SET = {
    "SendEmail": ["send an email to erin", "mail the notes to bob", "email my team"],
    "ReadEmail": ["read my latest mail", "show my unread email", "open my inbox now"],
}


@pytest.fixture
def loop_project(transactional_db: None) -> Iterator[Project]:
    """``mail``: labeled data (Train and Test), model ``m1`` serving production,
    and 50 predictions logged through the runtime API (25 queries, twice)."""
    runtime_reset()
    keys.key_cache.clear()
    project = ProjectFactory.create(name="mail", language="en")
    for dataset, examples in (("Train", EMAIL_EXAMPLES), ("Test", TEST_SET)):
        for name, texts in examples.items():
            intent, _ = Intent.objects.get_or_create(project=project, name=name)
            for text in texts:
                Utterance.objects.create(
                    project=project, text=text, intent=intent, dataset=dataset
                )
    deploy_bundle(project, conversation_bundle(EMAIL_EXAMPLES), label="m1")
    _, key = apikey_create(name="bot")
    client = Client()
    for text in [*QUERIES, *(q.upper() + "!" for q in QUERIES)]:
        body = {
            "kind": "Conversation",
            "analysisInput": {
                "conversationItem": {"id": "1", "participantId": "u", "text": text}
            },
            "parameters": {
                "projectName": "mail",
                "deploymentName": "production",
                "isLoggingEnabled": True,
            },
        }
        response = client.post(
            ANALYZE,
            json.dumps(body),
            content_type="application/json",
            headers={"Ocp-Apim-Subscription-Key": key},
        )
        assert response.status_code == 200, response.content
    assert PredictionLog.objects.filter(project=project).count() == 50
    yield project
    runtime_reset()


def _triage_ten(studio: StudioPage) -> list[str]:
    page = studio.page
    studio.goto("/projects/mail/review/")
    assert page.locator("tr.review-row").count() == 25
    done: list[str] = []
    for keys_pressed in (
        "a", "a", "n", "s", "d", "a", "3", "2", "a", "n"
    ):  # fmt: skip
        current = page.locator("tr.review-row").nth(0)
        done.append(current.get_attribute("data-text") or "")
        before = page.locator("tr.review-row").count()
        page.keyboard.press(keys_pressed)
        page.wait_for_function(
            "n => document.querySelectorAll('tr.review-row').length === n - 1",
            arg=before,
        )
    return done


def _deploy(studio: StudioPage, label: str) -> None:
    """Pick the model on the deployments screen and press Deploy: the gate's
    comparison comes back instead of a job."""
    page = studio.page
    studio.goto("/projects/mail/deployments/")
    page.locator("#deploy-model").select_option(label)
    page.locator("#deploy-name").fill("production")
    page.get_by_role("button", name="Deploy", exact=True).click()
    page.locator("#gate-preview").wait_for()


def _wait_for_job(studio: StudioPage, notice: str) -> None:
    studio.page.get_by_text(notice).wait_for()
    studio.page.wait_for_selector(
        "#deploy-progress [data-status=succeeded],"
        " #deploy-progress [data-status=failed]"
    )
    status = studio.page.locator("#deploy-progress [data-status]").get_attribute(
        "data-status"
    )
    assert status == "succeeded", studio.page.locator("#deploy-progress").inner_text()


def test_live_traffic_to_a_safe_deploy_with_a_trail(
    new_browser_page: Callable[[str], StudioPage],
    live_server: Any,
    browser_user: Callable[..., Any],
    loop_project: Project,
) -> None:
    browser_user("ana", role="analyst", project=loop_project)
    browser_user("ada", role="admin", project=loop_project)
    analyst = new_browser_page(live_server.url)
    analyst.sign_in("ana")

    # 1. Ten logged queries triaged by keyboard only.
    triaged = _triage_ten(analyst)
    assert len(triaged) == 10
    reviewed = PredictionLog.objects.filter(project=loop_project).exclude(
        review_status="pending"
    )
    assert reviewed.count() == 20  # each query was logged twice

    # 2. The gate set: a golden utterance (m on the Data screen) and the Test set
    # pinned on the settings page.
    page = analyst.page
    analyst.goto("/projects/mail/data/")
    page.wait_for_function("() => window.Labeling !== undefined")
    page.keyboard.press("j")
    first = page.locator("tr.utt-row").first
    first_id = first.get_attribute("data-id")
    page.keyboard.press("m")
    page.wait_for_selector(f"#utterance-{first_id} [data-golden][aria-pressed=true]")
    analyst.goto("/projects/mail/settings/")
    page.get_by_role("button", name="Pin the Test set now").click()
    page.get_by_text("Pinned the Test set: 6 utterances.").wait_for()
    analyst.screenshot("gate-pinned")

    # 3. Retrain (the worker runs eagerly in this test server).
    page.goto(live_server.url + "/projects/mail/train/")
    page.locator("#id_model_label").fill("v2")
    page.get_by_role("button", name="Start training").click()
    page.wait_for_selector(
        "#train-progress [data-status=succeeded], #train-progress [data-status=failed]",
        timeout=120_000,
    )
    assert TrainedModel.objects.filter(project=loop_project, label="v2").exists()

    # 4. The admin turns the block on and deploys v2 through the gate: compared
    # with m1 on the gate set, within the threshold, confirmed.
    admin = new_browser_page(live_server.url)
    admin.sign_in("ada")
    admin.goto("/projects/mail/settings/")
    admin.page.get_by_label(re.compile("Block deploys worse by more than")).fill("20")
    admin.page.get_by_role("button", name="Save gate").click()
    admin.page.get_by_text("accuracy points are blocked.").wait_for()
    _deploy(admin, "v2")
    preview = admin.page.locator("#gate-preview").inner_text()
    assert "compared with 'm1' serving deployment 'production' on 7 utterances" in (
        preview
    )
    assert admin.page.locator("#gate-blocked").count() == 0
    admin.screenshot("gate-accepted")
    admin.page.get_by_role("button", name="Confirm deploy").click()
    _wait_for_job(admin, "Deploying v2 to production.")
    assert Deployment.objects.get(project=loop_project).model_label == "v2"

    # 5. A deliberately worse model (every label swapped) is blocked; confirming
    # without a reason is refused; the admin's reason deploys it.
    texts = [u.text for u in loop_project.utterances.order_by("id")]
    swapped = {"SendEmail": "ReadEmail", "ReadEmail": "SendEmail", "None": "None"}
    labels = [swapped[u.intent.name] for u in loop_project.utterances.order_by("id")]
    make_trained_model(loop_project, "worse", texts, labels)
    _deploy(admin, "worse")
    admin.page.locator("#gate-blocked").wait_for()
    assert (
        "worse by more than 20 accuracy points"
        in admin.page.locator("#gate-blocked").inner_text()
    )
    admin.screenshot("gate-blocked")
    assert axe_violations(admin.page) == []
    admin.page.get_by_role("button", name="Deploy anyway").click()
    admin.page.locator("#gate-reason-error").wait_for()
    assert "Give the reason" in admin.page.locator("#gate-reason-error").inner_text()
    assert Deployment.objects.get(project=loop_project).model_label == "v2"
    admin.page.get_by_label("Reason for deploying over the gate").fill(
        "drill: checking the gate"
    )
    admin.page.get_by_role("button", name="Deploy anyway").click()
    _wait_for_job(admin, "Deploying worse over the gate to production.")
    assert Deployment.objects.get(project=loop_project).model_label == "worse"

    # 6. Every step on the audit trail page.
    admin.goto("/projects/mail/audit/")
    trail = admin.page.locator("main").inner_text()
    admin.screenshot("audit-trail")
    for action in (
        "review.accept",
        "review.label",
        "review.none",
        "review.skip",
        "review.discard",
        "utterance.golden",
        "gate.pin",
        "model.train",
        "project.settings",
        "deployment.gate_pass",
        "deployment.deploy",
        "deployment.gate_block",
        "deployment.gate_override",
    ):
        assert action in trail, action
    review = AuditEvent.objects.filter(
        project_name="mail", action__startswith="review."
    )
    assert review.count() == 10
    assert set(review.values_list("username", flat=True)) == {"ana"}
    override = AuditEvent.objects.get(action="deployment.gate_override")
    assert override.username == "ada"
    assert (override.after or {})["reason"] == "drill: checking the gate"
    # The override's reason, under its event's before/after.
    row = admin.page.locator("tr", has_text="deployment.gate_override")
    row.locator("summary").click()
    assert "drill: checking the gate" in row.inner_text()
