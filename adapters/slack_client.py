"""The one Slack Web API client of a process: every post goes through it, from a listener,
the hand-over desk or the outbox, so one limiter paces them all.

Slack allows about one message per second per channel (`chat.postMessage` and friends) and
answers more with HTTP 429 and `Retry-After`. Calls to one channel wait their turn here (which
also keeps a thread's posts in order); a 429 that still comes is retried by slack_sdk's own
handler after exactly `Retry-After`, and holds only that channel."""

from __future__ import annotations

import asyncio
import time
from typing import Any

from slack_sdk.http_retry.builtin_async_handlers import (
    AsyncConnectionErrorRetryHandler,
    AsyncRateLimitErrorRetryHandler,
    AsyncServerErrorRetryHandler,
)
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bot.settings import SlackSettings

# Slack's one limit per channel ("about one message per second") is chat.postMessage's; the
# other methods are limited per workspace by tier, and their 429s are retried below.
_PACED = {"chat.postMessage"}


class ChannelPace:
    """At most one call per `interval_s` per channel, in the order they asked."""

    def __init__(self, interval_s: float) -> None:
        self._interval = interval_s
        self._locks: dict[str, asyncio.Lock] = {}
        self._next: dict[str, float] = {}

    def lock(self, channel: str) -> asyncio.Lock:
        return self._locks.setdefault(channel, asyncio.Lock())

    async def wait(self, channel: str) -> None:
        """Call holding `lock(channel)`, before the call."""
        delay = self._next.get(channel, 0.0) - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)

    def done(self, channel: str) -> None:
        """Call holding `lock(channel)`, after the call: the interval counts from when Slack
        took the post, also when that was a retry after a 429."""
        self._next[channel] = time.monotonic() + self._interval


class PacedWebClient(AsyncWebClient):
    """slack_sdk's client with each channel's posts paced and kept in order."""

    def __init__(self, *args: Any, pace: ChannelPace, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pace = pace

    async def api_call(self, api_method: str, **kwargs: Any) -> AsyncSlackResponse:
        channel = _channel_of(kwargs) if api_method in _PACED else None
        if channel is None:
            return await super().api_call(api_method, **kwargs)
        async with self.pace.lock(channel):
            await self.pace.wait(channel)
            try:
                return await super().api_call(api_method, **kwargs)
            finally:
                self.pace.done(channel)


def _channel_of(kwargs: dict[str, Any]) -> str | None:
    for where in ("json", "data", "params"):
        given = kwargs.get(where)
        if isinstance(given, dict) and given.get("channel"):
            return str(given["channel"])
    return None


def create_client(settings: SlackSettings) -> PacedWebClient:
    if settings.bot_token is None:
        raise ValueError("SHOPBOT_SLACK__BOT_TOKEN is not set")
    return PacedWebClient(
        token=settings.bot_token.get_secret_value(),
        base_url=settings.api_url,
        pace=ChannelPace(settings.channel_interval_s),
        retry_handlers=[
            AsyncRateLimitErrorRetryHandler(max_retry_count=settings.retries),
            AsyncConnectionErrorRetryHandler(max_retry_count=settings.retries),
            AsyncServerErrorRetryHandler(max_retry_count=settings.retries),
        ],
    )
