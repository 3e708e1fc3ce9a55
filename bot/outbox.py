"""Messages to a customer the engine is not answering right now: a staff member's reply from
Slack, a notice. Each is recorded in the customer's history (so every channel, and the widget
on its next visit, shows it) and delivered on every channel of theirs that has a sender
(an adapter registers one: Telegram's goes through the same limiter as its replies)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from bot.messages import Channel, QuickReply, Role, StoredMessage
from bot.store import Store


class Sender(Protocol):
    async def send(
        self, chat_id: str, text: str, quick_replies: Sequence[QuickReply] = (), *, role: Role = "staff"
    ) -> bool:
        """Deliver `text` to a chat of the channel; a failure it cannot recover from is its to
        keep and retry, not the caller's. `role`: a person's words, or the assistant's notice.
        True when it reached the shopper now (False: it waits, for a retry or their next visit)."""
        ...


class Outbox:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._senders: dict[Channel, Sender] = {}

    def register(self, channel: Channel, sender: Sender) -> None:
        self._senders[channel] = sender

    async def send(
        self, customer_id: str, text: str, *, role: Role = "staff", quick_replies: Sequence[QuickReply] = ()
    ) -> list[Channel]:
        """Record `text` and deliver it; the channels it reached the shopper on now (none: it
        waits in the history for their next visit, or in a channel's retry)."""
        identities = await self._store.identities(customer_id)
        reachable = [(channel, user) for channel, user in identities if channel in self._senders]
        channel = reachable[0][0] if reachable else (identities[0][0] if identities else "web")
        await self._store.append(customer_id, StoredMessage(role=role, text=text, channel=channel))
        delivered = []
        for channel_name, user in reachable:
            # A private chat's id is its user's id on Telegram; other channels' senders map theirs.
            if await self._senders[channel_name].send(user, text, quick_replies, role=role):
                delivered.append(channel_name)
        return delivered
