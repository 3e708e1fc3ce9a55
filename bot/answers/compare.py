"""Comparisons ("which is lighter, the Featherline 1P or the Lodgepole 2P?", "difference between
X and Y"): every product named, side by side, each with the evidence for what is compared, and
which one wins when the evidence gives both figures in units that compare."""

from __future__ import annotations

import re
from decimal import Decimal

from bot.answers.asked import Asked
from bot.answers.context import Context
from bot.answers.plan import plan
from bot.knowledge import Effects, Grounding
from bot.knowledge.catalog import Product
from bot.knowledge.evidence import Unit

# What a comparative word compares, and which way is "more".
_ASPECTS: dict[str, tuple[str, int]] = {
    "lighter": ("weight", -1), "heavier": ("weight", 1),
    "cheaper": ("price", -1), "less expensive": ("price", -1), "pricier": ("price", 1), "more expensive": ("price", 1),
    "bigger": ("size dimensions capacity", 1), "larger": ("size dimensions capacity", 1),
    "smaller": ("size dimensions capacity", -1),
    "longer": ("length", 1), "shorter": ("length", -1), "taller": ("height", 1),
    "wider": ("width", 1), "narrower": ("width", -1), "thicker": ("thickness", 1), "thinner": ("thickness", -1),
    "warmer": ("warmth temperature rating", 1), "brighter": ("brightness lumens", 1),
    "faster": ("speed charging", 1), "stronger": ("strength", 1), "softer": ("soft feel", 1),
    "quieter": ("noise", -1), "louder": ("volume", 1),
}  # fmt: skip
_MEASURE = re.compile(
    r"(\d+(?:[.,]\d+)?)\s*(kg|g|lbs?|oz|cm|mm|m|in|inches|inch|\"|ft|l|ml|litres?|liters?|lumens|lm|mah|w)\b", re.I
)
_TO_BASE = {
    "kg": ("g", 1000), "g": ("g", 1), "lb": ("g", 453.592), "lbs": ("g", 453.592), "oz": ("g", 28.3495),
    "cm": ("mm", 10), "mm": ("mm", 1), "m": ("mm", 1000), "in": ("mm", 25.4), "inch": ("mm", 25.4),
    "inches": ("mm", 25.4), '"': ("mm", 25.4), "ft": ("mm", 304.8),
    "l": ("ml", 1000), "ml": ("ml", 1), "litre": ("ml", 1000), "litres": ("ml", 1000), "liter": ("ml", 1000),
    "liters": ("ml", 1000), "lumens": ("lm", 1), "lm": ("lm", 1), "mah": ("mah", 1), "w": ("w", 1),
}  # fmt: skip


def _measure(text: str) -> tuple[str, float] | None:
    found = _MEASURE.search(text)
    if not found:
        return None
    base, factor = _TO_BASE[found.group(2).lower()]
    return base, float(found.group(1).replace(",", ".")) * factor


def aspect_of(asked: Asked) -> tuple[str, int] | None:
    text = asked.clean
    for word, aspect in _ASPECTS.items():
        if re.search(rf"\b{word}\b", text):
            return aspect
    return None


async def answer_compare(ctx: Context, asked: Asked, products: list[Product]) -> Grounding:
    index = ctx.index
    aspect = aspect_of(asked)
    effects = Effects(products=[p.id for p in products])
    if aspect is not None and aspect[0] == "price":
        lows = {p.id: min((v.price for v in p.variants if v.orderable), default=min(v.price for v in p.variants)) for p in products}
        units = [index.product_units[p.id][0] for p in products]
        said = [u.text for u in units]
        ranked = sorted(products, key=lambda p: lows[p.id] * (1 if aspect[1] < 0 else -1))
        if len({lows[p.id] for p in products}) == len(products):
            word = "cheaper" if aspect[1] < 0 else "more expensive"
            said.append(f"So the {ranked[0].title} is {word}.")
        return plan(said, units, effects=effects, notices=said[len(units):], key_facts=[p.title for p in products], direct=True)
    query_text = f"{aspect[0]} {asked.clean}" if aspect else asked.clean
    query = await ctx.encode(query_text)
    chosen: list[tuple[Product, Unit]] = []
    for product in products:
        found = index.evidence.search(query, [u for u in index.product_units[product.id] if u.kind == "detail"], k=1)
        unit = found[0].unit if found and found[0].score >= ctx.thresholds.detail else index.product_units[product.id][0]
        chosen.append((product, unit))
    said = [f"The {p.title}: {u.text.rstrip('.')}." for p, u in chosen]
    if aspect is not None:
        measures = [_measure(u.text) for _, u in chosen]
        if all(measures) and len({m[0] for m in measures if m}) == 1 and len({m[1] for m in measures if m}) == len(chosen):
            best = (max if aspect[1] > 0 else min)(range(len(chosen)), key=lambda i: measures[i][1])  # type: ignore[index]
            word = next(w for w, a in _ASPECTS.items() if a == aspect)
            said.append(f"So the {chosen[best][0].title} is {word}.")
    return plan(
        said,
        [u for _, u in chosen],
        effects=effects,
        notices=said,
        key_facts=[p.title for p in products],
        direct=True,
    )


def _decimal(value: float) -> Decimal:
    return Decimal(str(value))
