"""End to end: PDFs and text files users send, through the real application and the fakes (read
in the chat's conversation with the caption as the question; clear messages for the rest)."""

from __future__ import annotations

import base64
import io
from typing import Any

from pypdf import PdfWriter

from storage import ChatKey
from testkit.fake_openai import PDF_PAGE_TOKENS, FakeOpenAI
from testkit.fake_telegram import FakeTelegram


def make_pdf(pages: int = 2, *, password: str | None = None) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    if password is not None:
        writer.encrypt(user_password=password, owner_password=password + "-owner")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _answer_requests(ai: FakeOpenAI) -> list[dict[str, Any]]:
    return [r.body for r in ai.requests_to("/v1/responses") if r.body and r.body.get("stream")]


def _user_content(body: dict[str, Any]) -> list[dict[str, Any]]:
    [message] = [i for i in body["input"] if i.get("role") == "user"]
    content: list[dict[str, Any]] = message["content"]
    return content


async def test_a_pdf_reaches_the_answer_request_with_its_bytes_and_the_caption(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    bot = await start_bot()
    pdf = make_pdf(3)
    tg.media_message(tg.document(pdf, file_name="lease.pdf"), chat_id=4000, caption="Rent due?")
    await tg.wait_for("sendMessage")
    [body] = _answer_requests(ai)
    file_part, question = _user_content(body)
    assert file_part["type"] == "input_file" and file_part["filename"] == "lease.pdf"
    prefix = "data:application/pdf;base64,"
    assert file_part["file_data"].startswith(prefix)
    assert base64.b64decode(file_part["file_data"][len(prefix) :]) == pdf
    assert question == {"type": "input_text", "text": "Rent due?"}
    assert [f.data for f in ai.input_files] == [pdf]
    [response] = [r for r in ai.responses.values() if r.get("conversation")]
    assert response["usage"]["input_tokens"] >= 3 * PDF_PAGE_TOKENS  # the fake counts pages

    # a follow-up text is answered in the same conversation, which holds the PDF
    tg.private_text("and the deposit?", chat_id=4000)
    await tg.wait_for("sendMessage", 2)
    first, follow_up = _answer_requests(ai)
    assert first["conversation"] == follow_up["conversation"]
    kept = [
        part
        for item in ai.conversations[first["conversation"]]
        for part in item.get("content") or []
        if isinstance(part, dict) and part.get("type") == "input_file"
    ]
    assert [p["filename"] for p in kept] == ["lease.pdf"]
    said = [e.text for e in await bot.storage.transcript.recent(ChatKey(4000, 0), 10)]
    assert "📄 lease.pdf: Rent due?" in said


async def test_without_a_caption_the_default_question_in_the_users_language(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    tg.media_message(tg.document(make_pdf(1)), chat_id=4001, language_code="es")
    await tg.wait_for("sendMessage")
    [body] = _answer_requests(ai)
    _, question = _user_content(body)
    assert question["text"].startswith("Resume este documento")


async def test_text_files_go_as_text_with_their_name(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    code = "def add(a, b):\n    return a + b\n"
    # Telegram's clients send many code files as application/octet-stream: the name decides
    tg.media_message(
        tg.document(code.encode(), file_name="add.py", mime_type="application/octet-stream"),
        chat_id=4002,
        caption="any bug?",
    )
    await tg.wait_for("sendMessage")
    notes = "\ufeffshopping: milk, bread".encode()  # UTF-8 with a byte order mark
    tg.media_message(tg.document(notes, file_name="notes.txt", mime_type="text/plain"),
                     chat_id=4002)  # fmt: skip
    await tg.wait_for("sendMessage", 2)
    first, second = _answer_requests(ai)
    assert _user_content(first) == [
        {"type": "input_text", "text": f"add.py:\n{code}"},
        {"type": "input_text", "text": "any bug?"},
    ]
    assert _user_content(second)[0] == {
        "type": "input_text",
        "text": "notes.txt:\nshopping: milk, bread",
    }
    assert ai.input_files == []


async def test_unreadable_documents_get_a_clear_message_and_no_answer_request(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot(max_document_chars=1000)
    chat = 4003
    tg.media_message(tg.document(make_pdf(1, password="secret")), chat_id=chat)
    tg.media_message(tg.document(b"%PDF-1.7\nthis is no PDF at all"), chat_id=chat)
    tg.media_message(tg.document(b"hello, not a pdf", file_name="fake.pdf"), chat_id=chat)
    tg.media_message(tg.document(b"   \n", file_name="empty.txt", mime_type="text/plain"),
                     chat_id=chat)  # fmt: skip
    latin1 = "café crème".encode("latin-1")
    tg.media_message(tg.document(latin1, file_name="menu.txt", mime_type="text/plain"),
                     chat_id=chat)  # fmt: skip
    long_text = b"x" * 1001
    tg.media_message(tg.document(long_text, file_name="long.md", mime_type="text/markdown"),
                     chat_id=chat)  # fmt: skip
    notices = await tg.wait_for("sendMessage", 6)
    texts = [n.params["text"] for n in notices]
    assert "protected with a password" in texts[0]
    assert "could not read that file" in texts[1] and "could not read that file" in texts[2]
    assert "empty" in texts[3]
    assert "not UTF-8" in texts[4]
    assert "too long (1001 characters)" in texts[5] and "up to 1000 characters" in texts[5]
    assert ai.requests_to("/v1/responses") == []


async def test_a_too_large_document_is_refused_without_downloading(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot(max_file_bytes=4096)
    tg.media_message(tg.document(make_pdf(1), file_size=5 * 1024 * 1024), chat_id=4004)
    [notice] = await tg.wait_for("sendMessage")
    assert "too large (5.0 MB)" in notice.params["text"]
    assert tg.calls_to("getFile") == [] and ai.requests == []


async def test_other_files_get_the_hint(tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any) -> None:
    await start_bot()
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    tg.media_message(tg.document(b"PK\x03\x04", file_name="cv.docx", mime_type=docx),
                     chat_id=4005)  # fmt: skip
    [hint] = await tg.wait_for("sendMessage")
    assert "send it as a PDF" in hint.params["text"]
    assert tg.calls_to("getFile") == [] and ai.requests == []


async def test_in_groups_a_document_needs_addressing(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot()
    tg.media_message(tg.document(make_pdf(1), file_name="minutes.pdf"), chat_id=-4006)
    tg.media_message(
        tg.document(make_pdf(2), file_name="agenda.pdf"),
        chat_id=-4006,
        caption="@test_ai_bot what is first?",
    )
    # the chat's order: once the second is answered, the first was passed over
    await tg.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == -4006)
    assert len(tg.calls_to("getFile")) == 1
    [body] = _answer_requests(ai)
    file_part, question = _user_content(body)
    assert file_part["filename"] == "agenda.pdf"
    assert question["text"] == "[Ana] what is first?"


async def test_outsiders_and_rate_limited_users_cost_nothing(
    tg: FakeTelegram, ai: FakeOpenAI, start_bot: Any
) -> None:
    await start_bot(allowed_user_ids="4008", rate_limit_per_minute=1)
    tg.media_message(tg.document(make_pdf(1)), chat_id=4009)  # not allowed
    [refusal] = await tg.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == 4009)
    assert "not allowed" in refusal.params["text"]
    assert tg.calls_to("getFile") == [] and ai.requests == []

    tg.media_message(tg.document(make_pdf(1)), chat_id=4008)  # its one message this minute
    tg.media_message(tg.document(make_pdf(1)), chat_id=4008)  # over the rate limit
    await tg.wait_for("sendMessage", 2, where=lambda c: c.params["chat_id"] == 4008)
    assert len(tg.calls_to("getFile")) == 1 and len(_answer_requests(ai)) == 1
