"""Which policy and FAQ text answers a question, out of the passages retrieval ranked: the two
best, made to fit what was asked. A question about a price gets a passage that states one; a
question about one row of a table gets that row; a passage that says "see the taste promise
below" brings the taste promise with it.

Each rule was added for questions the two best passages alone left unanswered (README,
"Answer quality"): "Do you ship to Canada? how much?" (the passage with the price was third),
"the warranty on your backpacks" (a row of a table), "Can I return opened tea?" (the answer is
in the section the returns policy points to).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from bot.knowledge.facts import asks_price, passage_sentences, states_money
from bot.knowledge.passages import Passage
from bot.knowledge.retrieval import Query
from bot.knowledge.tables import TableRows, tokens
from bot.understanding.encoder import SentenceEncoder

_NUMBERED = re.compile(r"^\s*\d+[.)]\s*")
_PRICE_TOKENS = tokens("price prices cost costs fee fees cheap cheaper cheapest how much sale offer pay")


@dataclass(frozen=True)
class PolicyPart:
    passage: Passage
    text: str  # what of the passage answers: its first sentences, or the rows asked about


def _reference(heading: str) -> re.Pattern[str] | None:
    """How a passage points to this heading: 'see the taste promise below', 'see the returns
    page: "Arrived broken"'. Only headings of two words or more ("Shipping" alone is mentioned
    everywhere without being pointed to), and only after "see the" or "see our" or in quotes:
    "you will see free shipping at checkout" points nowhere."""
    name = _NUMBERED.sub("", heading).strip().rstrip("?").lower()
    if len(name.split()) < 2:
        return None
    phrase = r"\s+".join(re.escape(word) for word in name.split())
    return re.compile(rf"\bsee\s+(?:the|our)\s+(?:[\w-]+\s+){{0,4}}?{phrase}(?!\w)|[\"“]{phrase}[\"”]", re.I)


def _topic(text: str) -> set[str]:
    """The words of a question that say what it is about, not that it asks a price."""
    return tokens(text) - _PRICE_TOKENS


class PolicyAnswers:
    def __init__(self, passages: Sequence[Passage], encoder: SentenceEncoder | None = None) -> None:
        self._rows = TableRows(passages, encoder)
        self._references = [(p, ref) for p in passages if (ref := _reference(p.heading)) is not None]
        # What each passage says and is about, read once per store folder, not per message.
        self._sentences = {p: passage_sentences(p.text) for p in passages}
        self._words = {p: tokens(f"{p.heading} {p.text}") for p in passages}

    def _said(self, passage: Passage) -> str:
        said = self._sentences.get(passage)
        return said if said is not None else passage_sentences(passage.text)

    def compose(self, query: Query, ranked: Sequence[Passage], most: int = 3) -> list[PolicyPart]:
        """The parts of the answer, best first: the two best passages, the second swapped for
        the best one stating a price when the question asks one and neither does, or for the
        table rows the question names; then a passage either of them points to."""
        chosen = list(ranked[:2])
        if asks_price(query.text) and not any(states_money(self._said(p)) for p in chosen):
            # A passage with a price that is about what was asked ("Canada": the Canada rates),
            # not any price (gift wrapping for "is there a restocking fee?").
            topic = _topic(query.text)
            priced = next(
                (
                    p
                    for p in ranked[2:]
                    if states_money(self._said(p)) and topic & (self._words.get(p) or tokens(f"{p.heading} {p.text}"))
                ),
                None,
            )
            if priced is not None:
                chosen[1:] = [priced]
        parts = [PolicyPart(p, self._said(p)) for p in chosen]
        rows = self._rows.match(query, ranked)
        if rows is not None:
            # The rows replace their own passage's text, or come after the two best: a row
            # matched by a word in passing ("Are socks final sale?" -> "Socks: warranty 1 year")
            # must not push out the passage that answers.
            row_part = PolicyPart(rows.passage, rows.text())
            at = next((i for i, part in enumerate(parts) if part.passage is rows.passage), len(parts))
            parts[at : at + 1] = [row_part]
        for part in list(parts):
            for passage in self.pointed_to(part.text):
                if len(parts) >= most:
                    return parts
                if all(p.passage is not passage for p in parts):
                    parts.insert(parts.index(part) + 1, PolicyPart(passage, self._said(passage)))
        return parts

    def pointed_to(self, text: str) -> list[Passage]:
        """The passages `text` refers the reader to ("see the taste promise below")."""
        return [passage for passage, reference in self._references if reference.search(text)]
