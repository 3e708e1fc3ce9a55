"""The `shopbot` command as a newcomer runs it: the real console script in a subprocess, the
embedded default model, an embedded Redis whose data survives a restart."""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from websockets.sync.client import connect as ws_connect

from adapters.slack_fake import BOT_TOKEN as SLACK_TOKEN
from adapters.slack_fake import SECRET as SLACK_SECRET
from adapters.slack_fake import FakeSlack, event_body, signed, slack_in_thread
from adapters.telegram_fake import TOKEN as TELEGRAM_TOKEN
from adapters.telegram_fake import FakeBotApi, bot_api_in_thread
from bot.cli import build_parser, main

SHOPBOT = str(Path(sys.executable).parent / "shopbot")


def clean_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOPBOT_")}
    env.update(extra)
    return env


@contextmanager
def serving(env: dict[str, str], port: int = 0, log: list[str] | None = None) -> Iterator[str]:
    """`shopbot serve` in a subprocess; yields the storefront URL it prints; `log` gets its output."""
    process = subprocess.Popen(
        [SHOPBOT, "serve", "--port", str(port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    url = None
    lines = []
    deadline = time.monotonic() + 90
    try:
        assert process.stdout is not None
        while time.monotonic() < deadline:
            line = process.stdout.readline()
            if not line:
                break
            lines.append(line)
            found = re.search(r"demo storefront at (http://\S+)", line)
            if found:
                url = found.group(1).rstrip("/")
                break
        assert url, "serve never printed its URL:\n" + "".join(lines)
        yield url
    finally:
        process.send_signal(signal.SIGINT)
        try:
            rest, _ = process.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.communicate()
            raise
    output = "".join(lines) + rest
    if log is not None:
        log.append(output)
    # Ctrl+C: uvicorn shuts down cleanly, then the conventional 130 of an interrupted command.
    assert process.returncode in (0, 130) and "Finished server process" in output, output


def ask(url: str, text: str, token: str | None = None) -> tuple[str, list[dict], dict]:
    ws_url = url.replace("http://", "ws://") + "/ws" + (f"?token={token}" if token else "")
    with ws_connect(ws_url) as ws:
        opening = [json.loads(ws.recv())]
        if opening[0]["type"] == "history":
            opening.append(json.loads(ws.recv()))
        token = opening[-1]["token"]
        ws.send(json.dumps({"type": "message", "text": text, "id": f"m{time.monotonic_ns()}"}))
        frames = []
        while not frames or frames[-1]["type"] not in ("reply", "error"):
            frames.append(json.loads(ws.recv(timeout=60)))
    return token, frames, opening[0]


def test_serve_with_embedded_redis_and_model_answers_and_remembers_across_restarts(tmp_path: Path) -> None:
    # Greedy: the same reply every run, so how it streams is the same too.
    env = clean_env(SHOPBOT_DATA_DIR=str(tmp_path / "data"), SHOPBOT_LLM__TEMPERATURE="0")
    with serving(env) as url:
        assert httpx.get(f"{url}/readyz").json()["ready"] is True
        assert "<script" in httpx.get(url).text
        token, frames, first = ask(url, "How much is the Ridgeline Daypack 24 L?")
        assert first["type"] == "session"
        reply = frames[-1]
        assert reply["type"] == "reply", frames
        deltas = [f for f in frames if f["type"] == "delta"]
        assert len(deltas) > 5, "the default model streams its reply"
        assert len(reply["text"].split()) >= 5
    assert (tmp_path / "data" / "redis" / "appendonly.aof").exists() or (tmp_path / "data" / "redis").glob("*.rdb")

    server_log: list[str] = []
    with serving(env, log=server_log) as url:  # a restart: same data directory, same session secret
        _, _, first = ask(url, "thanks", token=token)
        assert first["type"] == "history"
        assert [m["text"] for m in first["messages"]][:2] == ["How much is the Ridgeline Daypack 24 L?", reply["text"]]
    assert '"WebSocket /ws?token=[redacted]" [accepted]' in server_log[0]
    assert token not in server_log[0], "a session token is a key to a shopper's history: never logged"


def test_chat_in_the_terminal_keeps_its_history(redis_url: str) -> None:
    env = clean_env(SHOPBOT_REDIS_URL=redis_url, SHOPBOT_REDIS_PREFIX="clichat")
    first = subprocess.run(
        [SHOPBOT, "chat", "--user", "alice"], input="I want to return my shoes\n", env=env,
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert first.returncode == 0, first.stderr
    assert "bot> " in first.stdout and len(first.stdout.split("bot> ", 1)[1].split()) >= 3
    second = subprocess.run(
        [SHOPBOT, "chat", "--user", "alice"], input="/forget\n", env=env, capture_output=True, text=True, timeout=120
    )
    assert "you> I want to return my shoes" in second.stdout, "the same history as before"
    assert "/forget confirm" in second.stdout, "the confirmation buttons are shown as commands to type"


def test_help_explains_every_option(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    for command in (
        ["--help"],
        ["serve", "--help"],
        ["chat", "--help"],
        ["train", "--help"],
        ["bench", "engine", "--help"],
    ):
        with pytest.raises(SystemExit) as done:
            main(command)
        assert done.value.code == 0
    out = capsys.readouterr().out
    assert all(name in out for name in ("serve", "chat", "train", "bench"))

    def check(command: argparse.ArgumentParser) -> None:
        for action in command._actions:
            assert action.help, f"`{command.prog} {action.option_strings or action.dest}` has no help text"
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    check(sub)

    check(parser)


CORPUS = Path(__file__).parent / "corpus"
KETTLE = Path(__file__).parent / "shops" / "kettle_and_leaf"


def test_serve_answers_from_another_store_folder(tmp_path: Path) -> None:
    env = clean_env(SHOPBOT_DATA_DIR=str(tmp_path / "data"), SHOPBOT_STORE_DIR=str(KETTLE))
    with serving(env) as url:
        page = httpx.get(url).text
        assert "Kettle &amp; Leaf" in page and "Trailhead" not in page  # the page wears the served shop's name
        _, frames, _ = ask(url, "How much is the Cast-Iron Tetsubin 800 ml?")
        reply = frames[-1]
        assert reply["type"] == "reply", frames
        assert "€89.00" in reply["text"], reply  # the unseen shop's price, by the model or the checker
        assert any(source["title"].startswith("Cast-Iron Tetsubin") for source in reply["sources"])


def test_bench_quality_prints_its_figures(tmp_path: Path, redis_url: str) -> None:
    questions = tmp_path / "questions.jsonl"
    rows = [
        {"question": "Where is order 50308? My e-mail is felix.braun@example.net", "must": ["shipped"],
         "intent": "order_status"},
        {"question": "where is order 50308? email felix.braun@example.com", "must_not": ["00340434161094039811"],
         "intent": "order_status"},
        {"question": "What's the capital of Australia?", "must_not": ["Canberra"], "intent": "out_of_scope"},
    ]  # fmt: skip
    questions.write_text("".join(json.dumps(row) + "\n" for row in rows))
    env = clean_env(SHOPBOT_REDIS_URL=redis_url, SHOPBOT_REDIS_PREFIX=f"quality{time.monotonic_ns()}")
    done = subprocess.run(
        [SHOPBOT, "bench", "quality", "--store", str(KETTLE), "--questions", str(questions)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    header, _, row = done.stdout.splitlines()[:3]
    figures = dict(zip(header.split("|")[1:-1], row.split("|")[1:-1], strict=True))
    assert figures[" right "].strip() == "100.0%" and figures[" wrong facts "].strip() == "0", done.stdout


def test_bench_quality_leave_one_out_over_a_corpus(redis_url: str) -> None:
    """The small corpus of three shops (tests/corpus, written from the store format alone): each
    shop measured with thresholds calibrated on the other two."""
    env = clean_env(SHOPBOT_REDIS_URL=redis_url, SHOPBOT_REDIS_PREFIX=f"loo{time.monotonic_ns()}")
    done = subprocess.run(
        [SHOPBOT, "bench", "quality", "--corpus", str(CORPUS), "--leave-one-out", "--show"],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    out = done.stdout
    for shop in ("fjord-wool", "lantern-books", "tidal-surf"):
        assert f"{shop}: thresholds calibrated on the other shops" in out, out
    # tests/corpus/held_out.txt names tidal-surf: it is reported apart.
    table = {line.split("|")[1].strip(): line.split("|")[2:-1] for line in out.splitlines() if line.startswith("| ")}
    assert {"fjord-wool", "lantern-books", "tidal-surf (held out)", "all", "held-out shops"} <= set(table), out
    assert table["held-out shops"][:3] == table["tidal-surf (held out)"][:3], "one held-out shop: the same figures"
    questions, right, wrong = (cell.strip() for cell in table["all"][:3])
    assert questions == "48" and wrong == "0", out
    assert float(right.rstrip("%")) >= 70, out


def test_bench_messages_measures_hand_overs_and_other_desks_on_the_measured_half(
    tmp_path: Path, redis_url: str
) -> None:
    from bot.corpus import Message, halves

    customers = [
        Message(text=text, label=label)
        for text, label in [
            ("THIS IS THE THIRD TIME MY ORDER IS LATE!!! I WANT MY MONEY BACK NOW OR I CALL MY LAWYER", "furious"),
            ("are you kidding me?? two weeks and STILL no parcel. worst shop ever, never again!!!", "furious"),
            ("unbelievable. you charged me twice and nobody answers my emails. disgusting service", "furious"),
            ("my parcel arrived a bit late but everything is fine, thanks", "positive"),
            ("the mug I got has a small chip, could you send another one?", "negative"),
            ("do you restock the blue version soon?", "neutral"),
            ("hi, what time do you close on saturdays?", "neutral"),
            ("love the socks, they are so warm!", "positive"),
        ]
    ]
    desks = [
        Message(text=text, domain="other")
        for text in [
            "how do I reset the PIN on my debit card?",
            "can you move my dentist appointment to Friday afternoon?",
            "my flight got cancelled, can I rebook on the next one for free?",
            "what is the interest rate on your savings account?",
        ]
    ]
    (tmp_path / "customer_sentiment.jsonl").write_text(
        "".join(m.model_dump_json(exclude_none=True) + "\n" for m in customers)
    )
    (tmp_path / "other_domains.jsonl").write_text("".join(m.model_dump_json(exclude_none=True) + "\n" for m in desks))
    env = clean_env(SHOPBOT_REDIS_URL=redis_url, SHOPBOT_REDIS_PREFIX=f"msgs{time.monotonic_ns()}")
    done = subprocess.run(
        [SHOPBOT, "bench", "messages", "--messages", str(tmp_path)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    table = {
        row.split("|")[1].strip(): row.split("|")[2].strip() for row in done.stdout.splitlines() if row.startswith("| ")
    }
    # Only the measured half is asked, so its sizes are what the table counts.
    assert table["customers' messages"] == str(len(halves(customers)[1])), done.stdout
    assert table["other companies' support questions"] == str(len(halves(desks)[1])), done.stdout
    furious = [m for m in halves(customers)[1] if m.label == "furious"]
    assert table["furious messages handed to a person"].endswith(f"/{len(furious)})"), done.stdout
    assert table["... answered as if a shop question (wrong)"] in ("0.0%", "-"), done.stdout


def test_bench_retrieval_compares_the_rankings_side_by_side(tmp_path: Path) -> None:
    questions = tmp_path / "questions.jsonl"
    rows = [
        {"question": "How long do refunds take?", "must": ["5 working days"], "intent": "returns_refund"},
        {"question": "How much is the Cast-Iron Tetsubin 800 ml?", "must": ["€89.00"], "intent": "product_question"},
        {"question": "where is order 50308? felix.braun@example.com", "must": ["shipped"], "intent": "order_status"},
    ]  # fmt: skip
    questions.write_text("".join(json.dumps(row) + "\n" for row in rows))
    done = subprocess.run(
        [SHOPBOT, "bench", "retrieval", "--store", str(KETTLE), "--questions", str(questions)],
        env=clean_env(), capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "2 questions" in done.stdout, "the order question is looked up, not retrieved"
    rows_out = {line.split()[0]: line.split()[1:] for line in done.stdout.splitlines()[2:]}
    assert set(rows_out) == {"words", "meaning", "both"}, done.stdout
    assert rows_out["both"][1] == "1.00", done.stdout


def test_serve_runs_the_slack_app_and_a_staff_reply_reaches_the_widget_shopper(tmp_path: Path) -> None:
    fake = FakeSlack()
    with slack_in_thread(fake) as api_url:
        env = clean_env(
            SHOPBOT_DATA_DIR=str(tmp_path / "data"),
            SHOPBOT_SLACK__BOT_TOKEN=SLACK_TOKEN,
            SHOPBOT_SLACK__SIGNING_SECRET=SLACK_SECRET,
            SHOPBOT_SLACK__SUPPORT_CHANNEL="C0SUPPORT",
            SHOPBOT_SLACK__API_URL=api_url,
        )
        server_log: list[str] = []
        with serving(env, log=server_log) as url:
            token, frames, _ = ask(url, "/human")
            assert "handed_over" in frames[-1]["flags"], frames
            deadline = time.monotonic() + 30
            while not fake.posts("C0SUPPORT") and time.monotonic() < deadline:
                time.sleep(0.1)
            thread = fake.posts("C0SUPPORT")[0]["_ts"]
            reply = {"type": "message", "channel": "C0SUPPORT", "channel_type": "channel", "user": "U0STAFF"}
            body = event_body({**reply, "text": "Hello, Sam here.", "ts": "1700000900.000001", "thread_ts": thread})
            assert httpx.post(f"{url}/slack/events", content=body, headers=signed(body)).status_code == 200
            forged = httpx.post(f"{url}/slack/events", content=body, headers=signed(body, secret="wrong"))
            assert forged.status_code == 401
            deadline = time.monotonic() + 30
            while not fake.of("reactions.add") and time.monotonic() < deadline:
                time.sleep(0.1)
            with ws_connect(url.replace("http://", "ws://") + f"/ws?token={token}") as ws:
                history = json.loads(ws.recv())
            assert ("staff", "Hello, Sam here.") in [(m["role"], m["text"]) for m in history["messages"]]
        assert "Slack app on, events at /slack/events" in server_log[0]
        assert SLACK_TOKEN not in server_log[0]


def test_serve_answers_on_telegram_and_the_webhook_is_set_once(tmp_path: Path) -> None:
    api = FakeBotApi()
    with bot_api_in_thread(api) as api_url:
        env = clean_env(
            SHOPBOT_DATA_DIR=str(tmp_path / "data"),
            SHOPBOT_STORE_DIR=str(KETTLE),
            SHOPBOT_TELEGRAM__TOKEN=TELEGRAM_TOKEN,
            SHOPBOT_TELEGRAM__API_URL=api_url,
        )
        server_log: list[str] = []
        with serving(env, log=server_log):
            api.push(message=api.message(7001, "How much is the Cast-Iron Tetsubin 800 ml?"))
            deadline = time.monotonic() + 60
            while not any("€89.00" in text for text in api.sent(7001)) and time.monotonic() < deadline:
                time.sleep(0.1)
            assert any("€89.00" in text for text in api.sent(7001)), api.calls[-5:]
        assert "Telegram bot on, long polling" in server_log[0]
        assert TELEGRAM_TOKEN not in server_log[0], "the token never reaches a log line"

        hook = [SHOPBOT, "telegram", "set-webhook", "https://shop.example/telegram/webhook"]
        env["SHOPBOT_TELEGRAM__WEBHOOK_SECRET"] = "a-secret_1"
        first = subprocess.run(hook, env=env, capture_output=True, text=True, timeout=60)
        second = subprocess.run(hook, env=env, capture_output=True, text=True, timeout=60)
        assert first.returncode == 0 and first.stdout.startswith("webhook set to"), first
        assert second.returncode == 0 and second.stdout.startswith("the webhook is already"), second
        assert len(api.of("setWebhook")) == 1
