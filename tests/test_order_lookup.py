"""Order lookup: number and e-mail together, nothing revealed by a wrong pair, wrong guesses
rate-limited (counted by the engine with the turn), proven orders remembered; order numbers
found in a message the way the shop writes them. Against real Redis."""

from __future__ import annotations

from pathlib import Path

import pytest
from redis.asyncio import Redis

from bot.errors import RateLimited
from bot.knowledge import Effects
from bot.knowledge.order_lookup import OrderClaim, OrderLookup, OrderNumbers, find_claim
from bot.knowledge.shop import DEMO_SHOP, load_shop
from bot.store import Store

CORPUS = Path(__file__).parent / "corpus"


@pytest.fixture
def lookup(store: Store) -> OrderLookup:
    return OrderLookup(load_shop(DEMO_SHOP).orders, store, max_failures=3, window_s=60)


async def test_the_right_pair_shows_the_order_and_the_engine_remembers_it(lookup: OrderLookup, store: Store) -> None:
    order = await lookup.verify("c1", OrderClaim("1042", "Ana@Example.com"))
    assert order is not None and order.status == "shipped" and order.tracking == "1Z999AA10123456784"
    assert await lookup.proven("c1") == [], "a lookup writes nothing: the engine records the proof with the turn"
    await store.remember("c1", Effects(proven_order="1042"), order_window_s=60)
    assert [o.order_id for o in await lookup.proven("c1")] == ["1042"]
    assert await lookup.proven("someone-else") == [], "proof belongs to the customer who gave it"


async def test_a_wrong_pair_reveals_nothing(lookup: OrderLookup) -> None:
    wrong_email = await lookup.verify("c1", OrderClaim("1042", "mallory@example.com"))
    no_such_order = await lookup.verify("c1", OrderClaim("999999", "ana@example.com"))
    assert wrong_email is None and no_such_order is None, "the same answer whether or not the order exists"


async def test_wrong_guesses_are_rate_limited_per_customer(lookup: OrderLookup, store: Store, redis: Redis) -> None:
    for guess in ("1001", "1002", "1003"):
        assert await lookup.verify("guesser", OrderClaim(guess, "x@example.com")) is None
        await store.remember("guesser", Effects(wrong_guess=True), order_window_s=60)
    with pytest.raises(RateLimited) as stopped:
        await lookup.verify("guesser", OrderClaim("1042", "ana@example.com"))  # even the right pair now
    assert "try again" in stopped.value.public_message
    assert 0 < await redis.ttl("test:cust:{guesser}:order-failures") <= 60, "the window ends"
    assert await lookup.verify("honest", OrderClaim("1042", "ana@example.com")) is not None, "others are not limited"


@pytest.mark.parametrize(
    ("latest", "earlier", "claim"),
    [
        ("where is my order #1042? ana@example.com", [], OrderClaim("1042", "ana@example.com")),
        ("order number: 1042, email Ana@Example.com", [], OrderClaim("1042", "Ana@Example.com")),
        ("it's ana@example.com", ["hi, my order 1042 has not arrived"], OrderClaim("1042", "ana@example.com")),
        ("purchase no. 20391 please", ["my mail is bo@mail.example"], OrderClaim("20391", "bo@mail.example")),
        ("where is my order?", [], None),
        ("I bought 2 bottles for $48", ["ana@example.com"], None),
        # A pair given before is not claimed again by a message that gives no part of it.
        ("I want to talk to a real person", ["where's order 1033? maya@example.com"], None),
    ],
)
def test_an_order_number_and_email_are_found_across_messages(
    latest: str, earlier: list[str], claim: OrderClaim | None
) -> None:
    assert find_claim(latest, earlier) == claim


@pytest.mark.parametrize(
    ("examples", "typed", "found"),
    [
        (["#1001"], "order # 1004, sam@example.net", "1004"),
        (["HH-5001"], "hi order hh-5006, emma@example.com", "HH5006"),
        (["HH-5001"], "can u check order HH 5011, a@example.com", "HH5011"),
        (["SO-2024-0042"], "SO 2024 0039 julie@example.com when will it arrive", "SO20240039"),
        (["SO-2024-0042"], "order nr 2024-0037 / anna@example.org", "20240037"),
        (["SC10042"], "SCSC10053 ruby@example.net when will it arrive", "SCSC10053"),
        (["GL1051"], "where is gl 1051? a@example.com", "GL1051"),
        (["#1001"], "need a 65w charger for my iphone 15, a@example.com", None),
        (["#1001"], "I paid $1001.50, a@example.com", None),
    ],
)
def test_order_numbers_are_found_as_the_shop_writes_them(examples: list[str], typed: str, found: str | None) -> None:
    claim = find_claim(typed, [], OrderNumbers(examples))
    assert (claim.order_id if claim else None) == found


async def test_an_order_is_found_however_its_number_is_typed() -> None:
    lantern = load_shop(CORPUS / "lantern-books").orders  # "#1001"-style numbers
    fjord = load_shop(CORPUS / "fjord-wool").orders  # "FW-2041"
    for typed in ("#1001", "1001", "order1001"):
        assert (order := await lantern.get(typed)) is not None and order.order_id == "#1001"
    for typed in ("FW-2044", "fw2044", "FW 2044", "2044"):
        assert (order := await fjord.get(typed)) is not None and order.order_id == "FW-2044"
    assert await fjord.get("9999") is None and await fjord.get("44") is None
