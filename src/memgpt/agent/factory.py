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


def create_agent(rt: Runtime, user_id: str, name: str | None = None, *, persona: str | None = None,
                 human: str | None = None, preset: str | None = None, llm: LLMClient | None = None,
                 block_limit: int | None = None) -> AgentState:
    """A new agent, saved; ``block_limit`` is each core memory block's character limit (default 2000)."""
    s = rt.settings
    persona, human, preset = persona or s.persona, human or s.human, preset or s.preset
    limit = block_limit or DEFAULT_BLOCK_LIMIT
    store = rt.agents
    if name is None:
        name = friendly_name({a.name for a in store.list(user_id)})
    check_name("agent", name)
    llm_config = {"model": llm.model if llm else s.model, "context_window": llm.context_window if llm else None,
                  "provider": s.model_provider,
                  "endpoint": getattr(llm, "base_url", None) or s.model_endpoint}  # the one it really talks to
    state = AgentState(
        id=new_id("agent"), user_id=user_id, name=name, persona=persona, human=human, preset=preset,
        system_prompt=library.get_text(rt, "preset", preset, user_id), llm_config=llm_config,
        embedding_model=rt.embedder.model_id, embedding_dim=rt.embedder.dim,
        blocks={"persona": Block("persona", library.get_text(rt, "persona", persona, user_id), limit),
                "human": Block("human", library.get_text(rt, "human", human, user_id), limit)})
    for block in state.blocks.values():
        block.limit = max(block.limit, len(block.value))
    store.create(state)
    return state


def open_agent(rt: Runtime, state: AgentState, llm: LLMClient, *,
               on_event: Callable[[AgentEvent], None] | None = None) -> Agent:
    from memgpt.agent.functions import BUILTIN_TOOLS
    from memgpt.agent.loop import Agent
    from memgpt.agent.tools import ToolSet, load_user_tools
    from memgpt.tokens import default_counter

    memory = agent_memory(rt, state)
    # Built once per runtime: a server opens an agent per request, and the user's function files do not
    # change under a running process.
    tools = rt.memo(("tools",), lambda: ToolSet([*BUILTIN_TOOLS, *load_user_tools(rt.settings.home / "functions")]))
    return Agent(memory, llm, rt.agents, tools, default_counter(), max_heartbeats=rt.settings.max_heartbeats,
                 on_event=on_event)


def agent_memory(rt: Runtime, state: AgentState) -> AgentMemory:
    """The agent's three memory tiers, without an LLM (for reading and editing memory directly)."""
    check_embedding(rt, state)
    return AgentMemory(state, rt.agents, rt.recall, rt.archival(state.embedding_model, state.embedding_dim),
                       rt.embedder)


def check_embedding(rt: Runtime, state: AgentState) -> None:
    emb = rt.embedder
    EmbeddingMismatchError.check(
        f"agent {state.name!r} remembers with", (state.embedding_model, state.embedding_dim),
        "the configured embedding model is", (emb.model_id, emb.dim),
        "configure the agent's model again (memgpt configure --embedding-model ...), or create a new agent")


def attach_source(memory: AgentMemory, source: Source) -> bool:
    """Link a source's passages into the agent's archival memory; False when already attached."""
    state = memory.state
    EmbeddingMismatchError.check(
        f"source {source.name!r} was embedded with", (source.embedding_model, source.embedding_dim),
        f"agent {state.name!r} uses", (state.embedding_model, state.embedding_dim),
        "load the documents again into a new source with the agent's embedding model")
    added = memory.agents.attach(state, source)
    memory.sources_changed()
    return added
