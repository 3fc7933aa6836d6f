"""``memgpt`` command line: the parser and error handling.

The parser imports nothing heavy; each command imports what it needs when it
runs, so ``memgpt --help`` starts in a fraction of a second.

Exit codes: 0 success; 1 a command failed; 2 bad usage or configuration;
3 something named does not exist; 4 an input file could not be read; 5 a store
could not be opened or written; 6 embedding models do not match; 7 the
embedding model failed; 8 the LLM endpoint failed; 9 the agent is in use by another
process; 130 interrupted.

A piped or ``-y`` ``memgpt run`` keeps going when a message or slash command
fails (the error is printed) and exits with the code of the last failure, so
scripts can tell; an unknown slash command counts as bad usage (2).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from memgpt import __version__  # a constant in a three-line module: costs nothing
from memgpt.llm.providers import EMBEDDING_PROVIDERS, LLM_PROVIDERS as PROVIDERS  # light: no SDK imports


# Every command also accepts --debug after its name (``memgpt run --debug``, as pymemgpt had it).
# SUPPRESS: when it is not given there, the top-level value stands.
COMMON = argparse.ArgumentParser(add_help=False)
COMMON.add_argument("--debug", action="store_true", default=argparse.SUPPRESS,
                    help="show tracebacks and debug logs")


def _milvus_index(value: str) -> str:
    from memgpt.memory.milvus_conn import normalise_index  # no pymilvus import

    try:
        return normalise_index(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from exc


def _local_model_flags(g: argparse._ActionsContainer) -> None:
    g.add_argument("--model-wrapper", choices=["none", "json"],
                   help="json: list the functions in the prompt and ask for one JSON object (servers or models "
                        "without tool calling)")
    g.add_argument("--llm-timeout", type=int, metavar="SECONDS",
                   help="seconds one reply may take, retries included (default: 60 hosted, 600 local)")


def _configure_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "configure", parents=[COMMON], help="choose the LLM, embeddings and storage (prompts for anything not given as a flag)",
        description="Write ~/.memgpt/config (MEMGPT_HOME overrides). Every prompt has a flag; with --yes or "
                    "when stdin is not a terminal, anything not given keeps its current value or the default.")
    g = p.add_argument_group("LLM")
    g.add_argument("--model-provider", choices=PROVIDERS, help="who serves the model (any OpenAI-compatible host)")
    g.add_argument("--model-endpoint", metavar="URL", help="base URL, e.g. http://localhost:11434/v1 for Ollama")
    g.add_argument("--model", metavar="NAME", help="model name, e.g. gpt-4o-mini or llama3.1")
    g.add_argument("--context-window", type=int, metavar="TOKENS", help="context window (default: known per model)")
    _local_model_flags(g)
    g.add_argument("--model-api-key", metavar="KEY", help="API key (stored in ~/.memgpt/credentials, mode 0600)")
    g = p.add_argument_group("embeddings")
    g.add_argument("--embedding-provider", choices=[p for p in EMBEDDING_PROVIDERS if p != "openai-compatible"],
                   help="local = offline all-MiniLM-L6-v2; others = an OpenAI-compatible /embeddings endpoint")
    g.add_argument("--embedding-model", metavar="NAME")
    g.add_argument("--embedding-endpoint", metavar="URL")
    g.add_argument("--embedding-dim", type=int, metavar="N", help="vector size (default: ask the model)")
    g.add_argument("--embedding-api-key", metavar="KEY")
    g = p.add_argument_group("storage")
    g.add_argument("--archival-storage", choices=["milvus"], help="archival storage backend")
    g.add_argument("--milvus-uri", metavar="URI",
                   help="a file path for embedded Milvus Lite (default ~/.memgpt/milvus.db) or http(s)://host:19530")
    g.add_argument("--milvus-token", metavar="TOKEN", help="Milvus server token or user:password")
    g.add_argument("--milvus-db-name", metavar="NAME", help="Milvus server database name")
    g.add_argument("--milvus-index", metavar="TYPE", type=_milvus_index,
                   help="vector index: auto (FLAT on Milvus Lite; HNSW where the server builds it, else FLAT), "
                        "FLAT, HNSW, IVF_FLAT, IVF_SQ8, DISKANN, AUTOINDEX ...")
    g.add_argument("--metadata-storage", "--recall-storage", dest="metadata_storage",
                   choices=["sqlite", "postgres"], help="where agents, messages and source metadata live")
    g.add_argument("--metadata-uri", metavar="URL",
                   help="SQLite file path (default ~/.memgpt/sqlite.db) or postgresql://user@host/db")
    g = p.add_argument_group("defaults")
    g.add_argument("--persona", metavar="NAME")
    g.add_argument("--human", metavar="NAME")
    g.add_argument("--preset", metavar="NAME")
    p.add_argument("-y", "--yes", action="store_true", help="never prompt; keep current values for anything not given")


def _load_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("load", parents=[COMMON], help="load documents into a named data source (archival passages)")
    lsub = p.add_subparsers(dest="connector", metavar="CONNECTOR", required=True)
    d = lsub.add_parser(
        "directory", parents=[COMMON], help="load files or a folder",
        description="Read PDF (one document per page), txt, md, html, docx, pptx, epub, csv and json files, split "
                    "them into token-sized passages, embed them and store them in Milvus under the source NAME. "
                    "Loading into an existing source appends; a file already loaded is skipped.")
    d.add_argument("--name", required=True, help="source name (created if new)")
    d.add_argument("--input-dir", metavar="DIR", help="folder to load")
    d.add_argument("--input-files", nargs="+", metavar="FILE", help="files to load")
    d.add_argument("--recursive", action="store_true", help="include sub-folders of --input-dir")
    d.add_argument("--extensions", metavar=".pdf,.md,...", help="only these file endings from --input-dir")
    d.add_argument("--description", metavar="TEXT", help="what the source holds")
    d.add_argument("--chunk-size", type=int, metavar="TOKENS", help="passage size in tokens (default from config)")
    d.add_argument("--chunk-overlap", type=int, metavar="TOKENS", help="tokens shared by neighbouring passages")
    d.add_argument("--keep-versions", action="store_true",
                   help="keep the passages of an earlier version of a changed file (default: replace them)")
    d.add_argument("--no-progress", action="store_true", help="no progress bars")


def _run_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "run", parents=[COMMON], help="chat with an agent (creates one, or resumes it by --agent NAME)",
        description="Start the chat REPL. Type /help inside for the slash commands. Reads piped stdin too.")
    p.add_argument("--agent", metavar="NAME", help="agent to resume, or to create if the name is new")
    p.add_argument("--persona", metavar="NAME", help="persona for a new agent (see: memgpt list personas)")
    p.add_argument("--human", metavar="NAME", help="human profile for a new agent (see: memgpt list humans)")
    p.add_argument("--preset", metavar="NAME", help="system prompt preset for a new agent (see: memgpt list presets)")
    p.add_argument("--model", metavar="NAME", help="LLM model for this run")
    p.add_argument("--model-endpoint", metavar="URL", help="OpenAI-compatible base URL for this run")
    p.add_argument("--model-endpoint-type", choices=PROVIDERS, metavar="TYPE", help="provider of the endpoint")
    p.add_argument("--context-window", type=int, metavar="TOKENS")
    _local_model_flags(p)
    p.add_argument("--first", action="store_true", help="you speak first (default: the agent greets you)")
    p.add_argument("--no-verify", action="store_true", help="skip the endpoint check at start")
    p.add_argument("-y", "--yes", action="store_true", help="never prompt: create a new agent with defaults")
    p.add_argument("--core-memory-limit", type=int, metavar="CHARS",
                   help="character limit of each core memory block of a new agent (default 2000)")
    p.add_argument("--strip-ui", action="store_true", help="plain-text output: no emoji markers")
    p.add_argument("--stream", action="store_true",
                   help="accepted for pymemgpt compatibility; replies are shown whole, not token by token")


def _list_delete_add_parsers(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("list", parents=[COMMON], help="list sources, agents, personas, humans or presets")
    p.add_argument("what", choices=["sources", "agents", "personas", "humans", "presets"])
    p = sub.add_parser("delete", parents=[COMMON], help="delete a source (its passages leave Milvus too), agent, persona or human")
    p.add_argument("what", choices=["source", "agent", "persona", "human"])
    p.add_argument("name")
    p.add_argument("-y", "--yes", action="store_true", help="do not ask for confirmation")
    p = sub.add_parser("add", parents=[COMMON], help="add a persona or human profile")
    p.add_argument("what", choices=["persona", "human"])
    p.add_argument("--name", required=True)
    src = p.add_mutually_exclusive_group(required=True)
    src.add_argument("--text", help="the text")
    src.add_argument("-f", "--file", help="read the text from a file")
    p = sub.add_parser("doctor", parents=[COMMON], help="compare SQL with Milvus for every source and agent; --repair fixes differences",
                       description="Lists every difference between what SQL records and what Milvus holds "
                                   "(interrupted loads, missing or stray passages, empty sources). Exit codes: "
                                   "0 everything agrees (or was repaired), 1 differences remain, 5 a store cannot "
                                   "be opened.")
    p.add_argument("--repair", action="store_true",
                   help="remove partial and stray rows (files to load again are listed)")
    sub.add_parser("version", parents=[COMMON], help="print the version")
    p = sub.add_parser("export", parents=[COMMON], help="export an agent (state, memory, messages) to one JSON file")
    p.add_argument("what", choices=["agent"])
    p.add_argument("name", help="the agent to export")
    p.add_argument("-o", "--output", metavar="FILE", help="file to write (default: NAME.json; - for stdout)")
    p = sub.add_parser("import", parents=[COMMON], help="import an agent from a file made by memgpt export")
    p.add_argument("file", metavar="FILE")
    p.add_argument("--name", help="name for the imported agent (default: its exported name)")


def _server_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "server", parents=[COMMON], help="serve agents over a REST API with API keys (needs the server extra)",
        description="Serve the REST API (OpenAPI at /docs). The admin key comes from MEMGPT_SERVER_PASS or is "
                    "generated at first start and shown once; POST /admin/users with it creates users and their "
                    "keys. Several workers can share PostgreSQL and a Milvus server (not a Milvus Lite file).")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, default=8283, help="port (default 8283)")
    p.add_argument("--lock-wait", type=float, default=30.0, metavar="SECONDS",
                   help="how long a message waits for its agent when another request is stepping it (then 409)")
    p.add_argument("--max-upload-mb", type=int, default=100, metavar="MB", help="largest upload accepted")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="memgpt",
        description="Stateful LLM agents that manage their own memory (core, recall, and archival in Milvus).",
        epilog="Start with: memgpt configure, then memgpt load directory --name NAME --input-files FILE, "
               "then memgpt run.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logs (also after a command)")
    parser.add_argument("--version", action="version", version=__version__)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _configure_parser(sub)
    _load_parser(sub)
    _run_parser(sub)
    _list_delete_add_parsers(sub)
    _server_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    from memgpt.errors import MemGPTError

    try:
        return _dispatch(args) or 0
    except MemGPTError as exc:
        if args.debug:
            raise
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # noqa: BLE001 - last resort: one line, traceback under --debug
        if args.debug:
            raise
        print(f"error: unexpected {type(exc).__name__}: {exc} (run again with --debug for the traceback)",
              file=sys.stderr)
        return 1


def _dispatch(args: argparse.Namespace) -> int | None:
    if args.command == "version":
        from memgpt import __version__

        print(__version__)
        return 0
    if args.command == "configure":
        from memgpt.cli.configure import configure

        return configure(args)
    if args.command == "run":
        from memgpt.cli.run import run

        return run(args)
    if args.command == "server":
        from memgpt.server import serve

        return serve(args.host, args.port, lock_wait=args.lock_wait, max_upload_mb=args.max_upload_mb)
    from memgpt.cli import data

    return {"load": data.load, "list": data.list_, "delete": data.delete, "add": data.add,
            "export": data.export, "import": data.import_, "doctor": data.doctor}[args.command](args)
