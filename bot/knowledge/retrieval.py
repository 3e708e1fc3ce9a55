"""Finding the passages and products that answer a question: BM25 (bm25s) over stemmed words,
with the shop vocabulary shoppers use for the same things ("send back" for return) folded in.

Lexical on purpose for now: it is fast (well under a millisecond a query), needs no model
download, and explains itself. The search is one small class, so an embedding index can sit
beside it when the measured recall asks for one.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

import bm25s
import Stemmer

from bot.knowledge.catalog import Product
from bot.knowledge.passages import Passage

T = TypeVar("T")

# Words shoppers use -> words shops write. Applied to queries and documents alike.
_SYNONYMS = {
    r"\bsend (it |them |this |that )?back\b": "return",
    r"\bmoney back\b": "refund",
    r"\breimburse(ment)?\b": "refund",
    r"\bexchange\b": "return exchange",
    r"\bdeliver(y|ed|ies)?\b": "shipping delivery",
    r"\bpost(age)?\b": "shipping",
    r"\b(parcel|package)s?\b": "order shipping",
    r"\barrive[sd]?\b": "delivery shipping",
    r"\bcost(s)?\b": "price",
    r"\bhow much\b": "price",
    r"\bcheap(er|est)?\b": "price",
    r"\bpay(ing)?\b": "payment",
    r"\bcard(s)?\b": "payment card",
    r"\bguarantee\b": "warranty",
    r"\b(broken?|defect(ive)?|faulty)\b": "warranty defect",
    r"\brain(y)?\b": "rain waterproof",
    r"\bwet\b": "waterproof",
    r"\b(cold|winter)\b": "winter insulated",
    r"\bin stock\b": "stock available",
}
_RULES = [(re.compile(pattern, re.I), words) for pattern, words in _SYNONYMS.items()]
STEMMER = Stemmer.Stemmer("english")


def expand(text: str) -> str:
    """The text with the shop's words for what the shopper wrote appended."""
    extra = [words for rule, words in _RULES if rule.search(text)]
    return f"{text} {' '.join(extra)}" if extra else text


@dataclass(frozen=True)
class Hit(Generic[T]):
    item: T
    score: float


class _Bm25(Generic[T]):
    def __init__(self, items: Sequence[T], texts: Sequence[str]) -> None:
        self._items = list(items)
        self._index = bm25s.BM25()
        if self._items:
            tokens = bm25s.tokenize([expand(t) for t in texts], stopwords="en", stemmer=STEMMER, show_progress=False)
            self._index.index(tokens, show_progress=False)

    def search(self, query: str, k: int) -> list[Hit[T]]:
        if not self._items or not query.strip():
            return []
        tokens = bm25s.tokenize([expand(query)], stopwords="en", stemmer=STEMMER, show_progress=False)
        if not any(tokens.ids):
            return []
        found, scores = self._index.retrieve(tokens, k=min(k, len(self._items)), show_progress=False)
        return [Hit(self._items[int(i)], float(s)) for i, s in zip(found[0], scores[0], strict=True) if s > 0]


def product_text(product: Product) -> str:
    options = {f"{name} {value}" for v in product.variants for name, value in v.options.items()}
    # The title twice: a shopper naming a product should find that product first.
    words = [product.title, product.title, product.type, product.vendor, *product.tags, *options]
    return " ".join([*words, product.description])


class Retriever:
    """Passages and offered products, each in its own index (they are written differently)."""

    def __init__(self, passages: Sequence[Passage], products: Sequence[Product]) -> None:
        self._passages = _Bm25(passages, [f"{p.heading} {p.heading} {p.file} {p.text}" for p in passages])
        self._products = _Bm25(products, [product_text(p) for p in products])

    def passages(self, query: str, k: int = 3) -> list[Hit[Passage]]:
        return self._passages.search(query, k)

    def products(self, query: str, k: int = 3) -> list[Hit[Product]]:
        return self._products.search(query, k)
