"""One pace for everything the bot sends, as an aiogram request middleware: about 30 calls a
second for the whole bot and one message a second per chat (edits count, as Telegram counts
them); a 429 waits exactly its `retry_after`; a network error, a 5xx or an answer that is not
JSON is retried with backoff.

Every call goes through `bot.session`, so a reply, a streaming edit, a notice from staff and a
"typing" action share the same limits without each caller having to remember them. A chat's
wait is its own: one chat held by a 429, or flooding, never holds another.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import ClientDecodeError, TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import AnswerCallbackQuery, GetMe, GetUpdates, GetWebhookInfo, SendChatAction, TelegramMethod
from aiogram.methods.base import Response, TelegramType

log = logging.getLogger(__name__)

# Calls that are not messages to a chat: polling and set-up are not paced at all; a typing
# action and a button's acknowledgement count towards the bot's rate but not a chat's.
_UNPACED = (GetUpdates, GetMe, GetWebhookInfo)
_NOT_A_MESSAGE = (SendChatAction, AnswerCallbackQuery)
# Two calls that leave exactly a second apart can arrive closer than that (measured: 2 ms
# closer through the fake Bot API): a little more than the limit keeps them under it.
_MARGIN = 1.02
# A 429 is Telegram asking for patience, not a failure: it gets more tries than an error.
_RETRY_AFTER_TRIES = 20


class _Chat:
    """A chat's turn: one message in flight at a time, the next no sooner than `ready_at`."""

    def __init__(self) -> None:
        self.lock = asyncio.Lock()
        self.ready_at = 0.0


class SendLimits(BaseRequestMiddleware):
    def __init__(
        self,
        *,
        per_second: float = 30.0,
        chat_interval_s: float = 1.0,
        retries: int = 5,
        sleep: Callable[[float], Awaitable[Any]] = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._gap = _MARGIN / per_second
        self._chat_gap = chat_interval_s * _MARGIN
        self._retries = retries
        self._sleep = sleep
        self._clock = clock
        self._last = float("-inf")  # when the bot's last call left
        self._bot_lock = asyncio.Lock()
        self._chats: dict[str, _Chat] = {}
        self.retried_after = 0  # 429s waited out, for tests and the benchmark

    def _chat(self, chat_id: object) -> _Chat:
        key = str(chat_id)  # the outbox's "123" and a worker's 123 are one chat
        chat = self._chats.get(key)
        if chat is None:
            if len(self._chats) >= 10_000:  # forget idle chats; at most once per 10,000 new ones
                now = self._clock()
                self._chats = {k: c for k, c in self._chats.items() if c.lock.locked() or c.ready_at > now}
            chat = self._chats[key] = _Chat()
        return chat

    async def _bot_turn(self) -> None:
        """Wait until a gap has passed since the bot's last call left, one caller at a time.
        Spaced by when calls really leave, not by booked moments: a loop busy elsewhere for a
        while would wake several booked calls at once, and they would leave in a burst
        (measured: 47 in one second against a limit of 30)."""
        async with self._bot_lock:
            wait = self._last + self._gap - self._clock()
            if wait > 0:
                await self._sleep(wait)
            self._last = self._clock()

    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType]
    ) -> Response[TelegramType]:
        paced = not isinstance(method, _UNPACED)
        if not paced:
            return await make_request(bot, method)
        message = not isinstance(method, _NOT_A_MESSAGE)
        chat_id = getattr(method, "chat_id", None) if message else None
        if chat_id is None:
            return await self._send(make_request, bot, method, None)
        chat = self._chat(chat_id)
        async with chat.lock:  # a chat's messages leave one at a time, spaced from when each left
            return await self._send(make_request, bot, method, chat)

    async def _send(
        self,
        make_request: NextRequestMiddlewareType[TelegramType],
        bot: Bot,
        method: TelegramMethod[TelegramType],
        chat: _Chat | None,
    ) -> Response[TelegramType]:
        failures = waits = 0
        while True:
            if chat is not None and chat.ready_at > self._clock():
                await self._sleep(chat.ready_at - self._clock())
            await self._bot_turn()
            if chat is not None:
                chat.ready_at = self._clock() + self._chat_gap
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                # Exactly what Telegram asked for: sooner is another 429, later is lost time.
                self.retried_after += 1
                waits += 1
                if waits > _RETRY_AFTER_TRIES:
                    raise
                log.info("telegram %s: 429, waiting %s s", type(method).__name__, exc.retry_after)
                if chat is not None:
                    chat.ready_at = self._clock() + exc.retry_after
                else:
                    await self._sleep(exc.retry_after)
            except (TelegramNetworkError, TelegramServerError, ClientDecodeError) as exc:
                failures += 1
                if failures > self._retries:
                    raise
                backoff = min(30.0, 0.5 * 2 ** (failures - 1))
                log.info("telegram %s failed (%s), retry %d in %.1f s", type(method).__name__, exc, failures, backoff)
                await self._sleep(backoff)
