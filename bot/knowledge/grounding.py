"""`ShopKnowledge`: the Knowledge the engine uses for a shop. Per message it picks the facts that
answer it (the products named or referred back to, recommendations within a budget, the
order the shopper proved is theirs, the policy passages) and composes, from those facts alone,
the answer to give when the model's own reply cannot be trusted."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from bot.knowledge import Fact, Grounding
from bot.knowledge.catalog import Product
from bot.knowledge.facts import (
    asks_price,
    contact_fact,
    matching_variants,
    money,
    notice,
    order_fact,
    order_slots,
    passage_fact,
    product_fact,
    product_slots,
    recommended,
)
from bot.knowledge.facts import words as word_set
from bot.knowledge.hours import next_opening, open_now, when
from bot.knowledge.order_lookup import OrderLookup, find_claim
from bot.knowledge.orders import Order
from bot.knowledge.policy import PolicyAnswers
from bot.knowledge.retrieval import STEMMER, Query, Retriever
from bot.knowledge.shop import Shop
from bot.knowledge.slots import fill, order_reply
from bot.messages import HandOverReason, QuickReply, StoredMessage
from bot.store import Store
from bot.understanding import Intent, Understanding
from bot.understanding.encoder import SentenceEncoder

# "it", "that one", "them": the message leans on an earlier one for what it is about.
_REFERS_BACK = re.compile(r"\b(it|its|it's|that|this|them|they|those|these|one|ones)\b", re.I)
_AMOUNT = r"(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d{1,2}))?"
_CEILING = re.compile(
    # "under 50", "below $30", "budget of 100": a number after these is a price ...
    rf"\b(?:under|below|less than|no more than|max(?:imum)?|budget(?: of| is)?)\s*(?:[$€£]\s*)?{_AMOUNT}"
    # ... after "up to" or "within" only with a currency ("up to 4 people", "within 30 days")
    rf"|\b(?:up to|within)\s*(?:[$€£]\s*{_AMOUNT}|{_AMOUNT}\s*(?:\$|€|£|dollars?|euros?|pounds?|bucks|usd|eur|gbp)\b)",
    re.I,
)
_STOP_TITLE_WORDS = {"the", "and", "for", "with", "set", "pack", "of"}
# How a request for a pick reads; without any of these, "recommendation" was a misreading.
_WANTS = re.compile(
    r"\b(recommend|suggest|looking for|need|want|gift|ideas?|best|which|something|good for|under|below|budget|"
    r"cheap(est)?|for (my|a|an)|options|alternatives?|popular)\b",
    re.I,
)
# "my order", "our parcel", "order #1042": a question about one order, not about ordering.
_MY_ORDER = re.compile(r"\b(my|our)\s+(\w+\s+)?(order|package|parcel|purchase|delivery|refund)|\border\s*#?\d", re.I)
# "which colour did I get?", "what was in it?": a question about what the shopper bought.
_OWN_PURCHASE = re.compile(r"\bdid (i|we) (get|order|buy|receive|pay for)\b|\bwhat was in\b", re.I)
# "Where is my order?", "when will it get here?": the tracking number is the answer. Not
# "where do I send the return?" nor "when will I get my refund?".
_WHEREABOUTS = re.compile(
    r"\bwhere('s| is| are)\b|\btrack(ing)?\b|\bget here\b|\barriv(e|es|ing)\b|\bon (its|the) way\b|"
    r"\bwhen (will|does|do|should|is)\b[^.!?]*\b(come|deliver(ed)?|ship(ped)?|be here)\b",
    re.I,
)
_RETURNS = re.compile(r"\b(return|refund|send (it |them )?back|exchange)", re.I)
_ORDER_INTENTS = {"order_status", "complaint", "returns_refund"}
_NOT_ABOUT_PRODUCTS = {"out_of_scope", "payment", "account", "greeting_thanks", "feedback"}
_PRODUCT_INTENTS = {"product_question", "recommendation", "returns_refund", "complaint", "shipping"}
# The passages a policy answer is chosen from: the table or the priced passage that answers is
# often third to sixth ("What does delivery to Austria cost?": the rates are fourth).
_POLICY_CANDIDATES = 8


_SPECIFIC = re.compile(r"\d+(?:[.,]\d+)?|(?<=[a-z,] )[A-Z][A-Za-z]{2,}")


def specifics(text: str, most: int = 8) -> list[str]:
    """The figures and names in a passage: its numbers and its capitalised words mid-sentence
    (not a sentence's first word, which any reply may start with)."""
    return [s for s in _SPECIFIC.findall(text[:400]) if s.lower() not in _COMMON][:most]


_LIKES = re.compile(
    r"\bi\s+(?:really\s+)?(?:like|love|prefer|enjoy|only wear|always buy|am into|'m into)\s+([^.!?,;]{3,60})", re.I
)


def stated_preferences(message: str) -> list[str]:
    """ "I prefer green gear" -> ["green gear"]: kept in the profile for later picks."""
    return [found.strip().lower() for found in _LIKES.findall(message)]


def price_ceiling(message: str) -> Decimal | None:
    """The budget in "something under $50", "max 40 euros", "budget of 100"."""
    found = _CEILING.search(message)
    if not found:
        return None
    groups = found.groups()
    for whole, cents in zip(groups[::2], groups[1::2], strict=True):
        if whole:
            try:
                return Decimal(whole.replace(",", "") + (f".{cents}" if cents else ""))
            except InvalidOperation:
                return None
    return None


def named_products(text: str, products: Sequence[Product]) -> list[Product]:
    """Products whose title the text names (most of its distinctive words), best match first."""
    said = word_set(text)
    scored = []
    for product in products:
        title = {w for w in word_set(product.title) if len(w) > 1 and w not in _STOP_TITLE_WORDS}
        if not title:
            continue
        share = len(title & said) / len(title)
        if share >= 0.5 and len(title & said) >= min(2, len(title)):
            scored.append((share, product))
    if not scored:
        return []
    best = max(share for share, _ in scored)
    return [product for share, product in scored if share == best][:3]


_COMMON = {
    "what",
    "when",
    "where",
    "which",
    "who",
    "how",
    "can",
    "could",
    "would",
    "will",
    "the",
    "and",
    "for",
    "you",
    "your",
    "our",
    "this",
    "that",
    "with",
    "about",
    "have",
    "has",
    "are",
    "is",
    "it",
    "do",
    "does",
    "me",
    "my",
    "get",
    "going",
    "like",
    "want",
    "need",
    "please",
    "there",
    "their",
    "from",
    "into",
    "all",
    "any",
    "one",
    "day",
    "days",
    "time",
    "week",
    "weekend",
    "help",
    "tell",
    "know",
    "good",
    "best",
    "new",
    "use",
    "make",
    "more",
}


def stems(text: str) -> set[str]:
    return {STEMMER.stemWord(w) for w in word_set(text) if len(w) > 2 and w not in _COMMON and not w.isdigit()}


def catalog_vocabulary(shop: Shop) -> set[str]:
    """The words of what the shop sells: product titles, types and tags."""
    return set().union(*(stems(f"{p.title} {p.type} {' '.join(p.tags)}") for p in shop.offered))


def shop_vocabulary(shop: Shop) -> set[str]:
    """The shop's own words: its catalog's, its policies and FAQ, order and payment words. A
    question using them is about the shop."""
    texts = [f"{p.heading} {p.file} {p.text}" for p in shop.passages]
    texts.append("order orders shipping delivery return refund payment card charged account password invoice")
    return catalog_vocabulary(shop).union(*(stems(text) for text in texts))


@dataclass(frozen=True)
class _Index:
    """One store folder made ready to answer from; replaced whole when the folder changes."""

    shop: Shop
    retriever: Retriever
    policies: PolicyAnswers
    orders: OrderLookup
    vocabulary: set[str]  # the shop's words (shop_vocabulary)
    catalog: set[str]  # the words of what it sells (catalog_vocabulary)
    variants: dict[str, str]  # SKU -> variant label, to say which variant an order holds


class ShopKnowledge:
    def __init__(self, shop: Shop, store: Store, encoder: SentenceEncoder | None = None) -> None:
        self._store = store
        self._encoder = encoder
        self.replace(shop)

    def replace(self, shop: Shop) -> None:
        """Serve another (or a re-read) store folder from the next message on. The new index is
        built before anything is swapped, and the swap is one assignment."""
        self._index = _Index(
            shop=shop,
            retriever=Retriever(shop.passages, shop.offered, self._encoder),
            policies=PolicyAnswers(shop.passages, self._encoder),
            orders=OrderLookup(shop.orders, self._store),
            vocabulary=shop_vocabulary(shop),
            catalog=catalog_vocabulary(shop),
            variants={v.sku: v.label for p in shop.products for v in p.variants if v.sku and v.label},
        )

    @property
    def shop(self) -> Shop:
        return self._index.shop

    def find_products(self, text: str, k: int = 3) -> list[Product]:
        """Offered products a brief names, else the best retrieved (blocking: one encoder pass);
        none when no product shares a word with it (meaning alone always finds something)."""
        index = self._index
        named = named_products(text, index.shop.offered)
        if named:
            return named[:k]
        if not index.retriever.products_by_words(text, 1):
            return []
        return [hit.item for hit in index.retriever.products(text, k)]

    def order_text(self, order: Order) -> str:
        """An order as staff read it: the fact a proven order gives a shopper, variants named."""
        index = self._index
        return order_fact(order, index.shop.profile.currency, index.variants).text

    def offered_product(self, product_id: str) -> Product | None:
        return next((p for p in self._index.shop.offered if p.id == product_id), None)

    @property
    def shop_name(self) -> str:
        return self._index.shop.profile.name

    def handover_message(self, reason: HandOverReason, now: datetime | None = None) -> str:
        profile = self.shop.profile
        text = "I'm sorry about this. " if reason == "negative_sentiment" else ""
        text += "I've asked a person from our team to take over this conversation."
        is_open = open_now(profile.support_hours, profile.timezone, now) if profile.support_hours else None
        back = next_opening(profile.support_hours, profile.timezone, now) if is_open is False else None
        if is_open:
            text += " Someone is working now and should reply here soon."
        elif back is not None:
            text += (
                f" Our team works {profile.support_hours}; it's outside those hours now, so expect an answer "
                f"here from {when(back, now)} ({back.tzname()})."
            )
        elif profile.support_hours:
            text += f" Our team works {profile.support_hours}, so they will reply here when they are back."
        else:
            text += " They will reply here."
        if profile.support_email:
            text += f" You can also e-mail {profile.support_email}."
        return text

    async def ground(
        self,
        customer_id: str,
        message: str,
        history: Sequence[StoredMessage],
        understanding: Understanding | None,
    ) -> Grounding:
        index = self._index  # one snapshot for this message, whatever a reload does meanwhile
        shop, retriever, orders = index.shop, index.retriever, index.orders
        intent: Intent | None = understanding.intent if understanding else None
        profile = shop.profile
        currency = profile.currency
        earlier = [m.text for m in reversed(history) if m.role == "user"]
        claim = find_claim(message, earlier[:3])
        if intent == "out_of_scope" and claim is not None:
            intent = "order_status"  # an order number with its e-mail is about an order, however phrased
        if understanding and intent == "out_of_scope" and stems(message) & index.vocabulary:
            # The classifier learnt "out of scope" from other domains' questions; a message in
            # the shop's own words ("which tent", "my card was charged") is ours after all.
            intent = understanding.runner_up
        if (
            understanding
            and understanding.runner_up == "greeting_thanks"
            and understanding.confidence < 0.5
            and not stems(message) & index.catalog
        ):
            # "Hello! Can you help me with something?" is a product question to the heads at
            # 40% and a greeting next, and names nothing of the shop's: answered as a greeting
            # it gets "how can I help?", not a restocking policy nobody asked about. ("Do you
            # have hojicha?", just as unsure, names a tea.)
            intent = "greeting_thanks"
        # "Earl Grey 100 g, is that on offer?" read as payment; "Wie viel kostet der Sencha?"
        # read as out of scope: a product named with a price asked is a product question,
        # whatever the heads made of the rest ("Is PayPal available for the X?" stays payment).
        if (
            intent in _NOT_ABOUT_PRODUCTS
            and (intent == "out_of_scope" or asks_price(message))
            and named_products(message, shop.offered)
        ):
            intent = "product_question"
        if intent in ("recommendation", "product_question") and _OWN_PURCHASE.search(message):
            # "which bowl colour did I get?" reads as a pick (with "which") or a product
            # question; it asks about an order: the one the shopper proved, or the question for
            # its number. ("Why did I get charged twice?" stays what the heads made of it.)
            intent = "order_status"
        if intent == "out_of_scope":
            return Grounding(
                safe_answer=f"I'm {profile.name}'s assistant, so I can only help with our products, your orders, "
                "shipping, returns and payment. Is there something along those lines I can do for you?",
                direct=True,
            )
        facts: list[Fact] = []
        answer: list[str] = []
        quick: list[QuickReply] = []
        # The same facts as values for a model that writes slots (bot.knowledge.slots): only
        # what the safe answer would say, so a reply made of slots says no more than it.
        slots: dict[str, str] = {}

        # An order: only one the shopper proved is theirs, now or earlier in the conversation.
        order: Order | None = None
        if claim is not None:
            order = await orders.verify(customer_id, claim)
            if order is None:
                text = (
                    "I couldn't find an order with that order number and e-mail address together. Please check "
                    "both: they need to match what was used when the order was placed."
                )
                return Grounding([notice(text)], safe_answer=text, direct=True)
        elif intent in _ORDER_INTENTS or (
            _REFERS_BACK.search(message) and intent != "recommendation" and not named_products(message, shop.offered)
        ):
            proven = await orders.proven(customer_id)
            order = proven[-1] if proven else None
        keys: list[str] = []
        required: list[str] = []
        if order is not None:
            facts.append(order_fact(order, currency, index.variants))
            # The order's number: a reply that does not name it is not about this order
            # ("we ship worldwide" mentions "shipped" too).
            keys.append(order.order_id)
            slots.update(order_slots(order, currency, index.variants))
            if order.tracking and "tracking" in slots and _WHEREABOUTS.search(message) and not _RETURNS.search(message):
                required.append(order.tracking)
            answer.append(self._order_answer(slots))
        elif intent == "order_status" and (_MY_ORDER.search(message) or _OWN_PURCHASE.search(message)):
            text = (
                "I can check that for you: please send me the order number together with the e-mail address "
                "it was placed with."
            )
            return Grounding([notice(text)], safe_answer=text, direct=True)

        query = await asyncio.to_thread(retriever.query, message)
        # Products: named here, referred back to, or fitting a request.
        products: list[Product] = []
        if intent == "recommendation" and not _WANTS.search(message) and understanding:
            # "what's the warranty on your backpacks?" asks no pick; "is the Gust waterproof?"
            # (read as out of scope, then as a pick) asks about that product.
            runner_up = understanding.runner_up
            intent = runner_up if runner_up not in ("recommendation", "out_of_scope") else "product_question"
        preferences, interests = await self._store.taste(customer_id)
        stated = stated_preferences(message)
        if intent == "recommendation":
            # A returning shopper's stated tastes and the products they asked about shape the pick.
            liked = [p for p in shop.offered if p.id in set(interests)]
            if preferences or liked:
                query = await asyncio.to_thread(retriever.query, " ".join([message, *preferences[:3], *stated]))
            products = self._recommend(retriever, query, liked, shop.offered)
            if products:
                answer.append("Here is what I'd suggest:")
                slots["products"] = recommended(products, currency)
                quick = [QuickReply(label=p.title[:40], text=f"Tell me about the {p.title}") for p in products]
            else:
                answer.append("I couldn't find a product that fits that in our catalog right now.")
        elif order is None:  # a product the message names is relevant whatever the intent
            products = named_products(message, shop.offered)
            if (
                not products
                and (intent in _PRODUCT_INTENTS or intent is None)
                and (_REFERS_BACK.search(message) or len(message.split()) <= 6)
            ):
                # What the shopper named comes before what a reply mentioned in passing (a
                # teapot's description naming its infuser basket), newest first in each.
                recent = list(reversed(history[-4:]))
                for text in [m.text for m in recent if m.role == "user"] + [m.text for m in recent if m.role != "user"]:
                    products = named_products(text, shop.offered)
                    if products:
                        break
            if not products and intent == "product_question":
                # Only products the message has words in common with by name or type: a tag or
                # a description that happens to share "gift" or "help" is no answer.
                asked = stems(message)
                products = [
                    hit.item
                    for hit in retriever.products(query, k=2)
                    if asked & stems(f"{hit.item.title} {hit.item.type}")
                ]
        if stated or (products and intent != "recommendation"):
            await self._store.remember_taste(
                customer_id, preferences=stated, products=[p.id for p in products if intent != "recommendation"]
            )
        for product in products:
            facts.append(product_fact(product, currency, message))
            if intent == "recommendation":
                keys.append(product.title)
            elif intent == "product_question":
                keys += [money(v.price, currency) for v in matching_variants(product, message)]
            about = product_slots(product, currency, message)
            if intent != "recommendation" and "product" not in slots:
                slots.update(about)  # the product the message is most about
            answer.append(self._product_answer(about))
            if "description" in about:  # "Is it waterproof?": price and stock do not answer that
                answer.append(about["description"])

        # Policies and FAQ: for anything but small talk and a request for a person.
        if intent not in ("greeting_thanks", "human_agent"):
            if _REFERS_BACK.search(message) and earlier and len(stems(message)) < 2:
                # "what about that?" says too little to search with; "and if it doesn't fit
                # can I send it back?" says enough, and the earlier question's product words
                # would only pull in passages about the product ("re-waterproof a jacket").
                query = await asyncio.to_thread(retriever.query, f"{earlier[0]} {message}")
            ranked = [hit.item for hit in retriever.passages(query, k=_POLICY_CANDIDATES)]
            # Two passages: the second often holds the other half of the answer ("How to start
            # a return" and "Return window"), or the answer when the first is a near miss
            # (measured: recall@1 0.77, recall@2 0.86 on the demo questions).
            parts = index.policies.compose(query, ranked)
            for part in parts:
                facts.append(passage_fact(part.passage))
            if parts and order is None and (not products or intent not in ("product_question", "recommendation")):
                answer[:0] = [f"{part.passage.heading}: {part.text}" for part in parts]
                slots["policy"] = " ".join(part.text for part in parts)
                # A policy answer names something specific from the policy (30 days, $7.00,
                # PayPal); one that names nothing only talked around the question.
                # The first passage's figures, or when it has none ("Items must be unused ..."),
                # the others': a reply that gives only the contact details said none of them.
                keys += specifics(parts[0].text) or [found for part in parts[1:] for found in specifics(part.text)]

        if intent in ("human_agent", "complaint") or (understanding and understanding.sentiment == "negative"):
            facts.append(contact_fact(profile))
            answer.append(contact_fact(profile).text)
            if profile.support_email:
                slots["support_email"] = profile.support_email
            if profile.support_hours:
                slots["support_hours"] = profile.support_hours
        safe = " ".join(answer) or (
            "I'm not sure I have the right information for that. Could you tell me a bit more, "
            "or ask about a product, an order, shipping or returns?"
        )
        return Grounding(facts, safe_answer=safe, quick_replies=quick, key_facts=keys, required=required, slots=slots)

    @staticmethod
    def _recommend(
        retriever: Retriever, query: Query, liked: Sequence[Product] = (), catalog: Sequence[Product] = ()
    ) -> list[Product]:
        ceiling = price_ceiling(query.text)
        # Of what fits, the kinds of product the shopper asked about before come first (not the
        # very products: they know those already), whether or not the words of this request
        # found them.
        kinds = {p.type for p in liked if p.type}
        known = {p.id for p in liked}
        candidates = [hit.item for hit in retriever.products(query, k=12)]
        candidates += [p for p in catalog if p.type in kinds and p not in candidates]
        fitting = [
            p
            for p in candidates
            if any(v.in_stock for v in p.variants)
            and (ceiling is None or min(v.price for v in p.variants if v.in_stock) <= ceiling)
        ]
        fitting = [p for p in fitting if p.id not in known] or fitting
        fitting.sort(key=lambda p: p.type not in kinds)  # stable: relevance order within each group
        return fitting[:3]

    @staticmethod
    def _product_answer(slots: dict[str, str]) -> str:
        return f"The {slots['product']}: {slots['offer']}."

    @staticmethod
    def _order_answer(slots: dict[str, str]) -> str:
        return fill(order_reply(slots), slots)[0]
