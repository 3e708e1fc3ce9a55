"""Slots: the way a model trained on one shop answers from the facts of any shop.

The embedded model never copies a price or a tracking number. It writes a reply with markers
such as "The [product] is [offer]." and the engine fills each marker with the value the
grounding found for this message. A small model learns which facts a question wants far more
reliably than it learns to copy digits, and a value it never writes cannot be wrong.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

# The slots, in the order the prompt lists them; the training dialogues and the grounding both
# use these names and nothing else. What each holds is built in bot.knowledge.facts.
SLOTS = (
    *("product", "offer", "description"),  # a product: name, variants with price and stock, a description sentence
    "products",  # the products recommended, with prices
    *("order_id", "order_status", "order_items", "tracking", "eta"),  # an order the shopper proved
    "policy",  # the policy or FAQ passages that answer
    *("support_email", "support_hours"),  # how to reach a person
)
_MARKER = re.compile(r"\[([a-z_]+)\]")
_UNFINISHED = re.compile(r"\[[a-z_]*$")


def marker(name: str) -> str:
    return f"[{name}]"


def markers(values: Mapping[str, str]) -> list[str]:
    """The markers of the slots that have values, in one fixed order: the prompt a model was
    trained on lists them the same way whatever order the grounding found them in."""
    return [marker(name) for name in SLOTS if name in values]


def order_reply(values: Mapping[str, str], ending: str = ". It contains [order_items].") -> str:
    """An order's answer in markers, naming its tracking and delivery date only when it has them:
    the grounding's safe answer fills this, the training dialogues teach it."""
    reply = "Order [order_id] is [order_status]"
    if "tracking" in values:
        reply += ", [tracking]"
    if "eta" in values:
        reply += "; [eta]"
    return reply + ending


def fill(text: str, values: Mapping[str, str]) -> tuple[str, list[str]]:
    """`text` with every marker that has a value replaced by it, and the names of the markers
    it used that have none (a fact this message does not have, or a slot the model made up,
    such as "[price]"): a reply with one of those is never sent as written."""
    missing: list[str] = []

    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        if name in values:
            return values[name]
        missing.append(name)
        return match.group(0)

    return _MARKER.sub(value, text), missing


def unfinished(text: str) -> bool:
    """Whether a finished reply ends in the middle of a marker ("... is [off")."""
    return bool(_UNFINISHED.search(text))
