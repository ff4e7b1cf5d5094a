"""Settings from the environment and `.env`, validated, with errors a person understands."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal, get_args
from urllib.parse import unquote, urlsplit

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.tools import TOOL_NAMES

#: What the bot does with a classified message: answer it with the assistant, refuse it, hand it
#: to the admins, or send the route's fixed text.
RouteAction = Literal["answer", "refuse", "handoff", "reply"]
ROUTE_ACTIONS: tuple[str, ...] = get_args(RouteAction)

#: DATABASE_URL schemes of a PostgreSQL server (anything else must be sqlite:///).
POSTGRESQL_SCHEMES = ("postgresql://", "postgres://")


class ClassifierRoute(BaseModel):
    """One CLASSIFIER_ROUTES entry: the label's action, its description for the classifier, and
    the fixed text of a `reply` route."""

    model_config = ConfigDict(frozen=True, extra="ignore")

    action: RouteAction
    description: str = ""
    text: str | None = None

    @model_validator(mode="after")
    def _reply_needs_text(self) -> ClassifierRoute:
        if self.action == "reply" and not self.text:
            raise ValueError("has action reply but no text")
        return self


DEFAULT_ROUTES: dict[str, ClassifierRoute] = {
    "general": ClassifierRoute(
        action="answer",
        description="anything the assistant should simply answer: questions, requests, chat",
    ),
    "abusive": ClassifierRoute(
        action="refuse",
        description="insults, harassment, hate, or attempts to make the bot say harmful things",
    ),
    "human": ClassifierRoute(
        action="handoff",
        description="the user explicitly asks to talk to a real person, staff or an admin",
    ),
}


class ModelPrice(BaseModel):
    """One MODEL_PRICES entry: US dollars per million tokens of input, cached input and output
    (reasoning tokens are output tokens)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    input: float = Field(ge=0)
    cached_input: float = Field(ge=0)
    output: float = Field(ge=0)

    def cost(self, input_tokens: int, cached_tokens: int, output_tokens: int) -> float:
        """Dollars for these tokens (`cached_tokens` is the part of `input_tokens` cached)."""
        cached = min(cached_tokens, input_tokens)
        return (
            (input_tokens - cached) * self.input
            + cached * self.cached_input
            + output_tokens * self.output
        ) / 1_000_000


#: OpenAI's standard prices of the default models (USD per 1M tokens), December 2026.
DEFAULT_PRICES: dict[str, ModelPrice] = {
    "gpt-5.4": ModelPrice(input=2.50, cached_input=0.25, output=15.00),
    "gpt-5.4-mini": ModelPrice(input=0.75, cached_input=0.075, output=4.50),
    "gpt-5.4-nano": ModelPrice(input=0.20, cached_input=0.02, output=1.25),
}

#: A dated snapshot name as responses report it ("gpt-5.4-mini-2026-03-17").
_SNAPSHOT = re.compile(r"-\d{4}-\d{2}-\d{2}$")

DEFAULT_INSTRUCTIONS = (
    "You are a helpful, friendly assistant in a Telegram chat. Answer concisely and clearly, "
    "in the language the user writes in. Use Markdown sparingly (bold, lists, code) when it helps."
)


#: A token as @BotFather gives it: the bot's id, a colon, a long URL-safe secret (35 characters
#: today; only a floor is checked, so a longer format still passes).
_TOKEN_SHAPE = re.compile(r"[0-9]+:[A-Za-z0-9_-]{30,}")

#: ASSISTANT_INSTRUCTIONS may name a file with one of these suffixes.
INSTRUCTION_FILE_SUFFIXES = (".txt", ".md")


def _instructions_path(value: str) -> Path | None:
    """The file ASSISTANT_INSTRUCTIONS names, if it reads as a path rather than inline text."""
    text = value.strip()
    if "\n" in text or len(text) >= 400:
        return None
    path = Path(text).expanduser()
    return path if path.suffix in INSTRUCTION_FILE_SUFFIXES else None


def _split_ids(value: Any) -> Any:
    """Accept `1,2, 3` (the documented form), a JSON list, a single int, or nothing."""
    if value is None:
        return []
    if isinstance(value, int):
        return [value]
    if isinstance(value, str):
        text = value.strip()
        if not text:
            return []
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


#: Telegram's allowed characters of a webhook's secret_token (setWebhook).
_WEBHOOK_SECRET_SHAPE = re.compile(r"[A-Za-z0-9_-]{1,256}")


class Settings(BaseSettings):
    """Every setting of the bot; names are the environment variables, upper-cased."""

    model_config = SettingsConfigDict(
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
        case_sensitive=False,
    )

    # --- Telegram ---------------------------------------------------------------------------
    telegram_bot_token: SecretStr
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_base_file_url: str = "https://api.telegram.org/file/bot"
    #: Bot API calls per second across all chats (Telegram's free tier allows about 30).
    telegram_rate_limit_per_second: float = Field(default=30.0, gt=0)
    #: Messages per minute into one group (Telegram allows about 20).
    telegram_group_rate_limit_per_minute: float = Field(default=20.0, gt=0)
    #: Long-polling timeout for getUpdates, seconds.
    telegram_poll_timeout: int = Field(default=30, ge=0, le=50)
    #: Public HTTPS URL Telegram posts updates to; set: webhook mode instead of long polling.
    telegram_webhook_url: str | None = None
    #: Telegram sends it in X-Telegram-Bot-Api-Secret-Token; required in webhook mode.
    webhook_secret_token: SecretStr | None = None
    #: Where the webhook server (and /healthz, /metrics) listens in webhook mode.
    webhook_listen: str = "0.0.0.0"
    webhook_port: int = Field(default=8080, ge=0, le=65535)  # 0: any free port (tests)
    #: This replica calls setWebhook at start (false: another replica or the operator does).
    webhook_register: bool = True
    #: Polling mode: serve /healthz and /metrics on this port (unset: no HTTP server).
    metrics_port: int | None = Field(default=None, ge=0, le=65535)

    # --- OpenAI -----------------------------------------------------------------------------
    openai_api_key: SecretStr
    openai_base_url: str | None = None
    openai_timeout_seconds: float = Field(default=60.0, gt=0)
    openai_max_retries: int = Field(default=3, ge=0, le=10)
    #: How the requests of every message are sent: `lean` (plain JSON over aiohttp, less CPU)
    #: or `sdk` (the openai SDK's client); both retry and fail alike (bot/ai/protocol.py).
    openai_transport: Literal["lean", "sdk"] = "lean"
    #: The key of the salted hashes that stand for Telegram ids in OpenAI requests
    #: (`safety_identifier`, `prompt_cache_key`); empty: a secret generated in the database.
    safety_identifier_salt: SecretStr | None = None
    assistant_model: str = "gpt-5.4-mini"
    assistant_name: str = "Assistant"
    #: Instructions of the default assistant: inline text, or a path to a text file.
    assistant_instructions: str = DEFAULT_INSTRUCTIONS
    #: Models offered when an admin creates or edits an assistant (comma-separated).
    assistant_model_choices: Annotated[tuple[str, ...], NoDecode] = (
        "gpt-5.4-mini",
        "gpt-5.4",
        "gpt-5.4-nano",
    )
    #: Server-side compaction threshold (tokens): once what the model reads in a chat's
    #: conversation crosses it, OpenAI condenses the conversation into one compaction item
    #: (`context_management`), so input tokens per message stay bounded. 0 turns it off
    #: (`truncation: "auto"` then still drops the oldest items at the model's window).
    context_compact_tokens: int = Field(default=40_000, ge=0)
    #: Upper bound on an answer's output tokens (reasoning included), unset: the model's own.
    max_output_tokens: int | None = Field(default=None, ge=16)
    #: Tools of the default assistant (comma-separated names: current_time, weather,
    #: web_search, image_generation), set at every start; unset: whatever the admins chose in
    #: /editassistant.
    assistant_tools: Annotated[tuple[str, ...] | None, NoDecode] = None
    #: How much of the context window web search results may use: low, medium or high.
    web_search_context_size: Literal["low", "medium", "high"] = "medium"
    #: Approximate location for web search as JSON ({"country": "ES", "city": "Madrid",
    #: "region": ..., "timezone": "Europe/Madrid"}); unset: none is sent.
    web_search_location: Annotated[dict[str, str] | None, NoDecode] = None
    #: Quality of the images the image_generation tool draws: low, medium, high or auto.
    image_generation_quality: Literal["low", "medium", "high", "auto"] = "auto"
    #: Images one user may have drawn per UTC day (admins exempt); 0 = no limit.
    daily_image_limit: int = Field(default=10, ge=0)
    #: Rounds of function-tool calls one answer may take before the bot stops it.
    tool_max_turns: int = Field(default=4, ge=1, le=20)
    #: Seconds one tool call may take.
    tool_timeout_seconds: float = Field(default=10.0, gt=0)
    #: The keyless weather service (Open-Meteo) used by the `weather` tool.
    weather_geocoding_url: str = "https://geocoding-api.open-meteo.com/v1/search"
    weather_forecast_url: str = "https://api.open-meteo.com/v1/forecast"
    classifier_model: str = "gpt-5.4-nano"
    classifier_timeout_seconds: float = Field(default=4.0, gt=0)
    #: speculative: the answer starts with the classifier and shows only once the label says
    #: answer (else it is stopped and removed); sequential: the answer waits for the label.
    classifier_mode: Literal["speculative", "sequential"] = "speculative"
    #: Reasoning effort sent with classifier requests (e.g. "none", "minimal", "low"); empty: omit.
    classifier_reasoning_effort: str = ""
    #: Label -> {"action": answer|refuse|handoff|reply, "description": ..., "text": ...} as JSON.
    classifier_routes: Annotated[dict[str, ClassifierRoute], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_ROUTES)
    )

    #: Model that looks at photos (must accept image input).
    vision_model: str = "gpt-5.4-mini"
    #: Images whose longest side exceeds this many pixels are downscaled before sending.
    image_max_side: int = Field(default=2048, ge=256, le=8192)
    #: Vision detail level: low (cheapest), high, auto, or original.
    image_detail: Literal["low", "high", "auto", "original"] = "auto"
    #: Largest photo or file the bot downloads (Telegram lets bots download up to 20 MB).
    max_file_bytes: int = Field(default=20 * 1024 * 1024, ge=1024)
    #: After an admin's /knowledge upload, how long (seconds) the bot follows the file's
    #: indexing to tell the admin it is searchable or why it failed.
    knowledge_index_wait_seconds: float = Field(default=300.0, ge=0)
    #: A text file (txt, md, csv, json, code) longer than this many characters is refused
    #: with a message that says the limit (about 25k tokens at the default).
    max_document_chars: int = Field(default=100_000, ge=100)
    #: An album is complete when no new photo arrived for this long (seconds)...
    album_quiet_seconds: float = Field(default=0.8, gt=0)
    #: ...or at the latest after this long.
    album_max_wait_seconds: float = Field(default=4.0, gt=0)

    #: Model that transcribes voice notes, audio files and video notes.
    transcription_model: str = "gpt-4o-mini-transcribe"
    #: Longer audio (Telegram sends the duration) is refused before downloading.
    max_audio_seconds: int = Field(default=600, ge=1)
    #: Text-to-speech model and voice of the voice replies (/voice on).
    tts_model: str = "gpt-4o-mini-tts"
    tts_voice: str = "alloy"

    #: Model -> {"input", "cached_input", "output"} in USD per 1M tokens, as JSON, for /stats's
    #: estimated cost; merged over DEFAULT_PRICES (models without a price show tokens only).
    model_prices: Annotated[dict[str, ModelPrice], NoDecode] = Field(
        default_factory=lambda: dict(DEFAULT_PRICES)
    )

    # --- Access -----------------------------------------------------------------------------
    admin_user_ids: Annotated[frozenset[int], NoDecode] = frozenset()
    allowed_user_ids: Annotated[frozenset[int], NoDecode] = frozenset()

    # --- Storage, runtime -------------------------------------------------------------------
    database_url: str = "sqlite:///data/bot.sqlite3"
    log_level: str = "INFO"
    #: Chats answered at the same time (each chat still runs one update at a time).
    max_concurrent_chats: int = Field(default=1024, ge=1)
    #: Seconds between edits of a streamed answer in groups (Telegram allows ~1/s).
    stream_edit_interval_seconds: float = Field(default=1.0, ge=0.05)
    #: The typing indicator shows when no text has appeared after this many seconds.
    typing_delay_seconds: float = Field(default=0.8, ge=0)
    #: The first preview of a streamed answer waits this long, so an answer that completes
    #: sooner goes out as its final message alone. 0 (default): the first words show at once.
    stream_first_preview_delay_seconds: float = Field(default=0.0, ge=0, le=1)
    #: Private chats: an answer still streaming this long after its first text gets a message
    #: with a Stop button (groups have it on the streamed message itself).
    stop_button_after_seconds: float = Field(default=2.0, ge=0)
    #: Seconds between draft updates of a streamed answer in private chats.
    stream_draft_interval_seconds: float = Field(default=0.3, ge=0.05)
    #: Messages left unanswered by a crash are answered at start-up if younger than this (s).
    inbox_replay_max_age_seconds: float = Field(default=3600.0, ge=0)
    #: Several replicas: a message a replica takes after it waited longer than this (s) (its
    #: replica died, a backlog, a rolling restart) is answered with the delay note first.
    inbox_late_after_seconds: float = Field(default=60.0, ge=0)
    #: On SIGTERM, answers in progress get this long (s) to finish; the rest wait for next start.
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)
    #: Answered messages per user per minute (0 = no limit); admins are exempt.
    rate_limit_per_minute: int = Field(default=12, ge=0)
    #: Tokens per user per UTC day (0 = no limit); admins are exempt.
    daily_token_budget: int = Field(default=200_000, ge=0)
    #: Longest text (characters) sent to the model; longer messages get a short message.
    max_text_chars: int = Field(default=4096, ge=16)
    #: Exchanges shown by /history.
    history_limit: int = Field(default=10, ge=1, le=50)

    @field_validator("telegram_bot_token")
    @classmethod
    def _check_token(cls, value: SecretStr) -> SecretStr:
        token = value.get_secret_value().strip()
        if not token:
            raise PydanticCustomError("empty", "is empty")
        if not _TOKEN_SHAPE.fullmatch(token):
            # Never the value itself: it may be a real token pasted with a typo.
            raise ValueError(
                "it does not look like a token from @BotFather (digits, a colon, then a long "
                "string of letters, digits, '_' and '-'); copy it again from @BotFather"
            )
        return SecretStr(token)

    @field_validator("telegram_webhook_url")
    @classmethod
    def _check_webhook_url(cls, value: str | None) -> str | None:
        if value is None or not value.strip():
            return None  # empty: long polling
        url = value.strip()
        parts = urlsplit(url)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(
                "Telegram only posts to an https:// URL with a host, e.g. "
                "https://bot.example.org/hook"
            )
        return url

    @field_validator("webhook_secret_token")
    @classmethod
    def _check_webhook_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None
        secret = value.get_secret_value().strip()
        if not _WEBHOOK_SECRET_SHAPE.fullmatch(secret):
            # Never the value itself.
            raise ValueError("Telegram accepts 1-256 characters of A-Z, a-z, 0-9, _ and - only")
        return SecretStr(secret)

    @model_validator(mode="after")
    def _webhook_needs_secret(self) -> Settings:
        if self.telegram_webhook_url is not None and self.webhook_secret_token is None:
            raise ValueError(
                "WEBHOOK_SECRET_TOKEN is missing: webhook mode (TELEGRAM_WEBHOOK_URL is set) "
                "needs a secret of 1-256 characters A-Z, a-z, 0-9, _ and - "
                "(see .env.example)"
            )
        return self

    @field_validator("openai_api_key")
    @classmethod
    def _check_key(cls, value: SecretStr) -> SecretStr:
        key = value.get_secret_value().strip()
        if not key:
            raise PydanticCustomError("empty", "is empty")
        return SecretStr(key)

    @field_validator("safety_identifier_salt")
    @classmethod
    def _blank_salt_is_none(cls, value: SecretStr | None) -> SecretStr | None:
        if value is None or not value.get_secret_value().strip():
            return None  # empty: the database's own salt
        return SecretStr(value.get_secret_value().strip())

    @field_validator("assistant_instructions")
    @classmethod
    def _check_instructions(cls, value: str) -> str:
        path = _instructions_path(value)
        if path is None:
            return value
        if path.is_file():
            try:
                path.read_text(encoding="utf-8")
            except (OSError, UnicodeDecodeError) as exc:
                reason = exc.strerror if isinstance(exc, OSError) else "it is not UTF-8 text"
                raise ValueError(f"the file {path} cannot be read ({reason})") from None
            return value
        # One-line text that merely ends in ".md" stays inline; a bare name or a path is a file.
        text = value.strip()
        if " " in text and "/" not in text and "\\" not in text:
            return value
        raise ValueError(
            f"it names the file {text}, which does not exist or is not a file: create it, fix "
            "the path (relative paths start at the working directory), or give the text inline"
        )

    @field_validator("metrics_port", mode="before")
    @classmethod
    def _blank_port_is_none(cls, value: Any) -> Any:
        # `METRICS_PORT=` as .env.example has it (also as `docker run --env-file .env` passes it)
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("admin_user_ids", "allowed_user_ids", mode="before")
    @classmethod
    def _parse_ids(cls, value: Any) -> Any:
        return _split_ids(value)

    @field_validator("assistant_model_choices", mode="before")
    @classmethod
    def _parse_models(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("classifier_routes", mode="before")
    @classmethod
    def _parse_routes(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else dict(DEFAULT_ROUTES)
        return value

    @field_validator("assistant_tools", mode="before")
    @classmethod
    def _parse_tools(cls, value: Any) -> Any:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("assistant_tools")
    @classmethod
    def _check_tools(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        unknown = [name for name in value or () if name not in TOOL_NAMES]
        if unknown:
            raise ValueError(
                f"unknown tool(s) {', '.join(unknown)}; the tools are {', '.join(TOOL_NAMES)}"
            )
        return value

    @field_validator("web_search_location", mode="before")
    @classmethod
    def _parse_location(cls, value: Any) -> Any:
        if isinstance(value, str):
            return json.loads(value) if value.strip() else None
        return value

    @field_validator("web_search_location")
    @classmethod
    def _check_location(cls, value: dict[str, str] | None) -> dict[str, str] | None:
        keys = {"country", "region", "city", "timezone"}
        unknown = sorted(set(value or {}) - keys)
        if unknown:
            raise ValueError(f"unknown key(s) {', '.join(unknown)}; use {', '.join(sorted(keys))}")
        return value or None

    @field_validator("model_prices", mode="before")
    @classmethod
    def _parse_prices(cls, value: Any) -> Any:
        if isinstance(value, str):
            value = json.loads(value) if value.strip() else {}
        if isinstance(value, dict):
            # [input, cached input, output] is accepted as a shorter spelling
            given = {
                model: dict(zip(("input", "cached_input", "output"), price, strict=True))
                if isinstance(price, list) and len(price) == 3
                else price
                for model, price in value.items()
            }
            return {**DEFAULT_PRICES, **given}
        return value

    @field_validator("log_level")
    @classmethod
    def _check_level(cls, value: str) -> str:
        level = value.strip().upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR, CRITICAL")
        return level

    @field_validator("database_url")
    @classmethod
    def _check_db(cls, value: str) -> str:
        if value.startswith(POSTGRESQL_SCHEMES):
            parts = urlsplit(value)
            try:
                parts.port  # noqa: B018 (raises ValueError when it is not a number)
            except ValueError:
                raise ValueError("the port of the postgresql:// URL is not a number") from None
            if not parts.hostname or parts.path.strip("/") == "":
                raise ValueError(
                    "a PostgreSQL URL needs a host and a database: "
                    "postgresql://user:password@host:5432/dbname"
                )
            return value
        if not value.startswith("sqlite:///"):
            raise ValueError(
                "use sqlite:///path (e.g. sqlite:///data/bot.sqlite3) or "
                "postgresql://user:password@host:port/dbname"
            )
        return value

    @field_validator("classifier_routes")
    @classmethod
    def _check_routes(cls, value: dict[str, ClassifierRoute]) -> dict[str, ClassifierRoute]:
        if not value:
            raise ValueError("needs at least one label")
        return value

    # --- derived ----------------------------------------------------------------------------
    @property
    def webhook_mode(self) -> bool:
        """Updates arrive by webhook (TELEGRAM_WEBHOOK_URL set) rather than by long polling."""
        return self.telegram_webhook_url is not None

    @property
    def webhook_path(self) -> str:
        """The path Telegram's requests arrive at (a reverse proxy keeps it): `/hook`."""
        return urlsplit(self.telegram_webhook_url or "").path or "/"

    @property
    def uses_postgresql(self) -> bool:
        return self.database_url.startswith(POSTGRESQL_SCHEMES)

    @property
    def database_path(self) -> Path:
        """The SQLite file (SQLite only: `database` is what to open on either engine)."""
        if self.uses_postgresql:
            raise ValueError("DATABASE_URL is a PostgreSQL URL, not a file")
        return Path(self.database_url.removeprefix("sqlite:///"))

    @property
    def database(self) -> Path | str:
        """What Storage.open takes: the SQLite file, or the PostgreSQL URL (with its password)."""
        return self.database_url if self.uses_postgresql else self.database_path

    @property
    def database_shown(self) -> str:
        """The database for logs and messages: the file, or the URL without its password."""
        if not self.uses_postgresql:
            return str(self.database_path)
        parts = urlsplit(self.database_url)
        user = f"{parts.username}@" if parts.username else ""
        port = f":{parts.port}" if parts.port else ""
        return f"{parts.scheme}://{user}{parts.hostname}{port}{parts.path}"

    @property
    def default_label(self) -> str:
        """The label used when classification fails: the first label whose action is answer."""
        for label, route in self.classifier_routes.items():
            if route.action == "answer":
                return label
        return next(iter(self.classifier_routes))

    def price_of(self, model: str) -> ModelPrice | None:
        """The price of `model` (a dated snapshot is priced as its model), if MODEL_PRICES has
        it."""
        return self.model_prices.get(model) or self.model_prices.get(_SNAPSHOT.sub("", model))

    def default_instructions(self) -> str:
        """ASSISTANT_INSTRUCTIONS as text: read from the file when it names one."""
        value = self.assistant_instructions.strip()
        path = _instructions_path(value)
        if path is not None and path.is_file():
            return path.read_text(encoding="utf-8").strip()
        return value

    def secrets(self) -> list[str]:
        """Values that must never reach a log line or a chat."""
        values = [
            self.telegram_bot_token.get_secret_value(),
            self.openai_api_key.get_secret_value(),
        ]
        if self.safety_identifier_salt is not None:
            values.append(self.safety_identifier_salt.get_secret_value())
        if self.webhook_secret_token is not None:
            values.append(self.webhook_secret_token.get_secret_value())
        if self.uses_postgresql:
            password = urlsplit(self.database_url).password
            if password:
                values += {password, unquote(password)}  # as written in the URL, and decoded
        return values


class ConfigError(Exception):
    """A configuration problem, already phrased for the person running the bot."""


_HINTS = {
    "telegram_bot_token": "get one from @BotFather, then set TELEGRAM_BOT_TOKEN in .env or the env",
    "openai_api_key": "create one at platform.openai.com, then set OPENAI_API_KEY in .env or env",
}


def load_settings(**overrides: Any) -> Settings:
    """Build Settings, turning validation errors into one readable ConfigError."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        error = exc.errors()[0]
        if not error["loc"]:  # a check across settings, phrased in full by its validator
            message = str(error["msg"]).removeprefix("Value error, ")
            raise ConfigError(f"{message}.") from None
        field = str(error["loc"][0]) if error["loc"] else "settings"
        name = field.upper()
        inner = error["loc"][1:]
        if inner and isinstance(inner[0], str):  # in a JSON object: CLASSIFIER_ROUTES['x'].action
            name += f"[{inner[0]!r}]" + "".join(f".{part}" for part in inner[1:])
        if error["type"] in {"missing", "empty"}:
            hint = _HINTS.get(field, f"set {name} in .env or the environment")
            state = "missing" if error["type"] == "missing" else "empty"
            raise ConfigError(f"{name} is {state}: {hint} (see .env.example).") from None
        message = str(error["msg"]).removeprefix("Value error, ")
        raise ConfigError(f"{name} is invalid: {message}.") from None
    except json.JSONDecodeError as exc:
        raise ConfigError(f"A JSON setting is invalid: {exc}.") from None
