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
from collections.abc import AsyncIterator, Sequence
from contextlib import aclosing
from typing import TYPE_CHECKING

from aiogram import Bot, Dispatcher, F, Router
from aiogram.client.default import DefaultBotProperties
from aiogram.client.session.aiohttp import AiohttpSession
from aiogram.client.telegram import TelegramAPIServer
from aiogram.enums import ChatAction, ChatType, ParseMode
from aiogram.exceptions import TelegramAPIError, TelegramBadRequest
from aiogram.types import CallbackQuery, InlineKeyboardButton, InlineKeyboardMarkup, Message, Update
from pydantic import ValidationError
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from adapters.telegram_limits import SendLimits
from adapters.telegram_text import escape, split
from bot.errors import DuplicateMessage, ShopbotError
from bot.messages import Address, Channel, Inbound, QuickReply, Reply
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
_TYPING_EVERY_S = 4.0  # a typing action shows for up to 5 s
_CALLBACK_BYTES = 64  # Telegram's limit on a button's callback_data


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
        self._notices: set[asyncio.Task[None]] = set()
        self.dispatcher = Dispatcher()
        router = Router()
        private = F.chat.type == ChatType.PRIVATE
        router.message.register(self._on_text, private, F.text)
        router.message.register(self._on_other, private)
        router.callback_query.register(self._on_button)
        self.dispatcher.include_router(router)

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
        with contextlib.suppress(TelegramAPIError):  # only stops the button's spinner
            await query.answer()
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

    def _enqueue(self, chat_id: int, item: Inbound | str) -> None:
        queue = self._queues.setdefault(chat_id, asyncio.Queue(maxsize=_QUEUE_LIMIT))
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            # Not silently: the shopper hears it, and a resend later is answered.
            log.warning("telegram chat %s: %d messages waiting, one more refused", chat_id, _QUEUE_LIMIT)
            notice = asyncio.create_task(self.send(chat_id, BUSY))
            self._notices.add(notice)
            notice.add_done_callback(self._notices.discard)
            return
        worker = self._workers.get(chat_id)
        if worker is None or worker.done():
            self._workers[chat_id] = asyncio.create_task(self._work(chat_id, queue))

    async def _work(self, chat_id: int, queue: asyncio.Queue[Inbound | str]) -> None:
        """Answer a chat's messages one at a time; end when its queue is empty."""
        try:
            while not queue.empty():
                item = queue.get_nowait()
                if isinstance(item, str):
                    await self.send(chat_id, item)
                else:
                    await self._answer(chat_id, item)
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

    # -- answering ------------------------------------------------------------------------

    async def _answer(self, chat_id: int, inbound: Inbound) -> None:
        typing = asyncio.create_task(self._keep_typing(chat_id))
        shown: Message | None = None  # the message the reply streams into
        try:
            streamed, last_edit, final = "", 0.0, None
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
            if final is None or "repeat" in final.flags:
                return  # a delivery Telegram repeated: it was answered the first time
            await self._finish(chat_id, shown, final)
        except DuplicateMessage:
            log.info("telegram message %s is being answered already", inbound.message_id)
        except ShopbotError as exc:
            await self.send(chat_id, exc.public_message)
        except Exception:
            log.exception("telegram message %s in chat %s failed", inbound.message_id, chat_id)
            await self.send(chat_id, ShopbotError.public_message)
        finally:
            typing.cancel()

    async def _show(self, chat_id: int, shown: Message | None, text: str) -> Message | None:
        """Streaming is cosmetic: a failed edit costs nothing but the preview."""
        try:
            if shown is None:
                return await self.bot.send_message(chat_id, escape(text))
            if shown.text != text:
                result = await self.bot.edit_message_text(escape(text), chat_id=chat_id, message_id=shown.message_id)
                return result if isinstance(result, Message) else shown
        except TelegramAPIError as exc:
            log.info("telegram chat %s: streaming preview not updated: %s", chat_id, exc)
        return shown

    async def _finish(self, chat_id: int, shown: Message | None, reply: Reply) -> None:
        pieces = split(reply.text) or ["…"]
        markup = keyboard(reply.quick_replies)
        first, rest = pieces[0], pieces[1:]
        done = False
        if shown is not None:
            try:
                await self.bot.edit_message_text(
                    escape(first),
                    chat_id=chat_id,
                    message_id=shown.message_id,
                    reply_markup=None if rest else markup,
                )
                done = True
            except TelegramBadRequest as exc:
                if "not modified" in str(exc):
                    done = not (markup and not rest)  # the text is right; the buttons still need a message
                else:
                    log.info("telegram chat %s: final edit failed (%s), sending it instead", chat_id, exc)
        if not done:
            await self.bot.send_message(chat_id, escape(first), reply_markup=None if rest else markup)
        for i, piece in enumerate(rest):
            await self.bot.send_message(chat_id, escape(piece), reply_markup=markup if i == len(rest) - 1 else None)

    async def _keep_typing(self, chat_id: int) -> None:
        with contextlib.suppress(TelegramAPIError):  # cosmetic: never costs the reply
            while True:
                await self.bot.send_chat_action(chat_id, ChatAction.TYPING)
                await asyncio.sleep(_TYPING_EVERY_S)

    async def send(self, chat_id: int | str, text: str, quick_replies: Sequence[QuickReply] = ()) -> None:
        """A message to a chat the bot is not answering right now (a staff reply, a notice),
        through the same limits; long text split like any reply."""
        pieces = split(text)
        for i, piece in enumerate(pieces):
            last = i == len(pieces) - 1
            await self.bot.send_message(chat_id, escape(piece), reply_markup=keyboard(quick_replies) if last else None)

    # -- running --------------------------------------------------------------------------

    async def poll(self) -> None:
        """Long polling until cancelled. One update at a time: the handlers only queue."""
        await self.bot.delete_webhook(drop_pending_updates=False)
        await self.dispatcher.start_polling(
            self.bot, handle_as_tasks=False, handle_signals=False, close_bot_session=False, allowed_updates=UPDATES
        )

    def webhook_route(self) -> Route:
        secret = self._settings.webhook_secret.get_secret_value() if self._settings.webhook_secret else None

        async def endpoint(request: Request) -> Response:
            given = request.headers.get(SECRET_HEADER, "")
            if secret is None or not hmac.compare_digest(given.encode(), secret.encode()):
                log.warning("telegram webhook: request without the right secret token refused")
                return JSONResponse({"ok": False, "error": "unauthorized"}, status_code=401)
            try:
                update = Update.model_validate(await request.json(), context={"bot": self.bot})
            except (ValueError, ValidationError) as exc:
                log.warning("telegram webhook: malformed update: %s", str(exc)[:200])
                return JSONResponse({"ok": False, "error": "malformed update"}, status_code=400)
            # Queued before Telegram hears back: the next update of a chat comes after this one.
            await self.feed(update)
            return JSONResponse({"ok": True})

        return Route(self._settings.webhook_path, endpoint, methods=["POST"])

    async def close(self) -> None:
        for worker in list(self._workers.values()):
            worker.cancel()
        await asyncio.gather(*self._workers.values(), return_exceptions=True)
        await self.bot.session.close()


async def set_webhook(bot: Bot, url: str, secret: str) -> str:
    """Register the webhook once (deploy time, not every start): nothing is sent when Telegram
    already has this URL."""
    info = await bot.get_webhook_info()
    if info.url == url:
        return f"the webhook is already {url}"
    await bot.set_webhook(url, secret_token=secret, allowed_updates=UPDATES, drop_pending_updates=False)
    return f"webhook set to {url}" + (f" (was {info.url})" if info.url else "")


@contextlib.asynccontextmanager
async def telegram_channel(engine: Engine, settings: TelegramSettings) -> AsyncIterator[TelegramChannel]:
    channel = TelegramChannel(engine, create_bot(settings), settings)
    try:
        yield channel
    finally:
        await channel.close()
