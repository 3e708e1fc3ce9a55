"""`shopbot bench slack`: many shoppers handed to staff at once, through the real web channel
(websockets to the real app), the real engine and Redis, and the real Slack channel (bolt, the
paced client, the desk) against the fake Slack Web API, which answers a share of posts with a
429 and `Retry-After: 1`.

Each shopper types `/human`, and its thread is posted; a signed staff reply in that thread is
sent to the app, and must arrive on that shopper's websocket; the shopper writes again, and the
assistant must stay silent while the message appears in the thread. The report says whether
all of that happened exactly once and to the right shopper, the latencies of each step, and the
time to finish against the lower bound the support channel's pace allows (every hand-over goes
to one channel, and Slack takes about one post a second there). The model is an instant
stand-in: the figures are the channel's.
"""

from __future__ import annotations

import asyncio
import json
import statistics
import time
import uuid
from dataclasses import dataclass

import httpx
import uvicorn
import websockets
from pydantic import SecretStr

from adapters.slack import slack_channel
from adapters.slack_fake import BOT_TOKEN, SECRET, FakeSlack, event_body, signed, slack_in_thread
from adapters.web import create_app
from adapters.web_push import WebPush
from adapters.web_sessions import SessionTokens
from bot.llm.instant import InstantModel
from bot.runtime import open_runtime
from bot.settings import Settings, WebSettings

SUPPORT = "C0SUPPORT"


def _percentile(values: list[float], share: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


@dataclass(frozen=True)
class SlackBenchReport:
    shoppers: int
    threads_once: int  # shoppers with exactly one thread
    replies_right: int  # shoppers who got their own staff reply, once, and nobody else's
    silent_and_mirrored: int  # shoppers whose second message got no reply and reached their thread once
    handover_s: list[float]  # "/human" answered -> its thread posted
    staff_s: list[float]  # staff reply event sent -> on the shopper's socket
    mirror_s: list[float]  # second message forwarded -> in the thread
    limited: int  # posts the fake answered 429
    posts: int
    closest_s: float  # the closest two posts to the support channel
    interval_s: float
    seconds: float

    @property
    def lower_bound_s(self) -> float:
        return max(self.posts - 1, 0) * self.interval_s

    def __str__(self) -> str:
        def line(name: str, values: list[float]) -> str:
            return (
                f"  {name:<26} p50 {statistics.median(values) if values else float('nan'):.3f} s, "
                f"p95 {_percentile(values, 0.95):.3f} s, max {max(values, default=float('nan')):.3f} s"
            )

        return "\n".join(
            [
                f"{self.shoppers} shoppers handed to staff at once through the fake Slack Web API "
                f"({self.limited} posts answered 429)",
                f"  one thread each:           {self.threads_once}/{self.shoppers}",
                f"  staff reply, own, once:    {self.replies_right}/{self.shoppers}",
                f"  bot silent, message in thread once: {self.silent_and_mirrored}/{self.shoppers}",
                line("hand-over -> thread:", self.handover_s),
                line("staff reply -> shopper:", self.staff_s),
                line("shopper -> thread:", self.mirror_s),
                f"  closest two posts to the support channel: {self.closest_s:.3f} s (limit {self.interval_s:g} s)",
                f"  time to finish: {self.seconds:.1f} s for {self.posts} posts; lower bound "
                f"{self.lower_bound_s:.1f} s ({self.seconds / max(self.lower_bound_s, 1e-9):.2f}x)",
            ]
        )


async def run_slack_bench(settings: Settings, *, shoppers: int = 20, chaos: float = 0.05) -> SlackBenchReport:
    fake = FakeSlack(chaos=chaos)
    # The fake on its own thread and loop: it times calls as they arrive.
    with slack_in_thread(fake) as api_url:
        return await _run(fake, api_url, settings, shoppers)


async def _run(fake: FakeSlack, api_url: str, settings: Settings, shoppers: int) -> SlackBenchReport:
    slack_settings = settings.slack.model_copy(
        update={
            "bot_token": SecretStr(BOT_TOKEN),
            "signing_secret": SecretStr(SECRET),
            "app_token": None,
            "api_url": api_url,
            "support_channel": SUPPORT,
            "team_id": None,
            "staff_usergroup": None,
        }
    )
    sessions = SessionTokens(uuid.uuid4().hex, ttl_s=3600)
    async with open_runtime(settings, model=InstantModel()) as runtime:
        push = WebPush(runtime.store)
        runtime.outbox.register("web", push)
        push.start()
        async with slack_channel(
            engine=runtime.engine,
            store=runtime.store,
            outbox=runtime.outbox,
            knowledge=runtime.knowledge,
            settings=slack_settings,
        ) as slack:
            app = create_app(
                engine=runtime.engine,
                settings=WebSettings(),
                sessions=sessions,
                metrics=runtime.metrics,
                extra_routes=[slack.events_route()],
                push=push,
            )
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
            serving = asyncio.create_task(server.serve())
            while not server.started:
                await asyncio.sleep(0.01)
            base = f"http://127.0.0.1:{server.servers[0].sockets[0].getsockname()[1]}"
            try:
                started = time.monotonic()
                async with httpx.AsyncClient(timeout=60) as client:
                    outcomes = await asyncio.gather(
                        *(_shopper(i, base, client, fake, sessions, runtime.store) for i in range(shoppers))
                    )
                seconds = time.monotonic() - started
            finally:
                server.should_exit = True
                await serving
                await push.stop()
    posts = [c.at for c in fake.of("chat.postMessage") if c.params["channel"] == SUPPORT]
    gaps = [b - a for a, b in zip(posts, posts[1:], strict=False)]
    return SlackBenchReport(
        shoppers=shoppers,
        threads_once=sum(o.threads == 1 for o in outcomes),
        replies_right=sum(o.reply_right for o in outcomes),
        silent_and_mirrored=sum(o.silent_and_mirrored for o in outcomes),
        handover_s=[o.handover_s for o in outcomes if o.handover_s is not None],
        staff_s=[o.staff_s for o in outcomes if o.staff_s is not None],
        mirror_s=[o.mirror_s for o in outcomes if o.mirror_s is not None],
        limited=len(fake.of("chat.postMessage:429")),
        posts=len(posts),
        closest_s=min(gaps, default=float("nan")),
        interval_s=slack_settings.channel_interval_s,
        seconds=seconds,
    )


@dataclass
class _Outcome:
    threads: int = 0
    reply_right: bool = False
    silent_and_mirrored: bool = False
    handover_s: float | None = None
    staff_s: float | None = None
    mirror_s: float | None = None


async def _until(check: object, timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while not check():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise TimeoutError("the benchmark waited too long")
        await asyncio.sleep(0.02)


async def _shopper(
    i: int, base: str, client: httpx.AsyncClient, fake: FakeSlack, sessions: SessionTokens, store: object
) -> _Outcome:
    outcome = _Outcome()
    async with websockets.connect(base.replace("http://", "ws://") + "/ws") as ws:
        session = json.loads(await ws.recv())
        visitor = sessions.visitor(session["token"])
        customer = await store.customer_for("web", str(visitor))  # type: ignore[attr-defined]

        async def frame(kinds: set[str]) -> dict[str, object]:
            while True:
                got: dict[str, object] = json.loads(await asyncio.wait_for(ws.recv(), 300))
                if got["type"] in kinds:
                    return got

        await ws.send(json.dumps({"type": "message", "text": "/human", "id": f"h{i}"}))
        await frame({"reply"})
        asked = time.monotonic()

        def threads() -> list[dict[str, object]]:
            return [
                p for p in fake.posts(SUPPORT) if not p.get("thread_ts") and customer in json.dumps(p.get("blocks", ""))
            ]

        await _until(lambda: threads())
        thread_call = next(c for c in fake.of("chat.postMessage") if c.params.get("_ts") == threads()[0]["_ts"])
        outcome.handover_s = thread_call.at - asked
        thread = str(threads()[0]["_ts"])

        said = f"Hello shopper {i}, this is Sam."
        event = {"type": "message", "channel": SUPPORT, "channel_type": "channel", "user": "U0STAFF"}
        body = event_body({**event, "text": said, "ts": f"1800000000.{i:06d}", "thread_ts": thread})
        sent = time.monotonic()
        response = await client.post(f"{base}/slack/events", content=body, headers=signed(body))
        response.raise_for_status()
        pushed: list[str] = []
        while said not in pushed:
            got = await frame({"push"})
            if got.get("role") == "staff":
                pushed.append(str(got["text"]))
        outcome.staff_s = time.monotonic() - sent
        outcome.reply_right = pushed == [said]

        again = f"Thanks! Shopper {i} here again."
        await ws.send(json.dumps({"type": "message", "text": again, "id": f"a{i}"}))
        answer = await frame({"reply", "forwarded", "error"})
        forwarded = time.monotonic()
        await _until(lambda: any(again in t for t in fake.texts(SUPPORT, thread)))
        outcome.mirror_s = time.monotonic() - forwarded
        # Slack may be slow on the last posts: wait until no more of this shopper's come.
        await asyncio.sleep(0.5)
        outcome.silent_and_mirrored = (
            answer["type"] == "forwarded" and sum(again in t for t in fake.texts(SUPPORT, thread)) == 1
        )
        outcome.threads = len(threads())
    return outcome
