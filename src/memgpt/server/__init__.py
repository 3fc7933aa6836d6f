"""``memgpt server``: run the REST API (needs the ``server`` extra: FastAPI and uvicorn)."""

from __future__ import annotations

import os
import sys

from memgpt.errors import ConfigError


def serve(host: str = "127.0.0.1", port: int = 8283, *, lock_wait: float = 30.0, max_upload_mb: int = 100,
          log_level: str = "info") -> int:
    try:
        import uvicorn

        from memgpt.server.app import create_app
    except ImportError as exc:
        raise ConfigError(f"the server needs FastAPI and uvicorn ({exc.name} is missing)",
                          "install the extra from the clone: pip install -e '.[server]'") from exc
    from memgpt.config import load_settings
    from memgpt.runtime import Runtime
    from memgpt.store.auth import KeyStore

    rt = Runtime(load_settings())
    try:
        # Build the shared parts before serving, so the first request does not pay for them and a
        # broken store is reported at start in one line.
        _ = rt.metadata, rt.agents, rt.recall, rt.locks, rt.embedder, rt.milvus.client
        generated = KeyStore(rt.metadata.engine).ensure_admin(os.environ.get("MEMGPT_SERVER_PASS"))
        if generated:
            print(f"Admin key (shown once; keep it, or set MEMGPT_SERVER_PASS): {generated}", file=sys.stderr,
                  flush=True)
        app = create_app(rt, lock_wait=lock_wait, max_upload_bytes=max_upload_mb * 1024 * 1024)
        print(f"memgpt server on http://{host}:{port} (API docs at /docs)", file=sys.stderr, flush=True)
        uvicorn.run(app, host=host, port=port, log_level=log_level, access_log=False)
    finally:
        rt.close()
    return 0
