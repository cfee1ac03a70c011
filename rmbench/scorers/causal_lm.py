"""Loading causal language models and reading the log-probabilities of response tokens.

Shared by scorers that treat a causal LM's likelihood as a reward (DPO's implicit reward and
its reference-free variants). Two properties matter:

* the log-probability of the response tokens of an input must not depend on which inputs share
  its batch. Rows are right-padded and attention-masked, so under causal attention no real
  token ever sees a pad token, positions of real tokens are 0..n-1 as in a batch of one, and
  the pad id is irrelevant; only floating-point summation order can differ (tests compare
  against one-at-a-time scoring);
* the full ``(rows, width, vocab)`` logits are never turned into float32 log-softmax at once:
  only positions that predict a response token are kept (``logits_to_keep`` where the model
  supports it) and normalised in float32, row by row.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from typing import Any

import numpy as np

from rmbench.errors import ModelError
from rmbench.scorers.batching import padded_batch
from rmbench.scorers.loading import load_config, load_tokenizer, load_trained
from rmbench.scorers.response_tokens import ResponseTokens


def load_causal_lm(
    name: str,
    option: str,
    *,
    dtype: Any,
    revision: str | None,
    trust_remote_code: bool,
    attn_implementation: str | None = None,
) -> tuple[Any, Any]:
    """``(model, tokenizer)`` for a causal LM, or a one-line :class:`ModelError` naming ``option``.

    Refuses checkpoints whose architecture is a classifier (their LM head would be random) and
    checkpoints that lack trained weights for any parameter.
    """
    from transformers import AutoModelForCausalLM

    common = {"revision": revision, "trust_remote_code": trust_remote_code}
    config = load_config(name, option, **common)
    architectures = getattr(config, "architectures", None) or []
    if architectures and not any(a.endswith(("ForCausalLM", "LMHeadModel")) for a in architectures):
        raise ModelError(
            f"option {option}: model {name!r} is a {', '.join(architectures)}, not a causal "
            "language model (it has no language-modelling head)"
        )
    tokenizer = load_tokenizer(name, option, **common)
    kwargs: dict[str, Any] = {"dtype": dtype, **common}
    if attn_implementation is not None:
        kwargs["attn_implementation"] = attn_implementation
    model = load_trained(
        AutoModelForCausalLM, name, option, what="causal-LM weights", config=config, **kwargs
    )
    return model, tokenizer


def supports_logits_to_keep(model: Any) -> bool:
    try:
        return "logits_to_keep" in inspect.signature(model.forward).parameters
    except (TypeError, ValueError):
        return False


def response_logprobs(
    model: Any, rows: Sequence[ResponseTokens], device: Any, pad_id: int
) -> list[np.ndarray]:
    """Per-token log π(response token | everything before it), one float64 array per row."""
    import torch

    lengths = [len(r.ids) for r in rows]
    input_ids, attention = padded_batch([r.ids for r in rows], pad_id)
    width = input_ids.shape[1]
    # Position p's logits predict token p + 1: the first position needed is one before the
    # earliest response token of the batch.
    first = min(r.response_start for r in rows) - 1
    kwargs: dict[str, Any] = {}
    offset = 0
    if supports_logits_to_keep(model):
        kwargs["logits_to_keep"] = width - first
        offset = first
    with torch.inference_mode():
        logits = model(
            input_ids=input_ids.to(device), attention_mask=attention.to(device), **kwargs
        ).logits
        out: list[np.ndarray] = []
        for i, r in enumerate(rows):
            start, end = r.response_start, lengths[i]
            row_logits = logits[i, start - 1 - offset : end - 1 - offset].float()
            targets = input_ids[i, start:end].to(row_logits.device)
            logps = torch.log_softmax(row_logits, dim=-1).gather(-1, targets[:, None])[:, 0]
            out.append(logps.double().cpu().numpy())
    return out
