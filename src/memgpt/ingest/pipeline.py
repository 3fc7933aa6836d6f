"""``memgpt load``: files → documents → passages → vectors → Milvus + SQL.

Throughput is bounded by the embedding model, so everything else is arranged
around it: Milvus opens in a background thread while files are read, passages
of all files are embedded in large batches (the model sorts them by length to
avoid padding), and each finished file is written by a single writer thread
while the next batch embeds. A file's passages land all or none: its documents are
claimed in SQL first (so two loads of one file never both write it), its rows
go to Milvus and are confirmed there (flush, count), and only then are its SQL
rows committed and the file marked loaded. A failure in between removes only
what this process added; a reload heals a file whose SQL and Milvus counts
differ.
"""

from __future__ import annotations

import hashlib
import os
import socket
import stat
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from memgpt import faults
from memgpt.errors import ConfigError, DiskFullError, EmbeddingMismatchError, InputFileError, MemGPTError, StorageError
from memgpt.ingest.chunking import chunk_text
from memgpt.ingest.readers import read_file
from memgpt.names import check_name
from memgpt.runtime import Runtime
from memgpt.schemas import Document, Passage, Source, stable_id
from memgpt.store.metadata import LOADED

EMBED_WINDOW = 256  # passages embedded per call: big enough to sort by length, small enough to show progress


@dataclass
class LoadReport:
    source: Source
    n_passages: int = 0
    n_documents: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why): already loaded
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)
    storage_failed: bool = False  # a store refused a write (exit 5 rather than 4)


@dataclass
class _File:
    path: Path
    content_hash: str
    documents: list[Document]
    passages: list[Passage]
    n_tokens: list[int]
    embedded: int = 0
    done: bool = False  # recorded as loaded (its claim is no longer this process's to undo)


def _say(msg: str) -> None:
    try:
        from tqdm import tqdm

        tqdm.write(msg, file=sys.stderr)
    except ImportError:  # pragma: no cover
        print(msg, file=sys.stderr)


def get_or_create_source(rt: Runtime, name: str, description: str | None = None) -> Source:
    emb = rt.embedder
    meta = rt.metadata
    source = meta.find_source(rt.user.id, name)
    if source is None:
        check_name("source", name)
        return meta.create_source(rt.user.id, name, emb.model_id, emb.dim, description)
    EmbeddingMismatchError.check(
        f"source {name!r} was embedded with", (source.embedding_model, source.embedding_dim),
        "the configured model is", (emb.model_id, emb.dim),
        "load into a new source name, or configure the original model: memgpt configure --embedding-model ...")
    return source


def load_files(rt: Runtime, name: str, files: Sequence[Path], *, description: str | None = None,
               chunk_size: int | None = None, chunk_overlap: int | None = None, progress: bool = True,
               say: Callable[[str], None] = _say, keep_versions: bool = False,
               on_progress: Callable[[int, int], None] | None = None) -> LoadReport:
    """Load ``files`` into the source ``name`` (created if new, appended to if not).

    A source whose first load failed or was interrupted holds no loaded document: listings and
    pickers leave it out (deleting it here could pull it from under a concurrent load of the same
    name); the next load reuses it and ``memgpt doctor --repair`` removes it.
    """
    from tqdm import tqdm

    settings = rt.settings
    chunk_size = settings.chunk_size if chunk_size is None else chunk_size
    chunk_overlap = settings.chunk_overlap if chunk_overlap is None else chunk_overlap
    check_chunking(chunk_size, chunk_overlap)
    source = get_or_create_source(rt, name, description)
    archival = rt.archival(source.embedding_model, source.embedding_dim)
    claim = claim_token()
    full: list[DiskFullError] = []  # set by the first write that finds the disk full; later files are not tried
    report = LoadReport(source=source)
    pending: list[_File] = []
    try:
        with ThreadPoolExecutor(max_workers=1, thread_name_prefix="memgpt-writer") as writer:
            # Milvus Lite needs ~0.5 s to start its engine: do it while files are read.
            opening: Future = writer.submit(archival.conn.ensure_collection, archival.collection, archival.dim)
            embedder = rt.embedder
            if embedder.max_tokens:
                chunk_size = min(chunk_size, embedder.max_tokens - 2)
            _read_all(rt, source, files, chunk_size, chunk_overlap, report, progress, say,
                      archival, opening, claim, pending)
            # Writes queue behind the open on the writer thread; embedding does not wait for either.
            total = sum(len(f.passages) for f in pending)
            queue = [(f, i) for f in pending for i in range(len(f.passages))]
            writes: list[Future] = []
            bar = tqdm(total=total, desc="Embedding passages", unit="passage",
                       disable=not progress or total == 0, file=sys.stderr)
            done_files = 0
            for start in range(0, len(queue), EMBED_WINDOW):
                window = queue[start:start + EMBED_WINDOW]
                vectors = _embed(embedder, [f.passages[i].text for f, i in window], bar, on_progress)
                for (f, i), vec in zip(window, vectors, strict=True):
                    f.passages[i].embedding = vec
                    f.embedded += 1
                while done_files < len(pending) and pending[done_files].embedded == len(pending[done_files].passages):
                    f = pending[done_files]
                    writes.append(writer.submit(_write_file, rt, archival, f, claim, keep_versions, full))
                    done_files += 1
            bar.close()
            for f, fut in zip(pending, writes, strict=True):
                try:
                    fut.result()
                except MemGPTError as exc:
                    report.storage_failed |= isinstance(exc, StorageError)
                    report.failed.append((str(f.path), exc.one_line()))
                    say(f"Failed {f.path}: {exc.one_line()}")
                    continue
                f.done = True
                report.n_passages += len(f.passages)
                report.n_documents += len(f.documents)
    finally:
        _release_unfinished(rt, archival, pending, claim)
    return report


def _embed(embedder, texts: list[str], bar, on_progress=None) -> list:  # noqa: ANN001 - EmbeddingModel, tqdm
    """Embed in the model's own batch size so the bar (and ``on_progress(done, total)``, which feeds the
    server's job API) moves, and Ctrl-C lands, every batch."""
    step = max(1, int(getattr(embedder, "batch_size", 0) or 64))
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))  # similar lengths share a batch
    out: list = [None] * len(texts)
    for i in range(0, len(order), step):
        part = order[i:i + step]
        for j, vec in zip(part, embedder.embed_batch([texts[j] for j in part]), strict=True):
            out[j] = vec
        bar.update(len(part))
        if on_progress is not None:
            on_progress(bar.n, bar.total)
    return out


def check_chunking(chunk_size: int, chunk_overlap: int) -> None:
    if chunk_size <= 0:
        raise ConfigError(f"--chunk-size must be a positive number of tokens, not {chunk_size}",
                          "try --chunk-size 254")
    if chunk_overlap < 0 or chunk_overlap >= chunk_size:
        raise ConfigError(f"--chunk-overlap must be at least 0 and smaller than the chunk size ({chunk_size}), "
                          f"not {chunk_overlap}", "try --chunk-overlap 25")


def claim_token() -> str:
    """What this process writes into the documents it is loading (host and pid: a dead claim is
    recognisable, and taken over, by the next load on the same host)."""
    return f"loading {socket.gethostname()} {os.getpid()}"


def claim_is_dead(state: str) -> bool:
    parts = state.split()
    if len(parts) != 3 or parts[0] != "loading":
        return False
    if parts[1] != socket.gethostname():
        return False  # another machine's load: cannot tell, leave it alone
    try:
        os.kill(int(parts[2]), 0)
    except ProcessLookupError:
        return True
    except (PermissionError, ValueError):
        return False
    return False


def _release_unfinished(rt: Runtime, archival, pending: list[_File], claim: str) -> None:  # noqa: ANN001
    """Undo this process's claims on files that did not finish (Milvus rows first, then SQL)."""
    for f in pending:
        if f.done:
            continue
        ids = [d.id for d in f.documents]
        try:
            archival.delete_ids([p.id for p in f.passages])
            rt.metadata.release_documents(ids, claim)
        except Exception:  # noqa: BLE001 - the claim stays, dead with this process; the next load heals it
            continue


def _read_all(rt: Runtime, source: Source, files: Sequence[Path], chunk_size: int, chunk_overlap: int,
              report: LoadReport, progress: bool, say: Callable[[str], None], archival,  # noqa: ANN001
              opening: Future, claim: str, pending: list[_File]) -> None:
    """Read, claim and chunk each file into ``pending`` (filled as it goes, so a caller interrupted
    part-way still knows every claim it has to release)."""
    from tqdm import tqdm

    counter = rt.embedder.token_counter()
    seen: dict[str, Path] = {}  # content hash -> first file with it in this load
    for path in tqdm(files, desc="Loading files", unit="file", disable=not progress, file=sys.stderr):
        try:
            _check_regular(path)
            raw = path.read_bytes()
            read = read_file(path)
        except InputFileError as exc:
            report.failed.append((str(path), exc.one_line()))
            say(f"Skipped {exc.one_line()}")
            continue
        except OSError as exc:
            report.failed.append((str(path), exc.strerror or str(exc)))
            say(f"Skipped {path}: {exc.strerror or exc}")
            continue
        encoding = read[0].metadata.get("encoding", "") if read else ""
        if encoding and encoding not in ("utf-8", "utf-8-sig", "ascii"):
            say(f"Read {path} as {encoding} (not UTF-8)")
        digest = hashlib.sha256(raw).hexdigest()
        if digest in seen:
            report.skipped.append((str(path), "same content as another file"))
            say(f"Skipped {path}: same content as {seen[digest]} (loaded once)")
            continue
        seen[digest] = path
        docs = [
            Document(id=stable_id("document", source.id, digest, str(n)), user_id=rt.user.id, source_id=source.id,
                     file_path=str(path.resolve()), text=d.text, metadata=dict(d.metadata))
            for n, d in enumerate(read)
        ]
        if not docs:
            report.failed.append((str(path), "no text to load"))
            say(f"Skipped {path}: no text to load")
            continue
        opening.result()  # claims only once Milvus is known to open (else a claim would block others)
        why = _claim(rt, archival, docs, digest, claim)
        if why:
            report.skipped.append((str(path), why))
            say(f"Skipped {path}: {why} ({source.name!r})")
            continue
        passages: list[Passage] = []
        for doc in docs:
            for k, text in enumerate(chunk_text(doc.text, counter, chunk_size, chunk_overlap)):
                meta = {"file_name": path.name, "chunk_index": k}
                if doc.metadata.get("page") is not None:
                    meta["page"] = doc.metadata["page"]
                passages.append(Passage(id=stable_id("passage", doc.id, str(k)), user_id=rt.user.id, text=text,
                                        source_id=source.id, document_id=doc.id, metadata=meta))
        if not passages:
            rt.metadata.release_documents([d.id for d in docs], claim)
            report.failed.append((str(path), "no text to load"))
            say(f"Skipped {path}: no text to load")
            continue
        pending.append(_File(path, digest, docs, passages, counter.count_batch([p.text for p in passages])))


def check_input_files(paths: Sequence[str]) -> tuple[list[Path], list[tuple[str, str]]]:
    """Split named input files into loadable paths and (path, reason) for the ones that cannot be:
    a missing path or a pipe does not stop the others from loading."""
    ok: list[Path] = []
    bad: list[tuple[str, str]] = []
    for raw in paths:
        p = Path(raw).expanduser()
        try:
            if not p.is_dir():
                _check_regular(p)
            ok.append(p)
        except InputFileError as exc:
            bad.append((raw, exc.one_line()))
    return ok, bad


def _check_regular(path: Path) -> None:
    """Refuse FIFOs, devices and sockets: reading one can block forever."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise InputFileError(f"{path}: no such file", "check the path") from None
    except OSError as exc:
        raise InputFileError(f"{path}: cannot access the file ({exc.strerror or exc})") from None
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise InputFileError(f"{path}: not a regular file (a pipe, device or socket)", "load regular files only")


def _claim(rt: Runtime, archival, docs: list[Document], digest: str, claim: str) -> str | None:  # noqa: ANN001
    """Claim ``docs`` for this process; the reason to skip the file when it cannot be claimed."""
    ids = [d.id for d in docs]
    states = rt.metadata.document_states(ids)
    if states:
        if all(s == LOADED for s in states.values()) and len(states) == len(ids):
            expected = sum(r.n_passages for r in rt.metadata.documents_of(docs[0].source_id) if r.id in states)
            if archival.count_documents(rt.user.id, ids) == expected:
                return "already loaded (same content)"
            # SQL and Milvus disagree (a crash or a full disk in an older version): load it again.
            old = LOADED
        else:
            live = [s for s in states.values() if s != LOADED and not claim_is_dead(s)]
            if live:
                return f"being loaded by another process ({live[0].split()[-1]})"
            old = next(s for s in states.values() if s != LOADED)
        if len(states) != len(ids) or len(set(states.values())) != 1:
            rt.metadata.delete_documents(ids)  # a mixture is only possible after damage: start over
        else:
            archival.delete_documents(rt.user.id, ids)
            if rt.metadata.take_over_documents(ids, old, claim):
                return None
            return "being loaded by another process"
    if not rt.metadata.claim_documents(docs, digest, claim):
        return "being loaded by another process"
    return None


def _write_file(rt: Runtime, archival, f: _File, claim: str, keep_versions: bool,  # noqa: ANN001
                full: list[DiskFullError]) -> None:
    """Milvus first (confirmed by a flush and a count), then the SQL rows that mark the file loaded."""
    if full:
        raise DiskFullError(f"disk full: {f.path.name} not written to {rt.settings.home}", full[0].hint)
    ids = [d.id for d in f.documents]
    faults.point("load:before-milvus")
    try:
        archival.insert(f.passages, flush=True)
    except DiskFullError as exc:
        full.append(exc)
        raise
    faults.point("load:after-milvus")
    have = archival.count_documents(rt.user.id, ids)
    if have != len(f.passages):
        archival.delete_ids([p.id for p in f.passages])
        raise StorageError(f"Milvus confirmed {have} of {len(f.passages)} passages of {f.path.name}")
    try:
        rt.metadata.finish_documents(ids, claim, f.passages, f.n_tokens)
    except MemGPTError:
        raise
    except Exception as exc:
        archival.delete_ids([p.id for p in f.passages])
        if _disk_full_sql(exc):
            full.append(DiskFullError(f"disk full: recording {f.path.name} in {rt.settings.home} failed",
                                      "free space on that disk and run the command again"))
            raise full[-1] from exc
        raise StorageError(f"recording {f.path.name} in the metadata database failed: {_first_line(exc)}") from exc
    f.done = True
    faults.point("load:after-sql")
    if not keep_versions:
        _drop_older_versions(rt, archival, f)


def _drop_older_versions(rt: Runtime, archival, f: _File) -> None:  # noqa: ANN001
    """A changed file replaces what an earlier version of it (same path, other content) loaded."""
    source_id = f.documents[0].source_id
    path = f.documents[0].file_path
    old = [r.id for r in rt.metadata.documents_of(source_id)
           if r.file_path == path and r.content_hash != f.content_hash and r.load_state == LOADED]
    if old:
        archival.delete_documents(rt.user.id, old)
        rt.metadata.delete_documents(old)


def _disk_full_sql(exc: Exception) -> bool:
    text = str(getattr(exc, "orig", None) or exc).lower()
    return "disk is full" in text or "no space left" in text or "could not extend file" in text


def _first_line(exc: Exception) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
