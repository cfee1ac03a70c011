"""Tiny random reward models and tokenizers, built locally (no hub) for real end-to-end tests.

The tokenizer is a byte-level BPE trained on the texts the test will score, so any text
tokenises; the model is a real transformers architecture with a one-label score head, saved
with ``save_pretrained`` exactly like a downloaded checkpoint.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers
from transformers import (
    BertConfig,
    BertForSequenceClassification,
    LlamaConfig,
    LlamaForSequenceClassification,
    PreTrainedTokenizerFast,
)

LLAMA_CHAT_TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}<|{{ m['role'] }}|>\n{{ m['content'] }}<|end|>\n"
    "{% endfor %}"
)


def _train_bpe(texts: Iterable[str], vocab_size: int, specials: list[str]) -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size,
        special_tokens=specials,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(texts, trainer)
    return tok


def make_tiny_bert_rm(
    path: Path,
    texts: Iterable[str],
    *,
    seed: int = 0,
    max_positions: int = 8192,
    vocab_size: int = 2000,
) -> Path:
    """An encoder reward model (BERT-style, [CLS] pooling) with no chat template."""
    specials = ["[PAD]", "[UNK]", "[CLS]", "[SEP]"]
    raw = _train_bpe(texts, vocab_size, specials)
    raw.post_processor = processors.TemplateProcessing(
        single="[CLS] $A [SEP]",
        pair="[CLS] $A [SEP] $B [SEP]",
        special_tokens=[("[CLS]", raw.token_to_id("[CLS]")), ("[SEP]", raw.token_to_id("[SEP]"))],
    )
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=raw,
        pad_token="[PAD]",
        unk_token="[UNK]",
        cls_token="[CLS]",
        sep_token="[SEP]",
        model_max_length=max_positions,
    )
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=raw.get_vocab_size(),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=max_positions,
        num_labels=1,
        pad_token_id=raw.token_to_id("[PAD]"),
        initializer_range=0.5,  # wide weights: rewards that differ clearly between inputs
    )
    model = BertForSequenceClassification(config)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def make_tiny_llama_rm(
    path: Path,
    texts: Iterable[str],
    *,
    seed: int = 0,
    max_positions: int = 8192,
    vocab_size: int = 2000,
) -> Path:
    """A decoder reward model (Llama-style, last-token pooling) with a chat template and no pad token."""
    tokenizer = make_chat_tokenizer(
        texts,
        LLAMA_CHAT_TEMPLATE,
        specials=["<s>", "</s>", "<unk>"],
        max_positions=max_positions,
        vocab_size=vocab_size,
    )
    torch.manual_seed(seed)
    config = tiny_llama_config(tokenizer, max_positions, num_labels=1, pad_token_id=None)
    model = LlamaForSequenceClassification(config)
    # A random score head gives near-identical rewards; scale it so pairs are well separated.
    with torch.no_grad():
        model.score.weight.mul_(50.0)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


#: Special tokens of the chat-style tiny decoders (judges, PRMs, DPO policies).
CHAT_SPECIALS = ["<s>", "</s>", "<unk>", "<|user|>", "<|assistant|>", "<|system|>"]


def make_chat_tokenizer(
    texts: Iterable[str],
    chat_template: str,
    *,
    specials: list[str] | None = None,
    max_positions: int = 512,
    vocab_size: int = 2000,
) -> PreTrainedTokenizerFast:
    """A byte-level BPE tokenizer for a tiny decoder: ``<s>``/``</s>``/``<unk>`` plus the role
    markers (and any further ``specials``) as single special tokens, and ``chat_template``."""
    specials = specials or CHAT_SPECIALS
    tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=_train_bpe(texts, vocab_size, specials),
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        additional_special_tokens=specials[3:],
        model_max_length=max_positions,
    )
    tokenizer.chat_template = chat_template
    return tokenizer


def tiny_llama_config(
    tokenizer: PreTrainedTokenizerFast, max_positions: int, **extra: object
) -> LlamaConfig:
    """The tiny Llama shape every decoder test uses (2 layers, hidden 32), sized to ``tokenizer``."""
    return LlamaConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=1,
        max_position_embeddings=max_positions,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
        **extra,
    )
