"""/retry after a completed turn asks again without applying the turn's memory edits twice."""

from __future__ import annotations

from memgpt.runtime import Runtime
from memgpt.store.agents import AgentStore
from memgpt.testing.fake_llm import FakeLLMServer

from test_agent_loop import call, new_agent, rt, say  # noqa: F401 - rt is the module's shared Runtime fixture


def test_retry_undoes_the_turns_core_memory_append(rt: Runtime, srv: FakeLLMServer) -> None:  # noqa: F811
    agent = new_agent(rt, srv)
    human_before = agent.state.blocks["human"].value
    remember = call("core_memory_append", "Note it.", name="human", content="Likes green tea.", request_heartbeat=True)
    srv.queue(remember, say("Noted: green tea."), remember, say("Green tea it is."))
    agent.step("I like green tea.")
    assert agent.state.blocks["human"].value.count("Likes green tea.") == 1

    assert agent.retry().messages == ["Green tea it is."]
    assert agent.state.blocks["human"].value.count("Likes green tea.") == 1  # once, not twice
    assert agent.state.blocks["human"].value.startswith(human_before)
    stored = AgentStore(rt.metadata.engine).get(agent.state.id)
    assert stored.blocks["human"].value.count("Likes green tea.") == 1
    assert srv.chat_requests[-2]["messages"][-1] == {"role": "user", "content": "I like green tea."}
