"""``memgpt load``, ``list``, ``delete`` and ``add``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from memgpt.config import load_settings
from memgpt.errors import ConfigError, InputFileError, StorageError


def _confirm(question: str, assume_yes: bool) -> bool:
    if assume_yes:
        return True
    if not sys.stdin.isatty():
        raise ConfigError(f"not deleting without confirmation: {question.rstrip('?')} needs a yes, and stdin is "
                          "not a terminal to ask on", "add -y to confirm")
    import questionary

    return bool(questionary.confirm(question, default=False).ask())


def print_table(headers: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)]
    line = "  ".join(h.ljust(w) for h, w in zip(headers, widths))
    print(line)
    print("  ".join("-" * w for w in widths))
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths)))


def _service():  # noqa: ANN202 - memgpt.service.Service
    from memgpt.service import Service

    return Service.local()


def load(args: argparse.Namespace) -> int:
    from memgpt.ingest.pipeline import check_chunking, check_input_files
    from memgpt.ingest.readers import collect_files

    if not args.input_dir and not args.input_files:
        raise ConfigError("nothing to load", "give --input-dir DIR or --input-files FILE [FILE ...]")
    if args.input_dir and args.input_files:
        raise ConfigError("give either --input-dir or --input-files, not both")
    exts = [e.strip() if e.strip().startswith(".") else f".{e.strip()}"
            for e in args.extensions.split(",")] if args.extensions else None
    named, unusable = check_input_files(args.input_files or [])
    if unusable and not named and not args.input_dir:
        raise InputFileError("; ".join(why for _, why in unusable))  # nothing left to load: one line
    for _path, why in unusable:
        print(f"Skipped {why}", file=sys.stderr)
    settings = load_settings()
    check_chunking(settings.chunk_size if args.chunk_size is None else args.chunk_size,
                   settings.chunk_overlap if args.chunk_overlap is None else args.chunk_overlap)
    files = collect_files(input_dir=Path(args.input_dir) if args.input_dir else None,
                          input_files=named or None, recursive=args.recursive, extensions=exts)
    if not files:
        raise InputFileError(f"no loadable files in {args.input_dir}",
                             "check the folder, --recursive, or --extensions")
    svc = _service()
    try:
        result = svc.load_files(args.name, files, description=args.description, chunk_size=args.chunk_size,
                                chunk_overlap=args.chunk_overlap, progress=not args.no_progress,
                                keep_versions=args.keep_versions)
    finally:
        svc.close()
    print(f"Loaded {result.n_passages} passages and {result.n_documents} documents from {args.name}")
    if result.advice:
        print(result.advice)
    if result.storage_failed:
        return StorageError.exit_code
    return InputFileError.exit_code if result.failed or unusable else 0


def list_(args: argparse.Namespace) -> int:
    svc = _service()
    try:
        if args.what in ("personas", "humans", "presets"):
            print_table(["name", "origin", "text"],
                        [[t.name, t.origin, _clip(t.text)] for t in svc.list_texts(args.what.rstrip("s"))])
        elif args.what == "sources":
            print_table(["name", "passages", "documents", "embedding model", "created"], [
                [s.name, str(s.n_passages), str(s.n_documents), f"{s.embedding_model} ({s.embedding_dim}-d)",
                 _day(s.created_at)] for s in svc.list_sources()])
        else:
            print_table(["name", "persona", "human", "model", "sources", "created"], [
                [a.name, a.persona, a.human, a.model or "", ", ".join(a.sources), _day(a.created_at)]
                for a in svc.list_agents()])
    finally:
        svc.close()
    return 0


def _day(iso: str) -> str:
    return iso[:16].replace("T", " ")


def _clip(text: str, width: int = 60) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= width else flat[: width - 1] + "…"


def delete(args: argparse.Namespace) -> int:
    svc = _service()
    try:
        if args.what in ("source", "agent"):
            if args.what == "source":
                svc.get_source(args.name)
            else:
                svc.get_agent(args.name)
            question = (f"Delete source {args.name!r} and its passages?" if args.what == "source"
                        else f"Delete agent {args.name!r} with its memories?")
            if not _confirm(question, args.yes):
                print("Nothing deleted.")
                return 1
            (svc.delete_source if args.what == "source" else svc.delete_agent)(args.name)
        else:
            svc.delete_text(args.what, args.name)
        print(f"Deleted {args.what} {args.name!r}.")
    finally:
        svc.close()
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
    svc = _service()
    try:
        svc.create_text(args.what, args.name, text)
    finally:
        svc.close()
    print(f"Saved {args.what} {args.name!r}.")
    return 0


def export(args: argparse.Namespace) -> int:
    import json

    svc = _service()
    try:
        data = svc.export_agent(args.name)
    finally:
        svc.close()
    text = json.dumps(data, ensure_ascii=False, indent=1)
    if args.output == "-":
        sys.stdout.write(text + "\n")
        return 0
    out = Path(args.output or f"{args.name}.json").expanduser()
    tmp = out.with_name(out.name + ".tmp")
    try:
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)  # never a half-written export under the real name
    except OSError as exc:
        raise InputFileError(f"cannot write {out}: {exc.strerror or exc}", "choose another path with -o") from exc
    print(f"Exported agent {args.name!r} ({len(data['messages'])} messages, {len(data['passages'])} archival "
          f"passages) to {out}")
    return 0


def import_(args: argparse.Namespace) -> int:
    import json

    path = Path(args.file).expanduser()
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputFileError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except ValueError as exc:
        raise InputFileError(f"{path} is not JSON: {exc}", "give a file made by memgpt export agent") from exc
    svc = _service()
    try:
        agent, warnings = svc.import_agent(data, name=args.name)
    finally:
        svc.close()
    for w in warnings:
        print(f"warning: {w}", file=sys.stderr)
    print(f"Imported agent {agent.name!r} (id={agent.id}).")
    return 0


def doctor(args: argparse.Namespace) -> int:
    svc = _service()
    try:
        findings = svc.doctor(repair=args.repair)
    finally:
        svc.close()
    for f in findings:
        print(f.line())
    if not findings:
        print("SQL and Milvus agree for every source and agent.")
    return 1 if any(not f.repaired for f in findings) else 0
