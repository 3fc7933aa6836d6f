"""Scripted replies, recorded requests and deterministic embeddings of the fake server."""

from __future__ import annotations

import copy
import hashlib
import math
import re
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any

Responder = Callable[[dict[str, Any]], Any]

_CHAT_KINDS = {"text", "tool_calls", "legacy_function_call", "empty_choices", "demo"}
_ANY_KINDS = {"error", "delay", "broken_body", "raw", "respond"}
_EMBEDDING_KINDS = {"embeddings", "demo"}
_ALL_KINDS = _CHAT_KINDS | _ANY_KINDS | _EMBEDDING_KINDS

_HTTP_REASONS = {
    400: "invalid_request_error",
    401: "invalid_request_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout",
    429: "rate_limit_error",
}


# --------------------------------------------------------------------------- replies


class FakeReply:
    """One scripted answer. Build with the class methods; ``spec`` is its JSON form."""

    __slots__ = ("spec", "func")

    def __init__(self, spec: Mapping[str, Any], func: Responder | None = None) -> None:
        kind = spec.get("type")
        if kind not in _ALL_KINDS:
            raise ValueError(f"unknown fake reply type {kind!r}; expected one of {sorted(_ALL_KINDS)}")
        if kind == "respond" and func is None:
            raise ValueError("a 'respond' reply needs a Python callable (it cannot come from JSON)")
        if kind == "delay":
            seconds = spec.get("seconds")
            if not isinstance(seconds, (int, float)) or seconds < 0:
                raise ValueError("a 'delay' reply needs 'seconds' >= 0")
        if kind == "error" and not isinstance(spec.get("status"), int):
            raise ValueError("an 'error' reply needs an integer 'status'")
        if kind == "tool_calls":
            calls = spec.get("calls")
            if not isinstance(calls, list) or not all(isinstance(c, Mapping) and c.get("name") for c in calls):
                raise ValueError("a 'tool_calls' reply needs 'calls': [{'name': ..., 'arguments': ...}, ...]")
        self.spec: dict[str, Any] = dict(spec)
        if kind == "delay" and spec.get("then") is not None:
            self.spec["then"] = _coerce(spec["then"])
        self.func = func

    @property
    def kind(self) -> str:
        return self.spec["type"]

    def __repr__(self) -> str:
        return f"FakeReply({self.to_spec() if self.func is None else {'type': 'respond'}!r})"

    def to_spec(self) -> dict[str, Any]:
        """The JSON form (what ``POST /_fake/queue`` and ``--script`` accept)."""
        if self.func is not None:
            raise ValueError("a callable responder has no JSON form")
        out = dict(self.spec)
        if isinstance(out.get("then"), FakeReply):
            out["then"] = out["then"].to_spec()
        return copy.deepcopy(out)

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> FakeReply:
        if not isinstance(spec, Mapping):
            raise ValueError(f"a fake reply spec must be a JSON object, not {type(spec).__name__}")
        return cls(spec)

    # -- assistant messages -------------------------------------------------

    @classmethod
    def text(cls, content: str, *, finish_reason: str = "stop", usage: bool = True) -> FakeReply:
        """A plain assistant message."""
        return cls({"type": "text", "content": content, "finish_reason": finish_reason, "usage": usage})

    @classmethod
    def tool_call(
        cls,
        name: str,
        arguments: Mapping[str, Any] | str | None = None,
        *,
        content: str | None = None,
        id: str | None = None,
        usage: bool = True,
    ) -> FakeReply:
        """One tool call; ``content`` is the inner thought sent alongside. A str ``arguments`` is sent verbatim."""
        call: dict[str, Any] = {"name": name, "arguments": {} if arguments is None else arguments}
        if id:
            call["id"] = id
        return cls({"type": "tool_calls", "calls": [call], "content": content, "usage": usage})

    @classmethod
    def tool_calls(
        cls, calls: Iterable[Any], *, content: str | None = None, usage: bool = True
    ) -> FakeReply:
        """Several tool calls in one reply: items are ``(name, arguments)`` or ``{"name", "arguments", "id"}``."""
        out = []
        for c in calls:
            if isinstance(c, Mapping):
                out.append(dict(c))
            else:
                name, args = c
                out.append({"name": name, "arguments": args})
        return cls({"type": "tool_calls", "calls": out, "content": content, "usage": usage})

    @classmethod
    def raw_arguments(cls, name: str, arguments: str, *, content: str | None = None) -> FakeReply:
        """A tool call whose ``arguments`` text is sent exactly as given (e.g. broken JSON)."""
        return cls.tool_call(name, str(arguments), content=content)

    @classmethod
    def legacy_function_call(
        cls, name: str, arguments: Mapping[str, Any] | str | None = None, *, content: str | None = None
    ) -> FakeReply:
        """The pre-tools ``function_call`` field instead of ``tool_calls``."""
        return cls(
            {
                "type": "legacy_function_call",
                "name": name,
                "arguments": {} if arguments is None else arguments,
                "content": content,
            }
        )

    @classmethod
    def demo(cls) -> FakeReply:
        """Whatever the default responder would answer (the demo for chat, vectors for embeddings)."""
        return cls({"type": "demo"})

    # -- failures and odd replies -------------------------------------------

    @classmethod
    def error(
        cls,
        status: int,
        message: str | None = None,
        *,
        code: str | None = None,
        type: str | None = None,  # noqa: A002 - mirrors the OpenAI error field
        retry_after: float | str | None = None,
        retry_after_ms: float | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> FakeReply:
        """An HTTP error with an OpenAI-shaped body ``{"error": {message, type, code}}``."""
        spec: dict[str, Any] = {"type": "error", "status": int(status), "message": message, "code": code}
        if type is not None:
            spec["error_type"] = type
        if retry_after is not None:
            spec["retry_after"] = retry_after
        if retry_after_ms is not None:
            spec["retry_after_ms"] = retry_after_ms
        if headers:
            spec["headers"] = dict(headers)
        return cls(spec)

    @classmethod
    def delay(cls, seconds: float, then: Any = None) -> FakeReply:
        """Wait ``seconds`` before answering with ``then`` (default: the default responder)."""
        return cls({"type": "delay", "seconds": float(seconds), "then": then})

    @classmethod
    def broken_body(cls, body: str = '{"id": "chatcmpl-broken", "choices": [{"message": {"content": "tru', status: int = 200) -> FakeReply:
        """A reply whose body is not valid JSON (declared as application/json)."""
        return cls({"type": "broken_body", "body": body, "status": status})

    @classmethod
    def empty_choices(cls) -> FakeReply:
        """A well-formed chat completion with ``"choices": []``."""
        return cls({"type": "empty_choices"})

    @classmethod
    def raw(cls, body: Any, status: int = 200, headers: Mapping[str, str] | None = None) -> FakeReply:
        """Any JSON body (or a string, sent as-is) with any status."""
        return cls({"type": "raw", "body": body, "status": int(status), "headers": dict(headers or {})})

    @classmethod
    def respond(cls, func: Responder) -> FakeReply:
        """A responder: ``func(request_json)`` returns the reply (anything :meth:`FakeLLMServer.queue` accepts, or None for the default)."""
        return cls({"type": "respond"}, func=func)


def _coerce(reply: Any) -> FakeReply:
    if isinstance(reply, FakeReply):
        return reply
    if isinstance(reply, str):
        return FakeReply.text(reply)
    if isinstance(reply, Mapping):
        return FakeReply.from_spec(reply)
    if callable(reply):
        return FakeReply.respond(reply)
    raise ValueError(f"cannot use {type(reply).__name__} as a fake reply")


# --------------------------------------------------------------------------- recorded requests


class RecordedRequest(dict):
    """A request the server received: the parsed JSON body (this dict) plus ``method``, ``path``, ``headers``.

    ``headers`` has lower-cased names. ``raw`` is the body text; a body that is
    not a JSON object leaves this dict empty.
    """

    def __init__(self, method: str, path: str, headers: Mapping[str, str], body: Any, raw: str) -> None:
        super().__init__(body if isinstance(body, dict) else {})
        self.method = method
        self.path = path
        self.headers = {k.lower(): v for k, v in headers.items()}
        self.raw = raw
        self.time = time.time()

    @property
    def body(self) -> dict[str, Any]:
        return dict(self)

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "path": self.path, "headers": dict(self.headers), "body": dict(self)}


# --------------------------------------------------------------------------- deterministic embeddings

_WORD = re.compile(r"[^\W_]+", re.UNICODE)


def hashed_embedding(text: str, dim: int = 64) -> list[float]:
    """A unit vector from hashed words: the same text gives the same vector, shared words give similarity."""
    vec = [0.0] * dim
    words = _WORD.findall(text.lower()) or ["\x00empty"]
    for word in words:
        h = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little")
        vec[h % dim] += 1.0 if (h >> 40) & 1 else -1.0
    norm = math.sqrt(sum(v * v for v in vec))
    if norm == 0.0:  # every word cancelled out; any fixed unit vector will do
        vec[0], norm = 1.0, 1.0
    return [v / norm for v in vec]


