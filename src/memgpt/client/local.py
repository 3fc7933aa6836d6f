"""The client on the embedded defaults: the service layer in this process."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from memgpt.client.base import Client, pick
from memgpt.schemas import utcnow
from memgpt.service import Service
from memgpt.service.convert import iso
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


class LocalClient(Client):
    def __init__(self, home: Path | None = None, *, service: Service | None = None) -> None:
        self.service = service or Service.local(home)

    def close(self) -> None:
        self.service.close()

    def create_agent(self, name: str | None = None, *, persona: str | None = None, human: str | None = None,
                     preset: str | None = None, model: str | None = None) -> AgentInfo:
        return self.service.create_agent(name, persona=persona, human=human, preset=preset, model=model)

    def list_agents(self) -> list[AgentInfo]:
        return self.service.list_agents()

    def get_agent(self, agent_id: str | None = None, agent_name: str | None = None) -> AgentInfo:
        return self.service.get_agent(pick(agent_id, agent_name))

    def rename_agent(self, agent_id: str, new_name: str) -> AgentInfo:
        return self.service.rename_agent(agent_id, new_name)

    def delete_agent(self, agent_id: str) -> None:
        self.service.delete_agent(agent_id)

    def send_message(self, agent_id: str, message: str, role: str = "user") -> StepResult:
        return self.service.send_message(agent_id, message, role=role)

    def stream_message(self, agent_id: str, message: str, role: str = "user") -> Iterator[StepEvent]:
        """Events as the step produces them (the step runs in a thread)."""
        q: queue.Queue = queue.Queue()
        end = object()
        failure: list[BaseException] = []

        def work() -> None:
            try:
                self.service.send_message(agent_id, message, role=role, on_event=q.put)
            except BaseException as exc:  # noqa: BLE001 - re-raised in the caller's thread
                failure.append(exc)
            finally:
                q.put(end)

        threading.Thread(target=work, daemon=True).start()
        while (item := q.get()) is not end:
            yield item
        if failure:
            raise failure[0]

    def run_command(self, agent_id: str, command: str) -> StepResult:
        return self.service.run_command(agent_id, command)

    def get_messages(self, agent_id: str, before: str | None = None, after: str | None = None,
                     limit: int = 50) -> MessagePage:
        return self.service.list_messages(agent_id, before=before, after=after, limit=limit)

    def get_agent_memory(self, agent_id: str) -> AgentMemory:
        return self.service.get_memory(agent_id)

    def update_agent_core_memory(self, agent_id: str, new_memory_contents: dict[str, str]) -> AgentMemory:
        return self.service.update_core_memory_blocks(agent_id, new_memory_contents)

    def insert_archival_memory(self, agent_id: str, memory: str) -> int:
        return self.service.insert_archival(agent_id, memory)

    def get_agent_archival_memory(self, agent_id: str, limit: int = 50, offset: int = 0) -> list[PassageInfo]:
        return self.service.list_archival(agent_id, limit=limit, offset=offset)

    def search_archival_memory(self, agent_id: str, query: str, limit: int = 10) -> list[PassageInfo]:
        return self.service.search_archival(agent_id, query, limit=limit)

    def delete_archival_memory(self, agent_id: str, memory_id: str) -> None:
        self.service.delete_archival(agent_id, memory_id)

    def create_source(self, name: str, description: str | None = None) -> SourceInfo:
        return self.service.create_source(name, description)

    def load_file_into_source(self, filename: str | Path, source_id: str, blocking: bool = True) -> JobInfo:
        """Load a file (always blocking here: the caller's process does the work)."""
        result = self.service.load_files(source_id, [Path(filename)])
        now = iso(utcnow())
        return JobInfo(id="local", kind="load", status="done", source_id=result.source.id, done=result.n_passages,
                       total=result.n_passages, n_passages=result.n_passages, n_documents=result.n_documents,
                       errors=[*result.failed], message=f"Loaded {result.n_passages} passages and "
                       f"{result.n_documents} documents from {result.source.name}", created_at=now, updated_at=now)

    def get_job(self, job_id: str) -> JobInfo:
        from memgpt.service.jobs import JobStore

        return JobStore(self.service.rt.metadata.engine).get(self.service.user_id, job_id)

    def attach_source_to_agent(self, agent_id: str, source_id: str | None = None,
                               source_name: str | None = None) -> SourceInfo:
        return self.service.attach_source(agent_id, pick(source_id, source_name))

    def detach_source(self, source_id: str, agent_id: str) -> SourceInfo:
        return self.service.detach_source(agent_id, source_id)

    def list_sources(self) -> list[SourceInfo]:
        return self.service.list_sources()

    def delete_source(self, source_id: str) -> None:
        self.service.delete_source(source_id)

    def list_personas(self) -> list[TextEntry]:
        return self.service.list_texts("persona")

    def create_persona(self, name: str, text: str) -> TextEntry:
        return self.service.create_text("persona", name, text)

    def list_humans(self) -> list[TextEntry]:
        return self.service.list_texts("human")

    def create_human(self, name: str, text: str) -> TextEntry:
        return self.service.create_text("human", name, text)

    def list_presets(self) -> list[TextEntry]:
        return self.service.list_texts("preset")

    def list_models(self) -> list[ModelInfo]:
        return self.service.list_models()

    def get_config(self) -> dict[str, Any]:
        return self.service.get_config()

    def export_agent(self, agent_id: str) -> dict[str, Any]:
        return self.service.export_agent(agent_id)

    def import_agent(self, data: dict[str, Any], name: str | None = None) -> AgentInfo:
        return self.service.import_agent(data, name=name)[0]
