"""Pieces every reader shares: the document record, errors, text decoding, cleanup.

Text decoding policy (plain text, Markdown, CSV, JSON, and HTML without a
usable declared charset):

1. A byte-order mark wins: UTF-32, UTF-8 (invalid bytes replaced) or UTF-16.
2. Without a BOM, NUL bytes mean binary, except for BOM-less UTF-16, which is
   recognised by NULs in every other byte and decoded as such.
3. Strict UTF-8. If that fails but the file is mostly valid UTF-8 (at most
   one invalid sequence per four valid multi-byte characters), UTF-8 with the
   odd broken byte replaced; this keeps one bad byte from turning a whole
   UTF-8 file into cp1252 mojibake.
4. Otherwise the encoding charset-normalizer finds most plausible (cp1251
   Russian, GBK/GB18030 and Big5 Chinese, Shift-JIS Japanese, cp1250 ...).
   Latin code pages often tie on short texts: a tie goes to cp1252 (the
   usual "latin-1" of Windows files), and a guess that reads the bytes
   exactly as cp1252 or latin-1 does is named so. A single-byte guess
   without any language evidence (a few words) is not trusted. With no
   usable guess, cp1252, or latin-1 when the bytes use one of the five positions cp1252
   leaves undefined (the check below then decides whether it is text).

Whatever was decoded must look like text: control characters other than tab,
newline, carriage return, form feed, vertical tab and ESC (ANSI colours) may
make up at most 2 % of it, with a little slack for tiny files. Random bytes
land near 10 %, real text near 0 %.
"""

from __future__ import annotations

import codecs
import os
import re
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree as ET

from memgpt.errors import InputFileError

MAX_CONTROL_RATIO = 0.02
MAX_PART_BYTES = 512 * 1024 * 1024  # one XML part of a DOCX/PPTX/EPUB, uncompressed (zip-bomb guard)

SUPPORTED_HINT = "pass a supported file type (see memgpt load --help) or remove it from the input"


@dataclass
class ReadDocument:
    """One readable unit of a file: a PDF page, a slide, an EPUB chapter, a whole text file."""

    text: str
    metadata: dict[str, Any] = field(default_factory=dict)


def fail(path: str | os.PathLike, reason: str, hint: str | None = None) -> InputFileError:
    """An ``InputFileError`` whose one-line message starts with the file's path."""
    return InputFileError(f"{path}: {' '.join(str(reason).split())}", hint)


def base_metadata(path: Path, file_type: str, page: int | None = None, **extra: Any) -> dict[str, Any]:
    full = os.path.abspath(path)
    meta: dict[str, Any] = {"file_path": full, "file_name": os.path.basename(full), "file_type": file_type,
                            "page": page}
    meta.update({k: v for k, v in extra.items() if v not in (None, "")})
    return meta


# --------------------------------------------------------------------------- cleanup

_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]|\x1b[@-Z\\-_]")
# C0 controls but tab/newline, DEL, C1 controls, the non-characters U+FFFE/U+FFFF
# (PDFium marks a hyphen removed at a line break with U+FFFE) and lone surrogates,
# which would make UTF-8 encoding fail later in the databases.
_JUNK = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f\ufffe\uffff\ud800-\udfff]")
_TRAILING_SPACE = re.compile(r"[ \t\u00a0]+\n")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def clean_text(text: str) -> str:
    """Unify line ends, drop control junk and trailing spaces, keep paragraph breaks."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\x0c", "\n\n").replace("\u2029", "\n\n").replace("\u2028", "\n")
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    text = _JUNK.sub("", text)
    text = _TRAILING_SPACE.sub("\n", text)
    text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip()


# --------------------------------------------------------------------------- binary sniffing

_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"%PDF-", "a PDF document"),
    (b"PK\x03\x04", "a ZIP archive (DOCX, PPTX, EPUB or plain zip)"),
    (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "a legacy or password-protected Office file"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\x1f\x8b", "a gzip archive"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"Rar!", "a RAR archive"),
    (b"SQLite format 3\x00", "an SQLite database"),
    (b"\x7fELF", "a Linux executable"),
    (b"MZ", "a Windows executable"),
)


def sniff_kind(data: bytes) -> str | None:
    """A human name for a binary format recognised by its first bytes."""
    for magic, name in _MAGIC:
        if data.startswith(magic):
            return name
    if b"%PDF-" in data[:1024]:
        return "a PDF document"
    return None


def binary_error(path: Path, data: bytes) -> InputFileError:
    kind = sniff_kind(data)
    reason = "binary content, not text" + (f" (looks like {kind})" if kind else "")
    return fail(path, reason, SUPPORTED_HINT)


# --------------------------------------------------------------------------- text decoding

_CONTROL = re.compile("[\x00-\x08\x0e-\x1a\x1c-\x1f\x7f-\x9f]")
_BOMS: tuple[tuple[bytes, str, str], ...] = (
    (codecs.BOM_UTF32_LE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF32_BE, "utf-32", "UTF-32"),
    (codecs.BOM_UTF8, "utf-8-sig", "UTF-8"),
    (codecs.BOM_UTF16_LE, "utf-16", "UTF-16"),
    (codecs.BOM_UTF16_BE, "utf-16", "UTF-16"),
)


def looks_like_text(text: str) -> bool:
    if not text:
        return True
    n_control = sum(1 for _ in _CONTROL.finditer(text))
    return n_control <= max(2, MAX_CONTROL_RATIO * len(text))


def _bomless_utf16(data: bytes) -> str | None:
    sample = data[:4096]
    sample = sample[: len(sample) - len(sample) % 2]
    if len(sample) < 4:
        return None
    even, odd = sample[0::2], sample[1::2]
    half = len(even)
    if odd.count(0) > 0.9 * half and even.count(0) < 0.1 * half:
        return "utf-16-le"
    if even.count(0) > 0.9 * half and odd.count(0) < 0.1 * half:
        return "utf-16-be"
    return None


_NON_ASCII = re.compile("[^\x00-\x7f\ufffd]")


def _mostly_utf8(data: bytes) -> bool:
    text = data.decode("utf-8", errors="replace")
    bad = text.count("\ufffd") - data.decode("utf-8", errors="ignore").count("\ufffd")
    good = len(_NON_ASCII.findall(text))
    return good >= 4 * bad > 0


def _guess_encoding(data: bytes) -> tuple[str, str]:
    """Decode bytes that are not UTF-8 by charset-normalizer's best guess (step 4 of the policy)."""
    from charset_normalizer import from_bytes

    # UTF-16/32 without a BOM was recognised by its NUL bytes already: any such guess here is noise.
    matches = [m for m in from_bytes(data) if not m.encoding.startswith(("utf_16", "utf_32"))]
    best = matches[0] if matches else None
    if best is not None:
        for m in matches:
            if m.encoding == "cp1252" and (m.chaos, -m.coherence) <= (best.chaos, -best.coherence):
                best = m
                break
        text = str(best)
        if len(text) == len(data) and best.coherence == 0:
            best = None  # a single-byte code page with no language evidence (a short text): no better than cp1252
    if best is not None:
        for codec in ("cp1252", "latin-1"):
            try:
                if data.decode(codec) == text:
                    return text, codec
            except UnicodeDecodeError:
                continue
        return text, best.encoding
    try:
        return data.decode("cp1252"), "cp1252"
    except UnicodeDecodeError:
        return data.decode("latin-1"), "latin-1"


def decode_text(data: bytes, path: Path) -> tuple[str, str]:
    """Decode a text file's bytes by the policy in the module docstring: (text, encoding)."""
    text: str | None = None
    encoding = ""
    for bom, codec, label in _BOMS:
        if data.startswith(bom):
            errors = "replace" if codec == "utf-8-sig" else "strict"
            try:
                text = data.decode(codec, errors=errors)
            except UnicodeDecodeError:
                raise fail(path, f"not valid {label} text despite its byte-order mark",
                           "re-save the file as UTF-8") from None
            encoding = codec
            break
    if text is None:
        if b"\x00" in data:
            codec = _bomless_utf16(data)
            if codec is None:
                raise binary_error(path, data)
            try:
                text = data.decode(codec)
            except UnicodeDecodeError:
                raise binary_error(path, data) from None
            encoding = codec
        else:
            try:
                text, encoding = data.decode("utf-8"), "utf-8"
            except UnicodeDecodeError:
                if _mostly_utf8(data):
                    text, encoding = data.decode("utf-8", errors="replace"), "utf-8 (invalid bytes replaced)"
                else:
                    text, encoding = _guess_encoding(data)
    if not looks_like_text(text):
        raise binary_error(path, data)
    return text, encoding


# --------------------------------------------------------------------------- zip + XML containers

OLE_MAGIC = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"


def local_name(tag: Any) -> str:
    """``{namespace}name`` -> ``name``; comments and processing instructions -> ``""``."""
    if not isinstance(tag, str):
        return ""
    return tag.rsplit("}", 1)[-1]


def open_zip(path: Path, label: str) -> zipfile.ZipFile:
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(OLE_MAGIC):
        raise fail(path, f"{label} is password protected or in a legacy binary format (not a ZIP package)",
                   f"open it in its application and save it as .{label.lower()} without a password")
    try:
        return zipfile.ZipFile(path)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, ValueError):
        raise fail(path, f"not a valid {label} (corrupt zip)",
                   "re-download or re-export the file") from None


def read_part(zf: zipfile.ZipFile, name: str, path: Path, label: str) -> bytes:
    """Bytes of one member; a missing one raises ``KeyError``, a damaged one ``InputFileError``."""
    info = zf.getinfo(name)
    if info.file_size > MAX_PART_BYTES:
        raise fail(path, f"not a valid {label} ({name} unpacks to {info.file_size} bytes)")
    if info.flag_bits & 0x1:
        raise fail(path, f"{label} is encrypted (password protected zip)")
    try:
        return zf.read(info)
    except (zipfile.BadZipFile, zlib.error, EOFError, ValueError, NotImplementedError) as exc:
        raise fail(path, f"not a valid {label} (corrupt zip: {name}: {exc})",
                   "re-download or re-export the file") from None


def parse_part(zf: zipfile.ZipFile, name: str, path: Path, label: str) -> ET.Element:
    data = read_part(zf, name, path, label)
    try:
        return ET.fromstring(data)
    except ET.ParseError as exc:
        raise fail(path, f"not a valid {label} (malformed XML in {name}: {exc})") from None


def find_member(zf: zipfile.ZipFile, name: str) -> str | None:
    """The stored name matching ``name``, tolerating case differences and a leading slash."""
    name = name.lstrip("/")
    names = zf.namelist()
    if name in names:
        return name
    lower = name.lower()
    for candidate in names:
        if candidate.lower() == lower:
            return candidate
    return None
