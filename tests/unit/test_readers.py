"""Readers: the shared sample documents, and bad inputs built on the spot."""

from __future__ import annotations

import codecs
import hashlib
import json
import os
import random
import struct
import zipfile
from pathlib import Path

import pytest

from memgpt.errors import InputFileError
from memgpt.ingest.readers import ReadDocument, collect_files, read_file, supported_extensions

DOCS = Path(__file__).parents[2].parent / "shared" / "data" / "docs"
needs_docs = pytest.mark.skipif(not DOCS.is_dir(), reason=f"shared sample documents not found at {DOCS}")


def _doc_files() -> list[Path]:
    return sorted(p for p in DOCS.iterdir() if p.is_file()) if DOCS.is_dir() else []


def _text(docs: list[ReadDocument]) -> str:
    return "\n\n".join(d.text for d in docs)


def _expect_error(path: Path, *fragments: str) -> InputFileError:
    with pytest.raises(InputFileError) as info:
        read_file(path)
    err = info.value
    assert str(path) in err.message, err.message
    assert "\n" not in err.one_line()
    for fragment in fragments:
        assert fragment in err.message, err.message
    return err


# --------------------------------------------------------------------------- hand-made PDFs

def _pdf(objects: list[bytes], trailer_extra: bytes = b"") -> bytes:
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % off for off in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R %s >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1, trailer_extra, xref)
    return bytes(out)


def _page_objects(content: bytes) -> list[bytes]:
    return [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R"
        b" /Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]


def _rc4(key: bytes, data: bytes) -> bytes:
    s = list(range(256))
    j = 0
    for i in range(256):
        j = (j + s[i] + key[i % len(key)]) % 256
        s[i], s[j] = s[j], s[i]
    i = j = 0
    out = bytearray()
    for byte in data:
        i = (i + 1) % 256
        j = (j + s[i]) % 256
        s[i], s[j] = s[j], s[i]
        out.append(byte ^ s[(s[i] + s[j]) % 256])
    return bytes(out)


def _encrypted_pdf(user_password: bytes = b"secret", owner_password: bytes = b"owner") -> bytes:
    """A real RC4-40 (Standard security handler, revision 2) encrypted one-page PDF."""
    pad = bytes.fromhex("28BF4E5E4E758A4164004E56FFFA01082E2E00B6D0683E802F0CA9FE6453697A")
    file_id = hashlib.md5(b"memgpt test").digest()
    permissions = struct.pack("<i", -44)
    owner_entry = _rc4(hashlib.md5((owner_password + pad)[:32]).digest()[:5], (user_password + pad)[:32])
    key = hashlib.md5((user_password + pad)[:32] + owner_entry + permissions + file_id).digest()[:5]
    user_entry = _rc4(key, pad)
    content = b"BT /F1 24 Tf 72 700 Td (Secret text) Tj ET"
    object_key = hashlib.md5(key + (4).to_bytes(3, "little") + (0).to_bytes(2, "little")).digest()[:10]
    objects = _page_objects(_rc4(object_key, content))
    objects.append(b"<< /Filter /Standard /V 1 /R 2 /O <%s> /U <%s> /P -44 >>" % (
        owner_entry.hex().encode(), user_entry.hex().encode()))
    id_hex = file_id.hex().encode()
    return _pdf(objects, b"/Encrypt 6 0 R /ID [<%s> <%s>]" % (id_hex, id_hex))


def test_hand_made_pdf_reads(tmp_path: Path) -> None:
    path = tmp_path / "hello.pdf"
    path.write_bytes(_pdf(_page_objects(b"BT /F1 24 Tf 72 700 Td (Hello from a tiny PDF) Tj ET")))
    docs = read_file(path)
    assert [d.metadata["page"] for d in docs] == [1]
    assert "Hello from a tiny PDF" in docs[0].text


def test_encrypted_pdf(tmp_path: Path) -> None:
    path = tmp_path / "secret.pdf"
    path.write_bytes(_encrypted_pdf())
    import pypdfium2 as pdfium

    with pdfium.PdfDocument(str(path), password="secret") as pdf:  # the fixture is really encrypted
        assert "Secret text" in pdf[0].get_textpage().get_text_range()
    err = _expect_error(path, "PDF is encrypted (password protected)")
    assert err.hint and "decrypt" in err.hint


def test_pdf_without_text_is_scanned(tmp_path: Path) -> None:
    path = tmp_path / "scan.pdf"
    path.write_bytes(_pdf(_page_objects(b"0 0 m 300 300 l S")))
    _expect_error(path, "no extractable text (scanned PDF? OCR is not supported)")


@needs_docs
def test_truncated_pdf(tmp_path: Path) -> None:
    path = tmp_path / "memgpt_paper.pdf"
    path.write_bytes((DOCS / "memgpt_paper.pdf").read_bytes()[:1000])
    _expect_error(path, "not a valid PDF (file is truncated or corrupt)")


def test_not_a_pdf(tmp_path: Path) -> None:
    path = tmp_path / "fake.pdf"
    path.write_text("just some words, not a PDF at all\n")
    _expect_error(path, "not a valid PDF")


# --------------------------------------------------------------------------- the shared documents

@needs_docs
def test_memgpt_paper_pages() -> None:
    docs = read_file(DOCS / "memgpt_paper.pdf")
    assert len(docs) == 13
    assert [d.metadata["page"] for d in docs] == list(range(1, 14))
    assert "MemGPT" in docs[0].text
    assert docs[0].text.startswith("MemGPT: Towards LLMs as Operating Systems")
    meta = docs[0].metadata
    assert meta["file_name"] == "memgpt_paper.pdf"
    assert meta["file_path"] == str((DOCS / "memgpt_paper.pdf").absolute())
    assert meta["page_count"] == 13 and meta["file_type"] == "pdf"
    text = _text(docs)
    assert "\ufffe" not in text and "\r" not in text
    assert "revolutionized AI" in text  # "revolution-\nized": PDFium's hyphen marker is removed


@needs_docs
@pytest.mark.parametrize("path", _doc_files(), ids=lambda p: p.name)
def test_every_shared_file_reads(path: Path) -> None:
    docs = read_file(path)
    assert docs
    for doc in docs:
        assert doc.text.strip() == doc.text and doc.text
        assert {"file_path", "file_name", "page"} <= doc.metadata.keys()
        assert doc.metadata["file_name"] == path.name


@needs_docs
def test_empty_pages_are_skipped() -> None:
    docs = read_file(DOCS / "layout-parser-paper-with-empty-pages.pdf")
    assert [d.metadata["page"] for d in docs] == [1, 4]
    assert all(d.metadata["page_count"] == 4 for d in docs)
    assert "LayoutParser: A Unified Toolkit" in docs[0].text  # the "fi" ligature is spelled out


@needs_docs
def test_docx() -> None:
    text = _text(read_file(DOCS / "word_sample.docx"))
    assert "Swimming in the lake" in text
    assert "To get started with swimming, first lay down in a water and try not to drown:" in text
    assert "- Paddle about\n- Enjoy summer warmth" in text
    assert "Berries | Blueberry, Strawberry, Cranberry | 150" in text  # table rows
    assert text.index("Let’s swim!") < text.index("Let’s eat") < text.index("Grain | Corn")
    lorem = read_file(DOCS / "lorem_ipsum.docx")
    assert len(lorem) == 1 and lorem[0].text.startswith("Lorem ipsum dolor sit amet")
    assert lorem[0].text.count("\n\n") == 4  # five paragraphs


@needs_docs
def test_pptx() -> None:
    docs = read_file(DOCS / "fake-power-point.pptx")
    assert [d.metadata["page"] for d in docs] == [1]
    assert docs[0].metadata["title"] == "Adding a Bullet Slide"
    text = docs[0].text
    assert text.startswith("Adding a Bullet Slide")
    for phrase in ("Find the bullet slide layout", "Use _TextFrame.add_paragraph() for subsequent bullets",
                   "Here is some text in a text box!"):
        assert phrase in text


@needs_docs
def test_epub_spine_order() -> None:
    docs = read_file(DOCS / "winter-sports.epub")
    assert len(docs) == 9  # 10 spine items; the cover page has no text
    assert [d.metadata["chapter"] for d in docs] == list(range(1, 10))
    assert all(d.metadata["page"] is None and d.metadata["title"] == "Winter Sports in Switzerland" for d in docs)
    assert "The Project Gutenberg eBook of Winter Sports in Switzerland" in docs[0].text
    assert "END OF THE PROJECT GUTENBERG EBOOK" in docs[-1].text
    files = [d.metadata["chapter_file"] for d in docs]
    assert files == sorted(files, key=lambda f: int(f.rsplit("-", 1)[1].split(".")[0]))
    text = _text(docs)
    assert text.index("CHAPTER IV") < text.index("CHAPTER V") < text.index("CHAPTER VIII")
    assert "<" not in docs[1].text[:2000]


@needs_docs
def test_html() -> None:
    docs = read_file(DOCS / "wiki_duck.html")
    assert len(docs) == 1
    text = docs[0].text
    assert docs[0].metadata["title"] == "Duck - Wikipedia"
    assert "Duck is the common name for numerous species of waterfowl in the family Anatidae." in text
    assert "\n\nEtymology\n\n" in text  # a heading is its own paragraph
    assert "RLCONF" not in text and "{" not in text[:5000]  # scripts and styles are gone
    assert "  " not in text


@needs_docs
def test_markdown_and_text_are_verbatim() -> None:
    for name in ("wiki.md", "philosophical_question.txt"):
        raw = (DOCS / name).read_text(encoding="utf-8")
        (doc,) = read_file(DOCS / name)
        assert " ".join(doc.text.split()) == " ".join(raw.split())


@needs_docs
def test_json_manifest() -> None:
    (doc,) = read_file(DOCS / "MANIFEST.json")
    assert "file: letta/memgpt_paper.pdf\nrepo: letta-ai/letta" in doc.text
    assert doc.text.count("\n\nfile: ") == len(json.loads((DOCS / "MANIFEST.json").read_text())) - 1


# --------------------------------------------------------------------------- text decoding

def test_latin1_text_is_decoded(tmp_path: Path) -> None:
    # Decision: text that is not UTF-8 but looks like text is read as cp1252/latin-1, not refused.
    path = tmp_path / "latin.txt"
    path.write_bytes("Café crème, naïve façade — déjà vu.\n".encode("cp1252"))
    (doc,) = read_file(path)
    assert doc.text == "Café crème, naïve façade — déjà vu."
    assert doc.metadata["encoding"] == "cp1252"
    path.write_bytes(b"Ol\xe9 \x81 se\xf1or\n")  # 0x81 is undefined in cp1252: latin-1
    (doc,) = read_file(path)
    assert doc.text.startswith("Olé") and doc.metadata["encoding"] == "latin-1"


# Russian, Chinese (simplified, traditional) and Japanese in their legacy Windows/national encodings;
# the detector may name a superset (GB18030 for GBK, cp932 for Shift-JIS), so the text is what counts.
LEGACY = [
    ("cp1251", {"cp1251"}, "Память агента делится на три уровня. Основная память всегда видна, память "
                          "воспоминаний хранит каждое сообщение, а архивная память хранит документы."),
    ("gbk", {"gbk", "gb2312", "gb18030"}, "智能体的记忆分为三层：核心记忆始终可见，回忆记忆保存每一条消息，档案记忆保存文档。"),
    ("big5", {"big5", "big5hkscs", "cp950"}, "智慧體的記憶分為三層：核心記憶始終可見，回憶記憶保存每一條訊息，檔案記憶保存文件。"),
    ("shift_jis", {"shift_jis", "cp932", "shift_jis_2004", "shift_jisx0213"},
     "エージェントの記憶は三つの層に分かれています。コアメモリは常に見えていて、リコールメモリはすべてのメッセージを保存します。"),
    ("cp1250", {"cp1250"}, "Zażółć gęślą jaźń. Příliš žluťoučký kůň úpěl ďábelské ódy."),
]


@pytest.mark.parametrize("encoding,names,text", LEGACY, ids=[e for e, _, _ in LEGACY])
def test_legacy_encodings_are_detected(tmp_path: Path, encoding: str, names: set[str], text: str) -> None:
    path = tmp_path / f"{encoding}.txt"
    path.write_bytes(f"{text}\n{text}\n".encode(encoding))
    (doc,) = read_file(path)
    assert doc.text == f"{text}\n{text}"
    assert doc.metadata["encoding"] in names


def test_binary_is_still_refused_with_a_detector(tmp_path: Path) -> None:
    path = tmp_path / "noise.txt"
    path.write_bytes(bytes(range(1, 256)) * 40)
    with pytest.raises(InputFileError):
        read_file(path)


@pytest.mark.parametrize("encoding,prefix", [
    ("utf-8", b""), ("utf-8", codecs.BOM_UTF8), ("utf-16-le", codecs.BOM_UTF16_LE),
    ("utf-16-be", codecs.BOM_UTF16_BE), ("utf-32-le", codecs.BOM_UTF32_LE), ("utf-16-le", b""),
])
def test_unicode_encodings(tmp_path: Path, encoding: str, prefix: bytes) -> None:
    path = tmp_path / "unicode.txt"
    text = "Grüße aus Zürich — 東京 and ☃.\nSecond line."
    path.write_bytes(prefix + text.encode(encoding))
    (doc,) = read_file(path)
    assert doc.text == text


def test_mostly_utf8_keeps_utf8(tmp_path: Path) -> None:
    path = tmp_path / "mixed.txt"
    path.write_bytes("naïve café déjà vu señor über ".encode() * 3 + b"\xff broken byte\n")
    (doc,) = read_file(path)
    assert doc.text.startswith("naïve café") and "\ufffd broken byte" in doc.text


def test_random_bytes_are_binary(tmp_path: Path) -> None:
    rng = random.Random(7)
    path = tmp_path / "data.txt"
    path.write_bytes(bytes(rng.randrange(256) for _ in range(4096)))
    _expect_error(path, "binary content, not text")
    path.write_bytes(bytes(rng.randrange(1, 256) for _ in range(4096)))  # no NUL bytes at all
    _expect_error(path, "binary content, not text")


def test_png_behind_txt_extension(tmp_path: Path) -> None:
    path = tmp_path / "picture.txt"
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    _expect_error(path, "binary content, not text (looks like a PNG image)")


def test_ansi_and_control_junk_removed(tmp_path: Path) -> None:
    path = tmp_path / "log.txt"
    path.write_bytes(b"\x1b[31mred\x1b[0m line\r\nsecond\x07 line\r\n")
    (doc,) = read_file(path)
    assert doc.text == "red line\nsecond line"


# --------------------------------------------------------------------------- empty and odd files

def test_empty_files(tmp_path: Path) -> None:
    for name in ("empty.txt", "empty.pdf", "empty.docx", "empty.json"):
        path = tmp_path / name
        path.write_bytes(b"")
        _expect_error(path, "file is empty")
    path = tmp_path / "blank.md"
    path.write_text(" \n\t\n   \n")
    _expect_error(path, "file is empty (only whitespace)")


def test_missing_and_directory(tmp_path: Path) -> None:
    _expect_error(tmp_path / "nope.txt", "no such file")
    folder = tmp_path / "folder.txt"
    folder.mkdir()
    _expect_error(folder, "is a directory")


def test_unknown_extension_text_and_binary(tmp_path: Path) -> None:
    path = tmp_path / "notes.log"
    path.write_text("plain words in a log file\n")
    (doc,) = read_file(path)
    assert doc.text == "plain words in a log file" and doc.metadata["file_type"] == "text"
    blob = tmp_path / "blob.bin"
    blob.write_bytes(bytes(range(256)) * 8)
    _expect_error(blob, "binary content, not text")


@needs_docs
def test_unknown_extension_sniffs_pdf_and_docx(tmp_path: Path) -> None:
    pdf = tmp_path / "paper"
    pdf.write_bytes((DOCS / "memgpt_paper.pdf").read_bytes())
    assert len(read_file(pdf)) == 13
    docx = tmp_path / "letter.bak"
    docx.write_bytes((DOCS / "word_sample.docx").read_bytes())
    assert "Swimming in the lake" in read_file(docx)[0].text


# --------------------------------------------------------------------------- zip-based formats

def _zip(path: Path, members: dict[str, str | bytes]) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for name, data in members.items():
            zf.writestr(name, data)
    return path


_W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'


def test_corrupt_docx(tmp_path: Path) -> None:
    path = tmp_path / "x.docx"
    path.write_bytes(os.urandom(2000))
    _expect_error(path, "x.docx: not a valid DOCX (corrupt zip)")
    _zip(path, {"[Content_Types].xml": "<Types/>"})
    _expect_error(path, "not a valid DOCX (word/document.xml is missing)")
    _zip(path, {"word/document.xml": f"<w:document {_W}><w:body><w:p>"})
    _expect_error(path, "not a valid DOCX (malformed XML in word/document.xml")
    _zip(path, {"word/document.xml": f"<w:document {_W}><w:body><w:p/></w:body></w:document>"})
    _expect_error(path, "no text found")
    path.write_bytes(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(600))
    _expect_error(path, "DOCX is password protected or in a legacy binary format")


@needs_docs
def test_truncated_docx(tmp_path: Path) -> None:
    path = tmp_path / "half.docx"
    path.write_bytes((DOCS / "word_sample.docx").read_bytes()[:50_000])
    _expect_error(path, "not a valid DOCX (corrupt zip)")


def test_docx_structure(tmp_path: Path) -> None:
    body = (
        "<w:p><w:pPr><w:pStyle w:val='Heading1'/></w:pPr><w:r><w:t>Title</w:t></w:r></w:p>"
        "<w:p><w:r><w:t xml:space='preserve'>Kept </w:t></w:r><w:del><w:r><w:delText>gone</w:delText></w:r></w:del>"
        "<w:ins><w:r><w:t>added</w:t></w:r></w:ins><w:r><w:tab/><w:t>tabbed</w:t><w:br/><w:t>next</w:t></w:r></w:p>"
        "<w:sdt><w:sdtContent><w:p><w:r><w:t>In a content control</w:t></w:r></w:p></w:sdtContent></w:sdt>"
        "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>a1</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>b1</w:t></w:r></w:p>"
        "</w:tc></w:tr><w:tr><w:tc><w:p><w:r><w:t>a2</w:t></w:r></w:p></w:tc><w:tc/></w:tr></w:tbl>"
    )
    path = _zip(tmp_path / "s.docx", {"word/document.xml": f"<w:document {_W}><w:body>{body}</w:body></w:document>"})
    (doc,) = read_file(path)
    assert doc.text == "Title\n\nKept added\ttabbed\nnext\n\nIn a content control\n\na1 | b1\na2 |"


def test_pptx_slide_order_and_notes(tmp_path: Path) -> None:
    p = 'xmlns:p="http://schemas.openxmlformats.org/presentationml/2006/main"'
    a = 'xmlns:a="http://schemas.openxmlformats.org/drawingml/2006/main"'
    r = 'xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"'
    rel = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"

    def slide(title: str, body: str) -> str:
        return (f"<p:sld {p} {a}><p:cSld><p:spTree>"
                f"<p:sp><p:nvSpPr><p:nvPr><p:ph type='title'/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>{title}"
                f"</a:t></a:r></a:p></p:txBody></p:sp>"
                f"<p:sp><p:nvSpPr><p:nvPr><p:ph type='sldNum'/></p:nvPr></p:nvSpPr><p:txBody><a:p><a:r><a:t>99"
                f"</a:t></a:r></a:p></p:txBody></p:sp>"
                f"<p:sp><p:txBody><a:p><a:r><a:t>{body}</a:t></a:r></a:p></p:txBody></p:sp>"
                f"</p:spTree></p:cSld></p:sld>")

    members = {
        # presentation order: slide10 first, then slide2; slide3 (empty) is last
        "ppt/presentation.xml": f"<p:presentation {p} {r}><p:sldIdLst><p:sldId id='256' r:id='rA'/>"
                                f"<p:sldId id='257' r:id='rB'/><p:sldId id='258' r:id='rC'/></p:sldIdLst>"
                                f"</p:presentation>",
        "ppt/_rels/presentation.xml.rels": f"<Relationships xmlns='http://schemas.openxmlformats.org/package/2006/"
                                           f"relationships'><Relationship Id='rA' Type='{rel}/slide' Target="
                                           f"'slides/slide10.xml'/><Relationship Id='rB' Type='{rel}/slide' "
                                           f"Target='slides/slide2.xml'/><Relationship Id='rC' Type='{rel}/slide'"
                                           f" Target='slides/slide3.xml'/></Relationships>",
        "ppt/slides/slide10.xml": slide("First", "one"),
        "ppt/slides/slide2.xml": slide("Second", "two"),
        "ppt/slides/slide3.xml": f"<p:sld {p}><p:cSld><p:spTree/></p:cSld></p:sld>",
        "ppt/slides/_rels/slide2.xml.rels": f"<Relationships xmlns='http://schemas.openxmlformats.org/package/"
                                            f"2006/relationships'><Relationship Id='n' Type='{rel}/notesSlide' "
                                            f"Target='../notesSlides/notesSlide1.xml'/></Relationships>",
        "ppt/notesSlides/notesSlide1.xml": f"<p:notes {p} {a}><p:cSld><p:spTree><p:sp><p:txBody><a:p><a:r>"
                                           f"<a:t>Say this out loud</a:t></a:r></a:p></p:txBody></p:sp></p:spTree>"
                                           f"</p:cSld></p:notes>",
    }
    docs = read_file(_zip(tmp_path / "deck.pptx", members))
    assert [(d.metadata["page"], d.metadata["title"]) for d in docs] == [(1, "First"), (2, "Second")]
    assert docs[0].text == "First\n\none"
    assert docs[1].text == "Second\n\ntwo\n\nNotes:\nSay this out loud"
    assert all(d.metadata["page_count"] == 3 for d in docs)

    del members["ppt/_rels/presentation.xml.rels"]  # no slide list: numeric order of slideN.xml
    docs = read_file(_zip(tmp_path / "deck2.pptx", members))
    assert [d.metadata["title"] for d in docs] == ["Second", "First"]


def test_corrupt_pptx_and_epub(tmp_path: Path) -> None:
    path = tmp_path / "deck.pptx"
    path.write_bytes(b"PK\x03\x04" + os.urandom(500))
    _expect_error(path, "not a valid PPTX (corrupt zip)")
    book = _zip(tmp_path / "book.epub", {"mimetype": "application/epub+zip"})
    _expect_error(book, "not a valid EPUB (no package document")
    drm = _zip(tmp_path / "drm.epub", {
        "mimetype": "application/epub+zip",
        "META-INF/encryption.xml": "<encryption><EncryptedData><EncryptionMethod "
                                   "Algorithm='http://www.w3.org/2001/04/xmlenc#aes128-cbc'/></EncryptedData>"
                                   "</encryption>",
    })
    _expect_error(drm, "EPUB is DRM-protected")


def test_minimal_epub(tmp_path: Path) -> None:
    opf = ("<package xmlns='http://www.idpf.org/2007/opf'><metadata xmlns:dc='http://purl.org/dc/elements/1.1/'>"
           "<dc:title>Tiny Book</dc:title></metadata><manifest>"
           "<item id='b' href='text/two%20words.xhtml' media-type='application/xhtml+xml'/>"
           "<item id='a' href='text/one.xhtml' media-type='application/xhtml+xml'/>"
           "<item id='css' href='s.css' media-type='text/css'/></manifest>"
           "<spine><itemref idref='b'/><itemref idref='css'/><itemref idref='a'/></spine></package>")
    members = {
        "mimetype": "application/epub+zip",
        "META-INF/container.xml": "<container><rootfiles><rootfile full-path='OPS/book.opf'/></rootfiles></container>",
        "OPS/book.opf": opf,
        "OPS/text/two words.xhtml": "<html><body><h1>Chapter B</h1><p>Bee text.</p></body></html>",
        "OPS/text/one.xhtml": "<html><body><h1>Chapter A</h1><p>Ay text.</p><script>x()</script></body></html>",
        "OPS/s.css": "p { color: red }",
    }
    docs = read_file(_zip(tmp_path / "tiny.epub", members))
    assert [d.text for d in docs] == ["Chapter B\n\nBee text.", "Chapter A\n\nAy text."]
    assert [d.metadata["chapter_title"] for d in docs] == ["Chapter B", "Chapter A"]


# --------------------------------------------------------------------------- HTML, CSV, JSON

def test_html_structure(tmp_path: Path) -> None:
    html = ("<html><head><title>T</title><style>p{}</style><script>var x = '<p>no</p>';</script></head><body>"
            "<nav><a href='/'>Home</a></nav><h1>Big   heading</h1><p>First\n   paragraph &amp; more.<br>line two"
            "<p>Second <b>bold</b> paragraph.</p><ul><li>one<li>two</ul><div hidden>secret</div>"
            "<table><tr><th>k</th><th>v</th></tr><tr><td>a</td><td>1</td></tr></table>"
            "<pre>code  line 1\n  line 2</pre><p>caf&eacute;</p></body></html>")
    path = tmp_path / "page.html"
    path.write_text(html, encoding="utf-8")
    (doc,) = read_file(path)
    assert doc.metadata["title"] == "T"
    assert doc.text == ("Big heading\n\nFirst paragraph & more.\nline two\n\nSecond bold paragraph.\n\n- one\n- two"
                        "\n\nk | v\na | 1\n\ncode  line 1\n  line 2\n\ncafé")


def test_html_declared_charset(tmp_path: Path) -> None:
    path = tmp_path / "old.htm"
    path.write_bytes(b'<html><head><meta charset="iso-8859-1"></head><body><p>Caf\xe9 \x93quoted\x94</p></body></html>')
    (doc,) = read_file(path)
    assert doc.text == "Café “quoted”"  # iso-8859-1 is read as windows-1252, like browsers do


def test_csv(tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_text('name,age,city\nAlice,30,"Paris, France"\nBob,,Berlin\n\n', encoding="utf-8")
    (doc,) = read_file(path)
    assert doc.text == "name: Alice\nage: 30\ncity: Paris, France\n\nname: Bob\ncity: Berlin"
    assert doc.metadata["rows"] == 2
    semi = tmp_path / "semi.csv"
    semi.write_text("a;b\n1;2\n3;4\n", encoding="utf-8")
    assert read_file(semi)[0].text == "a: 1\nb: 2\n\na: 3\nb: 4"
    tsv = tmp_path / "t.tsv"
    tsv.write_text("x\ty\n1\t2\n", encoding="utf-8")
    assert read_file(tsv)[0].text == "x: 1\ny: 2"


def test_json_and_jsonl(tmp_path: Path) -> None:
    path = tmp_path / "d.json"
    path.write_text(json.dumps({"name": "Ada", "tags": ["math", "code"], "address": {"city": "London"},
                                "items": [{"id": 1}, {"id": 2}], "empty": "", "ok": True}))
    (doc,) = read_file(path)
    assert doc.text == ("name: Ada\ntags: math, code\naddress.city: London\n\nitems[0].id: 1\n\nitems[1].id: 2"
                        "\n\nok: true")
    lines = tmp_path / "d.jsonl"
    lines.write_text('{"q": "hi", "a": "hello"}\n\n{"q": "bye"}\n')
    assert read_file(lines)[0].text == "q: hi\na: hello\n\nq: bye"
    bad = tmp_path / "bad.json"
    bad.write_text('{"a": 1,\n "b": }')
    _expect_error(bad, "not valid JSON (line 2 column")
    bad_lines = tmp_path / "bad.jsonl"
    bad_lines.write_text('{"a": 1}\nnot json\n')
    _expect_error(bad_lines, "not valid JSON Lines (line 2")


# --------------------------------------------------------------------------- robustness

@needs_docs
@pytest.mark.parametrize("name", ["memgpt_paper.pdf", "word_sample.docx", "fake-power-point.pptx",
                                  "winter-sports.epub", "wiki_duck.html", "MANIFEST.json"])
def test_damaged_copies_never_leak_library_errors(tmp_path: Path, name: str) -> None:
    data = (DOCS / name).read_bytes()
    rng = random.Random(name)
    variants = [data[:n] for n in (10, 100, len(data) // 3, len(data) // 2, len(data) - 10)]
    for _ in range(4):  # flip a few bytes in the middle
        buf = bytearray(data)
        for _ in range(20):
            buf[rng.randrange(len(buf) // 4, len(buf))] = rng.randrange(256)
        variants.append(bytes(buf))
    for i, variant in enumerate(variants):
        path = tmp_path / f"v{i}{Path(name).suffix}"
        path.write_bytes(variant)
        try:
            docs = read_file(path)
        except InputFileError as exc:
            assert str(path) in exc.message and "\n" not in exc.one_line()
        else:
            assert all(d.text for d in docs)


# --------------------------------------------------------------------------- collect_files

def test_supported_extensions() -> None:
    exts = supported_extensions()
    assert exts == sorted(exts)
    assert {".pdf", ".txt", ".md", ".html", ".htm", ".docx", ".pptx", ".epub", ".csv", ".json", ".jsonl"} <= set(exts)


def test_collect_files(tmp_path: Path) -> None:
    for rel in ("b.txt", "a.md", "c.pdf", "image.png", "notes.log", ".hidden.txt", "~$lock.docx",
                "sub/d.html", "sub/deeper/e.json", ".git/f.txt", "UPPER.TXT"):
        path = tmp_path / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x")
    names = lambda paths: [p.relative_to(tmp_path).as_posix() for p in paths]  # noqa: E731

    assert names(collect_files(tmp_path)) == ["UPPER.TXT", "a.md", "b.txt", "c.pdf"]
    assert names(collect_files(tmp_path, recursive=True)) == [
        "UPPER.TXT", "a.md", "b.txt", "c.pdf", "sub/d.html", "sub/deeper/e.json"]
    assert names(collect_files(tmp_path, recursive=True, extensions=["json", ".LOG"])) == [
        "notes.log", "sub/deeper/e.json"]
    # explicit files: any extension, deduplicated against the folder, sorted, absolute
    got = collect_files(tmp_path, input_files=[tmp_path / "image.png", tmp_path / "b.txt", str(tmp_path / "b.txt")])
    assert names(got) == ["UPPER.TXT", "a.md", "b.txt", "c.pdf", "image.png"]
    assert all(p.is_absolute() for p in got)
    os.symlink(tmp_path / "a.md", tmp_path / "link.md")
    assert names(collect_files(tmp_path)) == ["UPPER.TXT", "a.md", "b.txt", "c.pdf"]  # same file once


def test_collect_files_errors(tmp_path: Path) -> None:
    with pytest.raises(InputFileError, match="nowhere: no such directory"):
        collect_files(tmp_path / "nowhere")
    with pytest.raises(InputFileError, match="ghost.pdf: no such file"):
        collect_files(input_files=[tmp_path / "ghost.pdf"])
    (tmp_path / "f.txt").write_text("x")
    with pytest.raises(InputFileError, match="not a directory"):
        collect_files(tmp_path / "f.txt")
    with pytest.raises(InputFileError, match="is a directory"):
        collect_files(input_files=[tmp_path])
    assert collect_files(tmp_path / ".", extensions=[".pdf"]) == []


def test_read_file_accepts_str(tmp_path: Path) -> None:
    path = tmp_path / "s.txt"
    path.write_text("hello")
    assert read_file(str(path))[0].text == "hello"


def test_bom_only_file_is_empty(tmp_path: Path) -> None:
    path = tmp_path / "bom.txt"
    path.write_bytes(codecs.BOM_UTF8 + b"  \n")
    _expect_error(path, "file is empty (only whitespace)")
