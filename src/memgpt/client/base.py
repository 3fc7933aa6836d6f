"""The client interface: pymemgpt 0.3's method names, typed return values."""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from memgpt.service.models import (
    AgentInfo,
    AgentMemory,
    JobInfo,
    MessagePage,
    ModelInfo,
    PassageInfo,
    SourceInfo,
    StepEvent,
    StepResult,
    TextEntry,
)


class Client(ABC):
    """What both clients offer. Agents and sources are named by id or by name."""

    # agents
    @abstractmethod
    def create_agent(self, name: str | None = None, *, persona: str | None = None, human: str | None = None,
                     preset: str | None = None, model: str | None = None) -> AgentInfo: ...
    @abstractmethod
    def list_agents(self) -> list[AgentInfo]: ...
    @abstractmethod
    def get_agent(self, agent_id: str | None = None, agent_name: str | None = None) -> AgentInfo: ...
    @abstractmethod
    def rename_agent(self, agent_id: str, new_name: str) -> AgentInfo: ...
    @abstractmethod
    def delete_agent(self, agent_id: str) -> None: ...

    def agent_exists(self, agent_id: str | None = None, agent_name: str | None = None) -> bool:
        from memgpt.errors import NotFoundError

        try:
            self.get_agent(agent_id, agent_name)
            return True
        except NotFoundError:
            return False

    # messages
    @abstractmethod
    def send_message(self, agent_id: str, message: str, role: str = "user") -> StepResult: ...
    @abstractmethod
    def stream_message(self, agent_id: str, message: str, role: str = "user") -> Iterator[StepEvent]: ...

    def user_message(self, agent_id: str, message: str) -> StepResult:
        """Send the user's message; the result holds the inner thoughts, calls, results and replies in order."""
        return self.send_message(agent_id, message, role="user")

    @abstractmethod
    def run_command(self, agent_id: str, command: str) -> StepResult: ...
    @abstractmethod
    def get_messages(self, agent_id: str, before: str | None = None, after: str | None = None,
                     limit: int = 50) -> MessagePage: ...

    # memory
    @abstractmethod
    def get_agent_memory(self, agent_id: str) -> AgentMemory: ...
    @abstractmethod
    def update_agent_core_memory(self, agent_id: str, new_memory_contents: dict[str, str]) -> AgentMemory: ...
    @abstractmethod
    def insert_archival_memory(self, agent_id: str, memory: str) -> int: ...
    @abstractmethod
    def get_agent_archival_memory(self, agent_id: str, limit: int = 50, offset: int = 0) -> list[PassageInfo]: ...
    @abstractmethod
    def search_archival_memory(self, agent_id: str, query: str, limit: int = 10) -> list[PassageInfo]: ...
    @abstractmethod
    def delete_archival_memory(self, agent_id: str, memory_id: str) -> None: ...

    # sources
    @abstractmethod
    def create_source(self, name: str, description: str | None = None) -> SourceInfo: ...
    @abstractmethod
    def load_file_into_source(self, filename: str | Path, source_id: str, blocking: bool = True) -> JobInfo: ...
    @abstractmethod
    def get_job(self, job_id: str) -> JobInfo: ...
    @abstractmethod
    def attach_source_to_agent(self, agent_id: str, source_id: str | None = None,
                               source_name: str | None = None) -> SourceInfo: ...
    @abstractmethod
    def detach_source(self, source_id: str, agent_id: str) -> SourceInfo: ...
    @abstractmethod
    def list_sources(self) -> list[SourceInfo]: ...
    @abstractmethod
    def delete_source(self, source_id: str) -> None: ...

    # personas, humans, presets, configuration
    @abstractmethod
    def list_personas(self) -> list[TextEntry]: ...
    @abstractmethod
    def create_persona(self, name: str, text: str) -> TextEntry: ...
    @abstractmethod
    def list_humans(self) -> list[TextEntry]: ...
    @abstractmethod
    def create_human(self, name: str, text: str) -> TextEntry: ...
    @abstractmethod
    def list_presets(self) -> list[TextEntry]: ...
    @abstractmethod
    def list_models(self) -> list[ModelInfo]: ...
    @abstractmethod
    def get_config(self) -> dict[str, Any]: ...
    @abstractmethod
    def export_agent(self, agent_id: str) -> dict[str, Any]: ...
    @abstractmethod
    def import_agent(self, data: dict[str, Any], name: str | None = None) -> AgentInfo: ...

    def close(self) -> None:
        """Release what the client holds (stores, connections)."""

    def __enter__(self) -> Client:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def pick(agent_id: str | None, agent_name: str | None) -> str:
    ref = agent_id or agent_name
    if not ref:
        from memgpt.errors import UsageError

        raise UsageError("give agent_id or agent_name")
    return ref
