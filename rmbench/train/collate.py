"""Pairs to token ids to padded batches, with the length gate.

Rendering uses the scorers' :class:`~rmbench.scorers.chat_format.ChatFormatter`, so a model is
trained on exactly the text layout ``rmbench run`` later scores it with.

Pairs whose chosen or rejected input exceeds the maximum length are *dropped*, never
truncated: a truncated pair may have lost exactly the part of the response that made it
better, and training on it teaches the model noise. Every drop is counted and reported.

A batch of k pairs is one forward pass over 2k rows, chosen rows first, right-padded to the
longest row (the layout TRL's ``DataCollatorForPreference`` uses, so both see the same
tensors). The reward is read by the model's own head at the last non-padding token.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch

from rmbench.scorers.batching import padded_batch
from rmbench.scorers.chat_format import ChatFormatter, RenderedInput
from rmbench.train.pairs import Pair


@dataclass(frozen=True)
class TokenizedPairs:
    """Token ids of each pair's chosen and rejected input, and the pairs' margins."""

    pair_ids: list[str]
    chosen: list[np.ndarray]
    rejected: list[np.ndarray]
    margin: np.ndarray  # float32, one per pair

    def __len__(self) -> int:
        return len(self.pair_ids)

    def select(self, indices: Sequence[int]) -> TokenizedPairs:
        return TokenizedPairs(
            [self.pair_ids[i] for i in indices],
            [self.chosen[i] for i in indices],
            [self.rejected[i] for i in indices],
            self.margin[np.asarray(indices, dtype=np.int64)],
        )


@dataclass
class LengthReport:
    """Pairs dropped by the length gate: how many, on which side, and examples."""

    max_length: int
    dropped: int = 0
    chosen_too_long: int = 0
    rejected_too_long: int = 0
    longest: int = 0
    examples: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "max_length": self.max_length,
            "dropped": self.dropped,
            "chosen_too_long": self.chosen_too_long,
            "rejected_too_long": self.rejected_too_long,
            "longest_dropped": self.longest,
            "examples": self.examples,
        }


def encode(tokenizer: Any, rendered: Sequence[RenderedInput], chunk: int = 512) -> list[np.ndarray]:
    """Token ids of rendered inputs, batched through the fast tokenizer where flags agree."""
    out: list[np.ndarray] = []
    for start in range(0, len(rendered), chunk):
        part = rendered[start : start + chunk]
        flags = {(r.add_special_tokens, r.text_pair is None) for r in part}
        groups = [part] if len(flags) == 1 else [[r] for r in part]
        for group in groups:
            pairs = None if group[0].text_pair is None else [r.text_pair for r in group]
            ids = tokenizer(
                [r.text for r in group],
                pairs,
                add_special_tokens=group[0].add_special_tokens,
                truncation=False,
                return_attention_mask=False,
                verbose=False,  # over-length inputs are gated and reported by rmbench
            )["input_ids"]
            out.extend(np.asarray(x, dtype=np.int64) for x in ids)
    return out


def tokenize_pairs(
    pairs: Sequence[Pair], formatter: ChatFormatter, max_length: int
) -> tuple[TokenizedPairs, LengthReport]:
    """Render and tokenise both sides of every pair; drop (and count) over-length pairs."""
    chosen = encode(formatter.tokenizer, [formatter.render(p.prompt, p.chosen) for p in pairs])
    rejected = encode(formatter.tokenizer, [formatter.render(p.prompt, p.rejected) for p in pairs])
    report = LengthReport(max_length)
    keep: list[int] = []
    for i, (c, r) in enumerate(zip(chosen, rejected, strict=True)):
        c_long, r_long = len(c) > max_length, len(r) > max_length
        if c_long or r_long:
            report.dropped += 1
            report.chosen_too_long += int(c_long)
            report.rejected_too_long += int(r_long)
            report.longest = max(report.longest, len(c), len(r))
            if len(report.examples) < 20:
                report.examples.append(pairs[i].pair_id)
        else:
            keep.append(i)
    margins = np.array([pairs[i].margin for i in keep], dtype=np.float32)
    return (
        TokenizedPairs(
            [pairs[i].pair_id for i in keep],
            [chosen[i] for i in keep],
            [rejected[i] for i in keep],
            margins,
        ),
        report,
    )


@dataclass(frozen=True)
class Batch:
    """2k right-padded rows (k chosen, then k rejected), their mask and the k margins."""

    input_ids: torch.Tensor
    attention_mask: torch.Tensor
    margin: torch.Tensor
    n_tokens: int  # real (non-padding) tokens

    @property
    def n_pairs(self) -> int:
        return int(self.margin.shape[0])


def collate(data: TokenizedPairs, indices: Sequence[int], pad_id: int) -> Batch:
    """The batch of pairs ``indices``: chosen rows first, then rejected, right-padded."""
    rows = [data.chosen[i] for i in indices] + [data.rejected[i] for i in indices]
    input_ids, mask = padded_batch(rows, pad_id)
    margin = torch.from_numpy(data.margin[np.asarray(indices, dtype=np.int64)].copy())
    return Batch(input_ids, mask, margin, int(sum(len(r) for r in rows)))
