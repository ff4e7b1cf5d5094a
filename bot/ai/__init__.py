"""OpenAI services: conversations, the classifier, the assistant's streamed answers."""

from bot.ai.assistant import AnswerStream, AssistantService, ToolLoopExceeded, ToolRunner
from bot.ai.classifier import Classifier
from bot.ai.client import build_openai_client
from bot.ai.conversations import ConversationService
from bot.ai.errors import AIError, AIRateLimited, AIUnavailable, ConversationGone, StreamInterrupted
from bot.ai.knowledge import KnowledgeService, UploadedKnowledge
from bot.ai.transport import OpenAITransport

__all__ = [
    "AIError",
    "AIRateLimited",
    "AIUnavailable",
    "AnswerStream",
    "AssistantService",
    "Classifier",
    "ConversationGone",
    "ConversationService",
    "KnowledgeService",
    "OpenAITransport",
    "StreamInterrupted",
    "ToolLoopExceeded",
    "ToolRunner",
    "UploadedKnowledge",
    "build_openai_client",
]
