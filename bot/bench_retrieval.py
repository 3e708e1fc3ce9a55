"""`shopbot bench retrieval`: how often the evidence units found for a labelled question hold
what its answer must say, ranked by the words alone, by meaning alone, and by both (what the
answerers use), side by side.

A question counts as found at k when its `must` strings and `amounts` are all in the top k
units. Only answerable questions about products and policies are asked: orders are looked
up, not searched, and the other kinds have nothing to find.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.corpus import Question, states_amount
from bot.knowledge.evidence import EvidenceIndex
from bot.knowledge.retrieval import Query
from bot.understanding.encoder import SentenceEncoder

RANKINGS = ("words", "meaning", "both")
_ASKED = {"product", "yes_no", "policy", None}


@dataclass(frozen=True)
class RetrievalFigures:
    questions: int
    found: dict[tuple[str, int], int]  # (ranking, k) -> questions found

    def table(self, name: str, ks: Sequence[int]) -> str:
        lines = [f"{name}: {self.questions} questions", f"  {'ranking':<8}" + "".join(f"  recall@{k}" for k in ks)]
        for ranking in RANKINGS:
            cells = "".join(f"  {self.found[ranking, k] / max(1, self.questions):>8.2f}" for k in ks)
            lines.append(f"  {ranking:<8}{cells}")
        return "\n".join(lines)


def retrieval_figures(
    index: EvidenceIndex,
    questions: Sequence[Question],
    encoder: SentenceEncoder,
    ks: Sequence[int] = (1, 3),
    show: Callable[[str], None] | None = None,
) -> RetrievalFigures:
    asked = [
        q
        for q in questions
        if (q.must or q.amounts)
        and q.expect == "answer"
        and q.kind in _ASKED
        and q.intent != "order_status"
        and not q.history
    ]
    found = {(ranking, k): 0 for ranking in RANKINGS for k in ks}
    for question in asked:
        query = Query(question.question, encoder.encode([question.question])[0])
        scored = index.search(query, k=len(index.units))
        orders = {
            "words": sorted(scored, key=lambda s: -s.words),
            "meaning": sorted(scored, key=lambda s: -s.meaning),
            "both": scored,
        }
        for ranking, ranked in orders.items():
            for k in ks:
                said = " ".join(s.unit.indexed for s in ranked[:k])
                hit = all(m.lower() in said.lower() for m in question.must) and all(
                    states_amount(said, a) for a in question.amounts
                )
                found[ranking, k] += hit
                if show and ranking == "both" and k == ks[0] and not hit:
                    show(f"missed at {k}: {question.question!r} -> {[s.unit.text[:60] for s in ranked[:k]]}")
    return RetrievalFigures(len(asked), found)
