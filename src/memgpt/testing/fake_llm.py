"""A scripted OpenAI-compatible server for tests and keyless demos (stdlib only).

In-process, from a test::

    from memgpt.testing.fake_llm import FakeLLMServer, FakeReply

    with FakeLLMServer() as srv:               # port 0: an ephemeral port
        srv.queue(FakeReply.tool_call("send_message", {"message": "hi"}, content="greet the user"))
        client = OpenAICompatibleClient(srv.base_url, None, "fake-llm")   # http://127.0.0.1:PORT/v1
        ...
        assert srv.requests[0]["model"] == "fake-llm"   # the parsed JSON body
        assert srv.requests[0].path == "/v1/chat/completions"

From a shell (then point memgpt at ``http://127.0.0.1:8000/v1`` with any key)::

    python -m memgpt.testing.fake_llm --port 8000 [--script replies.json] [--embedding-dim 64]

Endpoints
    ``POST /v1/chat/completions``  the next scripted reply, or the demo responder
    ``GET  /v1/models``            the chat and embedding model names
    ``POST /v1/embeddings``        deterministic hashed bag-of-words vectors
                                   (``--embedding-dim``, default 64, unit length;
                                   texts sharing words are similar). Honours
                                   ``dimensions`` and ``encoding_format=base64``.
    ``POST /_fake/queue``          queue a reply spec (or a list); ``?endpoint=embeddings``
                                   scripts the embeddings endpoint instead of chat
    ``GET  /_fake/requests``       the recorded requests as JSON
    ``POST /_fake/reset``          forget queued replies and recorded requests

Scripted replies
    ``server.queue(reply, ...)`` appends to a FIFO consumed one reply per
    request. A reply is a :class:`FakeReply`, its JSON spec (``{"type": ...}``,
    see :meth:`FakeReply.to_spec`), a plain string (a text reply) or a callable
    ``request_json -> reply`` (a responder that decides from what was sent).
    Helpers: :meth:`FakeReply.text`, :meth:`~FakeReply.tool_call`,
    :meth:`~FakeReply.tool_calls`, :meth:`~FakeReply.legacy_function_call`,
    :meth:`~FakeReply.raw_arguments` (arguments that are not valid JSON),
    :meth:`~FakeReply.error` (status, message, code, ``retry_after``),
    :meth:`~FakeReply.delay` (answer late, to trigger client timeouts),
    :meth:`~FakeReply.broken_body` (not JSON), :meth:`~FakeReply.empty_choices`,
    :meth:`~FakeReply.raw` (any body) and :meth:`~FakeReply.demo`.
    ``--script FILE`` queues a JSON list of specs at start-up (or an object
    ``{"chat": [...], "embeddings": [...]}``).

The demo responder (used when the queue is empty)
    It lets a person try an agent without any API key. It looks only at the
    request, never at how many requests came before:

    * no ``tools`` in the request (e.g. a summarisation call): a plain-text
      summary made of the first sentence of each message, truncated;
    * last message from the user: call ``archival_memory_search`` (if offered)
      with the user's text as the query and ``request_heartbeat: true``, with an
      inner thought in ``content``; if that tool is not offered, answer with
      ``send_message`` acknowledging the user;
    * last message is a tool result: an inner thought plus ``send_message``
      quoting the first ~300 characters of that result; if the result came
      from ``send_message`` itself, just an inner thought and no call, so the
      agent's turn ends;
    * anything else: ``send_message`` with an acknowledgement.

    User messages packed as JSON (``{"type": "user_message", "message": ...}``)
    are unpacked; a ``{"type": "heartbeat"}`` user message is treated like the
    tool result before it. Argument names follow the offered schemas
    (``request_heartbeat`` is only sent when the schema lists it or lists no
    properties at all).
"""

from __future__ import annotations

import argparse
import base64
import copy
import hashlib
import json
import math
import re
import struct
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

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


# --------------------------------------------------------------------------- the demo responder


def _tool_schemas(request: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """name -> JSON-schema parameters, from ``tools`` (or legacy ``functions``)."""
    out: dict[str, dict[str, Any]] = {}
    for t in request.get("tools") or []:
        fn = t.get("function") if isinstance(t, Mapping) else None
        if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
            out[fn["name"]] = dict(fn.get("parameters") or {})
    for fn in request.get("functions") or []:
        if isinstance(fn, Mapping) and isinstance(fn.get("name"), str):
            out[fn["name"]] = dict(fn.get("parameters") or {})
    return out


def _text_of(content: Any) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(p.get("text", "") if isinstance(p, Mapping) else str(p) for p in content)
    return json.dumps(content)


def _unpack(content: Any) -> tuple[str | None, str]:
    """``(type, text)`` of a message packed as JSON by the agent (``{"type", "message"}``), else ``(None, text)``."""
    text = _text_of(content)
    try:
        data = json.loads(text)
    except ValueError:
        return None, text
    if isinstance(data, Mapping):
        kind = data.get("type") if isinstance(data.get("type"), str) else None
        for key in ("message", "result", "reason"):
            if isinstance(data.get(key), str):
                return kind, data[key]
        return kind, text
    return None, text


def _args_for(params: Mapping[str, Any], main_key: str, value: str, heartbeat: bool | None) -> dict[str, Any]:
    props = params.get("properties") if isinstance(params.get("properties"), Mapping) else None
    key = main_key
    if props and main_key not in props:
        required = [k for k in params.get("required") or [] if k != "request_heartbeat"]
        strings = [k for k, v in props.items() if isinstance(v, Mapping) and v.get("type") == "string"]
        key = (required or strings or [main_key])[0]
    args: dict[str, Any] = {key: value}
    if heartbeat is not None and (not props or "request_heartbeat" in props):
        args["request_heartbeat"] = heartbeat
    return args


def _first_sentence(text: str, limit: int = 160) -> str:
    text = " ".join(text.split())
    m = re.search(r"(.+?[.!?])(\s|$)", text)
    s = m.group(1) if m else text
    return s if len(s) <= limit else s[: limit - 1] + "…"


def _summary(messages: list[Mapping[str, Any]], limit: int = 1200) -> str:
    chosen = [m for m in messages if m.get("role") != "system"] or list(messages)
    parts = []
    for m in chosen:
        _, text = _unpack(m.get("content"))
        if text.strip():
            parts.append(f"{m.get('role', '?')}: {_first_sentence(text)}")
    out = "Summary of the conversation so far: " + (" | ".join(parts) if parts else "nothing was said.")
    return out if len(out) <= limit else out[: limit - 1] + "…"


def _tool_name_for(messages: list[Mapping[str, Any]], index: int) -> str | None:
    """The name of the tool whose result is ``messages[index]``."""
    msg = messages[index]
    if isinstance(msg.get("name"), str):
        return msg["name"]
    call_id = msg.get("tool_call_id")
    for prev in reversed(messages[:index]):
        if prev.get("role") != "assistant":
            continue
        for call in prev.get("tool_calls") or []:
            if isinstance(call, Mapping) and call.get("id") == call_id:
                fn = call.get("function") or {}
                return fn.get("name")
        if isinstance(prev.get("function_call"), Mapping):
            return prev["function_call"].get("name")
    return None


def demo_responder(request: Mapping[str, Any]) -> FakeReply:
    """The keyless demo: search archival memory for what the user said, then tell them what was found."""
    messages = [m for m in request.get("messages") or [] if isinstance(m, Mapping)]
    tools = _tool_schemas(request)
    if not tools:
        return FakeReply.text(_summary(messages))
    if not messages:
        return _acknowledge(tools, "Hello! I am the memgpt demo model (no real LLM is connected).")

    last_index = len(messages) - 1
    last = messages[last_index]
    role = last.get("role")

    if role == "user":
        kind, text = _unpack(last.get("content"))
        if kind in (None, "user_message"):
            short = _first_sentence(text, 120)
            if "archival_memory_search" in tools:
                return FakeReply.tool_call(
                    "archival_memory_search",
                    _args_for(tools["archival_memory_search"], "query", text, True),
                    content=f'The user said "{short}". Let me search my archival memory for anything related.',
                )
            return _acknowledge(tools, f'You said: "{short}" (this is the memgpt demo model; no real LLM is connected).')
        if kind == "heartbeat":  # the agent's "carry on" nudge after a tool call: look at that tool's result
            for i in range(last_index - 1, -1, -1):
                if messages[i].get("role") in ("tool", "function"):
                    last_index, role = i, "tool"
                    break
                if messages[i].get("role") == "user":
                    break
        if role == "user":
            return _acknowledge(tools, "Noted. (This is the memgpt demo model; no real LLM is connected.)")

    if role in ("tool", "function"):
        result = messages[last_index]
        source = _tool_name_for(messages, last_index)
        if source == "send_message":
            return FakeReply.text("I have replied to the user; waiting for their next message.")
        _, text = _unpack(result.get("content"))
        quote = " ".join(text.split())
        quote = quote if len(quote) <= 300 else quote[:299] + "…"
        if "send_message" not in tools:
            return FakeReply.text(f"The tool {source or 'call'} returned: {quote}")
        return FakeReply.tool_call(
            "send_message",
            _args_for(tools["send_message"], "message", f'Here is what I found: "{quote}"', False),
            content=f"{source or 'The tool'} returned a result; I will pass it on to the user.",
        )

    return _acknowledge(tools, "Hello! I am the memgpt demo model (no real LLM is connected).")


def _acknowledge(tools: Mapping[str, Mapping[str, Any]], message: str) -> FakeReply:
    if "send_message" in tools:
        return FakeReply.tool_call(
            "send_message",
            _args_for(tools["send_message"], "message", message, False),
            content="Acknowledge the user.",
        )
    return FakeReply.text(message)


# --------------------------------------------------------------------------- rendering


def _approx_tokens(text: str) -> int:
    return max(1, len(text) // 4) if text else 0


def _prompt_tokens(request: Mapping[str, Any]) -> int:
    total = 0
    for m in request.get("messages") or []:
        if isinstance(m, Mapping):
            total += 4 + _approx_tokens(_text_of(m.get("content")))
    return total + _approx_tokens(json.dumps(request.get("tools") or []))


def _arguments(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


class _Response:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, body: bytes, headers: Mapping[str, str] | None = None) -> None:
        self.status = status
        self.body = body
        self.headers = {"Content-Type": "application/json", **(headers or {})}


def _json_response(status: int, payload: Any, headers: Mapping[str, str] | None = None) -> _Response:
    return _Response(status, json.dumps(payload).encode("utf-8"), headers)


def _error_response(status: int, message: str, code: str | None = None, err_type: str | None = None) -> _Response:
    err_type = err_type or _HTTP_REASONS.get(status, "server_error" if status >= 500 else "invalid_request_error")
    return _json_response(status, {"error": {"message": message, "type": err_type, "param": None, "code": code}})


# --------------------------------------------------------------------------- the server


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    fake: FakeLLMServer


class _Handler(BaseHTTPRequestHandler):
    server: _HTTPServer
    server_version = "memgpt-fake-llm/1.0"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        if self.server.fake.verbose:
            sys.stderr.write("fake_llm: " + (format % args) + "\n")

    def _read_body(self) -> tuple[Any, str, str | None]:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode("utf-8", "replace") if length else ""
        if not raw:
            return None, raw, None
        try:
            return json.loads(raw), raw, None
        except ValueError as exc:
            return None, raw, f"request body is not valid JSON: {exc}"

    def _send(self, response: _Response | None) -> None:
        if response is None:  # the server is stopping: drop the connection
            self.close_connection = True
            return
        try:
            self.send_response(response.status)
            for k, v in response.headers.items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(response.body)))
            self.end_headers()
            self.wfile.write(response.body)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            pass  # the client gave up (e.g. it timed out during a delay)

    def do_GET(self) -> None:  # noqa: N802
        self._dispatch("GET")

    def do_POST(self) -> None:  # noqa: N802
        self._dispatch("POST")

    def _dispatch(self, method: str) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        path = parts.path.rstrip("/") or "/"
        body, raw, parse_error = self._read_body() if method == "POST" else (None, "", None)
        try:
            if path.startswith("/_fake/"):
                self._send(fake._control(method, path, parse_qs(parts.query), body, parse_error))
                return
            fake._record(RecordedRequest(method, path, dict(self.headers.items()), body, raw))
            if path.startswith("/v1/") and fake.api_key is not None:
                if self.headers.get("Authorization") != f"Bearer {fake.api_key}":
                    self._send(
                        _error_response(401, "Incorrect API key provided.", code="invalid_api_key")
                    )
                    return
            if parse_error and path in ("/v1/chat/completions", "/v1/embeddings"):
                self._send(_error_response(400, parse_error))
                return
            if method == "POST" and path == "/v1/chat/completions":
                self._send(fake._serve("chat", body if isinstance(body, dict) else {}))
            elif method == "POST" and path == "/v1/embeddings":
                self._send(fake._serve("embeddings", body if isinstance(body, dict) else {}))
            elif method == "GET" and path == "/v1/models":
                self._send(_json_response(200, fake._models()))
            elif method == "GET" and path in ("/", "/health", "/v1"):
                self._send(_json_response(200, {"status": "ok", "base_url": fake.base_url}))
            else:
                self._send(_error_response(404, f"fake_llm: no route for {method} {path}", code="not_found"))
        except Exception as exc:  # noqa: BLE001 - a broken responder must not kill the server
            self._send(_error_response(500, f"fake_llm: {type(exc).__name__}: {exc}", code="fake_llm_error"))


class FakeLLMServer:
    """An OpenAI-compatible HTTP server on 127.0.0.1 in a background thread.

    ``port=0`` picks a free port. ``api_key`` (optional) makes ``/v1/*`` demand
    ``Authorization: Bearer <api_key>`` and answer 401 otherwise.
    ``responder`` replaces the demo responder for chat when the queue is empty.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        model: str = "fake-llm",
        embedding_model: str = "fake-embedding",
        embedding_dim: int = 64,
        api_key: str | None = None,
        responder: Responder | None = None,
        verbose: bool = False,
    ) -> None:
        self.host = host
        self._port = port
        self.model = model
        self.embedding_model = embedding_model
        self.embedding_dim = int(embedding_dim)
        self.api_key = api_key
        self.responder: Responder = responder or demo_responder
        self.verbose = verbose
        self._queues: dict[str, deque[FakeReply]] = {"chat": deque(), "embeddings": deque()}
        self._requests: list[RecordedRequest] = []
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: _HTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ----------------------------------------------------------

    def start(self) -> FakeLLMServer:
        if self._httpd is not None:
            return self
        self._stopping.clear()
        httpd = _HTTPServer((self.host, self._port), _Handler)
        httpd.fake = self
        self._httpd = httpd
        self._port = httpd.server_address[1]
        self._thread = threading.Thread(
            target=httpd.serve_forever, kwargs={"poll_interval": 0.01}, name="fake-llm", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        httpd, self._httpd = self._httpd, None
        if httpd is None:
            return
        self._stopping.set()  # wakes replies that are sleeping in a delay
        httpd.shutdown()
        httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeLLMServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    @property
    def port(self) -> int:
        return self._port

    @property
    def url(self) -> str:
        """The server root, e.g. ``http://127.0.0.1:PORT``."""
        return f"http://{self.host}:{self._port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, e.g. ``http://127.0.0.1:PORT/v1``."""
        return f"{self.url}/v1"

    # -- scripting ----------------------------------------------------------

    def queue(self, *replies: Any, endpoint: str = "chat") -> FakeLLMServer:
        """Append replies for ``endpoint`` ("chat" or "embeddings"); each serves one request, in order."""
        if endpoint not in self._queues:
            raise ValueError(f"unknown endpoint {endpoint!r}; use 'chat' or 'embeddings'")
        coerced = [_coerce(r) for r in replies]
        for r in coerced:
            self._check_kind(r, endpoint)
        with self._lock:
            self._queues[endpoint].extend(coerced)
        return self

    @staticmethod
    def _check_kind(reply: FakeReply, endpoint: str) -> None:
        allowed = _CHAT_KINDS if endpoint == "chat" else _EMBEDDING_KINDS
        if reply.kind not in allowed | _ANY_KINDS:
            raise ValueError(f"a {reply.kind!r} reply cannot answer the {endpoint} endpoint")
        if reply.kind == "delay" and isinstance(reply.spec.get("then"), FakeReply):
            FakeLLMServer._check_kind(reply.spec["then"], endpoint)

    def pending(self, endpoint: str = "chat") -> int:
        """How many queued replies are still unused."""
        with self._lock:
            return len(self._queues[endpoint])

    def reset(self) -> None:
        """Drop queued replies and recorded requests."""
        with self._lock:
            for q in self._queues.values():
                q.clear()
            self._requests.clear()

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received (except ``/_fake/*`` control calls), oldest first."""
        with self._lock:
            return list(self._requests)

    @property
    def chat_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/v1/chat/completions"]

    @property
    def embedding_requests(self) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == "/v1/embeddings"]

    # -- internals (called from handler threads) -----------------------------

    def _record(self, req: RecordedRequest) -> None:
        with self._lock:
            self._requests.append(req)

    def _next(self, endpoint: str) -> FakeReply | None:
        with self._lock:
            q = self._queues[endpoint]
            return q.popleft() if q else None

    def _models(self) -> dict[str, Any]:
        created = int(time.time())
        return {
            "object": "list",
            "data": [
                {"id": self.model, "object": "model", "created": created, "owned_by": "memgpt-fake-llm"},
                {"id": self.embedding_model, "object": "model", "created": created, "owned_by": "memgpt-fake-llm"},
            ],
        }

    def _serve(self, endpoint: str, request: dict[str, Any]) -> _Response | None:
        reply = self._next(endpoint)
        for _ in range(100):  # responders and delays may chain; bound it
            if reply is None or reply.kind == "demo":
                if endpoint == "embeddings":
                    return self._embeddings(request)
                produced = self.responder(request)
                reply = demo_responder(request) if produced is None else _coerce(produced)
                if reply.kind == "demo":
                    reply = demo_responder(request)
                continue
            if reply.kind == "respond":
                assert reply.func is not None
                produced = reply.func(request)
                reply = None if produced is None else _coerce(produced)
                if reply is not None:
                    self._check_kind(reply, endpoint)
                continue
            if reply.kind == "delay":
                if self._stopping.wait(reply.spec["seconds"]):
                    return None
                then = reply.spec.get("then")
                reply = _coerce(then) if then is not None else None
                continue
            return self._render(reply, endpoint, request)
        return _error_response(500, "fake_llm: responders chained more than 100 times", code="fake_llm_error")

    def _render(self, reply: FakeReply, endpoint: str, request: Mapping[str, Any]) -> _Response:
        spec = reply.spec
        kind = reply.kind
        if kind == "error":
            headers = dict(spec.get("headers") or {})
            if spec.get("retry_after") is not None:
                headers["Retry-After"] = str(spec["retry_after"])
            if spec.get("retry_after_ms") is not None:
                headers["retry-after-ms"] = str(spec["retry_after_ms"])
            status = spec["status"]
            message = spec.get("message") or f"fake_llm: scripted HTTP {status} error"
            resp = _error_response(status, message, spec.get("code"), spec.get("error_type"))
            resp.headers.update(headers)
            return resp
        if kind == "broken_body":
            return _Response(int(spec.get("status", 200)), str(spec.get("body", "")).encode("utf-8"))
        if kind == "raw":
            body = spec.get("body")
            data = body.encode("utf-8") if isinstance(body, str) else json.dumps(body).encode("utf-8")
            return _Response(int(spec.get("status", 200)), data, spec.get("headers") or {})
        if kind == "empty_choices":
            return _json_response(200, self._completion(request, None, choices=[]))
        if kind == "embeddings":
            return self._embeddings(request)
        # assistant messages
        message: dict[str, Any] = {"role": "assistant", "content": spec.get("content")}
        finish = spec.get("finish_reason") or "stop"
        if kind == "tool_calls":
            message["tool_calls"] = [
                {
                    "id": c.get("id") or f"call_{uuid.uuid4().hex[:24]}",
                    "type": "function",
                    "function": {"name": c["name"], "arguments": _arguments(c.get("arguments", {}))},
                }
                for c in spec["calls"]
            ]
            finish = "tool_calls"
        elif kind == "legacy_function_call":
            message["function_call"] = {"name": spec["name"], "arguments": _arguments(spec.get("arguments", {}))}
            finish = "function_call"
        return _json_response(
            200, self._completion(request, message, finish_reason=finish, usage=spec.get("usage", True))
        )

    def _completion(
        self,
        request: Mapping[str, Any],
        message: Mapping[str, Any] | None,
        *,
        finish_reason: str = "stop",
        usage: bool = True,
        choices: list[Any] | None = None,
    ) -> dict[str, Any]:
        if choices is None:
            choices = [{"index": 0, "message": message, "finish_reason": finish_reason, "logprobs": None}]
        out: dict[str, Any] = {
            "id": f"chatcmpl-{uuid.uuid4().hex[:24]}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": request.get("model") or self.model,
            "choices": choices,
        }
        if usage:
            completion = 0
            if message:
                completion = _approx_tokens(_text_of(message.get("content")))
                completion += _approx_tokens(json.dumps(message.get("tool_calls") or message.get("function_call") or ""))
            prompt = _prompt_tokens(request)
            out["usage"] = {"prompt_tokens": prompt, "completion_tokens": completion, "total_tokens": prompt + completion}
        return out

    def _embeddings(self, request: Mapping[str, Any]) -> _Response:
        raw_input = request.get("input")
        if isinstance(raw_input, str):
            texts = [raw_input]
        elif isinstance(raw_input, list) and raw_input:
            if all(isinstance(x, int) for x in raw_input):  # one text given as token ids
                texts = [" ".join(map(str, raw_input))]
            else:
                texts = [x if isinstance(x, str) else " ".join(map(str, x)) for x in raw_input]
        else:
            return _error_response(400, "'input' must be a non-empty string or list", code="invalid_input")
        dim = request.get("dimensions")
        dim = dim if isinstance(dim, int) and dim > 0 else self.embedding_dim
        as_base64 = request.get("encoding_format") == "base64"
        data = []
        for i, text in enumerate(texts):
            vec = hashed_embedding(text, dim)
            emb: Any = base64.b64encode(struct.pack(f"<{dim}f", *vec)).decode("ascii") if as_base64 else vec
            data.append({"object": "embedding", "index": i, "embedding": emb})
        tokens = sum(_approx_tokens(t) for t in texts)
        return _json_response(
            200,
            {
                "object": "list",
                "data": data,
                "model": request.get("model") or self.embedding_model,
                "usage": {"prompt_tokens": tokens, "total_tokens": tokens},
            },
        )

    def _control(
        self, method: str, path: str, query: Mapping[str, list[str]], body: Any, parse_error: str | None
    ) -> _Response:
        if method == "GET" and path == "/_fake/requests":
            return _json_response(200, [r.to_dict() for r in self.requests])
        if method == "POST" and path == "/_fake/reset":
            self.reset()
            return _json_response(200, {"ok": True})
        if method == "POST" and path == "/_fake/queue":
            if parse_error:
                return _error_response(400, parse_error)
            endpoint = (query.get("endpoint") or ["chat"])[0]
            specs = body if isinstance(body, list) else [body]
            try:
                self.queue(*[FakeReply.from_spec(s) for s in specs], endpoint=endpoint)
            except ValueError as exc:
                return _error_response(400, f"bad reply spec: {exc}")
            return _json_response(200, {"queued": len(specs), "pending": self.pending(endpoint)})
        return _error_response(404, f"fake_llm: no control route {method} {path}", code="not_found")

    def load_script(self, script: Any) -> None:
        """Queue replies from a script: a list of specs (chat) or ``{"chat": [...], "embeddings": [...]}``."""
        if isinstance(script, list):
            script = {"chat": script}
        if not isinstance(script, Mapping):
            raise ValueError("a script is a JSON list of reply specs or {'chat': [...], 'embeddings': [...]}")
        for endpoint, specs in script.items():
            self.queue(*[FakeReply.from_spec(s) for s in specs], endpoint=endpoint)


# --------------------------------------------------------------------------- CLI


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m memgpt.testing.fake_llm",
        description="A scripted OpenAI-compatible server (chat, embeddings) for tests and keyless demos.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000, help="0 picks a free port (default 8000)")
    parser.add_argument("--model", default="fake-llm", help="chat model name to advertise")
    parser.add_argument("--embedding-model", default="fake-embedding")
    parser.add_argument("--embedding-dim", type=int, default=64)
    parser.add_argument("--api-key", default=None, help="require this bearer key (default: accept any)")
    parser.add_argument("--script", default=None, help="JSON file: a list of reply specs to queue")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    args = parser.parse_args(argv)

    server = FakeLLMServer(
        args.host,
        args.port,
        model=args.model,
        embedding_model=args.embedding_model,
        embedding_dim=args.embedding_dim,
        api_key=args.api_key,
        verbose=args.verbose,
    )
    if args.script:
        try:
            with open(args.script, encoding="utf-8") as f:
                server.load_script(json.load(f))
        except (OSError, ValueError) as exc:
            print(f"error: cannot load script {args.script}: {exc}", file=sys.stderr)
            return 2
    try:
        server.start()
    except OSError as exc:
        print(f"error: cannot listen on {args.host}:{args.port}: {exc}", file=sys.stderr)
        return 2
    print(
        f"fake LLM listening on {server.base_url} (model {args.model!r}, "
        f"embeddings {args.embedding_model!r} dim {args.embedding_dim}); "
        f"{server.pending()} scripted replies, then the demo responder. Ctrl-C stops.",
        flush=True,
    )
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
