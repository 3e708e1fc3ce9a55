"""`shopbot bench quality`: a labelled question set through the real engine (Redis, the
understanding heads, the shop's knowledge, the model, the checker) and the figures issue 3
asks for.

Questions file: JSONL, one object per line:
    {"question": "...", "history": [{"role": "user", "text": "..."}, ...],
     "must": ["$89.00"], "must_not": ["1Z..."], "intent": "product_question"}
Earlier user turns in `history` are sent first, as the same shopper.
"""

from __future__ import annotations

import json
import statistics
import time
import uuid
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

from pydantic import BaseModel, Field, ValidationError

from bot.errors import ConfigError, ShopbotError
from bot.messages import Address, Inbound, Reply
from bot.runtime import open_runtime
from bot.settings import Settings


class Turn(BaseModel):
    role: str
    text: str


class Question(BaseModel):
    question: str
    history: list[Turn] = Field(default_factory=list)
    must: list[str] = Field(default_factory=list)
    must_not: list[str] = Field(default_factory=list)
    intent: str | None = None


def read_questions(path: Path) -> list[Question]:
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                questions.append(Question.model_validate_json(line))
            except ValidationError as exc:
                raise ConfigError(f"{path} line {number}: {exc.errors()[0]['msg']}") from None
    return questions


@dataclass
class Outcome:
    question: Question
    reply: str
    flags: set[str]
    intent: str | None
    seconds: float
    tokens: int

    @property
    def has_facts(self) -> bool:
        return bool(self.question.must or self.question.must_not)

    @property
    def wrong(self) -> list[str]:
        return [m for m in self.question.must_not if m.lower() in self.reply.lower()]

    @property
    def right(self) -> bool:
        return all(m.lower() in self.reply.lower() for m in self.question.must) and not self.wrong


async def run_quality_bench(settings: Settings, questions_file: Path, *, show: bool = False) -> list[Outcome]:
    questions = read_questions(questions_file)
    outcomes: list[Outcome] = []
    async with open_runtime(settings) as runtime:
        engine, store = runtime.engine, runtime.store
        for question in questions:
            user = f"bench-{uuid.uuid4().hex[:12]}"

            async def ask(text: str, user: str = user) -> tuple[Reply | None, float]:
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
                    async for event in engine.handle(inbound):
                        if isinstance(event, Reply):
                            final = event
                except ShopbotError as exc:
                    final = Reply(text=exc.public_message, customer_id="", flags=set())
                return final, time.perf_counter() - started

            for turn in question.history:
                if turn.role == "user":
                    await ask(turn.text)
            reply, seconds = await ask(question.question)
            assert reply is not None
            customer = await store.customer_for("cli", user)
            asked = [m for m in await store.history(customer) if m.role == "user"]
            outcome = Outcome(
                question, reply.text, set(reply.flags), asked[-1].intent if asked else None, seconds, reply.tokens
            )
            outcomes.append(outcome)
            if show:
                mark = "ok " if outcome.right else "BAD"
                print(
                    f"{mark} [{outcome.intent}] {question.question}\n    -> {reply.text[:240]}  {sorted(reply.flags)}"
                )
    return outcomes


def quality_report(name: str, outcomes: list[Outcome]) -> str:
    factual = [o for o in outcomes if o.has_facts]
    generated = [o for o in outcomes if o.tokens > 0]  # the model wrote a reply (kept or replaced)
    labelled = [o for o in outcomes if o.question.intent]
    latencies = sorted(o.seconds for o in outcomes)
    p95 = latencies[min(len(latencies) - 1, int(0.95 * len(latencies)))]
    intents = Counter((o.question.intent, o.intent) for o in labelled if o.question.intent != o.intent)
    lines = [
        f"{name}: {len(outcomes)} questions",
        f"  fact accuracy:                 {sum(o.right for o in factual)}/{len(factual)} "
        f"= {sum(o.right for o in factual) / max(len(factual), 1):.1%}",
        f"  replies with a wrong fact:     {sum(bool(o.wrong) for o in outcomes)}",
        f"  model's reply passed checker:  {sum('corrected' not in o.flags for o in generated)}/{len(generated)} "
        f"= {sum('corrected' not in o.flags for o in generated) / max(len(generated), 1):.1%}",
        f"  intent accuracy:               {sum(o.intent == o.question.intent for o in labelled)}/{len(labelled)} "
        f"= {sum(o.intent == o.question.intent for o in labelled) / max(len(labelled), 1):.1%}",
        f"  latency p50 / p95:             {statistics.median(latencies):.2f} s / {p95:.2f} s",
    ]
    if intents:
        lines.append(
            "  intent confusions (labelled -> said): "
            + ", ".join(f"{a}->{b} x{n}" for (a, b), n in intents.most_common(6))
        )
    return "\n".join(lines)


def dump(outcomes: list[Outcome], path: Path) -> None:
    with path.open("w", encoding="utf-8") as f:
        for o in outcomes:
            f.write(
                json.dumps(
                    {
                        "question": o.question.question,
                        "reply": o.reply,
                        "flags": sorted(o.flags),
                        "intent": o.intent,
                        "right": o.right,
                        "seconds": round(o.seconds, 3),
                    }
                )
                + "\n"
            )
