"""The service layer with an in-process scripted model (no HTTP): real SQLite and Milvus Lite."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

from memgpt.config import Settings
from memgpt.errors import AgentBusyError, ConfigError, NotFoundError, UsageError
from memgpt.runtime import Runtime
from memgpt.schemas import User
from memgpt.service import Service
from memgpt.testing.scripted import ScriptedLLM, call, say


@pytest.fixture
def llm() -> ScriptedLLM:
    return ScriptedLLM()


@pytest.fixture
def rt(agent_home: Path, llm: ScriptedLLM) -> Iterator[Runtime]:
    runtime = Runtime(Settings(home=agent_home), llm_factory=llm.factory)
    yield runtime
    runtime.close()


@pytest.fixture
def svc(rt: Runtime) -> Service:
    return Service(rt)


def test_users_are_isolated(rt: Runtime, tmp_path: Path) -> None:
    from memgpt.store.auth import KeyStore

    keys = KeyStore(rt.metadata.engine)
    ann, ben = (Service(rt, keys.create_user(n)[0]) for n in ("ann", "ben"))
    agent = ann.create_agent("same-name")
    doc = tmp_path / "a.md"
    doc.write_text("Ann's secret recipe uses saffron.", encoding="utf-8")
    ann.load_files("recipes", [doc])
    ann.insert_archival(agent.id, "Ann's bank is in Zurich.")
    for attempt in (lambda: ben.get_agent(agent.id), lambda: ben.get_memory(agent.id),
                    lambda: ben.get_source("recipes"), lambda: ben.send_message(agent.id, "hi"),
                    lambda: ben.delete_agent(agent.id), lambda: ben.attach_source(agent.id, "recipes")):
        with pytest.raises(NotFoundError):
            attempt()
    assert ben.list_agents() == [] and ben.list_sources() == []
    mine = ben.create_agent("same-name")  # names are per user
    assert mine.id != agent.id
    assert ben.search_archival(mine.id, "bank Zurich") == []
    assert [p.text for p in ann.search_archival(agent.id, "bank Zurich")] == ["Ann's bank is in Zurich."]


def test_a_step_reports_events_usage_and_sees_memory_edits(svc: Service, llm: ScriptedLLM) -> None:
    agent = svc.create_agent("clara")
    with pytest.raises(UsageError, match="over its limit"):
        svc.update_core_memory(agent.id, "human", "x" * 100_000)
    with pytest.raises(NotFoundError):
        svc.update_core_memory(agent.id, "nope", "x")
    svc.update_core_memory(agent.id, "human", "Name: Chad")
    llm.queue(call("core_memory_append", {"name": "human", "content": "Likes tea.", "request_heartbeat": True}),
              say("Noted, Chad."))
    result = svc.send_message(agent.id, "I like tea")
    assert "Name: Chad" in (llm.requests[0].messages[0].content or "")
    assert result.function_calls == ["core_memory_append", "send_message"]
    assert all(e.ok for e in result.events if e.kind == "result")
    assert result.messages == ["Noted, Chad."] and result.steps == 2
    assert (result.usage.llm_calls, result.usage.prompt_tokens, result.usage.total_tokens) == (2, 200, 220)
    assert svc.get_memory(agent.id).core["human"].value == "Name: Chad\nLikes tea."
    event = svc.send_message(agent.id, "The user closed the window.", role="system")
    assert event.messages == ["ok"]
    assert [m.name for m in svc.list_messages(agent.id).messages
            if "The user closed the window." in (m.content or "")] == ["event"]


def test_retry_rethink_rewrite(svc: Service, llm: ScriptedLLM) -> None:
    agent = svc.create_agent("r")
    llm.queue(say("first answer", thought="first thought"))
    svc.send_message(agent.id, "question")
    llm.queue(say("second answer", thought="second thought"))
    assert svc.run_command(agent.id, "/retry").messages == ["second answer"]
    svc.run_command(agent.id, "/rethink better thought")
    svc.run_command(agent.id, "/rewrite better answer")
    context = [m for m in svc.list_messages(agent.id, limit=500).messages if m.in_context]
    last = [m for m in context if m.role == "assistant"][-1]
    assert last.content == "better thought" and '"better answer"' in last.tool_calls[0].arguments
    with pytest.raises(UsageError):
        svc.run_command(agent.id, "/pop lots")


def test_one_writer_per_agent(svc: Service) -> None:
    agent = svc.create_agent("held")
    errors: list[Exception] = []
    with svc.open(agent.id):
        t = threading.Thread(target=lambda: _catch(errors, lambda: svc.send_message(agent.id, "hi")))
        t.start()
        t.join()
        assert [type(e) for e in errors] == [AgentBusyError]
        with pytest.raises(AgentBusyError):
            svc.update_core_memory(agent.id, "human", "x")
        assert svc.get_memory(agent.id).core["human"].value != "x"  # reading needs no lock
    assert svc.send_message(agent.id, "hi").messages == ["ok"]


def _catch(errors: list[Exception], fn) -> None:  # noqa: ANN001
    try:
        fn()
    except Exception as exc:  # noqa: BLE001
        errors.append(exc)


def test_archival_rename_delete(svc: Service, rt: Runtime, tmp_path: Path) -> None:
    agent = svc.create_agent("arch")
    other = svc.create_agent("other")
    with pytest.raises(ConfigError):
        svc.rename_agent(agent.id, "other")
    doc = tmp_path / "s.md"
    doc.write_text("The source passage about comets.", encoding="utf-8")
    svc.load_files("space", [doc])
    svc.attach_source(agent.id, "space")
    source_passage = svc.search_archival(agent.id, "comets")[0]
    assert source_passage.source == "space" and source_passage.file_name == "s.md"
    with pytest.raises(UsageError, match="belongs to an attached source"):
        svc.delete_archival(agent.id, source_passage.id)
    svc.insert_archival(agent.id, "my own note about comets")
    store = rt.archival()
    from memgpt.memory.archival import Scope

    assert store.count(Scope(user_id=svc.user_id, agent_id=agent.id)) == 1
    svc.delete_agent(agent.id)
    assert store.count(Scope(user_id=svc.user_id, agent_id=agent.id)) == 0  # its passages left Milvus
    assert svc.get_source("space").n_passages == 1  # the source stays
    assert [a.name for a in svc.list_agents()] == [other.name]


def test_import_refuses_bad_input(svc: Service) -> None:
    agent = svc.create_agent("exp")
    data = svc.export_agent(agent.id)
    with pytest.raises(ConfigError, match="exists"):
        svc.import_agent(data)
    with pytest.raises(ConfigError, match="not a memgpt agent export"):
        svc.import_agent({"format": "something-else"})
    copy, warnings = svc.import_agent({**data, "sources": ["gone"]}, name="copy")
    assert copy.name == "copy" and warnings == ["source 'gone' does not exist here; load it and attach it again"]
