"""The Slack channel: the real AsyncApp and slack_sdk client against a fake Slack Web API on
port 0, signed Events API requests over HTTP to the real web app, and the whole hand-over
round trip for a web widget shopper (real websocket) and a Telegram shopper (fake Bot API)."""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
import pytest
import websockets
from aiogram.types import Update
from slack_bolt.async_app import AsyncBoltRequest
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route
from websockets.asyncio.client import ClientConnection

from adapters.slack import BACK, NOT_STAFF, PICK, REGENERATE, RESOLVE, TAKE, SlackChannel, copy_blocks
from adapters.slack_bench import run_slack_bench
from adapters.slack_fake import (
    APP_TOKEN,
    BOT_TOKEN,
    BOT_USER,
    SECRET,
    TEAM,
    FakeSlack,
    button_body,
    command_body,
    event_body,
    serve_slack,
    signed,
)
from adapters.slack_text import MAX_BLOCKS, SECTION_CHARS, escape, plain, section_messages
from adapters.telegram import TelegramChannel, create_bot
from adapters.telegram_fake import TOKEN, FakeBotApi, serve_bot_api
from adapters.web import create_app
from adapters.web_push import WebPush
from adapters.web_sessions import SessionTokens
from bot.copywriter import Copywriter
from bot.engine import Engine
from bot.knowledge.grounding import ShopKnowledge
from bot.knowledge.shop import DEMO_SHOP, load_shop
from bot.llm.remote import RemoteModel
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.settings import EngineSettings, SlackSettings, TelegramSettings, WebSettings, load_settings
from bot.staff import StaffAssistant
from bot.store import Store
from bot.understanding import Understander
from bot.understanding.encoder import SentenceEncoder
from tests.conftest import GREEDY
from tests.servers import serve_asgi
from tests.test_grounding import ScriptedModel

SUPPORT = "C0SUPPORT"
STAFF = "U0STAFF"
_ts = iter(range(1, 1_000_000))


def next_ts() -> str:
    return f"1700000500.{next(_ts):06d}"


@dataclass
class Rig:
    fake: FakeSlack
    model: ScriptedModel
    store: Store
    engine: Engine
    outbox: Outbox
    slack: SlackChannel
    knowledge: ShopKnowledge
    settings: SlackSettings
    http: str
    client: httpx.AsyncClient

    @property
    def ws(self) -> str:
        return self.http.replace("http://", "ws://") + "/ws"

    async def post(self, body: str, headers: dict[str, str]) -> httpx.Response:
        return await self.client.post(f"{self.http}/slack/events", content=body, headers=headers)

    async def event(self, event: dict[str, Any], **options: Any) -> httpx.Response:
        retry = options.pop("retry", None)
        body = event_body(event, **options)
        headers = signed(body)
        if retry is not None:
            headers |= {"X-Slack-Retry-Num": str(retry), "X-Slack-Retry-Reason": "http_timeout"}
        return await self.post(body, headers)

    async def dm(self, text: str, *, user: str = STAFF, **options: Any) -> tuple[httpx.Response, str]:
        ts = next_ts()
        event = {"type": "message", "channel": "D0STAFF", "channel_type": "im", "user": user, "text": text, "ts": ts}
        return await self.event(event, **options), ts

    async def thread_reply(self, thread: str, text: str, *, user: str = STAFF) -> str:
        ts = next_ts()
        event = {
            "type": "message",
            "channel": SUPPORT,
            "channel_type": "channel",
            "user": user,
            "text": text,
            "ts": ts,
            "thread_ts": thread,
        }
        assert (await self.event(event)).status_code == 200
        return ts

    async def command(self, text: str, **options: Any) -> httpx.Response:
        body = command_body(self.fake, text, **options)
        return await self.post(body, signed(body, content_type="application/x-www-form-urlencoded"))

    async def button(self, action_id: str, value: str, **options: Any) -> httpx.Response:
        body = button_body(self.fake, action_id, value, **options)
        return await self.post(body, signed(body, content_type="application/x-www-form-urlencoded"))

    async def handover_thread(self, before: int = 0) -> tuple[str, str]:
        """(thread ts, customer id) of the next hand-over posted to the support channel."""
        await self.fake.wait_for(lambda: len(self.handover_posts()) > before)
        post = self.handover_posts()[before]
        actions = next(b for b in post["blocks"] if b["type"] == "actions")
        return post["_ts"], actions["elements"][0]["value"]

    def handover_posts(self) -> list[dict[str, Any]]:
        return [p for p in self.fake.posts(SUPPORT) if not p.get("thread_ts")]


@pytest.fixture
async def rig(store: Store, understander: Understander, encoder: SentenceEncoder) -> AsyncIterator[Rig]:
    fake, model = FakeSlack(), ScriptedModel()
    async with serve_slack(fake) as api_url, serve_asgi(model.app) as model_url:
        llm = RemoteModel(model_url + "/v1", model_name="scripted", context_window=8192)
        knowledge = ShopKnowledge(load_shop(DEMO_SHOP), store, encoder)
        engine = Engine(
            store=store,
            llm=llm,
            settings=EngineSettings(),
            generation=GREEDY,
            metrics=Metrics(),
            knowledge=knowledge,
            understander=understander,
            staff=StaffAssistant(store, knowledge, understander),
        )
        outbox = Outbox(store)
        push = WebPush(store)
        outbox.register("web", push)
        settings = SlackSettings(
            bot_token=BOT_TOKEN,
            signing_secret=SECRET,
            api_url=api_url,
            support_channel=SUPPORT,
            channel_interval_s=0.05,
        )
        slack = SlackChannel(engine=engine, store=store, outbox=outbox, knowledge=knowledge, settings=settings)
        outbox.register("slack", slack)
        push.start()
        slack.start_desk()
        app = create_app(
            engine=engine,
            settings=WebSettings(),
            sessions=SessionTokens("s" * 32, ttl_s=3600),
            metrics=Metrics(),
            extra_routes=[slack.events_route()],
            push=push,
        )
        try:
            async with serve_asgi(app) as http, httpx.AsyncClient(timeout=10) as client:
                yield Rig(fake, model, store, engine, outbox, slack, knowledge, settings, http, client)
        finally:
            await slack.stop_desk()
            await push.stop()
            await llm.aclose()


async def frames_until(ws: ClientConnection, kinds: set[str], timeout: float = 10) -> list[dict[str, Any]]:
    """Frames up to and including the first of one of `kinds`."""
    seen = []
    while True:
        frame = json.loads(await asyncio.wait_for(ws.recv(), timeout))
        seen.append(frame)
        if frame["type"] in kinds:
            return seen


async def say(ws: ClientConnection, text: str, message_id: str) -> dict[str, Any]:
    await ws.send(json.dumps({"type": "message", "text": text, "id": message_id}))
    return (await frames_until(ws, {"reply", "forwarded", "error"}))[-1]


# -- the Events API: signatures, acknowledgement, retries ------------------------------------


async def test_bad_or_stale_signatures_get_401_and_nothing_is_processed(rig: Rig) -> None:
    body = event_body(
        {
            "type": "message",
            "channel": "D0X",
            "channel_type": "im",
            "user": STAFF,
            "text": "order 1021",
            "ts": next_ts(),
        }
    )
    forged = signed(body, secret="not-the-secret")
    assert (await rig.post(body, forged)).status_code == 401
    stale = signed(body, at=time.time() - 6 * 60)  # Slack's window is 5 minutes
    assert (await rig.post(body, stale)).status_code == 401
    assert (await rig.post(body, {"Content-Type": "application/json"})).status_code == 401
    await asyncio.sleep(0.3)
    assert rig.fake.of("chat.postMessage") == []
    assert await rig.store.find_customer("slack", STAFF) is None, "nothing reached the engine"


async def test_a_staff_dm_is_acknowledged_at_once_and_answered_in_its_thread(rig: Rig) -> None:
    rig.fake.slow["chat.postMessage"] = 4.0  # the answer takes longer than Slack waits for an ack
    started = time.monotonic()
    response, ts = await rig.dm("what's the status of order 1021?")
    assert response.status_code == 200 and time.monotonic() - started < 3, "acknowledged before the work"
    await rig.fake.wait_for(lambda: rig.fake.posts("D0STAFF"))
    [post] = rig.fake.posts("D0STAFF")
    assert post["thread_ts"] == ts
    # Staff see the order without the shopper's e-mail check, and whose it is.
    assert "Order 1021" in post["text"] and "carla.m@example.org" in post["text"] and "delivered" in post["text"]
    assert "1Z84F2W90312457719" in post["text"]


async def test_a_retried_event_is_handled_once_and_a_retry_whose_first_never_came_is_handled(rig: Rig) -> None:
    ts = next_ts()
    event = {
        "type": "message",
        "channel": "D0STAFF",
        "channel_type": "im",
        "user": STAFF,
        "text": "order 1022",
        "ts": ts,
    }
    assert (await rig.event(event, event_id="Ev-once")).status_code == 200
    assert (await rig.event(event, event_id="Ev-once", retry=1)).status_code == 200
    assert (await rig.event(event, event_id="Ev-once", retry=2)).status_code == 200
    # The first delivery of this one was lost on the way: its retry is all there is.
    other = {**event, "text": "order 1023", "ts": next_ts()}
    assert (await rig.event(other, event_id="Ev-lost", retry=1)).status_code == 200
    await rig.fake.wait_for(lambda: len(rig.fake.posts("D0STAFF")) >= 2)
    await asyncio.sleep(0.3)
    texts = rig.fake.texts("D0STAFF")
    assert len(texts) == 2
    assert sum("Order 1022" in t for t in texts) == 1 and sum("Order 1023" in t for t in texts) == 1


async def test_only_the_shops_workspace_and_user_group_may_use_it(rig: Rig) -> None:
    await rig.dm("order 1021", team="T0OTHER")
    await rig.fake.wait_for(lambda: rig.fake.posts("D0STAFF"))
    assert rig.fake.texts("D0STAFF") == [NOT_STAFF]
    grouped = SlackChannel(
        engine=rig.engine,
        store=rig.store,
        outbox=rig.outbox,
        knowledge=rig.knowledge,
        settings=rig.settings.model_copy(update={"staff_usergroup": "S0STAFF"}),
        client=rig.slack.client,
    )
    rig.fake.usergroups["S0STAFF"] = ["U0MEMBER"]
    assert await grouped.is_staff(TEAM, "U0MEMBER")
    assert not await grouped.is_staff(TEAM, STAFF)
    assert not await grouped.is_staff("T0OTHER", "U0MEMBER")


async def test_a_429_is_retried_after_retry_after_and_posted_once(rig: Rig) -> None:
    rig.fake.ratelimit["chat.postMessage"] = [1]
    await rig.dm("order 1021")
    await rig.fake.wait_for(lambda: rig.fake.posts("D0STAFF"))
    limited = rig.fake.of("chat.postMessage:429")
    [posted] = rig.fake.of("chat.postMessage")
    assert len(limited) == 1 and posted.at - limited[0].at >= 1.0
    assert "Order 1021" in posted.params["text"]


async def test_posts_to_one_channel_are_paced(rig: Rig) -> None:
    rig.slack.client.pace._interval = 0.3
    await asyncio.gather(*(rig.slack.post("C0PACE", f"line {i}") for i in range(4)))
    times = [c.at for c in rig.fake.of("chat.postMessage") if c.params["channel"] == "C0PACE"]
    assert [c.params["text"] for c in rig.fake.of("chat.postMessage")] == [f"line {i}" for i in range(4)]
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= 0.28


async def test_socket_mode_receives_acknowledges_and_deduplicates_events(rig: Rig) -> None:
    settings = SlackSettings(bot_token=BOT_TOKEN, app_token=APP_TOKEN, api_url=rig.settings.api_url)
    socket_mode = SlackChannel(
        engine=rig.engine, store=rig.store, outbox=rig.outbox, knowledge=rig.knowledge, settings=settings
    )
    await socket_mode.connect_socket_mode()
    try:
        await rig.fake.wait_for(lambda: rig.fake.sockets)
        event = {"type": "message", "channel": "D0SOCK", "channel_type": "im", "user": STAFF, "text": "order 1021"}
        body = event_body({**event, "ts": next_ts()}, event_id="Ev-socket")
        first = await rig.fake.deliver(body)
        again = await rig.fake.deliver(body, retry_attempt=1)
        await rig.fake.wait_for(lambda: {first, again} <= {a.get("envelope_id") for a in rig.fake.acks})
        await rig.fake.wait_for(lambda: rig.fake.posts("D0SOCK"))
        await asyncio.sleep(0.3)
        [answer] = rig.fake.texts("D0SOCK")
        assert "Order 1021" in answer
    finally:
        await socket_mode.close()


# -- the staff persona ------------------------------------------------------------------------


async def test_staff_look_a_customer_up_by_email_identity_and_get_policies(rig: Rig) -> None:
    async with websockets.connect(rig.ws) as ws:
        session = json.loads(await ws.recv())
        await say(ws, "Where is my order 1021? My email is carla.m@example.org", "w1")
    assert await rig.store.customers_with_order("1021"), "the shopper proved the order"
    await rig.dm("who is carla.m@example.org?")
    await rig.fake.wait_for(lambda: rig.fake.posts("D0STAFF"))
    card = rig.fake.texts("D0STAFF")[0]
    assert "*Customer*" in card and "web:" in card and "Sentiment:" in card and "Summary:" in card
    assert "Where is my order 1021?" in card
    visitor = re.search(r"web:([\w.-]+)", card)
    assert visitor is not None and session["type"] == "session"
    await rig.dm(f"web:{visitor.group(1)}")
    await rig.dm("What is the return window?")
    await rig.fake.wait_for(lambda: len(rig.fake.posts("D0STAFF")) >= 3)
    by_identity, policy = rig.fake.texts("D0STAFF")[1:3]
    assert "*Customer*" in by_identity
    assert re.search(r"\b\d+\s*days\b", policy), policy


async def test_a_long_answer_is_split_within_slacks_block_limits() -> None:
    text = "\n".join(f"line {i}: " + "word " * 60 for i in range(600))  # about 190,000 characters
    messages = section_messages(text)
    assert len(messages) > 1
    for fallback, blocks in messages:
        assert len(blocks) <= MAX_BLOCKS and len(fallback) <= 40_000
        assert all(len(b["text"]["text"]) <= SECTION_CHARS for b in blocks)
    assert " ".join(" ".join(b["text"]["text"] for b in bl) for _, bl in messages).split() == text.split()


def test_shopper_text_cannot_ping_or_link_in_slack_and_staff_markup_reads_plainly() -> None:
    assert escape("<!channel> & <@U1>") == "&lt;!channel&gt; &amp; &lt;@U1&gt;"
    assert plain("See <https://shop.example/returns|our returns page> &amp; ask <@U0X>") == (
        "See our returns page & ask"
    )


# -- /shopbot copy ----------------------------------------------------------------------------


def _prices(text: str) -> set[Decimal]:
    return {Decimal(m.replace(",", "")) for m in re.findall(r"\$([\d,]+\.\d{2})", text)}


async def test_the_copy_command_writes_grounded_copy_with_regenerate_and_pick(rig: Rig) -> None:
    response = await rig.command("copy Carbon Trekking Poles, a social post")
    assert response.status_code == 200
    await rig.fake.wait_for(lambda: rig.fake.responses)
    first = rig.fake.responses[0]
    product = next(p for p in rig.knowledge.shop.offered if p.id == "carbon-trekking-poles")
    catalog_prices = {v.price for v in product.variants} | {
        v.compare_at_price for v in product.variants if v.compare_at_price
    }
    assert "Carbon Trekking Poles" in first["text"] and "#" in first["text"]
    assert _prices(first["text"]) <= catalog_prices and _prices(first["text"])
    buttons = next(b for b in first["blocks"] if b["type"] == "actions")["elements"]
    assert [b["action_id"] for b in buttons] == [REGENERATE, PICK]

    await rig.button(REGENERATE, buttons[0]["value"], channel="C0MARKETING")
    await rig.fake.wait_for(lambda: len(rig.fake.responses) >= 2)
    second = rig.fake.responses[1]
    assert second["replace_original"] is True and second["text"] != first["text"]
    assert _prices(second["text"]) <= catalog_prices

    picked = next(b for b in second["blocks"] if b["type"] == "actions")["elements"][1]["value"]
    await rig.button(PICK, picked, channel="C0MARKETING")
    await rig.fake.wait_for(lambda: len(rig.fake.responses) >= 3)
    chosen = rig.fake.responses[2]
    assert chosen["response_type"] == "in_channel" and escape(second["text"]) in chosen["text"]


async def test_every_kind_of_copy_for_every_product_states_only_catalog_facts(rig: Rig) -> None:
    writer = Copywriter(lambda: rig.knowledge.shop.profile)
    for product in rig.knowledge.shop.offered:
        for brief in ("product description", "promo email for the sale", "instagram post"):
            for variant in range(3):
                copy = writer.write(product, f"{product.title} {brief}", variant)
                assert writer.problems(copy) == [], (product.id, brief, variant, copy.text)
                allowed = {v.price for v in product.variants} | {
                    v.compare_at_price for v in product.variants if v.compare_at_price
                }
                assert _prices(copy.text) <= allowed, copy.text


async def test_copy_without_a_brief_or_for_something_not_in_the_catalog_says_so(rig: Rig) -> None:
    await rig.command("copy")
    await rig.fake.wait_for(lambda: rig.fake.responses)
    assert "What should I write about" in rig.fake.responses[0]["text"]
    await rig.command("copy quantum flux capacitor")
    await rig.fake.wait_for(lambda: len(rig.fake.responses) >= 2)
    assert "No product in the catalog matches" in rig.fake.responses[1]["text"]


def test_the_shops_voice_shapes_the_copy() -> None:
    shop = load_shop(DEMO_SHOP)
    product = next(p for p in shop.offered if p.id == "carbon-trekking-poles")
    playful = Copywriter(lambda: shop.profile.model_copy(update={"voice": "playful, bold"}))
    plain_voice = Copywriter(lambda: shop.profile.model_copy(update={"voice": "formal, thorough"}))
    concise = Copywriter(lambda: shop.profile.model_copy(update={"voice": "concise"}))
    assert "🎉" in playful.write(product, "instagram post").text
    assert "🎉" not in plain_voice.write(product, "instagram post").text
    assert playful.write(product, "promo email").text.endswith("!")
    assert not plain_voice.write(product, "promo email").text.endswith("!")
    assert len(concise.write(product, "description").text) < len(plain_voice.write(product, "description").text)


# -- hand-over: the whole round trip -----------------------------------------------------------


async def test_handover_round_trip_for_a_web_widget_shopper(rig: Rig) -> None:
    rig.model.says = "Our return window is 30 days from delivery."
    async with websockets.connect(rig.ws) as ws:
        assert json.loads(await ws.recv())["type"] == "session"
        asked = await say(ws, "/human", "h1")
        assert asked["type"] == "reply" and "handed_over" in asked["flags"]

        # A thread appears in the support channel: customer, channel, sentiment, summary, messages.
        thread, customer = await rig.handover_thread()
        post = rig.handover_posts()[0]
        shown = json.dumps(post["blocks"])
        assert "asked for a person" in post["text"] and "web" in shown and "Sentiment" in shown
        assert all(b["action_id"] in (TAKE, BACK, RESOLVE) for b in post["blocks"][-1]["elements"])

        # A staff reply in the thread reaches the shopper's socket.
        staff_ts = await rig.thread_reply(thread, "Hi, I'm Sam &amp; I'll sort this out.")
        joined = json.loads(await asyncio.wait_for(ws.recv(), 10))
        reply = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert joined == {**joined, "type": "push", "role": "assistant"} and "Sam from our team" in joined["text"]
        assert (
            reply["type"] == "push"
            and reply["role"] == "staff"
            and reply["text"] == "Hi, I'm Sam & I'll sort this out."
        )
        await rig.fake.wait_for(lambda: [c for c in rig.fake.of("reactions.add") if c.params["timestamp"] == staff_ts])

        # The shopper writes again: the assistant stays silent and the message is in the thread.
        prompts = len(rig.model.prompts)
        silent = await say(ws, "Thanks! It's about <!channel> my boots", "h2")
        assert silent["type"] == "forwarded"
        await rig.fake.wait_for(lambda: any("my boots" in t for t in rig.fake.texts(SUPPORT, thread)))
        assert any("&lt;!channel&gt;" in t for t in rig.fake.texts(SUPPORT, thread)), "escaped: it pings no one"
        assert len(rig.model.prompts) == prompts, "the model was not asked"
        assert (await say(ws, "/human", "h2b"))["type"] == "forwarded", "asking again reaches the person"

        # A reply with a file: its text goes, and the thread says the file did not.
        file_ts = next_ts()
        with_file = {
            "type": "message",
            "subtype": "file_share",
            "channel": SUPPORT,
            "channel_type": "channel",
            "user": STAFF,
            "text": "Here is the label.",
            "files": [{"id": "F1", "name": "label.pdf"}],
            "ts": file_ts,
            "thread_ts": thread,
        }
        assert (await rig.event(with_file)).status_code == 200
        label = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert label["type"] == "push" and label["text"] == "Here is the label."
        await rig.fake.wait_for(lambda: any("Files are not sent" in t for t in rig.fake.texts(SUPPORT, thread)))

        # A note stays in Slack.
        await rig.thread_reply(thread, "note: refund approved by finance")
        await rig.fake.wait_for(lambda: [c for c in rig.fake.of("reactions.add") if c.params["name"] == "memo"])

        # Staff hand back: the shopper is told, and the assistant answers again.
        assert (await rig.button(BACK, customer, message_ts=thread)).status_code == 200
        back = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert back["type"] == "push" and "back with" in back["text"]
        answered = await say(ws, "What is your return window?", "h3")
        assert answered["type"] == "reply" and answered["text"]

    history = await rig.store.history(customer)
    texts = [(m.role, m.text) for m in history]
    assert ("staff", "Hi, I'm Sam & I'll sort this out.") in texts
    assert not any("refund approved" in t for _, t in texts), "the note never reached the shopper's history"
    assert (await rig.store.handover_status(customer)).state == "bot"  # type: ignore[union-attr]


async def test_handover_round_trip_for_a_telegram_shopper(rig: Rig) -> None:
    api = FakeBotApi()
    chat = 4242
    async with serve_bot_api(api) as api_url:
        settings = TelegramSettings(token=TOKEN, api_url=api_url, chat_interval_s=0.05)
        telegram = TelegramChannel(rig.engine, create_bot(settings), settings)
        rig.outbox.register("telegram", telegram)
        try:

            async def shopper(text: str) -> None:
                update = api.push(message=api.message(chat, text))
                await telegram.feed(Update.model_validate(update, context={"bot": telegram.bot}))
                await telegram.idle()

            await shopper("/human")
            assert "person" in api.sent(chat)[-1]
            thread, customer = await rig.handover_thread()
            assert "telegram" in json.dumps(rig.handover_posts()[0]["blocks"])

            await rig.thread_reply(thread, "Hello from Sam, checking your order now.")
            await api.wait_for(lambda: "Hello from Sam, checking your order now." in api.sent(chat))
            assert any("joined" in t for t in api.sent(chat))

            before = len(api.sent(chat))
            await shopper("it is order 1021")
            await rig.fake.wait_for(lambda: any("it is order 1021" in t for t in rig.fake.texts(SUPPORT, thread)))
            assert len(api.sent(chat)) == before, "the bot stayed silent"

            await rig.button(BACK, customer, message_ts=thread)
            await api.wait_for(lambda: any("back with" in t for t in api.sent(chat)))
            rig.model.says = "Standard shipping takes 3-5 business days."
            count = len(api.sent(chat))
            await shopper("How long does shipping take?")
            assert len(api.sent(chat)) == count + 1, "the bot answers again"
        finally:
            await telegram.close()


async def test_take_over_resolve_and_state_that_survives_a_restart(rig: Rig) -> None:
    async with websockets.connect(rig.ws) as ws:
        json.loads(await ws.recv())
        await say(ws, "/human", "r1")
        thread, customer = await rig.handover_thread()
        await rig.button(TAKE, customer, message_ts=thread)
        joined = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert "joined" in joined["text"]
        assert (await rig.store.handover_status(customer)).state == "staff"  # type: ignore[union-attr]

        # A restart: the old channel's desk stops, a new Slack channel (its app, its client, its
        # desk) starts on the same Redis.
        await rig.slack.stop_desk()
        restarted = SlackChannel(
            engine=rig.engine, store=rig.store, outbox=rig.outbox, knowledge=rig.knowledge, settings=rig.settings
        )
        restarted.start_desk()
        assert await rig.store.customer_for_thread(SUPPORT, thread) == customer
        assert (await say(ws, "are you still there?", "r2"))["type"] == "forwarded"
        await rig.fake.wait_for(lambda: any("still there" in t for t in rig.fake.texts(SUPPORT, thread)))

        body = button_body(rig.fake, RESOLVE, customer, message_ts=thread)
        headers = signed(body, content_type="application/x-www-form-urlencoded")
        response = await restarted.app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))
        assert response.status == 200
        resolved = json.loads(await asyncio.wait_for(ws.recv(), 10))
        assert "resolved" in resolved["text"]
        status = await rig.store.handover_status(customer)
        assert status is not None and status.state == "resolved" and status.thread_ts is None

        # A new hand-over after resolving opens a new thread.
        await say(ws, "/human", "r3")
        second_thread, same = await rig.handover_thread(before=1)
        assert same == customer and second_thread != thread
        await restarted.stop_desk()


async def test_a_reply_being_written_when_staff_take_over_is_withheld(rig: Rig) -> None:
    """The state is checked atomically as the reply is recorded, not only before it is written:
    staff who take over while the model writes get the message, and the shopper no reply."""
    async with websockets.connect(rig.ws) as ws:
        session = json.loads(await ws.recv())
        visitor = SessionTokens("s" * 32, ttl_s=3600).visitor(session["token"])
        assert visitor is not None
        customer = await rig.store.customer_for("web", visitor)
        writing = rig.model.completions

        async def taken_over_meanwhile(request: Request) -> Response:
            await rig.store.set_handover(customer, "staff", owner=STAFF)
            return await writing(request)

        rig.model.completions = taken_over_meanwhile  # type: ignore[method-assign]
        rig.model.app.router.routes[0] = Route("/v1/chat/completions", taken_over_meanwhile, methods=["POST"])
        silenced = await say(ws, "what sizes do the boots come in?", "a1")
    assert silenced["type"] == "forwarded"
    history = await rig.store.history(customer)
    assert [(m.role, m.text) for m in history] == [("user", "what sizes do the boots come in?")]


def test_outside_support_hours_the_shopper_is_told_when_to_expect_an_answer(store: Store) -> None:
    knowledge = ShopKnowledge(load_shop(DEMO_SHOP), store)
    saturday = datetime(2026, 11, 21, 12, 0, tzinfo=ZoneInfo("America/Denver"))
    friday_night = datetime(2026, 11, 20, 19, 0, tzinfo=ZoneInfo("America/Denver"))
    monday_early = datetime(2026, 11, 23, 6, 30, tzinfo=ZoneInfo("America/Denver"))
    tuesday_noon = datetime(2026, 11, 24, 12, 0, tzinfo=ZoneInfo("America/Denver"))
    assert "expect an answer here from Monday at 8:00 (MST)" in knowledge.handover_message("asked_for_person", saturday)
    assert "from Monday at 8:00" in knowledge.handover_message("asked_for_person", friday_night)
    assert "from today at 8:00" in knowledge.handover_message("asked_for_person", monday_early)
    assert "should reply here soon" in knowledge.handover_message("asked_for_person", tuesday_noon)


# -- what a review found: each a regression test ------------------------------------------------


async def test_a_staff_answer_quoting_a_shopper_pings_no_one(rig: Rig) -> None:
    async with websockets.connect(rig.ws) as ws:
        json.loads(await ws.recv())
        await say(ws, "hello <!channel> see <https://evil.example|your refund> order 1021 carla.m@example.org", "e1")
    await rig.dm("carla.m@example.org")
    await rig.fake.wait_for(lambda: rig.fake.posts("D0STAFF"))
    card = rig.fake.texts("D0STAFF")[0]
    assert "<!channel>" not in card and "<https://evil" not in card
    assert "&lt;!channel&gt;" in card


async def test_an_outsider_in_a_slack_connect_channel_is_not_staff(rig: Rig) -> None:
    ts = next_ts()
    event = {
        "type": "app_mention",
        "channel": SUPPORT,
        "user": "U0OUTSIDER",
        "user_team": "T0PARTNER",
        "team": "T0PARTNER",
        "text": f"<@{BOT_USER}> order 1021",
        "ts": ts,
    }
    body = json.loads(event_body(event))
    body["is_ext_shared_channel"] = True
    raw = json.dumps(body)
    assert (await rig.post(raw, signed(raw))).status_code == 200
    await rig.fake.wait_for(lambda: rig.fake.posts(SUPPORT))
    assert rig.fake.texts(SUPPORT) == [NOT_STAFF]


async def test_an_answer_in_an_open_channel_is_shown_only_to_who_asked(rig: Rig) -> None:
    ts = next_ts()
    event = {
        "type": "app_mention",
        "channel": "C0GENERAL",
        "user": STAFF,
        "text": f"<@{BOT_USER}> order 1021",
        "ts": ts,
    }
    await rig.event(event)
    await rig.fake.wait_for(lambda: rig.fake.of("chat.postEphemeral"))
    [shown] = rig.fake.of("chat.postEphemeral")
    assert shown.params["user"] == STAFF and "Order 1021" in shown.params["text"]
    assert rig.fake.posts("C0GENERAL") == []


async def test_a_note_with_a_mention_or_bold_stays_internal(rig: Rig) -> None:
    async with websockets.connect(rig.ws) as ws:
        json.loads(await ws.recv())
        await say(ws, "/human", "n1")
        thread, customer = await rig.handover_thread()
        await rig.thread_reply(thread, "<@U0BOSS> note: refund approved")
        await rig.thread_reply(thread, "*note:* the parcel is lost")
        await rig.fake.wait_for(
            lambda: len([c for c in rig.fake.of("reactions.add") if c.params["name"] == "memo"]) == 2
        )
    assert not [m for m in await rig.store.history(customer) if m.role == "staff"]


async def test_desk_events_a_dead_process_left_are_taken_over(rig: Rig) -> None:
    await rig.slack.stop_desk()
    async with websockets.connect(rig.ws) as ws:
        json.loads(await ws.recv())
        await say(ws, "/human", "d1")
    # A process read the hand-over and died before posting it.
    [(entry, event)] = await rig.store.read_desk("slack", "gone-1234", pending=False, block_ms=100)
    assert event is not None and rig.handover_posts() == []
    await rig.store.redis.delete("test:lead:desk")  # its lease lapsed
    rig.slack.start_desk(stale_ms=0)
    thread, customer = await rig.handover_thread()
    assert customer == event.customer_id


async def test_one_event_slack_refuses_is_set_aside_and_the_next_are_posted(rig: Rig) -> None:
    rig.fake.refuse["chat.postMessage"] = ["invalid_blocks"] * 3
    async with websockets.connect(rig.ws) as ws:
        json.loads(await ws.recv())
        await say(ws, "/human", "x1")
    async with websockets.connect(rig.ws) as ws:
        json.loads(await ws.recv())
        await say(ws, "/human", "x2")
    await rig.fake.wait_for(lambda: rig.handover_posts(), timeout=20)
    assert len(rig.fake.of("chat.postMessage:refused")) == 3
    dead = await rig.store.redis.xrange("test:desk:dead")
    assert len(dead) == 1 and dead[0][1]["reason"] == "invalid_blocks"
    assert len(rig.handover_posts()) == 1


async def test_only_one_process_reads_the_desk(store: Store) -> None:
    assert await store.lead("desk", "a", ttl_ms=5000)
    assert not await store.lead("desk", "b", ttl_ms=5000)
    assert await store.lead("desk", "a", ttl_ms=5000), "the holder keeps it"
    await store.redis.pexpire("test:lead:desk", 1)
    await asyncio.sleep(0.01)
    assert await store.lead("desk", "b", ttl_ms=5000), "a lapsed lease is taken over"


def test_a_copy_buttons_value_fits_slacks_limit_whatever_the_brief() -> None:
    product = load_shop(DEMO_SHOP).offered[0]
    writer = Copywriter(lambda: load_shop(DEMO_SHOP).profile)
    for brief in ("ü" * 3000, "😀" * 3000, "a" * 5000):
        copy = writer.write(product, brief)
        [value] = {b["value"] for b in copy_blocks(copy)[-1]["elements"]}
        assert len(value) <= 2000 and json.loads(value)["p"] == product.id


async def test_the_slack_benchmark_hands_every_shopper_over_once_and_to_the_right_person(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path, redis_prefix="slackbench", slack={"channel_interval_s": 0.1})
    report = await run_slack_bench(settings, shoppers=6, chaos=0.3)
    assert report.threads_once == report.replies_right == report.silent_and_mirrored == 6, report
    assert report.limited > 0, "the fake answered 429s, and they were retried after Retry-After"
    assert report.closest_s >= 0.09 and report.seconds >= report.lower_bound_s, report
    assert str(report).count("p50") == 3


async def test_the_handover_post_shows_the_conversation_and_the_engine_hands_over_by_itself(rig: Rig) -> None:
    """Not /human: the understanding heads read a request for a person, the turn is recorded
    with the hand-over, and the post summarises what came before."""
    rig.model.says = "Our return window is 30 days from delivery."
    async with websockets.connect(rig.ws) as ws:
        json.loads(await ws.recv())
        await say(ws, "What is your return window?", "s1")
        await say(ws, "My boots from order 1021 fell apart after a week", "s2")
        handed = await say(ws, "I want to speak to a real person please", "s3")
        assert handed["type"] == "reply" and "handed_over" in handed["flags"], handed
        thread, customer = await rig.handover_thread()
    shown = json.dumps(rig.handover_posts()[0]["blocks"])
    assert "What is your return window?" in shown, "the summary quotes the first question"
    assert "I want to speak to a real person please" in shown, "and the latest"
    assert "fell apart after a week" in shown, "the last messages are shown"
    assert re.search(r"[+-]\d\.\d\d", shown), "sentiment scores"
    status = await rig.store.handover_status(customer)
    assert status is not None and status.state == "waiting" and status.thread_ts == thread


async def test_staff_find_the_customer_behind_an_order_number(rig: Rig) -> None:
    async with websockets.connect(rig.ws) as ws:
        json.loads(await ws.recv())
        await say(ws, "Where is my order 1021? My email is carla.m@example.org", "o1")
    await rig.dm("order 1021")
    await rig.fake.wait_for(lambda: rig.fake.posts("D0STAFF"))
    card = rig.fake.texts("D0STAFF")[0]
    assert "Order 1021" in card and "*Customer*" in card and "Where is my order 1021?" in card


async def test_the_outbox_reaches_a_staff_member_through_the_paced_client(rig: Rig) -> None:
    await rig.dm("order 1021")  # the staff member is a customer of the slack channel now
    await rig.fake.wait_for(lambda: rig.fake.posts("D0STAFF"))
    staff_customer = await rig.store.find_customer("slack", STAFF)
    assert staff_customer is not None
    assert await rig.outbox.send(staff_customer, "Shift swap <tomorrow>?", role="assistant") == ["slack"]
    [notice] = rig.fake.posts(STAFF)
    assert notice["text"] == "Shift swap &lt;tomorrow&gt;?"


async def test_an_event_a_process_acknowledged_and_died_with_is_handled_by_another(rig: Rig) -> None:
    async with websockets.connect(rig.ws) as ws:
        json.loads(await ws.recv())
        await say(ws, "/human", "k1")
        thread, _ = await rig.handover_thread()
        reply = {"type": "message", "channel": SUPPORT, "channel_type": "channel", "user": STAFF}
        body = event_body({**reply, "text": "Sam here, sorry for the wait.", "ts": next_ts(), "thread_ts": thread})
        # What a process that acknowledged the event and died left behind, three minutes ago.
        stale = f"{int(time.time() * 1000) - 180_000}-0"
        await rig.store.redis.xadd("test:inbox:slack", {"body": body}, id=stale)
        assert await rig.slack.recover() == 1
        pushed = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for _ in range(2)]
        assert [p["text"] for p in pushed][-1] == "Sam here, sorry for the wait."
    assert await rig.store.redis.xlen("test:inbox:slack") == 0
    assert await rig.slack.recover() == 0
    await rig.dm("order 1021")  # handled as usual: nothing is left in the inbox either
    await rig.fake.wait_for(lambda: rig.fake.posts("D0STAFF"))
    await asyncio.sleep(0.2)
    assert await rig.store.redis.xlen("test:inbox:slack") == 0


async def test_a_reply_in_a_thread_of_ours_that_leads_to_no_shopper_is_told_so(rig: Rig) -> None:
    event = {
        "type": "message",
        "channel": SUPPORT,
        "channel_type": "channel",
        "user": STAFF,
        "text": "Hello?",
        "ts": next_ts(),
        "thread_ts": "1600000000.000001",
        "parent_user_id": BOT_USER,
    }
    await rig.event(event)
    await rig.fake.wait_for(lambda: rig.fake.posts(SUPPORT))
    assert "not linked to a shopper" in rig.fake.texts(SUPPORT, "1600000000.000001")[0]
    chatter = {**event, "ts": next_ts(), "thread_ts": "1600000000.000002", "parent_user_id": "U0SOMEONE"}
    await rig.event(chatter)
    await asyncio.sleep(0.3)
    assert rig.fake.texts(SUPPORT, "1600000000.000002") == [], "the channel's own threads are left alone"
