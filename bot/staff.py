"""The assistant's staff persona: what a member of the shop's team asks it in Slack.

Staff are trusted (the Slack channel admits only the shop's workspace, and optionally a user
group), so an order is shown without the shopper's e-mail check, and a customer can be looked
up by e-mail, order number or a linked identity ("telegram:12345", "web:<visitor>"). Anything
else is answered from the shop's policies and catalog, with the same grounding shoppers get.
Lookups are exact data, not model text: a wrong order status told to staff goes on to a
shopper."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from bot.knowledge.facts import fact_texts
from bot.messages import Source
from bot.store import Store
from bot.summary import sentiment_trend, summarize

if TYPE_CHECKING:
    from bot.knowledge.grounding import ShopKnowledge
    from bot.knowledge.orders import Order
    from bot.understanding import Understander

STAFF_HELP = (
    "Ask me about an order (`order 1021`), a customer (an e-mail, an order number, `telegram:<id>`, "
    "`web:<visitor>` or a customer id) or the shop's policies (`what is the return window?`). "
    "`/shopbot copy <product or brief>` writes marketing copy."
)
# Conversations are looked up for staff, so the desk can see what a customer was told.
_RECENT = 6
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_ORDER_SAID = re.compile(r"(?:order\s*(?:number|no\.?|#)?\s*|#)(\d{3,12})\b", re.I)
_NUMBER = re.compile(r"(?<![\w.@-])(\d{3,12})(?![\w.@-])")
_IDENTITY = re.compile(r"\b(web|telegram|cli|slack):([A-Za-z0-9_.:-]{1,128})")
_CUSTOMER_ID = re.compile(r"\b[0-9a-f]{32}\b")


@dataclass(frozen=True)
class StaffAnswer:
    text: str
    sources: list[Source] = field(default_factory=list)


class StaffAssistant:
    def __init__(self, store: Store, knowledge: ShopKnowledge, understander: Understander | None = None) -> None:
        self._store = store
        self._knowledge = knowledge
        self._understander = understander  # reads what a policy question is about, as for shoppers

    async def answer(self, text: str) -> StaffAnswer:
        asked = text.strip()
        if asked.lower().strip("?! ") in ("", "help", "hi", "hello"):
            return StaffAnswer(STAFF_HELP)
        parts: list[str] = []
        sources: list[Source] = []
        orders = self._knowledge.shop.orders
        said_orders = {m.group(1) for m in _ORDER_SAID.finditer(asked)}
        numbers = said_orders | {m.group(1) for m in _NUMBER.finditer(asked)}
        for number in sorted(numbers):
            order = await orders.get(number)
            if order is not None:
                parts.append(await self._order_card(order))
                sources.append(Source(title=f"Order {order.order_id}", ref=f"order:{order.order_id}"))
            elif number in said_orders:
                parts.append(f"There is no order {number}.")
        for email in sorted({m.group(0).lower() for m in _EMAIL.finditer(asked)}):
            parts.append(await self._email_card(email))
        customers: list[str] = []
        for channel, user in _IDENTITY.findall(asked):
            found = await self._store.find_customer(channel, user)
            parts += [] if found else [f"No customer has the identity {channel}:{user}."]
            customers += [found] if found else []
        customers += [c for c in _CUSTOMER_ID.findall(asked) if await self._store.customer_exists(c)]
        for customer_id in dict.fromkeys(customers):
            parts.append(await self.customer_card(customer_id))
        if parts:
            return StaffAnswer("\n\n".join(parts), sources)
        return await self._policy(asked)

    async def _order_card(self, order: Order) -> str:
        lines = [f"*Order {order.order_id}* ({order.email})", self._knowledge.order_text(order)]
        # The customer behind an order number: whoever proved it theirs in a conversation.
        customers = await self._store.customers_with_order(order.order_id)
        cards = [await self.customer_card(c) for c in customers]
        return "\n".join(lines + cards)

    async def _email_card(self, email: str) -> str:
        everything = getattr(self._knowledge.shop.orders, "all", None)
        found = [o for o in everything() if o.belongs_to(email)] if everything else []
        if not found:
            return f"No orders for {email}."
        lines = [f"*{email}*: {len(found)} order(s)"]
        lines += [f"• {o.order_id}: {o.status}, placed {o.placed_at.date().isoformat()}" for o in found]
        customers = {c for o in found for c in await self._store.customers_with_order(o.order_id)}
        cards = [await self.customer_card(c) for c in sorted(customers)]
        return "\n".join(lines + cards)

    async def customer_card(self, customer_id: str) -> str:
        identities = await self._store.identities(customer_id)
        history = await self._store.history(customer_id)
        orders = await self._store.remembered_orders(customer_id)
        preferences, interests = await self._store.taste(customer_id)
        status = await self._store.handover_status(customer_id)
        titles = {p.id: p.title for p in self._knowledge.shop.products}
        first, second = summarize(history)
        lines = [
            f"*Customer* `{customer_id}` on " + (", ".join(f"{c}:{u}" for c, u in identities) or "no channel"),
            f"Summary: {first}" + (f" {second}" if second else ""),
            f"Sentiment: {sentiment_trend(history)}",
        ]
        if status is not None:
            owner = f", with Slack user {status.owner}" if status.owner and status.state == "staff" else ""
            lines.append(f"Hand-over: {status.state}{owner} ({status.reason or 'asked'})")
        if orders:
            lines.append("Orders they proved are theirs: " + ", ".join(orders))
        if preferences or interests:
            liked = ", ".join(preferences[:5])
            seen = ", ".join(titles.get(i, i) for i in interests[:5])
            lines.append("Taste: " + "; ".join(x for x in (liked, f"asked about {seen}" if seen else "") if x))
        recent = [m for m in history if m.text][-_RECENT:]
        lines += [f"> {m.role}: {' '.join(m.text.split())[:300]}" for m in recent]
        return "\n".join(lines)

    async def _policy(self, asked: str) -> StaffAnswer:
        understanding = await self._understander.understand(asked) if self._understander is not None else None
        grounding = await self._knowledge.ground("staff-desk", asked, [], understanding)
        if grounding.safe_answer:
            text = grounding.safe_answer
        elif grounding.facts:
            text = fact_texts(grounding.facts[:3])
        else:
            return StaffAnswer("I found nothing in the shop's policies or catalog about that. " + STAFF_HELP)
        return StaffAnswer(text, grounding.sources)
