"""Embeddings from any OpenAI-compatible ``/v1/embeddings`` endpoint.

Works with OpenAI, Azure (v1), Ollama, Hugging Face TEI, vLLM, LM Studio,
llama.cpp and :mod:`memgpt.testing.fake_llm`. Requests go through the same
:class:`memgpt.llm.openai_client.OpenAITransport` as the chat client, so the
retry policy (429 / 5xx / timeouts / connection errors, ``Retry-After``) and
the error messages are the same; failures surface as
:class:`memgpt.errors.EmbeddingError` carrying the message and hint of the
underlying :mod:`memgpt.llm.errors` class (kept as ``__cause__``).

* ``model_id`` is ``"<provider>/<model>"`` (``"openai-compat/<model>"`` when no
  provider is named), so stores embedded by different servers stay apart.
* ``dim`` is discovered from the first reply (one probe call if ``dim`` is read
  before anything was embedded) unless given; any later reply of another
  width is an error rather than silently mixed vectors.
* Texts are sent in batches of ``batch_size`` (default 128), in order; the
  reply is re-ordered by ``index``. Output is float32, L2-normalised.
* ``encoding_format="float"`` is requested for the widest server support;
  base64 replies are decoded too.
"""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from memgpt.embeddings.base import EmbeddingModel
from memgpt.errors import EmbeddingError, LLMError
from memgpt.llm.errors import LLMBadResponseError
from memgpt.llm.openai_client import OpenAITransport, RetryPolicy, parse_json_body, raise_for_error_object

if TYPE_CHECKING:  # pragma: no cover
    import openai

EMBEDDING_KEY_HINT = "export OPENAI_API_KEY=... or run `memgpt configure`"
_PROBE_TEXT = "dimension probe"


class OpenAICompatibleEmbedding(EmbeddingModel):
    """An :class:`EmbeddingModel` served over HTTP by an OpenAI-compatible server.

    ``request_dimensions=True`` sends ``dimensions=dim`` (OpenAI
    ``text-embedding-3-*`` can shorten vectors); leave it off for servers and
    models that reject the parameter.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        model: str,
        *,
        dim: int | None = None,
        batch_size: int = 128,
        provider: str | None = None,
        max_tokens: int | None = None,
        timeout: float = 60.0,
        max_retries: int = 4,
        extra_headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retry_policy: RetryPolicy | None = None,
        request_dimensions: bool = False,
        key_hint: str = EMBEDDING_KEY_HINT,
    ) -> None:
        if batch_size < 1:
            raise ValueError("batch_size must be at least 1")
        if dim is not None and dim < 1:
            raise ValueError("dim must be positive")
        self.model = model
        self.model_id = f"{provider or 'openai-compat'}/{model}"
        self.batch_size = int(batch_size)
        self.request_dimensions = request_dimensions
        if max_tokens is None:
            max_tokens = 8191 if model.startswith("text-embedding-") else 512
        self.max_tokens = int(max_tokens)
        self._dim: int | None = int(dim) if dim is not None else None
        self.transport = OpenAITransport(
            base_url,
            api_key,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            sleep=sleep,
            retry_policy=retry_policy,
            what="embedding",
            key_hint=key_hint,
        )

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    @property
    def dim(self) -> int:  # type: ignore[override]
        """The vector width; asks the server once (a one-text probe) if not known yet."""
        if self._dim is None:
            self._embed_chunk([_PROBE_TEXT])
        assert self._dim is not None
        return self._dim

    def embed_batch(self, texts: Sequence[str]) -> np.ndarray:
        texts = list(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        parts = [self._embed_chunk(texts[i : i + self.batch_size]) for i in range(0, len(texts), self.batch_size)]
        out = np.vstack(parts).astype(np.float32, copy=False)
        norms = np.linalg.norm(out, axis=1, keepdims=True)
        norms[norms == 0.0] = 1.0
        return (out / norms).astype(np.float32, copy=False)

    # -- internals ----------------------------------------------------------

    def _embed_chunk(self, chunk: list[str]) -> np.ndarray:
        # Several servers (OpenAI included) reject empty strings; a blank is as empty as it gets.
        inputs = [t if isinstance(t, str) and t.strip() else " " for t in chunk]
        body: dict[str, Any] = {"model": self.model, "input": inputs, "encoding_format": "float"}
        if self.request_dimensions and self._dim is not None:
            body["dimensions"] = self._dim
        endpoint = self.transport.base_url

        def attempt(sdk: openai.OpenAI) -> np.ndarray:
            raw = sdk.embeddings.with_raw_response.create(**body)
            data = parse_json_body(raw.http_response.text, endpoint=endpoint, what="embedding")
            raise_for_error_object(
                data, endpoint=endpoint, what="embedding", model=self.model, key_hint=self.transport.key_hint
            )
            return self._vectors(data, len(inputs))

        try:
            vectors = self.transport.call(attempt, model=self.model)
        except LLMError as exc:
            raise EmbeddingError(exc.message, exc.hint) from exc

        width = vectors.shape[1]
        if self._dim is None:
            self._dim = width
        elif width != self._dim:
            raise EmbeddingError(
                f"the embedding endpoint at {endpoint} returned {width}-dim vectors for model "
                f"'{self.model}', expected {self._dim}",
                "the server is serving a different model or the configured dimension is wrong; "
                "check the embedding model settings (memgpt configure)",
            )
        return vectors

    def _vectors(self, data: Mapping[str, Any], expected: int) -> np.ndarray:
        endpoint = self.transport.base_url

        def bad(what: str) -> LLMBadResponseError:
            return LLMBadResponseError(
                f"the embedding endpoint at {endpoint} sent {what}",
                "check that the URL and model name point to an embedding model",
            )

        items = data.get("data")
        if not isinstance(items, list):
            raise bad("a reply without a 'data' list")
        if len(items) != expected:
            raise bad(f"{len(items)} vectors for {expected} inputs")
        if all(isinstance(it, Mapping) and isinstance(it.get("index"), int) for it in items):
            items = sorted(items, key=lambda it: it["index"])
        rows = []
        for it in items:
            emb = it.get("embedding") if isinstance(it, Mapping) else None
            if isinstance(emb, str):
                try:
                    vec = np.frombuffer(base64.b64decode(emb), dtype="<f4")
                except (ValueError, TypeError):
                    raise bad("an embedding that is not valid base64") from None
            elif isinstance(emb, list) and emb:
                try:
                    vec = np.asarray(emb, dtype=np.float32)
                except (ValueError, TypeError):
                    raise bad("an embedding that is not a list of numbers") from None
            else:
                raise bad("an item without an embedding")
            if vec.ndim != 1 or vec.size == 0:
                raise bad("an embedding that is not a flat vector")
            rows.append(vec)
        if len({r.shape[0] for r in rows}) != 1:
            raise bad("vectors of different lengths in one reply")
        out = np.vstack(rows).astype(np.float32)
        if not np.all(np.isfinite(out)):
            raise bad("an embedding with NaN or infinite values")
        return out

    def close(self) -> None:
        self.transport.close()

    def __repr__(self) -> str:
        return f"OpenAICompatibleEmbedding(model_id={self.model_id!r}, base_url={self.base_url!r})"
