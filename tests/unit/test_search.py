"""Properties of the hybrid ranking (memgpt.memory.search) on small hand-made candidate lists."""

from __future__ import annotations


import numpy as np

from memgpt.memory.search import Hit, HybridParams, hybrid_rank, lexical_terms


def _dense(n: int = 30, seed: int = 0) -> list[Hit]:
    rng = np.random.default_rng(seed)
    scores = np.sort(rng.uniform(0.2, 0.6, n))[::-1]
    return [Hit(f"d{i}", float(s)) for i, s in enumerate(scores)]


def test_exact_key_match_ranks_first() -> None:
    # the record holding the key is only 7th by meaning, but it alone contains the key's words
    dense = _dense()
    key = dense[6].id
    lexical = [Hit(key, 41.0)]
    ranked = hybrid_rank(dense, lexical, "a54e2eed-e625-4570")
    assert ranked[0].id == key
    assert ranked[0].lexical_rank == 0 and ranked[0].dense_rank == 6


def test_purely_semantic_match_still_surfaces() -> None:
    # best by meaning, shares no word with the query; lexical matches are weak and flat
    dense = [Hit("para", 0.82)] + [Hit(f"d{i}", 0.35 - i * 0.005) for i in range(30)]
    lexical = [Hit(f"w{i}", 2.0 - 0.01 * i) for i in range(20)]
    ranked = hybrid_rank(dense, lexical, "how do I cook rice")
    assert "para" in [r.id for r in ranked[:3]]


def test_agreement_beats_either_side_alone() -> None:
    dense = [Hit("a", 0.70), Hit("both", 0.69)] + [Hit(f"d{i}", 0.3) for i in range(10)]
    lexical = [Hit("b", 9.0), Hit("both", 8.9)] + [Hit(f"l{i}", 1.0) for i in range(10)]
    assert hybrid_rank(dense, lexical, "q")[0].id == "both"


def test_deterministic_and_ties_broken_stably() -> None:
    dense = [Hit(f"x{i}", 0.5) for i in range(10)]
    lexical = [Hit(f"x{i}", 1.0) for i in (3, 1, 2)]
    first = hybrid_rank(dense, lexical, "q")
    for _ in range(3):
        assert hybrid_rank(list(dense), list(lexical), "q") == first
    # equal fused scores: lexical rank decides, then dense rank
    assert [r.id for r in first[:3]] == ["x3", "x1", "x2"]
    assert [r.id for r in first[3:5]] == ["x0", "x4"]


def test_empty_sides() -> None:
    assert hybrid_rank([], [], "q") == []
    dense = _dense(5)
    assert [r.id for r in hybrid_rank(dense, [], "q")] == [h.id for h in dense]
    lexical = [Hit("a", 3.0), Hit("b", 2.0), Hit("c", 1.0)]
    assert [r.id for r in hybrid_rank([], lexical, "q")] == ["a", "b", "c"]


def test_duplicates_keep_first_rank() -> None:
    dense = [Hit("a", 0.9), Hit("b", 0.5), Hit("a", 0.1)]
    ranked = hybrid_rank(dense, [], "q")
    assert [r.id for r in ranked] == ["a", "b"]
    assert ranked[0].dense_rank == 0


def test_neighbour_context_lifts_the_reply() -> None:
    # "Did you go to the support group?" (q) is found; its reply "Yes, last week!" (r) shares nothing
    order = {f"m{i}": i for i in range(20)}
    dense = [Hit("m5", 0.7)] + [Hit(f"m{i}", 0.40 - 0.001 * i) for i in range(20) if i != 5]
    lexical = [Hit("m5", 12.0), Hit("m15", 3.0), Hit("m16", 2.5)]
    plain = [r.id for r in hybrid_rank(dense, lexical, "q", params=HybridParams(beta=0.0))]
    ctx = [r.id for r in hybrid_rank(dense, lexical, "q", order=order)]
    assert ctx[0] == "m5"
    assert ctx.index("m6") < plain.index("m6") and ctx.index("m4") < plain.index("m4")
    assert ctx.index("m6") <= 4


def test_lexical_terms_drop_stop_words_unless_nothing_is_left() -> None:
    assert lexical_terms("What did Caroline research, and what did CAROLINE find?") == ["caroline", "research", "find"]
    assert lexical_terms("The Who") == ["the", "who"]
    assert lexical_terms("  ?! ") == []


def test_a_hundred_candidates_rank_completely_and_in_order() -> None:
    # (How fast this is belongs to bench/search.py and bench/step.py, not to a timed test.)
    rng = np.random.default_rng(1)
    dense = [Hit(f"d{i}", float(s)) for i, s in enumerate(np.sort(rng.uniform(0, 1, 100))[::-1])]
    lexical = [Hit(f"d{i}", float(s)) for i, s in zip(rng.permutation(150)[:100], np.sort(rng.uniform(0, 20, 100))[::-1])]
    order = {f"d{i}": i for i in range(150)}
    ranked = hybrid_rank(dense, lexical, "q", order=order)
    assert {r.id for r in ranked} == {h.id for h in dense} | {h.id for h in lexical}
    scores = [r.score for r in ranked]
    assert scores == sorted(scores, reverse=True)
