"""ProcessBench (Zheng et al., 2024): can a process reward model find a solution's first error?

Each solution carries the index of its earliest wrong step (``-1``: all correct); data format
and the prefix layout the runner scores are in :mod:`rmbench.suites.processbench_data`. The
candidate scores of a solution are its step scores (run the ``prm`` scorer with
``-O aggregation=last``; ``min`` gives the same predictions). As the authors evaluate PRMs:

* the predicted first error is the first step whose score is below ``threshold`` (default 0.5,
  ``--suite-option threshold=...``), ``-1`` when none is;
* a solution is matched when the prediction equals its label;
* per subset: accuracy on erroneous solutions, accuracy on correct solutions, and their
  harmonic mean F1 (ProcessBench's headline; 0 when both accuracies are 0);
* overall: ``f1`` is the plain mean of the subsets' F1 (the paper's "Avg."), plus both
  accuracies and their F1 pooled over every solution.

Intervals come from one bootstrap over solutions, stratified by subset *and* by whether the
solution is erroneous, since the benchmark fixes how many of each it holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from rmbench.data.contract import RejectionReport
from rmbench.data.model import ResponseGroups
from rmbench.errors import DataError, UsageError
from rmbench.scorers.prm.steps import unescape
from rmbench.suites.base import LoadedSuite, SuiteOptions, SuiteResult
from rmbench.suites.processbench_data import prefix_groups, read_solutions
from rmbench.suites.statistics import ReportedNumber, SuiteStatistics

SUITE_OPTIONS = ("threshold", "separator")
KNOWN_SUBSETS = ("gsm8k", "math", "olympiadbench", "omnimath")  # the paper's column order
ERRONEOUS, CORRECT = "erroneous", "correct"


def labels_from_gold(gold: np.ndarray, offsets: np.ndarray) -> np.ndarray:
    """Each group's first-error index: the first candidate with gold 0, or -1."""
    out = np.full(len(offsets) - 1, -1, dtype=np.int64)
    for g in range(len(out)):
        wrong = np.flatnonzero(gold[offsets[g] : offsets[g + 1]] == 0.0)
        if wrong.size:
            out[g] = int(wrong[0])
    return out


def first_error_predictions(
    scores: np.ndarray, offsets: np.ndarray, threshold: float
) -> np.ndarray:
    """Each group's predicted first error: the first step scoring below ``threshold``, or -1."""
    out = np.full(len(offsets) - 1, -1, dtype=np.int64)
    for g in range(len(out)):
        low = np.flatnonzero(scores[offsets[g] : offsets[g + 1]] < threshold)
        if low.size:
            out[g] = int(low[0])
    return out


def f1(error_accuracy: np.ndarray, correct_accuracy: np.ndarray) -> np.ndarray:
    """Harmonic mean of the two accuracies; 0 when both are 0, NaN when either is undefined."""
    a, b = np.asarray(error_accuracy, np.float64), np.asarray(correct_accuracy, np.float64)
    total = a + b
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, 2 * a * b / np.where(total > 0, total, 1.0), total * 0.0)


def _parse_threshold(raw: str) -> float:
    try:
        value = float(raw)
    except ValueError:
        raise UsageError(f"option --suite-option threshold: {raw!r} is not a number") from None
    if not math.isfinite(value):
        raise UsageError(f"option --suite-option threshold: must be finite, got {raw!r}")
    return value


class ProcessBenchSuite:
    name = "processbench"
    description = (
        "ProcessBench-style first-error identification by a process reward model: accuracy on "
        "erroneous and correct solutions and their F1 (--data: JSONL with problem, steps, label)"
    )
    default_source = ""
    size = None
    sections = ()

    def __init__(self) -> None:
        self.threshold = 0.5
        self.separator = "\n\n"

    def configure(self, extra: Mapping[str, str]) -> None:
        """Apply ``--suite-option`` values; also how a finished run's suite is rebuilt with the
        options its manifest recorded (``rmbench run --compare``, ``rmbench gate``)."""
        unknown = sorted(set(extra) - set(SUITE_OPTIONS))
        if unknown:
            raise UsageError(
                f"option --suite-option {unknown[0]}: suite 'processbench' takes "
                + ", ".join(SUITE_OPTIONS)
            )
        self.threshold = _parse_threshold(extra.get("threshold", "0.5"))
        separator = unescape(extra.get("separator", "\\n\\n"), "separator")
        if not separator:
            raise UsageError("option --suite-option separator: must not be empty")
        self.separator = separator

    def load(self, options: SuiteOptions) -> LoadedSuite:
        self.configure(options.extra)
        separator = self.separator
        if options.data is None:
            raise UsageError(
                "suite 'processbench' needs --data: a JSONL file (or a directory of them, one per "
                "subset) with rows {problem, steps, label}, e.g. ProcessBench's gsm8k.jsonl"
            )
        solutions = list(read_solutions(options.data, options.split, separator))
        if options.subsets:
            present = {s.subset for s in solutions}
            missing = sorted(set(options.subsets) - present)
            if missing:
                raise UsageError(f"option --subset: {missing[0]!r} has no rows in {options.data}")
            solutions = [s for s in solutions if s.subset in options.subsets]
        if options.limit is not None:
            solutions = solutions[: options.limit]
        if not solutions:
            raise DataError(f"{options.data}: no solutions")
        return LoadedSuite(prefix_groups(solutions, separator), RejectionReport(), options.data)

    def sufficient_statistics(self, groups: ResponseGroups, scores: np.ndarray) -> SuiteStatistics:
        """Per solution ``[matched]``, one block per (subset, erroneous or correct); every
        number is a function of the blocks' sums and their (fixed) sizes."""
        offsets = groups.offsets()
        labels = labels_from_gold(groups.gold(), offsets)
        predictions = first_error_predictions(
            np.asarray(scores, np.float64), offsets, self.threshold
        )
        matched = (predictions == labels).astype(np.float64)
        subsets = np.asarray(groups.groups["subset"].to_list(), dtype=object)
        seen = list(dict.fromkeys(subsets.tolist()))
        names = [s for s in KNOWN_SUBSETS if s in seen] + [
            s for s in seen if s not in KNOWN_SUBSETS
        ]
        strata: list[str] = []
        blocks: list[np.ndarray] = []
        column: dict[tuple[str, str], int] = {}
        size: dict[tuple[str, str], int] = {}
        for name in names:
            for kind, mask in ((ERRONEOUS, labels != -1), (CORRECT, labels == -1)):
                rows = (subsets == name) & mask
                if rows.any():
                    column[(name, kind)] = len(blocks)
                    size[(name, kind)] = int(rows.sum())
                    strata.append(f"{name}/{kind}")
                    blocks.append(matched[rows][:, None])
        numbers: list[ReportedNumber] = []
        for name in names:
            counts = {kind: size.get((name, kind), 0) for kind in (ERRONEOUS, CORRECT)}
            n = counts[ERRONEOUS] + counts[CORRECT]
            numbers.append(ReportedNumber("subset", name, "f1", n, counts))
            numbers.append(ReportedNumber("subset", name, "error_accuracy", counts[ERRONEOUS]))
            numbers.append(ReportedNumber("subset", name, "correct_accuracy", counts[CORRECT]))
        n_err = sum(v for (_, kind), v in size.items() if kind == ERRONEOUS)
        n_cor = sum(v for (_, kind), v in size.items() if kind == CORRECT)
        numbers.append(
            ReportedNumber("overall", "overall", "f1", n_err + n_cor, {"mean_over": names})
        )
        numbers.append(ReportedNumber("overall", "overall", "error_accuracy", n_err))
        numbers.append(ReportedNumber("overall", "overall", "correct_accuracy", n_cor))
        numbers.append(ReportedNumber("overall", "overall", "f1_pooled", n_err + n_cor))

        def accuracy(sums: np.ndarray, keys: list[tuple[str, str]]) -> np.ndarray:
            keys = [k for k in keys if k in column]
            if not keys:
                return np.full(sums.shape[:-1], np.nan)
            hits = sum(sums[..., column[k]] for k in keys)
            return np.asarray(hits / sum(size[k] for k in keys), dtype=np.float64)

        def function(sums: np.ndarray) -> np.ndarray:
            sums = np.asarray(sums, dtype=np.float64)
            out: list[np.ndarray] = []
            subset_f1: list[np.ndarray] = []
            for name in names:
                a = accuracy(sums, [(name, ERRONEOUS)])
                b = accuracy(sums, [(name, CORRECT)])
                subset_f1.append(f1(a, b))
                out.extend([subset_f1[-1], a, b])
            a = accuracy(sums, [(name, ERRONEOUS) for name in names])
            b = accuracy(sums, [(name, CORRECT) for name in names])
            out.extend([np.mean(subset_f1, axis=0), a, b, f1(a, b)])
            return np.stack(out, axis=-1)

        notes = [
            f"first error = first step scoring below {self.threshold:g} (-1 if none); candidate "
            "scores must be step scores (prm scorer with -O aggregation=last or min)"
        ]
        undefined = [n for n in names if (n, ERRONEOUS) not in column or (n, CORRECT) not in column]
        if undefined:
            notes.append(
                "F1 is undefined (NaN) for subsets without both erroneous and correct "
                "solutions: " + ", ".join(undefined)
            )
        return SuiteStatistics(tuple(strata), tuple(blocks), tuple(numbers), function, tuple(notes))

    def evaluate(
        self,
        groups: ResponseGroups,
        scores: np.ndarray,
        *,
        n_bootstrap: int,
        seed: int,
        confidence: float,
    ) -> SuiteResult:
        stats = self.sufficient_statistics(groups, scores)
        return stats.result(n_bootstrap=n_bootstrap, seed=seed, confidence=confidence)

    def leaderboard_results(
        self, groups: ResponseGroups, scores: np.ndarray, meta: Mapping[str, Any]
    ) -> None:
        return None
