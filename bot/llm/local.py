"""A transformers causal LM in this process: loaded with `from_pretrained`, prompts built with the
tokenizer's chat template, replies streamed from the continuous batcher's thread."""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import os
from collections.abc import AsyncGenerator, Sequence
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from bot.errors import ConfigError
from bot.llm import ChatMessage, Chunk, GenerationParams
from bot.llm.batching import ContinuousBatcher, Finished, SinkItem

log = logging.getLogger(__name__)

DEFAULT_MODEL_DIR = Path(__file__).resolve().parent.parent / "models" / "default"

# Without a chat template the prompt is a plain transcript; the model's next "User:" line
# means it has finished its turn.
_PLAIN_STOP = "\nUser:"


def _resolve_dtype(dtype: str, device: str) -> torch.dtype:
    if dtype == "auto":
        return torch.float32 if device == "cpu" else torch.bfloat16
    return getattr(torch, dtype)


class LocalModel:
    """The `local` backend. Build it with `LocalModel.load(...)`; close it with `aclose()`."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        name: str,
        max_batch_size: int = 64,
    ) -> None:
        self.name = name
        self._model = model.eval()
        self._tokenizer = tokenizer
        self._templated = bool(getattr(tokenizer, "chat_template", None))
        # `shopbot train --store` marks the models it trains to write slots in their config.
        self.writes_slots = getattr(model.config, "shopbot_facts", None) == "slots"
        # The engine counts a prompt's tokens to fit the context, then streams that same
        # prompt: remembering recent texts saves tokenizing it twice per message.
        self._token_ids = functools.lru_cache(maxsize=256)(self._tokenize)
        self.context_window = int(
            getattr(model.config, "max_position_embeddings", None) or tokenizer.model_max_length or 2048
        )
        # The context is enforced here (history trimming, the batcher's room check); the
        # tokenizer's own length warning would only repeat it as noise.
        tokenizer.model_max_length = 1 << 30
        eos = model.generation_config.eos_token_id if model.generation_config else None
        eos_ids = set(eos if isinstance(eos, list) else [eos] if eos is not None else [])
        if tokenizer.eos_token_id is not None:
            eos_ids.add(tokenizer.eos_token_id)
        self._batcher = ContinuousBatcher(
            model, tokenizer, eos_ids=eos_ids, context_window=self.context_window, max_batch_size=max_batch_size
        )

    @classmethod
    def load(
        cls,
        path: str | os.PathLike[str] = "",
        *,
        allow_download: bool = False,
        device: str = "cpu",
        dtype: str = "auto",
        threads: int | None = None,
        max_batch_size: int = 64,
    ) -> LocalModel:
        """Load a model folder or hub id through `from_pretrained` (blocking: call it off the event loop)."""
        source = str(path) if str(path) else str(DEFAULT_MODEL_DIR)
        if not str(path) and not (DEFAULT_MODEL_DIR / "config.json").exists():
            raise ConfigError(f"the embedded default model is missing from {DEFAULT_MODEL_DIR}: run `shopbot train`")
        if device == "auto":
            device = "cuda" if torch.cuda.is_available() else "cpu"
        if threads:
            torch.set_num_threads(threads)
        hf_logging.disable_progress_bar()  # a progress bar per start-up is noise in a server log
        is_folder = Path(source).is_dir()
        if not is_folder and not allow_download and "/" not in source.strip("/") and not Path(source).exists():
            raise ConfigError(f"SHOPBOT_LLM__PATH: no model folder at {source!r}")
        try:
            tokenizer = AutoTokenizer.from_pretrained(source, local_files_only=not allow_download)
            model = AutoModelForCausalLM.from_pretrained(
                source, local_files_only=not allow_download, dtype=_resolve_dtype(dtype, device)
            ).to(device)  # type: ignore[arg-type]
        except OSError as exc:
            hint = "" if allow_download else " (downloads are off: set SHOPBOT_LLM__ALLOW_DOWNLOAD=true to fetch it)"
            raise ConfigError(f"SHOPBOT_LLM__PATH: cannot load a model from {source!r}{hint}: {exc}") from exc
        name = Path(source).name if is_folder else source
        log.info("loaded model %s (%.1fM parameters) on %s", name, model.num_parameters() / 1e6, device)
        return cls(model, tokenizer, name=name, max_batch_size=max_batch_size)

    # -- prompts -----------------------------------------------------------------------------

    def _prompt_text(self, messages: Sequence[ChatMessage]) -> str:
        if self._templated:
            conversation = [{"role": m["role"], "content": m["content"]} for m in messages]
            text = self._tokenizer.apply_chat_template(conversation, add_generation_prompt=True, tokenize=False)
            assert isinstance(text, str)
            return text
        lines = []
        for message in messages:
            speaker = {"system": "", "user": "User: ", "assistant": "Assistant: "}[message["role"]]
            lines.append(f"{speaker}{message['content']}")
        bos = self._tokenizer.bos_token or ""
        return bos + "\n".join(lines) + "\nAssistant:"

    def encode(self, messages: Sequence[ChatMessage]) -> list[int]:
        return list(self._token_ids(self._prompt_text(messages)))

    def _tokenize(self, text: str) -> tuple[int, ...]:
        return tuple(self._tokenizer(text, add_special_tokens=False)["input_ids"])

    def count_tokens(self, messages: Sequence[ChatMessage]) -> int:
        return len(self.encode(messages))

    def stop_sequences(self, params: GenerationParams) -> tuple[str, ...]:
        return params.stop if self._templated else (*params.stop, _PLAIN_STOP)

    # -- generation --------------------------------------------------------------------------

    async def stream(self, messages: Sequence[ChatMessage], params: GenerationParams) -> AsyncGenerator[Chunk, None]:
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[SinkItem] = asyncio.Queue()
        prompt = self.encode(messages)

        def sink(item: SinkItem) -> None:
            try:
                loop.call_soon_threadsafe(queue.put_nowait, item)
            except RuntimeError:  # the event loop closed under us: nobody is listening any more
                request.cancelled = True

        params = dataclasses.replace(params, stop=self.stop_sequences(params))
        request = self._batcher.new_request(prompt, params, sink)
        self._batcher.submit(request)
        try:
            while True:
                item = await queue.get()
                if isinstance(item, Finished):
                    return
                if isinstance(item, BaseException):
                    raise item
                yield item
        finally:
            # Closing the iterator (the shopper left, the task was cancelled) stops the row at
            # the batcher's next step.
            request.cancelled = True

    @property
    def active_requests(self) -> int:
        return self._batcher.active

    async def ready(self) -> bool:
        return self._batcher.alive

    async def aclose(self) -> None:
        await asyncio.to_thread(self._batcher.close)
