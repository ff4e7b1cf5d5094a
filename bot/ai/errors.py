"""Errors of the AI layer that are safe to turn into a short message for the user.

Both transports (bot/ai/transport.py, bot/ai/sdk_transport.py) raise these, never the SDK's
classes, so the services above them catch only these. `status_error` is the one mapping from
an HTTP error answer to a class, used by both.
"""

from __future__ import annotations


class AIError(Exception):
    """Base of the errors the AI layer raises; `user_key` names the i18n text to show.

    `status` and `body` are the HTTP status and the API's error object when OpenAI answered
    with an error, None otherwise.
    """

    user_key = "ai_unavailable"

    def __init__(self, message: str, *, status: int | None = None, body: object = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class AIUnavailable(AIError):
    """OpenAI failed (5xx, network, timeout, bad request) after the retries."""


class AIConnectionError(AIUnavailable):
    """No usable answer arrived: the connection failed or broke, or the stream was unreadable."""


class AITimeout(AIConnectionError):
    """Connecting or a read took longer than the timeout."""


class AIRateLimited(AIError):
    """OpenAI kept answering 429 after the retries."""

    user_key = "ai_rate_limited"


class ConversationGone(AIError):
    """The stored conversation no longer exists on OpenAI's side."""


class ContextTooLong(AIError):
    """The request does not fit the model's context window (`context_length_exceeded`)."""

    user_key = "context_too_long"


class StreamInterrupted(AIError):
    """The answer's stream broke after some text had arrived.

    `outcome` is how the transcript records the answer: "interrupted" when the connection
    broke, "failed" when the server ended the stream with `response.failed` or an `error`
    event.
    """

    def __init__(self, message: str, *, outcome: str = "interrupted") -> None:
        super().__init__(message)
        self.outcome = outcome


def error_object(body: object) -> object:
    """The API's error object of a decoded error answer: its `error` member, else the body."""
    return body.get("error", body) if isinstance(body, dict) else body


def is_conversation_missing(status: int, message: str, error: object) -> bool:
    """True for the 404 OpenAI returns when a `conversation` id is unknown."""
    if status != 404:
        return False
    param = error.get("param") if isinstance(error, dict) else None
    return param == "conversation" or "conversation" in message.lower()


#: Error codes (and message fragments) of a request too large for the model's window.
_CONTEXT_CODES = frozenset({"context_length_exceeded"})
_CONTEXT_PHRASES = ("context window", "context length", "maximum context")


def is_context_overflow(code: object, message: object) -> bool:
    """True for OpenAI's "the input does not fit the model's context window" errors: the
    `context_length_exceeded` code, or a message that says so (as an HTTP 400 error object, a
    `response.failed` error or an `error` event)."""
    if isinstance(code, str) and code in _CONTEXT_CODES:
        return True
    text = message.lower() if isinstance(message, str) else ""
    return any(phrase in text for phrase in _CONTEXT_PHRASES) and "exceed" in text


def status_message(status: int, error: object) -> str:
    """`Error code: 429 - <the API's message>`, the text the SDK gives its status errors."""
    message = f"Error code: {status}"
    text = error.get("message") if isinstance(error, dict) else None
    if isinstance(text, str) and text:
        message += f" - {text}"
    return message


def status_error(status: int, error: object) -> AIError:
    """Our error for an HTTP error answer; `error` is the API's error object (`error_object`)."""
    message = status_message(status, error)
    if status == 429:
        return AIRateLimited(message, status=status, body=error)
    if is_conversation_missing(status, message, error):
        return ConversationGone(message, status=status, body=error)
    if (
        status == 400
        and isinstance(error, dict)
        and is_context_overflow(error.get("code"), error.get("message"))
    ):
        return ContextTooLong(message, status=status, body=error)
    return AIUnavailable(message, status=status, body=error)
