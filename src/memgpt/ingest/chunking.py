"""Token-aware chunking of document text into passages.

``chunk_text`` tokenizes a document once (``TokenCounter.offsets``; long
texts in ~20k-character blocks cut at whitespace) and then works only on
token indices and character spans, with numpy for the per-token work:

* Whitespace is normalised lightly first: runs of spaces/tabs become one
  space, spaces around line breaks go, three or more line breaks become one
  blank line (a paragraph break). Line breaks themselves are kept.
* Each chunk takes at most ``chunk_size`` tokens. Where it ends is chosen by
  the best boundary in its window, ranked paragraph break > sentence end >
  line break > CJK clause mark (after ，、；：) > space > punctuation/CJK (a
  boundary with no space, but not inside a word) > anywhere (inside one run
  of word pieces, e.g. a very long URL path or hash). Everything from a space
  up only counts in the second half of the window, so chunks do not come out
  tiny (in Chinese text a stray space early in the window would otherwise win
  over every cut between characters); among equal ranks the latest wins.
* The next chunk starts about ``overlap`` tokens before the previous one
  ended, moved to the nearest sentence start (within ``overlap / 2`` tokens),
  or else to the nearest clause start in CJK text, or else to the nearest
  word start (looking up to ``overlap`` tokens further back), so chunks
  rarely begin in the middle of a word or of a Chinese clause.
* Chunks are cut between tokens at spaces, so re-tokenizing a chunk gives
  exactly its slice of tokens for tokenizers that split words on whitespace
  and punctuation first (WordPiece/BERT, the default). The rare risky chunks
  (starting or ending inside a word or at punctuation, or holding the
  pseudo-tokens below) are re-counted with ``counter.count`` and shortened
  until they fit, so ``counter.count(chunk) <= chunk_size`` always holds.
* A single token spanning more than ``LONG_TOKEN_CHARS`` characters (WordPiece
  turns any word over 100 characters into one ``[UNK]``), and a long stretch
  of characters the tokenizer drops, are cut into pseudo-tokens of
  ``PSEUDO_TOKEN_CHARS`` characters, so a 50,000-character blob becomes
  several bounded chunks instead of one "1-token" monster.

Deterministic: same text, counter and sizes give the same chunks.
"""

from __future__ import annotations

import re

import numpy as np

from memgpt.tokens import TokenCounter

LONG_TOKEN_CHARS = 48
PSEUDO_TOKEN_CHARS = 4
BLOCK_CHARS = 20_000  # tokenize long texts in blocks cut at whitespace: PDFium-size pages are one block

# Boundary ranks: the boundary before token b separates token b-1 from token b.
HARD, SOFT, SPACE, CLAUSE, LINE, SENTENCE, PARAGRAPH = range(7)

_HSPACE = re.compile(r"[^\S\n]+")  # whitespace other than newline
_SPACE_AROUND_NL = re.compile(r" \n ?|\n ")
_MANY_NL = re.compile(r"\n{3,}")
_PARA_BREAK = re.compile(r"\n\n")
_LINE_BREAK = re.compile(r"\n")
# Sentence end: terminal punctuation, optional closing quotes/brackets, then
# whitespace and something other than a lower-case letter ("e.g. this" is no
# end), unless it is a list/section number at the start of a line ("1. Intro");
# or CJK terminal punctuation, which needs no space after it.
_SENTENCE_END = re.compile(r"""(?<!^\d)(?<!\n\d)(?<!^\d\d)(?<!\n\d\d)[.!?…]["'”’)\]»]*(?=\s+[^\sa-z])"""
                           r"""|[。！？][」』”’)）]*""")
# CJK clause marks (comma, enumeration comma, semicolon, colon, full-width): a cut right after one
# keeps clauses whole. Their ASCII forms are left alone, so English chunking is unchanged.
_CLAUSE_END = re.compile(r"[，、；：]")


def normalize(text: str) -> str:
    """Light whitespace normalisation: single spaces, kept line and paragraph breaks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\x0c", "\n\n").replace("\u2029", "\n\n").replace("\u2028", "\n")
    text = _HSPACE.sub(" ", text)
    text = _SPACE_AROUND_NL.sub("\n", text)
    text = _MANY_NL.sub("\n\n", text)
    return text.strip()


def _token_spans(text: str, counter: TokenCounter) -> tuple[np.ndarray, np.ndarray, bool]:
    """Start and end character offsets of every token of ``text``, and whether a block was cut in a word.

    Long texts are tokenized in blocks of about ``BLOCK_CHARS`` cut at a space
    or line break (tokenizing one huge string is slower than its pieces).
    """
    parts: list[np.ndarray] = []
    hard_cut = False
    pos, n = 0, len(text)
    while pos < n:
        end = n
        if n - pos > BLOCK_CHARS:
            lo, hi = pos + BLOCK_CHARS // 2, pos + BLOCK_CHARS
            end = max(text.rfind(" ", lo, hi), text.rfind("\n", lo, hi))
            if end <= pos:
                end, hard_cut = hi, True
        spans = np.asarray(counter.offsets(text[pos:end]), dtype=np.int64).reshape(-1, 2)
        spans += pos
        parts.append(spans)
        pos = end
    arr = np.concatenate(parts) if parts else np.zeros((0, 2), dtype=np.int64)
    return arr[:, 0].copy(), arr[:, 1].copy(), hard_cut


def _with_pseudo_tokens(text: str, starts: np.ndarray, ends: np.ndarray) -> tuple[np.ndarray, np.ndarray, bool]:
    """Replace over-long tokens and long untokenized stretches by fixed-size pseudo-tokens."""
    n_chars = len(text)
    long_tokens = (ends - starts) > LONG_TOKEN_CHARS
    gap_starts = np.concatenate(([0], ends))
    gap_ends = np.concatenate((starts, [n_chars]))
    long_gaps = (gap_ends - gap_starts) > LONG_TOKEN_CHARS
    if not long_tokens.any() and not long_gaps.any():
        return starts, ends, False

    def pieces(a: int, b: int) -> list[tuple[int, int]]:
        return [(p, min(p + PSEUDO_TOKEN_CHARS, b)) for p in range(a, b, PSEUDO_TOKEN_CHARS)]

    out: list[tuple[int, int]] = []
    for i in range(len(starts) + 1):
        g0, g1 = int(gap_starts[i]), int(gap_ends[i])
        if g1 - g0 > LONG_TOKEN_CHARS and text[g0:g1].strip():
            # characters the tokenizer dropped: pseudo-tokens over each non-space run
            for m in re.finditer(r"\S+", text[g0:g1]):
                out.extend(pieces(g0 + m.start(), g0 + m.end()))
        if i < len(starts):
            s, e = int(starts[i]), int(ends[i])
            out.extend(pieces(s, e) if long_tokens[i] else [(s, e)])
    arr = np.asarray(out, dtype=np.int64).reshape(-1, 2)
    return arr[:, 0].copy(), arr[:, 1].copy(), True


# Ideographs (which BERT tokenizes one by one), CJK punctuation and fullwidth forms.
# Kana and Hangul are word characters to WordPiece and stay "wordy".
_CJK_RANGES = ((0x2E80, 0x303F), (0x3400, 0x4DBF), (0x4E00, 0x9FFF), (0xF900, 0xFAFF), (0xFF00, 0xFFEF),
               (0x20000, 0x2FFFF))


def _is_wordy(cps: np.ndarray) -> np.ndarray:
    """Letters/digits that would glue two tokens into one word (CJK counts as not wordy)."""
    ascii_alnum = (((cps >= 48) & (cps <= 57)) | ((cps >= 65) & (cps <= 90)) | ((cps >= 97) & (cps <= 122))
                   | (cps == 95))
    other = (cps >= 0xC0) & ~((cps >= 0x2000) & (cps <= 0x2BFF))  # beyond ASCII, minus punctuation/symbols
    for lo, hi in _CJK_RANGES:
        other &= ~((cps >= lo) & (cps <= hi))
    return ascii_alnum | other


def _boundary_ranks(text: str, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """rank[b] for 0 < b < n: how good a place the boundary before token b is to cut."""
    n = len(starts)
    rank = np.full(n + 1, HARD, dtype=np.int8)
    if n < 2:
        return rank
    cps = np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.int64)
    is_space = (cps == 32) | (cps == 10)
    prev_end, next_start = ends[:-1], starts[1:]
    gap = next_start > prev_end
    last = len(cps) - 1
    spaced = gap & (is_space[np.minimum(prev_end, last)] | is_space[np.clip(next_start - 1, 0, last)])
    wordy = _is_wordy(cps)
    soft = ~gap & ~(wordy[np.maximum(prev_end - 1, 0)] & wordy[np.minimum(next_start, last)])
    inner = rank[1:n]
    inner[soft] = SOFT
    inner[spaced] = SPACE

    def mark(positions: list[int], value: int) -> None:
        if not positions:
            return
        pos = np.asarray(positions, dtype=np.int64)
        b = np.searchsorted(starts, pos, side="left")
        ok = (b > 0) & (b < n)
        b, pos = b[ok], pos[ok]
        ok = ends[b - 1] <= pos  # no token straddles the break
        b = b[ok]
        rank[b] = np.maximum(rank[b], value)

    mark([m.end() for m in _CLAUSE_END.finditer(text)], CLAUSE)
    mark([m.start() for m in _LINE_BREAK.finditer(text)], LINE)
    mark([m.end() for m in _SENTENCE_END.finditer(text)], SENTENCE)
    mark([m.start() for m in _PARA_BREAK.finditer(text)], PARAGRAPH)
    rank[0] = rank[n] = PARAGRAPH
    return rank


def _best_end(rank: np.ndarray, start: int, limit: int, chunk_size: int) -> int:
    """The boundary (token index) where a chunk starting at ``start`` should end, at most ``limit``."""
    half = start + max(1, chunk_size // 2)
    window = rank[start + 1: limit + 1]
    offset = start + 1
    best = int(window.max()) if len(window) else HARD
    for value in range(best, HARD, -1):
        lo = half if value >= SPACE else offset
        hits = np.flatnonzero(window[max(lo - offset, 0):] == value)
        if len(hits):
            return int(hits[-1]) + max(lo, offset)
    return limit


def _next_start(rank: np.ndarray, start: int, end: int, overlap: int) -> int:
    """Where the chunk after [start, end) begins: about ``overlap`` tokens back, at a sentence/word start.

    A sentence start within ``overlap / 2`` tokens of the target wins, else the
    nearest clause start (CJK), else the nearest word start (looking up to
    ``overlap`` tokens further back), else the nearest punctuation boundary,
    else the target itself.
    """
    if overlap <= 0:
        return end
    target = max(end - overlap, start + 1)
    reach = max(overlap // 2, 1)
    for wanted, back in ((SENTENCE, reach), (CLAUSE, overlap), (SPACE, overlap), (SOFT, overlap)):
        lo, hi = max(target - back, start + 1), min(target + reach, end - 1)
        if hi < lo:
            break
        window = rank[lo: hi + 1]
        # clause marks only where there are some (CJK text): elsewhere the word step decides, as it did
        hits = np.flatnonzero(window == CLAUSE if wanted == CLAUSE else window >= wanted) + lo
        if len(hits):
            return int(hits[np.argmin(np.abs(hits - target))])
    return target


def _strip_span(text: str, a: int, b: int) -> tuple[int, int]:
    while a < b and text[a].isspace():
        a += 1
    while b > a and text[b - 1].isspace():
        b -= 1
    return a, b


def _split_by_count(text: str, a: int, b: int, counter: TokenCounter, chunk_size: int) -> list[tuple[int, int]]:
    """Last resort for a span whose real count is over the limit: bisect on characters."""
    out: list[tuple[int, int]] = []
    a, b = _strip_span(text, a, b)
    while a < b:
        if counter.count(text[a:b]) <= chunk_size:
            out.append((a, b))
            break
        lo, hi = a + 1, b  # longest prefix that fits: [a, lo) fits (one character does), [a, hi) does not
        while hi - lo > 1:
            mid = (lo + hi) // 2
            if counter.count(text[a:mid]) <= chunk_size:
                lo = mid
            else:
                hi = mid
        cut = text.rfind(" ", a, lo + 1)
        cut = cut if cut > a + (lo - a) // 2 else lo
        piece = _strip_span(text, a, cut)
        if piece[0] < piece[1]:
            out.append(piece)
        a, b = _strip_span(text, cut, b)
    return out


def chunk_spans(text: str, counter: TokenCounter, chunk_size: int = 300,
                overlap: int = 30) -> tuple[str, list[tuple[int, int]]]:
    """The normalised text and the (start, end) character span of each chunk in it.

    ``chunk_text`` is ``[norm[s:e] for s, e in spans]``; the spans are handy
    for checking coverage or pointing back into the text.
    """
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be at least 1, got {chunk_size}")
    if overlap < 0 or overlap >= chunk_size:
        raise ValueError(f"overlap must be in [0, chunk_size), got {overlap} for chunk_size {chunk_size}")
    text = normalize(text)
    if not text:
        return text, []
    starts, ends, hard_cut = _token_spans(text, counter)
    starts, ends, pseudo = _with_pseudo_tokens(text, starts, ends)
    unsure = pseudo or hard_cut  # token slices may not match what counting a chunk gives
    n = len(starts)
    if n == 0 or (n <= chunk_size and not unsure):
        return text, [(0, len(text))]
    rank = _boundary_ranks(text, starts, ends)

    spans: list[tuple[int, int]] = []
    start = 0
    while True:
        limit = min(start + chunk_size, n)
        while True:
            end = n if limit == n else _best_end(rank, start, limit, chunk_size)
            span = _strip_span(text, 0 if start == 0 else int(starts[start]),
                               len(text) if end == n else int(starts[end]))
            if not (unsure or rank[start] <= SOFT or rank[end] <= SOFT) or end - start <= 1:
                break
            # Cut inside a word (or over pseudo-tokens): the real count may differ from the slice.
            excess = counter.count(text[span[0]:span[1]]) - chunk_size
            if excess <= 0:
                break
            limit = max(start + 1, min(limit, end) - excess)
        if span[0] < span[1]:
            if end - start == 1 and counter.count(text[span[0]:span[1]]) > chunk_size:
                # one (pseudo-)token that alone counts over the limit: only with a tiny chunk_size
                spans.extend(_split_by_count(text, span[0], span[1], counter, chunk_size))
            else:
                spans.append(span)
        if end >= n:
            break
        start = _next_start(rank, start, end, overlap)
    return text, spans


def chunk_text(text: str, counter: TokenCounter, chunk_size: int = 300, overlap: int = 30) -> list[str]:
    """Split ``text`` into passages of at most ``chunk_size`` tokens sharing about ``overlap`` tokens."""
    norm, spans = chunk_spans(text, counter, chunk_size, overlap)
    return [norm[a:b] for a, b in spans]
