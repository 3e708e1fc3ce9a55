"""Language-model backends behind one small protocol: the engine streams a reply from whichever
backend the settings choose, in-process (`local`) or over HTTP (`remote`)."""

from __future__ import annotations

from collections.abc import AsyncGenerator, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, TypedDict


class ChatMessage(TypedDict):
    role: Literal["system", "user", "assistant"]
    content: str


@dataclass(frozen=True)
class GenerationParams:
    max_new_tokens: int = 200
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0
    repetition_penalty: float = 1.0
    stop: tuple[str, ...] = ()


@dataclass(frozen=True)
class Chunk:
    """New reply text and how many model tokens produced it."""

    text: str
    tokens: int


class LanguageModel(Protocol):
    @property
    def name(self) -> str: ...

    @property
    def context_window(self) -> int:
        """Tokens the model attends to: prompt and reply together."""
        ...

    @property
    def writes_slots(self) -> bool:
        """Whether the model was trained to write slot markers ("[offer]") that the engine fills
        from the facts (bot.knowledge.slots), rather than to copy facts from the prompt."""
        ...

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        """Tokens the prompt for these messages takes, generation prompt included."""
        ...

    def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> AsyncGenerator[Chunk, None]:
        """Yield the reply as it is written; closing the iterator aborts generation."""
        ...

    async def ready(self) -> bool:
        """Whether the model can take a request now (loaded, or its server answering)."""
        ...

    async def aclose(self) -> None: ...
