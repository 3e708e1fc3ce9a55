"""Order lookup for shoppers: an order is shown only to someone who gave its number together
with the e-mail on it (or who proved it earlier in the conversation). A wrong pair reveals
nothing, not even whether the order exists, and wrong guesses are rate-limited per customer.

Order numbers are found in a message the way the shop writes them, learned from its own
orders: Shopify's "#1001", "HH-5001", "GL1051", "SO-2024-0042", typed as "gl1051", "GL 1051",
"order 1051" or "so2024-0042". Letters and separators never decide which order it is (the
digits do, and the e-mail on the order must match); they only tell a number in a message from
any other number.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from bot.errors import RateLimited
from bot.knowledge.orders import Order, OrderSource
from bot.store import Store

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# A number as shoppers type one: "#", letters, separators, digits (digit groups split by a
# space or a dash: "SO 2024 0039").
_CANDIDATE = re.compile(
    r"(?<![\w@.$€£¥])(#\s?)?(?:([A-Za-z]{1,8})\s?[-#:]?\s?)?(#\s?)?(\d(?:\d|[ -](?=\d{2}))*)(?![\w@]|[.,]\d|\s?(?:[$€£¥%]|usd|eur|gbp|dollars?|euros?|pounds?|cm|mm|kg|km|ml|days?|years?|months?|hours?|minutes?|pcs|pieces|items|people)\b)",
    re.I,
)
# Words that say a number is an order's, when they stand before it.
_ORDER_WORDS = re.compile(
    r"\b(order|orders|ord|purchase|nr|no|number|num|ref|reference|confirmation|bestellung|commande|pedido|ordine)\b\W{0,4}$",
    re.I,
)
_NOT_PREFIXES = {"ORDER", "ORDERS", "ORD", "NR", "NO", "NUMBER", "NUM", "REF", "PURCHASE"}


@dataclass(frozen=True)
class OrderClaim:
    order_id: str
    email: str


class OrderNumbers:
    """How one shop writes its order numbers, learned from examples of them."""

    def __init__(self, examples: Iterable[str] = ()) -> None:
        self.prefixes = {"".join(c for c in e.upper() if c.isalpha()) for e in examples} - {""}
        lengths = [len([c for c in e if c.isdigit()]) for e in examples]
        self.longest = max(lengths, default=12)

    def _prefix(self, letters: str) -> bool:
        upper = letters.upper()
        return any(upper == p or upper.endswith(p) or upper.startswith(p) for p in self.prefixes)

    def find(self, text: str, *, with_email: bool) -> str | None:
        """The order number a message gives, as typed (separators dropped), or None."""
        for match in _CANDIDATE.finditer(text):
            hashed = bool(match.group(1) or match.group(3))
            letters = match.group(2) or ""
            number = re.sub(r"[ -]", "", match.group(4))
            if len(number) > self.longest + 2 or len(number) < 3:
                continue
            before = text[: match.start()]
            cue = hashed or bool(_ORDER_WORDS.search(before))
            if letters.upper() in _NOT_PREFIXES:
                cue, letters = True, ""
            if letters and not self._prefix(letters):
                continue  # "iphone 15", "pocketcell 5000": another word with a number
            if letters or cue or (with_email and len(number) >= 4):
                return f"{letters.upper()}{number}"
        return None


def find_claim(latest: str, earlier: Sequence[str] = (), numbers: OrderNumbers | None = None) -> OrderClaim | None:
    """An order number and an e-mail a shopper gave, in this message or (newest first) the
    ones before it: shoppers often give the number in one message and the e-mail in the next."""
    numbers = numbers or OrderNumbers()
    texts = [latest, *earlier]
    email = next((found.group(0) for text in texts if (found := _EMAIL.search(text))), None)
    order_id = None
    for index, text in enumerate(texts):
        order_id = numbers.find(_EMAIL.sub(" ", text), with_email=email is not None)
        if order_id is not None:
            break
        if index == 0 and not _EMAIL.search(text):
            # The latest message gives no part of a claim: an old pair is not tried again
            # (nor counted again as a wrong guess) on every later message.
            return None
    if order_id and email:
        return OrderClaim(order_id, email)
    return None


def asks_without_email(latest: str, numbers: OrderNumbers) -> str | None:
    """An order number given without any e-mail: the number, so the shopper can be asked for it."""
    if _EMAIL.search(latest):
        return None
    return numbers.find(latest, with_email=False)


class OrderLookup:
    def __init__(self, source: OrderSource, store: Store, *, max_failures: int = 5, window_s: int = 3600) -> None:
        self._source = source
        self._store = store
        self._max_failures = max_failures
        self._window = window_s
        examples = getattr(source, "numbers", None)
        self.numbers = OrderNumbers(examples() if callable(examples) else ())

    async def verify(self, customer_id: str, claim: OrderClaim) -> Order | None:
        """The order when the number and e-mail belong together, else None (whichever was wrong).
        Reads only: the engine records a proof or a wrong guess with the turn."""
        if await self._store.order_failures(customer_id) >= self._max_failures:
            raise RateLimited(
                f"customer {customer_id} made {self._max_failures} wrong order guesses",
                public_message="For your security I can't look up more orders right now. Please try again in an hour, "
                "or contact our support team.",
            )
        order = await self._source.get(claim.order_id)
        if order is None or not order.belongs_to(claim.email):
            return None
        return order

    @property
    def failure_window_s(self) -> int:
        return self._window

    async def proven(self, customer_id: str) -> list[Order]:
        """Orders this customer proved are theirs earlier: follow-up questions need no e-mail."""
        orders = [await self._source.get(order_id) for order_id in await self._store.remembered_orders(customer_id)]
        return [order for order in orders if order is not None]
