"""What a message asks, read before anything is looked up: the words (shorthand spelled out,
typos corrected toward the shop's words), the products and kinds of product it names, the
variants, a budget, how many people, and the shape of the question (yes/no, a comparison, a
follow-up that leans on the conversation, several questions in one)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal

from bot.knowledge.money import figure_values
from bot.knowledge.names import CatalogNames, Named
from bot.knowledge.spelling import Spelling
from bot.knowledge.text import STOPWORDS, compact, fold, stem, tokens

_NUMBER_WORDS = {
    "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
    "a": 1, "an": 1, "both": 2, "couple": 2, "pair": 2,
}  # fmt: skip
_COUNT = r"(\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten)"
_AMOUNT = r"(?:[$€£¥]\s?)?(\d[\d,.]*)(?:\s?(?:[$€£¥]|dollars?|bucks|usd|eur(?:os?)?|pounds?|gbp|quid|yen|jpy|aud|cad))?"
_CEILING = re.compile(
    rf"(?:under|below|less than|no more than|not more than|max(?:imum)?|at most|up to|within|budget(?: of| is)?"
    rf"|cheaper than|<|<=|tops)\s*{_AMOUNT}|{_AMOUNT}\s*(?:or less|max|tops|and under|or under)",
    re.I,
)
_FLOOR = re.compile(rf"(?:over|above|more than|at least|>)\s*{_AMOUNT}", re.I)
_RANGE = re.compile(
    rf"between\s*{_AMOUNT}\s*(?:and|-|to)\s*{_AMOUNT}|{_AMOUNT}\s*(?:-|to)\s*{_AMOUNT}\s*(?:range)?", re.I
)
_CURRENCY_NEAR = re.compile(r"[$€£¥]|dollars?|bucks|usd|eur|euros?|pounds?|gbp|quid|yen|jpy|aud|cad|budget", re.I)
_PEOPLE = [
    re.compile(
        rf"\bfor\s+{_COUNT}\s+(?:people|persons|person|adults|guests|of us|kids|children|campers|riders)\b", re.I
    ),
    re.compile(rf"\b{_COUNT}[- ]?(?:person|people|man|p|seater|seat)\b", re.I),
    re.compile(rf"\bfamily of\s+{_COUNT}\b", re.I),
    re.compile(rf"\b(?:sleeps|seats|fits)\s+{_COUNT}\b", re.I),
]
_ME_AND = re.compile(rf"\bme and (?:my\s+)?(?:{_COUNT}\s+)?(\w+)", re.I)
_PLURAL_PEOPLE = {"kids", "children", "friends", "sons", "daughters", "boys", "girls", "brothers", "sisters", "mates"}

# First words of a question answered yes or no ("is it waterproof?", "does it fit a Tappan?").
_YES_NO = re.compile(
    r"^(?:(?:hi|hey|hello|ok|okay|so|and|but|also|quick question|question)[,!.:]?\s+)*"
    r"(?:is|are|was|were|does|do|did|can|could|will|would|has|have|should|shall|may|isn'?t|aren'?t|doesn'?t|"
    r"don'?t|won'?t|can'?t)\b",
    re.I,
)
_OPEN_WORDS = {"what", "how", "which", "where", "when", "why", "who", "whats", "hows"}
_COMPARATIVE = re.compile(
    r"\b(lighter|heavier|cheaper|pricier|more expensive|less expensive|bigger|larger|smaller|longer|shorter|taller|"
    r"wider|narrower|warmer|cooler|brighter|faster|slower|stronger|thicker|thinner|softer|better|quieter|louder|"
    r"more|less|difference|differ|different|vs\.?|versus|compare[ds]?|comparison)\b",
    re.I,
)
_REFERS = re.compile(r"\b(it|its|it's|that|this|them|they|those|these|that one|this one|the one|ones?|same)\b", re.I)
_ORDINALS = {"first": 0, "1st": 0, "second": 1, "2nd": 1, "third": 2, "3rd": 2, "last": -1}
_ORDINAL = re.compile(r"\b(first|1st|second|2nd|third|3rd|last)\s+(?:one|option|suggestion|pick)?", re.I)
_SIZE_UP = re.compile(r"\b(bigger|biggest|larger|largest|longer|longest|taller|wider|higher)\b", re.I)
_SIZE_DOWN = re.compile(r"\b(smaller|smallest|shorter|shortest|narrower|lower|mini)\b", re.I)
# Where one message holds two questions: "how much is X and do you ship to Y?".
_SPLIT = re.compile(
    r"\?+\s*|[.!;]\s+(?=\w)|\s+(?:and|&|also|plus|\+|but)\s+(?=(?:do|does|is|are|can|could|will|would|what|whats|how|"
    r"when|where|which|who|why|whats|u|you|ur|is there|are there)\b)",
    re.I,
)


# What kind of thing the answer must contain: a time ("when will it be back?"), a figure ("how
# long is it?", "what's the weight?"). Evidence without one does not answer, however close.
# "the return window", "the warranty period": a span of time is the answer.
_WANTS_TIME = re.compile(
    r"^\W*(?:and\s+|so\s+|but\s+|ok\s+)?when\b|\bhow soon\b|\bwhat (?:date|day|time)\b|"
    r"\b(?:return|refund|exchange|warranty|trial|cooling[- ]off)\s+(?:window|period)\b|\btime ?frame\b|\bdeadline\b",
    re.I,
)
_WANTS_FIGURE = re.compile(
    r"\bhow (?:many|much|long|heavy|wide|tall|high|big|deep|far|thick|large|small|old|often)\b|"
    r"\b(?:weight|dimensions?|measurements?|capacity|wattage|lumens|mah|length|width|height|depth|volume)\b",
    re.I,
)
_TIME = re.compile(
    r"\b\d+(?:[-–]\d+)?\s*(?:business |working |calendar )?(?:days?|weeks?|months?|years?|hours?|minutes?|hrs?|h|mins?)\b|"
    r"\b(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?\s+\d|\b\d{1,2}\s+(?:jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)|"
    r"\b(?:today|tomorrow|tonight|next day|same day|monday|tuesday|wednesday|thursday|friday|saturday|sunday|weekday|"
    r"weekend|within|by|before|after|spring|summer|autumn|fall|winter|\d{4}-\d{2}-\d{2}|\d{1,2}:\d{2})\b",
    re.I,
)
_FIGURE = re.compile(r"\d")


def answer_type(text: str) -> str | None:
    """ "time", "figure" or None: what a reply to `text` must contain to answer it."""
    if _WANTS_TIME.search(text):
        return "time"
    if _WANTS_FIGURE.search(text):
        return "figure"
    return None


def fits_type(evidence: str, wanted: str | None) -> bool:
    if wanted == "time":
        return bool(_TIME.search(evidence))
    if wanted == "figure":
        return bool(_FIGURE.search(evidence))
    return True


def _count(word: str) -> int | None:
    return int(word) if word.isdigit() else _NUMBER_WORDS.get(word.lower())


def _amount(text: str) -> Decimal | None:
    values = figure_values(text.rstrip(".,"))
    return max(values) if values else None


@dataclass(frozen=True)
class Budget:
    low: Decimal | None = None
    high: Decimal | None = None

    def fits(self, price: Decimal) -> bool:
        return (self.low is None or price >= self.low) and (self.high is None or price <= self.high)


def read_budget(text: str) -> Budget | None:
    """ "under $50", "max 40 euros", "between 50 and 100", "100$ or less"."""
    if found := _RANGE.search(text):
        amounts = [a for a in found.groups() if a]
        if (
            len(amounts) == 2
            and _CURRENCY_NEAR.search(text)
            and (low := _amount(amounts[0]))
            and (high := _amount(amounts[1]))
        ):
            return Budget(min(low, high), max(low, high))
    said_high = next((a for m in _CEILING.finditer(text) for a in m.groups() if a), None)
    said_low = next((a for m in _FLOOR.finditer(text) for a in m.groups() if a), None)
    if said_high is None and said_low is None:
        return None
    # "up to 4 people", "within 30 days", "over 10 years": only amounts said as money, or after
    # words that only ever precede money ("under", "budget").
    ceiling = _amount(said_high) if said_high else None
    floor = _amount(said_low) if said_low else None
    moneyish = bool(_CURRENCY_NEAR.search(text)) or bool(
        re.search(r"\b(under|below|budget|cheaper than)\b", text, re.I)
    )
    if not moneyish:
        return None
    return Budget(floor, ceiling)


def read_people(text: str) -> int | None:
    """How many people a request is for: "for 3 people", "a tent for me and my two kids" (3),
    "family of four", "6-seater"."""
    for pattern in _PEOPLE:
        if found := pattern.search(text):
            return _count(found.group(1))
    if found := _ME_AND.search(text):
        number, who = found.group(1), found.group(2).lower()
        if number:
            return 1 + (_count(number) or 1)
        return 3 if who in _PLURAL_PEOPLE else 2
    return None


# "thunderbolt 4 cable price + ...", "price of the chain lock + ...": a question without a question word.
_ASKS_WITHOUT_ASKING = re.compile(r"\b(price|prices|pricing|cost|costs|in stock|availability)\b", re.I)
_ASKS = re.compile(
    r"^\W*(?:and\s+|also\s+|plus\s+|but\s+|so\s+|ok\s+)?(?:what|whats|what's|how|hows|which|where|wheres|when|why|who|"
    r"is|are|was|were|do|does|did|can|could|will|would|should|has|have|any|got|u|you|ur)\b",
    re.I,
)


def parts(text: str) -> list[str]:
    """The questions in one message, in order ("how much is X and do you ship to Y?" -> two).
    A piece that asks nothing ("i'm in france") stays with the question before it."""
    pieces: list[str] = []
    pieces_ask: list[bool] = []
    position = 0
    for match in [*_SPLIT.finditer(text), None]:
        end = match.start() if match else len(text)
        piece = text[position:end].strip(" ,")
        ended_with_question = bool(match and "?" in match.group(0))
        position = match.end() if match else len(text)
        if len(tokens(piece)) < 2:
            continue
        asks = ended_with_question or bool(_ASKS.search(piece) or _ASKS_WITHOUT_ASKING.search(piece))
        if pieces and not asks:
            pieces[-1] = f"{pieces[-1]} ({piece})"
        elif pieces and not pieces_ask[-1]:
            # "I prefer lightweight gear. Any tent suggestions?": what was said goes with the question.
            pieces[-1] = f"{pieces[-1]}. {piece}"
            pieces_ask[-1] = asks
        else:
            pieces.append(piece)
            pieces_ask.append(asks)
    return pieces or [text]


@dataclass
class Asked:
    """One question (a message, or one part of it), read."""

    text: str
    words: list[str]  # folded, shorthand spelled out, typos corrected
    named: list[Named] = field(default_factory=list)
    kinds: set[str] = field(default_factory=set)
    budget: Budget | None = None
    people: int | None = None
    yes_no: bool = False
    comparative: str | None = None
    refers_back: bool = False
    ordinal: int | None = None
    size: int = 0  # +1 "the bigger one", -1 "the smaller one"

    @property
    def clean(self) -> str:
        return " ".join(self.words)

    @property
    def content(self) -> list[str]:
        """The words that say what is asked, not how."""
        return [w for w in self.words if w not in STOPWORDS and w not in _OPEN_WORDS]

    def about(self, exclude: set[str]) -> list[str]:
        """The content words left once the names of the products (and their kind) are set aside:
        "whats the luberon dress made of" -> ["made"]."""
        named_words = {stem(w) for w in exclude}
        return [w for w in self.content if stem(w) not in named_words]


def read(text: str, spelling: Spelling, names: CatalogNames) -> Asked:
    words = spelling.correct(tokens(compact(text)))
    clean = " ".join(words)
    comparative = _COMPARATIVE.search(clean)
    ordinal = _ORDINAL.search(clean)
    return Asked(
        text=text,
        words=words,
        named=names.named(words),
        kinds=names.kinds_named(words),
        budget=read_budget(text),
        people=read_people(text),
        yes_no=bool(_YES_NO.search(text.strip())) or bool(re.search(r"\bor not\b", text, re.I)),
        comparative=comparative.group(1).lower() if comparative else None,
        refers_back=bool(_REFERS.search(clean)),
        ordinal=_ORDINALS[ordinal.group(1).lower()] if ordinal else None,
        size=1 if _SIZE_UP.search(clean) else -1 if _SIZE_DOWN.search(clean) else 0,
    )


def folded_words(text: str) -> set[str]:
    return {fold(w) for w in tokens(text)}
