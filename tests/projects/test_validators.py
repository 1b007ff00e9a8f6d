"""The naming rules and limits of azure-api.md §5."""

from __future__ import annotations

from typing import Any

import pytest

from projects import validators as v


def test_limits_are_the_documented_ones() -> None:
    assert v.MAX_UTTERANCES_PER_PROJECT == 50_000
    assert v.MAX_UTTERANCE_LENGTH == 500
    assert (v.MAX_INTENTS_PER_PROJECT, v.MAX_ENTITIES_PER_PROJECT) == (500, 350)
    assert (v.MAX_LIST_SYNONYMS_PER_ENTITY, v.MAX_PREBUILTS_PER_ENTITY) == (20_000, 7)
    assert v.MAX_REGEX_PER_PROJECT == 20


@pytest.mark.parametrize("name", ["EmailApp", "a", "a.b-c_d", "x" * 50, "globals"])
def test_good_project_names(name: str) -> None:
    assert v.project_name_error(name) is None


@pytest.mark.parametrize(
    "name", ["", "a b", "x" * 51, "global", "GLOBAL", "a/b", "é", None]
)
def test_bad_project_names(name: object) -> None:
    assert v.project_name_error(name) is not None


@pytest.mark.parametrize("char", list(":$&%*()+~#/?"))
def test_each_forbidden_label_character_is_named(char: str) -> None:
    message = v.label_name_error(f"a{char}b", what="Intent")
    assert message is not None and char in message


@pytest.mark.parametrize("language", ["en", "en-us", "zh-Hans-CN", "fil"])
def test_languages_accepted(language: str) -> None:
    assert v.language_error(language) is None


@pytest.mark.parametrize("language", ["", "e", "english", "en_us", "en-", 5])
def test_languages_refused(language: object) -> None:
    assert v.language_error(language) is not None


def test_utterance_text_rules() -> None:
    assert v.utterance_text_error("x" * 500) is None
    assert v.utterance_text_error(" keep spaces ") is None
    assert v.utterance_text_error("x" * 501) is not None
    assert v.utterance_text_error("\t \n") is not None
    assert v.utterance_text_error(None) is not None


def test_spans_same_entity_may_not_overlap_but_different_may() -> None:
    assert v.spans_error("hello world", [("A", 0, 5), ("B", 2, 5)]) is None
    assert v.spans_error("hello world", [("A", 0, 5), ("A", 5, 6)]) is None
    assert v.spans_error("hello world", [("A", 0, 5), ("A", 4, 2)]) == (
        1,
        "span of entity 'A' overlaps another span of the same entity.",
    )
    assert v.spans_error("hello", [("A", 3, 3)]) is not None
    assert v.spans_error("hello", [("A", 0, 0)]) is not None


def test_regex_must_compile_with_the_regex_module() -> None:
    assert v.regex_pattern_error(r"\p{L}+") is None
    assert v.regex_pattern_error("(") is not None


def test_http_urls(settings: Any) -> None:
    assert v.http_url_error("https://example.com/predict?x=1") is None
    for bad in ("ftp://example.com", "example.com", "https://", "javascript:alert(1)"):
        assert v.http_url_error(bad) is not None
    # Credentials belong in the encrypted headers or key, not in the shown URL.
    assert "password" in (v.http_url_error("https://u:pw@bots.example.com/") or "")
    # Local and private addresses in any spelling, unless allowlisted (names are
    # checked, resolved, at call time: tests/training/test_target_policy.py).
    private = (
        "http://10.0.0.2:8080",
        "http://127.1/",
        "http://2130706433/",
        "http://0x7f000001/",
        "http://0177.0.0.1/",
        "http://[::ffff:127.0.0.1]/",
        "http://[fd12::1]/",
        "http://169.254.169.254/latest",
        "http://localhost:6379/",
        "http://redis.localhost/",
    )
    for url in private:
        assert "STUDIO_TARGET_ALLOWED_HOSTS" in (v.http_url_error(url) or ""), url
    settings.STUDIO_TARGET_ALLOWED_HOSTS = ["10.0.0.0/8", "localhost"]
    assert v.http_url_error("http://10.0.0.2:8080") is None
    assert v.http_url_error("http://localhost:6379/") is None
    assert v.http_url_error("http://127.1/") is not None


def test_prebuilt_check_uses_engine_catalog_and_its_aliases() -> None:
    known = v.prebuilt_catalog()
    assert v.prebuilt_error("Teleportation", known) is not None
    assert v.prebuilt_error("Quantity.Number", known) is None
    assert v.prebuilt_error("Number", known) is None
    assert v.prebuilt_error("", known) is not None
    assert v.prebuilt_error("Anything", None) is None


def test_http_target_headers() -> None:
    assert v.http_headers_error({"Authorization": "Bearer x", "X-Team": ""}) is None
    for bad in (
        {"Bad Name": "x"},
        {"X-A": "one\r\nX-Injected: two"},
        {"X-A": "x" * 2001},
        {f"X-{i}": "v" for i in range(21)},
    ):
        assert v.http_headers_error(bad) is not None, bad
