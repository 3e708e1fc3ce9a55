"""Reading a question before anything is looked up: typos and shorthand corrected toward the
shop's words, products named in part or misspelt (drafts too, so they can be refused), the kinds
of product, the variants, budgets and how many people, several questions in one, the language."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.answers.asked import Asked, answer_type, fits_type, parts, read, read_people
from bot.answers.context import named_variants
from bot.answers.request import read_request
from bot.answers.small_talk import small_talk_kind
from bot.knowledge.index import ShopIndex, build_index
from bot.knowledge.shop import DEMO_SHOP, load_shop
from bot.language import detect_language

CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture(scope="module")
def demo() -> ShopIndex:
    return build_index(load_shop(DEMO_SHOP), None, None)  # type: ignore[arg-type]


@pytest.fixture(scope="module")
def surf() -> ShopIndex:
    return build_index(load_shop(CORPUS / "tidal-surf"), None, None)  # type: ignore[arg-type]


def _read(index: ShopIndex, text: str) -> Asked:
    return read(text, index.spelling, index.names)


def test_typos_and_shorthand_are_corrected_toward_the_shops_words(demo: ShopIndex) -> None:
    assert _read(demo, "whats the prise of the ridgline daypak").words == [
        "what", "is", "the", "price", "of", "the", "ridgeline", "daypack",
    ]  # fmt: skip
    assert "waterproof" in _read(demo, "do u have any waterprof jackts under 100$").words
    # A real word the shopper meant stays: "tent" is not corrected to "rent" or anything else.
    assert _read(demo, "a tent for two").words == ["a", "tent", "for", "two"]


@pytest.mark.parametrize(
    ("question", "title"),
    [
        ("whats the prise of the ridgline daypak", "Ridgeline Daypack 24 L"),
        ("is the beacon 400 splash proof?", "Beacon 400 Headlamp"),
        ("the drizzle jacket in navy?", "Drizzle Shell Jacket"),
        ("how much is the ridgeline?", "Ridgeline Daypack 24 L"),  # the one on sale, not the draft 30 L
        ("is the squall waterproof jacket available?", "Squall Waterproof Jacket"),  # a draft: named to refuse it
    ],
)
def test_products_are_named_in_part_or_misspelt(demo: ShopIndex, question: str, title: str) -> None:
    assert _read(demo, question).named[0].product.title == title


def test_everyday_words_alone_name_no_product(demo: ShopIndex) -> None:
    # "Squall Waterproof Jacket" is named by "Squall", not by "waterproof".
    assert _read(demo, "is it waterproof?").named == []
    assert [n.product.title for n in _read(demo, "any waterproof jackets under $100?").named] == []


def test_two_products_in_one_question_are_both_named(demo: ShopIndex) -> None:
    named = _read(demo, "Which is lighter, the Featherline 1P or the Lodgepole 2P?").named
    assert {n.product.title for n in named} == {"Featherline 1P Ultralight Tent", "Lodgepole 2P Tent"}


def test_kinds_of_product_are_named_by_type_or_by_title(demo: ShopIndex) -> None:
    assert _read(demo, "do you have tents?").kinds == {"tent"}
    assert "jacket" in _read(demo, "waterprof jackts?").kinds


def test_variants_are_named_by_their_options_however_typed(demo: ShopIndex, surf: ShopIndex) -> None:
    jacket = next(p for p in demo.shop.offered if p.title == "Drizzle Shell Jacket")
    labels = [v.label for v in named_variants(jacket, _read(demo, "drizzle jacket mustard medium in stock??"))]
    assert labels == ["Mustard / M"]
    board = next(p for p in surf.shop.offered if p.title == "Reef Break Shortboard")
    assert [v.label for v in named_variants(board, _read(surf, "the reef break in 6'2?"))] == ["6'2"]
    assert [v.label for v in named_variants(board, _read(surf, "the biggest reef break"))] == ["6'2"]
    assert named_variants(board, _read(surf, "is the reef break any good?")) == []


def test_budgets_people_and_what_a_reply_must_contain_are_read() -> None:
    assert read_people("a tent for me and my two kids") == 3
    assert read_people("dining table that seats 8") == 8
    assert read_people("a family of four") == 4
    assert read_people("a tent") is None
    assert answer_type("when will the midnight blue buds be back in stock?") == "time"
    assert answer_type("how long is the cable?") == "figure"
    assert answer_type("is it waterproof?") is None
    assert fits_type("ships within 3 business days", "time") and not fits_type("we restock often", "time")


def test_a_thing_asked_for_is_read_with_who_it_is_for() -> None:
    request = read_request("do you sell linen bedsheets?")
    assert request is not None and request.heads == ["bedsheets"]
    kids = read_request("linen shirts for kids (age 6)?")
    assert kids is not None and kids.heads == ["shirts"] and kids.audience == "kids" and kids.bare
    assert read_request("do u sell espadrilles or sandals").heads == ["espadrilles", "sandals"]  # type: ignore[union-attr]
    # Services, and things that are no things, are not requests for a product.
    assert read_request("how much is shipping to california") is None
    assert read_request("do you have a loyalty points program?") is None
    assert read_request("what do i need to use it with alexa") is None


def test_one_message_with_several_questions_is_cut_into_them() -> None:
    assert parts("how much are the kestrel headphones and do u ship to canada") == [
        "how much are the kestrel headphones",
        "do u ship to canada",
    ]
    # What asks nothing stays with its question.
    assert parts("do i have to pay for returns? i'm in france") == ["do i have to pay for returns (i'm in france)"]
    assert parts("I prefer lightweight gear. any tent suggestions?") == [
        "I prefer lightweight gear. any tent suggestions"
    ]
    assert parts("I prefer lightweight gear, please. Any tent suggestions?") == [
        "I prefer lightweight gear, please. Any tent suggestions"
    ]
    # A price asked without a question word is a question of its own.
    assert parts("thunderbolt 4 cable price + how long is the warranty") == [
        "thunderbolt 4 cable price",
        "how long is the warranty",
    ]


def test_small_talk_is_told_from_a_polite_question() -> None:
    assert small_talk_kind("hey there, how's your day going?") == "how_are_you"
    assert small_talk_kind("thanks, that's all!") == "bye"
    assert small_talk_kind("ur awesome lol") == "compliment"
    assert small_talk_kind("hi! love your sweaters 😍") == "compliment"
    assert small_talk_kind("Hi, I have a question about shipping to Canada") is None
    assert small_talk_kind("thanks but where is my order") is None


def test_the_language_is_detected_and_short_or_named_messages_stay_english() -> None:
    assert detect_language("Habt ihr wasserdichte Wanderschuhe?") == "de"
    assert detect_language("你们有睡袋吗？") == "zh"
    assert detect_language("¿Hacen envíos a Puerto Rico?") == "es"
    assert detect_language("thx!!") == "en" and detect_language("ok cool") == "en"
    names = {"plugnest", "mini", "smart", "plug", "pack"}
    assert detect_language("price for plugnest mini smart plug 4 pack", ignore=names.__contains__) == "en"
