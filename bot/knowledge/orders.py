"""Orders and where they come from: a small protocol, with a JSONL file as one implementation
(a stand-in for the shop's order system)."""

from __future__ import annotations

import json
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal, Protocol

from pydantic import BaseModel, Field, ValidationError, field_validator

from bot.knowledge.problems import Problems

OrderStatus = Literal[
    "pending", "paid", "processing", "partially_shipped", "shipped", "delivered", "cancelled", "refunded"
]
# The words order systems write, as shopbot's statuses: Shopify's fulfilment statuses, American
# spelling, carriers' in-transit words.
STATUS_WORDS: dict[str, OrderStatus] = {
    "fulfilled": "shipped",
    "unfulfilled": "processing",
    "partially_fulfilled": "partially_shipped",
    "partially fulfilled": "partially_shipped",
    "partial": "partially_shipped",
    "partially_shipped": "partially_shipped",
    "in_transit": "shipped",
    "in transit": "shipped",
    "out_for_delivery": "shipped",
    "canceled": "cancelled",
    "voided": "cancelled",
    "open": "pending",
    "unpaid": "pending",
    "authorized": "pending",
    "on_hold": "processing",
    "scheduled": "processing",
    "in_progress": "processing",
    "partially_refunded": "refunded",
}


def _no_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError(f'amounts are decimal strings like "24.00", not the number {value!r}')
    return value


class OrderItem(BaseModel):
    sku: str = ""
    title: str
    qty: int = Field(ge=1)
    price: Decimal = Field(ge=0)

    _decimal = field_validator("price", mode="before")(_no_float)


class Order(BaseModel):
    order_id: str = Field(min_length=1)
    email: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    status: OrderStatus
    placed_at: datetime
    items: list[OrderItem] = Field(min_length=1)
    total: Decimal = Field(ge=0)
    carrier: str | None = None
    tracking: str | None = None
    eta: date | None = None

    _decimal = field_validator("total", mode="before")(_no_float)

    @field_validator("carrier", "tracking", "eta", mode="before")
    @classmethod
    def _blank_is_absent(cls, value: Any) -> Any:
        """Exports write an unknown field as "" (a cancelled order has no delivery date)."""
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("status", mode="before")
    @classmethod
    def _platform_words(cls, value: Any) -> Any:
        if isinstance(value, str):
            word = value.strip().lower()
            return STATUS_WORDS.get(word, word)
        return value

    @field_validator("order_id", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    def belongs_to(self, email: str) -> bool:
        return self.email.strip().lower() == email.strip().lower()


class OrderSource(Protocol):
    """Where orders are looked up; a shop plugs its own order system in here."""

    async def get(self, order_id: str) -> Order | None: ...


def digits(order_id: str) -> str:
    """What identifies an order whatever way it is typed: its digits ("#SO-2024-0042" ->
    "20240042"; "so2024 0042" the same)."""
    return "".join(c for c in order_id if c.isdigit())


class FileOrders:
    """Orders from `orders.jsonl`, held in memory."""

    def __init__(self, orders: list[Order]) -> None:
        self._orders = {order.order_id: order for order in orders}
        self._by_digits: dict[str, list[Order]] = {}
        for order in orders:
            self._by_digits.setdefault(digits(order.order_id), []).append(order)

    def __len__(self) -> int:
        return len(self._orders)

    def all(self) -> list[Order]:
        return list(self._orders.values())

    def numbers(self) -> list[str]:
        """Every order number, for learning how the shop writes them."""
        return list(self._orders)

    async def get(self, order_id: str) -> Order | None:
        """The order a shopper's way of writing its number stands for: exactly as stored, then by
        its digits ("hh5002", "HH 5002" and "5002" are HH-5002), then as the end of one number only
        ("0035" for SO-2024-0035). Letters never decide: the e-mail on the order does."""
        typed = order_id.strip()
        if typed in self._orders:
            return self._orders[typed]
        key = digits(typed)
        if not key:
            return None
        exact = self._by_digits.get(key, [])
        if len(exact) == 1:
            return exact[0]
        if exact:
            letters = "".join(c for c in typed.upper() if c.isalpha())
            same = [o for o in exact if "".join(c for c in o.order_id.upper() if c.isalpha()) == letters]
            return same[0] if len(same) == 1 else None
        if len(key) >= 3:
            ending = [o for number, found in self._by_digits.items() if number.endswith(key) for o in found]
            if len(ending) == 1:
                return ending[0]
        return None


def read_orders(path: Path, problems: Problems) -> list[Order]:
    name = path.name
    text = problems.read(path, name)
    if text is None:
        return []
    orders: dict[str, Order] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            order = Order.model_validate(json.loads(line))
        except json.JSONDecodeError as exc:
            problems.add(name, f"line {number}", f"not JSON: {exc.msg}")
            continue
        except ValidationError as exc:
            reasons = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'record'}: {e['msg']}" for e in exc.errors())
            problems.add(name, f"line {number}", reasons)
            continue
        if order.order_id in orders:
            problems.add(name, f"line {number}", f"order {order.order_id} appears twice; the first is kept")
            continue
        orders[order.order_id] = order
    return list(orders.values())
