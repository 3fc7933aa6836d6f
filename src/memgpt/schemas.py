"""Typed records that cross module boundaries.

Plain dataclasses keep imports cheap (``memgpt --help`` must start fast); the
adapters (SQL, Milvus, the OpenAI SDK) convert to and from these at their edge.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def new_id(prefix: str) -> str:
    """A random id such as ``agent-3f2a...``: safe in any filter (hex and a dash)."""
    return f"{prefix}-{uuid.uuid4().hex}"


def stable_id(prefix: str, *parts: str) -> str:
    """A deterministic id from content, so re-inserting the same thing is a no-op."""
    h = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]
    return f"{prefix}-{h}"


@dataclass
class User:
    id: str
    name: str
    created_at: datetime = field(default_factory=utcnow)


@dataclass
class Source:
    """A named collection of documents loaded with ``memgpt load``."""

    id: str
    user_id: str
    name: str
    embedding_model: str
    embedding_dim: int
    description: str | None = None
    created_at: datetime = field(default_factory=utcnow)


@dataclass
class Document:
    """One readable unit of a file: a PDF page, a whole text file, a slide deck."""

    id: str
    user_id: str
    source_id: str
    file_path: str
    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


@dataclass
class Passage:
    """A chunk of text with its embedding: the unit archival memory stores and searches.

    Exactly one of ``source_id`` / ``agent_id`` is usually set: passages loaded
    from documents belong to a source; passages the agent inserts belong to it.
    """

    id: str
    user_id: str
    text: str
    embedding: Any = None  # numpy float32 vector of the model's real dimension
    agent_id: str = ""
    source_id: str = ""
    document_id: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=utcnow)


@dataclass
class ScoredPassage:
    passage: Passage
    score: float


@dataclass
class ToolCall:
    """A function call the model asked for. ``arguments`` is the raw JSON text."""

    id: str
    name: str
    arguments: str


@dataclass
class Message:
    """One entry in an agent's history, in OpenAI chat shape."""

    role: Role
    content: str | None = None
    tool_calls: list[ToolCall] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    id: str = field(default_factory=lambda: new_id("message"))
    created_at: datetime = field(default_factory=utcnow)

    def to_openai(self) -> dict[str, Any]:
        out: dict[str, Any] = {"role": self.role, "content": self.content}
        if self.tool_calls:
            out["tool_calls"] = [
                {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
                for c in self.tool_calls
            ]
        if self.role == "tool":
            out["tool_call_id"] = self.tool_call_id
        if self.name and self.role != "tool":
            out["name"] = self.name
        return out


@dataclass
class Block:
    """A labelled piece of core memory, rendered inside the system prompt."""

    label: str
    value: str
    limit: int = 2000


@dataclass
class AgentState:
    """Everything that makes an agent resumable."""

    id: str
    user_id: str
    name: str
    persona: str
    human: str
    preset: str
    system_prompt: str
    llm_config: dict[str, Any]
    embedding_model: str
    embedding_dim: int
    blocks: dict[str, Block] = field(default_factory=dict)
    in_context: list[str] = field(default_factory=list)  # message ids in the context window, oldest first
    state: dict[str, Any] = field(default_factory=dict)
    created_at: datetime = field(default_factory=utcnow)
    updated_at: datetime = field(default_factory=utcnow)
    source_names: list[str] = field(default_factory=list)  # filled when listing
    # The stored row's version when this state was read; a save that finds another version refuses.
    version: int = 0
