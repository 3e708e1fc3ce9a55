"""How good the best evidence must be to answer at all: below it the assistant says it does not
know. The thresholds are calibrated, not guessed (`shopbot calibrate`, `bench quality
--leave-one-out`): on a corpus of shops, each shop's answerable questions are the positives and
the questions it declares unanswerable, with the other shops' questions asked of it, the
negatives (a question about another shop's products is as natural an unanswerable question as
any). The threshold is the highest that still answers all but a target share of the positives.
The out-of-scope threshold is calibrated the same way on the shop questions the intent head calls
another domain's (positives) and other companies' support questions (negatives).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

CALIBRATED = Path(__file__).resolve().parent / "thresholds.json"


@dataclass(frozen=True)
class Thresholds:
    policy: float = 0.55  # the best policy or FAQ unit's score for a policy answer
    detail: float = 0.55  # the best unit of a named product for an answer about it
    # The best unit of the whole shop for a question the intent head calls another domain's
    # ("lost my credit card, send a new one"): below it, the assistant says what it is for.
    out_of_scope: float = 0.45

    def save(self, path: Path = CALIBRATED, **about: object) -> None:
        path.write_text(json.dumps({**asdict(self), "calibration": about}, indent=2) + "\n", encoding="utf-8")

    @classmethod
    def load(cls, path: Path = CALIBRATED) -> Thresholds:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return cls()
        return cls(**{k: float(v) for k, v in data.items() if k in NAMES})


NAMES = ("policy", "detail", "out_of_scope")


@dataclass(frozen=True)
class Calibration:
    threshold: float
    answered: float  # share of positives at or above it
    declined: float  # share of negatives below it
    positives: int
    negatives: int


def calibrate(positives: Sequence[float], negatives: Sequence[float], *, keep: float = 0.85) -> Calibration:
    """The threshold that gets the most questions right (answerable ones answered, unanswerable
    ones declined, each counted as often as the corpus has it), among those that still answer at
    least `keep` of the answerable ones."""
    if not positives:
        return Calibration(0.0, 1.0, 0.0, 0, len(negatives))
    candidates = sorted({*positives, *negatives})
    best: tuple[int, float] | None = None
    for candidate in candidates:
        threshold = candidate - 1e-6
        answered = sum(score >= threshold for score in positives)
        if answered < keep * len(positives):
            break
        right = answered + sum(score < threshold for score in negatives)
        if best is None or right > best[0]:
            best = (right, threshold)
    threshold = best[1] if best else min(positives) - 1e-6
    answered_share = sum(score >= threshold for score in positives) / len(positives)
    declined = sum(score < threshold for score in negatives) / len(negatives) if negatives else 0.0
    return Calibration(threshold, answered_share, declined, len(positives), len(negatives))
