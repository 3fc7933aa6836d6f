"""Make the installed venv smaller without changing what memgpt runs (called by ``make install``).

    .venv/bin/python scripts/slim_venv.py

Measured on Linux x86-64, Python 3.11 (``du -sh .venv``): 604 MB after a plain
``pip install .``; 408 MB on disk (391 MB of file contents) after ``pip install
--no-compile`` (the Makefile) and this script, 415 MB once ``make demo`` ran and
Python cached the bytecode it imported. What goes:

- packages installed as dependencies that memgpt never imports: tokenizers
  declares huggingface_hub (with hf-xet, fsspec, filelock, pyyaml, click) for
  downloading from the Hub, which memgpt never does (~20 MB);
- the test suites pandas and numpy ship inside their packages (~25 MB);
- debug information and symbol tables of Milvus Lite's server binary and
  library, and debug information of SQLAlchemy's and wcwidth's compiled
  modules (``strip``, only when it is installed; ~65 MB). The engine is then
  started once; if that fails, the original files are put back.

What stays, and why: pandas (86 MB with its tests, 29 MB without) because
``import pymilvus`` imports it; Milvus Lite (115 MB stripped) is the archival
engine; the local embedding model's weights (89 MB); numpy, grpc, openai and
sqlalchemy are used. ``pip check`` will name the removed Hub packages as
missing dependencies of tokenizers; installing anything that needs them
brings them back.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import tempfile
from pathlib import Path

UNUSED = ["hf-xet", "huggingface-hub", "fsspec", "filelock", "pyyaml", "click"]
TEST_DIRS = ["pandas/tests", "numpy/tests", "numpy/*/tests"]
# (files, strip option). Milvus Lite's own two binaries lose their symbol tables too; files that
# auditwheel rewrote with patchelf (numpy.libs, ...) must not be stripped at all: they stop loading.
STRIP = [("milvus_lite/lib/milvus", "--strip-unneeded"), ("milvus_lite/lib/libknowhere.so", "--strip-unneeded"),
         ("sqlalchemy/*/_*_cy.*.so", "--strip-debug"), ("wcwidth/_wcwidth_c*.so", "--strip-debug")]

SMOKE = """
import tempfile, os
from pymilvus import MilvusClient
import sqlalchemy, wcwidth
with tempfile.TemporaryDirectory() as d:
    c = MilvusClient(os.path.join(d, "smoke.db"))
    c.create_collection("t", dimension=4)
    c.insert("t", [{"id": 1, "vector": [0.1, 0.2, 0.3, 0.4]}])
    assert c.search("t", data=[[0.1, 0.2, 0.3, 0.4]], limit=1)[0][0]["id"] == 1
    c.close()
"""


def _mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def _strip(site: Path) -> None:
    strip = shutil.which("strip")
    files = [(f, option) for pattern, option in STRIP for f in sorted(site.glob(pattern)) if f.is_file()]
    if not strip or not files:
        return
    with tempfile.TemporaryDirectory() as backup:
        saved = []
        for i, (f, option) in enumerate(files):
            copy = Path(backup) / str(i)
            shutil.copy2(f, copy)
            saved.append((f, copy))
            subprocess.run([strip, option, str(f)], check=False, capture_output=True)
        smoke = subprocess.run([sys.executable, "-c", SMOKE], capture_output=True, text=True, timeout=300)
        if smoke.returncode:
            for f, copy in saved:
                shutil.copy2(copy, f)
            print("slim: stripped binaries failed to start; originals restored", file=sys.stderr)


def _needed_elsewhere(names: list[str]) -> set[str]:
    """Of ``names``, those that an installed package outside ``names`` requires (uvicorn needs click,
    for instance, once the server extra is installed): never remove them."""
    import re
    from importlib.metadata import distributions

    def norm(name: str) -> str:
        return re.sub(r"[-_.]+", "-", name).lower()

    drop = {norm(n) for n in names}
    needed = set()
    for dist in distributions():
        # tokenizers declares the Hub client for downloads memgpt never makes (the model ships in a package)
        if norm(dist.metadata["Name"]) in drop | {"tokenizers"}:
            continue
        for req in dist.requires or []:
            if "extra ==" in req:
                continue  # an optional dependency of that package, not installed for it
            needed.add(norm(re.split(r"[\s;<>=!~\[(]", req, maxsplit=1)[0]))
    return {n for n in names if norm(n) in needed and norm(n) in drop}


def main() -> int:
    venv = Path(sys.prefix)
    site = Path(sysconfig.get_paths()["purelib"])
    before = _mb(venv)
    keep = _needed_elsewhere(UNUSED)
    if keep:
        print(f"slim: keeping {', '.join(sorted(keep))} (required by another installed package)")
    subprocess.run([sys.executable, "-m", "pip", "uninstall", "-y", "-q", *[n for n in UNUSED if n not in keep]],
                   check=False, capture_output=True)
    for pattern in TEST_DIRS:
        for d in site.glob(pattern):
            shutil.rmtree(d, ignore_errors=True)
    _strip(site)
    print(f"slim: {venv} {before:.0f} MB -> {_mb(venv):.0f} MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
