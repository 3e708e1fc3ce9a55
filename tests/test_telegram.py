"""The Telegram channel: the real aiogram Bot and Dispatcher against a fake Bot API server
(adapters/telegram_fake.py, real HTTP on port 0), the real engine on real Redis with the demo
shop, and a model behind a fake OpenAI-compatible server that says what each test scripts."""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from aiogram.types import Update
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response

from adapters.telegram import NOT_TEXT, SECRET_HEADER, TelegramChannel, create_bot, keyboard, set_webhook
from adapters.telegram_bench import run_telegram_bench
from adapters.telegram_fake import TOKEN, FakeBotApi, serve_bot_api
from adapters.telegram_text import split
from adapters.web import create_app
from adapters.web_sessions import SessionTokens
from bot.engine import Engine
from bot.knowledge.grounding import ShopKnowledge
from bot.knowledge.shop import DEMO_SHOP, load_shop
from bot.llm.remote import RemoteModel
from bot.messages import QuickReply
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.settings import EngineSettings, TelegramSettings, WebSettings, load_settings
from bot.store import Store
from bot.understanding import Understander
from bot.understanding.encoder import SentenceEncoder
from tests.conftest import GREEDY
from tests.servers import serve_asgi
from tests.test_grounding import ScriptedModel

SECRET = "s3cret_webhook-token"
CHAT = 5001


class SlowModel(ScriptedModel):
    """Streams its words `delay` seconds apart, as a model writing on a CPU does."""

    delay = 0.0

    async def completions(self, request: Request) -> Response:
        response = await super().completions(request)
        if self.delay:
            inner = response.body_iterator  # type: ignore[attr-defined]

            async def slowly() -> Any:
                async for chunk in inner:
                    await asyncio.sleep(self.delay)
                    yield chunk

            response.body_iterator = slowly()  # type: ignore[attr-defined]
        return response


@dataclass
class Rig:
    api: FakeBotApi
    model: SlowModel
    channel: TelegramChannel
    settings: TelegramSettings
    engine: Engine

    def update(self, payload: dict[str, Any]) -> Update:
        return Update.model_validate(payload, context={"bot": self.channel.bot})

    async def say(self, text: str, chat: int = CHAT) -> dict[str, Any]:
        update = self.api.push(message=self.api.message(chat, text))
        await self.channel.feed(self.update(update))
        await self.channel.idle()
        return update


@contextlib.asynccontextmanager
async def _rig(store: Store, understander: Understander, knowledge: ShopKnowledge | None) -> AsyncIterator[Rig]:
    api, model = FakeBotApi(), SlowModel()
    async with serve_bot_api(api) as api_url, serve_asgi(model.app) as model_url:
        llm = RemoteModel(model_url + "/v1", model_name="scripted", context_window=8192)
        engine = Engine(
            store=store,
            llm=llm,
            settings=EngineSettings(),
            generation=GREEDY,
            metrics=Metrics(),
            knowledge=knowledge,
            understander=understander,
        )
        settings = TelegramSettings(
            token=TOKEN, api_url=api_url, chat_interval_s=0.2, webhook_secret=SECRET, mode="webhook", retries=2
        )
        channel = TelegramChannel(engine, create_bot(settings), settings)
        try:
            yield Rig(api, model, channel, settings, engine)
        finally:
            await channel.close()
            await llm.aclose()


@pytest.fixture
async def rig(store: Store, understander: Understander) -> AsyncIterator[Rig]:
    """The channel under test, not the answers: no shop knowledge, the scripted model's words are the reply."""
    async with _rig(store, understander, None) as made:
        yield made


@pytest.fixture
async def shop_rig(store: Store, understander: Understander, encoder: SentenceEncoder) -> AsyncIterator[Rig]:
    async with _rig(store, understander, ShopKnowledge(load_shop(DEMO_SHOP), store, encoder)) as made:
        yield made


async def test_long_polling_answers_a_private_message(rig: Rig) -> None:
    rig.model.says = "Hello! How can I help you today?"
    rig.model.delay = 0.25  # a reply that takes its time: the shopper sees the bot typing
    rig.api.webhook_url = "https://old.example/hook"  # polling takes over from a webhook
    polling = asyncio.create_task(rig.channel.poll())
    try:
        rig.api.push(message=rig.api.message(CHAT, "hi there"))
        await rig.api.wait_for(lambda: rig.api.sent(CHAT) == ["Hello! How can I help you today?"])
    finally:
        polling.cancel()
        await asyncio.gather(polling, return_exceptions=True)
    assert rig.api.of("sendChatAction", CHAT), "the shopper sees the bot typing"
    assert rig.api.of("getUpdates") and rig.api.of("deleteWebhook")


async def test_the_webhook_needs_its_secret_and_processes_nothing_without_it(rig: Rig) -> None:
    rig.model.says = "Hello! Happy to help."
    app = Starlette(routes=[rig.channel.webhook_route()])
    update = rig.api.push(message=rig.api.message(CHAT, "hello"))
    async with serve_asgi(app) as base, httpx.AsyncClient(base_url=base) as client:
        path = rig.settings.webhook_path
        assert (await client.post(path, json=update)).status_code == 401
        assert (await client.post(path, json=update, headers={SECRET_HEADER: "wrong"})).status_code == 401
        await rig.channel.idle()
        assert not rig.api.of("sendMessage"), "a refused update is not processed"
        bad = await client.post(path, content=b"{not json", headers={SECRET_HEADER: SECRET})
        assert bad.status_code == 400
        huge = await client.post(path, content=b"[" * 2_000_000, headers={SECRET_HEADER: SECRET})
        assert huge.status_code == 413
        ok = await client.post(path, json=update, headers={SECRET_HEADER: SECRET})
        assert ok.status_code == 200
        await rig.channel.idle()
    assert rig.api.sent(CHAT) == ["Hello! Happy to help."]


async def test_an_update_delivered_twice_is_answered_once(rig: Rig) -> None:
    rig.model.says = "We ship to the US, Canada and Mexico."
    update = await rig.say("where do you ship?")
    await rig.channel.feed(rig.update(update))
    await rig.channel.idle()
    assert rig.api.sent(CHAT) == ["We ship to the US, Canada and Mexico."]


async def test_a_burst_from_one_shopper_is_answered_in_order(rig: Rig) -> None:
    rig.model.says = "Noted."
    for text in ("first question", "second question", "third question"):
        update = rig.api.push(message=rig.api.message(CHAT, text))
        await rig.channel.feed(rig.update(update))
    await rig.channel.idle()
    asked = [prompt[-1]["content"] for prompt in rig.model.prompts]
    assert asked == ["first question", "second question", "third question"]
    assert rig.api.sent(CHAT) == ["Noted."] * 3


async def test_a_long_message_is_split_at_sentences_and_nothing_is_lost(rig: Rig) -> None:
    sentence = "Our Trail Bottle & <Thermo> Flask keep water cold for a whole day of hiking. "
    text = (sentence * 80).strip()  # 6,000 characters, more once "&" and "<" are escaped
    await rig.channel.send(CHAT, text)
    sent = rig.api.sent(CHAT)
    assert len(sent) == 2 and all(len(piece) <= 4096 and piece.endswith(".") for piece in sent), sent
    assert " ".join(sent) == text


def test_split_cuts_at_paragraphs_then_sentences_then_words() -> None:
    text = ("a" * 3000) + "\n\n" + ("b " * 1000)
    assert [len(p) for p in split(text)] == [3000, len(("b " * 1000).strip())]
    words = " ".join(["word"] * 2000)
    pieces = split(words)
    assert all(len(p) <= 4096 and not p.startswith(" ") for p in pieces) and " ".join(pieces) == words
    assert split("x" * 5000) == ["x" * 4096, "x" * 904]  # a word longer than a message is cut


async def test_product_names_with_html_characters_are_escaped(rig: Rig) -> None:
    rig.model.says = "Our <Summit> mug & the tea_pot *deal*: see you soon."
    await rig.say("hello")
    assert rig.api.sent(CHAT) == ["Our <Summit> mug & the tea_pot *deal*: see you soon."]


async def test_a_429_waits_exactly_retry_after(rig: Rig) -> None:
    rig.model.says = "Thanks for waiting."
    rig.api.failures.append(("sendMessage", "429", 1))
    await rig.say("hi")
    refused, sent = rig.api.failed[0], rig.api.of("sendMessage", CHAT)[0]
    waited = sent.at - refused.at
    assert 1.0 <= waited < 1.5, waited
    assert rig.api.sent(CHAT) == ["Thanks for waiting."]


async def test_server_errors_and_dropped_connections_are_retried(rig: Rig) -> None:
    rig.model.says = "Still here."
    rig.api.failures += [("sendMessage", "500", 0), ("sendMessage", "drop", 0)]
    await rig.say("hello?")
    assert len(rig.api.failed) == 2 and rig.api.sent(CHAT) == ["Still here."]


async def test_the_reply_streams_in_edits_no_faster_than_the_chat_allows(rig: Rig) -> None:
    rig.model.says = "Hello! " + " ".join(["We have lovely gear for every trail and season."] * 4)
    rig.model.delay = 0.04
    await rig.say("hello")
    writes = rig.api.of("sendMessage", CHAT) + rig.api.of("editMessageText", CHAT)
    writes.sort(key=lambda call: call.at)
    assert len(writes) >= 3, "the reply grew on screen"
    gaps = [b.at - a.at for a, b in zip(writes, writes[1:], strict=False)]
    assert min(gaps) >= rig.settings.chat_interval_s * 0.85, gaps  # measured on arrival
    assert rig.api.sent(CHAT) == [rig.model.says], "the final text is complete"


async def test_quick_replies_are_buttons_and_a_press_is_the_next_message(rig: Rig) -> None:
    await rig.say("/forget")
    asked = rig.api.of("sendMessage", CHAT)[-1]
    buttons = [b for row in json.loads(asked.params["reply_markup"])["inline_keyboard"] for b in row]
    assert [b["text"] for b in buttons] == ["Yes, delete everything", "No, keep it"]
    sent_message = {"message_id": max(rig.api.texts), "date": 0, "chat": {"id": CHAT, "type": "private"}, "text": "?"}
    press = rig.api.push(
        callback_query={
            "id": "cq1",
            "from": {"id": CHAT, "is_bot": False, "first_name": "Ana"},
            "chat_instance": "ci",
            "message": {**sent_message, "reply_markup": {"inline_keyboard": [[b] for b in buttons]}},
            "data": buttons[0]["callback_data"],
        }
    )
    await rig.channel.feed(rig.update(press))
    await rig.channel.idle()
    assert rig.api.of("answerCallbackQuery")
    assert rig.api.sent(CHAT)[-1].startswith("Done: I've deleted our conversation"), rig.api.sent(CHAT)


async def test_start_greets_with_the_shops_name_and_human_asks_for_a_person(shop_rig: Rig) -> None:
    await shop_rig.say("/start")
    assert shop_rig.api.sent(CHAT)[-1].startswith("Hello! I'm Trailhead Supply Co.'s assistant.")
    await shop_rig.say("/human")
    assert "asked a person from our team" in shop_rig.api.sent(CHAT)[-1]


async def test_other_kinds_of_update_get_a_word_or_nothing_and_never_raise(rig: Rig) -> None:
    photo = [{"file_id": "p", "file_unique_id": "u", "width": 1, "height": 1}]
    for kind in (
        {"photo": photo},
        {
            "sticker": {
                "file_id": "s",
                "file_unique_id": "u",
                "type": "regular",
                "width": 1,
                "height": 1,
                "is_animated": False,
                "is_video": False,
            }
        },
        {"location": {"latitude": 1.0, "longitude": 2.0}},
        {"voice": {"file_id": "v", "file_unique_id": "u", "duration": 1}},
    ):
        await rig.channel.feed(rig.update(rig.api.push(message=rig.api.message(CHAT, None, **kind))))
    await rig.channel.idle()
    assert rig.api.sent(CHAT) == [NOT_TEXT] * 4
    # Documented no-ops: edits, groups, channels.
    quiet = [
        {"edited_message": {**rig.api.message(CHAT, "edited"), "edit_date": 1}},
        {"message": rig.api.message(-100, "hello group", chat_type="group")},
        {"channel_post": rig.api.message(-200, "a post", chat_type="channel")},
    ]
    for payload in quiet:
        await rig.channel.feed(rig.update(rig.api.push(**payload)))
    await rig.channel.idle()
    assert len(rig.api.of("sendMessage")) == 4


async def test_set_webhook_registers_once(rig: Rig) -> None:
    url = "https://shop.example/telegram/webhook"
    assert (await set_webhook(rig.channel.bot, url, SECRET)).startswith("webhook set")
    assert (await set_webhook(rig.channel.bot, url, SECRET)).startswith("the webhook is already")
    (call,) = rig.api.of("setWebhook")
    assert call.params["secret_token"] == SECRET and TOKEN not in call.params["url"]


async def test_the_benchmark_answers_every_message_once_in_order_within_the_limits(tmp_path: Path) -> None:
    """`shopbot bench telegram`, small: the same checks it prints, asserted."""
    settings = load_settings(
        data_dir=tmp_path, redis_prefix="tgbench", telegram={"chat_interval_s": 0.3, "messages_per_second": 20}
    )
    report = await run_telegram_bench(settings, chats=12, messages=3, chaos=0.1)
    assert report.answered_once_in_order == 12 and report.replies_sent == 36, report
    assert report.refused_by_fake > 0, "the fake injected failures, and they were retried"
    assert report.busiest_second <= 20 and report.closest_in_chat_s >= 0.3, report
    assert report.seconds >= report.lower_bound_s


async def test_out_of_order_and_in_flight_repeats_are_each_answered_once(rig: Rig) -> None:
    rig.model.says = "Noted."
    first = rig.api.push(message=rig.api.message(CHAT, "first question"))
    second = rig.api.push(message=rig.api.message(CHAT, "second question"))
    # The second arrives before the first, and the first twice while it is being answered.
    for update in (second, first, first):
        await rig.channel.feed(rig.update(update))
    await rig.channel.idle()
    assert [p[-1]["content"] for p in rig.model.prompts] == ["second question", "first question"]
    assert rig.api.sent(CHAT) == ["Noted.", "Noted."]
    # A photo delivered twice gets one polite word, not two.
    picture = [{"file_id": "p", "file_unique_id": "u", "width": 1, "height": 1}]
    photo = rig.api.push(message=rig.api.message(CHAT, None, photo=picture))
    for _ in range(2):
        await rig.channel.feed(rig.update(photo))
    await rig.channel.idle()
    assert rig.api.sent(CHAT).count(NOT_TEXT) == 1


async def test_a_reply_that_cannot_be_sent_is_kept_and_the_chat_goes_on(rig: Rig) -> None:
    rig.model.says = "Hello there!"
    rig.api.failures += [("sendMessage", "500", 0)] * (rig.settings.retries + 1)
    await rig.say("hello")
    assert rig.api.sent(CHAT) == [] and [u.pieces for u in rig.channel.undelivered] == [["Hello there!"]]
    await rig.say("hello again")  # the next message of the chat is still answered
    assert rig.api.sent(CHAT) == ["Hello there!"]


async def test_a_429_in_one_chat_does_not_hold_another(rig: Rig) -> None:
    rig.model.says = "Hi!"
    rig.api.failures.append(("sendMessage", "429", 3))
    other = 6002
    await rig.channel.feed(rig.update(rig.api.push(message=rig.api.message(CHAT, "hello"))))
    await rig.api.wait_for(lambda: bool(rig.api.failed))  # the first chat's reply is refused: 3 s
    await rig.channel.feed(rig.update(rig.api.push(message=rig.api.message(other, "hello"))))
    await rig.api.wait_for(lambda: rig.api.sent(other) == ["Hi!"], timeout=2.5)
    assert rig.api.sent(CHAT) == [], "still waiting out its 429"
    await rig.channel.idle()
    assert rig.api.sent(CHAT) == ["Hi!"]


async def test_a_button_whose_text_is_too_long_for_telegram_sends_its_label(rig: Rig) -> None:
    markup = keyboard([QuickReply(label="Long Product", text="Tell me about the " + "Very Long Name " * 5)])
    assert markup is not None
    (button,) = markup.inline_keyboard[0]
    assert button.callback_data == "#0"
    rig.model.says = "It is lovely."
    message = {"message_id": 1, "date": 0, "chat": {"id": CHAT, "type": "private"}, "text": "?"}
    press = rig.api.push(
        callback_query={
            "id": "cq2",
            "from": {"id": CHAT, "is_bot": False, "first_name": "Ana"},
            "chat_instance": "ci",
            "message": {**message, "reply_markup": markup.model_dump(exclude_none=True)},
            "data": "#0",
        }
    )
    await rig.channel.feed(rig.update(press))
    await rig.channel.idle()
    assert rig.model.prompts[-1][-1]["content"] == "Long Product"


async def test_link_joins_a_telegram_chat_and_a_widget_visitor_into_one_conversation(rig: Rig, store: Store) -> None:
    rig.model.says = "Hello from the shop!"
    await rig.say("hello from telegram")
    await rig.say("/link")
    offer = rig.api.sent(CHAT)[-1]
    code = re.search(r"Your code is ([A-Z0-9]{3}-[A-Z0-9]{3})", offer)
    assert code is not None, offer
    sessions = SessionTokens("secret", ttl_s=3600)
    app = create_app(engine=rig.engine, settings=WebSettings(), sessions=sessions, metrics=Metrics())
    async with serve_asgi(app) as base:
        ws_url = base.replace("http://", "ws://") + "/ws"
        replies = []
        async with websockets.connect(ws_url) as ws:
            token = json.loads(await ws.recv())["token"]
            # The code typed as read (any case), then again: it works once.
            for n, text in enumerate(["hello from the website", code.group(1).lower(), code.group(1)]):
                await ws.send(json.dumps({"type": "message", "text": text, "id": f"w{n}"}))
                frame = json.loads(await ws.recv())
                while frame["type"] not in ("reply", "error"):
                    frame = json.loads(await ws.recv())
                replies.append(frame)
        assert replies[1]["text"].startswith("Done: this chat and your other one are now one conversation")
        assert replies[2]["text"].startswith("That code doesn't work"), "single use"
        # Back on the widget: one history, both channels, in time order.
        async with websockets.connect(ws_url + f"?token={token}") as ws:
            history = json.loads(await ws.recv())
        messages = history["messages"]
        assert [m["role"] for m in messages] == ["user", "assistant", "user", "assistant"]
        assert [m["text"] for m in messages if m["role"] == "user"] == ["hello from telegram", "hello from the website"]
        assert [m["ts"] for m in messages] == sorted(m["ts"] for m in messages)
    # And the Telegram side sees the same customer.
    visitor = sessions.visitor(token)
    assert visitor is not None
    assert await store.customer_for("telegram", str(CHAT)) == await store.customer_for("web", visitor)


async def test_link_codes_are_rate_limited_and_guessing_stops(rig: Rig) -> None:
    for _ in range(6):
        await rig.say("/link")
    assert rig.api.sent(CHAT)[-1].startswith("You've asked for several codes"), "five codes an hour"
    for guess in ("AAA-AAA", "BBB-BBB", "CCC-CCC", "DDD-DDD", "EEE-EEE", "FFF-FFF"):
        await rig.say(guess)
    assert rig.api.sent(CHAT)[-1].startswith("Too many codes didn't work")


async def test_the_outbox_reaches_a_telegram_shopper_and_keeps_the_message(rig: Rig, store: Store) -> None:
    rig.model.says = "Hello!"
    await rig.say("hello")
    outbox = Outbox(store)
    outbox.register("telegram", rig.channel)
    customer = await store.customer_for("telegram", str(CHAT))
    assert await outbox.send(customer, "Hi, this is Sam from the team: your parcel leaves today.") == ["telegram"]
    assert rig.api.sent(CHAT)[-1] == "Hi, this is Sam from the team: your parcel leaves today."
    last = (await store.history(customer))[-1]
    assert (last.role, last.channel) == ("staff", "telegram")
    # A shopper with no channel to reach right now finds it in their history.
    visitor = await store.customer_for("web", "somebody")
    assert await outbox.send(visitor, "We found your glove.") == []
    assert [m.text for m in await store.history(visitor)] == ["We found your glove."]
