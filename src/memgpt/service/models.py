"""What the service layer returns: typed records every face shares.

The CLI prints them, the server serialises them to JSON with ``to_dict`` and
the REST client turns that JSON back into the same classes with
``from_dict``, so the local and the REST client return identical objects.
Times are ISO-8601 strings in UTC.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, TypeVar, get_args, get_origin, get_type_hints

T = TypeVar("T", bound="Model")


class Model:
    """JSON round trip for the dataclasses below."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload]

    @classmethod
    def from_dict(cls: type[T], data: dict[str, Any]) -> T:
        hints = get_type_hints(cls)
        kwargs = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            if f.name in data:
                kwargs[f.name] = _convert(hints[f.name], data[f.name])
        return cls(**kwargs)


def _convert(hint: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = get_origin(hint)
    if origin is list:
        (item,) = get_args(hint)
        return [_convert(item, v) for v in value]
    if origin is dict:
        _, item = get_args(hint)
        return {k: _convert(item, v) for k, v in value.items()}
    for arg in get_args(hint) or (hint,):  # Optional[X] and plain X
        if isinstance(arg, type) and issubclass(arg, Model):
            return arg.from_dict(value)
    return value


@dataclass
class AgentInfo(Model):
    """An agent as listed: its identity, its model and its attached sources."""

    id: str
    name: str
    persona: str
    human: str
    preset: str
    model: str | None
    context_window: int | None
    endpoint: str | None
    embedding_model: str
    embedding_dim: int
    sources: list[str] = field(default_factory=list)
    created_at: str = ""
    updated_at: str = ""


@dataclass
class SourceInfo(Model):
    """A data source with its counts."""

    id: str
    name: str
    embedding_model: str
    embedding_dim: int
    description: str | None = None
    n_documents: int = 0
    n_passages: int = 0
    created_at: str = ""


@dataclass
class StepEvent(Model):
    """One thing that happened in a step: ``thought``, ``call``, ``result``, ``message``, ``system``, ``warning``."""

    kind: str
    text: str
    name: str | None = None  # the function, for call and result events
    ok: bool = True


@dataclass
class StepUsage(Model):
    """Tokens the LLM reported for the step (0 when the server reports none)."""

    llm_calls: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


@dataclass
class StepResult(Model):
    """What one user message (or command) produced, in order."""

    agent_id: str
    events: list[StepEvent] = field(default_factory=list)
    messages: list[str] = field(default_factory=list)  # what the agent said to the user
    steps: int = 0
    usage: StepUsage = field(default_factory=StepUsage)
    info: str | None = None  # a command's one-line outcome ("removed 3 messages ...")

    @property
    def function_calls(self) -> list[str]:
        return [e.name for e in self.events if e.kind == "call" and e.name]


@dataclass
class MemoryBlock(Model):
    label: str
    value: str
    limit: int


@dataclass
class AgentMemory(Model):
    """Core memory blocks and the sizes of the other two tiers."""

    core: dict[str, MemoryBlock]
    recall_count: int
    archival_count: int
    sources: list[str] = field(default_factory=list)


@dataclass
class PassageInfo(Model):
    """A passage of archival memory, with where it came from."""

    id: str
    text: str
    agent_id: str | None = None  # set for the agent's own passages
    source_id: str | None = None
    source: str | None = None  # source name, for passages of attached sources
    document_id: str | None = None
    file_name: str | None = None
    page: int | None = None
    score: float | None = None  # set by searches
    created_at: str = ""


@dataclass
class ToolCallInfo(Model):
    id: str
    name: str
    arguments: str


@dataclass
class MessageInfo(Model):
    """A message of recall memory (every message the agent ever saw)."""

    id: str
    role: str
    content: str | None
    tool_calls: list[ToolCallInfo] = field(default_factory=list)
    tool_call_id: str | None = None
    name: str | None = None
    created_at: str = ""
    in_context: bool = False


@dataclass
class MessagePage(Model):
    """Messages oldest first; pass ``before`` (the first id) to page further back."""

    messages: list[MessageInfo]
    has_more: bool = False


@dataclass
class FileError(Model):
    file: str
    error: str


@dataclass
class LoadResult(Model):
    source: SourceInfo
    n_passages: int = 0
    n_documents: int = 0
    skipped: list[FileError] = field(default_factory=list)  # already loaded
    failed: list[FileError] = field(default_factory=list)
    storage_failed: bool = False  # a store failed (disk full, Milvus down), not just an input file
    advice: str | None = None  # e.g. the multilingual model, when the source is mostly Chinese/Japanese/Korean


@dataclass
class JobInfo(Model):
    """A background load: ``queued``, ``running``, ``done`` or ``failed``."""

    id: str
    kind: str
    status: str
    source_id: str | None = None
    done: int = 0
    total: int = 0
    n_passages: int = 0
    n_documents: int = 0
    errors: list[FileError] = field(default_factory=list)
    message: str | None = None
    created_at: str = ""
    updated_at: str = ""


@dataclass
class TextEntry(Model):
    """A persona, human profile or preset (system prompt)."""

    name: str
    origin: str  # built-in or user
    text: str


@dataclass
class ModelInfo(Model):
    name: str
    provider: str
    endpoint: str | None
    context_window: int | None


@dataclass
class UserInfo(Model):
    id: str
    name: str
    api_key: str | None = None  # only when a key was just issued; never stored in clear
    created_at: str = ""
