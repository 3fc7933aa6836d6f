"""Settings files, `memgpt configure` flags and non-interactive behaviour, and lazy start-up."""

from __future__ import annotations

import io
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from memgpt.cli.main import main
from memgpt.config import Settings, load_settings, memgpt_home, save_settings
from memgpt.errors import ConfigError


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    h = tmp_path / "nested" / "home"
    monkeypatch.setenv("MEMGPT_HOME", str(h))
    monkeypatch.setattr(sys, "stdin", io.StringIO(""))  # not a TTY
    return h


def test_defaults_before_configure(home: Path) -> None:
    s = load_settings()
    assert s.home == home
    assert s.resolved_milvus_uri() == str(home / "milvus.db")
    assert s.resolved_metadata_url() == f"sqlite:///{home / 'sqlite.db'}"
    assert (s.embedding_provider, s.embedding_model, s.archival_backend) == ("local", "all-MiniLM-L6-v2", "milvus")
    assert not home.exists()  # reading settings creates nothing


def test_configure_flags_and_secret_file(home: Path, capsys: pytest.CaptureFixture) -> None:
    code = main(["configure", "--model-provider", "ollama", "--model", "llama3.1", "--context-window", "8192",
                 "--model-api-key", "sk-secret", "--milvus-uri", "http://milvus.local:19530",
                 "--milvus-token", "root:Milvus", "--milvus-db-name", "agents"])
    assert code == 0
    s = load_settings()
    assert (s.model_provider, s.model, s.context_window) == ("ollama", "llama3.1", 8192)
    assert (s.milvus_uri, s.milvus_token, s.milvus_db_name) == ("http://milvus.local:19530", "root:Milvus", "agents")
    assert s.model_api_key == "sk-secret"
    config_text = (home / "config").read_text()
    assert "sk-secret" not in config_text and "root:Milvus" not in config_text
    mode = stat.S_IMODE((home / "credentials").stat().st_mode)
    assert mode == 0o600
    # A second run without flags keeps everything (non-TTY stdin takes current values, no prompt).
    assert main(["configure"]) == 0
    assert load_settings().model == "llama3.1"
    assert "Saved configuration" in capsys.readouterr().out


def test_tilde_and_postgres_urls(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(home.parent))
    assert main(["configure", "--milvus-uri", "~/data/m.db", "--metadata-uri", "postgresql://me@db/x"]) == 0
    s = load_settings()
    assert s.resolved_milvus_uri() == str(home.parent / "data" / "m.db")
    assert s.metadata_backend == "postgres"
    assert s.resolved_metadata_url() == "postgresql+psycopg://me@db/x"


def test_bad_values_are_one_line(home: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["configure", "--metadata-storage", "postgres"]) == 2
    assert "postgres metadata storage needs a URL" in capsys.readouterr().err
    home.mkdir(parents=True)
    (home / "config").write_text("[model]\ncontext_window = lots\n")
    with pytest.raises(ConfigError, match="context_window"):
        load_settings()
    (home / "config").write_text("this is not ini")
    assert main(["list", "sources"]) == 2
    assert "cannot parse" in capsys.readouterr().err


def test_round_trip(tmp_path: Path) -> None:
    s = Settings(home=tmp_path / "h", model="gpt-4o", embedding_dim=None, max_heartbeats=3)
    save_settings(s)
    back = load_settings(tmp_path / "h")
    assert (back.model, back.embedding_dim, back.max_heartbeats) == ("gpt-4o", None, 3)


def test_memgpt_home_expands(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("MEMGPT_HOME", "~/mg")
    assert memgpt_home() == tmp_path / "mg"


def test_help_imports_nothing_heavy() -> None:
    """`memgpt --help` must start fast: none of the heavy libraries may load for it."""
    code = ("import sys; from memgpt.cli.main import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "heavy = [m for m in ('numpy', 'sqlalchemy', 'pymilvus', 'openai', 'tokenizers', 'pypdfium2', 'tqdm',"
            " 'questionary') if m in sys.modules]\nprint('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_cli_provider_choices_match_the_provider_table() -> None:
    from memgpt.cli.main import PROVIDERS as cli_choices
    from memgpt.llm.providers import PROVIDERS, get_provider

    assert set(PROVIDERS) - {"tei"} <= set(cli_choices)  # tei serves embeddings only
    for name in cli_choices:
        assert get_provider(name).name in PROVIDERS


def test_choosing_a_provider_suggests_its_model(home: Path) -> None:
    assert main(["configure", "--model-provider", "ollama"]) == 0
    assert load_settings().model == "llama3.1"
    assert main(["configure", "--model-provider", "groq", "--model", "mixtral-8x7b"]) == 0
    assert load_settings().model == "mixtral-8x7b"  # a named model is kept
    assert main(["configure", "--model-provider", "openai"]) == 0
    assert load_settings().model == "mixtral-8x7b"  # only OpenAI's untouched default is replaced


@pytest.mark.parametrize("argv", [["--debug", "list", "sources"], ["list", "sources", "--debug"],
                                  ["run", "--debug"], ["load", "directory", "--name", "x", "--debug"],
                                  ["configure", "--debug"], ["version", "--debug"]])
def test_debug_is_accepted_before_or_after_the_command(argv: list[str]) -> None:
    from memgpt.cli.main import build_parser

    assert build_parser().parse_args(argv).debug is True


def test_debug_defaults_off_and_version_flag(capsys: pytest.CaptureFixture) -> None:
    from memgpt import __version__
    from memgpt.cli.main import build_parser

    assert build_parser().parse_args(["run"]).debug is False
    with pytest.raises(SystemExit) as exit_:
        main(["--version"])
    assert exit_.value.code == 0 and capsys.readouterr().out.strip() == __version__


def test_pymemgpt_run_flags_parse() -> None:
    from memgpt.cli.main import build_parser

    args = build_parser().parse_args(["run", "--strip-ui", "--stream", "--core-memory-limit", "900", "--debug"])
    assert (args.strip_ui, args.stream, args.core_memory_limit, args.debug) == (True, True, 900, True)


def test_switching_provider_resets_the_endpoint_unless_one_is_given(home: Path) -> None:
    assert main(["configure", "-y", "--model-endpoint", "http://10.0.0.5:8000/v1"]) == 0
    assert main(["configure", "-y", "--model-provider", "openai"]) == 0
    assert load_settings().model_endpoint == "http://10.0.0.5:8000/v1"  # same provider: kept
    assert main(["configure", "-y", "--model-provider", "ollama"]) == 0
    assert load_settings().model_endpoint is None  # Ollama's default applies, not the old host
    assert main(["configure", "-y", "--model-provider", "vllm", "--model-endpoint", "http://gpu:8000/v1"]) == 0
    assert load_settings().model_endpoint == "http://gpu:8000/v1"


def test_a_mistyped_persona_or_human_is_refused_when_set(home: Path, capsys: pytest.CaptureFixture) -> None:
    assert main(["configure", "-y", "--persona", "memgpt_doc", "--human", "cs_phd"]) == 0
    assert main(["configure", "-y", "--persona", "sam_povv"]) == 3
    err = capsys.readouterr().err.strip()
    assert err.startswith("error: no persona named 'sam_povv'") and "sam_pov" in err and "\n" not in err
    assert load_settings().persona == "memgpt_doc"  # nothing was saved
    assert main(["configure", "-y", "--human", "nobody"]) == 3
    assert main(["add", "human", "--name", "nobody", "--text", "A person with no name."]) == 0
    assert main(["configure", "-y", "--human", "nobody"]) == 0  # user-added texts count
    assert load_settings().human == "nobody"
