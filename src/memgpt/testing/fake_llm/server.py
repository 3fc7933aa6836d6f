"""The HTTP server of the fake OpenAI-compatible endpoint."""

from __future__ import annotations

import base64
import json
import struct
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Mapping
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from memgpt.testing.fake_llm.demo import _text_of, demo_responder
from memgpt.testing.fake_llm.replies import (
    _ANY_KINDS,
    _CHAT_KINDS,
    _EMBEDDING_KINDS,
    _HTTP_REASONS,
    FakeReply,
    RecordedRequest,
    Responder,
    _coerce,
    hashed_embedding,
)

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
            scripted = fake._routes.get((method, path))
            if scripted is not None:  # a route a test scripted: /props, /api/show, a richer /v1/models
                self._send(_json_response(scripted[0], scripted[1]))
            elif method == "POST" and path == "/v1/chat/completions":
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
        self._routes: dict[tuple[str, str], tuple[int, Any]] = {}
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

    def route(self, method: str, path: str, body: Any, status: int = 200) -> FakeLLMServer:
        """Answer ``method path`` with the JSON ``body`` from now on, e.g. llama.cpp's ``GET /props``
        (``{"default_generation_settings": {"n_ctx": 2048}}``), Ollama's ``POST /api/show`` or a vLLM
        ``GET /v1/models`` carrying ``max_model_len``. Unscripted, such routes answer 404 as before."""
        with self._lock:
            self._routes[(method.upper(), "/" + path.strip("/"))] = (int(status), body)
        return self

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


