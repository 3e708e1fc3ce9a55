"""A tiny causal LM and tokenizer, built and saved with save_pretrained, for tests that need
real model code without the cost of a real model."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

from bot.training.tokenizer import END, train_tokenizer

CORPUS = [
    "Hello! How can I help you with your order today?",
    "Your parcel ships within two business days and arrives in three to five.",
    "You can return any unused item within thirty days for a full refund.",
    "We accept cards, PayPal and bank transfer at checkout.",
    "I'm sorry to hear that. Let me look into it for you right away.",
    "Thank you for shopping with us, have a wonderful day!",
] * 20


def build_tiny_model(folder: Path, *, chat_template: bool = True, seed: int = 0) -> Path:
    tokenizer = train_tokenizer(CORPUS, vocab_size=400)
    if not chat_template:
        tokenizer.chat_template = None
    tokenizer.model_max_length = 256
    torch.manual_seed(seed)
    end = tokenizer.convert_tokens_to_ids(END)
    config = LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=4,
        num_key_value_heads=2,
        max_position_embeddings=256,
        tie_word_embeddings=True,
        bos_token_id=None,
        eos_token_id=end,
        pad_token_id=tokenizer.pad_token_id,
        # Wide random weights: greedy output then depends on the prompt, which is what the
        # batching tests need to tell rows apart (the default 0.02 writes one token forever).
        initializer_range=0.5,
    )
    model = LlamaForCausalLM(config)
    with torch.no_grad():
        # Random weights would often pick a special token and write nothing visible; with
        # their (tied) embedding rows at zero, greedy decoding writes ordinary words.
        for token in tokenizer.all_special_ids:
            model.get_input_embeddings().weight[token] = 0
    model.generation_config = GenerationConfig(eos_token_id=end, pad_token_id=tokenizer.pad_token_id)
    folder.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder
