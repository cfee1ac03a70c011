"""Any Hugging Face checkpoint as the base of a scalar reward model.

The base gets a one-unit score head through ``AutoModelForSequenceClassification`` with
``num_labels=1``, so encoders (BERT-style, reading [CLS]) and decoders (reading the last
token) are both covered and the result is a standard checkpoint. A new head is initialised
under the run's seed, so two runs of the same command start from the same weights.

Decoders often have no pad token, and the common shortcut pad = eos breaks reward reading:
the head finds the last token that is *not* the pad id, so an input ending in eos would have
its reward read one token early. A tokenizer without a pad token, or whose pad token is its
eos token, therefore gets a dedicated pad token and the embedding matrix one more row.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch

from rmbench.errors import ModelError
from rmbench.scorers.loading import first_line, load_config, load_tokenizer

DEDICATED_PAD = "<|rmbench_pad|>"


@dataclass
class LoadedBase:
    """The model with its score head, its tokenizer, and what was done to them."""

    model: Any
    tokenizer: Any
    pad_id: int
    added_pad_token: bool
    new_head: bool


def load_base(base: str, seed: int, trust_remote_code: bool = False) -> LoadedBase:
    """Load ``base`` with a one-label score head (see module docstring); one-line errors."""
    from transformers import AutoModelForSequenceClassification
    from transformers.utils import logging as hf_logging

    hf_logging.disable_progress_bar()
    config = load_config(base, "--base", num_labels=1, trust_remote_code=trust_remote_code)
    remote_head = "AutoModelForSequenceClassification" in (getattr(config, "auto_map", None) or {})
    if not remote_head and type(config) not in AutoModelForSequenceClassification._model_mapping:
        raise ModelError(
            f"option --base: {base!r} is a {config.model_type!r} model, which cannot take a "
            "sequence-classification score head (transformers has no "
            "AutoModelForSequenceClassification for it)"
        )
    tokenizer = load_tokenizer(base, "--base", trust_remote_code=trust_remote_code)
    torch.manual_seed(seed)  # a new score head (and a new pad embedding) depends on the seed
    prev_verbosity = hf_logging.get_verbosity()
    hf_logging.set_verbosity_error()  # "newly initialized: score.weight" is expected here
    try:
        model, info = AutoModelForSequenceClassification.from_pretrained(
            base,
            config=config,
            dtype=torch.float32,
            trust_remote_code=trust_remote_code,
            ignore_mismatched_sizes=True,
            output_loading_info=True,
        )
    except (OSError, ValueError, KeyError) as error:
        raise ModelError(
            f"option --base: {base!r} (model type {getattr(config, 'model_type', '?')!r}) cannot "
            f"take a sequence-classification score head ({first_line(error)})"
        ) from None
    finally:
        hf_logging.set_verbosity(prev_verbosity)
    new_head = bool(info.get("missing_keys")) or bool(info.get("mismatched_keys"))
    added = False
    pad = tokenizer.pad_token_id
    if pad is None or pad == tokenizer.eos_token_id:
        if DEDICATED_PAD not in tokenizer.get_vocab():
            tokenizer.add_special_tokens({"pad_token": DEDICATED_PAD})
            model.resize_token_embeddings(len(tokenizer))
            added = True
        else:
            tokenizer.pad_token = DEDICATED_PAD
        pad = tokenizer.pad_token_id
    model.config.pad_token_id = pad
    return LoadedBase(model, tokenizer, int(pad), added, new_head)


def disable_dropout(model: Any) -> None:
    """Set every dropout probability to 0: a reward model's two passes per pair then see the
    same network, and its reward is a deterministic function of the input (as TRL does)."""
    for module in model.modules():
        if isinstance(module, torch.nn.Dropout):
            module.p = 0.0


def enable_gradient_checkpointing(model: Any) -> None:
    """Recompute each layer's activations in backward instead of storing them (less memory,
    about a third more compute); non-reentrant, so it works whatever requires grad."""
    # transformers 5 renamed it; >= 4.45 (the minimum rmbench supports) has only the old name
    enable = getattr(model, "activation_checkpointing_enable", None)
    (enable or model.gradient_checkpointing_enable)({"use_reentrant": False})
    model.config.use_cache = False


def checkpointing_active(model: Any) -> bool:
    """Whether any layer of ``model`` will recompute its activations in backward."""
    return any(getattr(m, "gradient_checkpointing", False) is True for m in model.modules())


#: Attribute names of the score head on transformers' sequence-classification models.
HEAD_NAMES = ("score", "classifier")


def score_head_in_float32(model: Any) -> str | None:
    """Run the score head outside autocast, on float32 inputs; return its name (None if the
    model has no head under a known name).

    Under bf16 autocast the head's output would be rounded to bfloat16, whose 8-bit mantissa
    puts rewards near 4 on a grid 1/32 apart: reward differences, the loss and the held-out
    accuracy (ties included) would be computed from rounded numbers. The head is one small
    matrix, so computing it in float32 costs nothing; the body keeps its bf16 matmuls.
    """
    for name in HEAD_NAMES:
        head = getattr(model, name, None)
        if not isinstance(head, torch.nn.Module):
            continue
        inner = head.forward

        def forward(*args: Any, _inner: Any = inner, _head: Any = head, **kwargs: Any) -> Any:
            device_type = next(_head.parameters()).device.type
            with torch.autocast(device_type=device_type, enabled=False):
                args = tuple(
                    a.float() if isinstance(a, torch.Tensor) and a.is_floating_point() else a
                    for a in args
                )
                return _inner(*args, **kwargs)

        head.forward = forward
        return name
    return None
