"""Evidence units: the shop's data cut into pieces small enough that "the sentence that answers"
is one of them, each with what it is about and where it came from.

- a product's offer (name, kind, prices, stock), each of its variants, each sentence or list
  item of its description, each row of a table in its description;
- each sentence or list item of a policy or FAQ passage, with its heading; each row of a
  Markdown table written out as a sentence ("Zone 1: standard 7,90 €, 2-4 days"), found also by
  the clause elsewhere that names the row ("Zone 1: Austria, Belgium, ...").

The index holds each unit's sentence-encoder vector and its BM25 terms. A question is matched
against the units it may be answered from (one product's, or the policies'), and the best
units are the answer; how good the best one is decides whether there is an answer at all
(bot.answers.relevance).
"""

from __future__ import annotations

import functools
import math
import re
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import numpy as np

from bot.guard import strip_instructions
from bot.knowledge.catalog import Product, Variant
from bot.knowledge.passages import Passage, plain
from bot.knowledge.retrieval import Query, expand
from bot.knowledge.tables import Table, blocks
from bot.knowledge.text import sentences, stems
from bot.messages import Source
from bot.understanding.encoder import SentenceEncoder, Vectors

UnitKind = Literal["offer", "variant", "detail", "policy", "row", "faq"]

# A line break inside a paragraph is only wrapping; one before a list item or a table row ends
# a clause. Clauses are what "Zone 1: Austria, Belgium, ..." is cut from.
_WRAP = re.compile(r"\n(?![ \t]*[-*|\n])")
_CLAUSE = re.compile(r"[;\n]|(?<=[.!?])\s+")


@dataclass(frozen=True, eq=False)
class Unit:
    text: str  # what a reply may state
    about: str  # the product's title, or the passage's heading
    kind: UnitKind
    source: Source
    product: Product | None = None
    passage: Passage | None = None
    variant: Variant | None = None
    table: Table | None = None
    found_by: str = ""  # more words it is found by (the clause naming a table row)
    # How a question names a table row: its first cell's stems, and each thing the cell lists.
    keys: tuple[frozenset[str], ...] = ()
    row: tuple[str, ...] = ()  # a table row's cells
    topic: str = ""  # the policy file it is from ("shipping"): what its heading is part of

    @property
    def indexed(self) -> str:
        return f"{self.topic} {self.about}: {self.text} {self.found_by}".strip()


@dataclass(frozen=True)
class Scored:
    unit: Unit
    meaning: float  # cosine of the question and the unit, -1..1
    words: float  # the share of the question's words (weighted by rarity) the unit has, 0..1
    named: float = 0.0  # the question names the table row the unit is
    uncovered: float = 0.0  # what an answerer takes off for words asked about that the unit does not say

    @property
    def score(self) -> float:
        return self.meaning + WORDS_WEIGHT * self.words + self.named - self.uncovered


# A question that names a table row's first cell ("warranty on lights?" and the row "Lights") is
# about that row: its score rises by this much.
ROW_NAMED = 0.15
# Words that say what kind of text is wanted, not what it is about ("your return policy").
_META = frozenset(stems("policy policies info information details question questions"))

# The words settle names the encoder blurs ("Spain" among the zone rows); they are weighted by
# how rare they are in the shop, and a question word the shop never uses ("Lyon") counts
# against every unit, which is what an unanswerable question looks like.
WORDS_WEIGHT = 0.4


@functools.lru_cache(maxsize=65536)
def _terms(text: str) -> frozenset[str]:
    """The stems a text is searched by (a pure function of the text: every search asks it again
    of every table row, so it is remembered)."""
    return frozenset(stems(expand(text)) - _META)


def product_source(product: Product) -> Source:
    return Source(title=product.title, ref=product.url or f"product:{product.id}")


def product_units(product: Product, offer: Callable[[Product, Variant | None], str]) -> list[Unit]:
    """A product's offer, variants and description as units; `offer` writes a price-and-stock
    line for the product (variant None) or one variant."""
    source = product_source(product)
    units = [Unit(offer(product, None), product.title, "offer", source, product=product)]
    if len(product.variants) > 1:
        units += [
            Unit(offer(product, v), product.title, "variant", source, product=product, variant=v)
            for v in product.variants
        ]
    description = strip_instructions(product.description)
    for block in blocks(description):
        if isinstance(block, Table):
            units += [
                Unit(
                    sentence,
                    product.title,
                    "detail",
                    source,
                    product=product,
                    table=block,
                    row=row,
                    keys=row_keys(row[0]),
                )
                for row in block.rows
                if (sentence := block.sentence(row))
            ]
        else:
            units += [
                Unit(s, product.title, "detail", source, product=product) for s in _merged(sentences(plain(block)))
            ]
    return units


def passage_units(passages: Sequence[Passage]) -> list[Unit]:
    """Each sentence and table row of the policies and FAQ, with its heading."""
    parsed = {id(p): list(blocks(p.text)) for p in passages}  # each passage's blocks, read once
    prose = [strip_instructions(b) for p in passages for b in parsed[id(p)] if isinstance(b, str)]
    clauses = [c.strip() for text in prose for c in _CLAUSE.split(_WRAP.sub(" ", text)) if c.strip()]
    clause_tokens = [stems(c) for c in clauses]
    # Every table's first cells: "EU zone 1: Belgium, Germany, ..." in the shipping table says
    # what the returns table's "EU zone 1 and EU zone 2" covers.
    row_heads = [
        (block, row[0])
        for p in passages
        for block in parsed[id(p)]
        if isinstance(block, Table)
        for row in block.rows
        if row and row[0]
    ]
    units: list[Unit] = []
    for passage in passages:
        source = Source(title=passage.heading, ref=passage.ref)
        kind: UnitKind = "faq" if passage.file == "faq.md" else "policy"
        topic = (
            ""
            if kind == "faq"
            else passage.file.rsplit("/", 1)[-1].removesuffix(".md").replace("-", " ").replace("_", " ")
        )
        for block in parsed[id(passage)]:
            if isinstance(block, Table):
                for row in block.rows:
                    sentence = block.sentence(row)
                    if not sentence:
                        continue
                    key = stems(row[0]) if row[0] else set()
                    # A clause elsewhere that names this row's key ("Zone 1: Austria, ...").
                    naming = [
                        clauses[i]
                        for i, words in enumerate(clause_tokens)
                        if key and key <= words and len(words) > len(key) and clauses[i] not in sentence
                    ]
                    naming = [
                        head for other, head in row_heads if other is not block and _defines(head, row[0])
                    ] + naming
                    units.append(
                        Unit(
                            sentence,
                            passage.heading,
                            "row",
                            source,
                            passage=passage,
                            table=block,
                            found_by="\n".join(naming[:2]),
                            keys=row_keys(row[0]),
                            row=row,
                            topic=topic,
                        )
                    )
            else:
                units += [
                    Unit(s, passage.heading, kind, source, passage=passage, topic=topic)
                    for s in _merged(sentences(plain(strip_instructions(block))))
                ]
    return units


# "EU zone 1 and EU zone 2", "UK, Switzerland": a row about several things, each named alone
# elsewhere (not a comma or slash inside a number: "$1,000", "24/7").
_ALTERNATIVES = re.compile(r"\s+(?:and|or|&)\s+|(?<!\d)\s*[,/]\s*|\s*[,/]\s*(?!\d)", re.I)
# Words of a first cell that mean "everything not listed above" ("Other cables"), not a name.
_EVERYTHING_ELSE = frozenset(stems("other others all rest remaining everything else any"))


def row_keys(cell: str) -> tuple[frozenset[str], ...]:
    """How a question names a table row by its first cell: all of it, or one of the things it
    lists ("Other cables, adapters and cable clips": "cables", "adapters", "cable clips"). A
    listed thing that is only a number or one catch-all word names nothing."""
    whole = frozenset(stems(cell))
    parts = [frozenset(stems(part)) for part in _ALTERNATIVES.split(cell)]
    if len(parts) > 1:
        parts = [part - _EVERYTHING_ELSE for part in parts]
        parts = [part for part in parts if part and not all(term.isdigit() for term in part)]
    return tuple(key for key in dict.fromkeys([whole, *parts]) if key)


def _defines(head: str, key: str) -> bool:
    """Whether a table row's first cell says what one of the things `key` names is ("EU zone 1:
    Belgium, Luxembourg, Germany" for the key "EU zone 1 and EU zone 2")."""
    parts = [p for p in _ALTERNATIVES.split(key) if p.strip()]
    folded = head.strip().lower()
    return len(parts) > 1 and any(
        folded.startswith(part.strip().lower()) and folded[len(part.strip()) :].lstrip().startswith((":", "("))
        for part in parts
    )


_NUMBERED = re.compile(r"^\s*\d+[.)]\s*")


def reference(heading: str) -> re.Pattern[str] | None:
    """How a sentence points to a heading: "see the taste promise below", "see the returns page:
    "Arrived broken"". Only headings of two words or more ("Shipping" alone is mentioned
    everywhere without being pointed to), and only after "see the"/"see our" or in quotes: "you
    will see free shipping at checkout" points nowhere."""
    name = _NUMBERED.sub("", heading).strip().rstrip("?").lower()
    if len(name.split()) < 2:
        return None
    phrase = r"\s+".join(re.escape(word) for word in name.split())
    return re.compile(rf"\bsee\s+(?:the|our)\s+(?:[\w-]+\s+){{0,4}}?{phrase}(?!\w)|[\"“]{phrase}[\"”]", re.I)


def pointers(passages: Sequence[Passage]) -> list[tuple[Passage, re.Pattern[str]]]:
    return [(p, ref) for p in passages if (ref := reference(p.heading)) is not None]


# A sentence shorter than this ("Yes.", "No, sorry.") says nothing alone: it goes with the next.
_SHORT = 25


def _merged(found: list[str]) -> list[str]:
    merged: list[str] = []
    for sentence in found:
        if merged and len(merged[-1]) < _SHORT:
            merged[-1] = f"{merged[-1]} {sentence}"
        else:
            merged.append(sentence)
    return merged


class EvidenceIndex:
    """Units with their vectors and BM25 terms; searched within a subset (one product's units,
    the policies) by meaning and words together."""

    def __init__(self, units: Sequence[Unit], encoder: SentenceEncoder | None = None) -> None:
        self.units = list(units)
        self._position = {id(u): i for i, u in enumerate(self.units)}
        self._vectors: Vectors | None = encoder.encode([u.indexed for u in self.units]) if encoder and units else None
        # Term -> the rows of the units that have it; a term's weight is its inverse frequency.
        self._rows: dict[str, list[int]] = defaultdict(list)
        for i, unit in enumerate(self.units):
            for term in stems(expand(unit.indexed)):
                self._rows[term].append(i)
        total = max(len(self.units), 1)
        self._idf = {term: math.log(1 + total / len(rows)) for term, rows in self._rows.items()}
        self._unseen = math.log(1 + total)
        self._terms_of: dict[int, frozenset[str]] = {}
        # A term in this few units is a rare one: a place, a name.
        self._rare = math.log(1 + total / 3)

    def terms(self, text: str) -> frozenset[str]:
        return _terms(text)

    def _names_row(self, unit: Unit, asked: frozenset[str]) -> bool:
        """Whether the question names this table row: by its first cell, asking about the row's
        topic too ("warranty on lights?"), or by a rare word of the clause that ties the row to it
        ("delivery to Austria" and "Zone 1: Austria, Belgium, ...")."""
        if unit.table is None:
            return False
        if any(key <= asked and (asked - key) & self._unit_terms(unit) for key in unit.keys):
            return True
        if unit.found_by:
            only_there = (asked & self.terms(unit.found_by)) - self.terms(unit.text)
            return any(self._idf.get(term, 0.0) >= self._rare for term in only_there)
        return False

    def _unit_terms(self, unit: Unit) -> frozenset[str]:
        row = self._position[id(unit)]
        found = self._terms_of.get(row)
        if found is None:
            found = self._terms_of[row] = self.terms(f"{unit.about} {unit.table.text() if unit.table else unit.text}")
        return found

    def neighbours(self, unit: Unit) -> list[Unit]:
        """The units just before and after `unit` in its passage or product."""
        row = self._position[id(unit)]
        return [
            other
            for other in (
                self.units[row - 1] if row else None,
                self.units[row + 1] if row + 1 < len(self.units) else None,
            )
            if other is not None and other.passage is unit.passage and other.product is unit.product
        ]

    def of_passage(self, unit: Unit) -> list[Unit]:
        return [u for u in self.units if unit.passage is not None and u.passage is unit.passage]

    def words(self, text: str) -> tuple[dict[int, float], float]:
        """Per unit row, the weight of the query's terms it has; and the query's whole weight."""
        terms = self.terms(text)
        have: dict[int, float] = defaultdict(float)
        whole = 0.0
        for term in terms:
            weight = self._idf.get(term, self._unseen)
            whole += weight
            for row in self._rows.get(term, ()):
                have[row] += weight
        return have, whole

    def search(
        self, query: Query, among: Sequence[Unit] | None = None, k: int = 5, naming: str | None = None
    ) -> list[Scored]:
        """The best `k` units of `among` (default: all) for the query, best first. `naming`: the
        text whose words name table rows (default: the query's; a follow-up searched together
        with the question before it names rows by its own words only)."""
        pool = self.units if among is None else among
        if not pool:
            return []
        rows = np.array([self._position[id(u)] for u in pool])
        meaning = (
            self._vectors[rows] @ query.vector
            if self._vectors is not None and query.vector is not None
            else np.zeros(len(rows), dtype=np.float32)
        )
        have, whole = self.words(query.text)
        words = np.array([have.get(int(row), 0.0) / whole if whole else 0.0 for row in rows], dtype=np.float32)
        asked = self.terms(naming if naming is not None else query.text)
        # The row's key named, and the question on the row's topic too ("overnight shipping to
        # Texas" names the "Texas" row of the sales-tax table, but asks about shipping).
        named = np.array([ROW_NAMED if self._names_row(u, asked) else 0.0 for u in pool], dtype=np.float32)
        total = meaning + WORDS_WEIGHT * words + named
        order = np.argsort(-total)[:k]
        return [Scored(pool[int(i)], float(meaning[i]), float(words[i]), float(named[i])) for i in order]
