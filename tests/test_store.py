"""The Redis store against a real Redis: identities, capped history, de-duplication,
/reset and /forget, and the per-conversation ticket lock."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest
from redis.asyncio import Redis

from bot.messages import StoredMessage
from bot.store import Store, Taken, Ticket, connect


def msg(i: int, role: str = "user") -> StoredMessage:
    return StoredMessage(role=role, text=f"message {i}", channel="web")  # type: ignore[arg-type]


async def test_one_customer_per_identity_and_channels_do_not_collide(store: Store) -> None:
    a = await store.customer_for("web", "42")
    assert await store.customer_for("web", "42") == a
    assert await store.customer_for("telegram", "42") != a, "bare platform ids must not collide across channels"


async def test_first_contacts_racing_get_one_customer(store: Store) -> None:
    ids = await asyncio.gather(*(store.customer_for("web", "racer") for _ in range(20)))
    assert len(set(ids)) == 1


async def admit(store: Store, user: str, message_id: str, lease_s: float = 30, channel: str = "telegram") -> Ticket:
    ticket = await store.admit(channel, user, message_id, lease_s=lease_s)  # type: ignore[arg-type]
    assert isinstance(ticket, Ticket)
    return ticket


async def record(store: Store, user: str, message_id: str, *messages: StoredMessage) -> Ticket:
    ticket = await admit(store, user, message_id, channel="web")
    async with store.turn(ticket):
        await store.record(ticket, list(messages), identity=("web", user), dedup_ttl_s=600)
    return ticket


async def test_history_is_capped_and_expires(store: Store, redis: Redis) -> None:
    for i in range(0, 16, 2):
        ticket = await record(store, "u", f"m{i}", msg(i), msg(i + 1, "assistant"))
    customer = ticket.customer_id
    history = await store.history(customer)
    assert [m.text for m in history] == [f"message {i}" for i in range(6, 16)], "oldest dropped, cap 10"
    assert [m.text for m in await store.history(customer, limit=3)] == ["message 13", "message 14", "message 15"]
    for key in (f"test:cust:{{{customer}}}:history", f"test:cust:{{{customer}}}:identities", "test:id:web:u"):
        assert 0 < await redis.ttl(key) <= 3600, key


async def test_a_turn_is_written_in_one_script(store: Store, redis: Redis) -> None:
    ticket = await admit(store, "u", "m1", channel="web")
    async with redis.monitor() as monitor:
        listen = monitor.listen()
        await store.record(ticket, [msg(1), msg(2, "assistant")], identity=("web", "u"), dedup_ttl_s=600)
        calls, inside = [], []
        async for entry in listen:
            command = entry["command"].split()[0].upper()
            if entry.get("client_type") == "lua":
                inside.append(command)
            elif command in ("EVALSHA", "EVAL"):
                calls.append(command)
            if "EXPIRE" in inside and inside.count("EXPIRE") == 3:
                break
    assert len(calls) == 1, "one round trip"
    assert {"HGET", "SET", "RPUSH", "LTRIM", "EXPIRE"} <= set(inside), "state, claim and turn: together"
    assert 0 < await redis.ttl(ticket.claim) <= 600


async def test_a_message_id_is_admitted_once(store: Store) -> None:
    first = await admit(store, "7", "1001")
    assert first.number == 1
    taken = await store.admit("telegram", "7", "1001", lease_s=30)
    assert taken == Taken(first.customer_id), "a redelivery is refused and names its customer"
    other = await admit(store, "8", "1001")
    assert other.customer_id != first.customer_id, "ids are per user"
    await store.release_message("telegram", "7", "1001")
    again = await admit(store, "7", "1001")
    assert again.customer_id == first.customer_id, "a released message can be taken again"
    assert again.number == 2
    assert first.customer_id == await store.customer_for("telegram", "7")


async def test_a_claim_lives_with_its_worker_and_then_for_the_dedup_ttl(store: Store, redis: Redis) -> None:
    ticket = await admit(store, "7", "1001", lease_s=1)
    assert 0 < await redis.pttl(ticket.claim) <= 1000, "a worker that dies lets go of the message soon"
    async with store.turn(ticket):
        await asyncio.sleep(1.5)  # longer than the lease: the keeper stretches it
        assert await redis.exists(ticket.claim)
        await store.record(ticket, [msg(1), msg(2, "assistant")], identity=("telegram", "7"), dedup_ttl_s=600)
        await asyncio.sleep(0.5)  # a refresh after recording must not shorten it again
    assert 590 < await redis.ttl(ticket.claim) <= 600


async def test_a_claim_of_a_dead_worker_lapses(store: Store) -> None:
    await admit(store, "7", "1001", lease_s=0.2)  # admitted, then nothing: the worker died
    assert isinstance(await store.admit("telegram", "7", "1001", lease_s=0.2), Taken)
    await asyncio.sleep(0.3)
    assert isinstance(await store.admit("telegram", "7", "1001", lease_s=0.2), Ticket), "the resend is taken"


async def test_reset_clears_the_conversation_but_keeps_the_customer(store: Store) -> None:
    customer = (await record(store, "u", "m1", msg(1))).customer_id
    await store.reset(customer)
    assert await store.history(customer) == []
    assert await store.customer_for("web", "u") == customer


async def test_forget_deletes_every_key_of_the_customer(store: Store, redis: Redis) -> None:
    customer = (await record(store, "u", "m1", msg(1))).customer_id
    other = (await record(store, "someone-else", "m1", msg(2))).customer_id
    await store.count_message(customer)
    await store.set_pending(customer, "forget")
    ticket = await admit(store, "u", "m2", channel="web")
    assert ticket.customer_id == customer
    async with store.turn(ticket):
        pass
    assert await store.forget(customer) >= 5
    left = [key async for key in redis.scan_iter(match="*")]
    assert not [key for key in left if customer in key or key == "test:id:web:u"], left
    assert [m.text for m in await store.history(other)] == ["message 2"], "nobody else's data is touched"
    assert await store.customer_for("web", "u") != customer, "the identity starts afresh"


async def test_pending_confirmation_is_read_once(store: Store) -> None:
    await store.set_pending("c1", "forget", ttl_s=60)
    assert await store.take_pending("c1") == "forget"
    assert await store.take_pending("c1") is None


async def test_rate_counter_counts_per_minute(store: Store) -> None:
    counts = [await store.count_message("c1", now=120.0) for _ in range(3)]
    assert counts == [1, 2, 3]
    assert await store.count_message("c1", now=180.0) == 1


async def test_turns_are_taken_in_order_and_never_overlap(redis_url: str) -> None:
    # Two stores on two connection pools: as two engine processes would share one Redis.
    stores = [Store(connect(redis_url), prefix="test"), Store(connect(redis_url), prefix="test")]
    for n, store in enumerate(stores):  # connected, as running workers are
        await admit(store, f"warm-up-{n}", "w")
    log: list[tuple[str, int]] = []

    async def worker(i: int) -> None:
        await asyncio.sleep(i * 0.02)  # arrival order = i; each holds the turn far longer
        ticket = await admit(stores[i % 2], "shopper", f"m{i}")
        async with stores[i % 2].turn(ticket):
            log.append(("start", i))
            await asyncio.sleep(0.1)
            log.append(("end", i))

    await asyncio.gather(*(worker(i) for i in range(8)))
    for store in stores:
        await store.aclose()
    assert log == [(event, i) for i in range(8) for event in ("start", "end")]


async def test_a_dead_holder_is_skipped_once_its_lease_lapses(store: Store) -> None:
    # A worker that was admitted and died: its lease is never refreshed, its turn never released.
    await admit(store, "shopper", "m1", lease_s=0.3)
    ticket = await admit(store, "shopper", "m2", lease_s=1)
    started = asyncio.get_running_loop().time()
    async with store.turn(ticket):
        waited = asyncio.get_running_loop().time() - started
    assert 0.2 <= waited < 3, f"waited {waited:.2f}s"
    after = await admit(store, "shopper", "m3", lease_s=1)
    async with asyncio.timeout(1):
        async with store.turn(after):
            pass  # and the queue keeps moving


@pytest.mark.parametrize("cancel_while", ["waiting", "holding"])
async def test_a_cancelled_turn_hands_on(store: Store, cancel_while: str) -> None:
    holding = asyncio.Event()

    async def hold(message_id: str, event: asyncio.Event | None = None) -> None:
        ticket = await admit(store, "shopper", message_id)
        async with store.turn(ticket):
            if event:
                event.set()
            await asyncio.sleep(10)

    first = asyncio.create_task(hold("m1", holding))
    await holding.wait()
    if cancel_while == "waiting":
        waiter = asyncio.create_task(hold("m2"))
        await asyncio.sleep(0.05)
        waiter.cancel()
        await asyncio.gather(waiter, return_exceptions=True)
    first.cancel()
    await asyncio.gather(first, return_exceptions=True)
    last = await admit(store, "shopper", "m3")
    async with asyncio.timeout(5):  # would wait for the 30 s lease if nothing handed on
        async with store.turn(last):
            pass


async def test_an_identity_never_used_expires_with_all_it_created(store: Store, redis: Redis) -> None:
    customer = await store.customer_for("web", "visitor-who-only-looked")
    keys = [key async for key in redis.scan_iter(match="*")]
    assert sorted(keys) == sorted(["test:id:web:visitor-who-only-looked", f"test:cust:{{{customer}}}:identities"])
    for key in keys:
        assert 0 < await redis.ttl(key) <= 3600, f"{key} would live forever"


async def test_merging_customers_interleaves_histories_and_moves_identities(store: Store, redis: Redis) -> None:
    def at(i: int, role: str = "user") -> StoredMessage:
        return msg(i, role).model_copy(update={"ts": datetime(2026, 11, 22, 10, i, tzinfo=UTC)})

    keep = (await record(store, "tg-user", "m1", at(1), at(3, "assistant"))).customer_id
    gone = (await record(store, "web-user", "m1", at(2), at(4, "assistant"))).customer_id
    await store.remember_order(gone, "1042")
    await store.remember_taste(gone, preferences=["green gear"], products=["p1"])
    code = await store.issue_link_code(keep, ttl_s=60, per_hour=5)
    assert code is not None and await store.redeem_link_code(code.lower()) == keep
    assert await store.redeem_link_code(code) is None, "a code works once"
    await store.merge_customers(keep=keep, gone=gone)
    assert [m.text for m in await store.history(keep)] == ["message 1", "message 2", "message 3", "message 4"]
    assert await store.customer_for("web", "web-user") == keep
    assert await store.remembered_orders(keep) == ["1042"]
    assert await store.taste(keep) == (["green gear"], ["p1"])
    assert not [k async for k in redis.scan_iter(match=f"*{gone}*") if not k.endswith(":order")], "gone's keys left"
