"""`shopbot bench messages`: messages people send to companies, through the real engine.

Two sets in eval/messages, neither read while writing the rules:

- customers' messages to shops, labelled furious / negative / neutral / positive. Measured:
  which are handed to a person (the engine's `handed_over` flag), and negative-or-not as the
  understanding heads read it;
- other companies' support questions (a bank, an airline, a gym...): measured is what the shop's
  assistant did with them: said it only helps with the shop (`out_of_scope`), declined, or
  answered as if they were shop questions (the wrong one).

Both sets are split in halves for good (bot.corpus.halves): the fury head learns from one half of
the customers' messages, and a developer looking for why a message went wrong looks at the first
half of either set (`--half learn`). The figures to quote are the other half's (the default).

Each message comes from a new shopper, so one message's hand-over does not silence the next.
"""

from __future__ import annotations

import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from bot.bench_quality import ask, percent
from bot.corpus import Message, halves, read_messages
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings


@dataclass(frozen=True)
class MessagesFigures:
    customers: int
    furious: int
    furious_handed_over: int
    others_handed_over: int
    negative_or_not_right: int
    other_desks: int
    other_desks_outcomes: Counter[str]  # out_of_scope / declined / handed_over / answered

    def lines(self) -> list[str]:
        handed = self.furious_handed_over + self.others_handed_over
        return [
            "| measure | figure |",
            "|---|---|",
            f"| customers' messages | {self.customers} |",
            f"| negative or not, as the heads read it | {percent(self.negative_or_not_right, self.customers)} |",
            f"| furious messages handed to a person | {percent(self.furious_handed_over, self.furious)} "
            f"({self.furious_handed_over}/{self.furious}) |",
            f"| hand-overs that were furious (precision) | {percent(self.furious_handed_over, handed)} "
            f"({self.furious_handed_over}/{handed}) |",
            f"| other companies' support questions | {self.other_desks} |",
            f"| ... told the assistant only helps with the shop | "
            f"{percent(self.other_desks_outcomes['out_of_scope'], self.other_desks)} |",
            f'| ... declined ("I don\'t know that") | {percent(self.other_desks_outcomes["declined"], self.other_desks)} |',
            f"| ... handed to a person | {percent(self.other_desks_outcomes['handed_over'], self.other_desks)} |",
            f"| ... answered as if a shop question (wrong) | "
            f"{percent(self.other_desks_outcomes['answered'], self.other_desks)} |",
        ]


async def _reply(runtime: Runtime, text: str) -> tuple[str, set[str]]:
    reply, _ = await ask(runtime, f"bench-{uuid.uuid4().hex[:12]}", text)
    return reply.text, set(reply.flags)


async def measure_messages(
    runtime: Runtime, customers: list[Message], other_desks: list[Message], show: Callable[[str], None] | None = None
) -> MessagesFigures:
    furious = handed_furious = handed_others = right = 0
    for message in customers:
        _, flags = await _reply(runtime, message.text)
        understood = await runtime.understander.understand(message.text) if runtime.understander else None
        negative = message.label in ("furious", "negative")
        right += understood is not None and (understood.sentiment == "negative") == negative
        handed = "handed_over" in flags
        furious += message.label == "furious"
        handed_furious += handed and message.label == "furious"
        handed_others += handed and message.label != "furious"
        if show is not None and handed != (message.label == "furious"):
            show(f"{'missed' if not handed else 'handed'} [{message.label}] {message.text}")
    outcomes: Counter[str] = Counter()
    for message in other_desks:
        said, flags = await _reply(runtime, message.text)
        outcome = (
            "out_of_scope"
            if "out_of_scope" in flags
            else "declined"
            if "declined" in flags
            else "handed_over"
            if "handed_over" in flags
            else "answered"
        )
        outcomes[outcome] += 1
        if show is not None and outcome == "answered":
            show(f"answered [{message.domain}] {message.text}\n    -> {said[:240]}")
    return MessagesFigures(len(customers), furious, handed_furious, handed_others, right, len(other_desks), outcomes)


async def run_messages_bench(
    settings: Settings,
    folder: Path,
    *,
    half: Literal["learn", "measure"] = "measure",
    show: Callable[[str], None] | None = None,
) -> MessagesFigures:
    """One half of the messages in `folder` (customer_sentiment.jsonl, other_domains.jsonl)
    through an engine serving the store in `settings`."""
    pick = 0 if half == "learn" else 1
    customers = halves(read_messages(folder / "customer_sentiment.jsonl"))[pick]
    other_desks = halves(read_messages(folder / "other_domains.jsonl"))[pick]
    async with open_runtime(settings) as runtime:
        return await measure_messages(runtime, customers, other_desks, show=show)
