"""Lean loopback fakes of the Telegram Bot API and the OpenAI API for the benchmark.

They answer in the same shapes as the test fakes (``testkit/``) but skip everything that
costs CPU without changing what the bot does: no spec validation, no deep copies, no message
store, no call log. Both run in the harness process on aiohttp's low-level server, so the bot
process pays the real HTTP, JSON and SDK parsing costs while the harness stays light.

Timestamps of each benchmark message go to a shared :class:`~bench.tracking.Tracker`.
"""

from __future__ import annotations

import asyncio
import collections
import itertools
import json
import secrets
import time
from collections import Counter
from typing import Any, Final
from urllib.parse import parse_qsl

from aiohttp import web

from bench.tracking import AnswerPlan, Msg, Tracker
from testkit.fake_openai import API_KEY, FakeOpenAI
from testkit.fake_telegram import TOKEN

__all__ = ["API_KEY", "TOKEN", "LeanOpenAI", "LeanTelegram"]

JSON = dict[str, Any]

BOT_USER: Final[JSON] = {
    "id": 987654321,
    "is_bot": True,
    "first_name": "Bench AI Bot",
    "username": "bench_ai_bot",
    "can_join_groups": True,
    "can_read_all_group_messages": False,
    "supports_inline_queries": False,
    "can_connect_to_business": False,
    "has_main_web_app": False,
}
_TRUE: Final = b'{"ok":true,"result":true}'
_EMPTY_UPDATES: Final = b'{"ok":true,"result":[]}'


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


class _Server:
    """An aiohttp low-level server (no router, no middlewares, no access log) on 127.0.0.1."""

    def __init__(self) -> None:
        self._server: asyncio.AbstractServer | None = None
        self._web: web.Server | None = None
        self.port = 0
        self.requests = 0
        self.connections = 0  # TCP connections accepted

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        raise NotImplementedError

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        server = self._web = web.Server(self._handle, access_log=None)

        def connection() -> asyncio.Protocol:
            self.connections += 1
            return server()

        self._server = await loop.create_server(connection, "127.0.0.1", 0, backlog=4096)
        self.port = int(self._server.sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._web is not None:
            await self._web.shutdown(0.5)
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
        self._server = self._web = None


# ------------------------------------------------------------------------------- Telegram


class LeanTelegram(_Server):
    """getUpdates long polling plus the handful of methods the bot calls, answered minimally."""

    def __init__(self, tracker: Tracker) -> None:
        super().__init__()
        self.tracker = tracker
        self.methods: Counter[str] = Counter()
        self._pending: collections.deque[tuple[int, bytes, Msg | None]] = collections.deque()
        self._update_ids = itertools.count(1)
        self._message_ids: dict[int, int] = {}
        self._chats: dict[int, JSON] = {}
        self._files: dict[str, bytes] = {}  # file_id -> content (photos)
        self._arrived = asyncio.Event()
        self._stopping = False
        self.polls = 0
        self.updates_handed = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/bot"

    @property
    def base_file_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/file/bot"

    @property
    def pending(self) -> int:
        return len(self._pending)

    async def stop(self) -> None:
        self._stopping = True
        self._arrived.set()
        await super().stop()

    # -- load generation

    def _next_message_id(self, chat_id: int) -> int:
        mid = self._message_ids.get(chat_id, 0) + 1
        self._message_ids[chat_id] = mid
        return mid

    def private_text(self, chat_id: int, text: str, msg: Msg | None = None) -> None:
        """Queue a text from a user in their private chat (user id = chat id)."""
        self._queue_message(chat_id, {"text": text}, msg)

    def private_photo(
        self,
        chat_id: int,
        image: bytes,
        size: tuple[int, int],
        caption: str,
        msg: Msg | None = None,
    ) -> None:
        """Queue a photo with a caption in a private chat; its bytes are served by getFile and
        the file URL like Telegram's (one size: the photo itself)."""
        file_id = f"photo-{len(self._files) + 1}"
        self._files[file_id] = image
        photo = {
            "file_id": file_id,
            "file_unique_id": "u" + file_id,
            "file_size": len(image),
            "width": size[0],
            "height": size[1],
        }
        self._queue_message(chat_id, {"photo": [photo], "caption": caption}, msg)

    def _queue_message(self, chat_id: int, content: JSON, msg: Msg | None) -> None:
        chat = self._chats.get(chat_id)
        if chat is None:
            chat = self._chats[chat_id] = {
                "id": chat_id,
                "type": "private",
                "first_name": "User",
                "last_name": str(chat_id),
            }
        update_id = next(self._update_ids)
        update = {
            "update_id": update_id,
            "message": {
                "message_id": self._next_message_id(chat_id),
                "from": {
                    "id": chat_id,
                    "is_bot": False,
                    "first_name": "User",
                    "last_name": str(chat_id),
                    "language_code": "en",
                },
                "chat": chat,
                "date": int(time.time()),
                **content,
            },
        }
        self._pending.append((update_id, _dumps(update).encode(), msg))
        if msg is not None:
            msg.pushed = time.monotonic()
        self._arrived.set()

    # -- HTTP

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        self.requests += 1
        method = request.path.rsplit("/", 1)[-1]
        try:
            body = await request.read()
        except ConnectionError:  # the bot went away mid-request (shutdown)
            return web.Response(status=499)
        if request.path.startswith("/file/bot"):
            return self._file(method)
        params = dict(parse_qsl(body.decode())) if body else {}
        self.methods[method] += 1
        if method == "getUpdates":
            return await self._get_updates(params)
        handler = _HANDLERS.get(method)
        payload = handler(self, params) if handler is not None else _TRUE
        return web.Response(body=payload, content_type="application/json")

    async def _get_updates(self, params: dict[str, str]) -> web.Response:
        self.polls += 1
        offset = int(params.get("offset") or 0)
        limit = min(max(int(params.get("limit") or 100), 1), 100)
        timeout = float(params.get("timeout") or 0)
        pending = self._pending
        while pending and pending[0][0] < offset:
            pending.popleft()
        if not pending and timeout > 0 and not self._stopping:
            self._arrived.clear()
            try:
                async with asyncio.timeout(timeout):
                    await self._arrived.wait()
            except TimeoutError:
                pass
        if not pending:
            return web.Response(body=_EMPTY_UPDATES, content_type="application/json")
        now = time.monotonic()
        batch = list(itertools.islice(pending, limit))
        for _, _, msg in batch:
            if msg is not None and msg.handed != msg.handed:  # NaN: first hand-out
                msg.handed = now
        self.updates_handed += len(batch)
        body = b'{"ok":true,"result":[' + b",".join(raw for _, raw, _ in batch) + b"]}"
        return web.Response(body=body, content_type="application/json")

    def _message(self, params: dict[str, str], text: str) -> bytes:
        chat_id = int(params["chat_id"])
        chat = self._chats.get(chat_id) or {"id": chat_id, "type": "private", "first_name": "U"}
        result: JSON = {
            "message_id": self._next_message_id(chat_id),
            "from": BOT_USER,
            "chat": chat,
            "date": int(time.time()),
            "text": text,
        }
        entities = params.get("entities")
        if entities:
            result["entities"] = json.loads(entities)
        return b'{"ok":true,"result":' + _dumps(result).encode() + b"}"

    def _send_message(self, params: dict[str, str]) -> bytes:
        text = params.get("text", "")
        chat_id = int(params.get("chat_id") or 0)
        msg = self.tracker.for_chat(chat_id)
        if msg is not None:
            self.tracker.finish(msg, text)
        else:
            self.tracker.untracked_calls += 1
        return self._message(params, text)

    def _preview(self, params: dict[str, str]) -> None:
        msg = self.tracker.for_chat(int(params.get("chat_id") or 0))
        if msg is not None:
            if msg.previews == 0:
                msg.first_partial = time.monotonic()
            msg.previews += 1

    def _send_message_draft(self, params: dict[str, str]) -> bytes:
        self._preview(params)
        return _TRUE

    def _edit_message_text(self, params: dict[str, str]) -> bytes:
        self._preview(params)
        return self._message(params, params.get("text", ""))

    def _send_chat_action(self, params: dict[str, str]) -> bytes:
        msg = self.tracker.for_chat(int(params.get("chat_id") or 0))
        if msg is not None:
            msg.typing += 1
        return _TRUE

    def _get_me(self, params: dict[str, str]) -> bytes:
        return b'{"ok":true,"result":' + _dumps(BOT_USER).encode() + b"}"

    def _get_webhook_info(self, params: dict[str, str]) -> bytes:
        info = {"url": "", "has_custom_certificate": False, "pending_update_count": 0}
        return b'{"ok":true,"result":' + _dumps(info).encode() + b"}"

    def _get_file(self, params: dict[str, str]) -> bytes:
        file_id = params.get("file_id", "")
        content = self._files.get(file_id)
        if content is None:
            return b'{"ok":false,"error_code":400,"description":"Bad Request: invalid file_id"}'
        result = {
            "file_id": file_id,
            "file_unique_id": "u" + file_id,
            "file_size": len(content),
            "file_path": f"photos/{file_id}.jpg",
        }
        return b'{"ok":true,"result":' + _dumps(result).encode() + b"}"

    def _file(self, name: str) -> web.Response:
        """GET /file/bot<token>/photos/<file_id>.jpg: the file's bytes."""
        content = self._files.get(name.removesuffix(".jpg"))
        if content is None:
            return web.Response(status=404, text="Not Found")
        return web.Response(body=content, content_type="image/jpeg")


_HANDLERS = {
    "getMe": LeanTelegram._get_me,
    "getFile": LeanTelegram._get_file,
    "getWebhookInfo": LeanTelegram._get_webhook_info,
    "sendMessage": LeanTelegram._send_message,
    "sendMessageDraft": LeanTelegram._send_message_draft,
    "editMessageText": LeanTelegram._edit_message_text,
    "sendChatAction": LeanTelegram._send_chat_action,
}


# --------------------------------------------------------------------------------- OpenAI


def _sse(kind: str, data: str) -> bytes:
    return f"event: {kind}\ndata: {data}\n\n".encode()


class LeanOpenAI(_Server):
    """POST /v1/responses (classifier JSON or streamed answer) and POST /v1/conversations.

    Event shapes and order are those of the test fake (``testkit/fake_openai.py``), which
    mirrors the official spec; the response snapshots are built by its own code.
    """

    def __init__(self, tracker: Tracker, default_plan: AnswerPlan) -> None:
        super().__init__()
        self.tracker = tracker
        self.default_plan = default_plan
        self.classifier_latency = 0.0
        self.classifier_label = "general"
        self.conversations = 0
        self.streams = 0
        self.classifications = 0
        self.active_streams = 0
        self.max_active_streams = 0
        self._shapes = FakeOpenAI(validate=False)  # never started: only its object builders
        self._delta_json: dict[str, str] = {}

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def _json(self, payload: JSON, status: int = 200) -> web.Response:
        return web.Response(
            body=_dumps(payload).encode(),
            status=status,
            content_type="application/json",
            headers={"x-request-id": "req_" + secrets.token_hex(8)},
        )

    async def _handle(self, request: web.BaseRequest) -> web.StreamResponse:
        self.requests += 1
        try:
            raw = await request.read()
        except ConnectionError:  # the bot went away mid-request (shutdown)
            return web.Response(status=499)
        if request.headers.get("Authorization") != f"Bearer {API_KEY}":
            return self._json(
                {
                    "error": {
                        "message": "bad key",
                        "type": "invalid_request_error",
                        "param": None,
                        "code": "invalid_api_key",
                    }
                },
                401,
            )
        body: JSON = json.loads(raw) if raw else {}
        path = request.path
        if request.method == "POST" and path == "/v1/responses":
            return await self._responses(request, body)
        if request.method == "POST" and path == "/v1/conversations":
            self.conversations += 1
            return self._json(
                {
                    "id": "conv_" + secrets.token_hex(24),
                    "object": "conversation",
                    "created_at": int(time.time()),
                    "metadata": body.get("metadata") or {},
                }
            )
        return self._json(
            {
                "error": {
                    "message": f"Invalid URL ({request.method} {path})",
                    "type": "invalid_request_error",
                    "param": None,
                    "code": None,
                }
            },
            404,
        )

    def _snapshot(
        self,
        body: JSON,
        resp_id: str,
        created_at: int,
        status: str,
        output: list[JSON],
        usage: JSON | None,
    ) -> JSON:
        conv = body.get("conversation")
        conv_id = conv if isinstance(conv, str) else None
        return self._shapes._response_object(
            body,
            resp_id=resp_id,
            created_at=created_at,
            status=status,
            output=output,
            usage=usage,
            conv_id=conv_id,
        )

    @staticmethod
    def _usage(text: str) -> JSON:
        out = max(1, len(text) // 4)
        return {
            "input_tokens": 120,
            "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
            "output_tokens": out,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": 120 + out,
        }

    async def _responses(self, request: web.BaseRequest, body: JSON) -> web.StreamResponse:
        msg = self.tracker.by_text(" ".join(FakeOpenAI.input_texts(body)))
        now = time.monotonic()
        if msg is not None and msg.first_request != msg.first_request:  # NaN: first request
            msg.first_request = now
        text_cfg = body.get("text")
        fmt = text_cfg.get("format") if isinstance(text_cfg, dict) else None
        if isinstance(fmt, dict) and fmt.get("type") == "json_schema":
            return await self._classify(body, msg)
        if msg is not None:
            msg.answer_request = now
        return await self._stream(request, body, msg.plan if msg else self.default_plan, msg)

    async def _classify(self, body: JSON, msg: Msg | None) -> web.Response:
        self.classifications += 1
        if self.classifier_latency > 0:
            await asyncio.sleep(self.classifier_latency)
        text = _dumps({"label": self.classifier_label})
        resp_id, msg_id = "resp_" + secrets.token_hex(24), "msg_" + secrets.token_hex(24)
        message = FakeOpenAI._message(msg_id, text, "completed")
        usage = self._usage(text)
        response = self._snapshot(body, resp_id, int(time.time()), "completed", [message], usage)
        if msg is not None:
            msg.classified = time.monotonic()
        return self._json(response)

    async def _stream(
        self, request: web.BaseRequest, body: JSON, plan: AnswerPlan, msg: Msg | None
    ) -> web.StreamResponse:
        self.streams += 1
        self.active_streams += 1
        self.max_active_streams = max(self.max_active_streams, self.active_streams)
        try:
            if plan.latency > 0:
                await asyncio.sleep(plan.latency)
            return await self._write_stream(request, body, plan, msg)
        finally:
            self.active_streams -= 1

    async def _write_stream(
        self, request: web.BaseRequest, body: JSON, plan: AnswerPlan, msg: Msg | None
    ) -> web.StreamResponse:
        stream = web.StreamResponse(
            status=200,
            headers={
                "Content-Type": "text/event-stream; charset=utf-8",
                "Cache-Control": "no-cache",
                "x-request-id": "req_" + secrets.token_hex(8),
            },
        )
        await stream.prepare(request)
        resp_id, msg_id = "resp_" + secrets.token_hex(24), "msg_" + secrets.token_hex(24)
        created_at = int(time.time())
        text = plan.text
        seq = itertools.count()
        where = f'"item_id":"{msg_id}","output_index":0,"content_index":0'
        empty_part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}

        def event(payload: JSON) -> bytes:
            payload["sequence_number"] = next(seq)
            return _sse(payload["type"], _dumps(payload))

        in_progress = self._snapshot(body, resp_id, created_at, "in_progress", [], None)
        head = [
            event({"type": "response.created", "response": in_progress}),
            event({"type": "response.in_progress", "response": in_progress}),
            event(
                {
                    "type": "response.output_item.added",
                    "output_index": 0,
                    "item": FakeOpenAI._message(msg_id, "", "in_progress"),
                }
            ),
            event(
                {
                    "type": "response.content_part.added",
                    "item_id": msg_id,
                    "output_index": 0,
                    "content_index": 0,
                    "part": empty_part,
                }
            ),
        ]
        try:
            await stream.write(b"".join(head))
            for n, delta in enumerate(plan.deltas):
                if n and plan.token_delay > 0:
                    await asyncio.sleep(plan.token_delay)
                encoded = self._delta_json.get(delta)
                if encoded is None:
                    encoded = self._delta_json[delta] = _dumps(delta)
                data = (
                    f'{{"type":"response.output_text.delta",{where},"delta":{encoded},'
                    f'"logprobs":[],"sequence_number":{next(seq)}}}'
                )
                await stream.write(_sse("response.output_text.delta", data))
                if msg is not None:
                    if n == 0:
                        msg.first_delta = time.monotonic()
                    msg.last_delta = time.monotonic()
            message = FakeOpenAI._message(msg_id, text, "completed")
            final = self._snapshot(
                body, resp_id, created_at, "completed", [message], self._usage(text)
            )
            tail = [
                event(
                    {
                        "type": "response.output_text.done",
                        "item_id": msg_id,
                        "output_index": 0,
                        "content_index": 0,
                        "text": text,
                        "logprobs": [],
                    }
                ),
                event(
                    {
                        "type": "response.content_part.done",
                        "item_id": msg_id,
                        "output_index": 0,
                        "content_index": 0,
                        "part": {**empty_part, "text": text},
                    }
                ),
                event({"type": "response.output_item.done", "output_index": 0, "item": message}),
                event({"type": "response.completed", "response": final}),
            ]
            await stream.write(b"".join(tail))
            await stream.write_eof()
        except (ConnectionResetError, ConnectionError):
            pass
        return stream
