"""Policies and FAQ: Markdown split on headings into passages that keep their file and heading
as their source, so a reply can say where a fact came from."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from markdown_it import MarkdownIt

from bot.knowledge.problems import Problems

_INLINE = MarkdownIt("commonmark")

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


def plain(text: str) -> str:
    """Markdown's inline marks gone ("**30 days**" -> "30 days", "[our page](https://...)" ->
    "our page (https://...)"), line by line, so that a reply reads as prose. Tables and list
    markers are read elsewhere (tables.blocks, text.sentences)."""
    lines = []
    for line in text.splitlines():
        tokens = _INLINE.parseInline(line)
        out: list[str] = []
        link: str | None = None
        for token in tokens:
            for child in token.children or []:
                if child.type in ("text", "code_inline"):
                    out.append(child.content)
                elif child.type in ("softbreak", "hardbreak"):
                    out.append(" ")
                elif child.type == "link_open":
                    link = str(child.attrs.get("href", ""))
                elif child.type == "link_close" and link:
                    if link not in "".join(out[-3:]):
                        out.append(f" ({link})")
                    link = None
        lines.append("".join(out) if tokens else line)
    return "\n".join(lines)
