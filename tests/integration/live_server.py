"""Shared by the service, client and server tests: a real home whose LLM is the scripted server over
HTTP, and a real ``memgpt server`` app served by uvicorn on 127.0.0.1.

Test modules import the fixtures they use from here (``from live_server import ...``)."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from memgpt.config import Settings
from memgpt.runtime import Runtime

DOC = """# The Lighthouse of Varnholm

The lighthouse of Varnholm was built in 1871 by the engineer Maren Ostby. Its lamp burned whale oil
until 1903, when it was converted to kerosene. The keeper's log records a storm on 4 March 1894 that
broke every pane of the lantern room.

## Visiting

The island is reached by a ferry that leaves the harbour twice a day in summer.
"""


@pytest.fixture
def doc(tmp_path: Path) -> Path:
    path = tmp_path / "varnholm.md"
    path.write_text(DOC, encoding="utf-8")
    return path


@pytest.fixture
def llm_home(agent_home: Path, fake_llm) -> Settings:  # noqa: ANN001
    """A home (Milvus collection ready) whose LLM is the scripted server's demo responder."""
    s = Settings(home=agent_home)
    s.model_provider = "openai-compatible"
    s.model_endpoint = fake_llm.base_url
    s.model_api_key = "none"
    s.model = "fake-llm"
    s.context_window = 16000
    return s


@pytest.fixture
def runtime_llm(llm_home: Settings) -> Iterator[Runtime]:
    rt = Runtime(llm_home)
    yield rt
    rt.close()


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveServer:
    """``create_app`` served by uvicorn in a thread on 127.0.0.1; stopped by ``stop()``."""

    def __init__(self, rt: Runtime, **kw) -> None:  # noqa: ANN003
        import uvicorn

        from memgpt.server.app import create_app
        from memgpt.store.auth import KeyStore

        self.keys = KeyStore(rt.metadata.engine)
        self.admin_key = "admin-test-key"
        self.keys.ensure_admin(self.admin_key)
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(rt, **kw), host="127.0.0.1", port=self.port, log_level="warning",
                                access_log=False)
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 20
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)

    def user(self, name: str) -> str:
        """A new user's API key."""
        return self.keys.create_user(name)[1]

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=10)


@pytest.fixture
def live_server(runtime_llm: Runtime) -> Iterator[LiveServer]:
    srv = LiveServer(runtime_llm, lock_wait=5.0)
    yield srv
    srv.stop()
