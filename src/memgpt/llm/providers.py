"""Where a model lives: known providers, endpoint resolution, context windows.

Every provider here speaks the OpenAI chat-completions protocol, so one client
(:class:`memgpt.llm.openai_client.OpenAICompatibleClient`) serves them all; a
provider only decides the default URL and where the API key comes from.

Precedence for both the URL and the key (first one set wins):

1. the explicit argument (a CLI flag),
2. the saved configuration (``memgpt configure``),
3. environment variables: the provider's own key variable (``OPENAI_API_KEY``
   for ``openai`` and ``custom``, ``GROQ_API_KEY`` for ``groq`` ...) and, for
   ``openai`` / ``custom``, ``OPENAI_BASE_URL``,
4. the provider's default URL.

A key read from one provider's variable is never sent to another provider's
host: ``OPENAI_API_KEY`` is not used for ``groq`` or ``ollama``.
"""

from __future__ import annotations

import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from memgpt.errors import ConfigError


@dataclass(frozen=True)
class Provider:
    name: str
    base_url: str | None  # None: the user must give an endpoint (azure, custom)
    api_key_env: str | None  # where the key is read from; None: no key is used
    requires_key: bool
    base_url_env: str | None = None
    label: str = ""


PROVIDERS: dict[str, Provider] = {
    p.name: p
    for p in [
        Provider("openai", "https://api.openai.com/v1", "OPENAI_API_KEY", True, "OPENAI_BASE_URL", "OpenAI"),
        Provider("azure", None, "AZURE_OPENAI_API_KEY", True, "AZURE_OPENAI_ENDPOINT", "Azure OpenAI (v1 API)"),
        Provider("ollama", "http://localhost:11434/v1", None, False, None, "Ollama"),
        Provider("vllm", "http://localhost:8000/v1", "VLLM_API_KEY", False, None, "vLLM"),
        Provider("lmstudio", "http://localhost:1234/v1", None, False, None, "LM Studio"),
        Provider("llamacpp", "http://localhost:8080/v1", "LLAMA_API_KEY", False, None, "llama.cpp server"),
        Provider("tei", "http://localhost:8080/v1", None, False, None, "Hugging Face text-embeddings-inference"),
        Provider("openrouter", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY", True, None, "OpenRouter"),
        Provider("groq", "https://api.groq.com/openai/v1", "GROQ_API_KEY", True, None, "Groq"),
        Provider("together", "https://api.together.xyz/v1", "TOGETHER_API_KEY", True, None, "Together AI"),
        Provider("deepseek", "https://api.deepseek.com/v1", "DEEPSEEK_API_KEY", True, None, "DeepSeek"),
        Provider("mistral", "https://api.mistral.ai/v1", "MISTRAL_API_KEY", True, None, "Mistral AI"),
        Provider("fireworks", "https://api.fireworks.ai/inference/v1", "FIREWORKS_API_KEY", True, None, "Fireworks"),
        Provider("xai", "https://api.x.ai/v1", "XAI_API_KEY", True, None, "xAI"),
        Provider(
            "gemini",
            "https://generativelanguage.googleapis.com/v1beta/openai",
            "GEMINI_API_KEY",
            True,
            None,
            "Google Gemini (OpenAI compatibility)",
        ),
        # Any other OpenAI-compatible server (including memgpt.testing.fake_llm).
        Provider("custom", None, "OPENAI_API_KEY", False, "OPENAI_BASE_URL", "any OpenAI-compatible server"),
    ]
}
# Chat providers offered by the CLI ("openai-compatible" is another name for "custom").
LLM_PROVIDERS: tuple[str, ...] = (*(n for n in PROVIDERS if n != "tei"), "openai-compatible")
# Where embeddings come from: "local" is the bundled model, the others an OpenAI-compatible /embeddings endpoint.
EMBEDDING_PROVIDERS: tuple[str, ...] = ("local", "openai", "ollama", "vllm", "tei", "openai-compatible")


@dataclass(frozen=True)
class Endpoint:
    """A resolved endpoint: ready to hand to the client.

    Unpacks as ``base_url, api_key = resolve_endpoint(...)``.
    """

    provider: str
    base_url: str
    api_key: str | None
    api_key_env: str | None  # the variable that sets the key (for error hints)

    def __iter__(self) -> Iterator[str | None]:
        return iter((self.base_url, self.api_key))

    @property
    def key_hint(self) -> str:
        """How to set the key, for error messages."""
        if self.api_key_env:
            return f"export {self.api_key_env}=... or run `memgpt configure --model-api-key`"
        return "run `memgpt configure --model-api-key KEY`"


def get_provider(name: str | None) -> Provider:
    key = (name or "openai").strip().lower().replace("-", "").replace("_", "").replace(".", "")
    aliases = {"azureopenai": "azure", "openaicompatible": "custom", "openaicompat": "custom"}
    key = aliases.get(key, key)
    try:
        return PROVIDERS[key]
    except KeyError:
        raise ConfigError(
            f"unknown LLM provider '{name}'",
            f"use one of: {', '.join(PROVIDERS)} (or 'custom' with an endpoint URL)",
        ) from None


def _first(*values: str | None) -> str | None:
    for v in values:
        if v is not None and str(v).strip():
            return str(v).strip()
    return None


def normalize_base_url(url: str, provider: str = "custom") -> str:
    """Check the URL and give it the conventional ``/v1`` path when it has none.

    ``http://localhost:11434`` becomes ``http://localhost:11434/v1``; an Azure
    resource URL gets ``/openai/v1``; a trailing slash is dropped.
    """
    raw = url.strip()
    parts = urlsplit(raw)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConfigError(
            f"the endpoint URL '{url}' is not an http(s) URL",
            "give a full URL such as http://localhost:8000/v1",
        )
    path = parts.path.rstrip("/")
    if not path:
        path = "/openai/v1" if provider == "azure" else "/v1"
    elif provider == "azure" and path == "/openai":
        path = "/openai/v1"
    return f"{parts.scheme}://{parts.netloc}{path}" + (f"?{parts.query}" if parts.query else "")


def _host(url: str | None) -> str:
    return urlsplit(url).netloc.lower() if url else ""


def resolve_endpoint(
    provider: str | None,
    base_url: str | None = None,
    api_key: str | None = None,
    *,
    config_base_url: str | None = None,
    config_api_key: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Endpoint:
    """Decide the URL and API key to use (see the module docstring for precedence).

    Raises :class:`ConfigError` when no URL can be found (``azure``, ``custom``)
    or when the provider needs a key and none is set. A key is only demanded
    when the URL is the provider's own service: ``openai`` pointed at a local
    server through ``OPENAI_BASE_URL`` runs without one.
    """
    env = os.environ if env is None else env
    p = get_provider(provider)

    env_url = env.get(p.base_url_env) if p.base_url_env else None
    url = _first(base_url, config_base_url, env_url, p.base_url)
    if url is None:
        how = f"export {p.base_url_env}=https://..." if p.base_url_env else "pass --model-endpoint"
        example = "https://<resource>.openai.azure.com" if p.name == "azure" else "http://localhost:8000/v1"
        raise ConfigError(
            f"provider '{p.name}' needs an endpoint URL (e.g. {example})",
            f"{how} or run `memgpt configure --model-endpoint URL`",
        )
    url = normalize_base_url(url, p.name)

    env_key = env.get(p.api_key_env) if p.api_key_env else None
    key = _first(api_key, config_api_key, env_key)

    own_service = p.base_url is None or _host(url) == _host(p.base_url)
    if key is None and p.requires_key and own_service:
        var = p.api_key_env or "OPENAI_API_KEY"
        raise ConfigError(
            f"no API key for provider '{p.name}'",
            f"export {var}=... or run `memgpt configure --model-api-key KEY`",
        )
    return Endpoint(provider=p.name, base_url=url, api_key=key, api_key_env=p.api_key_env)


# --------------------------------------------------------------------------- context windows

DEFAULT_CONTEXT_WINDOW = 8192

# Prefix -> context window in tokens. The longest matching prefix wins, so
# specific entries ("gpt-4o") override general ones ("gpt-4").
CONTEXT_WINDOWS: dict[str, int] = {
    # OpenAI
    "gpt-5": 400_000,
    "gpt-4.1": 1_047_576,
    "gpt-4o": 128_000,
    "gpt-4o-mini": 128_000,
    "chatgpt-4o": 128_000,
    "gpt-4-turbo": 128_000,
    "gpt-4-1106": 128_000,
    "gpt-4-0125": 128_000,
    "gpt-4-vision": 128_000,
    "gpt-4-32k": 32_768,
    "gpt-4": 8_192,
    "gpt-3.5-turbo": 16_385,
    "gpt-3.5-turbo-instruct": 4_096,
    "gpt-oss": 131_072,
    "o1": 200_000,
    "o1-mini": 128_000,
    "o1-preview": 128_000,
    "o3": 200_000,
    "o3-mini": 200_000,
    "o4-mini": 200_000,
    # Meta Llama (Ollama tags, Groq ids and Hugging Face names)
    "llama2": 4_096,
    "llama-2": 4_096,
    "llama3": 8_192,
    "llama-3": 8_192,
    "meta-llama-3": 8_192,
    "llama3.1": 131_072,
    "llama-3.1": 131_072,
    "meta-llama-3.1": 131_072,
    "llama3.2": 131_072,
    "llama-3.2": 131_072,
    "llama3.3": 131_072,
    "llama-3.3": 131_072,
    "llama4": 131_072,
    "llama-4": 131_072,
    "codellama": 16_384,
    # Mistral
    "mistral": 32_768,
    "mistral-7b-instruct-v0.1": 8_192,
    "mistral-nemo": 131_072,
    "mistral-large": 131_072,
    "mistral-small": 32_768,
    "mistral-medium": 131_072,
    "open-mistral-nemo": 131_072,
    "codestral": 32_768,
    "mixtral": 32_768,
    "mixtral-8x22b": 65_536,
    # Qwen
    "qwen": 8_192,
    "qwen2": 32_768,
    "qwen2.5": 32_768,
    "qwen2.5-coder": 32_768,
    "qwen3": 32_768,
    "qwq": 32_768,
    # Microsoft Phi
    "phi3": 4_096,
    "phi-3": 4_096,
    "phi3.5": 131_072,
    "phi-3.5": 131_072,
    "phi4": 16_384,
    "phi-4": 16_384,
    # Google
    "gemma": 8_192,
    "gemma2": 8_192,
    "gemma-2": 8_192,
    "gemma3": 131_072,
    "gemma-3": 131_072,
    "gemini-1.5": 1_048_576,
    "gemini-2": 1_048_576,
    # DeepSeek
    "deepseek-chat": 65_536,
    "deepseek-reasoner": 65_536,
    "deepseek-v3": 131_072,
    "deepseek-r1": 131_072,
    "deepseek-coder": 16_384,
    "deepseek-coder-v2": 131_072,
    # Others seen through OpenRouter / Together
    "claude": 200_000,
    "command-r": 128_000,
    "yi": 4_096,
    "zephyr": 32_768,
    "openhermes": 8_192,
    "nous-hermes-2": 32_768,
    "hermes-3": 131_072,
}


def _normalize_model(model: str) -> str:
    name = model.strip().lower()
    if name.startswith("ft:"):  # fine-tuned OpenAI models: ft:gpt-4o-mini:org::id
        name = name[3:]
    if "/" in name:  # openai/gpt-4o, meta-llama/Llama-3.1-8B-Instruct
        name = name.rsplit("/", 1)[1]
    return name


def context_window_for(model: str | None, default: int = DEFAULT_CONTEXT_WINDOW) -> int:
    """The context window of a well-known model, ``default`` when unknown."""
    if not model:
        return default
    name = _normalize_model(model)
    best = ""
    for prefix in CONTEXT_WINDOWS:
        if name.startswith(prefix) and len(prefix) > len(best):
            best = prefix
    return CONTEXT_WINDOWS[best] if best else default
