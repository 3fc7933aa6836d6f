"""Background loads: a job row per upload, visible to every worker, run off the request path."""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, insert, select, update

from memgpt.errors import MemGPTError, NotFoundError
from memgpt.schemas import new_id, utcnow
from memgpt.service.convert import iso
from memgpt.service.models import FileError, JobInfo
from memgpt.store import tables as t
from memgpt.store.metadata import aware

if TYPE_CHECKING:
    from memgpt.service.core import Service

log = logging.getLogger(__name__)
PROGRESS_EVERY_S = 0.5


class JobStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def create(self, user_id: str, kind: str, source_id: str | None, total: int = 0) -> JobInfo:
        now = utcnow()
        job_id = new_id("job")
        with self.engine.begin() as conn:
            conn.execute(insert(t.jobs).values(id=job_id, user_id=user_id, kind=kind, status="queued",
                                               source_id=source_id, done=0, total=total, n_passages=0,
                                               n_documents=0, errors=[], created_at=now, updated_at=now))
        return self.get(user_id, job_id)

    def update(self, job_id: str, **values: Any) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(t.jobs).where(t.jobs.c.id == job_id).values(updated_at=utcnow(), **values))

    def get(self, user_id: str, job_id: str) -> JobInfo:
        with self.engine.connect() as conn:
            r = conn.execute(select(t.jobs).where(t.jobs.c.id == job_id, t.jobs.c.user_id == user_id)).first()
        if r is None:
            raise NotFoundError(f"no job {job_id!r}")
        return JobInfo(id=r.id, kind=r.kind, status=r.status, source_id=r.source_id, done=r.done, total=r.total,
                       n_passages=r.n_passages, n_documents=r.n_documents,
                       errors=[FileError(**e) for e in (r.errors or [])], message=r.message,
                       created_at=iso(aware(r.created_at)), updated_at=iso(aware(r.updated_at)))


class JobRunner:
    """Runs loads one at a time in a background thread (embedding is CPU-bound: one at a time is fastest)."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="memgpt-jobs")

    def submit_load(self, service: Service, source: str, files: Sequence[Path], *, cleanup: Path | None = None,
                    description: str | None = None) -> JobInfo:
        jobs = JobStore(service.rt.metadata.engine)
        source = service.source_name(source)
        src = service.rt.metadata.find_source(service.user_id, source)
        job = jobs.create(service.user_id, "load", src.id if src else None)
        self._pool.submit(_run_load, service, jobs, job.id, source, list(files), cleanup, description)
        return job

    def shutdown(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=False)


def _shown(error: str, path: str, folder: Path | None) -> str:
    """An error about an uploaded file, naming the file as the user sent it (not our temp path)."""
    return error.replace(path, Path(path).name).replace(f"{folder}/", "") if folder else error


def _run_load(service: Service, jobs: JobStore, job_id: str, source: str, files: list[Path], cleanup: Path | None,
              description: str | None) -> None:
    last = [0.0]
    lock = threading.Lock()

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        with lock:
            if now - last[0] < PROGRESS_EVERY_S and done < total:
                return
            last[0] = now
        jobs.update(job_id, done=done, total=total)

    try:
        jobs.update(job_id, status="running")
        result = service.load_files(source, files, description=description, on_progress=progress)
        errors = [{"file": Path(f.file).name, "error": _shown(f.error, f.file, cleanup)} for f in result.failed]
        jobs.update(job_id, status="done", source_id=result.source.id, n_passages=result.n_passages,
                    n_documents=result.n_documents, errors=errors, done=result.n_passages, total=result.n_passages,
                    message=f"Loaded {result.n_passages} passages and {result.n_documents} documents "
                            f"from {result.source.name}")
    except MemGPTError as exc:
        jobs.update(job_id, status="failed", message=exc.one_line())
    except Exception as exc:  # noqa: BLE001 - a job must end in a state, never vanish
        log.exception("load job %s failed", job_id)
        jobs.update(job_id, status="failed", message=f"unexpected {type(exc).__name__}: {exc}")
    finally:
        if cleanup is not None:
            shutil.rmtree(cleanup, ignore_errors=True)
