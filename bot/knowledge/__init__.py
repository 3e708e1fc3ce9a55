"""The shop's own data, as the engine sees it: one protocol the engine calls before writing.

Loaders for the store folder, retrieval, order lookup and the grounding check implement it;
the engine only needs `ground`. An engine built without knowledge answers from the model and
the conversation alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Protocol

from bot.messages import Source, StoredMessage


@dataclass(frozen=True)
class Fact:
    """A passage, product row or order the reply may state, and where it came from."""

    text: str
    source: Source | None = None


@dataclass(frozen=True)
class Grounding:
    facts: list[Fact] = field(default_factory=list)

    @property
    def sources(self) -> list[Source]:
        return [f.source for f in self.facts if f.source is not None]


class Knowledge(Protocol):
    async def ground(self, customer_id: str, message: str, history: Sequence[StoredMessage]) -> Grounding:
        """The facts that answer `message`, for this customer (orders only when proven theirs)."""
        ...
