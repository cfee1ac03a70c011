"""``rmbench run``: load a suite, score what is not cached yet, aggregate, write the run directory.

The order of steps is chosen so that nothing computed is ever lost and nothing expensive
happens before cheap checks pass: options and data are validated first, then the model is
loaded, then the run directory is claimed (refusing one that belongs to a different run), and
only then does scoring start, committing each batch to the cache as it completes.
"""

from __future__ import annotations

import platform
import sys
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from rich.console import Console

from rmbench import __version__
from rmbench.data.contract import RejectionReport
from rmbench.data.model import REFERENCE, ResponseGroups
from rmbench.errors import DataError, UsageError
from rmbench.plugins import get_scorer_factory, get_suite
from rmbench.run.cache import ScoreCache, candidate_key
from rmbench.run.progress import ScoringProgress
from rmbench.run.rundir import RunDirectory, default_run_dir
from rmbench.run.suite_of_run import MANIFEST_KEY, definition_record
from rmbench.scorers.base import ScorerOptions, ScoringItem
from rmbench.suites.base import SuiteOptions, SuiteResult

_VERSIONED_PACKAGES = (
    "numpy",
    "polars",
    "pyarrow",
    "torch",
    "transformers",
    "tokenizers",
    "datasets",
    "safetensors",
)


@dataclass(frozen=True)
class RunRequest:
    suite: str
    scorer: str
    scorer_options: ScorerOptions
    suite_options: SuiteOptions = field(default_factory=SuiteOptions)
    run_dir: Path | None = None
    overwrite: bool = False
    n_bootstrap: int = 1000
    seed: int = 0
    confidence: float = 0.95
    argv: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class RunOutcome:
    run_dir: Path
    result: SuiteResult
    rejections: RejectionReport
    resumed: bool
    n_candidates: int
    n_scored_now: int
    n_from_cache: int
    scoring_seconds: float


def _package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"rmbench": __version__, "python": platform.python_version()}
    for name in _VERSIONED_PACKAGES:
        try:
            versions[name] = version(name)
        except PackageNotFoundError:
            versions[name] = None
    return versions


def _hardware() -> dict[str, Any]:
    info: dict[str, Any] = {"platform": platform.platform(), "machine": platform.machine()}
    torch = sys.modules.get("torch")
    if torch is not None and torch.cuda.is_available():
        info["cuda_device"] = torch.cuda.get_device_name(0)
        info["cuda_version"] = torch.version.cuda
    return info


def _validate(request: RunRequest) -> None:
    if request.n_bootstrap < 0:
        raise UsageError("option --bootstrap must be >= 0")
    if not 0.0 < request.confidence < 1.0:
        raise UsageError("option --confidence must lie strictly between 0 and 1")
    if request.suite_options.limit is not None and request.suite_options.limit < 1:
        raise UsageError("option --limit must be >= 1")


def scoring_items(
    groups: ResponseGroups, within_group: bool = False, with_reference: bool = False
) -> tuple[list[str], list[ScoringItem]]:
    """Cache key per candidate (aligned with ``groups.candidates``) and the unique items.

    ``within_group``: the scorer compares responses within their group, so the group is part
    of each item (and of its key) instead of equal inputs sharing one score across groups.
    ``with_reference``: the scorer checks responses against the group's ``reference`` column,
    which then joins each item and its key (the same response is right for one gold answer
    and wrong for another).

    Each item carries its group's subset (never part of the key). Items are deduplicated by
    key: with ``within_group`` the key holds the group, so an item has exactly one subset;
    otherwise an item shared by groups of several subsets carries the first group's subset.
    """
    prompts = dict(
        zip(groups.groups["group_id"].to_list(), groups.groups["prompt"].to_list(), strict=True)
    )
    subsets = dict(
        zip(groups.groups["group_id"].to_list(), groups.groups["subset"].to_list(), strict=True)
    )
    references: dict[str, str | None] = {}
    if with_reference:
        if REFERENCE not in groups.groups.columns:
            raise UsageError("this scorer needs a reference per prompt, and the data has none")
        references = dict(
            zip(groups.groups["group_id"].to_list(), groups.groups[REFERENCE], strict=True)
        )
    keys: list[str] = []
    unique: dict[str, ScoringItem] = {}
    for group_id, index, response in groups.candidates.select(
        "group_id", "candidate_index", "response"
    ).iter_rows():
        prompt = prompts[group_id]
        group = str(group_id) if within_group else None
        reference = (references[group_id] or "") if with_reference else None
        key = candidate_key(prompt, response, group, reference)
        keys.append(key)
        if key not in unique:
            unique[key] = ScoringItem(
                key,
                prompt,
                response,
                ref=f"{subsets[group_id]}/{group_id}#{index}",
                group=group or "",
                reference=reference or "",
                subset=subsets[group_id],
            )
    return keys, list(unique.values())


def execute(request: RunRequest, console: Console, show_progress: bool = True) -> RunOutcome:
    _validate(request)
    suite = get_suite(request.suite)
    factory = get_scorer_factory(request.scorer)

    loaded = suite.load(request.suite_options)
    groups = loaded.groups
    if len(groups) == 0:
        raise DataError(f"{loaded.source}: no rows left to score after the data contract")
    for line in loaded.rejections.summary_lines():
        console.print(f"[yellow]rejected:[/] {line}", markup=True, highlight=False)

    scorer = factory.create(request.scorer_options)
    needs_reference = bool(getattr(scorer, "needs_reference", False))
    if needs_reference and REFERENCE not in groups.groups.columns:
        raise UsageError(
            f"scorer {request.scorer!r} checks responses against a reference, and suite "
            f"{request.suite!r} has none (with --suite custom, map one: "
            "--suite-option reference=COLUMN)"
        )
    identity = scorer.identity()
    run_dir = RunDirectory(
        request.run_dir
        or default_run_dir(request.suite, request.scorer_options.model, request.scorer)
    )
    manifest: dict[str, Any] = {
        "rmbench_version": __version__,
        "suite": request.suite,
        "scorer": request.scorer,
        "scorer_identity": identity,
        "dataset_fingerprint": groups.fingerprint(),
        # the parsed definition of a suite defined by a file, so the run can be re-scored
        # by exactly these rules later (rmbench run --compare, rmbench gate)
        MANIFEST_KEY: definition_record(suite),
        "dataset": {
            "source": loaded.source,
            "n_groups": len(groups),
            "n_candidates": groups.n_candidates,
            "subsets": groups.subsets(),
            "rejected": loaded.rejections.counts(),
            "options": {
                "data": request.suite_options.data,
                "split": request.suite_options.split,
                "limit": request.suite_options.limit,
                "subsets": list(request.suite_options.subsets),
                "strict": request.suite_options.strict,
                "extra": dict(request.suite_options.extra),
            },
        },
        "scoring_options": {
            "device": request.scorer_options.device,
            "max_tokens_per_batch": request.scorer_options.max_tokens_per_batch,
            "max_batch_size": request.scorer_options.max_batch_size,
        },
        "statistics": {
            "seed": request.seed,
            "n_bootstrap": request.n_bootstrap,
            "confidence": request.confidence,
            "interval": "percentile, stratified bootstrap over prompts within subsets",
        },
        "versions": _package_versions(),
        "hardware": _hardware(),
        "command": request.argv,
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "status": "scoring",
    }
    resumed = run_dir.claim(manifest, request.overwrite)
    run_dir.write_rejections(loaded.rejections.to_dict())

    keys, items = scoring_items(
        groups, bool(getattr(scorer, "compares_within_group", False)), needs_reference
    )
    with ScoreCache(run_dir.cache_path) as cache:
        cached = cache.get_many(item.key for item in items)
        todo = [item for item in items if item.key not in cached]
        if resumed:
            console.print(
                f"resuming {run_dir.path}: {len(cached)} of {len(items)} inputs already scored",
                highlight=False,
            )
        with ScoringProgress(console, len(todo), f"scoring {request.suite}", show_progress) as bar:
            for batch in scorer.score_batches(todo):
                cache.put_many(batch.keys, batch.scores)
                bar.advance(len(batch.keys), batch.n_tokens)
        scoring_seconds = bar.elapsed
        found = cache.get_many(keys)
    missing = [k for k in keys if k not in found]
    if missing:
        raise RuntimeError(
            f"scorer returned no score for {len(missing)} inputs (e.g. {missing[0]})"
        )
    scores = np.array([found[k] for k in keys], dtype=np.float64)

    subset_of = groups.groups.select("group_id", "subset")
    run_dir.write_scores(
        groups.candidates.join(subset_of, on="group_id", how="left", maintain_order="left")
        .with_columns(pl.Series("key", keys), pl.Series("score", scores))
        .select("group_id", "subset", "candidate_index", "gold", "score", "model", "key")
    )
    truncated = int(getattr(scorer, "truncated_count", 0))
    result = suite.evaluate(
        groups,
        scores,
        n_bootstrap=request.n_bootstrap,
        seed=request.seed,
        confidence=request.confidence,
    )
    if truncated:
        note = f"{truncated} inputs were truncated to the model's maximum length (--truncate)"
        result = replace(result, notes=[*result.notes, note])
    summary = {
        "suite": request.suite,
        "model": request.scorer_options.model,
        "scorer": request.scorer,
        "confidence": result.confidence,
        "n_bootstrap": result.n_bootstrap,
        "seed": result.seed,
        "metrics": [m.as_dict() for m in result.metrics],
        "notes": result.notes,
        "rejected": loaded.rejections.counts(),
    }
    report = getattr(scorer, "report", None)
    if callable(report):
        summary["scorer_report"] = report()
    run_dir.write_summary(summary)
    leaderboard = suite.leaderboard_results(
        groups,
        scores,
        {
            "model": request.scorer_options.model,
            "chat_template": identity.get("chat_template", {}).get("resolved")
            if isinstance(identity.get("chat_template"), dict)
            else identity.get("chat_template"),
        },
    )
    if leaderboard is not None:
        run_dir.write_results(request.suite, leaderboard)
    run_dir.update_manifest(
        status="complete",
        finished_at=datetime.now(UTC).isoformat(timespec="seconds"),
        scored_this_session=len(todo),
        truncated_this_session=truncated,
        device=str(getattr(scorer, "device", "")) or None,
    )
    return RunOutcome(
        run_dir=run_dir.path,
        result=result,
        rejections=loaded.rejections,
        resumed=resumed,
        n_candidates=len(keys),
        n_scored_now=len(todo),
        n_from_cache=len(items) - len(todo),
        scoring_seconds=scoring_seconds,
    )
