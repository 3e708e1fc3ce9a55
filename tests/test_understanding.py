"""Intent and sentiment: the shipped heads on plain cases, and `shopbot train-understanding`
end to end on a few rows of each data set (the real encoder, loaded the production way)."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from bot.cli import main
from bot.training.understanding import time_per_message
from bot.understanding import DEFAULT_HEADS_DIR, SentimentHeads, Understander, heads_layer
from bot.understanding.encoder import SentenceEncoder
from bot.understanding.heads import LinearHead


@pytest.mark.parametrize(
    ("message", "intent"),
    [
        ("How much is the Ridgeline rain jacket?", "product_question"),
        # "free" pulled these to refunds before the heads saw what products are free of.
        ("Is the Trail Bottle BPA-free?", "product_question"),
        ("do you offer free returns?", "returns_refund"),
        ("something for a rainy hike under $50", "recommendation"),
        ("where is my order 1042?", "order_status"),
        ("how long does delivery to Canada take", "shipping"),
        ("how do I return the boots", "returns_refund"),
        ("can I pay with PayPal?", "payment"),
        ("I forgot my password", "account"),
        ("let me talk to a real person", "human_agent"),
        ("thanks a lot!", "greeting_thanks"),
        ("what is the capital of France?", "out_of_scope"),
        ("set an alarm for 6 am", "out_of_scope"),
    ],
)
def test_shipped_heads_know_the_intents(understander: Understander, message: str, intent: str) -> None:
    assert understander.understand_many([message])[0].intent == intent


def test_sentiment_has_a_direction_and_a_strength(understander: Understander) -> None:
    angry, calm, happy = understander.understand_many(
        [
            "This is the worst shop ever, my tent arrived broken and nobody answers!",
            "What are your opening hours?",
            "I love the jacket, thank you so much, great service",
        ]
    )
    assert (angry.sentiment, calm.sentiment, happy.sentiment) == ("negative", "neutral", "positive")
    assert angry.sentiment_score < -0.7 < calm.sentiment_score < 0.7 < happy.sentiment_score


def _write(path: Path, header: list[str], rows: list[list[str]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)


def test_train_understanding_writes_heads_that_load(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "datasets"
    bitext = [
        ["where is my order {{Order Number}}", "track_order"],
        ["track my parcel please", "track_order"],
        ["I want my money back", "get_refund"],
        ["refund my purchase", "get_refund"],
        ["which payment methods do you accept", "check_payment_methods"],
        ["can I pay by card", "check_payment_methods"],
    ] * 6
    _write(
        data / "bitext-customer-support/Bitext_Sample_Customer_Support_Training_Dataset.csv",
        ["instruction", "intent", "response"],
        [[text, intent, "ok"] for text, intent in bitext],
    )
    clinc = [["set an alarm for seven", "alarm"], ["what's the weather like", "weather"], ["hello there", "greeting"]]
    _write(data / "clinc150/train.csv", ["text", "intent"], clinc * 6)
    _write(data / "clinc150/val.csv", ["text", "intent"], clinc * 2)
    _write(data / "clinc150/test.csv", ["text", "intent"], [["play some jazz", "oos"], ["book a flight", "oos"]])
    reviews = [["I love it, great value", "1"], ["terrible, broke in a day", "0"]] * 10
    for name in ("amazon_cells_labelled.csv", "yelp_labelled.csv"):
        _write(data / "sentiment-uci-amazon-yelp" / name, ["text", "label"], reviews)

    # The measuring corpus: customers' messages (half teach the fury head) and other desks' questions.
    corpus = tmp_path / "eval"
    (corpus / "messages").mkdir(parents=True)
    furious = [f"THIS IS THE {n}TH TIME I ASK!!! WHERE IS MY REFUND, YOU SCAMMERS" for n in range(4, 24)]
    calm = [f"could you tell me when order {n} ships?" for n in range(100, 140)]
    (corpus / "messages/customer_sentiment.jsonl").write_text(
        "".join(json.dumps({"text": t, "label": "furious"}) + "\n" for t in furious)
        + "".join(json.dumps({"text": t, "label": "neutral"}) + "\n" for t in calm)
    )
    (corpus / "messages/other_domains.jsonl").write_text(
        json.dumps({"text": "what is the interest rate on my savings account", "domain": "bank"}) + "\n"
    )

    out = tmp_path / "heads"
    assert main(["train-understanding", "--datasets", str(data), "--corpus", str(corpus), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "intent accuracy, Bitext held-out" in printed and "sentiment polarity" in printed
    assert "furious messages handed over" in printed
    assert "CC BY 3.0" in (out / "DATA_LICENSE.md").read_text()
    config = json.loads((out / "understanding.json").read_text())
    assert config["figures"]["ms_per_message"] > 0 and 0 < config["fury_threshold"] < 1

    trained = Understander.load(out)
    first, second, third = trained.understand_many(
        [
            "where is my order 77",
            "I love it, great value",
            "THIS IS THE 30TH TIME I ASK!!! WHERE IS MY REFUND, SCAMMERS",
        ]
    )
    assert first.intent == "order_status"
    assert second.sentiment == "positive"
    assert third.furious and third.fury > first.fury


def test_one_encoder_pass_serves_the_heads_and_retrieval(understander: Understander) -> None:
    from bot.understanding import heads_layer
    from bot.understanding.encoder import SentenceEncoder

    encoder = SentenceEncoder.load(keep=(heads_layer(),))
    shared = Understander.load(shared=encoder)
    texts = ["where is my order 1042?", "recommend a tent under $300", "I love it, thank you"]
    one, other = shared.understand_many(texts), understander.understand_many(texts)
    assert [u.intent for u in one] == [u.intent for u in other]  # the same layer, so the same figures
    assert [u.sentiment_score for u in one] == pytest.approx([u.sentiment_score for u in other], abs=1e-5)
    before = encoder.passes
    encoder.encode(texts)  # retrieval's layer of the same messages: already pooled
    assert encoder.passes == before
    with pytest.raises(ValueError):
        encoder.encode(texts, layer=5)


async def test_messages_that_arrive_together_share_an_encoder_pass() -> None:
    import asyncio

    from bot.understanding import heads_layer
    from bot.understanding.encoder import SentenceEncoder

    encoder = SentenceEncoder.load(keep=(heads_layer(),))  # as `serve` loads it
    understander = Understander.load(shared=encoder)
    texts = [f"where is my order {1000 + i}?" for i in range(8)] + ["I love it, thank you", "can I pay with PayPal?"]
    alone = understander.understand_many(texts)
    before = encoder.passes
    together = await asyncio.gather(*(understander.understand(text) for text in texts))
    assert encoder.passes == before, "cached texts need no pass"
    fresh = [f"is the tent number {i} waterproof?" for i in range(12)]
    await asyncio.gather(*(understander.understand(text) for text in fresh))
    assert encoder.passes == before + 1, "twelve messages, one pass"
    assert [u.intent for u in together] == [u.intent for u in alone]
    assert [u.sentiment_score for u in together] == pytest.approx([u.sentiment_score for u in alone], abs=1e-5)


def test_the_time_per_message_is_timed_on_encoder_passes() -> None:
    """The same probe 50 times once timed the encoder's memory of it: 0.1 ms."""
    encoder = SentenceEncoder.load(layers=heads_layer())
    heads = DEFAULT_HEADS_DIR
    sentiment = SentimentHeads(
        LinearHead.load(heads / "polarity.safetensors"), LinearHead.load(heads / "subjectivity.safetensors")
    )
    before = encoder.passes
    assert time_per_message(encoder, LinearHead.load(heads / "intent.safetensors"), sentiment, runs=5) > 0
    assert encoder.passes - before == 5


def test_the_fury_threshold_reaches_the_most_furious_messages_at_the_precision_asked() -> None:
    from bot.training.understanding import _calibrate_fury

    scores = np.array([0.05, 0.1, 0.2, 0.35, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    furious = np.array([False, False, False, True, False, True, True, True, True, True, True])
    # From 0.35 eight are handed over, seven furious (87.5%): short of 90%, enough for 80%. From 0.5
    # the six handed over are all furious; from 0.6 too, but one furious fewer.
    assert _calibrate_fury(scores, furious, precision=0.9) == 0.5
    assert _calibrate_fury(scores, furious, precision=0.8) == 0.35
    assert _calibrate_fury(scores, np.zeros(len(scores), dtype=bool)) == 1.0  # never


def test_the_measuring_half_of_a_message_set_stays_put_when_messages_are_added() -> None:
    from bot.corpus import Message, halves

    first = [Message(text=f"message {n}") for n in range(40)]
    learn, measure = halves(first)
    assert learn and measure and not {m.text for m in learn} & {m.text for m in measure}
    _, measure_later = halves(first + [Message(text=f"later {n}") for n in range(40)])
    assert {m.text for m in measure} <= {m.text for m in measure_later}
