"""What a shopper's message is about (intent) and how they feel (sentiment), fast enough to run
on every message: one pass of a small sentence encoder and two linear heads.

The heads are trained by `shopbot train-understanding` (bot/training/understanding.py) and
shipped in bot/models/understanding with the figures they reached.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from bot.errors import ConfigError
from bot.knowledge.text import EMAIL
from bot.understanding.encoder import SentenceEncoder, Vectors
from bot.understanding.fury import with_intensity
from bot.understanding.heads import LinearHead

DEFAULT_HEADS_DIR = Path(__file__).resolve().parent.parent / "models" / "understanding"

Intent = Literal[
    "product_question",
    "recommendation",
    "order_status",
    "shipping",
    "returns_refund",
    "payment",
    "account",
    "human_agent",
    "complaint",
    "feedback",
    "greeting_thanks",
    "out_of_scope",
]
INTENTS: tuple[Intent, ...] = Intent.__args__  # type: ignore[attr-defined]
Sentiment = Literal["negative", "neutral", "positive"]

# Asking for a person must never depend on a classifier's mood: these phrasings decide it.
_ASKS_FOR_PERSON = re.compile(
    r"\b(human( being)?|real person|live (agent|chat|person)|(an?|the|your) (agent|representative|operator)"
    r"|(speak|talk|chat) (to|with) (someone|somebody|a person|staff|support|a manager)|customer service rep)\b",
    re.I,
)


# Below this the head's "wants a person" is a guess; the runner-up intent is taken instead.
_PERSON_CONFIDENCE = 0.5


def normalise(text: str) -> str:
    """What the heads see: an e-mail address is just "an e-mail" (its letters read as words
    pulled "order 1044, me@example.org" over to payment)."""
    return EMAIL.sub("my e-mail", text)


@dataclass(frozen=True)
class Understanding:
    intent: Intent
    confidence: float
    sentiment: Sentiment
    sentiment_score: float  # P(positive) - P(negative): -1 furious .. +1 delighted
    runner_up: Intent | None = None  # the next likeliest intent, for a caller that rules the first out
    fury: float = 0.0  # P(the message is furious: a person should take over now), 0..1
    furious: bool = False  # fury at or above the hand-over threshold the heads were calibrated with


class SentimentHeads:
    """Whether a message voices an opinion at all, and if so which way."""

    def __init__(self, polarity: LinearHead, subjectivity: LinearHead) -> None:
        if set(polarity.labels) != {"negative", "positive"} or set(subjectivity.labels) != {"neutral", "opinion"}:
            raise ConfigError(f"unexpected sentiment labels {polarity.labels} / {subjectivity.labels}")
        self._polarity = polarity
        self._subjectivity = subjectivity

    def scores(self, vectors: Vectors) -> tuple[list[float], list[float]]:
        """Per row: P(positive) - P(negative) weighted by P(opinion), and P(neutral)."""
        polar = self._polarity.probabilities(vectors)
        subjective = self._subjectivity.probabilities(vectors)
        lean = polar[:, self._polarity.labels.index("positive")] - polar[:, self._polarity.labels.index("negative")]
        neutral = subjective[:, self._subjectivity.labels.index("neutral")]
        return [float(x) for x in lean * (1 - neutral)], [float(x) for x in neutral]

    @staticmethod
    def label(score: float, neutral: float) -> Sentiment:
        if neutral >= 0.5:
            return "neutral"
        return "positive" if score > 0 else "negative"


def _config(folder: Path) -> dict[str, float]:
    try:
        data = json.loads((folder / "understanding.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"no usable understanding.json in {folder}: {exc}") from exc
    return {k: float(v) for k, v in data.items() if isinstance(v, int | float) and not isinstance(v, bool)}


def heads_layer(folder: Path | None = None) -> int:
    """The encoder layer the heads in `folder` were trained on (from understanding.json)."""
    folder = folder or DEFAULT_HEADS_DIR
    layers = _config(folder).get("layers")
    if layers is None:
        raise ConfigError(f"no usable understanding.json in {folder}: no 'layers'")
    return int(layers)


class Understander:
    def __init__(
        self,
        encoder: SentenceEncoder,
        intent: LinearHead,
        sentiment: SentimentHeads,
        layer: int | None = None,
        fury: LinearHead | None = None,
        fury_threshold: float = 1.0,
        fury_intensity_weight: float = 1.0,
    ) -> None:
        unknown = set(intent.labels) - set(INTENTS)
        if unknown:
            raise ConfigError(f"the intent head has labels this version does not know: {sorted(unknown)}")
        self._encoder = encoder
        self._layer = layer  # None: the encoder's last layer
        self._intent = intent
        self._sentiment = sentiment
        self._fury = fury
        # P(furious) at or above which a person takes over (calibrated by train-understanding).
        self.fury_threshold = fury_threshold
        self._fury_intensity_weight = fury_intensity_weight
        # Messages waiting for the next encoder pass, and the task that runs the passes.
        self._waiting: list[tuple[str, asyncio.Future[Understanding]]] = []
        self._passes: asyncio.Task[None] | None = None

    @classmethod
    def load(
        cls, folder: Path | None = None, *, encoder: Path | None = None, shared: SentenceEncoder | None = None
    ) -> Understander:
        """Blocking. `folder` holds intent, polarity and subjectivity .safetensors and understanding.json
        (which names the encoder layer the heads were trained on). With `shared`, an encoder that
        keeps that layer, one pass over a message serves the heads and retrieval alike."""
        folder = folder or DEFAULT_HEADS_DIR
        layer = heads_layer(folder)
        config = _config(folder)
        fury_file = folder / "fury.safetensors"
        return cls(
            shared or SentenceEncoder.load(encoder, layers=layer),
            LinearHead.load(folder / "intent.safetensors"),
            SentimentHeads(
                LinearHead.load(folder / "polarity.safetensors"), LinearHead.load(folder / "subjectivity.safetensors")
            ),
            layer=layer if shared is not None else None,
            fury=LinearHead.load(fury_file) if fury_file.exists() else None,
            fury_threshold=config.get("fury_threshold", 1.0),
            fury_intensity_weight=config.get("fury_intensity_weight", 1.0),
        )

    def understand_many(self, texts: list[str]) -> list[Understanding]:
        """Blocking."""
        vectors = self._encoder.encode([normalise(text) for text in texts], layer=self._layer)
        intents = self._intent.probabilities(vectors)
        furies = (
            self._fury.probabilities(with_intensity(vectors, texts, self._fury_intensity_weight))[
                :, self._fury.labels.index("furious")
            ]
            if self._fury is not None
            else np.zeros(len(texts))
        )
        results = []
        for text, intent_p, score, neutral, fury in zip(
            texts, intents, *self._sentiment.scores(vectors), furies, strict=True
        ):
            best, second = (int(i) for i in intent_p.argsort()[::-1][:2])
            intent: Intent = self._intent.labels[best]  # type: ignore[assignment]
            runner_up: Intent = self._intent.labels[second]  # type: ignore[assignment]
            confidence = float(intent_p[best])
            if _ASKS_FOR_PERSON.search(text):
                intent, confidence = "human_agent", 1.0
            elif intent == "human_agent" and confidence < _PERSON_CONFIDENCE:
                # A hand-over takes a person's time and the shopper's answer away: a greeting
                # that says "can you help me" (0.29 human_agent) is answered, not handed over.
                intent, runner_up, confidence = runner_up, intent, float(intent_p[second])
            results.append(
                Understanding(
                    intent,
                    confidence,
                    SentimentHeads.label(score, neutral),
                    score,
                    runner_up,
                    float(fury),
                    furious=bool(fury >= self.fury_threshold),
                )
            )
        return results

    async def understand(self, text: str) -> Understanding:
        """Messages that arrive while a pass is running go together in the next one: one
        encoder pass over 32 messages costs a fraction of 32 passes over one, and under load
        the encoder competes with the model for the same cores."""
        loop = asyncio.get_running_loop()
        if self._passes is not None and self._passes.get_loop() is not loop:
            # Used from another event loop now (a test's, a restarted CLI's): what waited on
            # the old one cannot be answered there any more.
            self._waiting = [item for item in self._waiting if item[1].get_loop() is loop]
            self._passes = None
        future: asyncio.Future[Understanding] = loop.create_future()
        self._waiting.append((text, future))
        if self._passes is None or self._passes.done():
            self._passes = loop.create_task(self._run_passes())
        return await future

    async def _run_passes(self) -> None:
        while self._waiting:
            await asyncio.sleep(0)  # the messages of this turn of the event loop join too
            batch, self._waiting = self._waiting, []
            try:
                results = await asyncio.to_thread(self.understand_many, [text for text, _ in batch])
            except Exception as exc:  # every waiting message learns why, none waits forever
                for _, future in batch:
                    if not future.done():
                        future.set_exception(exc)
                continue
            for (_, future), result in zip(batch, results, strict=True):
                if not future.done():  # its message may have been abandoned meanwhile
                    future.set_result(result)
