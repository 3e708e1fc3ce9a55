"""What every answerer is handed: the shop's index, the question read, the conversation so far,
and how to turn text into a query vector. Plus the small pieces of language several answerers
share: what a follow-up refers to, which variants a message names, where evidence says no."""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from bot.answers.asked import Asked, read
from bot.answers.relevance import Thresholds
from bot.knowledge.catalog import Product, Variant
from bot.knowledge.index import ShopIndex
from bot.knowledge.places import places
from bot.knowledge.retrieval import Query
from bot.knowledge.text import fold, stem, tokens
from bot.messages import StoredMessage
from bot.understanding import Understanding, normalise

log = logging.getLogger(__name__)

Encode = Callable[[str], Awaitable[Query]]

# Sizes in the order they grow, for "the bigger one".
_SIZE_ORDER = ["xxs", "xs", "s", "m", "l", "xl", "xxl", "xxxl", "twin", "full", "double", "queen", "king"]
_NUMBER = re.compile(r"\d+(?:[.,]\d+)?")
_NEGATION = {"not", "no", "never", "non", "without", "isn", "aren", "doesn", "don", "nor", "cannot", "can't"}


@dataclass
class Context:
    index: ShopIndex
    customer_id: str
    message: str
    history: Sequence[StoredMessage]
    understanding: Understanding | None
    encode: Encode
    thresholds: Thresholds
    language: str = "en"
    # Products the conversation is about, newest first: named in the shopper's last messages,
    # or shown in the last reply. "it", "that one", "the first one" mean one of these.
    focus: list[Product] = field(default_factory=list)
    shown: list[Product] = field(default_factory=list)
    earlier: list[str] = field(default_factory=list)  # the shopper's earlier messages, newest first

    def read(self, text: str) -> Asked:
        return read(text, self.index.spelling, self.index.names)

    probes: list[tuple[str, float]] | None = None  # calibration: every threshold compared against
    # What the shopper said they like ("lightweight gear"), newest first, and the ids of the
    # products they asked about, most asked first (their profile in Redis).
    preferences: list[str] = field(default_factory=list)
    interests: list[str] = field(default_factory=list)

    async def query(self, asked: Asked, extra: str = "") -> Query:
        """The question as a query: as typed when nothing was corrected (the understanding's
        encoder pass has read that text already), else its corrected words (typos hurt the
        encoder too)."""
        if not extra and asked.words == tokens(asked.text):
            return await self.encode(normalise(asked.text))
        text = f"{extra} {asked.clean}".strip() if extra else asked.clean
        if found := places(asked.text):  # "US" as typed: lower case it is a word
            text = f"{text} {found}"
        return await self.encode(text)

    def passes(self, threshold: str, score: float) -> bool:
        """Whether `score` reaches the calibrated threshold of that name (bot.answers.relevance)."""
        if self.probes is not None:
            self.probes.append((threshold, score))
        log.debug("%s threshold %.3f, best evidence %.3f", threshold, getattr(self.thresholds, threshold), score)
        return score >= getattr(self.thresholds, threshold)

    @property
    def intent(self) -> str | None:
        return self.understanding.intent if self.understanding else None


def conversation(index: ShopIndex, history: Sequence[StoredMessage]) -> tuple[list[Product], list[Product], list[str]]:
    """(focus, shown, earlier): the products the conversation is about, newest first; those the
    last reply showed, in the order shown; the shopper's earlier messages, newest first."""
    offered = {p.title: p for p in index.shop.offered}
    earlier = [m.text for m in reversed(history) if m.role == "user"]
    shown: list[Product] = []
    for message in reversed(history):
        if message.role == "assistant":
            shown = [offered[s.title] for s in message.sources if s.title in offered]
            break
    focus: list[Product] = []
    for text in earlier[:3]:
        named = read(text, index.spelling, index.names).named
        found = [n.product for n in named if index.offered(n.product)]
        if found:
            focus = found
            break
    for product in shown:
        if product not in focus:
            focus.append(product)
    return focus, shown, earlier


def referred(ctx: Context, asked: Asked) -> list[Product]:
    """The products a follow-up means: "the first one" of those shown, else what the
    conversation is about."""
    if asked.ordinal is not None and ctx.shown:
        position = asked.ordinal if asked.ordinal >= 0 else len(ctx.shown) + asked.ordinal
        if 0 <= position < len(ctx.shown):
            return [ctx.shown[position]]
    return ctx.focus[:1]


_SIZE_CODES = {"xxs", "xs", "s", "m", "l", "xl", "xxl", "xxxl", "2xl", "3xl"}
_SIZE_WORDS = {"small": "s", "medium": "m", "large": "l", "extra large": "xl", "x large": "xl"}
_UNITS = {"in", "cm", "mm", "m", "l", "ml", "kg", "g", "lb", "lbs", "oz", "ft", "w", "mah", "x", "pcs", "pack"}
_UNIT_WORDS = {
    "inch": "in", "inches": "in", "litre": "l", "liter": "l", "litres": "l", "liters": "l", "metre": "m",
    "meter": "m", "metres": "m", "meters": "m", "gram": "g", "grams": "g", "pounds": "lb", "foot": "ft", "feet": "ft",
}  # fmt: skip
_PIECES = re.compile(r"\d+|[a-z]+")


def pieces(text: str) -> list[str]:
    """Words split where letters meet digits, units spelled one way: "2m" -> 2, m; "1 litre" -> 1, l."""
    found = []
    for word in tokens(text):
        for piece in _PIECES.findall(word):
            found.append(_UNIT_WORDS.get(piece, piece))
    return found


def in_order(wanted: list[str], said: list[str]) -> bool:
    """Whether the pieces `wanted` come together, in order, in `said` ("presta 60 mm" in a detail)."""
    return any(said[i : i + len(wanted)] == wanted for i in range(len(said) - len(wanted) + 1))


def named_variants(product: Product, asked: Asked) -> list[Variant]:
    """The variants whose option values the message names ("navy, size M", "in 8x10", "the
    walnut top", "1 litre"); when it names a bigger or smaller one, that one; none when it
    names none."""
    if not product.variants or not any(v.options for v in product.variants):
        return []
    said = set(pieces(asked.text)) | set(pieces(asked.clean))
    for phrase, code in _SIZE_WORDS.items():
        if re.search(rf"\b{phrase}\b", asked.clean):
            said.add(f"size:{code}")
    for found in re.finditer(r"\b(XXS|XS|S|M|L|XL|XXL|XXXL|2XL|3XL)\b", asked.text):
        said.add(f"size:{found.group(1).lower()}")
    for found in re.finditer(r"\b(xxs|xs|xl|xxl|xxxl|2xl|3xl)\b", asked.text, re.I):  # two letters are no word
        said.add(f"size:{found.group(1).lower()}")
    for found in re.finditer(r"\bsize\s+([a-z0-9]{1,4})\b", asked.text, re.I):
        said.add(f"size:{found.group(1).lower()}")
    positions = max(len(v.options) for v in product.variants)
    values = [[_value_of(v, i) for v in product.variants] for i in range(positions)]

    def score(variant: Variant) -> float:
        # Ties go to the variant more of whose words were said ("iphone 15 plus" is the Plus).
        total = 0.01 * sum(p in said for value in variant.options.values() for p in pieces(value))
        for i, value in enumerate(variant.options.values()):
            parts = pieces(value)
            if fold(value).replace(" ", "") in _SIZE_CODES:
                total += 1.0 if f"size:{fold(value).replace(' ', '')}" in said else 0.0
                continue
            words = [p for p in parts if not p.isdigit() and p not in _UNITS]
            if (
                parts
                and all(p in said for p in parts if p not in _UNITS or not words)
                or words
                and all(w in said for w in words)
            ):
                total += 1.0
            else:
                others = {p for j, other in enumerate(values[i]) if other != value for p in pieces(other)}
                telling = [p for p in parts if p not in others and p not in _UNITS and (len(p) > 1 or p.isdigit())]
                if any(p in said for p in telling):
                    total += 0.5
        return total

    scored = [(score(v), v) for v in product.variants]
    best = max(points for points, _ in scored)
    if best < 0.5:
        return _by_size(product, asked.size) if asked.size else []
    return [v for points, v in scored if points == best]


def _value_of(variant: Variant, position: int) -> str:
    values = list(variant.options.values())
    return values[position] if position < len(values) else ""


_FEET = re.compile(r"(\d+)\s*'\s*(\d+)?")


def _size_rank(value: str) -> float | None:
    low = fold(value).replace(" ", "")
    if low in _SIZE_ORDER:
        return float(_SIZE_ORDER.index(low))
    if feet := _FEET.match(value.strip()):  # a board's 6'2: six feet two
        return float(int(feet.group(1)) * 12 + int(feet.group(2) or 0))
    found = _NUMBER.findall(value)
    if found:
        return float(found[0].replace(",", "."))
    return None


def _by_size(product: Product, direction: int) -> list[Variant]:
    """The variant at the big (or small) end of the option that varies by size."""
    for position in range(max(len(v.options) for v in product.variants)):
        ranked = []
        for variant in product.variants:
            values = list(variant.options.values())
            rank = _size_rank(values[position]) if position < len(values) else None
            if rank is not None:
                ranked.append((rank, variant))
        if len({r for r, _ in ranked}) > 1:
            end = max(r for r, _ in ranked) if direction > 0 else min(r for r, _ in ranked)
            return [v for r, v in ranked if r == end]
    return []


def negated(text: str, word: str) -> bool:
    """Whether `text` says `word` with a negation just before it ("not waterproof", "no box
    spring", "not suitable for outdoor use")."""
    words = tokens(text)
    target = stem(fold(word))
    for i, w in enumerate(words):
        if stem(w) == target and any(n in _NEGATION for n in words[max(0, i - 4) : i]):
            return True
    return False


def mentions(text: str, word: str) -> bool:
    target = stem(fold(word))
    return any(stem(w) == target for w in tokens(text))
