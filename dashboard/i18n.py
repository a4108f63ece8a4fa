"""Chinese and English labels: every page takes ``?lang=zh|en`` and picks one side of each pair."""

from __future__ import annotations

LANGS = ("zh", "en")
DEFAULT_LANG = "zh"

Text = tuple[str, str]  # (zh, en)


def lang_of(query: dict[str, str]) -> str:
    """The language asked for in a page's query string (``?lang=en``), Chinese by default."""
    lang = query.get("lang", DEFAULT_LANG)
    return lang if lang in LANGS else DEFAULT_LANG


def tr(text: Text, lang: str) -> str:
    """One side of a (zh, en) pair."""
    return text[1] if lang == "en" else text[0]
