"""Products the shop does not sell: one it never had, a draft or archived one, another brand,
another kind of thing. Said plainly ("We don't carry bedsheets."), with alternatives only of
the same kind, and said to be alternatives."""

from __future__ import annotations

from collections.abc import Sequence

from bot.answers.asked import Asked
from bot.answers.context import Context
from bot.answers.plan import plan
from bot.knowledge import Effects, Grounding
from bot.knowledge.catalog import Product
from bot.knowledge.facts import recommended, the
from bot.messages import QuickReply


def same_kind(ctx: Context, product: Product, most: int = 3) -> list[Product]:
    """Offered products of the kind of `product` (a draft, an archived one), closest name first."""
    kinds = ctx.index.names.kinds_of(product)
    if not kinds:
        return []
    words = set(product.title.lower().split())
    found = [p for p in ctx.index.names.of_kinds(kinds) if ctx.index.offered(p) and p.id != product.id]
    found = [p for p in found if any(v.orderable for v in p.variants)]
    found.sort(key=lambda p: (p.type != product.type, -len(words & set(p.title.lower().split()))))
    return found[:most]


def not_sold(ctx: Context, asked: Asked, what: str, alternatives: Sequence[Product] = ()) -> Grounding:
    said = [f"Sorry, we don't carry {what}."]
    units = []
    if alternatives:
        listed = recommended(alternatives, ctx.index.currency, ctx.index.locale)
        said.append(f"Similar things we do have, as alternatives: {listed}.")
        units = [ctx.index.product_units[p.id][0] for p in alternatives]
    return plan(
        said,
        units,
        notices=said,
        outcome="not_sold",
        quick=[
            QuickReply(label=p.title[:40], text=f"Tell me about {the(p.title, capital=False)}") for p in alternatives
        ],
        effects=Effects(gap=asked.text),
        direct=True,
    )


def not_sold_product(ctx: Context, asked: Asked, product: Product) -> Grounding:
    """A product the catalog has but does not offer (draft, archived, unpublished)."""
    return not_sold(ctx, asked, f"{the(product.title, capital=False)} at the moment", same_kind(ctx, product))
