"""PDF pages to text with pypdfium2 (one document per page with text).

Pages without text are skipped; a PDF where no page has text is an error
(a scanned document: OCR is not supported). PDFium is imported lazily so
``memgpt --help`` stays fast. PDFium is not thread-safe: read PDFs from one
thread at a time.
"""

from __future__ import annotations

import logging
from pathlib import Path

from memgpt.ingest.readers._common import ReadDocument, base_metadata, clean_text, fail

log = logging.getLogger("memgpt.ingest")

_LIGATURES = str.maketrans({"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl",
                            "\ufb05": "st", "\ufb06": "st"})
CORRUPT = "not a valid PDF (file is truncated or corrupt)"
CORRUPT_HINT = "re-download or re-export the PDF"


def _page_text(raw: str) -> str:
    # PDFium joins a word hyphenated across a line break and leaves U+FFFE
    # (sometimes U+0002) where the hyphen was: dropping it restores the word.
    raw = raw.replace("\ufffe", "").replace("\x02", "").translate(_LIGATURES)
    return clean_text(raw)


def read_pdf(path: Path) -> list[ReadDocument]:
    with open(path, "rb") as fh:
        head = fh.read(1024)
    if b"%PDF-" not in head:
        raise fail(path, "not a valid PDF (no %PDF header)", CORRUPT_HINT)

    import pypdfium2 as pdfium
    import pypdfium2.raw as pdfium_c

    try:
        pdf = pdfium.PdfDocument(str(path))
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        if code == pdfium_c.FPDF_ERR_PASSWORD:
            raise fail(path, "PDF is encrypted (password protected)",
                       "decrypt it first, e.g. qpdf --decrypt --password=... in.pdf out.pdf") from None
        if code == pdfium_c.FPDF_ERR_SECURITY:
            raise fail(path, "PDF is encrypted with an unsupported security scheme",
                       "decrypt it first, e.g. qpdf --decrypt in.pdf out.pdf") from None
        if code == pdfium_c.FPDF_ERR_FILE:
            raise fail(path, "cannot open the file") from None
        raise fail(path, CORRUPT, CORRUPT_HINT) from None

    try:
        n_pages = len(pdf)
        if n_pages == 0:
            raise fail(path, CORRUPT + ": no pages", CORRUPT_HINT)
        try:
            title = (pdf.get_metadata_dict().get("Title") or "").strip()
        except Exception:  # noqa: BLE001 - metadata is optional
            title = ""
        docs: list[ReadDocument] = []
        broken: list[int] = []
        for index in range(n_pages):
            try:
                page = pdf[index]
                try:
                    textpage = page.get_textpage()
                    try:
                        raw = textpage.get_text_range()
                    finally:
                        textpage.close()
                finally:
                    page.close()
            except pdfium.PdfiumError:
                broken.append(index + 1)
                continue
            text = _page_text(raw)
            if text:
                docs.append(ReadDocument(text, base_metadata(path, "pdf", page=index + 1, page_count=n_pages,
                                                             title=title)))
    finally:
        pdf.close()

    if len(broken) == n_pages:
        raise fail(path, CORRUPT + ": no page could be loaded", CORRUPT_HINT)
    if broken:
        log.warning("%s: skipped %d damaged page(s): %s", path, len(broken), ", ".join(map(str, broken)))
    if not docs:
        raise fail(path, "no extractable text (scanned PDF? OCR is not supported)",
                   "run OCR first, e.g. ocrmypdf in.pdf out.pdf, or remove the file from the input")
    return docs
