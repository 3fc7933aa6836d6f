"""An in-process LLM for fast tests and benchmarks: replies from a queue or a function of the request.

    llm = ScriptedLLM()
    rt = Runtime(settings, llm_factory=llm.factory)
    llm.queue(call("archival_memory_search", {"query": "x", "request_heartbeat": True}), say("found it"))

No HTTP: the service and agent code run exactly as in production, only the model is a script (the
HTTP client has its own tests against the scripted server in ``memgpt.testing.fake_llm``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any

from memgpt.llm.base import ChatRequest, ChatResponse, Usage
from memgpt.schemas import ToolCall, new_id


def call(name: str, args: dict[str, Any], thought: str = "thinking") -> ChatResponse:
    """A reply that calls one function."""
    return ChatResponse(content=thought, tool_calls=[ToolCall(new_id("call"), name, json.dumps(args))],
                        usage=Usage(100, 10, 110))


def say(message: str, thought: str = "replying") -> ChatResponse:
    """A reply that sends the user a message and ends the turn."""
    return call("send_message", {"message": message}, thought)


class ScriptedLLM:
    """Pops queued replies; when the queue is empty, ``default(request)`` answers (default: ``say("ok")``)."""

    model = "scripted"

    def __init__(self, default: Callable[[ChatRequest], ChatResponse] | None = None,
                 context_window: int = 16384) -> None:
        self.context_window = context_window
        self.default = default or (lambda _r: say("ok"))
        self.replies: list[ChatResponse] = []
        self.requests: list[ChatRequest] = []
        self._lock = threading.Lock()

    def queue(self, *replies: ChatResponse) -> None:
        with self._lock:
            self.replies.extend(replies)

    def complete(self, request: ChatRequest) -> ChatResponse:
        with self._lock:
            self.requests.append(request)
            reply = self.replies.pop(0) if self.replies else None
        return reply if reply is not None else self.default(request)

    def factory(self, **_: Any) -> ScriptedLLM:
        """For ``Runtime(settings, llm_factory=llm.factory)``: every agent talks to this script."""
        return self
