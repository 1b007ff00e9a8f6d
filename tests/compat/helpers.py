"""Small helpers the live-stack tests share (test_faults.py, test_runtime_sdk.py,
tests/test_worker.py): one definition each, so a fix to how a test names its
projects, waits, or builds a runtime task reaches every test that does it."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from typing import Any


def unique(prefix: str) -> str:
    """A project name no earlier run (the live database outlives a test run) used."""
    return f"{prefix}-{secrets.token_hex(4)}"


def wait_for(
    check: Callable[[], bool], *, timeout: float, what: str, interval: float = 0.2
) -> None:
    """Poll ``check`` until it holds: the stack applies changes asynchronously
    (workers, cache propagation), so a test waits for the effect, not a fixed time."""
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"not within {timeout:.1f}s: {what}")
        time.sleep(interval)


def conversation_task(
    text: str, project: str, deployment: str = "production", **parameters: Any
) -> dict[str, Any]:
    """A one-utterance analyze-conversations task as Azure's samples build it;
    ``parameters`` go into its ``parameters`` object."""
    return {
        "kind": "Conversation",
        "analysisInput": {
            "conversationItem": {"id": "1", "participantId": "1", "text": text}
        },
        "parameters": {
            "projectName": project,
            "deploymentName": deployment,
            **parameters,
        },
    }
