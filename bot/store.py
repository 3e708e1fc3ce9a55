"""Every Redis key and command of shopbot lives here and nowhere else.

Keys, all under one prefix (`shopbot` by default). A customer's keys share the hash tag
`{cid}`. The admission script derives customer keys inside Lua and a turn's transaction also
refreshes the identity key, so this needs one Redis (or Sentinel), not Redis Cluster.

    {p}:id:{channel}:{platform user}      -> customer id          (identity map, refreshed TTL)
    {p}:cust:{cid}:identities             set of "channel:user"   (to find them all on /forget)
    {p}:cust:{cid}:history                list of StoredMessage JSON, capped, refreshed TTL
    {p}:cust:{cid}:pending                a confirmation being asked for (e.g. "forget"), short TTL
    {p}:cust:{cid}:order                  hash {ticket, turn}: the conversation's ticket lock
    {p}:cust:{cid}:order:alive:{ticket}   lease of a ticket whose holder is alive
    {p}:cust:{cid}:rate:{minute}          messages counted for the rate limit
    {p}:cust:{cid}:orders                 set of order ids the customer proved are theirs
    {p}:cust:{cid}:order-failures         wrong order number/e-mail pairs in the current window
    {p}:cust:{cid}:handover               hash {state, reason, owner, since, slack_channel,
                                          thread_ts}: who answers the conversation
    {p}:thread:{slack channel}:{ts}       -> customer id of a hand-over thread
    {p}:desk                              stream of hand-overs and mirrored messages for Slack
    {p}:push:{channel}                    pub/sub: a message for a user, to the process holding
                                          their connection
    {p}:desk:dead                         stream of desk events Slack refused for good
    {p}:lead:{role}                       the process holding a role (the desk reader), PX
    {p}:event:{source}:{event id}         a platform event taken (Slack retries), SET NX EX
    {p}:inbox:{source}                    stream of platform events acknowledged, not yet handled
    {p}:order-customers:{order id}        set of customers who proved the order
    {p}:gaps                              stream of questions the shop's data did not answer
                                          (the question only, not who asked), capped
    {p}:dedup:{channel}:{user}:{msg id}   a platform message already taken (SET NX): kept alive
                                          with its turn, then for the de-duplication TTL once
                                          its reply is recorded

Every multi-step change is one MULTI/EXEC transaction or one Lua script. Redis errors become
StoreUnavailable: nothing here falls back to memory.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import secrets
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal, ParamSpec, TypeVar, cast

from pydantic import ValidationError
from redis import exceptions as redis_errors
from redis.asyncio import Redis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from bot.errors import StoreUnavailable
from bot.knowledge import Effects
from bot.messages import (
    Channel,
    DeskEvent,
    HandOver,
    HandOverReason,
    HandOverState,
    HandOverStatus,
    Mirrored,
    StoredMessage,
)

log = logging.getLogger(__name__)

P = ParamSpec("P")
T = TypeVar("T")


# Link codes: no 0/O, 1/I/L, so a code read from one screen is typed right on another.
LINK_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def connect(url: str) -> Redis:
    """A client that fails fast when Redis is away and reconnects by itself when it is back.

    No automatic retries: a script or transaction whose reply was lost may well have run, and
    running it again would take a second ticket or write a turn twice. A failure surfaces as
    StoreUnavailable and the shopper resends; claims lapse quickly, so the resend is answered."""
    return Redis.from_url(
        url,
        decode_responses=True,
        socket_timeout=5,
        socket_connect_timeout=2,
        health_check_interval=15,
        retry=Retry(NoBackoff(), retries=0),
    )


def _unavailable(func: Callable[P, Awaitable[T]]) -> Callable[P, Awaitable[T]]:
    @functools.wraps(func)
    async def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        try:
            return await func(*args, **kwargs)
        except (redis_errors.ConnectionError, redis_errors.TimeoutError, OSError) as exc:
            raise StoreUnavailable(f"Redis unreachable in {func.__name__}: {exc}") from exc
        except redis_errors.RedisError as exc:
            raise StoreUnavailable(f"Redis error in {func.__name__}: {exc}") from exc

    return wrapper


# The customer behind a platform identity, created with its identities set on first contact.
# One script, so two first messages racing each other get the same customer.
# Knowledge gaps kept (approximately: XADD MAXLEN ~), newest last.
_GAPS_KEPT = 10_000

_RESOLVE = """
local function resolve(identity_key, fresh, prefix, member, ttl)
  local customer = redis.call('GET', identity_key)
  if not customer then
    customer = fresh
    redis.call('SET', identity_key, customer, 'EX', ttl)
    local identities = prefix .. ':cust:{' .. customer .. '}:identities'
    redis.call('SADD', identities, member)
    redis.call('EXPIRE', identities, ttl)
  end
  return customer
end
"""

_CUSTOMER = _RESOLVE + "return resolve(KEYS[1], ARGV[1], ARGV[2], ARGV[3], ARGV[4])"

# Admission of one inbound message, in one round trip so that the order in which messages
# reach Redis is the order of their tickets: claim the platform message id (SET NX, for the
# lease's lifetime: the claim of a worker that dies lapses with it), find or create the
# customer, take the conversation's next ticket with a live lease on it. A message claimed
# already gives {0, customer}.
#   KEYS: claim, identity    ARGV: fresh customer id, prefix, identity member, identity TTL s,
#                                  lease ms, order hash TTL s
_ADMIT = (
    _RESOLVE
    + """
local claimed = redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[5])
local customer = resolve(KEYS[2], ARGV[1], ARGV[2], ARGV[3], ARGV[4])
if not claimed then return {0, customer} end
local order = ARGV[2] .. ':cust:{' .. customer .. '}:order'
local ticket = redis.call('HINCRBY', order, 'ticket', 1)
redis.call('EXPIRE', order, ARGV[6])
redis.call('SET', order .. ':alive:' .. ticket, '1', 'PX', ARGV[5])
return {1, customer, ticket}
"""
)

# 1: the caller's turn has come; 0: keep waiting; -1: the caller's ticket was skipped.
# A head ticket whose lease expired (its worker died) is skipped so the queue moves on.
_TRY_TURN = """
local turn = tonumber(redis.call('HGET', KEYS[1], 'turn') or '0')
local ticket = tonumber(ARGV[1])
if turn == ticket - 1 then return 1 end
if turn >= ticket then return -1 end
if redis.call('EXISTS', KEYS[1] .. ':alive:' .. (turn + 1)) == 0 then
  redis.call('HSET', KEYS[1], 'turn', turn + 1)
  if turn + 1 == ticket - 1 then return 1 end
end
return 0
"""

# Refresh a live ticket's lease and its message's claim; a claim already recorded (with the
# long de-duplication TTL) is left as it is. (PEXPIRE ... LT would do it, from Redis 7 on.)
_REFRESH = """
local alive = redis.call('PEXPIRE', KEYS[1], ARGV[1])
local ttl = redis.call('PTTL', KEYS[2])
if ttl >= 0 and ttl <= tonumber(ARGV[1]) then redis.call('PEXPIRE', KEYS[2], ARGV[1]) end
return alive
"""

# A turn recorded (Store.record, Store.settle). KEYS: hand-over hash, message claim, history,
# identities set, identity key, desk stream. ARGV: mode (any | unless_staff | only_staff),
# claim TTL s, history limit, TTL s, hand-over reason ('' for none), now (ISO), then n
# messages, then n desk entries for a waiting conversation (kind, event), then n desk entries
# to write always (kind, event). Returns the hand-over state the turn found.
_RECORD = """
local state = redis.call('HGET', KEYS[1], 'state') or ''
if ARGV[1] == 'unless_staff' and state == 'staff' then return state end
if ARGV[1] == 'only_staff' and state ~= 'staff' then return state end
redis.call('SET', KEYS[2], '1', 'EX', ARGV[2])
local i = 7
local n = tonumber(ARGV[i])
for j = 1, n do redis.call('RPUSH', KEYS[3], ARGV[i + j]) end
if n > 0 then
  redis.call('LTRIM', KEYS[3], -tonumber(ARGV[3]), -1)
  redis.call('EXPIRE', KEYS[3], ARGV[4])
end
redis.call('EXPIRE', KEYS[4], ARGV[4])
redis.call('EXPIRE', KEYS[5], ARGV[4])
if ARGV[5] ~= '' and state ~= 'staff' then
  -- Handed over with the turn that says so: never a waiting state without its event.
  redis.call('HSET', KEYS[1], 'state', 'waiting', 'reason', ARGV[5], 'since', ARGV[6])
  redis.call('EXPIRE', KEYS[1], ARGV[4])
end
i = i + n + 1
for pass = 1, 2 do
  n = tonumber(ARGV[i])
  if pass == 2 or state == 'waiting' then
    for j = 0, n - 1 do
      redis.call('XADD', KEYS[6], 'MAXLEN', '~', '100000', '*',
                 'kind', ARGV[i + 1 + 2 * j], 'event', ARGV[i + 2 + 2 * j])
    end
  end
  i = i + 2 * n + 1
end
return state
"""

# A role held by one process: KEYS: the role's key; ARGV: holder, TTL ms (0: give it up).
# 1: held by the caller.
_LEAD = """
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] and ARGV[2] == '0' then
  redis.call('DEL', KEYS[1])
  return 0
end
if holder == ARGV[1] or (not holder and ARGV[2] ~= '0') then
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
  return 1
end
return 0
"""

# A hand-over's state moves in one step: KEYS: the hand-over hash; ARGV: new state, reason,
# owner, now (ISO), TTL s, states to leave alone (comma-separated). Returns the old state.
_SET_STATE = """
local previous = redis.call('HGET', KEYS[1], 'state') or ''
for state in string.gmatch(ARGV[6], '[^,]+') do
  if state == previous then return previous end
end
redis.call('HSET', KEYS[1], 'state', ARGV[1], 'since', ARGV[4])
if ARGV[2] ~= '' then redis.call('HSET', KEYS[1], 'reason', ARGV[2]) end
if ARGV[3] ~= '' then redis.call('HSET', KEYS[1], 'owner', ARGV[3]) end
if ARGV[1] == 'resolved' then redis.call('HDEL', KEYS[1], 'owner', 'slack_channel', 'thread_ts') end
redis.call('EXPIRE', KEYS[1], ARGV[5])
return previous
"""

_RELEASE = """
local turn = tonumber(redis.call('HGET', KEYS[1], 'turn') or '0')
if turn == tonumber(ARGV[1]) - 1 then
  redis.call('HSET', KEYS[1], 'turn', ARGV[1])
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
redis.call('DEL', KEYS[1] .. ':alive:' .. ARGV[1])
return 1
"""


RecordMode = Literal["any", "unless_staff", "only_staff"]


def _desk_fields(events: Sequence[DeskEvent]) -> list[str]:
    """Each event as the two fields of its desk stream entry: kind, JSON."""
    fields: list[str] = []
    for event in events:
        fields += ["handover" if isinstance(event, HandOver) else "message", event.model_dump_json()]
    return fields


@dataclass(frozen=True)
class Ticket:
    """An admitted message's place in its conversation's queue."""

    customer_id: str
    number: int
    key: str  # the conversation's order hash
    claim: str  # the message's de-duplication key
    lease_s: float


@dataclass(frozen=True)
class Taken:
    """An admission refused: the message id is claimed already (answered, or being answered)."""

    customer_id: str


def _order_ttl(lease_s: float) -> int:
    return max(3600, int(lease_s * 10))


class Store:
    """Conversation state in Redis: identities, history, de-duplication, ordering, limits."""

    def __init__(
        self,
        redis: Redis,
        *,
        prefix: str = "shopbot",
        history_limit: int = 50,
        history_ttl_s: int = 30 * 86_400,
    ) -> None:
        self.redis = redis
        self._p = prefix
        self._limit = history_limit
        self._ttl = history_ttl_s
        self._customer = redis.register_script(_CUSTOMER)
        self._admit = redis.register_script(_ADMIT)
        self._try_turn = redis.register_script(_TRY_TURN)
        self._release = redis.register_script(_RELEASE)
        self._refresh = redis.register_script(_REFRESH)
        self._set_state = redis.register_script(_SET_STATE)
        self._record = redis.register_script(_RECORD)
        self._lead = redis.register_script(_LEAD)

    # -- keys ----------------------------------------------------------------------------

    def _identity_key(self, channel: Channel, user_id: str) -> str:
        return f"{self._p}:id:{channel}:{user_id}"

    def _cust(self, customer_id: str, what: str) -> str:
        return f"{self._p}:cust:{{{customer_id}}}:{what}"

    def _dedup_key(self, channel: Channel, user_id: str, message_id: str) -> str:
        return f"{self._p}:dedup:{channel}:{user_id}:{message_id}"

    # -- health --------------------------------------------------------------------------

    async def ping(self) -> bool:
        try:
            return bool(await self.redis.ping())
        except (redis_errors.RedisError, OSError):
            return False

    async def aclose(self) -> None:
        await self.redis.aclose()

    # -- identities ----------------------------------------------------------------------

    @_unavailable
    async def customer_for(self, channel: Channel, user_id: str) -> str:
        """The customer behind a platform identity, created on first contact."""
        args: list[str | int] = [uuid.uuid4().hex, self._p, f"{channel}:{user_id}", self._ttl]
        return str(await self._customer(keys=[self._identity_key(channel, user_id)], args=args))

    # -- de-duplication and limits -------------------------------------------------------

    async def admit(self, channel: Channel, user_id: str, message_id: str, *, lease_s: float) -> Ticket | Taken:
        """Take an inbound message: its customer and ticket in the conversation's queue, or
        Taken when its platform id is claimed already (a redelivery)."""
        claim = self._dedup_key(channel, user_id, message_id)
        args: list[str | int] = [
            uuid.uuid4().hex,
            self._p,
            f"{channel}:{user_id}",
            self._ttl,
            int(lease_s * 1000),
            _order_ttl(lease_s),
        ]
        try:
            result = await self._admit(keys=[claim, self._identity_key(channel, user_id)], args=args)
        except (redis_errors.RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis unreachable admitting a message: {exc}") from exc
        customer_id = str(result[1])
        if not int(result[0]):
            return Taken(customer_id)
        return Ticket(customer_id, int(result[2]), self._cust(customer_id, "order"), claim, lease_s)

    async def settle(
        self, ticket: Ticket, dedup_ttl_s: int, *, identity: tuple[Channel, str], handover: HandOver | None = None
    ) -> None:
        """Keep the claim of a message answered without a recorded turn (a command), and hand
        the conversation over with it when it asked for that (`/human`): one script."""
        await self.record(ticket, [], identity=identity, dedup_ttl_s=dedup_ttl_s, handover=handover)

    async def release_message(self, channel: Channel, user_id: str, message_id: str) -> None:
        """Forget a claim whose message was not answered, so a retry of it is answered."""
        try:
            await self.redis.delete(self._dedup_key(channel, user_id, message_id))
        except (redis_errors.RedisError, OSError) as exc:
            log.warning("could not release message %s/%s: %s", channel, message_id, exc)

    @_unavailable
    async def count_message(self, customer_id: str, *, now: float | None = None) -> int:
        """Count a message in the customer's current minute; returns the count so far."""
        minute = int((now if now is not None else time.time()) // 60)
        key = self._cust(customer_id, f"rate:{minute}")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 120)
            count, _ = await pipe.execute()
        return int(count)

    # -- history -------------------------------------------------------------------------

    @_unavailable
    async def history(self, customer_id: str, limit: int | None = None) -> list[StoredMessage]:
        start = -limit if limit else 0
        if limit == 0:
            return []
        raw = await self.redis.lrange(self._cust(customer_id, "history"), start, -1)
        return [StoredMessage.model_validate_json(item) for item in raw]

    @_unavailable
    async def record(
        self,
        ticket: Ticket,
        messages: Sequence[StoredMessage],
        *,
        identity: tuple[Channel, str],
        dedup_ttl_s: int,
        mode: RecordMode = "any",
        handover: HandOver | None = None,
        desk: Sequence[DeskEvent] = (),
        desk_if_waiting: Sequence[DeskEvent] = (),
    ) -> HandOverState | None:
        """Record an answered message: push, cap, refresh every TTL of the customer, keep the
        message's claim for the de-duplication TTL, and write what the staff desk must show,
        all in one script. Returns the conversation's hand-over state as the turn found it.

        The hand-over state is read in the same script. `unless_staff`: a conversation staff
        own gets nothing recorded ("staff" comes back), however late the take-over came;
        `only_staff`: the opposite, for a message meant for staff who may have handed back
        meanwhile. `handover`: the turn hands the conversation to a person; it is marked
        waiting (unless staff have it) and the event written, with the turn or not at all.
        `desk` events are written always, `desk_if_waiting` only while a person is asked for.
        One script, not a WATCHed transaction: redis-py reports a connection lost during EXEC
        as a WatchError, and retrying that could write a turn twice."""
        customer_id = ticket.customer_id
        events = [*desk, *([handover] if handover is not None else [])]
        args: list[str | int] = [
            mode,
            dedup_ttl_s,
            self._limit,
            self._ttl,
            handover.reason if handover is not None else "",
            datetime.now(UTC).isoformat(),
            len(messages),
            *(m.model_dump_json() for m in messages),
            len(desk_if_waiting),
            *_desk_fields(desk_if_waiting),
            len(events),
            *_desk_fields(events),
        ]
        keys = [
            self._handover_key(customer_id),
            ticket.claim,
            self._cust(customer_id, "history"),
            self._cust(customer_id, "identities"),
            self._identity_key(*identity),
            self.desk_stream,
        ]
        state = await self._record(keys=keys, args=args)
        return cast(HandOverState, state) if state else None

    @_unavailable
    async def reset(self, customer_id: str) -> None:
        """`/reset`: a fresh conversation; the customer and their identities stay."""
        await self.redis.delete(self._cust(customer_id, "history"), self._cust(customer_id, "pending"))

    @_unavailable
    async def forget(self, customer_id: str) -> int:
        """`/forget`: delete every key of the customer, identity map entries included."""
        identities = await self.redis.smembers(self._cust(customer_id, "identities"))
        keys = [self._identity_key(*i.split(":", 1)) for i in identities]  # type: ignore[arg-type]
        # A scan finds every key of the customer, also kinds added after this was written;
        # /forget is rare enough to afford it.
        keys += [key async for key in self.redis.scan_iter(match=self._cust(customer_id, "*"), count=1000)]
        if not keys:
            return 0
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.delete(*keys)
            (deleted,) = await pipe.execute()
        return int(deleted)

    @_unavailable
    async def set_pending(self, customer_id: str, action: str, ttl_s: int = 300) -> None:
        await self.redis.set(self._cust(customer_id, "pending"), action, ex=ttl_s)

    @_unavailable
    async def take_pending(self, customer_id: str) -> str | None:
        """The confirmation being waited for, if any; reading it clears it (GETDEL)."""
        value = await self.redis.getdel(self._cust(customer_id, "pending"))
        return str(value) if value is not None else None

    # -- orders the customer proved -------------------------------------------------------

    @_unavailable
    async def order_failures(self, customer_id: str) -> int:
        return int(await self.redis.get(self._cust(customer_id, "order-failures")) or 0)

    @_unavailable
    async def count_order_failure(self, customer_id: str, *, window_s: int) -> None:
        """One more wrong guess; the window starts at the first one (SET NX EX creates the counter
        with its expiry, INCR keeps that expiry; one transaction)."""
        key = self._cust(customer_id, "order-failures")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=window_s, nx=True)
            pipe.incr(key)
            await pipe.execute()

    @_unavailable
    async def remember_order(self, customer_id: str, order_id: str) -> None:
        key = self._cust(customer_id, "orders")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.sadd(key, order_id)
            pipe.expire(key, self._ttl)
            # The other way round, for staff looking a customer up by an order of theirs.
            pipe.sadd(f"{self._p}:order-customers:{order_id}", customer_id)
            pipe.expire(f"{self._p}:order-customers:{order_id}", self._ttl)
            await pipe.execute()

    @_unavailable
    async def customers_with_order(self, order_id: str) -> list[str]:
        """Customers who proved `order_id` is theirs and still exist (not /forget-ten)."""
        found = sorted(str(c) for c in await self.redis.smembers(f"{self._p}:order-customers:{order_id}"))
        return [c for c in found if await self.redis.exists(self._cust(c, "identities"))]

    @_unavailable
    async def find_customer(self, channel: Channel, user_id: str) -> str | None:
        """The customer behind a platform identity, if there is one (nothing is created)."""
        value = await self.redis.get(self._identity_key(channel, user_id))
        return str(value) if value is not None else None

    @_unavailable
    async def customer_exists(self, customer_id: str) -> bool:
        return bool(await self.redis.exists(self._cust(customer_id, "identities")))

    @_unavailable
    async def remembered_orders(self, customer_id: str) -> list[str]:
        return sorted(str(order_id) for order_id in await self.redis.smembers(self._cust(customer_id, "orders")))

    # -- the shopper's profile: what they like, what they asked about -----------------------

    @_unavailable
    async def remember_taste(
        self, customer_id: str, *, preferences: list[str], products: list[str], keep: int = 20
    ) -> None:
        """Stated preferences (newest kept) and products asked about (counted), for picking
        recommendations on a later visit; both live as long as the history."""
        prefs, seen = self._cust(customer_id, "preferences"), self._cust(customer_id, "interests")
        async with self.redis.pipeline(transaction=True) as pipe:
            for preference in preferences:
                pipe.lrem(prefs, 0, preference)
                pipe.lpush(prefs, preference)
            pipe.ltrim(prefs, 0, keep - 1)
            for product_id in products:
                pipe.zincrby(seen, 1, product_id)
            pipe.zremrangebyrank(seen, 0, -keep - 1)
            pipe.expire(prefs, self._ttl)
            pipe.expire(seen, self._ttl)
            await pipe.execute()

    @_unavailable
    async def remember(self, customer_id: str, effects: Effects, *, order_window_s: int, keep: int = 20) -> None:
        """What answering a message learnt, in one transaction with the turn's other writes done:
        stated tastes and products asked about, an order proven or a wrong guess at one, and a
        question the shop's data could not answer (the knowledge-gap stream, without who asked)."""
        writes = effects.tastes or effects.products or effects.proven_order or effects.wrong_guess or effects.gap
        if not writes:
            return
        prefs, seen = self._cust(customer_id, "preferences"), self._cust(customer_id, "interests")
        async with self.redis.pipeline(transaction=True) as pipe:
            if effects.tastes or effects.products:
                for preference in effects.tastes:
                    pipe.lrem(prefs, 0, preference)
                    pipe.lpush(prefs, preference)
                pipe.ltrim(prefs, 0, keep - 1)
                for product_id in effects.products:
                    pipe.zincrby(seen, 1, product_id)
                pipe.zremrangebyrank(seen, 0, -keep - 1)
                pipe.expire(prefs, self._ttl)
                pipe.expire(seen, self._ttl)
            if effects.proven_order:
                orders = self._cust(customer_id, "orders")
                pipe.sadd(orders, effects.proven_order)
                pipe.expire(orders, self._ttl)
                owners = f"{self._p}:order-customers:{effects.proven_order}"
                pipe.sadd(owners, customer_id)
                pipe.expire(owners, self._ttl)
            if effects.wrong_guess:
                failures = self._cust(customer_id, "order-failures")
                pipe.set(failures, 0, ex=order_window_s, nx=True)
                pipe.incr(failures)
            if effects.gap:
                pipe.xadd(self.gaps_stream, {"question": effects.gap[:500]}, maxlen=_GAPS_KEPT, approximate=True)
            await pipe.execute()

    @property
    def gaps_stream(self) -> str:
        """Questions the shop's data could not answer, newest last (for the shop to fill in)."""
        return f"{self._p}:gaps"

    @_unavailable
    async def gaps(self, count: int = 100) -> list[str]:
        found = await self.redis.xrevrange(self.gaps_stream, count=count) or []
        return [str((fields or {}).get("question", "")) for _, fields in found]

    @_unavailable
    async def taste(self, customer_id: str) -> tuple[list[str], list[str]]:
        """(stated preferences, newest first; product ids asked about, most asked first)."""
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.lrange(self._cust(customer_id, "preferences"), 0, -1)
            pipe.zrevrange(self._cust(customer_id, "interests"), 0, -1)
            preferences, products = await pipe.execute()
        return [str(p) for p in preferences], [str(p) for p in products]

    @_unavailable
    async def identities(self, customer_id: str) -> list[tuple[Channel, str]]:
        """The platform identities of a customer, as (channel, user id), in a stable order."""
        members = sorted(str(m) for m in await self.redis.smembers(self._cust(customer_id, "identities")))
        return [(m.split(":", 1)[0], m.split(":", 1)[1]) for m in members if ":" in m]  # type: ignore[misc]

    @_unavailable
    async def append(self, customer_id: str, message: StoredMessage) -> None:
        """A message outside any turn (a staff reply, a notice): pushed, capped, kept alive."""
        history = self._cust(customer_id, "history")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.rpush(history, message.model_dump_json())
            pipe.ltrim(history, -self._limit, -1)
            pipe.expire(history, self._ttl)
            await pipe.execute()

    # -- one shopper on two channels: /link ------------------------------------------------

    @_unavailable
    async def issue_link_code(self, customer_id: str, *, ttl_s: int, per_hour: int) -> str | None:
        """A one-time code that joins another channel's conversation to this customer; None
        when the customer asked for `per_hour` codes in the last hour already."""
        issued = self._cust(customer_id, "linkcodes")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(issued, 0, ex=3600, nx=True)
            pipe.incr(issued)
            _, count = await pipe.execute()
        if int(count) > per_hour:
            return None
        while True:  # 32^6 codes: a collision with a live one is rare, and then another is drawn
            code = "".join(secrets.choice(LINK_ALPHABET) for _ in range(6))
            if await self.redis.set(f"{self._p}:link:{code}", customer_id, ex=ttl_s, nx=True):
                return f"{code[:3]}-{code[3:]}"

    @_unavailable
    async def redeem_link_code(self, code: str) -> str | None:
        """The customer who was given `code`; the code is spent (GETDEL: single use, also when
        two channels race for it)."""
        plain = code.replace("-", "").upper()
        value = await self.redis.getdel(f"{self._p}:link:{plain}")
        return str(value) if value is not None else None

    @_unavailable
    async def count_link_failure(self, customer_id: str, *, window_s: int) -> int:
        key = self._cust(customer_id, "linkfail")
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.set(key, 0, ex=window_s, nx=True)
            pipe.incr(key)
            _, count = await pipe.execute()
        return int(count)

    @_unavailable
    async def link_failures(self, customer_id: str) -> int:
        return int(await self.redis.get(self._cust(customer_id, "linkfail")) or 0)

    @_unavailable
    async def merge_customers(self, keep: str, gone: str) -> None:
        """Make `gone` part of `keep`: its identities point to `keep`, the two histories become
        one in time order, what it proved and liked carries over, and its keys are deleted.
        Called in `gone`'s turn, so none of its messages is being answered meanwhile. In steps,
        not one script: the two customers' keys live under different hash tags (cluster slots)."""
        identities = [str(i) for i in await self.redis.smembers(self._cust(gone, "identities"))]
        histories = [await self.redis.lrange(self._cust(c, "history"), 0, -1) for c in (keep, gone)]
        merged = sorted(
            (StoredMessage.model_validate_json(raw) for raw in histories[0] + histories[1]), key=lambda m: m.ts
        )[-self._limit :]
        orders = await self.redis.smembers(self._cust(gone, "orders"))
        preferences, interests = await self.taste(gone)
        async with self.redis.pipeline(transaction=True) as pipe:
            history = self._cust(keep, "history")
            pipe.delete(history)
            if merged:
                pipe.rpush(history, *(m.model_dump_json() for m in merged))
                pipe.expire(history, self._ttl)
            if identities:
                pipe.sadd(self._cust(keep, "identities"), *identities)
                pipe.expire(self._cust(keep, "identities"), self._ttl)
            if orders:
                pipe.sadd(self._cust(keep, "orders"), *orders)
                pipe.expire(self._cust(keep, "orders"), self._ttl)
            await pipe.execute()
        if preferences or interests:
            await self.remember_taste(keep, preferences=list(reversed(preferences)), products=interests)
        async with self.redis.pipeline(transaction=True) as pipe:
            for identity in identities:
                pipe.set(self._identity_key(*identity.split(":", 1)), keep, ex=self._ttl)  # type: ignore[arg-type]
            await pipe.execute()
        leftovers = [key async for key in self.redis.scan_iter(match=self._cust(gone, "*"), count=1000)]
        # The order hash stays: the turn of the message that asked for the link is still in it.
        leftovers = [
            key for key in leftovers if not str(key).endswith((":order", ":alive")) and ":order:" not in str(key)
        ]
        if leftovers:
            await self.redis.delete(*leftovers)

    # -- hand-over to staff --------------------------------------------------------------

    @_unavailable
    async def count_unhelped(self, customer_id: str, *, helped: bool) -> int:
        """Replies in a row that did not help (a safe answer instead of the model's, a fallback):
        the count after this reply; a reply that helped starts it again."""
        key = self._cust(customer_id, "unhelped")
        if helped:
            await self.redis.delete(key)
            return 0
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, 3600)
            count, _ = await pipe.execute()
        return int(count)

    def _handover_key(self, customer_id: str) -> str:
        return self._cust(customer_id, "handover")

    def _thread_key(self, slack_channel: str, thread_ts: str) -> str:
        return f"{self._p}:thread:{slack_channel}:{thread_ts}"

    @property
    def desk_stream(self) -> str:
        """A Redis Stream of what the staff desk (Slack) must show: hand-overs, and the messages
        of conversations a person has. Read with a consumer group, so an event written while no
        one listens (or while Slack is down) is delivered later, not lost."""
        return f"{self._p}:desk"

    @_unavailable
    async def handovers(self, after: str = "0", count: int = 100) -> list[tuple[str, HandOver]]:
        """Hand-over events after stream id `after` (for tests and tools; Slack reads a group)."""
        entries: Any = await self.redis.xrange(self.desk_stream, min=f"({after}" if after != "0" else "-", count=count)
        return [
            (str(entry_id), HandOver.model_validate_json(fields["event"]))
            for entry_id, fields in entries or []
            if fields.get("kind") == "handover"
        ]

    @_unavailable
    async def read_desk(
        self, group: str, consumer: str, *, pending: bool, count: int = 50, block_ms: int = 2000
    ) -> list[tuple[str, DeskEvent | None]]:
        """The next desk events for `consumer` of `group` (created on first use, from the
        stream's start). `pending`: the ones it was given before and did not acknowledge (a
        crash, a Slack outage), first. An entry that does not parse comes back as None."""
        read = functools.partial(
            self.redis.xreadgroup,
            group,
            consumer,
            {self.desk_stream: "0" if pending else ">"},
            count=count,
            block=None if pending else block_ms,
        )
        try:
            streams: Any = await read()
        except redis_errors.ResponseError as exc:
            if "NOGROUP" not in str(exc):
                raise
            # Created on first use only: not a round trip on every read of a busy loop.
            with contextlib.suppress(redis_errors.ResponseError):  # BUSYGROUP: another made it
                await self.redis.xgroup_create(self.desk_stream, group, id="0", mkstream=True)
            streams = await read()
        out: list[tuple[str, DeskEvent | None]] = []
        for _, entries in streams or []:
            for entry_id, fields in entries:
                event: DeskEvent | None = None
                try:
                    raw = fields["event"]
                    event = (
                        HandOver.model_validate_json(raw)
                        if fields.get("kind") == "handover"
                        else Mirrored.model_validate_json(raw)
                    )
                except (KeyError, ValidationError) as exc:
                    log.error("desk entry %s is unreadable, skipped: %s", entry_id, exc)
                out.append((str(entry_id), event))
        return out

    @_unavailable
    async def claim_stale_desk(self, group: str, consumer: str, *, min_idle_ms: int) -> int:
        """Take over the events another consumer of `group` was given and left unacknowledged
        for `min_idle_ms` (its process died): they are this consumer's pending ones now.
        Returns how many were taken."""
        taken, cursor = 0, "0-0"
        while True:
            try:
                # Not justid: redis-py then drops the cursor, and one call claims 100 at most.
                answer: Any = await self.redis.xautoclaim(
                    self.desk_stream, group, consumer, min_idle_ms, cursor, count=100
                )
            except redis_errors.ResponseError as exc:
                if "NOGROUP" in str(exc):
                    return 0
                raise
            # [next cursor, [(id, fields)], (deleted ids, Redis 7)]
            cursor, ids = str(answer[0]), answer[1]
            taken += len(ids)
            if cursor in ("0-0", "0"):
                return taken

    @_unavailable
    async def lead(self, role: str, holder: str, *, ttl_ms: int) -> bool:
        """Hold (or keep holding) a role only one process may have at a time, e.g. reading the
        desk stream in order; it lapses `ttl_ms` after its holder stops renewing it."""
        return bool(await self._lead(keys=[f"{self._p}:lead:{role}"], args=[holder, max(1, ttl_ms)]))

    async def give_up(self, role: str, holder: str) -> None:
        """Hand a role back at once (a clean stop), if `holder` still has it."""
        try:
            await self._lead(keys=[f"{self._p}:lead:{role}"], args=[holder, 0])
        except (redis_errors.RedisError, OSError) as exc:
            log.info("could not give up %s (it lapses by itself): %s", role, exc)

    @_unavailable
    async def dead_letter(self, entry_id: str, event: DeskEvent, reason: str) -> None:
        """Set aside a desk event Slack keeps refusing, so the ones behind it go on; kept for a
        person to look at (XRANGE {p}:desk:dead)."""
        kind, raw = _desk_fields([event])
        await self.redis.xadd(
            f"{self.desk_stream}:dead",
            {"entry": entry_id, "kind": kind, "event": raw, "reason": reason[:500]},
            maxlen=10_000,
            approximate=True,
        )

    @_unavailable
    async def ack_desk(self, group: str, entry_id: str) -> None:
        await self.redis.xack(self.desk_stream, group, entry_id)

    @_unavailable
    async def handover_status(self, customer_id: str) -> HandOverStatus | None:
        raw = await self.redis.hgetall(self._handover_key(customer_id))
        return HandOverStatus.model_validate(raw) if raw.get("state") else None

    @_unavailable
    async def set_handover(
        self,
        customer_id: str,
        state: HandOverState,
        *,
        reason: HandOverReason | None = None,
        owner: str | None = None,
        unless: tuple[HandOverState, ...] = (),
    ) -> HandOverState | None:
        """Move the conversation to `state` in one step (a script), unless it is in one of
        `unless` now; returns the state it was in (None: never handed over)."""
        args: list[str | int] = [
            state,
            reason or "",
            owner or "",
            datetime.now(UTC).isoformat(),
            self._ttl,
            ",".join(unless),
        ]
        previous = await self._set_state(keys=[self._handover_key(customer_id)], args=args)
        return cast(HandOverState, previous) if previous else None

    @_unavailable
    async def attach_thread(self, customer_id: str, slack_channel: str, thread_ts: str) -> None:
        """The Slack thread a hand-over is worked in, both ways round."""
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.hset(self._handover_key(customer_id), mapping={"slack_channel": slack_channel, "thread_ts": thread_ts})
            pipe.expire(self._handover_key(customer_id), self._ttl)
            pipe.set(self._thread_key(slack_channel, thread_ts), customer_id, ex=self._ttl)
            await pipe.execute()

    @_unavailable
    async def customer_for_thread(self, slack_channel: str, thread_ts: str) -> str | None:
        value = await self.redis.get(self._thread_key(slack_channel, thread_ts))
        return str(value) if value is not None else None

    # -- platform events (Slack's event_id), and pushes to the processes holding a socket --

    @_unavailable
    async def claim_event(self, source: str, event_id: str, *, ttl_s: int, renew: bool = False) -> bool:
        """True for the first delivery of a platform event (SET NX EX), False for a retry of one
        taken already. `renew`: keep a claim (a handled event) for `ttl_s` from now."""
        key = f"{self._p}:event:{source}:{event_id}"
        if renew:
            return bool(await self.redis.set(key, "1", ex=ttl_s))
        return bool(await self.redis.set(key, "1", nx=True, ex=ttl_s))

    async def release_event(self, source: str, event_id: str) -> None:
        """An event whose handling failed: a retry of it is handled again."""
        try:
            await self.redis.delete(f"{self._p}:event:{source}:{event_id}")
        except (redis_errors.RedisError, OSError) as exc:
            log.warning("could not release event %s/%s: %s", source, event_id, exc)

    def _inbox(self, source: str) -> str:
        return f"{self._p}:inbox:{source}"

    @_unavailable
    async def inbox_add(self, source: str, raw: str) -> str:
        """Keep a platform event acknowledged before it is handled (Slack's), until it is: a
        process that dies in between leaves it here for another to handle."""
        return str(await self.redis.xadd(self._inbox(source), {"body": raw}, maxlen=10_000, approximate=True))

    async def inbox_done(self, source: str, entry_id: str) -> None:
        try:
            await self.redis.xdel(self._inbox(source), entry_id)
        except (redis_errors.RedisError, OSError) as exc:  # it is handled again later: claimed, so skipped
            log.warning("could not clear inbox entry %s/%s: %s", source, entry_id, exc)

    @_unavailable
    async def inbox_stale(self, source: str, *, older_than_ms: int, count: int = 100) -> list[tuple[str, str]]:
        """Events kept longer than `older_than_ms` and never handled: (entry id, raw body)."""
        newest = max(0, int(time.time() * 1000) - older_than_ms)
        entries: Any = await self.redis.xrange(self._inbox(source), min="-", max=f"{newest}-0", count=count)
        return [(str(entry_id), str(fields.get("body", ""))) for entry_id, fields in entries or []]

    def _push_channel(self, channel: Channel) -> str:
        return f"{self._p}:push:{channel}"

    @_unavailable
    async def push(self, channel: Channel, user_id: str, payload: str) -> int:
        """Publish a message for a user of a channel whose connections live in some process (the
        widget's websockets); the processes that hold one deliver it. Returns how many listened."""
        return int(await self.redis.publish(self._push_channel(channel), json.dumps([user_id, payload])))

    async def pushes(self, channel: Channel) -> AsyncIterator[tuple[str, str]]:
        """(user id, payload) for every push to `channel` from now on, until cancelled. Raises
        StoreUnavailable when the subscription drops (the caller subscribes again)."""
        pubsub = self.redis.pubsub(ignore_subscribe_messages=True)
        try:
            await pubsub.subscribe(self._push_channel(channel))
            while True:
                message = await pubsub.get_message(timeout=30.0)
                if message is None or message.get("type") != "message":
                    continue
                try:
                    user_id, payload = json.loads(message["data"])
                except (ValueError, TypeError):
                    log.error("unreadable push on %s dropped: %r", channel, str(message.get("data"))[:200])
                    continue
                yield str(user_id), str(payload)
        except (redis_errors.RedisError, OSError) as exc:
            raise StoreUnavailable(f"push subscription to {channel} dropped: {exc}") from exc
        finally:
            with contextlib.suppress(redis_errors.RedisError, OSError):
                await pubsub.aclose()

    # -- ordering ------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def turn(self, ticket: Ticket) -> AsyncIterator[None]:
        """Hold the conversation's turn: messages of one customer are answered one at a time,
        in the order they were admitted by any engine sharing this Redis.

        A ticket lock: each message takes the next ticket and waits until the tickets before
        it are done. A live holder keeps a lease on its ticket; a ticket whose lease lapsed
        (its worker died) is skipped, so one crash cannot stall the conversation."""
        lease_ms = int(ticket.lease_s * 1000)
        keeper = asyncio.create_task(self._keep_alive(ticket, lease_ms))
        try:
            await self._wait_turn(ticket.key, ticket.number)
            yield
        finally:
            keeper.cancel()
            try:
                # Shielded: a cancelled caller must still hand the turn on, or the next
                # message waits for the lease to lapse.
                await asyncio.shield(self._release(keys=[ticket.key], args=[ticket.number, _order_ttl(ticket.lease_s)]))
            except (redis_errors.RedisError, OSError) as exc:
                log.warning(
                    "could not release turn %s of %s (its lease will lapse): %s", ticket.number, ticket.key, exc
                )

    async def _wait_turn(self, key: str, ticket: int) -> None:
        delay = 0.002
        while True:
            try:
                state = int(await self._try_turn(keys=[key], args=[ticket]))
            except (redis_errors.RedisError, OSError) as exc:
                raise StoreUnavailable(f"Redis unreachable waiting for a turn: {exc}") from exc
            if state == 1:
                return
            if state == -1:
                log.warning("turn %s of %s was skipped after its lease lapsed; answering now", ticket, key)
                return
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.05)

    async def _keep_alive(self, ticket: Ticket, lease_ms: int) -> None:
        """Refresh the ticket's lease and the message's claim while this worker lives."""
        alive = f"{ticket.key}:alive:{ticket.number}"
        while True:
            await asyncio.sleep(lease_ms / 3000)
            try:
                still_alive = await self._refresh(keys=[alive, ticket.claim], args=[lease_ms])
                if not still_alive:
                    log.warning("lease %s had lapsed", alive)
                    return
            except (redis_errors.RedisError, OSError) as exc:
                log.warning("could not refresh lease %s: %s", alive, exc)
