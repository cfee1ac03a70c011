"""``rmbench train``: train a Bradley-Terry reward model on preference pairs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)

from rmbench.errors import RmbenchError


class TrainInterrupted(RmbenchError):
    """Ctrl-C during training: the last checkpoint stands; rerunning resumes from it."""

    exit_code = 130


class TrainProgress:
    """A rich progress bar over optimizer steps with loss, accuracy and tokens/s."""

    def __init__(self, console: Console, enabled: bool, label: str = "train") -> None:
        self.enabled = enabled
        self.progress = Progress(
            TextColumn(f"[bold]{label}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[stats]}"),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            console=console,
            disable=not enabled,
        )
        self.task: Any = None
        self.started = time.perf_counter()

    def start(self, total: int, done: int) -> None:
        self.task = self.progress.add_task("train", total=total, completed=done, stats="")
        self.progress.start()

    def __call__(self, step: int, record: dict[str, Any]) -> None:
        stats = (
            f"loss {record['loss']:.4f}  acc {record['accuracy']:.3f}  "
            f"margin {record['margin']:+.3f}  {record['tokens_per_s']:,.0f} tok/s"
        )
        self.progress.update(self.task, completed=step, stats=stats)

    def stop(self) -> None:
        self.progress.stop()


def train(
    data: Annotated[
        str, typer.Option("--data", help="Preference data: file, directory or hub id.")
    ],
    base: Annotated[
        str,
        typer.Option("--base", help="Base checkpoint (directory or hub id), encoder or decoder."),
    ],
    run_dir: Annotated[
        Path,
        typer.Option(
            "--run-dir",
            "-o",
            help="Run directory (checkpoints, logs, manifest); with --flip-fractions, the family's.",
        ),
    ],
    output: Annotated[
        Path | None, typer.Option(help="Where to write the trained model (default RUN_DIR/model).")
    ] = None,
    format: Annotated[
        str, typer.Option("--format", help="Row format (auto-detected by default).")
    ] = "auto",
    split: Annotated[str | None, typer.Option(help="Dataset split (hub sources).")] = None,
    limit: Annotated[
        int | None, typer.Option(help="Only the first N accepted rows (smoke tests).")
    ] = None,
    margin_column: Annotated[
        str | None,
        typer.Option(help="Column with a per-pair margin m: loss -log sigmoid(r+ - r- - m)."),
    ] = None,
    eval_fraction: Annotated[
        float, typer.Option(help="Share of pairs held out, split by prompt (0 = no eval).")
    ] = 0.2,
    stratify: Annotated[
        bool, typer.Option(help="Hold out the same share of every subset.")
    ] = False,
    max_length: Annotated[
        int | None,
        typer.Option(help="Drop (never truncate) pairs with a side longer than this many tokens."),
    ] = None,
    chat_template: Annotated[
        str, typer.Option(help="auto (tokenizer's), plain, hh, pair, or a .jinja file.")
    ] = "auto",
    epochs: Annotated[float, typer.Option(help="Passes over the training pairs.")] = 1.0,
    max_steps: Annotated[
        int | None, typer.Option(help="Optimizer steps in all (overrides --epochs).")
    ] = None,
    batch_size: Annotated[int, typer.Option(help="Pairs per micro-batch.")] = 8,
    eval_batch_size: Annotated[int, typer.Option(help="Pairs per eval batch.")] = 32,
    grad_accum: Annotated[int, typer.Option(help="Micro-batches per optimizer step.")] = 1,
    learning_rate: Annotated[
        float, typer.Option("--learning-rate", "--lr", help="Peak LR.")
    ] = 1e-5,
    weight_decay: Annotated[float, typer.Option(help="AdamW weight decay (matrices only).")] = 0.0,
    warmup_ratio: Annotated[float, typer.Option(help="Share of steps with linear warmup.")] = 0.0,
    warmup_steps: Annotated[
        int | None, typer.Option(help="Warmup steps (overrides --warmup-ratio).")
    ] = None,
    max_grad_norm: Annotated[
        float | None, typer.Option(help="Clip the gradient norm to this (default 1.0).")
    ] = 1.0,
    no_clip: Annotated[bool, typer.Option(help="Do not clip gradients.")] = False,
    adam_beta1: Annotated[float, typer.Option()] = 0.9,
    adam_beta2: Annotated[float, typer.Option()] = 0.999,
    adam_epsilon: Annotated[float, typer.Option()] = 1e-8,
    center_rewards_coefficient: Annotated[
        float | None, typer.Option(help="Reward centering: + c * mean((r+ + r-)^2).")
    ] = None,
    reward_l2: Annotated[float, typer.Option(help="L2 penalty: + l * mean(r+^2 + r-^2).")] = 0.0,
    flip_fraction: Annotated[
        float, typer.Option(help="Flip this share of training labels (nested across values).")
    ] = 0.0,
    flip_fractions: Annotated[
        str | None,
        typer.Option(
            help="Train a label-noise family, one model per fraction (e.g. 0,0.1,0.2,0.4), "
            "into RUN_DIR/flip-0.10 etc., same split and order; rerun to resume."
        ),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed for the split, order, head init, flips.")] = 0,
    device: Annotated[str, typer.Option(help="auto, cpu, cuda, cuda:1, mps.")] = "auto",
    dtype: Annotated[
        str, typer.Option(help="auto (bf16 autocast on capable GPUs), float32, bfloat16.")
    ] = "auto",
    gradient_checkpointing: Annotated[
        bool, typer.Option(help="Recompute activations in backward (less memory).")
    ] = False,
    keep_dropout: Annotated[
        bool, typer.Option(help="Keep the base's dropout (disabled by default, as TRL does).")
    ] = False,
    eval_steps: Annotated[
        int | None, typer.Option(help="Evaluate every N steps (and always at the end).")
    ] = None,
    save_steps: Annotated[int, typer.Option(help="Checkpoint every N steps.")] = 100,
    bootstrap: Annotated[
        int, typer.Option(help="Bootstrap resamples for the held-out accuracy interval.")
    ] = 1000,
    trust_remote_code: Annotated[bool, typer.Option(help="Allow custom model code.")] = False,
    stop_after_steps: Annotated[
        int | None,
        typer.Option(
            help="Stop after N steps in this invocation, checkpointed; rerun to continue "
            "(time-boxed or preemptible jobs)."
        ),
    ] = None,
    overwrite: Annotated[
        bool, typer.Option(help="Discard a run directory of a different run.")
    ] = False,
    quiet: Annotated[bool, typer.Option("--quiet", "-q", help="No progress bar.")] = False,
) -> None:
    """Train a Bradley-Terry reward model; rerun the same command to resume after a kill."""
    from rmbench.errors import UsageError
    from rmbench.train.config import TrainConfig
    from rmbench.train.runner import run_training

    if no_clip and max_grad_norm != 1.0:
        raise UsageError("options --no-clip and --max-grad-norm contradict each other")
    config = TrainConfig(
        data=data,
        base=base,
        run_dir=str(run_dir),
        output=str(output) if output else None,
        format=format,
        split=split,
        limit=limit,
        margin_column=margin_column,
        eval_fraction=eval_fraction,
        stratify=stratify,
        max_length=max_length,
        chat_template=chat_template,
        epochs=epochs,
        max_steps=max_steps,
        batch_size=batch_size,
        eval_batch_size=eval_batch_size,
        grad_accum=grad_accum,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        warmup_ratio=warmup_ratio,
        warmup_steps=warmup_steps,
        max_grad_norm=None if no_clip else max_grad_norm,
        adam_beta1=adam_beta1,
        adam_beta2=adam_beta2,
        adam_epsilon=adam_epsilon,
        center_rewards_coefficient=center_rewards_coefficient,
        reward_l2=reward_l2,
        flip_fraction=flip_fraction,
        seed=seed,
        device=device,
        dtype=dtype,
        gradient_checkpointing=gradient_checkpointing,
        keep_dropout=keep_dropout,
        eval_steps=eval_steps,
        save_steps=save_steps,
        bootstrap=bootstrap,
        trust_remote_code=trust_remote_code,
        quiet=quiet,
        stop_after_steps=stop_after_steps,
        overwrite=overwrite,
    )
    config.validate()
    console = Console()
    err = Console(stderr=True)
    if flip_fractions is not None:
        from rmbench.train.family import parse_fractions, run_family

        fractions = parse_fractions(flip_fractions)
        family = _with_progress(
            err, quiet, run_dir, lambda make: run_family(config, fractions, make)
        )
        print_family(console, family)
        return
    outcome = _with_progress(
        err, quiet, run_dir, lambda make: run_training(config, make(None, 0, 1))
    )
    print_outcome(console, outcome)


def _with_progress(err: Console, quiet: bool, run_dir: Path, body: Any) -> Any:
    """Run ``body(make_hook)`` with one progress bar per trained model; Ctrl-C is reported as
    the resumable interruption it is."""
    displays: list[TrainProgress] = []
    last_step = 0

    def make_hook(fraction: float | None, index: int, count: int) -> Any:
        label = "train" if fraction is None else f"flip {fraction:g} ({index + 1}/{count})"
        display = TrainProgress(err, enabled=not quiet, label=label)
        displays.append(display)

        def hook(step: int, total: int, record: dict[str, Any]) -> None:
            nonlocal last_step
            if display.task is None:
                for other in displays[:-1]:
                    if other.task is not None:
                        other.stop()
                        other.task = None
                display.start(total, step - 1)
            last_step = step
            display(step, record)

        return hook

    try:
        return body(make_hook)
    except KeyboardInterrupt:
        raise TrainInterrupted(
            f"interrupted after step {last_step}; the last checkpoint in {run_dir} stands: "
            "rerun the same command to resume from it"
        ) from None
    finally:
        for display in displays:
            if display.task is not None:
                display.stop()


def print_family(console: Console, family: Any) -> None:
    """One line per member: noise level, flips, status, held-out accuracy with its interval."""
    for member in family.members:
        record = member.record
        line = f"flip {member.flip_fraction:<5g} {record['status']:<8}"
        if record.get("flipped_train_pairs") is not None:
            line += f" {record['flipped_train_pairs']}/{record['split']['train_pairs']} flipped"
        acc = record.get("eval_accuracy")
        if acc:
            line += f"  accuracy {acc['value']:.4f}"
            if acc["bootstrap"]:
                line += f" [{acc['ci_low']:.4f}, {acc['ci_high']:.4f}]"
        if member.skipped:
            line += "  skipped"
        elif member.resumed_from is not None:
            line += f"  resumed at {member.resumed_from}"
        console.print(line, highlight=False)
    state = "finished" if family.finished else "stopped: rerun the same command to continue"
    console.print(
        f"family {state} (held-out accuracy, 95% bootstrap intervals; skipped: finished earlier)",
        highlight=False,
    )
    console.print(f"manifest: {family.root / 'family_manifest.json'}", highlight=False)


def print_outcome(console: Console, outcome: Any) -> None:
    """A few lines: counts, how the loop ended, held-out accuracy with its interval."""
    counts = outcome.counts
    gate = counts["length_gate"]
    console.print(
        f"prompts split {counts['train_prompts']} train / {counts['eval_prompts']} eval; "
        f"pairs trained on: {counts['train_pairs']} train, {counts['eval_pairs']} eval; "
        f"dropped by --max-length {gate['train']['max_length']}: "
        f"{gate['train']['dropped']} train, {gate['eval']['dropped']} eval; "
        f"flipped: {counts['flipped_train_pairs']}",
        highlight=False,
    )
    loop = outcome.loop
    resumed = f" (resumed from step {loop.resumed_from})" if loop.resumed_from is not None else ""
    if not loop.finished:
        console.print(
            f"stopped at step {loop.step}{resumed}; checkpoint saved in {outcome.run_dir}: "
            "rerun the same command to continue",
            highlight=False,
        )
        return
    console.print(f"finished at step {loop.step}{resumed}", highlight=False)
    summary = outcome.summary or {}
    if "eval_accuracy" in summary:
        acc = summary["eval_accuracy"]
        interval = (
            f"[95% CI {acc['ci_low']:.4f}, {acc['ci_high']:.4f}]"
            if acc["bootstrap"]
            else "(no interval: --bootstrap 0)"
        )
        console.print(
            f"held-out accuracy {acc['value']:.4f} {interval} over {acc['n']} pairs; "
            f"eval loss {summary['eval']['loss']:.4f}",
            highlight=False,
        )
    console.print(f"model: {outcome.output}  run directory: {outcome.run_dir}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("train")(train)
