"""Marketing copy for staff (`/shopbot copy <product or brief>` in Slack): a product
description, a promotional message or a social post, in the shop's voice (`voice` in
store.toml), about a product of the catalog.

Composed from the catalog's own words, not written by the model: every feature is a sentence
of the product's description, every price the catalog's, and the result passes the same
checker the shopper's replies do (no number, code or offer the catalog does not give). The
embedded model is a small question-answering model; copy it wrote would need that check to
throw most of it away. Variants differ in opening, order and close, so "regenerate" gives a
real alternative while staying inside the facts."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from bot.guard import strip_instructions
from bot.knowledge.checker import Checker
from bot.knowledge.facts import money, product_fact

if TYPE_CHECKING:
    from bot.knowledge.catalog import Product
    from bot.knowledge.shop import ShopProfile

CopyKind = Literal["description", "promo", "social"]
_SOCIAL = re.compile(r"\b(social|post|tweet|instagram|insta|facebook|linkedin|tiktok|x\.com)\b", re.I)
_PROMO = re.compile(r"\b(promo\w*|e-?mail|newsletter|sale|offer|campaign|discount|deal|launch)\b", re.I)
_KIND_WORDS = re.compile(
    r"\b(write|a|an|the|for|about|product|description|copy|social|post|tweet|instagram|promo\w*|e-?mail|"
    r"newsletter|campaign|message)\b",
    re.I,
)
_SENTENCE = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True)
class Copy:
    kind: CopyKind
    product: Product
    text: str
    variant: int
    brief: str


def kind_of(brief: str) -> CopyKind:
    if _SOCIAL.search(brief):
        return "social"
    if _PROMO.search(brief):
        return "promo"
    return "description"


def topic_of(brief: str) -> str:
    """The brief without the words that only say what kind of copy it is."""
    return " ".join(_KIND_WORDS.sub(" ", brief).split()) or brief


class Voice:
    """What store.toml's `voice` ("warm, practical, concise") asks of the copy."""

    def __init__(self, voice: str) -> None:
        said = voice.lower()
        self.warm = any(w in said for w in ("warm", "friendly", "cheerful", "playful", "fun"))
        self.playful = any(w in said for w in ("playful", "fun", "cheeky", "bold"))
        self.concise = any(w in said for w in ("concise", "short", "brief", "minimal"))


_OPENERS = {
    "description": ["{title}.", "Meet the {title}.", "The {title}, from {vendor}."],
    "promo": ["Now in the shop: the {title}.", "Looking for {type_lower}? Try the {title}.", "The {title} is here."],
    "social": ["{title} ✨", "New favourite: {title}.", "Say hello to the {title}."],
}
_CLOSERS = {
    "description": ["", "Made by {vendor}.", ""],
    "promo": ["Order yours at {shop}.", "Find it at {shop}.", "See it at {shop}."],
    "social": ["", "Find it at {shop}.", ""],
}


class Copywriter:
    def __init__(self, profile: Callable[[], ShopProfile]) -> None:
        self._profile = profile  # read per copy: store.toml is reloaded live

    def write(self, product: Product, brief: str, variant: int = 0) -> Copy:
        profile = self._profile()
        kind = kind_of(brief)
        voice = Voice(profile.voice)
        currency = profile.currency
        fields = {
            "title": product.title,
            "vendor": product.vendor or profile.name,
            "type_lower": (product.type or "something new").lower(),
            "shop": profile.name,
        }
        # A description is shop data that may carry planted instructions: cleaned as for replies.
        sentences = [s.strip() for s in _SENTENCE.split(strip_instructions(product.description)) if s.strip()]
        if variant % 2 and len(sentences) > 1:
            sentences = sentences[1:] + sentences[:1]  # another lead feature
        keep = 2 if voice.concise or kind == "social" else 4
        parts = [_OPENERS[kind][variant % 3].format(**fields), *sentences[:keep]]
        options = _options(product)
        if options and kind != "social" and not voice.concise:
            parts.append(options)
        parts.append(_price(product, currency, sale=kind != "description"))
        closer = _CLOSERS[kind][variant % 3].format(**fields)
        if closer:
            parts.append(closer)
        if kind == "social":
            tags = ["#" + re.sub(r"\W", "", t.title()) for t in product.tags[:3] if re.sub(r"\W", "", t)]
            parts.append(("🎉 " if voice.playful else "") + " ".join(tags))
        text = " ".join(p for p in parts if p)
        if (voice.warm or voice.playful) and kind == "promo" and not text.endswith("!"):
            text = text[:-1] + "!" if text.endswith(".") else text
        return Copy(kind, product, text, variant, brief)

    def problems(self, copy: Copy) -> list[str]:
        """What the copy states that the catalog does not (the shopper replies' checker)."""
        profile = self._profile()
        product = copy.product
        facts = "\n".join(
            [product_fact(product, profile.currency).text, strip_instructions(product.description), profile.name]
        )
        return Checker(facts, copy.brief).problems(copy.text)


def _options(product: Product) -> str:
    by_name: dict[str, list[str]] = {}
    for variant in product.variants:
        for name, value in variant.options.items():
            if value not in by_name.setdefault(name, []):
                by_name[name].append(value)
    shown = [f"{name.lower()}s: {', '.join(values)}" for name, values in by_name.items() if len(values) > 1]
    return f"Available in {'; '.join(shown)}." if shown else ""


def _price(product: Product, currency: str, *, sale: bool) -> str:
    cheapest = min(product.variants, key=lambda v: v.price)
    prices = {v.price for v in product.variants}
    amount = money(cheapest.price, currency)
    said = f"From {amount}." if len(prices) > 1 else f"{amount}."
    if sale and cheapest.compare_at_price and cheapest.compare_at_price > cheapest.price:
        said = f"Now {amount}, was {money(cheapest.compare_at_price, currency)}."
    return said
