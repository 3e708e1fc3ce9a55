"""The grounding check: every price, quantity, date, order status, tracking number and
policy number a reply states must be in the facts it was given (or in the shopper's own
message). A reply that states anything else is not sent; the safe answer is.

Deliberately literal: it compares what is written, so it cannot be argued with, and a
number the model copied from the facts always passes.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

_LIST_MARKER = re.compile(r"^\s*\d{1,2}[.)]\s", re.M)
_NUMBER = re.compile(r"(?<![\w])(\d{1,3}(?:,\d{3})+|\d+)(?:\.(\d+))?")
# Tracking numbers, SKUs, discount codes: a run of letters and digits with at least one digit.
_CODE = re.compile(r"\b(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{6,}\b")
_STATUSES = {"pending", "paid", "processing", "shipped", "delivered", "cancelled", "canceled", "refunded"}
_OFFERS = re.compile(r"\b(discount|coupon|promo(?:tion(?:al)?)? code|voucher|% off|free gift)\b", re.I)
_WORD = re.compile(r"[a-z]+")


def numbers(text: str) -> set[Decimal]:
    found = set()
    for whole, fraction in _NUMBER.findall(text):
        try:
            found.add(Decimal(whole.replace(",", "") + (f".{fraction}" if fraction else "")).normalize())
        except InvalidOperation:
            continue
    return found


class Checker:
    """The check for one reply: the facts are read once, the reply as often as it grows."""

    def __init__(self, facts: str, said: str) -> None:
        allowed = facts + "\n" + said
        self._numbers = numbers(allowed)
        self._codes = {code.lower() for code in _CODE.findall(allowed)}
        self._fact_words = set(_WORD.findall(facts.lower()))
        self._facts = facts.lower()

    def problems(self, reply: str) -> list[str]:
        """What `reply` states that neither the facts nor the shopper's message gives, one short
        description each; empty when the reply is grounded."""
        body = _LIST_MARKER.sub(" ", reply)
        problems = [f"number {number}" for number in sorted(numbers(body) - self._numbers)]
        problems += [
            f"code {code}" for code in _CODE.findall(body) if code.lower() not in self._codes and not code.isdigit()
        ]
        problems += [f"status {s!r}" for s in sorted(_STATUSES & set(_WORD.findall(body.lower())) - self._fact_words)]
        problems += [f"offer {o!r}" for o in {m.lower() for m in _OFFERS.findall(body)} if o not in self._facts]
        return problems


def unsupported(reply: str, facts: str, said: str) -> list[str]:
    """What `reply` states that neither `facts` nor the shopper's message `said` gives."""
    return Checker(facts, said).problems(reply)


def states_any(reply: str, keys: list[str]) -> bool:
    """Whether the reply states at least one of `keys` as a whole word or figure ("Pay" is not
    stated by "payment")."""
    return any(re.search(rf"(?<![\w]){re.escape(key)}(?![\w])", reply, re.I) for key in keys)
