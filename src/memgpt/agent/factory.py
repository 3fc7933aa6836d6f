"""Creating and resuming agents from a Runtime."""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import TYPE_CHECKING

from memgpt.agent import library
from memgpt.agent.memory import DEFAULT_BLOCK_LIMIT, AgentMemory
from memgpt.errors import EmbeddingMismatchError
from memgpt.names import check_name
from memgpt.schemas import AgentState, Block, new_id

if TYPE_CHECKING:
    from memgpt.agent.loop import Agent, AgentEvent
    from memgpt.llm.base import LLMClient
    from memgpt.runtime import Runtime
    from memgpt.schemas import Source
    from memgpt.store.agents import AgentStore

_ADJECTIVES = ["Amber", "Brisk", "Calm", "Clever", "Curious", "Daring", "Gentle", "Glad", "Humble", "Keen", "Lucid",
               "Merry", "Nimble", "Patient", "Polite", "Quiet", "Radiant", "Steady", "Sunny", "Witty"]
_NOUNS = ["Badger", "Butterfly", "Comet", "Falcon", "Fern", "Harbor", "Heron", "Lantern", "Maple", "Meadow", "Otter",
          "Pebble", "Quill", "Raven", "River", "Sparrow", "Thistle", "Willow", "Wren", "Zephyr"]


def friendly_name(taken: set[str]) -> str:
    rng = random.SystemRandom()
    for _ in range(100):
        name = rng.choice(_ADJECTIVES) + rng.choice(_NOUNS)
        if name not in taken:
            return name
    return f"{rng.choice(_ADJECTIVES)}{rng.choice(_NOUNS)}{rng.randint(100, 999)}"


def agent_store(rt: Runtime) -> AgentStore:
    from memgpt.store.agents import AgentStore

    return AgentStore(rt.metadata.engine)


def create_agent(rt: Runtime, name: str | None = None, *, persona: str | None = None, human: str | None = None,
                 preset: str | None = None, llm: LLMClient | None = None) -> AgentState:
    s = rt.settings
    persona, human, preset = persona or s.persona, human or s.human, preset or s.preset
    store = agent_store(rt)
    if name is None:
        name = friendly_name({a.name for a in store.list(rt.user.id)})
    check_name("agent", name)
    llm_config = {"model": llm.model if llm else s.model, "context_window": llm.context_window if llm else None,
                  "provider": s.model_provider,
                  "endpoint": getattr(llm, "base_url", None) or s.model_endpoint}  # the one it really talks to
    state = AgentState(
        id=new_id("agent"), user_id=rt.user.id, name=name, persona=persona, human=human, preset=preset,
        system_prompt=library.get_text(rt, "preset", preset), llm_config=llm_config,
        embedding_model=rt.embedder.model_id, embedding_dim=rt.embedder.dim,
        blocks={"persona": Block("persona", library.get_text(rt, "persona", persona), DEFAULT_BLOCK_LIMIT),
                "human": Block("human", library.get_text(rt, "human", human), DEFAULT_BLOCK_LIMIT)})
    for block in state.blocks.values():
        block.limit = max(block.limit, len(block.value))
    store.create(state)
    return state


def open_agent(rt: Runtime, state: AgentState, llm: LLMClient, *,
               on_event: Callable[[AgentEvent], None] | None = None) -> Agent:
    from memgpt.agent.functions import BUILTIN_TOOLS
    from memgpt.agent.loop import Agent
    from memgpt.agent.tools import ToolSet, load_user_tools
    from memgpt.memory.recall import RecallStore
    from memgpt.tokens import default_counter

    check_embedding(rt, state)
    store = agent_store(rt)
    memory = AgentMemory(state, store, RecallStore(rt.metadata.engine),
                         rt.archival(state.embedding_model, state.embedding_dim), rt.embedder)
    tools = ToolSet([*BUILTIN_TOOLS, *load_user_tools(rt.settings.home / "functions")])
    return Agent(memory, llm, store, tools, default_counter(), max_heartbeats=rt.settings.max_heartbeats,
                 on_event=on_event)


def check_embedding(rt: Runtime, state: AgentState) -> None:
    emb = rt.embedder
    EmbeddingMismatchError.check(
        f"agent {state.name!r} remembers with", (state.embedding_model, state.embedding_dim),
        "the configured embedding model is", (emb.model_id, emb.dim),
        "configure the agent's model again (memgpt configure --embedding-model ...), or create a new agent")


def attach_source(rt: Runtime, agent: Agent, source: Source) -> bool:
    """Link a source's passages into the agent's archival memory; False when already attached."""
    EmbeddingMismatchError.check(
        f"source {source.name!r} was embedded with", (source.embedding_model, source.embedding_dim),
        f"agent {agent.state.name!r} uses", (agent.state.embedding_model, agent.state.embedding_dim),
        "load the documents again into a new source with the agent's embedding model")
    added = agent.store.attach(agent.state, source)
    agent.memory.sources_changed()
    return added
