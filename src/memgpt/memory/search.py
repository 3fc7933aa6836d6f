"""Hybrid ranking: one ordered list from a dense (meaning) and a lexical (words) retriever.

Storage-independent and pure numpy: the callers (recall memory in SQL,
archival memory in Milvus) fetch candidates from both retrievers and hand them
here as :class:`Hit` lists, best first.

The method, in three steps:

1. **Pool and impute.** The candidate pool is the union of both lists. A
   candidate one retriever did not return gets that retriever's *floor*: for
   the lexical side 0 when the list holds every match (the candidate shares no
   query word), otherwise the lowest score the list holds (it scored at most
   that); for the dense side the lowest similarity the list holds. Callers that
   can score a candidate exactly (recall memory computes every similarity)
   simply include it in the dense list.

2. **Normalise and fuse.** Each side's scores are turned into z-scores over the
   pool, so the two scales (cosine in [-1, 1]; BM25 or ``ts_rank_cd``,
   unbounded) meet as "how far above the pool's typical candidate", and the
   fused score is ``alpha * z_dense + (1 - alpha) * max(z_lexical, 0)``.
   Because the z-score measures how much a candidate stands out, the weight
   each side effectively gets adapts to the query: an exact identifier that
   one passage contains is a lexical outlier many deviations above the rest
   and wins even when its cosine is unremarkable, while a paraphrase whose
   words match weakly and everywhere gives a flat lexical side and lets
   meaning decide. Lexical evidence only adds (the clip at 0): sharing few
   words with the query is what a paraphrase looks like, so it is not held
   against a candidate. A side with no spread (no words matched, no vectors)
   contributes nothing.

3. **Neighbour context** (only when the caller knows an order, e.g. the
   sequence of a conversation). A turn of a conversation is often only
   intelligible with the one before or after it ("Yes, last week!" answers
   "Did you go to the support group?"). Each candidate gains
   ``beta * max(fused score of its neighbours)`` over the positions directly
   before and after it, among the pool (absent neighbours count as the floor).

Free parameters (three): ``alpha`` = 0.7 (dense weight), ``beta`` = 0.3
(neighbour weight) and the candidate depth each caller fetches (``DEPTH`` =
100 per side). ``alpha`` is the one trade-off: conversations prefer more
lexical weight (0.5), encyclopaedic passages less; 0.7 is the smallest dense
weight that keeps passage search within noise of dense alone. ``beta`` chose
itself the same (0.2-0.3) when tuned on either dev conversation alone.

Ties are broken by lexical rank, then dense rank, then id, so the ranking is
deterministic.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from memgpt.memory.words import search_words

DEPTH = 100  # candidates each caller fetches per side (more for deep pages)


@dataclass(frozen=True)
class Hit:
    """One candidate: an id, the retriever's score (higher is better) and, optionally, its text."""

    id: str
    score: float
    text: str = ""


@dataclass(frozen=True)
class HybridParams:
    alpha: float = 0.7  # weight of the dense z-score; 1 - alpha goes to the lexical one
    beta: float = 0.3  # weight of the best neighbour's fused score (ordered memories only)


@dataclass(frozen=True)
class Ranked:
    """A fused result: the id, its fused score and its rank on each side (None: not returned there)."""

    id: str
    score: float
    dense_rank: int | None
    lexical_rank: int | None


# A common English stop list (function words only). Dropping these from the
# lexical query keeps "what did she say about the trip" from matching every
# message on "the", "she" and "did"; a query of stop words alone keeps them.
STOP_WORDS = frozenset("""
a about above after again against all am an and any are aren't as at be because been before being below
between both but by can can't cannot could couldn't did didn't do does doesn't doing don't down during each
few for from further had hadn't has hasn't have haven't having he he'd he'll he's her here here's hers herself
him himself his how how's i i'd i'll i'm i've if in into is isn't it it's its itself let's me more most
mustn't my myself no nor not of off on once only or other ought our ours ourselves out over own same shan't
she she'd she'll she's should shouldn't so some such than that that's the their theirs them themselves then
there there's these they they'd they'll they're they've this those through to too under until up very was
wasn't we we'd we'll we're we've were weren't what what's when when's where where's which while who who's
whom why why's will with won't would wouldn't you you'd you'll you're you've your yours yourself yourselves
s t d ll m re ve
""".split())
_TOKEN = re.compile(r"\w+", re.UNICODE)


def lexical_terms(query: str, split_cjk: bool = True) -> list[str]:
    """The query's lower-case word tokens without stop words (all of them if nothing else is left).

    CJK runs become their character pairs (``memgpt.memory.words``), as they are in every word
    index; ``split_cjk=False`` keeps them whole, for an index built before that.
    """
    words = [w.lower() for w in _TOKEN.findall(search_words(query) if split_cjk else query)]
    kept = [w for w in words if w not in STOP_WORDS]
    seen: set[str] = set()
    return [w for w in (kept or words) if not (w in seen or seen.add(w))]


def _zscores(values: np.ndarray) -> np.ndarray:
    sd = float(values.std())
    if values.size == 0 or sd <= 1e-12:
        return np.zeros_like(values)
    return (values - float(values.mean())) / sd


def hybrid_rank(dense: Sequence[Hit], lexical: Sequence[Hit], query: str = "", *,
                params: HybridParams | None = None, order: Mapping[str, int] | None = None,
                lexical_complete: bool = True) -> list[Ranked]:
    """Fuse a dense and a lexical candidate list (each best first) into one ranking, best first.

    ``lexical_complete`` says the lexical list holds every match (fewer than
    were asked for), so a candidate absent from it matched no query word.
    ``order`` maps ids to positions in a sequence (a conversation) and turns on
    neighbour context. ``query`` is accepted for callers' symmetry; the
    ranking reads the query only through the two retrievers' scores.
    """
    p = params or HybridParams()
    ids: list[str] = []
    index: dict[str, int] = {}
    for hits in (dense, lexical):
        for h in hits:
            if h.id not in index:
                index[h.id] = len(ids)
                ids.append(h.id)
    n = len(ids)
    if n == 0:
        return []
    d_rank = _ranks(dense)
    l_rank = _ranks(lexical)
    # A non-finite score (a NaN vector from a broken embedding) counts as its
    # side's floor: one NaN in the pool would otherwise make every z-score NaN
    # and the sort meaningless.
    d_floor = min((h.score for h in dense if math.isfinite(h.score)), default=0.0)
    l_floor = 0.0 if lexical_complete else min((h.score for h in lexical if math.isfinite(h.score)), default=0.0)
    ds = np.full(n, d_floor, dtype=np.float64)
    ls = np.full(n, l_floor, dtype=np.float64)
    for hits, ranks, arr, floor in ((dense, d_rank, ds, d_floor), (lexical, l_rank, ls, l_floor)):
        for r, h in enumerate(hits):
            if ranks[h.id] == r:  # a repeated id keeps its first (best) score
                arr[index[h.id]] = h.score if math.isfinite(h.score) else floor
    # Lexical evidence only adds: sharing few words with the query is what a
    # paraphrase looks like, so below-average word overlap is not held against
    # a candidate (its meaning still counts on the dense side).
    dz, lz = _zscores(ds), np.maximum(_zscores(ls), 0.0)
    fused = p.alpha * dz + (1.0 - p.alpha) * lz
    if order and p.beta:
        floor = p.alpha * _z_of(ds, d_floor) + (1.0 - p.alpha) * max(0.0, _z_of(ls, l_floor))
        fused = fused + p.beta * _best_neighbour(ids, fused, order, floor=floor)
    big = len(dense) + len(lexical) + 1
    keys = sorted(range(n), key=lambda i: (-round(float(fused[i]), 12), l_rank.get(ids[i], big),
                                           d_rank.get(ids[i], big), ids[i]))
    return [Ranked(ids[i], float(fused[i]), d_rank.get(ids[i]), l_rank.get(ids[i])) for i in keys]


def _ranks(hits: Sequence[Hit]) -> dict[str, int]:
    """Each id's first (best) rank in a list."""
    out: dict[str, int] = {}
    for r, h in enumerate(hits):
        out.setdefault(h.id, r)
    return out


def _z_of(values: np.ndarray, x: float) -> float:
    sd = float(values.std())
    return 0.0 if sd <= 1e-12 else (x - float(values.mean())) / sd


def _best_neighbour(ids: list[str], fused: np.ndarray, order: Mapping[str, int], floor: float) -> np.ndarray:
    """For each candidate, the best fused score among the pool's candidates right before and after it."""
    at = {order[i]: k for k, i in enumerate(ids) if i in order}
    out = np.full(len(ids), floor, dtype=np.float64)
    for k, i in enumerate(ids):
        pos = order.get(i)
        if pos is None:
            continue
        for q in (pos - 1, pos + 1):
            j = at.get(q)
            if j is not None and fused[j] > out[k]:
                out[k] = fused[j]
    return out
