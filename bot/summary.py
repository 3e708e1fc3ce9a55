"""A conversation in a few lines, for the person it is handed to: what the shopper is after,
how it went, how they feel. Extractive (their own words, the intents the heads read): a
summary that cannot misquote the shopper."""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from bot.messages import StoredMessage

_QUOTE = 160


def _quoted(text: str, most: int = _QUOTE) -> str:
    text = " ".join(text.split())
    return f"“{text if len(text) <= most else text[: most - 1].rstrip() + '…'}”"


def _topic(intent: str) -> str:
    return intent.replace("_", " ")


def summarize(history: Sequence[StoredMessage]) -> tuple[str, str]:
    """Two lines: what they asked about (topics, and their first words), then where it stands
    (their latest words, and how many answers did not help)."""
    asked = [m for m in history if m.role == "user"]
    if not asked:
        return "No messages from the shopper yet.", ""
    topics = [_topic(m.intent) for m in asked if m.intent and m.intent not in ("greeting", "out_of_scope")]
    common = ", ".join(topic for topic, _ in Counter(topics).most_common(3))
    first = f"Asked about {common}: " if common else "Asked: "
    first += _quoted(asked[0].text)
    unhelped = sum(
        1 for m in history if m.role == "assistant" and m.flags & {"fallback", "corrected", "refused", "handed_over"}
    )
    helped = sum(1 for m in history if m.role == "assistant") - unhelped
    latest = f"Latest: {_quoted(asked[-1].text)}" if len(asked) > 1 else "That was their only message."
    return first, f"{latest} ({helped} answered, {unhelped} not helped)"


def sentiment_trend(history: Sequence[StoredMessage], most: int = 5) -> str:
    """The sentiment of their last messages, oldest first, and which way it goes."""
    scores = [m.sentiment for m in history if m.role == "user" and m.sentiment is not None][-most:]
    if not scores:
        return "unknown"
    shown = " → ".join(f"{score:+.2f}" for score in scores)
    if len(scores) < 2:
        return shown
    change = scores[-1] - scores[0]
    way = "getting worse" if change < -0.3 else "getting better" if change > 0.3 else "steady"
    return f"{shown} ({way})"
