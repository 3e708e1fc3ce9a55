"""Grounded dialogues from a store folder: the shopper asks about the shop's products, policies
and orders, the system prompt lists the slots that have values, and the reply uses them.

The model sees slot names, never values (bot.knowledge.slots), so what it learns is which
facts a question wants and how to say them; the engine fills in any shop's values. That is why
a model trained on one shop answers for another. Requests borrow the wording of the Bitext
customer-support set where it has the intent, and of the shop's own FAQ headings.
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from bot.guard import Guard
from bot.knowledge.catalog import Product
from bot.knowledge.facts import money, order_slots, passage_sentences, product_slots, recommended
from bot.knowledge.orders import Order
from bot.knowledge.shop import Shop
from bot.knowledge.slots import fill, markers, order_reply
from bot.llm import ChatMessage
from bot.prompt import system_text
from bot.training.dialogues import Pair

# Bitext intents whose requests a policy passage answers, and those about one order.
_POLICY_INTENTS = {
    "delivery_options",
    "delivery_period",
    "check_refund_policy",
    "get_refund",
    "track_refund",
    "check_cancellation_fee",
    "check_payment_methods",
    "payment_issue",
    "check_invoice",
    "create_account",
    "recover_password",
    "newsletter_subscription",
    "set_up_shipping_address",
    "change_shipping_address",
}
_ORDER_INTENTS = {"track_order", "change_order", "cancel_order"}
_BITEXT_NUMBER = re.compile(r"\{\{Order Number\}\}|#?\d{4,}")

_PRICE_ASKS = [
    "How much is the {p}?",
    "how much does the {p} cost",
    "What's the price of the {p}?",
    "price of {p}?",
    "Is the {p} in stock?",
    "do you have the {p} in stock",
    "Is the {p} on sale right now?",
    "{p} price please",
    "Can I still buy the {p}?",
    "what does the {p} go for",
    "Is the {p} available?",
    "I'd like to buy the {p}. How much is it?",
    "hi, quick question: how much is the {p}?",
    "Do you have the {p} in {v}?",
    "How much is the {p} in {v}?",
    "is the {p} in {v} available",
    "What sizes or colours does the {p} come in?",
]
_ABOUT_ASKS = [
    "Tell me about the {p}.",
    "Is the {p} waterproof?",
    "is the {p} warm enough for {t}?",
    "What is the {p} made of?",
    "Will the {p} work for {t}?",
    "how heavy is the {p}",
    "Is the {p} suitable for kids?",
    "does the {p} need any care?",
    "What is the {p} like?",
    "any details on the {p}?",
    "What can you tell me about the {p}",
    "Is the {p} any good for {t}?",
    "what's special about the {p}?",
    "Describe the {p} please",
]
_REFER_ASKS = [
    "How much is it?",
    "is it in stock?",
    "and what does it cost?",
    "Is that one on sale?",
    "what colours does it come in",
    "Do you have it in {v}?",
    "how much are they?",
    "Is it available?",
]
_REFER_POLICY_ASKS = [
    "and if it doesn't fit can I send it back?",
    "Can I return it?",
    "does it have a warranty?",
    "how long does delivery take for it?",
    "can I pay for it in instalments?",
    "What if it breaks?",
]
_PICK_ASKS = [
    "Can you recommend a {k}?",
    "I'm looking for a {k} under {m}",
    "something for {t} under {m}?",
    "gift ideas for someone who likes {t}",
    "What {k} would you suggest?",
    "best {k} for {t}?",
    "I need a new {k}, any suggestions?",
    "any {t} gear under {m}?",
    "Recommend something for {t}",
    "what's a good {k} for a beginner",
    "I want a {k}, budget {m}",
    "Looking for {t} stuff, what do you have?",
]
_WITH_PRODUCT_ASKS = [
    "Can I return the {p}?",
    "how long does shipping take for the {p}?",
    "Does the {p} come with a warranty?",
    "can I pay for the {p} with paypal?",
    "If the {p} doesn't fit, can I exchange it?",
    "when would the {p} arrive if I order today?",
]
_COMPLAINTS = [
    "This is unacceptable, my order arrived broken.",
    "I'm really unhappy with the quality of what I got.",
    "your service is terrible, nobody answers my emails",
    "The zip broke after two days. Very disappointed.",
    "I was charged twice and I'm furious",
    "worst shopping experience ever",
    "The item I received looks nothing like the photos.",
]
_GREETINGS = {
    "hello": ["hi", "Hello!", "hey there", "good morning", "Hi, I have a question", "hello?", "hey"],
    "thanks": ["thanks!", "thank you so much", "Thanks, that helps.", "great, thanks", "cheers", "perfect, thank you"],
    "bye": ["bye", "goodbye!", "that's all, bye", "see you"],
}
_GREETING_REPLIES = {
    "hello": ["Hello! How can I help you today?", "Hi there! What can I do for you?", "Hello! What can I help with?"],
    "thanks": [
        "You're welcome! Is there anything else I can help you with?",
        "Glad I could help! Let me know if you need anything else.",
        "My pleasure! Anything else I can do for you?",
    ],
    "bye": ["Goodbye, and thanks for shopping with us!", "Take care, and have a great day!"],
}
_OPENERS = ["", "", "Sure! ", "Happy to help. ", "Good question. ", "Of course. ", "Thanks for asking. "]
_CLOSERS = [
    "",
    "",
    " Is there anything else I can help with?",
    " Let me know if you have any other questions.",
    " I hope that helps!",
]
_PRODUCT_REPLIES = [
    "The [product]: [offer].",
    "Here's what we have for the [product]: [offer].",
    "The [product] comes as [offer].",
    "We have the [product] at [offer].",
    "[product]: [offer].",
]
_ABOUT_REPLIES = [
    "[description] The [product] comes as [offer].",
    "The [product]: [description] It is [offer].",
    "[product]: [description] The options: [offer].",
]
_PICK_REPLIES = [
    "Here are a few I'd suggest: [products].",
    "You might like [products].",
    "I'd look at [products]. Tap one to learn more.",
    "Based on what you asked, [products] would fit well.",
    "Good choice! Take a look at [products].",
]
_NO_PICK_REPLIES = [
    "I couldn't find anything in our catalog that fits that right now. Could you tell me a bit more about what "
    "you need?",
    "I'm sorry, nothing in our catalog matches that at the moment. Would a different budget or type work?",
]
_POLICY_REPLIES = ["[policy]", "Here's what our policy says: [policy]", "[policy]"]
_ORDER_OPENERS = ["", "Thanks for the details! ", "I found your order. ", "Thanks! "]
_NO_FACT_REPLIES = [
    "I'm not sure I have the right information for that. Could you tell me a bit more, or ask about a product, "
    "an order, shipping or returns?",
    "I'm sorry, I don't have the details to answer that. Could you put it another way?",
]


def _contact_replies(slots: dict[str, str]) -> list[str]:
    """Replies to an unhappy shopper that use the contact slots the shop has."""
    policy = "[policy] " if "policy" in slots else ""
    if "support_email" in slots and "support_hours" in slots:
        return [
            f"I'm sorry to hear that. {policy}Please e-mail [support_email] and our team will sort it out; they work "
            "[support_hours].",
            f"I'm really sorry about this. {policy}Our team can look into it for you: write to [support_email] "
            "([support_hours]).",
        ]
    if "support_email" in slots:
        return [f"I'm sorry to hear that. {policy}Please e-mail [support_email] and our team will sort it out."]
    if "support_hours" in slots:
        return [f"I'm sorry to hear that. {policy}Our team can help here in this chat; they work [support_hours]."]
    return [f"I'm sorry to hear that. {policy}Our team will look into it."]


@dataclass(frozen=True)
class Exchange:
    """A shopper's message, the slot values the grounding would find, and the reply with markers."""

    request: str
    slots: dict[str, str]
    reply: str


class _Builder:
    def __init__(self, shop: Shop, bitext: Sequence[Pair], rng: random.Random) -> None:
        self.shop = shop
        self.rng = rng
        self.currency = shop.profile.currency
        self.products = shop.offered
        self.passages = shop.passages
        self.orders: list[Order] = list(shop.orders.all())
        # Bitext's requests carry made-up order and invoice numbers of their own: a request about
        # an order gets the shop's order number in their place, the others go without any.
        plain = [p for p in bitext if not any(c.isdigit() for c in p.request)]
        self.policy_asks = [p.request for p in plain if p.intent in _POLICY_INTENTS and "{{" not in p.request]
        self.order_asks = [p.request for p in bitext if p.intent in _ORDER_INTENTS and _BITEXT_NUMBER.search(p.request)]
        self.complaints = [p.request for p in plain if p.intent == "complaint" and "{{" not in p.request]
        self.questions = [p.heading for p in self.passages if p.heading.endswith("?")]

    def pick(self, options: Sequence[str]) -> str:
        return self.rng.choice(list(options))

    def wrap(self, reply: str) -> str:
        return f"{self.pick(_OPENERS)}{reply}{self.pick(_CLOSERS)}".strip()

    def variant_words(self, product: Product) -> str:
        labelled = [v for v in product.variants if v.options]
        return " ".join(self.rng.choice(labelled).options.values()) if labelled else "stock"

    def _topic(self, product: Product) -> str:
        return self.pick(product.tags) if product.tags else (product.type or "everyday use").lower()

    def _budget(self) -> str:
        amount = self.rng.choice([20, 25, 30, 40, 50, 60, 75, 80, 100, 120, 150, 200])
        return self.pick(
            [money(Decimal(amount), self.currency).removesuffix(".00"), f"{amount}", f"{amount} {self.currency}"]
        )

    def _product_ask(self, product: Product, asks: Sequence[str]) -> str:
        title = product.title if self.rng.random() < 0.7 else product.title.lower()
        return self.pick(asks).format(p=title, v=self.variant_words(product), t=self._topic(product))

    def product(self, asks: Sequence[str] = _PRICE_ASKS, product: Product | None = None) -> Exchange:
        product = product or self.pick_product()
        request = self._product_ask(product, asks)
        slots = product_slots(product, self.currency, request)
        # The description is a slot only when the question is not about price or stock alone;
        # when it is there, it is what answers.
        replies = _ABOUT_REPLIES if "description" in slots else _PRODUCT_REPLIES
        return Exchange(request, slots, self.wrap(self.pick(replies)))

    def about(self) -> Exchange:
        return self.product(_ABOUT_ASKS)

    def pick_product(self) -> Product:
        return self.rng.choice(self.products)

    def recommendation(self) -> Exchange:
        product = self.pick_product()
        kind = (product.type or "gift").lower()
        request = self.pick(_PICK_ASKS).format(k=kind, t=self._topic(product), m=self._budget())
        if self.rng.random() < 0.1:
            return Exchange(request, {}, self.pick(_NO_PICK_REPLIES))
        picks = self.rng.sample(self.products, k=self.rng.choice([1, 2, 3, 3]))
        return Exchange(request, {"products": recommended(picks, self.currency)}, self.wrap(self.pick(_PICK_REPLIES)))

    def policy_slots(self) -> dict[str, str]:
        passage = self.rng.choice(self.passages)
        return {"policy": passage_sentences(passage.text)}

    def policy(self) -> Exchange:
        source = self.rng.random()
        if source < 0.55 and self.policy_asks:
            request = self.pick(self.policy_asks)
        elif source < 0.8 and self.questions:
            request = self.pick(self.questions)
        else:
            passage = self.rng.choice(self.passages)
            request = self.pick(["What is your {h}?", "Tell me about {h}", "{h}?", "question about {h}"]).format(
                h=passage.heading.lower().rstrip("?")
            )
        return Exchange(request, self.policy_slots(), self.wrap(self.pick(_POLICY_REPLIES)))

    def policy_with_product(self) -> Exchange:
        product = self.pick_product()
        request = self._product_ask(product, _WITH_PRODUCT_ASKS)
        slots = product_slots(product, self.currency, request) | self.policy_slots()
        reply = self.pick(["[policy]", "[policy]", "About the [product]: [policy]"])
        return Exchange(request, slots, self.wrap(reply))

    def order(self) -> Exchange:
        order = self.rng.choice(self.orders)
        ask = self.pick(self.order_asks) if self.order_asks else "where is my order 00000"
        number = self.pick([order.order_id, f"#{order.order_id}"])
        request = _BITEXT_NUMBER.sub(number, ask, count=1)
        request = self.pick(["{r} My e-mail is {e}.", "{r}, email {e}", "{r} - {e}", "{e} {r}"]).format(
            r=request.rstrip(".?! "), e=order.email
        )
        slots = order_slots(order, self.currency)
        reply = order_reply(
            slots, self.pick([". It contains [order_items].", ".", ". Your order contains [order_items]."])
        )
        return Exchange(request, slots, f"{self.pick(_ORDER_OPENERS)}{reply}{self.pick(_CLOSERS)}".strip())

    def complaint(self) -> Exchange:
        request = self.pick(self.complaints) if self.complaints and self.rng.random() < 0.6 else self.pick(_COMPLAINTS)
        profile = self.shop.profile
        # As the grounding gives them: contact slots only for what the shop has.
        slots = {"support_email": profile.support_email, "support_hours": profile.support_hours}
        slots = {name: value for name, value in slots.items() if value}
        if self.rng.random() < 0.5:
            slots |= self.policy_slots()
        return Exchange(request, slots, self.pick(_contact_replies(slots)))

    def greeting(self) -> Exchange:
        kind = self.pick(list(_GREETINGS))
        return Exchange(self.pick(_GREETINGS[kind]), {}, self.pick(_GREETING_REPLIES[kind]))

    def unknown(self) -> Exchange:
        product = self.pick_product()
        request = self.pick(
            [
                "do you have anything like the {p} but cheaper and in purple with pockets?",
                "can you tell me something about that",
                "what about the other thing I mentioned",
            ]
        ).format(p=product.title)
        return Exchange(request, {}, self.pick(_NO_FACT_REPLIES))


# How often each kind of exchange appears: the question types of a shop's chat, roughly.
_MIX: dict[str, float] = {
    "product": 0.2,
    "about": 0.08,
    "recommendation": 0.14,
    "policy": 0.21,
    "policy_with_product": 0.1,
    "order": 0.13,
    "complaint": 0.05,
    "greeting": 0.05,
    "unknown": 0.04,
}


def grounded_dialogues(
    shop: Shop, bitext: Sequence[Pair], *, system_prompt: str, count: int, seed: int
) -> list[list[ChatMessage]]:
    """`count` dialogues about `shop`. About a fifth follow an earlier exchange; some of those
    ask about the earlier product without naming it ("how much is it?")."""
    if not shop.offered or not shop.passages:
        raise ValueError(f"{shop.folder}: a store needs offered products and policy passages to train on")
    rng = random.Random(seed)
    builder = _Builder(shop, bitext, rng)
    kinds: dict[str, Callable[[], Exchange]] = {
        "product": builder.product,
        "about": builder.about,
        "recommendation": builder.recommendation,
        "policy": builder.policy,
        "policy_with_product": builder.policy_with_product,
        "order": builder.order if builder.orders else builder.policy,
        "complaint": builder.complaint,
        "greeting": builder.greeting,
        "unknown": builder.unknown,
    }
    names, weights = list(_MIX), list(_MIX.values())
    dialogues = []
    for _ in range(count):
        # A fresh canary per dialogue, as each server start has: the model learns to ignore it.
        system = Guard(system_prompt, canary=f"SB-{rng.getrandbits(48):012x}").system_prompt
        earlier: list[Exchange] = []
        roll = rng.random()
        if roll < 0.1:
            first = builder.product()
            product = next(p for p in shop.offered if p.title == first.slots["product"])
            if rng.random() < 0.6:
                current = builder.product(_REFER_ASKS, product)
            else:  # a policy question about it: the policy answers, as in policy_with_product
                asked = rng.choice(_REFER_POLICY_ASKS)
                slots = product_slots(product, shop.profile.currency, asked) | builder.policy_slots()
                current = Exchange(
                    asked, slots, builder.wrap(rng.choice(["[policy]", "About the [product]: [policy]"]))
                )
            earlier = [first]
        else:
            if roll < 0.25:
                earlier = [kinds[rng.choices(names, weights)[0]]()]
            current = kinds[rng.choices(names, weights)[0]]()
        messages: list[ChatMessage] = [{"role": "system", "content": system_text(system, markers(current.slots))}]
        for exchange in earlier:
            messages.append({"role": "user", "content": exchange.request})
            messages.append({"role": "assistant", "content": fill(exchange.reply, exchange.slots)[0]})
        messages.append({"role": "user", "content": current.request})
        messages.append({"role": "assistant", "content": current.reply})
        dialogues.append(messages)
    return dialogues
