from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline

from training.engine.artifacts import (
    ArtifactError,
    ArtifactManifest,
    dump_model,
    library_versions,
    load_model,
    training_data_hash,
)
from training.engine.types import Span

TEXTS = ["book a flight", "fly to paris", "what's the weather", "is it raining"]
LABELS = ["Travel", "Travel", "Weather", "Weather"]
RECORDS = [
    {"text": text, "intent": label, "entities": []}
    for text, label in zip(TEXTS, LABELS, strict=True)
]


def _fitted() -> Pipeline:
    pipeline = make_pipeline(TfidfVectorizer(), LogisticRegression())
    return pipeline.fit(TEXTS, LABELS)


@pytest.fixture(scope="module")
def artifact() -> tuple[bytes, ArtifactManifest]:
    return dump_model(
        _fitted(),
        training_data_hash=training_data_hash(RECORDS),
        params={"trainingMode": "standard", "seed": 0},
    )


def test_round_trip_predicts_the_same(artifact: tuple[bytes, ArtifactManifest]) -> None:
    data, manifest = artifact
    loaded = load_model(
        data, manifest, expected_training_data_hash=training_data_hash(RECORDS)
    )
    assert isinstance(loaded, Pipeline)
    original = _fitted()
    assert np.allclose(
        loaded.predict_proba(["rain tomorrow"]),
        original.predict_proba(["rain tomorrow"]),
    )


def test_manifest_records_hash_versions_params_and_size(
    artifact: tuple[bytes, ArtifactManifest],
) -> None:
    data, manifest = artifact
    assert manifest.size == len(data)
    assert len(manifest.sha256) == 64
    assert (
        manifest.library_versions["scikit-learn"] == library_versions()["scikit-learn"]
    )
    assert {"python", "numpy", "scipy"} <= set(manifest.library_versions)
    assert manifest.params == {"trainingMode": "standard", "seed": 0}
    assert manifest.created_at.endswith("Z")


def test_manifest_survives_json_and_loads_from_a_dict(
    artifact: tuple[bytes, ArtifactManifest],
) -> None:
    data, manifest = artifact
    stored = json.loads(json.dumps(manifest.to_dict()))
    assert ArtifactManifest.from_dict(stored) == manifest
    assert isinstance(load_model(data, stored), Pipeline)


def test_flipping_one_byte_is_refused(
    artifact: tuple[bytes, ArtifactManifest],
) -> None:
    data, manifest = artifact
    tampered = bytearray(data)
    tampered[len(tampered) // 2] ^= 0x01
    with pytest.raises(ArtifactError, match="sha256 mismatch"):
        load_model(bytes(tampered), manifest)


def test_truncated_artifact_is_refused(
    artifact: tuple[bytes, ArtifactManifest],
) -> None:
    data, manifest = artifact
    with pytest.raises(ArtifactError, match="sha256 mismatch"):
        load_model(data[:-1], manifest)


@pytest.mark.parametrize(
    ("library", "fake"),
    [("scikit-learn", "1.9.0-other"), ("numpy", "1.0.0"), ("python", "3.99.0")],
)
def test_version_mismatch_is_refused(
    artifact: tuple[bytes, ArtifactManifest], library: str, fake: str
) -> None:
    data, manifest = artifact
    versions = {**manifest.library_versions, library: fake}
    changed = dataclasses.replace(manifest, library_versions=versions)
    with pytest.raises(ArtifactError, match=f"library version mismatch.*{library}"):
        load_model(data, changed)


def test_patch_level_difference_is_accepted_where_policy_allows(
    artifact: tuple[bytes, ArtifactManifest],
) -> None:
    data, manifest = artifact
    major, minor, *_ = manifest.library_versions["numpy"].split(".")
    versions = {**manifest.library_versions, "numpy": f"{major}.{minor}.999"}
    assert load_model(data, dataclasses.replace(manifest, library_versions=versions))


def test_library_missing_here_is_refused(
    artifact: tuple[bytes, ArtifactManifest],
) -> None:
    data, manifest = artifact
    versions = {**manifest.library_versions, "torch": "2.0.0"}
    with pytest.raises(ArtifactError, match="needs torch 2.0.0"):
        load_model(data, dataclasses.replace(manifest, library_versions=versions))


def test_training_data_hash_mismatch_is_refused(
    artifact: tuple[bytes, ArtifactManifest],
) -> None:
    data, manifest = artifact
    edited = [*RECORDS[:-1], {**RECORDS[-1], "intent": "Travel"}]
    with pytest.raises(ArtifactError, match="training data hash mismatch"):
        load_model(
            data, manifest, expected_training_data_hash=training_data_hash(edited)
        )


def test_unknown_format_version_is_refused(
    artifact: tuple[bytes, ArtifactManifest],
) -> None:
    data, manifest = artifact
    with pytest.raises(ArtifactError, match="format_version 99"):
        load_model(data, dataclasses.replace(manifest, format_version=99))


def test_incomplete_manifest_is_refused(
    artifact: tuple[bytes, ArtifactManifest],
) -> None:
    data, manifest = artifact
    stored = manifest.to_dict()
    del stored["sha256"]
    with pytest.raises(ArtifactError, match="missing sha256"):
        load_model(data, stored)


@pytest.mark.parametrize("size", ["12", -1, True, None])
def test_malformed_manifest_size_is_an_artifact_error(
    artifact: tuple[bytes, ArtifactManifest], size: object
) -> None:
    data, manifest = artifact
    stored = manifest.to_dict()
    stored["size"] = size
    with pytest.raises(ArtifactError, match="size"):
        load_model(data, stored)


def test_signed_manifest_detects_bytes_and_manifest_replaced_together() -> None:
    key = b"k" * 32
    data, manifest = dump_model(
        _fitted(), training_data_hash="abc", params={}, signing_key=key
    )
    assert load_model(data, manifest, signing_key=key)
    other_data, other_manifest = dump_model(
        {"evil": True}, training_data_hash="abc", params={}
    )
    forged = dataclasses.replace(other_manifest, signature=manifest.signature)
    with pytest.raises(ArtifactError, match="signature mismatch"):
        load_model(other_data, forged, signing_key=key)
    with pytest.raises(ArtifactError, match="signature missing"):
        load_model(other_data, other_manifest, signing_key=key)


def test_a_fallback_key_verifies_and_an_unknown_key_is_refused() -> None:
    old, new, stranger = b"o" * 32, b"n" * 32, b"s" * 32
    data, manifest = dump_model(
        _fitted(), training_data_hash="abc", params={}, signing_key=old
    )
    assert load_model(data, manifest, signing_key=new, fallback_keys=[old])
    with pytest.raises(ArtifactError, match="nor a fallback key"):
        load_model(data, manifest, signing_key=new, fallback_keys=[stranger])
    tampered = dataclasses.replace(manifest, training_data_hash="abd")
    with pytest.raises(ArtifactError, match="signature mismatch"):
        load_model(data, tampered, signing_key=new, fallback_keys=[old])


def test_training_data_hash_is_canonical_but_order_sensitive() -> None:
    reordered_keys = [dict(reversed(list(r.items()))) for r in RECORDS]
    assert training_data_hash(reordered_keys) == training_data_hash(RECORDS)
    assert training_data_hash(list(reversed(RECORDS))) != training_data_hash(RECORDS)
    assert training_data_hash([]) != training_data_hash([{}])


def test_training_data_hash_accepts_dataclasses_and_tuples() -> None:
    as_objects = [("fly to paris", (Span("City", 7, 5),))]
    as_plain = [["fly to paris", [{"category": "City", "offset": 7, "length": 5}]]]
    assert training_data_hash(as_objects) == training_data_hash(as_plain)


def test_unserializable_training_data_is_refused() -> None:
    with pytest.raises(ArtifactError, match="cannot hash training data"):
        training_data_hash([object()])


def test_unpicklable_model_is_refused() -> None:
    with pytest.raises(ArtifactError, match="cannot be serialized"):
        dump_model(lambda text: text, training_data_hash="x", params={})
