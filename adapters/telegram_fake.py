"""A Telegram Bot API server for the tests and `shopbot bench telegram` (aiohttp, 127.0.0.1,
port 0). It records every call with its time, hands queued updates to getUpdates, checks HTML
text the way Telegram does (a stray "<" or "&" is "can't parse entities"), keeps each message's
text through its edits, and fails on request (a 429 with `retry_after`, a 500, or a dropped
connection) or at random (`chaos`, the share of messages answered with a 429 or a 500)."""

from __future__ import annotations

import asyncio
import html
import json
import random
import re
import time
from collections.abc import AsyncIterator
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from adapters.fake_servers import in_thread, serve_aiohttp

TOKEN = "123456:TEST-token_for-the-fake"
_MESSAGES = ("sendMessage", "editMessageText")  # what Telegram's per-chat and per-bot limits count
_TAG = re.compile(r"</?(b|strong|i|em|u|ins|s|strike|del|span|tg-spoiler|a|code|pre|blockquote)(\s[^<>]*)?>")
_ENTITY = re.compile(r"&(lt|gt|amp|quot|#\d+|#x[0-9a-fA-F]+);")


def parses_as_html(text: str) -> bool:
    rest = _ENTITY.sub("", _TAG.sub("", text))
    return "<" not in rest and ">" not in rest and "&" not in rest


@dataclass
class Call:
    method: str
    params: dict[str, Any]
    at: float


@dataclass
class FakeBotApi:
    calls: list[Call] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    # (method, kind, argument): "429" with retry_after seconds, "500", or "drop"
    failures: list[tuple[str, str, int]] = field(default_factory=list)
    texts: dict[int, str] = field(default_factory=dict)  # message_id -> its text now
    chats: dict[int, int] = field(default_factory=dict)  # message_id -> chat
    webhook_url: str = ""
    failed: list[Call] = field(default_factory=list)
    chaos: float = 0.0
    rng: random.Random = field(default_factory=lambda: random.Random(1234))
    _update_id: int = 1000
    _message_id: int = 1

    # -- what tests put in ---------------------------------------------------------------

    def push(self, **payload: Any) -> dict[str, Any]:
        self._update_id += 1
        update = {"update_id": self._update_id, **payload}
        self.updates.append(update)
        return update

    def message(
        self, chat_id: int, text: str | None = None, *, chat_type: str = "private", **extra: Any
    ) -> dict[str, Any]:
        self._message_id += 1
        message: dict[str, Any] = {
            "message_id": self._message_id,
            "date": int(time.time()),
            "chat": {"id": chat_id, "type": chat_type},
            "from": {"id": chat_id, "is_bot": False, "first_name": "Ana", "language_code": "en"},
            **extra,
        }
        if text is not None:
            message["text"] = text
        return message

    # -- what tests read -----------------------------------------------------------------

    def sent(self, chat_id: int) -> list[str]:
        """The chat's messages as the shopper sees them now (edits applied), oldest first."""
        # Copies: a test thread reads while the fake's own thread (bot_api_in_thread) writes.
        texts, chats = self.texts.copy(), self.chats.copy()
        return [text for mid, text in sorted(texts.items()) if chats.get(mid) == chat_id]

    def of(self, method: str, chat_id: int | None = None) -> list[Call]:
        calls = self.calls.copy()
        return [c for c in calls if c.method == method and (chat_id is None or int(c.params["chat_id"]) == chat_id)]

    def busiest_second(self) -> int:
        """The most messages (sends and edits, refused ones too) the bot made in any one second."""
        times = sorted(c.at for c in self.calls + self.failed if c.method in _MESSAGES)
        most, start = 0, 0
        for end, at in enumerate(times):
            while at - times[start] >= 1.0:
                start += 1
            most = max(most, end - start + 1)
        return most

    def closest_in_chat(self) -> float:
        """The shortest time between two messages (sends, edits) to one chat, in seconds."""
        last: dict[str, float] = {}
        closest = float("inf")
        for call in sorted((c for c in self.calls + self.failed if c.method in _MESSAGES), key=lambda c: c.at):
            chat = str(call.params.get("chat_id"))
            if chat in last:
                closest = min(closest, call.at - last[chat])
            last[chat] = call.at
        return closest

    async def wait_for(self, check: Any, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; calls: {[(c.method, c.params) for c in self.calls][-10:]}")
            await asyncio.sleep(0.02)

    # -- the server ----------------------------------------------------------------------

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.match_info["token"] != TOKEN:
            return web.json_response({"ok": False, "error_code": 401, "description": "Unauthorized"}, status=401)
        method = request.match_info["method"]
        form = await request.post()
        params: dict[str, Any] = {key: value for key, value in form.items() if isinstance(value, str)}
        call = Call(method, params, time.monotonic())
        if method in _MESSAGES and self.chaos and self.rng.random() < self.chaos:
            self.failures.insert(0, (method, self.rng.choice(["429", "500"]), 1))
        if self.failures and self.failures[0][0] == method:
            _, kind, argument = self.failures.pop(0)
            self.failed.append(call)
            if kind == "429":
                return web.json_response(
                    {
                        "ok": False,
                        "error_code": 429,
                        "description": f"Too Many Requests: retry after {argument}",
                        "parameters": {"retry_after": argument},
                    },
                    status=429,
                )
            if kind == "drop":
                assert request.transport is not None
                request.transport.close()
                raise ConnectionResetError("dropped on purpose")
            return web.json_response(
                {"ok": False, "error_code": 500, "description": "Internal Server Error"}, status=500
            )
        self.calls.append(call)
        return await self._answer(method, params)

    async def _answer(self, method: str, params: dict[str, Any]) -> web.Response:
        def ok(result: Any) -> web.Response:
            return web.json_response({"ok": True, "result": result})

        def bad(description: str) -> web.Response:
            return web.json_response(
                {"ok": False, "error_code": 400, "description": f"Bad Request: {description}"}, status=400
            )

        match method:
            case "getMe":
                return ok({"id": 42, "is_bot": True, "first_name": "Shop", "username": "shop_bot"})
            case "getUpdates":
                offset = int(params.get("offset", 0) or 0)
                waiting = [u for u in self.updates if u["update_id"] >= offset]
                if not waiting:
                    await asyncio.sleep(0.05)
                return ok(waiting)
            case "deleteWebhook":
                self.webhook_url = ""
                return ok(True)
            case "getWebhookInfo":
                return ok({"url": self.webhook_url, "has_custom_certificate": False, "pending_update_count": 0})
            case "setWebhook":
                self.webhook_url = params["url"]
                return ok(True)
            case "sendChatAction" | "answerCallbackQuery":
                return ok(True)
            case "deleteMessage":
                message_id = int(params["message_id"])
                if self.texts.pop(message_id, None) is None:
                    return bad("message to delete not found")
                self.chats.pop(message_id, None)
                return ok(True)
            case "sendMessage" | "editMessageText":
                text = params.get("text", "")
                if params.get("parse_mode") == "HTML" and not parses_as_html(text):
                    return bad("can't parse entities: unsupported start tag or unescaped character")
                shown = html.unescape(re.sub(r"<[^>]+>", "", text)) if params.get("parse_mode") == "HTML" else text
                if len(shown) > 4096:
                    return bad("message is too long")
                chat_id = int(params["chat_id"])
                if method == "sendMessage":
                    self._message_id += 1
                    message_id = self._message_id
                else:
                    message_id = int(params["message_id"])
                    if self.texts.get(message_id) == shown and "reply_markup" not in params:
                        return bad("message is not modified")
                self.texts[message_id], self.chats[message_id] = shown, chat_id
                result = {
                    "message_id": message_id,
                    "date": int(time.time()),
                    "chat": {"id": chat_id, "type": "private"},
                    "text": shown,
                }
                if "reply_markup" in params:
                    result["reply_markup"] = json.loads(params["reply_markup"])
                return ok(result)
        return bad(f"method {method} is not faked")


@asynccontextmanager
async def serve_bot_api(api: FakeBotApi) -> AsyncIterator[str]:
    """Yields the base URL to give as SHOPBOT_TELEGRAM__API_URL."""
    app = web.Application()
    app.router.add_post("/bot{token}/{method}", api.handle)
    async with serve_aiohttp(app) as url:
        yield url


def bot_api_in_thread(api: FakeBotApi) -> AbstractContextManager[str]:
    """The fake on its own event loop in a thread, for a `shopbot` subprocess to talk to."""
    return in_thread(lambda: serve_bot_api(api))
