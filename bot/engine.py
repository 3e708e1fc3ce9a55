"""The conversation engine: one inbound message in, a stream of reply events out, on any channel.

Per message: admit it (de-duplicate, resolve the customer, take a ticket in its conversation),
wait for its turn, rate-limit, run a command or ground -> prompt -> generate (streaming) ->
persist, and record metrics.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import AsyncGenerator
from contextlib import aclosing

from bot.answers.phrases import LANGUAGE_NAMES
from bot.commands import Commands, parse_command
from bot.errors import DuplicateMessage, MessageRejected, MessageTooLong, RateLimited, ShopbotError
from bot.guard import REFUSAL, Guard
from bot.knowledge import Grounding, Knowledge
from bot.knowledge.checker import Checker, may_affirm, states_any, unaffirmed
from bot.knowledge.facts import fact_texts
from bot.knowledge.slots import fill, marker, markers, unfinished
from bot.language import detect_language
from bot.llm import GenerationParams, LanguageModel
from bot.messages import (
    Channel,
    Flag,
    HandOver,
    HandOverReason,
    Inbound,
    Mirrored,
    Reply,
    ReplyDelta,
    ReplyEvent,
    StoredMessage,
)
from bot.metrics import Metrics
from bot.prompt import build_messages
from bot.settings import EngineSettings
from bot.staff import StaffAnswer, StaffAssistant
from bot.store import Store, Taken, Ticket
from bot.understanding import Understander, Understanding

log = logging.getLogger(__name__)

PHRASE_INSTRUCTION = (
    "The reply is decided: say it to the customer in one or two friendly sentences, keeping every "
    "name, figure and date exactly as written, and add no other facts."
)
FALLBACK_REPLY = "Sorry, I don't have a good answer to that. Could you put it another way?"
# The reply's flags for each kind of answer; an out-of-scope reply declines too.
_OUTCOME_FLAGS: dict[str, set[Flag]] = {
    "answer": set(),
    "declined": {"declined"},
    "not_sold": {"not_sold"},
    "small_talk": {"small_talk"},
    "out_of_scope": {"out_of_scope", "declined"},
}
# Wrong order-number guesses are counted over this window (OrderLookup refuses past five).
_ORDER_GUESS_WINDOW_S = 3600

# However long the wanted reply, a message is still answered if at least this much room is
# left for the reply; history is what gives way first.
_MIN_REPLY_TOKENS = 48


_SENTENCE_END = re.compile(r"""[.!?]["')\]]*(?=\s|$)|\n""")
_FINISHED = re.compile(r"""[.!?:]["')\]]*$""")


def whole_sentences(text: str) -> str:
    """A reply cut off by the token limit ends mid-sentence; drop the unfinished sentence
    unless that would drop most of the reply. The widget swaps the streamed text for this."""
    if not text or _FINISHED.search(text):
        return text
    ends = [m.end() for m in _SENTENCE_END.finditer(text)]
    if ends and ends[-1] >= len(text) * 0.3:
        return text[: ends[-1]].rstrip()
    return text


def _mirrored(customer_id: str, message: StoredMessage) -> Mirrored:
    return Mirrored(customer_id=customer_id, role=message.role, text=message.text, channel=message.channel)


class Engine:
    def __init__(
        self,
        *,
        store: Store,
        llm: LanguageModel,
        settings: EngineSettings,
        generation: GenerationParams,
        metrics: Metrics,
        knowledge: Knowledge | None = None,
        understander: Understander | None = None,
        staff: StaffAssistant | None = None,
    ) -> None:
        self._store = store
        self._llm = llm
        self._settings = settings
        self._generation = generation
        self._metrics = metrics
        self._knowledge = knowledge
        self._understander = understander
        self._staff = staff
        self._commands = Commands(store, shop_name=(lambda: knowledge.shop_name) if knowledge else None)
        self._guard = Guard(settings.system_prompt, settings.canary)

    @property
    def guard(self) -> Guard:
        return self._guard

    async def health(self) -> dict[str, bool]:
        """What /readyz reports: Redis reachable, model able to take requests."""
        return {"redis": await self._store.ping(), "model": await self._llm.ready()}

    async def history(self, channel: Channel, user_id: str, limit: int) -> list[StoredMessage]:
        """The recent history of the customer behind a platform identity (for a reconnecting widget)."""
        customer_id = await self._store.customer_for(channel, user_id)
        return await self._store.history(customer_id, limit=limit)

    async def handle(self, inbound: Inbound) -> AsyncGenerator[ReplyEvent, None]:
        """Yield ReplyDelta events as the model writes, then one Reply. Raises ShopbotError
        subclasses for messages it will not answer; closing the iterator aborts generation
        and leaves the message unanswered (a resend of it is answered)."""
        channel = inbound.channel
        started = time.monotonic()
        self._metrics.messages.labels(channel).inc()
        ticket: Ticket | None = None
        answered = False
        try:
            text = self._validated(inbound.text)
            admission = await self._store.admit(
                channel, inbound.user_id, inbound.message_id, lease_s=self._settings.turn_lease_s
            )
            if isinstance(admission, Taken):
                yield await self._answer_again(admission.customer_id, inbound)
                return
            ticket = admission
            final: Reply | None = None
            async with self._store.turn(ticket):
                if await self._store.count_message(ticket.customer_id) > self._settings.rate_limit_per_minute:
                    raise RateLimited(
                        f"customer {ticket.customer_id} is over {self._settings.rate_limit_per_minute}/min"
                    )
                async with aclosing(self._respond(ticket, inbound, text, started)) as events:
                    async for event in events:
                        if isinstance(event, Reply):
                            # Recorded: the turn is handed on before the reply is delivered.
                            final, answered = event, True
                        else:
                            yield event
            if final is not None:
                yield final
        except ShopbotError as exc:
            self._metrics.errors.labels(channel, exc.code).inc()
            # A refused message is the shopper's doing; anything else is ours to look at.
            level = logging.INFO if isinstance(exc, MessageRejected) else logging.WARNING
            log.log(level, "%s message %s not answered: %s: %s", channel, inbound.message_id, exc.code, exc)
            raise
        except Exception:
            self._metrics.errors.labels(channel, "internal").inc()
            raise
        finally:
            if ticket is not None and not answered:
                await self._store.release_message(channel, inbound.user_id, inbound.message_id)

    async def _answer_again(self, customer_id: str, inbound: Inbound) -> Reply:
        """A message delivered twice gets no second answer from the model: the reply recorded
        for it is handed back (flagged "repeat", for channels that must not post it twice); one
        still being answered is a DuplicateMessage."""
        history = await self._store.history(customer_id)
        for i, asked in enumerate(history):
            if asked.role == "user" and asked.message_id == inbound.message_id and asked.channel == inbound.channel:
                answer = history[i + 1] if i + 1 < len(history) else None
                if answer is None or answer.role != "assistant":  # it went to staff, unanswered
                    return Reply(text="", customer_id=customer_id, flags={"repeat", "with_staff"})
                return Reply(text=answer.text, customer_id=customer_id, sources=answer.sources, flags={"repeat"})
        raise DuplicateMessage(f"{inbound.channel} message {inbound.message_id} is being answered already")

    def _validated(self, text: str) -> str:
        text = text.strip()
        if not text:
            raise MessageRejected("empty message", public_message="Your message was empty. What can I help you with?")
        if len(text) > self._settings.max_message_chars:
            raise MessageTooLong(f"{len(text)} characters, limit {self._settings.max_message_chars}")
        return text

    async def _respond(
        self, ticket: Ticket, inbound: Inbound, text: str, started: float
    ) -> AsyncGenerator[ReplyEvent, None]:
        customer_id = ticket.customer_id
        if inbound.persona == "staff":
            yield await self._answer_staff(ticket, inbound, text, started)
            return
        command = parse_command(text)
        if command is None or command.name == "human":
            status = await self._store.handover_status(customer_id)
            if status is not None and status.state == "staff":
                # A person has the conversation: the message (a /human too) goes to them, the
                # assistant says nothing (unless they handed it back a moment ago: then it is
                # answered as usual). Other commands (/reset, /forget, /link) stay the shopper's.
                silent = await self._to_staff(ticket, inbound, text)
                if silent is not None:
                    yield silent
                    return
        if command is not None and command.name == "human":
            handed, event = await self._hand_over(ticket, inbound, text, "asked_for_person", None)
            reply = Reply(text=handed, customer_id=customer_id, flags={"command", "handed_over"})
            await self._store.settle(
                ticket, self._settings.dedup_ttl_s, identity=(inbound.channel, inbound.user_id), handover=event
            )
            yield reply
            return
        if command is not None:
            reply = await self._commands.run(command, customer_id)
            await self._store.settle(ticket, self._settings.dedup_ttl_s, identity=(inbound.channel, inbound.user_id))
            yield reply
            return

        history = await self._store.history(customer_id)
        understanding = await self._understander.understand(text) if self._understander is not None else None
        if understanding is not None:
            self._metrics.intents.labels(understanding.intent).inc()
        refused = self._guard.is_attempt(text)
        # A refused message is not grounded: no retrieval, and no order lookup that an attack
        # carrying an order number would count as a wrong guess.
        grounding = (
            await self._knowledge.ground(customer_id, text, history, understanding)
            if self._knowledge is not None and not refused
            else Grounding()
        )
        channel = inbound.channel
        flags: set[Flag] = set()
        tokens = 0
        reason = self._handover_reason(understanding)
        handover: HandOver | None = None
        if refused:
            log.info("message from %s refused: it reads as an attempt on the instructions", customer_id)
            self._metrics.injections.labels("message").inc()
            reply_text = REFUSAL
            flags.add("refused")
        elif reason is not None:
            reply_text, handover = await self._hand_over(
                ticket, inbound, text, reason, understanding, language=grounding.language
            )
            if reason == "negative_sentiment" and grounding.facts and grounding.safe_answer:
                # An upset shopper who asked something still gets the answer the facts give.
                reply_text = f"{reply_text} In the meantime: {grounding.safe_answer}"
            flags.add("handed_over")
        elif grounding.safe_answer and (grounding.direct and (grounding.language == "en" or self._llm.writes_slots)):
            # Composed by the answerer (a decline, a comparison, a yes or no): sent as it is. A
            # model that reads facts rather than slots phrases even these when the shopper
            # writes another language: it is told which, and the checker holds it to the facts.
            reply_text = grounding.safe_answer
        else:
            written = shown = said = ""
            missing: list[str] = []
            # Slot values are shop data too: a description sentence or a "from" price may say
            # more than the shortened fact line does.
            facts = "\n".join([fact_texts(grounding.facts), *grounding.slots.values()])
            checking, clean = self._knowledge is not None, True
            checker = Checker(facts, text, polarity=grounding.polarity if grounding.yes_no else "any")
            slotted = self._llm.writes_slots
            affirmed = grounding.yes_no and grounding.polarity == "yes"
            async with aclosing(self._generate(history, text, grounding, channel, started, slotted)) as stream:
                async for piece, used in stream:
                    tokens += used
                    written += piece
                    # A model that writes slots says "[offer]"; the shopper reads the value.
                    said, missing = fill(written, grounding.slots) if slotted else (written, [])
                    # Nothing is shown while the reply may still open with "Of course.", which is
                    # then left out: said when nothing says yes, it reads as a yes.
                    opening = not affirmed and may_affirm(said)
                    if not affirmed:
                        said = unaffirmed(said)
                    # Show the reply as it grows, a whole word at a time and only while every
                    # word shown passes the check: a wrong price is never on screen.
                    ready = said[: max(said.rfind(" "), said.rfind("\n")) + 1]
                    if clean and len(ready) > len(shown) and not opening:
                        if missing or (checking and checker.problems(ready)) or self._guard.may_leak(ready):
                            clean = False
                        else:
                            yield ReplyDelta(text=ready[len(shown) :])
                            shown = ready
            if (
                clean
                and len(said) > len(shown)
                and not missing
                and not (slotted and unfinished(said))
                and not (checking and checker.problems(said))
                and not self._guard.may_leak(said)
            ):
                yield ReplyDelta(text=said[len(shown) :])  # the last word
            reply_text = said.strip()
            if tokens >= self._generation.max_new_tokens:  # cut off by the limit, not finished
                reply_text = whole_sentences(reply_text)
            problems = checker.problems(reply_text) if checking else []
            # Markers still in the reply (not ones in a sentence whole_sentences dropped).
            missing = [name for name in missing if marker(name) in reply_text]
            if slotted and unfinished(reply_text):
                missing.append("(unfinished)")
            problems += [f"slot {marker(name)} without a value" for name in missing]
            if grounding.key_facts and not states_any(reply_text, grounding.key_facts):
                problems.append("none of the facts asked for")
            problems += [f"not {fact!r}" for fact in grounding.required if not states_any(reply_text, [fact])]
            if (
                grounding.language != "en"
                and detect_language(reply_text, fallback=grounding.language) != grounding.language
            ):
                problems.append(f"not written in {grounding.language!r}")
            if self._guard.leaks(reply_text):
                log.warning("reply to %s withheld: it repeated the instructions or the canary", customer_id)
                self._metrics.injections.labels("reply").inc()
                reply_text = REFUSAL
                flags.add("refused")
            elif problems and grounding.safe_answer:
                log.info("reply to %s replaced by the safe answer: it stated %s", customer_id, ", ".join(problems))
                self._metrics.corrected.labels(channel).inc()
                reply_text = grounding.safe_answer
                flags.add("corrected")
            elif not reply_text or missing:  # nothing usable, or markers and no facts to fill them
                reply_text = grounding.safe_answer or FALLBACK_REPLY
                flags.add("fallback")

        if not flags & {"refused", "handed_over"}:
            flags |= _OUTCOME_FLAGS[grounding.outcome]
            # A composed answer that replaced the model's is help all the same; a reply that could
            # not help (an "I don't know", nothing usable) counts toward asking a person in.
            helped = not flags & {"declined", "fallback"} or "out_of_scope" in flags
            unhelped = await self._store.count_unhelped(customer_id, helped=helped)
            if unhelped >= self._settings.handover_after_unhelped:
                said_next, handover = await self._hand_over(
                    ticket, inbound, text, "not_helped", understanding, language=grounding.language
                )
                reply_text += " " + said_next
                flags.add("handed_over")
                await self._store.count_unhelped(customer_id, helped=True)  # one hand-over, not one per reply

        latency_ms = int((time.monotonic() - started) * 1000)
        asked = StoredMessage(
            role="user",
            text=text,
            ts=inbound.timestamp,
            channel=channel,
            message_id=inbound.message_id,
            intent=understanding.intent if understanding else None,
            sentiment=round(understanding.sentiment_score, 3) if understanding else None,
        )
        answer = StoredMessage(
            role="assistant",
            text=reply_text,
            channel=channel,
            latency_ms=latency_ms,
            tokens=tokens,
            sources=grounding.sources,
            flags=flags,
        )
        # The hand-over state is checked again as the reply is recorded, atomically: staff who
        # took the conversation over while this reply was written get the message, not the reply.
        # A hand-over event is written with the turn (its thread shows it); while a person is
        # on the way, the turn goes to their thread.
        mirrored = [] if handover is not None else [_mirrored(customer_id, m) for m in (asked, answer)]
        state = await self._store.record(
            ticket,
            [asked, answer],
            identity=(channel, inbound.user_id),
            dedup_ttl_s=self._settings.dedup_ttl_s,
            mode="unless_staff",
            handover=handover,
            desk_if_waiting=mirrored,
        )
        if state == "staff":
            silent = await self._to_staff(ticket, inbound, text, asked)
            if silent is not None:
                yield silent
                return
            await self._store.record(  # taken over and handed back while it was written: as usual
                ticket,
                [asked, answer],
                identity=(channel, inbound.user_id),
                dedup_ttl_s=self._settings.dedup_ttl_s,
                handover=handover,
                desk_if_waiting=mirrored,
            )
        await self._store.remember(customer_id, grounding.effects, order_window_s=_ORDER_GUESS_WINDOW_S)
        self._metrics.latency.labels(channel).observe(latency_ms / 1000)
        self._metrics.replies.labels(channel).inc()
        yield Reply(
            text=reply_text,
            customer_id=customer_id,
            sources=grounding.sources,
            quick_replies=grounding.quick_replies,
            flags=flags,
            tokens=tokens,
        )

    async def _generate(
        self,
        history: list[StoredMessage],
        text: str,
        grounding: Grounding,
        channel: Channel,
        started: float,
        slotted: bool,
    ) -> AsyncGenerator[tuple[str, int], None]:
        """The model's reply as (text, tokens) pieces. A model that writes slots is shown which
        slots have values, not the values: it never copies a figure, so it cannot miscopy one."""
        window = self._llm.context_window
        system = self._guard.system_prompt
        if grounding.language != "en" and not slotted:
            # A model that writes its own words writes them in the shopper's language.
            name = LANGUAGE_NAMES.get(grounding.language, grounding.language)
            system = f"{system}\nThe customer writes in {name}: write your whole reply in {name}."
        if slotted:
            facts = markers(grounding.slots)
        elif grounding.safe_answer:
            # The answerers decided what is said; a model that reads text only phrases it. Shown
            # the answer rather than the evidence behind it, a small instruct model keeps to it
            # (shown the evidence, SmolLM2-135M left out the figure asked for in most replies).
            system = f"{system}\n{PHRASE_INSTRUCTION}"
            facts = [grounding.safe_answer]
        else:
            facts = [f.text for f in grounding.facts]
        messages = build_messages(
            system=system,
            facts=facts,
            history=history,
            message=text,
            count=self._llm.count_tokens,
            budget=window - self._generation.max_new_tokens,
            hard_limit=window - min(_MIN_REPLY_TOKENS, self._generation.max_new_tokens),
        )
        tokens = 0
        first = True
        self._metrics.in_progress.inc()
        try:
            async with aclosing(self._llm.stream(messages, self._generation)) as stream:
                async for chunk in stream:
                    tokens += chunk.tokens
                    if chunk.text and first:
                        self._metrics.first_token.labels(channel).observe(time.monotonic() - started)
                        first = False
                    yield chunk.text, chunk.tokens
        finally:
            self._metrics.in_progress.dec()
            self._metrics.tokens.labels(channel).inc(tokens)

    def _handover_reason(self, understanding: Understanding | None) -> HandOverReason | None:
        if understanding is None:
            return None
        if understanding.intent == "human_agent":
            return "asked_for_person"
        below = self._settings.handover_below_sentiment
        if understanding.furious or (below is not None and understanding.sentiment_score <= below):
            return "negative_sentiment"
        return None

    async def _hand_over(
        self,
        ticket: Ticket,
        inbound: Inbound,
        text: str,
        reason: HandOverReason,
        understanding: Understanding | None,
        language: str = "en",
    ) -> tuple[str, HandOver]:
        """The hand-over event, and what to tell the shopper honestly about what happens next.
        The caller records it with the turn: the conversation is marked waiting for a person
        (one a person has already stays theirs) in the same script that writes the event."""
        self._metrics.handovers.labels(reason).inc()
        event = HandOver(
            customer_id=ticket.customer_id,
            channel=inbound.channel,
            user_id=inbound.user_id,
            reason=reason,
            message=text,
            sentiment=understanding.sentiment_score if understanding else None,
        )
        if self._knowledge is None:
            return "I've asked a member of our team to take over; they will reply in this chat.", event
        return self._knowledge.handover_message(reason, language=language), event

    async def _to_staff(
        self, ticket: Ticket, inbound: Inbound, text: str, asked: StoredMessage | None = None
    ) -> Reply | None:
        """A message in a conversation staff own: recorded and shown in its thread, unanswered.
        None when staff no longer own it as it is recorded (nothing was recorded)."""
        asked = asked or StoredMessage(
            role="user", text=text, ts=inbound.timestamp, channel=inbound.channel, message_id=inbound.message_id
        )
        state = await self._store.record(
            ticket,
            [asked],
            identity=(inbound.channel, inbound.user_id),
            dedup_ttl_s=self._settings.dedup_ttl_s,
            mode="only_staff",
            desk=[_mirrored(ticket.customer_id, asked)],
        )
        if state != "staff":
            return None
        self._metrics.replies.labels(inbound.channel).inc()
        return Reply(text="", customer_id=ticket.customer_id, flags={"with_staff"})

    async def _answer_staff(self, ticket: Ticket, inbound: Inbound, text: str, started: float) -> Reply:
        """A staff member's question (Slack): lookups a shopper may not make, no hand-over."""
        if self._staff is None:
            answer = StaffAnswer(text="The staff assistant is not set up on this server.")
        else:
            answer = await self._staff.answer(text)
        await self._store.record(
            ticket,
            [
                StoredMessage(
                    role="user", text=text, ts=inbound.timestamp, channel=inbound.channel, message_id=inbound.message_id
                ),
                StoredMessage(
                    role="assistant",
                    text=answer.text,
                    channel=inbound.channel,
                    latency_ms=int((time.monotonic() - started) * 1000),
                    sources=answer.sources,
                ),
            ],
            identity=(inbound.channel, inbound.user_id),
            dedup_ttl_s=self._settings.dedup_ttl_s,
        )
        self._metrics.replies.labels(inbound.channel).inc()
        return Reply(text=answer.text, customer_id=ticket.customer_id, sources=answer.sources)
