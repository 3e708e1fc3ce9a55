"""The grounding check and money: any correct rendering of an amount passes, a wrong one does
not; links, e-mail addresses and phone numbers the facts do not give are refused; a yes/no
reply may not open with the answer its evidence does not give."""

from __future__ import annotations

from decimal import Decimal

import pytest

from bot.knowledge.checker import Checker, unsupported
from bot.knowledge.facts import money, offer
from bot.knowledge.money import amounts, figure_values, format_money, locale_for
from bot.knowledge.shop import DEMO_SHOP, load_shop


@pytest.mark.parametrize(
    ("written", "values"),
    [
        ("7,90 €", {Decimal("7.9")}),
        ("€7.90", {Decimal("7.9")}),
        ("¥1,200", {Decimal("1200"), Decimal("1.2")}),  # twelve hundred, or one point two in German
        ("1.234,50 €", {Decimal("1234.5")}),
        ("1 234,50 €", {Decimal("1234.5")}),
        ("54.9 euros", {Decimal("54.9")}),
    ],
)
def test_a_figure_means_every_amount_it_can_be_read_as(written: str, values: set[Decimal]) -> None:
    assert amounts(written) == {v.normalize() for v in values}


def test_money_is_written_in_the_shops_locale() -> None:
    assert format_money(Decimal("7.9"), "EUR", "de_DE") == "7,90 €"
    assert format_money(Decimal("1200"), "JPY", "ja_JP") == "¥1,200"
    assert format_money(Decimal("1899"), "USD", "en_US") == "$1,899.00"
    assert money(Decimal("7.9"), "EUR") == "€7.90"  # no locale in store.toml: the currency's usual one
    assert locale_for("EUR", "not a locale") == locale_for("EUR")
    assert figure_values("IPX4") == set()


def test_any_correct_rendering_passes_and_a_wrong_one_does_not() -> None:
    facts = "Sencha Midori: 100 g 7,90 €, in stock. Gyokuro: 1.234,50 €."
    assert unsupported("The sencha is €7.90.", facts, "") == []
    assert unsupported("The sencha is 7.9 euros.", facts, "") == []
    assert unsupported("The gyokuro is €1,234.50.", facts, "") == []
    # Read as the two numbers 7 and 90, "7,90 €" once let a reply say "7" about it.
    assert unsupported("The sencha is 7 euros.", facts, "") == ["number 7"]
    assert unsupported("The sencha is 8,90 €.", facts, "") == ["number 8,90"]


def test_links_addresses_and_phone_numbers_must_come_from_the_facts() -> None:
    facts = "Contact: e-mail help@shop.example, call +1 303 555 0100. See https://shop.example/returns"
    assert unsupported("Write to help@shop.example or see https://shop.example/returns.", facts, "") == []
    assert unsupported("Call +1 303 555 0100.", facts, "") == []
    found = unsupported("You can find this on our website: https://www.giftcardandknife.com/", facts, "")
    assert found and found[0].startswith("link")
    assert unsupported("Mail sales@elsewhere.example", facts, "") == ["e-mail sales@elsewhere.example"]
    assert "phone 0800 123 4567" in unsupported("Call us on 0800 123 4567", facts, "")


def test_a_yes_no_reply_may_not_open_with_the_answer_the_evidence_does_not_give() -> None:
    facts = "Beacon 400 Headlamp: IPX4 splash-proof: fine in rain, not for submerging."
    unsure = Checker(facts, "is it waterproof?", polarity=None)
    assert unsure.problems("Of course. The Beacon 400 Headlamp is IPX4 splash-proof.") != []
    assert unsure.problems("The Beacon 400 Headlamp is IPX4 splash-proof.") == []
    assert Checker(facts, "", polarity="no").problems("Yes! IPX4 splash-proof.") != []
    assert Checker(facts, "", polarity="no").problems("No: IPX4 splash-proof.") == []
    assert Checker(facts, "", polarity="any").problems("Sure! IPX4 splash-proof.") == []  # not a yes/no question


def test_offers_say_stock_and_backorders_plainly() -> None:
    shop = load_shop(DEMO_SHOP)
    jacket = next(p for p in shop.offered if p.title == "Drizzle Shell Jacket")
    said = offer(jacket, "USD")
    assert said.startswith("The Drizzle Shell Jacket is $129.00.") and "Out of stock: Mustard in M" in said
    backorder = jacket.variants[0].model_copy(update={"stock": 0, "inventory_policy": "continue"})
    assert "you can still order it" in offer(jacket, "USD", variants=[backorder])


def test_an_opener_that_says_yes_is_left_out_and_held_back_until_it_is_known() -> None:
    from bot.knowledge.checker import may_affirm, unaffirmed

    assert unaffirmed("Of course. The Beacon 400 is IPX4 splash-proof.") == "The Beacon 400 is IPX4 splash-proof."
    assert unaffirmed("Yes, of course! it ships today.") == "It ships today."
    assert unaffirmed("Sure") == "Sure", "nothing after it: kept, the checker judges the whole"
    assert unaffirmed("Surely not today.") == "Surely not today."
    # While streaming: "Of cou" may become an opener, "Your" cannot.
    assert may_affirm("Of cou") and may_affirm("Yes, o") and may_affirm("Sure! ")
    assert not may_affirm("Your ") and not may_affirm("Of course. The") and not may_affirm("Shipping")
