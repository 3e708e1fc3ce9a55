"""The remote backend against a fake OpenAI-compatible server, spoken to over real HTTP."""

from __future__ import annotations

import asyncio
import json
import socket
from typing import Any

import pytest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

from bot.errors import ModelError, ModelUnavailable
from bot.llm import GenerationParams
from bot.llm.remote import RemoteModel
from bot.messages import Address, Inbound, Reply, ReplyDelta
from bot.store import Store
from tests.conftest import make_engine
from tests.servers import serve_asgi

WORDS = ["Your ", "parcel ", "ships ", "today."]


class FakeOpenAI:
    """/v1/chat/completions and /v1/models, answering as `mode` says; records what it got."""

    def __init__(self) -> None:
        self.mode = "ok"
        self.requests: list[tuple[dict[str, str], dict[str, Any]]] = []
        self.app = Starlette(
            routes=[
                Route("/v1/chat/completions", self.completions, methods=["POST"]),
                Route("/v1/models", self.models),
            ]
        )

    async def models(self, request: Request) -> Response:
        return JSONResponse({"data": [{"id": "fake"}]})

    async def completions(self, request: Request) -> Response:
        body = await request.json()
        self.requests.append((dict(request.headers), body))
        if self.mode == "500":
            return JSONResponse({"error": {"message": "CUDA out of memory"}}, status_code=500)
        if self.mode == "400":
            return JSONResponse({"error": {"message": "context length exceeded"}}, status_code=400)

        async def events() -> Any:
            for i, word in enumerate(WORDS):
                if self.mode == "stall" and i == 2:
                    await asyncio.sleep(5)
                if self.mode == "error_mid_stream" and i == 2:
                    yield f"data: {json.dumps({'error': {'message': 'worker died'}})}\n\n"
                    return
                chunk = {
                    "id": "c1",
                    "object": "chat.completion.chunk",
                    "choices": [{"index": 0, "delta": {"content": word}}],
                }
                yield f"data: {json.dumps(chunk)}\n\n"
                await asyncio.sleep(0.005)
            done = {"id": "c1", "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
            yield f"data: {json.dumps(done)}\n\n"
            yield "data: [DONE]\n\n"

        return StreamingResponse(events(), media_type="text/event-stream")


@pytest.fixture
async def fake() -> Any:
    server = FakeOpenAI()
    async with serve_asgi(server.app) as base:
        server.base = base  # type: ignore[attr-defined]
        yield server


def remote(base: str, **options: Any) -> RemoteModel:
    return RemoteModel(f"{base}/v1", model_name="fake", api_key="sk-test", **options)


MESSAGES = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "where is my parcel?"}]
PARAMS = GenerationParams(max_new_tokens=50, temperature=0.2, top_p=0.9, stop=("\nUser:",))


async def test_streams_the_servers_deltas(fake: Any) -> None:
    model = remote(fake.base)
    chunks = [c async for c in model.stream(MESSAGES, PARAMS)]  # type: ignore[arg-type]
    await model.aclose()
    assert [c.text for c in chunks] == WORDS
    headers, body = fake.requests[0]
    assert headers["authorization"] == "Bearer sk-test"
    assert body == {
        "model": "fake",
        "messages": MESSAGES,
        "stream": True,
        "max_tokens": 50,
        "temperature": 0.2,
        "top_p": 0.9,
        "stop": ["\nUser:"],
    }


@pytest.mark.parametrize(
    ("mode", "error"), [("500", ModelUnavailable), ("400", ModelError), ("error_mid_stream", ModelError)]
)
async def test_server_errors_become_model_errors(fake: Any, mode: str, error: type[Exception]) -> None:
    fake.mode = mode
    model = remote(fake.base)
    with pytest.raises(error) as caught:
        _ = [c async for c in model.stream(MESSAGES, PARAMS)]  # type: ignore[arg-type]
    await model.aclose()
    assert fake.base in str(caught.value)


async def test_a_stalled_server_times_out(fake: Any) -> None:
    fake.mode = "stall"
    model = remote(fake.base, timeout_s=0.3)
    with pytest.raises(ModelUnavailable, match="timed out"):
        _ = [c async for c in model.stream(MESSAGES, PARAMS)]  # type: ignore[arg-type]
    await model.aclose()


async def test_a_server_that_is_down_gives_a_clear_error() -> None:
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    model = remote(f"http://127.0.0.1:{port}")
    with pytest.raises(ModelUnavailable, match="unreachable"):
        _ = [c async for c in model.stream(MESSAGES, PARAMS)]  # type: ignore[arg-type]
    assert not await model.ready()
    await model.aclose()


async def test_the_engine_answers_through_a_remote_model(fake: Any, store: Store) -> None:
    model = remote(fake.base)
    assert await model.ready()
    engine = make_engine(store, model)
    inbound = Inbound(
        channel="web", user_id="u", address=Address(channel="web", chat_id="c"), message_id="1", text="hi"
    )
    events = [e async for e in engine.handle(inbound)]
    await model.aclose()
    assert [e.text for e in events if isinstance(e, ReplyDelta)] == WORDS
    assert isinstance(events[-1], Reply) and events[-1].text == "Your parcel ships today."
    _, body = fake.requests[0]
    assert body["messages"][-1] == {"role": "user", "content": "hi"}
