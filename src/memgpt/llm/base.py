"""What the agent needs from a chat model, independent of any SDK.

The agent builds a :class:`ChatRequest`, hands it to an :class:`LLMClient` and
gets a :class:`ChatResponse` back. Nothing here imports a vendor SDK, so the
agent and its tests stay cheap to import; the adapter in
``memgpt.llm.openai_client`` does the wire format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from memgpt.schemas import Message, ToolCall


@dataclass
class ChatRequest:
    """One chat-completion call.

    ``tools`` holds OpenAI tool schemas (``{"type": "function", "function":
    {...}}``); an empty list means "send no tools at all". ``tool_choice`` is
    only sent when tools are; ``None`` leaves it to the server's default.
    ``temperature`` / ``max_tokens`` of ``None`` are not sent either, nor is
    ``response_format`` (e.g. ``{"type": "json_schema", ...}`` for the JSON wrapper).
    """

    messages: list[Message]
    tools: list[dict[str, Any]] = field(default_factory=list)
    tool_choice: str | None = "auto"
    temperature: float | None = None
    max_tokens: int | None = None
    response_format: dict[str, Any] | None = None


@dataclass
class Usage:
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass
class ChatResponse:
    """The assistant's reply, normalised.

    ``content`` is ``None`` when the model said nothing (empty string included);
    ``tool_calls`` carries the raw argument text exactly as the model wrote it,
    even when it is not valid JSON (the agent repairs or reports it). A legacy
    ``function_call`` reply shows up here as a single tool call with a
    generated id. ``usage`` is ``None`` when the server did not report it.
    """

    content: str | None
    tool_calls: list[ToolCall] = field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage | None = None
    raw_model: str | None = None

    def to_message(self) -> Message:
        """The reply as an assistant :class:`Message` for the history."""
        return Message(role="assistant", content=self.content, tool_calls=list(self.tool_calls))


@runtime_checkable
class LLMClient(Protocol):
    """Anything that can answer a :class:`ChatRequest`.

    Implementations raise subclasses of :class:`memgpt.errors.LLMError`
    (see :mod:`memgpt.llm.errors`) and never a vendor exception.
    """

    model: str
    context_window: int

    def complete(self, request: ChatRequest) -> ChatResponse: ...
