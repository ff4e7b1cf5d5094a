"""OpenAI services: conversations, the classifier, the assistant's streamed answers."""

from bot.ai.assistant import AnswerStream, AssistantService, ToolLoopExceeded, ToolRunner
from bot.ai.audio import AudioService, AudioUnreadable
from bot.ai.classifier import Classifier
from bot.ai.client import build_openai_client, build_transport
from bot.ai.conversations import ConversationService
from bot.ai.errors import (
    AIConnectionError,
    AIError,
    AIRateLimited,
    AITimeout,
    AIUnavailable,
    ContextTooLong,
    ConversationGone,
    StreamInterrupted,
)
from bot.ai.identity import CLASSIFIER_CACHE_KEY, Identity
from bot.ai.knowledge import IndexingStatus, KnowledgeService, UploadedKnowledge
from bot.ai.protocol import AITransport
from bot.ai.sdk_transport import SDKTransport
from bot.ai.transport import OpenAITransport

__all__ = [
    "CLASSIFIER_CACHE_KEY",
    "AIConnectionError",
    "AIError",
    "AIRateLimited",
    "AITimeout",
    "AITransport",
    "AIUnavailable",
    "AnswerStream",
    "AssistantService",
    "AudioService",
    "AudioUnreadable",
    "Classifier",
    "ContextTooLong",
    "ConversationGone",
    "ConversationService",
    "Identity",
    "IndexingStatus",
    "KnowledgeService",
    "OpenAITransport",
    "SDKTransport",
    "StreamInterrupted",
    "ToolLoopExceeded",
    "ToolRunner",
    "UploadedKnowledge",
    "build_openai_client",
    "build_transport",
]
