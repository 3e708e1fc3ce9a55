"""Requests for a pick ("a waterproof jacket under $100", "a tent for me and my two kids", "a
chair that holds at least 300 lbs"): only products of the kind asked for, within the budget,
big enough, orderable, in the size or colour asked, with what was asked of them (a word their
details say and do not deny: "not for outdoor use" is no outdoor table), best match by meaning
first. Nothing that fits is said, with the closest of the kind as alternatives."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.answers.asked import Asked
from bot.answers.context import Context, mentions, negated
from bot.answers.measures import MEASURE, in_base, measures
from bot.answers.not_sold import not_sold
from bot.answers.plan import plan
from bot.answers.request import AUDIENCES, Request
from bot.knowledge import Effects, Grounding
from bot.knowledge.catalog import Product, Variant
from bot.knowledge.facts import recommended, the
from bot.knowledge.text import STOPWORDS, fold, stem, tokens
from bot.messages import QuickReply

# Words of a request that say it is a request, not what is wanted.
_ASKING = set(
    [
        "recommend",
        "recommendation",
        "recommendations",
        "suggest",
        "suggestion",
        "suggestions",
        "looking",
        "look",
        "need",
        "needs",
        "want",
        "wanted",
        "something",
        "anything",
        "good",
        "best",
        "nice",
        "great",
        "decent",
        "buy",
        "get",
        "got",
        "have",
        "sell",
        "carry",
        "stock",
        "ideas",
        "idea",
        "options",
        "option",
        "any",
        "some",
        "gift",
        "gifts",
        "present",
        "under",
        "below",
        "over",
        "above",
        "less",
        "more",
        "than",
        "max",
        "budget",
        "price",
        "cheap",
        "cheaper",
        "cheapest",
        "around",
        "about",
        "between",
        "dollars",
        "dollar",
        "bucks",
        "euros",
        "euro",
        "pounds",
        "quid",
        "yen",
        "usd",
        "eur",
        "gbp",
        "aud",
        "cad",
        "size",
        "sized",
        "person",
        "people",
        "persons",
        "one",
        "ones",
        "which",
        "what",
        "would",
        "should",
        "could",
        "me",
        "my",
        "us",
        "our",
        "kind",
        "type",
        "new",
        "please",
        "show",
        "find",
        "shopping",
        "least",
        "most",
        "holds",
        "hold",
        "seats",
        "seat",
        "sleeps",
        "fits",
        "fit",
        "that",
        "can",
        "does",
        "will",
        "works",
        "work",
    ]
)
_CAPACITY = re.compile(
    r"\b(\d{1,2})(?:\s*(?:-|to)\s*(\d{1,2}))?\s*[- ]?(?:person|people|p|seater|seat|man)\b|"
    r"\b(?:sleeps|seats|fits)\s+(?:up to\s+)?(\d{1,2})(?:\s*(?:-|to)\s*(\d{1,2}))?\b",
    re.I,
)
_SALE = {"sale", "discount", "discounted", "reduced", "deal", "deals", "clearance", "offers"}
# "at least 300 lbs", "under 2 kg", "over 1000 lumens": a limit on a measured quantity.
_LIMIT = re.compile(
    r"\b(at least|min(?:imum)?|over|more than|above|under|below|less than|max(?:imum)?|up to|no more than)\s*"
    rf"({MEASURE.pattern})",
    re.I,
)
# Picks this much less relevant than the best are left out: three picks of which one fits worse
# is a worse answer than two that fit.
_RELEVANCE_GAP = 0.08
_AUDIENCE_WORDS = {"daughter": "kids", "son": "kids", "grandson": "kids", "granddaughter": "kids", "toddler": "kids"}


@dataclass(frozen=True)
class Limit:
    base: str
    value: float
    at_least: bool

    def met(self, text: str) -> bool:
        return any(
            (m.value >= self.value) if self.at_least else (m.value <= self.value)
            for m in measures(text)
            if m.base == self.base
        )


def limits(text: str) -> list[Limit]:
    found = []
    for match in _LIMIT.finditer(text):
        quantity = in_base(match.group(3), match.group(4))
        at_least = match.group(1).lower() in ("at least", "min", "minimum", "over", "more than", "above")
        found.append(Limit(quantity.base, quantity.value, at_least))
    return found


def capacity(product: Product) -> int | None:
    found = _CAPACITY.search(f"{product.title} {product.description}")
    if not found:
        return None
    numbers = [int(g) for g in found.groups() if g]
    return max(numbers) if numbers else None


async def answer_pick(ctx: Context, asked: Asked, request: Request | None, kinds: set[str]) -> Grounding:
    index = ctx.index
    offered = index.shop.offered
    if kinds:
        # The products with the most of the kinds named: "dining table" is a dining table, not
        # any table.
        counted = [(len(kinds & index.names.kinds_of(p)), p) for p in offered]
        top = max((n for n, _ in counted), default=0)
        candidates = [p for n, p in counted if n and n == top]
    else:
        candidates = list(offered)
    option_values = {fold(value) for p in candidates for v in p.variants for value in v.options.values()}
    words = [w for w in asked.words if w not in STOPWORDS and w not in _ASKING and not any(c.isdigit() for c in w)]
    wanted_options = [w for w in words if w in option_values and len(w) > 1]
    wanted_options += [
        m.group(1).lower()
        for m in re.finditer(r"\b(XXS|XS|S|M|L|XL|XXL)\b", asked.text)
        if m.group(1).lower() in option_values
    ]
    sale = any(w in _SALE for w in asked.words) or "on sale" in asked.clean
    audience = request.audience if request else None
    audience = audience or next((_AUDIENCE_WORDS[w] for w in asked.words if w in _AUDIENCE_WORDS), None)
    attributes = [
        w
        for w in words
        if not index.names.kinds_named([w]) & kinds
        and w not in option_values
        and w not in _SALE
        and w not in AUDIENCES
        and w not in _AUDIENCE_WORDS
        and len(w) > 2
    ]
    measured = limits(asked.text)

    def variants_fitting(product: Product) -> list[Variant]:
        fitting = [v for v in product.variants if v.orderable]
        if asked.budget:
            fitting = [v for v in fitting if asked.budget.fits(v.price)]
        if wanted_options:
            fitting = [v for v in fitting if all(w in {fold(x) for x in v.options.values()} for w in wanted_options)]
        if sale:
            fitting = [v for v in fitting if v.on_sale]
        return fitting

    text = {p.id: f"{p.title} {p.type} {' '.join(p.tags)} {p.description}" for p in candidates}
    fit = []
    for product in candidates:
        if not variants_fitting(product):
            continue
        if asked.people and (room := capacity(product)) is not None and room < asked.people:
            continue
        if (
            audience
            and not mentions(text[product.id], audience)
            and not any(
                mentions(text[product.id], a) for a in ("kid", "child", "junior", "youth") if audience == "kids"
            )
        ):
            continue
        if measured and not all(limit.met(text[product.id]) for limit in measured):
            continue
        fit.append(product)
    # A word some candidate says (and does not deny) must be said by every pick ("silk scarf");
    # one every candidate that says it denies empties the pick ("an outdoor dining table").
    for word in attributes:
        having = [p for p in fit if mentions(text[p.id], word) and not negated(text[p.id], word)]
        if having:
            fit = having
        elif any(negated(text[p.id], word) for p in candidates) and not any(
            mentions(text[p.id], word) and not negated(text[p.id], word) for p in candidates
        ):
            fit = []
            break
    what = request.thing if request else " ".join(asked.content) or "that"
    if not fit:
        if audience and candidates:
            return not_sold(ctx, asked, f"{what} for {audience}")
        closest = [p for p in candidates if any(v.orderable for v in p.variants)] if kinds else []
        ranked_closest = await _ranked(ctx, asked, closest) if closest else []
        return not_sold(ctx, asked, what, [p for p, _ in ranked_closest[:2]])
    ranked = await _ranked(ctx, asked, fit)
    if not kinds and ctx.interests:
        # A returning shopper's kinds first (not the very products: they know those already).
        liked = [p for p in index.shop.offered if p.id in set(ctx.interests)]
        liked_kinds = {k for p in liked for k in index.names.kinds_of(p)}
        ranked = [r for r in ranked if r[0] not in liked] or ranked
        ranked.sort(key=lambda r: not (index.names.kinds_of(r[0]) & liked_kinds))  # stable: relevance within
    best_score = max(score for _, score in ranked[:1])
    picks = [p for p, score in ranked[:3] if score >= best_score - _RELEVANCE_GAP or not kinds and ctx.interests]
    listed = recommended(picks, index.currency, index.locale)
    said = f"Here is what I'd suggest: {listed}."
    units = [index.product_units[p.id][0] for p in picks]
    return plan(
        [said],
        units,
        slots={"products": listed},
        key_facts=[p.title for p in picks],
        quick=[QuickReply(label=p.title[:40], text=f"Tell me about {the(p.title, capital=False)}") for p in picks],
        effects=Effects(),
        direct=False,
    )


async def _ranked(ctx: Context, asked: Asked, products: Sequence[Product]) -> list[tuple[Product, float]]:
    """Best match first: how close the request is in meaning to the closest sentence of each
    product (its offer, a detail), then cheaper first."""
    index = ctx.index
    # What the shopper said they like shapes the ranking ("I prefer lightweight gear").
    query = await ctx.query(asked, extra=" ".join(ctx.preferences[:3])) if ctx.preferences else await ctx.query(asked)
    scores = {}
    for product in products:
        found = index.evidence.search(query, index.product_units[product.id], k=1)
        scores[product.id] = found[0].score if found else 0.0
    ranked = sorted(products, key=lambda p: (-scores[p.id], min(v.price for v in p.variants)))
    return [(p, scores[p.id]) for p in ranked]


def attribute_stems(words: Sequence[str]) -> set[str]:
    return {stem(w) for w in words if w not in STOPWORDS and tokens(w)}
