"""The shop's data written out as facts: one line per product, order or passage, in the words
the prompt, the checker and the safe answers share, so that a number in a fact is written the
same way everywhere."""

from __future__ import annotations

import re
from collections.abc import Sequence
from decimal import Decimal

from bot.guard import strip_instructions
from bot.knowledge import Fact
from bot.knowledge.catalog import Product, Variant
from bot.knowledge.orders import Order
from bot.knowledge.passages import Passage
from bot.knowledge.shop import ShopProfile
from bot.messages import Source

_SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "AUD": "A$", "CAD": "C$", "JPY": "¥"}
_WORD = re.compile(r"[a-z0-9]+")


def money(amount: Decimal, currency: str) -> str:
    symbol = _SYMBOLS.get(currency)
    return f"{symbol}{amount:,.2f}" if symbol else f"{amount:,.2f} {currency}"


def words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


def matching_variants(product: Product, message: str) -> list[Variant]:
    """The variants whose option values the message names ("navy", "M"); all when it names none."""
    said = words(message)
    named = [v for v in product.variants if v.options and words(" ".join(v.options.values())) <= said]
    if named:
        return named
    partly = [v for v in product.variants if said & words(" ".join(v.options.values()))]
    return partly or list(product.variants)


def _stock(variant: Variant) -> str:
    if variant.stock is None:
        return "in stock"
    return f"in stock ({variant.stock} left)" if variant.stock > 0 else "out of stock"


def product_fact(product: Product, currency: str, message: str = "") -> Fact:
    variants = matching_variants(product, message)
    prices = []
    for variant in variants:
        price = money(variant.price, currency)
        if variant.on_sale and variant.compare_at_price is not None:
            price += f" on sale, was {money(variant.compare_at_price, currency)}"
        label = f"{variant.label}: " if variant.label else ""
        prices.append(f"{label}{price}, {_stock(variant)}")
    description = strip_instructions(product.description)
    about = description[:240].rsplit(" ", 1)[0] if len(description) > 240 else description
    text = f"{product.title} ({product.type or 'product'}). " + "; ".join(prices) + "." + (f" {about}" if about else "")
    return Fact(text, Source(title=product.title, ref=product.url or f"product:{product.id}"), kind="product")


def order_fact(order: Order, currency: str) -> Fact:
    items = ", ".join(f"{item.qty} x {item.title} at {money(item.price, currency)}" for item in order.items)
    text = (
        f"Order {order.order_id}: status {order.status}, placed {order.placed_at.date().isoformat()}. Items: {items}."
    )
    text += f" Total {money(order.total, currency)}."
    if order.carrier:
        text += f" Carrier {order.carrier}."
    if order.tracking:
        text += f" Tracking number {order.tracking}."
    if order.eta:
        text += f" {'Delivered' if order.status == 'delivered' else 'Expected delivery'} {order.eta.isoformat()}."
    return Fact(text, Source(title=f"Order {order.order_id}", ref=f"order:{order.order_id}"), kind="order")


def passage_fact(passage: Passage) -> Fact:
    text = strip_instructions(passage.text)
    return Fact(f"{passage.heading}: {text}", Source(title=passage.heading, ref=passage.ref), kind="passage")


def contact_fact(profile: ShopProfile) -> Fact:
    parts = []
    if profile.support_hours:
        parts.append(f"the support team works {profile.support_hours}")
    if profile.support_email:
        parts.append(f"e-mail {profile.support_email}")
    text = f"Contact {profile.name}: " + ("; ".join(parts) if parts else "through this chat") + "."
    return Fact(text, kind="contact")


def notice(text: str) -> Fact:
    """Something the reply must say that is not shop data (an order that could not be shown)."""
    return Fact(text, kind="notice")


def fact_texts(facts: Sequence[Fact]) -> str:
    return "\n".join(fact.text for fact in facts)
