"""Files to text for ``memgpt load``: one reader per format, stdlib + pypdfium2 only.

``read_file`` turns a file into ``ReadDocument``s: one per PDF page or slide
with text, one per EPUB chapter, one for any other file. Every document has
non-empty text and at least ``file_path`` (absolute), ``file_name``,
``file_type`` and ``page`` (1-based for PDF pages and slides, else None) in
its metadata; readers add what they know (``page_count``, ``title``,
``encoding``, ``chapter`` ...).

Anything wrong with a file raises ``InputFileError`` with a one-line message
``<path>: <reason>`` and, where there is one, a hint; library exceptions never
escape. The format is chosen by extension. A file with an unknown extension
(only reachable by naming it, or through ``extensions``) is sniffed: PDF and
Office/EPUB zips by their signature, anything else is read as text if it
decodes as text (see ``_common`` for the decoding policy), else refused.
"""

from __future__ import annotations

import os
import zipfile
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

from memgpt.errors import InputFileError
from memgpt.ingest.readers._common import ReadDocument, fail
from memgpt.ingest.readers._epub import read_epub
from memgpt.ingest.readers._office import read_docx, read_pptx
from memgpt.ingest.readers._pdf import read_pdf
from memgpt.ingest.readers._text import (
    read_csv,
    read_html,
    read_json,
    read_jsonl,
    read_markdown,
    read_plain,
)

__all__ = ["ReadDocument", "collect_files", "read_file", "supported_extensions"]

Reader = Callable[[Path], list[ReadDocument]]

_READERS: dict[str, Reader] = {
    ".pdf": read_pdf,
    ".txt": read_plain,
    ".text": read_plain,
    ".md": read_markdown,
    ".markdown": read_markdown,
    ".rst": read_plain,
    ".html": read_html,
    ".htm": read_html,
    ".xhtml": read_html,
    ".docx": read_docx,
    ".pptx": read_pptx,
    ".epub": read_epub,
    ".csv": read_csv,
    ".tsv": read_csv,
    ".json": read_json,
    ".jsonl": read_jsonl,
    ".ndjson": read_jsonl,
}

_FORMAT_NAMES = {read_pdf: "PDF", read_docx: "DOCX", read_pptx: "PPTX", read_epub: "EPUB", read_html: "HTML",
                 read_csv: "CSV", read_json: "JSON", read_jsonl: "JSON Lines"}


def supported_extensions() -> list[str]:
    """Lower-case extensions, with the dot, that a directory load picks up."""
    return sorted(_READERS)


def _sniff_reader(path: Path) -> Reader:
    """Reader for a file whose extension says nothing: by signature, else plain text."""
    with open(path, "rb") as fh:
        head = fh.read(1024)
    if head.startswith(b"%PDF-"):
        return read_pdf
    if head.startswith(b"PK\x03\x04"):
        try:
            with zipfile.ZipFile(path) as zf:
                names = set(zf.namelist())
                if "word/document.xml" in names:
                    return read_docx
                if "ppt/presentation.xml" in names:
                    return read_pptx
                if "mimetype" in names and zf.read("mimetype").strip() == b"application/epub+zip":
                    return read_epub
        except (zipfile.BadZipFile, OSError, KeyError, ValueError):
            pass
        raise fail(path, "binary content, not text (looks like a ZIP archive that is not a DOCX, PPTX or EPUB)",
                   "unpack it and load the files inside")
    return read_plain


def read_file(path: str | os.PathLike) -> list[ReadDocument]:
    """Read one file into documents; any problem raises ``InputFileError``."""
    path = Path(path)
    try:
        st = path.stat()
    except FileNotFoundError:
        raise fail(path, "no such file", "check the path") from None
    except OSError as exc:
        raise fail(path, f"cannot access the file ({exc.strerror or exc})") from None
    if path.is_dir():
        raise fail(path, "is a directory, not a file", "load folders with --input-dir")
    if st.st_size == 0:
        raise fail(path, "file is empty", "remove it from the input")

    reader = _READERS.get(path.suffix.lower())
    label = _FORMAT_NAMES.get(reader, "text") if reader else "file"
    try:
        if reader is None:
            reader = _sniff_reader(path)
            label = _FORMAT_NAMES.get(reader, "text")
        return reader(path)
    except InputFileError:
        raise
    except PermissionError:
        raise fail(path, "permission denied", "check the file's permissions") from None
    except OSError as exc:
        raise fail(path, f"cannot read the file ({exc.strerror or exc})") from None
    except MemoryError:
        raise fail(path, "too large to read into memory") from None
    except RecursionError:
        raise fail(path, f"not a readable {label} (structure nested too deeply)") from None
    except Exception as exc:  # noqa: BLE001 - a reader bug or a library surprise must not escape raw
        raise fail(path, f"could not read the {label} ({type(exc).__name__}: {exc})") from exc


# --------------------------------------------------------------------------- collecting files

def _skipped_name(name: str) -> bool:
    """Hidden files and Office lock files (``~$report.docx``) never load from a folder."""
    return name.startswith((".", "~$"))


def _walk(folder: Path, recursive: bool) -> Iterator[Path]:
    for root, dirs, files in os.walk(folder, followlinks=False):
        dirs[:] = sorted(d for d in dirs if not _skipped_name(d)) if recursive else []
        for name in sorted(files):
            if not _skipped_name(name):
                yield Path(root, name)


def _normalise_extensions(extensions: Iterable[str] | None) -> set[str] | None:
    if extensions is None:
        return None
    out = set()
    for ext in extensions:
        ext = ext.strip().lower()
        if ext:
            out.add(ext if ext.startswith(".") else f".{ext}")
    return out or None


def collect_files(input_dir: str | os.PathLike | None = None,
                  input_files: Iterable[str | os.PathLike] | None = None,
                  recursive: bool = False,
                  extensions: Iterable[str] | None = None) -> list[Path]:
    """The files to load: absolute paths, sorted, each file once (symlinks resolved for the check).

    From ``input_dir``: files with a supported extension (or, if given, one of
    ``extensions``, which may name extra ones to be read as text), skipping
    hidden files and folders and Office lock files; subfolders only with
    ``recursive``. ``input_files`` are taken as named, whatever their
    extension: ``read_file`` decides later whether they are readable. A
    missing path raises ``InputFileError``. Finding nothing is not an error
    here: the result is simply empty.
    """
    wanted = _normalise_extensions(extensions)
    found: dict[str, Path] = {}

    def add(p: Path) -> None:
        found.setdefault(os.path.realpath(p), Path(os.path.abspath(p)))

    if input_dir is not None:
        folder = Path(input_dir).expanduser()
        if not folder.exists():
            raise InputFileError(f"{folder}: no such directory", "check the path")
        if not folder.is_dir():
            raise InputFileError(f"{folder}: not a directory", "load single files with --input-files")
        for p in _walk(folder, recursive):
            ext = p.suffix.lower()
            if (ext in wanted) if wanted is not None else (ext in _READERS):
                if p.is_file():  # skips broken symlinks, sockets, fifos
                    add(p)
    for item in input_files or ():
        p = Path(item).expanduser()
        if not p.exists():
            raise InputFileError(f"{p}: no such file", "check the path")
        if p.is_dir():
            raise InputFileError(f"{p}: is a directory, not a file", "load folders with --input-dir")
        add(p)
    return sorted(found.values())

