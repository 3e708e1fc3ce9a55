"""Which answerer answers a message: the dispatch table of the kinds of question, each a small
function from the question read and the shop's index to a reply plan.

    other language    -> foreign       (fixed sentences in the shopper's language)
    order number      -> order         (only with the e-mail on it)
    small talk        -> small_talk
    several questions -> each part, in order, together
    a product not sold (draft, archived, another brand, another kind) -> not_sold
    two products and a comparison  -> compare
    products named or referred to  -> product
    a kind, a budget, "for 3 people", a recommendation -> pick
    another domain's question      -> out of scope
    anything else     -> policy        ("I don't know" below the calibrated threshold)
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import replace

from bot.answers.asked import Asked, parts
from bot.answers.compare import answer_compare, compare_variants, compared_values
from bot.answers.context import Context, Encode, conversation, mentions, named_variants, referred
from bot.answers.decline import reach_person
from bot.answers.foreign import answer_foreign
from bot.answers.not_sold import not_sold, not_sold_product
from bot.answers.order import answer_order
from bot.answers.phrases import LANGUAGES
from bot.answers.pick import answer_pick
from bot.answers.plan import best, plan, with_contact
from bot.answers.policy import CONTINUES, answer_policy
from bot.answers.product import POLICY_TOPIC, answer_product, asks_offer, attribute_words
from bot.answers.relevance import Thresholds
from bot.answers.request import NOT_THINGS, Request, read_request
from bot.answers.small_talk import answer_small_talk, small_talk_kind
from bot.knowledge import Effects, Grounding
from bot.knowledge.catalog import Product
from bot.knowledge.index import ShopIndex
from bot.knowledge.order_lookup import asks_without_email, find_claim
from bot.knowledge.places import places
from bot.knowledge.spelling import english_counts
from bot.knowledge.text import STOPWORDS, fold, tokens
from bot.language import detect_language
from bot.messages import StoredMessage
from bot.understanding import Understanding

# "which colour did I get?", "what was in it?": about what the shopper bought.
_OWN_PURCHASE = re.compile(
    r"\bdid (i|we) (get|order|buy|receive|pay for)\b(?! (charged|billed|refunded|twice|an? (e-?mail|reply|answer)))|"
    r"\bwhat was in (it|my|the order)\b",
    re.I,
)
# "my order", "our parcel", "order #1042": a question about one order, not about ordering.
_MY_ORDER = re.compile(
    r"\b(my|our)\s+(\w+\s+)?(order|package|parcel|purchase|delivery|refund|shipment)|\border\s*#?\s*\w*\d|"
    r"\bdid (i|we) (get|order|buy|receive|pay for)\b(?! (charged|billed|refunded|twice|an? (e-?mail|reply|answer)))|\bwhat was in\b",
    re.I,
)
_OR_BETWEEN = re.compile(r"\b(or|vs\.?|versus|and)\b", re.I)
# "a tent for the three of us, and a stove": two things asked for in one request.
_ALSO = re.compile(r",?\s+(?:and|plus|&)\s+(?:also\s+)?(?=(?:a|an|some|the)\s)", re.I)
# "Who designs your tents?", "where are your lights made?": about a kind, but no request for one.
_NOT_A_PICK = re.compile(r"^\W*(?:who|whose|where|when|why|how(?! much| many))\b", re.I)
_SHOPPING = re.compile(
    r"\b(recommend\w*|suggest\w*|looking for|look for|need|want|gift|present|ideas?|best|good for|buy|show me|"
    r"something|anything|options?|should i (?:get|buy|choose))\b",
    re.I,
)
_WHICH_ONE = re.compile(r"\bwhich (one|of (them|the two|these|those))\b", re.I)
_ON_SALE = re.compile(r"\b(on sale|sale|discounted|deals?|clearance)\b", re.I)
_WHATS_ON = re.compile(
    r"\b(what is|whats|what's|anything|show me|any)\b.*\b(on sale|discounted|deals?|clearance)\b", re.I
)
# A sentiment score at or below this is an upset shopper (the scale runs -1 .. 1).
_UNHAPPY = -0.5
# An English word rarer than this, not in the shop's texts, is read as a brand ("anker").
_EVERYDAY = 1_000_000
_SELLING = re.compile(r"\b(sell|sells|carry|stock|got any|have any|do you have|looking for|need|want)\b", re.I)
_PRICE = re.compile(r"\b(how much|price|prices|cost|costs)\b", re.I)
_YES_NO_START = re.compile(
    r"^\W*(?:(?:hi|hey|hello|ok|so|and|but)[,!.]?\s+)*(?:is|are|does|do|did|can|could|will|would|has|have|should)\b",
    re.I,
)
_SAYS_NO = re.compile(r"^\W*(no\b|not\b|we don'?t\b|we do not\b|sorry\b)", re.I)
# A product question that is a pick: "anything cheaper?", "which tent for 3 people?".
_PICKY = {"recommendation"}
_PRODUCT_INTENTS = {"product_question", "recommendation"}
_LIKES = re.compile(
    r"\bi\s+(?:really\s+)?(?:like|love|prefer|enjoy|only wear|always buy|am into|'m into)\s+([^.!?,;]{3,60})", re.I
)


def stated_preferences(message: str) -> list[str]:
    """ "I prefer green gear" -> ["green gear"]: kept in the profile for later picks."""
    return [found.strip().lower() for found in _LIKES.findall(message)]


class Answers:
    """Grounds a shopper's message in a shop's index: reads it, picks the answerer, returns its plan."""

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.thresholds = thresholds or Thresholds.load()

    async def ground(
        self,
        index: ShopIndex,
        customer_id: str,
        message: str,
        history: Sequence[StoredMessage],
        understanding: Understanding | None,
        encode: Encode,
        probes: list[tuple[str, float]] | None = None,
        taste: tuple[list[str], list[str]] = ([], []),
    ) -> Grounding:
        """The plan for `message`. `probes`, when given, collects every threshold compared
        against and the score (calibration)."""
        focus, shown, earlier = conversation(index, history)
        language = detect_language(message, ignore=index.is_name_word)
        ctx = Context(
            index=index,
            customer_id=customer_id,
            message=message,
            history=history,
            understanding=understanding,
            encode=encode,
            thresholds=self.thresholds,
            language=language if language in LANGUAGES else "en",
            focus=focus,
            shown=shown,
            earlier=earlier,
            probes=probes,
            preferences=taste[0],
            interests=taste[1],
        )
        if language != "en":
            if language in LANGUAGES:
                return await _finish(ctx, answer_foreign(ctx))
            sorry = f"Sorry, I can only answer in English for now. {reach_person(ctx)}"
            return plan([sorry], notices=[sorry], direct=True)
        grounding = await self._answer(ctx)
        return await _finish(ctx, grounding)

    async def _answer(self, ctx: Context) -> Grounding:
        message = ctx.message
        numbers = ctx.index.orders.numbers
        claim = find_claim(message, ctx.earlier[:3], numbers)
        number = None if claim else asks_without_email(message, numbers)
        intent = ctx.intent
        if claim is not None or number is not None:
            return await answer_order(ctx, ctx.read(message), claim, number)
        if (kind := small_talk_kind(message)) is not None:
            return answer_small_talk(ctx, kind)
        if _OWN_PURCHASE.search(message):
            return await answer_order(ctx, ctx.read(message), None, None)  # "which colour did I get?"
        if _MY_ORDER.search(message) and (
            intent in ("order_status", "returns_refund", "complaint", None)
            or await ctx.index.orders.proven(ctx.customer_id)
        ):
            return await answer_order(ctx, ctx.read(message), None, None)
        pieces = parts(message)
        if len(pieces) == 1:
            return await self.single(ctx, ctx.read(message))
        answers: list[Grounding] = []
        earlier = ctx.earlier
        for position, piece in enumerate(pieces):
            asked = ctx.read(piece)
            named = [n.product for n in asked.named if ctx.index.offered(n.product)]
            if position and not named and ctx.focus and _covered(ctx, asked, answers):
                continue  # "... in paperback? do u have it": the offer above said so
            to_a_place = _to_a_place(asked)
            if position and not named and ctx.focus and to_a_place and ctx.focus[0].type:
                # "... and do you ship to canada?": the policies' answer, asked for the product's
                # type, which picks a rate table's column ("surfboards", not "small items").
                kind = ctx.focus[0].type.rsplit(">", 1)[-1].strip().lower()
                answers.append(await answer_policy(ctx, ctx.read(f"{piece} for {kind}")))
            elif position and not named and ctx.focus and not asked.kinds and not to_a_place:
                # "price of the annecy v neck? and can i tumble dry it", "... + how long is the
                # warranty": a later part asks about what the first part named.
                if (asked.comparative or _WHICH_ONE.search(asked.text)) and len(ctx.focus) > 1:
                    answers.append(await answer_compare(ctx, asked, ctx.focus[:2]))
                else:
                    answers.append(await answer_product(ctx, asked, ctx.focus[:1]))
            else:
                # "white glove delivery to texas, and how long does it take?": a later part that
                # says little of its own reads as a follow-up of the part before it (with a
                # product in focus, the focus says what "it" is).
                if not ctx.focus and (asked.refers_back or len(asked.content) <= 2):
                    ctx.earlier = [*pieces[:position][::-1], *earlier]
                try:
                    answers.append(await self.single(ctx, asked))
                finally:
                    ctx.earlier = earlier
            if named:
                ctx.focus = named + [p for p in ctx.focus if p not in named]
        return _together(answers)

    async def single(self, ctx: Context, asked: Asked) -> Grounding:
        index = ctx.index
        intent = ctx.intent
        named = asked.named
        offered = [n.product for n in named if index.offered(n.product)]
        if named and not index.offered(named[0].product) and not offered:
            return not_sold_product(ctx, asked, named[0].product)
        comparing = bool(asked.comparative or _OR_BETWEEN.search(asked.clean))
        if comparing and (len(offered) == 1 or (not offered and asked.kinds)):
            # "dry or wet lube?", "the presta 48mm and 60mm tubes?": options of one product.
            among = offered or [p for p in index.names.of_kinds(asked.kinds) if index.offered(p)]
            options = [(p, values) for p in among if (values := compared_values(p, asked))]
            if len(options) == 1:
                return await compare_variants(ctx, asked, *options[0])
        if len(offered) == 1 and asked.comparative and _OR_BETWEEN.search(asked.clean):
            # "the hartley sofa or the hartley loveseat": the second named by less of its title.
            loose = index.names.named(asked.words, loose=True)
            offered = [n.product for n in loose if index.offered(n.product)] or offered
        if len(offered) >= 2 and (asked.comparative or _OR_BETWEEN.search(asked.clean)):
            return await answer_compare(ctx, asked, offered[:3])
        if offered and asked.budget and not asked.comparative:
            # "any hiking socks under $30?": a pick among that kind, not the one product's offer.
            kinds_named = {k for p in offered for k in index.names.kinds_of(p)} & (asked.kinds or set())
            if kinds_named:
                return await answer_pick(ctx, asked, _corrected(index, read_request(asked.text)), kinds_named)
        if offered:
            return await answer_product(ctx, asked, offered)
        if ctx.focus and (
            asked.ordinal is not None
            or asked.size
            or named_variants(ctx.focus[0], asked)
            or (asked.refers_back and (asked.yes_no or not asked.kinds) and not asked.budget)
            or (_PRICE.search(asked.text) and not asked.kinds and not asked.budget and len(asked.content) <= 3)
        ):
            return await answer_product(ctx, asked, referred(ctx, asked))
        if ctx.earlier and CONTINUES.search(asked.text) and POLICY_TOPIC.search(ctx.read(ctx.earlier[0]).clean):
            return await answer_policy(ctx, asked)  # "and on gloves?" after "the warranty on helmets?"
        continues = bool(ctx.earlier) and bool(CONTINUES.search(asked.text) or asked.refers_back)
        request = _corrected(index, read_request(asked.text))
        # "need a plain hdmi to hdmi cable": asking for a kind of thing the shop sells is shopping,
        # whatever the head makes of "hdmi".
        sold_kind = request is not None and bool(index.names.kinds_named(request.heads))
        if intent == "out_of_scope" and not continues and not (asked.budget or asked.people or sold_kind):
            # Another domain's question by the intent head ("do I need a visa for my layover?"):
            # answered only when something in the shop's data is close to it, whatever shop
            # words ("card", "cancel", "return") it shares with the shop's policies. A budget or
            # the people it is for make it shopping, whatever the head says.
            found = index.evidence.search(await ctx.query(asked), k=1)
            if not ctx.passes("out_of_scope", best(found)):
                return _out_of_scope(ctx)
        # The kinds the thing asked for names come first: "a tube for a 700x28c tyre" is a tube.
        thing_kinds = index.names.kinds_named(request.words) if request else set()
        kinds = thing_kinds or set(asked.kinds)
        unhappy = _unhappy(ctx.understanding)
        wants = (
            intent in _PRODUCT_INTENTS
            or bool(_SELLING.search(asked.text))
            or bool(_PRICE.search(asked.text))
            or (request is not None and request.bare)
        )
        about_policy = bool(POLICY_TOPIC.search(asked.clean))
        # "king size bed frame under 1100": a message that is only a request names its kind
        # wherever it stands ("size" ends the thing read at "king").
        bare_of_kind = request is not None and request.bare and bool(asked.kinds)
        if request is not None and not thing_kinds and wants and not unhappy and not about_policy and not bare_of_kind:
            # A thing the shop has no kind of ("bedsheets"), unless its policies answer it
            # ("do you have a size chart?").
            policy = index.evidence.search(await ctx.query(asked), index.policy_units, k=1)
            about_thing = bool(policy) and any(mentions(policy[0].unit.indexed, head) for head in request.heads)
            if best(policy) < ctx.thresholds.policy + 0.1 or not about_thing:
                if index.names.in_one_name([w for w in request.words if w not in NOT_THINGS and w.isalpha()]):
                    # "anything cashmere under 200€?": no kind, but what the shop's own product
                    # names say ("Cashmere Travel Stole"): a pick among them.
                    return await answer_pick(ctx, asked, request, set())
                return not_sold(ctx, asked, request.thing)
            answer = await answer_policy(ctx, asked)
            if _SAYS_NO.search(answer.safe_answer or ""):
                return replace(answer, outcome="not_sold")  # "No, we don't sell mattresses."
            return answer
        things = [t for t in _ALSO.split(asked.text) if t.strip()]
        if len(things) > 1 and not unhappy and all(index.names.kinds_named(ctx.read(t).words) for t in things):
            # "a tent for me and my two kids, and a stove": a pick for each.
            picks = []
            for thing in things:
                part = ctx.read(thing)
                picks.append(await answer_pick(ctx, part, read_request(thing), index.names.kinds_named(part.words)))
            return _together(picks)
        if request is not None and thing_kinds and not unhappy and not about_policy:
            if brand := _other_brand(index, asked, request, thing_kinds):
                # Another brand of a kind the shop has ("anker power banks"): its own are the alternatives.
                products = [p for p in index.names.of_kinds(thing_kinds) if index.offered(p)]
                products = [p for p in products if any(v.orderable for v in p.variants)]
                return not_sold(ctx, asked, brand, products[:3])
            return await answer_pick(ctx, asked, request, kinds)
        if kinds and not unhappy and not about_policy and not _NOT_A_PICK.search(asked.text):
            of_kind = [p for p in index.names.of_kinds(kinds) if index.offered(p)]
            if of_kind and (
                asked.budget or asked.people or intent in _PICKY or await _products_answer_better(ctx, asked, of_kind)
            ):
                if len(of_kind) == 1 and not (asked.budget or asked.people):
                    return await answer_product(ctx, asked, of_kind)  # "what amounts do your gift cards come in?"
                return await answer_pick(ctx, asked, request, kinds)
        # The head's "recommendation" alone, without a word of shopping, is too little for a pick:
        # "who designs your tents?", "do you sponsor climbers?".
        picky = intent in _PICKY and not _NOT_A_PICK.search(asked.text) and bool(_SHOPPING.search(asked.text))
        if (
            not unhappy
            and not about_policy
            and (
                picky
                or asked.budget
                or asked.people
                or (_ON_SALE.search(asked.clean) and _WHATS_ON.search(asked.clean))
            )
        ):
            return await answer_pick(ctx, asked, request, set())
        return await answer_policy(ctx, asked)


async def _products_answer_better(ctx: Context, asked: Asked, products: list[Product]) -> bool:
    """Whether the products of the kind a question names answer it better than the policies do
    ("a smart plug that works with Apple Home" against "what's the warranty on smart plugs?")."""
    index = ctx.index
    query = await ctx.query(asked)
    units = [u for p in products for u in index.product_units[p.id]]
    return best(index.evidence.search(query, units, k=1)) > best(index.evidence.search(query, index.policy_units, k=1))


def _other_brand(index: ShopIndex, asked: Asked, request: Request, kinds: set[str]) -> str | None:
    """A brand the shop does not carry, named with a kind it does ("anker power banks",
    "kryptonite locks"): a word of the thing the shop's texts never use that is no everyday
    English word, or is written with a capital."""
    english = english_counts()
    for word in request.words:
        if not word.isalpha() or index.names.kinds_named([word]) & kinds or _known(index, [word]):
            continue
        capital = re.search(rf"\b{re.escape(word)}\b", asked.text, re.I)
        typed = capital.group(0) if capital else word
        if english.get(word, 0) < _EVERYDAY or (typed[:1].isupper() and typed != asked.text.strip()[: len(typed)]):
            return request.thing
    return None


def _covered(ctx: Context, asked: Asked, answers: list[Grounding]) -> bool:
    """Whether a later part only asks again what an earlier part's offer said ("is it in stock?")."""
    product = ctx.focus[0]
    offered_already = any(product.id in a.effects.products and a.slots.get("offer") for a in answers)
    kinds = ctx.index.names.kinds_of(product)
    return offered_already and asks_offer(asked, product, kinds) and not attribute_words(asked, product, kinds)


def _to_a_place(asked: Asked) -> bool:
    """ "... and do you ship to canada?": shipping or returns to a place is the policies' answer,
    whatever product the message named before it."""
    return bool(POLICY_TOPIC.search(asked.clean) and (places(asked.text) or _TO_PLACE.search(asked.clean)))


# "ship to canada", "returns from germany": a place after a word of shipping or returns (not
# "shipping take to arrive", "return it to exchange": a verb after "to").
_TO_PLACE = re.compile(
    r"(?:\b(?:ship|deliver|send|post|mail)\w*\b.*\bto|\breturn\w*\b.*\bfrom)\s+"
    r"(?!(?:me|you|us|my|your|our|the|it|them|a|an|this|that|store|shop|home|work|door|stock|arrive|"
    r"process|get|be|take|make|exchange|reach|come|go|receive|show|change|swap|buy|order|pay)\b)[a-z]{3,}",
    re.I,
)


def _unhappy(understanding: Understanding | None) -> bool:
    """A complaint, or a message clearly upset: it gets how to reach a person, and no pick. A
    request the head reads as shopping keeps its pick whatever the mood score makes of "I need a
    warm sleeping bag" (cold, need: -0.5); fury is another matter."""
    if understanding is None:
        return False
    if understanding.intent == "complaint" or understanding.furious:
        return True
    return understanding.intent not in _PRODUCT_INTENTS and understanding.sentiment_score <= _UNHAPPY


def _corrected(index: ShopIndex, request: Request | None) -> Request | None:
    """The request with its words spelled as the shop spells them ("waterprof jackts")."""
    if request is None:
        return None
    words = index.spelling.correct(request.words)
    heads = index.spelling.correct(request.heads)
    return replace(request, thing=" ".join(words) or request.thing, words=words, heads=heads)


def _known(index: ShopIndex, words: Sequence[str]) -> bool:
    """Whether the shop's own texts use every one of the words."""
    return all(index.spelling.known_to_shop(fold(w)) for w in words)


def _out_of_scope(ctx: Context) -> Grounding:
    name = ctx.index.shop.profile.name
    said = (
        f"I'm {name}'s assistant, so I can only help with our products, your orders, shipping, returns and payment. "
        "Is there something along those lines I can do for you?"
    )
    return plan([said], notices=[said], outcome="out_of_scope", direct=True, effects=Effects(gap=ctx.message))


def _together(answers: list[Grounding]) -> Grounding:
    """Several parts' plans as one reply, in the order asked."""
    answered = [a for a in answers if a.outcome == "answer"]
    outcome = "answer" if answered else answers[0].outcome
    effects = Effects(
        products=[p for a in answers for p in a.effects.products],
        proven_order=next((a.effects.proven_order for a in answers if a.effects.proven_order), None),
        wrong_guess=any(a.effects.wrong_guess for a in answers),
        gap=next((a.effects.gap for a in answers if a.effects.gap), None),
    )
    said = []
    for grounding in answers:
        text = grounding.safe_answer or ""
        if grounding.outcome == "declined" and answered:
            text = text.split(":")[0] + "."  # the "I don't know" part, not its help lines twice
        said.append(text)
    return Grounding(
        [f for a in answers for f in a.facts],
        safe_answer=" ".join(s for s in said if s),
        direct=True,
        quick_replies=[q for a in answers for q in a.quick_replies][:4],
        key_facts=[k for a in answers for k in a.key_facts],
        required=[r for a in answers for r in a.required],
        outcome=outcome,
        effects=effects,
    )


async def _finish(ctx: Context, grounding: Grounding) -> Grounding:
    """What every answer gets: the shopper's stated tastes remembered, contact details for an
    unhappy shopper."""
    tastes = stated_preferences(ctx.message)
    if tastes:
        grounding = replace(grounding, effects=replace(grounding.effects, tastes=tastes))
    if _unhappy(ctx.understanding) and grounding.outcome not in ("small_talk", "out_of_scope") and ctx.language == "en":
        grounding = with_contact(grounding, ctx.index.shop.profile)
    # A yes/no question's reply may not open with a yes or no its evidence does not give (the
    # checker holds it to `polarity`), whichever answerer made it.
    asked_yes_no = grounding.yes_no or bool(_YES_NO_START.search(ctx.message))
    return replace(grounding, language=ctx.language, yes_no=asked_yes_no)


def products_of(grounding: Grounding, catalog: Sequence[Product]) -> list[Product]:
    ids = set(grounding.effects.products)
    return [p for p in catalog if p.id in ids]


def folded_words(text: str) -> set[str]:
    return {fold(w) for w in tokens(text) if w not in STOPWORDS}
