"""What a store folder import could not use: each problem names the file, the row or line, and
the reason, and the rest of the folder still loads."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Problem:
    file: str
    where: str  # "row 12", "line 3", "" for the whole file
    reason: str

    def __str__(self) -> str:
        place = f"{self.file}, {self.where}" if self.where else self.file
        return f"{place}: {self.reason}"


@dataclass
class Problems:
    """Collects problems while a folder loads; loaders add to it and carry on."""

    items: list[Problem] = field(default_factory=list)

    def add(self, file: str, where: str, reason: str) -> None:
        self.items.append(Problem(file, where, reason))

    def __iter__(self) -> Iterator[Problem]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)
