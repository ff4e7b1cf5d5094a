"""Classify each user text into one route label with a cheap model and structured output."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Mapping
from typing import Any

from bot.ai.errors import AIError
from bot.ai.identity import CLASSIFIER_CACHE_KEY
from bot.ai.protocol import AITransport
from bot.config import ClassifierRoute

log = logging.getLogger(__name__)

_PROMPT = (
    "You route messages sent to a Telegram assistant bot. Read the user's message and choose "
    "exactly one label. Labels:\n{labels}\nWhen unsure, choose {default!r}."
)


class Classifier:
    """Never blocks an answer: any failure or timeout returns the default label."""

    def __init__(
        self,
        transport: AITransport,
        *,
        model: str,
        routes: Mapping[str, ClassifierRoute],
        default_label: str,
        timeout: float,
        reasoning_effort: str | None = None,
    ) -> None:
        self._transport = transport
        self._model = model
        self._labels = list(routes)
        self._default = default_label
        self._timeout = timeout
        self._reasoning_effort = reasoning_effort
        described = "\n".join(
            f"- {label}: {route.description or label}" for label, route in routes.items()
        )
        self._instructions = _PROMPT.format(labels=described, default=default_label)
        self._text_config: Any = {
            "format": {
                "type": "json_schema",
                "name": "route",
                "strict": True,
                "schema": {
                    "type": "object",
                    "properties": {"label": {"type": "string", "enum": self._labels}},
                    "required": ["label"],
                    "additionalProperties": False,
                },
            }
        }

    async def classify(self, text: str, *, safety_identifier: str | None = None) -> str:
        """The label for `text`; the default label when the model fails or is slow.

        `safety_identifier` is the sender's (bot.ai.identity), never a raw Telegram id."""
        try:
            async with asyncio.timeout(self._timeout):  # no extra task, unlike wait_for
                return await self._ask(text, safety_identifier)
        except TimeoutError:
            log.warning("classifier timed out after %.1fs; using %r", self._timeout, self._default)
        except AIError as exc:
            log.warning("classifier failed (%s); using %r", type(exc).__name__, self._default)
        except (ValueError, KeyError, TypeError) as exc:
            log.warning("classifier gave malformed output (%s); using %r", exc, self._default)
        return self._default

    async def _ask(self, text: str, safety_identifier: str | None) -> str:
        body: dict[str, Any] = {
            "model": self._model,
            "instructions": self._instructions,
            "input": text,
            "text": self._text_config,
            "store": False,
            # the prompt is the same for everyone: one cache for all classifications
            "prompt_cache_key": CLASSIFIER_CACHE_KEY,
        }
        if safety_identifier:
            body["safety_identifier"] = safety_identifier
        if self._reasoning_effort:
            body["reasoning"] = {"effort": self._reasoning_effort}
        # No retries: a retry would not fit in the time budget; the default route is fine.
        answer = await self._transport.post_json(
            "/responses", body, max_retries=0, read_timeout=self._timeout
        )
        label = json.loads(_output_text(answer))["label"]
        if label not in self._labels:
            raise ValueError(f"unknown label {label!r}")
        return str(label)


def _output_text(body: dict[str, Any]) -> str:
    """The text of a Responses API body: its output messages' output_text parts, joined."""
    return "".join(
        part.get("text", "")
        for item in body.get("output") or []
        if item.get("type") == "message"
        for part in item.get("content") or []
        if part.get("type") == "output_text"
    )
