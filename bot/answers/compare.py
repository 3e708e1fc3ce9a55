"""Comparisons ("which is lighter, the Featherline 1P or the Lodgepole 2P?", "difference between
X and Y", "which one is more secure?"): every product named, side by side, each with the
evidence for what is compared, and which one wins when the evidence gives both figures in units
that compare. A plain "what's the difference?" gets each one's price and what it is."""

from __future__ import annotations

import re

from bot.answers.asked import Asked
from bot.answers.context import Context, in_order, named_variants, pieces
from bot.answers.measures import measure, measures
from bot.answers.plan import plan
from bot.knowledge import Effects, Grounding
from bot.knowledge.catalog import Product
from bot.knowledge.evidence import Scored, Unit
from bot.knowledge.facts import the
from bot.knowledge.text import stem, tokens

# What a comparative word compares (search words, the measure's base unit) and which way is "more".
_ASPECTS: dict[str, tuple[str, str | None, int]] = {
    "lighter": ("weight", "g", -1), "heavier": ("weight", "g", 1),
    "bigger": ("size dimensions", None, 1), "larger": ("size dimensions", None, 1),
    "smaller": ("size dimensions", None, -1), "longer": ("length", "mm", 1), "shorter": ("length", "mm", -1),
    "taller": ("height", "mm", 1), "wider": ("width", "mm", 1), "narrower": ("width", "mm", -1),
    "thicker": ("thickness", "mm", 1), "thinner": ("thickness", "mm", -1), "brighter": ("brightness lumens", "lm", 1),
    "warmer": ("warmth temperature rating", None, 1), "faster": ("speed charging", None, 1),
    "stronger": ("strength", None, 1), "softer": ("soft feel", None, 1), "quieter": ("noise", None, -1),
    "louder": ("volume", None, 1), "holds more": ("capacity holds", None, 1), "hold more": ("capacity holds", None, 1),
    "more": ("", None, 1), "better": ("", None, 1),
}  # fmt: skip
# The plain word of a comparative, which product details use ("62 in tall", "3 cm wide").
_PLAIN = {
    "lighter": "light weight", "heavier": "heavy weight", "longer": "long", "shorter": "short", "taller": "tall",
    "wider": "wide", "narrower": "narrow", "thicker": "thick", "thinner": "thin", "brighter": "bright",
    "warmer": "warm", "bigger": "big", "larger": "large", "smaller": "small",
}  # fmt: skip
# "Maximum output: 800 lumens", "Weight: 640 g": a product detail written as a named value.
_SPEC = re.compile(r"^\s*([A-Za-z][\w /&()-]{1,30}?)\s*:\s*(.+)$")
_PRICE = re.compile(
    r"\b(cheaper|cheapest|pricier|expensive|price|prices|cost|costs|budget|how much(?! (?:weight|space|room|load|power)))\b",
    re.I,
)
# Words of a comparison that say it is one, not what is compared.
_COMPARING = set(
    [
        "which",
        "one",
        "ones",
        "is",
        "are",
        "better",
        "more",
        "less",
        "difference",
        "differ",
        "different",
        "diff",
        "vs",
        "versus",
        "compare",
        "comparison",
        "or",
        "and",
        "the",
        "between",
        "what",
        "whats",
        "how",
        "do",
        "does",
        "between",
        "wise",
    ]
)


def _aspect(asked: Asked) -> tuple[str, str | None, int, str] | None:
    for word, (search, base, direction) in sorted(_ASPECTS.items(), key=lambda item: -len(item[0])):
        if re.search(rf"\b{word}\b", asked.clean):
            return search, base, direction, word
    return None


async def answer_compare(ctx: Context, asked: Asked, products: list[Product]) -> Grounding:
    index = ctx.index
    effects = Effects(products=[p.id for p in products])
    names = {stem(w) for p in products for w in tokens(p.title)} | {
        k for p in products for k in index.names.kinds_of(p)
    }
    asked_about = [w for w in asked.content if stem(w) not in names and w not in _COMPARING and not _PRICE.fullmatch(w)]
    aspect = _aspect(asked)
    priced = _by_price(ctx, asked, products, effects) if _PRICE.search(asked.clean) else None
    if priced is not None and not asked_about and (aspect is None or aspect[0] == ""):
        return priced
    if aspect is None and not asked_about:
        return _differences(ctx, products, effects)
    words = [aspect[0] if aspect else "", _PLAIN.get(aspect[3], "") if aspect else "", *asked_about]
    search_words = " ".join(w for w in words if w)
    query = await ctx.encode(search_words or asked.clean)
    candidates: list[list[Scored]] = []
    for product in products:
        units = [u for u in index.product_units[product.id] if u.kind == "detail"]
        base = aspect[1] if aspect else None
        measured = [u for u in units if measure(u.text, base)] if base else []
        candidates.append(index.evidence.search(query, measured or units, k=3))
    chosen = [
        (product, unit or index.product_units[product.id][0])
        for product, unit in zip(products, _parallel(candidates), strict=True)
    ]
    said = [f"{the(p.title)}: {u.text.rstrip('.')}." for p, u in chosen]
    if aspect is not None and aspect[1] is not None:
        values = [measure(u.text, aspect[1], aspect[0]) for _, u in chosen]
        known = [m for m in values if m is not None]
        if len(known) == len(chosen) and len({m.value for m in known}) == len(known):
            pick = (max if aspect[2] > 0 else min)(range(len(chosen)), key=lambda i: known[i].value)
            said.append(f"So {the(chosen[pick][0].title, capital=False)} is {aspect[3]}.")
    units = [u for _, u in chosen]
    if priced is not None:  # "width and price difference?"
        said = [priced.safe_answer or "", *said]
        units = [u for f in priced.facts for u in index.product_units.get(_id_of(ctx, f.source), [])[:1]] + units
    return plan(said, units, effects=effects, notices=said, key_facts=[p.title for p in products], direct=True)


# A sentence a little less close to the question is taken when it states what the other product's
# does ("10 ft drop tested" beside "6 ft drop tested", not "dual-layer protection").
_PARALLEL_MARGIN = 0.3
_RATING = re.compile(r"\b\d+(?:[.,]\d+)?\s*/\s*\d+\b")


def _figures(text: str) -> set[str]:
    """What a sentence states a figure of: the measures' base units, a rating out of ten, a share."""
    found = {m.base for m in measures(text)}
    if _RATING.search(text):
        found.add("rating")
    if "%" in text:
        found.add("percent")
    return found


def _parallel(candidates: list[list[Scored]]) -> list[Unit | None]:
    """Each product's sentence for the comparison: its best, unless every product has one nearly
    as close that states the same kind of figure, which is then what compares."""
    firsts = [found[0].unit if found else None for found in candidates]
    if not all(candidates):
        return firsts
    figures = {id(s): _figures(s.unit.text) for found in candidates for s in found}
    # Only a kind of figure some product's best sentence states: what the question is about.
    ranked = sorted(
        {kind for found in candidates for kind in figures[id(found[0])]},
        key=lambda kind: (-max(s.score for found in candidates for s in found if kind in figures[id(s)]), kind),
    )
    for kind in ranked:
        close = [
            [s.unit for s in found if kind in figures[id(s)] and s.score >= found[0].score - _PARALLEL_MARGIN]
            for found in candidates
        ]
        if all(close):
            return [units[0] for units in close]
    return firsts


async def compare_variants(ctx: Context, asked: Asked, product: Product, values: list[str]) -> Grounding:
    """ "dry or wet lube?", "the presta 48 mm or the 60 mm?": options of one product compared, each
    by the details that name it and by its price."""
    index = ctx.index
    details = [u for u in index.product_units[product.id] if u.kind == "detail"]
    said: list[str] = []
    units: list[Unit] = []
    for value in values:
        naming = [u for u in details if _says(u.text, value) and u not in units]
        units += naming[:2]
        said += [u.text.rstrip(".") + "." for u in naming[:2]]
    # Of each value, the variants the question names ("the 2 kg bags, chicken or salmon?"), not every size.
    named = named_variants(product, asked)
    chosen = [
        [v for v in named if value in v.options.values()]
        or [v for v in product.variants if value in v.options.values()]
        for value in values
    ]
    alike = {(v.price, v.in_stock) for variants in chosen for v in variants}
    if len(alike) == 1:
        said.append(
            f"Each is {index.offer_phrase(product, chosen[0][:1]).split(': ', 1)[-1]}."
        )  # "Each is $14.95, in stock."
    else:
        for value, variants in zip(values, chosen, strict=True):
            offer = index.offer_phrase(product, variants)
            said.append((offer if ": " in offer else f"{value}: {offer}").rstrip(".") + ".")
    units.insert(0, index.product_units[product.id][0])
    said.insert(0, f"{the(product.title)} comes as {' or '.join(values)}.")
    effects = Effects(products=[product.id])
    return plan(said, units, effects=effects, notices=said, key_facts=[product.title], direct=True)


def compared_values(product: Product, asked: Asked) -> list[str]:
    """The values of one option of `product` that a comparison names ("dry or wet", "48mm and
    60mm"): two or more, or none."""
    variants = named_variants(product, asked)
    said = set(pieces(asked.text))
    positions = max((len(v.options) for v in product.variants), default=0)
    for position in range(positions):
        values = list(dict.fromkeys(list(v.options.values())[position] for v in variants if len(v.options) > position))
        # Every piece of each value said ("presta 48mm and 60mm": presta, 48, 60, mm), and one
        # that tells it from the others.
        named = [value for value in values if _telling(product, position, value) & said and set(pieces(value)) <= said]
        if len(named) >= 2:
            return named
    return []


def _says(text: str, value: str) -> bool:
    """Whether a detail names an option value, its pieces together ("Presta 60 mm", not "60" and "mm" apart)."""
    return in_order(pieces(value), pieces(text))


def _telling(product: Product, position: int, value: str) -> set[str]:
    """The pieces of an option value the other values of that option do not have ("60" of "Presta 60 mm")."""
    others = {
        piece
        for v in product.variants
        if len(v.options) > position and (other := list(v.options.values())[position]) != value
        for piece in pieces(other)
    }
    return set(pieces(value)) - others


def _id_of(ctx: Context, source: object) -> str:
    title = getattr(source, "title", "")
    return next((p.id for p in ctx.index.shop.offered if p.title == title), "")


def _differences(ctx: Context, products: list[Product], effects: Effects) -> Grounding:
    """ "What's the difference?": the named values the products differ in ("Maximum output: 800
    lumens" against "1500 lumens", "Waterproof: IPX6" against "IPX7"), and each one's price; a
    product described in prose, by its first sentence."""
    index = ctx.index
    specs: list[dict[str, Unit]] = []
    for product in products:
        found: dict[str, Unit] = {}
        for unit in index.product_units[product.id]:
            match = _SPEC.match(unit.text) if unit.kind == "detail" else None
            if match:
                found.setdefault(match.group(1).strip().lower(), unit)
        specs.append(found)
    shared = [key for key in specs[0] if all(key in other for other in specs[1:])]
    differing = [
        key
        for key in shared
        if len({_SPEC.match(spec[key].text).group(2).strip().lower() for spec in specs}) > 1  # type: ignore[union-attr]
    ][:3]
    said, units = [], []
    for product, spec in zip(products, specs, strict=True):
        offer = index.product_units[product.id][0]
        if differing:
            details = [spec[key] for key in differing]
        else:
            first = next((u for u in index.product_units[product.id] if u.kind == "detail"), None)
            details = [first] if first else []
        text = " ".join(d.text.rstrip(".") + "." for d in details)
        said.append(
            f"{text} {offer.text}".strip()
            if text.startswith(product.title)
            else f"{the(product.title)}: {text} {offer.text}".strip()
        )
        units += [offer, *details]
    return plan(said, units, effects=effects, notices=said, key_facts=[p.title for p in products], direct=True)


def _by_price(ctx: Context, asked: Asked, products: list[Product], effects: Effects) -> Grounding:
    """Each one's price (of the variants asked about), and which is cheaper."""
    index = ctx.index
    said = []
    lows = {}
    for product in products:
        variants = named_variants(product, asked) or None
        said.append(index.offer(product, variants))
        chosen = variants or product.variants
        lows[product.id] = min((v.price for v in chosen if v.orderable), default=min(v.price for v in chosen))
    units = [index.product_units[p.id][0] for p in products]
    if len(set(lows.values())) == len(products):
        cheapest = min(products, key=lambda p: lows[p.id])
        said.append(f"So {the(cheapest.title, capital=False)} is the less expensive.")
    return plan(said, units, effects=effects, notices=said, key_facts=[p.title for p in products], direct=True)
