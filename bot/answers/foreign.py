"""A shopper writing in another language than the shop's: told honestly, in their language,
that the assistant answers in English for now, and how to reach a person; the price and stock
of a product they name (names and prices read the same in any language)."""

from __future__ import annotations

from bot.answers.context import Context
from bot.answers.decline import reach_person
from bot.answers.phrases import phrase, stock_word
from bot.answers.plan import plan
from bot.knowledge import Effects, Grounding
from bot.knowledge.facts import money


def answer_foreign(ctx: Context) -> Grounding:
    asked = ctx.read(ctx.message)
    said = [phrase("english_only", ctx.language)]
    units = []
    offered = [n.product for n in asked.named if ctx.index.offered(n.product)]
    for product in offered[:2]:
        prices = sorted({v.price for v in product.variants})
        price = money(prices[0], ctx.index.currency, ctx.index.locale)
        if len(prices) > 1:
            price = f"{price} - {money(prices[-1], ctx.index.currency, ctx.index.locale)}"
        state = "in stock" if any(v.in_stock for v in product.variants) else "out of stock"
        said.append(f"{product.title}: {price}, {stock_word(state, ctx.language)}.")
        units.append(ctx.index.product_units[product.id][0])
    said.append(reach_person(ctx))
    profile = ctx.index.shop.profile
    return plan(
        said,
        units,
        notices=said,
        key_facts=[profile.support_email] if profile.support_email else ["/human"],
        effects=Effects(products=[p.id for p in offered[:2]]),
        direct=True,
        language=ctx.language,
    )
