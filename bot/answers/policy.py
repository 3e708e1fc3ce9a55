"""Questions the shop's policies and FAQ answer: the sentence (or table row) that answers, with
the one beside it when it is the other half of the answer; "I don't know" when none is good
enough. A follow-up ("and if I want it faster?") is read together with the question before it."""

from __future__ import annotations

import re

from bot.answers.asked import Asked, answer_type, fits_type
from bot.answers.context import Context
from bot.answers.decline import decline
from bot.answers.plan import best, plan, stated
from bot.knowledge import Effects, Grounding
from bot.knowledge.evidence import Scored
from bot.knowledge.text import STOPWORDS, stem

# A message that continues the one before it rather than starting a topic of its own.
CONTINUES = re.compile(r"^\W*(and|what about|how about|also|or|but|ok and|same for|and for|what if)\b", re.I)
# A second unit joins the answer when it is this close to the first and from the same passage.
_CLOSE = 0.04


async def answer_policy(ctx: Context, asked: Asked, effects: Effects | None = None) -> Grounding:
    wanted = answer_type(asked.text)
    query = await ctx.query(asked)
    found = _typed(ctx.index.evidence.search(query, ctx.index.policy_units, k=8), wanted)
    if ctx.earlier and (CONTINUES.search(asked.text) or asked.refers_back or len(asked.content) <= 2):
        # "and if I want it faster?" after "how much is shipping to Ohio?": both together.
        earlier = ctx.read(ctx.earlier[0])
        joined = await ctx.query(asked, extra=earlier.clean)
        together = ctx.index.evidence.search(joined, ctx.index.policy_units, k=8, naming=asked.clean)
        together = _typed(together, wanted or answer_type(earlier.text))
        if best(together) > best(found):
            found = together
    if not ctx.passes("policy", best(found)):
        return decline(ctx, asked, effects=effects)
    return policy_plan(ctx, asked, found, effects)


def _typed(found: list[Scored], wanted: str | None) -> list[Scored]:
    return [f for f in found if fits_type(f.unit.text, wanted)][:4]


def policy_plan(ctx: Context, asked: Asked, found: list[Scored], effects: Effects | None = None) -> Grounding:
    evidence = ctx.index.evidence
    top = found[0]
    units = [top.unit]
    topic = [w for w in asked.content if stem(w) not in _META]
    if len(topic) <= 1 and top.unit.kind == "policy" and top.unit.table is None:
        # "What's your return policy?": the opening of the passage that answers best, not one
        # sentence picked from the middle of it.
        units = [u for u in evidence.of_passage(top.unit) if u.table is None][:_OPENING]
    elif top.unit.kind == "policy" and top.unit.table is None and _same_passage(found[:3], top) >= 2:
        # Two of the best three from one short passage: the passage is the answer ("do I pay for
        # return shipping?": the US label, its cost, and who pays from abroad).
        whole = [u for u in evidence.of_passage(top.unit) if u.table is None]
        units = whole if len(whole) <= _PASSAGE_SENTENCES else units
    elif top.unit.kind == "faq":
        # A FAQ answer is short and all about its question: the whole of it.
        whole = evidence.of_passage(top.unit)
        if len(whole) <= _FAQ_SENTENCES and sum(len(u.text) for u in whole) <= _FAQ_CHARS:
            units = whole
    else:
        for other in found[1:3]:
            # The sentence beside it, not another row of its table: "Zone 2" answers Florida, and
            # "Zone 1" only repeats the form.
            if (
                other.score >= top.score - _CLOSE
                and other.unit.passage is top.unit.passage
                and (other.unit.table is None or other.unit.table is not top.unit.table)
            ):
                units.append(other.unit)
        # The next sentence when it holds what the question asks and the first does not ("do I
        # pay customs to the UK?": "Orders to the UK leave the EU." + "You pay the duties.").
        asked_terms = evidence.terms(asked.clean)
        missing = asked_terms - evidence.terms(" ".join(u.indexed for u in units))
        for neighbour in evidence.neighbours(top.unit):
            if neighbour not in units and neighbour.table is None and missing & evidence.terms(neighbour.text):
                units.append(neighbour)
                break
    # A sentence that points to another section ("... cannot be returned (but see the taste
    # promise below)") brings that section's opening along: it is the rest of the answer.
    for unit in list(units):
        for passage, pattern in ctx.index.pointers:
            if passage is not unit.passage and pattern.search(unit.text):
                opening = next((u for u in evidence.units if u.passage is passage), None)
                if opening is not None and opening not in units:
                    units.append(opening)
    ordered = [u for u in evidence.units if u in units] if len(units) > 1 else units
    text = " ".join(stated(u, asked.words).rstrip(".") + "." for u in ordered)
    return plan(
        [text],
        ordered,
        effects=effects,
        slots={"policy": text},
        key_facts=specifics(text, asked.text),
        direct=False,
        yes_no=asked.yes_no,
        polarity=says(text) if asked.yes_no else None,
    )


_SPECIFIC = re.compile(r"\d+(?:[.,]\d+)?%?|(?<=[a-z,;:] )[A-Z][A-Za-z]{2,}")


def specifics(text: str, question: str, most: int = 8) -> list[str]:
    """What a reply must say at least one of to have given this answer: its figures and names
    ("30", "$7.50", "PayPal"); when it has none, its rarest words. A reply that says none of them
    talked around the question ("Happy to help!")."""
    asked = {w.lower() for w in re.findall(r"[A-Za-z]+", question)}
    found = [s for s in _SPECIFIC.findall(text[:500]) if s.lower() not in asked][:most]
    if found:
        return found
    words = [w for w in re.findall(r"[A-Za-z]{5,}", text) if w.lower() not in asked and w.lower() not in STOPWORDS]
    return words[:most]


_SAYS_YES = re.compile(r"^\W*(yes\b|we do\b|we can\b|you can\b|sure\b)", re.I)
_SAYS_NO = re.compile(r"^\W*(no\b|we don'?t\b|we do not\b|we can'?t\b|we cannot\b|you can'?t\b|not\b)", re.I)


def says(text: str) -> str | None:
    """ "yes" or "no" when the answer opens with one ("No, we don't price match"), else None."""
    if _SAYS_NO.search(text):
        return "no"
    if _SAYS_YES.search(text):
        return "yes"
    return None


# A broad question about a policy gets this many of its first sentences.
_OPENING = 2
_META = {stem(w) for w in ("policy", "policies", "info", "information", "details", "rules", "terms")}
# A passage this short is given whole when it holds the answer twice over.
_PASSAGE_SENTENCES = 5


def _same_passage(found: list[Scored], top: Scored) -> int:
    return sum(f.unit.passage is top.unit.passage and f.score >= top.score - 0.25 for f in found)


# A FAQ answer up to this long is given whole.
_FAQ_SENTENCES = 3
_FAQ_CHARS = 450
