"""`shopbot bench retrieval`: how often the passages and products retrieved for a labelled
question hold what its answer must say, for BM25, the MiniLM nearest neighbours and the two
fused (what `serve` uses), side by side.

A question counts as found at k when every one of its `must` strings is in the top k passages
or the top k products. Questions about one order are left out: orders are looked up, not
retrieved.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from bot.bench_quality import Question
from bot.knowledge.facts import passage_fact, product_fact
from bot.knowledge.retrieval import Retriever
from bot.knowledge.shop import Shop
from bot.understanding.encoder import SentenceEncoder

RANKINGS = ("bm25", "dense", "fused")


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
    shop: Shop,
    questions: Sequence[Question],
    encoder: SentenceEncoder,
    ks: Sequence[int] = (1, 3),
    show: Callable[[str], None] | None = None,
) -> RetrievalFigures:
    retriever = Retriever(shop.passages, shop.offered, encoder)
    currency = shop.profile.currency
    asked = [q for q in questions if q.must and q.intent != "order_status"]
    found = {(ranking, k): 0 for ranking in RANKINGS for k in ks}
    for question in asked:
        text = " ".join([*(t.text for t in question.history if t.role == "user"), question.question])
        query = retriever.query(text)
        for ranking in RANKINGS:
            passages, products = retriever.ranked(query, ranking, max(ks))
            for k in ks:
                said = " ".join(
                    [
                        *(passage_fact(p).text for p in passages[:k]),
                        *(product_fact(p, currency, text).text for p in products[:k]),
                    ]
                )
                hit = all(must.lower() in said.lower() for must in question.must)
                found[ranking, k] += hit
                if show and ranking == "fused" and k == ks[0] and not hit:
                    show(f"missed at {k}: {question.question!r} -> {[p.heading for p in passages[:k]]}")
    return RetrievalFigures(len(asked), found)
