"""`ShopKnowledge`: the Knowledge the engine uses for a shop. It holds the shop's index (rebuilt
whole when the store folder changes) and hands each message to the answerers (bot.answers),
which decide what the reply says; the engine has it phrased and checked."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import datetime

from bot.answers.phrases import phrase
from bot.answers.router import Answers
from bot.knowledge import Grounding
from bot.knowledge.catalog import Product
from bot.knowledge.facts import order_fact
from bot.knowledge.hours import next_opening, open_now, when
from bot.knowledge.index import ShopIndex, build_index
from bot.knowledge.orders import Order
from bot.knowledge.retrieval import Query
from bot.knowledge.shop import Shop
from bot.knowledge.text import tokens
from bot.messages import HandOverReason, StoredMessage
from bot.store import Store
from bot.understanding import Understanding
from bot.understanding.encoder import SentenceEncoder


class ShopKnowledge:
    def __init__(
        self, shop: Shop, store: Store, encoder: SentenceEncoder | None = None, answers: Answers | None = None
    ) -> None:
        self._store = store
        self._encoder = encoder
        self.answers = answers or Answers()
        self.replace(shop)

    def replace(self, shop: Shop) -> None:
        """Serve another (or a re-read) store folder from the next message on. The new index is
        built before anything is swapped, and the swap is one assignment. Blocking."""
        self._index = build_index(shop, self._store, self._encoder)

    @property
    def index(self) -> ShopIndex:
        return self._index

    @property
    def shop(self) -> Shop:
        return self._index.shop

    async def encode(self, text: str) -> Query:
        """A text as a query vector, off the event loop (the encoder remembers recent texts: the
        message itself was read by the understanding's pass already)."""
        encoder = self._encoder
        if encoder is None or not text.strip():
            return Query(text, None)
        vector = await asyncio.to_thread(lambda: encoder.encode([text])[0])
        return Query(text, vector)

    def find_products(self, text: str, k: int = 3) -> list[Product]:
        """Offered products a brief names ("Carbon Trekking Poles, a social post"), else those of
        the kind it names; none when it names neither."""
        index = self._index
        words = index.spelling.correct(tokens(text))
        named = [n.product for n in index.names.named(words) if index.offered(n.product)]
        if named:
            return named[:k]
        kinds = index.names.kinds_named(words)
        return [p for p in index.names.of_kinds(kinds) if index.offered(p)][:k]

    def order_text(self, order: Order) -> str:
        """An order as staff read it: the fact a proven order gives a shopper, variants named."""
        index = self._index
        return order_fact(order, index.currency, index.variants, index.locale).text

    def offered_product(self, product_id: str) -> Product | None:
        return next((p for p in self._index.shop.offered if p.id == product_id), None)

    @property
    def shop_name(self) -> str:
        return self._index.shop.profile.name

    def handover_message(self, reason: HandOverReason, now: datetime | None = None, language: str = "en") -> str:
        profile = self.shop.profile
        parts = [phrase("handover_sorry", language)] if reason == "negative_sentiment" else []
        parts.append(phrase("handover", language))
        is_open = open_now(profile.support_hours, profile.timezone, now) if profile.support_hours else None
        back = next_opening(profile.support_hours, profile.timezone, now) if is_open is False else None
        if language != "en":
            parts.append(phrase("handover_reply_here", language))
        elif is_open:
            parts.append("Someone is working now and should reply here soon.")
        elif back is not None:
            parts.append(
                f"Our team works {profile.support_hours}; it's outside those hours now, so expect an answer "
                f"here from {when(back, now)} ({back.tzname()})."
            )
        elif profile.support_hours:
            parts.append(f"Our team works {profile.support_hours}, so they will reply here when they are back.")
        else:
            parts.append(phrase("handover_reply_here", language))
        if profile.support_email:
            parts.append(phrase("handover_email", language, email=profile.support_email))
        return " ".join(parts)

    async def ground(
        self,
        customer_id: str,
        message: str,
        history: Sequence[StoredMessage],
        understanding: Understanding | None,
    ) -> Grounding:
        index = self._index  # one snapshot for this message, whatever a reload does meanwhile
        taste = await self._store.taste(customer_id)
        return await self.answers.ground(index, customer_id, message, history, understanding, self.encode, taste=taste)
