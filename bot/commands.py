"""The commands a shopper can type on any channel: /start, /help, /reset, /forget, /cancel,
/link (and /human, which the engine answers with a hand-over)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.messages import Flag, QuickReply, Reply
from bot.store import LINK_ALPHABET, Store

FORGET_CONFIRM = "/forget confirm"
LINK_CODE = re.compile(rf"[{LINK_ALPHABET}]{{3}}-[{LINK_ALPHABET}]{{3}}", re.I)
LINK_TTL_S = 600
_LINK_CODES_PER_HOUR = 5
_LINK_FAILURES = 5  # wrong codes per customer per 10 minutes before /link waits

HELP = (
    "I can answer questions about our products, orders, shipping and returns. Commands:\n"
    "/reset - start a fresh conversation\n"
    "/forget - delete everything I know about you\n"
    "/human - ask for a person from our team\n"
    "/link - join this chat with your chat on our other channel (website or Telegram)\n"
    "/help - this list"
)


@dataclass(frozen=True)
class Command:
    name: str
    argument: str


def parse_command(text: str) -> Command | None:
    """`/name arg` -> Command; anything else is a message. `/name@bot` (Telegram groups) works too.
    A link code on its own ("K7Q-4MX") is `/link` with that code: what a shopper types after
    reading it on their other channel."""
    if LINK_CODE.fullmatch(text.strip()):
        return Command("link", text.strip().lower())
    if not text.startswith("/") or len(text) < 2:
        return None
    head, _, argument = text[1:].partition(" ")
    name = head.split("@", 1)[0].lower()
    if not name.isalnum():
        return None
    return Command(name, argument.strip().lower())


def _reply(
    customer_id: str, text: str, flags: Iterable[Flag] = (), quick_replies: list[QuickReply] | None = None
) -> Reply:
    return Reply(text=text, customer_id=customer_id, flags={"command", *flags}, quick_replies=quick_replies or [])


class Commands:
    def __init__(self, store: Store, *, confirm_ttl_s: int = 300, shop_name: Callable[[], str] | None = None) -> None:
        self._store = store
        self._confirm_ttl = confirm_ttl_s
        self._shop_name = shop_name

    async def run(self, command: Command, customer_id: str) -> Reply:
        match command.name:
            case "start":
                name = self._shop_name() if self._shop_name else "the shop"
                return _reply(customer_id, f"Hello! I'm {name}'s assistant. " + HELP)
            case "help":
                return _reply(customer_id, HELP)
            case "reset":
                await self._store.reset(customer_id)
                return _reply(customer_id, "Done: we're starting a fresh conversation.", {"reset"})
            case "forget" if command.argument == "confirm":
                # Only a confirmation that answers our question deletes anything.
                if await self._store.take_pending(customer_id) == "forget":
                    await self._store.forget(customer_id)
                    text = "Done: I've deleted our conversation and everything I knew about you."
                    return _reply(customer_id, text, {"forgotten"})
                return await self._ask_forget(customer_id)
            case "forget":
                return await self._ask_forget(customer_id)
            case "link" if not command.argument:
                return await self._issue_link(customer_id)
            case "link":
                return await self._link(command.argument, customer_id)
            case "cancel":
                pending = await self._store.take_pending(customer_id)
                return _reply(customer_id, "OK, nothing was deleted." if pending else "There was nothing to cancel.")
            case _:
                return _reply(customer_id, f"I don't know the command /{command.name}. " + HELP)

    async def _issue_link(self, customer_id: str) -> Reply:
        code = await self._store.issue_link_code(customer_id, ttl_s=LINK_TTL_S, per_hour=_LINK_CODES_PER_HOUR)
        if code is None:
            return _reply(customer_id, "You've asked for several codes in the last hour. Please use the last one.")
        return _reply(
            customer_id,
            f"Your code is {code}. Within 10 minutes, send it in your other chat with us (on our website or to "
            "our Telegram bot), and the two become one conversation. It works once.",
        )

    async def _link(self, code: str, customer_id: str) -> Reply:
        """Join the conversation that asked for `code` with this one. Wrong codes are counted:
        guessing one (32^6 of them, live for 10 minutes) is slowed to a halt."""
        if await self._store.link_failures(customer_id) >= _LINK_FAILURES:
            return _reply(customer_id, "Too many codes didn't work. Please wait 10 minutes, then ask for a new one.")
        other = await self._store.redeem_link_code(code)
        if other is None:
            await self._store.count_link_failure(customer_id, window_s=LINK_TTL_S)
            return _reply(
                customer_id,
                "That code doesn't work: a code works once, for 10 minutes. "
                "Type /link in your other chat for a new one.",
            )
        if other == customer_id:
            return _reply(customer_id, "That code is from this same conversation. Send it in your other chat instead.")
        await self._store.merge_customers(keep=other, gone=customer_id)
        return _reply(
            other,
            "Done: this chat and your other one are now one conversation, so I know what we talked about in both.",
            {"linked"},
        )

    async def _ask_forget(self, customer_id: str) -> Reply:
        await self._store.set_pending(customer_id, "forget", self._confirm_ttl)
        return _reply(
            customer_id,
            "This deletes our whole conversation and everything I know about you, on every channel. Are you sure?",
            quick_replies=[
                QuickReply(label="Yes, delete everything", text=FORGET_CONFIRM),
                QuickReply(label="No, keep it", text="/cancel"),
            ],
        )
