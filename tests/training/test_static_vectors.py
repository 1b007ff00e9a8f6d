"""Static word vectors for standard mode: building the table once, loading it
once per process, and the classifier's use of it (issue 15 item 4).

A tiny stand-in encoder (pure numpy) gives words of one topic vectors that point
the same way, so a model trained on some words of a topic recognizes others it
never saw, which TF-IDF alone cannot.
"""

from __future__ import annotations

import pickle
import sys
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pytest

from tests.training.word_encoder import FILLER, TOPICS, VOCABULARY, WordEncoder
from training.engine import embeddings, intents, static_vectors
from training.engine.artifacts import ArtifactError, dump_model, load_model
from training.engine.intents import IntentClassifier
from training.engine.static_vectors import (
    StaticVectorsSpec,
    StaticVectorsUnavailable,
    TableRecipe,
    available_table,
    build_in_background,
    build_table,
    get_table,
    load_table,
)


@pytest.fixture
def encoder(monkeypatch: pytest.MonkeyPatch) -> WordEncoder:
    fake = WordEncoder()
    # get_encoder(spec) finds it as a loaded encoder (no registry entry needed).
    monkeypatch.setitem(embeddings._encoders, fake.spec, fake)
    return fake


@pytest.fixture
def recipe(encoder: WordEncoder) -> TableRecipe:
    return TableRecipe(
        encoder=encoder.spec,
        vocabulary=lambda: list(VOCABULARY),
        dims=8,
        load_encoder=lambda: encoder,
        languages=("en",),
    )


@pytest.fixture(autouse=True)
def table_dir(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    directory = tmp_path / "static-vectors"
    monkeypatch.delenv(static_vectors.STATIC_DIR_ENV, raising=False)
    monkeypatch.setattr(static_vectors, "_configured_dir", directory)
    monkeypatch.setattr(static_vectors, "_tables", {})
    yield directory


def _training_set() -> tuple[list[str], list[str]]:
    """Each of the first seven words of a topic appears in one utterance, with
    filler shared by every intent; the last two ("jet", "concert", "snow", ...)
    never appear. A held-out utterance has a topic word no other one has, so only
    the table can tell its intent, and the weight chosen on held-out folds shows
    it."""
    texts, labels = [], []
    for label, words in TOPICS.items():
        for i, word in enumerate(words[:7]):
            filler = " ".join(FILLER[(i + k) % len(FILLER)] for k in range(3))
            texts.append(f"{filler} {word}")
            labels.append(label)
    texts.append("i need an airfare please")
    labels.append("Travel")
    return texts, labels


UNSEEN = {
    "show me the jet": "Travel",
    "a layover please": "Travel",
    "i want a concert": "Music",
    "the guitar please": "Music",
    "snow about my": "Weather",
    "show me humid": "Weather",
}


def test_the_table_is_built_once_and_found_by_later_processes(
    recipe: TableRecipe, encoder: WordEncoder, table_dir: Path
) -> None:
    assert available_table(recipe) is None
    table = build_table(recipe)
    assert sum(encoder.calls) == len(VOCABULARY)
    assert table.rows.shape == (len(VOCABULARY), 8)
    files = list(table_dir.glob("*.npz"))
    assert len(files) == 1
    assert not list(table_dir.glob("*.tmp"))
    # A second build (another process would see the file too) encodes nothing.
    again = build_table(recipe)
    assert sum(encoder.calls) == len(VOCABULARY)
    assert again.spec == table.spec
    static_vectors._tables.clear()
    found = available_table(recipe)
    assert found is not None and found.spec == table.spec


def test_concurrent_first_use_builds_the_table_once(
    recipe: TableRecipe, encoder: WordEncoder
) -> None:
    results: list[StaticVectorsSpec] = []
    threads = [
        threading.Thread(target=lambda: results.append(build_table(recipe).spec))
        for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(encoder.calls) == len(VOCABULARY)
    assert len(set(results)) == 1 and len(results) == 4


def test_a_background_build_makes_the_table_available(recipe: TableRecipe) -> None:
    assert build_in_background(recipe)
    static_vectors._background[str(static_vectors.table_path(recipe))].join(30)
    assert available_table(recipe) is not None


def test_an_altered_table_file_is_refused(recipe: TableRecipe) -> None:
    table = build_table(recipe)
    path = static_vectors.table_path(recipe)
    assert path is not None
    with path.open("ab") as handle:
        handle.write(b"x")
    static_vectors._tables.clear()
    with pytest.raises(StaticVectorsUnavailable, match="sha256"):
        load_table(path, expected_sha256=table.spec.sha256)
    with pytest.raises(StaticVectorsUnavailable, match="manage.py restore"):
        get_table(table.spec)


def test_tables_can_be_turned_off(
    recipe: TableRecipe, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(static_vectors.STATIC_DIR_ENV, "off")
    assert available_table(recipe) is None
    assert not build_in_background(recipe)
    with pytest.raises(StaticVectorsUnavailable, match="turned off"):
        build_table(recipe)


def test_standard_mode_recognizes_words_it_never_saw_through_the_table(
    recipe: TableRecipe,
) -> None:
    texts, labels = _training_set()
    table = build_table(recipe)
    lexical = IntentClassifier.fit(texts, labels, static_note="not built")
    joined = IntentClassifier.fit(texts, labels, static_vectors=table)

    assert lexical.static_selection is None
    assert lexical.static_note == "not built"
    assert joined.static_selection is not None
    assert set(joined.static_selection) == {2.0, 1.0, 0.0}
    assert joined.embedding_weight > 0.0
    assert joined.static_spec == table.spec

    def right(model: IntentClassifier) -> int:
        return sum(model.predict(t)[0][0] == label for t, label in UNSEEN.items())

    assert right(joined) == len(UNSEEN)
    assert right(lexical) < len(UNSEEN)


def test_training_words_missing_from_the_table_travel_with_the_model(
    recipe: TableRecipe, encoder: WordEncoder
) -> None:
    texts, labels = _training_set()
    model = IntentClassifier.fit(texts, labels, static_vectors=build_table(recipe))
    assert model.static_extra_words == ["airfare", "an"]
    assert model.predict("airfare")[0][0] == "Travel"


def test_batch_and_single_predictions_agree_after_a_round_trip(
    recipe: TableRecipe,
) -> None:
    texts, labels = _training_set()
    model = IntentClassifier.fit(texts, labels, static_vectors=build_table(recipe))
    restored = pickle.loads(pickle.dumps(model))  # noqa: S301 - our own model
    other = pickle.loads(pickle.dumps(model))  # noqa: S301 - our own model
    # One table per process, shared by every model that uses it.
    assert restored._static is not None and other._static is not None
    assert restored._static._table is other._static._table
    probs = restored.predict_proba_batch(list(UNSEEN))
    for row, text in zip(probs, UNSEEN, strict=True):
        single = dict(restored.predict(text))
        expected = [single[label] for label in restored.labels]
        np.testing.assert_allclose(row, expected, rtol=1e-5, atol=1e-7)
        original = dict(model.predict(text))
        assert original == pytest.approx(single)


def test_a_model_whose_table_is_gone_says_how_to_get_it_back(
    recipe: TableRecipe,
) -> None:
    texts, labels = _training_set()
    model = IntentClassifier.fit(texts, labels, static_vectors=build_table(recipe))
    data, manifest = dump_model(model, training_data_hash="h", params={})
    path = static_vectors.table_path(recipe)
    assert path is not None
    path.unlink()
    static_vectors._tables.clear()
    with pytest.raises(ArtifactError, match="static word vectors unusable"):
        load_model(data, manifest)
    with pytest.raises(StaticVectorsUnavailable, match="manage.py restore"):
        pickle.loads(data)  # noqa: S301 - our own model


def _large_set() -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for label, words in TOPICS.items():
        for i in range(700):
            filler = " ".join(FILLER[(i + k) % len(FILLER)] for k in range(3))
            texts.append(f"{filler} {words[i % 7]} {i}")
            labels.append(label)
    return texts, labels


def test_large_sets_fit_the_block_in_its_top_directions(
    recipe: TableRecipe, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(intents, "_STATIC_FIT_DIMS", 2)
    monkeypatch.setattr(intents, "_STATIC_WEIGHTS_LARGE", (1.0,))
    texts, labels = _large_set()
    model = IntentClassifier.fit(texts, labels, static_vectors=build_table(recipe))
    assert model.static_spec is not None and model._linear is not None
    # Fitted on 2 directions of the 8-dimension block (3 classes: rank 3 if
    # not), mapped back to all 8: predictions read the whole block.
    dense_rows = model._linear.coef[-8:].astype(np.float64)
    assert np.linalg.matrix_rank(dense_rows, tol=1e-4) == 2
    assert np.abs(dense_rows).sum() > 0
    assert model.predict_batch(texts[::50]) == labels[::50]


def test_large_sets_try_one_weight_besides_zero(recipe: TableRecipe) -> None:
    texts, labels = _large_set()
    model = IntentClassifier.fit(texts, labels, static_vectors=build_table(recipe))
    assert model.static_selection is not None
    assert set(model.static_selection) == {1.0, 0.0}


EXIT_DURING_BUILD = """
import sys, threading, time
from pathlib import Path
from tests.training.word_encoder import WordEncoder
from training.engine import static_vectors

log = Path(sys.argv[1])
started = threading.Event()


class SlowEncoder(WordEncoder):
    def encode(self, texts):
        with log.open("a") as out:
            out.write("start\\n")
        started.set()
        time.sleep(0.5)
        with log.open("a") as out:
            out.write("end\\n")
        return super().encode(texts)


slow = SlowEncoder()
static_vectors._configured_dir = Path(sys.argv[2])
recipe = static_vectors.TableRecipe(
    encoder=slow.spec,
    vocabulary=lambda: [f"w{i}" for i in range(5 * static_vectors._BUILD_BATCH)],
    dims=4,
    load_encoder=lambda: slow,
    languages=("en",),
)
assert static_vectors.build_in_background(recipe)
started.wait(30)
"""


def test_exiting_during_a_background_build_stops_it_after_its_batch(
    tmp_path: Path,
) -> None:
    """Regression: the interpreter exited while the build's thread was inside the
    encoder; with the ONNX encoder that aborted the process (exit status -6, as
    `make run` stopped or `loaddemo` ended). Now exit waits for the current batch,
    starts no other, and writes no table."""
    import subprocess
    import sys

    log = tmp_path / "batches.log"
    tables = tmp_path / "tables"
    done = subprocess.run(
        [sys.executable, "-c", EXIT_DURING_BUILD, str(log), str(tables)],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 0, done.stderr
    assert log.read_text().split() == ["start", "end"]
    assert not any(tables.glob("*.npz"))


# -- SIF-weighted tables (format 2): a word-frequency vocabulary --------------

# Stand-in frequencies: the filler words are common, topic words rare.
FREQUENCY = dict.fromkeys(FILLER, 0.01)


def _sif(words: Sequence[str]) -> np.ndarray:
    a = 1e-3
    return np.array([a / (a + FREQUENCY.get(w, 0.0)) for w in words])


@pytest.fixture
def weighted(encoder: WordEncoder) -> TableRecipe:
    return TableRecipe(
        encoder=encoder.spec,
        vocabulary=lambda: list(VOCABULARY),
        dims=8,
        load_encoder=lambda: encoder,
        languages=("en",),
        weights=_sif,
        weighting="sif=0.001",
    )


def test_a_weighted_table_stores_its_weights_and_has_its_own_name(
    recipe: TableRecipe, weighted: TableRecipe
) -> None:
    plain, table = build_table(recipe), build_table(weighted)
    assert static_vectors.table_path(recipe) != static_vectors.table_path(weighted)
    assert plain.spec.table_id != table.spec.table_id
    assert not plain.weighted and table.weighted
    # Same words, same encoder, same PCA: the rows differ by the weights only.
    weights = _sif(table.words)
    np.testing.assert_allclose(
        table.rows, plain.rows * weights[:, None], rtol=2e-3, atol=1e-4
    )
    assert weights[table.index["the"]] < 0.1 < weights[table.index["jet"]]
    reloaded = load_table(static_vectors.table_path(weighted))  # type: ignore[arg-type]
    assert reloaded.weighted and reloaded.spec == table.spec
    np.testing.assert_array_equal(reloaded.rows, table.rows)


def test_a_model_pools_a_weighted_table_without_idf(weighted: TableRecipe) -> None:
    texts, labels = _training_set()
    table = build_table(weighted)
    model = IntentClassifier.fit(texts, labels, static_vectors=table)
    block = model._static
    assert block is not None
    # Filler weighs 0.09 and topic words 1; "airfare" (not in the table) 1.
    words = ["show", "me", "the", "jet", "airfare"]
    extra = block._extra_rows32[block._extra["airfare"]]
    rows = table.rows[[table.index[w] for w in words[:4]]].astype(np.float64)
    expected = rows.sum(axis=0) + extra
    pooled = block.vector(words)
    assert pooled is not None
    np.testing.assert_allclose(pooled, expected / np.linalg.norm(expected), rtol=1e-5)
    assert right_unseen(model) == len(UNSEEN)


def right_unseen(model: IntentClassifier) -> int:
    return sum(model.predict(t)[0][0] == label for t, label in UNSEEN.items())


def test_models_of_the_previous_table_keep_loading_it(
    recipe: TableRecipe, weighted: TableRecipe, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A model trained with a format 1 table (IDF weights, the tokenizer's
    vocabulary) loads that table by its sha256 after the default recipe became
    a weighted one, and predicts as before."""
    texts, labels = _training_set()
    old = IntentClassifier.fit(texts, labels, static_vectors=build_table(recipe))
    data, manifest = dump_model(old, training_data_hash="h", params={})
    before = [dict(old.predict(t)) for t in UNSEEN]
    monkeypatch.setattr(static_vectors, "DEFAULT_RECIPE", weighted)
    new = IntentClassifier.fit(texts, labels, static_vectors=build_table())
    assert new.static_spec != old.static_spec
    static_vectors._tables.clear()
    loaded = load_model(data, manifest)
    assert isinstance(loaded, IntentClassifier)
    assert loaded.static_spec == old.static_spec
    for text, expected in zip(UNSEEN, before, strict=True):
        assert dict(loaded.predict(text)) == pytest.approx(expected)


def test_frequent_words_are_whole_words_most_frequent_first() -> None:
    words = static_vectors.frequent_words(2000)
    assert len(words) == 2000 == len(set(words))
    assert words[:3] == ["the", "to", "and"]
    assert all(static_vectors._WHOLE_WORD.fullmatch(w) for w in words)
    assert "refund" in static_vectors.frequent_words()
    weights = static_vectors.sif_weights(["the", "refund", "reimbursement"])
    assert weights[0] < 0.05 < 0.5 < weights[1] <= weights[2] <= 1.0


def test_without_wordfreq_there_is_no_table_and_no_build(
    monkeypatch: pytest.MonkeyPatch, encoder: WordEncoder
) -> None:
    monkeypatch.setitem(sys.modules, "wordfreq", None)
    with pytest.raises(StaticVectorsUnavailable, match="wordfreq"):
        static_vectors.frequent_words(10)
    recipe = TableRecipe(
        encoder=encoder.spec,
        vocabulary=static_vectors.frequent_words,
        dims=8,
        load_encoder=lambda: encoder,
        languages=("en",),
    )
    assert available_table(recipe) is None
    assert not build_in_background(recipe)
