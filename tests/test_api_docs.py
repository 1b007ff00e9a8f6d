"""The API documentation page is served by the app itself, offline."""

from __future__ import annotations

import re

import pytest
from django.test import Client


@pytest.mark.django_db
def test_docs_page_loads_its_scripts_from_our_static_files(client: Client) -> None:
    response = client.get("/api/docs/")
    assert response.status_code == 200
    sources = re.findall(r'<script[^>]+src="([^"]+)"', response.content.decode())
    assert sources, "the docs page loads Redoc from a script"
    assert all(src.startswith("/static/") for src in sources), sources
