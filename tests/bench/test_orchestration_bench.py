"""bench.orchestration on a tiny CLINC150 slice, so the script cannot rot.

The run goes through the API in-process like the real benchmark, on the test
settings (eager Celery, in-memory storage); ``transaction=True`` because jobs are
enqueued on commit.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bench import orchestration as orch
from bench.data import Split, load_clinc150
from bench.documents import (
    conversation_document,
    domain_of,
    load_domains,
    orchestration_document,
)
from runtime.registry import runtime_reset
from runtime.shadow import shadow_reset


def tiny_workload(shared: Path) -> orch.Workload:
    """Two domains of four intents: 12 train, 4 val, 5 test utterances each."""
    clinc = load_clinc150(shared)
    domains = {
        domain: intents[:4]
        for domain, intents in list(load_domains(shared).items())[:2]
    }
    keep = {intent for intents in domains.values() for intent in intents}
    return orch.Workload(
        clinc=orch.Clinc150(
            train=clinc.train.only_labels(keep).head_per_label(12),
            val=clinc.val.only_labels(keep).head_per_label(4),
            test=clinc.test.only_labels(keep).head_per_label(5),
            oos_val=clinc.oos_val.head_per_label(8),
            oos_test=clinc.oos_test.head_per_label(10),
        ),
        domains=domains,
    )


@pytest.fixture
def fresh_runtime(settings: Any) -> Iterator[None]:
    """A runtime that re-reads the deployment version on every request, and none
    left over from other tests."""
    settings.STUDIO_DEPLOYMENT_REFRESH_SECONDS = 0
    # The shadow phase runs as in production: a thread predicts, write-behind
    # buffers (the bench flushes it from its own thread before reading).
    settings.STUDIO_SHADOW_THREAD = True
    settings.STUDIO_WRITE_BEHIND_MS = 60_000
    runtime_reset()
    shadow_reset()
    yield
    runtime_reset()
    shadow_reset()


@pytest.mark.data
@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("fresh_runtime")
def test_a_tiny_run_builds_routes_and_scores_every_number(shared_data: Path) -> None:
    work = tiny_workload(shared_data)

    result = orch.run(work)

    for key in (
        "routing_acc",
        "routing_acc_no_threshold",
        "e2e_acc",
        "e2e_acc_no_threshold",
        "flat_acc",
        "flat_acc_no_threshold",
        "router_oos_recall",
        "flat_oos_recall",
    ):
        assert 0.0 <= result[key] <= 100.0, key
    # Eight intents in two unlike domains: the router gets nearly all right.
    assert result["routing_acc_no_threshold"] >= 80.0
    assert result["e2e_acc_no_threshold"] <= result["routing_acc_no_threshold"]
    assert 0.0 <= result["router_threshold"] <= 1.0
    # The thresholds written through the API are the ones the runtime applied.
    assert result["runtime_threshold_mismatches"] == 0
    assert result["predictions"] == 2 * (
        len(work.clinc.val) * 1
        + len(work.clinc.oos_val)
        + 2 * len(work.clinc.test)
        + len(work.clinc.oos_test)
    )
    # Every test utterance went to both deployments; the shadow compared each.
    assert result["shadow_compared"] + result["shadow_dropped"] == len(work.clinc.test)
    assert result["shadow_compared"] > 0
    for key in ("plain_p50_ms", "plain_p99_ms", "shadowed_p50_ms", "shadowed_p99_ms"):
        assert result[key] > 0, key
    assert 0.0 <= result["shadow_agreement_pct"] <= 100.0
    report = orch.format_report(result, work)
    assert "routing accuracy (right domain) %" in report
    assert "with / without shadow, p50 / p99" in report


def test_router_correct_needs_the_right_domain_and_the_right_nested_intent() -> None:
    split = Split(["a", "b", "c", "d"], ["balance", "balance", "alarm", "alarm"])
    domains = {"balance": "banking", "alarm": "utility"}
    answers = orch.Answers(
        top=["banking", "banking", "None", "banking"],
        best=["banking", "banking", "utility", "banking"],
        confidence=np.asarray([0.9, 0.9, 0.2, 0.6]),
        nested=["balance", "transfer", None, "alarm"],
    )
    assert orch.router_correct(answers, split, domains).tolist() == [
        True,
        False,
        False,
        False,
    ]


def test_threshold_from_val_separates_and_stays_a_valid_setting() -> None:
    def answers(confidence: list[float]) -> orch.Answers:
        n = len(confidence)
        return orch.Answers(["x"] * n, ["x"] * n, np.asarray(confidence), [None] * n)

    inside, outside = answers([0.9, 0.8, 0.95]), answers([0.3, 0.4])
    chosen = orch.threshold_from_val(inside, outside, np.asarray([True, True, True]))
    assert 0.4 < chosen <= 0.8
    # Nothing in scope is ever right: reject everything, still within [0, 1].
    none_right = orch.threshold_from_val(
        answers([1.0, 1.0]), answers([1.0]), np.asarray([False, False])
    )
    assert none_right == 1.0


def test_documents_are_azure_import_documents() -> None:
    split = Split(["hi", "yo", "bye"], ["greet", "greet", "leave"])
    document = conversation_document("p", split, test=Split(["ciao"], ["leave"]))
    assets = document["assets"]
    assert [i["category"] for i in assets["intents"]] == ["greet", "leave"]
    assert [u["dataset"] for u in assets["utterances"]] == [
        "Train",
        "Train",
        "Train",
        "Test",
    ]
    router = orchestration_document("r", [("banking", "clinc_banking")], threshold=0.5)
    intent = router["assets"]["intents"][0]
    assert intent["orchestration"]["conversationOrchestration"] == {
        "projectName": "clinc_banking",
        "deploymentName": "production",
    }
    assert router["metadata"]["settings"] == {"confidenceThreshold": 0.5}
    assert domain_of({"banking": ["balance"], "home": ["lights"]}) == {
        "balance": "banking",
        "lights": "home",
    }
