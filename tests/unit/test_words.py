"""CJK-aware words for full-text search, and a ranking that survives non-finite scores."""

from __future__ import annotations

import math

from memgpt.memory.search import Hit, hybrid_rank, lexical_terms
from memgpt.memory.words import cjk_share, has_cjk, search_words


def test_cjk_runs_become_overlapping_pairs_and_other_words_stay() -> None:
    assert search_words("北京大学").split() == ["北京", "京大", "大学"]
    assert search_words("MemGPT是一个系统").split() == ["MemGPT", "是一", "一个", "个系", "系统"]
    assert search_words("我 和 你").split() == ["我", "和", "你"]  # a lone character stays a unigram
    # punctuation ends a run: no pair straddles a comma
    assert search_words("台北，高雄").split() == ["台北", "，", "高雄"]
    assert search_words("東京タワー").split() == ["東京", "京タ", "タワ", "ワー"]
    assert search_words("서울은 한국의 수도").split() == ["서울", "울은", "한국", "국의", "수도"]


def test_text_without_cjk_is_returned_unchanged() -> None:
    text = "Where did   Caroline go, last week? (e.g. the U.S.)"
    assert search_words(text) is text
    assert not has_cjk(text) and has_cjk("a 台 b")
    assert cjk_share("") == 0.0 and cjk_share("abc") == 0.0
    assert math.isclose(cjk_share("北京 ab"), 0.5)


def test_query_terms_match_stored_pairs_for_simplified_and_traditional() -> None:
    stored = set(search_words("燈塔建於一八九零年，臺灣的北京大學").split())
    assert set(lexical_terms("燈塔建於何年")) & stored == {"燈塔", "塔建", "建於"}
    assert {"北京", "大學"} <= set(lexical_terms("北京大學在哪裡")) & stored
    assert lexical_terms("北京大学", split_cjk=False) == ["北京大学"]
    assert lexical_terms("What did the committee decide?") == ["committee", "decide"]


def test_non_finite_scores_count_as_the_floor() -> None:
    dense = [Hit("a", 0.9), Hit("nan", float("nan")), Hit("b", 0.5), Hit("inf", float("inf")), Hit("c", 0.1)]
    lexical = [Hit("b", 12.0), Hit("lnan", float("nan"))]
    ranked = hybrid_rank(dense, lexical, lexical_complete=True)
    assert all(math.isfinite(r.score) for r in ranked)
    # the same as ranking with each non-finite score replaced by its side's floor by hand
    floored = hybrid_rank([Hit(h.id, h.score if math.isfinite(h.score) else 0.1) for h in dense],
                          [Hit("b", 12.0), Hit("lnan", 0.0)], lexical_complete=True)
    assert [(r.id, round(r.score, 9)) for r in ranked] == [(r.id, round(r.score, 9)) for r in floored]
    assert {r.id for r in ranked[:2]} == {"a", "b"}
