"""The websocket protocol and HTTP endpoints, with a real websocket client against the app
served by uvicorn, real Redis and a real (tiny) model."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import websockets
from websockets.asyncio.client import ClientConnection

from adapters.web import create_app
from adapters.web_sessions import SessionTokens
from bot.llm.local import LocalModel
from bot.metrics import Metrics
from bot.redis_server import EmbeddedRedis
from bot.settings import WebSettings
from bot.store import Store, connect
from tests.conftest import make_engine
from tests.servers import serve_asgi

SECRET = "test-secret"


@dataclass
class Site:
    http: str
    ws: str


async def start_site(store: Store, model: LocalModel, session_ttl_s: float = 3600, **web: Any) -> AsyncIterator[Site]:
    """The web app over the engine, as `shopbot serve` wires it, on a free port."""
    metrics = Metrics()
    engine = make_engine(store, model, metrics=metrics)
    sessions = SessionTokens(SECRET, ttl_s=session_ttl_s)
    app = create_app(engine=engine, settings=WebSettings(**web), sessions=sessions, metrics=metrics)
    async with serve_asgi(app, ws_max_size=1_048_576) as base:
        yield Site(base, base.replace("http://", "ws://") + "/ws")


@pytest.fixture
async def site(store: Store, tiny_model: LocalModel) -> AsyncIterator[Site]:
    async for s in start_site(store, tiny_model, max_frame_bytes=2048):
        yield s


async def frame(ws: ClientConnection) -> dict[str, Any]:
    return json.loads(await ws.recv(decode=True))


async def until_reply(ws: ClientConnection) -> list[dict[str, Any]]:
    frames = []
    while True:
        frames.append(await frame(ws))
        if frames[-1]["type"] in ("reply", "error"):
            return frames


async def new_session(site: Site) -> tuple[ClientConnection, str]:
    ws = await websockets.connect(site.ws)
    first = await frame(ws)
    assert first["type"] == "session" and first["new"] is True
    return ws, first["token"]


async def test_a_message_is_answered_with_typing_deltas_and_a_reply(site: Site) -> None:
    ws, _ = await new_session(site)
    await ws.send(json.dumps({"type": "message", "text": "where is my order?", "id": "m-1"}))
    frames = await until_reply(ws)
    await ws.close()
    kinds = [f["type"] for f in frames]
    assert kinds[0] == "typing" and kinds[-1] == "reply"
    deltas = [f["text"] for f in frames if f["type"] == "delta"]
    assert len(deltas) > 1, "the reply streams"
    assert all(f["id"] == "m-1" for f in frames)
    assert frames[-1]["text"] == "".join(deltas).strip()
    assert frames[-1]["quick_replies"] == [] and frames[-1]["sources"] == []


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("this is not json", "malformed"),
        ("[" * 1500, "malformed"),  # nested deeper than the JSON parser goes
        (json.dumps({"type": "shout", "text": "hi"}), "unknown_type"),
        (json.dumps(["message"]), "unknown_type"),
        (json.dumps({"type": "message", "text": "no id"}), "invalid"),
        (json.dumps({"type": "message", "text": "bad id", "id": "a b<c>"}), "invalid"),
        (json.dumps({"type": "message", "text": "x" * 3000, "id": "big"}), "too_large"),
        (b"\x00\x01binary", "binary"),
    ],
)
async def test_a_bad_frame_gets_an_error_frame_and_the_socket_stays_open(
    site: Site, raw: str | bytes, code: str
) -> None:
    ws, _ = await new_session(site)
    await ws.send(raw)
    error = await frame(ws)
    assert error["type"] == "error" and error["code"] == code and error["message"]
    await ws.send(json.dumps({"type": "message", "text": "hello", "id": "after"}))
    assert (await until_reply(ws))[-1]["type"] == "reply"
    await ws.close()


async def test_a_frame_beyond_the_servers_limit_closes_with_1009(site: Site) -> None:
    ws, _ = await new_session(site)
    await ws.send("x" * 2_000_000)
    with pytest.raises(websockets.ConnectionClosed) as closed:
        await frame(ws)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


async def test_reconnecting_with_the_token_shows_the_history(site: Site) -> None:
    ws, token = await new_session(site)
    await ws.send(json.dumps({"type": "message", "text": "first question", "id": "q1"}))
    reply = (await until_reply(ws))[-1]
    await ws.close()

    async with websockets.connect(f"{site.ws}?token={token}") as again:
        history = await frame(again)
        assert history["type"] == "history"
        assert [(m["role"], m["text"], m["id"]) for m in history["messages"]] == [
            ("user", "first question", "q1"),  # the client's id: its answer is in the history
            ("assistant", reply["text"], None),
        ]
        refreshed = await frame(again)
        assert refreshed["type"] == "session" and refreshed["new"] is False
        await again.send(json.dumps({"type": "message", "text": "first question", "id": "q1"}))
        repeat = (await until_reply(again))[-1]
        assert repeat["type"] == "reply" and repeat["flags"] == ["repeat"], "a resent message is not answered twice"
        assert repeat["text"] == reply["text"], "it gets the answer it missed"


@pytest.mark.parametrize("token", ["garbage", "eyJ2IjoiYWJjIn0.forged.signature"])
async def test_a_bad_token_starts_a_new_customer_and_shows_nobody_elses_history(site: Site, token: str) -> None:
    ws, _ = await new_session(site)
    await ws.send(json.dumps({"type": "message", "text": "my secret order", "id": "s1"}))
    await until_reply(ws)
    await ws.close()
    async with websockets.connect(f"{site.ws}?token={token}") as other:
        first = await frame(other)
        assert first["type"] == "session" and first["new"] is True


async def test_an_expired_token_starts_a_new_session(store: Store, tiny_model: LocalModel) -> None:
    async for site in start_site(store, tiny_model, session_ttl_s=1):
        ws, token = await new_session(site)
        await ws.close()
        async with websockets.connect(f"{site.ws}?token={token}") as fresh:
            assert (await frame(fresh))["type"] == "history", "still valid"
        await asyncio.sleep(2.1)  # itsdangerous counts whole seconds
        async with websockets.connect(f"{site.ws}?token={token}") as expired:
            first = await frame(expired)
            assert first["type"] == "session" and first["new"] is True


async def test_a_page_on_another_origin_is_refused(site: Site) -> None:
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(site.ws, origin="https://evil.example")  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    own = site.http  # the server's own origin is always fine
    async with websockets.connect(site.ws, origin=own) as ws:  # type: ignore[arg-type]
        assert (await frame(ws))["type"] == "session"


async def test_listed_origins_are_allowed(store: Store, tiny_model: LocalModel) -> None:
    async for site in start_site(store, tiny_model, allowed_origins=["https://shop.example"]):
        async with websockets.connect(site.ws, origin="https://shop.example") as ws:  # type: ignore[arg-type]
            assert (await frame(ws))["type"] == "session"
        with pytest.raises(websockets.InvalidStatus):
            await websockets.connect(site.ws, origin=site.http)  # type: ignore[arg-type]


async def test_messages_sent_together_are_answered_in_order(site: Site) -> None:
    ws, _ = await new_session(site)
    for i in range(3):
        await ws.send(json.dumps({"type": "message", "text": f"question {i}", "id": f"q{i}"}))
    replies = []
    while len(replies) < 3:
        f = await frame(ws)
        if f["type"] == "reply":
            replies.append(f["id"])
    await ws.close()
    assert replies == ["q0", "q1", "q2"]


async def test_commands_and_quick_replies_over_the_socket(site: Site) -> None:
    ws, _ = await new_session(site)
    await ws.send(json.dumps({"type": "message", "text": "/forget", "id": "f1"}))
    ask = (await until_reply(ws))[-1]
    assert [q["text"] for q in ask["quick_replies"]] == ["/forget confirm", "/cancel"]
    await ws.send(json.dumps({"type": "message", "text": ask["quick_replies"][0]["text"], "id": "f2"}))
    done = (await until_reply(ws))[-1]
    assert "forgotten" in done["flags"]
    await ws.close()


async def test_health_readiness_and_metrics(site: Site) -> None:
    ws, _ = await new_session(site)
    await ws.send(json.dumps({"type": "message", "text": "hello", "id": "m"}))
    await until_reply(ws)
    await ws.send("nope")
    await frame(ws)
    await ws.close()
    async with httpx.AsyncClient(base_url=site.http) as client:
        assert (await client.get("/healthz")).json() == {"status": "ok"}
        ready = await client.get("/readyz")
        assert ready.status_code == 200 and ready.json() == {"ready": True, "checks": {"redis": True, "model": True}}
        text = (await client.get("/metrics")).text
        assert 'shopbot_messages_total{channel="web"} 1.0' in text
        assert 'shopbot_replies_total{channel="web"} 1.0' in text
        assert 'shopbot_reply_seconds_count{channel="web"} 1.0' in text
        assert 'shopbot_first_token_seconds_count{channel="web"} 1.0' in text
        tokens = [
            line for line in text.splitlines() if line.startswith('shopbot_generated_tokens_total{channel="web"}')
        ]
        assert tokens and float(tokens[0].split()[-1]) > 0
        page = await client.get("/")
        assert page.status_code == 200 and '<script src="/widget.js"' in page.text
        widget = await client.get("/widget.js")
        assert widget.status_code == 200 and "javascript" in widget.headers["content-type"]


async def test_redis_going_away_gives_a_polite_error_and_recovers(tmp_path: Path, tiny_model: LocalModel) -> None:
    server = EmbeddedRedis(tmp_path / "redis").start()  # as in production: data survives a restart
    store = Store(connect(server.url), prefix="outage")
    try:
        async for site in start_site(store, tiny_model):
            ws, token = await new_session(site)
            await ws.send(json.dumps({"type": "message", "text": "hello", "id": "1"}))
            assert (await until_reply(ws))[-1]["type"] == "reply"

            server.stop()
            await ws.send(json.dumps({"type": "message", "text": "are you there?", "id": "2"}))
            error = (await until_reply(ws))[-1]
            assert error["type"] == "error" and error["code"] == "unavailable" and error["id"] == "2"
            assert "send it again" in error["message"]
            async with httpx.AsyncClient(base_url=site.http) as client:
                ready = await client.get("/readyz")
                assert ready.status_code == 503 and ready.json()["checks"]["redis"] is False
                assert (await client.get("/healthz")).status_code == 200, "the process keeps running"

            server.start()
            await ws.send(json.dumps({"type": "message", "text": "are you there?", "id": "2"}))
            assert (await until_reply(ws))[-1]["type"] == "reply", "the same message, resent, is answered"
            await ws.close()
            async with websockets.connect(f"{site.ws}?token={token}") as again:
                history = await frame(again)
                assert [m["text"] for m in history["messages"] if m["role"] == "user"] == ["hello", "are you there?"]
    finally:
        await store.aclose()
        server.stop()


def test_the_generated_session_secret_is_private_kept_and_never_empty(tmp_path: Path) -> None:
    import stat

    from adapters.web_sessions import secret_from_data_dir

    first = secret_from_data_dir(tmp_path / "data")
    assert len(first) >= 32 and secret_from_data_dir(tmp_path / "data") == first
    path = tmp_path / "data" / "web-session-secret"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    path.write_text("")  # left empty by a crash
    assert len(secret_from_data_dir(tmp_path / "data")) >= 32
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["web-session-secret"]


async def test_the_demo_storefront_names_the_demo_shop_once(site: Site) -> None:
    async with httpx.AsyncClient(base_url=site.http) as client:
        page = (await client.get("/")).text
    assert "<title>Trailhead Supply Co. - demo storefront</title>" in page and "Co. Co." not in page


def test_tokens_are_redacted_from_access_log_lines_that_keep_their_shape() -> None:
    from adapters.web import RedactTokens

    record = logging.LogRecord(
        "uvicorn.access", logging.INFO, __file__, 1, '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", "/ws?token=secret-token-value", "1.1", 404), None,
    )  # fmt: skip
    assert RedactTokens().filter(record)
    assert len(record.args or ()) == 5  # uvicorn's access formatter unpacks five
    assert "secret-token-value" not in record.getMessage() and "token=[redacted]" in record.getMessage()
