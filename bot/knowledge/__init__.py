"""The shop's own data, as the engine sees it: one protocol the engine calls before writing.

Loaders for the store folder, retrieval, order lookup and the grounding check implement it;
the engine only needs `ground`. An engine built without knowledge answers from the model and
the conversation alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from bot.understanding import Understanding

from bot.messages import HandOverReason, QuickReply, Source, StoredMessage

FactKind = Literal["product", "order", "passage", "contact", "notice"]
# What kind of reply the answer is: one that answers, an honest "I don't know" (declined), "we
# don't sell that" (not_sold), a friendly word (small_talk), a question from another domain
# (out_of_scope). Channels and benchmarks read these as the reply's flags.
Outcome = Literal["answer", "declined", "not_sold", "small_talk", "out_of_scope"]


@dataclass(frozen=True)
class Fact:
    """A passage, product row or order the reply may state, and where it came from."""

    text: str
    source: Source | None = None
    kind: FactKind = "passage"


@dataclass(frozen=True)
class Effects:
    """What answering learnt about the customer, for the engine to record with the turn (never
    written while the answer is being worked out: a reply that is not recorded leaves no trace)."""

    tastes: list[str] = field(default_factory=list)  # "I prefer lightweight gear"
    products: list[str] = field(default_factory=list)  # ids of the products asked about
    proven_order: str | None = None  # an order number the shopper proved with its e-mail
    wrong_guess: bool = False  # an order number and e-mail that do not belong together
    gap: str | None = None  # a question the shop's data could not answer


@dataclass(frozen=True)
class Grounding:
    """What the reply may draw on, and the answer to give when the model's own is not usable."""

    facts: list[Fact] = field(default_factory=list)
    # Composed from the facts alone: replaces a reply that states something the facts do not.
    safe_answer: str | None = None
    # Answer with `safe_answer` without asking the model (out of scope, an order that cannot be shown).
    direct: bool = False
    quick_replies: list[QuickReply] = field(default_factory=list)
    # What was asked for (a price, an order's status, a product's name): a reply that states
    # none of these did not answer, however polite it is.
    key_facts: list[str] = field(default_factory=list)
    # What the reply must state, every one: the tracking number of an order the shopper asks
    # the whereabouts of. A reply without it answered something else.
    required: list[str] = field(default_factory=list)
    # The facts as slot values ("offer": "$89.00, in stock") for a model that writes slot
    # markers instead of copying values (bot.knowledge.slots).
    slots: dict[str, str] = field(default_factory=dict)
    outcome: Outcome = "answer"
    effects: Effects = field(default_factory=Effects)
    # The language the shopper wrote in (ISO 639-1) and so the reply's; a model is told it.
    language: str = "en"
    # For a yes/no question: what the evidence says ("yes", "no"), or None when it does not say
    # plainly. A reply that opens with the other answer does not pass the check.
    polarity: Literal["yes", "no"] | None = None
    yes_no: bool = False

    @property
    def sources(self) -> list[Source]:
        return [f.source for f in self.facts if f.source is not None]


class Knowledge(Protocol):
    async def ground(
        self, customer_id: str, message: str, history: Sequence[StoredMessage], understanding: Understanding | None
    ) -> Grounding:
        """The facts that answer `message`, for this customer (orders only when proven theirs)."""
        ...

    def handover_message(self, reason: HandOverReason, *, language: str = "en") -> str:
        """What the shopper is told when a person takes over: when, and how else to reach the shop."""
        ...

    @property
    def shop_name(self) -> str:
        """The shop's name, for greetings."""
        ...
