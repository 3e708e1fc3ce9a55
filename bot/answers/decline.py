"""The honest "I don't know": said plainly, with what the assistant can help with and who can
help with the rest, and recorded as a knowledge gap (a question the shop's data does not
answer, for the shop to add)."""

from __future__ import annotations

from dataclasses import replace

from bot.answers.asked import Asked
from bot.answers.context import Context
from bot.answers.phrases import phrase
from bot.answers.plan import plan
from bot.knowledge import Effects, Grounding

_LEAD = "I don't know that, I'm afraid: it isn't in the information I have about our shop."
_CAN = "I can help with our products, your orders, shipping, returns and payment."


def reach_person(ctx: Context) -> str:
    email = ctx.index.shop.profile.support_email
    if email:
        return phrase("reach_person_email", ctx.language, email=email)
    return phrase("reach_person", ctx.language)


def decline(ctx: Context, asked: Asked, *, lead: str = _LEAD, effects: Effects | None = None) -> Grounding:
    said = [lead, _CAN, reach_person(ctx)]
    return plan(
        said,
        notices=said,
        outcome="declined",
        effects=replace(effects or Effects(), gap=asked.text),
        direct=True,
        language=ctx.language,
    )
