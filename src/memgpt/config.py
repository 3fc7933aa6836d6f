"""Settings and where they live.

Everything is under one home folder, ``~/.memgpt`` unless ``MEMGPT_HOME`` says
otherwise:

    config        INI file with every non-secret setting (``memgpt configure`` writes it)
    credentials   INI file with keys and tokens, created with 0600 permissions
    milvus.db     the default Milvus Lite archival store
    sqlite.db     the default metadata and recall store

A command run before ``memgpt configure`` uses the defaults below instead of
failing. Standard environment variables (``OPENAI_API_KEY``, ``OPENAI_BASE_URL``)
are honoured where the LLM endpoint is resolved (``memgpt.llm.providers``).
"""

from __future__ import annotations

import configparser
import os
from dataclasses import dataclass, field, fields
from pathlib import Path

from memgpt.errors import ConfigError

DEFAULT_EMBEDDING_PROVIDER = "local"
DEFAULT_EMBEDDING_MODEL = "all-MiniLM-L6-v2"


def memgpt_home() -> Path:
    """The folder holding config, credentials and the embedded stores (created on demand)."""
    raw = os.environ.get("MEMGPT_HOME") or "~/.memgpt"
    return Path(raw).expanduser().resolve()


def expand_path(value: str) -> str:
    """Expand ``~`` and environment variables in a local path; URLs pass through."""
    if "://" in value:
        return value
    return str(Path(os.path.expandvars(value)).expanduser())


# (section, key) in the INI file for each Settings field. Secrets live in the
# credentials file under the same names.
_LAYOUT: dict[str, str] = {
    "model_provider": "model",
    "model_endpoint": "model",
    "model": "model",
    "context_window": "model",
    "llm_timeout": "model",
    "model_wrapper": "model",
    "embedding_provider": "embedding",
    "embedding_model": "embedding",
    "embedding_endpoint": "embedding",
    "embedding_dim": "embedding",
    "embedding_batch_size": "embedding",
    "chunk_size": "embedding",
    "chunk_overlap": "embedding",
    "archival_backend": "archival_storage",
    "milvus_uri": "archival_storage",
    "milvus_db_name": "archival_storage",
    "milvus_index": "archival_storage",
    "metadata_backend": "metadata_storage",
    "metadata_uri": "metadata_storage",
    "persona": "defaults",
    "human": "defaults",
    "preset": "defaults",
    "max_heartbeats": "defaults",
}
SECRETS = ("model_api_key", "embedding_api_key", "milvus_token")


@dataclass
class Settings:
    """Every setting, with the defaults a fresh machine runs on."""

    home: Path = field(default_factory=memgpt_home)

    # LLM: any OpenAI-compatible endpoint.
    model_provider: str = "openai"
    model_endpoint: str | None = None  # base URL; None = provider default or OPENAI_BASE_URL
    model: str = "gpt-4o-mini"
    context_window: int | None = None  # None = asked of a local server, else looked up from the model name
    llm_timeout: int | None = None  # seconds per reply, retries included; None = 60 hosted, 600 local
    model_wrapper: str | None = None  # "json": functions in the prompt, one JSON object back (no tool calling)

    # Embeddings: the offline local model by default.
    embedding_provider: str = DEFAULT_EMBEDDING_PROVIDER  # local | openai (any compatible endpoint)
    embedding_model: str = DEFAULT_EMBEDDING_MODEL
    embedding_endpoint: str | None = None
    embedding_dim: int | None = None  # None = the model's own
    embedding_batch_size: int = 32
    chunk_size: int = 254  # tokens; the local model reads at most 256 incl. [CLS]/[SEP]
    chunk_overlap: int = 25

    # Archival storage: Milvus (a local path = Milvus Lite, http(s):// = a server).
    archival_backend: str = "milvus"
    milvus_uri: str = ""  # "" = <home>/milvus.db
    milvus_db_name: str | None = None
    milvus_index: str = "auto"  # auto = FLAT on Lite (exact), HNSW on a server

    # Metadata and recall storage: SQLite file, or a PostgreSQL URL.
    metadata_backend: str = "sqlite"
    metadata_uri: str = ""  # "" = <home>/sqlite.db

    # Agent defaults.
    persona: str = "sam_pov"
    human: str = "basic"
    preset: str = "memgpt_chat"
    max_heartbeats: int = 10

    # Secrets (credentials file, never the config file).
    model_api_key: str | None = None
    embedding_api_key: str | None = None
    milvus_token: str | None = None

    @property
    def config_path(self) -> Path:
        return self.home / "config"

    @property
    def credentials_path(self) -> Path:
        return self.home / "credentials"

    def resolved_milvus_uri(self) -> str:
        return expand_path(self.milvus_uri) if self.milvus_uri else str(self.home / "milvus.db")

    def resolved_metadata_url(self) -> str:
        """A SQLAlchemy URL for the metadata store."""
        uri = self.metadata_uri
        if not uri:
            return f"sqlite:///{self.home / 'sqlite.db'}"
        if uri.startswith(("postgres://", "postgresql://")):
            # Use psycopg 3, the maintained driver, unless one is named.
            scheme, rest = uri.split("://", 1)
            return f"postgresql+psycopg://{rest}"
        if "://" in uri:
            return uri
        return f"sqlite:///{expand_path(uri)}"


def _coerce(name: str, raw: str) -> object:
    kind = {f.name: f.type for f in fields(Settings)}[name]
    if raw == "":
        return None if "None" in str(kind) else raw
    if "int" in str(kind):
        try:
            return int(raw)
        except ValueError as exc:
            raise ConfigError(f"config value {name} = {raw!r} is not a whole number", "run: memgpt configure") from exc
    return raw


def load_settings(home: Path | None = None) -> Settings:
    """Read config and credentials; missing files mean defaults."""
    settings = Settings(home=home or memgpt_home())
    for path, names in ((settings.config_path, _LAYOUT), (settings.credentials_path, dict.fromkeys(SECRETS, "secrets"))):
        if not path.exists():
            continue
        parser = configparser.ConfigParser(interpolation=None)
        try:
            parser.read(path, encoding="utf-8")
        except configparser.Error as exc:
            raise ConfigError(f"cannot parse {path}: {str(exc).splitlines()[0]}", "fix or delete it, then run: memgpt configure") from exc
        except UnicodeDecodeError as exc:
            raise ConfigError(f"cannot parse {path}: not UTF-8 text (byte {exc.start})",
                              "fix or delete it, then run: memgpt configure") from exc
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror or exc}", "check its permissions") from exc
        for name, section in names.items():
            if parser.has_option(section, name):
                setattr(settings, name, _coerce(name, parser.get(section, name)))
    return settings


def save_settings(settings: Settings) -> None:
    """Write config (0644) and credentials (0600); creates the home folder."""
    settings.home.mkdir(mode=0o700, parents=True, exist_ok=True)  # conversation history is private
    config = configparser.ConfigParser(interpolation=None)
    for name, section in _LAYOUT.items():
        value = getattr(settings, name)
        if not config.has_section(section):
            config.add_section(section)
        config.set(section, name, "" if value is None else str(value))
    _write(settings.config_path, config, mode=0o644)

    secrets = configparser.ConfigParser(interpolation=None)
    secrets.add_section("secrets")
    for name in SECRETS:
        value = getattr(settings, name)
        if value:
            secrets.set("secrets", name, value)
    _write(settings.credentials_path, secrets, mode=0o600)


def _write(path: Path, parser: configparser.ConfigParser, mode: int) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        parser.write(fh)
    os.chmod(tmp, mode)  # O_CREAT's mode is masked by umask; be exact
    os.replace(tmp, path)
