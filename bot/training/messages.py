"""Training messages written from templates, for what the data sets lack: shopper questions about
products of any shop (so that a question naming a phone, a bike part or a sofa is not taken for
another domain's), and customers at every temperature, from a polite complaint to fury (so that
the hand-over to a person goes to the furious, not to every complaint).

The vocabulary is general retail, across many kinds of shop; none of it is taken from the
evaluation corpus. Every message is drawn with a seeded generator: the same seed, the same set.
"""

from __future__ import annotations

import random
import re

# Kinds of product across many kinds of shop, singular.
KINDS = """
phone case|charger|usb-c cable|power bank|wireless earbuds|headphones|laptop sleeve|screen protector|smart plug|
keyboard|mouse|monitor stand|hdmi adapter|webcam|tablet stand|car mount|bike light|helmet|inner tube|tyre|chain|
saddle|bike lock|pump|water bottle|jersey|gloves|sofa|armchair|dining table|desk|office chair|bookcase|rug|
floor lamp|bed frame|mattress topper|curtains|cushion|dog food|cat litter|dog bed|leash|harness|cat tree|
chew toy|fish tank|bird seed|t-shirt|linen shirt|dress|jeans|jacket|raincoat|sweater|scarf|belt|sneakers|
boots|socks|backpack|tote bag|wallet|watch|necklace|earrings|ring|face serum|moisturiser|sunscreen|lip balm|
shampoo|body oil|perfume|green tea|coffee beans|teapot|mug|chocolate|olive oil|spice set|frying pan|knife|
cutting board|blender|kettle|tent|sleeping bag|headlamp|camping stove|hiking poles|yoga mat|dumbbells|
kettlebell|running shoes|swimsuit|sunglasses|notebook|fountain pen|poster|photo frame|candle|vase|plant pot|
puzzle|board game|toy car|baby carrier|stroller|gift card
""".replace("\n", "").split("|")
DEVICES = [
    "iphone 15",
    "iphone 13",
    "galaxy s24",
    "pixel 8",
    "macbook air",
    "macbook pro",
    "ipad",
    "switch",
    "apple watch",
    "dell laptop",
]
ATTRIBUTES = """
waterproof|machine washable|dishwasher safe|vegan|gluten free|organic|recyclable|dimmable|rechargeable|foldable|
adjustable|suitable for kids|fragrance free|cruelty free|non-stick|bpa free|hypoallergenic|wireless|noise cancelling|
compatible with magsafe|made of real leather|solid wood|easy to assemble|oven safe|microwave safe|grain free
""".replace("\n", "").split("|")
OPTIONS = [
    "black",
    "white",
    "navy",
    "red",
    "size m",
    "size l",
    "xl",
    "small",
    "large",
    "king size",
    "queen",
    "128gb",
    "2m",
    "500 ml",
    "twin pack",
]
_SYLLABLES = [
    "ka",
    "lo",
    "mi",
    "ra",
    "ve",
    "to",
    "nu",
    "sa",
    "pe",
    "ri",
    "ko",
    "zu",
    "da",
    "fe",
    "gi",
    "ha",
    "ju",
    "ne",
]


def product_name(rng: random.Random) -> str:
    """A made-up product name, the way shops name things: "Ravelo 300", "Kozu Trail Pro"."""
    brand = "".join(rng.choice(_SYLLABLES) for _ in range(rng.choice([2, 2, 3]))).capitalize()
    extra = rng.choice(
        ["", "", f" {rng.randint(2, 900)}", " Pro", " Lite", " Max", f" {rng.choice(['X', 'S', 'Air'])}"]
    )
    return f"{brand}{extra} {rng.choice(KINDS)}".strip()


_PRODUCT = [
    "how much is the {p}?", "is the {p} in stock", "does the {p} come in {o}?", "is the {p} {a}?",
    "does the {p} work with my {d}", "will the {p} fit a {d}", "what's the {p} made of", "how heavy is the {p}",
    "how long is the {p}", "whats the difference between the {p} and the {q}", "{p} vs {q}, which is better?",
    "which is cheaper, the {p} or the {q}?", "do u have the {p} in {o}", "{p} price pls", "is the {p} on sale rn",
    "whats included with the {p}", "can i use the {p} outside", "does the {p} need batteries", "{p} {o} available?",
    "when will the {p} be back in stock", "is the {p} any good for beginners", "how big is the {p}",
]  # fmt: skip
_PICK = [
    "any {k}s under {m}?", "looking for a {k} for my {r}", "do you sell {k}s", "got any {k}s", "need a {k} that is {a}",
    "recommend a {k} for {u}", "what {k} would you suggest", "cheapest {k} you have?", "{k} for a beginner",
    "i need a new {k}, something {a}", "do you have {k}s for kids", "best {k} for {u}?", "show me your {k}s",
]  # fmt: skip
_RELATIONS = ["dad", "mum", "sister", "partner", "friend", "son", "daughter", "boss", "grandma"]
_USES = [
    "travel",
    "the office",
    "everyday use",
    "a gift",
    "camping",
    "the gym",
    "a small flat",
    "winter",
    "rainy days",
    "commuting",
]
_MONEY = ["$50", "50 dollars", "€30", "£40", "100", "20 euros", "$25", "$200"]


def shop_questions(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """(message, intent) pairs: questions about products of any shop, and requests for a pick."""
    found = []
    for n in range(count):
        slots = {
            "p": product_name(rng), "q": product_name(rng), "k": rng.choice(KINDS), "a": rng.choice(ATTRIBUTES),
            "d": rng.choice(DEVICES), "o": rng.choice(OPTIONS), "m": rng.choice(_MONEY), "r": rng.choice(_RELATIONS),
            "u": rng.choice(_USES),
        }  # fmt: skip
        if n % 3 == 2:
            text, intent = rng.choice(_PICK).format(**slots), "recommendation"
        else:
            text, intent = rng.choice(_PRODUCT).format(**slots), "product_question"
        found.append((text.lower() if rng.random() < 0.6 else text, intent))
    return found


# -- how customers feel ------------------------------------------------------------------------

_PROBLEMS = [
    "my order hasn't arrived", "the {k} arrived broken", "you sent the wrong size", "i was charged twice",
    "the {k} stopped working after two days", "nobody answered my emails", "my refund still isn't here",
    "the tracking hasn't moved in a week", "half my order is missing", "the {k} looks nothing like the photos",
    "the delivery guy left it in the rain", "my discount code didn't work", "you cancelled my order without telling me",
]  # fmt: skip
_CALM = [
    "hi, {x}, could you check please?", "{x}. not great, but could you help?", "unfortunately {x}. what can i do?",
    "just letting you know {x}, any update?", "a bit disappointed: {x}", "{x}, could you look into it when you can",
    "thanks, but {x} and i'm still waiting", "hello, i think {x}. can you help me sort it out?",
    "sorry to bother you, {x}", "{x} - is there anything you can do?", "slightly annoyed that {x}, but ok",
]  # fmt: skip
_FURIOUS = [
    "{x}!!! this is ridiculous", "are you kidding me?? {x}", "{x}. worst service ever, refund me NOW",
    "this is the third time i ask: {x}!!!", "{x}. i'm disputing the charge with my bank", "{x}, you are useless",
    "great, {x}. thanks a lot 🙄", "{x}. what a joke of a company 😡", "{x}!!!! i want my money back immediately",
    "{x}. i'll leave a 1 star review everywhere", "unbelievable. {x} AGAIN", "{x}. this is a scam, give me a human",
    "oh wonderful, {x}, just perfect 🙄🙄", "{x} and NOBODY CARES. disgusting", "{x}. never ordering from you again!!",
    "{x}. fix it today or i'm reporting you", "seriously?! {x}. answer me!!!", "{x} 🤬🤬",
]  # fmt: skip
_HAPPY = [
    "love it, thank you!", "the {k} is perfect, thanks so much 😊", "you guys are amazing", "great service, thanks!",
    "arrived early, really happy with the {k}", "thank you, that helps a lot", "perfect, that's what i needed",
    "wow, super fast delivery 👍", "best {k} i've bought", "thanks for sorting it out so quickly!",
]  # fmt: skip


def _shout(text: str, rng: random.Random) -> str:
    """How people type when angry: all caps, or some words in caps, doubled punctuation."""
    roll = rng.random()
    if roll < 0.3:
        return text.upper()
    if roll < 0.5:
        return re.sub(r"\b(\w{4,})\b", lambda m: m.group(1).upper() if rng.random() < 0.4 else m.group(1), text)
    return text


def feelings(rng: random.Random, count: int) -> list[tuple[str, str]]:
    """(message, feeling) with feeling "furious", "upset" (a calm complaint) or "happy"."""
    found = []
    for n in range(count):
        kind = rng.choice(KINDS)
        problem = rng.choice(_PROBLEMS).format(k=kind)
        roll = n % 5
        if roll < 2:
            found.append((_shout(rng.choice(_FURIOUS).format(x=problem), rng), "furious"))
        elif roll < 4:
            found.append((rng.choice(_CALM).format(x=problem), "upset"))
        else:
            found.append((rng.choice(_HAPPY).format(k=kind), "happy"))
    return found


_FIRST = ["jane", "omar", "li", "sam", "ana", "raj", "emma", "david", "klara", "liam"]
_LAST = ["doe", "haddad", "wei", "patel", "novak", "kim", "walsh", "rossi", "silva", "berg"]


def typed_casually(rng: random.Random, text: str) -> str:
    """An ordinary request the way shoppers type it in a hurry, none of it angry: "??", no
    capitals, "pls", an order number with an e-mail (often pasted in capitals)."""
    roll = rng.random()
    if roll < 0.25:
        return f"{text.rstrip('?.! ')}??"
    if roll < 0.45:
        email = f"{rng.choice(_FIRST)}.{rng.choice(_LAST)}@example.com"
        order = rng.choice(["#", "order ", "", "SO-"]) + str(rng.randint(1000, 99999))
        return f"{text.rstrip('?.! ')} - {order}, {email.upper() if rng.random() < 0.5 else email}"
    if roll < 0.6:
        return f"{text.rstrip('?.! ').lower()} pls"
    return text
