from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence

import numpy as np


class EmbeddingModel(ABC):
    """Turns text into unit-length float32 vectors.

    ``model_id`` names the model precisely enough that two stores embedded by
    different models can be told apart (for example ``local/all-MiniLM-L6-v2``
    or ``openai/text-embedding-3-small``); ``dim`` is its real output dimension.
    """

    model_id: str
    dim: int
    max_tokens: int = 512  # longest input the model sees before truncating

    @abstractmethod
    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        """Embed many texts in one call. Returns shape (len(texts), dim), float32, L2-normalised."""

    def embed(self, text: str) -> np.ndarray:
        return self.embed_batch([text])[0]
