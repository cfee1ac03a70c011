"""A golden/proxy family: one reward model per label-noise level, from one command.

Wen et al. (ICLR 2025) study reward models that differ *only* in label noise. ``rmbench train
--flip-fractions 0,0.1,0.2,0.4 -o DIR`` trains one member per fraction into ``DIR/flip-0.10``
etc., each an ordinary ``rmbench train`` run directory. Members share everything but
``--flip-fraction``: the seed (hence the new score head's initial weights), the split by
prompt, the length gate and the data order (which depends on the seed and the number of
training pairs, both shared; flipping a pair swaps its sides, which the symmetric length gate
does not see). The flips are nested (:mod:`rmbench.train.noise`), so the labels flipped at 0.1
are among those flipped at 0.2.

Layout::

    DIR/
      family_manifest.json   noise levels, seed, shared configuration and split, and per
                             member: status, flips, held-out accuracy with its interval
      flip-0.00/             a run directory (train_manifest.json, flipped_pairs.json,
      flip-0.10/             checkpoints/, summary.json, model/, ...)

The family directory is bound to its shared configuration and dataset, like a run directory.
Rerunning the command skips finished members (their manifest says finished under the same
configuration and dataset, and their model is exported), resumes an interrupted one from its
last checkpoint, and trains the rest. Noise levels can be added on a later rerun.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rmbench.errors import UsageError
from rmbench.run.rundir import write_json_atomic
from rmbench.train.config import TrainConfig
from rmbench.train.export import TRAINING_MANIFEST
from rmbench.train.loop import ProgressHook
from rmbench.train.runner import MANIFEST, TrainOutcome, load_pairs, run_training

FAMILY_MANIFEST = "family_manifest.json"

#: Called before each member is trained, with (flip fraction, member index, member count);
#: returns the progress hook for that member's steps (or None).
MemberHook = Callable[[float, int, int], ProgressHook | None]


def parse_fractions(text: str) -> tuple[float, ...]:
    """``"0,0.1,0.2"`` as sorted distinct fractions in [0, 1); one-line errors otherwise."""
    values: list[float] = []
    for part in text.split(","):
        part = part.strip()
        try:
            value = float(part)
        except ValueError:
            raise UsageError(
                f"option --flip-fractions: {part!r} is not a number (give e.g. 0,0.1,0.2,0.4)"
            ) from None
        if not (math.isfinite(value) and 0.0 <= value < 1.0):
            raise UsageError(f"option --flip-fractions: {part} must lie in [0, 1)")
        values.append(value)
    if len(set(values)) != len(values):
        raise UsageError(f"option --flip-fractions: {text!r} repeats a fraction")
    return tuple(sorted(values))


def member_name(fraction: float) -> str:
    """``flip-0.10``: two decimals when that is exact, else as many as the fraction needs."""
    short = f"{fraction:.2f}"
    return f"flip-{short}" if float(short) == fraction else f"flip-{fraction!r}"


def member_config(config: TrainConfig, fraction: float) -> TrainConfig:
    """The shared configuration at one noise level, trained into its own run directory."""
    run_dir = Path(config.run_dir) / member_name(fraction)
    return replace(config, flip_fraction=fraction, run_dir=str(run_dir), output=None)


def shared_fingerprint(config: TrainConfig) -> str:
    """What every member shares: the configuration with the noise level left out."""
    return replace(config, flip_fraction=0.0).fingerprint()


@dataclass
class MemberOutcome:
    """One member after this invocation: trained, resumed, skipped (already done) or pending."""

    flip_fraction: float
    run_dir: Path
    status: str  # finished | stopped | pending
    skipped: bool = False
    resumed_from: int | None = None
    record: dict[str, Any] = field(default_factory=dict)


@dataclass
class FamilyOutcome:
    root: Path
    finished: bool
    members: list[MemberOutcome]
    manifest: dict[str, Any]


def finished_member(config: TrainConfig, dataset_fingerprint: str) -> dict[str, Any] | None:
    """The member's run manifest when it finished under this configuration and dataset and
    its model is exported; None when it still needs (some) training."""
    path = Path(config.run_dir) / MANIFEST
    if not path.is_file():
        return None
    manifest = json.loads(path.read_text())
    done = (
        manifest.get("status") == "finished"
        and manifest.get("config_fingerprint") == config.fingerprint()
        and manifest.get("dataset_fingerprint") == dataset_fingerprint
        and (Path(config.run_dir) / "model" / TRAINING_MANIFEST).is_file()
    )
    return manifest if done else None


def claim_family_dir(config: TrainConfig, dataset_fingerprint: str) -> dict[str, Any]:
    """Bind DIR to this family; the previous family manifest when this one is resumed."""
    root = Path(config.run_dir)
    path = root / FAMILY_MANIFEST
    if path.is_file():
        previous = json.loads(path.read_text())
        if previous.get("shared_config_fingerprint") != shared_fingerprint(config):
            what = "configuration"
        elif previous.get("dataset_fingerprint") != dataset_fingerprint:
            what = "dataset"
        else:
            return previous
        if not config.overwrite:
            raise UsageError(
                f"option --run-dir: {root} holds a label-noise family with a different {what}; "
                "nothing was overwritten (choose another --run-dir, or pass --overwrite)"
            )
        return {}
    if root.is_dir() and any(root.iterdir()) and not config.overwrite:
        raise UsageError(
            f"option --run-dir: {root} is not empty and holds no label-noise family; nothing was "
            "overwritten (choose another --run-dir, or pass --overwrite)"
        )
    return {}


def member_record(fraction: float, manifest: dict[str, Any], status: str) -> dict[str, Any]:
    """What the family manifest says about one member (from the member's run manifest)."""
    counts = manifest.get("counts", {})
    summary = manifest.get("summary") or {}
    return {
        "flip_fraction": fraction,
        "run_dir": member_name(fraction),
        "model": f"{member_name(fraction)}/model" if status == "finished" else None,
        "status": status,
        "step": manifest.get("step"),
        "flipped_train_pairs": counts.get("flipped_train_pairs"),
        "split": {
            "sha256": counts.get("split_sha256"),
            **{
                k: counts.get(k)
                for k in ("train_pairs", "eval_pairs", "train_prompts", "eval_prompts")
            },
        },
        "eval_accuracy": summary.get("eval_accuracy"),
        "eval_loss": (summary.get("eval") or {}).get("loss"),
        "config_fingerprint": manifest.get("config_fingerprint"),
    }


def run_family(
    config: TrainConfig, fractions: Sequence[float], member_hook: MemberHook | None = None
) -> FamilyOutcome:
    """Train (or resume, or skip) every member of the family; see the module docstring."""
    if config.output is not None:
        raise UsageError(
            "option --output: a family writes each member's model into its run directory "
            "(DIR/flip-0.10/model); drop --output"
        )
    if config.flip_fraction != 0.0:
        raise UsageError("options --flip-fraction and --flip-fractions contradict each other")
    if not fractions:
        raise UsageError("option --flip-fractions: give at least one fraction")
    fractions = sorted(float(f) for f in fractions)  # 0 and 0.0 are one member, one fingerprint
    if len(set(fractions)) != len(fractions):
        raise UsageError(f"option --flip-fractions: {fractions} repeats a fraction")
    config.validate()
    for fraction in fractions:
        member_config(config, fraction).validate()
    root = Path(config.run_dir)
    loaded = load_pairs(config)
    dataset_fingerprint = loaded[2]
    previous = claim_family_dir(config, dataset_fingerprint)
    root.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = {
        "kind": "rmbench-train-family",
        "status": "running",
        "started_at": previous.get("started_at", datetime.now(UTC).isoformat()),
        "flip_fractions": list(fractions),
        "seed": config.seed,
        "flip_seed": config.seed,
        "shared_config": {k: v for k, v in config.binding().items() if k != "flip_fraction"},
        "shared_config_fingerprint": shared_fingerprint(config),
        "dataset_fingerprint": dataset_fingerprint,
        "split": None,
        "members": [],
        "invocations": [*previous.get("invocations", []), datetime.now(UTC).isoformat()],
    }
    members: list[MemberOutcome] = []
    records: dict[float, dict[str, Any]] = {}
    stopped = False
    for index, fraction in enumerate(fractions):
        cfg = member_config(config, fraction)
        done = None if stopped else finished_member(cfg, dataset_fingerprint)
        if stopped:
            member = MemberOutcome(fraction, Path(cfg.run_dir), "pending")
        elif done is not None:
            member = MemberOutcome(fraction, Path(cfg.run_dir), "finished", skipped=True)
            records[fraction] = member_record(fraction, done, "finished")
        else:
            hook = member_hook(fraction, index, len(fractions)) if member_hook else None
            outcome: TrainOutcome = run_training(cfg, hook, loaded)
            status = "finished" if outcome.loop.finished else "stopped"
            run_manifest = json.loads((outcome.run_dir / MANIFEST).read_text())
            member = MemberOutcome(
                fraction, outcome.run_dir, status, resumed_from=outcome.loop.resumed_from
            )
            records[fraction] = member_record(fraction, run_manifest, status)
            stopped = not outcome.loop.finished
        member.record = records.get(fraction) or {
            "flip_fraction": fraction,
            "run_dir": member_name(fraction),
            "status": "pending",
        }
        members.append(member)
    manifest["members"] = [m.record for m in members]
    manifest["split"] = shared_split(manifest["members"])
    manifest["status"] = "stopped" if stopped else "finished"
    write_json_atomic(root / FAMILY_MANIFEST, manifest)
    return FamilyOutcome(root, not stopped, members, manifest)


def shared_split(records: Sequence[dict[str, Any]]) -> dict[str, Any] | None:
    """The split (and data order) every trained member used, checked to be one and the same:
    members on different splits would not differ only in label noise."""
    splits = [r["split"] for r in records if r.get("split")]
    if not splits:
        return None
    if any(s != splits[0] for s in splits):
        raise RuntimeError(f"family members trained on different splits: {splits}")
    return splits[0]
