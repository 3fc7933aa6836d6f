from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from memgpt.tokens import TokenCounter


class EmbeddingModel(ABC):
    """Turns text into unit-length float32 vectors.

    ``model_id`` names the model precisely enough that two stores embedded by
    different models can be told apart (for example ``local/all-MiniLM-L6-v2``
    or ``openai/text-embedding-3-small``); ``dim`` is its real output dimension.

    Texts have a side. ``embed_batch`` embeds what is stored and searched
    (passages, messages); ``embed_query_batch`` embeds what is searched *for*.
    Symmetric models (MiniLM, OpenAI's) embed both the same, which is the
    default; asymmetric ones (the E5 family: "query: " / "passage: ") override
    the query side.
    """

    model_id: str
    dim: int
    max_tokens: int = 512  # longest input the model sees before truncating

    @abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed many stored texts in one call. Returns shape (len(texts), dim), float32, L2-normalised."""

    def embed(self, text: str) -> np.ndarray:
        return self.embed_batch([text])[0]

    def embed_query_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed search queries (the same as stored texts unless the model is asymmetric)."""
        return self.embed_batch(texts)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed_query_batch([text])[0]

    def token_counter(self) -> TokenCounter:
        """The tokenizer chunks are sized with (the bundled WordPiece one unless the model has its own)."""
        from memgpt.tokens import default_counter

        return default_counter()
