"""Users, sources, documents, passage metadata and user-added templates in SQL."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone

from sqlalchemy import Engine, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from memgpt.errors import NotFoundError, StorageError
from memgpt.schemas import Document, Passage, Source, User, new_id, stable_id, utcnow
from memgpt.store import tables as t
from memgpt.store.sql import insert_ignoring

DEFAULT_USER = "default"


def aware(value: datetime) -> datetime:
    """SQLite hands datetimes back without a zone; everything stored is UTC."""
    return value if value.tzinfo else value.replace(tzinfo=timezone.utc)


LOADED = "loaded"


@dataclass
class DocumentRow:
    id: str
    file_path: str
    content_hash: str
    load_state: str
    n_passages: int


@dataclass
class SourceStats:
    source: Source
    n_documents: int
    n_passages: int


class MetadataStore:
    """The relational side of storage; one instance per engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # users ---------------------------------------------------------------
    def get_or_create_user(self, name: str = DEFAULT_USER) -> User:
        with self.engine.begin() as conn:
            row = conn.execute(select(t.users).where(t.users.c.name == name)).first()
            if row:
                return User(id=row.id, name=row.name, created_at=aware(row.created_at))
            user = User(id=stable_id("user", name), name=name)
            try:
                conn.execute(insert(t.users).values(id=user.id, name=user.name, created_at=user.created_at))
            except IntegrityError:  # created concurrently
                pass
            return user

    # sources -------------------------------------------------------------
    def create_source(self, user_id: str, name: str, embedding_model: str, embedding_dim: int,
                      description: str | None = None) -> Source:
        """A new source; if another process created one of this name a moment ago, that one."""
        src = Source(id=new_id("source"), user_id=user_id, name=name, embedding_model=embedding_model,
                     embedding_dim=embedding_dim, description=description)
        with self.engine.begin() as conn:
            won = insert_ignoring(conn, t.sources, [dict(
                id=src.id, user_id=user_id, name=name, description=description,
                embedding_model=embedding_model, embedding_dim=embedding_dim, created_at=src.created_at)])
        return src if won else self.get_source(user_id, name)

    def find_source(self, user_id: str, name: str) -> Source | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.sources).where(
                t.sources.c.user_id == user_id, t.sources.c.name == name)).first()
        return _source(row) if row else None

    def get_source(self, user_id: str, name: str) -> Source:
        src = self.find_source(user_id, name)
        if src is None:
            raise NotFoundError(f"no source named {name!r}", "see the list with: memgpt list sources")
        return src

    def source_by_id(self, source_id: str) -> Source | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(t.sources).where(t.sources.c.id == source_id)).first()
        return _source(row) if row else None

    def list_sources(self, user_id: str, include_empty: bool = False) -> list[SourceStats]:
        """Sources with their loaded documents and passages. A source without one loaded document
        (its first load failed, was interrupted, or is still running) is left out unless asked for."""
        n_docs = (select(t.documents.c.source_id, func.count().label("n"))
                  .where(t.documents.c.load_state == LOADED).group_by(t.documents.c.source_id).subquery())
        n_pass = (select(t.passages.c.source_id, func.count().label("n"))
                  .group_by(t.passages.c.source_id).subquery())
        query = (select(t.sources, n_docs.c.n.label("n_docs"), n_pass.c.n.label("n_pass"))
                 .outerjoin(n_docs, n_docs.c.source_id == t.sources.c.id)
                 .outerjoin(n_pass, n_pass.c.source_id == t.sources.c.id)
                 .where(t.sources.c.user_id == user_id)
                 .order_by(t.sources.c.created_at))
        with self.engine.connect() as conn:
            stats = [SourceStats(_source(r), r.n_docs or 0, r.n_pass or 0) for r in conn.execute(query)]
        return [s for s in stats if include_empty or s.n_documents]

    def delete_source(self, source_id: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(t.agent_sources).where(t.agent_sources.c.source_id == source_id))
            conn.execute(delete(t.passages).where(t.passages.c.source_id == source_id))
            conn.execute(delete(t.documents).where(t.documents.c.source_id == source_id))
            conn.execute(delete(t.sources).where(t.sources.c.id == source_id))

    # documents and passages ---------------------------------------------
    # A file is loaded in three steps: its documents are claimed (rows inserted with ON CONFLICT DO
    # NOTHING, ``load_state`` naming the claiming process), its passages go to Milvus and are
    # confirmed there, then its passage rows go in and the claim becomes "loaded" in one
    # transaction. Two loads of one file never both win a claim, and a rollback only deletes rows
    # whose claim names its own process.
    def existing_document_ids(self, ids: Iterable[str]) -> set[str]:
        return set(self.document_states(ids))

    def document_states(self, ids: Iterable[str]) -> dict[str, str]:
        ids = list(ids)
        if not ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.documents.c.id, t.documents.c.load_state).where(t.documents.c.id.in_(ids)))
            return {r.id: r.load_state for r in rows}

    def claim_documents(self, docs: Sequence[Document], content_hash: str, claim: str) -> bool:
        """Insert ``docs`` marked with ``claim``; False (and nothing kept) if any of them exists already."""
        now = utcnow()
        with self.engine.begin() as conn:
            won = insert_ignoring(conn, t.documents, [
                {"id": d.id, "user_id": d.user_id, "source_id": d.source_id, "file_path": d.file_path,
                 "content_hash": content_hash, "metadata": d.metadata, "n_chars": len(d.text),
                 "created_at": now, "load_state": claim} for d in docs])
            if won == len(docs):
                return True
        self.release_documents([d.id for d in docs], claim)
        return False

    def release_documents(self, ids: Sequence[str], claim: str) -> None:
        """Forget documents (and their passage rows) that ``claim`` holds; others' rows are untouched."""
        if not ids:
            return
        with self.engine.begin() as conn:
            mine = select(t.documents.c.id).where(t.documents.c.id.in_(list(ids)), t.documents.c.load_state == claim)
            conn.execute(delete(t.passages).where(t.passages.c.document_id.in_(mine)))
            conn.execute(delete(t.documents).where(t.documents.c.id.in_(list(ids)),
                                                   t.documents.c.load_state == claim))

    def take_over_documents(self, ids: Sequence[str], old_state: str, claim: str) -> bool:
        """Move documents from a dead (or damaged) claim to ``claim``, dropping their passage rows."""
        with self.engine.begin() as conn:
            res = conn.execute(update(t.documents).where(t.documents.c.id.in_(list(ids)),
                                                        t.documents.c.load_state == old_state)
                               .values(load_state=claim))
            if res.rowcount != len(ids):
                return False
            conn.execute(delete(t.passages).where(t.passages.c.document_id.in_(list(ids))))
            return True

    def finish_documents(self, ids: Sequence[str], claim: str, passages: Sequence[Passage],
                         n_tokens: Sequence[int]) -> None:
        """Record a file's passages and mark its claimed documents loaded, in one transaction."""
        with self.engine.begin() as conn:
            res = conn.execute(update(t.documents).where(t.documents.c.id.in_(list(ids)),
                                                        t.documents.c.load_state == claim)
                               .values(load_state=LOADED))
            if res.rowcount != len(ids):
                raise StorageError("another process took over this file's load; its rows were left to it")
            self._insert_passages(conn, passages, n_tokens)

    def add_documents(self, docs: Sequence[Document], content_hash: str,
                      passages: Sequence[Passage], n_tokens: Sequence[int]) -> None:
        """Record one file's documents and passages in a single transaction."""
        now = utcnow()
        with self.engine.begin() as conn:
            if docs:
                conn.execute(insert(t.documents), [
                    {"id": d.id, "user_id": d.user_id, "source_id": d.source_id, "file_path": d.file_path,
                     "content_hash": content_hash, "metadata": d.metadata, "n_chars": len(d.text),
                     "created_at": now, "load_state": LOADED} for d in docs])
            self._insert_passages(conn, passages, n_tokens)

    @staticmethod
    def _insert_passages(conn, passages: Sequence[Passage], n_tokens: Sequence[int]) -> None:  # noqa: ANN001
        if passages:
            conn.execute(insert(t.passages), [
                {"id": p.id, "user_id": p.user_id, "source_id": p.source_id or None,
                 "agent_id": p.agent_id or None, "document_id": p.document_id or None,
                 "chunk_index": p.metadata.get("chunk_index", 0), "n_tokens": n,
                 "created_at": p.created_at} for p, n in zip(passages, n_tokens, strict=True)])

    def documents_of(self, source_id: str) -> list[DocumentRow]:
        """Every document row of a source with its passage count in SQL."""
        n_pass = (select(t.passages.c.document_id, func.count().label("n"))
                  .group_by(t.passages.c.document_id).subquery())
        query = (select(t.documents.c.id, t.documents.c.file_path, t.documents.c.content_hash,
                        t.documents.c.load_state, n_pass.c.n)
                 .outerjoin(n_pass, n_pass.c.document_id == t.documents.c.id)
                 .where(t.documents.c.source_id == source_id))
        with self.engine.connect() as conn:
            return [DocumentRow(r.id, r.file_path, r.content_hash, r.load_state, r.n or 0) for r in conn.execute(query)]

    def passage_documents(self, source_id: str) -> dict[str, str]:
        """Passage id -> document id of every passage row of a source."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.passages.c.id, t.passages.c.document_id)
                                .where(t.passages.c.source_id == source_id))
            return {r.id: r.document_id or "" for r in rows}

    def delete_documents(self, ids: Sequence[str]) -> None:
        if not ids:
            return
        with self.engine.begin() as conn:
            conn.execute(delete(t.passages).where(t.passages.c.document_id.in_(list(ids))))
            conn.execute(delete(t.documents).where(t.documents.c.id.in_(list(ids))))

    def count_passages(self, source_id: str) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(t.passages)
                               .where(t.passages.c.source_id == source_id)) or 0

    def count_documents(self, source_id: str) -> int:
        with self.engine.connect() as conn:
            return conn.scalar(select(func.count()).select_from(t.documents)
                               .where(t.documents.c.source_id == source_id)) or 0

    # templates (user-added personas and humans) --------------------------
    def put_template(self, user_id: str, kind: str, name: str, text: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(delete(t.templates).where(
                t.templates.c.user_id == user_id, t.templates.c.kind == kind, t.templates.c.name == name))
            conn.execute(insert(t.templates).values(
                id=new_id("template"), user_id=user_id, kind=kind, name=name, text=text, created_at=utcnow()))

    def get_template(self, user_id: str, kind: str, name: str) -> str | None:
        with self.engine.connect() as conn:
            return conn.scalar(select(t.templates.c.text).where(
                t.templates.c.user_id == user_id, t.templates.c.kind == kind, t.templates.c.name == name))

    def list_templates(self, user_id: str, kind: str) -> dict[str, str]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(t.templates.c.name, t.templates.c.text).where(
                t.templates.c.user_id == user_id, t.templates.c.kind == kind).order_by(t.templates.c.name))
            return {r.name: r.text for r in rows}

    def delete_template(self, user_id: str, kind: str, name: str) -> bool:
        with self.engine.begin() as conn:
            res = conn.execute(delete(t.templates).where(
                t.templates.c.user_id == user_id, t.templates.c.kind == kind, t.templates.c.name == name))
            return res.rowcount > 0


def _source(row) -> Source:  # noqa: ANN001 - a SQLAlchemy Row
    return Source(id=row.id, user_id=row.user_id, name=row.name, description=row.description,
                  embedding_model=row.embedding_model, embedding_dim=row.embedding_dim,
                  created_at=aware(row.created_at))
