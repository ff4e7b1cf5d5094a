"""Errors of the AI layer that are safe to turn into a short message for the user."""

from __future__ import annotations

import openai


class AIError(Exception):
    """Base of the errors the AI layer raises; `user_key` names the i18n text to show."""

    user_key = "ai_unavailable"


class AIUnavailable(AIError):
    """OpenAI failed (5xx, network, timeout, bad request) after the SDK's retries."""


class AIRateLimited(AIError):
    """OpenAI kept answering 429 after the SDK's retries."""

    user_key = "ai_rate_limited"


class ConversationGone(AIError):
    """The stored conversation no longer exists on OpenAI's side."""


class StreamInterrupted(AIError):
    """The answer's stream broke after some text had arrived."""


def is_conversation_missing(exc: openai.APIStatusError) -> bool:
    """True for the 404 OpenAI returns when a `conversation` id is unknown."""
    if exc.status_code != 404:
        return False
    body = exc.body if isinstance(exc.body, dict) else {}
    param = body.get("param")
    return param == "conversation" or "conversation" in str(exc.message).lower()


def translate(exc: Exception) -> AIError:
    """Map an SDK exception to our error classes."""
    if isinstance(exc, openai.RateLimitError):
        return AIRateLimited(str(exc))
    if isinstance(exc, openai.APIStatusError) and is_conversation_missing(exc):
        return ConversationGone(str(exc))
    return AIUnavailable(f"{type(exc).__name__}: {exc}")
