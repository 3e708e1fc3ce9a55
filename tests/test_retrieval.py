"""Retrieval over the demo shop: the passage or product that answers, in the top three."""

from __future__ import annotations

import pytest

from bot.knowledge.retrieval import Retriever, expand
from bot.knowledge.shop import DEMO_SHOP, load_shop


@pytest.fixture(scope="module")
def retriever() -> Retriever:
    shop = load_shop(DEMO_SHOP)
    assert shop.problems == []
    return Retriever(shop.passages, shop.offered)


@pytest.mark.parametrize(
    ("question", "title"),
    [
        ("How much is the Ridgeline Daypack 24 L?", "Ridgeline Daypack 24 L"),
        ("is the trail bottle on sale", "Trail Bottle 750 ml"),
        ("enamel camp mug", "Camp Mug Enamel"),
    ],
)
def test_a_product_named_is_found_first(retriever: Retriever, question: str, title: str) -> None:
    assert retriever.products(question)[0].item.title == title


@pytest.mark.parametrize(
    ("question", "heading"),
    [
        ("do you ship to Canada?", "policies/shipping.md#"),
        ("can I pay with PayPal", "policies/payment.md#"),
        ("my stove broke after a month, is that covered?", "policies/warranty.md#"),
    ],
)
def test_the_policy_that_answers_is_in_the_top_three(retriever: Retriever, question: str, heading: str) -> None:
    assert any(hit.item.ref.startswith(heading) for hit in retriever.passages(question))


def test_products_that_are_not_offered_are_never_found(retriever: Retriever) -> None:
    titles = {hit.item.title for hit in retriever.products("Squall Waterproof Jacket", k=10)}
    assert "Squall Waterproof Jacket" not in titles, "a draft product"
    assert "Tempest Rain Jacket" not in {h.item.title for h in retriever.products("Tempest Rain Jacket", k=10)}


def test_shopper_words_map_to_shop_words() -> None:
    assert "return" in expand("can I send it back?") and "refund" in expand("I want my money back")
    assert expand("hello") == "hello"


def test_nothing_matching_finds_nothing(retriever: Retriever) -> None:
    assert retriever.products("") == [] and retriever.passages("the the the") == []
