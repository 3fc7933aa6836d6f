"""Kinds of LLM endpoint failure, and how an HTTP error reply maps to them.

    LLMError (memgpt.errors)
    ├── LLMConnectionError          endpoint unreachable (message names the URL)       retried
    ├── LLMTimeoutError             no answer within the timeout (also HTTP 408)       retried
    ├── LLMRateLimitError           HTTP 429 (not retried when the quota is used up)   retried
    ├── LLMServerError              HTTP 5xx                                           retried
    ├── LLMAuthError                HTTP 401/403: says how to set the key
    ├── ContextWindowExceededError  the prompt does not fit the model's context
    ├── LLMRequestError             any other 4xx (unknown model, bad parameter ...)
    └── LLMBadResponseError         a 2xx reply that cannot be understood

Every error keeps the MemGPT contract: a one-line ``message`` and a ``hint``.
``retryable`` says whether trying again may help; ``retry_after`` carries the
server's ``Retry-After`` in seconds when it sent one.

Nothing here imports the ``openai`` SDK: :func:`error_from_status` works on the
plain status / body / headers so both the LLM client and the embeddings client
(and any future transport) classify the same way.
"""

from __future__ import annotations

import email.utils
import json
import re
import time
from collections.abc import Mapping
from typing import Any

from memgpt.errors import LLMError

DEFAULT_KEY_HINT = "export OPENAI_API_KEY=... or run `memgpt configure --model-api-key`"


class _KindedLLMError(LLMError):
    retryable: bool = False

    def __init__(
        self,
        message: str,
        hint: str | None = None,
        *,
        status_code: int | None = None,
        retry_after: float | None = None,
        retryable: bool | None = None,
    ) -> None:
        super().__init__(message, hint)
        self.status_code = status_code
        self.retry_after = retry_after
        if retryable is not None:
            self.retryable = retryable


class LLMConnectionError(_KindedLLMError):
    retryable = True


class LLMTimeoutError(_KindedLLMError):
    retryable = True


class LLMRateLimitError(_KindedLLMError):
    retryable = True


class LLMServerError(_KindedLLMError):
    retryable = True


class LLMAuthError(_KindedLLMError):
    pass


class ContextWindowExceededError(_KindedLLMError):
    pass


class LLMRequestError(_KindedLLMError):
    pass


class LLMBadResponseError(_KindedLLMError):
    pass


# --------------------------------------------------------------------------- context overflow

_CONTEXT_CODES = frozenset(
    {
        "context_length_exceeded",  # OpenAI, Groq, DeepSeek, OpenRouter
        "context_window_exceeded",
        "exceed_context_size_error",  # llama.cpp server
        "model_context_window_exceeded",
    }
)

_CONTEXT_PATTERNS = re.compile(
    "|".join(
        [
            r"context[ _-]length",  # OpenAI / vLLM "maximum context length", Ollama, LM Studio
            r"context[ _-]window",  # llama-cpp-python "exceed context window"
            r"context[ _-]size",  # llama.cpp "exceeds the available context size"
            r"context overflow",
            r"maximum context",
            r"too many tokens",
            r"prompt is too long",
            r"input is too long",
            r"reduce the length of the (?:messages|prompt|input)",
            r"tokens?.{0,60}must be <=",  # TGI "`inputs` tokens + `max_new_tokens` must be <= 4096"
            r"exceeds? (?:the )?(?:model'?s? )?(?:max(?:imum)? )?(?:token|sequence) (?:limit|length)",
        ]
    ),
    re.IGNORECASE,
)


def is_context_overflow(message: str | None, code: str | None = None) -> bool:
    """Whether an error reply says the prompt is too long for the model."""
    if code and str(code).lower() in _CONTEXT_CODES:
        return True
    return bool(message) and _CONTEXT_PATTERNS.search(message) is not None


# --------------------------------------------------------------------------- parsing helpers


def one_line(text: Any, limit: int = 240) -> str:
    """Collapse whitespace and truncate, so server text fits a one-line message."""
    s = " ".join(str(text).split())
    return s if len(s) <= limit else s[: limit - 1] + "…"


def server_error_detail(body: Any) -> tuple[str | None, str | None]:
    """``(message, code)`` from an error body in any common shape.

    Handles OpenAI ``{"error": {"message", "code", "type"}}``, ``{"error": "text"}``,
    FastAPI ``{"detail": ...}``, ``{"message": ...}``, a JSON string, or plain text.
    """
    if isinstance(body, (bytes, bytearray)):
        body = body.decode("utf-8", "replace")
    if isinstance(body, str):
        text = body.strip()
        if not text:
            return None, None
        try:
            body = json.loads(text)
        except ValueError:
            return text, None
    if isinstance(body, Mapping):
        err: Any = body.get("error", body)
        if isinstance(err, str):
            code = body.get("code")
            return err, (str(code) if code is not None else None)
        if isinstance(err, Mapping):
            msg = err.get("message") or err.get("msg") or err.get("detail") or err.get("error")
            code = err.get("code")
            if code is None:
                code = err.get("type")
            if msg is not None and not isinstance(msg, str):
                msg = json.dumps(msg)
            return msg, (str(code) if code is not None else None)
    if body is None:
        return None, None
    return json.dumps(body) if not isinstance(body, str) else body, None


def parse_retry_after(headers: Mapping[str, str] | None, now: float | None = None) -> float | None:
    """Seconds the server asked us to wait, from ``retry-after-ms`` or ``Retry-After``.

    ``Retry-After`` may be a number of seconds or an HTTP date. Returns ``None``
    when absent or unparseable; never negative.
    """
    if not headers:
        return None
    lower = {str(k).lower(): str(v) for k, v in headers.items()}
    ms = lower.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = lower.get("retry-after")
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


# --------------------------------------------------------------------------- classification


def error_from_status(
    status: int,
    body: Any,
    headers: Mapping[str, str] | None = None,
    *,
    endpoint: str,
    what: str = "LLM",
    model: str | None = None,
    key_hint: str = DEFAULT_KEY_HINT,
) -> LLMError:
    """The error an HTTP error reply stands for.

    ``endpoint`` is the base URL (it appears in messages), ``what`` names the
    service ("LLM", "embedding"), ``key_hint`` says how to set the API key.
    """
    message, code = server_error_detail(body)
    detail = one_line(message) if message else f"HTTP {status}"
    retry_after = parse_retry_after(headers)
    kw: dict[str, Any] = {"status_code": status, "retry_after": retry_after}
    at = f"the {what} endpoint at {endpoint}"
    model_part = f" for model '{model}'" if model else ""

    if status in (401, 403):
        verb = "rejected the API key" if status == 401 else "refused access"
        return LLMAuthError(f"{at} {verb} (HTTP {status}): {detail}", f"set a valid key: {key_hint}", **kw)
    if status == 429:
        if code == "insufficient_quota" or (message and "quota" in message.lower() and "exceeded" in message.lower()):
            return LLMRateLimitError(
                f"{at} says the account's quota is used up: {detail}",
                "check the plan and billing of this API key, or use another provider",
                retryable=False,
                **kw,
            )
        return LLMRateLimitError(
            f"{at} is rate limiting requests (HTTP 429): {detail}",
            "wait a moment and try again, or lower the request rate",
            **kw,
        )
    if is_context_overflow(message, code):
        return ContextWindowExceededError(
            f"the prompt does not fit the context window{model_part}: {detail}",
            "shorten the conversation (/summarize), use a model with a larger window, or give the server's "
            "real window with --context-window TOKENS",
            **kw,
        )
    if status == 408:
        return LLMTimeoutError(f"{at} timed out handling the request (HTTP 408)", "try again", **kw)
    if status >= 500:
        return LLMServerError(
            f"{at} failed with HTTP {status}: {detail}",
            "the server had a problem; try again later or check its logs",
            **kw,
        )
    if status == 404:
        return LLMRequestError(
            f"{at} answered 404{model_part}: {detail}",
            "check the model name and that the URL ends in /v1; GET /v1/models lists the served models",
            **kw,
        )
    return LLMRequestError(
        f"{at} rejected the request (HTTP {status}): {detail}",
        "check the model name and settings with `memgpt configure`",
        **kw,
    )
