"""Entity definitions as the exported project declares them, and their validation.

Mirrors the ``entities`` items of Azure's exported project (azure-api.md §3.3): a
category, its ``compositionSetting``, list sublists with per-language synonyms,
prebuilt components, regex expressions and ``requiredComponents``. The learned
component is not declared here: an entity has one when the training data labels it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import regex

from .prebuilt import canonical_prebuilt

COMPONENT_LEARNED = "learned"
COMPONENT_LIST = "list"
COMPONENT_PREBUILTS = "prebuilts"
COMPONENT_REGEX = "regex"
COMPONENTS = (COMPONENT_LEARNED, COMPONENT_LIST, COMPONENT_PREBUILTS, COMPONENT_REGEX)

COMBINE_COMPONENTS = "combineComponents"
SEPARATE_COMPONENTS = "separateComponents"
RETURN_LONGEST_OVERLAP = "returnLongestOverlap"
REQUIRE_EXACT_OVERLAP = "requireExactOverlap"
COMPOSITION_SETTINGS = (
    COMBINE_COMPONENTS,
    SEPARATE_COMPONENTS,
    RETURN_LONGEST_OVERLAP,
    REQUIRE_EXACT_OVERLAP,
)

# Azure's service limit (azure-api.md §5).
MAX_PREBUILTS_PER_ENTITY = 7


@dataclass(frozen=True, slots=True)
class DefinitionProblem:
    """One problem, with the fields of ``studio.errors.ErrorDetail`` (the engine
    imports nothing from Django, so the service layer converts:
    ``ErrorDetail(p.code, p.message, p.target, p.inner_code)``)."""

    code: str
    message: str
    target: str | None = None
    inner_code: str | None = "InvalidParameterValue"


class EntityDefinitionError(ValueError):
    """Raised by ``EntityExtractor.fit`` for definitions that cannot be fitted."""

    def __init__(self, problems: Sequence[DefinitionProblem]) -> None:
        self.problems = list(problems)
        first = self.problems[0].message if self.problems else "invalid definitions"
        more = len(self.problems) - 1
        super().__init__(first + (f" (and {more} more problem(s))" if more else ""))

    def __reduce__(self) -> tuple[type[EntityDefinitionError], tuple[Any, ...]]:
        # Pickled with its problems, not its message (entity fits run in a child).
        return (type(self), (self.problems,))


@dataclass(frozen=True)
class ListSublist:
    """One list key and its synonyms per language ("" = any language)."""

    key: str
    synonyms: dict[str, tuple[str, ...]] = field(default_factory=dict)


@dataclass(frozen=True)
class RegexExpression:
    """One regex component expression; ``language`` "" matches every language."""

    key: str
    pattern: str
    language: str = ""


@dataclass(frozen=True)
class EntityDefinition:
    """One entity and its non-learned components.

    ``combineComponents`` is the default: Language Studio creates entities with it
    and Azure's docs call the other deprecated options legacy.
    """

    category: str
    composition_setting: str = COMBINE_COMPONENTS
    list_sublists: tuple[ListSublist, ...] = ()
    prebuilts: tuple[str, ...] = ()
    regex: tuple[RegexExpression, ...] = ()
    required_components: tuple[str, ...] = ()


def language_matches(declared: str, requested: str) -> bool:
    """Whether a synonym or expression declared for ``declared`` applies to a query
    in ``requested``: "" applies everywhere, otherwise the primary subtags agree
    (``en-us`` synonyms serve an ``en`` query and the reverse)."""
    if not declared or not requested:
        return True
    return declared.split("-")[0].casefold() == requested.split("-")[0].casefold()


def validate_definitions(
    definitions: Sequence[EntityDefinition],
) -> list[DefinitionProblem]:
    """Every problem in ``definitions``, each with a target naming the entity.

    An empty list means the definitions can be fitted. Learned components cannot be
    checked here (they come from the labels), so a ``requiredComponents`` entry of
    ``learned`` is accepted as is.
    """
    problems: list[DefinitionProblem] = []

    def add(message: str, target: str) -> None:
        problems.append(DefinitionProblem("InvalidArgument", message, target))

    seen: set[str] = set()
    for index, definition in enumerate(definitions):
        target = f"entities[{index}]"
        category = definition.category
        if not category or not category.strip():
            add("An entity category must not be empty.", target)
        elif category in seen:
            add(f"Entity {category!r} is defined more than once.", target)
        seen.add(category)

        if definition.composition_setting not in COMPOSITION_SETTINGS:
            allowed = ", ".join(COMPOSITION_SETTINGS)
            add(
                f"Entity {category!r} has compositionSetting "
                f"{definition.composition_setting!r}; expected one of {allowed}.",
                f"{target}.compositionSetting",
            )

        list_keys: set[str] = set()
        for s_index, sublist in enumerate(definition.list_sublists):
            s_target = f"{target}.list.sublists[{s_index}]"
            if not sublist.key.strip():
                add(
                    f"Entity {category!r} has a list sublist with an empty listKey.",
                    s_target,
                )
            elif sublist.key in list_keys:
                add(f"Entity {category!r} repeats listKey {sublist.key!r}.", s_target)
            list_keys.add(sublist.key)
            for values in sublist.synonyms.values():
                if any(not value.strip() for value in values):
                    add(
                        f"Entity {category!r}, listKey {sublist.key!r} has an empty "
                        "synonym.",
                        f"{s_target}.synonyms",
                    )
                    break

        if len(definition.prebuilts) > MAX_PREBUILTS_PER_ENTITY:
            add(
                f"Entity {category!r} has {len(definition.prebuilts)} prebuilt "
                f"components; at most {MAX_PREBUILTS_PER_ENTITY} are allowed.",
                f"{target}.prebuilts",
            )
        for p_index, prebuilt in enumerate(definition.prebuilts):
            if canonical_prebuilt(prebuilt) is None:
                add(
                    f"Entity {category!r} names unknown prebuilt component "
                    f"{prebuilt!r}.",
                    f"{target}.prebuilts[{p_index}]",
                )

        regex_keys: set[tuple[str, str]] = set()
        for r_index, expression in enumerate(definition.regex):
            r_target = f"{target}.regex.expressions[{r_index}]"
            if not expression.key.strip():
                add(
                    f"Entity {category!r} has a regex with an empty regexKey.", r_target
                )
            if (expression.key, expression.language) in regex_keys:
                add(
                    f"Entity {category!r} repeats regexKey {expression.key!r}.",
                    r_target,
                )
            regex_keys.add((expression.key, expression.language))
            error = regex_error(expression.pattern)
            if error is not None:
                add(
                    f"Entity {category!r}, regexKey {expression.key!r}: {error}",
                    f"{r_target}.regexPattern",
                )

        for required in definition.required_components:
            if required not in COMPONENTS:
                add(
                    f"Entity {category!r} requires unknown component {required!r}; "
                    f"expected some of {', '.join(COMPONENTS)}.",
                    f"{target}.requiredComponents",
                )
                continue
            missing = (
                (required == COMPONENT_LIST and not definition.list_sublists)
                or (required == COMPONENT_PREBUILTS and not definition.prebuilts)
                or (required == COMPONENT_REGEX and not definition.regex)
            )
            if missing:
                add(
                    f"Entity {category!r} requires its {required} component but "
                    "defines none, so it could never be returned.",
                    f"{target}.requiredComponents",
                )
    return problems


def regex_error(pattern: str) -> str | None:
    """Why ``pattern`` cannot be used, or ``None`` when it compiles."""
    if not pattern:
        return "the regexPattern is empty."
    try:
        regex.compile(pattern)
    except regex.error as exc:
        return f"the regexPattern does not compile ({exc})."
    return None


def definition_from_exported(item: Mapping[str, Any]) -> EntityDefinition:
    """An ``EntityDefinition`` from one ``assets.entities`` item of Azure's exported
    project (azure-api.md §3.3). Shapes are trusted here; the importer validates
    the JSON, and ``validate_definitions`` checks the values."""
    sublists = []
    for sublist in (item.get("list") or {}).get("sublists") or []:
        synonyms: dict[str, tuple[str, ...]] = {}
        for group in sublist.get("synonyms") or []:
            language = group.get("language") or ""
            synonyms[language] = synonyms.get(language, ()) + tuple(
                group.get("values") or ()
            )
        sublists.append(ListSublist(sublist.get("listKey", ""), synonyms))
    expressions = tuple(
        RegexExpression(
            e.get("regexKey", ""), e.get("regexPattern", ""), e.get("language") or ""
        )
        for e in (item.get("regex") or {}).get("expressions") or []
    )
    return EntityDefinition(
        category=item["category"],
        composition_setting=item.get("compositionSetting") or COMBINE_COMPONENTS,
        list_sublists=tuple(sublists),
        prebuilts=tuple(p["category"] for p in item.get("prebuilts") or []),
        regex=expressions,
        required_components=tuple(item.get("requiredComponents") or ()),
    )
