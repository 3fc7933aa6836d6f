"""Several ``memgpt server`` workers on one PostgreSQL and one Milvus server, on 127.0.0.1.

Used by the multi-worker test and ``bench/server.py``. Everything it starts it
stops: the Milvus server (the Milvus Lite engine served over TCP, a separate
process), the workers (``python -m memgpt server`` subprocesses) and the
scripted LLM (in this process). It writes a throw-away MEMGPT_HOME whose config
points every worker at the same stores.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ADMIN_KEY = "cluster-admin-key"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_http(url: str, deadline_s: float, proc: subprocess.Popen | None = None) -> None:
    import httpx2 as httpx

    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{url}: the process exited with {proc.returncode}")
        try:
            if httpx.get(url, timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer in {deadline_s:.0f} s")


class MilvusLiteServer:
    """The Milvus Lite engine (the ``milvus`` binary inside milvus-lite) listening on 127.0.0.1 TCP."""

    def __init__(self, folder: Path) -> None:
        from milvus_lite.server import Server

        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self._server = Server(str(folder / "milvus-server.db"), f"127.0.0.1:{self.port}")
        if not self._server.init():
            raise RuntimeError("milvus-lite server failed to initialise")
        self._server.start()
        end = time.monotonic() + 20
        while time.monotonic() < end:
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", self.port)) == 0:
                    return
            time.sleep(0.05)
        raise RuntimeError("milvus-lite server did not listen")

    def stop(self) -> None:
        self._server.stop()


class Cluster:
    """``workers`` servers sharing ``pg_url`` and one Milvus server, with the scripted LLM."""

    def __init__(self, pg_url: str, workers: int = 2, *, llm_latency_s: float = 0.0,
                 responder: Callable[[dict], Any] | None = None) -> None:
        from memgpt.config import Settings, save_settings
        from memgpt.testing.fake_llm import FakeLLMServer, demo_responder

        self.tmp = tempfile.TemporaryDirectory(prefix="memgpt-cluster-")
        folder = Path(self.tmp.name)
        inner = responder or demo_responder
        latency = llm_latency_s

        def slow(request: dict) -> Any:
            if latency:
                time.sleep(latency)
            return inner(request)

        self.llm = FakeLLMServer(responder=slow)
        self.llm.start()
        self.milvus = MilvusLiteServer(folder)
        self.home = folder / "home"
        s = Settings(home=self.home)
        s.model_provider, s.model_endpoint, s.model_api_key, s.model = (
            "openai-compatible", self.llm.base_url, "none", "fake-llm")
        s.context_window = 16000
        s.metadata_backend, s.metadata_uri = "postgres", pg_url
        s.milvus_uri = self.milvus.uri  # index auto: the engine refuses HNSW, so memgpt builds FLAT
        save_settings(s)
        env = {**os.environ, "MEMGPT_HOME": str(self.home), "MEMGPT_SERVER_PASS": ADMIN_KEY}
        self.urls: list[str] = []
        self.procs: list[subprocess.Popen] = []
        self.logs = []
        try:
            for i in range(workers):
                port = free_port()
                log = open(folder / f"worker{i}.log", "w")  # noqa: SIM115 - closed in stop()
                self.logs.append(log)
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-m", "memgpt", "server", "--host", "127.0.0.1", "--port", str(port),
                     "--lock-wait", "120"], env=env, stdout=log, stderr=subprocess.STDOUT))
                self.urls.append(f"http://127.0.0.1:{port}")
            for url, proc in zip(self.urls, self.procs, strict=True):
                _wait_http(f"{url}/readyz", 120, proc)
        except BaseException:
            self.stop()
            raise

    def log_text(self) -> str:
        return "\n".join(Path(f.name).read_text(errors="replace") for f in self.logs)

    def new_user(self, name: str) -> str:
        """A new user's API key (made through the first worker's admin route)."""
        import httpx2 as httpx

        r = httpx.post(f"{self.urls[0]}/admin/users", json={"name": name},
                       headers={"Authorization": f"Bearer {ADMIN_KEY}"}, timeout=30)
        r.raise_for_status()
        return str(r.json()["api_key"])

    def rss_mb(self) -> list[float]:
        out = []
        for p in self.procs:
            try:
                for line in Path(f"/proc/{p.pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        out.append(round(int(line.split()[1]) / 1024, 1))
            except OSError:
                out.append(0.0)
        return out

    def stop(self) -> None:
        for p in self.procs:
            p.terminate()
        for p in self.procs:
            try:
                p.wait(timeout=15)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        for f in self.logs:
            f.close()
        self.milvus.stop()
        self.llm.stop()
        self.tmp.cleanup()

    def __enter__(self) -> Cluster:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
