"""Order lookup: number and e-mail together, nothing revealed by a wrong pair, wrong guesses
rate-limited, proven orders remembered; against real Redis and the demo shop's orders."""

from __future__ import annotations

import pytest
from redis.asyncio import Redis

from bot.errors import RateLimited
from bot.knowledge.order_lookup import OrderClaim, OrderLookup, find_claim
from bot.knowledge.shop import DEMO_SHOP, load_shop
from bot.store import Store


@pytest.fixture
def lookup(store: Store) -> OrderLookup:
    return OrderLookup(load_shop(DEMO_SHOP).orders, store, max_failures=3, window_s=60)


async def test_the_right_pair_shows_the_order_and_it_is_remembered(lookup: OrderLookup) -> None:
    order = await lookup.verify("c1", OrderClaim("1042", "Ana@Example.com"))
    assert order is not None and order.status == "shipped" and order.tracking == "1Z999AA10123456784"
    assert [o.order_id for o in await lookup.proven("c1")] == ["1042"]
    assert await lookup.proven("someone-else") == [], "proof belongs to the customer who gave it"


async def test_a_wrong_pair_reveals_nothing(lookup: OrderLookup) -> None:
    wrong_email = await lookup.verify("c1", OrderClaim("1042", "mallory@example.com"))
    no_such_order = await lookup.verify("c1", OrderClaim("999999", "ana@example.com"))
    assert wrong_email is None and no_such_order is None, "the same answer whether or not the order exists"
    assert await lookup.proven("c1") == []


async def test_wrong_guesses_are_rate_limited_per_customer(lookup: OrderLookup, redis: Redis) -> None:
    for guess in ("1001", "1002", "1003"):
        assert await lookup.verify("guesser", OrderClaim(guess, "x@example.com")) is None
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
