"""A Slack Web API server for the tests and `shopbot bench slack` (aiohttp, 127.0.0.1, port
0): it records every call with its time, answers the methods shopbot uses the way Slack does,
takes `response_url` posts, and answers a method with HTTP 429 `ratelimited` and a
`Retry-After` on request (or a share of posts at random: `chaos`). Also: Slack's side of a
signed Events API request, a slash command and a button press."""

from __future__ import annotations

import asyncio
import json
import random
import time
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractContextManager, asynccontextmanager
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

from aiohttp import WSMsgType, web
from slack_sdk.signature import SignatureVerifier

from adapters.fake_servers import in_thread, serve_aiohttp
from adapters.telegram_fake import Call  # a recorded call: method, params, time

TEAM = "T0SHOP"
BOT_USER = "U0BOT"
SECRET = "test-signing-secret"
BOT_TOKEN = "xoxb-test-token"
APP_TOKEN = "xapp-test-token"


@dataclass
class FakeSlack:
    calls: list[Call] = field(default_factory=list)
    responses: list[dict[str, Any]] = field(default_factory=list)  # posts to a response_url
    ratelimit: dict[str, list[int]] = field(default_factory=dict)  # method -> Retry-After of the next 429s
    refuse: dict[str, list[str]] = field(default_factory=dict)  # method -> errors of its next calls (ok: false)
    slow: dict[str, float] = field(default_factory=dict)  # method -> seconds it takes to answer
    names: dict[str, str] = field(default_factory=dict)
    usergroups: dict[str, list[str]] = field(default_factory=dict)
    chaos: float = 0.0  # share of chat.postMessage calls answered 429 with Retry-After: 1
    rng: random.Random = field(default_factory=lambda: random.Random(1234))
    url: str = ""
    sockets: list[web.WebSocketResponse] = field(default_factory=list)  # Socket Mode connections
    acks: list[dict[str, Any]] = field(default_factory=list)  # what the app sent back on them
    _ts: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params: dict[str, Any] = dict(request.query)
        if request.can_read_body:
            if request.content_type == "application/json":
                params.update(await request.json())
            else:
                params.update(dict(await request.post()))
        if method in self.slow:
            await asyncio.sleep(self.slow[method])
        token = APP_TOKEN if method == "apps.connections.open" else BOT_TOKEN  # Slack's rule too
        if request.headers.get("Authorization") != f"Bearer {token}":
            return web.json_response({"ok": False, "error": "invalid_auth"})
        waits = self.ratelimit.get(method)
        if not waits and method == "chat.postMessage" and self.chaos and self.rng.random() < self.chaos:
            waits = [1]
        if waits:
            self.calls.append(Call(f"{method}:429", params, time.monotonic()))
            return web.json_response(
                {"ok": False, "error": "ratelimited"}, status=429, headers={"Retry-After": str(waits.pop(0))}
            )
        errors = self.refuse.get(method)
        if errors:
            self.calls.append(Call(f"{method}:refused", params, time.monotonic()))
            return web.json_response({"ok": False, "error": errors.pop(0)})
        self.calls.append(Call(method, params, time.monotonic()))
        return web.json_response(self.answer(method, params))

    def answer(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        if method == "auth.test":
            return {"ok": True, "team_id": TEAM, "user_id": BOT_USER, "bot_id": "B0BOT", "team": "Shop"}
        if method == "chat.postMessage":
            self._ts += 1
            ts = f"1700000000.{self._ts:06d}"
            params["_ts"] = ts  # kept with the call, for tests that answer in its thread
            return {
                "ok": True,
                "channel": params["channel"],
                "ts": ts,
                "message": {"ts": ts, "text": params.get("text")},
            }
        if method == "users.info":
            name = self.names.get(str(params.get("user")), "Sam")
            return {
                "ok": True,
                "user": {"id": params.get("user"), "real_name": name, "profile": {"display_name": name}},
            }
        if method == "usergroups.users.list":
            return {"ok": True, "users": self.usergroups.get(str(params.get("usergroup")), [])}
        if method == "apps.connections.open":
            return {"ok": True, "url": self.url.replace("http://", "ws://") + "/socket"}
        if method in ("chat.update", "reactions.add", "chat.postEphemeral"):
            return {"ok": True}
        return {"ok": False, "error": "unknown_method"}

    async def socket(self, request: web.Request) -> web.WebSocketResponse:
        """Slack's end of a Socket Mode connection: hello, then envelopes the tests deliver."""
        ws = web.WebSocketResponse()
        await ws.prepare(request)
        self.sockets.append(ws)
        await ws.send_json({"type": "hello", "num_connections": len(self.sockets)})
        async for message in ws:
            if message.type == WSMsgType.TEXT:
                self.acks.append(json.loads(message.data))
        return ws

    async def deliver(self, body: str, *, retry_attempt: int = 0) -> str:
        """An Events API body as a Socket Mode envelope; its envelope id."""
        envelope_id = f"env-{next(_events)}"
        envelope = {
            "envelope_id": envelope_id,
            "type": "events_api",
            "accepts_response_payload": False,
            "retry_attempt": retry_attempt,
            "retry_reason": "timeout" if retry_attempt else "",
            "payload": json.loads(body),
        }
        await self.sockets[-1].send_json(envelope)
        return envelope_id

    async def respond(self, request: web.Request) -> web.Response:
        self.responses.append(await request.json())
        return web.Response(text="ok")

    # -- what tests read ------------------------------------------------------------------

    def of(self, method: str) -> list[Call]:
        return [c for c in self.calls if c.method == method]

    def posts(self, channel: str | None = None, thread: str | None = None) -> list[dict[str, Any]]:
        return [
            c.params
            for c in self.of("chat.postMessage")
            if (channel is None or c.params["channel"] == channel)
            and (thread is None or c.params.get("thread_ts") == thread)
        ]

    def texts(self, channel: str | None = None, thread: str | None = None) -> list[str]:
        return [p.get("text", "") for p in self.posts(channel, thread)]

    async def wait_for(self, check: Callable[[], object], timeout: float = 10.0) -> None:
        deadline = time.monotonic() + timeout
        while not check():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out; calls: {[(c.method, c.params.get('text')) for c in self.calls]}")
            await asyncio.sleep(0.02)

    # -- Slack's side of a request to the app ---------------------------------------------

    def response_url(self) -> str:
        return f"{self.url}/respond/1"


def signed(
    body: str, *, secret: str = SECRET, at: float | None = None, content_type: str = "application/json"
) -> dict[str, str]:
    timestamp = str(int(at if at is not None else time.time()))
    return {
        "Content-Type": content_type,
        "X-Slack-Request-Timestamp": timestamp,
        "X-Slack-Signature": SignatureVerifier(secret).generate_signature(timestamp=timestamp, body=body) or "",
    }


_events = iter(range(1, 1_000_000))


def event_body(event: dict[str, Any], *, event_id: str | None = None, team: str = TEAM) -> str:
    return json.dumps(
        {
            "type": "event_callback",
            "team_id": team,
            "api_app_id": "A0APP",
            "event_id": event_id or f"Ev{next(_events):06d}",
            "event_time": int(time.time()),
            "event": event,
        }
    )


def command_body(fake: FakeSlack, text: str, *, user: str = "U0STAFF", team: str = TEAM) -> str:
    return urlencode(
        {
            "command": "/shopbot",
            "text": text,
            "team_id": team,
            "user_id": user,
            "channel_id": "C0MARKETING",
            "response_url": fake.response_url(),
            "trigger_id": f"trig{next(_events)}",
        }
    )


def button_body(
    fake: FakeSlack,
    action_id: str,
    value: str,
    *,
    user: str = "U0STAFF",
    channel: str = "C0SUPPORT",
    message_ts: str = "",
) -> str:
    payload = {
        "type": "block_actions",
        "team": {"id": TEAM},
        "user": {"id": user},
        "api_app_id": "A0APP",
        "channel": {"id": channel},
        "message": {"ts": message_ts, "text": ""},
        "response_url": fake.response_url(),
        "trigger_id": f"trig{next(_events)}",
        "actions": [{"action_id": action_id, "block_id": "b", "type": "button", "value": value}],
    }
    return urlencode({"payload": json.dumps(payload)})


@asynccontextmanager
async def serve_slack(fake: FakeSlack) -> AsyncIterator[str]:
    """Yields the Web API base URL to give as SHOPBOT_SLACK__API_URL."""
    app = web.Application()
    app.router.add_route("*", "/api/{method}", fake.handle)
    app.router.add_post("/respond/{id}", fake.respond)
    app.router.add_get("/socket", fake.socket)
    async with serve_aiohttp(app) as url:
        fake.url = url
        try:
            yield f"{url}/api/"
        finally:
            for ws in fake.sockets:
                await ws.close()


def slack_in_thread(fake: FakeSlack) -> AbstractContextManager[str]:
    """The fake on its own event loop in a thread, for a `shopbot serve` subprocess."""
    return in_thread(lambda: serve_slack(fake))
