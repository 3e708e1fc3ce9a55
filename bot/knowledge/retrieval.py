"""How shoppers' words meet shops' words: "send it back" is a return, "how much" a price, "New
York" is "NY" in a rate table. Applied alike to a shop's evidence units and to questions
(bot.knowledge.evidence), before either is cut into stems."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from bot.knowledge.places import places

if TYPE_CHECKING:  # the encoder pulls in torch; reading the words needs none of it
    from bot.understanding.encoder import Vectors


# Words shoppers use -> words shops write. Applied to queries and documents alike.
_SYNONYMS = {
    r"\bsend\s+(?:\w+\s+){0,2}back\b": "return",
    r"\b(?:bring|take|mail|post|ship)\s+(?:\w+\s+){0,2}back\b": "return",
    r"\bmoney back\b": "refund",
    r"\breturn (?:window|period|time ?frame|deadline)\b": "return within days",
    r"\breimburse(ment)?\b": "refund",
    r"\bexchange\b": "return exchange",
    r"\bdeliver(y|ed|ies)?\b": "shipping delivery",
    r"\bpost(age)?\b": "shipping",
    r"\b(parcel|package)s?\b": "order shipping",
    r"\barrive[sd]?\b": "delivery shipping",
    r"\bcost(s)?\b": "price",
    r"\bhow much\b": "price",
    r"\bhow (?:long|soon|fast|quick(?:ly)?)\b": "time",
    r"\bcheap(er|est)?\b": "price",
    r"\bpay(ing)?\b": "payment",
    r"\b(paypal|klarna|afterpay|zip ?pay|apple ?pay|google ?pay|shop ?pay|visa|mastercard|amex|american express|"
    r"discover|maestro|sepa|ideal|bancontact|sofort|giropay|alipay|wechat ?pay|venmo|cash on delivery|invoice)\b": "payment",
    r"\bcard(s)?\b": "payment card",
    r"\bguarantee\b": "warranty",
    r"\b(broken?|defect(ive)?|faulty)\b": "warranty defect",
    r"\brain(y)?\b": "rain waterproof",
    # An ingress rating ("IPX4", "IP67") is how details say how waterproof a thing is.
    # (a second digit of 0 is no protection from water).
    r"\bIP[X\d][1-9]\b": "waterproof water resistant",
    r"\b(?:sweat|splash|shower)[- ]?(?:proof|resistant)\b|\bpuddles?\b": "waterproof",
    r"\bwet\b": "waterproof",
    r"\b(cold|winter)\b": "winter insulated",
    r"\bin stock\b": "stock available",
}
_RULES = [(re.compile(pattern, re.I), words) for pattern, words in _SYNONYMS.items()]


# A sentence that states an amount of money answers "how much"; one that states days, "how long".
_MONEY = re.compile(r"[$€£¥]\s?\d|\d(?:[.,]\d{2})?\s?(?:€|USD|EUR|GBP|AUD|CAD|JPY|dollars|euros)\b", re.I)
_DAYS = re.compile(r"\b\d+(?:\s?[-–]\s?\d+)?\s+(?:business |working |calendar )?(?:days?|weeks?|hours?)\b", re.I)


def expand(text: str) -> str:
    """The text with the shop's words for what the shopper wrote appended, and every place it
    names written the other way too ("New York" -> NY)."""
    extra = [words for rule, words in _RULES if rule.search(text)]
    if _MONEY.search(text):
        extra.append("price")
    if _DAYS.search(text):
        extra.append("time")
    if found := places(text):
        extra.append(found)
    return f"{text} {' '.join(extra)}" if extra else text


@dataclass(frozen=True)
class Query:
    """A question as it is searched with: its text (for the words) and its vector (for the meaning)."""

    text: str
    vector: Vectors | None = None
