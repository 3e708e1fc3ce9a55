"""The local backend: a real (tiny) model saved with save_pretrained and loaded back through
the production path; streaming, batching, cancellation, stop sequences, prompts."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from bot.errors import MessageTooLong
from bot.llm import ChatMessage, GenerationParams
from bot.llm.local import LocalModel
from bot.messages import StoredMessage
from bot.prompt import build_messages
from tests.conftest import GREEDY
from tests.tiny_model import build_tiny_model


def chat(text: str) -> list[ChatMessage]:
    return [{"role": "system", "content": "You help shoppers."}, {"role": "user", "content": text}]


PROMPTS = [
    "hi",
    "where is my parcel?",
    "I want a refund for the thing I bought last week, it broke",
    "can I pay with PayPal",
    "thank you so much for all the help today, have a nice weekend",
    "return",
    "my order never arrived and I am upset about it",
    "which cards do you accept at checkout?",
]


def reference(folder: Path, messages: list[ChatMessage], max_new_tokens: int) -> str:
    """What plain transformers greedy generation writes for the same prompt."""
    tokenizer = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    text = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=False)
    ids = tokenizer(text, add_special_tokens=False, return_tensors="pt")["input_ids"]
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=max_new_tokens, do_sample=False)
    return tokenizer.decode(out[0, ids.shape[1] :], skip_special_tokens=True)


async def collect(model: LocalModel, messages: list[ChatMessage], params: GenerationParams = GREEDY) -> list[str]:
    return [chunk.text async for chunk in model.stream(messages, params)]


async def test_streams_what_plain_generate_writes(tiny_model: LocalModel, tiny_model_dir: Path) -> None:
    pieces = await collect(tiny_model, chat("hello"))
    assert len([p for p in pieces if p]) > 3, "the reply arrives in pieces, not at once"
    assert "".join(pieces) == reference(tiny_model_dir, chat("hello"), GREEDY.max_new_tokens)


async def test_concurrent_requests_give_the_same_greedy_output_as_one_by_one(
    tiny_model: LocalModel, tiny_model_dir: Path
) -> None:
    expected = [reference(tiny_model_dir, chat(p), GREEDY.max_new_tokens) for p in PROMPTS]
    one_by_one = ["".join(await collect(tiny_model, chat(p))) for p in PROMPTS]
    assert one_by_one == expected

    async def staggered(i: int, prompt: str) -> str:
        await asyncio.sleep(0.003 * (i % 3))  # some join a batch that is already decoding
        return "".join(await collect(tiny_model, chat(prompt)))

    batched = await asyncio.gather(*(staggered(i, p) for i, p in enumerate(PROMPTS * 3)))
    assert batched == expected * 3


async def test_concurrent_requests_share_forward_passes(tiny_model: LocalModel) -> None:
    seen = []

    async def watch() -> None:
        while True:
            seen.append(tiny_model.active_requests)
            await asyncio.sleep(0.001)

    watcher = asyncio.create_task(watch())
    params = GenerationParams(max_new_tokens=60, temperature=0.0)
    await asyncio.gather(*(collect(tiny_model, chat(p), params) for p in PROMPTS))
    watcher.cancel()
    assert max(seen) >= 4, f"requests never shared a batch: {max(seen)} at most"


async def test_closing_the_stream_stops_generation(tiny_model: LocalModel) -> None:
    params = GenerationParams(max_new_tokens=200, temperature=1.0, top_p=1.0)  # sampling: rarely stops early
    stream = tiny_model.stream(chat("tell me everything"), params)
    await anext(stream)
    await stream.aclose()
    deadline = time.monotonic() + 2
    while tiny_model.active_requests and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert tiny_model.active_requests == 0
    assert await collect(tiny_model, chat("hello")), "the model still answers after a cancel"


async def test_cancelling_the_consumer_task_stops_generation(tiny_model: LocalModel) -> None:
    params = GenerationParams(max_new_tokens=200, temperature=1.0)
    task = asyncio.create_task(collect(tiny_model, chat("a long story please"), params))
    while tiny_model.active_requests == 0:
        await asyncio.sleep(0.001)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    deadline = time.monotonic() + 2
    while tiny_model.active_requests and time.monotonic() < deadline:
        await asyncio.sleep(0.01)
    assert tiny_model.active_requests == 0


async def test_stop_sequence_ends_the_reply_before_it(tiny_model: LocalModel, tiny_model_dir: Path) -> None:
    full = reference(tiny_model_dir, chat("hello"), GREEDY.max_new_tokens)
    stop = full[len(full) // 2 : len(full) // 2 + 3]
    assert len(stop) == 3
    params = GenerationParams(max_new_tokens=GREEDY.max_new_tokens, temperature=0.0, stop=(stop,))
    pieces = await collect(tiny_model, chat("hello"), params)
    assert "".join(pieces) == full[: full.index(stop)]
    assert stop not in "".join(pieces)


async def test_generation_runs_off_the_event_loop(tiny_model: LocalModel) -> None:
    gaps = []

    async def ticker() -> None:
        last = time.monotonic()
        while True:
            await asyncio.sleep(0.005)
            now = time.monotonic()
            gaps.append(now - last)
            last = now

    tick = asyncio.create_task(ticker())
    params = GenerationParams(max_new_tokens=150, temperature=1.0)
    await asyncio.gather(*(collect(tiny_model, chat(p), params) for p in PROMPTS))
    tick.cancel()
    assert len(gaps) > 10 and max(gaps) < 0.25, f"event loop blocked for {max(gaps):.3f}s"


async def test_prompt_uses_the_tokenizers_chat_template(tiny_model: LocalModel) -> None:
    text = tiny_model._prompt_text(chat("hello"))
    assert text == "<|system|>You help shoppers.<|end|><|user|>hello<|end|><|assistant|>"


async def test_model_without_chat_template_gets_a_plain_transcript(tmp_path: Path) -> None:
    folder = build_tiny_model(tmp_path / "plain", chat_template=False)
    model = LocalModel.load(folder)
    try:
        assert model._prompt_text(chat("hello")) == "You help shoppers.\nUser: hello\nAssistant:"
        assert "\nUser:" in model.stop_sequences(GREEDY)
        assert isinstance("".join(await collect(model, chat("hello"))), str)
    finally:
        await model.aclose()


def test_history_is_trimmed_oldest_first_to_fit_the_budget(tiny_model: LocalModel) -> None:
    history = [
        StoredMessage(role="user" if i % 2 == 0 else "assistant", text=f"message number {i} " * 5, channel="web")
        for i in range(20)
    ]
    full = build_messages(
        system="sys",
        facts=[],
        history=history,
        message="latest",
        count=tiny_model.count_tokens,
        budget=10_000,
        hard_limit=10_000,
    )
    assert len(full) == 22
    budget = tiny_model.count_tokens(full) // 2
    trimmed = build_messages(
        system="sys",
        facts=[],
        history=history,
        message="latest",
        count=tiny_model.count_tokens,
        budget=budget,
        hard_limit=budget,
    )
    assert tiny_model.count_tokens(trimmed) <= budget
    assert trimmed[0]["role"] == "system" and trimmed[-1] == {"role": "user", "content": "latest"}
    kept = trimmed[1:-1]
    assert 0 < len(kept) < 20
    assert [m["content"] for m in kept] == [m.text for m in history[-len(kept) :]], "the newest turns are kept"
    assert kept[0]["role"] == "user", "kept history starts with the shopper's message"
    with pytest.raises(MessageTooLong):
        build_messages(
            system="sys",
            facts=[],
            history=[],
            message="word " * 400,
            count=tiny_model.count_tokens,
            budget=50,
            hard_limit=50,
        )


async def test_a_prompt_longer_than_the_context_is_an_error_not_a_crash(tiny_model: LocalModel) -> None:
    from bot.errors import ModelError

    with pytest.raises(ModelError):
        await collect(tiny_model, chat("word " * 400))
    assert await collect(tiny_model, chat("hello"))
