"""`shopbot train` on a tiny budget: the loss goes down, the result loads through the production
path and writes, and the same seed gives the same weights."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from bot.cli import main
from bot.errors import TrainingError
from bot.llm import GenerationParams
from bot.llm.local import LocalModel
from bot.training.dialogues import delexicalise, load_bitext

ROWS = [
    (
        "how do I cancel order {{Order Number}}",
        "cancel_order",
        "I understand you want to cancel order {{Order Number}}. Go to {{Order History}} on {{Website Name}} and press "
        "{{Cancel Order}}. If you need help, call {{Customer Support Phone Number}}.",
    ),
    (
        "where is my parcel",
        "track_order",
        "You can follow your parcel in {{Track Order}}. It usually arrives in three to five days.",
    ),
    (
        "I want my money back",
        "get_refund",
        "I'm sorry about that. You can ask for a refund within thirty days in {{Refunds}}; we answer quickly.",
    ),
    (
        "which payment methods do you take",
        "check_payment_methods",
        "We accept cards, PayPal and bank transfer. You can see them all in {{Payment Methods}}.",
    ),
    (
        "talk to a human",
        "contact_human_agent",
        "Of course! Our team is available {{Customer Support Hours}} through {{Live Chat}}.",
    ),
]


def write_bitext(path: Path, copies: int = 8) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["flags", "instruction", "category", "intent", "response"])
        for i in range(copies):
            for instruction, intent, response in ROWS:
                writer.writerow(["B", f"{instruction} {i}", "X", intent, response])
    return path


def tiny_train(data: Path, out: Path, steps: int = 40) -> int:
    return main([
        "train", "--data", str(data), "--out", str(out), "--steps", str(steps), "--batch-size", "4",
        "--vocab-size", "320", "--context", "128", "--hidden", "32", "--layers", "1", "--heads", "2",
        "--kv-heads", "1", "--intermediate", "64", "--eval-every", "20", "--threads", "1", "--lr", "1e-2",
    ])  # fmt: skip


def test_placeholders_become_words_a_shopper_can_read() -> None:
    text = delexicalise(
        "Call {{Customer Support Phone Number}} or use {{Live Chat}} on {{Website Name}}; "
        "order {{Order Number Anonymized}} is in {{Order History}}."
    )
    assert "{{" not in text
    assert text == (
        "Call our customer support phone line or use live chat on our website; "
        'order your order number is in "Order History".'
    )


def test_training_lowers_the_loss_and_the_model_loads_and_writes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = write_bitext(tmp_path / "bitext.csv")
    assert tiny_train(data, tmp_path / "model") == 0
    out = capsys.readouterr().out
    assert "saved" in out
    report = json.loads((tmp_path / "model" / "training.json").read_text())
    first, evals = report["first_loss"], [h["eval_loss"] for h in report["history"]]
    assert evals[-1] < first * 0.75, f"held-out loss {first} -> {evals}"
    assert report["final_train_loss"] < first * 0.75
    assert "CDLA-Sharing-1.0" in (tmp_path / "model" / "DATA_LICENSE.md").read_text()

    import asyncio

    async def write() -> str:
        model = LocalModel.load(tmp_path / "model")
        try:
            messages = [{"role": "system", "content": "x"}, {"role": "user", "content": "where is my parcel"}]
            chunks = [c async for c in model.stream(messages, GenerationParams(max_new_tokens=20))]  # type: ignore[arg-type]
            return "".join(c.text for c in chunks)
        finally:
            await model.aclose()

    assert asyncio.run(write()).strip()


def test_the_same_seed_gives_the_same_weights(tmp_path: Path) -> None:
    data = write_bitext(tmp_path / "bitext.csv")
    tiny_train(data, tmp_path / "a", steps=8)
    tiny_train(data, tmp_path / "b", steps=8)
    for name in ("model.safetensors", "tokenizer.json"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_missing_or_wrong_data_is_a_clear_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert tiny_train(tmp_path / "nope.csv", tmp_path / "m") == 2
    assert "no Bitext CSV" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(TrainingError, match="missing columns"):
        load_bitext(bad)
