"""``memgpt load``, ``list``, ``delete`` and ``add``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from memgpt.config import load_settings
from memgpt.errors import ConfigError, InputFileError, NotFoundError
from memgpt.runtime import Runtime
from memgpt.schemas import Source


def _confirm(question: str, assume_yes: bool) -> bool:
    if assume_yes or not sys.stdin.isatty():
        return True
    import questionary

    return bool(questionary.confirm(question, default=False).ask())


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


def load(args: argparse.Namespace) -> int:
    from memgpt.ingest.pipeline import load_files
    from memgpt.ingest.readers import collect_files

    if not args.input_dir and not args.input_files:
        raise ConfigError("nothing to load", "give --input-dir DIR or --input-files FILE [FILE ...]")
    if args.input_dir and args.input_files:
        raise ConfigError("give either --input-dir or --input-files, not both")
    exts = [e.strip() if e.strip().startswith(".") else f".{e.strip()}"
            for e in args.extensions.split(",")] if args.extensions else None
    files = collect_files(input_dir=Path(args.input_dir) if args.input_dir else None,
                          input_files=[Path(f) for f in args.input_files] if args.input_files else None,
                          recursive=args.recursive, extensions=exts)
    if not files:
        raise InputFileError(f"no loadable files in {args.input_dir}",
                             "check the folder, --recursive, or --extensions")
    rt = Runtime(load_settings())
    try:
        report = load_files(rt, args.name, files, description=args.description, chunk_size=args.chunk_size,
                            chunk_overlap=args.chunk_overlap, progress=not args.no_progress)
        advice = source_language_advice(rt, report.source) if report.n_passages else None
    finally:
        rt.close()
    print(f"Loaded {report.n_passages} passages and {report.n_documents} documents from {args.name}")
    if advice:
        print(advice)
    return InputFileError.exit_code if report.failed else 0


def source_language_advice(rt: Runtime, source: Source) -> str | None:
    """The multilingual model recommended in one line when a source's passages are mostly CJK."""
    from memgpt.embeddings import local_model_name, multilingual_advice
    from memgpt.memory.archival import Scope

    if local_model_name(source.embedding_model) != "all-MiniLM-L6-v2":
        return None  # already another model: nothing to recommend, no passage to read
    store = rt.archival(source.embedding_model, source.embedding_dim)
    return multilingual_advice(store.sample_texts(Scope(source.user_id, source_ids=[source.id])),
                               source.embedding_model)


def list_(args: argparse.Namespace) -> int:
    if args.what in ("personas", "humans", "presets"):
        from memgpt.agent import library

        rt = Runtime(load_settings())
        try:
            rows = library.list_texts(rt, args.what.rstrip("s"))
        finally:
            rt.close()
        print_table(["name", "origin", "text"], [[n, origin, _clip(text)] for n, origin, text in rows])
        return 0
    rt = Runtime(load_settings())
    try:
        if args.what == "sources":
            stats = rt.metadata.list_sources(rt.user.id)
            print_table(["name", "passages", "documents", "embedding model", "created"], [
                [s.source.name, str(s.n_passages), str(s.n_documents),
                 f"{s.source.embedding_model} ({s.source.embedding_dim}-d)",
                 s.source.created_at.strftime("%Y-%m-%d %H:%M")] for s in stats])
        else:
            from memgpt.store.agents import AgentStore

            agents = AgentStore(rt.metadata.engine).list(rt.user.id)
            print_table(["name", "persona", "human", "model", "sources", "created"], [
                [a.name, a.persona, a.human, a.llm_config.get("model", ""), ", ".join(a.source_names),
                 a.created_at.strftime("%Y-%m-%d %H:%M")] for a in agents])
    finally:
        rt.close()
    return 0


def _clip(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def delete(args: argparse.Namespace) -> int:
    rt = Runtime(load_settings())
    try:
        if args.what == "source":
            source = rt.metadata.get_source(rt.user.id, args.name)
            if not _confirm(f"Delete source {args.name!r} and its passages?", args.yes):
                print("Nothing deleted.")
                return 1
            from memgpt.memory.archival import Scope

            # Milvus first: if it fails, the SQL rows remain and the command can be repeated.
            rt.archival(source.embedding_model, source.embedding_dim).delete(
                Scope(user_id=rt.user.id, source_ids=[source.id]))
            rt.metadata.delete_source(source.id)
            print(f"Deleted source {args.name!r}.")
        elif args.what == "agent":
            from memgpt.store.agents import AgentStore

            store = AgentStore(rt.metadata.engine)
            agent = store.find(rt.user.id, args.name)
            if agent is None:
                raise NotFoundError(f"no agent named {args.name!r}", "see the list with: memgpt list agents")
            if not _confirm(f"Delete agent {args.name!r} with its memories?", args.yes):
                print("Nothing deleted.")
                return 1
            from memgpt.memory.archival import Scope

            rt.archival(agent.embedding_model, agent.embedding_dim).delete(
                Scope(user_id=rt.user.id, agent_id=agent.id))
            store.delete(agent.id)
            print(f"Deleted agent {args.name!r}.")
        else:
            if not rt.metadata.delete_template(rt.user.id, args.what, args.name):
                raise NotFoundError(f"no user-added {args.what} named {args.name!r}",
                                    f"built-in ones cannot be deleted; see: memgpt list {args.what}s")
            print(f"Deleted {args.what} {args.name!r}.")
    finally:
        rt.close()
    return 0


def add(args: argparse.Namespace) -> int:
    if args.file:
        path = Path(args.file).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputFileError(f"cannot read {path}: {getattr(exc, 'strerror', None) or exc}") from exc
    else:
        text = args.text
    if not text.strip():
        raise ConfigError(f"the {args.what} text is empty")
    rt = Runtime(load_settings())
    try:
        rt.metadata.put_template(rt.user.id, args.what, args.name, text.strip())
    finally:
        rt.close()
    print(f"Saved {args.what} {args.name!r}.")
    return 0
