"""Fixtures for tests against real stores: a temp MEMGPT_HOME, Milvus Lite files, SQLite and PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memgpt.config import Settings
from memgpt.runtime import Runtime

SHARED_DOCS = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "docs"


@pytest.fixture
def shared_docs() -> Path:
    if not SHARED_DOCS.is_dir():
        pytest.skip(f"shared documents not found at {SHARED_DOCS} (clone ../shared beside the repo)")
    return SHARED_DOCS


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    home = tmp_path / "memgpt-home"
    monkeypatch.setenv("MEMGPT_HOME", str(home))
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    return home


@pytest.fixture
def settings(home: Path) -> Settings:
    return Settings(home=home)


@pytest.fixture
def runtime(settings: Settings) -> Iterator[Runtime]:
    rt = Runtime(settings)
    yield rt
    rt.close()


@pytest.fixture(params=["sqlite", "postgres"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'meta.db'}"
    return request.getfixturevalue("pg_url")


# ---------------------------------------------------------------------------
# agent and CLI tests (test_agent_loop.py, test_agent_cli.py)
# ---------------------------------------------------------------------------
# Creating a Milvus Lite collection costs ~1.5 s and embedding the MemGPT paper
# with the local model ~9 s, so both are done once per session in a closed
# template home; tests copy its two files (a few hundred kB) into their own.

PAPER_SOURCE = "memgpt_research_paper"


def copy_home(template: Path, dest: Path) -> Path:
    """Copy a closed template MEMGPT_HOME (its SQLite and Milvus Lite files) into ``dest``."""
    import shutil

    dest.mkdir(parents=True, exist_ok=True)
    for name in ("sqlite.db", "milvus.db"):
        shutil.copy2(template / name, dest / name)
    return dest


@pytest.fixture(scope="session")
def base_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A closed template home: SQLite migrated with its user, the default model's Milvus collection created."""
    home = tmp_path_factory.mktemp("base-home")
    rt = Runtime(Settings(home=home))
    try:
        _ = rt.user
        store = rt.archival()
        store.conn.ensure_collection(store.collection, store.dim)
    finally:
        rt.close()
    return home


@pytest.fixture(scope="session")
def paper_home(tmp_path_factory: pytest.TempPathFactory, base_home: Path) -> Path:
    """A closed template home holding ../shared/data/docs/memgpt_paper.pdf loaded as ``memgpt_research_paper``."""
    paper = SHARED_DOCS / "memgpt_paper.pdf"
    if not paper.is_file():
        pytest.skip(f"{paper} not found (clone ../shared beside the repo)")
    from memgpt.ingest.pipeline import load_files

    home = copy_home(base_home, tmp_path_factory.mktemp("paper-home"))
    rt = Runtime(Settings(home=home))
    try:
        report = load_files(rt, PAPER_SOURCE, [paper], progress=False, say=lambda _msg: None)
        assert report.n_passages > 20 and not report.failed
    finally:
        rt.close()
    return home


@pytest.fixture
def agent_home(home: Path, base_home: Path) -> Path:
    """``home`` (MEMGPT_HOME for this test) filled from ``base_home``."""
    return copy_home(base_home, home)


@pytest.fixture
def paper_agent_home(home: Path, paper_home: Path) -> Path:
    """``home`` (MEMGPT_HOME for this test) filled from ``paper_home``."""
    return copy_home(paper_home, home)


def _unscripted(request: dict):  # noqa: ANN202 - returns a FakeReply
    """Answer any request a test did not script with a non-retryable error, so it fails loudly."""
    from memgpt.testing.fake_llm import FakeReply

    return FakeReply.error(400, "test script exhausted: unexpected request", code="unscripted")


@pytest.fixture
def srv():
    """A scripted LLM server that refuses anything the test did not queue."""
    from memgpt.testing.fake_llm import FakeLLMServer

    server = FakeLLMServer(responder=_unscripted)
    server.start()
    try:
        yield server
    finally:
        server.stop()
