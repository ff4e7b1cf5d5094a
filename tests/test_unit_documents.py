"""bot/documents.py alone: which files are read, and how PDFs and texts are checked."""

from __future__ import annotations

import io

import pytest
from pypdf import PdfWriter

from bot.documents import check_pdf, decode_text, document_kind


def _pdf(*, user_password: str | None = None, owner_password: str | None = None) -> bytes:
    writer = PdfWriter()
    writer.add_blank_page(width=100, height=100)
    if user_password is not None or owner_password is not None:
        writer.encrypt(user_password=user_password or "", owner_password=owner_password)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "mime", "kind"),
    [
        ("report.pdf", "application/pdf", "pdf"),
        ("report.PDF", "application/octet-stream", "pdf"),
        (None, "application/pdf", "pdf"),
        ("main.py", "application/octet-stream", "text"),
        ("notes.md", None, "text"),
        ("data.csv", "text/csv", "text"),
        ("Makefile", None, "text"),
        (None, "application/json", "text"),
        (
            "cv.docx",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
            None,
        ),
        ("a.zip", "application/zip", None),
        ("photo.jpg", "image/jpeg", None),  # photos' own handler
        ("memo.txt", "audio/mpeg", None),  # voice's own handler
    ],
)
def test_document_kind_by_mime_and_extension(
    name: str | None, mime: str | None, kind: str | None
) -> None:
    assert document_kind(name, mime) == kind


def test_a_pdf_that_needs_a_password_is_refused_an_owner_only_one_is_read() -> None:
    assert check_pdf(_pdf(user_password="secret", owner_password="owner")) == (
        0,
        ("document_encrypted", {}),
    )
    # printing or copying restricted, but it opens without a password: readers read it
    assert check_pdf(_pdf(owner_password="owner")) == (1, None)
    assert check_pdf(_pdf()) == (1, None)


def test_damaged_pdfs_are_unreadable() -> None:
    whole = _pdf()
    assert check_pdf(b"not a pdf")[1] == ("document_unreadable", {})
    assert check_pdf(whole[: len(whole) // 3])[1] == ("document_unreadable", {})


def test_text_must_be_utf8() -> None:
    assert decode_text("\ufeffhola".encode()) == "hola"
    assert decode_text("café".encode("latin-1")) is None
    assert decode_text(b"abc\x00def") is None  # a binary file that happens to decode
