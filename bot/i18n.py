"""Every user-facing string, in English and Spanish, chosen by the user's Telegram language."""

from __future__ import annotations

from typing import Final

LANGUAGES: Final = ("en", "es")
DEFAULT_LANGUAGE: Final = "en"

_TEXTS: Final[dict[str, dict[str, str]]] = {
    "start": {
        "en": ("Hi {name}! I'm an AI assistant. Write to me and I'll answer.\n\n{help}"),
        "es": ("¡Hola {name}! Soy un asistente de IA. Escríbeme y te responderé.\n\n{help}"),
    },
    "help": {
        "en": (
            "In private chats I answer every message. In groups, mention me ({mention}) or reply "
            "to one of my messages.\n\nCommands:\n{commands}"
        ),
        "es": (
            "En chats privados respondo a cada mensaje. En grupos, menciónname ({mention}) o "
            "responde a uno de mis mensajes.\n\nComandos:\n{commands}"
        ),
    },
    "cmd_start": {"en": "Start and see what I can do", "es": "Empezar y ver qué puedo hacer"},
    "cmd_help": {"en": "How to use the bot", "es": "Cómo usar el bot"},
    "cmd_new": {"en": "Start a fresh conversation", "es": "Empezar una conversación nueva"},
    "cmd_history": {"en": "Show recent messages", "es": "Ver los mensajes recientes"},
    "new_done": {
        "en": "Started a fresh conversation. I've forgotten what we said before.",
        "es": "Empezamos una conversación nueva. He olvidado lo que hablamos antes.",
    },
    "not_allowed": {
        "en": "Sorry, you're not allowed to use this bot. Ask its admin for access.",
        "es": "Lo siento, no tienes permiso para usar este bot. Pide acceso a su administrador.",
    },
    "context_reset": {
        "en": "(The previous conversation had expired, so I started a new one.)",
        "es": "(La conversación anterior había caducado, así que empecé una nueva.)",
    },
    "ai_unavailable": {
        "en": "Sorry, the AI service isn't answering right now. Please try again in a minute.",
        "es": (
            "Lo siento, el servicio de IA no responde ahora mismo. Inténtalo de nuevo en un minuto."
        ),
    },
    "ai_rate_limited": {
        "en": "The AI service is busy right now. Please try again in a minute.",
        "es": "El servicio de IA está saturado ahora mismo. Inténtalo de nuevo en un minuto.",
    },
    "internal_error": {
        "en": "Sorry, something went wrong on my side. Please try again.",
        "es": "Lo siento, algo falló por mi parte. Inténtalo de nuevo.",
    },
    "interrupted": {
        "en": "[answer interrupted: please ask again]",
        "es": "[respuesta interrumpida: vuelve a preguntar]",
    },
    "empty_answer": {
        "en": "I have no answer to that. Could you rephrase it?",
        "es": "No tengo respuesta para eso. ¿Puedes reformularlo?",
    },
    "refused": {
        "en": "I can't help with that. Let's keep the conversation respectful.",
        "es": "No puedo ayudar con eso. Mantengamos una conversación respetuosa.",
    },
    "handoff_user": {
        "en": "I've passed your message to a person. Someone will follow up with you soon.",
        "es": "He pasado tu mensaje a una persona. Alguien te contactará pronto.",
    },
    "handoff_admin": {
        "en": "🙋 {user} in {chat} asked for a person:\n\n{text}",
        "es": "🙋 {user} en {chat} pidió hablar con una persona:\n\n{text}",
    },
    "history_empty": {
        "en": "No messages here yet.",
        "es": "Todavía no hay mensajes aquí.",
    },
    "history_title": {
        "en": "Recent messages (oldest first):",
        "es": "Mensajes recientes (los más antiguos primero):",
    },
    "you": {"en": "You", "es": "Tú"},
    "user": {"en": "User", "es": "Usuario"},
    "assistant": {"en": "Assistant", "es": "Asistente"},
    "empty_text": {
        "en": "Your message looks empty. What would you like to ask?",
        "es": "Tu mensaje parece vacío. ¿Qué quieres preguntar?",
    },
    "unsupported": {
        "en": "I can only read text messages for now. Please write your question.",
        "es": "Por ahora solo puedo leer mensajes de texto. Escribe tu pregunta, por favor.",
    },
    "private_chat": {"en": "a private chat", "es": "un chat privado"},
}


def language_of(code: str | None) -> str:
    """Our language for a Telegram `language_code` such as `es-419` or `en`."""
    if code:
        base = code.split("-")[0].lower()
        if base in LANGUAGES:
            return base
    return DEFAULT_LANGUAGE


def t(lang: str, key: str, **values: object) -> str:
    """The text `key` in `lang` (English when missing), formatted with `values`."""
    texts = _TEXTS[key]
    text = texts.get(lang) or texts[DEFAULT_LANGUAGE]
    return text.format(**values) if values else text
