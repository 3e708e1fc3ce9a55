"""Requests for a pick ("a waterproof jacket under $100", "a tent for me and my two kids"): only
products of the kind asked for, within the budget, big enough, orderable, with what was asked
of them (a word the product's details say and do not deny: "not for outdoor use" is no outdoor
table), best match first. Nothing that fits is said, with what comes closest as alternatives."""

from __future__ import annotations

import re
from collections.abc import Sequence

from bot.answers.asked import Asked
from bot.answers.context import Context, mentions, negated
from bot.answers.not_sold import not_sold
from bot.answers.plan import plan
from bot.answers.request import AUDIENCES, Request
from bot.knowledge import Effects, Grounding
from bot.knowledge.catalog import Product, Variant
from bot.knowledge.facts import recommended
from bot.knowledge.text import STOPWORDS, fold, stem, tokens
from bot.messages import QuickReply

# Words of a request that say it is a request, not what is wanted.
_ASKING = set(
    """recommend recommendation recommendations suggest suggestion suggestions looking look need needs want wanted
    something anything good best nice great buy get got have sell carry stock ideas idea options option any some
    gift gifts present under below over above less more than max budget price cheap cheaper cheapest around about
    between dollars dollar bucks euros euro pounds quid yen usd eur gbp aud cad size sized person people persons
    one ones which what would should could me my us our kind type new please show find shopping""".split()
)
_CAPACITY = re.compile(r"\b(\d{1,2})\s*[- ]?(?:person|people|p|seater|seat|man)\b|\b(?:sleeps|seats|fits)\s+(\d{1,2})\b", re.I)
_SALE = {"sale", "discount", "discounted", "reduced", "deal", "deals", "clearance", "offer", "offers"}


def capacity(product: Product) -> int | None:
    found = _CAPACITY.search(f"{product.title} {product.description}")
    if not found:
        return None
    return int(found.group(1) or found.group(2))


def _price(product: Product, variants: Sequence[Variant]) -> float:
    return float(min(v.price for v in variants))


def answer_pick(ctx: Context, asked: Asked, request: Request | None, kinds: set[str]) -> Grounding:
    index = ctx.index
    offered = index.shop.offered
    candidates = [p for p in offered if kinds & index.names.kinds_of(p)] if kinds else list(offered)
    option_values = {fold(value) for p in offered for v in p.variants for value in v.options.values()}
    words = [w for w in asked.words if w not in STOPWORDS and w not in _ASKING and not w.isdigit()]
    kind_stems = set(kinds) | {stem(w) for w in words if stem(w) in index.names.kinds}
    wanted_options = [w for w in words if w in option_values and len(w) > 2 or w.upper() in asked.text.split()]
    wanted_options = [w for w in wanted_options if w in option_values]
    sale = any(w in _SALE for w in asked.words)
    attributes = [
        w
        for w in words
        if stem(w) not in kind_stems and w not in option_values and w not in _SALE and w not in AUDIENCES and len(w) > 2
    ]
    audience = request.audience if request else None

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
        if audience and not mentions(text[product.id], audience):
            continue
        fit.append(product)
    # Words some candidate says (and does not deny) must be said by every pick; words no
    # candidate says are left to the ranking ("something I can throw in the wash").
    for word in attributes:
        having = [p for p in fit if mentions(text[p.id], word) and not negated(text[p.id], word)]
        denying = [p for p in candidates if negated(text[p.id], word)]
        if having:
            fit = having
        elif denying:
            fit = []  # "an outdoor dining table": the tables say "not for outdoor use"
            break
    what = request.thing if request else " ".join(asked.content) or "that"
    if audience and not fit and candidates:
        return not_sold(ctx, asked, f"{what} for {audience}")
    if not fit:
        closest = [p for p in candidates if any(v.orderable for v in p.variants)][:3] if kinds else []
        return not_sold(ctx, asked, what if kinds else what, closest[:2])
    ranked = _ranked(ctx, asked, fit)
    picks = ranked[:3]
    listed = recommended(picks, index.currency, index.locale)
    said = f"Here is what I'd suggest: {listed}."
    units = [index.product_units[p.id][0] for p in picks]
    return plan(
        [said],
        units,
        slots={"products": listed},
        key_facts=[p.title for p in picks],
        quick=[QuickReply(label=p.title[:40], text=f"Tell me about the {p.title}") for p in picks],
        effects=Effects(),
        direct=False,
    )


def _ranked(ctx: Context, asked: Asked, products: list[Product]) -> list[Product]:
    """Best match first by the words the request and each product's units share (a request's
    meaning is close to many products of a kind; its words tell them apart), then cheaper first."""
    wanted = {stem(w) for w in asked.content}

    def shared(product: Product) -> int:
        return len(wanted & {stem(w) for w in tokens(f"{product.title} {product.description}")})

    return sorted(products, key=lambda p: (-shared(p), min(v.price for v in p.variants)))
