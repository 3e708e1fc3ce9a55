"""The evidence index over the demo shop: the unit that answers is found first, by the words the
shop uses for what shoppers say, by the places written either way, by meaning."""

from __future__ import annotations

import pytest

from bot.knowledge.evidence import EvidenceIndex
from bot.knowledge.index import ShopIndex, build_index
from bot.knowledge.retrieval import Query, expand
from bot.knowledge.shop import DEMO_SHOP, load_shop
from bot.understanding.encoder import SentenceEncoder


@pytest.fixture(scope="module")
def index(encoder: SentenceEncoder) -> ShopIndex:
    shop = load_shop(DEMO_SHOP)
    assert shop.problems == []
    return build_index(shop, None, encoder)  # type: ignore[arg-type]


def _top(index: ShopIndex, encoder: SentenceEncoder, asked: str, k: int = 1) -> list[str]:
    query = Query(asked, encoder.encode([asked])[0])
    return [found.unit.text for found in index.evidence.search(query, index.policy_units, k=k)]


@pytest.mark.parametrize(
    ("question", "answer"),
    [
        ("how much is shipping to canada?", "$19.00"),
        ("can I pay with PayPal", "PayPal"),
        ("do I have to pay for return shipping", "return shipping"),
        ("what's the warranty on your backpacks?", "5 years"),
        ("how long does delivery take to alaska", "4-9 business"),
    ],
)
def test_the_sentence_that_answers_is_found_first(
    index: ShopIndex, encoder: SentenceEncoder, question: str, answer: str
) -> None:
    assert answer in _top(index, encoder, question)[0]


def test_products_that_are_not_offered_have_no_evidence(index: ShopIndex) -> None:
    about = {unit.about for unit in index.evidence.units}
    assert "Squall Waterproof Jacket" not in about and "Tempest Rain Jacket" not in about
    assert "Ridgeline Daypack 24 L" in about


def test_shopper_words_and_places_map_to_shop_words() -> None:
    assert "return" in expand("can I send it back?") and "return" in expand(
        "how many days do i have to send stuff back"
    )
    assert "refund" in expand("I want my money back") and "payment" in expand("do you take klarna?")
    assert "NY" in expand("curbside delivery to new york?") and "new york" in expand("states NY, NJ")
    assert "price" in expand("Canada: UPS Standard, $19.00") and "time" in expand("3-5 business days")
    assert "IN" not in expand("in stock?")  # a code is a place only in capitals
    assert expand("hello") == "hello"


def test_a_question_word_the_shop_never_uses_counts_against_every_unit(index: ShopIndex) -> None:
    evidence: EvidenceIndex = index.evidence
    known, whole = evidence.words("shipping to canada")
    unknown, whole_unknown = evidence.words("shipping to lyon")
    assert max(known.values()) / whole > max(unknown.values()) / whole_unknown


def test_nothing_matching_finds_nothing_and_an_empty_index_answers(index: ShopIndex) -> None:
    assert EvidenceIndex([]).search(Query("anything")) == []
    found = index.evidence.search(Query("the the the"), k=3)
    assert all(f.words == 0 for f in found)
