"""Documents users send: PDFs (to the model as an `input_file`, bytes inline) and text-like
files (to the model as text), checked before and after downloading.

What Telegram says of a file (its size) is checked before anything is downloaded, so a file
that is too large costs nothing. PDFs are opened with pypdf (a maintained parser) to tell a
damaged or password-protected file from a readable one before the model is asked.
"""

from __future__ import annotations

import asyncio
import base64
import io
import logging
import time
from dataclasses import dataclass
from typing import Literal

from pypdf import PdfReader
from pypdf.errors import PyPdfError
from telegram import Bot, Message
from telegram.error import TelegramError

log = logging.getLogger(__name__)

#: Extensions read as text (what the Responses API's file inputs guide lists as text and code,
#: plus common configuration formats). A file with one of them is text whatever its MIME type:
#: Telegram's clients send many of them as application/octet-stream.
# fmt: off
TEXT_EXTENSIONS = frozenset((
    "txt", "text", "md", "markdown", "rst", "csv", "tsv", "json", "jsonl", "ndjson", "xml",
    "html", "htm", "yaml", "yml", "toml", "ini", "cfg", "conf", "log", "tex", "srt", "vtt",
    "py", "pyi", "js", "mjs", "cjs", "ts", "tsx", "jsx", "java", "kt", "kts", "c", "h", "cc",
    "cpp", "cxx", "hpp", "cs", "go", "rs", "rb", "php", "swift", "scala", "sh", "bash", "zsh",
    "ps1", "bat", "sql", "r", "m", "lua", "pl", "dart", "vue", "svelte", "css", "scss",
    "less", "gradle", "properties", "env", "dockerfile", "makefile",
))
# fmt: on
#: MIME types read as text besides text/*.
TEXT_MIME_TYPES = frozenset(
    {
        "application/json",
        "application/xml",
        "application/x-yaml",
        "application/yaml",
        "application/toml",
        "application/javascript",
        "application/x-javascript",
        "application/typescript",
        "application/x-python",
        "application/x-python-code",
        "application/x-sh",
        "application/sql",
        "application/x-tex",
        "application/ld+json",
    }
)

DocumentKind = Literal["pdf", "text"]
Problem = tuple[str, dict[str, object]]


@dataclass(frozen=True, slots=True)
class DocumentSource:
    """A readable document a message carries: which Telegram file, what Telegram says of it."""

    file_id: str
    file_size: int | None
    file_name: str
    kind: DocumentKind


@dataclass(frozen=True, slots=True)
class ReadDocument:
    """A document made ready for the model, or why it cannot be."""

    file_name: str
    kind: DocumentKind
    data: bytes = b""
    #: The decoded text of a text-like file ("" for a PDF).
    text: str = ""
    pages: int = 0
    problem: Problem | None = None
    download_s: float = 0.0

    def data_url(self) -> str:
        """A PDF's bytes as the `file_data` of an `input_file` part."""
        return f"data:application/pdf;base64,{base64.b64encode(self.data).decode('ascii')}"


def _extension(name: str) -> str:
    base = name.rsplit("/", 1)[-1].lower()
    if "." not in base:
        return base  # Makefile, Dockerfile
    return base.rsplit(".", 1)[-1]


def document_kind(file_name: str | None, mime_type: str | None) -> DocumentKind | None:
    """pdf, text, or None (not a document the bot reads), by MIME type and extension."""
    mime = (mime_type or "").lower()
    ext = _extension(file_name or "")
    if mime == "application/pdf" or ext == "pdf":
        return "pdf"
    if mime.startswith(("image/", "audio/", "video/")):
        return None  # photos and voice have their own handlers
    if ext in TEXT_EXTENSIONS or mime.startswith("text/") or mime in TEXT_MIME_TYPES:
        return "text"
    return None


def document_source(message: Message) -> DocumentSource | None:
    """The PDF or text-like file of `message`, if it carries one."""
    document = message.document
    if document is None:
        return None
    kind = document_kind(document.file_name, document.mime_type)
    if kind is None:
        return None
    name = document.file_name or f"document.{'pdf' if kind == 'pdf' else 'txt'}"
    return DocumentSource(document.file_id, document.file_size, name, kind)


def check_pdf(data: bytes) -> tuple[int, Problem | None]:
    """The page count of a PDF, and why it cannot be read (damaged, password-protected)."""
    if not data.lstrip(b"\x00\t\r\n ").startswith(b"%PDF-"):
        return 0, ("document_unreadable", {})
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            # Encrypted with an owner password only (printing or copying restricted) opens
            # with the empty user password: readers and the model read it. Anything else needs
            # a password the bot does not have.
            return 0, ("document_encrypted", {})
        pages = len(reader.pages)
    except PyPdfError as exc:
        log.info("unreadable PDF: %s: %s", type(exc).__name__, exc)
        return 0, ("document_unreadable", {})
    except (ValueError, KeyError, TypeError, AttributeError, IndexError) as exc:
        # pypdf lets some malformed structures out as plain exceptions
        log.info("unreadable PDF: %s: %s", type(exc).__name__, exc)
        return 0, ("document_unreadable", {})
    if pages == 0:
        return 0, ("document_empty", {})
    return pages, None


def decode_text(data: bytes) -> str | None:
    """UTF-8 text (a leading byte order mark dropped), or None when it is not UTF-8."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        return None
    if "\x00" in text:  # a binary file that happens to decode
        return None
    return text


class DocumentReader:
    """Reads users' documents, with the limits of the settings (MAX_FILE_BYTES,
    MAX_DOCUMENT_CHARS)."""

    def __init__(self, *, max_bytes: int, max_chars: int) -> None:
        self._max_bytes = max_bytes
        self._max_chars = max_chars

    def refusal(self, source: DocumentSource) -> Problem | None:
        """Why `source` is not downloaded at all (too large), or None."""
        if source.file_size is not None and source.file_size > self._max_bytes:
            return "document_too_large", _sizes(source.file_size, self._max_bytes)
        if source.file_size == 0:
            return "document_empty", {}
        return None

    async def read(self, bot: Bot, source: DocumentSource) -> ReadDocument:
        """Download and check `source` (checked with `refusal` first); problems are returned,
        not raised."""
        name, kind = source.file_name, source.kind
        started = time.perf_counter()
        try:
            telegram_file = await bot.get_file(source.file_id)
            data = bytes(await telegram_file.download_as_bytearray())
        except TelegramError as exc:
            log.warning("document download failed: %s", exc)
            return ReadDocument(name, kind, problem=("document_download_failed", {}))
        took = time.perf_counter() - started
        if len(data) > self._max_bytes:  # the declared size was missing or wrong
            too_large = ("document_too_large", _sizes(len(data), self._max_bytes))
            return ReadDocument(name, kind, problem=too_large, download_s=took)
        if not data.strip():
            return ReadDocument(name, kind, problem=("document_empty", {}), download_s=took)
        if kind == "pdf":
            pages, problem = await asyncio.to_thread(check_pdf, data)
            return ReadDocument(name, kind, data, pages=pages, problem=problem, download_s=took)
        text = decode_text(data)
        if text is None:
            return ReadDocument(name, kind, problem=("document_not_utf8", {}), download_s=took)
        if len(text) > self._max_chars:
            values: dict[str, object] = {"length": len(text), "limit": self._max_chars}
            return ReadDocument(name, kind, problem=("document_too_long", values), download_s=took)
        return ReadDocument(name, kind, data, text=text, download_s=took)


def _sizes(size: int, limit: int) -> dict[str, object]:
    return {"size": f"{size / 1_048_576:.1f}", "limit": f"{limit / 1_048_576:.0f}"}
