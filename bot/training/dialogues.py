"""Customer-service dialogues for training, made from the Bitext customer-support data set.

Bitext (CDLA-Sharing-1.0, (c) Bitext Innovations 2023) pairs a customer's request with a
reference answer that carries `{{Placeholder}}` slots. Until the engine fills slots from a
shop's own data, each placeholder becomes a plain phrase a shopper can read.
"""

from __future__ import annotations

import csv
import random
import re
from dataclasses import dataclass
from pathlib import Path

from bot.errors import TrainingError
from bot.llm import ChatMessage

BITEXT_LICENCE = (
    "Derived from the Bitext customer-support data set (Bitext_Sample_Customer_Support_Training_Dataset), "
    "(c) Bitext Innovations 2023, licensed under the Community Data License Agreement - Sharing, "
    "Version 1.0 (CDLA-Sharing-1.0): https://cdla.dev/sharing-1-0/ . "
    "Source: https://github.com/bitext/customer-support-llm-chatbot-training-dataset"
)

# Contact details a shop fills in; the rest are names of pages or buttons, kept as words.
_PHRASES = {
    "customer support phone number": "our customer support phone line",
    "customer service phone number": "our customer service phone line",
    "support phone number": "our support phone line",
    "live chat": "live chat",
    "live chat support": "live chat",
    "website name": "our website",
    "website name anonymized": "our website",
    "website url": "our website",
    "website": "our website",
    "company name": "our shop",
    "customer support availability": "during our support hours",
    "customer support hours": "during our support hours",
    "customer service hours": "during our support hours",
    "customer support email": "our support e-mail address",
    "customer support email address": "our support e-mail address",
    "customer service email": "our support e-mail address",
    "number of days": "a few",
}
_ANONYMIZED = re.compile(r"\b(order|purchase|bill|invoice|account|tracking)\b", re.I)
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


def _fill(match: re.Match[str]) -> str:
    name = match.group(1)
    key = name.lower()
    if key in _PHRASES:
        return _PHRASES[key]
    if "anonymized" in key or key.endswith(("number", " id")):
        found = _ANONYMIZED.search(name)
        return f"your {found.group(1).lower()} number" if found else "the number you gave"
    return f'"{name}"'  # a page or button name, e.g. "Order History"


def delexicalise(text: str) -> str:
    """Replace Bitext's `{{Slot}}` placeholders with words a shopper can read."""
    return _PLACEHOLDER.sub(_fill, text).replace("\r\n", "\n").strip()


@dataclass(frozen=True)
class Pair:
    request: str
    answer: str
    intent: str


def load_bitext(path: Path) -> list[Pair]:
    if not path.is_file():
        raise TrainingError(f"no Bitext CSV at {path} (pass --data)")
    pairs = []
    with path.open(encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        missing = {"instruction", "response", "intent"} - set(reader.fieldnames or [])
        if missing:
            raise TrainingError(f"{path}: missing columns {sorted(missing)}")
        for row in reader:
            request, answer = row["instruction"].strip(), delexicalise(row["response"])
            if request and answer:
                pairs.append(Pair(request, answer, row["intent"]))
    if not pairs:
        raise TrainingError(f"{path}: no usable rows")
    return pairs


def build_dialogues(
    pairs: list[Pair], *, system_prompt: str, seed: int, context_turns: int = 2
) -> list[list[ChatMessage]]:
    """One dialogue per pair; about half get earlier, unrelated exchanges in front, so the model
    learns to answer the latest message with a history present, as it will in the engine."""
    rng = random.Random(seed)
    dialogues: list[list[ChatMessage]] = []
    for pair in pairs:
        messages: list[ChatMessage] = [{"role": "system", "content": system_prompt}]
        for earlier in rng.sample(pairs, k=rng.choice([0, 0, 1, context_turns])):
            messages.append({"role": "user", "content": earlier.request})
            messages.append({"role": "assistant", "content": earlier.answer})
        messages.append({"role": "user", "content": pair.request})
        messages.append({"role": "assistant", "content": pair.answer})
        dialogues.append(messages)
    return dialogues
