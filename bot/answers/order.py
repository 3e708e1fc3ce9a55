"""Questions about one order: shown only for its number together with the e-mail on it (or one
the shopper proved earlier in the conversation); a wrong pair gets the same answer whether or
not the order exists."""

from __future__ import annotations

import re
from dataclasses import replace

from bot.answers.asked import Asked
from bot.answers.context import Context
from bot.answers.plan import plan
from bot.knowledge import Effects, Grounding
from bot.knowledge.facts import order_fact, order_slots
from bot.knowledge.order_lookup import OrderClaim
from bot.knowledge.orders import Order, digits
from bot.knowledge.slots import fill, order_reply

NOT_FOUND = (
    "I couldn't find an order with that order number and e-mail address together. Please check both: they need "
    "to match what was used when the order was placed."
)
ASK_FOR_BOTH = (
    "I can check that for you: please send me the order number together with the e-mail address it was placed with."
)
# "Where is my order?", "has it shipped?", "what's the status?": the tracking number is the answer.
_WHEREABOUTS = re.compile(
    r"\bwhere('s| is| are)\b|\btrack(ing)?\b|\bget here\b|\barriv(e|es|ing|al)\b|\bon (its|the) way\b|\bshipped\b|"
    r"\bstatus\b|\bupdate\b|\bhappen(ed|ing)?\b|\bwhen (will|does|do|should|is)\b[^.!?]*\b(come|deliver(ed)?|ship(ped)?|be here)\b",
    re.I,
)
_RETURNS = re.compile(r"\b(return|refund|send (it |them )?back|exchange)", re.I)


def order_plan(ctx: Context, asked: Asked, order: Order, effects: Effects) -> Grounding:
    index = ctx.index
    slots = order_slots(order, index.currency, index.variants, index.locale)
    said = fill(order_reply(slots), slots)[0]
    fact = order_fact(order, index.currency, index.variants, index.locale)
    grounding = plan([said], extra_facts=[fact], slots=slots, key_facts=[order.order_id], effects=effects)
    # Where a shipped order is: its tracking number is the answer ("what was in it?" needs none).
    if order.tracking and "tracking" in slots and _WHEREABOUTS.search(asked.text) and not _RETURNS.search(asked.text):
        return replace(grounding, required=[order.tracking])
    return grounding


async def answer_order(ctx: Context, asked: Asked, claim: OrderClaim | None, number: str | None) -> Grounding:
    """`claim`: a number and an e-mail the shopper gave; `number`: a number given without one."""
    lookup = ctx.index.orders
    if claim is not None:
        order = await lookup.verify(ctx.customer_id, claim)
        if order is None:
            return plan([NOT_FOUND], notices=[NOT_FOUND], effects=Effects(wrong_guess=True), direct=True)
        return order_plan(ctx, asked, order, Effects(proven_order=order.order_id))
    proven = await lookup.proven(ctx.customer_id)
    if number is not None:
        same = [o for o in proven if digits(o.order_id).endswith(digits(number))]
        if same:
            return order_plan(ctx, asked, same[-1], Effects())
        said = f"Thanks! To look up order {number}, please also send me the e-mail address it was placed with."
        return plan([said], notices=[said], direct=True)
    if proven:
        return order_plan(ctx, asked, proven[-1], Effects())
    return plan([ASK_FOR_BOTH], notices=[ASK_FOR_BOTH], direct=True)
