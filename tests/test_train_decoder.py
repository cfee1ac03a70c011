"""Decoder bases in ``rmbench train``: where the reward is read, and the pad token.

A decoder's reward is the score head at the last real token. The base here has the two traps
real decoders have: its tokenizer pads with eos, and its chat template ends every turn with
eos, so the token the reward belongs to *is* eos. rmbench must give it a dedicated pad token,
and a padded batch (left or right) must give each input the reward a single-example forward
gives at its final position.
"""

from __future__ import annotations

from contextlib import nullcontext
from pathlib import Path

import pytest
import torch
from test_train import _one_thread, _texts, synthetic_rows
from train_models import make_llama_chat_base

from rmbench.scorers.chat_format import ChatFormatter
from rmbench.train.collate import Batch, collate, tokenize_pairs
from rmbench.train.loop import rewards
from rmbench.train.model import DEDICATED_PAD, load_base
from rmbench.train.pairs import Pair

__all__ = ["_one_thread"]  # the autouse fixture applies here too


def _pairs(rows: list[dict]) -> list[Pair]:
    return [
        Pair(r["id"], r["id"], "s", ({"role": "user", "content": r["prompt"]},), r["chosen"],
             r["rejected"], 0.0, "f", 0)
        for r in rows
    ]  # fmt: skip


def _left_padded(rows: list[torch.Tensor], pad_id: int) -> Batch:
    width = max(len(r) for r in rows)
    ids = torch.full((len(rows), width), pad_id, dtype=torch.long)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for k, row in enumerate(rows):
        ids[k, width - len(row) :] = row
        mask[k, width - len(row) :] = 1
    return Batch(ids, mask, torch.zeros(len(rows) // 2), int(mask.sum()))


def test_reward_is_read_at_the_final_eos_left_or_right_padded(tmp_path: Path) -> None:
    rows = synthetic_rows(6, seed=2)
    base = load_base(str(make_llama_chat_base(tmp_path / "llama", _texts(rows))), seed=0)
    tok, model = base.tokenizer, base.model.eval()
    eos = tok.eos_token_id
    assert base.added_pad_token and tok.pad_token == DEDICATED_PAD
    assert base.pad_id != eos and model.config.pad_token_id == base.pad_id
    with torch.no_grad():
        model.score.weight.mul_(50.0)  # a fresh head gives near-equal rewards; spread them

    data, _ = tokenize_pairs(_pairs(rows), ChatFormatter(tok, "auto"), 10**6)
    inputs = [torch.from_numpy(r) for r in data.chosen + data.rejected]
    assert all(int(r[-1]) == eos for r in inputs)  # the template ends the response with eos
    assert len({len(r) for r in inputs}) > 2  # so batches really are padded

    with torch.no_grad():
        # the reference: one input, no padding, the head applied to the final position's state
        alone = torch.stack(
            [
                model.score(model.model(input_ids=r[None]).last_hidden_state[0, -1])[0]
                for r in inputs
            ]
        )
        right = rewards(model, collate(data, range(len(data)), base.pad_id), torch.device("cpu"),
                        nullcontext)  # fmt: skip
        left = rewards(model, _left_padded(inputs, base.pad_id), torch.device("cpu"), nullcontext)
    assert alone.std() > 0.05  # rewards that differ, so a wrong position would show
    torch.testing.assert_close(right, alone, atol=1e-5, rtol=0)
    torch.testing.assert_close(left, alone, atol=1e-5, rtol=0)

    # the control: under the pad = eos shortcut the head reads the token before the final eos
    model.config.pad_token_id = eos
    with torch.no_grad():
        shortcut = torch.stack([model(input_ids=r[None]).logits[0, 0] for r in inputs])
    assert (shortcut - alone).abs().min() > 1e-3


@pytest.mark.parametrize("pad_is_eos", [True, False])
def test_decoder_without_its_own_pad_gets_the_dedicated_one(tmp_path: Path, pad_is_eos) -> None:
    rows = synthetic_rows(4)
    path = make_llama_chat_base(tmp_path / "llama", _texts(rows), pad_is_eos=pad_is_eos)
    base = load_base(str(path), seed=0)
    assert base.tokenizer.pad_token == DEDICATED_PAD and base.added_pad_token
    vocab = len(base.tokenizer)
    assert base.model.get_input_embeddings().weight.shape[0] >= vocab > base.pad_id
