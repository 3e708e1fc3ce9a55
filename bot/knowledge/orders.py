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

OrderStatus = Literal["pending", "paid", "processing", "shipped", "delivered", "cancelled", "refunded"]


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

    @field_validator("order_id", mode="before")
    @classmethod
    def _as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int) else value

    def belongs_to(self, email: str) -> bool:
        return self.email.strip().lower() == email.strip().lower()


class OrderSource(Protocol):
    """Where orders are looked up; a shop plugs its own order system in here."""

    async def get(self, order_id: str) -> Order | None: ...


class FileOrders:
    """Orders from `orders.jsonl`, held in memory."""

    def __init__(self, orders: list[Order]) -> None:
        self._orders = {order.order_id: order for order in orders}

    def __len__(self) -> int:
        return len(self._orders)

    def all(self) -> list[Order]:
        return list(self._orders.values())

    async def get(self, order_id: str) -> Order | None:
        return self._orders.get(order_id.strip().lstrip("#"))


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
