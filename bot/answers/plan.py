"""A reply plan: the evidence to state, in order, and the frame it is said in. Answerers build
one; the engine has the model phrase it (or sends it as composed) and the checker holds the
words to it. A plan is the engine's `Grounding`."""

from __future__ import annotations

from collections.abc import Sequence

from bot.knowledge import Effects, Fact, Grounding, Outcome
from bot.knowledge.evidence import Scored, Unit
from bot.knowledge.facts import contact_fact, notice
from bot.knowledge.shop import ShopProfile
from bot.knowledge.text import stem, tokens
from bot.messages import QuickReply


def unit_fact(unit: Unit) -> Fact:
    return Fact(f"{unit.about}: {unit.text}", unit.source, kind="product" if unit.product is not None else "passage")


def stated(unit: Unit, asked_words: Sequence[str] = ()) -> str:
    """A unit as a reply states it: a table row with the clause that tied it to the question
    ("Zone 1: Austria, Belgium ...") when the question named what only that clause says; a list
    item of a policy with its heading ("What cannot be returned: Screen protectors once applied")."""
    text = unit.text
    if unit.table is not None and unit.row and asked_words:
        # The columns the question names ("standard shipping to Hawaii": not the expedited price too).
        asked = {stem(w) for w in asked_words}
        named = {
            position
            for position, header in enumerate(unit.table.header)
            if position and {stem(w) for w in tokens(header)} - _COLUMN_WORDS & asked
        }
        if named and asked & _PAYING and not any(_costs(unit.table.header[p]) for p in named):
            # "do I pay for the return label?": the label's column, and the column of what it
            # costs, whatever that is called.
            named |= {p for p, header in enumerate(unit.table.header) if p and _costs(header)}
        if named and len(named) < len(unit.table.header) - 1:
            text = unit.table.sentence(unit.row, named) or text
    if unit.found_by and asked_words:
        own = text.lower()
        words = [w for w in asked_words if len(w) > 3 and w not in own]
        tying = [c.rstrip(".") for c in unit.found_by.split("\n") if any(w in c.lower() for w in words)]
        if tying:
            return f"{'. '.join(tying)}. {text}"
    if text is not unit.text:
        return text
    if unit.kind == "policy" and (len(unit.text) < _ITEM or unit.text[-1:] not in ".!?"):
        return f"{unit.about.rstrip(':')}: {unit.text}"
    return unit.text


# Header words that say what a column holds in every table, not which column is meant.
_COLUMN_WORDS = {stem(w) for w in ("price", "cost", "costs", "time", "delivery", "shipping", "rate", "fee", "days")}
_PAYING = {stem(w) for w in ("pay", "cost", "costs", "price", "fee", "charge", "much")}


def _costs(header: str) -> bool:
    return bool({stem(w) for w in tokens(header)} & _PAYING)


# A policy sentence shorter than this, or without a full stop, is a list item: it needs its heading.
_ITEM = 70


def plan(
    say: Sequence[str],
    units: Sequence[Unit] = (),
    *,
    outcome: Outcome = "answer",
    slots: dict[str, str] | None = None,
    key_facts: Sequence[str] = (),
    quick: Sequence[QuickReply] = (),
    effects: Effects | None = None,
    direct: bool = False,
    notices: Sequence[str] = (),
    extra_facts: Sequence[Fact] = (),
    language: str = "en",
    polarity: str | None = None,
    yes_no: bool = False,
) -> Grounding:
    """The Grounding that says `say` (joined) and may state only what `units` and `notices` hold."""
    facts = [unit_fact(u) for u in dict.fromkeys(units)] + [notice(n) for n in notices] + list(extra_facts)
    return Grounding(
        facts,
        safe_answer=" ".join(part.strip() for part in say if part.strip()),
        direct=direct,
        quick_replies=list(quick),
        key_facts=list(key_facts),
        slots=dict(slots or {}),
        outcome=outcome,
        effects=effects or Effects(),
        language=language,
        polarity=polarity if polarity in ("yes", "no") else None,  # type: ignore[arg-type]
        yes_no=yes_no,
    )


def with_contact(grounding: Grounding, profile: ShopProfile) -> Grounding:
    """The same plan, ending with how to reach a person (an unhappy shopper, a complaint)."""
    contact = contact_fact(profile)
    slots = dict(grounding.slots)
    if profile.support_email:
        slots["support_email"] = profile.support_email
    if profile.support_hours:
        slots["support_hours"] = profile.support_hours
    return Grounding(
        [*grounding.facts, contact],
        safe_answer=f"{grounding.safe_answer or ''} {contact.text}".strip(),
        direct=grounding.direct,
        quick_replies=grounding.quick_replies,
        key_facts=grounding.key_facts,
        required=grounding.required,
        slots=slots,
        outcome=grounding.outcome,
        effects=grounding.effects,
        language=grounding.language,
        polarity=grounding.polarity,
        yes_no=grounding.yes_no,
    )


def best(found: Sequence[Scored]) -> float:
    return found[0].score if found else float("-inf")
