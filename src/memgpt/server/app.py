"""``memgpt server``: the service layer over HTTP (FastAPI).

Every route authenticates a bearer API key, builds a :class:`Service` for that
key's user and calls one method; nothing here decides anything the CLI or the
Python client would decide differently. Errors become ``{"error", "hint"}``
with a status that says what kind of failure it was.

Routes live under ``/api`` (OpenAPI at ``/docs``); ``/admin`` manages users and
keys with the admin key; ``/healthz`` and ``/readyz`` need no key.
"""

from __future__ import annotations

import json
import logging
import queue
import re
import tempfile
import threading
from contextlib import asynccontextmanager
from datetime import date
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, File, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from memgpt.errors import (
    AgentBusyError,
    ConfigError,
    EmbeddingError,
    EmbeddingMismatchError,
    InputFileError,
    LLMError,
    MemGPTError,
    NotFoundError,
    StorageError,
    UsageError,
)
from memgpt.runtime import Runtime
from memgpt.schemas import User
from memgpt.service import Service
from memgpt.service.jobs import JobRunner, JobStore
from memgpt.store.auth import KeyStore

log = logging.getLogger("memgpt.server")

STATUS: list[tuple[type[MemGPTError], int]] = [  # most specific first
    (NotFoundError, 404), (UsageError, 400), (ConfigError, 400), (InputFileError, 422),
    (EmbeddingMismatchError, 409), (AgentBusyError, 409), (StorageError, 503), (LLMError, 502),
    (EmbeddingError, 502),
]
MAX_JSON_BYTES = 2 * 1024 * 1024
_SAFE_NAME = re.compile(r"[^\w.\- ]+", re.UNICODE)


def error_body(exc: MemGPTError) -> dict[str, Any]:
    """``{error, hint, kind}``: ``kind`` names the error class so the REST client raises the same one."""
    return {"error": exc.message, "hint": exc.hint, "kind": type(exc).__name__}


def status_of(exc: MemGPTError) -> int:
    return next((code for cls, code in STATUS if isinstance(exc, cls)), 500)


# request bodies -------------------------------------------------------------------------
class NewUser(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class KeyRef(BaseModel):
    api_key: str


class NewAgent(BaseModel):
    name: str | None = Field(default=None, max_length=200)
    persona: str | None = None
    human: str | None = None
    preset: str | None = None
    model: str | None = None
    context_window: int | None = Field(default=None, gt=0)


class AgentPatch(BaseModel):
    name: str = Field(min_length=1, max_length=200)


class SendMessage(BaseModel):
    message: str = Field(min_length=1)
    role: str = "user"
    stream: bool = False


class Command(BaseModel):
    command: str = Field(min_length=1)


class MemoryPatch(BaseModel):
    blocks: dict[str, str]


class ArchivalText(BaseModel):
    text: str = Field(min_length=1)


class NewSource(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    description: str | None = None


class SourceRef(BaseModel):
    source: str


class NewText(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    text: str = Field(min_length=1)


class ImportAgent(BaseModel):
    data: dict[str, Any]
    name: str | None = None


# the app ---------------------------------------------------------------------------------
def create_app(rt: Runtime, *, lock_wait: float = 30.0, max_upload_bytes: int = 100 * 1024 * 1024) -> FastAPI:
    """The ASGI app on one runtime (shared by every request and user)."""
    keys = KeyStore(rt.metadata.engine)
    jobs = JobStore(rt.metadata.engine)
    runner = JobRunner()

    @asynccontextmanager
    async def lifespan(_app: FastAPI):  # noqa: ANN202
        yield
        runner.shutdown()

    app = FastAPI(title="memgpt", summary="Stateful LLM agents with self-managed memory", lifespan=lifespan,
                  docs_url="/docs", openapi_url="/openapi.json")

    @app.middleware("http")
    async def limit_size(request: Request, call_next):  # noqa: ANN001, ANN202
        size = request.headers.get("content-length")
        limit = max_upload_bytes if request.url.path.endswith("/upload") else MAX_JSON_BYTES
        if size is not None and size.isdigit() and int(size) > limit:
            return JSONResponse({"error": f"request body over {limit // (1024 * 1024)} MB",
                                 "hint": "send smaller files, or raise the limit with memgpt server --max-upload-mb"},
                                status_code=413)
        return await call_next(request)

    @app.exception_handler(MemGPTError)
    async def memgpt_error(_request: Request, exc: MemGPTError) -> JSONResponse:
        return JSONResponse(error_body(exc), status_code=status_of(exc))

    @app.exception_handler(Exception)
    async def unexpected(_request: Request, exc: Exception) -> JSONResponse:
        log.exception("unexpected error")
        return JSONResponse({"error": f"internal error: {type(exc).__name__}", "hint": "see the server log"},
                            status_code=500)

    def caller(request: Request) -> tuple[User | None, bool]:
        auth = request.headers.get("authorization", "")
        scheme, _, key = auth.partition(" ")
        found = keys.lookup(key.strip()) if scheme.lower() == "bearer" and key.strip() else None
        if found is None:
            raise HTTPException(401, detail="missing or wrong API key",
                                headers={"WWW-Authenticate": "Bearer"})
        return found

    def service(who: tuple[User | None, bool] = Depends(caller)) -> Service:
        user, _admin = who
        if user is None:
            raise HTTPException(403, detail="the admin key manages users; use a user's key for /api")
        return Service(rt, user, lock_wait=lock_wait)

    def admin(who: tuple[User | None, bool] = Depends(caller)) -> None:
        if not who[1]:
            raise HTTPException(403, detail="this route needs the admin key")

    @app.exception_handler(StarletteHTTPException)  # ours and Starlette's (unknown route, wrong method)
    async def http_error(_request: Request, exc: StarletteHTTPException) -> JSONResponse:
        hint = {401: "send Authorization: Bearer KEY", 404: "see the routes at /docs"}.get(exc.status_code)
        return JSONResponse({"error": str(exc.detail), "hint": hint}, status_code=exc.status_code,
                            headers=getattr(exc, "headers", None))

    @app.exception_handler(RequestValidationError)
    async def invalid(_request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return JSONResponse({"error": f"{where or 'request'}: {first.get('msg', 'invalid request')}",
                             "hint": "see the request schema at /docs", "kind": "UsageError"}, status_code=422)

    # health ---------------------------------------------------------------------------
    @app.get("/healthz", tags=["health"])
    def healthz() -> dict:
        return {"status": "ok"}

    @app.get("/readyz", tags=["health"])
    def readyz() -> JSONResponse:
        from sqlalchemy import text

        checks = {}
        try:
            with rt.metadata.engine.connect() as conn:
                conn.execute(text("SELECT 1"))
            checks["metadata"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["metadata"] = f"error: {exc}".splitlines()[0]
        try:
            rt.milvus.client.list_collections()
            checks["milvus"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["milvus"] = f"error: {getattr(exc, 'message', exc)}".splitlines()[0]
        ok = all(v == "ok" for v in checks.values())
        return JSONResponse({"status": "ready" if ok else "not ready", **checks}, status_code=200 if ok else 503)

    # admin --------------------------------------------------------------------------------
    @app.post("/admin/users", tags=["admin"], dependencies=[Depends(admin)])
    def create_user(body: NewUser) -> dict:
        user, key = keys.create_user(body.name)
        return {"id": user.id, "name": user.name, "api_key": key}

    @app.get("/admin/users", tags=["admin"], dependencies=[Depends(admin)])
    def list_users() -> list[dict]:
        return [{"id": u.id, "name": u.name, "created_at": u.created_at.isoformat()} for u in keys.list_users()]

    @app.post("/admin/users/{user_id}/keys", tags=["admin"], dependencies=[Depends(admin)])
    def issue_key(user_id: str) -> dict:
        return {"user_id": user_id, "api_key": keys.issue_key(user_id)}

    @app.post("/admin/keys/revoke", tags=["admin"], dependencies=[Depends(admin)])
    def revoke_key(body: KeyRef) -> dict:
        if not keys.revoke(body.api_key):
            raise NotFoundError("no live key like that")
        return {"revoked": True}

    # agents -------------------------------------------------------------------------------
    @app.get("/api/agents", tags=["agents"])
    def list_agents(svc: Service = Depends(service)) -> list[dict]:
        return [a.to_dict() for a in svc.list_agents()]

    @app.post("/api/agents", tags=["agents"], status_code=201)
    def create_agent(body: NewAgent, svc: Service = Depends(service)) -> dict:
        return svc.create_agent(body.name, persona=body.persona, human=body.human, preset=body.preset,
                                model=body.model, context_window=body.context_window).to_dict()

    @app.post("/api/agents/import", tags=["agents"], status_code=201)
    def import_agent(body: ImportAgent, svc: Service = Depends(service)) -> dict:
        agent, warnings = svc.import_agent(body.data, name=body.name)
        return {"agent": agent.to_dict(), "warnings": warnings}

    @app.get("/api/agents/{agent}", tags=["agents"])
    def get_agent(agent: str, svc: Service = Depends(service)) -> dict:
        return svc.get_agent(agent).to_dict()

    @app.patch("/api/agents/{agent}", tags=["agents"])
    def rename_agent(agent: str, body: AgentPatch, svc: Service = Depends(service)) -> dict:
        return svc.rename_agent(agent, body.name).to_dict()

    @app.delete("/api/agents/{agent}", tags=["agents"], status_code=204)
    def delete_agent(agent: str, svc: Service = Depends(service)) -> None:
        svc.delete_agent(agent)

    @app.get("/api/agents/{agent}/export", tags=["agents"])
    def export_agent(agent: str, svc: Service = Depends(service)) -> dict:
        return svc.export_agent(agent)

    # messages -----------------------------------------------------------------------------
    @app.post("/api/agents/{agent}/messages", tags=["messages"], response_model=None)
    def send_message(agent: str, body: SendMessage, svc: Service = Depends(service)) -> Any:
        if not body.stream:
            return svc.send_message(agent, body.message, role=body.role).to_dict()
        svc.get_agent(agent)  # a 404 before the stream starts
        return StreamingResponse(_stream(lambda on_event: svc.send_message(agent, body.message, role=body.role,
                                                                           on_event=on_event)),
                                 media_type="text/event-stream", headers={"Cache-Control": "no-cache"})

    @app.get("/api/agents/{agent}/messages", tags=["messages"])
    def get_messages(agent: str, before: str | None = None, after: str | None = None, limit: int = 50,
                     svc: Service = Depends(service)) -> dict:
        return svc.list_messages(agent, before=before, after=after, limit=limit).to_dict()

    @app.get("/api/agents/{agent}/messages/search", tags=["messages"])
    def search_messages(agent: str, q: str, page: int = 0, svc: Service = Depends(service)) -> list[dict]:
        return [m.to_dict() for m in svc.search_messages(agent, q, page=page)]

    @app.post("/api/agents/{agent}/commands", tags=["messages"])
    def run_command(agent: str, body: Command, svc: Service = Depends(service)) -> dict:
        return svc.run_command(agent, body.command).to_dict()

    # memory -------------------------------------------------------------------------------
    @app.get("/api/agents/{agent}/memory", tags=["memory"])
    def get_memory(agent: str, svc: Service = Depends(service)) -> dict:
        return svc.get_memory(agent).to_dict()

    @app.patch("/api/agents/{agent}/memory", tags=["memory"])
    def update_memory(agent: str, body: MemoryPatch, svc: Service = Depends(service)) -> dict:
        return svc.update_core_memory_blocks(agent, body.blocks).to_dict()

    @app.get("/api/agents/{agent}/archival", tags=["memory"])
    def list_archival(agent: str, limit: int = 50, offset: int = 0, svc: Service = Depends(service)) -> list[dict]:
        return [p.to_dict() for p in svc.list_archival(agent, limit=limit, offset=offset)]

    @app.get("/api/agents/{agent}/archival/search", tags=["memory"])
    def search_archival(agent: str, q: str, limit: int = 10, svc: Service = Depends(service)) -> list[dict]:
        return [p.to_dict() for p in svc.search_archival(agent, q, limit=limit)]

    @app.post("/api/agents/{agent}/archival", tags=["memory"], status_code=201)
    def insert_archival(agent: str, body: ArchivalText, svc: Service = Depends(service)) -> dict:
        return {"passages": svc.insert_archival(agent, body.text)}

    @app.delete("/api/agents/{agent}/archival/{passage_id}", tags=["memory"], status_code=204)
    def delete_archival(agent: str, passage_id: str, svc: Service = Depends(service)) -> None:
        svc.delete_archival(agent, passage_id)

    @app.post("/api/agents/{agent}/sources", tags=["sources"])
    def attach(agent: str, body: SourceRef, svc: Service = Depends(service)) -> dict:
        return svc.attach_source(agent, body.source).to_dict()

    @app.delete("/api/agents/{agent}/sources/{source}", tags=["sources"])
    def detach(agent: str, source: str, svc: Service = Depends(service)) -> dict:
        return svc.detach_source(agent, source).to_dict()

    # sources and jobs ---------------------------------------------------------------------
    @app.get("/api/sources", tags=["sources"])
    def list_sources(svc: Service = Depends(service)) -> list[dict]:
        return [s.to_dict() for s in svc.list_sources()]

    @app.post("/api/sources", tags=["sources"], status_code=201)
    def create_source(body: NewSource, svc: Service = Depends(service)) -> dict:
        return svc.create_source(body.name, body.description).to_dict()

    @app.get("/api/sources/{source}", tags=["sources"])
    def get_source(source: str, svc: Service = Depends(service)) -> dict:
        return svc.get_source(source).to_dict()

    @app.delete("/api/sources/{source}", tags=["sources"], status_code=204)
    def delete_source(source: str, svc: Service = Depends(service)) -> None:
        svc.delete_source(source)

    @app.post("/api/sources/{source}/upload", tags=["sources"], status_code=202)
    def upload(source: str, files: list[UploadFile] = File(...), svc: Service = Depends(service)) -> dict:
        if not files:
            raise UsageError("no files in the upload")
        folder = Path(tempfile.mkdtemp(prefix="memgpt-upload-"))
        paths = []
        for i, f in enumerate(files):
            # The client's file name is kept for display only: it never becomes a path component.
            target = folder / f"{i:04d}" / safe_name(f.filename or "")
            target.parent.mkdir()
            with open(target, "wb") as out:
                while chunk := f.file.read(1 << 20):
                    out.write(chunk)
            paths.append(target)
        return runner.submit_load(svc, source, paths, cleanup=folder).to_dict()

    @app.get("/api/jobs/{job_id}", tags=["sources"])
    def get_job(job_id: str, svc: Service = Depends(service)) -> dict:
        return jobs.get(svc.user_id, job_id).to_dict()

    # library and configuration ---------------------------------------------------------------
    for kind in ("persona", "human"):
        _text_routes(app, kind, service)

    @app.get("/api/presets", tags=["library"])
    def list_presets(svc: Service = Depends(service)) -> list[dict]:
        return [t.to_dict() for t in svc.list_texts("preset")]

    @app.get("/api/models", tags=["config"])
    def list_models(svc: Service = Depends(service)) -> list[dict]:
        return [m.to_dict() for m in svc.list_models()]

    @app.get("/api/config", tags=["config"])
    def get_config(svc: Service = Depends(service)) -> dict:
        return svc.get_config()

    _page_routes(app, service)
    return app


def _text_routes(app: FastAPI, kind: str, service: Any) -> None:
    @app.get(f"/api/{kind}s", tags=["library"], name=f"list_{kind}s")
    def list_texts(svc: Service = Depends(service)) -> list[dict]:
        return [t.to_dict() for t in svc.list_texts(kind)]

    @app.post(f"/api/{kind}s", tags=["library"], status_code=201, name=f"create_{kind}")
    def create_text(body: NewText, svc: Service = Depends(service)) -> dict:
        return svc.create_text(kind, body.name, body.text).to_dict()

    @app.delete(f"/api/{kind}s/{{name}}", tags=["library"], status_code=204, name=f"delete_{kind}")
    def delete_text(name: str, svc: Service = Depends(service)) -> None:
        svc.delete_text(kind, name)


def safe_name(name: str) -> str:
    """A file name that cannot leave its folder: no separators, no leading dots, bounded length."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    base = _SAFE_NAME.sub("_", base).strip(" .")[:120]
    return base or "upload"


def _stream(run: Any):  # noqa: ANN201 - a generator of SSE frames
    """Run a step in a thread and yield its events as Server-Sent Events, then ``done`` (or ``error``)."""
    q: queue.Queue = queue.Queue()
    end = object()

    def work() -> None:
        try:
            result = run(lambda e: q.put(("step", e.to_dict())))
            q.put(("done", result.to_dict()))
        except MemGPTError as exc:
            q.put(("error", {**error_body(exc), "status": status_of(exc)}))
        except Exception as exc:  # noqa: BLE001
            log.exception("unexpected error in a streamed step")
            q.put(("error", {"error": f"internal error: {type(exc).__name__}", "hint": "see the server log",
                             "status": 500}))
        finally:
            q.put(end)

    threading.Thread(target=work, name="memgpt-stream", daemon=True).start()
    while (item := q.get()) is not end:
        kind, data = item
        yield f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False)}\n\n"


# the web page (issue 13) -------------------------------------------------------------------
STATIC = Path(__file__).with_name("static")
# The page loads nothing from elsewhere: the browser enforces it, so a stray external URL fails loudly.
PAGE_POLICY = ("default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
               "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")


def _page_routes(app: FastAPI, service: Any) -> None:
    """``/``: one page (HTML, a script, a style sheet; no key needed, the data it fetches needs one),
    and the two small routes only it uses."""
    from fastapi.responses import FileResponse
    from fastapi.staticfiles import StaticFiles

    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    @app.get("/", include_in_schema=False)
    def page() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Content-Security-Policy": PAGE_POLICY,
                                                            "Cache-Control": "no-cache"})

    @app.get("/api/agents/{agent}/context", tags=["memory"])
    def context_tokens(agent: str, svc: Service = Depends(service)) -> dict:
        return svc.context_tokens(agent)

    @app.get("/api/agents/{agent}/messages/by-date", tags=["messages"])
    def messages_by_date(agent: str, start: date, end: date, page: int = 0,
                         svc: Service = Depends(service)) -> list[dict]:
        return [m.to_dict() for m in svc.search_messages_by_date(agent, start, end, page=page)]
