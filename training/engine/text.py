"""Text normalization shared by entity matching and question answering."""

from __future__ import annotations

import unicodedata


def normalize(text: str) -> str:
    """Case- and diacritics-insensitive form: NFKD, combining marks dropped,
    casefolded (so "Café", "CAFE" and "café" all give "cafe")."""
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return stripped.casefold()
