"""The optimisation loop: AdamW, warmup + cosine decay, accumulation, checkpoints, logs.

Every step is a pure function of (step number, state): step s of epoch e = s // S (S steps per
epoch) takes micro-batches s % S · A … of that epoch's permutation, which is drawn from
(seed, e). That is what lets :mod:`rmbench.train.checkpoint` resume a killed run onto exactly
the steps it would have taken. The schedule, weight-decay grouping (no decay on biases and
norm weights, i.e. on 1-D parameters), clipping and loss are those of Hugging Face's Trainer
and TRL's ``RewardTrainer``, so the same hyperparameters mean the same thing in both.
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from rmbench.train.checkpoint import (
    TrainingState,
    latest_checkpoint,
    load_checkpoint,
    save_checkpoint,
)
from rmbench.train.collate import Batch, TokenizedPairs, collate
from rmbench.train.config import TrainConfig
from rmbench.train.loss import PairStats, bt_loss, pair_stats, summarise

METRICS = "metrics.jsonl"


@dataclass(frozen=True)
class Schedule:
    """How many optimizer steps the run takes and how they map onto epochs."""

    micro_batches_per_epoch: int
    steps_per_epoch: int
    total_steps: int
    warmup_steps: int

    @classmethod
    def plan(cls, n_train: int, config: TrainConfig) -> Schedule:
        micro = math.ceil(n_train / config.batch_size)
        per_epoch = math.ceil(micro / config.grad_accum)
        total = config.max_steps or max(1, math.ceil(config.epochs * per_epoch))
        warmup = (
            config.warmup_steps
            if config.warmup_steps is not None
            else math.ceil(config.warmup_ratio * total)
        )
        return cls(micro, per_epoch, total, warmup)

    def micro_batches(self, step: int, n_train: int, config: TrainConfig) -> list[np.ndarray]:
        """Pair indices of each micro-batch of optimizer step ``step`` (0-based)."""
        epoch, within = divmod(step, self.steps_per_epoch)
        order = epoch_order(n_train, config.seed, epoch)
        first = within * config.grad_accum
        last = min(first + config.grad_accum, self.micro_batches_per_epoch)
        return [
            order[m * config.batch_size : (m + 1) * config.batch_size] for m in range(first, last)
        ]


def epoch_order(n: int, seed: int, epoch: int) -> np.ndarray:
    """The training order of epoch ``epoch``: a permutation drawn from (seed, epoch) alone."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def build_optimizer(model: Any, config: TrainConfig, schedule: Schedule) -> tuple[Any, Any]:
    """AdamW with weight decay on matrices only, and linear warmup then cosine decay to 0."""
    from transformers import get_cosine_schedule_with_warmup

    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim >= 2], "weight_decay": config.weight_decay},
        {"params": [p for p in params if p.ndim < 2], "weight_decay": 0.0},
    ]
    optimizer = torch.optim.AdamW(
        groups,
        lr=config.learning_rate,
        betas=(config.adam_beta1, config.adam_beta2),
        eps=config.adam_epsilon,
    )
    scheduler = get_cosine_schedule_with_warmup(
        optimizer, schedule.warmup_steps, schedule.total_steps
    )
    return optimizer, scheduler


def rewards(model: Any, batch: Batch, device: torch.device, autocast: Any) -> torch.Tensor:
    """The 2k rewards of a batch (chosen rows first) in float32."""
    with autocast():
        logits = model(
            input_ids=batch.input_ids.to(device), attention_mask=batch.attention_mask.to(device)
        ).logits
    return logits[:, 0].float()


@dataclass
class EvalResult:
    """Eval-set statistics and, per pair, the chosen and rejected rewards."""

    metrics: dict[str, float]
    chosen: np.ndarray
    rejected: np.ndarray


def evaluate_pairs(
    model: Any,
    data: TokenizedPairs,
    config: TrainConfig,
    pad_id: int,
    device: torch.device,
    autocast: Any,
) -> EvalResult:
    """Loss, accuracy, margins and rewards on held-out pairs, in their stored order."""
    was_training = model.training
    model.eval()
    stats: list[PairStats] = []
    chosen_all: list[np.ndarray] = []
    rejected_all: list[np.ndarray] = []
    with torch.no_grad():
        for start in range(0, len(data), config.eval_batch_size):
            idx = np.arange(start, min(start + config.eval_batch_size, len(data)))
            batch = collate(data, idx, pad_id)
            r = rewards(model, batch, device, autocast)
            c, j = r[: batch.n_pairs], r[batch.n_pairs :]
            loss = bt_loss(
                c, j, batch.margin.to(device), config.center_rewards_coefficient, config.reward_l2
            )
            stats.append(pair_stats(c, j, loss))
            chosen_all.append(c.cpu().numpy())
            rejected_all.append(j.cpu().numpy())
    model.train(was_training)
    empty = np.zeros(0, np.float32)
    return EvalResult(
        summarise(stats),
        np.concatenate(chosen_all) if chosen_all else empty,
        np.concatenate(rejected_all) if rejected_all else empty,
    )


class MetricsLog:
    """``metrics.jsonl``: one JSON object per train step and per evaluation.

    On resume, lines from steps after the checkpoint (written before the kill, then lost with
    it) are dropped, so the log of a resumed run equals that of an uninterrupted one; so is the
    final evaluation of a finished run, which a rerun writes again.
    """

    def __init__(self, path: Path, resume_step: int) -> None:
        self.path = path
        kept: list[str] = []
        if path.exists():
            for line in path.read_text().splitlines():
                record = json.loads(line) if line.strip() else None
                # the final evaluation is redone whenever a finished run is rerun
                if record and record.get("step", 0) <= resume_step and not record.get("final"):
                    kept.append(line)
        path.write_text("".join(f"{line}\n" for line in kept))

    def write(self, record: dict[str, Any]) -> None:
        self.append(self.path, record)

    @staticmethod
    def append(path: Path, record: dict[str, Any]) -> None:
        """Append one record (flushed, so a kill loses at most the line being written)."""
        with path.open("a") as handle:
            handle.write(json.dumps(record) + "\n")
            handle.flush()


@dataclass
class LoopOutcome:
    """How the loop ended: finished, or stopped early by ``--stop-after-steps``."""

    finished: bool
    step: int
    resumed_from: int | None
    last_train: dict[str, float] = field(default_factory=dict)
    evals: list[dict[str, Any]] = field(default_factory=list)


#: Called after every step with (steps done, total steps, the step's record).
ProgressHook = Callable[[int, int, dict[str, Any]], None]


def native_bf16(device: torch.device) -> bool:
    """Whether ``device`` computes in bfloat16 natively (CUDA: compute capability 8.0 and up;
    ``torch.cuda.is_bf16_supported()`` alone also says yes to slow emulation on older GPUs)."""
    if device.type != "cuda":
        return False
    try:
        return bool(torch.cuda.is_bf16_supported(including_emulation=False))
    except TypeError:  # torch < 2.3 has no including_emulation and means native
        return bool(torch.cuda.is_bf16_supported())


def uses_bf16(config: TrainConfig, device: torch.device) -> bool:
    """Whether the run computes in bf16 autocast; a clear error where bf16 was asked for and
    the device cannot do it.

    ``auto`` means bf16 on GPUs with native bf16 and float32 everywhere else. ``bfloat16`` is
    honoured on CPU too (slow, but it lets the bf16 path be tested without a GPU), refused on
    a GPU that would only emulate it, and probed on other devices (MPS) with one small matmul.
    Weights, gradients and AdamW states stay float32 (master weights): updates smaller than
    bf16's resolution would otherwise vanish, and bf16's float32 exponent range makes a
    GradScaler unnecessary.
    """
    from rmbench.errors import UsageError

    if config.dtype == "float32":
        return False
    if config.dtype == "auto":
        return native_bf16(device)
    if device.type == "cuda" and not native_bf16(device):
        raise UsageError(
            f"option --dtype: bfloat16 requested but {device} has no native bfloat16 support "
            "(it needs compute capability 8.0 or later); use --dtype float32"
        )
    if device.type not in ("cuda", "cpu"):
        try:
            with torch.autocast(device_type=device.type, dtype=torch.bfloat16):
                probe = torch.ones(2, 2, device=device)
                (probe @ probe).sum().item()
        except (RuntimeError, TypeError, ValueError) as error:
            first = str(error).strip().splitlines()[0] if str(error).strip() else type(error)
            raise UsageError(
                f"option --dtype: bfloat16 autocast does not work on {device} ({first}); "
                "use --dtype float32"
            ) from None
    return True


def autocast_for(config: TrainConfig, device: torch.device) -> Callable[[], Any]:
    """bf16 autocast (float32 master weights) when :func:`uses_bf16`, else no autocast."""
    if not uses_bf16(config, device):
        return nullcontext
    return lambda: torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def train_loop(
    model: Any,
    train: TokenizedPairs,
    held_out: TokenizedPairs,
    config: TrainConfig,
    run_dir: Path,
    pad_id: int,
    device: torch.device,
    progress: ProgressHook | None = None,
) -> LoopOutcome:
    """Train from the last checkpoint (or from scratch) to the planned step or the stop."""
    schedule = Schedule.plan(len(train), config)
    autocast = autocast_for(config, device)
    optimizer, scheduler = build_optimizer(model, config, schedule)
    checkpoint = latest_checkpoint(run_dir)
    state = TrainingState(step=0, tokens=0)
    if checkpoint is not None:
        state = load_checkpoint(checkpoint, model, optimizer, scheduler)
    else:
        torch.manual_seed(config.seed)
    resumed_from = state.step if checkpoint is not None else None
    log = MetricsLog(run_dir / METRICS, state.step)
    outcome = LoopOutcome(False, state.step, resumed_from)
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    tokens = state.tokens
    for step in range(state.step, schedule.total_steps):
        started = time.perf_counter()
        micro = schedule.micro_batches(step, len(train), config)
        stats: list[PairStats] = []
        step_tokens = 0
        for indices in micro:
            batch = collate(train, indices, pad_id)
            r = rewards(model, batch, device, autocast)
            c, j = r[: batch.n_pairs], r[batch.n_pairs :]
            loss = bt_loss(
                c, j, batch.margin.to(device), config.center_rewards_coefficient, config.reward_l2
            )
            (loss / len(micro)).backward()
            stats.append(pair_stats(c, j, loss))
            step_tokens += batch.n_tokens
        max_norm = config.max_grad_norm if config.max_grad_norm is not None else math.inf
        grad_norm = float(torch.nn.utils.clip_grad_norm_(params, max_norm))
        lr = float(scheduler.get_last_lr()[0])
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad(set_to_none=True)
        tokens += step_tokens
        elapsed = max(time.perf_counter() - started, 1e-9)
        record: dict[str, Any] = {
            "event": "train",
            "step": step + 1,
            "epoch": (step + 1) / schedule.steps_per_epoch,
            "learning_rate": lr,
            **summarise(stats),
            "loss": sum(s.loss_sum / s.n_pairs for s in stats) / len(stats),
            "grad_norm": grad_norm,
            "tokens": step_tokens,
            "tokens_per_s": step_tokens / elapsed,
            "step_seconds": elapsed,
        }
        log.write(record)
        outcome.last_train = record
        done = step + 1
        if progress is not None:
            progress(done, schedule.total_steps, record)
        eval_due = bool(config.eval_steps) and done % (config.eval_steps or 1) == 0
        if eval_due and done < schedule.total_steps and len(held_out):
            result = evaluate_pairs(model, held_out, config, pad_id, device, autocast)
            eval_record = {"event": "eval", "step": done, **result.metrics}
            log.write(eval_record)
            outcome.evals.append(eval_record)
        steps_now = done - state.step
        stopping = config.stop_after_steps is not None and steps_now >= config.stop_after_steps
        if done % config.save_steps == 0 or done == schedule.total_steps or stopping:
            save_checkpoint(run_dir, model, optimizer, scheduler, TrainingState(done, tokens))
        outcome.step = done
        if stopping and done < schedule.total_steps:
            return outcome
    outcome.finished = True
    return outcome
