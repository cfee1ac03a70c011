"""One reward per response from its step scores.

Step scores are probabilities that a step is correct. Which summary ranks whole solutions best
depends on the PRM and the task, so it is an option:

* ``min`` (default): a solution is as good as its worst step (Math-Shepherd, Lightman et al.);
* ``product``: the probability that every step is correct, if steps erred independently;
* ``last``: the score at the final step, which a PRM trained on prefixes sees as the solution's;
* ``mean``: the average step score.

``min`` and ``last`` give the same first-error predictions on ProcessBench-style suites (the
first prefix whose ``min`` falls below a threshold is the first step that does).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from rmbench.errors import UsageError

AGGREGATIONS: dict[str, Callable[[np.ndarray], float]] = {
    "min": lambda s: float(np.min(s)),
    "product": lambda s: float(np.prod(s)),
    "last": lambda s: float(s[-1]),
    "mean": lambda s: float(np.mean(s)),
}


def parse_aggregation(value: str) -> str:
    if value not in AGGREGATIONS:
        raise UsageError(
            f"option -O aggregation: {value!r} is not one of {', '.join(AGGREGATIONS)}"
        )
    return value


def aggregate(name: str, step_scores: np.ndarray) -> float:
    """The reward of a response with these step scores (float64, at least one step)."""
    return AGGREGATIONS[name](np.asarray(step_scores, dtype=np.float64))
