"""Shared pytest fixtures. Each section is owned by the module it serves."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator

import pytest

# ---------------------------------------------------------------------------
# PostgreSQL (integration and fault tests): a fresh schema per test
# ---------------------------------------------------------------------------
PG_URL = os.environ.get("MEMGPT_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test")


def _pg_available() -> bool:
    try:
        import psycopg

        with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", connect_timeout=3):
            return True
    except Exception:  # noqa: BLE001
        return False


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A PostgreSQL URL whose search_path is a fresh schema, dropped afterwards."""
    if not _pg_available():
        pytest.skip("PostgreSQL is not reachable at 127.0.0.1:5432 (database test, user postgres)")
    import psycopg

    schema = f"t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    yield f"{PG_URL}?options=-csearch_path%3D{schema}"
    with psycopg.connect("host=127.0.0.1 port=5432 user=postgres dbname=test", autocommit=True) as conn:
        conn.execute(f"DROP SCHEMA {schema} CASCADE")



# --------------------------------------------------------------------------- end PostgreSQL


# ---------------------------------------------------------------------------
# fake_llm: a scripted OpenAI-compatible server (memgpt.testing.fake_llm)
# ---------------------------------------------------------------------------


@pytest.fixture
def fake_llm():
    """A started :class:`memgpt.testing.fake_llm.FakeLLMServer` on an ephemeral port; stopped afterwards.

    Script it with ``fake_llm.queue(FakeReply...)``; point clients at ``fake_llm.base_url``.
    """
    from memgpt.testing.fake_llm import FakeLLMServer

    server = FakeLLMServer()
    server.start()
    try:
        yield server
    finally:
        server.stop()


# --------------------------------------------------------------------------- end fake_llm
