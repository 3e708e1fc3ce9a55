"""Policies and FAQ: Markdown split on headings into passages that keep their file and heading
as their source, so a reply can say where a fact came from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from bot.knowledge.problems import Problems

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")


@dataclass(frozen=True)
class Passage:
    file: str  # "policies/returns.md"
    heading: str  # "Return window" (the file's title for text before the first heading)
    text: str

    @property
    def ref(self) -> str:
        return f"{self.file}#{self.heading}"


def split_markdown(text: str, file: str, *, title: str) -> list[Passage]:
    """Each heading starts a passage; text before the first heading belongs to `title`.
    Lines inside ``` fences are never headings."""
    passages = []
    heading, fenced = title, False
    lines: list[str] = []
    for line in text.splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
        match = None if fenced else _HEADING.match(line)
        if match:
            body = "\n".join(lines).strip()
            if body:
                passages.append(Passage(file, heading, body))
            heading, lines = match.group(2), []
        else:
            lines.append(line)
    body = "\n".join(lines).strip()
    if body:
        passages.append(Passage(file, heading, body))
    return passages


def read_markdown(path: Path, file: str, problems: Problems) -> list[Passage]:
    text = problems.read(path, file)
    if text is None:
        return []
    passages = split_markdown(text, file, title=path.stem.replace("-", " ").replace("_", " ").capitalize())
    if not passages:
        problems.add(file, "", "no text")
    return passages
