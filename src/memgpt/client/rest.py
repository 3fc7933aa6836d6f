"""The client for a ``memgpt server``: the same methods, over HTTP with an API key.

Errors come back as the same ``MemGPTError`` classes the service raised (the
server sends the class name in ``kind``), so code written against the local
client handles a remote one unchanged.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx

from memgpt import errors
from memgpt.client.base import Client, pick
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

_BY_STATUS = {400: errors.UsageError, 401: errors.ConfigError, 403: errors.ConfigError, 404: errors.NotFoundError,
              409: errors.AgentBusyError, 413: errors.InputFileError, 422: errors.InputFileError,
              502: errors.LLMError, 503: errors.StorageError}


def _raise(status: int, body: dict[str, Any]) -> None:
    cls = getattr(errors, str(body.get("kind")), None)
    if not (isinstance(cls, type) and issubclass(cls, errors.MemGPTError)):
        cls = _BY_STATUS.get(status, errors.MemGPTError)
    raise cls(str(body.get("error") or f"HTTP {status}"), body.get("hint"))


class RESTClient(Client):
    def __init__(self, base_url: str, token: str | None, *, timeout: float = 600.0) -> None:
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.http = httpx.Client(base_url=self.base_url, headers=headers, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, **kw: Any) -> Any:
        try:
            r = self.http.request(method, path, **kw)
        except httpx.TransportError as exc:
            raise errors.StorageError(f"cannot reach the memgpt server at {self.base_url}: {exc}",
                                      "start it with: memgpt server, or check the URL") from exc
        if r.status_code >= 400:
            try:
                body = r.json()
            except ValueError:
                body = {"error": r.text[:200]}
            _raise(r.status_code, body if isinstance(body, dict) else {"error": str(body)})
        return r.json() if r.status_code != 204 and r.content else None

    # agents
    def create_agent(self, name: str | None = None, *, persona: str | None = None, human: str | None = None,
                     preset: str | None = None, model: str | None = None) -> AgentInfo:
        body = {"name": name, "persona": persona, "human": human, "preset": preset, "model": model}
        return AgentInfo.from_dict(self._call("POST", "/api/agents", json=body))

    def list_agents(self) -> list[AgentInfo]:
        return [AgentInfo.from_dict(a) for a in self._call("GET", "/api/agents")]

    def get_agent(self, agent_id: str | None = None, agent_name: str | None = None) -> AgentInfo:
        return AgentInfo.from_dict(self._call("GET", f"/api/agents/{_q(pick(agent_id, agent_name))}"))

    def rename_agent(self, agent_id: str, new_name: str) -> AgentInfo:
        return AgentInfo.from_dict(self._call("PATCH", f"/api/agents/{_q(agent_id)}", json={"name": new_name}))

    def delete_agent(self, agent_id: str) -> None:
        self._call("DELETE", f"/api/agents/{_q(agent_id)}")

    # messages
    def send_message(self, agent_id: str, message: str, role: str = "user") -> StepResult:
        return StepResult.from_dict(self._call("POST", f"/api/agents/{_q(agent_id)}/messages",
                                               json={"message": message, "role": role}))

    def stream_message(self, agent_id: str, message: str, role: str = "user") -> Iterator[StepEvent]:
        """Events as the server sends them (Server-Sent Events), ending when the step is done."""
        body = {"message": message, "role": role, "stream": True}
        with self.http.stream("POST", f"/api/agents/{_q(agent_id)}/messages", json=body) as r:
            if r.status_code >= 400:
                r.read()
                _raise(r.status_code, r.json())
            kind = None
            for line in r.iter_lines():
                if line.startswith("event:"):
                    kind = line.partition(":")[2].strip()
                elif line.startswith("data:"):
                    data = json.loads(line.partition(":")[2])
                    if kind == "step":
                        yield StepEvent.from_dict(data)
                    elif kind == "error":
                        _raise(int(data.get("status", 500)), data)
                    elif kind == "done":
                        return

    def run_command(self, agent_id: str, command: str) -> StepResult:
        return StepResult.from_dict(self._call("POST", f"/api/agents/{_q(agent_id)}/commands",
                                               json={"command": command}))

    def get_messages(self, agent_id: str, before: str | None = None, after: str | None = None,
                     limit: int = 50) -> MessagePage:
        params = {k: v for k, v in {"before": before, "after": after, "limit": limit}.items() if v is not None}
        return MessagePage.from_dict(self._call("GET", f"/api/agents/{_q(agent_id)}/messages", params=params))

    # memory
    def get_agent_memory(self, agent_id: str) -> AgentMemory:
        return AgentMemory.from_dict(self._call("GET", f"/api/agents/{_q(agent_id)}/memory"))

    def update_agent_core_memory(self, agent_id: str, new_memory_contents: dict[str, str]) -> AgentMemory:
        return AgentMemory.from_dict(self._call("PATCH", f"/api/agents/{_q(agent_id)}/memory",
                                                json={"blocks": new_memory_contents}))

    def insert_archival_memory(self, agent_id: str, memory: str) -> int:
        return int(self._call("POST", f"/api/agents/{_q(agent_id)}/archival", json={"text": memory})["passages"])

    def get_agent_archival_memory(self, agent_id: str, limit: int = 50, offset: int = 0) -> list[PassageInfo]:
        rows = self._call("GET", f"/api/agents/{_q(agent_id)}/archival", params={"limit": limit, "offset": offset})
        return [PassageInfo.from_dict(p) for p in rows]

    def search_archival_memory(self, agent_id: str, query: str, limit: int = 10) -> list[PassageInfo]:
        rows = self._call("GET", f"/api/agents/{_q(agent_id)}/archival/search", params={"q": query, "limit": limit})
        return [PassageInfo.from_dict(p) for p in rows]

    def delete_archival_memory(self, agent_id: str, memory_id: str) -> None:
        self._call("DELETE", f"/api/agents/{_q(agent_id)}/archival/{_q(memory_id)}")

    # sources
    def create_source(self, name: str, description: str | None = None) -> SourceInfo:
        return SourceInfo.from_dict(self._call("POST", "/api/sources", json={"name": name,
                                                                              "description": description}))

    def load_file_into_source(self, filename: str | Path, source_id: str, blocking: bool = True) -> JobInfo:
        """Upload a file; with ``blocking`` wait until the server has loaded it."""
        path = Path(filename)
        try:
            content = path.read_bytes()
        except OSError as exc:
            raise errors.InputFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
        job = JobInfo.from_dict(self._call("POST", f"/api/sources/{_q(source_id)}/upload",
                                           files=[("files", (path.name, content))]))
        while blocking and job.status in ("queued", "running"):
            time.sleep(0.2)
            job = self.get_job(job.id)
        return job

    def get_job(self, job_id: str) -> JobInfo:
        return JobInfo.from_dict(self._call("GET", f"/api/jobs/{_q(job_id)}"))

    def attach_source_to_agent(self, agent_id: str, source_id: str | None = None,
                               source_name: str | None = None) -> SourceInfo:
        return SourceInfo.from_dict(self._call("POST", f"/api/agents/{_q(agent_id)}/sources",
                                               json={"source": pick(source_id, source_name)}))

    def detach_source(self, source_id: str, agent_id: str) -> SourceInfo:
        return SourceInfo.from_dict(self._call("DELETE", f"/api/agents/{_q(agent_id)}/sources/{_q(source_id)}"))

    def list_sources(self) -> list[SourceInfo]:
        return [SourceInfo.from_dict(s) for s in self._call("GET", "/api/sources")]

    def delete_source(self, source_id: str) -> None:
        self._call("DELETE", f"/api/sources/{_q(source_id)}")

    # library and configuration
    def _texts(self, kind: str) -> list[TextEntry]:
        return [TextEntry.from_dict(t) for t in self._call("GET", f"/api/{kind}s")]

    def _create_text(self, kind: str, name: str, text: str) -> TextEntry:
        return TextEntry.from_dict(self._call("POST", f"/api/{kind}s", json={"name": name, "text": text}))

    def list_personas(self) -> list[TextEntry]:
        return self._texts("persona")

    def create_persona(self, name: str, text: str) -> TextEntry:
        return self._create_text("persona", name, text)

    def list_humans(self) -> list[TextEntry]:
        return self._texts("human")

    def create_human(self, name: str, text: str) -> TextEntry:
        return self._create_text("human", name, text)

    def list_presets(self) -> list[TextEntry]:
        return self._texts("preset")

    def list_models(self) -> list[ModelInfo]:
        return [ModelInfo.from_dict(m) for m in self._call("GET", "/api/models")]

    def get_config(self) -> dict[str, Any]:
        return self._call("GET", "/api/config")

    def export_agent(self, agent_id: str) -> dict[str, Any]:
        return self._call("GET", f"/api/agents/{_q(agent_id)}/export")

    def import_agent(self, data: dict[str, Any], name: str | None = None) -> AgentInfo:
        return AgentInfo.from_dict(self._call("POST", "/api/agents/import", json={"data": data, "name": name})["agent"])


def _q(value: str) -> str:
    from urllib.parse import quote

    return quote(value, safe="")
