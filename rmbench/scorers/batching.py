"""Packing tokenised inputs into batches by a token budget.

Fixed-size batches of randomly ordered inputs waste most of their compute on padding (a
2,000-token response padded next to 50-token ones). Sorting by length and filling each batch
up to a budget of ``rows x longest`` tokens keeps padding small and the GPU busy, and sorting
longest-first means an out-of-memory error shows up in the first batch, not after an hour.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from rmbench.errors import ModelError
from rmbench.scorers.base import ScoringItem


def pack_by_token_budget(
    lengths: Sequence[int] | np.ndarray, max_tokens: int, max_batch_size: int
) -> list[np.ndarray]:
    """Split item indices into batches, longest first, each within the padded-token budget.

    A batch of rows padded to its longest row costs ``len(batch) * longest`` tokens; a batch
    never exceeds ``max_tokens`` of that cost nor ``max_batch_size`` rows, except that an item
    longer than the budget on its own still gets a batch of one. Ties in length keep input
    order (stable sort), so the packing is deterministic.
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be >= 1")
    if max_batch_size < 1:
        raise ValueError("max_batch_size must be >= 1")
    lengths = np.asarray(lengths, dtype=np.int64)
    order = np.argsort(-lengths, kind="stable")
    batches: list[np.ndarray] = []
    start = 0
    n = len(order)
    while start < n:
        longest = int(lengths[order[start]])
        rows = max(1, min(max_batch_size, max_tokens // max(longest, 1)))
        batches.append(order[start : start + rows])
        start += rows
    return batches


def padding_efficiency(lengths: np.ndarray, batches: Sequence[np.ndarray]) -> float:
    """Share of computed tokens that are real tokens rather than padding (1.0 = no waste)."""
    real = int(np.sum(lengths))
    padded = sum(len(b) * int(np.max(lengths[b])) for b in batches if len(b))
    return real / padded if padded else 1.0


def over_length(
    lengths: Sequence[int],
    items: Sequence[ScoringItem],
    max_length: int | None,
    truncate: bool,
    remedy: str,
) -> list[int]:
    """Indices of the inputs longer than ``max_length`` tokens, to be truncated.

    Without ``truncate`` any such input is an error raised before anything is scored (a
    silently cut response would be scored on what is left of it), naming how many there are,
    the longest and the first few; ``remedy`` finishes the message ("Pass --truncate to ...").
    """
    if max_length is None:
        return []
    over = [i for i, n in enumerate(lengths) if n > max_length]
    if over and not truncate:
        longest = max(lengths[i] for i in over)
        examples = ", ".join(items[i].ref or items[i].key for i in over[:5])
        raise ModelError(
            f"{len(over)} of {len(items)} inputs exceed the model's maximum length of "
            f"{max_length} tokens (longest {longest}; e.g. {examples}); nothing was "
            f"scored. {remedy}"
        )
    return over


def padded_batch(
    rows: Sequence[Sequence[int] | np.ndarray], pad_id: int, *, left: bool = False
) -> tuple[Any, Any]:
    """``(input_ids, attention_mask)`` long tensors of ``rows`` padded to the longest with
    ``pad_id``: on the right for scoring (under a causal mask real tokens never see the pads),
    on the left for generation (every row's next token comes at the same position)."""
    import torch

    width = max(len(row) for row in rows)
    input_ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    attention = torch.zeros((len(rows), width), dtype=torch.long)
    for r, row in enumerate(rows):
        span = slice(width - len(row), width) if left else slice(0, len(row))
        input_ids[r, span] = torch.as_tensor(row, dtype=torch.long)
        attention[r, span] = 1
    return input_ids, attention
