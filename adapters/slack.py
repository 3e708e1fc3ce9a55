"""The Slack channel (slack-bolt AsyncApp): where the shop's staff work with the assistant.

- Staff DM the app or mention it, and get answers from the engine's staff persona (orders
  without the e-mail check, customers, policies), in a thread.
- `/shopbot copy <product or brief>` writes marketing copy, with buttons to regenerate it or
  post the one they pick.
- A hand-over from any channel becomes a thread in the support channel: the customer, their
  channel, sentiment, a two-line summary and the last messages. From then on the thread is
  the conversation: the shopper's messages appear in it, a staff reply in it reaches the
  shopper through the engine's outbox (one starting with `note:` stays internal), and its
  buttons take over, hand back to the assistant, or resolve. Who answers is one state in
  Redis, checked by the engine before every reply, so it survives a restart.

Events arrive over HTTP (the Events API, on the web app, every request's signature checked by
bolt: a bad or stale one gets 401) or over Socket Mode when an app-level token is set. Bolt
acknowledges at once and the work runs after. Slack retries an event it thinks was not
acknowledged; each event_id is taken once (SET NX in Redis, across processes), and the claim
is given back when its handling fails, so a retry is handled then. The hand-overs and
mirrored messages come from the engine through a Redis Stream read with a consumer group:
one Slack outage or restart delays them, loses none.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import socket
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import aiohttp
from slack_bolt import BoltResponse
from slack_bolt.adapter.starlette.async_handler import to_async_bolt_request, to_starlette_response
from slack_bolt.async_app import AsyncApp, AsyncBoltRequest
from slack_bolt.context.async_context import AsyncBoltContext
from slack_sdk.errors import SlackApiError, SlackClientError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.slack_client import PacedWebClient, create_client
from adapters.slack_text import escape, plain, section_messages
from bot.copywriter import Copy, Copywriter, topic_of
from bot.errors import DuplicateMessage, ShopbotError
from bot.loops import stop_if_cancelled
from bot.messages import Address, Channel, HandOver, Inbound, Mirrored, QuickReply, Reply, Role
from bot.outbox import Outbox
from bot.settings import SlackSettings
from bot.staff import STAFF_HELP
from bot.store import Store
from bot.summary import sentiment_trend, summarize

if TYPE_CHECKING:
    from bot.engine import Engine
    from bot.knowledge.grounding import ShopKnowledge

log = logging.getLogger(__name__)

CHANNEL: Channel = "slack"
DESK_GROUP = "slack"
TAKE, BACK, RESOLVE = "handover_take", "handover_back", "handover_resolve"
REGENERATE, PICK = "copy_regenerate", "copy_pick"
NOT_STAFF = "Sorry, only the shop's support team can use this app."
_EVENT_TTL_S = 6 * 3600  # Slack retries within minutes; a handled event id is kept this long
# An event being handled holds its claim this long: a process that dies with it in hand lets
# Slack's later retries (1 and 5 minutes on) through.
_EVENT_WORK_S = 90
# An event still in the inbox this long after it came was left by a process that stopped.
_INBOX_STALE_MS = 120_000
_GROUP_TTL_S = 60.0  # how long the staff user group's members are trusted
# A desk event another process was given and left this long is taken over: well past the
# lease, so never one a live reader is still posting.
_STALE_DESK_MS = 180_000
_CLAIM_EVERY_S = 30.0
_LEAD_MS = 60_000  # one process reads the desk stream (order); another takes over this long after it stops
_DESK_TRIES = 3  # a desk event Slack refuses this often (for itself, not the set-up) is set aside
# Refusals that say the set-up is wrong, not the event: every event waits until it is fixed.
_SETUP_ERRORS = {
    "ratelimited",
    "channel_not_found",
    "not_in_channel",
    "is_archived",
    "invalid_auth",
    "not_authed",
    "account_inactive",
    "token_revoked",
    "missing_scope",
    "team_access_not_granted",
    "fatal_error",
    "internal_error",
    "service_unavailable",
}
_HANDOVER_MAX_AGE = timedelta(days=3)  # older hand-overs (Slack was off) are logged, not posted
_RECENT = 6
_MAX_BODY = 1 << 20
_REASONS = {
    "asked_for_person": "asked for a person",
    "negative_sentiment": "is upset (strongly negative sentiment)",
    "not_helped": "was not helped by the assistant",
}
_WHO: dict[Role, str] = {"user": "Shopper", "assistant": "Assistant", "staff": "Staff"}


def handover_blocks(event: HandOver, customer: str, lines: tuple[str, str], trend: str, recent: str) -> list[Any]:
    buttons = [
        {"type": "button", "action_id": TAKE, "text": {"type": "plain_text", "text": "Take over"}, "style": "primary"},
        {"type": "button", "action_id": BACK, "text": {"type": "plain_text", "text": "Hand back to assistant"}},
        {"type": "button", "action_id": RESOLVE, "text": {"type": "plain_text", "text": "Resolve"}},
    ]
    for button in buttons:
        button["value"] = event.customer_id
    return [
        {"type": "header", "text": {"type": "plain_text", "text": f"Hand-over: the shopper {_REASONS[event.reason]}"}},
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": f"*Customer*\n{customer}"},
                {"type": "mrkdwn", "text": f"*Channel*\n{event.channel}"},
                {"type": "mrkdwn", "text": f"*Sentiment*\n{trend}"},
            ],
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": escape("\n".join(x for x in lines if x))[:3000]}},
        {"type": "section", "text": {"type": "mrkdwn", "text": recent[:3000] or "_no messages yet_"}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": "Reply in this thread to answer the shopper; a reply starting with `note:` stays here.",
                }
            ],
        },
        {"type": "actions", "elements": buttons},
    ]


def copy_blocks(copy: Copy) -> list[Any]:
    # A button's value holds 2,000 characters: the brief is cut well inside that, and written
    # without \u escapes, which would make one character six.
    value = json.dumps({"p": copy.product.id, "v": copy.variant, "b": copy.brief[:1000]}, ensure_ascii=False)
    return [
        {
            "type": "section",
            "text": {"type": "mrkdwn", "text": f"*{copy.kind.capitalize()}* for {escape(copy.product.title)}"},
        },
        {"type": "section", "text": {"type": "mrkdwn", "text": escape(copy.text)[:3000]}},
        {
            "type": "actions",
            "elements": [
                {
                    "type": "button",
                    "action_id": REGENERATE,
                    "text": {"type": "plain_text", "text": "Regenerate"},
                    "value": value,
                },
                {
                    "type": "button",
                    "action_id": PICK,
                    "style": "primary",
                    "text": {"type": "plain_text", "text": "Use this one"},
                    "value": value,
                },
            ],
        },
    ]


def _actor_team(body: dict[str, Any], context: AsyncBoltContext) -> str | None:
    """A button's presser's own workspace (`user.team_id`), else what bolt read as the actor's."""
    return (body.get("user") or {}).get("team_id") or context.actor_team_id


class SlackChannel:
    def __init__(
        self,
        *,
        engine: Engine,
        store: Store,
        outbox: Outbox,
        knowledge: ShopKnowledge,
        settings: SlackSettings,
        client: PacedWebClient | None = None,
    ) -> None:
        self._engine = engine
        self._store = store
        self._outbox = outbox
        self._knowledge = knowledge
        self._settings = settings
        self._writer = Copywriter(lambda: knowledge.shop.profile)
        self.client = client or create_client(settings)
        secret = settings.signing_secret.get_secret_value() if settings.signing_secret else None
        self.app = AsyncApp(
            client=self.client,
            signing_secret=secret,
            # Socket Mode needs no signature (the socket is the app's own); HTTP always does.
            request_verification_enabled=secret is not None,
            process_before_response=False,
            logger=logging.getLogger("slack_bolt"),
        )
        self._team: str | None = settings.team_id
        self._bot_user: str | None = None
        self._group: tuple[float, set[str]] = (0.0, set())
        self._names: dict[str, str] = {}
        self._socket: Any = None
        # One customer's thread replies and buttons, one at a time: "Sam joined" comes before
        # Sam's first words even when two replies arrive together.
        self._locks: weakref.WeakValueDictionary[str, asyncio.Lock] = weakref.WeakValueDictionary()
        self._desk: asyncio.Task[None] | None = None
        self._stopping = asyncio.Event()
        self.app.middleware(self._once)
        self.app.event("app_mention")(self._on_mention)
        self.app.event("message")(self._on_message)
        self.app.command("/shopbot")(self._on_command)
        for action in (TAKE, BACK, RESOLVE):
            self.app.action(action)(self._on_handover_button)
        self.app.action(REGENERATE)(self._on_copy_button)
        self.app.action(PICK)(self._on_copy_button)

    # -- who may use it -------------------------------------------------------------------

    async def _identity(self) -> tuple[str, str]:
        """The workspace and the bot's own user, from auth.test once."""
        if self._team is None or self._bot_user is None:
            answer = await self.client.auth_test()
            self._team = self._team or str(answer["team_id"])
            self._bot_user = str(answer["user_id"])
        return self._team, self._bot_user

    async def is_staff(self, team_id: str | None, user_id: str | None) -> bool:
        """Staff are trusted with every order: only the shop's workspace, and the user group
        when one is set."""
        if not user_id:
            return False
        team, _ = await self._identity()
        if team_id != team:
            log.warning("slack: user %s of workspace %s refused (the shop's is %s)", user_id, team_id, team)
            return False
        group = self._settings.staff_usergroup
        if group is None:
            return True
        fetched, members = self._group
        if time.monotonic() - fetched > _GROUP_TTL_S:
            answer = await self.client.usergroups_users_list(usergroup=group)
            members = {str(u) for u in answer.get("users") or []}
            self._group = (time.monotonic(), members)
        return user_id in members

    async def _name(self, user_id: str) -> str:
        if user_id not in self._names:
            try:
                profile = (await self.client.users_info(user=user_id))["user"]
                self._names[user_id] = (
                    profile.get("profile", {}).get("display_name") or profile.get("real_name") or "A person"
                )
            except (SlackApiError, KeyError, TypeError) as exc:
                log.info("slack: no name for %s: %s", user_id, exc)
                return "A person"
        return self._names[user_id]

    # -- every event once -----------------------------------------------------------------

    async def _once(
        self, body: dict[str, Any], context: AsyncBoltContext, next: Callable[[], Awaitable[None]]
    ) -> BoltResponse | None:
        """An event Slack sends again (X-Slack-Retry-Num, or a socket's retry_attempt) is
        handled once: the first delivery to claim its event_id handles it, a retry of one
        claimed is acknowledged and skipped. A Redis failure answers 500: Slack retries.

        Bolt acknowledges before the work runs, and Slack never sends an acknowledged event
        again: so the event is kept in a Redis inbox until it is handled. One a process died
        with is handled by another (`recover`)."""
        event_id = body.get("event_id") if body.get("type") == "event_callback" else None
        if event_id and not await self._store.claim_event(CHANNEL, str(event_id), ttl_s=_EVENT_WORK_S):
            log.info("slack event %s delivered again: handled already", event_id)
            return BoltResponse(status=200, body="")
        if event_id and not context.get("recovered"):
            context["inbox_id"] = await self._store.inbox_add(CHANNEL, json.dumps(body))
        await next()
        return None

    async def _released_on_failure(
        self, body: dict[str, Any], context: AsyncBoltContext, work: Awaitable[None]
    ) -> None:
        """Run an event's work; when it fails (or is cut off by a shutdown) its claim is given
        back, so a retry of it is handled. Slack only retries what it saw unacknowledged, so the
        work also says in Slack what did not happen (see _message and _question)."""
        event_id = str(body["event_id"]) if body.get("event_id") else None
        inbox_id = context.get("inbox_id")
        try:
            await work
        except BaseException as exc:
            if event_id:
                await asyncio.shield(self._store.release_event(CHANNEL, event_id))
            if not isinstance(exc, Exception):
                raise  # cut off: the inbox keeps it, another process (or this one, later) handles it
            log.exception("slack: event %s failed; a retry of it will be handled", event_id)
            if inbox_id:
                await self._store.inbox_done(CHANNEL, inbox_id)  # said in the thread; not tried again
        else:
            if event_id:  # handled: a late retry of it is skipped for hours, not seconds
                await self._store.claim_event(CHANNEL, event_id, ttl_s=_EVENT_TTL_S, renew=True)
            if inbox_id:
                await self._store.inbox_done(CHANNEL, inbox_id)

    async def recover(self) -> int:
        """Handle the events a process acknowledged and died with (older than a couple of
        minutes in the inbox, their claims lapsed). Returns how many."""
        stale = await self._store.inbox_stale(CHANNEL, older_than_ms=_INBOX_STALE_MS)
        for entry_id, raw in stale:
            log.warning("slack: event left unhandled by a process that stopped (%s); handling it now", entry_id)
            request = AsyncBoltRequest(body=raw, mode="socket_mode", context={"recovered": True, "inbox_id": entry_id})
            try:
                await self.app.async_dispatch(request)  # socket mode: it was checked when it came
            finally:
                await self._store.inbox_done(CHANNEL, entry_id)  # once: a retry loop must not come of it
        return len(stale)

    def _lock(self, customer_id: str) -> asyncio.Lock:
        lock = self._locks.get(customer_id)
        if lock is None:
            lock = self._locks[customer_id] = asyncio.Lock()
        return lock

    # -- events ---------------------------------------------------------------------------

    # The workspace of the person acting (context.actor_team_id), not of the app's install: in a
    # Slack Connect channel those differ, and outsiders must not see the shop's orders.

    async def _on_mention(self, event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext) -> None:
        await self._released_on_failure(body, context, self._mention(event, context))

    async def _mention(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        _, bot_user = await self._identity()
        text = event.get("text", "").replace(f"<@{bot_user}>", "").strip()
        await self._question(context, event, plain(text))

    async def _on_message(self, event: dict[str, Any], body: dict[str, Any], context: AsyncBoltContext) -> None:
        await self._released_on_failure(body, context, self._message(event, context))

    async def _message(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        # Edits, deletions, joins and bots' posts are no questions nor replies to a shopper; a
        # reply with a file is its text (the file itself is not sent: said in the thread).
        if event.get("subtype") not in (None, "thread_broadcast", "file_share"):
            return
        if event.get("bot_id") or not event.get("user"):
            return
        _, bot_user = await self._identity()
        text = event.get("text", "")
        if event.get("channel_type") == "im":
            await self._question(context, event, plain(text))
            return
        thread_ts = event.get("thread_ts")
        if not thread_ts or f"<@{bot_user}>" in text:  # a mention is a question: app_mention has it
            return
        customer_id = await self._store.customer_for_thread(event["channel"], thread_ts)
        if customer_id is None:
            if event.get("parent_user_id") == bot_user:
                # A thread of ours that leads to no shopper (a post repeated after a failure,
                # or one older than the history): said, not silently dropped.
                await self.post(
                    event["channel"],
                    "This thread is not linked to a shopper: your reply was not sent. "
                    "Answer in the newest hand-over thread of this customer.",
                    thread_ts=thread_ts,
                )
            return  # otherwise a thread of the channel's own chatter
        if not await self.is_staff(context.actor_team_id, context.actor_user_id):
            await self.post(event["channel"], NOT_STAFF, thread_ts=thread_ts)
            return
        try:
            async with self._lock(customer_id):
                await self._staff_reply(customer_id, event, thread_ts)
        except Exception as exc:
            # Bolt acknowledged the event already: Slack will not send it again, so the person
            # who wrote it must see that it did not reach the shopper.
            with contextlib.suppress(Exception):
                await self._react(event["channel"], event["ts"], "warning")
                await self.post(
                    event["channel"],
                    f"Not delivered to the shopper ({type(exc).__name__}). Please send it again.",
                    thread_ts=thread_ts,
                )
            raise

    async def _question(self, context: AsyncBoltContext, event: dict[str, Any], text: str) -> None:
        channel, ts, user = event["channel"], event["ts"], event.get("user", "")
        thread = event.get("thread_ts") or ts
        if not await self.is_staff(context.actor_team_id, context.actor_user_id or user):
            await self.post(channel, NOT_STAFF, thread_ts=thread)
            return
        try:
            answer = await self.ask(user, text, channel=channel, thread=thread, message_id=f"{channel}:{ts}")
        except Exception:
            answer = ShopbotError.public_message
            log.exception("slack: staff question %s:%s failed", channel, ts)
        if answer is None:
            return
        # Answers hold customers' data: in the open only in a DM or the support channel; in any
        # other channel only the one who asked sees it.
        private = event.get("channel_type") == "im" or channel.startswith("D")
        if private or channel == self._settings.support_channel:
            await self.post(channel, escape(answer), thread_ts=thread)
        else:
            for fallback, blocks in section_messages(escape(answer)):
                await self.client.chat_postEphemeral(
                    channel=channel, user=user, text=fallback, blocks=blocks, thread_ts=thread
                )

    async def ask(self, user: str, text: str, *, channel: str, thread: str | None, message_id: str) -> str | None:
        """The staff persona's answer (None: this message was answered already)."""
        inbound = Inbound(
            channel=CHANNEL,
            user_id=user,
            address=Address(channel=CHANNEL, chat_id=channel, thread_id=thread),
            message_id=message_id,
            text=text or "help",
            persona="staff",
        )
        try:
            reply: Reply | None = None
            async for item in self._engine.handle(inbound):
                if isinstance(item, Reply):
                    reply = item
            if reply is None or "repeat" in reply.flags:
                return None
            return reply.text
        except DuplicateMessage:
            return None
        except ShopbotError as exc:
            return exc.public_message

    async def _staff_reply(self, customer_id: str, event: dict[str, Any], thread_ts: str) -> None:
        channel, ts, user = event["channel"], event["ts"], event["user"]
        said = plain(event.get("text", ""))
        # Read as the shopper would get it: "<@U1> note: ..." and "*note:* ..." are notes too.
        if said.lstrip("*_~ ").lower().startswith(self._settings.note_prefix.lower()):
            await self._react(channel, ts, "memo")  # internal: seen, and not sent
            return
        if event.get("files"):
            await self.post(
                channel, "Files are not sent to the shopper (only the text of a reply is).", thread_ts=thread_ts
            )
        if not said:
            return
        if not await self._store.customer_exists(customer_id):
            await self.post(
                channel, "This shopper's data was deleted (/forget): your reply was not sent.", thread_ts=thread_ts
            )
            return
        joined = await self._take(customer_id, user, channel, thread_ts)
        delivered = await self._outbox.send(customer_id, said, role="staff")
        # The shopper first; then Slack, whose posts to the channel wait their turn (1/s).
        if joined:
            await self._announce(user, channel, thread_ts)
        await self._react(channel, ts, "white_check_mark" if delivered else "hourglass_flowing_sand")

    async def _take(self, customer_id: str, user: str, channel: str, thread_ts: str) -> bool:
        """Staff own the conversation from now on; the shopper hears a person joined. True when
        it was not theirs already."""
        await self._store.attach_thread(customer_id, channel, thread_ts)  # a resolved thread reopens
        previous = await self._store.set_handover(customer_id, "staff", owner=user)
        if previous != "staff":
            name = await self._name(user)
            await self._outbox.send(customer_id, f"{name} from our team has joined the conversation.", role="assistant")
        return previous != "staff"

    async def _announce(self, user: str, channel: str, thread_ts: str) -> None:
        await self.post(channel, f"<@{user}> has the conversation: the assistant stays silent.", thread_ts=thread_ts)

    async def _react(self, channel: str, ts: str, name: str) -> None:
        with contextlib.suppress(SlackApiError):  # a reaction is a courtesy
            await self.client.reactions_add(channel=channel, timestamp=ts, name=name)

    # -- buttons --------------------------------------------------------------------------

    async def _on_handover_button(
        self,
        ack: Callable[..., Awaitable[None]],
        body: dict[str, Any],
        action: dict[str, Any],
        respond: Any,
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        user = body["user"]["id"]
        if not await self.is_staff(_actor_team(body, context), user):
            await respond(text=NOT_STAFF, response_type="ephemeral", replace_original=False)
            return
        customer_id = str(action.get("value", ""))
        channel = (body.get("channel") or {}).get("id")
        thread_ts = (body.get("message") or {}).get("thread_ts") or (body.get("message") or {}).get("ts")
        if not channel or not thread_ts or not await self._store.customer_exists(customer_id):
            await respond(
                text="That shopper's data was deleted (/forget).", response_type="ephemeral", replace_original=False
            )
            return
        async with self._lock(customer_id):
            await self._move(str(action["action_id"]), customer_id, user, channel, thread_ts)

    async def _move(self, action_id: str, customer_id: str, user: str, channel: str, thread_ts: str) -> None:
        shop = self._knowledge.shop_name
        if action_id == TAKE:
            await self._take(customer_id, user, channel, thread_ts)
            await self._announce(user, channel, thread_ts)
        elif action_id == BACK:
            previous = await self._store.set_handover(customer_id, "bot")
            if previous in ("staff", "waiting"):
                await self._outbox.send(
                    customer_id, f"You're back with {shop}'s assistant. Ask me anything.", role="assistant"
                )
            await self.post(channel, f"<@{user}> handed the conversation back to the assistant.", thread_ts=thread_ts)
        else:
            previous = await self._store.set_handover(customer_id, "resolved")
            if previous != "resolved":
                await self._outbox.send(
                    customer_id,
                    "Our team has marked this conversation as resolved. I'm here if you need anything else.",
                    role="assistant",
                )
            await self.post(channel, f"<@{user}> resolved the conversation.", thread_ts=thread_ts)

    # -- /shopbot ---------------------------------------------------------------------------

    async def _on_command(
        self,
        ack: Callable[..., Awaitable[None]],
        body: dict[str, Any],
        command: dict[str, Any],
        respond: Any,
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        if not await self.is_staff(context.actor_team_id, body.get("user_id")):
            await respond(text=NOT_STAFF)
            return
        verb, _, rest = str(command.get("text", "")).strip().partition(" ")
        if verb.lower() == "copy":
            await self._copy(respond, rest.strip(), 0, None, replace=False)
        elif verb.lower() in ("", "help"):
            await respond(text=STAFF_HELP)
        else:
            answer = await self.ask(
                body["user_id"],
                plain(f"{verb} {rest}"),
                channel=str(body.get("channel_id", "command")),
                thread=None,
                message_id=f"command:{body.get('trigger_id')}",
            )
            for text, blocks in section_messages(escape(answer or "")):
                await respond(text=text, blocks=blocks)

    async def _copy(self, respond: Any, brief: str, variant: int, product_id: str | None, *, replace: bool) -> None:
        if not brief:
            await respond(
                text="What should I write about? For example: `/shopbot copy Drizzle Shell Jacket, social post`"
            )
            return
        product = self._knowledge.offered_product(product_id) if product_id else None
        if product is None:
            found = await asyncio.to_thread(self._knowledge.find_products, topic_of(brief), 1)
            product = found[0] if found else None
        if product is None:
            await respond(text=f"No product in the catalog matches “{escape(brief)}”.")
            return
        copy = self._writer.write(product, brief, variant)
        problems = self._writer.problems(copy)
        if problems:  # composed from the catalog, so this is a bug to see, not copy to send
            log.error("copy for %s states what the catalog does not (%s): withheld", product.id, problems)
            await respond(text="I couldn't write copy I can stand behind for that product.")
            return
        await respond(text=copy.text, blocks=copy_blocks(copy), replace_original=replace)

    async def _on_copy_button(
        self,
        ack: Callable[..., Awaitable[None]],
        body: dict[str, Any],
        action: dict[str, Any],
        respond: Any,
        context: AsyncBoltContext,
    ) -> None:
        await ack()
        if not await self.is_staff(_actor_team(body, context), body["user"]["id"]):
            await respond(text=NOT_STAFF, replace_original=False)
            return
        try:
            value = json.loads(action.get("value", ""))
            product_id, variant, brief = str(value["p"]), int(value["v"]), str(value["b"])
        except (ValueError, KeyError, TypeError):
            await respond(text="That button no longer works; run `/shopbot copy` again.", replace_original=False)
            return
        if action["action_id"] == REGENERATE:
            await self._copy(respond, brief, variant + 1, product_id, replace=True)
            return
        product = self._knowledge.offered_product(product_id)
        if product is None:
            await respond(text="That product is no longer offered.", replace_original=False)
            return
        copy = self._writer.write(product, brief, variant)
        if self._writer.problems(copy):  # the catalog changed since it was shown
            await respond(text="That product's details changed; run `/shopbot copy` again.", replace_original=False)
            return
        await respond(
            text=f"<@{body['user']['id']}> picked: {escape(copy.text)}",
            response_type="in_channel",
            delete_original=True,
        )

    # -- posting --------------------------------------------------------------------------

    async def post(self, channel: str, text: str, *, thread_ts: str | None = None) -> str:
        """`text` (mrkdwn the caller escaped) in as many messages as Slack's limits need; the
        ts of the first."""
        first = ""
        for fallback, blocks in section_messages(text):
            answer = await self.client.chat_postMessage(
                channel=channel, text=fallback, blocks=blocks, thread_ts=thread_ts, unfurl_links=False
            )
            first = first or str(answer["ts"])
        return first

    async def send(
        self, chat_id: str, text: str, quick_replies: Sequence[QuickReply] = (), *, role: Role = "staff"
    ) -> bool:
        """Outbox sender: a message to a staff member (their DM), through the same limiter."""
        await self.post(chat_id, escape(text))
        return True

    # -- the hand-over desk ---------------------------------------------------------------

    def start_desk(self, *, stale_ms: int = _STALE_DESK_MS) -> None:
        self._stopping.clear()
        self._desk = asyncio.create_task(self.run_desk(stale_ms=stale_ms))

    async def stop_desk(self, grace_s: float = 10.0) -> None:
        """Ask the desk to stop after the post in hand, and wait for it. Asked, not cancelled:
        a cancel that lands in a blocked Redis read can leave the task waiting in redis-py's
        tidy-up (seen under load); it is cancelled only when it does not stop in `grace_s`."""
        desk, self._desk = self._desk, None
        if desk is None:
            return
        self._stopping.set()
        done, _ = await asyncio.wait({desk}, timeout=grace_s)
        if not done:
            log.warning("slack desk: did not stop within %.0f s; cancelled", grace_s)
            desk.cancel()
            await asyncio.wait({desk}, timeout=grace_s)

    async def _pause(self, seconds: float) -> None:
        """Sleep, or less when the desk is asked to stop."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)

    async def run_desk(self, *, stale_ms: int = _STALE_DESK_MS) -> None:
        """Show hand-overs and mirrored messages in the support channel, in order, until
        stopped, and handle Slack events a stopped process left in the inbox. One process at a
        time does this (a lease in Redis), so a thread's posts keep their order with several
        processes. An event is acknowledged in the stream only once Slack has it; a failure
        (Slack or Redis down) is retried from the first unacknowledged event, and one Slack
        keeps refusing is set aside after a few tries."""
        channel = self._settings.support_channel
        if channel is None:
            log.warning("slack: SHOPBOT_SLACK__SUPPORT_CHANNEL is not set; hand-overs wait in Redis until it is")
        consumer = f"{socket.gethostname()}-{os.getpid()}"
        refused: dict[str, int] = {}
        leading, pending, claimed_at, delay = False, True, 0.0, 1.0
        while not self._stopping.is_set():
            try:
                if not await self._store.lead("desk", consumer, ttl_ms=_LEAD_MS):
                    leading = False
                    await self._pause(_LEAD_MS / 6000)
                    continue
                if not leading:
                    log.info("slack desk: this process posts hand-overs (%s)", consumer)
                    leading, pending, claimed_at = True, True, 0.0
                if time.monotonic() - claimed_at > _CLAIM_EVERY_S:
                    # Events a process that died (or restarted) was given and never finished:
                    # desk events, and Slack's own events it had acknowledged.
                    await self.recover()
                    await self._store.claim_stale_desk(DESK_GROUP, consumer, min_idle_ms=stale_ms)
                    claimed_at, pending = time.monotonic(), True
                if channel is None:
                    await self._pause(_CLAIM_EVERY_S)
                    continue
                entries = await self._store.read_desk(DESK_GROUP, consumer, pending=pending, count=10, block_ms=1000)
                if pending and not entries:
                    pending = False
                    continue
                for entry_id, event in entries:
                    # The lease, checked before each post: a reader that lost it (a post stuck
                    # for a minute) stops, and the new one takes its unfinished events.
                    if not await self._store.lead("desk", consumer, ttl_ms=_LEAD_MS):
                        leading = False
                        break
                    if event is not None:
                        await self._shown(channel, entry_id, event, refused)
                    await self._store.ack_desk(DESK_GROUP, entry_id)
                delay = 1.0
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                stop_if_cancelled(exc)
                log.warning("slack desk: %s; trying again in %.0f s", exc, delay)
                pending = True
                await self._pause(delay)
                delay = min(delay * 2, 60.0)
        await self._store.give_up("desk", consumer)  # a clean stop: another process reads on at once

    async def _shown(self, channel: str, entry_id: str, event: HandOver | Mirrored, refused: dict[str, int]) -> None:
        """Post one desk event, or set it aside when it fails for itself (Slack refuses it, or
        it breaks our code) a few times: one bad event must not hold every hand-over behind it.
        A failure of the set-up or the network is raised: all events wait for it."""
        try:
            await self._show(channel, event)
            refused.pop(entry_id, None)
            return
        except SlackApiError as exc:
            reason = str(exc.response.get("error", ""))
            if reason in _SETUP_ERRORS:
                log.error("slack desk: Slack refuses posts to the support channel (%s); hand-overs wait", reason)
                raise
        except (ShopbotError, OSError, TimeoutError, aiohttp.ClientError, SlackClientError):
            raise  # Redis or the network: transient
        except Exception as exc:
            reason = f"{type(exc).__name__}: {exc}"
            log.exception("slack desk: event %s failed", entry_id)
        tries = refused[entry_id] = refused.get(entry_id, 0) + 1
        if tries < _DESK_TRIES:
            raise RuntimeError(f"desk event {entry_id} failed ({reason}), try {tries} of {_DESK_TRIES}")
        log.error(
            "slack desk: event %s failed %d times (%s); set aside in the dead-letter stream", entry_id, tries, reason
        )
        await self._store.dead_letter(entry_id, event, reason)
        refused.pop(entry_id, None)

    async def _show(self, channel: str, event: HandOver | Mirrored) -> None:
        status = await self._store.handover_status(event.customer_id)
        thread = (
            (status.slack_channel, status.thread_ts) if status and status.slack_channel and status.thread_ts else None
        )
        if isinstance(event, Mirrored):
            if thread is None:
                log.info("slack desk: a message of %s has no thread (resolved or deleted)", event.customer_id)
                return
            await self.post(thread[0], f"*{_WHO[event.role]}:* {escape(event.text)}", thread_ts=thread[1])
            return
        if datetime.now(UTC) - event.ts > _HANDOVER_MAX_AGE:
            # Slack was off for days: the shopper moved on. The assistant answers them again
            # (not left waiting for a thread no one sees); the event is kept aside.
            log.warning("slack desk: hand-over of %s from %s is too old to post", event.customer_id, event.ts)
            await self._store.set_handover(event.customer_id, "bot", unless=("staff",))
            await self._store.dead_letter("-", event, "too old to post")
            return
        if thread is not None:
            await self.post(
                thread[0], f"The shopper {_REASONS[event.reason]} again: {escape(event.message)}", thread_ts=thread[1]
            )
            return
        history = await self._store.history(event.customer_id)
        identities = await self._store.identities(event.customer_id)
        customer = (
            escape(", ".join(f"{c}:{u}" for c, u in identities) or event.customer_id) + f"\n`{event.customer_id}`"
        )
        recent = "\n".join(
            f"*{_WHO[m.role]}:* {escape(' '.join(m.text.split())[:280])}" for m in history[-_RECENT:] if m.text
        )
        blocks = handover_blocks(event, customer, summarize(history), sentiment_trend(history), recent)
        answer = await self.client.chat_postMessage(
            channel=channel, text=f"Hand-over: the shopper {_REASONS[event.reason]}", blocks=blocks
        )
        await self._store.attach_thread(event.customer_id, str(answer["channel"]), str(answer["ts"]))

    # -- transports -----------------------------------------------------------------------

    def events_route(self) -> Route:
        """The Events API endpoint on the web app (events, slash commands and buttons)."""

        async def endpoint(request: Request) -> Response:
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > _MAX_BODY:
                    return JSONResponse({"error": "too large"}, status_code=413)
            return to_starlette_response(await self.app.async_dispatch(to_async_bolt_request(request, body)))

        return Route(self._settings.events_path, endpoint, methods=["POST"])

    async def connect_socket_mode(self) -> None:
        from slack_bolt.adapter.socket_mode.async_handler import AsyncSocketModeHandler

        if self._settings.app_token is None:
            raise ValueError("SHOPBOT_SLACK__APP_TOKEN is not set")
        self._socket = AsyncSocketModeHandler(self.app, self._settings.app_token.get_secret_value())
        await self._socket.connect_async()

    async def close(self) -> None:
        if self._socket is not None:
            await self._socket.close_async()


@contextlib.asynccontextmanager
async def slack_channel(
    *, engine: Engine, store: Store, outbox: Outbox, knowledge: ShopKnowledge, settings: SlackSettings
) -> AsyncIterator[SlackChannel]:
    """The channel with its desk running (and its socket, in Socket Mode)."""
    channel = SlackChannel(engine=engine, store=store, outbox=outbox, knowledge=knowledge, settings=settings)
    outbox.register(CHANNEL, channel)
    channel.start_desk()
    try:
        if settings.app_token is not None:
            await channel.connect_socket_mode()
        yield channel
    finally:
        await channel.stop_desk()
        await channel.close()
