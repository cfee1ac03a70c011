"""Parity with TRL's ``RewardTrainer``: same model, data and hyperparameters, same losses.

Both trainers start from the same weights (the base loaded once per trainer under the same
seed, so the new score head is identical), see the same pairs in the same order (TRL gets them
in rmbench's order with ``train_sampling_strategy="sequential"``) and use the same AdamW,
warmup + cosine schedule, clipping, weight-decay grouping, reward centering and loss. Per-step
losses must agree within 1e-4 on CPU.

The encoder (BERT) gets the pairs pre-tokenised by rmbench. The decoder (Llama, whose chat
template ends every turn with eos and whose tokenizer pads with eos) gets them as
conversations, so TRL applies the chat template and tokenises itself; TRL is handed the
tokenizer rmbench prepared, with its dedicated pad token, and must produce the very same ids.

Needs the ``train-parity`` extra (``pip install -e ".[train-parity]"``); skipped without trl.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from test_train import (
    _one_thread,
    _texts,
    config,
    make_bert_base,
    synthetic_rows,
    train_records,
    write_jsonl,
)
from train_models import make_llama_chat_base

trl = pytest.importorskip("trl")

from rmbench.scorers.chat_format import ChatFormatter  # noqa: E402
from rmbench.train.collate import tokenize_pairs  # noqa: E402
from rmbench.train.loop import Schedule  # noqa: E402
from rmbench.train.model import disable_dropout, load_base  # noqa: E402
from rmbench.train.runner import load_pairs, run_training  # noqa: E402

__all__ = ["_one_thread"]  # the autouse fixture applies here too


def trl_step_losses(cfg, steps: int, conversational: bool = False) -> list[float]:
    """Train with TRL's RewardTrainer on rmbench's pairs and order; per-step mean losses.

    ``conversational``: TRL gets prompt/chosen/rejected messages and tokenises them itself
    (asserted to give rmbench's ids); otherwise it gets rmbench's token ids."""
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    base = load_base(cfg.base, cfg.seed)
    disable_dropout(base.model)
    pairs, _, _ = load_pairs(cfg)
    data, _ = tokenize_pairs(pairs, ChatFormatter(base.tokenizer, cfg.chat_template), 10**6)
    assert len(data) == len(pairs)
    schedule = Schedule.plan(len(data), cfg)
    order: list[int] = []
    for step in range(steps):
        for micro in schedule.micro_batches(step, len(data), cfg):
            assert len(micro) == cfg.batch_size  # TRL's sequential batches must line up
            order.extend(int(i) for i in micro)
    if conversational:
        dataset = Dataset.from_list(
            [
                {
                    "prompt": [dict(m) for m in pairs[i].prompt],
                    "chosen": [{"role": "assistant", "content": pairs[i].chosen}],
                    "rejected": [{"role": "assistant", "content": pairs[i].rejected}],
                }
                for i in order
            ]
        )
    else:
        dataset = Dataset.from_dict(
            {
                "chosen_ids": [data.chosen[i].tolist() for i in order],
                "rejected_ids": [data.rejected[i].tolist() for i in order],
            }
        )
    micro_losses: list[float] = []

    class Recording(RewardTrainer):
        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            loss = super().compute_loss(model, inputs, return_outputs, num_items_in_batch)
            micro_losses.append(float((loss[0] if return_outputs else loss).detach()))
            return loss

    args = RewardConfig(
        output_dir=str(Path(cfg.run_dir).parent / "trl"),
        per_device_train_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.learning_rate,
        weight_decay=cfg.weight_decay,
        warmup_steps=schedule.warmup_steps,
        lr_scheduler_type="cosine",
        max_steps=steps,
        max_grad_norm=cfg.max_grad_norm,
        adam_beta1=cfg.adam_beta1,
        adam_beta2=cfg.adam_beta2,
        adam_epsilon=cfg.adam_epsilon,
        center_rewards_coefficient=cfg.center_rewards_coefficient,
        max_length=None,
        bf16=False,
        use_cpu=True,
        seed=cfg.seed,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        disable_dropout=True,
        train_sampling_strategy="sequential",
        dataloader_drop_last=False,
    )
    trainer = Recording(
        model=base.model, args=args, train_dataset=dataset, processing_class=base.tokenizer
    )
    assert trainer.train_dataset["chosen_ids"] == [data.chosen[i].tolist() for i in order]
    assert trainer.train_dataset["rejected_ids"] == [data.rejected[i].tolist() for i in order]
    trainer.train()
    assert len(micro_losses) == steps * cfg.grad_accum
    return [
        float(np.mean(micro_losses[i : i + cfg.grad_accum]))
        for i in range(0, len(micro_losses), cfg.grad_accum)
    ]


@pytest.mark.parametrize("grad_accum", [1, 2])
def test_per_step_losses_match_trl(tmp_path: Path, grad_accum: int) -> None:
    rows = synthetic_rows(160, seed=5)
    data = write_jsonl(tmp_path / "prefs.jsonl", rows)
    base = make_bert_base(tmp_path / "bert", rows)
    cfg = config(
        data,
        base,
        tmp_path / "run",
        eval_fraction=0.0,
        batch_size=8 // grad_accum,
        grad_accum=grad_accum,
        max_steps=12,
        learning_rate=1e-2,
        warmup_steps=3,
        weight_decay=0.01,
        center_rewards_coefficient=0.01,
    )
    run_training(cfg)
    ours = [r["loss"] for r in train_records(tmp_path / "run")]
    theirs = trl_step_losses(cfg, 12)
    assert len(ours) == len(theirs) == 12
    assert ours[-1] < ours[0] - 0.3  # it trains, so later steps test the optimizer too
    np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=0)


def test_decoder_per_step_losses_match_trl(tmp_path: Path) -> None:
    """A Llama base with pad = eos and an eos-terminated chat template, trained by both."""
    rows = synthetic_rows(96, seed=11)
    data = write_jsonl(tmp_path / "prefs.jsonl", rows)
    base = make_llama_chat_base(tmp_path / "llama", _texts(rows))
    cfg = config(
        data,
        base,
        tmp_path / "run",
        eval_fraction=0.0,
        batch_size=4,
        grad_accum=2,
        max_steps=10,
        learning_rate=3e-3,
        warmup_steps=2,
        weight_decay=0.01,
        center_rewards_coefficient=0.01,
    )
    outcome = run_training(cfg)
    manifest = outcome.run_dir / "train_manifest.json"
    assert '"added_pad_token": true' in manifest.read_text()
    ours = [r["loss"] for r in train_records(tmp_path / "run")]
    theirs = trl_step_losses(cfg, 10, conversational=True)
    assert len(ours) == len(theirs) == 10
    assert ours[-1] < ours[0] - 0.3
    np.testing.assert_allclose(ours, theirs, atol=1e-4, rtol=0)
