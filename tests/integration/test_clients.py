"""One suite, two clients: the local client and the REST client against a live server behave alike."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memgpt.client.base import Client
from memgpt.errors import NotFoundError, UsageError

from live_server import doc, live_server, llm_home, runtime_llm  # noqa: F401 - fixtures


@pytest.fixture(params=["local", "rest"])
def client(request: pytest.FixtureRequest, runtime_llm) -> Iterator[Client]:  # noqa: ANN001
    if request.param == "local":
        from memgpt.client.local import LocalClient
        from memgpt.service import Service

        c: Client = LocalClient(service=Service(runtime_llm))
    else:
        from memgpt.client import create_client

        server = request.getfixturevalue("live_server")
        c = create_client(base_url=server.url, token=server.user("alice"))
    yield c
    c.close()


def test_the_tutorial_flow(client: Client, doc: Path, fake_llm) -> None:  # noqa: ANN001
    src = client.create_source("varnholm")
    job = client.load_file_into_source(doc, src.id)
    assert job.status == "done" and job.n_passages >= 1 and job.n_documents == 1 and not job.errors
    agent = client.create_agent("keeper", persona="memgpt_doc")
    assert agent.id.startswith("agent-") and agent.name == "keeper"
    assert client.agent_exists(agent_name="keeper") and not client.agent_exists(agent_name="nobody")
    assert client.get_agent(agent_id=agent.id).name == "keeper"
    assert [a.name for a in client.list_agents()] == ["keeper"]
    attached = client.attach_source_to_agent(agent.id, source_name="varnholm")
    assert attached.name == "varnholm" and attached.n_passages == job.n_passages

    step = client.user_message(agent.id, "Who built the lighthouse of Varnholm?")
    kinds = [e.kind for e in step.events]
    assert "thought" in kinds and "message" in kinds
    assert "archival_memory_search" in step.function_calls
    result = next(e for e in step.events if e.kind == "result" and e.name == "archival_memory_search")
    assert "Maren Ostby" in result.text
    assert step.messages and "Maren Ostby" in step.messages[-1]
    assert step.usage.llm_calls >= 2

    page = client.get_messages(agent.id, limit=100)
    users = [m for m in page.messages if m.role == "user"]
    assert users[-1].content == "Who built the lighthouse of Varnholm?"
    older = client.get_messages(agent.id, before=page.messages[1].id, limit=5)
    assert [m.id for m in older.messages] == [page.messages[0].id]


def test_memory_operations(client: Client, fake_llm) -> None:  # noqa: ANN001
    agent = client.create_agent("archivist")
    mem = client.get_agent_memory(agent.id)
    assert set(mem.core) == {"persona", "human"} and mem.archival_count == 0
    mem = client.update_agent_core_memory(agent.id, {"human": "Name: Chad. Likes lighthouses."})
    assert mem.core["human"].value == "Name: Chad. Likes lighthouses."
    client.user_message(agent.id, "hello")
    system = fake_llm.requests[-1]["messages"][0]["content"]
    assert "Name: Chad. Likes lighthouses." in system  # the agent's next step sees the edit

    assert client.insert_archival_memory(agent.id, "Chad's boat is called the Gannet.") == 1
    hits = client.search_archival_memory(agent.id, "what is the boat called")
    assert hits and "Gannet" in hits[0].text and hits[0].agent_id == agent.id
    listed = client.get_agent_archival_memory(agent.id)
    assert [p.text for p in listed] == ["Chad's boat is called the Gannet."]
    client.delete_archival_memory(agent.id, listed[0].id)
    assert client.get_agent_archival_memory(agent.id) == []
    with pytest.raises(NotFoundError):
        client.delete_archival_memory(agent.id, listed[0].id)


def test_commands_rename_export_import(client: Client, fake_llm) -> None:  # noqa: ANN001
    agent = client.create_agent("first")
    client.user_message(agent.id, "Remember that the ferry leaves twice a day.")
    client.insert_archival_memory(agent.id, "The ferry to Varnholm leaves twice a day in summer.")
    tokens = client.run_command(agent.id, "/tokens")
    assert "tokens of 16000" in (tokens.info or "")
    before = len([m for m in client.get_messages(agent.id, limit=500).messages if m.in_context])
    popped = client.run_command(agent.id, "/pop 1").info or ""
    n = int(popped.split()[1])  # a call and its result leave together, so 1 may remove 2
    assert popped.endswith("messages from the context window") and n >= 1
    after = len([m for m in client.get_messages(agent.id, limit=500).messages if m.in_context])
    assert after == before - n
    with pytest.raises(UsageError):
        client.run_command(agent.id, "/bogus")
    with pytest.raises(UsageError):
        client.run_command(agent.id, "/rethink")

    renamed = client.rename_agent(agent.id, "second")
    assert renamed.name == "second" and renamed.id == agent.id
    data = client.export_agent("second")
    assert data["format"] == "memgpt-agent" and len(data["passages"]) == 1
    copy = client.import_agent(data, name="copy")
    assert copy.id != agent.id and copy.name == "copy"
    a = client.search_archival_memory(agent.id, "ferry schedule")
    b = client.search_archival_memory(copy.id, "ferry schedule")
    assert [p.text for p in a] == [p.text for p in b]
    orig = [(m.role, m.content) for m in client.get_messages(agent.id, limit=500).messages]
    dup = [(m.role, m.content) for m in client.get_messages(copy.id, limit=500).messages]
    assert orig == dup
    client.delete_agent(copy.id)
    assert not client.agent_exists(agent_id=copy.id)
    with pytest.raises(NotFoundError):
        client.get_agent(agent_name="copy")


def test_library_config_and_sources(client: Client, doc: Path) -> None:
    assert "sam_pov" in [p.name for p in client.list_personas()]
    client.create_persona("lighthouse_keeper", "I keep the light.")
    assert ("lighthouse_keeper", "user") in [(p.name, p.origin) for p in client.list_personas()]
    client.create_human("chad", "Name: Chad")
    assert "chad" in [h.name for h in client.list_humans()]
    assert "memgpt_chat" in [p.name for p in client.list_presets()]
    assert client.list_models()[0].name == "fake-llm"
    config = client.get_config()
    assert config["model"] == "fake-llm" and "model_api_key" not in config

    src = client.create_source("docs")
    client.load_file_into_source(doc, "docs")
    agent = client.create_agent("reader")
    client.attach_source_to_agent(agent.id, source_id=src.id)
    assert client.get_agent(agent.id).sources == ["docs"]
    client.detach_source(src.id, agent.id)
    assert client.get_agent(agent.id).sources == []
    client.delete_source(src.id)
    assert client.list_sources() == []
    with pytest.raises(NotFoundError):
        client.attach_source_to_agent(agent.id, source_name="docs")


def test_streaming_yields_events_in_order(client: Client, doc: Path) -> None:
    agent = client.create_agent("streamer")
    events = list(client.stream_message(agent.id, "tell me about the storm of 1894"))
    kinds = [e.kind for e in events]
    assert kinds.index("call") < kinds.index("result") < kinds.index("message")
