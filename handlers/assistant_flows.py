"""Guided /newassistant and /editassistant for admins (python-telegram-bot ConversationHandler).

Every step re-checks that the sender is an admin: buttons and replies are trusted no more than
the command that started the flow (commands and buttons in the gate, handlers/gate.py; typed
replies here). A button's data is checked against the buttons the step
offers (handlers/buttons.py): forged or stale presses get a short pop-up and change nothing.
/cancel leaves at any step.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from typing import Any, TypeVar, cast

from telegram import (
    CallbackQuery,
    ForceReply,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    Update,
)
from telegram.constants import ChatType
from telegram.ext import (
    BaseHandler,
    CallbackQueryHandler,
    CommandHandler,
    ConversationHandler,
    MessageHandler,
    filters,
)
from telegram.warnings import PTBUserWarning

from bot.assistant_admin import INSTRUCTIONS_MAX, valid_instructions, valid_name
from bot.context import BotApplication, BotContext
from bot.delivery import send_plain, set_buttons, show_in_place
from bot.i18n import t
from handlers.buttons import BadButton, button, choice
from handlers.common import destination_of, ensure_admin, lang_of
from storage import Assistant, AssistantChanges, NameTaken

V = TypeVar("V")

NAME, INSTRUCTIONS, MODEL, CONFIRM = range(4)
MENU, VALUE, EDIT_MODEL, TOOLS, REASONING = range(10, 15)
END = ConversationHandler.END
REASONING_LEVELS = ("none", "minimal", "low", "medium", "high")
FIELDS = ("instructions", "vision_instructions", "model", "tools", "temperature", "reasoning")
TEXT = filters.TEXT & ~filters.COMMAND
FLOWS = ("new", "edit")


def _flow(context: BotContext, which: str) -> dict[str, Any]:
    """What the admin's `new` (creation) or `edit` flow has gathered so far; the two are kept
    apart, so starting one does not pull the ground from under the other's buttons."""
    assert context.user_data is not None
    flow: dict[str, Any] = context.user_data.setdefault(f"flow_{which}", {})
    return flow


async def _flow_press(
    update: Update, context: BotContext, options: Mapping[str, V]
) -> tuple[CallbackQuery, V]:
    """A flow's button (the gate lets only admins' presses through), its data one of `options`
    (BadButton otherwise)."""
    query = update.callback_query
    assert query is not None
    value = choice(query.data, options)
    if update.effective_message is None:  # too old to be shown: nowhere to continue the flow
        raise BadButton(query.data, END)
    return query, value


async def _ask(update: Update, context: BotContext, text: str, markup: Any = None) -> None:
    """Prompt the admin; in groups a ForceReply makes their answer reach the bot."""
    message = update.effective_message
    assert message is not None
    if markup is None and message.chat.type != ChatType.PRIVATE:
        markup = ForceReply(selective=True)
    await context.bot.send_message(
        message.chat.id,
        text,
        message_thread_id=destination_of(message).thread_id,
        reply_markup=markup,
    )


def _buttons(rows: list[list[tuple[str, str]]]) -> InlineKeyboardMarkup:
    return InlineKeyboardMarkup(
        [[InlineKeyboardButton(label, callback_data=data) for label, data in row] for row in rows]
    )


# --- /newassistant -------------------------------------------------------------------------


async def new_start(update: Update, context: BotContext) -> int:
    """`/newassistant` starts the guided flow; `/newassistant Name | instructions` creates it."""
    lang = lang_of(update)
    _flow(context, "new").clear()
    line = " ".join(context.args or [])
    if "|" in line:
        name, _, instructions = line.partition("|")
        await _create(update, context, name.strip(), instructions.strip(), None)
        return END
    if line.strip():
        return await _take_name(update, context, line.strip())
    await _ask(update, context, t(lang, "ask_name"))
    return NAME


async def _typed_reply(update: Update, context: BotContext) -> str | None:
    """The text an admin typed at a flow's prompt; None (flow over) for anyone else."""
    if not await ensure_admin(update, context):
        return None
    message = update.effective_message
    assert message is not None and message.text is not None  # the state's filter is TEXT
    return message.text


async def new_name(update: Update, context: BotContext) -> int:
    text = await _typed_reply(update, context)
    if text is None:
        return END
    return await _take_name(update, context, text.strip())


async def _take_name(update: Update, context: BotContext, name: str) -> int:
    lang = lang_of(update)
    if not valid_name(name):
        await _ask(update, context, t(lang, "bad_name"))
        return NAME
    if await context.admin.find(name) is not None:
        await _ask(update, context, t(lang, "name_taken", name=name))
        return NAME
    _flow(context, "new")["name"] = name
    await _ask(update, context, t(lang, "ask_instructions", name=name))
    return INSTRUCTIONS


async def new_instructions(update: Update, context: BotContext) -> int:
    text = await _typed_reply(update, context)
    if text is None:
        return END
    lang = lang_of(update)
    if not valid_instructions(text):
        await _ask(update, context, t(lang, "bad_instructions", limit=INSTRUCTIONS_MAX))
        return INSTRUCTIONS
    _flow(context, "new")["instructions"] = text.strip()
    await _ask(update, context, t(lang, "ask_model"), _model_buttons(context, "na:model"))
    return MODEL


def _model_options(context: BotContext, prefix: str) -> dict[str, str]:
    """Button data -> model, one button per configured choice."""
    choices = context.settings.assistant_model_choices
    return {f"{prefix}:{i}": model for i, model in enumerate(choices)}


def _model_buttons(context: BotContext, prefix: str) -> InlineKeyboardMarkup:
    return _buttons([[(model, data)] for data, model in _model_options(context, prefix).items()])


@button
async def new_model(update: Update, context: BotContext) -> int:
    pressed = await _flow_press(update, context, _model_options(context, "na:model"))
    query, model = pressed
    flow, lang = _flow(context, "new"), lang_of(update)
    if "name" not in flow or "instructions" not in flow:
        raise BadButton(query.data, END)
    await query.answer()
    flow["model"] = model
    text = t(
        lang,
        "confirm_create",
        name=flow["name"],
        model=flow["model"],
        instructions=flow["instructions"][:500],
    )
    keyboard = _buttons([[(t(lang, "btn_create"), "na:ok"), (t(lang, "btn_cancel"), "na:cancel")]])
    await show_in_place(context.bot, query, text, keyboard)
    return CONFIRM


@button
async def new_confirm(update: Update, context: BotContext) -> int:
    pressed = await _flow_press(update, context, {"na:ok": True, "na:cancel": False})
    query, confirmed = pressed
    flow = _flow(context, "new")
    if not {"name", "instructions", "model"} <= flow.keys():
        raise BadButton(query.data, END)
    await query.answer()
    if not confirmed:
        await show_in_place(context.bot, query, t(lang_of(update), "cancelled"))
    else:
        await set_buttons(context.bot, query, None)
        await _create(update, context, flow["name"], flow["instructions"], flow["model"])
    flow.clear()
    return END


async def _create(
    update: Update, context: BotContext, name: str, instructions: str, model: str | None
) -> None:
    message, user = update.effective_message, update.effective_user
    assert message is not None and user is not None
    lang, dest = lang_of(update), destination_of(message)
    if not valid_name(name):
        await send_plain(context.bot, dest, t(lang, "bad_name"))
        return
    if not valid_instructions(instructions):
        await send_plain(context.bot, dest, t(lang, "bad_instructions", limit=INSTRUCTIONS_MAX))
        return
    chosen = model or context.settings.assistant_model
    try:
        created = await context.admin.create_assistant(user.id, name, instructions, chosen)
    except NameTaken:
        await send_plain(context.bot, dest, t(lang, "name_taken", name=name))
        return
    await send_plain(context.bot, dest, t(lang, "created", name=created.name, model=created.model))


# --- /editassistant ------------------------------------------------------------------------


async def edit_start(update: Update, context: BotContext) -> int:
    """`/editassistant Name`: a menu of what to change."""
    message = update.effective_message
    assert message is not None
    lang, name = lang_of(update), " ".join(context.args or []).strip()
    if not name:
        await send_plain(context.bot, destination_of(message), t(lang, "edit_usage"))
        return END
    assistant = await context.admin.find(name)
    if assistant is None:
        await send_plain(
            context.bot, destination_of(message), t(lang, "no_such_assistant", name=name)
        )
        return END
    _flow(context, "edit").clear()
    _flow(context, "edit")["edit_id"] = assistant.id
    await _ask(update, context, *_menu(lang, assistant))
    return MENU


def _menu(lang: str, assistant: Assistant) -> tuple[str, InlineKeyboardMarkup]:
    rows = [[(t(lang, f"field_{f}"), f"ea:f:{f}")] for f in FIELDS]
    rows.append([(t(lang, "btn_done"), "ea:done")])
    none = t(lang, "none")
    text = t(
        lang,
        "edit_menu",
        name=assistant.name,
        model=assistant.model,
        tools=", ".join(assistant.tools) or none,
        temperature=none if assistant.temperature is None else assistant.temperature,
        reasoning=assistant.reasoning_effort or none,
    )
    return text, _buttons(rows)


async def _editing(update: Update, context: BotContext) -> Assistant | None:
    assistant_id = _flow(context, "edit").get("edit_id")
    assistant = await context.admin.get(assistant_id) if assistant_id else None
    if assistant is None and update.effective_message is not None:
        await send_plain(
            context.bot,
            destination_of(update.effective_message),
            t(lang_of(update), "expired_button"),
        )
    return assistant


async def _pressed(
    update: Update, context: BotContext, options: Mapping[str, V]
) -> tuple[CallbackQuery, Assistant, int, V]:
    """An edit-flow button (see _flow_press), and the assistant being edited (a press for one
    that is gone is refused and ends the flow)."""
    query, value = await _flow_press(update, context, options)
    user = update.effective_user
    assistant_id = _flow(context, "edit").get("edit_id")
    assistant = await context.admin.get(assistant_id) if assistant_id else None
    if assistant is None or user is None:
        raise BadButton(query.data, END)
    await query.answer()
    return query, assistant, user.id, value


@button
async def edit_menu(update: Update, context: BotContext) -> int:
    options = {"ea:done": "", **{f"ea:f:{field}": field for field in FIELDS}}
    pressed = await _pressed(update, context, options)
    query, assistant, _, field = pressed
    lang = lang_of(update)
    if not field:
        await show_in_place(context.bot, query, t(lang, "edit_done", name=assistant.name))
        _flow(context, "edit").clear()
        return END
    _flow(context, "edit")["field"] = field
    if field == "model":
        await show_in_place(
            context.bot, query, t(lang, "ask_model"), _model_buttons(context, "ea:model")
        )
        return EDIT_MODEL
    if field == "tools":
        await show_in_place(
            context.bot,
            query,
            t(lang, "ask_tools", name=assistant.name),
            _tool_buttons(context, assistant),
        )
        return TOOLS
    if field == "reasoning":
        levels = _reasoning_options().items()
        rows = [[(level or t(lang, "btn_default"), data)] for data, level in levels]
        await show_in_place(
            context.bot, query, t(lang, "ask_reasoning", name=assistant.name), _buttons(rows)
        )
        return REASONING
    prompt = "ask_temperature" if field == "temperature" else "ask_field_text"
    await set_buttons(context.bot, query, None)
    await _ask(
        update, context, t(lang, prompt, name=assistant.name, field=t(lang, f"field_{field}"))
    )
    return VALUE


def _tool_buttons(context: BotContext, assistant: Assistant) -> InlineKeyboardMarkup:
    rows = [
        [(("✅ " if name in assistant.tools else "⬜ ") + name, f"ea:tool:{name}")]
        for name in context.admin.tool_names()
    ]
    rows.append([(t("en", "btn_done"), "ea:tools:done")])
    return _buttons(rows)


async def edit_value(update: Update, context: BotContext) -> int:
    """A typed value: instructions, photo instructions or temperature."""
    typed = await _typed_reply(update, context)
    if typed is None:
        return END
    assistant, lang = await _editing(update, context), lang_of(update)
    if assistant is None or update.effective_user is None:
        return END
    field, text = _flow(context, "edit").get("field"), typed.strip()
    value: object
    if field == "temperature":
        try:
            value = None if text == "-" else float(text.replace(",", "."))
        except ValueError:
            value = "not a number"
        if value is not None and not (isinstance(value, float) and 0 <= value <= 2):
            await _ask(update, context, t(lang, "bad_temperature"))
            return VALUE
    elif field == "instructions":
        if not valid_instructions(text) or text == "-":
            await _ask(update, context, t(lang, "bad_instructions", limit=INSTRUCTIONS_MAX))
            return VALUE
        value = text
    else:
        value = None if text == "-" else text[:INSTRUCTIONS_MAX]
    if field == "temperature":
        changes = AssistantChanges(temperature=cast(float | None, value))
    elif field == "instructions":
        changes = AssistantChanges(instructions=str(value))
    else:
        changes = AssistantChanges(vision_instructions=cast(str | None, value))
    updated = await context.admin.update_assistant(update.effective_user.id, assistant, changes)
    return await _back_to_menu(update, context, updated, update.effective_message)


async def _back_to_menu(
    update: Update, context: BotContext, assistant: Assistant, message: Message | None
) -> int:
    lang = lang_of(update)
    if message is not None:
        await send_plain(context.bot, destination_of(message), t(lang, "saved"))
    await _ask(update, context, *_menu(lang, assistant))
    return MENU


@button
async def edit_model(update: Update, context: BotContext) -> int:
    pressed = await _pressed(update, context, _model_options(context, "ea:model"))
    query, assistant, admin_id, model = pressed
    updated = await context.admin.update_assistant(
        admin_id, assistant, AssistantChanges(model=model)
    )
    text, keyboard = _menu(lang_of(update), updated)
    await show_in_place(context.bot, query, text, keyboard)
    return MENU


@button
async def edit_tools(update: Update, context: BotContext) -> int:
    options = {"ea:tools:done": "", **{f"ea:tool:{n}": n for n in context.admin.tool_names()}}
    pressed = await _pressed(update, context, options)
    query, assistant, admin_id, name = pressed
    if not name:
        text, keyboard = _menu(lang_of(update), assistant)
        await show_in_place(context.bot, query, text, keyboard)
        return MENU
    tools = (
        tuple(x for x in assistant.tools if x != name)
        if name in assistant.tools
        else (*assistant.tools, name)
    )
    updated = await context.admin.update_assistant(
        admin_id, assistant, AssistantChanges(tools=tools)
    )
    await set_buttons(context.bot, query, _tool_buttons(context, updated))
    return TOOLS


def _reasoning_options() -> dict[str, str | None]:
    """Button data -> reasoning effort; `-` is the model's default (none sent)."""
    return {**{f"ea:reason:{level}": level for level in REASONING_LEVELS}, "ea:reason:-": None}


@button
async def edit_reasoning(update: Update, context: BotContext) -> int:
    pressed = await _pressed(update, context, _reasoning_options())
    query, assistant, admin_id, value = pressed
    updated = await context.admin.update_assistant(
        admin_id, assistant, AssistantChanges(reasoning_effort=value)
    )
    text, keyboard = _menu(lang_of(update), updated)
    await show_in_place(context.bot, query, text, keyboard)
    return MENU


async def cancel(update: Update, context: BotContext) -> int:
    """/cancel: leave the flow; nothing more changes."""
    for which in FLOWS:
        _flow(context, which).clear()
    if update.effective_message is not None:
        await send_plain(
            context.bot, destination_of(update.effective_message), t(lang_of(update), "cancelled")
        )
    return END


def register(app: BotApplication) -> None:
    # The flows mix typed replies and buttons, so they are tracked per chat and user, not per
    # message (PTB warns about exactly that choice).
    warnings.filterwarnings("ignore", message=".*per_message=False.*", category=PTBUserWarning)
    fallbacks: list[BaseHandler[Update, BotContext, object]] = [CommandHandler("cancel", cancel)]
    app.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("newassistant", new_start)],
            states={
                NAME: [MessageHandler(TEXT, new_name)],
                INSTRUCTIONS: [MessageHandler(TEXT, new_instructions)],
                MODEL: [CallbackQueryHandler(new_model, pattern=r"^na:model:\d+$")],
                CONFIRM: [CallbackQueryHandler(new_confirm, pattern=r"^na:(ok|cancel)$")],
            },
            fallbacks=fallbacks,
            allow_reentry=True,
            name="newassistant",
        )
    )
    app.add_handler(
        ConversationHandler(
            entry_points=[CommandHandler("editassistant", edit_start)],
            states={
                MENU: [CallbackQueryHandler(edit_menu, pattern=r"^ea:(f:\w+|done)$")],
                VALUE: [MessageHandler(TEXT, edit_value)],
                EDIT_MODEL: [CallbackQueryHandler(edit_model, pattern=r"^ea:model:\d+$")],
                TOOLS: [CallbackQueryHandler(edit_tools, pattern=r"^ea:(tool:\w+|tools:done)$")],
                REASONING: [CallbackQueryHandler(edit_reasoning, pattern=r"^ea:reason:[\w-]+$")],
            },
            fallbacks=fallbacks,
            allow_reentry=True,
            name="editassistant",
        )
    )


def register_cancel(app: BotApplication) -> None:
    """/cancel outside any flow still answers."""

    async def nothing_to_cancel(update: Update, context: BotContext) -> None:
        if update.effective_message is not None:
            await send_plain(
                context.bot,
                destination_of(update.effective_message),
                t(lang_of(update), "nothing_to_cancel"),
            )

    app.add_handler(CommandHandler("cancel", nothing_to_cancel))
