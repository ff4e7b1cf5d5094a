"""OpenAI services: conversations, the classifier, the assistant's streamed answers."""

from bot.ai.assistant import AnswerStream, AssistantService
from bot.ai.classifier import Classifier
from bot.ai.client import build_openai_client
from bot.ai.conversations import ConversationService
from bot.ai.errors import AIError, AIRateLimited, AIUnavailable, ConversationGone, StreamInterrupted

__all__ = [
    "AIError",
    "AIRateLimited",
    "AIUnavailable",
    "AnswerStream",
    "AssistantService",
    "Classifier",
    "ConversationGone",
    "ConversationService",
    "StreamInterrupted",
    "build_openai_client",
]
