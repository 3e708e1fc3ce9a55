"""The Telegram channel (aiogram 3): a shopper's private chat with the shop's bot reaches the
same engine, history and shop knowledge as the web widget.

Updates arrive by long polling (the default) or by webhook on the web app. Either way the
dispatcher's handlers only put a message in its chat's queue, and one worker per chat answers
them in order. So the webhook can answer Telegram at once without giving up a chat's order,
and a burst from one shopper is answered message by message. While the model writes, the
shopper sees the reply grow: the first words are sent, then edited in, never faster than the
chat's pace. The final text always replaces what was streamed (the grounding check may have
swapped the model's reply for the safe answer), split at paragraphs or sentences past 4096
characters. Every call goes through one `SendLimits` on the bot's session.

No-ops, by design: edited messages, group and supergroup chats, channel posts (the assistant
serves private conversations; a group would mix several shoppers' orders).
"""

from __future__ import annotations

import asyncio
import contextlib
import hmac
import logging
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine, Sequence
from contextlib import aclosing
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ChatAction, ChatType, ParseMode
from aiogram.exceptions import AiogramError, TelegramBadRequest, TelegramForbiddenError
from aiogram.types import (
    CallbackQuery,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    Message,
    TelegramObject,
    Update,
)
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.telegram_limits import SendLimits
from adapters.telegram_text import escape, split
from bot.errors import DuplicateMessage, ShopbotError
from bot.messages import Address, Channel, Inbound, QuickReply, Reply, Role
from bot.settings import TelegramSettings

if TYPE_CHECKING:  # `shopbot telegram set-webhook` needs no model, nor torch
    from bot.engine import Engine

log = logging.getLogger(__name__)

CHANNEL: Channel = "telegram"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
UPDATES = ["message", "callback_query"]  # what the bot asks Telegram for
BUSY = "You've sent a lot at once: I'll answer what came first. Please send that last one again in a moment."
NOT_TEXT = "I can only read text messages for now. Please type your question and I'll help."
# A chat's queue: a few messages ahead of the one being answered; more is a flood.
_QUEUE_LIMIT = 16
_TYPING_AFTER_S = 1.0
_TYPING_EVERY_S = 4.0  # a typing action shows for up to 5 s
_CALLBACK_BYTES = 64  # Telegram's limit on a button's callback_data
_SEEN = 10_000  # update_ids remembered, to skip one delivered twice
_MAX_UPDATE_BYTES = 1 << 20  # a text of 4,096 characters with its entities is far less
_REDELIVER_S = 30.0
_REDELIVER_TRIES = 10


@dataclass
class Undelivered:
    """Reply pieces that could not be sent yet: kept, and tried again."""

    chat_id: int | str
    pieces: list[str]
    markup: InlineKeyboardMarkup | None
    tries: int = 1


def create_bot(settings: TelegramSettings) -> Bot:
    """The aiogram Bot for these settings, its calls paced by one SendLimits."""
    if settings.token is None:
        raise ValueError("SHOPBOT_TELEGRAM__TOKEN is not set")
    session = AiohttpSession(api=TelegramAPIServer.from_base(settings.api_url))
    session.middleware(
        SendLimits(
            per_second=settings.messages_per_second,
            chat_interval_s=settings.chat_interval_s,
            retries=settings.retries,
        )
    )
    return Bot(
        settings.token.get_secret_value(), session=session, default=DefaultBotProperties(parse_mode=ParseMode.HTML)
    )


def keyboard(quick_replies: Sequence[QuickReply]) -> InlineKeyboardMarkup | None:
    """Quick replies as inline buttons, one per row. A button carries the text it sends when
    that fits in callback_data; otherwise its position, and its label is sent."""
    if not quick_replies:
        return None
    rows = []
    for i, quick in enumerate(quick_replies):
        data = (
            quick.text
            if len(quick.text.encode("utf-8")) <= _CALLBACK_BYTES and not quick.text.startswith("#")
            else f"#{i}"
        )
        rows.append([InlineKeyboardButton(text=quick.label[:64], callback_data=data)])
    return InlineKeyboardMarkup(inline_keyboard=rows)


def pressed_text(query: CallbackQuery) -> str | None:
    """What a pressed button sends as the shopper's next message."""
    data = query.data or ""
    if not data.startswith("#"):
        return data or None
    markup = query.message.reply_markup if isinstance(query.message, Message) else None
    buttons = [button for row in markup.inline_keyboard for button in row] if markup else []
    try:
        return buttons[int(data[1:])].text
    except (ValueError, IndexError):
        return None


class TelegramChannel:
    def __init__(self, engine: Engine, bot: Bot, settings: TelegramSettings) -> None:
        self._engine = engine
        self.bot = bot
        self._settings = settings
        self._queues: dict[int, asyncio.Queue[Inbound | str]] = {}
        self._workers: dict[int, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[object]] = set()  # button acknowledgements, busy notices
        self._seen: OrderedDict[int, None] = OrderedDict()  # recent update_ids
        self._closing = False
        self.undelivered: list[Undelivered] = []
        self._redelivery: asyncio.Task[None] | None = None
        self.dispatcher = Dispatcher()
        router = Router()
        private = F.chat.type == ChatType.PRIVATE
        router.message.register(self._on_text, private, F.text)
        router.message.register(self._on_other, private)
        router.callback_query.register(self._on_button)
        self.dispatcher.include_router(router)
        self.dispatcher.update.outer_middleware(self._once)

    # -- receiving ------------------------------------------------------------------------

    async def _on_text(self, message: Message) -> None:
        user = message.from_user
        if user is None or message.text is None:
            return
        self._enqueue(
            message.chat.id,
            Inbound(
                channel=CHANNEL,
                user_id=str(user.id),
                address=Address(channel=CHANNEL, chat_id=str(message.chat.id)),
                message_id=f"{message.chat.id}:{message.message_id}",
                text=message.text,
                display_name=user.full_name[:256] or None,
                locale=user.language_code,
            ),
        )

    async def _on_other(self, message: Message) -> None:
        """A photo, sticker, voice note, document or location: a polite word, in turn."""
        self._enqueue(message.chat.id, NOT_TEXT)

    async def _on_button(self, query: CallbackQuery) -> None:
        # Only stops the button's spinner: in the background, so polling never waits on it.
        self._background(self._acknowledge(query))
        text = pressed_text(query)
        message = query.message
        if text is None or not isinstance(message, Message) or message.chat.type != ChatType.PRIVATE:
            return
        self._enqueue(
            message.chat.id,
            Inbound(
                channel=CHANNEL,
                user_id=str(query.from_user.id),
                address=Address(channel=CHANNEL, chat_id=str(message.chat.id)),
                message_id=f"cb:{query.id}",
                text=text,
            ),
        )

    async def _acknowledge(self, query: CallbackQuery) -> None:
        with contextlib.suppress(AiogramError):
            await query.answer()

    def _enqueue(self, chat_id: int, item: Inbound | str) -> None:
        if self._closing:
            log.warning("telegram chat %s: a message arrived while shutting down; Telegram will not resend it", chat_id)
        queue = self._queues.setdefault(chat_id, asyncio.Queue(maxsize=_QUEUE_LIMIT))
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            # Not silently: the shopper hears it, and a resend later is answered.
            log.warning("telegram chat %s: %d messages waiting, one more refused", chat_id, _QUEUE_LIMIT)
            self._background(self._deliver(chat_id, [BUSY], None))
            return
        worker = self._workers.get(chat_id)
        if worker is None or worker.done():
            self._workers[chat_id] = asyncio.create_task(self._work(chat_id, queue))

    def _background(self, job: Coroutine[Any, Any, object]) -> None:
        task = asyncio.create_task(job)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _work(self, chat_id: int, queue: asyncio.Queue[Inbound | str]) -> None:
        """Answer a chat's messages one at a time; end when its queue is empty. One message's
        failure is logged and the next is answered."""
        try:
            while not queue.empty():
                item = queue.get_nowait()
                try:
                    if isinstance(item, str):
                        await self._deliver(chat_id, [item], None)
                    else:
                        await self._answer(chat_id, item)
                except Exception:
                    log.exception("telegram chat %s: a message could not be handled", chat_id)
        finally:
            if queue.empty():
                self._queues.pop(chat_id, None)
                self._workers.pop(chat_id, None)

    async def feed(self, update: Update) -> None:
        await self.dispatcher.feed_update(self.bot, update)

    async def idle(self) -> None:
        """Wait until every chat's queue is answered (tests, shutdown)."""
        while self._workers:
            await asyncio.gather(*list(self._workers.values()), return_exceptions=True)

    async def _once(
        self,
        handler: Callable[[TelegramObject, dict[str, Any]], Awaitable[Any]],
        update: TelegramObject,
        data: dict[str, Any],
    ) -> Any:
        """An update Telegram delivered again (same update_id) is handled once."""
        if not isinstance(update, Update):
            return await handler(update, data)
        if update.update_id in self._seen:
            log.info("telegram update %s delivered again: skipped", update.update_id)
            return None
        self._seen[update.update_id] = None
        if len(self._seen) > _SEEN:
            self._seen.popitem(last=False)
        return await handler(update, data)

    # -- answering ------------------------------------------------------------------------

    async def _answer(self, chat_id: int, inbound: Inbound) -> None:
        typing = asyncio.create_task(self._keep_typing(chat_id))
        shown: Message | None = None  # the message the reply streams into
        try:
            # The first preview waits one chat interval: a reply written by then is sent once,
            # whole, and a chat's rate goes to replies rather than to previews of short ones.
            streamed, last_edit, final = "", time.monotonic(), None
            async with aclosing(self._engine.handle(inbound)) as events:
                async for event in events:
                    if isinstance(event, Reply):
                        final = event
                        continue
                    streamed += event.text
                    now = time.monotonic()
                    if now - last_edit >= self._settings.chat_interval_s and streamed.strip():
                        shown = await self._show(chat_id, shown, split(streamed)[0])
                        last_edit = time.monotonic()
            typing.cancel()
            if final is not None and "with_staff" in final.flags and shown is not None:
                # Staff took the conversation over while the reply was written: what was
                # streamed of it goes; the person answers through the outbox.
                with contextlib.suppress(AiogramError):
                    await self.bot.delete_message(chat_id, shown.message_id)
            if final is None or final.flags & {"repeat", "with_staff"}:
                # A delivery Telegram repeated (answered the first time), or a message for the
                # person who has the conversation.
                return
            await self._finish(chat_id, shown, final.text, keyboard(final.quick_replies))
        except DuplicateMessage:
            log.info("telegram message %s is being answered already", inbound.message_id)
        except ShopbotError as exc:
            await self._finish(chat_id, shown, exc.public_message, None)
        except Exception:
            log.exception("telegram message %s in chat %s failed", inbound.message_id, chat_id)
            await self._finish(chat_id, shown, ShopbotError.public_message, None)
        finally:
            typing.cancel()

    async def _show(self, chat_id: int, shown: Message | None, text: str) -> Message | None:
        """Streaming is cosmetic: a failed preview costs nothing but the preview."""
        try:
            if shown is None:
                return await self.bot.send_message(chat_id, escape(text))
            if shown.text != text:
                result = await self.bot.edit_message_text(escape(text), chat_id=chat_id, message_id=shown.message_id)
                return result if isinstance(result, Message) else shown
        except AiogramError as exc:
            log.info("telegram chat %s: streaming preview not updated: %s", chat_id, exc)
        return shown

    async def _finish(
        self, chat_id: int, shown: Message | None, text: str, markup: InlineKeyboardMarkup | None
    ) -> None:
        """The whole reply: the streamed preview edited into its first piece (or, when that
        fails, sent anew), the rest as messages of their own, buttons on the last."""
        pieces = split(text) or ["…"]
        if shown is not None:
            try:
                await self.bot.edit_message_text(
                    escape(pieces[0]),
                    chat_id=chat_id,
                    message_id=shown.message_id,
                    reply_markup=markup if len(pieces) == 1 else None,
                )
                pieces = pieces[1:]
            except TelegramBadRequest as exc:
                if "not modified" not in str(exc):
                    log.info("telegram chat %s: final edit failed (%s), sending it instead", chat_id, exc)
                else:  # the text is already right (an earlier try landed); only buttons may be missing
                    if markup is not None and len(pieces) == 1:
                        with contextlib.suppress(AiogramError):
                            await self.bot.edit_message_reply_markup(
                                chat_id=chat_id, message_id=shown.message_id, reply_markup=markup
                            )
                    pieces = pieces[1:]
            except AiogramError as exc:
                log.info("telegram chat %s: final edit failed (%s), sending it instead", chat_id, exc)
        if pieces:
            await self._deliver(chat_id, pieces, markup)

    async def _deliver(self, chat_id: int | str, pieces: list[str], markup: InlineKeyboardMarkup | None) -> bool:
        """Send pieces in order, buttons on the last. What cannot be sent after the limiter's
        retries is logged and kept for another try later, never dropped silently. True when
        every piece was sent now."""
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            try:
                await self.bot.send_message(chat_id, escape(piece), reply_markup=markup if last else None)
            except TelegramForbiddenError as exc:
                log.warning("telegram chat %s: the shopper blocked the bot; reply not delivered (%s)", chat_id, exc)
                return False
            except AiogramError as exc:
                log.warning("telegram chat %s: reply not delivered (%s); kept for retry", chat_id, exc)
                self.undelivered.append(Undelivered(chat_id, pieces[i:], markup))
                if self._redelivery is None or self._redelivery.done():
                    self._redelivery = asyncio.create_task(self._redeliver())
                return False
        return True

    async def _redeliver(self) -> None:
        """Try what could not be sent, every `_REDELIVER_S`, each up to `_REDELIVER_TRIES` times."""
        while self.undelivered:
            await asyncio.sleep(_REDELIVER_S)
            waiting, self.undelivered = self.undelivered, []
            for item in waiting:
                if item.tries >= _REDELIVER_TRIES:
                    log.error(
                        "telegram chat %s: gave up on a reply after %d tries: %r", item.chat_id, item.tries, item.pieces
                    )
                    continue
                before = len(self.undelivered)
                await self._deliver(item.chat_id, item.pieces, item.markup)
                for kept in self.undelivered[before:]:
                    kept.tries = item.tries + 1

    async def _keep_typing(self, chat_id: int) -> None:
        """ "typing..." while a reply takes its time. Not for one written within a second: the
        action counts against the bot's rate, and would halve it under load (measured with
        `shopbot bench telegram`: 176 s with it, against a lower bound of 83 s)."""
        await asyncio.sleep(_TYPING_AFTER_S)
        with contextlib.suppress(AiogramError):  # cosmetic: never costs the reply
            while True:
                await self.bot.send_chat_action(chat_id, ChatAction.TYPING)
                await asyncio.sleep(_TYPING_EVERY_S)

    async def send(
        self, chat_id: int | str, text: str, quick_replies: Sequence[QuickReply] = (), *, role: Role = "staff"
    ) -> bool:
        """A message to a chat the bot is not answering right now (a staff reply, a notice),
        through the same limits, split like any reply, kept for retry when it cannot be sent.
        (A private chat's id is its user's id, so the outbox's user id is the chat.)"""
        return await self._deliver(chat_id, split(text), keyboard(quick_replies))

    # -- running --------------------------------------------------------------------------

    async def poll(self) -> None:
        """Long polling until cancelled. One update at a time: the handlers only queue."""
        webhook = (await self.bot.get_webhook_info()).url
        if webhook:
            log.warning("telegram: removing the webhook %s to poll instead (SHOPBOT_TELEGRAM__MODE=polling)", webhook)
            await self.bot.delete_webhook(drop_pending_updates=False)
        polling = asyncio.create_task(
            self.dispatcher.start_polling(
                self.bot, handle_as_tasks=False, handle_signals=False, close_bot_session=False, allowed_updates=UPDATES
            )
        )
        try:
            await asyncio.shield(polling)
        except asyncio.CancelledError:
            # Cancelling start_polling would leave aiogram's own polling task running; its stop
            # signal ends both.
            with contextlib.suppress(RuntimeError):  # it had not started yet
                await self.dispatcher.stop_polling()
            await asyncio.gather(polling, return_exceptions=True)
            raise

    def webhook_route(self) -> Route:
        secret = self._settings.webhook_secret.get_secret_value() if self._settings.webhook_secret else None

        async def endpoint(request: Request) -> Response:
            given = request.headers.get(SECRET_HEADER, "")
            if secret is None or not hmac.compare_digest(given.encode(), secret.encode()):
                log.warning("telegram webhook: request without the right secret token refused")
                return JSONResponse({"ok": False, "error": "unauthorized"}, status_code=401)
            body = b""
            async for chunk in request.stream():  # read no more than an update can be
                body += chunk
                if len(body) > _MAX_UPDATE_BYTES:
                    log.warning("telegram webhook: update over %d bytes refused", _MAX_UPDATE_BYTES)
                    return JSONResponse({"ok": False, "error": "too large"}, status_code=413)
            try:
                update = Update.model_validate_json(body, context={"bot": self.bot})
            except (ValueError, ValidationError) as exc:
                log.warning("telegram webhook: malformed update: %s", str(exc)[:200])
                return JSONResponse({"ok": False, "error": "malformed update"}, status_code=400)
            # Queued before Telegram hears back: the next update of a chat comes after this one.
            await self.feed(update)
            return JSONResponse({"ok": True})

        return Route(self._settings.webhook_path, endpoint, methods=["POST"])

    async def close(self, grace_s: float = 10.0) -> None:
        """Answer what is queued (Telegram will not send it again), for up to `grace_s`; log
        whatever is left, by chat."""
        self._closing = True
        try:
            await asyncio.wait_for(self.idle(), grace_s)
        except TimeoutError:
            for chat_id, queue in self._queues.items():
                log.warning("telegram chat %s: %d message(s) left unanswered at shutdown", chat_id, queue.qsize() + 1)
        for task in [*self._workers.values(), *self._tasks, *([self._redelivery] if self._redelivery else [])]:
            task.cancel()
        await asyncio.gather(*self._workers.values(), *self._tasks, return_exceptions=True)
        for item in self.undelivered:
            log.warning("telegram chat %s: reply never delivered: %r", item.chat_id, item.pieces)
        await self.bot.session.close()


async def set_webhook(bot: Bot, url: str, secret: str, *, force: bool = False) -> str:
    """Register the webhook once (deploy time, not every start): nothing is sent when Telegram
    already has this URL, unless `force` (a new secret: Telegram does not say which it has)."""
    info = await bot.get_webhook_info()
    if info.url == url and not force:
        return f"the webhook is already {url} (--force sets it again, e.g. with a new secret)"
    await bot.set_webhook(url, secret_token=secret, allowed_updates=UPDATES, drop_pending_updates=False)
    return f"webhook set to {url}" + (f" (was {info.url})" if info.url else "")


@contextlib.asynccontextmanager
async def telegram_channel(engine: Engine, settings: TelegramSettings) -> AsyncIterator[TelegramChannel]:
    channel = TelegramChannel(engine, create_bot(settings), settings)
    try:
        yield channel
    finally:
        await channel.close()
