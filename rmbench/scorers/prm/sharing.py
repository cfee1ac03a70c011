"""Scoring many prefixes of one solution with one forward pass.

A ProcessBench-style suite asks for the score of every prefix of a solution (steps 1..k for
each k). Under causal attention the model's output at step k's tag depends only on the tokens
up to that tag, so the longest prefix's forward pass already holds every shorter prefix's step
scores: one pass instead of n, and n times fewer tokens for an n-step solution.

That shortcut is taken only when it is exact. Candidates are found cheaply (same prompt, the
shorter item's steps equal the longer one's first steps), then proven on the tokens: the
shorter item's own tokenisation up to its last tag must equal the longer one's, tag positions
included. Anything that fails the proof (a tokenizer that merges differently at the end of a
text, truncation) is scored by its own pass. Bidirectional models never share.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import numpy as np

from rmbench.scorers.base import ScoringItem
from rmbench.scorers.prm.locate import StepTokens


def is_causal(config: Any) -> bool:
    """Whether the model attends only to earlier tokens (decoder-only, or a decoder config)."""
    from transformers.models.auto.modeling_auto import (
        MODEL_FOR_CAUSAL_LM_MAPPING_NAMES,
        MODEL_FOR_MASKED_LM_MAPPING_NAMES,
    )

    if getattr(config, "is_decoder", False):
        return True
    model_type = getattr(config, "model_type", None)
    return (
        model_type in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES
        and model_type not in MODEL_FOR_MASKED_LM_MAPPING_NAMES
    )


def serves(host: StepTokens, item: StepTokens) -> bool:
    """Whether ``host``'s forward pass gives ``item``'s step scores exactly (causal models)."""
    k = item.n_steps
    if k == 0 or host.n_steps < k:
        return False
    if not np.array_equal(host.tag_positions[:k], item.tag_positions):
        return False
    end = int(item.tag_positions[-1]) + 1
    return len(host.ids) >= end and np.array_equal(host.ids[:end], item.ids[:end])


def plan(
    items: Sequence[ScoringItem], rows: Sequence[StepTokens], share: bool
) -> dict[int, list[int]]:
    """Host item index -> the items read from its forward pass (the host first).

    Longest solutions become hosts first, so each shorter prefix finds the longest solution it
    belongs to; ties keep input order, so the plan is deterministic.
    """
    if not share:
        return {i: [i] for i in range(len(items))}
    order = sorted(range(len(items)), key=lambda i: -rows[i].n_steps)
    prompt_keys = [json.dumps(list(item.prompt), sort_keys=True) for item in items]
    prefix_host: dict[tuple[str, tuple[str, ...]], int] = {}
    members: dict[int, list[int]] = {}
    for i in order:
        host = prefix_host.get((prompt_keys[i], rows[i].steps))
        if host is not None and serves(rows[host], rows[i]):
            members[host].append(i)
            continue
        members[i] = [i]
        for k in range(1, rows[i].n_steps + 1):
            prefix_host.setdefault((prompt_keys[i], rows[i].steps[:k]), i)
    return members
