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
        "en": (
            "I can read text and photos, but not stickers, voice notes, videos or other media "
            "yet. Please write your question or send a photo."
        ),
        "es": (
            "Puedo leer texto y fotos, pero todavía no stickers, notas de voz, vídeos ni otros "
            "archivos multimedia. Escribe tu pregunta o envía una foto."
        ),
    },
    "document_hint": {
        "en": "I can only look at images among files for now. Send a photo or an image file.",
        "es": "Por ahora solo puedo mirar imágenes entre los archivos. Envía una foto o una imagen.",
    },
    "vision_default_prompt": {
        "en": "Describe what you see in this image and anything notable.",
        "es": "Describe lo que ves en esta imagen y cualquier cosa destacable.",
    },
    "vision_default_prompt_many": {
        "en": "Describe what you see in these {count} images and anything notable.",
        "es": "Describe lo que ves en estas {count} imágenes y cualquier cosa destacable.",
    },
    "camera_context_line": {
        "en": "Camera context: {context}.",
        "es": "Contexto de la cámara: {context}.",
    },
    "image_too_large": {
        "en": "That file is too large ({size} MB). I can look at images up to {limit} MB.",
        "es": "Ese archivo es demasiado grande ({size} MB). Puedo mirar imágenes de hasta {limit} MB.",
    },
    "image_too_big": {
        "en": "That image has too many pixels for me to open. Please send a smaller one.",
        "es": "Esa imagen tiene demasiados píxeles para abrirla. Envía una más pequeña, por favor.",
    },
    "image_unreadable": {
        "en": "I couldn't read that image: the file looks damaged or isn't an image format I know.",
        "es": "No pude leer esa imagen: el archivo parece dañado o no es un formato que conozca.",
    },
    "image_svg": {
        "en": "SVG drawings aren't supported. Please send a photo, or a PNG or JPEG image.",
        "es": "Los dibujos SVG no son compatibles. Envía una foto o una imagen PNG o JPEG.",
    },
    "image_heic": {
        "en": "HEIC images aren't supported here. Send it as a photo (not a file), or as JPEG.",
        "es": "Las imágenes HEIC no son compatibles aquí. Envíala como foto (no como archivo) o en JPEG.",
    },
    "image_download_failed": {
        "en": "I couldn't download that image from Telegram. Please send it again.",
        "es": "No pude descargar esa imagen de Telegram. Envíala de nuevo, por favor.",
    },
    "images_skipped": {
        "en": "({count} of the images couldn't be used and were skipped.)",
        "es": "({count} de las imágenes no se pudieron usar y se omitieron.)",
    },
    "cmd_camera": {
        "en": "Set what the camera shows (e.g. receipt)",
        "es": "Indicar qué muestra la cámara (p. ej. recibo)",
    },
    "camera_set": {
        "en": "Got it: I'll look at this chat's photos as \"{context}\". Send /camera off to clear.",
        "es": 'Entendido: miraré las fotos de este chat como "{context}". Envía /camera off para quitarlo.',
    },
    "camera_show": {
        "en": 'Camera context: "{context}". Change it with /camera <context>, clear it with /camera off.',
        "es": 'Contexto de la cámara: "{context}". Cámbialo con /camera <contexto>, quítalo con /camera off.',
    },
    "camera_none": {
        "en": (
            "No camera context is set. Tell me what your photos show, for example "
            "/camera dashcam, /camera receipt or /camera store shelf."
        ),
        "es": (
            "No hay contexto de cámara. Dime qué muestran tus fotos, por ejemplo "
            "/camera dashcam, /camera recibo o /camera estantería de tienda."
        ),
    },
    "camera_cleared": {
        "en": "Camera context cleared.",
        "es": "Contexto de cámara eliminado.",
    },
    "camera_too_long": {
        "en": "That camera context is too long: please keep it under {limit} characters.",
        "es": "Ese contexto de cámara es demasiado largo: mantenlo por debajo de {limit} caracteres.",
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
