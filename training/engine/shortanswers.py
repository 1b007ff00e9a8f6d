"""Question types, light English stemming and short-answer spans for question answering.

Why
    Azure's ``:query-text`` returns, inside the best sentence, the few words that answer
    ("two to four hours"), and SDK samples test the sentence's confidence against
    Azure's 0.9-ish level. A lexical ranker needs two things for that: words that
    match across inflections ("charge"/"charging"/"charges") and knowing what kind of
    answer the question wants, so a sentence that holds one can be preferred and the
    span cut to it.

Question types (English cues on the normalized question)
    ``how long`` / ``how much time`` / ``how many <time unit>`` → ``duration``;
    ``how much`` / ``how many`` / ``what is the price|cost`` → ``quantity``;
    ``when`` / ``what time|date|day|year`` → ``time``; ``who``/``whom``/``whose`` →
    ``person``; ``where`` → ``place``. Other questions have no type; their span is the
    clause covering most of the question (the caller's fallback).

Spans
    ``duration``/``quantity``/``time`` are found by patterns (numbers in digits or
    words, ranges "two to four", qualifiers "up to", units, dates, clock times);
    ``person`` is a run of capitalized words not taken from the question, else the
    subject before the question's first matched word; ``place`` is a prepositional
    phrase after a matched word. Among several candidates the one nearest to the
    question's words wins (for quantities, one whose unit the question names first).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import regex

from training.engine.text import normalize

DURATION = "duration"
QUANTITY = "quantity"
TIME = "time"
PERSON = "person"
PLACE = "place"

_WORD = regex.compile(r"[^\W_]+", regex.UNICODE)

_TIME_UNITS = (
    r"(?:seconds?|secs?|minutes?|mins?|hours?|hrs?|days?|nights?|weeks?|"
    r"fortnights?|months?|years?|yrs?|decades?|business\s+days?|working\s+days?)"
)


def _set(words: str) -> frozenset[str]:
    return frozenset(words.split())


_TIME_UNIT_WORDS = _set(
    """second seconds sec secs minute minutes min mins hour hours hr hrs day days
    night nights week weeks fortnight fortnights month months year years decade
    decades"""
)
_NUMBER_WORDS = (
    r"(?:one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|thirteen|"
    r"fourteen|fifteen|sixteen|seventeen|eighteen|nineteen|twenty|thirty|forty|"
    r"fifty|sixty|seventy|eighty|ninety|hundred|thousand|million|billion|dozen|"
    r"several|few|a\s+few|a\s+couple\s+of|couple\s+of|half\s+an?|a\s+half)"
)
_DIGITS = r"\d+(?:[.,]\d+)*"
_NUMBER = rf"(?:{_DIGITS}|{_NUMBER_WORDS})"
# A number, or a range "two to four" / "2-3" / "one or two"; compounds like
# "twenty-four" read as a range of words, which spans the same text.
_RANGE = rf"{_NUMBER}(?:\s*(?:-|–|—|to|or|and)\s*{_NUMBER})*"
_QUALIFIER = (
    r"(?:(?:up\s+to|about|around|approximately|roughly|at\s+least|at\s+most|"
    r"less\s+than|more\s+than|fewer\s+than|over|under|within|nearly|almost|only|"
    r"just|exactly|between)\s+)?"
)
_DURATION = regex.compile(
    rf"(?<!\w){_QUALIFIER}(?:(?:{_RANGE}|an?)\s*-?\s*{_TIME_UNITS}"
    rf"(?:\s+(?:and|or)\s+(?:{_RANGE}|an?)\s+{_TIME_UNITS})?"
    r"|overnight|half\s+an\s+hour|a\s+day\s+or\s+two)(?!\w)",
    regex.IGNORECASE,
)
_CURRENCY = r"[$€£¥₹]"
_QUANTITY = regex.compile(
    rf"(?<!\w){_QUALIFIER}(?:{_CURRENCY}\s?)?{_RANGE}"
    r"(?:\s?%|\s?(?:percent|per\s+cent|dollars?|euros?|pounds?|cents?|"
    r"usd|eur|gbp)(?!\w)|(?:\s+(?P<unit>[^\W\d_]+(?:\s+[^\W\d_]+)?)))?(?!\w)",
    regex.IGNORECASE,
)
_MONTHS = (
    r"(?:january|february|march|april|may|june|july|august|september|october|"
    r"november|december|jan|feb|mar|apr|jun|jul|aug|sept?|oct|nov|dec)\.?"
)
_WEEKDAYS = (
    r"(?:mondays?|tuesdays?|wednesdays?|thursdays?|fridays?|saturdays?|sundays?)"
)
_CLOCK = (
    r"(?:\d{1,2}(?::\d{2})?\s*(?:a\.?m\.?|p\.?m\.?)(?!\w)|\d{1,2}:\d{2}|noon|midnight)"
)
_DATE = (
    rf"(?:\d{{1,2}}(?:st|nd|rd|th)?\s+(?:of\s+)?{_MONTHS}(?:,?\s+\d{{4}})?"
    rf"|{_MONTHS}\s+\d{{1,2}}(?:st|nd|rd|th)?(?!\d)(?:,?\s+\d{{4}})?"
    rf"|{_MONTHS}\s+\d{{4}}|\d{{4}}-\d{{2}}-\d{{2}}|\d{{1,2}}/\d{{1,2}}/\d{{2,4}}"
    r"|(?:19|20)\d{2}(?!\d))"
)
_POINT = (
    rf"(?:(?:{_WEEKDAYS}\s*,?\s*)?{_DATE}|{_CLOCK}|{_WEEKDAYS}"
    r"|(?:january|february|march|april|june|july|august|september|october|"
    r"november|december)|daily|weekly|monthly|yearly|annually|tonight|tomorrow"
    r"|(?:every|each)\s+(?:other\s+)?(?:day|morning|evening|night|week|month|year|"
    r"quarter|weekday|weekend)"
    r"|(?:the\s+)?\d{1,2}(?:st|nd|rd|th)\s+(?:of\s+)?(?:the|each|every)\s+month"
    r"|(?:the\s+)?(?:first|last|second|third|fourth)\s+(?:business\s+)?"
    r"(?:day|week|monday|tuesday|wednesday|thursday|friday|saturday|sunday)"
    r"\s+of\s+(?:the|each|every)\s+(?:month|year|quarter))"
)
_TIME = regex.compile(
    r"(?<!\w)(?:(?:every|each|before|after|until|till|since|by|between|from)\s+)?"
    rf"{_POINT}(?:\s*(?:-|–|—|to|until|till|through|and)\s*{_POINT})*(?!\w)",
    regex.IGNORECASE,
)
_CAPITALIZED = regex.compile(
    r"(?<!\w)\p{Lu}[\p{L}\p{M}'’.-]*(?:\s+(?:(?:of|de|van|von|da|del|la|le)\s+)?"
    r"\p{Lu}[\p{L}\p{M}'’.-]*)*"
)
_PLACE_PREPOSITIONS = (
    r"(?:in|at|on|into|onto|inside|under|underneath|behind|beside|near|next\s+to|"
    r"above|below|from|through|beneath|outside|within|on\s+top\s+of)"
)
_PLACE = regex.compile(
    rf"(?<!\w){_PLACE_PREPOSITIONS}\s+(?:(?!(?:and|or|but|while|when|if|because|"
    r"so|which|who|unless|then|until|before|after)\b)[^\s,;:.!?()]+\s*)+",
    regex.IGNORECASE,
)
_PHRASE = (
    r"(?:(?!(?:and|or|but|while|when|if|because|so|which|who|unless|then|until|"
    r"before|after|in|on|at|for|to|from|with)\b)[^\s,;:.!?()]+\s*)+"
)
_OBJECT = regex.compile(
    rf"[^\W_]+\s+(?P<object>(?:the|a|an|your|our|their|its|my)\s+{_PHRASE})",
    regex.IGNORECASE,
)
_AGENT = regex.compile(rf"(?<!\w)by\s+(?P<agent>{_PHRASE})", regex.IGNORECASE)
# A capitalized word right before a number names a model ("Surface Pro 4"), unless
# it is a function word or qualifier starting the sentence ("Up to 4", "The 3").
_MODEL_NUMBER = regex.compile(
    r"(?<!\S)(?!(?i:up|about|over|under|only|around|nearly|almost|just|exactly|"
    r"between|within|less|more|at|the|a|an|all|some|every|each|our|your|its|their)"
    r"\s)\p{Lu}[\p{L}\p{M}]*\s+$"
)
_TRIM = " \t\r\n,;:.!?-–—\"'“”‘’()"

_FUNCTION_WORDS = _set(
    """a about am an and any are as at be been but by can could did do does for
    from had has have how i if in into is it its me my of on or our shall should so
    than that the their them then there these they this to was we were what when
    where which who whom whose why will with would you your"""
)


def stem(token: str) -> str:
    """A light English suffix stripper: "charging", "charges", "charge" → "charg".

    Deliberately crude (no dictionary): it only has to map a word and its usual
    inflections to one key, in question and text alike. Tokens of three letters or
    fewer, non-ASCII and non-letters stay as they are.
    """
    if len(token) <= 3 or not token.isascii() or not token.isalpha():
        return token
    if token.endswith("sses"):
        return token[:-2]
    if token.endswith("ss"):
        return token
    for suffix, replacement in (
        ("ies", "y"),
        ("ied", "y"),
        ("ing", ""),
        ("edly", ""),
        ("ed", ""),
        ("es", ""),
        ("s", ""),
        ("ly", ""),
        ("e", ""),
    ):
        if token.endswith(suffix) and len(token) - len(suffix) >= 3:
            base = token[: -len(suffix)] + replacement
            if (
                suffix in ("ing", "ed")
                and len(base) >= 4
                and base[-1] == base[-2]
                and base[-1] not in "lsz"
            ):
                base = base[:-1]  # "running" → "run", "stopped" → "stop"
            return base.removesuffix("e") if suffix != "e" else base
    return token


def stem_all(tokens: Iterable[str], language: str) -> list[str]:
    """``stem`` for English (``en``, ``en-us``…); other languages unchanged."""
    if language.split("-")[0].casefold() != "en":
        return list(tokens)
    return [stem(token) for token in tokens]


@dataclass(frozen=True, slots=True)
class QuestionType:
    """What a question asks for, and its cue words (not content to be matched)."""

    kind: str | None
    cues: frozenset[str]


_NO_TYPE = QuestionType(None, frozenset())
_PRICE_WORDS = _set("price prices cost costs fee fees amount charge charges")


def question_type(question: str, language: str = "en") -> QuestionType:
    """The kind of answer an English question asks for; ``kind`` None otherwise."""
    if language.split("-")[0].casefold() != "en":
        return _NO_TYPE
    words = [w.casefold() for w in _WORD.findall(normalize(question))]
    for i, word in enumerate(words):
        following = words[i + 1] if i + 1 < len(words) else ""
        after = words[i + 2] if i + 2 < len(words) else ""
        if word == "how" and following in ("long", "fast", "quickly", "soon"):
            return QuestionType(DURATION, frozenset({"how", following}))
        if word == "how" and following in ("much", "many"):
            if after in _TIME_UNIT_WORDS or (following == "much" and after == "time"):
                return QuestionType(DURATION, frozenset({"how", following, after}))
            return QuestionType(QUANTITY, frozenset({"how", following}))
        if word == "what" and not _PRICE_WORDS.isdisjoint(words[i + 1 : i + 4]):
            return QuestionType(QUANTITY, frozenset({"what"}))
        if word in ("what", "which") and following in ("time", "date", "day", "year"):
            return QuestionType(TIME, frozenset({word, following}))
        if word == "when":
            return QuestionType(TIME, frozenset({"when"}))
        if word in ("who", "whom", "whose"):
            return QuestionType(PERSON, frozenset({word}))
        if word == "where":
            return QuestionType(PLACE, frozenset({"where"}))
    return _NO_TYPE


def _word_spans(text: str) -> list[tuple[int, int, str, str]]:
    """(start, end, stem, normalized word) of every word."""
    spans = []
    for match in _WORD.finditer(text):
        word = normalize(match.group())
        spans.append((match.start(), match.end(), stem(word), word))
    return spans


def _trimmed(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start] in _TRIM:
        start += 1
    while end > start and text[end - 1] in _TRIM:
        end -= 1
    return start, end


def _distance(start: int, end: int, anchors: list[int]) -> int:
    if not anchors:
        return 0
    return min(
        0 if start <= a < end else min(abs(a - start), abs(a - end)) for a in anchors
    )


def _quantity_end(match: regex.Match[str], terms: frozenset[str]) -> tuple[int, int]:
    """Where a quantity ends, and 0 when its unit is one the question names.

    Up to two words after the number may be its unit: kept up to the last one the
    question names ("how many vacation days" → "25 vacation days"), else only the
    first, unless that is a function word ("$9 and" → "$9").
    """
    if match.group("unit") is None:
        return match.end(), 1
    base = match.start("unit")
    units = list(_WORD.finditer(match.group("unit")))
    named = [u for u in units if stem(normalize(u.group())) in terms]
    if named:
        return base + named[-1].end(), 0
    if normalize(units[0].group()) in _FUNCTION_WORDS:
        return base, 1
    return base + units[0].end(), 1


def typed_span(
    sentence: str, kind: str | None, terms: frozenset[str]
) -> tuple[int, int] | None:
    """(start, end) of the short answer of ``kind`` inside ``sentence``, or None.

    ``terms`` are the question's stemmed content words; candidates made only of them
    are not answers, and the candidate nearest to them wins.
    """
    if kind is None:
        return None
    words = _word_spans(sentence)
    anchors = [start for start, _, key, _ in words if key in terms]
    candidates: list[tuple[tuple[int, ...], int, int]] = []

    def add(start: int, end: int, *rank: int) -> None:
        start, end = _trimmed(sentence, start, end)
        inner = [(key, word) for s, e, key, word in words if start <= s and e <= end]
        if start >= end or not inner:
            return
        if all(key in terms or word in _FUNCTION_WORDS for key, word in inner):
            return  # only repeats the question
        candidates.append(((*rank, _distance(start, end, anchors), start), start, end))

    if kind == DURATION:
        for match in _DURATION.finditer(sentence):
            add(*match.span())
    elif kind == TIME:
        for match in _TIME.finditer(sentence):
            add(*match.span())
    elif kind == QUANTITY:
        for match in _QUANTITY.finditer(sentence):
            if _MODEL_NUMBER.search(sentence, endpos=match.start()):
                continue  # "Surface Pro 4", "Windows 11": a name, not an amount
            end, named = _quantity_end(match, terms)
            add(match.start(), end, named)
    elif kind == PERSON:
        for match in _CAPITALIZED.finditer(sentence):
            start, end = match.span()
            found = [normalize(w) for w in _WORD.findall(match.group())]
            if all(w in _FUNCTION_WORDS or stem(w) in terms for w in found):
                continue
            add(start, end, 0)
        for match in _AGENT.finditer(sentence):
            add(match.start("agent"), match.end(), 1)  # "approved by your manager"
        if not candidates and anchors:
            # No name: the subject before the first matched word ("Your IT
            # administrator can reset it"), minus trailing auxiliaries, or the
            # object right after one ("contact the finance team at ...").
            first = anchors[0]
            before = [(s, e, w) for s, e, _, w in words if e <= first]
            while before and before[-1][2] in _FUNCTION_WORDS | _AUXILIARIES:
                before.pop()
            if 0 < len(before) <= 6:
                add(before[0][0], before[-1][1], 2)
            for anchor in anchors:
                after = _OBJECT.match(sentence, anchor)
                if after is not None:
                    add(after.start("object"), after.end(), 3)
    elif kind == PLACE:
        first = min(anchors) if anchors else 0
        for match in _PLACE.finditer(sentence):
            start, end = match.span()
            if start >= first:
                add(start, end, 0)
            else:
                add(start, end, 1)
    if not candidates:
        return None
    _, start, end = min(candidates)
    return start, end


_AUXILIARIES = _set(
    """can could may might must shall should will would do does did is are was were
    has have had need needs"""
)
