"""Chat completions over any OpenAI-compatible endpoint, through the official SDK.

The SDK does the HTTP; this module owns everything around it:

* **Retries.** The SDK's own retries are switched off (``max_retries=0``) and
  :func:`call_with_retries` retries 429, 5xx, 408, timeouts and connection
  errors with exponential backoff and jitter, honouring ``Retry-After`` /
  ``retry-after-ms`` (capped at :attr:`RetryPolicy.max_retry_after`). Other 4xx
  are never retried. Tests pass ``sleep=`` so backoff costs nothing.
* **Errors.** SDK exceptions become :mod:`memgpt.llm.errors` classes with a
  one-line message naming the endpoint and a hint.
* **Parsing.** The reply body is read raw and parsed here, so replies the SDK's
  models would choke on still work: several tool calls, the legacy
  ``function_call`` field, ``content`` null / empty / a list of parts, tool
  arguments that are not JSON (kept verbatim for the agent to repair) or are a
  JSON object instead of a string, missing ``usage``, missing tool-call ids.
  An empty ``choices`` or a body that is not JSON is :class:`LLMBadResponseError`.

:class:`OpenAITransport` (SDK client + retry policy + error mapping) is shared
with :mod:`memgpt.embeddings.openai_compat`.

``openai`` is imported only when the first request is made, so importing this
module stays cheap.
"""

from __future__ import annotations

import contextlib
import json
import logging
import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, TypeVar

from memgpt.errors import LLMError
from memgpt.llm.base import ChatRequest, ChatResponse, Usage
from memgpt.llm.errors import (
    DEFAULT_KEY_HINT,
    LLMBadResponseError,
    LLMConnectionError,
    LLMRequestError,
    LLMTimeoutError,
    error_from_status,
    is_context_overflow,
    one_line,
    server_error_detail,
)
from memgpt.llm.providers import DEFAULT_CONTEXT_WINDOW, context_window_for
from memgpt.schemas import ToolCall

if TYPE_CHECKING:  # pragma: no cover
    import openai

    from memgpt.llm.local import ServerInfo
    from memgpt.llm.providers import Endpoint

logger = logging.getLogger("memgpt.llm")

T = TypeVar("T")


# --------------------------------------------------------------------------- retry policy


@dataclass(frozen=True)
class RetryPolicy:
    """How many times to retry and how long to wait in between.

    Attempt ``n`` (0-based) waits ``min(max_delay, base_delay * 2**n)`` scaled
    by a random factor in ``[1 - jitter, 1 + jitter]``; a server's
    ``Retry-After`` replaces that, capped at ``max_retry_after``.
    """

    max_retries: int = 4
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_retry_after: float = 60.0
    jitter: float = 0.25

    def delay(self, attempt: int, retry_after: float | None = None, rand: Callable[[], float] = random.random) -> float:
        if retry_after is not None:
            return max(0.0, min(float(retry_after), self.max_retry_after))
        base = min(self.max_delay, self.base_delay * (2**attempt))
        return max(0.0, base * (1.0 - self.jitter + 2.0 * self.jitter * rand()))


def call_with_retries(
    attempt: Callable[[], T],
    *,
    policy: RetryPolicy,
    translate: Callable[[BaseException], LLMError | None],
    sleep: Callable[[float], None] = time.sleep,
    label: str = "LLM request",
    deadline: float | None = None,
    clock: Callable[[], float] = time.monotonic,
) -> T:
    """Run ``attempt`` until it succeeds or fails in a way retrying cannot fix.

    ``translate`` turns a transport exception into an :class:`LLMError` (or
    ``None`` to let it propagate as a bug). ``attempt`` may also raise an
    ``LLMError`` itself (e.g. an error object inside a 200 reply). An error is
    retried when its ``retryable`` attribute is true and, with a ``deadline``
    (seconds for the whole call), when the wait still ends before it.
    """
    retries = 0
    start = clock()
    while True:
        try:
            return attempt()
        except LLMError as exc:
            err: LLMError = exc
            cause: BaseException | None = exc.__cause__
        except Exception as exc:
            mapped = translate(exc)
            if mapped is None:
                raise
            err, cause = mapped, exc
        wait = policy.delay(retries, getattr(err, "retry_after", None))
        late = deadline is not None and clock() - start + wait >= deadline
        if not getattr(err, "retryable", False) or retries >= policy.max_retries or late:
            if retries or (late and getattr(err, "retryable", False)):
                within = f" within the {deadline:g} s deadline" if late else ""
                err.message = f"{err.message} (gave up after {retries + 1} attempts{within})"
                err.args = (err.message,)
            err.attempts = retries + 1  # type: ignore[attr-defined]
            if err is cause:
                raise err
            raise err from cause
        logger.info("%s failed: %s; retry %d/%d in %.1f s", label, err.message, retries + 1, policy.max_retries, wait)
        sleep(wait)
        retries += 1


# --------------------------------------------------------------------------- SDK transport


def translate_sdk_error(
    exc: BaseException,
    *,
    endpoint: str,
    what: str = "LLM",
    model: str | None = None,
    key_hint: str = DEFAULT_KEY_HINT,
    timeout: float | None = None,
    local: bool = False,
) -> LLMError | None:
    """Map an ``openai`` SDK exception to a :mod:`memgpt.llm.errors` class (``None`` if it is not one).

    ``local``: the endpoint is the user's own server, where a request the client gave up on keeps
    running, so a timeout is final rather than retried.
    """
    import openai

    if isinstance(exc, openai.APITimeoutError):
        within = f" within {timeout:g} s" if timeout else ""
        if local:
            return LLMTimeoutError(
                f"the local {what} server at {endpoint} did not answer{within}",
                "a CPU server may need minutes per reply: allow more with --llm-timeout SECONDS, "
                "or use a smaller model or a shorter context",
                retryable=False,
            )
        return LLMTimeoutError(
            f"the {what} endpoint at {endpoint} did not answer{within}",
            "the server may be busy or still loading the model; try again or allow more with --llm-timeout SECONDS",
        )
    if isinstance(exc, openai.APIStatusError):
        response = exc.response
        try:
            body: Any = response.text
        except Exception:  # noqa: BLE001 - a stream that was never read
            body = exc.body
        if not body:
            body = exc.body if exc.body is not None else exc.message
        return error_from_status(
            response.status_code,
            body,
            dict(response.headers),
            endpoint=endpoint,
            what=what,
            model=model,
            key_hint=key_hint,
        )
    if isinstance(exc, openai.APIConnectionError):
        reason = exc.__cause__ or exc.__context__
        detail = f" ({one_line(reason, 120)})" if reason is not None and str(reason) else ""
        fix = (
            "memgpt configure --model-endpoint URL, or export OPENAI_BASE_URL=..."
            if what == "LLM"
            else "memgpt configure"
        )
        return LLMConnectionError(
            f"cannot reach the {what} endpoint at {endpoint}{detail}",
            f"start the server or fix the URL: {fix}",
        )
    if isinstance(exc, openai.APIResponseValidationError):
        return LLMBadResponseError(f"the {what} endpoint at {endpoint} sent a reply that does not fit the API: {exc}")
    if isinstance(exc, openai.OpenAIError):
        return LLMRequestError(f"the {what} request to {endpoint} failed: {one_line(exc)}", "check the endpoint settings")
    return None


class OpenAITransport:
    """An OpenAI-compatible endpoint: the SDK client, the retry policy and error mapping.

    ``call(fn)`` runs ``fn(sdk_client)`` with retries; ``fn`` should perform
    exactly one request. The SDK client is built on first use.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        timeout: float = 60.0,
        max_retries: int = 4,
        extra_headers: Mapping[str, str] | None = None,
        sleep: Callable[[float], None] = time.sleep,
        retry_policy: RetryPolicy | None = None,
        what: str = "LLM",
        key_hint: str = DEFAULT_KEY_HINT,
        local: bool = False,
        deadline: float | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.local = local
        self.deadline = deadline
        self.api_key = api_key
        self.timeout = float(timeout)
        self.policy = retry_policy or RetryPolicy(max_retries=max_retries)
        self.extra_headers = dict(extra_headers or {})
        self.sleep = sleep
        self.what = what
        self.key_hint = key_hint
        self._sdk: openai.OpenAI | None = None
        self._lock = threading.Lock()

    def sdk(self) -> openai.OpenAI:
        if self._sdk is None:
            with self._lock:
                if self._sdk is None:
                    import openai

                    self._sdk = openai.OpenAI(
                        base_url=self.base_url,
                        api_key=self.api_key or "not-needed",
                        max_retries=0,
                        timeout=self.timeout,
                        default_headers=self.extra_headers or None,
                    )
        return self._sdk

    def translate(self, exc: BaseException, model: str | None = None) -> LLMError | None:
        return translate_sdk_error(
            exc, endpoint=self.base_url, what=self.what, model=model, key_hint=self.key_hint,
            timeout=self._last_timeout, local=self.local,
        )

    _last_timeout: float | None = None

    def call(self, fn: Callable[[openai.OpenAI], T], *, model: str | None = None) -> T:
        """``fn`` with retries; with a deadline, each attempt gets only the time that is left of it."""
        start = time.monotonic()

        def attempt() -> T:
            sdk = self.sdk()
            self._last_timeout = self.timeout
            if self.deadline is not None:
                left = max(1.0, self.deadline - (time.monotonic() - start))
                if left < self.timeout:
                    self._last_timeout = left
                    sdk = sdk.with_options(timeout=left)
            return fn(sdk)

        return call_with_retries(
            attempt,
            policy=self.policy,
            translate=lambda exc: self.translate(exc, model),
            sleep=self.sleep,
            label=f"{self.what} request to {self.base_url}",
            deadline=self.deadline,
        )

    def close(self) -> None:
        if self._sdk is not None:
            self._sdk.close()
            self._sdk = None


def parse_json_body(text: str, *, endpoint: str, what: str = "LLM") -> dict[str, Any]:
    """The reply body as a JSON object, or :class:`LLMBadResponseError`."""
    try:
        data = json.loads(text)
    except ValueError:
        shown = repr(one_line(text, 80)) if text.strip() else "an empty body"
        raise LLMBadResponseError(
            f"the {what} endpoint at {endpoint} sent a reply that is not JSON: {shown}",
            "check that the URL is an OpenAI-compatible API; it usually ends in /v1",
        ) from None
    if not isinstance(data, dict):
        raise LLMBadResponseError(
            f"the {what} endpoint at {endpoint} sent JSON that is not an object: {one_line(text, 80)!r}",
            "check that the URL is an OpenAI-compatible API; it usually ends in /v1",
        )
    return data


def raise_for_error_object(
    data: Mapping[str, Any], *, endpoint: str, what: str = "LLM", model: str | None = None, key_hint: str = DEFAULT_KEY_HINT
) -> None:
    """Some proxies answer 200 with ``{"error": {...}}``: raise what it stands for."""
    if "error" not in data or data.get("error") is None:
        return
    message, code = server_error_detail(dict(data))
    status: int | None = None
    raw_code = data["error"].get("code") if isinstance(data["error"], Mapping) else None
    if isinstance(raw_code, int) or (isinstance(raw_code, str) and raw_code.isdigit()):
        status = int(raw_code)
    if status is not None and 400 <= status < 600:
        raise error_from_status(status, dict(data), None, endpoint=endpoint, what=what, model=model, key_hint=key_hint)
    if is_context_overflow(message, code):
        raise error_from_status(400, dict(data), None, endpoint=endpoint, what=what, model=model, key_hint=key_hint)
    raise LLMBadResponseError(
        f"the {what} endpoint at {endpoint} returned an error: {one_line(message or data['error'])}",
        "check the model name and the server's logs",
    )


# --------------------------------------------------------------------------- chat reply parsing


def _new_call_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"


def _content_text(content: Any) -> str | None:
    """Message content as text: strings as-is, lists of parts joined, empty -> None."""
    if content is None:
        return None
    if isinstance(content, list):
        pieces = []
        for part in content:
            if isinstance(part, str):
                pieces.append(part)
            elif isinstance(part, Mapping) and isinstance(part.get("text"), str):
                pieces.append(part["text"])
        content = "".join(pieces)
    elif not isinstance(content, str):
        content = json.dumps(content)
    return content if content.strip() else None


def _arguments_text(arguments: Any) -> str:
    """Tool arguments as raw text. Strings are kept verbatim (even broken JSON)."""
    if arguments is None:
        return "{}"
    if isinstance(arguments, str):
        return arguments if arguments.strip() else "{}"
    return json.dumps(arguments)  # some servers send an object instead of a string


def _tool_call(raw: Any) -> ToolCall | None:
    if not isinstance(raw, Mapping):
        return None
    fn = raw.get("function")
    if not isinstance(fn, Mapping):
        fn = raw  # a flattened {"name", "arguments"} shape
    name = fn.get("name")
    if not isinstance(name, str) or not name:
        return None
    call_id = raw.get("id")
    if not isinstance(call_id, str) or not call_id:
        call_id = _new_call_id()
    return ToolCall(id=call_id, name=name, arguments=_arguments_text(fn.get("arguments")))


def _usage(raw: Any) -> Usage | None:
    if not isinstance(raw, Mapping):
        return None

    def num(key: str) -> int:
        v = raw.get(key)
        return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else 0

    prompt, completion = num("prompt_tokens"), num("completion_tokens")
    total = num("total_tokens") or prompt + completion
    return Usage(prompt_tokens=prompt, completion_tokens=completion, total_tokens=total)


def parse_chat_completion(
    data: Mapping[str, Any], *, endpoint: str, model: str | None = None, key_hint: str = DEFAULT_KEY_HINT
) -> ChatResponse:
    """A :class:`ChatResponse` from a chat-completion JSON object."""
    raise_for_error_object(data, endpoint=endpoint, model=model, key_hint=key_hint)
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        raise LLMBadResponseError(
            f"the LLM endpoint at {endpoint} returned no choices",
            "the model produced no answer (a content filter or a server fault); try again or use another model",
        )
    choice = choices[0]
    if not isinstance(choice, Mapping):
        raise LLMBadResponseError(f"the LLM endpoint at {endpoint} returned a malformed choice: {one_line(choice, 80)!r}")
    message = choice.get("message")
    if message is None:
        message = {"content": choice.get("text")}  # a legacy completions-shaped reply
    if not isinstance(message, Mapping):
        raise LLMBadResponseError(
            f"the LLM endpoint at {endpoint} returned a malformed message: {one_line(message, 80)!r}"
        )

    tool_calls: list[ToolCall] = []
    raw_calls = message.get("tool_calls")
    if isinstance(raw_calls, Mapping):
        raw_calls = [raw_calls]
    if isinstance(raw_calls, list):
        tool_calls = [c for c in (_tool_call(r) for r in raw_calls) if c is not None]
    if not tool_calls and isinstance(message.get("function_call"), Mapping):
        legacy = _tool_call({"function": message["function_call"]})
        if legacy is not None:
            tool_calls = [legacy]

    finish = choice.get("finish_reason")
    return ChatResponse(
        content=_content_text(message.get("content")),
        tool_calls=tool_calls,
        finish_reason=finish if isinstance(finish, str) else None,
        usage=_usage(data.get("usage")),
        raw_model=data.get("model") if isinstance(data.get("model"), str) else None,
    )


# --------------------------------------------------------------------------- the client


def _wire_message(message: Any) -> dict[str, Any]:
    """A history message as sent. An assistant turn that only called tools gets ``"content": ""``, not
    ``null``: llama-cpp-python's server rejects ``null`` (HTTP 500, "Input should be a valid string") and its
    chat templates fail when the key is missing, while OpenAI and the others accept ``""``."""
    out = message.to_openai()
    if out.get("role") == "assistant" and out.get("content") is None and out.get("tool_calls"):
        out["content"] = ""
    return out


@contextlib.contextmanager
def _ticking(on_wait: Callable[[float], None] | None) -> Iterator[None]:
    """Call ``on_wait(seconds)`` about once a second from a daemon thread until the block ends.

    The request itself stays on the calling thread, so Ctrl-C interrupts it as usual."""
    if on_wait is None:
        yield
        return
    done = threading.Event()
    start = time.monotonic()

    def tick() -> None:
        while not done.wait(1.0):
            try:
                on_wait(time.monotonic() - start)
            except Exception:  # noqa: BLE001 - a broken display must not break the request
                logger.debug("on_wait hook failed", exc_info=True)

    thread = threading.Thread(target=tick, name="llm-wait", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join(timeout=2)


# Sent to local servers when the request names none: their defaults (0.8 in llama.cpp and llama-cpp-python)
# let a small model wander off the function-call format; greedy decoding keeps it there, and makes a
# local run repeatable.
LOCAL_TEMPERATURE = 0.0


def _is_reasoning_model(model: str) -> bool:
    """OpenAI o-series / gpt-5 take ``max_completion_tokens`` and only the default temperature."""
    name = model.lower().rsplit("/", 1)[-1]
    return name.startswith(("o1", "o3", "o4", "gpt-5"))


class OpenAICompatibleClient:
    """:class:`memgpt.llm.base.LLMClient` for OpenAI, Azure (v1), Ollama, vLLM, LM Studio, llama.cpp, ...

    ``context_window`` of ``None`` is looked up: on a ``local`` server it is
    asked of the server on first use (:func:`memgpt.llm.local.probe_server`),
    8,192 when the server does not say; elsewhere it is known per model
    (:func:`memgpt.llm.providers.context_window_for`). ``max_retries`` counts
    retries after the first attempt; ``deadline`` bounds one reply, retries
    included; a ``local`` server's timeout is never retried (``local_deadline``
    replaces ``deadline`` when :meth:`verify` finds a local server). ``on_wait`` is
    called about once a second with the seconds waited so far (a spinner).
    ``sleep`` replaces :func:`time.sleep` between retries (tests pass a
    recorder). ``key_hint`` is shown on 401/403.
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        model: str,
        context_window: int | None = None,
        timeout: float = 60.0,
        max_retries: int = 4,
        extra_headers: Mapping[str, str] | None = None,
        *,
        sleep: Callable[[float], None] = time.sleep,
        retry_policy: RetryPolicy | None = None,
        key_hint: str = DEFAULT_KEY_HINT,
        local: bool = False,
        deadline: float | None = None,
        provider: str | None = None,
        on_wait: Callable[[float], None] | None = None,
        local_deadline: float | None = None,
    ) -> None:
        self.model = model
        self.local = local
        self.local_deadline = local_deadline
        self.provider = provider
        self.on_wait = on_wait
        self.server: ServerInfo | None = None
        self._context_window = int(context_window) if context_window else None
        self._window_given = self._context_window is not None
        self.transport = OpenAITransport(
            base_url,
            api_key,
            timeout=timeout,
            max_retries=max_retries,
            extra_headers=extra_headers,
            sleep=sleep,
            retry_policy=retry_policy,
            what="LLM",
            key_hint=key_hint,
            local=local,
            deadline=deadline,
        )

    @property
    def context_window(self) -> int:
        if self._context_window is None:
            self._context_window = self._lookup_window()
        return self._context_window

    @context_window.setter
    def context_window(self, value: int) -> None:
        self._context_window = int(value)

    def _lookup_window(self) -> int:
        if not self.local:
            return context_window_for(self.model)
        from memgpt.llm.local import OLLAMA_DEFAULT_NUM_CTX, probe_server

        t = self.transport
        self.server = probe_server(t.base_url, t.api_key, self.model, provider=self.provider)
        if self.server.context_window:
            return self.server.context_window
        if self.server.kind == "ollama":  # we send num_ctx, so the window is ours to choose
            return min(self.server.model_window or OLLAMA_DEFAULT_NUM_CTX, OLLAMA_DEFAULT_NUM_CTX)
        # A local server's window is set when it starts, whatever the model's name says; 8k is common
        # (--context-window says otherwise).
        return DEFAULT_CONTEXT_WINDOW

    @classmethod
    def from_endpoint(cls, endpoint: Endpoint, model: str, context_window: int | None = None, **kwargs: Any):
        """A client for an endpoint resolved by :func:`memgpt.llm.providers.resolve_endpoint`."""
        kwargs.setdefault("key_hint", endpoint.key_hint)
        return cls(endpoint.base_url, endpoint.api_key, model, context_window, **kwargs)

    @property
    def base_url(self) -> str:
        return self.transport.base_url

    def verify(self, timeout: float = 10.0) -> None:
        """Fail fast, with one line, when the endpoint is unreachable or refuses the key.

        Asks for the model list once (one retry). A server without that route
        (404 and the like) passes: only reachability and auth are checked. A list
        whose ``owned_by`` names llama.cpp, vLLM or Ollama makes the client local
        (see :meth:`become_local`) even when its URL did not say so.
        """
        from memgpt.llm.errors import LLMAuthError, LLMConnectionError, LLMTimeoutError
        from memgpt.llm.local import server_kind_of_models

        t = self.transport
        probe = OpenAITransport(t.base_url, t.api_key, timeout=timeout, max_retries=1, extra_headers=t.extra_headers,
                                sleep=t.sleep, what=t.what, key_hint=t.key_hint)
        try:
            raw = probe.call(lambda sdk: sdk.models.with_raw_response.list(), model=self.model)
            try:
                kind = server_kind_of_models(json.loads(raw.http_response.text))
            except ValueError:
                kind = None
            if kind and not self.local:
                self.become_local()
        except (LLMConnectionError, LLMTimeoutError, LLMAuthError):
            raise
        except LLMError:
            pass
        finally:
            probe.close()

    def become_local(self) -> None:
        """Treat the endpoint as the user's own server: the local deadline, no retry after a timeout, and
        the window asked of the server unless one was given."""
        self.local = self.transport.local = True
        if self.local_deadline:
            self.transport.deadline = self.transport.timeout = self.local_deadline
        if not self._window_given:
            self._context_window = None

    def request_body(self, request: ChatRequest) -> dict[str, Any]:
        """The JSON body sent for ``request`` (what the server sees)."""
        body: dict[str, Any] = {"model": self.model, "messages": [_wire_message(m) for m in request.messages]}
        if request.tools:
            body["tools"] = list(request.tools)
            if request.tool_choice is not None:
                body["tool_choice"] = request.tool_choice
        reasoning = _is_reasoning_model(self.model)
        if self._is_ollama():
            # Ollama silently cuts the prompt to its own default window unless the request names one.
            body["options"] = {"num_ctx": self.context_window}
        temperature = request.temperature
        if temperature is None and self.local:
            temperature = LOCAL_TEMPERATURE
        if temperature is not None and not reasoning:
            body["temperature"] = temperature
        if request.max_tokens is not None:
            body["max_completion_tokens" if reasoning else "max_tokens"] = request.max_tokens
        if request.response_format is not None:
            body["response_format"] = request.response_format
        return body

    def _is_ollama(self) -> bool:
        if self.provider == "ollama":
            return True
        _ = self.context_window  # a local server is probed on first use
        return self.server is not None and self.server.kind == "ollama"

    def complete(self, request: ChatRequest) -> ChatResponse:
        body = self.request_body(request)
        endpoint = self.transport.base_url
        extra = {k: body.pop(k) for k in ("options",) if k in body}  # fields the SDK does not know

        def attempt(sdk: openai.OpenAI) -> ChatResponse:
            raw = sdk.chat.completions.with_raw_response.create(**body, extra_body=extra or None)
            data = parse_json_body(raw.http_response.text, endpoint=endpoint)
            return parse_chat_completion(data, endpoint=endpoint, model=self.model, key_hint=self.transport.key_hint)

        with _ticking(self.on_wait):
            return self.transport.call(attempt, model=self.model)

    def close(self) -> None:
        self.transport.close()

    def __repr__(self) -> str:
        return f"OpenAICompatibleClient(model={self.model!r}, base_url={self.base_url!r})"


__all__ = [
    "OpenAICompatibleClient",
    "OpenAITransport",
    "RetryPolicy",
    "call_with_retries",
    "parse_chat_completion",
    "translate_sdk_error",
]
