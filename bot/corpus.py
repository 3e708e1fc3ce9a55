"""The evaluation corpus: labelled shopper questions, and how a reply to one is judged.

A question says what a right reply contains (`must`, `amounts`), what it must not (`must_not`,
`wrong_amounts`), and what kind of outcome is right (`expect`: an answer, an honest decline, "we
don't sell that", a hand-over, small talk). The judging is deliberately plain string work,
independent of the engine's own checker: a bench that judged replies with the code it measures
would agree with that code's mistakes. The format is documented in eval/README.md.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, Field, ValidationError, model_validator

from bot.errors import ConfigError

Row = TypeVar("Row", bound=BaseModel)

Kind = Literal[
    "product",
    "yes_no",
    "compare",
    "multi_part",
    "pick",
    "policy",
    "order",
    "follow_up",
    "not_sold",
    "unanswerable",
    "small_talk",
    "other_language",
    "furious",
]
Expect = Literal["answer", "decline", "not_sold", "handover", "small_talk"]


class Turn(BaseModel):
    role: str
    text: str


class Question(BaseModel):
    question: str
    id: str = ""
    history: list[Turn] = Field(default_factory=list)
    kind: Kind | None = None
    expect: Expect = "answer"
    must: list[str] = Field(default_factory=list)
    must_any: list[str] = Field(default_factory=list)
    amounts: list[str] = Field(default_factory=list)
    must_not: list[str] = Field(default_factory=list)
    wrong_amounts: list[str] = Field(default_factory=list)
    answer: Literal["yes", "no", "depends"] | None = None
    allowed: list[str] | None = None
    lang: str | None = None
    intent: str | None = None  # the older question sets label the intent instead of the kind
    note: str = ""

    @model_validator(mode="after")
    def _older_sets(self) -> Question:
        """The older question sets (demo, Kettle & Leaf) label an intent instead: a question from
        another domain is answered right by saying so."""
        if self.kind is None and self.intent == "out_of_scope" and "expect" not in self.model_fields_set:
            self.expect = "decline"
        return self

    @property
    def answerable(self) -> bool:
        """The shop's data answers it (so declining it is a wrong decline)."""
        return self.expect == "answer" and self.kind not in ("other_language",)


def read_questions(path: Path) -> list[Question]:
    return _read_jsonl(path, Question)


class Message(BaseModel):
    """A message people send to a company (eval/messages): a customer's, labelled with how it
    feels, or another desk's question, labelled with its domain."""

    text: str = Field(min_length=1)
    label: Literal["furious", "negative", "neutral", "positive"] | None = None
    domain: str | None = None


def read_messages(path: Path) -> list[Message]:
    return _read_jsonl(path, Message)


def _read_jsonl(path: Path, model: type[Row]) -> list[Row]:
    """One `model` per non-blank line; a file that cannot be read or a bad line is a ConfigError
    naming the file and the line."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    rows = []
    for number, line in enumerate(lines, start=1):
        if line.strip():
            try:
                rows.append(model.model_validate_json(line))
            except ValidationError as exc:
                error = exc.errors()[0]
                raise ConfigError(f"{path} line {number}: {'.'.join(map(str, error['loc']))}: {error['msg']}") from None
    return rows


def halves(messages: list[Message]) -> tuple[list[Message], list[Message]]:
    """The customers' messages split in two for good: the half the fury head may learn from, and
    the half it is measured on. By a hash of each text, so adding messages moves none."""
    split: tuple[list[Message], list[Message]] = ([], [])
    for message in messages:
        split[hashlib.blake2b(message.text.encode("utf-8"), digest_size=1).digest()[0] % 2].append(message)
    return split


def corpus_shops(folder: Path) -> list[Path]:
    """The shop folders of a corpus: every folder under it with a questions.jsonl."""
    return sorted(path.parent for path in folder.glob("*/questions.jsonl"))


# -- judging ---------------------------------------------------------------------------------


def _spellings(amount: str) -> list[re.Pattern[str]]:
    """Every usual way of writing an amount: "1200" -> 1,200 / 1.200 / 1 200 / 1200 (with or
    without ".00"); "12.90" -> 12.90 / 12,90. Matched as a whole figure, not inside another."""
    try:
        value = Decimal(amount)
    except InvalidOperation:
        return [re.compile(re.escape(amount))]
    whole = int(value)
    cents = f"{value:.2f}".split(".")[1]
    grouped = {f"{whole:,}".replace(",", sep) for sep in (",", ".", " ", "\u202f", "\u00a0", "")}
    forms = set()
    for digits in grouped:
        if cents == "00":
            forms.add(digits)  # "¥1,200", "150 €", "$50"
        forms.add(f"{digits}.{cents}")
        forms.add(f"{digits},{cents}")
    # Not part of a longer figure: "50" is not in "150" nor in "50.99".
    return [re.compile(rf"(?<![\d.,]){re.escape(form)}(?!\d|[.,]\d)") for form in forms]


def states_amount(reply: str, amount: str) -> bool:
    return any(pattern.search(reply) for pattern in _spellings(amount))


_OPPOSITE = {
    "yes": re.compile(
        r"^\W*((?:sorry|unfortunately|sadly)?,?\s*no\b[,.!:;]|nope|unfortunately,? not|sadly,? not|it'?s not|it is not|"
        r"they'?re not|they are not)",
        re.I,
    ),
    "no": re.compile(r"^\W*(yes\b|yep|yeah|sure\b|of course|absolutely|definitely|certainly)", re.I),
}


@dataclass
class Verdict:
    right: bool
    wrong_fact: bool  # a must_not string or a wrong amount in the reply
    reasons: list[str] = field(default_factory=list)


def _folded(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text.lower()) if not unicodedata.combining(c))


def _mentioned(reply: str, titles: list[str]) -> list[str]:
    low = reply.lower()
    return [title for title in titles if title.lower() in low]


def judge(
    question: Question,
    reply: str,
    flags: set[str],
    *,
    catalog: list[str],
    offered: list[str] | None = None,
    language: str | None = None,
) -> Verdict:
    """Whether `reply` (with the engine's `flags`) is right for `question`. `catalog`: the titles
    of every product the shop has (offered or not), to see which the reply names; `offered`:
    those it sells (saying it does not sell one of the others is right); `language`: the
    language the reply is written in, when the question asks for one."""
    reasons: list[str] = []
    low = reply.lower()
    wrong = [m for m in question.must_not if m.lower() in low]
    wrong += [f"amount {a}" for a in question.wrong_amounts if states_amount(reply, a)]
    reasons += [f"states {w!r}" for w in wrong]
    # The products named, longest title first so that "Buds Air" inside "Buds Air 2" is not both.
    named: list[str] = []
    for title in sorted(_mentioned(reply, catalog), key=len, reverse=True):
        if not any(title.lower() in other.lower() for other in named):
            named.append(title)
    allowed = {t.lower() for t in question.allowed or []}
    asked = _folded(question.question + " " + " ".join(t.text for t in question.history))

    def asked_about(title: str) -> bool:
        """The question names the product, if not by its whole title ("the buds pro")."""
        words = [w for w in re.findall(r"[a-z0-9]+", _folded(title)) if len(w) > 2]
        return bool(words) and sum(w in asked for w in words) / len(words) >= 0.3

    def stray_products() -> list[str]:
        return [t for t in named if t.lower() not in allowed and not asked_about(t)]

    expect = question.expect
    if expect == "answer":
        reasons += [f"missing {m!r}" for m in question.must if m.lower() not in low]
        if question.must_any and not any(m.lower() in low for m in question.must_any):
            reasons.append(f"none of {question.must_any[:4]!r}")
        reasons += [f"missing amount {a}" for a in question.amounts if not states_amount(reply, a)]
        if question.answer in ("yes", "no") and _OPPOSITE[question.answer].search(reply):
            reasons.append(f"says the opposite of {question.answer!r}")
        if question.allowed is not None and (stray := stray_products()):
            reasons.append(f"names products that do not fit: {stray[:3]}")
        if question.lang and language != question.lang:
            reasons.append(f"written in {language!r}, not {question.lang!r}")
        if "declined" in flags and question.answerable:
            reasons.append("declined a question the shop's data answers")
    elif expect == "decline":
        if "declined" not in flags:
            reasons.append("did not decline")
        if stray := stray_products():
            reasons.append(f"names products it was not asked about: {stray[:3]}")
    elif expect == "not_sold":
        if "not_sold" not in flags:
            reasons.append("did not say the shop does not sell it")
        selling = {t.lower() for t in (offered if offered is not None else catalog)}
        if stray := [t for t in stray_products() if t.lower() in selling]:
            reasons.append(f"offers products that are not alternatives: {stray[:3]}")
    elif expect == "handover":
        if "handed_over" not in flags:
            reasons.append("not handed to a person")
    elif expect == "small_talk":
        if flags & {"declined", "not_sold", "corrected", "fallback"}:
            reasons.append(
                f"answered small talk as {sorted(flags & {'declined', 'not_sold', 'corrected', 'fallback'})}"
            )
        if named:
            reasons.append(f"names products: {named[:3]}")
        if len(reply) > 300:
            reasons.append("a long reply to small talk")
    return Verdict(right=not reasons, wrong_fact=bool(wrong), reasons=reasons)
