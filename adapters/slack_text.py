"""Text between Slack and the shopper, and Slack's block limits.

Slack's mrkdwn treats `<`, `>` and `&` as control characters: a shopper's "<!channel>" posted
unescaped would ping the whole channel. Staff text comes the other way with Slack's markup
(`<https://x|label>`, `<@U123>`, `&amp;`), which a shopper should read as plain text."""

from __future__ import annotations

import html
import re
from typing import Any

SECTION_CHARS = 3000  # a section block's text
MAX_BLOCKS = 50  # blocks in one message
MAX_TEXT = 40_000  # `text` is cut past this

_LINK = re.compile(r"<((?:https?|mailto):[^|>]+)(?:\|([^>]+))?>")
_SPECIAL = re.compile(r"<[@#!][^>]*>")


def escape(text: str) -> str:
    """Any text (a shopper's) as mrkdwn that shows it as written and pings no one."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plain(text: str) -> str:
    """A staff member's Slack message as the shopper should read it."""
    text = _LINK.sub(lambda m: m.group(2) or m.group(1).removeprefix("mailto:"), text)
    text = _SPECIAL.sub("", text)  # a mention of a colleague means nothing to the shopper
    return html.unescape(text).strip()


def _pieces(text: str, most: int) -> list[str]:
    """`text` in pieces of at most `most` characters, cut at a line, else a space."""
    pieces = []
    while len(text) > most:
        cut = text.rfind("\n", most // 2, most)
        if cut < 0:
            cut = text.rfind(" ", most // 2, most)
        if cut < 0:
            cut = most
        pieces.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    return [*pieces, text] if text else pieces


def section_messages(text: str) -> list[tuple[str, list[dict[str, Any]]]]:
    """A long answer as one or more messages (fallback text, section blocks), each within
    Slack's limits: 3,000 characters a section, 50 blocks and 40,000 characters a message."""
    sections = _pieces(text, SECTION_CHARS)
    messages = []
    for start in range(0, len(sections), MAX_BLOCKS):
        chunk = sections[start : start + MAX_BLOCKS]
        fallback = "\n".join(chunk)[:MAX_TEXT]
        blocks = [{"type": "section", "text": {"type": "mrkdwn", "text": piece}} for piece in chunk]
        messages.append((fallback, blocks))
    return messages or [("…", [{"type": "section", "text": {"type": "mrkdwn", "text": "…"}}])]
