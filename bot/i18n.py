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
    "admins_only": {
        "en": "Only the bot's admins can do that.",
        "es": "Solo los administradores del bot pueden hacer eso.",
    },
    "rate_limited": {
        "en": "You're sending messages faster than I can answer ({limit} a minute). Please wait a moment; I'll ignore messages until then.",
        "es": "Envías mensajes más rápido de lo que puedo responder ({limit} por minuto). Espera un momento; hasta entonces ignoraré los mensajes.",
    },
    "over_budget": {
        "en": "You've used today's allowance ({budget} tokens). It renews at midnight UTC. See /usage.",
        "es": "Has usado tu cupo de hoy ({budget} tokens). Se renueva a medianoche UTC. Mira /usage.",
    },
    "usage": {
        "en": "Today (UTC) you've sent {requests} request(s) using {tokens} tokens ({input} in, {output} out).{budget}",
        "es": "Hoy (UTC) has hecho {requests} petición(es) con {tokens} tokens ({input} de entrada, {output} de salida).{budget}",
    },
    "usage_budget": {
        "en": " Your daily allowance is {budget} tokens; {left} left.",
        "es": " Tu cupo diario es de {budget} tokens; te quedan {left}.",
    },
    "usage_admin": {
        "en": " Admins have no daily limit.",
        "es": " Los admins no tienen límite diario.",
    },
    "cmd_usage": {"en": "Your usage today", "es": "Tu uso de hoy"},
    "text_too_long": {
        "en": "That message is too long for me ({length} characters; the limit is {limit}). Please shorten it or split it.",
        "es": "Ese mensaje es demasiado largo ({length} caracteres; el límite es {limit}). Acórtalo o divídelo.",
    },
    "delayed": {
        "en": "Sorry for the delay: I was restarting. Here's my answer to your message.",
        "es": "Perdona el retraso: me estaba reiniciando. Aquí tienes la respuesta a tu mensaje.",
    },
    "unknown_command": {
        "en": "I don't know that command. See /help for the ones I understand.",
        "es": "No conozco ese comando. Mira /help para ver los que entiendo.",
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
    "tool_limit": {
        "en": "I had to stop: answering needed too many steps. Please ask in a simpler way.",
        "es": "Tuve que parar: responder necesitaba demasiados pasos. Pregúntalo de forma más sencilla.",
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
    "cmd_assistants": {"en": "List the assistants", "es": "Ver los asistentes"},
    "cmd_use": {"en": "Use an assistant in this chat", "es": "Usar un asistente en este chat"},
    "cmd_newassistant": {"en": "Create an assistant (admins)", "es": "Crear un asistente (admins)"},
    "cmd_editassistant": {"en": "Edit an assistant (admins)", "es": "Editar un asistente (admins)"},
    "cmd_deleteassistant": {
        "en": "Delete an assistant (admins)",
        "es": "Borrar un asistente (admins)",
    },
    "cmd_knowledge": {
        "en": "Files an assistant knows (admins)",
        "es": "Archivos de un asistente (admins)",
    },
    "cmd_allow": {"en": "Allow a user (admins)", "es": "Permitir a un usuario (admins)"},
    "cmd_block": {"en": "Block a user (admins)", "es": "Bloquear a un usuario (admins)"},
    "cmd_stats": {"en": "Usage figures (admins)", "es": "Cifras de uso (admins)"},
    "cmd_cancel": {"en": "Leave the current step", "es": "Salir del paso actual"},
    "assistants_title": {
        "en": "Assistants (✅ = this chat's):",
        "es": "Asistentes (✅ = el de este chat):",
    },
    "assistant_line": {
        "en": "{mark} {name} · {model}{files}",
        "es": "{mark} {name} · {model}{files}",
    },
    "files_suffix": {
        "en": " · {count} knowledge file(s)",
        "es": " · {count} archivo(s) de conocimiento",
    },
    "default_suffix": {"en": " (default)", "es": " (predeterminado)"},
    "use_usage": {
        "en": "Usage: /use <assistant name>. See /assistants.",
        "es": "Uso: /use <nombre del asistente>. Mira /assistants.",
    },
    "use_done": {
        "en": "This chat now talks to {name}. I started a fresh conversation.",
        "es": "Este chat ahora habla con {name}. Empecé una conversación nueva.",
    },
    "use_group_admins": {
        "en": "In groups, only the group's admins can change the assistant.",
        "es": "En grupos, solo los administradores del grupo pueden cambiar el asistente.",
    },
    "no_such_assistant": {
        "en": 'There is no assistant called "{name}". See /assistants.',
        "es": 'No hay ningún asistente llamado "{name}". Mira /assistants.',
    },
    "ask_name": {
        "en": "Let's create an assistant. What's its name? (/cancel to stop)",
        "es": "Vamos a crear un asistente. ¿Cómo se llama? (/cancel para salir)",
    },
    "bad_name": {
        "en": 'Names have 1-40 characters, without "|" or line breaks. Try another one.',
        "es": 'Los nombres tienen de 1 a 40 caracteres, sin "|" ni saltos de línea. Prueba otro.',
    },
    "name_taken": {
        "en": 'There is already an assistant called "{name}". Choose another name.',
        "es": 'Ya hay un asistente llamado "{name}". Elige otro nombre.',
    },
    "ask_instructions": {
        "en": "Now its instructions: how should {name} behave? Send them as one message.",
        "es": "Ahora sus instrucciones: ¿cómo debe comportarse {name}? Envíalas en un mensaje.",
    },
    "bad_instructions": {
        "en": "Instructions need some text (up to {limit} characters). Try again.",
        "es": "Las instrucciones necesitan texto (hasta {limit} caracteres). Inténtalo de nuevo.",
    },
    "ask_model": {"en": "Which model should it use?", "es": "¿Qué modelo debe usar?"},
    "confirm_create": {
        "en": "Create this assistant?\n\nName: {name}\nModel: {model}\nInstructions: {instructions}",
        "es": "¿Crear este asistente?\n\nNombre: {name}\nModelo: {model}\nInstrucciones: {instructions}",
    },
    "btn_create": {"en": "✅ Create", "es": "✅ Crear"},
    "btn_cancel": {"en": "✖ Cancel", "es": "✖ Cancelar"},
    "btn_delete": {"en": "🗑 Yes, delete", "es": "🗑 Sí, borrar"},
    "btn_done": {"en": "✔ Done", "es": "✔ Listo"},
    "btn_default": {"en": "default", "es": "predeterminado"},
    "created": {
        "en": "Created {name} ({model}). Use it in a chat with /use {name}.",
        "es": "Creado {name} ({model}). Úsalo en un chat con /use {name}.",
    },
    "cancelled": {"en": "Cancelled. Nothing was changed.", "es": "Cancelado. No se cambió nada."},
    "nothing_to_cancel": {"en": "There's nothing to cancel.", "es": "No hay nada que cancelar."},
    "expired_button": {
        "en": "This button has expired. Start again with the command.",
        "es": "Este botón ha caducado. Empieza de nuevo con el comando.",
    },
    "edit_usage": {"en": "Usage: /editassistant <name>", "es": "Uso: /editassistant <nombre>"},
    "edit_menu": {
        "en": "Editing {name}\nModel: {model} · Tools: {tools} · Temperature: {temperature} · Reasoning: {reasoning}\nWhat do you want to change?",
        "es": "Editando {name}\nModelo: {model} · Herramientas: {tools} · Temperatura: {temperature} · Razonamiento: {reasoning}\n¿Qué quieres cambiar?",
    },
    "field_instructions": {"en": "Instructions", "es": "Instrucciones"},
    "field_vision_instructions": {"en": "Photo instructions", "es": "Instrucciones para fotos"},
    "field_model": {"en": "Model", "es": "Modelo"},
    "field_tools": {"en": "Tools", "es": "Herramientas"},
    "field_temperature": {"en": "Temperature", "es": "Temperatura"},
    "field_reasoning": {"en": "Reasoning", "es": "Razonamiento"},
    "ask_field_text": {
        "en": 'Send the new {field} for {name} (or "-" to clear it).',
        "es": 'Envía el nuevo valor de {field} para {name} (o "-" para quitarlo).',
    },
    "ask_temperature": {
        "en": 'Send a temperature between 0 and 2 for {name}, or "-" for the model\'s default.',
        "es": 'Envía una temperatura entre 0 y 2 para {name}, o "-" para la del modelo.',
    },
    "bad_temperature": {
        "en": "That's not a number between 0 and 2.",
        "es": "Eso no es un número entre 0 y 2.",
    },
    "ask_tools": {
        "en": "Tap tools to switch them on or off for {name}, then Done.",
        "es": "Toca las herramientas para activarlas o desactivarlas en {name} y luego Listo.",
    },
    "ask_reasoning": {
        "en": "Reasoning effort for {name}:",
        "es": "Esfuerzo de razonamiento para {name}:",
    },
    "saved": {"en": "Saved.", "es": "Guardado."},
    "edit_done": {"en": "Done editing {name}.", "es": "Edición de {name} terminada."},
    "cannot_delete_default": {
        "en": "The default assistant can't be deleted.",
        "es": "El asistente predeterminado no se puede borrar.",
    },
    "confirm_delete": {
        "en": "Delete {name}? Chats using it will go back to the default assistant.",
        "es": "¿Borrar {name}? Los chats que lo usan volverán al asistente predeterminado.",
    },
    "deleted": {"en": "Deleted {name}.", "es": "Borrado {name}."},
    "delete_usage": {
        "en": "Usage: /deleteassistant <name>",
        "es": "Uso: /deleteassistant <nombre>",
    },
    "knowledge_usage": {
        "en": "Send a document with the caption /knowledge <assistant name> to add it, or /knowledge <name> to list its files.",
        "es": "Envía un documento con el pie /knowledge <nombre del asistente> para añadirlo, o /knowledge <nombre> para ver sus archivos.",
    },
    "knowledge_added": {
        "en": 'Added "{file}" to {name}\'s knowledge ({status}). Its answers will search it.',
        "es": 'Añadido "{file}" al conocimiento de {name} ({status}). Sus respuestas lo consultarán.',
    },
    "knowledge_list": {"en": "{name} knows these files:", "es": "{name} conoce estos archivos:"},
    "knowledge_empty": {
        "en": "{name} has no knowledge files yet.",
        "es": "{name} todavía no tiene archivos de conocimiento.",
    },
    "knowledge_failed": {
        "en": "I couldn't add that file to OpenAI. Please try again later.",
        "es": "No pude añadir ese archivo a OpenAI. Inténtalo más tarde.",
    },
    "access_usage": {
        "en": "Usage: /{command} <numeric user id>",
        "es": "Uso: /{command} <id numérico del usuario>",
    },
    "allowed_user": {"en": "User {user} is allowed.", "es": "El usuario {user} tiene permiso."},
    "allowed_now_limited": {
        "en": "User {user} is allowed. Note: the bot now only answers its allow-list ({count} user(s)) and admins.",
        "es": "El usuario {user} tiene permiso. Ojo: ahora el bot solo responde a su lista ({count} usuario(s)) y a los admins.",
    },
    "blocked_user": {"en": "User {user} is blocked.", "es": "El usuario {user} está bloqueado."},
    "cannot_block_admin": {
        "en": "Admins can't be blocked.",
        "es": "No se puede bloquear a un admin.",
    },
    "stats": {
        "en": "Users: {users}\nChats: {chats}\nTokens: {input_tokens} in / {output_tokens} out\n\nMessages per day:\n{per_day}\n\nLabels:\n{labels}",
        "es": "Usuarios: {users}\nChats: {chats}\nTokens: {input_tokens} entrada / {output_tokens} salida\n\nMensajes por día:\n{per_day}\n\nEtiquetas:\n{labels}",
    },
    "none": {"en": "none", "es": "ninguno"},
    "private_chat": {"en": "a private chat", "es": "un chat privado"},
    "new_database_open": {
        "en": "⚠️ I started with a new, empty database ({path}). If I ran before, what the old one held is gone: the users added with /allow, the blocks, the assistants, the chats' settings and history. ALLOWED_USER_IDS is empty, so I now answer everyone: use /allow <user id> to limit me again.",
        "es": "⚠️ He arrancado con una base de datos nueva y vacía ({path}). Si ya funcionaba antes, lo que guardaba la anterior se ha perdido: los usuarios añadidos con /allow, los bloqueos, los asistentes, los ajustes y el historial de los chats. ALLOWED_USER_IDS está vacío, así que ahora respondo a todo el mundo: usa /allow <id del usuario> para limitarme de nuevo.",
    },
    "new_database_limited": {
        "en": "⚠️ I started with a new, empty database ({path}). If I ran before, what the old one held is gone: the users added with /allow, the blocks, the assistants, the chats' settings and history. I answer only ALLOWED_USER_IDS ({count} user(s)) and the admins: allow the others again with /allow <user id>, and block again whoever was blocked.",
        "es": "⚠️ He arrancado con una base de datos nueva y vacía ({path}). Si ya funcionaba antes, lo que guardaba la anterior se ha perdido: los usuarios añadidos con /allow, los bloqueos, los asistentes, los ajustes y el historial de los chats. Solo respondo a ALLOWED_USER_IDS ({count} usuario(s)) y a los admins: vuelve a permitir a los demás con /allow <id del usuario> y a bloquear a quien estuviera bloqueado.",
    },
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
