"""Linear classifiers over sentence embeddings (multinomial logistic regression), saved as
safetensors with their labels, so that loading one is a matrix and a list of names."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from bot.errors import ConfigError
from bot.understanding.encoder import Vectors


@dataclass(frozen=True)
class LinearHead:
    labels: tuple[str, ...]
    weight: Vectors  # (labels, dimensions)
    bias: Vectors  # (labels,)

    def probabilities(self, vectors: Vectors) -> Vectors:
        logits = vectors @ self.weight.T + self.bias
        logits -= logits.max(axis=1, keepdims=True)
        odds = np.exp(logits)
        result: Vectors = odds / odds.sum(axis=1, keepdims=True)
        return result

    def save(self, path: Path) -> None:
        save_file(
            {"weight": np.ascontiguousarray(self.weight), "bias": np.ascontiguousarray(self.bias)},
            str(path),
            metadata={"labels": json.dumps(list(self.labels))},
        )

    @classmethod
    def load(cls, path: Path) -> LinearHead:
        try:
            tensors = load_file(str(path))
            with safe_open(str(path), framework="numpy") as f:
                labels = tuple(json.loads((f.metadata() or {})["labels"]))
        except (OSError, KeyError, ValueError) as exc:
            raise ConfigError(f"cannot read the classifier {path}: {exc}") from exc
        weight, bias = tensors["weight"].astype(np.float32), tensors["bias"].astype(np.float32)
        if weight.ndim != 2 or weight.shape[0] != len(labels) or bias.shape != (len(labels),):
            raise ConfigError(f"{path}: weights {weight.shape} and bias {bias.shape} do not fit {len(labels)} labels")
        return cls(labels, weight, bias)
