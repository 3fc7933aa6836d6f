"""Agent export and import: one self-contained JSON document.

The file holds the agent's settings, core memory blocks, every message (recall
memory, in order, with which ones are in the context window), its own archival
passages (text, and vectors when asked) and the names of attached sources.
Sources themselves are not copied: they are re-attached by name on import when
the importing user has a source of that name embedded with the same model.
Vectors are kept on import when the embedding model matches, else re-embedded.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from memgpt.errors import ConfigError, EmbeddingMismatchError
from memgpt.schemas import AgentState, Block, Message, Passage, ToolCall, new_id, stable_id, utcnow
from memgpt.service.convert import agent_info, iso

if TYPE_CHECKING:
    from memgpt.service.core import Service
    from memgpt.service.models import AgentInfo

FORMAT = "memgpt-agent"
VERSION = 1
_PAGE = 1000


def export_agent(service: Service, state: AgentState, *, vectors: bool = True) -> dict[str, Any]:
    from memgpt.agent.factory import agent_memory

    rt = service.rt
    messages: list[Message] = []
    after = None
    while True:
        page, more = rt.recall.page(state.id, after=after, limit=_PAGE)
        messages.extend(page)
        if not more or not page:
            break
        after = page[-1].id
    memory = agent_memory(rt, state)
    own = []
    offset = 0
    scope = memory.scope()
    scope.source_ids = ()  # the agent's own passages only
    while True:
        batch = memory.archival.list(scope, limit=_PAGE, offset=offset)
        own.extend(batch)
        if len(batch) < _PAGE:
            break
        offset += _PAGE
    vecs = memory.archival.vectors([p.id for p in own]) if vectors and own else {}
    return {
        "format": FORMAT, "version": VERSION, "exported_at": iso(utcnow()),
        "agent": {"name": state.name, "persona": state.persona, "human": state.human, "preset": state.preset,
                  "system_prompt": state.system_prompt, "llm_config": state.llm_config,
                  "embedding_model": state.embedding_model, "embedding_dim": state.embedding_dim,
                  "state": state.state, "created_at": iso(state.created_at)},
        "blocks": [{"label": b.label, "value": b.value, "limit": b.limit} for b in state.blocks.values()],
        "messages": [{"id": m.id, "role": m.role, "content": m.content, "name": m.name,
                      "tool_call_id": m.tool_call_id, "created_at": iso(m.created_at),
                      "tool_calls": [{"id": c.id, "name": c.name, "arguments": c.arguments} for c in m.tool_calls]}
                     for m in messages],
        "in_context": list(state.in_context),
        "passages": [{"text": p.text, "created_at": iso(p.created_at), "metadata": p.metadata,
                      **({"embedding": vecs[p.id]} if p.id in vecs else {})} for p in own],
        "sources": list(state.source_names),
    }


def import_agent(service: Service, data: dict[str, Any], *, name: str | None = None) -> tuple[AgentInfo, list[str]]:
    from datetime import datetime

    from memgpt.agent.factory import agent_memory, attach_source

    if not isinstance(data, dict) or data.get("format") != FORMAT:
        raise ConfigError("not a memgpt agent export", "export one with: memgpt export agent NAME -o FILE")
    if int(data.get("version", 0)) > VERSION:
        raise ConfigError(f"the export is of a newer format (version {data.get('version')})", "upgrade memgpt")
    rt = service.rt
    a = data["agent"]
    name = name or a["name"]
    if service.agent_exists(name):
        raise ConfigError(f"an agent named {name!r} exists", "import under another name with --name")
    emb = rt.embedder
    state = AgentState(
        id=new_id("agent"), user_id=service.user_id, name=name, persona=a["persona"], human=a["human"],
        preset=a["preset"], system_prompt=a["system_prompt"], llm_config=dict(a.get("llm_config") or {}),
        embedding_model=emb.model_id, embedding_dim=emb.dim, state=dict(a.get("state") or {}),
        blocks={b["label"]: Block(b["label"], b["value"], int(b["limit"])) for b in data.get("blocks", [])})
    ids = {m["id"]: new_id("message") for m in data.get("messages", [])}

    def when(value: str | None) -> datetime:
        return datetime.fromisoformat(value) if value else utcnow()

    messages = [Message(role=m["role"], content=m.get("content"), name=m.get("name"),
                        tool_call_id=m.get("tool_call_id"), id=ids[m["id"]], created_at=when(m.get("created_at")),
                        tool_calls=[ToolCall(c["id"], c["name"], c["arguments"]) for c in m.get("tool_calls") or []])
                for m in data.get("messages", [])]
    state.in_context = [ids[i] for i in data.get("in_context", []) if i in ids]
    rt.agents.create(state, messages)
    memory = agent_memory(rt, state)
    same_model = (a.get("embedding_model"), a.get("embedding_dim")) == (emb.model_id, emb.dim)
    texts = [p["text"] for p in data.get("passages", [])]
    if texts:
        keep = same_model and all("embedding" in p for p in data["passages"])
        vectors = [p["embedding"] for p in data["passages"]] if keep else emb.embed_batch(texts)
        memory.archival.insert([
            Passage(id=stable_id("passage", state.id, p["text"]), user_id=service.user_id, text=p["text"],
                    embedding=v, agent_id=state.id, metadata=p.get("metadata") or {},
                    created_at=when(p.get("created_at")))
            for p, v in zip(data["passages"], vectors, strict=True)])
    memory.index_messages(messages)  # recall's meaning search works at once
    warnings = []
    for source_name in data.get("sources", []):
        src = rt.metadata.find_source(service.user_id, source_name)
        if src is None:
            warnings.append(f"source {source_name!r} does not exist here; load it and attach it again")
            continue
        try:
            attach_source(memory, src)
        except EmbeddingMismatchError as exc:
            warnings.append(exc.one_line())
    fresh = rt.agents.get(state.id)
    return agent_info(fresh or state), warnings
