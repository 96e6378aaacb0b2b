"""Search text normalisation: full-width folding, spaces, and pinyin (full and initials)."""

from __future__ import annotations

import unicodedata

from pypinyin import Style, lazy_pinyin


def normalise(text: str) -> str:
    """NFKC (full-width → half-width), lower case, no whitespace or control characters."""
    text = unicodedata.normalize("NFKC", text or "").lower()
    return "".join(ch for ch in text if not ch.isspace() and unicodedata.category(ch)[0] != "C")


def pinyin_forms(text: str) -> tuple[str, str]:
    """('juzhuzhengshenling', 'jzzsl') for 居住证申领."""
    syllables = lazy_pinyin(text, errors="ignore")
    initials = lazy_pinyin(text, style=Style.FIRST_LETTER, errors="ignore")
    return "".join(syllables).lower(), "".join(initials).lower()


def build_search_text(code: str, name: str, keywords: list[str], synonyms: list[str]) -> str:
    parts = [code, name, *keywords, *synonyms]
    for phrase in (name, *keywords):
        full, initials = pinyin_forms(phrase)
        parts.extend([full, initials])
    return "|".join(normalise(p) for p in parts if p)
