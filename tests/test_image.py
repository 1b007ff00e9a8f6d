"""The container image (Dockerfile) installs what docker-compose's settings use:
the compose file points the workers at an embedding cache and a static word
vector table, which exist only with the ``advanced`` extra (the sentence encoders
and the table's vocabulary). Docker is not available here, so the files are read."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _pip_installs() -> list[str]:
    dockerfile = (ROOT / "Dockerfile").read_text()
    return re.findall(r"pip install ([^\s\\&]+)", dockerfile)


def test_the_image_installs_the_advanced_extra_compose_configures() -> None:
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "STUDIO_EMBEDDING_CACHE" in compose
    assert "STUDIO_STATIC_VECTORS" in compose
    installs = _pip_installs()
    assert installs, "the Dockerfile installs no dependencies"
    assert any("[advanced]" in spec for spec in installs), installs


def test_the_dependency_layer_stubs_every_package() -> None:
    """The dependency layer installs the project with empty package folders; it
    lists every package setuptools is told to find, so a new one is not missed."""
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["packages"]["find"]["include"]
    packages = {pattern.rstrip("*") for pattern in patterns}
    dockerfile = (ROOT / "Dockerfile").read_text()
    for package in packages:
        assert f"{package}/__init__.py" in dockerfile, package
