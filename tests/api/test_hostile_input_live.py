"""Hostile input against a live studio (gunicorn + PostgreSQL): what only a real
server and a real database show.

* ``Transfer-Encoding: chunked`` bodies (no ``Content-Length``) are read, within the
  same size limit (gunicorn de-chunks; Django alone would see an empty body).
* Eight clients creating one project at the same instant: one 201, the others 200
  (they update what the winner created) or 409 — never a 5xx, never ``Retry-After``.
* NUL characters and numbers PostgreSQL cannot hold are 400, not 500/503.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.conftest import LiveStudio

V = "api-version=2023-04-01"
CLU = "/language/authoring/analyze-conversations/projects"
TIMEOUT = 30


@pytest.fixture
def session(live_studio: LiveStudio) -> Iterator[requests.Session]:
    with requests.Session() as session:
        session.headers["Ocp-Apim-Subscription-Key"] = live_studio.api_key
        yield session


def project_body(name: str) -> dict[str, Any]:
    return {"projectName": name, "projectKind": "Conversation", "language": "en-us"}


def chunks(raw: bytes, size: int) -> Iterator[bytes]:
    for start in range(0, len(raw), size):
        yield raw[start : start + size]


def test_a_chunked_body_is_read(
    live_studio: LiveStudio, session: requests.Session
) -> None:
    name = f"chunked{secrets.token_hex(3)}"
    raw = json.dumps({**project_body(name), "description": "sent in chunks"}).encode()
    # A generator body: requests sends it with Transfer-Encoding: chunked.
    response = session.patch(
        f"{live_studio.url}{CLU}/{name}?{V}",
        data=chunks(raw, 7),
        headers={"Content-Type": "application/merge-patch+json"},
        timeout=TIMEOUT,
    )
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    assert "Content-Length" not in response.request.headers
    assert response.status_code == 201, response.text
    assert response.json()["description"] == "sent in chunks"


def test_a_chunked_body_over_the_limit_is_413(
    live_studio: LiveStudio, session: requests.Session
) -> None:
    name = f"chunkbig{secrets.token_hex(3)}"
    limit = 8 * 1024 * 1024  # STUDIO_MAX_REQUEST_BYTES of the live harness
    filler = b"x" * (limit + 1024)
    raw = b'{"projectName": "' + name.encode() + b'", "description": "' + filler
    response = session.patch(
        f"{live_studio.url}{CLU}/{name}?{V}",
        data=chunks(raw + b'"}', 64 * 1024),
        headers={"Content-Type": "application/merge-patch+json"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 413, response.text[:300]
    assert response.json()["error"]["code"] == "InvalidRequest"
    check = session.get(f"{live_studio.url}{CLU}/{name}?{V}", timeout=TIMEOUT)
    assert check.status_code == 404


def race(live_studio: LiveStudio, names: list[str]) -> list[requests.Response]:
    """PATCH-create ``names[i]`` from thread ``i``, all released at once."""
    barrier = threading.Barrier(len(names))
    answers: list[requests.Response | BaseException] = [None] * len(names)  # type: ignore[list-item]

    def create(index: int) -> None:
        with requests.Session() as own:
            own.headers["Ocp-Apim-Subscription-Key"] = live_studio.api_key
            name = names[index]
            barrier.wait(timeout=TIMEOUT)
            try:
                answers[index] = own.patch(
                    f"{live_studio.url}{CLU}/{name}?{V}",
                    json=project_body(name),
                    headers={"Content-Type": "application/merge-patch+json"},
                    timeout=TIMEOUT,
                )
            except requests.RequestException as exc:
                answers[index] = exc

    threads = [threading.Thread(target=create, args=(i,)) for i in range(len(names))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=2 * TIMEOUT)
    for answer in answers:
        assert isinstance(answer, requests.Response), answer
    return answers  # type: ignore[return-value]


def test_eight_clients_creating_one_project_never_get_a_5xx(
    live_studio: LiveStudio, session: requests.Session
) -> None:
    statuses: list[int] = []
    for _round in range(8):
        name = f"race{secrets.token_hex(4)}"
        answers = race(live_studio, [name] * 8)
        for answer in answers:
            assert answer.status_code < 500, answer.text
            assert "Retry-After" not in answer.headers
        codes = [a.status_code for a in answers]
        assert codes.count(201) == 1, codes
        assert set(codes) <= {200, 201, 409}, codes
        statuses.extend(codes)
        rows = live_studio.database_query(
            "SELECT count(*) FROM projects_project WHERE lower(name) = lower(%s)",
            (name,),
        )
        assert rows[0][0] == 1
    assert len(statuses) == 64


def test_clients_creating_case_variants_at_once_get_one_project(
    live_studio: LiveStudio,
) -> None:
    base = f"Case{secrets.token_hex(3)}"
    names = [base, base.lower(), base.upper(), base.swapcase()] * 2
    answers = race(live_studio, names)
    codes = [a.status_code for a in answers]
    assert all(code < 500 for code in codes), [a.text for a in answers]
    assert codes.count(201) == 1, codes
    assert set(codes) <= {200, 201, 409}, codes
    rows = live_studio.database_query(
        "SELECT count(*) FROM projects_project WHERE lower(name) = lower(%s)", (base,)
    )
    assert rows[0][0] == 1


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"{CLU}/a%00b?{V}", None),
        ("GET", f"{CLU}?skip=999999999999999999999&{V}", None),
        ("GET", f"{CLU}?top=1&skip=9223372036854775808&{V}", None),
        (
            "PATCH",
            f"{CLU}/nul?{V}",
            b'{"projectName": "nul", "projectKind": "Conversation", '
            b'"language": "en-us", "description": "a\\u0000b"}',
        ),
        (
            "POST",
            f"/language/:query-knowledgebases?projectName=a%00b&deploymentName=x&{V}",
            b'{"question": "q"}',
        ),
    ],
)
def test_nul_and_out_of_range_numbers_are_400_on_postgresql(
    live_studio: LiveStudio,
    session: requests.Session,
    method: str,
    path: str,
    body: bytes | None,
) -> None:
    response = session.request(
        method,
        f"{live_studio.url}{path}",
        data=body,
        headers={"Content-Type": "application/json"},
        timeout=TIMEOUT,
    )
    assert response.status_code == 400, response.text
    assert "Retry-After" not in response.headers
    assert response.json()["error"]["code"] in ("InvalidRequest", "InvalidArgument")
