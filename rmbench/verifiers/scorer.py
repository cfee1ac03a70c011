"""The ``verifier`` scorer: a response's score is its verifier's pass rate, no model involved.

``rmbench run --suite custom --data FILE --suite-option reference=answer ... --scorer verifier
-O verifier=math`` scores every response by checking it against its prompt's reference: 1 or 0
for ``math``, the fraction of unit tests passed for ``python-tests``, whatever a plugin's
verifier returns otherwise. The suite must provide a reference per prompt (the runner refuses
one without); statuses other than passed/failed (timeouts, crashes) score what their verdict
says (0, or the tests passed before a timeout) and are counted in ``summary.json``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from rmbench.errors import UsageError
from rmbench.scorers.base import LOCAL_MODEL_OPTIONS, ScoredBatch, ScorerOptions, ScoringItem
from rmbench.verifiers.base import STATUSES, Verifier, VerifyItem
from rmbench.verifiers.pool import default_workers, run_checks

SCORER_NAME = "verifier"
EXTRA_OPTIONS = ("verifier", "timeout", "workers")
DEFAULT_TIMEOUT_S = 10.0
_BATCH = 16  # results committed to the run's cache this many at a time
# Options for models, which a verifier does not have: refused unless left at their defaults.
_MODEL_ONLY = ("model", *LOCAL_MODEL_OPTIONS)


def parse_positive(option: str, text: str, kind: type[int] | type[float]) -> Any:
    """``text`` as a positive int or float, or a UsageError naming ``option``."""
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or not value > 0:
        raise UsageError(f"option {option}: expected a positive number, got {text!r}")
    return value


def verifier_identity(verifier: Verifier, timeout_s: float) -> dict[str, Any]:
    """What determines a verifier's verdicts: written to manifests and gold files."""
    identity: dict[str, Any] = {"verifier": verifier.name, "timeout_s": timeout_s}
    describe = getattr(verifier, "identity", None)
    if callable(describe):
        identity["settings"] = describe()
    return identity


class VerifierScorer:
    """Scores responses with a verifier run in a process pool (see rmbench.verifiers.pool)."""

    needs_reference = True

    def __init__(self, verifier: Verifier, timeout_s: float, workers: int) -> None:
        self.verifier = verifier
        self.timeout_s = timeout_s
        self.workers = workers
        self.statuses: Counter[str] = Counter()
        self.examples: dict[str, str] = {}  # first reason per non-passing status

    def identity(self) -> dict[str, Any]:
        return {"scorer": SCORER_NAME, **verifier_identity(self.verifier, self.timeout_s)}

    def report(self) -> dict[str, Any]:
        return {
            "verifier": self.verifier.name,
            "statuses": {s: self.statuses[s] for s in STATUSES if self.statuses[s]},
            "examples": dict(self.examples),
        }

    def score_batches(self, items: Sequence[ScoringItem]) -> Iterator[ScoredBatch]:
        empty = next((item for item in items if not item.reference.strip()), None)
        if empty is not None:
            raise UsageError(
                f"{empty.ref}: the reference is empty; the verifier has nothing to check"
            )
        checks = [VerifyItem(item.response, item.reference, self.timeout_s) for item in items]
        keys: list[str] = []
        scores: list[float] = []
        for index, verdict in run_checks(self.verifier, checks, workers=self.workers):
            self.statuses[verdict.status] += 1
            if verdict.status != "passed":
                self.examples.setdefault(verdict.status, f"{items[index].ref}: {verdict.reason}")
            keys.append(items[index].key)
            scores.append(verdict.score)
            if len(keys) >= _BATCH:
                yield ScoredBatch(keys, np.array(scores, dtype=np.float64))
                keys, scores = [], []
        if keys:
            yield ScoredBatch(keys, np.array(scores, dtype=np.float64))


class VerifierFactory:
    name = SCORER_NAME
    description = "Pass rate of a verifier (-O verifier=math|python-tests|...) against a reference"

    def create(self, options: ScorerOptions) -> VerifierScorer:
        from rmbench.plugins import get_registry, get_verifier

        options.reject_unknown_extra(SCORER_NAME, EXTRA_OPTIONS)
        options.reject_unused(SCORER_NAME, _MODEL_ONLY, "runs a verifier, not a model")
        name = options.extra.get("verifier")
        if not name:
            available = ", ".join(sorted(get_registry().verifiers)) or "none"
            raise UsageError(
                f"option -O verifier is required by scorer {SCORER_NAME!r} (one of: {available})"
            )
        verifier = get_verifier(name)
        timeout = parse_positive(
            "-O timeout", options.extra.get("timeout", str(DEFAULT_TIMEOUT_S)), float
        )
        workers = parse_positive(
            "-O workers", options.extra.get("workers", str(default_workers())), int
        )
        return VerifierScorer(verifier, timeout, workers)
