"""``memgpt load``: files → documents → passages → vectors → Milvus + SQL.

Throughput is bounded by the embedding model, so everything else is arranged
around it: Milvus opens in a background thread while files are read, passages
of all files are embedded in large batches (the model sorts them by length to
avoid padding), and each finished file is written by a single writer thread
while the next batch embeds. A file's passages land all or none: its rows go
to Milvus first and its SQL rows are committed last, and a failure in between
removes what Milvus took.
"""

from __future__ import annotations

import hashlib
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from memgpt.errors import EmbeddingMismatchError, InputFileError, MemGPTError, StorageError
from memgpt.ingest.chunking import chunk_text
from memgpt.ingest.readers import read_file
from memgpt.runtime import Runtime
from memgpt.schemas import Document, Passage, Source, stable_id
from memgpt.tokens import default_counter

EMBED_WINDOW = 256  # passages embedded per call: big enough to sort by length, small enough to show progress


@dataclass
class LoadReport:
    source: Source
    n_passages: int = 0
    n_documents: int = 0
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (file, why): already loaded
    failed: list[tuple[str, str]] = field(default_factory=list)  # (file, reason)


@dataclass
class _File:
    path: Path
    content_hash: str
    documents: list[Document]
    passages: list[Passage]
    n_tokens: list[int]
    embedded: int = 0


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
        return meta.create_source(rt.user.id, name, emb.model_id, emb.dim, description)
    EmbeddingMismatchError.check(
        f"source {name!r} was embedded with", (source.embedding_model, source.embedding_dim),
        "the configured model is", (emb.model_id, emb.dim),
        "load into a new source name, or configure the original model: memgpt configure --embedding-model ...")
    return source


def load_files(rt: Runtime, name: str, files: Sequence[Path], *, description: str | None = None,
               chunk_size: int | None = None, chunk_overlap: int | None = None, progress: bool = True,
               say: Callable[[str], None] = _say) -> LoadReport:
    """Load ``files`` into the source ``name`` (created if new, appended to if not)."""
    from tqdm import tqdm

    settings = rt.settings
    chunk_size = chunk_size or settings.chunk_size
    chunk_overlap = settings.chunk_overlap if chunk_overlap is None else chunk_overlap
    source = get_or_create_source(rt, name, description)
    archival = rt.archival(source.embedding_model, source.embedding_dim)

    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="memgpt-writer") as writer:
        # Milvus Lite needs ~0.5 s to start its engine: do it while files are read.
        opening: Future = writer.submit(archival.conn.ensure_collection, archival.collection, archival.dim)
        embedder = rt.embedder
        if embedder.max_tokens:
            chunk_size = min(chunk_size, embedder.max_tokens - 2)
        report = LoadReport(source=source)
        pending = _read_all(rt, source, files, chunk_size, chunk_overlap, report, progress, say)
        # Writes queue behind the open on the writer thread; embedding does not wait for either.

        total = sum(len(f.passages) for f in pending)
        queue = [(f, i) for f in pending for i in range(len(f.passages))]
        writes: list[Future] = []
        bar = tqdm(total=total, desc="Embedding passages", unit="passage", disable=not progress or total == 0,
                   file=sys.stderr)
        done_files = 0
        for start in range(0, len(queue), EMBED_WINDOW):
            window = queue[start:start + EMBED_WINDOW]
            vectors = embedder.embed_batch([f.passages[i].text for f, i in window])
            for (f, i), vec in zip(window, vectors, strict=True):
                f.passages[i].embedding = vec
                f.embedded += 1
            bar.update(len(window))
            while done_files < len(pending) and pending[done_files].embedded == len(pending[done_files].passages):
                writes.append(writer.submit(_write_file, rt, archival, pending[done_files]))
                done_files += 1
        bar.close()
        opening.result()  # raises the one-line storage error if Milvus could not be opened
        for f, fut in zip(pending, writes, strict=True):
            try:
                fut.result()
            except MemGPTError as exc:
                report.failed.append((str(f.path), exc.one_line()))
                say(f"Failed {f.path}: {exc.one_line()}")
                continue
            report.n_passages += len(f.passages)
            report.n_documents += len(f.documents)
    return report


def _read_all(rt: Runtime, source: Source, files: Sequence[Path], chunk_size: int, chunk_overlap: int,
              report: LoadReport, progress: bool, say: Callable[[str], None]) -> list[_File]:
    from tqdm import tqdm

    counter = rt.embedder.token_counter()
    pending: list[_File] = []
    for path in tqdm(files, desc="Loading files", unit="file", disable=not progress, file=sys.stderr):
        try:
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
        digest = hashlib.sha256(raw).hexdigest()
        docs = [
            Document(id=stable_id("document", source.id, digest, str(n)), user_id=rt.user.id, source_id=source.id,
                     file_path=str(path.resolve()), text=d.text, metadata=dict(d.metadata))
            for n, d in enumerate(read)
        ]
        if docs and rt.metadata.existing_document_ids([d.id for d in docs]):
            report.skipped.append((str(path), "already loaded"))
            say(f"Skipped {path}: already loaded into {source.name!r} (same content)")
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
            report.failed.append((str(path), "no text to load"))
            say(f"Skipped {path}: no text to load")
            continue
        pending.append(_File(path, digest, docs, passages, counter.count_batch([p.text for p in passages])))
    return pending


def _write_file(rt: Runtime, archival, f: _File) -> None:  # noqa: ANN001 - MilvusArchivalStore
    archival.insert(f.passages)
    try:
        rt.metadata.add_documents(f.documents, f.content_hash, f.passages, f.n_tokens)
    except Exception as exc:
        archival.delete_ids([p.id for p in f.passages])
        raise StorageError(f"recording {f.path.name} in the metadata database failed: {exc}") from exc
