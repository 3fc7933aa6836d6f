"""DOCX and PPTX: Office Open XML packages read with ``zipfile`` + ``xml.etree``.

Elements are matched by local name, so both transitional and strict OOXML
namespaces work. Where a package offers alternative content (``mc:Choice`` /
``mc:Fallback``) only the first choice is read, so text boxes are not
duplicated.

DOCX: one document for the whole file. Paragraphs are separated by blank
lines, list items by line breaks (``- item``), table rows become
``cell | cell`` lines. Tracked deletions and field codes are left out;
footnotes and endnotes are appended. Headers and footers are left out (they
repeat on every page).

PPTX: one document per slide with text, in presentation order (page = slide
number, 1-based), with the speaker notes appended. Slide numbers, dates and
footers are left out.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree as ET

from memgpt.ingest.readers._common import (
    ReadDocument,
    base_metadata,
    clean_text,
    fail,
    find_member,
    local_name,
    open_zip,
    parse_part,
)

_REL_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"
_REL_ID_STRICT = "{http://purl.oclc.org/ooxml/officeDocument/relationships}id"


def _relationships(zf: zipfile.ZipFile, part: str, path: Path, label: str) -> dict[str, tuple[str, str]]:
    """Relationship id -> (type, resolved member name) for ``part``."""
    folder, name = posixpath.split(part)
    rels_name = find_member(zf, posixpath.join(folder, "_rels", name + ".rels"))
    if rels_name is None:
        return {}
    out: dict[str, tuple[str, str]] = {}
    for rel in parse_part(zf, rels_name, path, label):
        if local_name(rel.tag) != "Relationship" or rel.get("TargetMode") == "External":
            continue
        target = rel.get("Target") or ""
        resolved = target.lstrip("/") if target.startswith("/") else posixpath.normpath(
            posixpath.join(folder, target))
        out[rel.get("Id") or ""] = (rel.get("Type") or "", resolved)
    return out


def _main_part(zf: zipfile.ZipFile, path: Path, label: str, default: str) -> str:
    for rel_type, target in _relationships(zf, "", path, label).values():
        if rel_type.endswith("/officeDocument") and find_member(zf, target):
            return find_member(zf, target) or target
    found = find_member(zf, default)
    if found is None:
        raise fail(path, f"not a valid {label} ({default} is missing)", "re-export the file from its application")
    return found


# =========================================================================== DOCX

_DOCX_SKIP = frozenset({"instrText", "delText", "del", "moveFrom", "rPr", "pPr", "Fallback", "fldData",
                        "footnoteReference", "endnoteReference", "commentReference"})
_DOCX_CONTAINERS = frozenset({"body", "sdt", "sdtContent", "customXml", "ins", "moveTo", "smartTag",
                              "txbxContent", "AlternateContent", "Choice", "footnote", "endnote", "hyperlink"})


def _run_text(elem: ET.Element, out: list[str]) -> None:
    for child in elem:
        name = local_name(child.tag)
        if name == "t":
            out.append(child.text or "")
        elif name == "tab":
            out.append("\t")
        elif name in ("br", "cr"):
            out.append("\n")
        elif name == "noBreakHyphen":
            out.append("-")
        elif name == "p":  # a paragraph nested in a text box inside this paragraph
            out.append("\n")
            _run_text(child, out)
            out.append("\n")
        elif name and name not in _DOCX_SKIP:
            _run_text(child, out)


def _is_list_item(p: ET.Element) -> bool:
    for child in p:
        if local_name(child.tag) == "pPr":
            for prop in child:
                name = local_name(prop.tag)
                if name == "numPr":
                    return True
                if name == "pStyle":
                    style = next((v for k, v in prop.attrib.items() if local_name(k) == "val"), "")
                    if style.lower().startswith("list"):
                        return True
    return False


def _docx_table(tbl: ET.Element) -> str:
    rows: list[str] = []
    for tr in tbl:
        if local_name(tr.tag) != "tr":
            continue
        cells: list[str] = []
        for tc in tr:
            if local_name(tc.tag) != "tc":
                continue
            blocks: list[tuple[str, bool]] = []
            _docx_blocks(tc, blocks)
            cells.append(" ".join(" ".join(text.split()) for text, _ in blocks))
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _docx_blocks(container: ET.Element, out: list[tuple[str, bool]]) -> None:
    """Paragraphs and tables under ``container`` in order, as (text, is_list_item)."""
    for child in container:
        name = local_name(child.tag)
        if name == "p":
            parts: list[str] = []
            _run_text(child, parts)
            text = "".join(parts).strip()
            if text:
                out.append((text, _is_list_item(child)))
        elif name == "tbl":
            table = _docx_table(child)
            if table:
                out.append((table, False))
        elif name in _DOCX_CONTAINERS:
            _docx_blocks(child, out)


def _join_blocks(blocks: list[tuple[str, bool]]) -> str:
    pieces: list[str] = []
    prev_item = False
    for text, item in blocks:
        if pieces:
            pieces.append("\n" if item and prev_item else "\n\n")
        pieces.append(f"- {text}" if item else text)
        prev_item = item
    return "".join(pieces)


def _docx_notes(zf: zipfile.ZipFile, rels: dict[str, tuple[str, str]], path: Path) -> list[tuple[str, bool]]:
    blocks: list[tuple[str, bool]] = []
    for rel_type, target in sorted(rels.values()):
        if not rel_type.endswith(("/footnotes", "/endnotes")):
            continue
        member = find_member(zf, target)
        if member is None:
            continue
        for note in parse_part(zf, member, path, "DOCX"):
            kind = next((v for k, v in note.attrib.items() if local_name(k) == "type"), "normal")
            if local_name(note.tag) in ("footnote", "endnote") and kind == "normal":
                _docx_blocks(note, blocks)
    return blocks


def read_docx(path: Path) -> list[ReadDocument]:
    with open_zip(path, "DOCX") as zf:
        main = _main_part(zf, path, "DOCX", "word/document.xml")
        root = parse_part(zf, main, path, "DOCX")
        blocks: list[tuple[str, bool]] = []
        for child in root:
            if local_name(child.tag) == "body":
                _docx_blocks(child, blocks)
        notes = _docx_notes(zf, _relationships(zf, main, path, "DOCX"), path)
    text = _join_blocks(blocks)
    if notes:
        text += "\n\nNotes:\n\n" + _join_blocks(notes)
    text = clean_text(text)
    if not text:
        raise fail(path, "no text found (the document is empty or holds only images)")
    return [ReadDocument(text, base_metadata(path, "docx"))]


# =========================================================================== PPTX

_NOISE_PLACEHOLDERS = frozenset({"sldNum", "dt", "ftr", "hdr", "sldImg"})
_TITLE_PLACEHOLDERS = frozenset({"title", "ctrTitle"})


def _placeholder(shape: ET.Element) -> str | None:
    for child in shape:
        if local_name(child.tag) in ("nvSpPr", "nvGraphicFramePr", "nvPicPr"):
            for elem in child.iter():
                if local_name(elem.tag) == "ph":
                    return elem.get("type") or "body"
    return None


def _drawing_paragraph(p: ET.Element) -> str:
    parts: list[str] = []
    for elem in p.iter():
        name = local_name(elem.tag)
        if name == "t":
            parts.append(elem.text or "")
        elif name == "br":
            parts.append("\n")
    return "".join(parts).strip()


def _text_body(body: ET.Element) -> str:
    return "\n".join(t for t in (_drawing_paragraph(p) for p in body if local_name(p.tag) == "p") if t)


def _drawing_table(tbl: ET.Element) -> str:
    rows: list[str] = []
    for tr in tbl:
        if local_name(tr.tag) != "tr":
            continue
        cells = []
        for tc in tr:
            if local_name(tc.tag) == "tc":
                body = next((c for c in tc if local_name(c.tag) == "txBody"), None)
                cells.append(" ".join(_text_body(body).split()) if body is not None else "")
        if any(cells):
            rows.append(" | ".join(cells))
    return "\n".join(rows)


def _slide_blocks(elem: ET.Element, out: list[str], titles: list[str]) -> None:
    for child in elem:
        name = local_name(child.tag)
        if name == "Fallback":
            continue
        if name in ("sp", "graphicFrame"):
            kind = _placeholder(child)
            if kind in _NOISE_PLACEHOLDERS:
                continue
            before = len(out)
            _slide_blocks(child, out, titles)
            if kind in _TITLE_PLACEHOLDERS and len(out) > before and not titles:
                titles.append(" ".join(out[before].split()))
        elif name == "txBody":
            text = _text_body(child)
            if text:
                out.append(text)
        elif name == "tbl":
            table = _drawing_table(child)
            if table:
                out.append(table)
        elif name:
            _slide_blocks(child, out, titles)


_SLIDE_NUMBER = re.compile(r"slide(\d+)\.xml$", re.I)


def _slide_order(zf: zipfile.ZipFile, main: str, path: Path) -> list[str]:
    rels = _relationships(zf, main, path, "PPTX")
    slides: list[str] = []
    for elem in parse_part(zf, main, path, "PPTX").iter():
        if local_name(elem.tag) == "sldId":
            rid = elem.get(_REL_ID) or elem.get(_REL_ID_STRICT)
            target = rels.get(rid or "", ("", ""))[1]
            member = find_member(zf, target) if target else None
            if member and member not in slides:
                slides.append(member)
    if not slides:  # no usable slide list: fall back to slide1.xml, slide2.xml, ... in numeric order
        numbered = [(int(m.group(1)), n) for n in zf.namelist()
                    if n.lower().startswith("ppt/slides/") and (m := _SLIDE_NUMBER.search(n))]
        slides = [n for _, n in sorted(numbered)]
    return slides


def read_pptx(path: Path) -> list[ReadDocument]:
    docs: list[ReadDocument] = []
    with open_zip(path, "PPTX") as zf:
        main = _main_part(zf, path, "PPTX", "ppt/presentation.xml")
        slides = _slide_order(zf, main, path)
        if not slides:
            raise fail(path, "not a valid PPTX (no slides found)")
        for number, slide in enumerate(slides, start=1):
            blocks: list[str] = []
            titles: list[str] = []
            _slide_blocks(parse_part(zf, slide, path, "PPTX"), blocks, titles)
            notes: list[str] = []
            for rel_type, target in _relationships(zf, slide, path, "PPTX").values():
                member = find_member(zf, target) if rel_type.endswith("/notesSlide") else None
                if member:
                    _slide_blocks(parse_part(zf, member, path, "PPTX"), notes, [])
            text = "\n\n".join(blocks)
            if notes:
                text += "\n\nNotes:\n" + "\n\n".join(notes)
            text = clean_text(text)
            if text:
                docs.append(ReadDocument(text, base_metadata(path, "pptx", page=number, page_count=len(slides),
                                                             title=titles[0] if titles else None)))
    if not docs:
        raise fail(path, "no text found (the slides are empty or hold only images)")
    return docs
