"""/allow, /block and /stats for the bot's admins."""

from __future__ import annotations

from telegram import Update
from telegram.ext import CommandHandler

from bot.config import Settings
from bot.context import BotApplication, BotContext
from bot.delivery import send_plain
from bot.i18n import t
from handlers.common import destination_of, lang_of
from storage import Stats
from storage.sql import int64_of


async def on_access(update: Update, context: BotContext) -> None:
    """/allow <id> or /block <id>: runtime rules on top of ALLOWED_USER_IDS."""
    message, user = update.effective_message, update.effective_user
    if message is None or user is None:
        return
    access, lang, dest = context.access, lang_of(update), destination_of(message)
    command = (message.text or "/allow").split()[0].lstrip("/").split("@")[0]
    args = context.args or []
    target = args[0].lstrip("@") if len(args) == 1 else ""
    user_id = int64_of(target)
    if user_id is None:
        await send_plain(context.bot, dest, t(lang, "access_usage", command=command))
        return
    if command == "block":
        if access.is_admin(user_id):
            await send_plain(context.bot, dest, t(lang, "cannot_block_admin"))
            return
        await context.admin.set_access(user.id, user_id, "block")
        await send_plain(context.bot, dest, t(lang, "blocked_user", user=user_id))
        return
    was_open = not access.has_allow_list()
    await context.admin.set_access(user.id, user_id, "allow")
    if was_open:
        count = access.allowed_count()
        await send_plain(
            context.bot, dest, t(lang, "allowed_now_limited", user=user_id, count=count)
        )
    else:
        await send_plain(context.bot, dest, t(lang, "allowed_user", user=user_id))


def _dollars(amount: float) -> str:
    return f"${amount:,.2f}" if amount >= 1 else f"${amount:.4f}"


def _model_lines(lang: str, stats: Stats, settings: Settings) -> tuple[str, str]:
    """One line per model (tokens, and the estimated cost where MODEL_PRICES prices it), and the
    total estimated cost (saying so when some models have no price)."""
    lines, total, unpriced = [], 0.0, False
    for m in stats.by_model:
        price = settings.price_of(m.model) if m.model else None
        cost = price.cost(m.input_tokens, m.cached_tokens, m.output_tokens) if price else None
        line = t(
            lang,
            "stats_model",
            model=m.model or t(lang, "unknown_model"),
            input=f"{m.input_tokens:,}",
            cached=f"{m.cached_tokens:,}",
            output=f"{m.output_tokens:,}",
        )
        if cost is None:
            unpriced = True
        else:
            total += cost
            line += f" ≈ {_dollars(cost)}"
        lines.append(line)
    estimate = _dollars(total) + (t(lang, "stats_cost_partial") if unpriced else "")
    return "\n".join(lines) or t(lang, "none"), estimate


async def on_stats(update: Update, context: BotContext) -> None:
    """Users, chats, messages per day, classifier labels, tokens by model and their cost."""
    message = update.effective_message
    if message is None:
        return
    lang = lang_of(update)
    stats = await context.admin.stats()
    none = t(lang, "none")
    models, cost = _model_lines(lang, stats, context.settings)
    text = t(
        lang,
        "stats",
        users=stats.users,
        chats=stats.chats,
        input_tokens=f"{stats.input_tokens:,}",
        cached_tokens=f"{stats.cached_tokens:,}",
        output_tokens=f"{stats.output_tokens:,}",
        cost=cost,
        models=models,
        per_day="\n".join(f"{day}: {n}" for day, n in stats.messages_per_day) or none,
        labels="\n".join(f"{label}: {n}" for label, n in stats.labels) or none,
    )
    await send_plain(context.bot, destination_of(message), text)


def register(app: BotApplication) -> None:
    app.add_handler(CommandHandler(["allow", "block"], on_access))
    app.add_handler(CommandHandler("stats", on_stats))
