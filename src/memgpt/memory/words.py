"""Words for full-text search in any script: the one text transform every word index and query shares.

Full-text engines split words on spaces and punctuation. Chinese and Japanese
put no spaces between words, and Korean words carry attached particles, so a
whole run such as ``北京大学的图书馆`` becomes one token that no query ever
matches. ``search_words`` rewrites every run of CJK characters (Han, kana,
Hangul) as its overlapping character pairs (``北京 京大 大学 …``); a lone CJK
character stays as it is. Any two-character word of the run is then one of
its tokens, and a longer word is a sequence of them, which BM25 rewards.
Everything else is left exactly as it was, so English text, and with it
every English ranking, is unchanged.

No dictionary and no new dependency, the same for Simplified and Traditional
Chinese (nothing is converted between the scripts), Japanese and Korean. The
archival store (Milvus BM25), recall memory (SQLite FTS5, PostgreSQL full
text) and the query side all go through this function, so a stored pair and
a query pair are always made the same way.
"""

from __future__ import annotations

import re

# Han (CJK Unified Ideographs and extensions, compatibility ideographs), kana
# (hiragana, katakana and its extensions, half-width katakana) and Hangul
# (syllables, jamo, compatibility jamo). Punctuation is not included: it ends
# a run, so pairs never straddle a comma or a full stop.
_CJK = (
    "\u1100-\u11ff"  # Hangul Jamo
    "\u3040-\u309f"  # Hiragana
    "\u30a0-\u30ff"  # Katakana
    "\u3130-\u318f"  # Hangul Compatibility Jamo
    "\u31f0-\u31ff"  # Katakana Phonetic Extensions
    "\u3400-\u4dbf"  # CJK Extension A
    "\u4e00-\u9fff"  # CJK Unified Ideographs
    "\ua960-\ua97f"  # Hangul Jamo Extended-A
    "\uac00-\ud7af"  # Hangul Syllables
    "\ud7b0-\ud7ff"  # Hangul Jamo Extended-B
    "\uf900-\ufaff"  # CJK Compatibility Ideographs
    "\uff66-\uff9f"  # half-width katakana
    "\U00020000-\U0003134f"  # CJK Extensions B-G
)
_RUN = re.compile(f"[{_CJK}]+")


def has_cjk(text: str) -> bool:
    """Whether ``text`` holds any CJK character."""
    return _RUN.search(text) is not None


def cjk_share(text: str) -> float:
    """The share of CJK characters among the letters and digits of ``text`` (0.0 for none)."""
    letters = sum(1 for c in text if c.isalnum())
    if not letters:
        return 0.0
    return sum(len(m.group()) for m in _RUN.finditer(text)) / letters


def _pairs(match: re.Match[str]) -> str:
    run = match.group()
    if len(run) == 1:
        return f" {run} "
    return " " + " ".join(run[i:i + 2] for i in range(len(run) - 1)) + " "


def search_words(text: str) -> str:
    """``text`` with each CJK run replaced by its overlapping character pairs, space-separated.

    Text without CJK characters comes back unchanged (the same object).
    """
    if not has_cjk(text):
        return text
    return _RUN.sub(_pairs, text)
