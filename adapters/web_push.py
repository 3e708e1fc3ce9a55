"""Messages to a widget visitor outside a reply (a staff member's answer from Slack, the
assistant's notice that a person joined): the web channel's outbox sender.

The visitor's websocket may be held by any server process, and the Slack event that carries
the staff reply may reach another. So a push goes through Redis pub/sub, and every process
delivers it to the sockets it holds for that visitor. A visitor with no open socket reads it
in the history on their next visit (the outbox records it first)."""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable, Sequence

from bot.errors import StoreUnavailable
from bot.loops import stop_if_cancelled
from bot.messages import Channel, QuickReply, Role, utcnow
from bot.store import Store

log = logging.getLogger(__name__)

CHANNEL: Channel = "web"
Deliver = Callable[[str], Awaitable[None]]  # sends one frame on one socket
_SEND_TIMEOUT_S = 5.0


def push_frame(text: str, role: Role, quick_replies: Sequence[QuickReply] = ()) -> str:
    return json.dumps(
        {
            "type": "push",
            "role": role,
            "text": text,
            "ts": utcnow().isoformat(),
            "quick_replies": [q.model_dump() for q in quick_replies],
        }
    )


class WebPush:
    def __init__(self, store: Store) -> None:
        self._store = store
        self._sockets: dict[str, set[Deliver]] = {}
        self._task: asyncio.Task[None] | None = None

    def attach(self, visitor: str, deliver: Deliver) -> None:
        self._sockets.setdefault(visitor, set()).add(deliver)

    def detach(self, visitor: str, deliver: Deliver) -> None:
        held = self._sockets.get(visitor)
        if held is not None:
            held.discard(deliver)
            if not held:
                del self._sockets[visitor]

    async def send(
        self, chat_id: str, text: str, quick_replies: Sequence[QuickReply] = (), *, role: Role = "staff"
    ) -> bool:
        """True when some server process took it; whether the visitor's socket is open there is
        not known here (the history has it either way)."""
        listening = await self._store.push(CHANNEL, chat_id, push_frame(text, role, quick_replies))
        if not listening:
            log.warning("web push to %s: no server process is subscribed; it waits in the history", chat_id)
        return bool(listening)

    def start(self) -> None:
        self._task = asyncio.create_task(self.run())

    async def stop(self, grace_s: float = 5.0) -> None:
        """Stop delivering. The subscription's read is cancelled; a cancel redis-py is slow to
        tidy up after is waited for `grace_s` at most (see SlackChannel.stop_desk)."""
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.wait({task}, timeout=grace_s)

    async def run(self) -> None:
        """Deliver pushes to this process's sockets until cancelled; a dropped subscription is
        taken up again (pushes meanwhile are in the history, shown on reconnect)."""
        delay = 0.5
        while True:
            try:
                async for visitor, frame in self._store.pushes(CHANNEL):
                    delay = 0.5
                    for deliver in list(self._sockets.get(visitor, ())):
                        try:
                            # A socket whose reader stopped reading must not hold every push.
                            await asyncio.wait_for(deliver(frame), _SEND_TIMEOUT_S)
                        except Exception as exc:  # closing, or stuck: its history has the message
                            log.info("web push to %s not delivered on one socket: %r", visitor, exc)
            except Exception as exc:
                stop_if_cancelled(exc)
                if not isinstance(exc, StoreUnavailable):
                    log.exception("web pushes failed")
                log.warning("web pushes paused: %s; subscribing again in %.1f s", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 30)
