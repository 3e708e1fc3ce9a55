"""Pydantic models at the engine's boundary: what adapters hand in, what the engine hands back,
and the history records kept in Redis."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Channel = Literal["web", "telegram", "slack", "cli"]
Role = Literal["user", "assistant", "staff"]


def utcnow() -> datetime:
    return datetime.now(UTC)


class Address(BaseModel):
    """Where to answer: a chat id, a Slack channel and thread, a websocket session."""

    model_config = ConfigDict(frozen=True)

    channel: Channel
    chat_id: str = Field(min_length=1, max_length=256)
    thread_id: str | None = Field(None, max_length=256)


class Inbound(BaseModel):
    """One message from a shopper (or staff member), as an adapter received it."""

    model_config = ConfigDict(frozen=True)

    channel: Channel
    user_id: str = Field(min_length=1, max_length=256, description="the platform's user id")
    address: Address
    message_id: str = Field(min_length=1, max_length=256, description="the platform's id, for de-duplication")
    text: str
    timestamp: datetime = Field(default_factory=utcnow)
    display_name: str | None = Field(None, max_length=256)
    locale: str | None = Field(None, max_length=35)
    # staff: a member of the shop's team (Slack), answered with lookups a shopper may not make.
    persona: Persona = "shopper"


class QuickReply(BaseModel):
    """A button: `label` is shown, `text` is sent as the shopper's next message when pressed."""

    label: str
    text: str


class Source(BaseModel):
    """Where a fact in a reply came from (a policy heading, a product page)."""

    title: str
    ref: str


# corrected: the model's reply stated something the facts do not, and the safe answer was sent.
# refused: the message read as an attempt on the instructions, or the reply repeated them.
# with_staff: a person from the shop has the conversation; the assistant said nothing.
Flag = Literal[
    "command",
    "fallback",
    "reset",
    "forgotten",
    "linked",
    "handed_over",
    "repeat",
    "corrected",
    "refused",
    "with_staff",
    # What kind of answer it was (bot.knowledge.Outcome): an honest "I don't know", "we don't
    # sell that", a friendly word, a question from another domain.
    "declined",
    "not_sold",
    "small_talk",
    "out_of_scope",
]
HandOverReason = Literal["asked_for_person", "negative_sentiment", "not_helped"]
# Who answers a conversation: the assistant (no hand-over, or handed back), the assistant while
# a person is asked for (waiting), a person (staff), nobody needed any more (resolved).
HandOverState = Literal["waiting", "staff", "bot", "resolved"]
Persona = Literal["shopper", "staff"]


class ReplyDelta(BaseModel):
    """A piece of reply text, as the model writes it."""

    text: str


class Reply(BaseModel):
    """The whole reply, after the last delta."""

    text: str
    customer_id: str
    quick_replies: list[QuickReply] = Field(default_factory=list)
    sources: list[Source] = Field(default_factory=list)
    flags: set[Flag] = Field(default_factory=set)
    tokens: int = 0


ReplyEvent = ReplyDelta | Reply


class StoredMessage(BaseModel):
    """One message of a customer's history, as kept in Redis."""

    role: Role
    text: str
    ts: datetime = Field(default_factory=utcnow)
    channel: Channel
    message_id: str | None = None
    latency_ms: int | None = None
    tokens: int | None = None
    sources: list[Source] = Field(default_factory=list)
    intent: str | None = None  # a shopper's message: what it was about
    sentiment: float | None = None  # and how they felt, -1 .. 1
    flags: set[Flag] = Field(default_factory=set)


class HandOver(BaseModel):
    """A conversation the assistant hands to a person (consumed by the Slack adapter)."""

    customer_id: str
    channel: Channel
    user_id: str
    reason: HandOverReason
    message: str
    sentiment: float | None = None
    ts: datetime = Field(default_factory=utcnow)


class Mirrored(BaseModel):
    """A message of a conversation handed to a person, for its Slack thread."""

    customer_id: str
    role: Role
    text: str
    channel: Channel
    ts: datetime = Field(default_factory=utcnow)


DeskEvent = HandOver | Mirrored


class HandOverStatus(BaseModel):
    """Where a customer's hand-over stands (Redis is the one source of truth for it)."""

    state: HandOverState
    reason: HandOverReason | None = None
    slack_channel: str | None = None  # the thread it is worked in, once posted
    thread_ts: str | None = None
    owner: str | None = None  # the staff member who took it over
    since: datetime | None = None
