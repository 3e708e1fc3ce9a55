"""One pace for everything the bot sends, as an aiogram request middleware: about 30 calls a
second for the whole bot and one message a second per chat (edits count, as Telegram counts
them); a 429 waits exactly its `retry_after`; a network error or a 5xx is retried with backoff.

Every call goes through `bot.session`, so a reply, a streaming edit, a notice from staff and a
"typing" action share the same limits without each caller having to remember them.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from aiogram import Bot
from aiogram.client.session.middlewares.base import BaseRequestMiddleware, NextRequestMiddlewareType
from aiogram.exceptions import TelegramNetworkError, TelegramRetryAfter, TelegramServerError
from aiogram.methods import AnswerCallbackQuery, GetMe, GetUpdates, GetWebhookInfo, SendChatAction, TelegramMethod
from aiogram.methods.base import Response, TelegramType

log = logging.getLogger(__name__)

# Calls that are not messages to a chat: polling and set-up are not paced at all; a typing
# action and a button's acknowledgement count towards the bot's rate but not a chat's.
_UNPACED = (GetUpdates, GetMe, GetWebhookInfo)
_NOT_A_MESSAGE = (SendChatAction, AnswerCallbackQuery)
_FORGET_AFTER_S = 60.0


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
        self._gap = 1.0 / per_second
        self._chat_gap = chat_interval_s
        self._retries = retries
        self._sleep = sleep
        self._clock = clock
        self._next = 0.0  # when the bot may send next
        self._next_in: dict[int | str, float] = {}  # when each chat may get its next message
        self.retried_after = 0  # 429s waited out, for tests and the benchmark

    def _slot(self, chat: int | str | None) -> float:
        """Reserve the next free moment for this call and say how long to wait for it. No
        await between reading and booking: concurrent senders get distinct slots, in order."""
        now = self._clock()
        at = max(now, self._next)
        if chat is not None:
            at = max(at, self._next_in.get(chat, 0.0))
            self._next_in[chat] = at + self._chat_gap
        self._next = at + self._gap
        if len(self._next_in) > 10_000:
            self._next_in = {c: t for c, t in self._next_in.items() if t > now - _FORGET_AFTER_S}
        return at - now

    def _hold(self, chat: int | str | None, seconds: float) -> None:
        """Telegram said wait: nothing more to that chat (or from the bot) until then."""
        until = self._clock() + seconds
        if chat is None:
            self._next = max(self._next, until)
        else:
            self._next_in[chat] = max(self._next_in.get(chat, 0.0), until)

    async def __call__(
        self, make_request: NextRequestMiddlewareType[TelegramType], bot: Bot, method: TelegramMethod[TelegramType]
    ) -> Response[TelegramType]:
        paced = not isinstance(method, _UNPACED)
        if not paced:
            return await make_request(bot, method)
        message = not isinstance(method, _NOT_A_MESSAGE)
        chat = getattr(method, "chat_id", None) if message else None
        failures = 0
        while True:
            wait = self._slot(chat)
            if wait > 0:
                await self._sleep(wait)
            try:
                return await make_request(bot, method)
            except TelegramRetryAfter as exc:
                # Exactly what Telegram asked for: sooner is another 429, later is lost time.
                self.retried_after += 1
                failures += 1
                if failures > self._retries:
                    raise
                log.info("telegram %s: 429, waiting %s s", type(method).__name__, exc.retry_after)
                self._hold(chat, exc.retry_after)
            except (TelegramNetworkError, TelegramServerError) as exc:
                failures += 1
                if failures > self._retries:
                    raise
                backoff = min(30.0, 0.5 * 2 ** (failures - 1))
                log.info("telegram %s failed (%s), retry %d in %.1f s", type(method).__name__, exc, failures, backoff)
                await self._sleep(backoff)
