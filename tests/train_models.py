"""Tiny random *decoder* bases for ``rmbench train`` tests, built locally (no hub).

The decoder case that breaks reward reading is the common shortcut pad = eos together with a
chat template that ends every turn with eos: the score head reads the last token that is not
the pad id, so with pad = eos the final eos (the token the reward belongs to) looks like
padding. :func:`make_llama_chat_base` builds exactly that base, so tests show rmbench gives it
a dedicated pad token and reads the reward at the final eos.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from tiny_models import make_tiny_llama_rm
from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

#: Every turn ends with eos, so a rendered conversation's last token is eos.
EOS_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}"
    "{{ eos_token }}{% endfor %}"
)


def make_llama_chat_base(
    path: Path,
    texts: Iterable[str],
    *,
    pad_is_eos: bool = True,
    seed: int = 0,
    hidden_size: int = 32,
    layers: int = 2,
    max_positions: int = 128,
    vocab_size: int = 300,
) -> Path:
    """A Llama causal-LM base (no score head) whose chat template ends turns with eos; its
    tokenizer's pad token is its eos token (``pad_is_eos``) or absent."""
    make_tiny_llama_rm(path, texts, vocab_size=vocab_size, max_positions=max_positions)
    for f in path.glob("model*.safetensors"):
        f.unlink()
    tok = AutoTokenizer.from_pretrained(path)
    tok.chat_template = EOS_CHAT_TEMPLATE
    if pad_is_eos:
        tok.pad_token = tok.eos_token
    tok.save_pretrained(path)
    torch.manual_seed(seed)
    config = LlamaConfig(
        vocab_size=len(tok),
        hidden_size=hidden_size,
        intermediate_size=2 * hidden_size,
        num_hidden_layers=layers,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=max_positions,
        bos_token_id=tok.bos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    LlamaForCausalLM(config).save_pretrained(path)
    return path
