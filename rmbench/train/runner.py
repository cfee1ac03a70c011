"""``rmbench train`` end to end: data, split, model, loop, evaluation, export.

The run directory (``--run-dir``) is bound to one configuration and one dataset, exactly as
``rmbench run``'s directories are: rerunning the same command resumes from its last
checkpoint, while a different configuration or changed data is refused (``--overwrite``
starts afresh), so the weights it ends with are always one run's result.

Layout::

    RUN_DIR/
      train_manifest.json  configuration, data/base fingerprints, counts, versions, status
      rejections.json      rows the pair contract left out, by reason
      length_report.json   pairs dropped by the --max-length gate, per split
      flipped_pairs.json   ids of the training pairs whose labels --flip-fraction flipped
      metrics.jsonl        one line per train step and per evaluation
      checkpoints/         the latest checkpoint (weights, optimizer, schedule, RNG states)
      eval_scores.parquet  final rewards of every held-out pair
      summary.json         final held-out loss/accuracy, accuracy's bootstrap interval
      model/               the exported reward model (default --output)
"""

from __future__ import annotations

import hashlib
import json
import platform
import shutil
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl

from rmbench.data import load_groups
from rmbench.errors import DataError, UsageError
from rmbench.run.rundir import write_json_atomic, write_parquet_atomic
from rmbench.train.collate import TokenizedPairs, tokenize_pairs
from rmbench.train.config import TrainConfig
from rmbench.train.export import TRAINING_MANIFEST, check_output_dir, export_model
from rmbench.train.loop import (
    METRICS,
    LoopOutcome,
    MetricsLog,
    ProgressHook,
    autocast_for,
    evaluate_pairs,
    train_loop,
    uses_bf16,
)
from rmbench.train.noise import apply_flips, flip_mask
from rmbench.train.pairs import Pair, pairs_from_groups, read_margins
from rmbench.train.split import split_pairs

MANIFEST = "train_manifest.json"
FLIPPED = "flipped_pairs.json"
OWNED = (
    MANIFEST,
    "rejections.json",
    "length_report.json",
    FLIPPED,
    METRICS,
    "eval_scores.parquet",
    "summary.json",
)


@dataclass
class PreparedData:
    """Training and eval pairs after the contract, the split, the flips and the length gate."""

    train_pairs: list[Pair]
    eval_pairs: list[Pair]
    train: TokenizedPairs
    held_out: TokenizedPairs
    counts: dict[str, Any]
    dataset_fingerprint: str
    flipped: list[str]  # ids of the training pairs whose labels were flipped


@dataclass
class TrainOutcome:
    """What the command reports: how the loop ended, final eval, where the model is."""

    run_dir: Path
    output: Path
    loop: LoopOutcome
    summary: dict[str, Any] | None
    counts: dict[str, Any]


def output_dir(config: TrainConfig) -> Path:
    return Path(config.output) if config.output else Path(config.run_dir) / "model"


def claim_run_dir(config: TrainConfig, dataset_fingerprint: str) -> bool:
    """Bind the run directory to this run; True when an earlier invocation is resumed."""
    run_dir = Path(config.run_dir)
    manifest_path = run_dir / MANIFEST
    if manifest_path.is_file():
        previous = json.loads(manifest_path.read_text())
        same = (
            previous.get("config_fingerprint") == config.fingerprint()
            and previous.get("dataset_fingerprint") == dataset_fingerprint
        )
        if same:
            return True
        if not config.overwrite:
            what = (
                "configuration"
                if previous.get("config_fingerprint") != config.fingerprint()
                else "dataset"
            )
            raise UsageError(
                f"option --run-dir: {run_dir} holds a training run with a different {what}; "
                "nothing was overwritten (choose another --run-dir, or pass --overwrite)"
            )
        wipe_run_dir(run_dir, output_dir(config))
    elif run_dir.is_dir() and any(run_dir.iterdir()) and not config.overwrite:
        raise UsageError(
            f"option --run-dir: {run_dir} is not empty and holds no training run; nothing was "
            "overwritten (choose another --run-dir, or pass --overwrite)"
        )
    elif config.overwrite and run_dir.is_dir():
        wipe_run_dir(run_dir, output_dir(config))
    return False


def wipe_run_dir(run_dir: Path, output: Path) -> None:
    """Remove what a training run writes (``--overwrite``), and nothing else."""
    for name in OWNED:
        (run_dir / name).unlink(missing_ok=True)
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    if (output / TRAINING_MANIFEST).is_file() or output == run_dir / "model":
        shutil.rmtree(output, ignore_errors=True)


def load_pairs(config: TrainConfig) -> tuple[list[Pair], Any, str]:
    """Pairs from ``--data`` through the loaders and the pair contract; rejections reported."""
    if not Path(config.data).exists() and not _looks_like_hub_id(config.data):
        raise UsageError(f"option --data: {config.data} does not exist")
    loaded = load_groups(config.data, format=config.format, split=config.split, limit=config.limit)
    margins: dict[tuple[str, int], float] = {}
    if config.margin_column:
        rows = list(
            zip(loaded.groups.groups["source"], loaded.groups.groups["source_row"], strict=True)
        )
        margins = read_margins(config.data, config.margin_column, rows, config.split)
    pairs = pairs_from_groups(loaded.groups, margins)
    fingerprint = loaded.groups.fingerprint()
    if margins:
        extra = json.dumps(sorted((f"{s}:{r}", m) for (s, r), m in margins.items()))
        fingerprint = hashlib.sha256(f"{fingerprint}{extra}".encode()).hexdigest()
    return pairs, loaded.rejections, fingerprint


def _looks_like_hub_id(value: str) -> bool:
    parts = value.split("/")
    return len(parts) == 2 and all(parts) and not value.startswith((".", "/"))


def prepare(
    config: TrainConfig, pairs: list[Pair], formatter: Any, max_length: int, fingerprint: str
) -> PreparedData:
    """Split by prompt, flip training labels, tokenise and gate by length; count everything."""
    if not pairs:
        raise DataError(f"{config.data}: no valid pairs after the pair contract (option --data)")
    split = split_pairs(pairs, config.eval_fraction, config.seed, config.stratify)
    if not split.train:
        raise UsageError(
            f"option --eval-fraction: {config.eval_fraction} leaves no training pairs "
            f"({len(pairs)} pairs, {split.eval_prompts} prompts)"
        )
    if config.eval_fraction > 0 and not split.eval:
        raise UsageError(
            f"option --eval-fraction: {config.eval_fraction} gives an empty eval split"
        )
    train_pairs = [pairs[i] for i in split.train]
    eval_pairs = [pairs[i] for i in split.eval]
    mask = flip_mask([p.pair_id for p in train_pairs], config.flip_fraction, config.seed)
    train_pairs = apply_flips(train_pairs, mask)
    train, train_len = tokenize_pairs(train_pairs, formatter, max_length)
    held_out, eval_len = tokenize_pairs(eval_pairs, formatter, max_length)
    kept_train = set(train.pair_ids)
    kept_eval = set(held_out.pair_ids)
    flipped = [p.pair_id for p, flip in zip(train_pairs, mask, strict=True) if flip]
    if not len(train):
        raise DataError(
            f"{config.data}: no valid training pairs after the pair contract and the length gate "
            f"({train_len.dropped} of {len(train_pairs)} pairs longer than --max-length "
            f"{max_length} tokens, longest {train_len.longest})"
        )
    if config.eval_fraction > 0 and not len(held_out):
        raise DataError(
            f"{config.data}: every eval pair is longer than --max-length {max_length} tokens "
            f"({eval_len.dropped} dropped); raise --max-length"
        )
    counts = {
        "pairs": len(pairs),
        "train_prompts": split.train_prompts,
        "eval_prompts": split.eval_prompts,
        "train_pairs_before_length_gate": len(train_pairs),
        "eval_pairs_before_length_gate": len(eval_pairs),
        "train_pairs": len(train),
        "eval_pairs": len(held_out),
        "flipped_train_pairs": len(flipped),
        "split_sha256": split_digest(train.pair_ids, held_out.pair_ids),
        "length_gate": {"train": train_len.to_dict(), "eval": eval_len.to_dict()},
    }
    return PreparedData(
        [p for p in train_pairs if p.pair_id in kept_train],
        [p for p in eval_pairs if p.pair_id in kept_eval],
        train,
        held_out,
        counts,
        fingerprint,
        flipped,
    )


def split_digest(train_ids: list[str], eval_ids: list[str]) -> str:
    """sha256 of the pairs trained on and held out, in training-data order: equal digests mean
    the same split and the same data order (label flips do not change a pair's id)."""
    text = json.dumps([train_ids, eval_ids])
    return hashlib.sha256(text.encode()).hexdigest()


def accuracy_interval(
    chosen: np.ndarray, rejected: np.ndarray, config: TrainConfig
) -> dict[str, Any]:
    """Held-out pair accuracy with a percentile bootstrap interval over pairs (rmbench.metrics)."""
    from rmbench.metrics import MetricOptions, evaluate

    n = len(chosen)
    scores = np.empty(2 * n, dtype=np.float64)
    scores[0::2], scores[1::2] = chosen, rejected
    gold = np.tile(np.array([1.0, 0.0]), n)
    offsets = np.arange(0, 2 * n + 1, 2, dtype=np.int64)
    report = evaluate(
        scores, gold, offsets, MetricOptions(n_bootstrap=config.bootstrap, seed=config.seed)
    )
    row = report.row("pairwise_accuracy")
    has_interval = config.bootstrap > 0
    return {
        "value": row["value"],
        "ci_low": row["ci_low"] if has_interval else None,
        "ci_high": row["ci_high"] if has_interval else None,
        "n": n,
        "bootstrap": config.bootstrap,
        "confidence": 0.95,
    }


def run_training(
    config: TrainConfig,
    progress: ProgressHook | None = None,
    loaded: tuple[list[Pair], Any, str] | None = None,
) -> TrainOutcome:
    """Train (or resume) the run ``config`` describes; see the module docstring.

    ``loaded``: what :func:`load_pairs` returns for ``config``, when the caller (a label-noise
    family) has already loaded the data once for all its members."""
    import torch
    import transformers

    from rmbench.run.fingerprint import model_fingerprint
    from rmbench.scorers.chat_format import ChatFormatter
    from rmbench.scorers.loading import model_max_length
    from rmbench.scorers.torch_runtime import resolve_device
    from rmbench.train.model import (
        checkpointing_active,
        disable_dropout,
        enable_gradient_checkpointing,
        load_base,
        score_head_in_float32,
    )

    config.validate()
    device = resolve_device(config.device)
    uses_bf16(config, device)  # a device that cannot do bf16 is refused before any loading
    run_dir = Path(config.run_dir)
    output = output_dir(config)
    pairs, rejections, fingerprint = loaded if loaded is not None else load_pairs(config)
    resumed = claim_run_dir(config, fingerprint)
    if not config.overwrite:
        check_output_dir(output, config.fingerprint())

    base = load_base(config.base, config.seed, config.trust_remote_code)
    model = base.model
    if not config.keep_dropout:
        disable_dropout(model)
    if config.gradient_checkpointing:
        enable_gradient_checkpointing(model)
    bf16 = uses_bf16(config, device)
    head_fp32 = score_head_in_float32(model) if bf16 else None
    model.to(device)
    formatter = ChatFormatter(base.tokenizer, config.chat_template)
    model_limit = model_max_length(base.tokenizer, model.config)
    if (
        config.max_length is not None
        and model_limit is not None
        and config.max_length > model_limit
    ):
        raise UsageError(
            f"option --max-length: {config.max_length} exceeds the base model's maximum length "
            f"of {model_limit} tokens"
        )
    max_length = config.max_length or model_limit
    if max_length is None:
        raise UsageError("option --max-length: the base model states no maximum length; give one")
    data = prepare(config, pairs, formatter, max_length, fingerprint)

    run_dir.mkdir(parents=True, exist_ok=True)
    previous = json.loads((run_dir / MANIFEST).read_text()) if resumed else {}
    manifest: dict[str, Any] = {
        "kind": "rmbench-train",
        "status": "running",
        "started_at": previous.get("started_at", datetime.now(UTC).isoformat()),
        "config": config.binding(),
        "config_fingerprint": config.fingerprint(),
        "dataset_fingerprint": fingerprint,
        "base_fingerprint": model_fingerprint(config.base, None),
        "architecture": type(model).__name__,
        "added_pad_token": base.added_pad_token,
        "new_score_head": base.new_head,
        "pad_token_id": base.pad_id,
        "max_length": max_length,
        "chat_template": formatter.identity(),
        "counts": data.counts,
        "rejections": rejections.counts(),
        "device": str(device),
        "precision": {
            "autocast": "bfloat16" if bf16 else None,
            "weights": "float32",
            "score_head_float32": head_fp32,
            "gradient_checkpointing": checkpointing_active(model),
        },
        "versions": {
            "python": platform.python_version(),
            "torch": torch.__version__,
            "transformers": transformers.__version__,
        },
        "command": ["rmbench", *sys.argv[1:]],
        "invocations": [*previous.get("invocations", []), datetime.now(UTC).isoformat()],
    }
    write_json_atomic(run_dir / MANIFEST, manifest)
    write_json_atomic(run_dir / "rejections.json", rejections.to_dict())
    write_json_atomic(run_dir / "length_report.json", data.counts["length_gate"])
    write_json_atomic(
        run_dir / FLIPPED,
        {"flip_fraction": config.flip_fraction, "seed": config.seed, "pair_ids": data.flipped},
    )

    loop = train_loop(
        model, data.train, data.held_out, config, run_dir, base.pad_id, device, progress
    )
    if not loop.finished:
        manifest["status"] = "stopped"
        manifest["step"] = loop.step
        write_json_atomic(run_dir / MANIFEST, manifest)
        return TrainOutcome(run_dir, output, loop, None, data.counts)

    last_train = loop.last_train or previous.get("summary", {}).get("train", {})
    summary: dict[str, Any] = {"step": loop.step, "train": last_train}
    if len(data.held_out):
        result = evaluate_pairs(
            model, data.held_out, config, base.pad_id, device, autocast_for(config, device)
        )
        MetricsLog.append(
            run_dir / METRICS, {"event": "eval", "step": loop.step, "final": True, **result.metrics}
        )
        write_parquet_atomic(
            run_dir / "eval_scores.parquet",
            pl.DataFrame(
                {
                    "pair_id": data.held_out.pair_ids,
                    "chosen_reward": result.chosen.astype(np.float64),
                    "rejected_reward": result.rejected.astype(np.float64),
                }
            ),
        )
        summary["eval"] = result.metrics
        summary["eval_accuracy"] = accuracy_interval(result.chosen, result.rejected, config)
    write_json_atomic(run_dir / "summary.json", summary)
    manifest["status"] = "finished"
    manifest["step"] = loop.step
    manifest["summary"] = summary
    manifest["output"] = str(output)
    scoring = export_model(
        output, model, base.tokenizer, formatter, data.train_pairs[:64], manifest
    )
    manifest["scoring"] = scoring
    write_json_atomic(run_dir / MANIFEST, manifest)
    return TrainOutcome(run_dir, output, loop, summary, data.counts)
