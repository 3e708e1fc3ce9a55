"""`shopbot bench quality`: labelled shopper questions through the real engine (Redis, the
understanding heads, the shop's knowledge, the model, the checker), judged by bot.corpus.

One store folder with its questions, or a whole corpus (`--corpus eval/shops`): every shop's
questions, each shop served by the same runtime after a reload of its folder (the path a live
shop takes when its files change). With `--leave-one-out`, what the engine calibrates on labelled
questions (the relevance below which it says "I don't know") is calibrated on the other shops'
questions before a shop is measured, so no shop is measured with a figure its own questions set.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass
from pathlib import Path

from bot.answers.calibration import Samples, collect, report
from bot.corpus import Question, Verdict, judge, read_questions
from bot.errors import ShopbotError
from bot.knowledge.index import ShopIndex, build_index
from bot.knowledge.shop import load_shop
from bot.language import detect_language
from bot.messages import Address, Inbound, Reply
from bot.runtime import Runtime, open_runtime
from bot.settings import Settings


@dataclass
class Outcome:
    shop: str
    question: Question
    reply: str
    flags: set[str]
    intent: str | None
    seconds: float
    tokens: int
    verdict: Verdict
    grounding_ms: float = 0.0  # understanding + grounding alone, no model, no Redis writes

    @property
    def right(self) -> bool:
        return self.verdict.right


async def ask(runtime: Runtime, user: str, text: str) -> tuple[Reply, float]:
    inbound = Inbound(
        channel="cli",
        user_id=user,
        address=Address(channel="cli", chat_id=user),
        message_id=uuid.uuid4().hex,
        text=text,
    )
    started = time.perf_counter()
    final = None
    try:
        async for event in runtime.engine.handle(inbound):
            if isinstance(event, Reply):
                final = event
    except ShopbotError as exc:
        final = Reply(text=exc.public_message, customer_id="", flags=set())
    assert final is not None
    return final, time.perf_counter() - started


async def _grounding_ms(runtime: Runtime, user: str, text: str) -> float:
    """The time the engine spends deciding what to say (understanding, then the answerers),
    timed on its own: the issue's budget for both is 15 ms per message, p50, on 2 cores."""
    customer = await runtime.store.customer_for("cli", user)
    history = await runtime.store.history(customer)
    assert runtime.understander is not None
    started = time.perf_counter()
    understanding = await runtime.understander.understand(text)
    await runtime.knowledge.ground(customer, text, history, understanding)
    return (time.perf_counter() - started) * 1000


async def run_shop(
    runtime: Runtime, folder: Path, questions: Sequence[Question], *, show: Callable[[str], None] | None = None
) -> list[Outcome]:
    """Each question from a new shopper, its earlier turns first."""
    shop = runtime.knowledge.shop
    catalog = [p.title for p in shop.products]
    offered = [p.title for p in shop.offered]
    outcomes = []
    for question in questions:
        user = f"bench-{uuid.uuid4().hex[:12]}"
        for turn in question.history:
            if turn.role == "user":
                await ask(runtime, user, turn.text)
        grounding_ms = await _grounding_ms(runtime, user, question.question)
        reply, seconds = await ask(runtime, user, question.question)
        customer = await runtime.store.customer_for("cli", user)
        asked = [m for m in await runtime.store.history(customer) if m.role == "user"]
        language = detect_language(reply.text, fallback="en") if question.lang else None
        verdict = judge(question, reply.text, set(reply.flags), catalog=catalog, offered=offered, language=language)
        outcome = Outcome(
            folder.name,
            question,
            reply.text,
            set(reply.flags),
            asked[-1].intent if asked else None,
            seconds,
            reply.tokens,
            verdict,
            grounding_ms,
        )
        outcomes.append(outcome)
        if show is not None:
            mark = "ok " if outcome.right else "BAD"
            why = f"  ({'; '.join(verdict.reasons)})" if verdict.reasons else ""
            show(
                f"{mark} {question.id or folder.name} [{question.kind or question.intent}/{outcome.intent}] "
                f"{question.question}\n    -> {reply.text[:300]}  {sorted(reply.flags)}{why}"
            )
    return outcomes


async def run_quality_bench(
    settings: Settings,
    shops: Sequence[Path],
    *,
    questions_file: Path | None = None,
    leave_one_out: bool = False,
    other_desks: Sequence[str] = (),
    show: Callable[[str], None] | None = None,
) -> list[Outcome]:
    """The questions of every shop in `shops` (its questions.jsonl, or `questions_file` for a
    single shop), one runtime for all: the knowledge is swapped to each shop's folder in turn."""
    first = shops[0]
    outcomes: list[Outcome] = []
    settings = settings.model_copy(update={"store_dir": first})
    async with open_runtime(settings) as runtime:
        samples = None
        if leave_one_out:
            samples = await collect_samples(runtime, shops, other_desks)
        for folder in shops:
            if folder != first:
                await asyncio.to_thread(runtime.knowledge.replace, load_shop(folder))
            if samples is not None:
                thresholds, found = samples.thresholds(excluding=folder.name)
                runtime.knowledge.answers.thresholds = thresholds
                if show is not None:
                    show(f"{folder.name}: thresholds calibrated on the other shops\n{report(found)}")
            questions = read_questions(questions_file or folder / "questions.jsonl")
            outcomes += await run_shop(runtime, folder, questions, show=show)
    return outcomes


async def collect_samples(runtime: Runtime, shops: Sequence[Path], other_desks: Sequence[str] = ()) -> Samples:
    """Calibration samples from every shop's questions and other companies' support questions
    (bot.answers.calibration)."""
    indexes: dict[Path, ShopIndex] = {}

    async def index_for(folder: Path) -> ShopIndex:
        if folder not in indexes:
            shop = await asyncio.to_thread(load_shop, folder)
            indexes[folder] = await asyncio.to_thread(build_index, shop, runtime.store, runtime.encoder)
        return indexes[folder]

    return await collect(
        [(shop, read_questions(shop / "questions.jsonl")) for shop in shops],
        index_for,
        runtime.understander,
        runtime.knowledge.encode,
        other_desks,
    )


def _share(part: int, whole: int) -> str:
    return f"{part}/{whole} = {part / whole:.1%}" if whole else "-"


def percent(part: int, whole: int) -> str:
    return f"{part / whole:.1%}" if whole else "-"


_DECLINES = ("decline", "not_sold")


def shop_figures(outcomes: Sequence[Outcome]) -> dict[str, str]:
    """The figures of one shop (or of all), as the README's table shows them."""
    answerable = [o for o in outcomes if o.question.answerable]
    declinable = [o for o in outcomes if o.question.expect in _DECLINES]
    yes_no = [o for o in outcomes if o.question.answer in ("yes", "no")]
    generated = [o for o in outcomes if o.tokens > 0]
    latencies = sorted(o.seconds for o in outcomes) or [0.0]
    return {
        "questions": str(len(outcomes)),
        "right": percent(sum(o.right for o in outcomes), len(outcomes)),
        "wrong facts": str(sum(o.verdict.wrong_fact for o in outcomes)),
        "declined rightly": percent(sum(o.right for o in declinable), len(declinable)),
        "answerable declined": str(sum("declined" in o.flags or "not_sold" in o.flags for o in answerable)),
        "yes/no contradicted": str(sum(any("opposite" in reason for reason in o.verdict.reasons) for o in yes_no)),
        "model reply kept": percent(sum("corrected" not in o.flags for o in generated), len(generated)),
        "p50 s": f"{statistics.median(latencies):.2f}",
        "understand+ground p50 ms": f"{statistics.median([o.grounding_ms for o in outcomes] or [0.0]):.1f}",
    }


def quality_report(outcomes: Sequence[Outcome], held_out: Collection[str] = frozenset()) -> str:
    """One row per shop, then all shops together, then the shops' figures by kind of question."""
    by_shop: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        by_shop[outcome.shop].append(outcome)
    rows = [
        (shop + (" (held out)" if shop in held_out else ""), shop_figures(found)) for shop, found in by_shop.items()
    ]
    if len(by_shop) > 1:
        rows.append(("all", shop_figures(outcomes)))
        if held_out and (kept := [o for o in outcomes if o.shop in held_out]):
            rows.append(("held-out shops", shop_figures(kept)))
    columns = list(rows[0][1])
    lines = ["| shop | " + " | ".join(columns) + " |", "|---|" + "---|" * len(columns)]
    lines += [f"| {name} | " + " | ".join(figures[c] for c in columns) + " |" for name, figures in rows]
    kinds: dict[str, list[Outcome]] = defaultdict(list)
    for outcome in outcomes:
        kinds[outcome.question.kind or outcome.question.intent or "-"].append(outcome)
    lines += ["", "| kind | right |", "|---|---|"]
    lines += [
        f"| {kind} | {_share(sum(o.right for o in found), len(found))} |" for kind, found in sorted(kinds.items())
    ]
    reasons = Counter(reason.split(":")[0].split(" '")[0] for o in outcomes for reason in o.verdict.reasons)
    if reasons:
        lines += ["", "misses: " + ", ".join(f"{reason} x{n}" for reason, n in reasons.most_common(8))]
    return "\n".join(lines)


def dump(outcomes: Sequence[Outcome], path: Path) -> None:
    with path.open("w", encoding="utf-8") as f:
        for o in outcomes:
            record = {
                "shop": o.shop,
                "id": o.question.id,
                "kind": o.question.kind,
                "question": o.question.question,
                "reply": o.reply,
                "flags": sorted(o.flags),
                "intent": o.intent,
                "right": o.right,
                "reasons": o.verdict.reasons,
                "seconds": round(o.seconds, 3),
            }
            f.write(json.dumps(record, ensure_ascii=False) + "\n")
