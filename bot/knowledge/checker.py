"""The grounding check: every price, quantity, date, order status, tracking number and
policy number a reply states must be in the facts it was given (or in the shopper's own
message), and so must every link, e-mail address and phone number. A reply to a yes/no
question may not open with the answer the evidence does not give. A reply that fails is not
sent; the safe answer is.

Deliberately literal: it compares what is written, so it cannot be argued with, and a
number the model copied from the facts always passes. Figures are compared by value, in every
way they can be read ("7,90 €", "€7.90" and "7.9 euros" are one amount; "1,200" is twelve
hundred or one point two), so a correct rendering passes and a wrong one does not.
"""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Literal

from bot.knowledge.money import FIGURE, figure_values

_LIST_MARKER = re.compile(r"^\s*\d{1,2}[.)]\s", re.M)
# Tracking numbers, SKUs, discount codes: a run of letters and digits with at least one digit.
_CODE = re.compile(r"\b(?=[A-Za-z0-9]*\d)(?=[A-Za-z0-9]*[A-Za-z])[A-Za-z0-9]{6,}\b")
_STATUSES = {"pending", "paid", "processing", "shipped", "delivered", "cancelled", "canceled", "refunded", "fulfilled"}
_OFFERS = re.compile(r"\b(discount|coupon|promo(?:tion(?:al)?)? code|voucher|% off|free gift)\b", re.I)
_WORD = re.compile(r"[a-z]+")
_LINK = re.compile(
    r"\b(?:https?://|www\.)[^\s<>()\"']+|\b[a-z0-9-]+(?:\.[a-z0-9-]+)*\.(?:com|net|org|io|shop|store|co|de|fr|uk|eu)\b(?:/[^\s]*)?",
    re.I,
)
_EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+")
_PHONE = re.compile(r"(?<![\w.])\+?\(?\d{2,4}\)?(?:[ .-]?\d{2,4}){2,4}(?![\w.])")
_YES = re.compile(
    r"^\W*(yes\b|yep\b|yeah\b|sure\b|of course\b|absolutely\b|definitely\b|certainly\b|it is\b|it does\b|they are\b|they do\b)",
    re.I,
)
_NO = re.compile(
    r"^\W*(no\b|nope\b|unfortunately,? (?:not|no)\b|sadly,? not\b|it is not\b|it isn'?t\b|it doesn'?t\b|they are not\b|they aren'?t\b|they don'?t\b)",
    re.I,
)

Polarity = Literal["yes", "no", "any"] | None


# Openers that say yes ("Of course.", "Sure!", "Yes, of course."), longest first in the pattern.
_OPENERS = ("yes", "yeah", "yep", "of course", "sure", "sure thing", "absolutely", "certainly", "definitely")
_AFFIRMING = re.compile(r"^\s*(?:(?:" + "|".join(sorted(_OPENERS, key=len, reverse=True)) + r")\b[!.,]*\s*)+", re.I)


def may_affirm(reply: str) -> bool:
    """Whether a reply still being written may turn out to open with a yes: it is nothing but
    openers so far, or the start of one ("Of cou"). Such a start is not shown until it is known."""
    found = _AFFIRMING.match(reply)
    rest = reply[found.end() :] if found else reply
    start = rest.strip().lower().rstrip("!.,")
    return not start or any(opener.startswith(start) for opener in _OPENERS)


def unaffirmed(reply: str) -> str:
    """The reply without an opener that says yes: a shopper reads "Of course." as the answer to
    whatever they asked, so it is only said when the evidence says yes."""
    found = _AFFIRMING.match(reply)
    if not found or found.end() == len(reply):
        return reply
    rest = reply[found.end() :]
    return rest[:1].upper() + rest[1:]


def numbers(text: str) -> set[Decimal]:
    """Every value every figure in the text can mean."""
    found: set[Decimal] = set()
    for match in FIGURE.finditer(text):
        found |= figure_values(match.group(0))
    return found


def _addresses(pattern: re.Pattern[str], text: str) -> set[str]:
    return {m.group(0).lower().rstrip(".,;:!?)") for m in pattern.finditer(text)}


def _digits(text: str) -> str:
    return "".join(c for c in text if c.isdigit())


class Checker:
    """The check for one reply: the facts are read once, the reply as often as it grows.
    `polarity`: what the evidence says to a yes/no question ("yes", "no", None: it does not say
    plainly), or "any" when the question is not one."""

    def __init__(self, facts: str, said: str, polarity: Polarity = "any") -> None:
        allowed = facts + "\n" + said
        self._numbers = numbers(allowed)
        self._codes = {code.lower() for code in _CODE.findall(allowed)}
        self._fact_words = set(_WORD.findall(facts.lower()))
        self._facts = facts.lower()
        self._emails = _addresses(_EMAIL, allowed)
        self._links = _addresses(_LINK, _EMAIL.sub(" ", allowed))
        self._phones = {_digits(m.group(0)) for m in _PHONE.finditer(allowed)}
        self._polarity = polarity

    def problems(self, reply: str) -> list[str]:
        """What `reply` states that neither the facts nor the shopper's message gives, one short
        description each; empty when the reply is grounded."""
        body = _LIST_MARKER.sub(" ", reply)
        problems = []
        for match in FIGURE.finditer(body):
            if not figure_values(match.group(0)) & self._numbers:
                problems.append(f"number {match.group(0)}")
        problems += [
            f"code {code}" for code in _CODE.findall(body) if code.lower() not in self._codes and not code.isdigit()
        ]
        problems += [f"status {s!r}" for s in sorted(_STATUSES & set(_WORD.findall(body.lower())) - self._fact_words)]
        problems += [f"offer {o!r}" for o in {m.lower() for m in _OFFERS.findall(body)} if o not in self._facts]
        problems += [f"e-mail {e}" for e in sorted(_addresses(_EMAIL, body) - self._emails)]
        problems += [
            f"link {link}"
            for link in sorted(_addresses(_LINK, _EMAIL.sub(" ", body)))
            if not any(link in known or known in link for known in self._links)
        ]
        problems += [
            f"phone {m.group(0)}"
            for m in _PHONE.finditer(body)
            if len(_digits(m.group(0))) >= 7 and _digits(m.group(0)) not in self._phones
        ]
        if self._polarity != "any":
            if _YES.search(body) and self._polarity != "yes":
                problems.append("says yes where the evidence does not")
            if _NO.search(body) and self._polarity != "no":
                problems.append("says no where the evidence does not")
        return problems


def unsupported(reply: str, facts: str, said: str) -> list[str]:
    """What `reply` states that neither `facts` nor the shopper's message `said` gives."""
    return Checker(facts, said).problems(reply)


def states_any(reply: str, keys: list[str]) -> bool:
    """Whether the reply states at least one of `keys` as a whole word or figure ("Pay" is not
    stated by "payment")."""
    return any(re.search(rf"(?<![\w]){re.escape(key)}(?![\w])", reply, re.I) for key in keys)
