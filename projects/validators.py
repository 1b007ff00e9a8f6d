"""Naming rules and limits of azure-api.md §5, shared by models, services and formats.

Each check returns an error message (``None`` when the value is fine) so a caller can
either raise it directly or add it to an ``ErrorCollector`` with the value's JSON path.
Limits are module constants read at call time, so tests can lower them with
``monkeypatch.setattr`` instead of creating 50,000 rows.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import urllib.parse
from collections.abc import Callable, Iterable

import regex

from studio import inputs, target_policy
from studio.inputs import echo

# Limits (azure-api.md §5 and the QnA authoring spec).
MAX_NAME_LENGTH = 50
MAX_INTENTS_PER_PROJECT = 500
MAX_ENTITIES_PER_PROJECT = 350
MAX_UTTERANCES_PER_PROJECT = 50_000
MAX_UTTERANCE_LENGTH = 500
MAX_LIST_SYNONYMS_PER_ENTITY = 20_000
MAX_PREBUILTS_PER_ENTITY = 7
MAX_REGEX_PER_PROJECT = 20
MAX_DESCRIPTION_LENGTH = 2_000
MAX_QNAS_PER_PROJECT = 50_000
MAX_QUESTIONS_PER_QNA = 100
MAX_QUESTION_LENGTH = 1_000
MAX_ANSWER_LENGTH = 25_000
MAX_SOURCE_LENGTH = 300
MAX_PROMPTS_PER_QNA = 20
MAX_PROMPT_TEXT_LENGTH = 200
MAX_METADATA_PER_QNA = 10
MAX_METADATA_KEY_LENGTH = 100
MAX_METADATA_VALUE_LENGTH = 500
MAX_SYNONYM_GROUPS = 10_000
MAX_ALTERATIONS_PER_GROUP = 20
MAX_LANGUAGE_LENGTH = 35


# The one size limit of everything a client sends, and its message (studio.inputs:
# the middleware that refuses an oversized body unread needs them too).
max_upload_bytes = inputs.max_upload_bytes
size_error = inputs.size_error


PROJECT_NAME_RE = r"^[A-Za-z0-9_.-]{1,50}$"
# Intent and entity names: any characters except : $ & % * ( ) + ~ # / ?
FORBIDDEN_LABEL_CHARS = ":$&%*()+~#/?"
LABEL_NAME_RE = r"^[^:$&%*()+~#/?]{1,50}$"
RESERVED_PROJECT_NAMES = frozenset({"global"})
# BCP-47, loosely: a 2-3 letter primary tag, then alphanumeric subtags ("en", "en-us",
# "zh-Hans-CN"). Azure accepts more than it documents, so we do not check registries.
LANGUAGE_RE = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")

_PROJECT_NAME = re.compile(PROJECT_NAME_RE)
_LABEL_NAME = re.compile(LABEL_NAME_RE)

PROJECT_KINDS = ("Conversation", "Orchestration", "QuestionAnswering")
# Linked orchestration targets; "" (stored) / "NonLinked" (accepted) means none.
TARGET_KINDS = ("Conversation", "QuestionAnswering", "Luis", "Http")
DATASETS = ("Train", "Test")
COMPOSITION_SETTINGS = (
    "returnLongestOverlap",
    "requireExactOverlap",
    "separateComponents",
    "combineComponents",
)
ENTITY_COMPONENTS = ("learned", "list", "prebuilts", "regex")


# Characters a name may not contain because they are invisible (or nearly so): the
# format and control categories (zero-width space, joiners, bidi controls, soft
# hyphen...), line and paragraph separators, unassigned and private-use code points,
# and the default-ignorable characters of other categories (variation selectors,
# the combining grapheme joiner, Hangul fillers).
_INVISIBLE_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})
_INVISIBLE_EXTRA = re.compile(
    "[\u034f\u115f\u1160\u17b4\u17b5\u180b-\u180f\u3164\ufe00-\ufe0f"
    "\uffa0\U000e0100-\U000e01ef]"
)


def invisible_character(name: str) -> str | None:
    """The first invisible character of ``name`` (see above), or None."""
    for char in name:
        if unicodedata.category(char) in _INVISIBLE_CATEGORIES:
            return char
        if _INVISIBLE_EXTRA.match(char):
            return char
    return None


def text_key(text: str) -> str:
    """What makes two utterances "the same text" for the duplicate checks: Unicode
    compatibility forms folded (full-width letters), case folded (ß = ss), runs of
    white space as one space, none at the ends. Stored beside the text
    (``Utterance.text_key``) so that the duplicate filters group in SQL."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


def text_key_digest(text: str) -> str:
    """``text_key`` as stored and indexed (``Utterance.text_key``): a 32-character
    digest, because NFKC can make a 500-character text many times longer (one
    character becomes up to 18), too long for a PostgreSQL index entry."""
    return hashlib.blake2b(text_key(text).encode(), digest_size=16).hexdigest()


def name_key(name: str) -> str:
    """The form in which two names are the same name: invisible characters removed,
    then NFKC, case folding and NFKC again (Unicode's NFKC_Casefold, near enough).
    ``Book``, ``book``, ``BOOK``, ``Bo\u200bok`` and fullwidth ``Ｂｏｏｋ`` share one
    key, so a project can hold only one of them. Stored beside intent and entity
    names (``name_key``, unique per project); project names are ASCII, where this is
    ``lower()``, and their uniqueness is a ``Lower(name)`` index."""
    visible = "".join(c for c in name if invisible_character(c) is None)
    folded = unicodedata.normalize("NFKC", visible).casefold()
    return unicodedata.normalize("NFKC", folded)


def dots_only_error(name: str, *, what: str) -> str | None:
    """``.``, ``..``, ``...``: valid by the character rules, but a URL path segment
    of dots is removed or climbs a level, so such a project or deployment could be
    created and never reached again."""
    if name and not name.strip("."):
        return f"{what} name {echo(name)} cannot be made of dots only."
    return None


DEPLOYMENT_NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,50}$")
# ``.../deployments/swap`` would collide with the swap operation's route.
RESERVED_DEPLOYMENT_NAME = "swap"


def deployment_name_error(name: str) -> str | None:
    """Azure's naming rule of deployments, plus no dots-only name and not ``swap``."""
    if not DEPLOYMENT_NAME_RE.fullmatch(name):
        return (
            f"Deployment name {echo(name)} is invalid: use 1 to 50 letters, digits, "
            "'_', '.' or '-'."
        )
    if (problem := dots_only_error(name, what="Deployment")) is not None:
        return problem
    if name.lower() == RESERVED_DEPLOYMENT_NAME:
        return (
            f"{echo(name)} is a reserved word and cannot be used as a deployment name."
        )
    return None


def project_name_error(name: object) -> str | None:
    if not isinstance(name, str) or not name:
        return "Project name must be a non-empty string."
    if not _PROJECT_NAME.match(name):
        return (
            f"Project name {echo(name)} is invalid: use 1-50 letters, digits, '_', '.' "
            "or '-', without spaces."
        )
    if name.lower() in RESERVED_PROJECT_NAMES:
        return f"Project name {echo(name)} is reserved."
    return dots_only_error(name, what="Project")


def label_name_error(name: object, *, what: str) -> str | None:
    """Intent and entity names (``what`` is "Intent" or "Entity")."""
    if not isinstance(name, str) or not name:
        return f"{what} name must be a non-empty string."
    if name.strip() != name or not name.strip():
        return f"{what} name {echo(name)} must not start or end with whitespace."
    if len(name) > MAX_NAME_LENGTH:
        return f"{what} name {echo(name)} is longer than {MAX_NAME_LENGTH} characters."
    if not _LABEL_NAME.match(name):
        bad = sorted({c for c in name if c in FORBIDDEN_LABEL_CHARS})
        return (
            f"{what} name {echo(name)} contains forbidden character(s) "
            f"{' '.join(bad)}; these are not allowed: {FORBIDDEN_LABEL_CHARS}"
        )
    if (char := invisible_character(name)) is not None:
        return (
            f"{what} name {echo(name)} contains the invisible character "
            f"U+{ord(char):04X} ({unicodedata.name(char, 'a control character')}); "
            "names must be made of visible characters."
        )
    return None


def lookalike_error(name: str, other: str, *, what: str) -> str:
    """The message for ``name`` colliding with the existing ``other``."""
    return (
        f"{what} {echo(name)} is too much like {what.lower()} {echo(other)}: names "
        "are compared ignoring letter case, width and invisible characters."
    )


def language_error(language: object) -> str | None:
    if not isinstance(language, str) or not language:
        return "Language must be a non-empty BCP-47 tag such as 'en' or 'en-us'."
    if len(language) > MAX_LANGUAGE_LENGTH or not LANGUAGE_RE.match(language):
        return f"Language {echo(language)} is not a BCP-47 tag such as 'en' or 'en-us'."
    return None


def confidence_threshold_error(value: object) -> str | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return "settings.confidenceThreshold must be a number between 0 and 1."
    if not 0.0 <= float(value) <= 1.0:
        return f"settings.confidenceThreshold {value} is outside 0..1."
    return None


def utterance_text_error(text: object) -> str | None:
    if not isinstance(text, str):
        return "Utterance text must be a string."
    if not text.strip():
        return "Utterance text must not be empty or whitespace only."
    if len(text) > MAX_UTTERANCE_LENGTH:
        return (
            f"Utterance text is {len(text)} characters long; the limit is "
            f"{MAX_UTTERANCE_LENGTH}."
        )
    return None


def dataset_error(dataset: object) -> str | None:
    if dataset is None or dataset in DATASETS:
        return None
    return (
        f"Dataset {echo(dataset)} is not one of Train, Test (or absent for unassigned)."
    )


def regex_pattern_error(pattern: object) -> str | None:
    if not isinstance(pattern, str) or not pattern:
        return "regexPattern must be a non-empty string."
    try:
        regex.compile(pattern)
    except regex.error as exc:
        return f"regexPattern {echo(pattern)} does not compile: {exc}"
    return None


def http_url_error(url: object) -> str | None:
    """An external target's URL: absolute http(s), and not a local or private
    address in any spelling unless allowlisted (``studio.target_policy``; names
    are resolved and checked again at every call)."""
    if not isinstance(url, str) or not re.match(r"^https?://[^\s/?#]+\S*$", url):
        return f"Endpoint URL {echo(url)} must be an absolute http:// or https:// URL."
    if len(url) > 2_000:
        return "Endpoint URL is longer than 2000 characters."
    try:
        parts = urllib.parse.urlsplit(url)
        host = parts.hostname or ""
    except ValueError:
        return f"Endpoint URL {url!r} has an invalid host."
    if parts.username is not None or parts.password is not None:
        # The URL is shown to every reader; secrets go where they are encrypted.
        return (
            "Endpoint URL must not contain a user name or password; put credentials "
            "in the headers or the key, which are stored encrypted."
        )
    return target_policy.literal_host_error(host)


HEADER_NAME_RE = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,100}$")
MAX_HEADERS = 20


def http_headers_error(headers: dict[str, str]) -> str | None:
    """An HTTP target's headers: valid names, values without line breaks (which
    would split the request), at most ``MAX_HEADERS`` of 2,000 characters."""
    if len(headers) > MAX_HEADERS:
        return f"A target may send at most {MAX_HEADERS} headers."
    for name, value in headers.items():
        if not HEADER_NAME_RE.match(name):
            return f"Header name {name[:100]!r} is not a valid HTTP header name."
        if len(value) > 2_000 or any(c in value for c in "\r\n\0"):
            return (
                f"The value of header {name!r} must be one line of at most 2000 "
                "characters."
            )
    return None


def spans_error(
    text: str, spans: Iterable[tuple[str, int, int]]
) -> tuple[int, str] | None:
    """Check (category, offset, length) code-point spans against ``text``.

    Returns ``(index, message)`` for the first bad span: outside the text, empty, or
    overlapping another span of the same entity (different entities may overlap).
    """
    by_category: dict[str, list[tuple[int, int, int]]] = {}
    for index, (category, offset, length) in enumerate(spans):
        if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
            return index, f"offset {echo(offset)} must be a non-negative integer."
        if isinstance(length, bool) or not isinstance(length, int) or length < 1:
            return index, f"length {echo(length)} must be a positive integer."
        if offset + length > len(text):
            return index, (
                f"span {offset}+{length} runs past the end of the text "
                f"({len(text)} characters)."
            )
        by_category.setdefault(category, []).append((offset, offset + length, index))
    for category, items in by_category.items():
        items.sort()
        for (_s1, e1, _i1), (s2, _e2, i2) in zip(items, items[1:], strict=False):
            if s2 < e1:
                return i2, (
                    f"span of entity {echo(category)} overlaps another span of the "
                    "same entity."
                )
    return None


def prebuilt_catalog() -> Callable[[str], bool]:
    """A check that a prebuilt category is one the engine recognises; its aliases
    ("Number" for "Quantity.Number") are accepted, as Azure accepts them."""
    # Imported here: the engine's recognisers load only where entities are checked.
    from training.engine.entities import canonical_prebuilt

    return lambda name: canonical_prebuilt(name) is not None


def prebuilt_error(category: object, known: Callable[[str], bool] | None) -> str | None:
    if not isinstance(category, str) or not category.strip():
        return "Prebuilt category must be a non-empty string."
    if known is not None and not known(category):
        return f"Prebuilt category {echo(category)} is not a known prebuilt entity."
    return None
