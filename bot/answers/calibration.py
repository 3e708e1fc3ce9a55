"""Calibrating the "I don't know" thresholds on a corpus of shops (bot.answers.relevance).

Every labelled question is answered by the real answerers with the thresholds out of the way,
and the score each threshold would have been compared with is kept: a shop's answerable policy
and product questions give positives; its questions labelled unanswerable, and the other shops'
unanswerable questions asked of it, give negatives. `thresholds(excluding=shop)` calibrates on
everything that did not come from that shop, which is what `bench quality --leave-one-out`
measures each shop with.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from bot.answers.relevance import NAMES, Calibration, Thresholds, calibrate
from bot.answers.router import Answers
from bot.corpus import Question
from bot.knowledge.index import ShopIndex
from bot.knowledge.retrieval import Query
from bot.understanding import Understander

_OPEN = Thresholds(policy=-1e9, detail=-1e9, out_of_scope=-1e9)
OTHER_DESKS = "other desks"  # the author of other companies' support questions
# Kinds that reach no threshold before another route (orders, greetings, other languages).
_NOT_SAMPLED = {"order", "small_talk", "other_language", "furious", None}
# Kinds whose first relevance score is no clean sample of a threshold (several things asked).
_NOT_SAMPLED_FOR_RELEVANCE = {"multi_part", "compare", "follow_up"}
# The kinds of question whose deciding score is a clean sample of one threshold.
_POSITIVE_KINDS = {"policy": "policy", "product": "detail", "yes_no": "detail"}
# The least share of answerable questions each threshold must let through. Out of scope is
# stricter: a shop question turned away as another domain's is a worse miss than an "I don't
# know", and other desks' questions outnumber the shop questions sampled.
_KEEP = {"policy": 0.85, "detail": 0.85, "out_of_scope": 0.95}


@dataclass(frozen=True)
class Sample:
    threshold: str  # "policy" or "detail"
    score: float
    positive: bool
    shop: str  # the shop whose data answered (or not)
    author: str  # the shop whose question it is
    question: str = ""


@dataclass
class Samples:
    items: list[Sample] = field(default_factory=list)

    def thresholds(self, *, excluding: str | None = None) -> tuple[Thresholds, dict[str, Calibration]]:
        """Thresholds calibrated on every sample that neither came from nor was answered by
        `excluding`."""
        kept = [s for s in self.items if excluding not in (s.shop, s.author)]
        found: dict[str, Calibration] = {}
        for name in NAMES:
            positives = [s.score for s in kept if s.threshold == name and s.positive]
            negatives = [s.score for s in kept if s.threshold == name and not s.positive]
            found[name] = calibrate(positives, negatives, keep=_KEEP[name])
        return Thresholds(**{name: c.threshold for name, c in found.items()}), found


async def collect(
    shops: Sequence[tuple[Path, Sequence[Question]]],
    index_for: Callable[[Path], Awaitable[ShopIndex]],
    understander: Understander | None,
    encode: Callable[[str], Awaitable[Query]],
    other_desks: Sequence[str] = (),
) -> Samples:
    """Every usable question of every shop asked of its own shop, and every unanswerable one
    asked of the others too; and other companies' support questions asked of every shop (the
    out-of-scope threshold's negatives)."""
    answers = Answers(_OPEN)
    samples = Samples()
    unanswerable = [(folder, q) for folder, questions in shops for q in questions if q.expect == "decline"]

    async def probe(index: ShopIndex, text: str) -> list[tuple[str, float]]:
        understanding = await understander.understand(text) if understander else None
        probes: list[tuple[str, float]] = []
        await answers.ground(
            index, f"calibration-{uuid.uuid4().hex[:8]}", text, [], understanding, encode, probes=probes
        )
        return probes

    for folder, questions in shops:
        index = await index_for(folder)
        asked = [(folder, q) for q in questions] + [(author, q) for author, q in unanswerable if author != folder]
        for author, question in asked:
            if question.history or question.kind in _NOT_SAMPLED:
                continue
            probes = await probe(index, question.question)
            scope = [score for name, score in probes if name == "out_of_scope"]
            if scope and question.expect == "answer" and author == folder:
                samples.items.append(
                    Sample("out_of_scope", scope[0], True, folder.name, author.name, question.question)
                )
            probes = [(name, score) for name, score in probes if name != "out_of_scope"]
            if question.kind in _NOT_SAMPLED_FOR_RELEVANCE or not probes:
                continue
            if question.expect == "decline":
                positive = False
            elif question.expect == "answer" and question.kind in _POSITIVE_KINDS:
                positive = True
            else:
                continue
            name, score = probes[0]
            if positive and name != _POSITIVE_KINDS[str(question.kind)]:
                continue  # answered by another route than the one its kind samples
            samples.items.append(Sample(name, score, positive, folder.name, author.name, question.question))
        for text in other_desks:
            scope = [score for name, score in await probe(index, text) if name == "out_of_scope"]
            if scope:
                samples.items.append(Sample("out_of_scope", scope[0], False, folder.name, OTHER_DESKS, text))
    return samples


def report(found: dict[str, Calibration]) -> str:
    lines = []
    for name, c in found.items():
        lines.append(
            f"  {name:6s} threshold {c.threshold:.3f}: answers {c.answered:.1%} of {c.positives} answerable, "
            f"declines {c.declined:.1%} of {c.negatives} unanswerable"
        )
    return "\n".join(lines)


def by_shop(samples: Samples) -> dict[str, list[Sample]]:
    found: dict[str, list[Sample]] = defaultdict(list)
    for sample in samples.items:
        found[sample.shop].append(sample)
    return found
