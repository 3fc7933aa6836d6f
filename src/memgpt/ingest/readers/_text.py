"""Plain text, Markdown, HTML, CSV/TSV and JSON/JSONL: one document per file.

CSV: the first row is the header; every other row becomes a paragraph of
``column: value`` lines (empty values left out), so each chunk keeps the
column names. JSON: objects are flattened to ``path.to.key: value`` lines;
a top-level array (and every line of JSONL) gives one paragraph per element.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from memgpt.ingest.readers._common import ReadDocument, base_metadata, clean_text, decode_text, fail
from memgpt.ingest.readers._html import decode_html, html_to_text


def _no_text(path: Path, decoded: str) -> Exception:
    if not decoded.strip():
        return fail(path, "file is empty (only whitespace)", "remove it from the input")
    return fail(path, "no text found")


def read_plain(path: Path, file_type: str = "text") -> list[ReadDocument]:
    data = path.read_bytes()
    raw, encoding = decode_text(data, path)
    text = clean_text(raw)
    if not text:
        raise _no_text(path, raw)
    return [ReadDocument(text, base_metadata(path, file_type, encoding=encoding))]


def read_markdown(path: Path) -> list[ReadDocument]:
    return read_plain(path, "markdown")


def read_html(path: Path) -> list[ReadDocument]:
    data = path.read_bytes()
    html, encoding = decode_html(data, path)
    text, title, _ = html_to_text(html)
    if not text:
        raise _no_text(path, html)
    return [ReadDocument(text, base_metadata(path, "html", encoding=encoding, title=title))]


# --------------------------------------------------------------------------- CSV

def read_csv(path: Path) -> list[ReadDocument]:
    data = path.read_bytes()
    raw, encoding = decode_text(data, path)
    tsv = path.suffix.lower() == ".tsv"
    sample = raw[:65536]
    try:
        dialect: Any = csv.Sniffer().sniff(sample, delimiters="\t" if tsv else ",;\t|")
    except csv.Error:
        dialect = csv.excel_tab if tsv else csv.excel
    try:
        rows = [[cell.strip() for cell in row] for row in csv.reader(io.StringIO(raw, newline=""), dialect)]
    except csv.Error as exc:
        raise fail(path, f"not a valid CSV ({exc})") from None
    rows = [row for row in rows if any(row)]
    if not rows:
        raise _no_text(path, raw)
    header, body = rows[0], rows[1:]
    if not body:
        text = ", ".join(cell for cell in header if cell)
    else:
        names = [name or f"column {i + 1}" for i, name in enumerate(header)]
        records = []
        for row in body:
            lines = [f"{names[i] if i < len(names) else f'column {i + 1}'}: {value}"
                     for i, value in enumerate(row) if value]
            records.append("\n".join(lines))
        text = "\n\n".join(records)
    text = clean_text(text)
    if not text:
        raise _no_text(path, raw)
    return [ReadDocument(text, base_metadata(path, "csv", encoding=encoding, rows=len(body)))]


# --------------------------------------------------------------------------- JSON

def _scalar(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _flatten(value: Any, prefix: str, lines: list[str]) -> None:
    if isinstance(value, dict):
        for key, item in value.items():
            _flatten(item, f"{prefix}.{key}" if prefix else str(key), lines)
    elif isinstance(value, list):
        if value and all(not isinstance(v, (dict, list)) for v in value):
            joined = ", ".join(_scalar(v) for v in value)
            lines.append(f"{prefix}: {joined}" if prefix else joined)
        else:
            for i, item in enumerate(value):  # records: a paragraph each
                if lines and lines[-1]:
                    lines.append("")
                _flatten(item, f"{prefix}[{i}]", lines)
            lines.append("")
    elif value is not None and value != "":
        lines.append(f"{prefix}: {_scalar(value)}" if prefix else _scalar(value))


def _render(value: Any) -> str:
    items = value if isinstance(value, list) and any(isinstance(v, (dict, list)) for v in value) else [value]
    paragraphs = []
    for item in items:
        lines: list[str] = []
        _flatten(item, "", lines)
        paragraph = "\n".join(lines).strip()
        if paragraph:
            paragraphs.append(paragraph)
    return "\n\n".join(paragraphs)


def read_json(path: Path) -> list[ReadDocument]:
    data = path.read_bytes()
    raw, encoding = decode_text(data, path)
    if not raw.strip():
        raise _no_text(path, raw)
    try:
        text = _render(json.loads(raw))
    except json.JSONDecodeError as exc:
        raise fail(path, f"not valid JSON (line {exc.lineno} column {exc.colno}: {exc.msg})") from None
    except RecursionError:
        raise fail(path, "JSON is nested too deeply to read") from None
    text = clean_text(text)
    if not text:
        raise fail(path, "no text found (the JSON holds only empty values)")
    return [ReadDocument(text, base_metadata(path, "json", encoding=encoding))]


def read_jsonl(path: Path) -> list[ReadDocument]:
    data = path.read_bytes()
    raw, encoding = decode_text(data, path)
    paragraphs = []
    for lineno, line in enumerate(raw.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except json.JSONDecodeError as exc:
            raise fail(path, f"not valid JSON Lines (line {lineno}: {exc.msg})") from None
        except RecursionError:
            raise fail(path, f"JSON on line {lineno} is nested too deeply to read") from None
        lines = []
        _flatten(value, "", lines)
        paragraph = "\n".join(lines).strip()
        if paragraph:
            paragraphs.append(paragraph)
    text = clean_text("\n\n".join(paragraphs))
    if not text:
        raise _no_text(path, raw)
    return [ReadDocument(text, base_metadata(path, "jsonl", encoding=encoding))]
