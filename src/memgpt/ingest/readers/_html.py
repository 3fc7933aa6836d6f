"""HTML and XHTML to plain text with the standard library's ``html.parser``.

Kept: the text of the page with its block structure: headings and paragraphs
become paragraphs (blank line between), list items and table rows become
lines (``- item``, ``cell | cell``), ``<br>`` a line break, ``<pre>`` keeps its
lines. Dropped: scripts, styles, navigation, forms' controls, embedded
objects, and elements marked ``hidden`` / ``aria-hidden="true"`` /
``display:none``. Whitespace inside text is collapsed as a browser would.
"""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser
from pathlib import Path

from memgpt.ingest.readers._common import clean_text, decode_text

# Whole subtrees that are never document text.
_SKIP = frozenset({
    "script", "style", "noscript", "template", "nav", "head", "svg", "math", "canvas", "iframe", "object",
    "embed", "video", "audio", "button", "select", "textarea", "datalist", "dialog", "map",
})
# Elements whose end tag is often omitted: never start a hidden-subtree skip on them,
# or an unclosed one would swallow the rest of the page.
_IMPLIED_END = frozenset({"p", "li", "dt", "dd", "td", "th", "tr", "option", "thead", "tbody", "tfoot",
                          "colgroup", "caption", "rb", "rt", "rp", "optgroup"})
_VOID = frozenset({"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
                   "source", "track", "wbr"})
_PARAGRAPH = frozenset({
    "p", "div", "section", "article", "main", "header", "footer", "aside", "blockquote", "figure",
    "figcaption", "address", "details", "summary", "table", "ul", "ol", "dl", "form", "fieldset",
    "h1", "h2", "h3", "h4", "h5", "h6", "hr", "pre", "body", "caption", "center", "legend",
})
_LINE = frozenset({"li", "tr", "dt", "dd", "br", "option"})
_HEADINGS = frozenset({"h1", "h2", "h3", "h4", "h5", "h6"})

_LINE_MARK = "\x01"
_PARA_MARK = "\x02"
_PRE_SPACE = "\x03"  # a space inside <pre>, safe from whitespace collapsing
_SPACES = re.compile(r"[ \t\n\r\f\v]+")
_BREAKS = re.compile("[ \x01\x02]*[\x01\x02][ \x01\x02]*")
_INNER_SPACES = re.compile(r"(?<=\S) {2,}")
_EMPTY_ITEM = re.compile(r"^ *-? *(?:\| *)*$", re.M)  # a list item or table row with no text
_DISPLAY_NONE = re.compile(r"display\s*:\s*none|visibility\s*:\s*hidden", re.I)


class _TextExtractor(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title_parts: list[str] | None = None
        self.title = ""
        self.heading_parts: list[str] | None = None
        self.first_heading = ""
        self._skip_tag: str | None = None
        self._skip_depth = 0
        self._pre = 0
        self._cells: list[int] = [0]  # cells seen in the current row, one entry per open table

    # -- helpers
    def _mark(self, mark: str) -> None:
        self.parts.append(mark)

    def _hidden(self, tag: str, attrs: list[tuple[str, str | None]]) -> bool:
        if tag in _SKIP:
            return True
        if tag in _IMPLIED_END or tag in _VOID:
            return False
        for name, value in attrs:
            if name == "hidden":
                return True
            if name == "aria-hidden" and (value or "").lower() == "true":
                return True
            if name == "style" and value and _DISPLAY_NONE.search(value):
                return True
        return False

    # -- parser callbacks
    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title" and self._skip_tag in (None, "head") and self.title_parts is None and not self.title:
            self.title_parts = []
            return
        if self._skip_tag is not None:
            if tag == self._skip_tag and tag not in _VOID:
                self._skip_depth += 1
            return
        if self._hidden(tag, attrs):
            if tag not in _VOID:
                self._skip_tag, self._skip_depth = tag, 1
            return
        if tag in _HEADINGS and self.heading_parts is None and not self.first_heading:
            self.heading_parts = []
        if tag == "pre":
            self._pre += 1
        if tag == "table":
            self._cells.append(0)
        elif tag == "tr":
            self._cells[-1] = 0
        elif tag in ("td", "th"):
            if self._cells[-1]:
                self.parts.append(" | ")
            self._cells[-1] += 1
        if tag in _PARAGRAPH:
            self._mark(_PARA_MARK)
        elif tag in _LINE:
            self._mark(_LINE_MARK)
            if tag == "li":
                self.parts.append("- ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # <br/>, <img/> ... and XHTML's self-closed <div/>: open and close at once.
        self.handle_starttag(tag, attrs)
        if tag not in _VOID:
            self.handle_endtag(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag == "title" and self.title_parts is not None:
            self.title = " ".join("".join(self.title_parts).split())
            self.title_parts = None
            return
        if self._skip_tag is not None:
            if tag == self._skip_tag:
                self._skip_depth -= 1
                if self._skip_depth == 0:
                    self._skip_tag = None
            return
        if tag in _HEADINGS and self.heading_parts is not None:
            self.first_heading = " ".join("".join(self.heading_parts).split())
            self.heading_parts = None
        if tag == "pre" and self._pre:
            self._pre -= 1
        if tag == "table" and len(self._cells) > 1:
            self._cells.pop()
        if tag in _PARAGRAPH:
            self._mark(_PARA_MARK)
        elif tag in _LINE and tag != "br":
            self._mark(_LINE_MARK)

    def handle_data(self, data: str) -> None:
        if self.title_parts is not None:
            self.title_parts.append(data)
            return
        if self._skip_tag is not None:
            return
        if self.heading_parts is not None:
            self.heading_parts.append(data)
        data = data.replace(_LINE_MARK, "").replace(_PARA_MARK, "").replace(_PRE_SPACE, "")
        if self._pre:
            data = data.replace("\r\n", "\n").replace("\n", _LINE_MARK)
            self.parts.append(data.replace(" ", _PRE_SPACE).replace("\t", _PRE_SPACE * 4))
        else:
            self.parts.append(_SPACES.sub(" ", data))

    def text(self) -> str:
        joined = "".join(self.parts)
        joined = _BREAKS.sub(lambda m: "\n\n" if _PARA_MARK in m.group() else "\n", joined)
        joined = _INNER_SPACES.sub(" ", joined)
        joined = _EMPTY_ITEM.sub("", joined)
        return clean_text(joined.replace(_PRE_SPACE, " "))


def html_to_text(html: str) -> tuple[str, str, str]:
    """(text, <title>, first heading) of an HTML or XHTML document."""
    parser = _TextExtractor()
    parser.feed(html)
    parser.close()
    return parser.text(), parser.title, parser.first_heading


_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_:.-]+)""", re.I)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.-]+)["']""")
# What browsers do: these labels mean windows-1252.
_AS_CP1252 = {"latin-1", "latin1", "iso-8859-1", "iso8859-1", "us-ascii", "ascii", "l1", "cp819"}


def decode_html(data: bytes, path: Path) -> tuple[str, str]:
    """Decode HTML bytes: BOM, then the declared charset, then the plain-text policy."""
    if not data.startswith((codecs.BOM_UTF8, codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        head = data[:4096]
        match = _XML_ENCODING.search(head) or _META_CHARSET.search(head)
        if match:
            label = match.group(1).decode("ascii", "ignore").lower()
            if label in _AS_CP1252:
                label = "cp1252"
            try:
                codec = codecs.lookup(label).name
            except LookupError:
                codec = None
            if codec and not codec.startswith(("utf-16", "utf-32")):  # a 16-bit page cannot declare itself in ASCII
                try:
                    return data.decode(codec), codec
                except UnicodeDecodeError:
                    pass
    return decode_text(data, path)
