"""The web channel: an ASGI app with the widget's websocket, its static files, a demo storefront
and the health and metrics endpoints.

The websocket protocol (public; other front ends may speak it) is in the README. In short:
connect to /ws (optionally ?token=...); the first frame is `session` (a new visitor) or
`history` (a known one). The client sends `message` frames; the server answers each with
`typing`, zero or more `delta`, then `reply` - or an `error` frame, never a dropped socket.
"""

from __future__ import annotations

import asyncio
import html
import json
import logging
import re
from collections.abc import Callable, Sequence
from contextlib import aclosing
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, Field, TypeAdapter, ValidationError
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, HTMLResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Mount, Route, WebSocketRoute
from starlette.staticfiles import StaticFiles
from starlette.websockets import WebSocket, WebSocketDisconnect

from adapters.web_push import WebPush
from adapters.web_sessions import SessionTokens
from bot.engine import Engine
from bot.errors import ShopbotError
from bot.messages import Address, Channel, Inbound, Reply, Source, StoredMessage
from bot.metrics import CONTENT_TYPE, Metrics
from bot.settings import WebSettings

log = logging.getLogger(__name__)

STATIC_DIR = Path(__file__).resolve().parent / "web_static"
CHANNEL: Channel = "web"
# A visitor may queue a few messages while one is being answered; more is a flood.
_QUEUE_LIMIT = 8


# -- frames ---------------------------------------------------------------------------------


class MessageFrame(BaseModel):
    type: Literal["message"]
    text: str = Field(max_length=100_000)
    id: str = Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9_.:-]+$")


class PingFrame(BaseModel):
    type: Literal["ping"]


ClientFrameType = Annotated[MessageFrame | PingFrame, Field(discriminator="type")]
ClientFrame: TypeAdapter[MessageFrame | PingFrame] = TypeAdapter(ClientFrameType)


class HistoryItem(BaseModel):
    role: str
    text: str
    ts: str
    id: str | None = None  # the client's message id, for a shopper's web messages
    sources: list[Source] = []

    @classmethod
    def of(cls, message: StoredMessage) -> HistoryItem:
        mine = message.role == "user" and message.channel == CHANNEL
        return cls(
            role=message.role,
            text=message.text,
            ts=message.ts.isoformat(),
            id=message.message_id if mine else None,
            sources=message.sources,
        )


DEMO_NAME = "Trailhead Supply Co."
_DEMO_NAME = re.compile(r"Trailhead Supply(?: Co\.)?")  # the page's title and the widget's short title


def _frame(kind: str, **fields: Any) -> str:
    return json.dumps(
        {"type": kind, **fields}, default=lambda o: o.model_dump() if isinstance(o, BaseModel) else str(o)
    )


def error_frame(code: str, message: str, message_id: str | None = None) -> str:
    return _frame("error", code=code, message=message, **({"id": message_id} if message_id else {}))


def reply_frame(reply: Reply, message_id: str) -> str:
    return _frame(
        "reply",
        id=message_id,
        text=reply.text,
        quick_replies=reply.quick_replies,
        sources=reply.sources,
        flags=sorted(reply.flags),
    )


class RedactTokens(logging.Filter):
    """Session tokens travel in the websocket URL (`/ws?token=...`); uvicorn logs that URL.
    A token is a key to a shopper's history: it never reaches a log."""

    _TOKEN = re.compile(r"(token=)[^&\s\"']+")

    def filter(self, record: logging.LogRecord) -> bool:
        # Redact in place: uvicorn's access formatter unpacks `args`, so they must keep their shape.
        if isinstance(record.msg, str):
            record.msg = self._TOKEN.sub(r"\1[redacted]", record.msg)
        if isinstance(record.args, tuple):
            record.args = tuple(
                self._TOKEN.sub(r"\1[redacted]", arg) if isinstance(arg, str) else arg for arg in record.args
            )
        return True


def origin_allowed(origin: str | None, host: str | None, allowed: list[str]) -> bool:
    """Browsers always send Origin with a websocket; a page on another site must be listed.
    No Origin header means no browser (a script, another front end): nothing to protect."""
    if origin is None:
        return True
    origin = origin.rstrip("/")
    if allowed:
        return "*" in allowed or origin in allowed
    return urlsplit(origin).netloc == (host or "")


# -- the websocket conversation -------------------------------------------------------------


class _Connection:
    """One widget connection: a reader that answers bad frames at once, and a worker that
    hands the visitor's messages to the engine one at a time, in the order sent."""

    def __init__(self, ws: WebSocket, engine: Engine, visitor: str, settings: WebSettings) -> None:
        self._ws = ws
        self._engine = engine
        self._visitor = visitor
        self._settings = settings
        self._inbox: asyncio.Queue[MessageFrame] = asyncio.Queue(maxsize=_QUEUE_LIMIT)
        self._session = f"ws-{id(self):x}"

    async def run(self) -> None:
        worker = asyncio.create_task(self._work())
        try:
            await self._read()
        finally:
            # The visitor left: whatever is being written for them is aborted (and its message
            # stays unanswered, so a resend after reconnecting is answered).
            worker.cancel()
            await asyncio.gather(worker, return_exceptions=True)

    async def _read(self) -> None:
        limit = self._settings.max_frame_bytes
        while True:
            event = await self._ws.receive()
            if event["type"] == "websocket.disconnect":
                return
            raw = event.get("text")
            if raw is None:
                await self._send(error_frame("binary", "Frames must be JSON text."))
                continue
            if len(raw.encode("utf-8")) > limit:
                await self._send(error_frame("too_large", f"Frames are limited to {limit} bytes."))
                continue
            try:
                payload = json.loads(raw)
            except (ValueError, RecursionError):  # "[[[[..." nests past the parser's depth
                await self._send(error_frame("malformed", "That frame is not valid JSON."))
                continue
            await self._accept(payload)

    async def _accept(self, payload: object) -> None:
        kind = payload.get("type") if isinstance(payload, dict) else None
        message_id = payload.get("id") if isinstance(payload, dict) and isinstance(payload.get("id"), str) else None
        if kind not in ("message", "ping"):
            await self._send(error_frame("unknown_type", f"Unknown frame type {kind!r}.", message_id))
            return
        try:
            frame = ClientFrame.validate_python(payload)
        except ValidationError as exc:
            problems = "; ".join(f"{'.'.join(map(str, e['loc'][1:])) or 'frame'}: {e['msg']}" for e in exc.errors())
            await self._send(error_frame("invalid", f"Invalid {kind} frame: {problems}", message_id))
            return
        if isinstance(frame, PingFrame):
            await self._send(_frame("pong"))
            return
        try:
            self._inbox.put_nowait(frame)
        except asyncio.QueueFull:
            await self._send(error_frame("busy", "Too many messages at once; please wait for my answers.", frame.id))

    async def _work(self) -> None:
        while True:
            frame = await self._inbox.get()
            await self._answer(frame)

    async def _answer(self, frame: MessageFrame) -> None:
        inbound = Inbound(
            channel=CHANNEL,
            user_id=self._visitor,
            address=Address(channel=CHANNEL, chat_id=self._session),
            message_id=frame.id,
            text=frame.text,
        )
        await self._send(_frame("typing", id=frame.id))
        try:
            async with aclosing(self._engine.handle(inbound)) as events:
                async for event in events:
                    if isinstance(event, Reply) and "with_staff" in event.flags:
                        # A person has the conversation: no reply from the assistant, theirs comes
                        # as a push frame.
                        await self._send(_frame("forwarded", id=frame.id))
                    elif isinstance(event, Reply):
                        await self._send(reply_frame(event, frame.id))
                    else:
                        await self._send(_frame("delta", id=frame.id, text=event.text))
        except ShopbotError as exc:
            await self._send(error_frame(exc.code, exc.public_message, frame.id))
        except WebSocketDisconnect:
            raise  # the visitor left; the reader ends the connection
        except Exception:
            log.exception("web message %s of visitor %s failed", frame.id, self._visitor)
            await self._send(error_frame("internal", ShopbotError.public_message, frame.id))

    async def _send(self, text: str) -> None:
        await self._ws.send_text(text)


# -- the app --------------------------------------------------------------------------------


def create_app(
    *,
    engine: Engine,
    settings: WebSettings,
    sessions: SessionTokens,
    metrics: Metrics,
    shop_name: Callable[[], str] = lambda: DEMO_NAME,
    extra_routes: Sequence[BaseRoute] = (),
    push: WebPush | None = None,
) -> Starlette:
    """The web app; `extra_routes` are other channels' endpoints served beside it (the
    Telegram webhook, Slack's events); `push` delivers outbox messages to open sockets."""

    async def websocket(ws: WebSocket) -> None:
        if not origin_allowed(ws.headers.get("origin"), ws.headers.get("host"), settings.allowed_origins):
            log.warning("websocket from origin %r refused", ws.headers.get("origin"))
            await ws.close(code=1008)  # before accept: the handshake is answered 403
            return
        await ws.accept()
        try:
            token = ws.query_params.get("token")
            known = sessions.visitor(token) if token else None
            visitor = known or sessions.new_visitor()
            # Attached before the history is read: a staff message pushed meanwhile is in one
            # or the other (or both; the client shows the history, then what follows it).
            if push is not None:
                push.attach(visitor, ws.send_text)
            try:
                if known is None:
                    await ws.send_text(_frame("session", token=sessions.issue(visitor), new=True))
                else:
                    try:
                        history = await engine.history(CHANNEL, visitor, settings.history_on_connect)
                    except ShopbotError as exc:
                        await ws.send_text(error_frame(exc.code, exc.public_message))
                        history = []
                    await ws.send_text(_frame("history", messages=[HistoryItem.of(m) for m in history]))
                    # A fresh token on every visit: the session expires only after a quiet spell.
                    await ws.send_text(_frame("session", token=sessions.issue(visitor), new=False))
                await _Connection(ws, engine, visitor, settings).run()
            finally:
                if push is not None:
                    push.detach(visitor, ws.send_text)
        except WebSocketDisconnect:
            pass

    async def storefront(request: Request) -> Response:
        # The demo page wears the name of the shop being served (`--store` may be another one).
        page = (STATIC_DIR / "demo.html").read_text(encoding="utf-8")
        name = html.escape(shop_name())
        return HTMLResponse(_DEMO_NAME.sub(lambda _: name, page))

    async def widget(request: Request) -> Response:
        return FileResponse(
            STATIC_DIR / "widget.js", media_type="text/javascript", headers={"Cache-Control": "no-cache"}
        )

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        checks = await engine.health()
        ready = all(checks.values())
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    async def metrics_endpoint(request: Request) -> Response:
        return Response(metrics.exposition(), media_type=CONTENT_TYPE)

    return Starlette(
        routes=[
            Route("/", storefront),
            Route("/widget.js", widget),
            Route("/healthz", healthz),
            Route("/readyz", readyz),
            Route("/metrics", metrics_endpoint),
            WebSocketRoute("/ws", websocket),
            Mount("/static", StaticFiles(directory=STATIC_DIR), name="static"),
            *extra_routes,
        ]
    )
