"""Reply text for Telegram: HTML-escaped for the parse mode the adapter uses, and cut into
messages of at most 4096 characters at a paragraph, a sentence or a word, never inside one.

The limit counts the text after entities are parsed, so a piece is measured unescaped and
escaped after cutting: "&amp;" is one character to Telegram, and an escape is never cut in two.
"""

from __future__ import annotations

import html
import re

LIMIT = 4096
# Where a piece may end, best first: after a blank line, a line break, a sentence, a space.
_BREAKS = (re.compile(r"\n\s*\n"), re.compile(r"\n"), re.compile(r"(?<=[.!?])\s+"), re.compile(r"\s+"))


def escape(text: str) -> str:
    """Text as HTML parse mode reads it: "<", ">" and "&" written as entities."""
    return html.escape(text, quote=False)


def split(text: str, limit: int = LIMIT) -> list[str]:
    """`text` in pieces of at most `limit` characters, each cut at the best break before the
    limit (a word longer than the limit is cut where it must be)."""
    text = text.strip()
    pieces: list[str] = []
    while len(text) > limit:
        window = text[: limit + 1]
        cut = 0
        for pattern in _BREAKS:
            # In the second half only: a paragraph break near the start would make many small
            # messages where a sentence break near the limit makes few.
            ends = [m for m in pattern.finditer(window) if limit // 2 < m.start() <= limit]
            if ends:
                cut = ends[-1].start()
                break
        if cut == 0:
            cut = limit
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        pieces.append(text)
    return pieces
