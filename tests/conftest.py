"""Shared fixtures: a real Redis for the session (embedded, or SHOPBOT_REDIS_URL), flushed
before every test, and tiny real models saved with save_pretrained."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from redis.asyncio import Redis

from bot.engine import Engine
from bot.llm import GenerationParams
from bot.llm.local import LocalModel
from bot.metrics import Metrics
from bot.redis_server import EmbeddedRedis
from bot.settings import EngineSettings
from bot.store import Store, connect
from bot.understanding import Understander, heads_layer
from bot.understanding.encoder import SentenceEncoder
from tests.tiny_model import build_tiny_model


@pytest.fixture(scope="session")
def redis_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    url = os.environ.get("SHOPBOT_REDIS_URL")
    if url:
        # Each pytest-xdist worker flushes its own database of a shared Redis.
        worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw")
        yield urlunsplit(urlsplit(url)._replace(path=f"/{int(worker) % 16}"))
        return
    server = EmbeddedRedis(tmp_path_factory.mktemp("redis"), appendonly=False).start()
    try:
        yield server.url
    finally:
        server.stop()


@pytest.fixture
async def redis(redis_url: str) -> AsyncIterator[Redis]:
    client = connect(redis_url)
    await client.flushdb()
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
async def store(redis: Redis) -> Store:
    return Store(redis, prefix="test", history_limit=10, history_ttl_s=3600)


@pytest.fixture(scope="session")
def encoder() -> SentenceEncoder:
    """The packaged sentence encoder as `serve` loads it: all six layers for the evidence, the
    heads' layer kept too (one pass serves both)."""
    return SentenceEncoder.load(keep=(heads_layer(),))


@pytest.fixture(scope="session")
def understander(encoder: SentenceEncoder) -> Understander:
    """The shipped intent and sentiment heads over the shared encoder, loaded once."""
    return Understander.load(shared=encoder)


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def tiny_model(tiny_model_dir: Path) -> Iterator[LocalModel]:
    """One model for the session: LocalModel is not bound to an event loop, each request is."""
    model = LocalModel.load(tiny_model_dir)
    yield model
    model._batcher.close()


GREEDY = GenerationParams(max_new_tokens=24, temperature=0.0)


def make_engine(store: Store, llm: object, metrics: Metrics | None = None, **settings: object) -> Engine:
    return Engine(
        store=store,
        llm=llm,  # type: ignore[arg-type]
        # A fixed canary: the prompt, and so a tiny model's reply, is the same every run.
        settings=EngineSettings(**{"canary": "SB-test-canary", **settings}),  # type: ignore[arg-type]
        generation=GREEDY,
        metrics=metrics or Metrics(),
    )
