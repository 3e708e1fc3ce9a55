"""What a store folder import could not use: each problem names the file, the row or line, and
the reason, and the rest of the folder still loads."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


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

    def read(self, path: Path, file: str) -> str | None:
        """The file's text (a byte-order mark dropped: Excel and Shopify write one at times),
        or None with the reason noted."""
        try:
            return path.read_text(encoding="utf-8-sig")
        except (OSError, UnicodeDecodeError) as exc:
            self.add(file, "", f"cannot read: {exc}")
            return None
