from __future__ import annotations

import json
import pickle
import zlib

import numpy as np
import pytest

from bench.entities import load_sample, micro_prf, run
from tests.conftest import shared_data_dir, skip_or_fail
from training.engine.entities import (
    EntityDefinition,
    EntityExtractor,
    ListSublist,
    definition_from_exported,
)
from training.engine.entities.learned import (
    LearnedTagger,
    WordClusters,
    bio_labels,
    token_features,
    vector_classes,
)
from training.engine.entities.tokens import tokenize
from training.engine.offsets import StringIndexType, from_code_points, to_code_points
from training.engine.types import Span

NAMES = ["Anna", "Bob", "Carol", "Dmitri", "Eve", "Farid", "Greta", "Hiro"]
TEMPLATES = [
    "send an email to {}",
    "write to {} about lunch",
    "email {} now",
    "forward this to {} please",
]


def _data() -> tuple[list[str], list[list[Span]]]:
    texts, spans = [], []
    for i, name in enumerate(NAMES):
        for template in TEMPLATES[i % 2 :: 2] + TEMPLATES[: i % 2]:
            text = template.format(name)
            texts.append(text)
            spans.append([Span("Contact", text.index(name), len(name))])
    texts.append("what is the weather")
    spans.append([])
    return texts, spans


def test_bio_labels_mark_overlapping_tokens_and_skip_nested_spans():
    tokens = tokenize("call Mary Ann now")
    labels = bio_labels(tokens, [Span("P", 5, 8), Span("P", 10, 3)])
    assert labels == ["O", "B-P", "I-P", "O"]


def test_learned_component_generalizes_to_unseen_names():
    texts, spans = _data()
    extractor = EntityExtractor.fit([], texts, spans)
    found = extractor.predict("send an email to Zelda")
    assert [(m.category, m.text, m.offset) for m in found] == [("Contact", "Zelda", 17)]
    assert 0.0 < found[0].confidence <= 1.0
    assert found[0].extra_information == ()
    assert extractor.predict("what is the weather") == []


def test_fit_reports_progress_up_to_one():
    seen: list[float] = []
    texts, spans = _data()
    EntityExtractor.fit([], texts, spans, progress=seen.append)
    assert seen
    assert seen == sorted(seen)
    assert seen[-1] == 1.0


def test_project_without_labels_has_no_learned_component():
    definition = EntityDefinition(
        "City", list_sublists=(ListSublist("x", {"": ("Oslo",)}),)
    )
    extractor = EntityExtractor.fit([definition], ["hello there"], [[]])
    assert [m.text for m in extractor.predict("fly to Oslo")] == ["Oslo"]


def test_fitted_extractor_pickles_and_predicts_the_same():
    texts, spans = _data()
    definition = EntityDefinition(
        "Contact", list_sublists=(ListSublist("boss", {"": ("my boss",)}),)
    )
    extractor = EntityExtractor.fit([definition], texts, spans)
    # Our own bytes, just made: artifacts verify their hash before this in real use.
    clone = pickle.loads(pickle.dumps(extractor))  # noqa: S301
    for text in ("email Quentin now", "write to my boss about lunch", "hi"):
        assert clone.predict(text) == extractor.predict(text)


def test_offsets_stay_exact_with_emoji_and_combining_marks():
    # "🧑🏽‍💻" is several code points and one grapheme; "é" here is e + U+0301.
    texts, spans = [], []
    for name in ["Zoe\u0301", "José", "Ånge\u0301", "Renée", "Chloe\u0301"]:
        for prefix in ["👍🏽 send an email to ", "🧑🏽‍💻 email ", "write to "]:
            text = f"{prefix}{name} 🎉"
            texts.append(text)
            spans.append([Span("Contact", len(prefix), len(name))])
    definition = EntityDefinition(
        "Contact", list_sublists=(ListSublist("ma", {"": ("Maël",)}),)
    )
    extractor = EntityExtractor.fit([definition], texts, spans)

    text = "🧑🏽‍💻 email Noe\u0301mie 🎉 and MAEL"
    found = extractor.predict(text)
    assert [m.text for m in found] == ["Noe\u0301mie", "MAEL"]
    for match in found:
        assert text[match.offset : match.end] == match.text
    noemie = found[0]
    assert (noemie.offset, noemie.length) == (text.index("N"), 7)
    # The same span in Azure's other index types, and back.
    for index_type, expected in [
        (
            StringIndexType.UTF16_CODE_UNIT,
            (text.encode("utf-16-le").index(b"N\x00") // 2, 7),
        ),
        (StringIndexType.TEXT_ELEMENTS_V8, (8, 6)),
    ]:
        converted = from_code_points(text, noemie.offset, noemie.length, index_type)
        assert converted == expected
        assert to_code_points(text, *converted, index_type) == (noemie.offset, 7)


def test_definition_from_exported_reads_every_component():
    item = json.loads(
        """{"category": "Number", "compositionSetting": "separateComponents",
        "list": {"sublists": [{"listKey": "sea", "synonyms": [
            {"language": "en", "values": ["Seattle", "SEA"]},
            {"language": "en", "values": ["Sea-Tac"]}]}]},
        "prebuilts": [{"category": "Quantity.Number"}],
        "regex": {"expressions": [{"regexKey": "uk", "language": "en-us",
                                    "regexPattern": "\\\\d+"}]},
        "requiredComponents": ["list"]}"""
    )
    definition = definition_from_exported(item)
    assert definition.composition_setting == "separateComponents"
    assert definition.list_sublists[0].synonyms == {"en": ("Seattle", "SEA", "Sea-Tac")}
    assert definition.prebuilts == ("Quantity.Number",)
    assert definition.regex[0].pattern == r"\d+"
    assert definition.regex[0].language == "en-us"
    assert definition.required_components == ("list",)
    assert definition_from_exported({"category": "X"}).composition_setting == (
        "combineComponents"
    )


def test_micro_prf_counts_exact_spans_only():
    gold = [[Span("A", 0, 3), Span("B", 4, 2)], [Span("A", 1, 1)]]
    guess = [[Span("A", 0, 3), Span("B", 4, 3)], []]
    assert micro_prf(gold, guess) == {"precision": 50.0, "recall": 33.33, "f1": 40.0}


def _shared_samples():
    folder = shared_data_dir()
    if not (folder / "azure-language-samples" / "CLU" / "EmailAppDemo.json").is_file():
        skip_or_fail(f"Azure CLU samples are absent under {folder}")
    return folder


@pytest.mark.data
def test_email_app_demo_sample_loads_utf16_offsets_as_code_points():
    folder = _shared_samples()
    _, texts, spans, intents, _ = load_sample(
        folder / "azure-language-samples" / "CLU" / "EmailAppDemo.json"
    )
    assert len(texts) == len(spans) == len(intents) == 607
    assert sum(len(s) for s in spans) == 525
    assert all(
        s.offset >= 0 and s.end <= len(t)
        for t, ss in zip(texts, spans, strict=True)
        for s in ss
    )


@pytest.mark.data
def test_benchmark_on_azure_samples_clears_a_modest_floor():
    results = run(_shared_samples())
    assert set(results) == {"EmailAppDemo", "HomeAutomationDemo"}
    assert results["EmailAppDemo"]["f1"] >= 65.0
    assert results["HomeAutomationDemo"]["f1_labelled_only"] >= 80.0
    for scores in results.values():
        assert 0.0 <= scores["precision"] <= 100.0
        assert scores["predict_ms"] < 5.0


def test_predict_batch_equals_predict_one_by_one():
    texts, spans = _data()
    extractor = EntityExtractor.fit([], texts, spans)
    queries = ["email Yusuf now", "", "write to Mia about lunch"]
    assert extractor.predict_batch(queries) == [extractor.predict(q) for q in queries]


def test_concurrent_predictions_agree_with_serial_ones():
    from concurrent.futures import ThreadPoolExecutor

    texts, spans = _data()
    extractor = EntityExtractor.fit([], texts, spans)
    queries = [f"email {name} now" for name in ["Ida", "Jon", "Kai", "Lu"]] * 25
    expected = [extractor.predict(q) for q in queries]
    with ThreadPoolExecutor(max_workers=4) as pool:
        assert list(pool.map(extractor.predict, queries)) == expected


CITIES = ["köln", "berlin", "paris", "oslo", "madrid", "wien", "rome", "lyon"]
CITY_TEMPLATES = ["weather in {}", "fly me to {}", "book a hotel in {}", "trains to {}"]


def _cities() -> tuple[list[str], list[list[Span]]]:
    texts, spans = [], []
    for city in CITIES:
        for template in CITY_TEMPLATES:
            text = template.format(city)
            texts.append(text)
            spans.append([Span("City", text.index(city), len(city))])
    return texts, spans


@pytest.mark.parametrize(
    ("text", "city"),
    [
        ("weather in köln 🙂", "köln"),
        ("weather in köln 🙂🙂", "köln"),
        ("fly me to lisbon 👍🏽", "lisbon"),
        ("trains to oslo!", "oslo"),
        ("🙂 trains to wien ✈️", "wien"),
    ],
)
def test_a_trailing_emoji_or_symbol_is_never_part_of_a_learned_span(
    text: str, city: str
) -> None:
    texts, spans = _cities()
    extractor = EntityExtractor.fit([], texts, spans)
    found = extractor.predict(text)
    assert [(m.category, m.text) for m in found] == [("City", city)]
    match = found[0]
    assert (match.offset, match.length) == (text.index(city), len(city))
    # Azure's UTF-16 offsets count the emoji before the span as two units.
    utf16 = from_code_points(
        text, match.offset, match.length, StringIndexType.UTF16_CODE_UNIT
    )
    prefix = text[: match.offset].encode("utf-16-le")
    assert utf16 == (len(prefix) // 2, len(city))


def test_a_category_trained_with_symbols_at_its_edge_keeps_them() -> None:
    texts, spans = [], []
    for lang in ["C++", "F#", "C#", "J#"]:
        for template in ["I write {}", "jobs in {}", "learn {} today"]:
            text = template.format(lang)
            texts.append(text)
            spans.append([Span("Language", text.index(lang), len(lang))])
    extractor = EntityExtractor.fit([], texts, spans)
    assert [m.text for m in extractor.predict("jobs in Q#")] == ["Q#"]


def test_fit_reports_iterations_of_the_sequence_model_and_stops_when_told() -> None:
    class Stop(Exception):
        pass

    seen: list[float] = []

    def progress(fraction: float) -> None:
        seen.append(fraction)
        if len(set(seen)) > 5:
            raise Stop

    texts, spans = _data()
    with pytest.raises(Stop):
        EntityExtractor.fit([], texts, spans, progress=progress)
    assert len(set(seen)) > 5
    assert seen[-1] < 1.0


def _slot_texts() -> list[str]:
    cities = [f"city{chr(97 + i)}" for i in range(12)]
    meals = [f"meal{chr(97 + i)}" for i in range(12)]
    texts = [f"fly from {a} to {b}" for a in cities for b in cities[:4] if a != b]
    texts += [f"i want a {m} meal please" for m in meals]
    texts += [f"serve {m} with tea" for m in meals]
    return texts


def test_word_clusters_group_words_that_fill_the_same_slot():
    clusters = WordClusters.fit(_slot_texts(), sizes=(2, 4))
    assert clusters is not None
    city_ids = {clusters.table[f"city{chr(97 + i)}"][0] for i in range(12)}
    meal_ids = {clusters.table[f"meal{chr(97 + i)}"][0] for i in range(12)}
    assert len(city_ids) == 1
    assert len(meal_ids) == 1
    assert city_ids != meal_ids
    assert clusters.features("citya", "-1") == [
        f"-1c2={clusters.table['citya'][0]}",
        f"-1c4={clusters.table['citya'][1]}",
    ]
    # Words outside the training texts have no class, hence no feature.
    assert clusters.features("boise") == []


def test_word_clusters_need_more_words_than_classes():
    assert WordClusters.fit(["fly to oslo", "fly to rome"], sizes=(32,)) is None


def test_token_features_see_four_words_each_side_and_the_word_classes():
    text = "one two three four five six seven eight nine"
    tokens = tokenize(text)
    words = [t.text for t in tokens]
    clusters = WordClusters({"five": (1, 7), "three": (0, 3)}, (2, 8))
    features = token_features(tokens, words, [[] for _ in tokens], clusters=clusters)[4]
    assert {"-4w=one", "-1w=four", "4w=nine", "c2=1", "c8=7", "-2c8=3"} <= set(features)
    assert not [f for f in features if f.startswith(("-5w=", "5w="))]
    narrow = token_features(tokens, words, [[] for _ in tokens], window=2)[4]
    assert "-3w=two" not in narrow
    assert "-2w=three" in narrow
    assert not [f for f in narrow if "c2=" in f]


def test_a_tagger_trained_with_word_classes_keeps_them_pickled():
    texts = _slot_texts()
    clusters = WordClusters.fit(texts, sizes=(2, 4))
    assert clusters is not None
    sequences = []
    for text in texts:
        tokens = tokenize(text)
        words = [t.text for t in tokens]
        spans = [Span("City", t.start, len(t.text)) for t in tokens if "city" in t.text]
        sequences.append(
            (
                token_features(tokens, words, [[] for _ in tokens], clusters=clusters),
                bio_labels(tokens, spans),
            )
        )
    tagger = LearnedTagger.fit(sequences, clusters=clusters)
    assert tagger is not None
    clone = pickle.loads(pickle.dumps(tagger))  # noqa: S301
    assert clone.clusters is not None
    assert clone.clusters.table == clusters.table
    tokens = tokenize("fly from cityk to citya")
    features = token_features(
        tokens, [t.text for t in tokens], [[] for _ in tokens], clusters=clone.clusters
    )
    assert [(h.category, h.start) for h in clone.predict(tokens, features)] == [
        ("City", 9),
        ("City", 18),
    ]
    assert clone.predict(tokens, features) == tagger.predict(tokens, features)


def test_models_loaded_in_one_process_share_their_tables_word_classes():
    """Every model trained with a table's classes pickles its own copy (50,000
    words: ~7 MB each once loaded); loaded, they share one object. Classes
    pickled before they had a key, or of another key, are kept as they are."""
    texts = _slot_texts()
    fitted = WordClusters.fit(texts, sizes=(2, 4))
    assert fitted is not None
    clusters = WordClusters(dict(fitted.table), fitted.sizes, key="table:16x16")
    sequences = []
    for text in texts:
        tokens = tokenize(text)
        words = [t.text for t in tokens]
        spans = [Span("City", t.start, len(t.text)) for t in tokens if "city" in t.text]
        features = token_features(
            tokens, words, [[] for _ in tokens], clusters=clusters
        )
        sequences.append((features, bio_labels(tokens, spans)))
    tagger = LearnedTagger.fit(sequences, clusters=clusters)
    assert tagger is not None
    first = pickle.loads(pickle.dumps(tagger))  # noqa: S301
    second = pickle.loads(pickle.dumps(tagger))  # noqa: S301
    assert first.clusters is second.clusters
    assert first.clusters is not None and first.clusters.table == clusters.table
    other = WordClusters(dict(fitted.table), fitted.sizes, key="another:16x16")
    tagger.clusters = other
    assert pickle.loads(pickle.dumps(tagger)).clusters is not first.clusters  # noqa: S301
    old = WordClusters(dict(fitted.table), fitted.sizes)
    del old.__dict__["key"]  # as pickled before classes had a key
    tagger.clusters = old
    unshared = [pickle.loads(pickle.dumps(tagger)).clusters for _ in range(2)]  # noqa: S301
    assert unshared[0] is not unshared[1]
    assert unshared[0] is not None and unshared[0].table == fitted.table


def test_a_tagger_pickled_before_word_classes_loads_without_them():
    texts, spans = _data()
    learned = EntityExtractor.fit([], texts, spans)._learned
    assert learned is not None
    state = learned.__getstate__()
    del state["clusters"]
    restored = LearnedTagger.__new__(LearnedTagger)
    restored.__setstate__(state)
    assert restored.clusters is None
    tokens = tokenize("email Zelda now")
    features = token_features(tokens, [t.text.lower() for t in tokens], [[]] * 3)
    assert [h.category for h in restored.predict(tokens, features)] == ["Contact"]


# A stand-in word vector table: each group's words point along one direction
# (fruits and vegetables share the "food" axis, colours and metals the
# "property" axis), every word with its own noise.
_WORDS = {
    "fruit": "apple banana cherry mango kiwi plum lemon grape",
    "vegetable": "carrot potato onion leek celery radish bean pea",
    "colour": "red blue green pink teal amber violet ivory",
    "metal": "iron copper zinc tin nickel cobalt lead silver",
}
_PARENT = {"fruit": "food", "vegetable": "food", "colour": "property"}
_GROUPS = {
    group: (_PARENT.get(group, "property"), words.split(" "))
    for group, words in _WORDS.items()
}
_AXES = {"food": 0, "property": 1, "fruit": 2, "vegetable": 3, "colour": 4, "metal": 5}


def _word_vectors() -> tuple[list[str], np.ndarray]:
    words, rows = [], []
    for group, (parent, members) in _GROUPS.items():
        for word in members:
            rng = np.random.default_rng(zlib.crc32(word.encode()))
            row = rng.normal(scale=0.1, size=12)
            row[_AXES[parent]] += 3.0
            row[_AXES[group]] += 1.5
            words.append(word)
            rows.append(row)
    return words, np.asarray(rows)


def test_vector_classes_refine_groups_of_words_that_point_the_same_way():
    words, rows = _word_vectors()
    classes = WordClusters.from_vectors(words, rows, branching=(2, 2))
    assert classes.sizes == (2, 4)
    assert set(classes.table) == set(words)
    for group, (_, members) in _GROUPS.items():
        assert len({classes.table[w] for w in members}) == 1, group
    top = {g: classes.table[m[0]][0] for g, (_, m) in _GROUPS.items()}
    fine = {g: classes.table[m[0]][1] for g, (_, m) in _GROUPS.items()}
    assert top["fruit"] == top["vegetable"] != top["colour"] == top["metal"]
    assert len(set(fine.values())) == 4
    # A finer class lies inside its coarser one, like a path prefix.
    assert all(f // 2 == t for t, f in classes.table.values())
    assert classes.features("kiwi", "-1") == [
        f"-1c2={top['fruit']}",
        f"-1c4={fine['fruit']}",
    ]
    assert classes.features("boise") == []


def test_vector_classes_never_ask_for_more_groups_than_distinct_words():
    rows = np.repeat(np.eye(3), 2, axis=0)
    classes = WordClusters.from_vectors(list("abcdef"), rows, branching=(8, 4))
    assert classes.table["a"] == classes.table["b"] != classes.table["c"]
    assert len({ids[0] for ids in classes.table.values()}) == 3


def _slot_project() -> tuple[list[str], list[list[Span]]]:
    """Fruits and colours fill the same slots; the words of each kind seen in
    training are the first four, so only a word's class can tell what an unseen
    one (kiwi, teal) is."""
    templates = ["i like {}", "give me some {} please", "is {} good", "{} is nice"]
    texts, spans = [], []
    for group, category in (("fruit", "Fruit"), ("colour", "Colour")):
        for word in _GROUPS[group][1][:4]:
            for template in templates:
                text = template.format(word)
                texts.append(text)
                spans.append([Span(category, text.index(word), len(word))])
    return texts, spans


def test_word_classes_from_the_table_label_words_training_never_saw():
    words, rows = _word_vectors()
    classes = WordClusters.from_vectors(words, rows, branching=(2, 4))
    texts, spans = _slot_project()
    extractor = EntityExtractor.fit([], texts, spans, word_classes=classes)
    found = {
        unseen: [(m.category, m.text) for m in extractor.predict(f"i like {unseen}")]
        for unseen in ("kiwi", "plum", "lemon", "teal", "amber", "violet")
    }
    assert found == {
        "kiwi": [("Fruit", "kiwi")],
        "plum": [("Fruit", "plum")],
        "lemon": [("Fruit", "lemon")],
        "teal": [("Colour", "teal")],
        "amber": [("Colour", "amber")],
        "violet": [("Colour", "violet")],
    }
    # The model keeps its classes: a pickled copy labels the same.
    clone = pickle.loads(pickle.dumps(extractor))  # noqa: S301
    assert clone.predict("is teal good") == extractor.predict("is teal good")
    assert clone._learned is not None and clone._learned.clusters is not None


def test_without_word_classes_the_learned_model_still_trains():
    texts, spans = _slot_project()
    extractor = EntityExtractor.fit([], texts, spans, word_classes=None)
    assert extractor._learned is not None
    assert extractor._learned.clusters is None
    assert [m.category for m in extractor.predict("i like apple")] == ["Fruit"]


class _Table:
    """What ``vector_classes`` reads of a static word vector table."""

    def __init__(self, sha256: str) -> None:
        self.spec = type("Spec", (), {"sha256": sha256})()
        self.words, self.rows = _word_vectors()


def test_vector_classes_are_computed_once_per_table_in_a_process():
    first, again, other = _Table("a" * 64), _Table("a" * 64), _Table("b" * 64)
    classes = vector_classes(first, (2, 2))  # type: ignore[arg-type]
    assert vector_classes(again, (2, 2)) is classes  # type: ignore[arg-type]
    assert vector_classes(other, (2, 2)) is not classes  # type: ignore[arg-type]
    assert vector_classes(first, (4,)) is not classes  # type: ignore[arg-type]


@pytest.mark.parametrize("algorithm", ["ap", "pa"])
def test_the_tagger_trains_with_another_crfsuite_algorithm(algorithm: str) -> None:
    texts, spans = _data()
    sequences = []
    for text, labelled in zip(texts, spans, strict=True):
        tokens = tokenize(text)
        words = [t.text.lower() for t in tokens]
        sequences.append(
            (
                token_features(tokens, words, [[] for _ in tokens]),
                bio_labels(tokens, labelled),
            )
        )
    seen: list[float] = []
    tagger = LearnedTagger.fit(
        sequences, algorithm=algorithm, max_iterations=10, progress=seen.append
    )
    assert tagger is not None
    tokens = tokenize("send an email to Zelda")
    features = token_features(
        tokens, [t.text.lower() for t in tokens], [[] for _ in tokens]
    )
    assert [(h.category, h.start) for h in tagger.predict(tokens, features)] == [
        ("Contact", 17)
    ]
    assert seen
