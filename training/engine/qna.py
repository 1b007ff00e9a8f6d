"""Custom question answering: lexical ranking over a knowledge base of QnA pairs.

Ranking
    Text is normalized (NFKD, combining marks dropped, case-folded) and split into
    word tokens; scripts written without spaces (Han, kana, Thai) give one token per
    character. No stemming. Synonym groups are applied to the knowledge base *and* to
    queries by replacing every phrase of a group with one group token, so "sdk" and
    "software development kit" are the same term everywhere.

    Each token has a weight from its inverse document frequency in the knowledge base,
    rescaled to [0.3, 1] so that weights mean the same in a three-pair and a
    three-thousand-pair knowledge base (an unknown token weighs as much as the rarest
    known one), and multiplied by 0.2 for function words of the knowledge base's
    language.

    A pair's question score is, over its questions (and, in context, the display texts
    of the prompts that lead to it), the best IDF-weighted Dice overlap between the
    query's and the question's token sets: ``2·W(q∩v) / (W(q) + W(v))``. Questions
    are short, so BM25's term-frequency saturation and length normalization change
    nothing there, while the symmetric normalization makes an exact question match
    1.0 whatever the size of the knowledge base and unrelated text 0. The answer
    text counts with a lower weight through BM25 term saturation and length
    normalization (k1=1.2, b=0.75) normalized to the share of the query's weight it
    covers; ``confidence = q + (1 - q) · 0.35 · a`` (``rankerType: QuestionOnly``
    drops ``a``). A pair must share at least one content word (not a function word)
    with the query to be returned at all. Scoring is a few sparse matrix-vector
    products over the query's columns, so it stays well under a millisecond for
    thousands of pairs.

Context and prompts
    With ``context.previousQnaId`` the targets of that pair's follow-up prompts are
    preferred (confidence raised to the power 0.7, which keeps 0 and 1 fixed) and
    matched against the prompts' display texts too; pairs marked ``isContextOnly``
    are returned only in that context (or by exact ``qnaId``).

Filters
    ``metadataFilter.metadata`` key/value pairs compared case-insensitively and joined
    by its ``logicalOperation`` (AND by default); ``sourceFilter`` matches any of the
    listed sources exactly; the outer ``logicalOperation`` (AND by default) joins the
    two when both are given.

Nothing good enough
    The knowledge base's default answer with ``id: -1`` and confidence 0.

Short answers
    ``answerSpanRequest``: when the question has a type (``how long``, ``how much``,
    ``when``, ``who``, ``where``; see ``shortanswers``) and the answer holds a phrase
    of that type, the span is that phrase with the answer's confidence; otherwise the
    sentence or clause covering most of the query's weight (the shortest on ties),
    with that covered share as confidence. Offset/length count code points.

``:query-text`` (``answers_from_text``)
    The caller's records are split into sentences; words are stemmed (English) so
    "charge", "charging" and "charges" match. A sentence's confidence is the
    IDF-weighted share of the question's content words it holds (function words and
    type cues such as "how long" excluded), times 0.6 when the question has a type
    and the sentence holds no phrase of it, with the last tenth moved by how much of
    the sentence is about the question. A focused sentence that answers lands at
    0.9–1, like Azure's, so the SDK samples' thresholds work; the short answer is
    the typed phrase ("two to four hours"), else the best clause.

``includeUnstructuredSources`` is accepted for contract compatibility; every pair in
a studio knowledge base comes from an editorial or imported QnA source, so it has no
effect.
"""

from __future__ import annotations

import math
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import regex
from scipy import sparse

from training.engine.offsets import OffsetError, from_code_points, parse_index_type
from training.engine.shortanswers import question_type, stem, stem_all, typed_span
from training.engine.text import normalize

DEFAULT_ANSWER = "No good match found in KB."
MAX_PROMPTS = 20
MAX_PROMPT_TEXT = 200

_ANSWER_WEIGHT = 0.35
_CONTEXT_POWER = 0.7
_MIN_WEIGHT = 0.3
_STOPWORD_FACTOR = 0.2
_K1 = 1.2
_B = 0.75
# :query-text calibration (see _text_confidence).
_UNTYPED_SHARE = 0.6
_DENSITY_SHARE = 0.1

_NO_SPACE_SCRIPTS = r"\p{Han}\p{Hiragana}\p{Katakana}\p{Thai}"
_TOKEN = regex.compile(
    rf"[{_NO_SPACE_SCRIPTS}]|[^\W{_NO_SPACE_SCRIPTS}]+", regex.UNICODE
)
# A sentence ends at . ! ? followed by a space or the end, so "3.5 hours",
# "example.com" and "v2.1" stay inside their sentence; 。！？ always end one
# (no space follows them in Chinese or Japanese).
_SENTENCE = regex.compile(
    r"(?:[^.!?。！？\n]|[.!?]+(?=[^\s.!?。！？]))+(?:[.!?。！？]+|$)", regex.MULTILINE
)
_CLAUSE = regex.compile(r"[^,;:()\n]+")
_TRIM = " \t\r\n*#_>`~-–—\"'“”‘’.,;:!?"


class QnaError(ValueError):
    """A knowledge base or query that cannot be used; the message says why."""


def tokenize(text: str) -> list[str]:
    return _TOKEN.findall(normalize(text))


def _words(text: str) -> frozenset[str]:
    return frozenset(normalize(word) for word in text.split())


# Function words get little weight so that "what is the" does not make unrelated
# questions look alike in a small knowledge base, where IDF cannot tell yet.
_STOPWORDS: dict[str, frozenset[str]] = {
    "en": _words(
        """a about am an and any are as at be been but by can could did do does
        for from had has have how i if in into is it its me my of on or our shall
        should so than that the their them then there these they this to was we
        were what when where which who whom why will with would you your"""
    ),
    "fr": _words(
        """au aux avec ce ces comment dans de des du elle est et il je la le les
        leur ma mais me mes mon ne nous on ou par pas pour qu que quel quelle qui
        sa se ses son sur ta te tes ton tu un une vos votre vous"""
    ),
    "de": _words(
        """auf aus bei bin bist das dem den der des die du ein eine einen er es
        für hat ich ihr im in ist kann mein mit nicht sie sind und von was wie
        wir wo zu"""
    ),
    "es": _words(
        """a al como con cual de del el en es esta este la las lo los mi no o para
        por que qué se su sus te tu un una y yo"""
    ),
}


@dataclass(frozen=True)
class QnaRecord:
    """One QnA pair: its questions (first is the main one) and answer."""

    id: int
    questions: tuple[str, ...]
    answer: str
    source: str = ""
    metadata: dict[str, str] = field(default_factory=dict)
    # Azure dialog prompts: {"displayOrder": int, "qnaId": int, "displayText": str}
    prompts: tuple[dict[str, Any], ...] = ()
    is_context_only: bool = False


class _Synonyms:
    """Replaces every phrase of a synonym group with that group's token."""

    def __init__(self, groups: Sequence[Sequence[str]]) -> None:
        self.phrases: dict[tuple[str, ...], str] = {}
        self.longest = 0
        for number, group in enumerate(groups):
            if isinstance(group, str) or not isinstance(group, Sequence):
                raise QnaError(f"synonym group {number} must be a list of strings")
            members = [g for g in group if isinstance(g, str) and g.strip()]
            if len(members) != len(group) or len(set(map(normalize, members))) < 2:
                raise QnaError(
                    f"synonym group {number} needs at least two different non-empty "
                    "strings"
                )
            # Group tokens contain "\x00", which no word token can.
            token = f"\x00syn{number}"
            for member in members:
                phrase = tuple(tokenize(member))
                if not phrase:
                    raise QnaError(
                        f"synonym {member!r} in group {number} has no word characters"
                    )
                owner = self.phrases.get(phrase)
                if owner is not None and owner != token:
                    raise QnaError(
                        f"synonym {member!r} appears in more than one synonym group"
                    )
                self.phrases[phrase] = token
                self.longest = max(self.longest, len(phrase))

    def apply(self, tokens: list[str]) -> list[str]:
        if not self.phrases:
            return tokens
        result: list[str] = []
        i = 0
        while i < len(tokens):
            for size in range(min(self.longest, len(tokens) - i), 0, -1):
                token = self.phrases.get(tuple(tokens[i : i + size]))
                if token is not None:
                    result.append(token)
                    i += size
                    break
            else:
                result.append(tokens[i])
                i += 1
        return result


@dataclass(frozen=True, slots=True)
class _Variant:
    tokens: frozenset[str]
    weight: float


def _as_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise QnaError(f"{what} must be an integer, got {value!r}")
    return value


def _validate_prompts(record: QnaRecord) -> tuple[dict[str, Any], ...]:
    if len(record.prompts) > MAX_PROMPTS:
        raise QnaError(
            f"QnA {record.id} has {len(record.prompts)} prompts; at most "
            f"{MAX_PROMPTS} are allowed"
        )
    prompts: list[dict[str, Any]] = []
    for position, prompt in enumerate(record.prompts):
        if not isinstance(prompt, Mapping):
            raise QnaError(f"QnA {record.id} prompt {position} must be an object")
        target = _as_int(prompt.get("qnaId"), f"QnA {record.id} prompt qnaId")
        text = prompt.get("displayText")
        if not isinstance(text, str) or not text.strip():
            raise QnaError(f"QnA {record.id} prompt {position} needs a displayText")
        if len(text) > MAX_PROMPT_TEXT:
            raise QnaError(
                f"QnA {record.id} prompt displayText is longer than "
                f"{MAX_PROMPT_TEXT} characters"
            )
        order = prompt.get("displayOrder", position)
        prompts.append(
            {
                "displayOrder": _as_int(order, "prompt displayOrder"),
                "qnaId": target,
                "displayText": text,
            }
        )
    prompts.sort(key=lambda p: p["displayOrder"])
    return tuple(prompts)


def _validate_record(record: QnaRecord) -> QnaRecord:
    if not isinstance(record, QnaRecord):
        raise QnaError(f"expected QnaRecord, got {type(record).__name__}")
    qna_id = _as_int(record.id, "QnA id")
    if qna_id < 0:
        raise QnaError(f"QnA id must not be negative, got {qna_id}")
    if not isinstance(record.answer, str) or not record.answer.strip():
        raise QnaError(f"QnA {qna_id} has an empty answer")
    if not all(isinstance(q, str) for q in record.questions):
        raise QnaError(f"QnA {qna_id} questions must be strings")
    if not isinstance(record.metadata, Mapping) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in record.metadata.items()
    ):
        raise QnaError(f"QnA {qna_id} metadata must map strings to strings")
    return QnaRecord(
        id=qna_id,
        questions=tuple(q for q in record.questions if q.strip()),
        answer=record.answer,
        source=record.source or "",
        metadata=dict(record.metadata),
        prompts=_validate_prompts(record),
        is_context_only=bool(record.is_context_only),
    )


@dataclass(frozen=True, slots=True)
class QnaFilter:
    """Validated ``filters`` of a query (metadata keys and values normalized); the
    runtime parses them from the request (``runtime.parsing``)."""

    metadata: tuple[tuple[str, str], ...] | None
    metadata_op: str
    sources: frozenset[str] | None
    op: str

    def accepts(self, record: QnaRecord, metadata: Mapping[str, str]) -> bool:
        checks: list[bool] = []
        if self.metadata is not None:
            hits = (metadata.get(key) == value for key, value in self.metadata)
            checks.append(all(hits) if self.metadata_op == "AND" else any(hits))
        if self.sources is not None:
            checks.append(record.source in self.sources)
        if not checks:
            return True
        return all(checks) if self.op == "AND" else any(checks)


@dataclass(frozen=True, slots=True)
class SpanRequest:
    """A validated ``answerSpanRequest``: the span's confidence threshold and how
    many of the top answers get one."""

    threshold: float
    top: int


def _segments(text: str) -> list[tuple[int, int]]:
    """(start, end) of every sentence and clause, trimmed of markup and spaces."""
    spans: set[tuple[int, int]] = set()
    for sentence in _SENTENCE.finditer(text):
        pieces = [(sentence.start(), sentence.end())]
        for clause in _CLAUSE.finditer(sentence.group()):
            pieces.append(
                (sentence.start() + clause.start(), sentence.start() + clause.end())
            )
        for start, end in pieces:
            while start < end and text[start] in _TRIM:
                start += 1
            while end > start and text[end - 1] in _TRIM:
                end -= 1
            if start < end:
                spans.add((start, end))
    return sorted(spans)


class _Weights:
    """Token weights from IDF, rescaled to [0.3, 1], function words lowered."""

    def __init__(
        self, documents: Iterable[set[str]], stopwords: frozenset[str]
    ) -> None:
        df: Counter[str] = Counter()
        n = 0
        for tokens in documents:
            df.update(tokens)
            n += 1
        self.stopwords = stopwords
        rarest = math.log(1 + (n - 0.5) / 1.5) if n else 1.0
        self.table: dict[str, float] = {}
        for token, count in df.items():
            idf = math.log(1 + (n - count + 0.5) / (count + 0.5))
            scaled = _MIN_WEIGHT + (1 - _MIN_WEIGHT) * min(idf / rarest, 1.0)
            self.table[token] = scaled * self._factor(token)

    def _factor(self, token: str) -> float:
        return _STOPWORD_FACTOR if token in self.stopwords else 1.0

    def __call__(self, token: str) -> float:
        weight = self.table.get(token)
        return weight if weight is not None else self._factor(token)

    def total(self, tokens: Iterable[str]) -> float:
        return sum(self(t) for t in tokens)


def _stopwords(language: str) -> frozenset[str]:
    return _STOPWORDS.get(language.split("-")[0].casefold(), frozenset())


def _coverage(query: Mapping[str, float], tokens: Iterable[str]) -> float:
    """Share of the query's weight found among ``tokens``."""
    total = sum(query.values())
    if not total:
        return 0.0
    present = set(tokens)
    return sum(w for t, w in query.items() if t in present) / total


def _best_span(
    text: str, query: Mapping[str, float], keys: Callable[[str], list[str]]
) -> tuple[int, int, float] | None:
    """(start, end, covered share) of the best segment; the shortest wins ties.

    ``keys`` turns a segment into the tokens ``query`` is keyed by (synonym tokens
    for a knowledge base, stems for ``:query-text``).
    """
    best: tuple[int, int, float] | None = None
    for start, end in _segments(text):
        score = _coverage(query, keys(text[start:end]))
        if score <= 0:
            continue
        if (
            best is None
            or score > best[2]
            or (score == best[2] and end - start < best[1] - best[0])
        ):
            best = (start, end, score)
    return best


class KnowledgeBase:
    """A built, immutable, picklable index over QnA pairs; ``query`` is the runtime."""

    def __init__(
        self,
        records: tuple[QnaRecord, ...],
        synonyms: _Synonyms,
        default_answer: str,
        language: str,
    ) -> None:
        self.records = records
        self.synonyms = synonyms
        self.default_answer = default_answer
        self.language = language
        self.by_id = {record.id: i for i, record in enumerate(records)}
        self.metadata = [
            {normalize(k): normalize(v) for k, v in r.metadata.items()} for r in records
        ]
        question_tokens = [
            [set(self._tokens(q)) for q in record.questions] for record in records
        ]
        answer_tokens = [self._tokens(record.answer) for record in records]
        documents = (
            set().union(*questions, answer)
            for questions, answer in zip(question_tokens, answer_tokens, strict=True)
        )
        self.weights = _Weights(documents, _stopwords(language))
        variants = [
            [_Variant(frozenset(v), self.weights.total(v)) for v in questions]
            for questions in question_tokens
        ]
        self._index(variants, answer_tokens)
        self.context_only = np.asarray([r.is_context_only for r in records], dtype=bool)
        # Which pairs each pair's prompts lead to, with the prompts' display texts.
        self.follow_ups: dict[int, dict[int, list[_Variant]]] = {}
        for i, record in enumerate(records):
            targets: dict[int, list[_Variant]] = defaultdict(list)
            for prompt in record.prompts:
                target = self.by_id.get(prompt["qnaId"])
                if target is None:
                    continue
                prompt_tokens = frozenset(self._tokens(prompt["displayText"]))
                targets[target].append(
                    _Variant(prompt_tokens, self.weights.total(prompt_tokens))
                )
            self.follow_ups[i] = dict(targets)

    @classmethod
    def build(
        cls,
        records: Sequence[QnaRecord],
        *,
        synonyms: Sequence[Sequence[str]] = (),
        default_answer: str | None = None,
        language: str = "en",
    ) -> KnowledgeBase:
        """Validate the pairs and index them. Raises ``QnaError`` on bad input."""
        checked = tuple(_validate_record(record) for record in records)
        seen: set[int] = set()
        for record in checked:
            if record.id in seen:
                raise QnaError(f"QnA id {record.id} appears more than once")
            seen.add(record.id)
        if default_answer is not None and not isinstance(default_answer, str):
            raise QnaError("default answer must be a string")
        if not isinstance(language, str) or not language.strip():
            raise QnaError("language must be a non-empty string")
        return cls(
            checked,
            _Synonyms(synonyms),
            default_answer if default_answer else DEFAULT_ANSWER,
            language,
        )

    def _tokens(self, text: str) -> list[str]:
        return self.synonyms.apply(tokenize(text))

    def _index(
        self, variants: list[list[_Variant]], answer_tokens: list[list[str]]
    ) -> None:
        """Sparse matrices so a query costs a few column slices, not a Python loop.

        ``questions``: one row per question variant, 1 where it has the token;
        ``answers``: one row per pair, BM25's saturated term frequency (capped at 1).
        Both are CSC because a query reads only the columns of its own tokens.
        """
        vocabulary: dict[str, int] = {}
        rows: list[int] = []
        cols: list[int] = []
        owners: list[int] = []
        variant_weights: list[float] = []
        for i, questions in enumerate(variants):
            for variant in questions:
                row = len(owners)
                owners.append(i)
                variant_weights.append(variant.weight)
                for token in variant.tokens:
                    rows.append(row)
                    cols.append(vocabulary.setdefault(token, len(vocabulary)))
        lengths = [len(tokens) for tokens in answer_tokens]
        average = (sum(lengths) / len(lengths) if lengths else 0) or 1.0
        a_rows: list[int] = []
        a_cols: list[int] = []
        a_values: list[float] = []
        for i, tokens in enumerate(answer_tokens):
            norm = 1 - _B + _B * lengths[i] / average
            for token, tf in Counter(tokens).items():
                a_rows.append(i)
                a_cols.append(vocabulary.setdefault(token, len(vocabulary)))
                a_values.append(min(1.0, tf * (_K1 + 1) / (tf + _K1 * norm)))
        n_pairs, n_terms = len(self.records), len(vocabulary)
        self.vocabulary = vocabulary
        self.questions = sparse.csc_matrix(
            (np.ones(len(rows)), (rows, cols)), shape=(len(owners), n_terms)
        )
        self.variant_owner = np.asarray(owners, dtype=np.intp)
        self.variant_weight = np.asarray(variant_weights, dtype=np.float64)
        self.answers = sparse.csc_matrix(
            (a_values, (a_rows, a_cols)), shape=(n_pairs, n_terms)
        )

    def _scores(
        self, query: Mapping[str, float], *, use_answer: bool
    ) -> tuple[np.ndarray, np.ndarray]:
        """Per pair: confidence before context, and whether a content word matched.

        Sharing only function words ("what is the") is no match; a query made only
        of function words may match on them.
        """
        n_pairs = len(self.records)
        query_weight = sum(query.values())
        known = [t for t in query if t in self.vocabulary]
        columns = [self.vocabulary[t] for t in known]
        weights = np.asarray([query[t] for t in known], dtype=np.float64)
        content_tokens = [t for t in query if t not in self.weights.stopwords]
        content = {t for t in (content_tokens or query) if t in self.vocabulary}
        content_mask = np.asarray([t in content for t in known], dtype=np.float64)
        score = np.zeros(n_pairs)
        anchored = np.zeros(n_pairs, dtype=bool)
        if not columns or not query_weight:
            return score, anchored
        questions = self.questions[:, columns]
        overlap = questions @ weights
        dice = 2 * overlap / (query_weight + self.variant_weight)
        np.maximum.at(score, self.variant_owner, dice)
        hits = np.bincount(
            self.variant_owner, weights=questions @ content_mask, minlength=n_pairs
        )
        anchored |= hits > 0
        answers = self.answers[:, columns]
        anchored |= (answers @ content_mask) > 0
        if use_answer:
            covered = (answers @ weights) / query_weight
            score = score + (1 - score) * _ANSWER_WEIGHT * covered
        return score, anchored

    def _follow_up_score(
        self, query: Mapping[str, float], variants: Sequence[_Variant]
    ) -> tuple[float, bool]:
        """Best Dice over prompt display texts, and whether a content word matched."""
        query_weight = sum(query.values())
        content = [t for t in query if t not in self.weights.stopwords] or list(query)
        best = 0.0
        anchored = False
        for variant in variants:
            overlap = sum(w for t, w in query.items() if t in variant.tokens)
            if overlap and query_weight:
                best = max(best, 2 * overlap / (query_weight + variant.weight))
            anchored = anchored or any(t in variant.tokens for t in content)
        return best, anchored

    def _answer_dict(self, index: int, confidence: float) -> dict[str, Any]:
        record = self.records[index]
        return {
            "questions": list(record.questions),
            "answer": record.answer,
            "confidenceScore": round(confidence, 4),
            "id": record.id,
            "source": record.source,
            "metadata": dict(record.metadata),
            "dialog": {
                "isContextOnly": record.is_context_only,
                "prompts": [dict(p) for p in record.prompts],
            },
        }

    def _default(self) -> dict[str, Any]:
        return {
            "questions": [],
            "answer": self.default_answer,
            "confidenceScore": 0.0,
            "id": -1,
            "metadata": {},
        }

    def query(
        self,
        question: str | None = None,
        *,
        qna_id: int | None = None,
        top: int = 3,
        confidence_threshold: float = 0.0,
        filters: QnaFilter | None = None,
        context: Mapping[str, Any] | None = None,
        ranker_type: str = "Default",
        answer_span: SpanRequest | None = None,
    ) -> list[dict[str, Any]]:
        """Answers in Azure's ``KnowledgeBaseAnswer`` wire shape, best first.

        Always returns at least one item: the default answer (``id`` -1) when
        nothing passes the filters and ``confidence_threshold``.
        """
        if isinstance(top, bool) or not isinstance(top, int) or top < 1:
            raise QnaError(f"top must be a positive integer, got {top!r}")
        if (
            isinstance(confidence_threshold, bool)
            or not isinstance(confidence_threshold, int | float)
            or not 0 <= confidence_threshold <= 1
        ):
            raise QnaError("confidenceScoreThreshold must be between 0 and 1")
        if ranker_type not in ("Default", "QuestionOnly"):
            raise QnaError(
                f"rankerType must be 'Default' or 'QuestionOnly', got {ranker_type!r}"
            )
        accept = filters
        span_request = answer_span
        previous = self._previous(context)
        if qna_id is not None:
            index = self.by_id.get(_as_int(qna_id, "qnaId"))
            if index is None:
                return [self._default()]
            return [self._answer_dict(index, 1.0)]
        if question is None or not isinstance(question, str) or not question.strip():
            raise QnaError("a question or a qnaId is required")
        tokens = set(self._tokens(question))
        query = {token: self.weights(token) for token in tokens}
        follow_ups = self.follow_ups.get(previous, {}) if previous is not None else {}
        scores, anchored = self._scores(query, use_answer=ranker_type == "Default")
        allowed = ~self.context_only
        for i, variants in follow_ups.items():
            prompt_score, prompt_anchored = self._follow_up_score(query, variants)
            scores[i] = max(scores[i], prompt_score) ** _CONTEXT_POWER
            anchored[i] = anchored[i] or prompt_anchored
            allowed[i] = True
        eligible = anchored & allowed & (scores > 0) & (scores >= confidence_threshold)
        candidates = np.flatnonzero(eligible)
        # Best first, ties in knowledge-base order; filters are applied lazily so
        # only as many pairs as needed are checked.
        order = candidates[np.lexsort((candidates, -scores[candidates]))]
        answers: list[dict[str, Any]] = []
        for i in order.tolist():
            if accept is not None and not accept.accepts(
                self.records[i], self.metadata[i]
            ):
                continue
            answers.append(self._answer_dict(i, float(scores[i])))
            if len(answers) == top:
                break
        if not answers:
            return [self._default()]
        if span_request is not None:
            asked = question_type(question, self.language)
            terms = _content_stems(
                question, self.language, self.weights.stopwords, asked.cues
            )
            for answer in answers[: span_request.top]:
                typed = typed_span(answer["answer"], asked.kind, terms)
                found = (
                    _best_span(answer["answer"], query, self._tokens)
                    if typed is None
                    else (typed[0], typed[1], answer["confidenceScore"])
                )
                if found is not None and found[2] >= span_request.threshold:
                    start, end, confidence = found
                    answer["answerSpan"] = {
                        "text": answer["answer"][start:end],
                        "confidenceScore": round(confidence, 4),
                        "offset": start,
                        "length": end - start,
                    }
        return answers

    def _previous(self, context: Mapping[str, Any] | None) -> int | None:
        if context is None:
            return None
        if not isinstance(context, Mapping):
            raise QnaError("context must be an object")
        if "previousQnaId" not in context:
            raise QnaError("context.previousQnaId is required inside context")
        previous_id = _as_int(context["previousQnaId"], "context.previousQnaId")
        return self.by_id.get(previous_id)


def answers_from_text(
    question: str,
    records: Sequence[tuple[str, str]],
    *,
    language: str = "en",
    string_index_type: str = "UnicodeCodePoint",
    top: int = 3,
) -> list[dict[str, Any]]:
    """Azure's ``:query-text``: the sentences of ``records`` that best answer.

    ``records`` are ``(id, text)``. Each answer is one sentence with its offset and
    length in the record, plus the best clause inside it as ``answerSpan`` (offset
    relative to the answer); offsets are in ``string_index_type`` units.
    """
    if not isinstance(question, str) or not question.strip():
        raise QnaError("question must be a non-empty string")
    try:
        index_type = parse_index_type(string_index_type)
    except OffsetError as exc:
        raise QnaError(str(exc)) from exc
    if not records:
        raise QnaError("at least one text record is required")
    ids: set[str] = set()
    for record in records:
        if (
            not isinstance(record, tuple | list)
            or len(record) != 2
            or not all(isinstance(part, str) for part in record)
        ):
            raise QnaError("each record must be an (id, text) pair of strings")
        if record[0] in ids:
            raise QnaError(f"record id {record[0]!r} appears more than once")
        ids.add(record[0])
    stopwords = _stopwords(language)
    asked = question_type(question, language)

    def keys(text: str) -> list[str]:
        return stem_all(tokenize(text), language)

    sentences: list[tuple[str, str, int, int, frozenset[str]]] = []
    for record_id, text in records:
        for match in _SENTENCE.finditer(text):
            start, end = match.span()
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            tokens = tokenize(text[start:end])
            if tokens:
                sentences.append(
                    (record_id, text, start, end, frozenset(stem_all(tokens, language)))
                )
    # Function words and the question's type cues ("how long") are not matched:
    # they say what kind of answer is wanted, not what it is about.
    content = _content_stems(question, language, stopwords, asked.cues)
    weights = _Weights((set(s[4]) for s in sentences), frozenset())
    query = {token: weights(token) for token in content}
    scored: list[tuple[float, int, tuple[int, int] | None]] = []
    for position, (_, text, start, end, sentence_keys) in enumerate(sentences):
        covered = _coverage(query, sentence_keys)
        if covered <= 0:
            continue
        span = typed_span(text[start:end], asked.kind, content)
        scored.append(
            (
                _text_confidence(
                    covered, asked.kind, span, text[start:end], content, stopwords
                ),
                position,
                span,
            )
        )
    scored.sort(key=lambda item: (-item[0], item[1]))
    answers: list[dict[str, Any]] = []
    for score, position, typed in scored[:top]:
        record_id, text, start, end, _ = sentences[position]
        sentence = text[start:end]
        offset, length = from_code_points(text, start, end - start, index_type)
        answer: dict[str, Any] = {
            "answer": sentence,
            "confidenceScore": round(score, 4),
            "id": record_id,
            "offset": offset,
            "length": length,
        }
        found: tuple[int, int, float] | None
        if typed is not None:
            found = (typed[0], typed[1], score)
        else:
            clause = _best_span(sentence, query, keys)
            found = (
                None if clause is None else (clause[0], clause[1], score * clause[2])
            )
        if found is not None:
            span_start, span_end, span_score = found
            span_offset, span_length = from_code_points(
                sentence, span_start, span_end - span_start, index_type
            )
            answer["answerSpan"] = {
                "text": sentence[span_start:span_end],
                "confidenceScore": round(span_score, 4),
                "offset": span_offset,
                "length": span_length,
            }
        answers.append(answer)
    return answers


def _content_stems(
    question: str, language: str, stopwords: frozenset[str], cues: frozenset[str]
) -> frozenset[str]:
    """The question's stemmed content words: no function words, no type cues.

    Function words and cues ("how long") say what kind of answer is wanted, not what
    it is about; a question made only of them keeps all its words.
    """
    words = tokenize(question)
    content = [w for w in words if w not in stopwords and w not in cues]
    return frozenset(stem_all(content or words, language))


def _text_confidence(
    covered: float,
    kind: str | None,
    span: tuple[int, int] | None,
    sentence: str,
    content: frozenset[str],
    stopwords: frozenset[str],
) -> float:
    """A sentence's ``:query-text`` confidence, on Azure's scale.

    ``covered`` (the IDF-weighted share of the question's content words in the
    sentence) carries it. A typed question ("how long") whose sentence holds no
    answer of that type keeps only ``_UNTYPED_SHARE`` of it: the words match but the
    sentence does not answer. Density, the share of the sentence's content words that
    are the question's or the answer's, moves the last tenth, so a long sentence that
    merely mentions the words ranks below a focused one and even a perfect match
    stays below 1 unless the sentence says nothing else.
    """
    if kind is not None and span is None:
        covered *= _UNTYPED_SHARE
    words = [w for w in tokenize(sentence) if w not in stopwords]
    if not words:
        return covered
    answer_words = set() if span is None else set(tokenize(sentence[span[0] : span[1]]))
    relevant = sum(1 for w in words if stem(w) in content or w in answer_words)
    return covered * (1 - _DENSITY_SHARE + _DENSITY_SHARE * relevant / len(words))
