"""Embedding models: one interface, local offline models and an OpenAI-compatible endpoint."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from memgpt.embeddings.base import EmbeddingModel

# Names the local provider accepts (lower case, hub prefixes dropped) -> canonical name.
LOCAL_MODELS = {"all-minilm-l6-v2": "all-MiniLM-L6-v2", "multilingual-e5-small": "multilingual-e5-small"}
MULTILINGUAL = "multilingual-e5-small"


def local_model_name(name: str) -> str | None:
    """The canonical name of a local model, or None if memgpt ships no such model."""
    key = name.strip().lower()
    for prefix in ("sentence-transformers/", "intfloat/", "local/"):
        key = key.removeprefix(prefix)
    return LOCAL_MODELS.get(key)


def make_local(name: str, batch_size: int = 32) -> EmbeddingModel:
    """A local (offline) embedding model by name: all-MiniLM-L6-v2 or multilingual-e5-small."""
    from memgpt.errors import ConfigError

    canonical = local_model_name(name)
    if canonical == MULTILINGUAL:
        from memgpt.embeddings.multilingual import LocalE5

        return LocalE5(batch_size=batch_size)
    if canonical is None:
        raise ConfigError(f"the local provider has no model {name!r} (it ships all-MiniLM-L6-v2 and "
                          f"{MULTILINGUAL})",
                          "use an endpoint for other models: memgpt configure --embedding-provider openai")
    from memgpt.embeddings.local import LocalMiniLM

    return LocalMiniLM(batch_size=batch_size)


def multilingual_advice(texts: list[str], model_id: str) -> str | None:
    """One line recommending the multilingual model when ``texts`` are mostly CJK and the model is MiniLM."""
    from memgpt.memory.words import cjk_share

    if local_model_name(model_id) != "all-MiniLM-L6-v2" or not texts or cjk_share("".join(texts)) <= 0.5:
        return None
    return ("These documents are mostly Chinese, Japanese or Korean, which all-MiniLM-L6-v2 (an English model) "
            "barely reads; for better search: pip install 'memgpt[multilingual]' && "
            "memgpt configure -y --embedding-model multilingual-e5-small, then load them into a new source")
