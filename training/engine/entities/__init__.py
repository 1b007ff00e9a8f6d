"""Entity extraction for CLU projects: Azure's four component kinds per entity.

- learned: a CRF trained on the labelled spans (``learned``), present for an entity
  when the training data labels it;
- list: synonyms, case- and diacritics-insensitive, returning the list key
  (``lists``);
- regex: user patterns under a time limit, returning the regex key (``regexes``);
- prebuilt: Azure's prebuilt components (numbers, quantities with units, dates and
  times, contacts, booleans...) with Azure's resolutions (``prebuilt``);

combined per entity by ``compositionSetting`` and ``requiredComponents``
(``compose``). Offsets are code points throughout; the API converts them.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from ..text import normalize
from ..types import EntityMatch, Span
from .compose import ComponentMatch, compose
from .definitions import (
    COMBINE_COMPONENTS,
    COMPONENT_LEARNED,
    COMPONENT_LIST,
    COMPONENT_PREBUILTS,
    COMPONENT_REGEX,
    COMPONENTS,
    COMPOSITION_SETTINGS,
    DefinitionProblem,
    EntityDefinition,
    EntityDefinitionError,
    ListSublist,
    RegexExpression,
    definition_from_exported,
    validate_definitions,
)
from .learned import LearnedTagger, WordClusters, bio_labels, token_features
from .lists import ListHit, ListMatcher
from .prebuilt import (
    PREBUILT_CATALOG,
    PrebuiltHit,
    canonical_prebuilt,
    recognize,
    select_longest,
)
from .regexes import DEFAULT_TIMEOUT_S, RegexHit, RegexMatcher
from .tokens import Token, tokenize

__all__ = [
    "COMBINE_COMPONENTS",
    "COMPONENTS",
    "COMPOSITION_SETTINGS",
    "PREBUILT_CATALOG",
    "DefinitionProblem",
    "EntityDefinition",
    "EntityDefinitionError",
    "EntityExtractor",
    "ListSublist",
    "RegexExpression",
    "canonical_prebuilt",
    "definition_from_exported",
    "validate_definitions",
]

# Share of the fit's progress for feature extraction (the CRF iterations get the
# rest), and how many utterances between two reports.
_FEATURES_SHARE = 0.15
_PROGRESS_EVERY = 200


@dataclass(frozen=True, slots=True)
class _Plan:
    """What ``predict`` needs per entity, resolved once at fit time."""

    category: str
    setting: str
    required: frozenset[str]
    defined: frozenset[str]
    prebuilts: tuple[str, ...]


class EntityExtractor:
    """A fitted extractor. Build with ``fit``; ``predict`` never refits or
    revalidates, and the object pickles (the CRF travels as bytes)."""

    def __init__(
        self,
        *,
        plans: tuple[_Plan, ...],
        language: str,
        lists: ListMatcher,
        regexes: RegexMatcher,
        learned: LearnedTagger | None,
    ) -> None:
        self._plans = plans
        self.language = language
        self._lists = lists
        self._regexes = regexes
        self._learned = learned
        self._prebuilt_kinds = tuple(
            sorted({kind for plan in plans for kind in plan.prebuilts})
        )

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(plan.category for plan in self._plans)

    @classmethod
    def fit(
        cls,
        definitions: Sequence[EntityDefinition],
        texts: Sequence[str],
        spans: Sequence[Sequence[Span]],
        *,
        language: str = "en",
        random_state: int = 0,
        progress: Callable[[float], None] | None = None,
        regex_timeout: float = DEFAULT_TIMEOUT_S,
        word_classes: WordClusters | None = None,
    ) -> EntityExtractor:
        """Fit on utterances and their labelled spans (code points).

        ``word_classes`` (``learned.vector_classes`` of the static word vector
        table, for the languages it serves) give the learned model the class of
        each word and of its neighbours, so a city or airline the training data
        never named shares features with those it did; the model keeps them.
        Without them (another language, tables turned off or not built yet) it
        trains on the word features alone.

        Raises ``EntityDefinitionError`` for bad definitions and ``ValueError`` for
        spans outside their text. Labelled categories without a definition become
        learned-only entities with the default settings. ``random_state`` is
        accepted for a uniform engine signature; L-BFGS training is deterministic.
        """
        del random_state
        if len(texts) != len(spans):
            raise ValueError(
                f"{len(texts)} texts but {len(spans)} span lists; they must pair up."
            )
        problems = validate_definitions(definitions)
        for index, (text, labelled) in enumerate(zip(texts, spans, strict=True)):
            for span in labelled:
                if span.offset < 0 or span.length <= 0 or span.end > len(text):
                    problems.append(
                        DefinitionProblem(
                            "InvalidArgument",
                            f"Span {span.category}@{span.offset}+{span.length} does "
                            f"not fit in utterance {index} ({len(text)} code points).",
                            f"utterances[{index}].entities",
                        )
                    )
        if problems:
            raise EntityDefinitionError(problems)

        by_category = {d.category: d for d in definitions}
        for labelled in spans:
            for span in labelled:
                by_category.setdefault(span.category, EntityDefinition(span.category))
        lists = ListMatcher(list(by_category.values()))
        regexes = RegexMatcher(list(by_category.values()), timeout=regex_timeout)
        provisional = cls(
            plans=tuple(_plan(d, learned=False) for d in by_category.values()),
            language=language,
            lists=lists,
            regexes=regexes,
            learned=None,
        )

        # Classes learned from the training texts themselves (``WordClusters.fit``)
        # are not used: on validation folds they helped ATIS (+0.55 F1) and
        # HomeAutomationDemo (+1.9) but cost EmailAppDemo 4.4 points; the static
        # table's classes helped all three (bench/README.md, "Learned entity
        # features").
        clusters = word_classes
        # Progress (and, through the callback, a cancel) is reported while the
        # features are extracted and on every CRF iteration, which is most of the
        # time on large sets.
        sequences = []
        for n, (text, labelled) in enumerate(zip(texts, spans, strict=True)):
            if progress is not None and n % _PROGRESS_EVERY == 0:
                progress(_FEATURES_SHARE * n / len(texts))
            tokens, normalized = provisional._tokens(text)
            list_hits, regex_hits, _ = provisional._component_hits(
                text, tokens, normalized, language, None, prebuilts=False
            )
            features = provisional._member_features(
                tokens,
                normalized,
                list_hits,
                regex_hits,
                provisional._prebuilt_features(text, language, None),
                clusters=clusters,
            )
            sequences.append((features, bio_labels(tokens, labelled)))
        learned = LearnedTagger.fit(
            sequences,
            clusters=clusters,
            progress=(
                None
                if progress is None
                else lambda f: progress(_FEATURES_SHARE + (1 - _FEATURES_SHARE) * f)
            ),
        )
        learned_categories = learned.categories if learned is not None else frozenset()
        if progress is not None:
            progress(1.0)
        return cls(
            plans=tuple(
                _plan(d, learned=d.category in learned_categories)
                for d in by_category.values()
            ),
            language=language,
            lists=lists,
            regexes=regexes,
            learned=learned,
        )

    def predict(
        self,
        text: str,
        *,
        language: str | None = None,
        reference: dt.datetime | None = None,
    ) -> list[EntityMatch]:
        """Entities in ``text``, sorted by offset then length; ``reference`` is the
        moment relative dates resolve against (default: now)."""
        lang = language or self.language
        tokens, normalized = self._tokens(text)
        list_hits, regex_hits, prebuilt_hits = self._component_hits(
            text, tokens, normalized, lang, reference
        )
        matches: dict[str, list[ComponentMatch]] = {}
        for hit in list_hits:
            matches.setdefault(hit.category, []).append(
                ComponentMatch(
                    COMPONENT_LIST,
                    hit.start,
                    hit.end,
                    extra_information=(
                        {"extraInformationKind": "ListKey", "key": hit.key},
                    ),
                )
            )
        for rhit in regex_hits:
            matches.setdefault(rhit.category, []).append(
                ComponentMatch(
                    COMPONENT_REGEX,
                    rhit.start,
                    rhit.end,
                    extra_information=(
                        {
                            "extraInformationKind": "RegexKey",
                            "key": rhit.key,
                            "regexPattern": rhit.pattern,
                        },
                    ),
                )
            )
        if self._learned is not None and tokens:
            features = self._member_features(
                tokens,
                normalized,
                list_hits,
                regex_hits,
                self._prebuilt_features(text, lang, reference),
                clusters=self._learned.clusters,
            )
            for lhit in self._learned.predict(tokens, features):
                matches.setdefault(lhit.category, []).append(
                    ComponentMatch(
                        COMPONENT_LEARNED, lhit.start, lhit.end, lhit.confidence
                    )
                )
        result: list[EntityMatch] = []
        for plan in self._plans:
            found = matches.get(plan.category, [])
            if plan.prebuilts:
                # One prebuilt component per entity: its kinds compete, longest
                # first, so "10%" is a percentage and not also the number 10.
                hits = select_longest(
                    [h for kind in plan.prebuilts for h in prebuilt_hits[kind]]
                )
                found = found + [
                    ComponentMatch(
                        COMPONENT_PREBUILTS,
                        h.start,
                        h.end,
                        extra_information=(
                            ({"extraInformationKind": "EntitySubtype",
                              "value": h.subtype},)
                            if h.subtype
                            else ()
                        ),
                        resolutions=h.resolutions,
                    )
                    for h in hits
                ]  # fmt: skip
            result.extend(
                compose(
                    category=plan.category,
                    text=text,
                    matches=found,
                    setting=plan.setting,
                    required=plan.required,
                    defined=plan.defined,
                )
            )
        result.sort(key=lambda m: (m.offset, m.length, m.category))
        return result

    def predict_batch(
        self,
        texts: Sequence[str],
        *,
        language: str | None = None,
        reference: dt.datetime | None = None,
    ) -> list[list[EntityMatch]]:
        moment = reference or dt.datetime.now()
        return [
            self.predict(text, language=language, reference=moment) for text in texts
        ]

    # -- internals ---------------------------------------------------------------

    @staticmethod
    def _tokens(text: str) -> tuple[list[Token], list[str]]:
        tokens = tokenize(text)
        return tokens, [normalize(t.text) for t in tokens]

    def _component_hits(
        self,
        text: str,
        tokens: list[Token],
        normalized: list[str],
        language: str,
        reference: dt.datetime | None,
        *,
        prebuilts: bool = True,
    ) -> tuple[list[ListHit], list[RegexHit], dict[str, list[PrebuiltHit]]]:
        """What the list, regex and (unless not ``prebuilts``) prebuilt components
        find in ``text``."""
        list_hits = self._lists.match(tokens, normalized, language)
        regex_hits = self._regexes.match(text, language)
        prebuilt_hits = (
            recognize(
                text, self._prebuilt_kinds, reference or dt.datetime.now(), language
            )
            if self._prebuilt_kinds and prebuilts
            else {}
        )
        return list_hits, regex_hits, prebuilt_hits

    def _prebuilt_features(
        self, text: str, language: str, reference: dt.datetime | None
    ) -> dict[str, list[PrebuiltHit]]:
        """The prebuilt hits the learned model's features use, the same at fit and
        predict time (``recognize(features=True)``: the fast recognizers)."""
        if not self._prebuilt_kinds:
            return {}
        return recognize(
            text,
            self._prebuilt_kinds,
            reference or dt.datetime.now(),
            language,
            features=True,
        )

    @staticmethod
    def _member_features(
        tokens: list[Token],
        normalized: list[str],
        list_hits: Sequence[ListHit],
        regex_hits: Sequence[RegexHit],
        prebuilt_hits: dict[str, list[PrebuiltHit]],
        *,
        clusters: WordClusters | None = None,
    ) -> list[list[str]]:
        memberships: list[list[str]] = [[] for _ in tokens]
        spans: list[tuple[str, int, int]] = []
        spans.extend((f"list:{h.category}", h.start, h.end) for h in list_hits)
        spans.extend((f"re:{h.category}", h.start, h.end) for h in regex_hits)
        for kind, hits in prebuilt_hits.items():
            spans.extend((f"pb:{kind}", h.start, h.end) for h in hits)
        for name, start, end in spans:
            for i, token in enumerate(tokens):
                if (
                    token.start < end
                    and token.end > start
                    and name not in memberships[i]
                ):
                    memberships[i].append(name)
        return token_features(tokens, normalized, memberships, clusters=clusters)


def _plan(definition: EntityDefinition, *, learned: bool) -> _Plan:
    defined = {
        name
        for name, present in (
            (COMPONENT_LEARNED, learned),
            (COMPONENT_LIST, bool(definition.list_sublists)),
            (COMPONENT_PREBUILTS, bool(definition.prebuilts)),
            (COMPONENT_REGEX, bool(definition.regex)),
        )
        if present
    }
    prebuilts: list[str] = []
    for name in definition.prebuilts:
        canonical = canonical_prebuilt(name)
        if canonical is not None and canonical not in prebuilts:
            prebuilts.append(canonical)
    return _Plan(
        category=definition.category,
        setting=definition.composition_setting,
        required=frozenset(definition.required_components),
        defined=frozenset(defined),
        prebuilts=tuple(prebuilts),
    )
