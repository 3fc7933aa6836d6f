"""Fixtures of the fault suite (helpers in faultkit.py); every test here is marked ``faults``."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from memgpt.config import Settings, save_settings


@pytest.fixture
def fhome(tmp_path: Path) -> Path:
    home = tmp_path / "home"
    home.mkdir()
    return home


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def any_home(request: pytest.FixtureRequest, fhome: Path) -> Iterator[Path]:
    """A home on SQLite, or one whose metadata lives in a fresh PostgreSQL schema."""
    if request.param == "postgres":
        url = request.getfixturevalue("pg_url")
        save_settings(Settings(home=fhome, metadata_backend="postgres", metadata_uri=url))
    yield fhome


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.faults)
