"""A stand-in model that answers at once, for benchmarks of the channels: their figures are
then the channel's, not the model's."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence

from bot.llm import ChatMessage, Chunk, GenerationParams


class InstantModel:
    """Answers at once, in three pieces, so the engine streams as it would with a model."""

    name = "instant"
    context_window = 4096
    writes_slots = False

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return sum(len(m["content"].split()) for m in messages)

    async def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> AsyncGenerator[Chunk, None]:
        for piece in ("Thanks for your message! ", "Here is what I can tell you ", "from our shop's pages."):
            yield Chunk(piece, 4)

    async def ready(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None
