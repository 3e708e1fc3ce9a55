"""`shopbot bench engine`: concurrent conversations through the real engine against the same
prompts generated one after another with plain `model.generate`, same model, same run."""

from __future__ import annotations

import asyncio
import resource
import shutil
import statistics
import tempfile
import time
import uuid
from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from transformers import AutoModelForCausalLM, GenerationConfig
from transformers.generation.streamers import BaseStreamer

from bot.engine import Engine
from bot.errors import ConfigError
from bot.llm import ChatMessage, Chunk, GenerationParams
from bot.llm.local import DEFAULT_MODEL_DIR, LocalModel
from bot.messages import Address, Inbound, Reply
from bot.runtime import generation_params, open_runtime
from bot.settings import Settings

# What shoppers ask; conversation i starts at question i, so prompts differ across conversations.
QUESTIONS = [
    "Hi, I'd like to cancel my order please",
    "how long does delivery take to Canada?",
    "I never received my refund, what's going on",
    "can I pay with PayPal?",
    "I need to change the shipping address on my order",
    "how do I reset my password",
    "my package arrived damaged, what can I do",
    "do you have a newsletter I can sign up for",
    "I want to speak to a real person",
    "where can I find my invoice?",
    "what is your return policy",
    "the payment keeps failing at checkout",
]


@dataclass
class Sample:
    ttft: float
    latency: float
    tokens: int


@dataclass
class Recorder:
    """Passes through to the model and keeps every prompt the engine built, for the baseline."""

    model: LocalModel
    prompts: list[list[ChatMessage]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.model.name

    @property
    def context_window(self) -> int:
        return self.model.context_window

    @property
    def writes_slots(self) -> bool:
        return self.model.writes_slots

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return self.model.count_tokens(messages)

    async def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> AsyncGenerator[Chunk, None]:
        self.prompts.append(list(messages))
        async for chunk in self.model.stream(messages, params):
            yield chunk

    async def ready(self) -> bool:
        return await self.model.ready()

    async def aclose(self) -> None:
        await self.model.aclose()


class _FirstToken(BaseStreamer):
    """generate() calls put() with the prompt, then with each new token: the second call is the first token."""

    def __init__(self) -> None:
        self.calls = 0
        self.first: float | None = None

    def put(self, value: torch.Tensor) -> None:
        self.calls += 1
        if self.calls == 2:
            self.first = time.perf_counter()

    def end(self) -> None:
        pass


def _pct(values: list[float], q: float) -> float:
    """The q-th percentile by nearest rank."""
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(q / 100 * len(ordered)) - 1))]


def _row(name: str, samples: list[Sample], wall: float) -> str:
    ttft = [s.ttft for s in samples]
    latency = [s.latency for s in samples]
    tokens = sum(s.tokens for s in samples)
    return (
        f"| {name} | {len(samples) / wall:.2f} | {tokens / wall:.0f} | {statistics.median(ttft):.3f} | "
        f"{_pct(ttft, 95):.3f} | {statistics.median(latency):.2f} | {_pct(latency, 95):.2f} |"
    )


async def _conversation(engine: Engine, index: int, turns: int) -> list[Sample]:
    samples = []
    user = f"bench-{uuid.uuid4().hex[:8]}-{index}"
    for turn in range(turns):
        text = QUESTIONS[(index + turn * 5) % len(QUESTIONS)]
        inbound = Inbound(
            channel="web", user_id=user, address=Address(channel="web", chat_id=user), message_id=f"{turn}", text=text
        )
        sent = time.perf_counter()
        first = None
        reply = None
        async for event in engine.handle(inbound):
            if first is None:
                first = time.perf_counter()
            if isinstance(event, Reply):
                reply = event
        done = time.perf_counter()
        assert reply is not None
        samples.append(Sample(ttft=(first or done) - sent, latency=done - sent, tokens=reply.tokens))
    return samples


def _sequential(
    model_dir: Path, local: LocalModel, prompts: list[list[ChatMessage]], max_new_tokens: int
) -> tuple[list[Sample], float]:
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True).eval()
    samples = []
    started = time.perf_counter()
    with torch.inference_mode():
        for messages in prompts:
            ids = torch.tensor([local.encode(messages)])
            streamer = _FirstToken()
            begin = time.perf_counter()
            out = model.generate(
                ids,
                max_new_tokens=max_new_tokens,
                do_sample=False,
                streamer=streamer,
                pad_token_id=model.config.pad_token_id,
            )
            end = time.perf_counter()
            samples.append(
                Sample(ttft=(streamer.first or end) - begin, latency=end - begin, tokens=out.shape[1] - ids.shape[1])
            )
    return samples, time.perf_counter() - started


def bench_overrides(max_new_tokens: int, redis_url: str | None) -> dict[str, Any]:
    """Settings for a fair run: greedy in both modes (the same tokens, so the same work), no
    rate limit, keys under a prefix of their own, a scratch embedded Redis unless one is given."""
    overrides: dict[str, Any] = {
        "redis_prefix": f"bench{int(time.time())}",
        "engine": {"rate_limit_per_minute": 1_000_000},
        "llm": {"max_new_tokens": max_new_tokens, "temperature": 0.0, "repetition_penalty": 1.0},
    }
    if redis_url is None:
        overrides["data_dir"] = Path(tempfile.mkdtemp(prefix="shopbot-bench-"))
    return overrides


def _transformers_batching(
    model_dir: Path, local: LocalModel, prompts: list[list[ChatMessage]], max_new_tokens: int
) -> tuple[list[Sample], float]:
    """The same prompts through transformers' own continuous batching (`generate_batch`)."""
    model = AutoModelForCausalLM.from_pretrained(model_dir, local_files_only=True).eval()
    config = GenerationConfig(
        max_new_tokens=max_new_tokens,
        do_sample=False,
        eos_token_id=model.generation_config.eos_token_id,
        pad_token_id=model.config.pad_token_id,
    )
    started = time.perf_counter()
    outputs = model.generate_batch(
        [local.encode(m) for m in prompts], generation_config=config, record_timestamps=True, warmup=False
    )
    wall = time.perf_counter() - started
    samples = []
    for out in outputs.values():
        stamps = out.timestamps or [out.lifespan[1]]
        samples.append(
            Sample(ttft=stamps[0] - started, latency=out.lifespan[1] - started, tokens=len(out.generated_tokens))
        )
    return samples, wall


async def run_engine_bench(settings: Settings, *, concurrency: int, turns: int) -> None:
    if settings.llm.backend != "local":
        raise ConfigError("`shopbot bench engine` measures the local backend (SHOPBOT_LLM__BACKEND=local)")
    max_new_tokens = settings.llm.max_new_tokens
    async with open_runtime(settings) as runtime:
        local = runtime.llm
        assert isinstance(local, LocalModel)
        recorder = Recorder(local)
        engine = Engine(
            store=runtime.store,
            llm=recorder,
            settings=settings.engine,
            generation=generation_params(settings.llm),
            metrics=runtime.metrics,
        )
        await _conversation(engine, 999, 1)  # warm-up: the first forward passes are slow
        recorder.prompts.clear()

        started = time.perf_counter()
        results = await asyncio.gather(*(_conversation(engine, i, turns) for i in range(concurrency)))
        engine_wall = time.perf_counter() - started
        engine_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        engine_samples = [s for conversation in results for s in conversation]
        prompts = list(recorder.prompts)

        model_dir = Path(settings.llm.path) if settings.llm.path else DEFAULT_MODEL_DIR
        seq_samples, seq_wall = await asyncio.to_thread(_sequential, model_dir, local, prompts, max_new_tokens)
        hf_samples, hf_wall = await asyncio.to_thread(_transformers_batching, model_dir, local, prompts, max_new_tokens)

    if settings.redis_url is None:
        shutil.rmtree(settings.data_dir, ignore_errors=True)
    engine_tps = sum(s.tokens for s in engine_samples) / engine_wall
    seq_tps = sum(s.tokens for s in seq_samples) / seq_wall
    engine_rps = len(engine_samples) / engine_wall
    seq_rps = len(seq_samples) / seq_wall
    print(
        f"shopbot bench engine: model {model_dir.name}, {concurrency} conversations x {turns} messages at once, "
        f"up to {max_new_tokens} new tokens, greedy, torch threads {torch.get_num_threads()}\n"
    )
    print("| mode | replies/s | tokens/s | TTFT p50 (s) | TTFT p95 (s) | reply p50 (s) | reply p95 (s) |")
    print("|---|---|---|---|---|---|---|")
    print(_row(f"engine, {concurrency} conversations at once", engine_samples, engine_wall))
    print(_row("plain model.generate, one after another", seq_samples, seq_wall))
    print(_row("transformers generate_batch, all at once", hf_samples, hf_wall))
    print(
        f"\nthroughput: {engine_tps / seq_tps:.1f}x the sequential tokens/s ({engine_rps / seq_rps:.1f}x replies/s)\n"
        f"peak RSS: {engine_rss:.0f} MiB through the engine run (model, Redis client, batch caches); "
        f"{resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB after the baselines "
        f"(generate_batch allocates a large paged cache)"
    )
