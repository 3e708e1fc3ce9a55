"""How furious a message is: the difference between "my parcel is a bit late, any news?" and
"THIRD TIME I ASK WHERE IS MY ORDER!!!". Both are negative; only the second should reach a
person at once. The sentence encoder reads what a message says; how it is said (capitals,
exclamation marks, threats, insults, an eye-roll emoji) it reads badly, so those are measured
here and read by the fury head beside the encoder's vector."""

from __future__ import annotations

import re

import numpy as np

from bot.knowledge.text import EMAIL
from bot.understanding.encoder import Vectors

_ANGRY_EMOJI = re.compile("[\U0001f620\U0001f621\U0001f624\U0001f92c\U0001f644\U0001f612\U0001f595\U0001f926]")
# Words that are an attack, a threat or a verdict, not a description of a problem.
_HOSTILE = re.compile(
    r"\b(scam\w*|useless|ridiculous|disgust\w*|pathetic|joke|worst|incompetent|unacceptable|unbelievable|"
    r"terrible|horrible|awful|rip.?off|fraud\w*|liars?|idiots?|stupid|garbage|crap\w*|shit\w*|damn\w*|fuck\w*|"
    r"bloody|wtf|kidding me|never again|never (?:order|buy)\w* (?:from you )?again|sick of|fed up)\b",
    re.I,
)
_THREAT = re.compile(
    r"\b(dispute|charge ?back|my bank|lawyer|legal action|sue|report (?:you|this)|trading standards|1.star|one.star|"
    r"review|bbb|consumer protection|refund (?:me )?(?:now|immediately|today))\b",
    re.I,
)
# "still" only when something still has not happened: "can I still return it?" is no grievance.
_AGAIN = re.compile(
    r"\b(again|(?:second|third|fourth|fifth|\d+(?:st|nd|rd|th)) time|still (?:no|not|nothing|waiting|haven'?t|hasn'?t|"
    r"isn'?t|doesn'?t|don'?t|can'?t|won'?t)|yet again|how many times)\b",
    re.I,
)
_SARCASM = re.compile(
    r"^\W*(great|wonderful|perfect|fantastic|brilliant|lovely|oh (?:great|perfect|wonderful)|thanks a lot)\b", re.I
)
_WORD = re.compile(r"[A-Za-z]{3,}")
FEATURES = 7


def intensity(text: str) -> list[float]:
    """Seven measures of how a message is said, each 0..1."""
    words = _WORD.findall(EMAIL.sub(" ", text))  # an e-mail pasted in capitals is no shouting
    capitals = sum(w.isupper() for w in words) / len(words) if words else 0.0
    return [
        capitals,
        min(text.count("!"), 6) / 6,
        min(len(re.findall(r"\?{2,}|!{2,}|[?!]{3,}", text)), 3) / 3,
        min(len(_ANGRY_EMOJI.findall(text)), 3) / 3,
        min(len(_HOSTILE.findall(text)), 3) / 3,
        min(len(_THREAT.findall(text)), 2) / 2,
        min(len(_AGAIN.findall(text)) + bool(_SARCASM.search(text)), 2) / 2,
    ]


def with_intensity(vectors: Vectors, texts: list[str], weight: float = 1.0) -> Vectors:
    """The encoder's vectors with the intensity measures beside them (what the fury head reads).
    `weight` scales the measures against the encoder's unit vector; training chooses it and
    saves it beside the head, so both sides read the same."""
    extra = weight * np.array([intensity(t) for t in texts], dtype=np.float32).reshape(len(texts), FEATURES)
    return np.hstack([vectors, extra]).astype(np.float32)
