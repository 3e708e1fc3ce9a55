"""The engine end to end with real Redis and a real (tiny) model."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path

import pytest

from bot.commands import FORGET_CONFIRM
from bot.engine import Engine
from bot.errors import DuplicateMessage, MessageRejected, MessageTooLong, RateLimited, StoreUnavailable
from bot.llm import ChatMessage, Chunk, GenerationParams
from bot.llm.local import LocalModel
from bot.messages import Address, Inbound, Reply, ReplyDelta, ReplyEvent
from bot.redis_server import EmbeddedRedis
from bot.store import Store, connect
from tests.conftest import make_engine


def inbound(text: str, message_id: str, user: str = "u1", channel: str = "web") -> Inbound:
    return Inbound(
        channel=channel,  # type: ignore[arg-type]
        user_id=user,
        address=Address(channel=channel, chat_id="chat"),  # type: ignore[arg-type]
        message_id=message_id,
        text=text,
    )


async def run(engine: Engine, message: Inbound) -> tuple[list[str], Reply]:
    deltas, reply = [], None
    async for event in engine.handle(message):
        if isinstance(event, ReplyDelta):
            deltas.append(event.text)
        else:
            reply = event
    assert reply is not None
    return deltas, reply


async def test_a_message_is_answered_streaming_and_kept_in_history(store: Store, tiny_model: LocalModel) -> None:
    engine = make_engine(store, tiny_model)
    deltas, reply = await run(engine, inbound("where is my parcel?", "m1"))
    assert len(deltas) > 1
    assert reply.text == "".join(deltas).strip()
    assert reply.tokens > 0
    history = await store.history(reply.customer_id)
    assert [(m.role, m.text) for m in history] == [("user", "where is my parcel?"), ("assistant", reply.text)]
    assert history[1].latency_ms is not None and history[1].tokens == reply.tokens


async def test_a_redelivered_message_gets_the_recorded_reply_not_a_second_one(
    store: Store, tiny_model: LocalModel
) -> None:
    model = Recording(tiny_model)
    engine = make_engine(store, model)
    _, reply = await run(engine, inbound("hello", "update-7"))
    deltas, again = await run(engine, inbound("hello", "update-7"))
    assert deltas == [] and again.text == reply.text and again.flags == {"repeat"}
    assert len(model.spans) == 1, "the model wrote once"
    assert len(await store.history(reply.customer_id)) == 2


async def test_a_message_delivered_again_while_being_answered_is_a_duplicate(
    store: Store, tiny_model: LocalModel
) -> None:
    engine = make_engine(store, tiny_model)
    first = engine.handle(inbound("tell me about returns", "m1"))
    assert isinstance(await anext(first), ReplyDelta)  # being answered now
    with pytest.raises(DuplicateMessage):
        await run(engine, inbound("tell me about returns", "m1"))
    async for _ in first:
        pass


async def test_an_aborted_reply_leaves_the_message_answerable(store: Store, tiny_model: LocalModel) -> None:
    engine = make_engine(store, tiny_model)
    events = engine.handle(inbound("tell me about returns", "m1"))
    assert isinstance(await anext(events), ReplyDelta)
    await events.aclose()  # the shopper went away mid-reply
    _, reply = await run(engine, inbound("tell me about returns", "m1"))  # the resend
    assert len(await store.history(reply.customer_id)) == 2


async def test_the_rate_limit_answers_politely(store: Store, tiny_model: LocalModel) -> None:
    engine = make_engine(store, tiny_model, rate_limit_per_minute=2)
    await run(engine, inbound("one", "1"))
    await run(engine, inbound("two", "2"))
    with pytest.raises(RateLimited) as caught:
        await run(engine, inbound("three", "3"))
    assert "wait" in caught.value.public_message


async def test_empty_and_oversized_messages_are_refused_with_a_reason(store: Store, tiny_model: LocalModel) -> None:
    engine = make_engine(store, tiny_model, max_message_chars=50)
    with pytest.raises(MessageRejected):
        await run(engine, inbound("   ", "1"))
    with pytest.raises(MessageTooLong):
        await run(engine, inbound("x" * 51, "2"))
    with pytest.raises(MessageTooLong):  # fits the limit, not the tiny model's 256-token context
        engine = make_engine(store, tiny_model, max_message_chars=5000)
        await run(engine, inbound("word " * 500, "3"))


async def test_reset_starts_a_fresh_conversation(store: Store, tiny_model: LocalModel) -> None:
    engine = make_engine(store, tiny_model)
    _, first = await run(engine, inbound("hello", "1"))
    _, reply = await run(engine, inbound("/reset", "2"))
    assert "reset" in reply.flags and "command" in reply.flags
    assert await store.history(first.customer_id) == []


async def test_forget_asks_first_then_deletes_everything(store: Store, tiny_model: LocalModel) -> None:
    engine = make_engine(store, tiny_model)
    _, first = await run(engine, inbound("hello", "1"))
    _, question = await run(engine, inbound("/forget", "2"))
    assert [q.text for q in question.quick_replies] == [FORGET_CONFIRM, "/cancel"]
    assert len(await store.history(first.customer_id)) == 2, "nothing deleted before the confirmation"
    _, done = await run(engine, inbound(FORGET_CONFIRM, "3"))
    assert "forgotten" in done.flags
    assert await store.history(first.customer_id) == []
    assert await store.customer_for("web", "u1") != first.customer_id


async def test_a_confirmation_nobody_asked_for_deletes_nothing(store: Store, tiny_model: LocalModel) -> None:
    engine = make_engine(store, tiny_model)
    _, first = await run(engine, inbound("hello", "1"))
    _, reply = await run(engine, inbound(FORGET_CONFIRM, "2"))
    assert "forgotten" not in reply.flags and reply.quick_replies, "it asks instead"
    _, cancelled = await run(engine, inbound("/cancel", "3"))
    assert "nothing was deleted" in cancelled.text
    assert len(await store.history(first.customer_id)) == 2


async def test_unknown_commands_get_help(store: Store, tiny_model: LocalModel) -> None:
    _, reply = await run(make_engine(store, tiny_model), inbound("/frobnicate", "1"))
    assert "/frobnicate" in reply.text and "/reset" in reply.text


class Recording:
    """Wraps a real model and records when each generation starts and ends."""

    def __init__(self, model: LocalModel) -> None:
        self._model = model
        self.name = model.name
        self.context_window = model.context_window
        self.writes_slots = model.writes_slots
        self.spans: list[tuple[str, float, float]] = []

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return self._model.count_tokens(messages)

    async def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> AsyncGenerator[Chunk, None]:
        start = time.monotonic()
        async for chunk in self._model.stream(messages, params):
            yield chunk
        self.spans.append((messages[-1]["content"], start, time.monotonic()))

    async def ready(self) -> bool:
        return True

    async def aclose(self) -> None:
        pass


async def test_two_engines_answer_one_customer_in_the_order_sent(redis_url: str, tiny_model: LocalModel) -> None:
    model = Recording(tiny_model)
    stores = [Store(connect(redis_url), prefix="test"), Store(connect(redis_url), prefix="test")]
    await stores[0].redis.flushdb()
    engines = [make_engine(s, model) for s in stores]
    for engine in engines:  # connected and scripts loaded, as in a running worker
        await run(engine, inbound("warm up", "w", user=f"warm-{id(engine)}"))
    model.spans.clear()

    async def send(i: int) -> Reply:
        await asyncio.sleep(i * 0.05)  # sent in this order, alternately to the two engines
        _, reply = await run(engines[i % 2], inbound(f"message {i}", f"m{i}", user="same-shopper"))
        return reply

    replies = await asyncio.gather(*(send(i) for i in range(8)))
    history = await stores[0].history(replies[0].customer_id)
    for s in stores:
        await s.aclose()
    assert [text for text, _, _ in model.spans] == [f"message {i}" for i in range(8)]
    for (_, _, end), (_, start, _) in zip(model.spans, model.spans[1:], strict=False):
        assert start >= end, "a customer's replies never overlap"
    assert [m.text for m in history if m.role == "user"] == [f"message {i}" for i in range(8)]


async def test_different_customers_are_answered_concurrently(store: Store, tiny_model: LocalModel) -> None:
    model = Recording(tiny_model)
    engine = make_engine(store, model)
    engine._generation = GenerationParams(max_new_tokens=60, temperature=0.0)
    await asyncio.gather(*(run(engine, inbound("hello there", "m", user=f"shopper-{i}")) for i in range(6)))
    starts = sorted(start for _, start, _ in model.spans)
    ends = sorted(end for _, _, end in model.spans)
    assert starts[-1] < ends[0], "all six were being written at the same time"


async def test_events_are_typed(store: Store, tiny_model: LocalModel) -> None:
    events: list[ReplyEvent] = [e async for e in make_engine(store, tiny_model).handle(inbound("hi", "1"))]
    assert all(isinstance(e, ReplyDelta) for e in events[:-1]) and isinstance(events[-1], Reply)


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        (
            "Sure. Follow these steps:\n\n1. Log in.\n2. Open your orders.\n\nIf you have any",
            "Sure. Follow these steps:\n\n1. Log in.\n2. Open your orders.",
        ),
        ("Thanks for asking! We ship in two days", "Thanks for asking!"),
        ("Your parcel ships today.", "Your parcel ships today."),
        ("Steps (see the list) follow", "Steps (see the list) follow"),
        ("no punctuation at all", "no punctuation at all"),
        (
            "Hi. And then a very long unfinished sentence that goes on and on and on and on",
            "Hi. And then a very long unfinished sentence that goes on and on and on and on",
        ),
    ],
)
def test_a_reply_cut_by_the_token_limit_ends_on_a_whole_sentence(written: str, kept: str) -> None:
    from bot.engine import whole_sentences

    assert whole_sentences(written) == kept


async def test_a_reply_lost_to_a_redis_outage_is_answered_when_resent(tmp_path: Path, tiny_model: LocalModel) -> None:
    """Redis goes away while the model writes: the claim on the message cannot be released
    then, so it must lapse by itself, and the shopper's resend is answered, not refused."""
    server = EmbeddedRedis(tmp_path / "redis").start()  # append-only: keys survive the restart

    class DropsRedis(Recording):
        async def stream(
            self, messages: Sequence[ChatMessage], params: GenerationParams
        ) -> AsyncGenerator[Chunk, None]:
            async for chunk in super().stream(messages, params):
                if server.running:
                    server.stop()
                yield chunk

    store = Store(connect(server.url), prefix="outage")
    try:
        with pytest.raises(StoreUnavailable):
            await run(make_engine(store, DropsRedis(tiny_model), turn_lease_s=1), inbound("hello", "m1"))
        server.start()
        await asyncio.sleep(1.2)  # the claim's lease
        _, reply = await run(make_engine(store, tiny_model, turn_lease_s=1), inbound("hello", "m1"))
        assert "repeat" not in reply.flags
        assert [m.text for m in await store.history(reply.customer_id)] == ["hello", reply.text]
    finally:
        await store.aclose()
        server.stop()
