"""`shopbot train` on a tiny budget: the loss goes down, the result loads through the production
path and writes, and the same seed gives the same weights."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest
from transformers import AutoTokenizer

from bot.cli import main
from bot.errors import TrainingError
from bot.knowledge.facts import money
from bot.knowledge.shop import DEMO_SHOP, load_shop
from bot.knowledge.slots import markers
from bot.llm import GenerationParams
from bot.llm.local import LocalModel
from bot.training.dialogues import delexicalise, load_bitext
from bot.training.grounded import grounded_dialogues
from bot.training.trainer import encode_dialogue, encode_templated
from tests.tiny_model import build_tiny_model

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


def tiny_train(data: Path, out: Path, steps: int = 40, extra: list[str] | None = None) -> int:
    return main([
        "train", "--data", str(data), "--out", str(out), "--steps", str(steps), "--batch-size", "4",
        "--vocab-size", "320", "--context", "128", "--hidden", "32", "--layers", "1", "--heads", "2",
        "--kv-heads", "1", "--intermediate", "64", "--eval-every", "20", "--threads", "1", "--lr", "1e-2",
        *(extra or []),
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


def test_grounded_dialogues_name_slots_never_values(tmp_path: Path) -> None:
    pairs = load_bitext(write_bitext(tmp_path / "bitext.csv"))
    shop = load_shop(DEMO_SHOP)
    dialogues = grounded_dialogues(shop, pairs, system_prompt="Be kind.", count=300, seed=7)
    prices = {money(v.price, shop.profile.currency) for p in shop.offered for v in p.variants}
    used: set[str] = set()
    for dialogue in dialogues:
        system, *turns = dialogue
        assert system["content"].startswith("Be kind.\nConfidential reference SB-")
        listed = set(re.findall(r"^- (\[[a-z_]+\])$", system["content"], re.M))
        assert set(markers({m[1:-1]: "" for m in listed})) == listed
        assert not any(price in system["content"] for price in prices), "values never reach the prompt"
        reply = turns[-1]["content"]
        written = set(re.findall(r"\[[a-z_]+\]", reply))
        assert written <= listed, (reply, listed)  # the model only learns slots that have a value
        if "[offer]" in written:
            assert "[product]" in written, reply  # a product's options are never given without its name
        used |= written
        for earlier in turns[:-1]:
            assert "[" not in earlier["content"], "earlier replies are filled in, as the history holds them"
    assert {"[offer]", "[policy]", "[products]", "[order_id]", "[tracking]", "[support_email]"} <= used


def test_templated_encoding_masks_what_our_own_encoding_masks(tmp_path: Path) -> None:
    tokenizer = AutoTokenizer.from_pretrained(build_tiny_model(tmp_path / "tiny"))
    dialogue = [
        {"role": "system", "content": "Be kind.\n- [offer]"},
        {"role": "user", "content": "how much is the mug"},
        {"role": "assistant", "content": "The [product]: [offer]."},
        {"role": "user", "content": "thanks"},
        {"role": "assistant", "content": "You're welcome!"},
    ]
    assert encode_templated(tokenizer, dialogue, 256) == encode_dialogue(tokenizer, dialogue, 256)  # type: ignore[arg-type]


def test_a_store_and_a_base_give_a_model_that_writes_slots(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_bitext(tmp_path / "bitext.csv")
    assert tiny_train(data, tmp_path / "base", steps=4) == 0
    code = main([
        "train", "--data", str(data), "--out", str(tmp_path / "grounded"), "--store", str(DEMO_SHOP),
        "--base", str(tmp_path / "base"), "--grounded", "64", "--steps", "6", "--batch-size", "4",
        "--context", "128", "--eval-every", "3", "--threads", "1", "--warmup", "2",
    ])  # fmt: skip
    assert code == 0
    out = capsys.readouterr().out
    assert "64 grounded dialogues with 16 from Bitext" in out
    report = json.loads((tmp_path / "grounded" / "training.json").read_text())
    assert report["facts"] == "slots" and report["config"]["base"] == str(tmp_path / "base")
    licence = (tmp_path / "grounded" / "DATA_LICENSE.md").read_text()
    assert "CDLA-Sharing-1.0" in licence and "Trailhead Supply Co. is a fictional shop" in licence
    model = LocalModel.load(tmp_path / "grounded")
    try:
        assert model.writes_slots
        # The base's tokenizer is kept: the fine-tuned model reads text exactly as the base did.
        base_vocab = json.loads((tmp_path / "base" / "tokenizer.json").read_text())["model"]["vocab"]
        assert json.loads((tmp_path / "grounded" / "tokenizer.json").read_text())["model"]["vocab"] == base_vocab
    finally:
        import asyncio

        asyncio.run(model.aclose())
    assert not LocalModel.load(tmp_path / "base").writes_slots
    # A slot-writing base trained again on Bitext alone writes text again.
    assert tiny_train(data, tmp_path / "again", steps=2, extra=["--base", str(tmp_path / "grounded")]) == 0
    assert not LocalModel.load(tmp_path / "again").writes_slots


def test_a_store_without_products_cannot_be_trained_on(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = write_bitext(tmp_path / "bitext.csv")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "store.toml").write_text('name = "Empty"\n')
    assert tiny_train(data, tmp_path / "m", steps=2, extra=["--store", str(tmp_path / "empty")]) == 2
    assert "needs offered products and policy passages" in capsys.readouterr().err
