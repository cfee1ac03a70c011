"""Inputs shared by the tests of the Rust metrics core (``tests/test_core_*.py``).

Every metric is checked against its reference on ragged groups with heavy ties, and every
metric must reject the same malformed inputs with the same message; both live here once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from hypothesis import strategies as st
from numpy.typing import NDArray

Case = tuple[NDArray[Any], NDArray[np.float64], NDArray[np.int64]]


@st.composite
def pooled_groups(
    draw: st.DrawFn,
    dtype: type[np.floating[Any]],
    *,
    max_size: int = 9,
    max_groups: int = 12,
    pool: int = 4,
    score_bounds: tuple[float, float] | None = None,
    one_grade: float = 1.0,
) -> Case:
    """Ragged groups (2..``max_size`` candidates) whose scores mostly come from a pool of at
    most ``pool`` values and whose gold comes from a few grades (hence many ties in both).

    ``score_bounds`` limits the scores (calibration needs margins that ``exp`` can take);
    ``one_grade`` is the grade of the constant-gold case.
    """
    sizes = draw(st.lists(st.integers(2, max_size), max_size=max_groups))
    n = sum(sizes)
    width = 32 if dtype is np.float32 else 64
    if score_bounds is None:
        any_score = st.floats(allow_nan=False, allow_infinity=False, width=width)
    else:
        any_score = st.floats(*score_bounds, width=width)
    score_pool = draw(st.lists(any_score, min_size=1, max_size=pool))
    scores = draw(
        st.lists(st.one_of(st.sampled_from(score_pool), any_score), min_size=n, max_size=n)
    )
    grades = draw(
        st.sampled_from([[0.0, 1.0], [0.0, 0.5, 1.0, 2.0], [-1.5, 0.0, 3.25], [one_grade]])
    )
    gold = draw(st.lists(st.sampled_from(grades), min_size=n, max_size=n))
    offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)
    return np.array(scores, dtype=dtype), np.array(gold, dtype=np.float64), offsets


def assert_close(got: Any, want: Any, atol: float = 1e-9) -> None:
    """Equal shapes, NaN in the same places, and the rest within ``atol``."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    assert got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=0, atol=atol, equal_nan=True)


GOOD_OFFSETS = [0, 2, 4, 6]

#: (scores, gold, offsets, message regex): malformed inputs every grouped metric refuses.
BAD_GROUPED_INPUTS: list[tuple[list[float], list[float], list[int], str]] = [
    (
        [1, 0, 1, 0, 1, np.nan],
        [1, 0, 1, 0, 1, 0],
        GOOD_OFFSETS,
        r"non-finite value NaN in `scores` at group 2, candidate 1 \(flat index 5\)",
    ),
    (
        [1, 0, 1, np.inf, 1, 0],
        [1, 0, 1, 0, 1, 0],
        GOOD_OFFSETS,
        r"non-finite value inf in `scores` at group 1, candidate 1",
    ),
    (
        [1, 0, 1, 0, 1, 0],
        [1, 0, -np.inf, 0, 1, 0],
        GOOD_OFFSETS,
        r"non-finite value -inf in `gold` at group 1, candidate 0",
    ),
    (
        [1, 0, 1, 0, 1, 0],
        [1, 0, 1, 0, 1, 0],
        [0, 4, 1, 6],
        r"non-decreasing, but offsets\[2\] = 1 < offsets\[1\] = 4",
    ),
    ([1, 0, 1, 0], [1, 0, 1, 0], [1, 4], r"must start at 0, got offsets\[0\] = 1"),
    ([1, 0, 1, 0], [1, 0, 1, 0], [0, 2, 3], r"must end at the number of candidates \(4\)"),
    ([1, 0, 1, 0], [1, 0, 1, 0], [], r"`offsets` is empty"),
    ([1, 0, 1, 0, 1], [1, 0, 1, 0, 1], [0, 2, 3, 5], r"group 1 has 1 candidate\(s\)"),
    ([1, 0, 1, 0], [1, 0, 1, 0], [0, 2, 2, 4], r"group 1 has 0 candidate\(s\)"),
    ([1, 0, 1, 0], [1, 0, 1], [0, 2, 4], r"`scores` has 4 elements but `gold` has 3"),
]
