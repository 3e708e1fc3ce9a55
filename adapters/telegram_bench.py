"""`shopbot bench telegram`: many chats, several messages each, through the real Telegram
channel (aiogram, long polling, the limiter) and the real engine (Redis, understanding, the
shop's knowledge), against the fake Bot API injecting 429s and 5xx at random.

It checks what the issue asks: every message answered exactly once and in order (the
conversation recorded in Redis, and the messages the fake saw), no chat sent to faster than
`CHAT_INTERVAL_S` and the bot never over `MESSAGES_PER_SECOND` (measured by the fake), and the
time to finish against the lower bound those limits allow. The model is an instant stand-in
(`InstantModel`): the figures are the channel's, not the model's.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass

from pydantic import SecretStr

from adapters.telegram import TelegramChannel, create_bot
from adapters.telegram_fake import TOKEN, FakeBotApi, bot_api_in_thread
from bot.llm.instant import InstantModel
from bot.runtime import open_runtime
from bot.settings import Settings

QUESTIONS = (
    "Hello!",
    "Do you ship to Canada?",
    "What is your return policy?",
    "Can I pay with PayPal?",
    "Thanks, that's all.",
)


@dataclass(frozen=True)
class TelegramBenchReport:
    chats: int
    messages: int
    answered_once_in_order: int  # chats whose every message was answered once, in order
    replies_sent: int
    refused_by_fake: int  # 429s and 5xx the fake injected
    seconds: float
    lower_bound_s: float
    busiest_second: int
    closest_in_chat_s: float
    per_second: float
    chat_interval_s: float

    def __str__(self) -> str:
        return "\n".join(
            [
                f"{self.chats} chats x {self.messages} messages through the fake Bot API "
                f"({self.refused_by_fake} calls answered 429 or 5xx)",
                f"  answered exactly once, in order: {self.answered_once_in_order}/{self.chats} chats "
                f"({self.replies_sent} replies sent)",
                f"  busiest second:   {self.busiest_second} messages (limit {self.per_second:g}/s)",
                f"  closest in chat:  {self.closest_in_chat_s:.3f} s (limit {self.chat_interval_s:g} s)",
                f"  time to finish:   {self.seconds:.1f} s; lower bound {self.lower_bound_s:.1f} s "
                f"({self.seconds / self.lower_bound_s:.2f}x)",
            ]
        )


async def run_telegram_bench(
    settings: Settings, *, chats: int = 500, messages: int = 5, chaos: float = 0.05, timeout_s: float = 900
) -> TelegramBenchReport:
    api = FakeBotApi(chaos=chaos)
    # The fake on its own thread and loop: it times calls as they arrive, not when a loop busy
    # with the engine gets round to them.
    with bot_api_in_thread(api) as api_url:
        return await _run(api, api_url, settings, chats, messages, timeout_s)


async def _run(
    api: FakeBotApi, api_url: str, settings: Settings, chats: int, messages: int, timeout_s: float
) -> TelegramBenchReport:
    async with open_runtime(settings, model=InstantModel()) as runtime:
        telegram = settings.telegram.model_copy(update={"token": SecretStr(TOKEN), "api_url": api_url})
        channel = TelegramChannel(runtime.engine, create_bot(telegram), telegram)
        first = 10_000
        for round_ in range(messages):  # every chat's first message, then every chat's second, ...
            for chat in range(first, first + chats):
                api.push(message=api.message(chat, QUESTIONS[round_ % len(QUESTIONS)]))
        started = time.monotonic()
        polling = asyncio.create_task(channel.poll())
        try:
            deadline = started + timeout_s
            while len(api.of("sendMessage")) < chats * messages and time.monotonic() < deadline:
                await asyncio.sleep(0.1)
            await channel.idle()
            seconds = time.monotonic() - started
        finally:
            polling.cancel()
            await asyncio.gather(polling, return_exceptions=True)
            await channel.close()
        # Counted once over all calls, not once per chat.
        replies_to = Counter(int(c.params["chat_id"]) for c in api.of("sendMessage"))
        writes_to = replies_to + Counter(int(c.params["chat_id"]) for c in api.of("editMessageText"))
        expected = [QUESTIONS[i % len(QUESTIONS)] for i in range(messages)]
        good = 0
        for chat in range(first, first + chats):
            history = await runtime.engine.history("telegram", str(chat), 4 * messages)
            asked = [m.text for m in history if m.role == "user"]
            replies = [m for m in history if m.role == "assistant"]
            good += asked == expected and len(replies) == messages and replies_to[chat] == messages
        sends = writes_to.total()
        per_chat = max(writes_to.values(), default=0)
        bound = max(sends / telegram.messages_per_second, (per_chat - 1) * telegram.chat_interval_s)
        return TelegramBenchReport(
            chats=chats,
            messages=messages,
            answered_once_in_order=good,
            replies_sent=len(api.of("sendMessage")),
            refused_by_fake=len(api.failed),
            seconds=seconds,
            lower_bound_s=bound,
            busiest_second=api.busiest_second(),
            closest_in_chat_s=api.closest_in_chat(),
            per_second=telegram.messages_per_second,
            chat_interval_s=telegram.chat_interval_s,
        )
