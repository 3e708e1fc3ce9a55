"""System prompt, facts, trimmed history and the new message -> the model's chat messages,
within its token budget."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from bot.errors import MessageTooLong
from bot.llm import ChatMessage
from bot.messages import StoredMessage


def system_text(system: str, facts: Sequence[str]) -> str:
    """The system prompt, then one line per fact (a fact's text, or a slot marker for a model
    that writes slots). Training dialogues are built with this too, so they match the engine."""
    if not facts:
        return system
    lines = "\n".join(f"- {fact}" for fact in facts)
    return f"{system}\n\nFacts you may use:\n{lines}"


def build_messages(
    *,
    system: str,
    facts: Sequence[str],
    history: Sequence[StoredMessage],
    message: str,
    count: Callable[[list[ChatMessage]], int],
    budget: int,
    hard_limit: int,
) -> list[ChatMessage]:
    """Keep as much recent history as fits in `budget` tokens, the oldest turns going first;
    facts come before history (the last-ranked fact goes first when even they do not fit);
    a message that does not fit in `hard_limit` even alone is refused."""
    tail: ChatMessage = {"role": "user", "content": message}
    kept = list(facts)
    head: ChatMessage = {"role": "system", "content": system_text(system, kept)}
    while kept and count([head, tail]) > budget:
        kept.pop()
        head = {"role": "system", "content": system_text(system, kept)}
    turns: list[ChatMessage] = [
        {"role": "user" if m.role == "user" else "assistant", "content": m.text} for m in history
    ]

    def keeping(n: int) -> list[ChatMessage]:
        return [head, *turns[len(turns) - n :], tail] if n else [head, tail]

    if count(keeping(len(turns))) <= budget:
        low = len(turns)  # the common case, a short conversation: one count
    elif count(keeping(0)) > hard_limit:
        raise MessageTooLong("the message alone does not fit the model's context")
    else:
        low = _longest_fit(keeping, count, budget, len(turns))
    # Start the kept history on a shopper's message, never mid-exchange.
    while low and turns[len(turns) - low]["role"] != "user":
        low -= 1
    return keeping(low)


def _longest_fit(
    keeping: Callable[[int], list[ChatMessage]], count: Callable[[list[ChatMessage]], int], budget: int, most: int
) -> int:
    # Tokens grow with every turn kept, so the longest history that fits is found by bisection.
    low, high = 0, most
    while low < high:
        middle = (low + high + 1) // 2
        if count(keeping(middle)) <= budget:
            low = middle
        else:
            high = middle - 1
    return low
