"""AnswerStream and drawn images: a completed image_generation_call is kept and counted once;
a failed or garbled one is neither (it is not delivered, so it is not held against the user)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from bot.ai.assistant import AnswerStream

PNG = b"\x89PNG\r\n\x1a\n" + b"pixels" * 10


class EventTransport:
    """Answers every stream with the given events."""

    def __init__(self, events: list[dict[str, Any]]) -> None:
        self.events = events

    async def post(self, path: str, body: Mapping[str, Any], **kwargs: Any) -> Any:
        raise AssertionError("not used")

    @asynccontextmanager
    async def _stream(self) -> AsyncIterator[AsyncIterator[dict[str, Any]]]:
        async def events() -> AsyncIterator[dict[str, Any]]:
            for event in self.events:
                yield event

        yield events()

    def stream(self, path: str, body: Mapping[str, Any]) -> Any:
        return self._stream()

    async def close(self) -> None:
        return None


def _drawing(item_id: str, status: str, result: str | None) -> dict[str, Any]:
    item = {"type": "image_generation_call", "id": item_id, "status": status, "result": result}
    return {"type": "response.output_item.done", "output_index": 0, "item": item}


async def test_completed_drawings_are_kept_and_counted_failed_or_garbled_ones_are_not() -> None:
    usage = {"input_tokens": 50, "output_tokens": 10}
    events = [
        {"type": "response.created", "response": {"id": "resp_1"}},
        _drawing("ig_1", "completed", base64.b64encode(PNG).decode()),
        _drawing("ig_2", "failed", base64.b64encode(b"half a picture").decode()),
        _drawing("ig_3", "completed", "ab$cd"),  # not base64 (a lenient decoder would take it)
        {"type": "response.output_text.delta", "delta": "Here."},
        {"type": "response.completed", "response": {"id": "resp_1", "usage": usage}},
    ]
    stream = AnswerStream(EventTransport(events), {}, image_output_tokens=1056)  # type: ignore[arg-type]
    assert [delta async for delta in stream] == ["Here."]
    assert [(image.item_id, image.data) for image in stream.images] == [("ig_1", PNG)]
    total = stream.usage.total()
    assert (total.images, total.output_tokens, total.input_tokens) == (1, 10 + 1056, 50)
