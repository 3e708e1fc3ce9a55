"""Wiring of the engine's parts from the settings: Redis (embedded or not), the model backend,
metrics. The CLI and the benchmark build on it; adapters are added by the CLI alone."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from bot.engine import Engine
from bot.errors import ConfigError, StoreUnavailable
from bot.knowledge.grounding import ShopKnowledge
from bot.knowledge.shop import DEMO_SHOP, load_shop
from bot.knowledge.watch import watch_store
from bot.llm import GenerationParams, LanguageModel
from bot.llm.local import LocalModel
from bot.llm.remote import RemoteModel
from bot.metrics import Metrics
from bot.outbox import Outbox
from bot.redis_server import EmbeddedRedis
from bot.settings import LlmSettings, Settings
from bot.staff import StaffAssistant
from bot.store import Store, connect
from bot.understanding import Understander, heads_layer
from bot.understanding.encoder import SentenceEncoder

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    engine: Engine
    store: Store
    llm: LanguageModel
    metrics: Metrics
    knowledge: ShopKnowledge
    redis_url: str
    embedded_redis: EmbeddedRedis | None
    outbox: Outbox  # adapters register their senders on it
    encoder: SentenceEncoder | None = None
    understander: Understander | None = None


def generation_params(settings: LlmSettings) -> GenerationParams:
    return GenerationParams(
        max_new_tokens=settings.max_new_tokens,
        temperature=settings.temperature,
        top_p=settings.top_p,
        repetition_penalty=settings.repetition_penalty,
        stop=tuple(settings.stop),
    )


def load_model(settings: LlmSettings) -> LanguageModel:
    """Blocking (a local model loads from disk): call it in a thread."""
    if settings.backend == "remote":
        if not settings.url:
            raise ConfigError("SHOPBOT_LLM__URL is required when SHOPBOT_LLM__BACKEND=remote")
        return RemoteModel(
            settings.url,
            model_name=settings.model_name,
            api_key=settings.api_key.get_secret_value() if settings.api_key else None,
            context_window=settings.context_window or 4096,
            timeout_s=settings.timeout_s,
            connect_timeout_s=settings.connect_timeout_s,
            writes_slots=settings.writes_slots,
        )
    return LocalModel.load(
        settings.path,
        allow_download=settings.allow_download,
        device=settings.device,
        dtype=settings.dtype,
        threads=settings.threads,
        max_batch_size=settings.max_batch_size,
    )


@asynccontextmanager
async def open_runtime(settings: Settings, model: LanguageModel | None = None) -> AsyncIterator[Runtime]:
    """Everything `serve` runs, from the settings; `model` replaces the one they name (a
    benchmark of a channel that should not wait on a model)."""
    embedded = None
    url = settings.redis_url
    if url is None:
        embedded = await asyncio.to_thread(EmbeddedRedis(settings.data_dir / "redis").start)
        url = embedded.url
    store = Store(
        connect(url),
        prefix=settings.redis_prefix,
        history_limit=settings.history.limit,
        history_ttl_s=int(settings.history.ttl_days * 86_400),
    )
    llm: LanguageModel | None = None
    try:
        if not await store.ping():
            raise StoreUnavailable(f"cannot reach Redis at {url} (SHOPBOT_REDIS_URL)")
        folder = settings.store_dir or DEMO_SHOP
        shop = await asyncio.to_thread(load_shop, folder)
        if not shop.offered:
            raise ConfigError(f"SHOPBOT_STORE_DIR: no offered products in {folder}:\n{shop.summary()}")
        for problem in shop.problems:
            log.warning("store folder: %s", problem)
        # One encoder: retrieval reads its last layer, the understanding heads an earlier one,
        # both from the same pass over a message.
        heads = settings.understanding_dir
        encoder = await asyncio.to_thread(SentenceEncoder.load, keep=(heads_layer(heads),))
        understander = await asyncio.to_thread(Understander.load, heads, shared=encoder)
        if settings.engine.handover_at_fury is not None:
            understander.fury_threshold = settings.engine.handover_at_fury
        knowledge = await asyncio.to_thread(ShopKnowledge, shop, store, encoder)
        llm = model if model is not None else await asyncio.to_thread(load_model, settings.llm)
        metrics = Metrics()
        engine = Engine(
            store=store,
            llm=llm,
            settings=settings.engine,
            generation=generation_params(settings.llm),
            metrics=metrics,
            knowledge=knowledge,
            understander=understander,
            staff=StaffAssistant(store, knowledge, understander),
        )
        watcher = asyncio.create_task(watch_store(folder, knowledge))
        try:
            yield Runtime(engine, store, llm, metrics, knowledge, url, embedded, Outbox(store), encoder, understander)
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
    finally:
        if llm is not None:
            await llm.aclose()
        await store.aclose()
        if embedded is not None:
            await asyncio.to_thread(embedded.stop)
