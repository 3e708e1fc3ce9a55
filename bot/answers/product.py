"""Questions about products the shopper names (or refers back to): price and stock of the
variants asked about, or the sentence of the product's details that answers ("is it
waterproof?" -> "IPX4 splash-proof: fine in rain, not for submerging"), yes or no only when that
sentence says so, and "I don't know" when the details do not say."""

from __future__ import annotations

import re
from dataclasses import replace

from bot.answers.asked import Asked, answer_type, fits_type
from bot.answers.context import Context, in_order, mentions, named_variants, negated, pieces
from bot.answers.decline import decline
from bot.answers.plan import best, plan, stated
from bot.answers.policy import specifics
from bot.knowledge import Effects, Grounding
from bot.knowledge.catalog import Product, Variant
from bot.knowledge.evidence import Scored
from bot.knowledge.facts import money, the
from bot.knowledge.retrieval import expand
from bot.knowledge.text import fold, stem, tokens

# Words that ask for price or stock; what is left of a question after them (and the product's
# name) is the attribute it asks about.
_OFFER_WORDS = {
    "price", "prices", "cost", "costs", "much", "cheap", "cheaper", "cheapest", "expensive", "sale", "offer",
    "deal", "stock", "available", "availability", "buy", "order", "have", "got", "sell", "carry", "come",
    "comes", "colour", "colours", "color", "colors", "size", "sizes", "option", "options", "variant", "variants",
    "still", "left", "anymore", "get", "ordered", "purchase", "in", "one", "ones", "version",
    "bigger", "biggest", "larger", "largest", "smaller", "smallest", "longer", "longest", "shorter", "other",
}  # fmt: skip
_PRICE_OR_STOCK = re.compile(
    # "how much does the dirtwise weigh?" asks a weight, not a price.
    r"\b(how much(?! (?:weight|space|room|load|power|water|charge|battery|light|noise|heat)\b)"
    r"(?! (?:does|do|can|will|would) (?:\w+ ){0,4}?(?:weigh|hold|carry|fit|last)\w*)|"
    r"price|prices|prise|cost|costs|in stock|stock|available|availab\w*|sold out|on sale|"
    r"(?:what|which|any|other|different) (?:colou?rs?|sizes?|options?)|colou?rs?|options?|"
    r"come in (?:what|which|other|any|different)|have (?:it|them|one|this|that) in)\b",
    re.I,
)
# A detail this short is given with the one after it.
_SHORT = 40
# What a detail sentence loses for not saying any of the words asked about (scores are cosine
# similarities, answerable ones around 0.6).
_UNCOVERED = 0.2
# ... and for a word the shop uses, but never of this product ("tpi" of a tyre whose details do
# not give it, when another tyre's do).
_ABSENT = 0.1
# How product details name what a measure word asks ("how heavy?" -> "Weight: 640 g").
_MEASURED_AS = {
    stem(word): nouns
    for word, nouns in {
        "heavy": ("weight", "weighs"), "light": ("weight", "weighs"), "weigh": ("weight",), "wide": ("width", "w"),
        "tall": ("height", "h"), "high": ("height", "h"), "long": ("length", "l"), "deep": ("depth", "d"),
        "thick": ("thickness",), "big": ("size", "dimensions"), "large": ("size", "dimensions"),
        "small": ("size", "dimensions"), "fast": ("speed",), "warm": ("temperature", "rating"),
    }.items()
}  # fmt: skip
# The yes/no question ends where its clause does: "Is it waterproof? I'm hiking in October."
_QUESTION_CLAUSE = re.compile(r"[?.!]\s")
# Questions about a product that a policy may answer better than its description.
POLICY_TOPIC = re.compile(
    r"\b(warrant\w*|guarantee\w*|return\w*|refund\w*|exchang\w*|ship\w*|deliver\w*|postage|customs|dut(?:y|ies)|"
    r"pay\w*|instal+ments?|financ\w*|restocking|overnight|express|expedited|next.day|send (?:\w+ ){0,2}back)\b",
    re.I,
)
# "When will it be back in stock?": not a question the stock figures answer.
_RESTOCK = re.compile(r"\bwhen\b.*\b(back|restock\w*|again|replenish\w*)\b|\brestock", re.I)


def asks_offer(asked: Asked, product: Product, kinds: set[str]) -> bool:
    """Whether the question wants price or stock (or names a variant and nothing else)."""
    if _RESTOCK.search(asked.text) or POLICY_TOPIC.search(asked.clean):
        return False
    if _PRICE_OR_STOCK.search(asked.clean) or _PRICE_OR_STOCK.search(asked.text):
        return True
    return not attribute_words(asked, product, kinds)


def attribute_words(asked: Asked, product: Product, kinds: set[str]) -> list[str]:
    """What the question asks about the product beyond its name and its variants ("9x12",
    "navy", "the bigger one" name a variant)."""
    name = {stem(w) for w in tokens(product.title)} | kinds
    values = {stem(w) for v in product.variants for value in v.options.values() for w in tokens(value)}
    return [
        w
        for w in asked.about(set())
        if stem(w) not in name and stem(w) not in values and w not in _OFFER_WORDS and not any(c.isdigit() for c in w)
    ]


def covering(ctx: Context, found: list[Scored], keys: list[str], product: Product) -> list[Scored]:
    """`found` re-ranked by the words asked about that the product's details never say: "the
    impedance of the headphones?", "what tpi is the tyre?" are not answered by "3.5 mm cable
    included" or "Sizes: 700x38c", however close their meaning. A sentence that does not say such
    a word (or the noun of a measure word: "heavy" is said as "Weight") scores `_UNCOVERED` less
    for it when the shop never uses the word, `_ABSENT` less when only this product's details do
    not; the "I don't know" threshold is calibrated on these scores."""
    units = ctx.index.product_units.get(product.id, [])
    whole = " ".join([product.title, *(u.text for u in units)])

    def says(text: str, key: str) -> bool:
        # In the shop's words too: "IP44" says "waterproof" (bot.knowledge.retrieval).
        text = expand(text)
        return mentions(text, key) or any(mentions(text, noun) for noun in _MEASURED_AS.get(stem(key), ()))

    weights = {
        k: (_UNCOVERED if not ctx.index.spelling.known_to_shop(fold(k)) else _ABSENT) / len(keys)
        for k in keys
        if not says(whole, k)
    }
    if not weights:
        return found
    said = [
        replace(f, uncovered=sum(w for k, w in weights.items() if not says(f"{product.title} {f.unit.text}", k)))
        for f in found
    ]
    return sorted(said, key=lambda f: -f.score)


def polarity(asked: Asked, keys: list[str], evidence: str) -> str | None:
    """ "yes" or "no" when the evidence says so of the very words asked about ("is it vegan?" ->
    "not vegan": no); None when it does not use them (a shopper is then shown the sentence, not
    told yes or no)."""
    if not keys or not all(mentions(evidence, k) for k in keys):
        return None  # "is it real leather?" is not answered yes by "vegan leather"
    said = keys
    answers = set()
    for key in said:
        no = negated(evidence, key)
        if negated(asked.clean, key):  # "can I use it without a box spring?"
            no = not no
        answers.add("no" if no else "yes")
    return answers.pop() if len(answers) == 1 else None


async def answer_product(ctx: Context, asked: Asked, products: list[Product]) -> Grounding:
    product = products[0]
    index = ctx.index
    effects = Effects(products=[p.id for p in products])
    kinds = index.names.kinds_of(product)
    if len(products) > 1 and asks_offer(asked, product, kinds):
        # "the kestrel buds": several products answer to the name; each one's offer.
        units = [index.product_units[p.id][0] for p in products]
        return plan(
            [u.text for u in units],
            units,
            effects=effects,
            slots={"product": products[0].title, "offer": units[0].text},
            key_facts=[p.title for p in products],
            direct=True,
        )
    variants = named_variants(product, asked)
    units = index.product_units[product.id]
    if asks_offer(asked, product, kinds):
        said = index.offer(product, variants or None)
        chosen = [u for u in units if u.kind == "offer" or (u.variant is not None and u.variant in variants)]
        in_stock = all(v.in_stock for v in (variants or product.variants))
        yes = ("yes" if in_stock else "no") if asked.yes_no and variants else None
        opener = {"yes": "Yes. ", "no": "Sorry, no. "}.get(yes or "", "")
        prices = sorted({money(v.price, index.currency, index.locale) for v in (variants or product.variants)})
        return plan(
            [opener + said],
            chosen,
            effects=effects,
            slots={"product": product.title, "offer": index.offer_phrase(product, variants or None)},
            key_facts=[product.title, *prices],
            notices=[said],
            polarity=yes,
            yes_no=asked.yes_no,
            direct=asked.yes_no,
        )
    keys = attribute_words(asked, product, kinds)
    wanted = answer_type(asked.text)
    # A follow-up ("is it usb-c rechargeable?") is asked with the name of what it is about.
    named_here = any(n.product.id == product.id for n in asked.named)
    query = await ctx.query(asked, extra="" if named_here else product.title)
    # A variant's offer answers price and stock (asked above); a policy question about the product
    # ("PayPal for the Gust?") is not answered by its price either.
    policy_topic = bool(POLICY_TOPIC.search(asked.clean))
    details = [u for u in units if u.kind != "variant" and not (policy_topic and u.kind == "offer")]
    found = [f for f in index.evidence.search(query, details, k=6) if fits_type(f.unit.text, wanted)]
    found = covering(ctx, found, keys, product)[:3]
    # A policy that covers the product ("can I return it?", "the warranty on that", "shipping
    # for the lamp"), searched with the product's kind so a table's row for it is found.
    kind = " ".join(sorted({w for w in tokens(f"{product.type} {product.title}") if stem(w) in kinds}))
    policy: list[Scored] = []
    if policy_topic or not ctx.passes("detail", best(found)):
        # Asked of the policies without the product's name (which they do not use), with its kind.
        name = {stem(w) for w in tokens(product.title)} | kinds
        without = " ".join(w for w in asked.words if stem(w) not in name) or asked.clean
        with_kind = f"{without} {kind}".strip()
        # With the kind a table's row for it is found ("the warranty on jackets"); without, any
        # other policy is ("is PayPal available for it?").
        found_both = [
            *index.evidence.search(await ctx.encode(without), index.policy_units, k=6),
            *index.evidence.search(await ctx.encode(with_kind), index.policy_units, k=6, naming=with_kind),
        ]
        policy = sorted(found_both, key=lambda f: -f.score)
        policy = [f for f in policy if fits_type(f.unit.text, wanted)][:2]
    policy_wins = policy_topic and bool(policy) and ctx.passes("policy", best(policy))
    if ctx.passes("detail", best(found)) and not (policy_wins and not POLICY_TOPIC.search(found[0].unit.text)):
        return _detail(ctx, asked, product, found, keys, effects)
    if policy and ctx.passes("policy", best(policy)):
        top = policy[0].unit
        # The product's kind picks the column of a rate table ("surfboards", not "small items").
        said = f"About {the(product.title, capital=False)}: {stated(top, [*asked.words, *kind.split()])}"
        return plan([said], [top], effects=effects, slots={"product": product.title, "policy": top.text})
    return decline(
        ctx,
        asked,
        lead=f"I don't know that about {the(product.title, capital=False)}, I'm afraid: the product details I have don't say.",
        effects=effects,
    )


def _earlier_variants(ctx: Context, product: Product) -> list[Variant]:
    """The variants of `product` the shopper named in their last message about it ("is the reef
    break available in 6'2?" -> "whats the volume on that one?")."""
    for text in ctx.earlier[:2]:
        asked = ctx.read(text)
        if any(n.product.id == product.id for n in asked.named):
            return named_variants(product, asked)
    return []


_LABELLED = re.compile(r"\(([^)]+)\)\s*$")


def _of_variants(text: str, variants: list[Variant]) -> str:
    """A detail that gives a figure per variant, cut to the variants asked about: "Weight: 890 g
    (2.35), 980 g (2.5)" of the 2.5 is "Weight: 980 g (2.5)"."""
    if not variants:
        return text
    head, sep, body = text.partition(": ")
    if not sep:
        head, body = "", text
    parts = [p.strip() for p in body.rstrip(".").split(", ")]
    labels = [_LABELLED.search(p) for p in parts]
    if len(parts) < 2 or not all(labels):
        return text
    values = [pieces(value) for v in variants for value in v.options.values()]

    keep = [
        p
        for p, label in zip(parts, labels, strict=True)
        if label and any(in_order(pieces(label.group(1)), value) for value in values)
    ]
    if not keep or len(keep) == len(parts):
        return text
    return f"{head}{sep}{', '.join(keep)}."


def _detail(
    ctx: Context, asked: Asked, product: Product, found: list[Scored], keys: list[str], effects: Effects
) -> Grounding:
    top = found[0]
    units = [top.unit]
    # A second sentence when it is nearly as good and says one of the words asked about too.
    if len(found) > 1 and found[1].score >= top.score - 0.05 and any(mentions(found[1].unit.text, k) for k in keys):
        units.append(found[1].unit)
    elif len(top.unit.text) < _SHORT and top.unit.kind == "detail":
        # "Not machine washable." says what not to do; the sentence after it, what to do.
        beside = [u for u in ctx.index.evidence.neighbours(top.unit) if u.kind == "detail"]
        units += beside[-1:]  # the one after, else the one before ("Care: hand wash only ...")
    units = [u for u in ctx.index.evidence.units if u in units]  # in the order the product says them
    variants = named_variants(product, asked) or _earlier_variants(ctx, product)
    if variants and any(u.table is not None for u in units):
        # A size table in the description: the row of the size asked about, not every size.
        values = {fold(value) for v in variants for value in v.options.values()}
        rows = [
            u for u in ctx.index.product_units[product.id] if u.table is not None and u.row and fold(u.row[0]) in values
        ]
        units = rows or units
    evidence = " ".join(_of_variants(stated(u, asked.words), variants).rstrip(".") + "." for u in units)
    clause = ctx.read(_QUESTION_CLAUSE.split(asked.text)[0]) if asked.yes_no else asked
    yes = (
        polarity(clause, attribute_words(clause, product, ctx.index.names.kinds_of(product)), evidence)
        if asked.yes_no
        else None
    )
    opener = {"yes": "Yes. ", "no": "No. "}.get(yes or "", "")
    said = f"{opener}{evidence}" if top.unit.kind == "offer" else f"{opener}{the(product.title)}: {evidence}"
    return plan(
        [said],
        units,
        effects=effects,
        slots={"product": product.title, "offer": ctx.index.offer_phrase(product), "description": evidence},
        key_facts=specifics(evidence, asked.text) or [product.title],
        polarity=yes,
        yes_no=asked.yes_no,
        # The embedded model was taught to open warmly ("Of course."), which reads as a yes:
        # a yes/no question is answered as composed.
        direct=asked.yes_no,
    )
