"""The commands a shopper can type on any channel: /start, /help, /reset, /forget, /cancel
(and /human, which the engine answers with a hand-over)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.messages import Flag, QuickReply, Reply
from bot.store import Store

FORGET_CONFIRM = "/forget confirm"

HELP = (
    "I can answer questions about our products, orders, shipping and returns. Commands:\n"
    "/reset - start a fresh conversation\n"
    "/forget - delete everything I know about you\n"
    "/human - ask for a person from our team\n"
    "/help - this list"
)


@dataclass(frozen=True)
class Command:
    name: str
    argument: str


def parse_command(text: str) -> Command | None:
    """`/name arg` -> Command; anything else is a message. `/name@bot` (Telegram groups) works too."""
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
            case "cancel":
                pending = await self._store.take_pending(customer_id)
                return _reply(customer_id, "OK, nothing was deleted." if pending else "There was nothing to cancel.")
            case _:
                return _reply(customer_id, f"I don't know the command /{command.name}. " + HELP)

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
