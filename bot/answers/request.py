"""What a shopper asks to buy, when they ask for a kind of thing rather than a product: "do
you sell linen bedsheets?", "got any anker power banks?", "looking for a tent for me and my two
kids" -> the thing ("linen bedsheets"), its head words ("bedsheets"), who it is for."""

from __future__ import annotations

import re
from dataclasses import dataclass

from bot.knowledge.text import STOPWORDS, tokens

_ASK = re.compile(
    r"\b(?:sell|sells|selling|carry|carries|stock|stocks|offer|have|has|got|get|make|makes|"
    r"looking for|look for|searching for|search for|need|needs|want|wanted|would like|"
    r"recommend|suggest|show me|find|buy|purchase|ideas? for|any)\b\s+(?:me\s+)?(?:any\s+|some\s+|a\s+|an\s+|the\s+|ur\s+|your\s+|new\s+|good\s+|nice\s+)*",
    re.I,
)
# Where the thing asked for ends and what is said about it begins.
_END = re.compile(
    r"\s+(?:for|under|below|over|above|with|without|that|which|who|in|from|at|on|less|max|budget|around|about|"
    r"between|size|sized|please|pls|plz|or not|if|so|because|like)\b|[,?.!;:(]|\s+-\s+",
    re.I,
)
_FOR = re.compile(r"\bfor\s+(?:a\s+|an\s+|my\s+|the\s+|our\s+|your\s+)?(\w+)", re.I)
# Who a thing can be for; a request "for kids" of a shop that never says "kids" is not sold there.
AUDIENCES = {
    "kid", "kids", "child", "children", "baby", "babies", "toddler", "toddlers", "teen", "teens", "teenager",
    "men", "man", "women", "woman", "boys", "girls", "boy", "girl", "dog", "dogs", "cat", "cats", "puppy", "kitten",
    "puppies", "kittens", "horse", "horses", "bird", "birds", "rabbit", "rabbits", "infant", "infants",
}  # fmt: skip
NOT_THINGS = {
    "something",
    "anything",
    "stuff",
    "things",
    "one",
    "ones",
    "it",
    "them",
    "this",
    "that",
    "question",
    "yet",
}
# What a shop offers besides products: asking whether it has these is a question about its
# services, not a request for a product it may not sell.
SERVICES = set(
    [
        "shop",
        "shops",
        "store",
        "stores",
        "showroom",
        "showrooms",
        "location",
        "locations",
        "branch",
        "branches",
        "program",
        "programs",
        "programme",
        "scheme",
        "membership",
        "discount",
        "discounts",
        "sale",
        "sales",
        "coupon",
        "coupons",
        "code",
        "codes",
        "voucher",
        "vouchers",
        "service",
        "services",
        "warranty",
        "guarantee",
        "policy",
        "policies",
        "option",
        "options",
        "delivery",
        "shipping",
        "account",
        "accounts",
        "app",
        "newsletter",
        "wrapping",
        "price",
        "prices",
        "match",
        "matching",
        "plan",
        "plans",
        "installments",
        "instalments",
        "financing",
        "finance",
        "subscription",
        "subscriptions",
        "reward",
        "rewards",
        "point",
        "points",
        "loyalty",
        "club",
        "sample",
        "samples",
        "swatch",
        "swatches",
        "catalogue",
        "catalog",
        "website",
        "site",
        "appointment",
        "appointments",
        "repair",
        "repairs",
        "assembly",
        "installation",
        "trial",
        "returns",
        "return",
        "exchange",
        "exchanges",
        "refund",
        "refunds",
        "pickup",
        "collection",
        "tracking",
        "number",
        "email",
        "phone",
        "address",
        "contact",
        "hours",
        "info",
        "information",
        "question",
        "questions",
        "help",
        "support",
        "offer",
        "deals",
        "deal",
        "promotion",
        "promotions",
        "gift",
        "card",
        "cards",
        "registry",
    ]
)
_PRICE_OF = re.compile(
    r"\b(?:how much (?:is|are|does|do|for)|price (?:of|for)|cost of|what does)\s+(?:the\s+|a\s+|an\s+|your\s+)?", re.I
)
_QUESTION_WORDS = {
    "what", "whats", "how", "hows", "which", "where", "wheres", "when", "whens", "why", "who", "whos", "is", "are",
    "do", "does", "can", "could", "will", "would", "should", "did", "was", "were", "has", "have",
}  # fmt: skip
# Words that make "a thing asked for" something else: "to use it", "my money back".
_NOT_A_THING = {
    "it", "them", "this", "that", "my", "your", "ur", "money", "back", "help", "refund", "you", "we", "i", "u",
}  # fmt: skip


# "we have a new puppy", "i just got a galaxy s24": what the shopper has, not what they ask for
# (the "have" that follows is then no request: "do you have" is).
_OWNING = re.compile(r"(?:have|has|got)\b", re.I)
# The owner starts its clause ("... we have a new puppy"), unlike "can we have a blanket?".
_OWNS = re.compile(
    r"(?:^|[.,;!?]\s*|\b(?:and|but|so)\s+)(?:i|we|they|he|she|my \w+)(?:'ve)?"
    r"(?:\s+(?:just|already|recently|now|also))?\s*$",
    re.I,
)


@dataclass(frozen=True)
class _Start:
    end: int


@dataclass(frozen=True)
class Request:
    thing: str  # "linen bedsheets", as typed
    words: list[str]  # its words, folded
    heads: list[str]  # the last word of each alternative ("tv stands or media consoles" -> stands, consoles)
    audience: str | None  # "kids" in "linen shirts for kids"
    bare: bool = False  # the message is the thing and nothing else ("clipless pedals?")


def read_request(text: str) -> Request | None:
    """The thing a message asks for, or None when it asks for no thing."""
    starts = [
        m.end() for m in _ASK.finditer(text) if not (_OWNING.match(m.group(0)) and _OWNS.search(text[: m.start()]))
    ]
    starts += [m.end() for m in _PRICE_OF.finditer(text)]
    found_ask = bool(starts)
    words = tokens(text)
    if not starts and words and not set(words) & _QUESTION_WORDS and len(words) <= 6:
        starts = [0]  # "linen shirts for kids?": a thing and nothing else
    for start in sorted(starts):
        found = _Start(start)
        rest = text[found.end :]
        end = _END.search(rest)
        thing = (rest[: end.start()] if end else rest).strip()
        if set(tokens(thing)) & (_NOT_A_THING | SERVICES):
            continue  # "shipping to california", "to use it": not a thing to buy
        words = [w for w in tokens(thing) if w not in STOPWORDS or w == "or"]
        alternatives = [[w for w in part.split() if w.isalpha()] for part in " ".join(words).split(" or ")]
        heads = [part[-1] for part in alternatives if part and part[-1] not in NOT_THINGS and part[-1] not in SERVICES]
        if not heads:
            continue
        audience = next((m.group(1).lower() for m in _FOR.finditer(text) if m.group(1).lower() in AUDIENCES), None)
        return Request(thing, [w for w in words if w != "or"], heads, audience, bare=start == 0 and not found_ask)
    return None
