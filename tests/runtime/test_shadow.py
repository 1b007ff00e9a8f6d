"""Shadow models in the runtime (runtime/shadow.py): the live model answers alone,
the shadow predicts the same query afterwards (queued; drained by the test, or by
the process's thread), its disagreements are recorded on the logged query and
counted per hour; a full queue drops and counts; the registry loads the shadow
like a deployed model and unloads it when cleared."""

from __future__ import annotations

import dataclasses
import json
import threading
from collections.abc import Iterator
from typing import Any

import numpy as np
import pytest
from django.core.cache import cache
from django.core.files.storage import default_storage
from django.test import Client
from django.utils import timezone

from projects.models import Project
from runtime import keys
from runtime.registry import runtime, runtime_reset
from runtime.shadow import (
    ShadowItem,
    ShadowQueue,
    shadow_compare,
    shadow_drain,
    shadow_queue,
    shadow_reset,
)
from studio.deployment_state import deployment_state_bump
from studio.services import apikey_create
from studio.writebehind import write_behind_flush
from tests.factories import OrchestrationProjectFactory, ProjectFactory
from tests.training.model_helpers import deploy_trained_model, make_trained_model
from tests.training.runtime_helpers import EMAIL_EXAMPLES
from training.models import Deployment, PredictionLog, ShadowTally, TrainedModel
from training.selectors import review as sr
from training.services.shadow import deployment_shadow_clear, deployment_shadow_set

pytestmark = pytest.mark.django_db

ANALYZE = "/language/:analyze-conversations?api-version=2023-04-01"
TEXTS = [text for texts in EMAIL_EXAMPLES.values() for text in texts]
LABELS = [label for label, texts in EMAIL_EXAMPLES.items() for _ in texts]
FLIPPED = [{"SendEmail": "ReadEmail", "ReadEmail": "SendEmail"}[x] for x in LABELS]


@pytest.fixture(autouse=True)
def fresh_runtime() -> Iterator[None]:
    runtime_reset()
    shadow_reset()
    keys.key_cache.clear()
    keys.access_cache.clear()
    cache.clear()
    yield
    runtime_reset()
    shadow_reset()


@pytest.fixture
def email() -> Project:
    project = ProjectFactory.create(name="Email", language="en")
    deploy_trained_model(make_trained_model(project, "live", TEXTS, LABELS))
    make_trained_model(project, "same", TEXTS, LABELS)
    make_trained_model(project, "flipped", TEXTS, FLIPPED)
    return project


class Bot:
    def __init__(self, client: Client) -> None:
        self.client = client
        self.key = apikey_create(name="bot")[1]

    def analyze(
        self, text: str, *, project: str = "Email", **parameters: Any
    ) -> dict[str, Any]:
        body = {
            "kind": "Conversation",
            "analysisInput": {
                "conversationItem": {"id": "1", "participantId": "user", "text": text}
            },
            "parameters": {
                "projectName": project,
                "deploymentName": "production",
                **parameters,
            },
        }
        response = self.client.post(
            ANALYZE,
            json.dumps(body),
            content_type="application/json",
            headers={"Ocp-Apim-Subscription-Key": self.key},
        )
        assert response.status_code == 200, response.content
        answer: dict[str, Any] = response.json()
        return answer


@pytest.fixture
def bot(client: Client) -> Bot:
    return Bot(client)


def shadow(project: Project, label: str) -> None:
    deployment_shadow_set(
        project=project, deployment_name="production", model_label=label
    )
    runtime().directory.invalidate()


def tally() -> dict[str, int]:
    rows = list(ShadowTally.objects.all())
    return {
        name: sum(getattr(row, name) for row in rows)
        for name in ("compared", "agreed", "confidence_gaps", "dropped", "failed")
    }


def test_the_live_model_answers_alone_and_unchanged(email: Project, bot: Bot) -> None:
    without = bot.analyze("send an email to bob", isLoggingEnabled=True)
    PredictionLog.objects.all().delete()
    shadow(email, "flipped")
    with_shadow = bot.analyze("send an email to bob", isLoggingEnabled=True)
    assert with_shadow == without
    assert with_shadow["result"]["prediction"]["topIntent"] == "SendEmail"
    # The shadow has not run in the request: its item waits, and so does the log
    # row it completes.
    assert shadow_queue().pending == 1
    assert not PredictionLog.objects.exists()
    assert not ShadowTally.objects.exists()


def test_a_disagreement_is_recorded_on_the_logged_query_and_counted(
    email: Project, bot: Bot
) -> None:
    shadow(email, "flipped")
    bot.analyze("send an email to bob", isLoggingEnabled=True)
    assert shadow_drain() == 1
    row = PredictionLog.objects.get()
    assert (row.top_intent, row.shadow_top_intent) == ("SendEmail", "ReadEmail")
    assert row.shadow_disagrees
    flipped = TrainedModel.objects.get(label="flipped")
    assert row.shadow_model_id == flipped.model_id
    assert row.shadow_confidence is not None and row.shadow_confidence > 0.5
    assert tally() == {
        "compared": 1,
        "agreed": 0,
        "confidence_gaps": 0,
        "dropped": 0,
        "failed": 0,
    }
    (counted,) = ShadowTally.objects.all()
    assert counted.live_model_id == Deployment.objects.get().model_id
    assert counted.shadow_model_id == flipped.model_id


def test_the_disagreement_lands_in_the_review_queue_ranked_and_filterable(
    email: Project, bot: Bot
) -> None:
    shadow(email, "flipped")
    bot.analyze("send an email to bob", isLoggingEnabled=True)
    shadow_drain()
    shadow(email, "same")
    bot.analyze("read my new emails", isLoggingEnabled=True)
    shadow_drain()
    queue = sr.review_queue(project=email, filters=sr.ReviewFilter())
    assert [g.text for g in queue][0] == "send an email to bob"
    first = queue[0]
    assert "shadow disagrees: live SendEmail, shadow ReadEmail" in first.signals.reasons
    assert sr.review_group_document(first)["shadow"]["topIntent"] == "ReadEmail"
    only = sr.review_queue(project=email, filters=sr.ReviewFilter(shadow=True))
    assert [g.text for g in only] == ["send an email to bob"]


def test_an_agreeing_shadow_is_counted_and_not_queued_for_review(
    email: Project, bot: Bot
) -> None:
    shadow(email, "same")
    bot.analyze("send an email to bob", isLoggingEnabled=True)
    bot.analyze("read my new emails")
    assert shadow_drain() == 2
    row = PredictionLog.objects.get()
    assert row.shadow_top_intent == "SendEmail" and not row.shadow_disagrees
    counts = tally()
    assert (counts["compared"], counts["agreed"]) == (2, 2)


def test_queries_not_logged_are_compared_but_not_stored(
    email: Project, bot: Bot
) -> None:
    shadow(email, "flipped")
    bot.analyze("send an email to bob")
    shadow_drain()
    assert not PredictionLog.objects.exists()
    assert tally()["compared"] == 1


def test_a_full_queue_drops_counts_and_still_stores_the_logged_query(
    email: Project, bot: Bot, settings: Any
) -> None:
    settings.STUDIO_SHADOW_QUEUE_SIZE = 1
    shadow_reset()
    shadow(email, "flipped")
    bot.analyze("send an email to bob", isLoggingEnabled=True)
    bot.analyze("read my new emails", isLoggingEnabled=True)
    assert shadow_queue().dropped == 1
    dropped = PredictionLog.objects.get()  # stored at once, without a shadow
    assert dropped.query == "read my new emails"
    assert dropped.shadow_model_id == "" and not dropped.shadow_disagrees
    assert shadow_drain() == 1
    assert tally()["dropped"] == 1 and tally()["compared"] == 1
    assert PredictionLog.objects.filter(shadow_disagrees=True).count() == 1


def test_a_broken_shadow_never_fails_the_live_answer(email: Project, bot: Bot) -> None:
    shadow(email, "flipped")
    deployment = Deployment.objects.get()
    default_storage.delete(deployment.shadow_artifact_name)
    answer = bot.analyze("send an email to bob", isLoggingEnabled=True)
    assert answer["result"]["prediction"]["topIntent"] == "SendEmail"
    shadow_drain()
    assert tally()["failed"] == 1
    row = PredictionLog.objects.get()
    assert row.shadow_model_id == "" and not row.shadow_disagrees


def test_the_background_thread_predicts_after_the_answer(
    email: Project, bot: Bot, settings: Any
) -> None:
    settings.STUDIO_SHADOW_THREAD = True
    settings.STUDIO_WRITE_BEHIND_MS = 60_000  # the test flushes the buffer itself
    shadow_reset()
    shadow(email, "flipped")
    answer = bot.analyze("send an email to bob", isLoggingEnabled=True)
    assert answer["result"]["prediction"]["topIntent"] == "SendEmail"
    assert shadow_queue().join(timeout=30)
    assert shadow_queue().processed == 1
    write_behind_flush()
    row = PredictionLog.objects.get()
    assert row.shadow_top_intent == "ReadEmail" and row.shadow_disagrees
    assert tally()["compared"] == 1


def test_the_registry_loads_the_shadow_and_unloads_it_when_cleared(
    email: Project, bot: Bot
) -> None:
    bot.analyze("send an email to bob")
    models = runtime().models
    assert len(models) == 1
    shadow(email, "flipped")
    bot.analyze("send an email to bob")
    shadow_drain()
    entry = runtime().directory.entries()[("Email", "production")]
    assert entry.shadow is not None
    shadow_key = entry.shadow.cache_key
    assert shadow_key in models and entry.cache_key in models
    assert len(models) == 2
    deployment_shadow_clear(project=email, deployment_name="production")
    runtime().directory.invalidate()
    bot.analyze("send an email to bob")
    assert shadow_key not in models and entry.cache_key in models
    assert shadow_queue().pending == 0  # no shadow: nothing queued


def test_an_orchestration_shadow_compares_the_routing_only(bot: Bot) -> None:
    router = OrchestrationProjectFactory.create(name="Router", language="en")
    deploy_trained_model(make_trained_model(router, "live", TEXTS, LABELS))
    make_trained_model(router, "flipped", TEXTS, FLIPPED)
    shadow(router, "flipped")
    bot.analyze("send an email to bob", project="Router", isLoggingEnabled=True)
    # A forced intent is not scored: nothing to compare.
    bot.analyze(
        "send an email to bob",
        project="Router",
        directTarget="ReadEmail",
        isLoggingEnabled=True,
    )
    assert shadow_drain() == 1
    compared = PredictionLog.objects.get(shadow_model_id__gt="")
    assert (compared.top_intent, compared.shadow_top_intent) == (
        "SendEmail",
        "ReadEmail",
    )
    assert PredictionLog.objects.count() == 2


def _item(email: Project, intent: str, confidence: float) -> ShadowItem:
    entry = runtime().directory.entries()[("Email", "production")]
    return ShadowItem(
        model=entry,
        text="x",
        live_intent=intent,
        live_confidence=confidence,
        at=timezone.now(),
    )


def test_a_large_confidence_gap_on_the_same_intent_is_a_disagreement(
    email: Project,
) -> None:
    item = _item(email, "SendEmail", 0.95)
    close = shadow_compare(item, [("SendEmail", 0.8), ("ReadEmail", 0.2)], gap=0.3)
    assert close.agreed and not close.disagrees
    far = shadow_compare(item, [("SendEmail", 0.6), ("ReadEmail", 0.4)], gap=0.3)
    assert far.agreed and far.confidence_gap and far.disagrees
    other = shadow_compare(item, [("ReadEmail", 0.9)], gap=0.3)
    assert not other.agreed and other.top_intent == "ReadEmail"
    # Both below the threshold: both answer None, whatever their scores.
    strict = dataclasses.replace(item.model, confidence_threshold=0.7)
    low = dataclasses.replace(
        item, model=strict, live_intent="None", live_confidence=0.55
    )
    assert shadow_compare(low, [("SendEmail", 0.1)], gap=0.3).agreed


def test_the_queue_is_bounded_whatever_the_setting() -> None:
    assert ShadowQueue(size=0, background=False).size == 1


def test_the_shadow_waits_for_idle_time_and_drops_what_waited_too_long(
    email: Project, bot: Bot, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from runtime import shadow as shadow_module

    settings.STUDIO_SHADOW_THREAD = True
    settings.STUDIO_WRITE_BEHIND_MS = 60_000  # the test flushes the buffer itself
    monkeypatch.setattr(shadow_module, "MAX_WAIT_SECONDS", 0.3)
    shadow_reset()
    shadow(email, "flipped")
    bot.analyze("send an email to bob", isLoggingEnabled=True)  # warms the shadow
    assert shadow_queue().join(timeout=30)
    # Another thread of the process serves a long request meanwhile.
    serving, done = threading.Event(), threading.Event()

    def long_request() -> None:
        shadow_module.activity.started()
        serving.set()
        done.wait(30)
        shadow_module.activity.finished()

    other = threading.Thread(target=long_request)
    other.start()
    try:
        assert serving.wait(10)
        bot.analyze("read my new emails", isLoggingEnabled=True)
        assert shadow_queue().join(timeout=30)
    finally:
        done.set()
        other.join()
    assert shadow_queue().processed == 1 and shadow_queue().dropped == 1
    write_behind_flush()
    waited = PredictionLog.objects.get(query="read my new emails")
    assert waited.shadow_model_id == "" and not waited.shadow_disagrees
    assert tally()["dropped"] == 1 and tally()["compared"] == 1


def test_deferred_counts_add_up_in_one_write_and_survive_a_failed_flush(
    email: Project, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from django.db import OperationalError

    from studio import writebehind
    from studio.writebehind import counts_add_defer

    settings.STUDIO_WRITE_BEHIND_MS = 60_000
    hour = timezone.now().replace(minute=0, second=0, microsecond=0)
    lookup = {
        "project_id": email.pk,
        "deployment_name": "production",
        "live_model_id": "a",
        "shadow_model_id": "b",
        "hour": hour,
    }
    counts_add_defer(model=ShadowTally, lookup=lookup, counts={"compared": 1})
    counts_add_defer(
        model=ShadowTally, lookup=lookup, counts={"compared": 1, "agreed": 1}
    )
    real = writebehind._counts_write

    def locked(*args: Any, **kwargs: Any) -> None:
        raise OperationalError("database is locked")

    monkeypatch.setattr(writebehind, "_counts_write", locked)
    assert write_behind_flush() == 0
    monkeypatch.setattr(writebehind, "_counts_write", real)
    counts_add_defer(model=ShadowTally, lookup=lookup, counts={"dropped": 1})
    assert write_behind_flush() == 1
    row = ShadowTally.objects.get()
    assert (row.compared, row.agreed, row.dropped) == (2, 1, 1)
    counts_add_defer(model=ShadowTally, lookup=lookup, counts={"compared": 3})
    write_behind_flush()
    row.refresh_from_db()
    assert row.compared == 5


def test_conversational_ai_user_items_are_shadowed_agent_items_not(
    email: Project, bot: Bot
) -> None:
    shadow(email, "flipped")
    items = [
        {"id": "1", "participantId": "user", "text": "send an email to bob"},
        {
            "id": "2",
            "participantId": "bot",
            "text": "to whom?",
            "role": "agent",
        },
        {"id": "3", "participantId": "user", "text": "read my new emails"},
    ]
    body = {
        "kind": "ConversationalAI",
        "analysisInput": {
            "conversations": [
                {
                    "id": "c1",
                    "language": "en",
                    "modality": "text",
                    "conversationItems": items,
                }
            ]
        },
        "parameters": {
            "projectName": "Email",
            "deploymentName": "production",
            "isLoggingEnabled": True,
        },
    }
    response = bot.client.post(
        "/language/:analyze-conversations?api-version=2025-11-15-preview",
        json.dumps(body),
        content_type="application/json",
        headers={"Ocp-Apim-Subscription-Key": bot.key},
    )
    assert response.status_code == 200, response.content
    assert shadow_drain() == 2  # the agent's words are neither logged nor shadowed
    rows = dict(PredictionLog.objects.values_list("query", "shadow_top_intent"))
    assert rows == {
        "send an email to bob": "ReadEmail",
        "read my new emails": "SendEmail",
    }


def test_the_shadow_answers_with_its_own_per_intent_thresholds(
    email: Project, bot: Bot
) -> None:
    live = bot.analyze("send an email to bob")["result"]["prediction"]
    confidence = live["intents"][0]["confidenceScore"]
    Project.objects.filter(pk=email.pk).update(
        confidence_threshold=confidence / 2, per_intent_thresholds=True
    )
    shadow(email, "same")
    deployment_state_bump()
    entry = runtime().directory.lookup("Email", "production", kinds=("Conversation",))
    assert entry.per_intent_thresholds and entry.shadow is not None
    # Held out, the shadow was often wrong just above this confidence: its own
    # threshold for SendEmail lies above it; the live model's does not.
    classifier = runtime().models.get(entry.shadow).intents
    classifier.held_out_confidences["SendEmail"] = np.full(20_000, 1.0, np.float32)
    classifier.held_out_mistakes["SendEmail"] = np.full(
        20_000, (confidence + 1.0) / 2, np.float32
    )
    classifier._threshold_cache.clear()
    assert classifier.intent_thresholds(confidence / 2)["SendEmail"] > confidence
    answer = bot.analyze("send an email to bob", isLoggingEnabled=True)
    assert answer["result"]["prediction"]["topIntent"] == "SendEmail"
    assert shadow_drain() == 1
    row = PredictionLog.objects.get()
    assert (row.top_intent, row.shadow_top_intent) == ("SendEmail", "None")
    assert row.shadow_disagrees
