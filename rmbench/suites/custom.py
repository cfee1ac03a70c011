"""``--suite custom``: the user's own data, its column mapping given on the command line.

For a one-off evaluation no file is needed::

    rmbench run --suite custom --data ratings.jsonl --model my-rm \
        --suite-option prompt=question --suite-option responses=answers \
        --suite-option gold=likert

Options are the roles of :data:`rmbench.data.mapping.ROLES` (``prompt``, ``chosen``,
``rejected``, ``responses``, ``gold``, ``id``, ``subset``, and ``reference``: the gold answer
or unit tests that ``--scorer verifier`` checks each response against), plus ``format`` (a row format, when
no columns are mapped), ``gold_kind`` (``graded`` or ``best_of_n`` for ``responses``/``gold``),
``metric`` and ``tie_credit``. Each subset is scored by the metric (pairwise accuracy by
default) and the overall score is the mean over prompts; graded sets also get the metrics
core's full table. The options become a suite definition, validated exactly like a file, so
what can be said on the command line and in a file is the same.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rmbench.data.mapping import ROLES
from rmbench.data.model import ResponseGroups
from rmbench.errors import UsageError
from rmbench.suites.base import LoadedSuite, SuiteOptions, SuiteResult
from rmbench.suites.declarative import DeclarativeSuite
from rmbench.suites.definition import SuiteDefinition, parse_definition
from rmbench.suites.statistics import SuiteStatistics

SETTINGS = ("format", "gold_kind", "metric", "tie_credit")
ORIGIN = Path("--suite-option")


def definition_document(options: Mapping[str, str]) -> dict[str, Any]:
    """The TOML document equivalent to these ``--suite-option`` pairs."""
    unknown = [k for k in options if k not in ROLES and k not in SETTINGS]
    if unknown:
        raise UsageError(
            f"option --suite-option {unknown[0]}: suite 'custom' takes "
            + ", ".join([*ROLES, *SETTINGS])
        )
    data: dict[str, Any] = {"columns": {k: v for k, v in options.items() if k in ROLES}}
    if not data["columns"]:
        del data["columns"]
        data["format"] = options.get("format", "auto")
    elif "format" in options:
        raise UsageError("option --suite-option format: map columns or name a format, not both")
    if "gold_kind" in options:
        data["gold_kind"] = options["gold_kind"]
    scoring: dict[str, Any] = {}
    if "metric" in options:
        scoring["metric"] = options["metric"]
    if "tie_credit" in options:
        try:
            scoring["tie_credit"] = float(options["tie_credit"])
        except ValueError:
            raise UsageError("option --suite-option tie_credit: expected a number") from None
    return {
        "suite": {"name": "custom", "description": "your data, columns mapped on the command line"},
        "data": data,
        "scoring": scoring,
        "overall": {"over": "subsets", "weights": "rows"},
    }


class CustomSuite:
    """Your own JSONL / Parquet / CSV / ``datasets`` source, mapped with ``--suite-option``."""

    name = "custom"
    description = "Your data (--data) with a column mapping (--suite-option ROLE=COLUMN)"
    default_source = ""
    size = None
    sections = ()

    def __init__(self) -> None:
        self._suite = self._build({})

    @staticmethod
    def _build(options: Mapping[str, str]) -> DeclarativeSuite:
        return DeclarativeSuite(parse_definition(ORIGIN, definition_document(options)))

    def load(self, options: SuiteOptions) -> LoadedSuite:
        if options.data is None:
            raise UsageError("suite 'custom' needs --data (a file, directory or hub id)")
        # The mapping decides the scoring rule too, so the suite used by evaluate is rebuilt here.
        self._suite = self._build(dict(options.extra))
        return self._suite.load(SuiteOptions(**{**options.__dict__, "extra": {}}))

    def evaluate(
        self,
        groups: ResponseGroups,
        scores: np.ndarray,
        *,
        n_bootstrap: int,
        seed: int,
        confidence: float,
    ) -> SuiteResult:
        return self._suite.evaluate(
            groups, scores, n_bootstrap=n_bootstrap, seed=seed, confidence=confidence
        )

    def sufficient_statistics(self, groups: ResponseGroups, scores: np.ndarray) -> SuiteStatistics:
        return self._suite.sufficient_statistics(groups, scores)

    @property
    def definition(self) -> SuiteDefinition:
        """The definition the last :meth:`load` built from ``--suite-option`` (recorded in the
        run's manifest, so a run can be re-read without its command line)."""
        return self._suite.definition

    def leaderboard_results(
        self, groups: ResponseGroups, scores: np.ndarray, meta: Mapping[str, Any]
    ) -> None:
        return None
