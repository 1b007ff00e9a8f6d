"""The review queue in a real browser: 50 predictions logged through the runtime
API, then 10 of them triaged by keyboard only (accept, the label palette, the 1-9
keys, None, skip, discard), each landing in the data and in the audit trail."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.test import Client

from projects.models import Project, Utterance
from runtime import keys
from runtime.registry import runtime_reset
from studio.models import AuditEvent
from studio.services import apikey_create
from tests.browser.conftest import StudioPage
from tests.factories import IntentFactory, ProjectFactory
from tests.training.runtime_helpers import (
    EMAIL_EXAMPLES,
    conversation_bundle,
    deploy_bundle,
)
from training.engine.review import normalize
from training.models import PredictionLog

pytestmark = pytest.mark.django_db(transaction=True)

ANALYZE = "/language/:analyze-conversations?api-version=2023-04-01"
QUERIES = [
    "send mail to the team",
    "open my inbox",
    "what is new in my mail",
    "email my boss the report",
    "order a pizza",
    "play some jazz",
    "is there mail from carol",
    "write to dave",
    "turn off the lights",
    "mail alice the slides",
    "any new messages",
    "book a table for two",
    "read the latest mail",
    "forward this to bob",
    "what time is it",
    "check messages from my boss",
    "send a note to erin",
    "call my mother",
    "show unread emails",
    "reply to carol",
    "set an alarm",
    "message the team about lunch",
    "did bob write back",
    "tell me a joke",
    "send the invoice by email",
]


@pytest.fixture
def logged(transactional_db: None) -> Iterator[Project]:
    """A project with a deployed model and 50 logged predictions (25 queries, each
    twice: once as typed, once shouted with punctuation)."""
    runtime_reset()
    keys.key_cache.clear()
    project = ProjectFactory.create(name="mail", language="en")
    for name in EMAIL_EXAMPLES:
        IntentFactory.create(project=project, name=name)
    deploy_bundle(project, conversation_bundle(EMAIL_EXAMPLES))
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


def test_triage_ten_queries_by_keyboard_only(
    browser_page: StudioPage,
    browser_user: Callable[..., Any],
    logged: Project,
) -> None:
    browser_user("ana", role="analyst", project=logged)
    studio = browser_page
    page = studio.page
    studio.sign_in("ana")
    studio.goto("/projects/mail/review/")
    assert page.locator("tr.review-row").count() == 25  # duplicates collapsed
    assert page.locator("tr.review-row").first.inner_text().count("×2") == 1

    done: list[tuple[str, str]] = []

    def triage(*keys_pressed: str, expect: str) -> None:
        """Press keys on the current row; wait until the list comes back without
        it; remember what was done to which query."""
        current = page.locator("tr.review-row").nth(0)
        text = current.get_attribute("data-text") or ""
        rows_before = page.locator("tr.review-row").count()
        for key in keys_pressed:
            page.keyboard.press(key)
        page.wait_for_function(
            "n => document.querySelectorAll('tr.review-row').length === n - 1",
            arg=rows_before,
        )
        assert text in page.locator("#review-notice").inner_text()
        done.append((text, expect))

    triage("a", expect="accept")
    triage("a", expect="accept")
    triage("n", expect="none")
    triage("s", expect="skip")
    triage("d", expect="discard")
    # The label palette: l, type to filter, Enter assigns.
    page.keyboard.press("l")
    assert page.locator("#intent-palette").is_visible()
    page.keyboard.type("read")
    studio.screenshot("palette")
    triage("Enter", expect="label:ReadEmail")
    # Escape closes the palette without acting.
    page.keyboard.press("l")
    page.keyboard.press("Escape")
    assert page.locator("#intent-palette").is_hidden()
    # The Data page's intent keys (1 None, then the intents in order).
    keyed = json.loads(page.locator("#intent-palette-data").text_content() or "{}")
    triage("3", expect=f"label:{keyed['keys']['3']}")
    triage("2", expect=f"label:{keyed['keys']['2']}")
    # j moves down: the next action applies to the second row.
    page.keyboard.press("j")
    second = page.locator("tr.review-row.is-current").get_attribute("data-text")
    assert second == page.locator("tr.review-row").nth(1).get_attribute("data-text")
    page.keyboard.press("k")
    triage("a", expect="accept")
    triage("n", expect="none")
    studio.screenshot("after-triage")

    assert len(done) == 10
    for text, expect in done:
        statuses = {
            log.review_status
            for log in PredictionLog.objects.filter(project=logged)
            if normalize(log.query) == normalize(text)
        }
        action = expect.split(":")[0]
        status = {
            "accept": "accepted",
            "label": "labeled",
            "skip": "skipped",
            "discard": "discarded",
        }.get(action, action)
        assert statuses == {status}, (text, expect, statuses)
        made = Utterance.objects.filter(project=logged, text=text).first()
        if action in ("skip", "discard"):
            assert made is None
        else:
            assert made is not None, text
            if action == "none":
                assert made.intent.name == "None"
            elif action == "label":
                assert made.intent.name == expect.split(":")[1]
            assert made.labeled_by is not None
            assert made.labeled_by.get_username() == "ana"
    events = AuditEvent.objects.filter(
        project_name="mail", action__startswith="review."
    )
    assert events.count() == 10
    assert set(events.values_list("username", flat=True)) == {"ana"}
