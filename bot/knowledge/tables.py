"""Markdown tables in policies (and HTML tables in product descriptions, read into the same
form): rows with their header, each written out as a sentence ("Zone 1: standard 7,90 €, delivery
time 2-4 working days"). A row is an evidence unit of its own (bot.knowledge.evidence): a table's
answer is one of its rows, and the whole table flattened is a run of cells nobody can read.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from bot.guard import strip_instructions

_PIPE = re.compile(r"(?<!\\)\|")  # a cell border; "\|" is a pipe inside a cell
_RULE_CELL = re.compile(r":?-+:?")
_FENCE = "```"


@dataclass(frozen=True)
class Table:
    header: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def sentence(self, row: Sequence[str], columns: set[int] | None = None) -> str:
        """ "Zone 1: service DHL Paket International, delivery time 2-4 working days, price €7.90."
        `columns`: only these (by position, the first being 0), when a question asks about them."""
        names = [*self.header[1:], *[""] * max(0, len(row) - len(self.header))]  # a ragged row keeps its cells
        pairs = [
            f"{name.lower()} {cell}" if name else cell
            for position, (name, cell) in enumerate(zip(names, row[1:], strict=False), start=1)
            if cell and (columns is None or position in columns)
        ]
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


def tables(text: str) -> list[Table]:
    return [block for block in blocks(text) if isinstance(block, Table)]
