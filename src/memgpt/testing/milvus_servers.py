"""Real Milvus servers for tests and benchmarks, each on 127.0.0.1 only and stopped by its user.

Three kinds, the three the README supports or refuses:

``LiteTcpServer``
    The Milvus Lite 2.5 engine (the ``milvus`` binary inside the pinned
    milvus-lite) serving gRPC on a TCP port; starts in < 1 s.
``Lite3Server``
    milvus-lite 3.x ``milvus-lite server`` (pure Python, gRPC). It conflicts
    with the pinned milvus-lite 2.5, so it lives in its own venv, built once
    from PyPI under ``<venv>/servers/lite3`` (~22 s, ~390 MB).
``Milvus23Server``
    The PyPI ``milvus`` package: the real Milvus 2.3 standalone binary (its own
    venv, ~17 s, 81 MB; 10-16 s to start). Its gRPC servers listen on every
    interface whatever the config says, so it runs in a fresh network namespace
    (``unshare -rn``: only its own loopback exists there) and is reached through
    a forwarder on 127.0.0.1 of this machine via a Unix socket.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

LITE3_REQUIREMENTS = ("milvus-lite==3.2.2", "pymilvus==3.0.2")
MILVUS23_REQUIREMENTS = ("milvus==2.3.5",)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, deadline_s: float, proc: subprocess.Popen | None = None, what: str = "server") -> None:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening on 127.0.0.1:{port}")
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port} within {deadline_s:.0f} s")


def servers_home() -> Path:
    """Where side venvs live: ``MEMGPT_SERVERS_HOME``, else beside this interpreter's venv."""
    return Path(os.environ.get("MEMGPT_SERVERS_HOME") or Path(sys.prefix) / "servers")


def side_venv(name: str, requirements: tuple[str, ...]) -> Path:
    """A venv holding ``requirements``, built once from the package registry; its ``bin`` folder."""
    home = servers_home()
    home.mkdir(parents=True, exist_ok=True)
    venv = home / name
    marker = venv / ".memgpt-ready"
    want = "\n".join(requirements)
    with open(home / f".{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder at a time
        if marker.exists() and marker.read_text() == want:
            return venv / "bin"
        shutil.rmtree(venv, ignore_errors=True)
        base = getattr(sys, "_base_executable", sys.executable)
        subprocess.run([base, "-m", "venv", str(venv)], check=True, capture_output=True)
        out = subprocess.run([str(venv / "bin" / "pip"), "install", "-q", "--no-compile", *requirements],
                             capture_output=True, text=True)
        if out.returncode != 0:
            raise RuntimeError(f"pip install {' '.join(requirements)} failed: {out.stderr.strip()[-400:]}")
        marker.write_text(want)
    return venv / "bin"


class LiteTcpServer:
    """The Milvus Lite 2.5 engine listening on 127.0.0.1 TCP (a separate process)."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.folder = folder
        self.port = port or free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self._server = None
        self.start()

    def start(self) -> None:
        from milvus_lite.server import Server

        self._server = Server(str(self.folder / "milvus-server.db"), f"127.0.0.1:{self.port}")
        if not self._server.init() or not self._server.start():
            raise RuntimeError("the Milvus Lite engine did not start")
        wait_port(self.port, 20, self._server._p, "the Milvus Lite engine")

    def kill(self) -> None:
        """SIGKILL, as a crash would."""
        self._server._p.kill()
        self._server._p.wait()
        self._server._p = None

    def stop(self) -> None:
        if self._server is not None and self._server._p is not None:
            self._server.stop()
        self._server = None


class Lite3Server:
    """``milvus-lite server`` (3.x) from its own venv, on 127.0.0.1."""

    def __init__(self, folder: Path, port: int | None = None) -> None:
        self.bin = side_venv("lite3", LITE3_REQUIREMENTS)
        self.folder = folder
        self.port = port or free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        self._log = open(self.folder / "lite3.log", "a")  # noqa: SIM115 - closed in stop()
        self.proc = subprocess.Popen(
            [str(self.bin / "milvus-lite"), "server", "--data-dir", str(self.folder / "lite3-data"),
             "--host", "127.0.0.1", "--port", str(self.port)],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        wait_port(self.port, 60, self.proc, "milvus-lite server")

    def kill(self) -> None:
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
            self.proc = None
        self._log.close()


def _pump(a: socket.socket, b: socket.socket) -> None:
    try:
        while chunk := a.recv(65536):
            b.sendall(chunk)
    except OSError:
        pass
    finally:
        for s in (a, b):
            try:
                s.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


_RUN_23_MAIN = r'''
import os, socket, sys, threading
from milvus import MilvusServer
data, sock_path = sys.argv[1], sys.argv[2]
server = MilvusServer(wait_for_started=False)
server.set_base_dir(data)
server.config.set("proxy_port", 19530)
server.start()
server.wait_started(timeout=120000)

listener = socket.socket(socket.AF_UNIX)
listener.bind(sock_path)
listener.listen(64)
print("ready", flush=True)
while True:
    conn, _ = listener.accept()
    up = socket.create_connection(("127.0.0.1", 19530))
    threading.Thread(target=_pump, args=(conn, up), daemon=True).start()
    threading.Thread(target=_pump, args=(up, conn), daemon=True).start()
'''


def _run_23_script() -> str:
    """The script the namespace runs (with the side venv's Python, which has no memgpt): start, then forward."""
    import inspect

    return "import socket\n" + inspect.getsource(_pump) + _RUN_23_MAIN


def can_isolate() -> str | None:
    """Why a network namespace cannot be made here (None when it can)."""
    if not shutil.which("unshare") or not shutil.which("ip"):
        return "needs unshare and ip (util-linux, iproute2)"
    out = subprocess.run(["unshare", "-rn", "ip", "link", "set", "lo", "up"], capture_output=True, text=True)
    return None if out.returncode == 0 else f"unshare -rn failed: {out.stderr.strip()[:200]}"


class Milvus23Server:
    """The Milvus 2.3 standalone in its own network namespace, reached on 127.0.0.1:``port``."""

    def __init__(self, folder: Path) -> None:
        why = can_isolate()
        if why:
            raise RuntimeError(f"cannot keep Milvus 2.3 off the network: {why}")
        self.bin = side_venv("milvus23", MILVUS23_REQUIREMENTS)
        self.folder = folder
        self.sock_path = str(folder / "m23.sock")
        self.port = free_port()
        self.uri = f"http://127.0.0.1:{self.port}"
        self._stop = threading.Event()
        self._listener = socket.create_server(("127.0.0.1", self.port))
        self._listener.settimeout(0.2)
        self._thread = threading.Thread(target=self._forward, daemon=True)
        self._thread.start()
        self.proc: subprocess.Popen | None = None
        self.start()

    def start(self) -> None:
        started = time.monotonic()
        if os.path.exists(self.sock_path):
            os.unlink(self.sock_path)
        self._log = open(self.folder / "m23.log", "a")  # noqa: SIM115 - closed in stop()
        script = self.folder / "run23.py"
        script.write_text(_run_23_script())
        self.proc = subprocess.Popen(
            ["unshare", "-rn", "sh", "-c", 'ip link set lo up && exec "$0" "$@"', str(self.bin / "python"),
             str(script), str(self.folder / "m23-data"), self.sock_path],
            stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
        end = time.monotonic() + 120
        while not os.path.exists(self.sock_path):
            if self.proc.poll() is not None or time.monotonic() > end:
                raise RuntimeError(f"Milvus 2.3 did not start (see {self.folder / 'm23.log'})")
            time.sleep(0.1)
        self.start_s = time.monotonic() - started

    def _forward(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._listener.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            try:
                up = socket.socket(socket.AF_UNIX)
                up.connect(self.sock_path)
            except OSError:
                conn.close()
                continue
            conn.settimeout(None)
            threading.Thread(target=_pump, args=(conn, up), daemon=True).start()
            threading.Thread(target=_pump, args=(up, conn), daemon=True).start()

    def kill(self) -> None:
        assert self.proc is not None
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()
        self.proc = None

    def stop(self) -> None:
        if self.proc is not None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
            self.proc = None
        self._stop.set()
        self._listener.close()
        self._thread.join(timeout=2)
        self._log.close()
