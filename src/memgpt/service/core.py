"""The service layer: every operation on agents, messages, memory and sources.

The CLI, the Python clients and the REST server are thin faces on this class:
they parse, call one method, and print or serialise what it returns. A
``Service`` acts for one user; everything it reads or writes is scoped to that
user, so another user's agent or source is simply "not found".

Writes to an agent happen inside an :class:`AgentSession`, which holds the
agent's lock (one writer per agent across processes) and reads the agent's
state fresh when it opens.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

from memgpt.errors import ConfigError, NotFoundError, UsageError
from memgpt.service.convert import (
    agent_info,
    memory_view,
    message_info,
    passage_info,
    source_info,
    source_stats_info,
)
from memgpt.service.models import (
    AgentInfo,
    AgentMemory,
    FileError,
    LoadResult,
    MessageInfo,
    MessagePage,
    ModelInfo,
    PassageInfo,
    SourceInfo,
    StepEvent,
    StepResult,
    TextEntry,
)
from memgpt.service.session import AgentSession, UsageMeter

if TYPE_CHECKING:
    from collections.abc import Iterator

    from memgpt.llm.base import LLMClient
    from memgpt.runtime import Runtime
    from memgpt.schemas import AgentState, Source, User

LIBRARY_KINDS = ("persona", "human", "preset")
DEFAULT_LOCK_WAIT = 0.0  # the CLI refuses at once; the server passes its own bounded wait


class Service:
    """All operations, for one user, on one runtime."""

    def __init__(self, rt: Runtime, user: User | None = None, *, lock_wait: float = DEFAULT_LOCK_WAIT) -> None:
        self.rt = rt.for_user(user) if user is not None else rt
        self.user_id = self.rt.user.id
        self.lock_wait = lock_wait

    @classmethod
    def local(cls, home: Path | None = None) -> Service:
        """A service on the embedded defaults (or ``home``'s configuration), as the CLI uses."""
        from memgpt.config import load_settings
        from memgpt.runtime import Runtime

        return cls(Runtime(load_settings(home)))

    def close(self) -> None:
        self.rt.close()

    # agents --------------------------------------------------------------------
    def _find_state(self, ref: str) -> AgentState | None:
        store = self.rt.agents
        state = store.get(ref) if ref.startswith("agent-") else None
        if state is not None and state.user_id != self.user_id:
            state = None  # another user's agent does not exist for this one
        return state or store.find(self.user_id, ref)

    def _state(self, ref: str) -> AgentState:
        state = self._find_state(ref)
        if state is None:
            raise NotFoundError(f"no agent named {ref!r}", "see the list with: memgpt list agents")
        return state

    def list_agents(self) -> list[AgentInfo]:
        return [agent_info(a) for a in self.rt.agents.list(self.user_id)]

    def get_agent(self, ref: str) -> AgentInfo:
        return agent_info(self._state(ref))

    def agent_exists(self, ref: str) -> bool:
        return self._find_state(ref) is not None

    def create_agent(self, name: str | None = None, *, persona: str | None = None, human: str | None = None,
                     preset: str | None = None, model: str | None = None, endpoint: str | None = None,
                     provider: str | None = None, context_window: int | None = None,
                     block_limit: int | None = None, wrapper: str | None = None,
                     timeout: int | None = None) -> AgentInfo:
        from memgpt.agent.factory import create_agent

        if name is not None and self._find_state(name) is not None:
            raise ConfigError(f"an agent named {name!r} exists", "pick another name, or resume it with --agent")
        llm = self._llm(model=model, endpoint=endpoint, provider=provider, context_window=context_window,
                        wrapper=wrapper, timeout=timeout)
        state = create_agent(self.rt, self.user_id, name, persona=persona, human=human, preset=preset, llm=llm,
                             block_limit=block_limit)
        if provider:
            state.llm_config["provider"] = provider
            self.rt.agents.save_step(state, [])
        return agent_info(state)

    def rename_agent(self, ref: str, new_name: str) -> AgentInfo:
        from memgpt.names import check_name

        check_name("agent", new_name)
        with self._locked(ref) as state:
            if new_name != state.name and self._find_state(new_name) is not None:
                raise ConfigError(f"an agent named {new_name!r} exists", "pick another name")
            self.rt.agents.rename(state.id, new_name)
            state.name = new_name
            return agent_info(state)

    def delete_agent(self, ref: str) -> None:
        from memgpt.memory.archival import Scope

        with self._locked(ref) as state:
            # Milvus first: if it fails, the SQL rows remain and the delete can be repeated.
            self.rt.archival(state.embedding_model, state.embedding_dim).delete(
                Scope(user_id=self.user_id, agent_id=state.id))
            self.rt.agents.delete(state.id)

    @contextmanager
    def _locked(self, ref: str, wait: float | None = None) -> Iterator[AgentState]:
        """The agent's state, read fresh under its lock."""
        state = self._state(ref)
        with self.rt.locks.hold(state.id, state.name, wait=self.lock_wait if wait is None else wait):
            fresh = self.rt.agents.get(state.id)
            if fresh is None:
                raise NotFoundError(f"agent {state.name!r} was deleted")
            yield fresh

    # talking to an agent -----------------------------------------------------------
    def _llm(self, *, model: str | None = None, endpoint: str | None = None, provider: str | None = None,
             context_window: int | None = None, wrapper: str | None = None, timeout: int | None = None) -> LLMClient:
        key = ("llm", model, endpoint, provider, context_window, wrapper, timeout)
        return self.rt.memo(key, lambda: self.rt.llm(model=model, endpoint=endpoint, provider=provider,
                                                     context_window=context_window, wrapper=wrapper,
                                                     timeout=timeout))

    def check_llm(self, *, model: str | None = None, endpoint: str | None = None, provider: str | None = None,
                  context_window: int | None = None, wrapper: str | None = None, timeout: int | None = None) -> None:
        """Ask the endpoint whether it answers (one short request); raises ``LLMError`` in one line."""
        llm = self._llm(model=model, endpoint=endpoint, provider=provider, context_window=context_window,
                        wrapper=wrapper, timeout=timeout)
        if hasattr(llm, "verify"):
            llm.verify()

    def open(self, ref: str, *, model: str | None = None, endpoint: str | None = None, provider: str | None = None,
             context_window: int | None = None, on_event: Callable[[StepEvent], None] | None = None,
             wait: float | None = None, verify: bool = False, wrapper: str | None = None,
             timeout: int | None = None) -> AgentSession:
        """Take the agent's lock and load it; the caller must ``close()`` the session (or use ``with``)."""
        from memgpt.agent.factory import open_agent

        held = self._locked(ref, wait)
        state = held.__enter__()
        try:
            # A resumed agent runs on the model it was created with unless told otherwise.
            saved = state.llm_config
            model_ = model or saved.get("model")
            llm = self._llm(model=model_, endpoint=endpoint or saved.get("endpoint"),
                            provider=provider or saved.get("provider"),
                            context_window=context_window
                            or (saved.get("context_window") if model_ == saved.get("model") else None),
                            wrapper=wrapper, timeout=timeout)
            if verify and hasattr(llm, "verify"):
                llm.verify()
            # Flags are for this session: a resumed agent keeps its own settings; without flags, the
            # resolved values of its own model are refreshed.
            if not (model or endpoint or provider or context_window):
                state.llm_config.update(model=llm.model, context_window=llm.context_window,
                                        endpoint=getattr(llm, "base_url", saved.get("endpoint")),
                                        provider=saved.get("provider"))
            meter = UsageMeter(llm)
            agent = open_agent(self.rt, state, meter)  # type: ignore[arg-type]
            return AgentSession(self, agent, meter, held, on_event)
        except BaseException:
            held.__exit__(None, None, None)
            raise

    def send_message(self, ref: str, text: str, *, role: str = "user",
                     on_event: Callable[[StepEvent], None] | None = None, wait: float | None = None) -> StepResult:
        """One message through to the end of the agent's turn; ``role="system"`` sends a runtime event."""
        if role not in ("user", "system"):
            raise UsageError(f"role must be user or system, not {role!r}")
        with self.open(ref, on_event=on_event, wait=wait) as session:
            return session.step(text) if role == "user" else session.system_event(text)

    def run_command(self, ref: str, command: str, *, on_event: Callable[[StepEvent], None] | None = None,
                    wait: float | None = None) -> StepResult:
        """A slash command by name (``/pop 2``, ``/retry``, ``/rethink TEXT`` ...)."""
        with self.open(ref, on_event=on_event, wait=wait) as session:
            return session.command(command)

    # memory ----------------------------------------------------------------------------
    def _memory(self, state: AgentState):  # noqa: ANN202 - memgpt.agent.memory.AgentMemory
        from memgpt.agent.factory import agent_memory

        return agent_memory(self.rt, state)

    def get_memory(self, ref: str) -> AgentMemory:
        return memory_view(self._memory(self._state(ref)))

    def update_core_memory(self, ref: str, label: str, value: str) -> AgentMemory:
        """Set a core memory block's text (the agent sees it in its next step)."""
        return self.update_core_memory_blocks(ref, {label: value})

    def update_core_memory_blocks(self, ref: str, blocks: dict[str, str]) -> AgentMemory:
        """Set several blocks' texts at once: all are checked before any is written, under one lock."""
        with self._locked(ref) as state:
            for label, value in blocks.items():
                block = state.blocks.get(label)
                if block is None:
                    raise NotFoundError(f"agent {state.name!r} has no core memory block {label!r}",
                                        f"blocks: {', '.join(state.blocks)}")
                if len(value) > block.limit:
                    raise UsageError(f"{label} would hold {len(value)} characters, over its limit of {block.limit}",
                                     "shorten the text")
            for label, value in blocks.items():
                state.blocks[label].value = value
            self.rt.agents.save_step(state, [])
            return memory_view(self._memory(state))

    def insert_archival(self, ref: str, text: str) -> int:
        """Add text to the agent's archival memory; returns the passages stored."""
        if not text.strip():
            raise UsageError("the text to remember is empty")
        return self._memory(self._state(ref)).archival_insert(text)

    def _source_names(self) -> dict[str, str]:
        return {s.source.id: s.source.name for s in self.rt.metadata.list_sources(self.user_id)}

    def list_archival(self, ref: str, *, limit: int = 50, offset: int = 0) -> list[PassageInfo]:
        """Passages the agent can search (its own and its sources'), unranked."""
        memory = self._memory(self._state(ref))
        names = self._source_names()
        return [passage_info(p, source_names=names)
                for p in memory.archival.list(memory.scope(), limit=max(1, min(limit, 1000)), offset=offset)]

    def search_archival(self, ref: str, query: str, *, limit: int = 10) -> list[PassageInfo]:
        """The agent's own hybrid search (meaning and words), best first."""
        if not query.strip():
            raise UsageError("the search query is empty")
        memory = self._memory(self._state(ref))
        hits = memory.archival.search_hybrid(query, memory.embedder.embed(query), memory.scope(),
                                             limit=max(1, min(limit, 100)))
        names = self._source_names()
        return [passage_info(h.passage, h.score, names) for h in hits]

    def delete_archival(self, ref: str, passage_id: str) -> None:
        """Delete one of the agent's own passages (a source's passages leave with the source)."""
        from memgpt.memory.archival import is_generated_id

        memory = self._memory(self._state(ref))
        found = [p for p in memory.archival.get([passage_id]) if p.user_id == self.user_id] if is_generated_id(
            passage_id) else []
        if not found or found[0].agent_id != memory.state.id:
            if found and found[0].source_id in memory.source_ids():
                raise UsageError(f"passage {passage_id} belongs to an attached source",
                                 "detach the source, or delete the source")
            raise NotFoundError(f"agent {memory.state.name!r} has no passage {passage_id!r}")
        memory.archival.delete_ids([passage_id])

    def list_messages(self, ref: str, *, before: str | None = None, after: str | None = None,
                      limit: int = 50) -> MessagePage:
        """Recall memory, oldest first, a page at a time (``before``: the first id of the previous page)."""
        state = self._state(ref)
        messages, more = self.rt.recall.page(state.id, before=before, after=after, limit=max(1, min(limit, 1000)))
        live = set(state.in_context)
        return MessagePage([message_info(m, m.id in live) for m in messages], has_more=more)

    def search_messages(self, ref: str, query: str, *, page: int = 0) -> list[MessageInfo]:
        """The agent's conversation_search (words and meaning)."""
        hits, _total = self._memory(self._state(ref)).recall_search(query, page)
        return [message_info(m) for m in hits]

    # sources -----------------------------------------------------------------------------
    def _source(self, ref: str) -> Source:
        meta = self.rt.metadata
        src = meta.find_source(self.user_id, ref)
        if src is None and ref.startswith("source-"):
            src = meta.source_by_id(ref)
            if src is not None and src.user_id != self.user_id:
                src = None  # another user's source does not exist for this one
        if src is None:
            raise NotFoundError(f"no source named {ref!r}", "see the list with: memgpt list sources")
        return src

    def source_name(self, ref: str) -> str:
        """The name of the source ``ref`` names (by id or name); a new name passes through."""
        try:
            return self._source(ref).name
        except NotFoundError:
            if ref.startswith("source-"):
                raise
            return ref

    def list_sources(self) -> list[SourceInfo]:
        return [source_stats_info(s) for s in self.rt.metadata.list_sources(self.user_id)]

    def get_source(self, ref: str) -> SourceInfo:
        return source_info(self._source(ref), self.rt.metadata)

    def create_source(self, name: str, description: str | None = None) -> SourceInfo:
        from memgpt.ingest.pipeline import get_or_create_source

        if self.rt.metadata.find_source(self.user_id, name) is not None:
            raise ConfigError(f"a source named {name!r} exists", "load into it, or pick another name")
        return source_info(get_or_create_source(self.rt, name, description), self.rt.metadata)

    def load_files(self, source: str, files: Sequence[Path | str], *, description: str | None = None,
                   chunk_size: int | None = None, chunk_overlap: int | None = None, progress: bool = False,
                   on_progress: Callable[[int, int], None] | None = None, keep_versions: bool = False) -> LoadResult:
        """Read, chunk, embed and store files into a source (created if new, appended to if not)."""
        from memgpt.ingest.pipeline import load_files

        report = load_files(self.rt, self.source_name(source), [Path(f) for f in files], description=description,
                            chunk_size=chunk_size, chunk_overlap=chunk_overlap, progress=progress,
                            on_progress=on_progress, keep_versions=keep_versions)
        return LoadResult(source=source_info(report.source, self.rt.metadata), n_passages=report.n_passages,
                          n_documents=report.n_documents,
                          skipped=[FileError(f, why) for f, why in report.skipped],
                          failed=[FileError(f, why) for f, why in report.failed],
                          storage_failed=report.storage_failed,
                          advice=self._language_advice(report.source) if report.n_passages else None)

    def language_advice(self, source_ref: str) -> str | None:
        """The multilingual model recommended in one line when a source's passages are mostly CJK."""
        return self._language_advice(self._source(source_ref))

    def _language_advice(self, source: Source) -> str | None:
        from memgpt.embeddings import local_model_name, multilingual_advice
        from memgpt.memory.archival import Scope

        if local_model_name(source.embedding_model) != "all-MiniLM-L6-v2":
            return None  # already another model: nothing to recommend, no passage to read
        store = self.rt.archival(source.embedding_model, source.embedding_dim)
        return multilingual_advice(store.sample_texts(Scope(source.user_id, source_ids=[source.id])),
                                   source.embedding_model)

    def delete_source(self, ref: str) -> None:
        from memgpt.memory.archival import Scope

        source = self._source(ref)
        # Milvus first: if it fails, the SQL rows remain and the delete can be repeated.
        self.rt.archival(source.embedding_model, source.embedding_dim).delete(
            Scope(user_id=self.user_id, source_ids=[source.id]))
        self.rt.metadata.delete_source(source.id)

    def attach_source(self, agent: str, source: str) -> SourceInfo:
        from memgpt.agent.factory import attach_source

        with self._locked(agent) as state:
            src = self._source(source)
            attach_source(self._memory(state), src)
            return source_info(src, self.rt.metadata)

    def detach_source(self, agent: str, source: str) -> SourceInfo:
        with self._locked(agent) as state:
            src = self._source(source)
            if not self.rt.agents.detach(state, src):
                raise NotFoundError(f"{src.name!r} is not attached to agent {state.name!r}")
            return source_info(src, self.rt.metadata)

    # personas, humans and presets ------------------------------------------------------------
    def list_texts(self, kind: str) -> list[TextEntry]:
        from memgpt.agent import library

        _check_kind(kind)
        return [TextEntry(n, origin, text) for n, origin, text in library.list_texts(self.rt, kind, self.user_id)]

    def create_text(self, kind: str, name: str, text: str) -> TextEntry:
        from memgpt.names import check_name, check_template_text

        _check_kind(kind, user_added=True)
        check_name(kind, name)
        check_template_text(kind, name, text)
        if not text.strip():
            raise UsageError(f"the {kind} text is empty")
        self.rt.metadata.put_template(self.user_id, kind, name, text.strip())
        return TextEntry(name, "user", text.strip())

    def delete_text(self, kind: str, name: str) -> None:
        _check_kind(kind, user_added=True)
        if not self.rt.metadata.delete_template(self.user_id, kind, name):
            raise NotFoundError(f"no user-added {kind} named {name!r}",
                                f"built-in ones cannot be deleted; see: memgpt list {kind}s")

    # configuration -------------------------------------------------------------------------
    def get_config(self) -> dict[str, Any]:
        """The non-secret settings in force."""
        from dataclasses import asdict

        from memgpt.config import SECRETS

        s = self.rt.settings
        out = {k: v for k, v in asdict(s).items() if k not in SECRETS}
        out["home"] = str(s.home)
        return out

    def list_models(self) -> list[ModelInfo]:
        """The configured model (agents may each run another; see their ``model``)."""
        llm = self._llm()
        return [ModelInfo(name=llm.model, provider=self.rt.settings.model_provider,
                          endpoint=getattr(llm, "base_url", None), context_window=llm.context_window)]

    def doctor(self, *, repair: bool = False) -> list:  # list[memgpt.maintenance.Finding]
        """Compare SQL with Milvus for every source and agent; ``repair`` fixes what it can."""
        from memgpt.maintenance import check

        return check(self.rt, repair=repair)

    # export / import -------------------------------------------------------------------------
    def export_agent(self, ref: str) -> dict[str, Any]:
        from memgpt.service.transfer import export_agent

        with self._locked(ref) as state:
            return export_agent(self, state)

    def import_agent(self, data: dict[str, Any], *, name: str | None = None) -> tuple[AgentInfo, list[str]]:
        """A new agent from an export; returns it and warnings (sources that could not be re-attached)."""
        from memgpt.service.transfer import import_agent

        return import_agent(self, data, name=name)

    # the web page (issue 13): the context bar and recall by date -----------------------------
    def context_tokens(self, ref: str) -> dict[str, int]:
        """Tokens of the agent's next request by part (``system``, ``tools``, ``messages``), with
        ``limit`` (where summarising starts) and ``context_window``: what ``/tokens`` prints, as numbers.

        Read from the last saved step without the agent's lock, so it answers while a step or a chat runs."""
        from memgpt.agent.factory import open_agent

        state = self._state(ref)
        cfg = state.llm_config
        llm = self._llm(model=cfg.get("model"), endpoint=cfg.get("endpoint"), provider=cfg.get("provider"),
                        context_window=cfg.get("context_window"))
        return open_agent(self.rt, state, llm).context_tokens()

    def search_messages_by_date(self, ref: str, start: date, end: date, *, page: int = 0) -> list[MessageInfo]:
        """The agent's conversation_search_date: messages from ``start`` through ``end`` (whole days)."""
        if end < start:
            raise UsageError(f"the end date {end} is before the start date {start}")
        hits, _total = self._memory(self._state(ref)).recall_search_date(start, end, page)
        return [message_info(m) for m in hits]


def _check_kind(kind: str, user_added: bool = False) -> None:
    allowed = ("persona", "human") if user_added else LIBRARY_KINDS
    if kind not in allowed:
        raise UsageError(f"unknown kind {kind!r}", f"use one of: {', '.join(allowed)}")

