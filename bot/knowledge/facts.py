"""The shop's data written out as facts: one line per product, order or passage, in the words
the prompt, the checker and the safe answers share, so that a number in a fact is written the
same way everywhere."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from collections.abc import Set as AbstractSet
from datetime import date
from decimal import Decimal

from babel.dates import format_date

from bot.guard import strip_instructions
from bot.knowledge import Fact
from bot.knowledge.catalog import Product, Variant
from bot.knowledge.money import format_money, locale_for
from bot.knowledge.orders import Order, OrderItem
from bot.knowledge.passages import Passage
from bot.knowledge.shop import ShopProfile
from bot.knowledge.tables import Table, blocks
from bot.messages import Source

_WORD = re.compile(r"[a-z0-9]+")
# A question about price, or about price or stock; any other question about a product ("is
# it waterproof?") is answered from its description.
_PRICE_WORDS = r"how much|prices?|costs?|fees?|on offer|on sale|cheap(?:er|est)?|kostet|preis"
_ASKS_PRICE = re.compile(rf"\b({_PRICE_WORDS})\b", re.I)
_ASKS_PRICE_OR_STOCK = re.compile(rf"\b({_PRICE_WORDS}|stock|available|colou?rs?|sizes?)\b", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
# Words too common to say which sentence of a description answers a question.
_COMMON = {"does", "with", "have", "this", "that", "what", "your", "about", "will", "from", "come", "they", "them"}


def asks_price_or_stock(message: str) -> bool:
    return bool(_ASKS_PRICE_OR_STOCK.search(message))


def asks_price(message: str) -> bool:
    return bool(_ASKS_PRICE.search(message))


def money(amount: Decimal, currency: str, locale: str | None = None) -> str:
    """The amount as the shop writes it (Babel, the shop's locale or its currency's usual one)."""
    return format_money(amount, currency, locale_for(currency, locale))


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
    if variant.stock > 0:
        return f"in stock ({variant.stock} left)"
    return "out of stock, but it can still be ordered" if variant.orderable else "out of stock"


def stock_phrase(variant: Variant) -> str:
    """How a shopper is told a variant's stock: in stock, out of stock, or sold on while none are
    left (a "continue" inventory policy: made to order, backorder)."""
    if variant.in_stock:
        return "in stock"
    return (
        "out of stock, but you can still order it (it ships once it is back)" if variant.orderable else "out of stock"
    )


def _price(variant: Variant, currency: str, locale: str | None) -> str:
    price = money(variant.price, currency, locale)
    if variant.on_sale and variant.compare_at_price is not None:
        price += f" (on sale, was {money(variant.compare_at_price, currency, locale)})"
    return price


def _labels(variants: Sequence[Variant]) -> str:
    """ "Ochre in XS, S and L; Black in M": variants grouped by their first option."""
    groups: dict[str, list[str]] = {}
    for variant in variants:
        values = list(variant.options.values())
        if len(values) > 1:
            groups.setdefault(values[0], []).append(" / ".join(values[1:]))
        else:
            groups.setdefault(variant.label or "", [])
    if all(not rest for rest in groups.values()):
        return _and([first for first in groups if first])  # "Black and White"
    parts = [f"{first} in {_and(rest)}" if rest else first for first, rest in groups.items()]
    return "; ".join(p for p in parts if p)


def the(title: str, capital: bool = True) -> str:
    """ "The Trail Bottle", but "The Cartographer's Daughter" as it is: a title with its own article."""
    if re.match(r"(?:the|a|an)\s", title, re.I):
        return title
    return f"{'The' if capital else 'the'} {title}"


def _and(items: Sequence[str]) -> str:
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" and {items[-1]}"


def offer_phrase(
    product: Product, currency: str, locale: str | None = None, variants: Sequence[Variant] | None = None
) -> str:
    """The price and stock of the product (all its variants, or those asked about), without its
    name: "$49.99, in stock"; "€89.00. In stock: White in XS, S and L. Out of stock: White in M"."""
    chosen = list(variants or product.variants)
    if len(chosen) == 1:
        label = f"{chosen[0].label}: " if chosen[0].label and len(product.variants) > 1 else ""
        return f"{label}{_price(chosen[0], currency, locale)}, {stock_phrase(chosen[0])}"
    prices = {_price(v, currency, locale) for v in chosen}
    if len(prices) > 1 and len(chosen) <= 8:
        return "; ".join(f"{v.label}: {_price(v, currency, locale)}, {stock_phrase(v)}" for v in chosen)
    if len(prices) > 1:
        low, high = min(v.price for v in chosen), max(v.price for v in chosen)
        said = f"from {money(low, currency, locale)} to {money(high, currency, locale)}"
    else:
        said = prices.pop()
    states: dict[str, list[Variant]] = {}
    for variant in chosen:
        states.setdefault(stock_phrase(variant), []).append(variant)
    if len(states) == 1:
        return f"{said}, {next(iter(states))} ({_labels(chosen)})"
    return said + "".join(f". {state[0].upper()}{state[1:]}: {_labels(found)}" for state, found in states.items())


def offer(product: Product, currency: str, locale: str | None = None, variants: Sequence[Variant] | None = None) -> str:
    """The product's price and stock as a sentence, for all its variants or the ones asked about:
    "The Arles Linen Shirt is €89.00. In stock: White in XS, S and L. Out of stock: White in M." """
    chosen = list(variants or product.variants)
    phrase = offer_phrase(product, currency, locale, chosen)
    if len(chosen) == 1:
        variant = chosen[0]
        if variant.label and len(product.variants) > 1:
            return f"{the(product.title)} in {variant.label} is {phrase.split(': ', 1)[1]}."
        return f"{the(product.title)} is {phrase}."
    if len({_price(v, currency, locale) for v in chosen}) > 1 and len(chosen) <= 8:
        return f"{the(product.title)}: {phrase}."
    return f"{the(product.title)} is {phrase}."


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


def item_name(item: OrderItem, variants: Mapping[str, str]) -> str:
    """ "Matcha Bowl (Chawan) - Ash Glaze": the variant from the catalog by SKU, written the way
    Shopify names a line item, so "which colour did I get?" has an answer."""
    label = variants.get(item.sku, "") if item.sku else ""
    # "L" is in "Cloudburst 3L Storm Jacket" as letters, not as the size: whole words only.
    named = label and re.search(rf"(?<!\w){re.escape(label)}(?!\w)", item.title, re.I)
    return f"{item.title} - {label}" if label and not named else item.title


# An order's status as a shopper reads it.
STATUS_PHRASES = {
    "pending": "pending (not paid or confirmed yet)",
    "paid": "paid and waiting to be packed (not shipped yet)",
    "processing": "being prepared (not shipped yet)",
    "partially_shipped": "partially shipped: part of it is on its way and the rest follows",
    "shipped": "shipped",
    "delivered": "delivered",
    "cancelled": "cancelled",
    "refunded": "refunded",
}


def status_phrase(status: str) -> str:
    return STATUS_PHRASES.get(status, status.replace("_", " "))


def day(value: date, locale: str | None = None) -> str:
    """ "September 30, 2026" (en_US), "30 September 2026" (en_GB): a date in English words, in the
    order the shop's region writes it."""
    english = locale if locale and locale.startswith("en") else "en_GB"
    return format_date(value, format="long", locale=english)


def order_fact(
    order: Order, currency: str, variants: Mapping[str, str] | None = None, locale: str | None = None
) -> Fact:
    variants = variants or {}
    items = ", ".join(
        f"{item.qty} x {item_name(item, variants)} at {money(item.price, currency, locale)}" for item in order.items
    )
    text = (
        f"Order {order.order_id}: status {order.status} ({status_phrase(order.status)}), placed "
        f"{day(order.placed_at.date(), locale)} ({order.placed_at.date().isoformat()}). Items: {items}."
    )
    text += f" Total {money(order.total, currency, locale)}."
    if order.carrier:
        text += f" Carrier {order.carrier}."
    if order.tracking:
        text += f" Tracking number {order.tracking}."
    if order.eta:
        when = "Delivered" if order.status == "delivered" else "Expected delivery"
        text += f" {when} {day(order.eta, locale)} ({order.eta.isoformat()})."
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


def product_slots(product: Product, currency: str, message: str = "") -> dict[str, str]:
    """The slot values of a product the message is about: its name, the variants it names
    (all when it names none) with price and stock, and, unless it asks only about those, the
    sentence of its description that answers it."""
    parts = []
    for variant in matching_variants(product, message):
        price = money(variant.price, currency)
        if variant.on_sale and variant.compare_at_price is not None:
            price += f" (on sale, was {money(variant.compare_at_price, currency)})"
        stock = "in stock" if variant.in_stock else "out of stock"
        parts.append(f"{variant.label + ' ' if variant.label else ''}{price}, {stock}")
    slots = {"product": product.title, "offer": "; ".join(parts[:6])}
    description = strip_instructions(product.description)
    if description and not asks_price_or_stock(message):
        slots["description"] = answering_sentence(description, message, skip=words(product.title))
    return slots


def answering_sentence(text: str, message: str, skip: AbstractSet[str] = frozenset()) -> str:
    """The sentence of `text` that shares the most words with the question ("is it
    waterproof?" -> "Water-resistant, not waterproof: ..."); the first when none does."""
    sentences = _sentences(text)
    asked = {w for w in words(message) - skip - _COMMON if len(w) > 3}
    best = max(sentences, key=lambda s: len(asked & words(s)))
    return best if asked & words(best) else sentences[0]


def recommended(products: Sequence[Product], currency: str, locale: str | None = None) -> str:
    """ "the Trail Bottle ($24.00), the Drizzle Shell Jacket (from $119.00) and ...": the
    products picked, each with the lowest price it can be ordered at."""
    picks = []
    for product in products:
        prices = [v.price for v in product.variants if v.orderable] or [v.price for v in product.variants]
        low = money(min(prices), currency, locale)
        picks.append(f"{the(product.title, capital=False)} ({low if len(set(prices)) == 1 else 'from ' + low})")
    return picks[0] if len(picks) == 1 else ", ".join(picks[:-1]) + f" and {picks[-1]}"


def order_slots(
    order: Order, currency: str, variants: Mapping[str, str] | None = None, locale: str | None = None
) -> dict[str, str]:
    slots = {
        "order_id": order.order_id,
        "order_status": status_phrase(order.status),
        "order_items": ", ".join(f"{item.qty} x {item_name(item, variants or {})}" for item in order.items),
    }
    if order.status in ("shipped", "delivered", "partially_shipped") and (order.carrier or order.tracking):
        carrier = f"sent with {order.carrier}" if order.carrier else "sent"
        slots["tracking"] = carrier + (f" (tracking number {order.tracking})" if order.tracking else "")
    if order.eta and order.status not in ("cancelled", "refunded"):
        slots["eta"] = f"{'delivered on' if order.status == 'delivered' else 'expected on'} {day(order.eta, locale)}"
    return slots


def passage_sentences(text: str, most: int = 3) -> str:
    """The first sentences of a passage, as one line (list markers and line breaks gone); a
    table counts as one, written out a sentence per row."""
    parts: list[str] = []
    for block in blocks(text):  # tables first: cleaning joins lines, and a table is lines
        parts += [block.text()] if isinstance(block, Table) else [s for s in _sentences(strip_instructions(block)) if s]
    return " ".join(parts[:most]).lstrip("- ")


_MONEY = re.compile(r"[$€£¥]\s?\d|\d(?:[.,]\d{2})?\s?(?:USD|EUR|GBP|CAD|AUD|JPY)\b")


def states_money(text: str) -> bool:
    return bool(_MONEY.search(text))


def _sentences(text: str) -> list[str]:
    """The sentences of a text, its line breaks and runs of spaces made single spaces."""
    return _SENTENCE_END.split(" ".join(text.split()))


def notice(text: str) -> Fact:
    """Something the reply must say that is not shop data (an order that could not be shown)."""
    return Fact(text, kind="notice")


def fact_texts(facts: Sequence[Fact]) -> str:
    return "\n".join(fact.text for fact in facts)
