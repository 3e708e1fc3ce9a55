"""Markdown tables in policies: read into rows, written out as sentences, and the rows a
question asks about found ("the warranty on your backpacks" -> the "Packs and bags" row of
"Warranty length by category"; "delivery to Austria" -> the "Zone 1" row of the rates, through
"Zone 1: Austria, Belgium, ..." in the list of countries).

A table's answer is one of its rows. The whole table flattened into a passage's text is a run
of cells a shopper cannot read and the encoder ranks poorly; indexing each row as a passage of
its own was measured to lower recall@1 (README, "Retrieval"). So passages stay whole, and once
a table's passage is among the candidates, its rows are matched here, by the first cell of
each (what the row is about: a destination, a category).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import Stemmer

from bot.guard import strip_instructions
from bot.knowledge.passages import Passage

if TYPE_CHECKING:  # facts.py reads tables; it must not pull in torch with the encoder
    from bot.knowledge.retrieval import Query
    from bot.understanding.encoder import SentenceEncoder, Vectors

STEMMER = Stemmer.Stemmer("english")  # as retrieval stems

_PIPE = re.compile(r"(?<!\\)\|")  # a cell border; "\|" is a pipe inside a cell
_RULE_CELL = re.compile(r":?-+:?")
_FENCE = "```"
_TOKEN = re.compile(r"[a-z0-9]+")
# Words that say nothing about which row is meant.
_STOP = {
    "a", "an", "and", "or", "the", "of", "to", "in", "on", "for", "with", "by", "at", "from", "is", "are",
    "do", "does", "you", "your", "my", "i", "me", "we", "our", "it", "what", "how", "much", "long",
    "can", "will", "be", "that", "this", "there", "any", "all", "other",
}  # fmt: skip
# A clause of a passage: what "Zone 1: Austria, Belgium, ..." is cut from. A line break inside
# a paragraph is only wrapping; one before a list item or a table row ends a clause.
_WRAP = re.compile(r"\n(?![ \t]*[-*|\n])")
_CLAUSE = re.compile(r"[;\n]|(?<=[.!?])\s+")
# Meaning alone picks a row only when it clearly beats the others (measured on the demo
# warranty table: the row asked about scores 0.31-0.56 and leads the next by 0.1 or more;
# "What's the warranty?", which asks about no row, tops out at 0.21).
_DENSE_FLOOR = 0.3
_DENSE_LEAD = 0.08


def tokens(text: str) -> set[str]:
    """Stemmed words and numbers ("Zone 1" -> {"zone", "1"}), without words that name nothing."""
    return {STEMMER.stemWord(t) for t in _TOKEN.findall(text.lower()) if t not in _STOP}


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def sentence(self, row: Sequence[str]) -> str:
        """ "Zone 1: service DHL Paket International, delivery time 2-4 working days, price €7.90." """
        names = [*self.header[1:], *[""] * max(0, len(row) - len(self.header))]  # a ragged row keeps its cells
        pairs = [f"{name.lower()} {cell}" if name else cell for name, cell in zip(names, row[1:], strict=False) if cell]
        said = ", ".join(pairs)
        if not row[0]:
            return f"{said}." if said else ""
        return f"{row[0]}: {said}." if said else f"{row[0]}."

    def text(self, rows: Sequence[tuple[str, ...]] | None = None) -> str:
        return " ".join(filter(None, (self.sentence(row) for row in (self.rows if rows is None else rows))))


def _cells(line: str) -> tuple[str, ...] | None:
    """The cells of a table line ("| a | b |"), each cleaned of anything addressed to the
    assistant (a cell is shop data like any sentence); None for any other line."""
    line = line.strip()
    if len(line) < 2 or not line.startswith("|") or not line.endswith("|") or line.endswith("\\|"):
        return None
    return tuple(strip_instructions(cell.strip().replace("\\|", "|")) for cell in _PIPE.split(line[1:-1]))


def _is_rule(line: str) -> bool:
    """ "|---|:--:|" under a table's header. Checked cell by cell: one pattern over the whole
    line backtracks badly on long runs of spaces."""
    cells = _PIPE.split(line.strip().strip("|"))
    return "-" in line and all(_RULE_CELL.fullmatch(cell.strip()) for cell in cells)


def blocks(text: str) -> Iterator[str | Table]:
    """The passage's prose and tables in order: a table is a header row, a rule row of dashes
    and the rows under it (not inside a ``` fence, where it is an example, not a table)."""
    lines = text.splitlines()
    prose: list[str] = []
    fenced = False
    i = 0
    while i < len(lines):
        if lines[i].strip().startswith(_FENCE):
            fenced = not fenced
        header = None if fenced else _cells(lines[i])
        if header is not None and i + 1 < len(lines) and _is_rule(lines[i + 1]):
            rows = []
            i += 2
            while i < len(lines) and (cells := _cells(lines[i])) is not None:
                rows.append(cells)
                i += 1
            if prose:
                yield "\n".join(prose)
                prose = []
            yield Table(header, tuple(rows))
            continue
        prose.append(lines[i])
        i += 1
    if prose:
        yield "\n".join(prose)


def _named(key: set[str], asked: set[str]) -> int:
    """How many words of a row's first cell the question uses; a number alone names no row
    ("2 bags of tea" is not "Zone 2")."""
    hit = key & asked
    return len(hit) if any(not word.isdigit() for word in hit) else 0


def tables(text: str) -> list[Table]:
    return [block for block in blocks(text) if isinstance(block, Table)]


@dataclass(frozen=True)
class RowMatch:
    passage: Passage
    table: Table
    rows: tuple[tuple[str, ...], ...]
    # The clauses that tie the question to the rows ("Zone 1: Austria, Belgium, ...").
    via: tuple[str, ...] = ()

    def text(self) -> str:
        return " ".join([*(clause.rstrip(".") + "." for clause in self.via), self.table.text(self.rows)])


class TableRows:
    """The rows of every table in the shop's passages, with what is needed to match them to a
    question: their first cells' words, their first cells' vectors, and the shop's clauses."""

    def __init__(self, passages: Sequence[Passage], encoder: SentenceEncoder | None = None) -> None:
        self._tables = {p: tables(p.text) for p in passages}
        # Each table's first cells as words, read once per store folder.
        self._keys = {
            table: {row[0]: tokens(row[0]) for row in table.rows} for found in self._tables.values() for table in found
        }
        prose = [strip_instructions(block) for p in passages for block in blocks(p.text) if isinstance(block, str)]
        self._clauses = [c.strip() for text in prose for c in _CLAUSE.split(_WRAP.sub(" ", text)) if c.strip()]
        self._clause_tokens = [tokens(c) for c in self._clauses]
        keys = sorted({row[0] for found in self._tables.values() for table in found for row in table.rows})
        self._vectors: dict[str, Vectors] = {}
        if encoder is not None and keys:
            self._vectors = dict(zip(keys, encoder.encode(keys), strict=True))

    def match(self, query: Query, candidates: Sequence[Passage], dense_within: int = 3) -> RowMatch | None:
        """The rows the question asks about in the tables of the candidate passages (best
        ranked first): by the words of their first cell, then through a clause that names
        them together with a word of the question, then (for the first `dense_within`
        candidates) by meaning. None when no row stands out."""
        asked = tokens(query.text)
        best: tuple[int, RowMatch] | None = None
        for passage in candidates:
            for table in self._tables.get(passage, []):
                found = self._by_words(asked, passage, table)
                if found and (best is None or found[0] > best[0]):
                    best = found
        if best is not None:
            return best[1]
        if query.vector is None:
            return None
        for passage in candidates[:dense_within]:
            for table in self._tables.get(passage, []):
                found_row = self._by_meaning(query.vector, passage, table)
                if found_row is not None:
                    return found_row
        return None

    def _by_words(self, asked: set[str], passage: Passage, table: Table) -> tuple[int, RowMatch] | None:
        keys = self._keys.get(table) or {row[0]: tokens(row[0]) for row in table.rows}
        named = {key: _named(words, asked) for key, words in keys.items()}
        top = max(named.values(), default=0)
        if top:
            chosen = {key for key, count in named.items() if count == top}
            if len(chosen) < len(keys):  # a word every row shares picks no row
                return top * 2, RowMatch(passage, table, tuple(r for r in table.rows if r[0] in chosen))
        # A question word the table does not use, in a clause that names one row: "Austria" ->
        # "Zone 1: Austria, Belgium, ...". Only words few clauses use ("delivery" is in many).
        table_words = set().union(*keys.values())
        via: dict[str, str] = {}
        for word in {t for t in asked - table_words if not t.isdigit()}:
            holding = [i for i, clause in enumerate(self._clause_tokens) if word in clause]
            if not 0 < len(holding) <= 2:
                continue
            for i in holding:
                named_here = [key for key, words in keys.items() if words and words <= self._clause_tokens[i]]
                if len(named_here) == 1:
                    via[named_here[0]] = self._clauses[i]
        if not via:
            return None
        rows = tuple(r for r in table.rows if r[0] in via)
        return 1, RowMatch(passage, table, rows, tuple(dict.fromkeys(via.values())))

    def _by_meaning(self, vector: Vectors, passage: Passage, table: Table) -> RowMatch | None:
        keys = list(dict.fromkeys(row[0] for row in table.rows))
        if len(keys) < 2 or any(key not in self._vectors for key in keys):
            return None
        scores = np.array([float(self._vectors[key] @ vector) for key in keys])
        order = np.argsort(-scores)
        if scores[order[0]] < _DENSE_FLOOR or scores[order[0]] - scores[order[1]] < _DENSE_LEAD:
            return None
        return RowMatch(passage, table, tuple(r for r in table.rows if r[0] == keys[int(order[0])]))
