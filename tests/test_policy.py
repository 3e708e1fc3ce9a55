"""Which passages answer a policy question (bot/knowledge/policy.py), on the demo shop's
policies ranked by words alone (a shop may run without the encoder): the rules that fit the
answer to the question must not push out the passage that answers."""

from __future__ import annotations

import pytest

from bot.knowledge.policy import PolicyAnswers
from bot.knowledge.retrieval import Retriever
from bot.knowledge.shop import DEMO_SHOP, Shop, load_shop


@pytest.fixture(scope="module")
def shop() -> Shop:
    return load_shop(DEMO_SHOP)


def compose(shop: Shop, question: str) -> list[str]:
    retriever = Retriever(shop.passages, shop.offered)
    query = retriever.query(question)
    ranked = [hit.item for hit in retriever.passages(query, k=8)]
    return [part.passage.heading for part in PolicyAnswers(shop.passages).compose(query, ranked)]


def test_a_row_named_in_passing_comes_after_the_two_best(shop: Shop) -> None:
    retriever = Retriever(shop.passages, shop.offered)
    best_two = [hit.item.heading for hit in retriever.passages("Are socks final sale?", k=2)]
    headings = compose(shop, "Are socks final sale?")
    assert headings[:2] == best_two, headings


def test_only_a_price_about_the_question_is_swapped_in(shop: Shop) -> None:
    retriever = Retriever(shop.passages, shop.offered)
    question = "Is there a restocking fee?"
    best_two = [hit.item.heading for hit in retriever.passages(question, k=2)]
    assert compose(shop, question)[:2] == best_two


def test_seeing_something_is_not_pointing_to_it(shop: Shop) -> None:
    policies = PolicyAnswers(shop.passages)
    free = next(p for p in shop.passages if p.heading == "Free shipping")
    assert free not in policies.pointed_to("You will see free shipping applied at checkout")
    assert policies.pointed_to("(see the free shipping rules below)") == [free]
