"""Train a small Llama-style causal LM on customer-service dialogues, from scratch or from an
existing model folder (`base`), optionally grounded in a store folder (`store`).

Short enough to read in one sitting: build the tokenizer, turn each dialogue into token ids
with a loss mask, run AdamW with warm-up and cosine decay, save with `save_pretrained` so the
engine loads the result exactly as it loads any other model. A model trained with a store
writes slot markers the engine fills (bot.knowledge.slots); its config says so.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import random
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from transformers import (
    AutoModelForCausalLM,
    AutoTokenizer,
    GenerationConfig,
    LlamaConfig,
    LlamaForCausalLM,
    PreTrainedModel,
    PreTrainedTokenizerBase,
    PreTrainedTokenizerFast,
)
from transformers.utils import logging as hf_logging

from bot.errors import TrainingError
from bot.knowledge.shop import load_shop
from bot.llm import ChatMessage
from bot.training.dialogues import BITEXT_LICENCE, build_dialogues, load_bitext
from bot.training.grounded import grounded_dialogues
from bot.training.tokenizer import END, ROLE_TOKENS, train_tokenizer

log = logging.getLogger(__name__)

IGNORE = -100  # label value the loss skips


@dataclass(frozen=True)
class TrainConfig:
    data: Path
    out: Path
    system_prompt: str
    seed: int = 1234
    steps: int = 3000
    batch_size: int = 16
    lr: float = 3e-3
    warmup: int = 100
    weight_decay: float = 0.1
    vocab_size: int = 4096
    context: int = 512
    hidden: int = 256
    layers: int = 4
    heads: int = 4
    kv_heads: int = 2
    intermediate: int = 688
    eval_every: int = 250
    threads: int | None = None
    # Grounded: dialogues about this store folder, with slots, next to Bitext's.
    store: Path | None = None
    grounded: int = 8000  # grounded dialogues to build from the store
    bitext_share: float = 0.25  # Bitext dialogues kept beside them, as a share of the grounded ones
    # Fine-tune this causal LM folder instead of training a new model (its tokenizer too).
    base: Path | None = None


@dataclass
class TrainResult:
    out: Path
    parameters: int
    first_loss: float
    final_loss: float
    eval_loss: float
    seconds: float


def encode_dialogue(
    tokenizer: PreTrainedTokenizerFast, messages: list[ChatMessage], context: int
) -> tuple[list[int], list[int]] | None:
    """Token ids of the chat template, and labels that keep only the assistant's words.

    The model is trained to write replies, not to imitate shoppers; masking the rest spends
    its small capacity where it matters. Earliest exchanges are dropped to fit the context."""
    end = int(tokenizer.convert_tokens_to_ids(END))  # type: ignore[arg-type]
    while True:
        ids: list[int] = []
        labels: list[int] = []
        for message in messages:
            role = int(tokenizer.convert_tokens_to_ids(ROLE_TOKENS[message["role"]]))  # type: ignore[arg-type]
            body = tokenizer(message["content"], add_special_tokens=False)["input_ids"]
            ids += [role, *body, end]
            if message["role"] == "assistant":
                labels += [IGNORE, *body, end]
            else:
                labels += [IGNORE] * (len(body) + 2)
        if len(ids) <= context or len(messages) <= 3:
            break
        messages = [messages[0], *messages[3:]]  # drop the oldest user/assistant exchange
    ids, labels = ids[:context], labels[:context]
    if all(label == IGNORE for label in labels):
        return None
    return ids, labels


def encode_templated(
    tokenizer: PreTrainedTokenizerBase, messages: list[ChatMessage], context: int
) -> tuple[list[int], list[int]] | None:
    """`encode_dialogue` for any tokenizer with a chat template (a `base` model of another
    family): the assistant's spans are found by rendering the conversation up to each reply."""
    turns = [{"role": m["role"], "content": m["content"]} for m in messages]
    text = str(tokenizer.apply_chat_template(turns, tokenize=False))
    spans = []
    for i, message in enumerate(messages):
        if message["role"] == "assistant":
            before = str(tokenizer.apply_chat_template(turns[:i], add_generation_prompt=True, tokenize=False))
            upto = str(tokenizer.apply_chat_template(turns[: i + 1], tokenize=False))
            spans.append((len(before), len(upto)))
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = list(encoded["input_ids"])[:context]
    labels = [
        token if any(start <= begin < end for start, end in spans) else IGNORE
        for token, (begin, _) in zip(ids, encoded["offset_mapping"], strict=False)
    ]
    if all(label == IGNORE for label in labels):
        return None
    return ids, labels


def _batches(
    samples: list[tuple[list[int], list[int]]], batch_size: int, pad_id: int, rng: random.Random
) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """One epoch of padded batches, grouped by length so little compute goes to padding."""
    order = list(range(len(samples)))
    rng.shuffle(order)
    chunk = batch_size * 32
    batches = []
    for start in range(0, len(order), chunk):
        window = sorted(order[start : start + chunk], key=lambda i: len(samples[i][0]))
        for b in range(0, len(window), batch_size):
            group = [samples[i] for i in window[b : b + batch_size]]
            width = max(len(ids) for ids, _ in group)
            ids = torch.full((len(group), width), pad_id, dtype=torch.long)
            labels = torch.full((len(group), width), IGNORE, dtype=torch.long)
            mask = torch.zeros((len(group), width), dtype=torch.long)
            for row, (x, y) in enumerate(group):
                ids[row, : len(x)] = torch.tensor(x)
                labels[row, : len(y)] = torch.tensor(y)
                mask[row, : len(x)] = 1
            batches.append((ids, labels, mask))
    rng.shuffle(batches)
    return batches


def _lr_at(step: int, config: TrainConfig) -> float:
    # Linear warm-up keeps the first updates of a freshly initialised model from blowing up;
    # cosine decay to a tenth then lets it settle.
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.lr * (0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * min(1.0, progress))))


@torch.no_grad()
def _eval_loss(model: PreTrainedModel, batches: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]) -> float:
    model.eval()
    losses = [float(model(input_ids=x, attention_mask=m, labels=y).loss) for x, y, m in batches]
    model.train()
    return sum(losses) / max(1, len(losses))


def train(config: TrainConfig, progress: Callable[[str], None] = print) -> TrainResult:
    started = time.monotonic()
    if config.threads:
        torch.set_num_threads(config.threads)
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    rng = random.Random(config.seed)

    pairs = load_bitext(config.data)
    rng.shuffle(pairs)
    held_out = max(1, len(pairs) // 20)
    eval_pairs, train_pairs = pairs[:held_out], pairs[held_out:]
    progress(f"data: {len(train_pairs)} training pairs, {len(eval_pairs)} held out, from {config.data}")
    train_dialogues = build_dialogues(train_pairs, system_prompt=config.system_prompt, seed=config.seed)
    eval_dialogues = build_dialogues(eval_pairs, system_prompt=config.system_prompt, seed=config.seed + 1)
    if config.store is not None:
        shop = load_shop(config.store)
        try:
            grounded = grounded_dialogues(
                shop, train_pairs, system_prompt=config.system_prompt, count=config.grounded, seed=config.seed
            )
            grounded_eval = grounded_dialogues(
                shop, eval_pairs, system_prompt=config.system_prompt, count=256, seed=config.seed + 1
            )
        except ValueError as exc:
            raise TrainingError(str(exc)) from exc
        keep = min(len(train_dialogues), int(config.grounded * config.bitext_share))
        train_dialogues = grounded + rng.sample(train_dialogues, keep)
        # Held-out loss on the grounded dialogues first: they are what this run is for.
        eval_dialogues = grounded_eval + eval_dialogues[:64]
        progress(f"store: {shop.summary()}; {len(grounded)} grounded dialogues with {keep} from Bitext")

    model: PreTrainedModel
    tokenizer: PreTrainedTokenizerBase
    if config.base is not None:
        hf_logging.disable_progress_bar()  # one bar per file loaded is noise in a training log
        try:
            tokenizer = AutoTokenizer.from_pretrained(config.base, local_files_only=True)
            model = AutoModelForCausalLM.from_pretrained(config.base, local_files_only=True, dtype=torch.float32)
        except OSError as exc:
            raise TrainingError(f"--base {config.base}: not a causal LM folder: {exc}") from exc
        if not getattr(tokenizer, "chat_template", None):
            raise TrainingError(f"--base {config.base}: the tokenizer has no chat template to build dialogues with")
        if tokenizer.pad_token_id is None:
            tokenizer.pad_token = tokenizer.eos_token
        context = min(config.context, int(getattr(model.config, "max_position_embeddings", config.context)))
    else:
        tokenizer = train_tokenizer((f"{p.request}\n{p.answer}" for p in train_pairs), config.vocab_size)
        tokenizer.model_max_length = context = config.context
    # Our own tokenizer has a token per role: its dialogues are encoded message by message.
    vocab = tokenizer.get_vocab()
    ours = all(token in vocab for token in (*ROLE_TOKENS.values(), END))

    def encode_all(dialogues: list[list[ChatMessage]]) -> list[tuple[list[int], list[int]]]:
        encode = encode_dialogue if ours else encode_templated
        encoded = (encode(tokenizer, d, context) for d in dialogues)  # type: ignore[arg-type]
        return [e for e in encoded if e is not None]

    train_set = encode_all(train_dialogues)
    eval_set = encode_all(eval_dialogues)
    if not train_set:
        raise TrainingError("no training samples after encoding")

    if config.base is None:
        end_id = tokenizer.convert_tokens_to_ids(END)
        model_config = LlamaConfig(
            vocab_size=len(tokenizer),
            hidden_size=config.hidden,
            intermediate_size=config.intermediate,
            num_hidden_layers=config.layers,
            num_attention_heads=config.heads,
            num_key_value_heads=config.kv_heads,
            max_position_embeddings=config.context,
            tie_word_embeddings=True,  # the embedding is a third of a model this small; share it
            bos_token_id=None,
            eos_token_id=end_id,
            pad_token_id=tokenizer.pad_token_id,
        )
        model = LlamaForCausalLM(model_config)
        model.generation_config = GenerationConfig(
            eos_token_id=end_id, pad_token_id=tokenizer.pad_token_id, max_new_tokens=200, do_sample=False
        )
    # Read by LocalModel: "slots" means fill its markers from the facts. Set either way, so a
    # base that wrote slots, trained on Bitext alone, does not keep the mark.
    model.config.shopbot_facts = "slots" if config.store is not None else "text"
    model.train()
    n_params = model.num_parameters()
    progress(f"model: {n_params / 1e6:.2f}M parameters, {len(tokenizer)} tokens, context {config.context}")

    decay = [p for n, p in model.named_parameters() if p.dim() >= 2]
    no_decay = [p for n, p in model.named_parameters() if p.dim() < 2]
    optimizer = torch.optim.AdamW(
        [{"params": decay, "weight_decay": config.weight_decay}, {"params": no_decay, "weight_decay": 0.0}],
        lr=config.lr,
        betas=(0.9, 0.95),
    )
    # A fixed slice of held-out dialogues: enough to see over-fitting, cheap enough to run often.
    eval_batches = _batches(eval_set[:128], config.batch_size, tokenizer.pad_token_id, random.Random(0))
    batches: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = []
    first_loss = last_loss = float("nan")
    smoothed = None
    history = []
    for step in range(config.steps):
        if not batches:
            batches = _batches(train_set, config.batch_size, tokenizer.pad_token_id, rng)
        ids, labels, mask = batches.pop()
        for group in optimizer.param_groups:
            group["lr"] = _lr_at(step, config)
        loss = model(input_ids=ids, attention_mask=mask, labels=labels).loss
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        optimizer.step()
        last_loss = loss.item()
        if step == 0:
            first_loss = last_loss
        smoothed = last_loss if smoothed is None else 0.95 * smoothed + 0.05 * last_loss
        if (step + 1) % config.eval_every == 0 or step + 1 == config.steps:
            eval_loss = _eval_loss(model, eval_batches)
            history.append({"step": step + 1, "train_loss": round(smoothed, 4), "eval_loss": round(eval_loss, 4)})
            progress(
                f"step {step + 1}/{config.steps}  loss {smoothed:.3f}  held-out {eval_loss:.3f}  "
                f"{time.monotonic() - started:.0f}s"
            )
    eval_loss = _eval_loss(model, eval_batches)

    config.out.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(config.out)
    tokenizer.save_pretrained(config.out)
    report = {
        "config": {k: str(v) if isinstance(v, Path) else v for k, v in asdict(config).items()},
        "data_sha256": hashlib.sha256(config.data.read_bytes()).hexdigest(),
        "facts": "slots" if config.store is not None else "text",
        "parameters": n_params,
        "first_loss": round(first_loss, 4),
        "final_train_loss": round(last_loss, 4),
        "final_eval_loss": round(eval_loss, 4),
        "history": history,
        "seconds": round(time.monotonic() - started, 1),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
    }
    (config.out / "training.json").write_text(json.dumps(report, indent=2) + "\n")
    licence = f"# Training data\n\n{BITEXT_LICENCE}\n"
    if config.store is not None and (config.store / "SOURCE.md").is_file():
        licence += f"\nGrounded dialogues were built from the store folder `{config.store.name}`:\n\n"
        licence += (config.store / "SOURCE.md").read_text(encoding="utf-8")
    if config.base is not None and (config.base / "DATA_LICENSE.md").is_file():
        licence += f"\n## The base model ({config.base.name})\n\n"
        licence += (config.base / "DATA_LICENSE.md").read_text(encoding="utf-8")
    (config.out / "DATA_LICENSE.md").write_text(licence)
    return TrainResult(config.out, n_params, first_loss, last_loss, eval_loss, time.monotonic() - started)
