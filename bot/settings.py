"""All of shopbot's configuration: one pydantic-settings object, read once at start-up.

Environment variables carry the prefix SHOPBOT_ and nest with a double underscore
(`SHOPBOT_LLM__BACKEND=remote`); a `.env` file in the working directory is read too.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated, Any, Literal

from platformdirs import user_data_dir
from pydantic import BaseModel, Field, SecretStr, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from bot.errors import ConfigError

ENV_PREFIX = "SHOPBOT_"
NESTED_DELIMITER = "__"

DEFAULT_SYSTEM_PROMPT = (
    "You are the customer-service assistant of an online shop. Answer the customer politely and briefly."
)


def _http_url(value: str) -> str:
    if not value.startswith(("http://", "https://")):
        raise ValueError("must start with http:// or https://")
    return value


def _split_list(value: Any) -> Any:
    """Accept `a,b` as well as the JSON `["a", "b"]` for list settings given as text."""
    if isinstance(value, str):
        text = value.strip()
        if text.startswith("["):
            return json.loads(text)
        return [part.strip() for part in text.split(",") if part.strip()]
    return value


class HistorySettings(BaseModel):
    limit: int = Field(50, ge=2, le=10_000, description="messages kept per customer (oldest dropped)")
    ttl_days: float = Field(30, gt=0, description="days a silent customer's history is kept")


class EngineSettings(BaseModel):
    system_prompt: str = Field(DEFAULT_SYSTEM_PROMPT, min_length=1)
    max_message_chars: int = Field(2000, ge=1, le=100_000, description="longest shopper message accepted")
    rate_limit_per_minute: int = Field(20, ge=1, description="messages one customer may send per minute")
    dedup_ttl_s: int = Field(86_400, ge=60, description="how long a platform message id is remembered")
    canary: str | None = Field(
        None,
        min_length=8,
        description="a secret planted in the system prompt; a reply containing it is withheld. "
        "Unset: random per process",
    )
    handover_below_sentiment: float | None = Field(
        None,
        ge=-1,
        le=1,
        description="also hand over a message at or below this sentiment score (-1 .. 1). Unset: the fury head "
        "alone decides (sentiment alone handed over many calm complaints)",
    )
    handover_at_fury: float | None = Field(
        None,
        ge=0,
        le=1,
        description="a shopper message the fury head scores at or above this (0..1) goes to a person. "
        "Unset: the threshold calibrated when the heads were trained",
    )
    handover_after_unhelped: int = Field(
        3, ge=1, description="replies in a row that could not help before the conversation goes to a person"
    )
    turn_lease_s: float = Field(
        10, ge=1, description="a worker that holds a conversation's turn and stops refreshing it loses it after this"
    )


class LlmSettings(BaseModel):
    backend: Literal["local", "remote"] = "local"
    # local
    path: str = Field("", description="model folder or hub id; empty: the embedded default model")
    allow_download: bool = Field(False, description="let `path` name a hub id that is not cached yet")
    device: str = Field("cpu", pattern=r"^(cpu|cuda(:\d+)?|mps|auto)$")
    dtype: Literal["auto", "float32", "bfloat16", "float16"] = "auto"
    threads: int | None = Field(None, ge=1, description="torch CPU threads; default: torch's choice")
    max_batch_size: int = Field(64, ge=1, le=1024, description="conversations decoded in one forward pass")
    # remote
    url: str | None = Field(None, description="OpenAI-compatible base URL, e.g. http://vllm:8000/v1")
    api_key: SecretStr | None = None
    model_name: str = Field("default", description="the `model` field sent to the remote server")
    timeout_s: float = Field(60, gt=0, description="longest wait between two streamed chunks")
    connect_timeout_s: float = Field(5, gt=0)
    context_window: int | None = Field(None, ge=64, description="remote: tokens the served model accepts")
    writes_slots: bool = Field(
        False, description="remote: the served model is one `shopbot train --store` made, writing slot markers"
    )
    # generation
    max_new_tokens: int = Field(200, ge=1, le=8192)
    # Low: a model shown the facts' text invents amounts more often the hotter it samples.
    temperature: float = Field(0.3, ge=0, le=5, description="0 means greedy")
    top_p: float = Field(0.9, gt=0, le=1)
    repetition_penalty: float = Field(1.1, ge=1, le=3)
    stop: Annotated[list[str], NoDecode] = Field(default_factory=list, description="extra stop sequences")

    _split_stop = field_validator("stop", mode="before")(_split_list)

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        return _http_url(value).rstrip("/") if value is not None else value


class WebSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(8000, ge=0, le=65535)
    allowed_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="origins allowed to open the websocket; empty: only the server's own origin",
    )
    session_secret: SecretStr | None = Field(
        None, description="signs session tokens; default: a random secret kept in the data directory"
    )
    session_ttl_days: float = Field(30, gt=0)
    max_frame_bytes: int = Field(16_384, ge=256, le=1_048_576)
    history_on_connect: int = Field(50, ge=0, le=1000, description="messages sent back on reconnect")

    _split_origins = field_validator("allowed_origins", mode="before")(_split_list)

    @field_validator("allowed_origins")
    @classmethod
    def _origins(cls, value: list[str]) -> list[str]:
        for origin in value:
            if origin != "*" and not origin.startswith(("http://", "https://")):
                raise ValueError(f"{origin!r} is not an origin such as https://shop.example")
        return [origin.rstrip("/") for origin in value]


class TelegramSettings(BaseModel):
    token: SecretStr | None = Field(None, description="the bot's token from @BotFather; unset: no Telegram")
    api_url: str = Field("https://api.telegram.org", description="the Bot API server (a self-hosted one, a test fake)")
    mode: Literal["polling", "webhook"] = Field("polling", description="how updates arrive")
    webhook_path: str = Field("/telegram/webhook", pattern=r"^/[A-Za-z0-9/_.-]{0,200}$")
    webhook_secret: SecretStr | None = Field(
        None, description="sent by Telegram in X-Telegram-Bot-Api-Secret-Token; required in webhook mode"
    )
    messages_per_second: float = Field(30, gt=0, description="all sends of the bot together")
    chat_interval_s: float = Field(1.0, ge=0, description="least time between two sends to one chat")
    retries: int = Field(5, ge=0, le=20, description="retries of a send after a network error or a 5xx")

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return _http_url(value).rstrip("/")

    @field_validator("webhook_secret")
    @classmethod
    def _secret(cls, value: SecretStr | None) -> SecretStr | None:
        # Telegram's own rule for secret_token.
        if value is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", value.get_secret_value()):
            raise ValueError("must be 1-256 characters of A-Z, a-z, 0-9, _ and -")
        return value

    @model_validator(mode="after")
    def _webhook_has_secret(self) -> TelegramSettings:
        # Without it every update would be refused with 401: better said at start-up.
        if self.token is not None and self.mode == "webhook" and self.webhook_secret is None:
            raise ValueError("SHOPBOT_TELEGRAM__MODE=webhook needs SHOPBOT_TELEGRAM__WEBHOOK_SECRET")
        return self


class SlackSettings(BaseModel):
    bot_token: SecretStr | None = Field(None, description="the app's bot token (xoxb-...); unset: no Slack")
    app_token: SecretStr | None = Field(
        None, description="an app-level token (xapp-...) with connections:write: Socket Mode instead of HTTP events"
    )
    signing_secret: SecretStr | None = Field(
        None, description="checks every HTTP request from Slack; required unless Socket Mode is used"
    )
    api_url: str = Field("https://slack.com/api/", description="the Web API base URL (Enterprise, a test fake)")
    events_path: str = Field("/slack/events", pattern=r"^/[A-Za-z0-9/_.-]{0,200}$")
    team_id: str | None = Field(
        None, pattern=r"^[A-Z0-9]{1,32}$", description="the shop's workspace; requests from any other are refused"
    )
    staff_usergroup: str | None = Field(
        None, pattern=r"^S[A-Z0-9]{1,32}$", description="only members of this user group may use the app"
    )
    support_channel: str | None = Field(
        None, pattern=r"^[CG][A-Z0-9]{1,32}$", description="channel id hand-overs are posted to; unset: none posted"
    )
    note_prefix: str = Field("note:", min_length=1, description="a thread reply starting with it stays internal")
    channel_interval_s: float = Field(1.0, ge=0, description="least time between two posts to one Slack channel")
    retries: int = Field(3, ge=0, le=10, description="retries of a Web API call answered 429 (after Retry-After)")

    @field_validator("api_url")
    @classmethod
    def _api_url(cls, value: str) -> str:
        return _http_url(value).rstrip("/") + "/"  # slack_sdk joins method names onto it

    @model_validator(mode="after")
    def _can_verify(self) -> SlackSettings:
        # Without it every HTTP event would be refused with 401: better said at start-up.
        if self.bot_token is not None and self.app_token is None and self.signing_secret is None:
            raise ValueError("Slack over HTTP needs SHOPBOT_SLACK__SIGNING_SECRET (or SHOPBOT_SLACK__APP_TOKEN)")
        return self


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=NESTED_DELIMITER,
        env_file=".env",
        extra="ignore",
        validate_default=True,
    )

    redis_url: str | None = Field(None, description="redis://, rediss:// or unix:// URL; unset: embedded Redis")
    redis_prefix: str = Field("shopbot", pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    data_dir: Path = Field(default_factory=lambda: Path(user_data_dir("shopbot")))
    store_dir: Path | None = Field(None, description="the shop's store folder; unset: the demo shop")
    understanding_dir: Path | None = Field(
        None,
        description="the intent, sentiment and fury heads (shopbot train-understanding --out); unset: the shipped ones",
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"

    history: HistorySettings = HistorySettings()
    engine: EngineSettings = EngineSettings()
    llm: LlmSettings = LlmSettings()
    web: WebSettings = WebSettings()
    telegram: TelegramSettings = TelegramSettings()
    slack: SlackSettings = SlackSettings()

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must start with redis://, rediss:// or unix://")
        return value or None


def env_name(loc: tuple[int | str, ...]) -> str:
    """The environment variable behind a validation error's location."""
    return ENV_PREFIX + NESTED_DELIMITER.join(str(part) for part in loc).upper()


def load_settings(**overrides: Any) -> Settings:
    """Read the settings; a bad value becomes a ConfigError naming the variable and what is allowed."""
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            given = error.get("input")
            shown = "" if isinstance(given, dict) else f" (got {given!r})"
            lines.append(f"  {env_name(error['loc'])}: {error['msg']}{shown}")
        raise ConfigError("invalid settings:\n" + "\n".join(lines)) from None
