"""Request validation on the prediction hot path: DRF serializers against msgspec.

    python -m bench.request_parsing [--iterations 20000] [--json]

Validates the same ``:analyze-conversations`` body (a Conversation request, and an
orchestration request with ``targetProjectParameters``) with:

- ``runtime.parsing.analyze_request_parse`` (what the runtime runs: the msgspec
  structs of ``runtime.schemas`` plus the checks
  a type cannot say), the baseline;
- the same shape declared as DRF serializers (``Serializer.is_valid``), the other
  candidate the issue names;
- bare ``msgspec.convert`` of the structs (no Azure-specific checks), the floor.

Each is timed in this run, interleaved, best of 5 rounds; the ratios are against the
baseline. One HTTP prediction costs a few milliseconds, so what matters is how many
microseconds a candidate adds to it. Nothing here is a test.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "studio.settings")
django.setup()

import msgspec  # noqa: E402
from rest_framework import serializers  # noqa: E402

from runtime import parsing, schemas  # noqa: E402

CONVERSATION: dict[str, Any] = {
    "kind": "Conversation",
    "analysisInput": {
        "conversationItem": {
            "id": "1",
            "participantId": "user",
            "text": "what is the balance of my checking account",
            "language": "en-us",
        }
    },
    "parameters": {
        "projectName": "banking",
        "deploymentName": "production",
        "verbose": True,
        "stringIndexType": "TextElements_v8",
    },
}
ORCHESTRATION: dict[str, Any] = {
    **CONVERSATION,
    "parameters": {
        **CONVERSATION["parameters"],
        "targetProjectParameters": {
            "Faq": {
                "targetProjectKind": "QuestionAnswering",
                "callingOptions": {"question": "opening hours", "top": 2},
            },
            "Weather": {"targetProjectKind": "Luis", "query": "weather in Oslo"},
        },
    },
}


class ConversationItemSerializer(serializers.Serializer):
    id = serializers.CharField()
    participantId = serializers.CharField()  # noqa: N815 (Azure's field name)
    text = serializers.CharField(max_length=1000, trim_whitespace=False)
    language = serializers.CharField(required=False, allow_null=True)


class AnalysisInputSerializer(serializers.Serializer):
    conversationItem = ConversationItemSerializer()  # noqa: N815


class TargetSerializer(serializers.Serializer):
    targetProjectKind = serializers.ChoiceField(  # noqa: N815
        choices=["Luis", "Conversation", "QuestionAnswering", "NonLinked"],
        required=False,
    )
    callingOptions = serializers.DictField(required=False)  # noqa: N815
    query = serializers.CharField(max_length=500, required=False)


class ParametersSerializer(serializers.Serializer):
    projectName = serializers.CharField()  # noqa: N815
    deploymentName = serializers.CharField()  # noqa: N815
    verbose = serializers.BooleanField(required=False)
    isLoggingEnabled = serializers.BooleanField(required=False)  # noqa: N815
    stringIndexType = serializers.ChoiceField(  # noqa: N815
        choices=["TextElements_v8", "UnicodeCodePoint", "Utf16CodeUnit"],
        required=False,
    )
    directTarget = serializers.CharField(required=False)  # noqa: N815
    targetProjectParameters = serializers.DictField(  # noqa: N815
        child=TargetSerializer(), required=False
    )


class AnalyzeSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["Conversation"])
    analysisInput = AnalysisInputSerializer()  # noqa: N815
    parameters = ParametersSerializer()


def _drf(body: dict[str, Any]) -> None:
    serializer = AnalyzeSerializer(data=body)
    if not serializer.is_valid():
        raise AssertionError(serializer.errors)


def _msgspec_bare(body: dict[str, Any]) -> None:
    msgspec.convert(body, schemas.AnalyzeBody)


def _ours(body: dict[str, Any]) -> None:
    parsing.analyze_request_parse(body)


def _time(
    func: Callable[[dict[str, Any]], None], body: dict[str, Any], n: int
) -> float:
    start = time.perf_counter()
    for _ in range(n):
        func(body)
    return (time.perf_counter() - start) / n * 1e6


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iterations", type=int, default=20000)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    candidates: dict[str, Callable[[dict[str, Any]], None]] = {
        "runtime.parsing (msgspec + checks)": _ours,
        "DRF serializers": _drf,
        "msgspec.convert alone": _msgspec_bare,
    }
    results: dict[str, dict[str, float]] = {}
    for body_name, body in (
        ("conversation", CONVERSATION),
        ("orchestration", ORCHESTRATION),
    ):
        best = {name: float("inf") for name in candidates}
        for _ in range(5):
            for name, func in candidates.items():
                best[name] = min(best[name], _time(func, body, args.iterations))
        results[body_name] = best
        baseline = best["runtime.parsing (msgspec + checks)"]
        print(f"\n{body_name} body, microseconds per request (best of 5):")
        for name, micros in best.items():
            print(f"  {name:<36} {micros:8.2f} us   x{micros / baseline:6.2f}")
    if args.json:
        print(json.dumps(results))


if __name__ == "__main__":
    main()
