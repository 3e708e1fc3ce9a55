"""Continuous batching for an in-process causal LM.

One background thread owns the model. Every conversation that is being answered is a row of
one batch, so a single forward pass advances all of them by one token. A request that arrives
while others are generating is prefilled on its own (with others that arrived with it), then
joins the running batch at the next step; a finished or cancelled row leaves it. This is what
makes 32 concurrent shoppers cost little more than one: on a small model a decode step is
dominated by fixed per-call overhead, which the batch shares.

Rows of different lengths share one key/value cache by left padding: every row's cache is
right-aligned, the attention mask hides the padding, and explicit position ids keep each row's
positions its own, so a row decodes exactly as it would alone (tests check greedy equality).
"""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import cast

import torch
import torch.nn.functional as F
from tokenizers.decoders import DecodeStream
from transformers import DynamicCache, PreTrainedModel, PreTrainedTokenizerBase
from transformers.cache_utils import DynamicLayer

from bot.errors import ModelError
from bot.llm import Chunk, GenerationParams

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Finished:
    """The last item a request's sink receives: why generation ended."""

    reason: str  # "stop" (end token or stop sequence), "length", "cancelled"


SinkItem = Chunk | Finished | BaseException


class _IncrementalText:
    """Token ids in, text out, one token at a time, without re-decoding the whole reply."""

    def __init__(self, tokenizer: PreTrainedTokenizerBase) -> None:
        backend = getattr(tokenizer, "_tokenizer", None)
        self._tokenizer = tokenizer
        self._fast = backend
        self._stream = DecodeStream(skip_special_tokens=True) if backend is not None else None
        self._ids: list[int] = []
        self._text = ""

    def step(self, token_id: int) -> str:
        if self._stream is not None:
            return self._stream.step(self._fast, token_id) or ""  # type: ignore[arg-type]
        # Slow tokenizers: decode everything and hand out what is new (held back while a
        # multi-byte character is still incomplete).
        self._ids.append(token_id)
        text = str(self._tokenizer.decode(self._ids, skip_special_tokens=True))
        if text.endswith("\ufffd") or not text.startswith(self._text):
            return ""
        new, self._text = text[len(self._text) :], text
        return new


@dataclass(eq=False)
class Request:
    prompt_ids: list[int]
    params: GenerationParams
    sink: Callable[[SinkItem], None]
    decoder: _IncrementalText
    cancelled: bool = False  # set from the event loop; read by the generation thread
    ids: list[int] = field(default_factory=list)  # generated, end token excluded
    text: str = ""
    emitted: int = 0  # characters of `text` already sent
    generated: int = 0
    reported_tokens: int = 0
    done: bool = False
    max_new_tokens: int = 0

    def finish(self, reason: str) -> None:
        if not self.done:
            self.done = True
            self.sink(Finished(reason))

    def fail(self, error: BaseException) -> None:
        if not self.done:
            self.done = True
            self.sink(error)


def _held_back(text: str, stops: Sequence[str]) -> int:
    """How many trailing characters could be the start of a stop sequence (so not sent yet)."""
    longest = 0
    for stop in stops:
        for size in range(min(len(stop) - 1, len(text)), longest, -1):
            if text.endswith(stop[:size]):
                longest = size
                break
    return longest


@dataclass(eq=False)
class _Batch:
    rows: list[Request]
    cache: DynamicCache
    mask: torch.Tensor  # [B, T] 1 for real cached tokens, 0 for left padding
    next_ids: torch.Tensor  # [B] the token each row feeds next (sampled, not yet cached)
    next_pos: torch.Tensor  # [B] its position id
    seen: torch.Tensor  # [B, V] bool, tokens a row generated (repetition penalty)
    knobs: tuple[torch.Tensor, torch.Tensor, torch.Tensor] | None = field(default=None)

    def sampling_knobs(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        if self.knobs is None:
            device = self.next_ids.device  # beside the logits, on the GPU when the model is
            self.knobs = (
                torch.tensor([r.params.temperature for r in self.rows], dtype=torch.float32, device=device),
                torch.tensor([r.params.top_p for r in self.rows], dtype=torch.float32, device=device),
                torch.tensor([r.params.repetition_penalty for r in self.rows], dtype=torch.float32, device=device),
            )
        return self.knobs


def _layers(cache: DynamicCache) -> list[DynamicLayer]:
    """The cache's layers, once `_mergeable` said they are all plain DynamicLayers."""
    return cast(list[DynamicLayer], list(cache.layers))


def _mergeable(cache: object) -> bool:
    """Only plain attention caches can be left-padded and joined; others run one batch at a time."""
    return isinstance(cache, DynamicCache) and all(type(layer) is DynamicLayer for layer in cache.layers)


def _pad_left(tensor: torch.Tensor, length: int, dim: int) -> torch.Tensor:
    missing = length - tensor.shape[dim]
    if missing <= 0:
        return tensor
    shape = list(tensor.shape)
    shape[dim] = missing
    return torch.cat([tensor.new_zeros(shape), tensor], dim=dim)


def _join(a: _Batch, b: _Batch) -> _Batch:
    length = max(a.mask.shape[1], b.mask.shape[1])
    for la, lb in zip(_layers(a.cache), _layers(b.cache), strict=True):
        assert la.keys is not None and la.values is not None and lb.keys is not None and lb.values is not None
        la.keys = torch.cat([_pad_left(la.keys, length, -2), _pad_left(lb.keys, length, -2)], dim=0)
        la.values = torch.cat([_pad_left(la.values, length, -2), _pad_left(lb.values, length, -2)], dim=0)
    return _Batch(
        rows=a.rows + b.rows,
        cache=a.cache,
        mask=torch.cat([_pad_left(a.mask, length, 1), _pad_left(b.mask, length, 1)], dim=0),
        next_ids=torch.cat([a.next_ids, b.next_ids]),
        next_pos=torch.cat([a.next_pos, b.next_pos]),
        seen=torch.cat([a.seen, b.seen]),
    )


def _select(batch: _Batch, keep: list[int]) -> _Batch:
    index = torch.tensor(keep, dtype=torch.long, device=batch.mask.device)
    batch.cache.batch_select_indices(index)
    mask = batch.mask[index]
    # Columns that are padding for every remaining row are dead weight: cut them off.
    real = mask.any(dim=0).nonzero()
    start = int(real[0]) if len(real) else mask.shape[1]
    if start > 0 and _mergeable(batch.cache):
        for layer in _layers(batch.cache):
            assert layer.keys is not None and layer.values is not None
            layer.keys = layer.keys[:, :, start:, :]
            layer.values = layer.values[:, :, start:, :]
        mask = mask[:, start:]
    return _Batch(
        rows=[batch.rows[i] for i in keep],
        cache=batch.cache,
        mask=mask,
        next_ids=batch.next_ids[index],
        next_pos=batch.next_pos[index],
        seen=batch.seen[index],
    )


def _sample(logits: torch.Tensor, batch: _Batch) -> torch.Tensor:
    temperature, top_p, penalty = batch.sampling_knobs()
    logits = logits.float()
    if bool((penalty != 1).any()):
        # Penalise tokens the row already wrote (as in CTRL): small models loop without it.
        p = penalty[:, None]
        penalised = torch.where(logits > 0, logits / p, logits * p)
        logits = torch.where(batch.seen, penalised, logits)
    greedy = logits.argmax(dim=-1)
    sampling = temperature > 0
    if not bool(sampling.any()):
        return greedy
    probs = F.softmax(logits / temperature.clamp(min=1e-4)[:, None], dim=-1)
    sorted_probs, order = probs.sort(dim=-1, descending=True)
    # Nucleus sampling: keep the smallest set of tokens whose probability reaches top_p.
    outside = (sorted_probs.cumsum(dim=-1) - sorted_probs) > top_p[:, None]
    sorted_probs = sorted_probs.masked_fill(outside, 0.0)
    picked = order.gather(-1, torch.multinomial(sorted_probs, 1)).squeeze(-1)
    return torch.where(sampling, picked, greedy)


class ContinuousBatcher:
    """Owns the model on one thread; `submit` from any thread, results arrive through each request's sink."""

    def __init__(
        self,
        model: PreTrainedModel,
        tokenizer: PreTrainedTokenizerBase,
        *,
        eos_ids: set[int],
        context_window: int,
        max_batch_size: int = 64,
        prefill_tokens: int = 4096,
    ) -> None:
        self._model = model
        self._tokenizer = tokenizer
        self._eos = eos_ids
        self._context = context_window
        self._max_batch = max_batch_size
        self._prefill_tokens = prefill_tokens
        self._pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else 0
        self._vocab = model.get_output_embeddings().weight.shape[0]
        self._device = model.device
        self._pending: deque[Request] = deque()
        self._cond = threading.Condition()
        self._closed = False
        self._batch: _Batch | None = None
        self._can_join = True
        self._thread = threading.Thread(target=self._run, name="shopbot-generate", daemon=True)
        self._thread.start()

    # -- called from other threads -------------------------------------------------------

    def new_request(self, prompt_ids: list[int], params: GenerationParams, sink: Callable[[SinkItem], None]) -> Request:
        room = self._context - len(prompt_ids)
        if room < 1:
            raise ModelError(f"prompt of {len(prompt_ids)} tokens does not fit the context of {self._context}")
        request = Request(prompt_ids, params, sink, _IncrementalText(self._tokenizer))
        request.max_new_tokens = min(params.max_new_tokens, room)
        return request

    def submit(self, request: Request) -> None:
        with self._cond:
            if self._closed:
                raise ModelError("the model is shutting down")
            self._pending.append(request)
            self._cond.notify()

    @property
    def active(self) -> int:
        batch = self._batch
        return len(batch.rows) if batch else 0

    @property
    def alive(self) -> bool:
        return self._thread.is_alive() and not self._closed

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        self._thread.join(timeout=30)

    # -- the generation thread -----------------------------------------------------------

    def _take_newcomers(self) -> list[Request]:
        with self._cond:
            while not self._closed and not self._pending and self._batch is None:
                self._cond.wait()
            if self._closed:
                return []
            if self._batch is not None and not self._can_join:
                return []
            room = self._max_batch - (len(self._batch.rows) if self._batch else 0)
            taken: list[Request] = []
            while self._pending and len(taken) < room:
                request = self._pending.popleft()
                if request.cancelled:
                    request.finish("cancelled")
                else:
                    taken.append(request)
            return taken

    def _run(self) -> None:
        with torch.inference_mode():
            while True:
                newcomers = self._take_newcomers()
                if self._closed:
                    break
                try:
                    if newcomers:
                        self._prefill(newcomers)
                    if self._batch is not None:
                        self._decode()
                except Exception as exc:  # the model itself failed: every row it held fails with it
                    log.exception("generation step failed")
                    error = ModelError(f"generation failed: {exc}")
                    for request in newcomers + (self._batch.rows if self._batch else []):
                        request.fail(error)
                    self._batch = None
        error = ModelError("the model is shutting down")
        for request in list(self._pending) + (self._batch.rows if self._batch else []):
            request.fail(error)
        self._pending.clear()
        self._batch = None

    def _prefill(self, newcomers: list[Request]) -> None:
        # Similar lengths together, and no more padded tokens per forward than the budget.
        newcomers.sort(key=lambda r: len(r.prompt_ids))
        groups: list[list[Request]] = [[]]
        for request in newcomers:
            group = groups[-1]
            if group and len(request.prompt_ids) * (len(group) + 1) > self._prefill_tokens:
                groups.append(group := [])
            group.append(request)
        for number, group in enumerate(groups):
            if self._batch is not None and not self._can_join:
                # The first group showed a cache that cannot be joined (e.g. sliding-window
                # layers): the rest wait, in order, until the running batch is done.
                self._requeue([r for g in groups[number:] for r in g])
                return
            self._prefill_group(group)

    def _requeue(self, requests: list[Request]) -> None:
        with self._cond:
            self._pending.extendleft(reversed(requests))

    def _prefill_group(self, group: list[Request]) -> None:
        length = max(len(r.prompt_ids) for r in group)
        ids = torch.full((len(group), length), self._pad_id, dtype=torch.long)
        mask = torch.zeros((len(group), length), dtype=torch.long)
        for i, request in enumerate(group):
            ids[i, length - len(request.prompt_ids) :] = torch.tensor(request.prompt_ids)
            mask[i, length - len(request.prompt_ids) :] = 1
        positions = (mask.cumsum(-1) - 1).clamp(min=0)
        out = self._model(
            input_ids=ids.to(self._device),
            attention_mask=mask.to(self._device),
            position_ids=positions.to(self._device),
            use_cache=True,
            logits_to_keep=1,
        )
        cache = out.past_key_values
        if not _mergeable(cache):
            self._can_join = False
        batch = _Batch(
            rows=list(group),
            cache=cache,
            mask=mask.to(self._device),
            next_ids=torch.zeros(len(group), dtype=torch.long, device=self._device),
            next_pos=mask.sum(dim=-1).to(self._device),
            seen=torch.zeros((len(group), self._vocab), dtype=torch.bool, device=self._device),
        )
        joining = self._advance(batch, out.logits[:, -1, :])
        if joining is None:
            return
        self._batch = joining if self._batch is None else _join(self._batch, joining)

    def _decode(self) -> None:
        batch = self._batch
        assert batch is not None
        batch.mask = torch.cat([batch.mask, batch.mask.new_ones((len(batch.rows), 1))], dim=1)
        out = self._model(
            input_ids=batch.next_ids[:, None],
            attention_mask=batch.mask,
            position_ids=batch.next_pos[:, None],
            past_key_values=batch.cache,
            use_cache=True,
        )
        batch.cache = out.past_key_values
        batch.next_pos = batch.next_pos + 1
        self._batch = self._advance(batch, out.logits[:, -1, :])

    def _advance(self, batch: _Batch, logits: torch.Tensor) -> _Batch | None:
        """Sample one token per row, hand out the text, and drop rows that are done."""
        tokens = _sample(logits, batch)
        batch.next_ids = tokens
        batch.seen[torch.arange(len(batch.rows), device=tokens.device), tokens] = True
        keep = [
            i
            for i, (row, token) in enumerate(zip(batch.rows, tokens.tolist(), strict=True))
            if self._accept(row, token)
        ]
        if not keep:
            return None
        if len(keep) == len(batch.rows):
            return batch
        return _select(batch, keep)

    def _accept(self, row: Request, token: int) -> bool:
        """Record the token for the row; False when the row is finished."""
        if row.cancelled:
            row.finish("cancelled")
            return False
        row.generated += 1
        reason = None
        if token in self._eos:
            reason = "stop"
        else:
            row.ids.append(token)
            before = len(row.text)
            row.text += row.decoder.step(token)
            stops = row.params.stop
            if stops and len(row.text) > before:
                start = max(0, before - max(len(s) for s in stops))
                hits = [i for i in (row.text.find(s, start) for s in stops) if i >= 0]
                if hits:
                    row.text = row.text[: min(hits)]
                    return self._emit(row, "stop")
            if row.generated >= row.max_new_tokens:
                reason = "length"
        if reason:
            # The incremental decoder holds back bytes of a character not yet complete; at
            # the end, the whole decode has the last word (as plain `generate` would write it).
            whole = str(self._tokenizer.decode(row.ids, skip_special_tokens=True))
            if whole.startswith(row.text):
                row.text = whole
        return self._emit(row, reason)

    def _emit(self, row: Request, reason: str | None) -> bool:
        """Send the row's text that is safe to send; with a reason, finish the row (False)."""
        end = len(row.text) if reason else len(row.text) - _held_back(row.text, row.params.stop)
        if end > row.emitted or (reason and row.generated > row.reported_tokens):
            row.sink(Chunk(row.text[row.emitted : end], row.generated - row.reported_tokens))
            row.emitted, row.reported_tokens = max(end, row.emitted), row.generated
        if reason:
            row.finish(reason)
            return False
        return True
