"""Tiny random process reward models, built locally (no hub), saved like real checkpoints.

One tokenizer (byte-level BPE trained on the test's texts, ``<extra_0>`` as a special token,
role headers as special tokens, a chat template whose assistant turn ends in EOS) serves three
heads on a Llama body: a causal LM (step scores from ``+``/``-`` logits, Math-Shepherd style), a
two-label token classifier (Qwen2.5-Math-PRM style) and a one-label value head.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from run_helpers import WORDS
from tiny_models import CHAT_SPECIALS, make_chat_tokenizer, tiny_llama_config
from transformers import (
    BertConfig,
    BertForTokenClassification,
    LlamaForCausalLM,
    LlamaForTokenClassification,
    PreTrainedTokenizerFast,
)

TEMPLATE = (
    "{{ bos_token }}{% for m in messages %}{% if m['role'] == 'assistant' %}"
    "<|assistant|>{{ m['content'] }}{{ eos_token }}{% else %}<|{{ m['role'] }}|>"
    "{{ m['content'] }}{% endif %}{% endfor %}{% if add_generation_prompt %}<|assistant|>{% endif %}"
)
SPECIALS = [*CHAT_SPECIALS, "<extra_0>"]
TAG = "<extra_0>"
# Math-Shepherd's tag; repeated in the training texts so the BPE learns " ки" as one token.
SHEPHERD_TAG = " ки"


def make_tokenizer(texts: Iterable[str], max_positions: int = 512) -> PreTrainedTokenizerFast:
    corpus = [*texts, *([f"step{SHEPHERD_TAG}\n" * 8] * 50)]
    return make_chat_tokenizer(corpus, TEMPLATE, specials=SPECIALS, max_positions=max_positions)


def make_tiny_prm(
    path: Path, texts: Iterable[str], head: str, *, seed: int = 0, max_positions: int = 512
) -> Path:
    """``head``: ``lm`` (causal LM), ``classifier`` (2 labels) or ``value`` (1 label)."""
    tokenizer = make_tokenizer(texts, max_positions)
    torch.manual_seed(seed)
    config = tiny_llama_config(
        tokenizer,
        max_positions,
        initializer_range=0.2,
        num_labels={"lm": 2, "classifier": 2, "value": 1}[head],
    )
    if head == "lm":
        model: torch.nn.Module = LlamaForCausalLM(config)
    else:
        model = LlamaForTokenClassification(config)
        with torch.no_grad():
            model.score.weight.mul_(3.0)  # step scores spread over (0, 1)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def make_tiny_bert_prm(path: Path, texts: Iterable[str], *, seed: int = 0) -> Path:
    """A bidirectional two-label token classifier: its step scores see later steps."""
    tokenizer = make_tokenizer(texts)
    torch.manual_seed(seed)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=512,
        num_labels=2,
        initializer_range=0.5,
    )
    model = BertForTokenClassification(config)
    path.mkdir(parents=True, exist_ok=True)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


REMOTE_CODE = '''"""A process reward model class shipped with its checkpoint, as Qwen2.5-Math-PRM ships one."""

from torch import nn
from transformers import LlamaModel, LlamaPreTrainedModel
from transformers.modeling_outputs import TokenClassifierOutput


class TinyForProcessRewardModel(LlamaPreTrainedModel):
    def __init__(self, config):
        super().__init__(config)
        self.model = LlamaModel(config)
        hidden = config.hidden_size
        self.score = nn.Sequential(nn.Linear(hidden, hidden), nn.ReLU(), nn.Linear(hidden, 2))
        self.post_init()

    def forward(self, input_ids=None, attention_mask=None, **kwargs):
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        return TokenClassifierOutput(logits=self.score(hidden))
'''


def make_tiny_remote_code_prm(path: Path, texts: Iterable[str], *, seed: int = 0) -> Path:
    """A ``TinyForProcessRewardModel`` checkpoint whose class lives in the checkpoint's own
    ``modeling_tiny_prm.py`` (``auto_map`` -> ``AutoModel``), loadable only with remote code."""
    import importlib.util
    import json

    path.mkdir(parents=True, exist_ok=True)
    (path / "modeling_tiny_prm.py").write_text(REMOTE_CODE)
    spec = importlib.util.spec_from_file_location(
        "modeling_tiny_prm", path / "modeling_tiny_prm.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    tokenizer = make_tokenizer(texts)
    torch.manual_seed(seed)
    config = tiny_llama_config(tokenizer, 512, initializer_range=0.2)
    model = module.TinyForProcessRewardModel(config)
    with torch.no_grad():
        model.score[2].weight.mul_(5.0)  # step scores spread over (0, 1)
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    config_path = path / "config.json"
    saved = json.loads(config_path.read_text())
    saved["architectures"] = ["TinyForProcessRewardModel"]
    saved["auto_map"] = {"AutoModel": "modeling_tiny_prm.TinyForProcessRewardModel"}
    config_path.write_text(json.dumps(saved, indent=2))
    return path


def random_solutions(
    subset: str, count: int, seed: int, max_steps: int, max_words: int
) -> list[dict[str, Any]]:
    """ProcessBench rows of random words: even rows all correct (label -1), odd rows with a
    random first error."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(count):
        n = int(rng.integers(1, max_steps))
        steps = [" ".join(rng.choice(WORDS, int(rng.integers(2, max_words)))) for _ in range(n)]
        label = -1 if i % 2 == 0 else int(rng.integers(0, n))
        rows.append(
            {"id": f"{subset}-{i}", "problem": f"tok{i} answer{i}?", "steps": steps, "label": label}
        )
    return rows
