"""Order lookup for shoppers: an order is shown only to someone who gave its number together
with the e-mail on it (or who proved it earlier in the conversation). A wrong pair reveals
nothing, not even whether the order exists, and wrong guesses are rate-limited per customer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from bot.errors import RateLimited
from bot.knowledge.orders import Order, OrderSource
from bot.store import Store

_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
# "order 1042", "order #1042", "#1042", "order number: 1042", "purchase no. 1042"
_NUMBER = re.compile(r"(?:(?:order|purchase)\s*(?:number|no\.?|nr\.?|id)?\s*[:#]?\s*|#)(\d{3,12})\b", re.I)


_BARE = re.compile(r"(?<![\w.$€£-])(\d{4,12})(?![\w.,-]?\d)")


@dataclass(frozen=True)
class OrderClaim:
    order_id: str
    email: str


def find_claim(latest: str, earlier: Iterable[str] = ()) -> OrderClaim | None:
    """An order number and an e-mail a shopper gave, in this message or (newest first) the
    ones before it: shoppers often give the number in one message and the e-mail in the next."""
    order_id = email = None
    for index, text in enumerate((latest, *earlier)):
        if email is None and (address := _EMAIL.search(text)):
            email = address.group(0)
        if order_id is None and (number := _NUMBER.search(text) or _bare_number(text, email is not None)):
            order_id = number.group(1)
        if index == 0 and order_id is None and email is None:
            # The latest message gives no part of a claim: an old pair is not tried again
            # (nor counted again as a wrong guess) on every later message.
            return None
        if order_id and email:
            return OrderClaim(order_id, email)
    return None


def _bare_number(text: str, with_email: bool) -> re.Match[str] | None:
    """ "has 1040 shipped yet? me@example.org": a lone number next to an e-mail is an order number."""
    return _BARE.search(_EMAIL.sub(" ", text)) if with_email else None


class OrderLookup:
    def __init__(self, source: OrderSource, store: Store, *, max_failures: int = 5, window_s: int = 3600) -> None:
        self._source = source
        self._store = store
        self._max_failures = max_failures
        self._window = window_s

    async def verify(self, customer_id: str, claim: OrderClaim) -> Order | None:
        """The order when the number and e-mail belong together, else None (whichever was wrong)."""
        if await self._store.order_failures(customer_id) >= self._max_failures:
            raise RateLimited(
                f"customer {customer_id} made {self._max_failures} wrong order guesses",
                public_message="For your security I can't look up more orders right now. Please try again in an hour, "
                "or contact our support team.",
            )
        order = await self._source.get(claim.order_id)
        if order is None or not order.belongs_to(claim.email):
            await self._store.count_order_failure(customer_id, window_s=self._window)
            return None
        await self._store.remember_order(customer_id, order.order_id)
        return order

    async def proven(self, customer_id: str) -> list[Order]:
        """Orders this customer proved are theirs earlier: follow-up questions need no e-mail."""
        orders = [await self._source.get(order_id) for order_id in await self._store.remembered_orders(customer_id)]
        return [order for order in orders if order is not None]
