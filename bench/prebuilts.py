"""Prebuilt entity benchmark: accuracy of the two recognizers on a table of
utterances, and what prebuilts cost a prediction.

    python -m bench.prebuilts [--data PATH] [--utterances 1000] [--json]

1. Accuracy. ``CASES`` holds English utterances with the spans (and the value that
   matters: number, ordinal offset, timex) each category should find, including
   utterances where it should find nothing. Every category that has both a
   hand-written recognizer and a Recognizers-Text model is scored with both: an
   utterance counts when the found (text, value) pairs equal the expected ones.
   The mean time per call is printed beside it. ``training.engine.entities.
   prebuilt._HANDWRITTEN`` keeps the hand-written one only where it scores higher.
2. Cost. An ``EntityExtractor`` with one entity per catalog category predicts
   ``--utterances`` CLINC150 test utterances (the table's texts when the data set
   is absent): p50/p99 per utterance with no prebuilts, with all of them, and with
   all of them but the library's pre-filters off, with ratios to the first.
3. Training cost. Prebuilt hits are features of the learned entities, so fitting
   runs the prebuilts on every training utterance: ``EntityExtractor.fit`` on
   ``--fit-utterances`` ATIS utterances (date- and number-heavy) with their
   learned spans, without prebuilts and with a DateTime + Number entity.

Nothing here asserts.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import statistics
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from bench.data import DatasetMissing, default_data_dir, load_clinc150
from training.engine.entities import EntityDefinition, EntityExtractor, ListSublist
from training.engine.entities import prebuilt as pb
from training.engine.entities.prebuilt import recognizers as rt
from training.engine.entities.prebuilt.types import PrebuiltHit
from training.engine.types import Span

# A Saturday.
NOW = dt.datetime(2026, 11, 21, 10, 0)

Expected = list[tuple[str, Any]]

# (category, utterance, [(span text, key)]): the key is the number value, the
# ordinal (offset, relativeTo), the first timex, or None where Azure gives no
# resolution.
CASES: list[tuple[str, str, Expected]] = [
    # Quantity.Number
    ("Quantity.Number", "book a table for 4 people", [("4", 4)]),
    ("Quantity.Number", "transfer 1,250.75 to savings", [("1,250.75", 1250.75)]),
    ("Quantity.Number", "I need twenty one tickets", [("twenty one", 21)]),
    ("Quantity.Number", "add two and a half cups", [("two and a half", 2.5)]),
    ("Quantity.Number", "order a dozen eggs", [("a dozen", 12)]),
    ("Quantity.Number", "about 3.5 million people", [("3.5 million", 3500000)]),
    ("Quantity.Number", "one hundred and five pages", [("one hundred and five", 105)]),
    ("Quantity.Number", "give me half", [("half", 0.5)]),
    ("Quantity.Number", "the 10th floor", []),
    ("Quantity.Number", "what is the weather like", []),
    ("Quantity.Number", "route abc123 please", []),
    ("Quantity.Number", "set it to -5", [("-5", -5)]),
    ("Quantity.Number", "I have 2 kids and 3 dogs", [("2", 2), ("3", 3)]),
    ("Quantity.Number", "pay 1000000 now", [("1000000", 1000000)]),
    ("Quantity.Number", "buy a couple of apples", [("a couple", 2)]),
    ("Quantity.Number", "room for five hundred guests", [("five hundred", 500)]),
    # Quantity.Ordinal
    ("Quantity.Ordinal", "open the third email", [("third", ("3", "Start"))]),
    ("Quantity.Ordinal", "the 10th floor", [("10th", ("10", "Start"))]),
    (
        "Quantity.Ordinal",
        "play the twenty-first track",
        [("twenty-first", ("21", "Start"))],
    ),
    ("Quantity.Ordinal", "delete the last one", [("last", ("0", "End"))]),
    (
        "Quantity.Ordinal",
        "show the second to last photo",
        [("second to last", ("-1", "End"))],
    ),
    ("Quantity.Ordinal", "show me the first result", [("first", ("1", "Start"))]),
    ("Quantity.Ordinal", "go to the next page", []),
    ("Quantity.Ordinal", "call mom", []),
    (
        "Quantity.Ordinal",
        "the 2nd and 3rd items",
        [("2nd", ("2", "Start")), ("3rd", ("3", "Start"))],
    ),
    (
        "Quantity.Ordinal",
        "my first and last name",
        [("first", ("1", "Start")), ("last", ("0", "End"))],
    ),
    # Quantity.Percentage
    ("Quantity.Percentage", "dim the lights to 10%", [("10%", 10)]),
    ("Quantity.Percentage", "rates rose 5.6 percent", [("5.6 percent", 5.6)]),
    ("Quantity.Percentage", "fifty per cent off", [("fifty per cent", 50)]),
    ("Quantity.Percentage", "set volume to 15 %", [("15 %", 15)]),
    ("Quantity.Percentage", "a hundred percent sure", [("a hundred percent", 100)]),
    ("Quantity.Percentage", "give me 10 apples", []),
    ("Quantity.Percentage", "battery at 3.5%", [("3.5%", 3.5)]),
    ("Quantity.Percentage", "twenty five percent tip", [("twenty five percent", 25)]),
    ("Quantity.Percentage", "what percent is left", []),
    # DateTime
    ("DateTime", "remind me tomorrow", [("tomorrow", "2026-11-22")]),
    ("DateTime", "meet next Monday", [("next Monday", "2026-11-23")]),
    ("DateTime", "born June 23, 1976", [("June 23, 1976", "1976-06-23")]),
    ("DateTime", "wake me at 6:49 PM", [("6:49 PM", "T18:49")]),
    (
        "DateTime",
        "book it for tomorrow at 7 PM",
        [("tomorrow at 7 PM", "2026-11-22T19")],
    ),
    ("DateTime", "set a timer for 2 hours", [("2 hours", "PT2H")]),
    ("DateTime", "ping me in 2 hours", [("in 2 hours", "2026-11-21T12:00:00")]),
    ("DateTime", "that was 3 days ago", [("3 days ago", "2026-11-18")]),
    ("DateTime", "plan a trip next week", [("next week", "2026-W48")]),
    ("DateTime", "busy from 3pm to 5pm", [("from 3pm to 5pm", "(T15,T17,PT2H)")]),
    ("DateTime", "water the plants every Monday", [("every Monday", "XXXX-WXX-1")]),
    ("DateTime", "run the backup daily", [("daily", "P1D")]),
    (
        "DateTime",
        "off from March 3 to March 5",
        [("from March 3 to March 5", "(XXXX-03-03,XXXX-03-05,P2D)")],
    ),
    ("DateTime", "anything before tomorrow", [("before tomorrow", "2026-11-22")]),
    ("DateTime", "what's on this weekend", [("this weekend", "2026-W47-WE")]),
    ("DateTime", "may I go now please", [("now", "PRESENT_REF")]),
    ("DateTime", "turn on the kitchen lights", []),
    ("DateTime", "add milk to the shopping list", []),
    ("DateTime", "wake me at 7am tomorrow", [("7am tomorrow", "2026-11-22T07")]),
    ("DateTime", "the meeting on 2022-05-01", [("2022-05-01", "2022-05-01")]),
    ("DateTime", "what happened yesterday", [("yesterday", "2026-11-20")]),
    ("DateTime", "I need two rooms", []),
    # Email
    (
        "Email",
        "mail bob.smith+x@contoso.co.uk now",
        [("bob.smith+x@contoso.co.uk", None)],
    ),
    ("Email", "write to user_name@contoso.com", [("user_name@contoso.com", None)]),
    ("Email", "my handle is @contoso", []),
    ("Email", "email me at a@b.com.", [("a@b.com", None)]),
    (
        "Email",
        "cc john.doe@mail.example.org, please",
        [("john.doe@mail.example.org", None)],
    ),
    ("Email", "meet me @ 5", []),
    # PhoneNumber
    ("PhoneNumber", "call 425-555-0100", [("425-555-0100", None)]),
    ("PhoneNumber", "dial (123)456-7890 now", [("(123)456-7890", None)]),
    ("PhoneNumber", "text +1 123 456 7890", [("+1 123 456 7890", None)]),
    ("PhoneNumber", "ring +44 20 7946 0958", [("+44 20 7946 0958", None)]),
    ("PhoneNumber", "order 12 pizzas", []),
    ("PhoneNumber", "flight 1234 departs at 5", []),
    ("PhoneNumber", "call 425.555.0100", [("425.555.0100", None)]),
    ("PhoneNumber", "my pin is 1234", []),
    ("PhoneNumber", "the year 2026 was good", []),
    # URL
    (
        "URL",
        "see https://contoso.com/docs?a=1.",
        [("https://contoso.com/docs?a=1", None)],
    ),
    ("URL", "open www.bing.com", [("www.bing.com", None)]),
    ("URL", "visit contoso.com today", [("contoso.com", None)]),
    ("URL", "write to user@contoso.com", []),
    ("URL", "it costs 3.50 dollars", []),
    (
        "URL",
        "go to http://localhost:8000/admin",
        [("http://localhost:8000/admin", None)],
    ),
    ("URL", "read docs.python.org/3/library", [("docs.python.org/3/library", None)]),
]


def key_of(hit: PrebuiltHit) -> Any:
    if not hit.resolutions:
        return None
    first = hit.resolutions[0]
    kind = first["resolutionKind"]
    if kind == "NumberResolution":
        return first["value"]
    if kind == "OrdinalResolution":
        return (first["offset"], first["relativeTo"])
    return first.get("timex")


def _found(hits: Sequence[PrebuiltHit], text: str) -> list[tuple[str, Any]]:
    return sorted(
        (text[h.start : h.end], key_of(h)) for h in pb.select_longest(list(hits))
    )


def _library(category: str) -> Callable[[str], list[PrebuiltHit]]:
    model = pb._BY_CATEGORY[category].model
    return lambda text: rt.find(model, category, text, "en", NOW)


def _hand(category: str) -> Callable[[str], list[PrebuiltHit]]:
    finder = pb._FALLBACK[category]
    return lambda text: finder(text, NOW)


def accuracy() -> list[dict[str, Any]]:
    rows = []
    for category in sorted({c for c, _, _ in CASES}):
        cases = [(t, sorted(e)) for c, t, e in CASES if c == category]
        row: dict[str, Any] = {"category": category, "cases": len(cases)}
        for name, finder in (
            ("hand", _hand(category)),
            ("library", _library(category)),
        ):
            finder("warm up 1 tomorrow")
            correct, misses, elapsed = 0, [], 0.0
            for text, expected in cases:
                start = time.perf_counter()
                hits = finder(text)
                elapsed += time.perf_counter() - start
                found = _found(hits, text)
                if found == expected:
                    correct += 1
                else:
                    misses.append({"text": text, "expected": expected, "found": found})
            row[name] = {
                "accuracy": round(100 * correct / len(cases), 1),
                "ms_per_call": round(1000 * elapsed / len(cases), 3),
                "misses": misses,
            }
        row["used"] = "hand" if category in pb._HANDWRITTEN else "library"
        rows.append(row)
    return rows


@contextmanager
def _no_prefilters() -> Iterator[None]:
    original = rt._gate
    rt._gate = lambda kind, culture: None
    try:
        yield
    finally:
        rt._gate = original


def _percentiles(extractor: EntityExtractor, texts: Sequence[str]) -> dict[str, float]:
    for text in texts[:20]:
        extractor.predict(text, reference=NOW)
    times = []
    for text in texts:
        start = time.perf_counter()
        extractor.predict(text, reference=NOW)
        times.append(time.perf_counter() - start)
    times.sort()
    return {
        "p50_ms": round(1000 * statistics.median(times), 3),
        "p99_ms": round(1000 * times[min(len(times) - 1, int(0.99 * len(times)))], 3),
    }


def cost(texts: Sequence[str]) -> dict[str, Any]:
    plain = EntityExtractor.fit(
        [
            EntityDefinition(
                "Thing",
                list_sublists=(ListSublist("thing", {"": ("alarm", "lights")}),),
            )
        ],
        [],
        [],
    )
    every = EntityExtractor.fit(
        [
            EntityDefinition(
                entry["category"].replace(".", "_"), prebuilts=(entry["category"],)
            )
            for entry in pb.PREBUILT_CATALOG
        ],
        [],
        [],
    )
    base = _percentiles(plain, texts)
    with_all = _percentiles(every, texts)
    with _no_prefilters():
        unfiltered = _percentiles(every, texts)
    return {
        "utterances": len(texts),
        "no_prebuilts": base,
        "all_prebuilts": with_all,
        "all_prebuilts_no_prefilter": unfiltered,
        "ratio_p50_all_vs_none": round(with_all["p50_ms"] / base["p50_ms"], 1),
        "ratio_p50_unfiltered_vs_filtered": round(
            unfiltered["p50_ms"] / with_all["p50_ms"], 2
        ),
        "ratio_p99_unfiltered_vs_filtered": round(
            unfiltered["p99_ms"] / with_all["p99_ms"], 2
        ),
    }


def fit_cost(n: int) -> dict[str, Any] | None:
    path = default_data_dir() / "atis" / "atis_clu.json"
    if not path.exists():
        return None
    utterances = json.loads(path.read_text(encoding="utf-8"))["assets"]["utterances"]
    # ATIS texts are ASCII: UTF-16 offsets are code points.
    texts = [u["text"] for u in utterances[:n]]
    spans = [
        [Span(e["category"], e["offset"], e["length"]) for e in u.get("entities", [])]
        for u in utterances[:n]
    ]
    row: dict[str, Any] = {"utterances": len(texts)}
    for name, definitions in (
        ("no_prebuilts", []),
        (
            "datetime_and_number",
            [EntityDefinition("When", prebuilts=("DateTime", "Quantity.Number"))],
        ),
    ):
        start = time.perf_counter()
        EntityExtractor.fit(definitions, texts, spans)
        row[f"{name}_s"] = round(time.perf_counter() - start, 2)
    row["ratio"] = round(row["datetime_and_number_s"] / row["no_prebuilts_s"], 2)
    return row


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--utterances", type=int, default=1000)
    parser.add_argument("--fit-utterances", type=int, default=1000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    try:
        texts = load_clinc150().test.texts[: args.utterances]
        source = "CLINC150 test"
    except DatasetMissing:
        texts = [t for _, t, _ in CASES]
        source = "the accuracy table (CLINC150 absent)"
    report: dict[str, Any] = {
        "accuracy": accuracy(),
        "cost": cost(texts),
        "cost_texts": source,
        "fit_cost": fit_cost(args.fit_utterances),
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print("Accuracy on the table (English), hand-written vs Recognizers-Text:")
    for row in report["accuracy"]:
        print(
            f"  {row['category']:20s} n={row['cases']:2d}  "
            f"hand {row['hand']['accuracy']:5.1f}% "
            f"{row['hand']['ms_per_call']:7.3f} ms  "
            f"library {row['library']['accuracy']:5.1f}% "
            f"{row['library']['ms_per_call']:7.3f} ms  -> {row['used']}"
        )
        for name in ("hand", "library"):
            for miss in row[name]["misses"]:
                print(f"      {name} missed {miss['text']!r}: {miss['found']}")
    c = report["cost"]
    print(f"Cost per prediction on {c['utterances']} utterances of {source}:")
    for name in ("no_prebuilts", "all_prebuilts", "all_prebuilts_no_prefilter"):
        p50, p99 = c[name]["p50_ms"], c[name]["p99_ms"]
        print(f"  {name:28s} p50 {p50:8.3f} ms  p99 {p99:8.3f} ms")
    print(
        f"  ratios: all/none p50 {c['ratio_p50_all_vs_none']}x; without/with "
        f"pre-filters p50 {c['ratio_p50_unfiltered_vs_filtered']}x, "
        f"p99 {c['ratio_p99_unfiltered_vs_filtered']}x"
    )
    f = report["fit_cost"]
    if f is not None:
        print(
            f"Fit on {f['utterances']} ATIS utterances: no prebuilts "
            f"{f['no_prebuilts_s']} s, DateTime + Number entity "
            f"{f['datetime_and_number_s']} s ({f['ratio']}x)"
        )


if __name__ == "__main__":
    main()
