"""EPUB: one document per spine item (chapter) with text, in reading order.

The package document (OPF) is found through ``META-INF/container.xml`` (or,
failing that, the only ``.opf`` in the archive); its spine gives the order and
its manifest the files. Chapters are (X)HTML, converted like HTML files.
``page`` is None; ``chapter`` numbers the chapters with text from 1.
DRM-encrypted books are refused (font obfuscation is fine).
"""

from __future__ import annotations

import posixpath
import zipfile
from pathlib import Path
from urllib.parse import unquote

from memgpt.ingest.readers._common import (
    ReadDocument,
    base_metadata,
    fail,
    find_member,
    local_name,
    open_zip,
    parse_part,
    read_part,
)
from memgpt.ingest.readers._html import decode_html, html_to_text

_FONT_OBFUSCATION = frozenset({"http://www.idpf.org/2008/embedding", "http://ns.adobe.com/pdf/enc#RC"})
_HTML_TYPES = frozenset({"application/xhtml+xml", "text/html", "application/x-dtbook+xml"})


def _check_drm(zf: zipfile.ZipFile, path: Path) -> None:
    if find_member(zf, "META-INF/rights.xml"):
        raise fail(path, "EPUB is DRM-protected", "remove the DRM with the tool of the shop that sold it")
    member = find_member(zf, "META-INF/encryption.xml")
    if member is None:
        return
    for elem in parse_part(zf, member, path, "EPUB").iter():
        if local_name(elem.tag) == "EncryptionMethod" and elem.get("Algorithm") not in _FONT_OBFUSCATION:
            raise fail(path, "EPUB is DRM-protected (its content is encrypted)",
                       "remove the DRM with the tool of the shop that sold it")


def _package_path(zf: zipfile.ZipFile, path: Path) -> str:
    container = find_member(zf, "META-INF/container.xml")
    if container is not None:
        for elem in parse_part(zf, container, path, "EPUB").iter():
            if local_name(elem.tag) == "rootfile":
                member = find_member(zf, unquote(elem.get("full-path") or ""))
                if member:
                    return member
    opfs = [n for n in zf.namelist() if n.lower().endswith(".opf")]
    if len(opfs) == 1:
        return opfs[0]
    raise fail(path, "not a valid EPUB (no package document: META-INF/container.xml or .opf is missing)",
               "re-export the book")


def read_epub(path: Path) -> list[ReadDocument]:
    docs: list[ReadDocument] = []
    with open_zip(path, "EPUB") as zf:
        _check_drm(zf, path)
        opf_name = _package_path(zf, path)
        opf = parse_part(zf, opf_name, path, "EPUB")
        folder = posixpath.dirname(opf_name)
        manifest: dict[str, tuple[str, str]] = {}
        spine: list[str] = []
        book_title = ""
        for elem in opf.iter():
            name = local_name(elem.tag)
            if name == "item" and elem.get("id") and elem.get("href"):
                href = posixpath.normpath(posixpath.join(folder, unquote(elem.get("href", "").split("#")[0])))
                manifest[elem.get("id", "")] = (href, (elem.get("media-type") or "").lower())
            elif name == "itemref" and elem.get("idref"):
                spine.append(elem.get("idref", ""))
            elif name == "title" and not book_title and elem.text:
                book_title = " ".join(elem.text.split())
        if not spine:
            raise fail(path, "not a valid EPUB (the package has no spine)", "re-export the book")
        seen: set[str] = set()
        for idref in spine:
            href, media_type = manifest.get(idref, ("", ""))
            member = find_member(zf, href) if href else None
            if member is None or member in seen:
                continue
            if media_type not in _HTML_TYPES and not member.lower().endswith((".html", ".htm", ".xhtml")):
                continue
            seen.add(member)
            html, _ = decode_html(read_part(zf, member, path, "EPUB"), path)
            text, page_title, heading = html_to_text(html)
            if text:
                docs.append(ReadDocument(text, base_metadata(
                    path, "epub", chapter=len(docs) + 1, chapter_file=member,
                    chapter_title=heading or (page_title if page_title != book_title else None),
                    title=book_title)))
    if not docs:
        raise fail(path, "no text found in the EPUB's chapters")
    return docs
