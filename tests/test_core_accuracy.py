"""Pairwise and best-of-N accuracy from the Rust core, checked against a numpy reference.

The reference below is written independently of the Rust kernels (vectorised sign products
over the full pair matrix), and inputs are drawn from tiny value pools so that ties in the
scores, in the gold signal and in both at once are the common case, not the corner case.
"""

from __future__ import annotations

from itertools import pairwise
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from core_cases import BAD_GROUPED_INPUTS, Case, assert_close, pooled_groups
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray

from rmbench import _core, metrics
from rmbench.metrics import accuracy as metrics_accuracy

SETTINGS = settings(derandomize=True, max_examples=150, deadline=None)


# ---------------------------------------------------------------------------- reference


def ref_pairwise(
    scores: NDArray[Any], gold: NDArray[np.float64], offsets: NDArray[np.int64], tie_credit: float
) -> tuple[NDArray[np.float64], NDArray[np.int64], NDArray[np.int64]]:
    acc, pairs, ties = [], [], []
    for lo, hi in pairwise(offsets):
        s = scores[lo:hi].astype(np.float64)
        y = gold[lo:hi]
        upper = np.triu(np.ones((len(s), len(s)), dtype=bool), k=1)
        with np.errstate(over="ignore"):  # inf differences still have the right sign
            agree = np.sign(s[:, None] - s[None, :]) * np.sign(y[:, None] - y[None, :])
        scored = upper & (y[:, None] != y[None, :])
        tied = scored & (s[:, None] == s[None, :])
        n = int(scored.sum())
        credit = float((scored & (agree > 0)).sum()) + tie_credit * float(tied.sum())
        acc.append(credit / n if n else np.nan)
        pairs.append(n)
        ties.append(int(tied.sum()))
    return np.array(acc, dtype=np.float64), np.array(pairs), np.array(ties)


def ref_best_of_n(
    scores: NDArray[Any], gold: NDArray[np.float64], offsets: NDArray[np.int64]
) -> NDArray[np.float64]:
    out = []
    for lo, hi in pairwise(offsets):
        s, y = scores[lo:hi], gold[lo:hi]
        if y.min() == y.max():
            out.append(np.nan)
            continue
        top, best = s == s.max(), y == y.max()
        out.append((top & best).sum() / top.sum())
    return np.array(out, dtype=np.float64)


# ---------------------------------------------------------------------------- strategies


def grouped_case(dtype: type[np.floating[Any]]) -> st.SearchStrategy[Case]:
    return pooled_groups(dtype)


# ---------------------------------------------------------------------------- properties


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@SETTINGS
@given(data=st.data())
def test_pairwise_matches_reference(dtype: type[np.floating[Any]], data: st.DataObject) -> None:
    scores, gold, offsets = data.draw(grouped_case(dtype))
    tie_credit = data.draw(st.sampled_from([0.0, 0.5, 1.0, 0.3]))
    acc, n_pairs, n_ties = metrics.pairwise_accuracy(scores, gold, offsets, tie_credit)
    want_acc, want_pairs, want_ties = ref_pairwise(scores, gold, offsets, tie_credit)
    assert acc.dtype == np.float64 and n_pairs.dtype == np.int64 and n_ties.dtype == np.int64
    assert_close(acc, want_acc)
    np.testing.assert_array_equal(n_pairs, want_pairs)
    np.testing.assert_array_equal(n_ties, want_ties)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@SETTINGS
@given(data=st.data())
def test_best_of_n_matches_reference(dtype: type[np.floating[Any]], data: st.DataObject) -> None:
    scores, gold, offsets = data.draw(grouped_case(dtype))
    got = metrics.best_of_n_accuracy(scores, gold, offsets)
    assert got.dtype == np.float64
    assert_close(got, ref_best_of_n(scores, gold, offsets))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_large_groups_match_reference(dtype: type[np.floating[Any]]) -> None:
    """Groups above 64 candidates take the sorting kernel; it must count exactly the same."""
    rng = np.random.default_rng(0)
    sizes = rng.integers(2, 400, size=25)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    scores = rng.integers(0, 7, size=offsets[-1]).astype(dtype) / dtype(4)
    gold = rng.integers(0, 3, size=offsets[-1]).astype(np.float64)
    for tie_credit in (0.0, 0.5):
        acc, n_pairs, n_ties = metrics.pairwise_accuracy(scores, gold, offsets, tie_credit)
        want_acc, want_pairs, want_ties = ref_pairwise(scores, gold, offsets, tie_credit)
        assert_close(acc, want_acc)
        np.testing.assert_array_equal(n_pairs, want_pairs)
        np.testing.assert_array_equal(n_ties, want_ties)
    assert_close(
        metrics.best_of_n_accuracy(scores, gold, offsets), ref_best_of_n(scores, gold, offsets)
    )


def test_thread_count_does_not_change_results() -> None:
    rng = np.random.default_rng(1)
    sizes = rng.integers(2, 9, size=5000)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    scores = rng.integers(0, 5, size=offsets[-1]).astype(np.float32)
    gold = rng.integers(0, 2, size=offsets[-1]).astype(np.float64)
    runs = [
        (
            metrics.pairwise_accuracy(scores, gold, offsets, 0.5, threads=t),
            metrics.best_of_n_accuracy(scores, gold, offsets, threads=t),
        )
        for t in (1, 2, 8, None)
    ]
    (acc0, pairs0, ties0), bon0 = runs[0]
    for (acc, pairs, ties), bon in runs[1:]:
        assert acc.tobytes() == acc0.tobytes() and bon.tobytes() == bon0.tobytes()
        np.testing.assert_array_equal(pairs, pairs0)
        np.testing.assert_array_equal(ties, ties0)


# ---------------------------------------------------------------------------- worked examples


def test_hand_worked_examples() -> None:
    # Group 0: chosen above rejected. Group 1: tie. Group 2: one chosen, two rejected, the
    # chosen one beats only one of them. Group 3: constant gold -> no signal.
    scores = [2.0, 1.0, 5.0, 5.0, 0.5, 0.7, 0.1, 1.0, 2.0]
    gold = [1, 0, 1, 0, 1, 0, 0, 1, 1]
    offsets = [0, 2, 4, 7, 9]
    acc, n_pairs, n_ties = metrics.pairwise_accuracy(scores, gold, offsets, tie_credit=0.5)
    np.testing.assert_array_equal(acc[:3], [1.0, 0.5, 0.5])
    assert np.isnan(acc[3])
    np.testing.assert_array_equal(n_pairs, [1, 1, 2, 0])
    np.testing.assert_array_equal(n_ties, [0, 1, 0, 0])
    acc0, _, _ = metrics.pairwise_accuracy(scores, gold, offsets)  # RewardBench 1: ties wrong
    assert acc0[1] == 0.0


@pytest.mark.parametrize(
    ("scores", "gold", "credit"),
    [
        ([0.9, 0.1, 0.5, 0.2], [1, 0, 0, 0], 1.0),  # k = 1, correct
        ([0.9, 0.1, 0.5, 0.2], [0, 1, 0, 0], 0.0),  # k = 1, wrong
        ([1.0, 1.0, 0.0, 0.0], [1, 0, 0, 0], 1 / 2),  # k = 2
        ([2.0, 2.0, 2.0, 1.0], [0, 0, 1, 0], 1 / 3),  # k = 3
        ([2.0, 2.0, 2.0, 1.0], [1, 1, 0, 0], 2 / 3),  # k = 3, two correct among them
        ([2.0, 2.0, 2.0, 1.0], [0, 0, 0, 1], 0.0),  # k = 3, correct one not at the top
        ([0.1, 0.3, 0.2, 0.0], [0.2, 0.9, 0.9, 0.1], 1.0),  # graded gold
    ],
)
def test_best_of_n_credit(scores: list[float], gold: list[float], credit: float) -> None:
    got = metrics.best_of_n_accuracy(scores, gold, [0, len(scores)])
    assert got.shape == (1,)
    assert got[0] == pytest.approx(credit, abs=1e-15)


def test_best_of_n_constant_gold_is_nan() -> None:
    assert np.isnan(metrics.best_of_n_accuracy([0.3, 0.1, 0.2], [1, 1, 1], [0, 3])[0])


def test_no_groups() -> None:
    acc, n_pairs, n_ties = metrics.pairwise_accuracy([], [], [0])
    assert acc.shape == n_pairs.shape == n_ties.shape == (0,)
    assert metrics.best_of_n_accuracy([], [], [0]).shape == (0,)


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("scores", "gold", "offsets", "match"), BAD_GROUPED_INPUTS)
@pytest.mark.parametrize("metric", ["pairwise", "best_of_n"])
def test_bad_inputs_name_the_offender(
    scores: list[float], gold: list[float], offsets: list[int], match: str, metric: str
) -> None:
    for dtype in (np.float32, np.float64):
        s = np.array(scores, dtype=dtype)
        with pytest.raises(ValueError, match=match):
            if metric == "pairwise":
                metrics.pairwise_accuracy(s, gold, offsets)
            else:
                metrics.best_of_n_accuracy(s, gold, offsets)


@pytest.mark.parametrize("tie_credit", [-0.1, 1.5, float("nan")])
def test_tie_credit_out_of_range(tie_credit: float) -> None:
    with pytest.raises(ValueError, match=r"bad parameter `tie_credit`: must lie in \[0, 1\]"):
        metrics.pairwise_accuracy([1, 0], [1, 0], [0, 2], tie_credit=tie_credit)


def test_bad_threads() -> None:
    with pytest.raises(ValueError, match=r"`threads`: must be at least 1, got 0"):
        metrics.best_of_n_accuracy([1, 0], [1, 0], [0, 2], threads=0)
    with pytest.raises(ValueError, match=r"`threads` must be non-negative, got -2"):
        metrics.pairwise_accuracy([1, 0], [1, 0], [0, 2], threads=-2)


def test_core_rejects_wrong_dtypes_naming_them() -> None:
    gold, offsets = np.array([1.0, 0.0]), np.array([0, 2], dtype=np.int64)
    for dtype in (np.int64, np.float16, np.bool_):
        scores = np.array([1, 0], dtype=dtype)
        with pytest.raises(
            ValueError,
            match=rf"`scores` must have dtype float32 or float64, got dtype {scores.dtype}",
        ):
            _core.pairwise_accuracy(scores, gold, offsets)
    with pytest.raises(ValueError, match=r"`gold` must have dtype float64, got dtype float32"):
        _core.best_of_n_accuracy(gold, gold.astype(np.float32), offsets)
    with pytest.raises(ValueError, match=r"`offsets` must have dtype int64, got dtype int32"):
        _core.best_of_n_accuracy(gold, gold, offsets.astype(np.int32))
    with pytest.raises(ValueError, match=r"`scores` must be 1-D, got shape \[1, 2\]"):
        _core.pairwise_accuracy(gold.reshape(1, 2), gold, offsets)
    with pytest.raises(TypeError, match=r"`scores` must be a numpy.ndarray, got list"):
        _core.pairwise_accuracy([1.0, 0.0], gold, offsets)


def test_metrics_rejects_non_real_dtypes() -> None:
    with pytest.raises(ValueError, match=r"`scores` must hold real numbers, got dtype complex128"):
        metrics.pairwise_accuracy(np.array([1 + 1j, 0]), [1, 0], [0, 2])
    with pytest.raises(ValueError, match=r"`gold` must hold real numbers, got dtype <U1"):
        metrics.best_of_n_accuracy([1.0, 0.0], ["a", "b"], [0, 2])
    with pytest.raises(ValueError, match=r"`offsets` must hold integers, got dtype float64"):
        metrics.best_of_n_accuracy([1.0, 0.0], [1, 0], [0.0, 2.0])


# ---------------------------------------------------------------------------- zero copy


def test_core_borrows_contiguous_only_metrics_converts() -> None:
    base = np.array([3.0, 9.0, 1.0, 9.0, 2.0, 9.0, 0.0, 9.0])
    strided = base[::2]  # [3, 1, 2, 0]: a view, not C-contiguous
    gold, offsets = np.array([1.0, 0.0, 0.0, 1.0]), np.array([0, 2, 4], dtype=np.int64)
    with pytest.raises(ValueError, match=r"`scores` must be C-contiguous"):
        _core.pairwise_accuracy(strided, gold, offsets)
    got = metrics.pairwise_accuracy(strided, gold, offsets)
    want = _core.pairwise_accuracy(np.ascontiguousarray(strided), gold, offsets)
    for g, w in zip(got, want, strict=True):
        np.testing.assert_array_equal(g, w)
    np.testing.assert_array_equal(got[0], [1.0, 0.0])


def test_metrics_passes_fitting_arrays_through_uncopied(monkeypatch: pytest.MonkeyPatch) -> None:
    """float32 scores stay float32, and arrays that already fit reach the core as the same buffer."""
    seen: dict[str, Any] = {}

    def spy(scores: Any, gold: Any, offsets: Any, *args: Any) -> Any:
        seen.update(scores=scores, gold=gold, offsets=offsets)
        return _core.pairwise_accuracy(scores, gold, offsets, *args)

    monkeypatch.setattr(metrics_accuracy, "_core", SimpleNamespace(pairwise_accuracy=spy))
    scores = np.array([0.5, 0.25], dtype=np.float32)
    gold = np.array([1.0, 0.0])
    offsets = np.array([0, 2], dtype=np.int64)
    acc, _, _ = metrics.pairwise_accuracy(scores, gold, offsets)
    assert acc[0] == 1.0
    assert seen["scores"].dtype == np.float32
    assert np.shares_memory(seen["scores"], scores)
    assert np.shares_memory(seen["gold"], gold)
    assert np.shares_memory(seen["offsets"], offsets)


def test_read_only_inputs_are_borrowed() -> None:
    """Arrays exported from Arrow / polars are often read-only; borrowing them must work."""
    scores = np.frombuffer(np.array([0.2, 0.9, 0.4, 0.1]).tobytes())
    gold = np.frombuffer(np.array([0.0, 1.0, 1.0, 0.0]).tobytes())
    offsets = np.frombuffer(np.array([0, 2, 4], dtype=np.int64).tobytes(), dtype=np.int64)
    assert not scores.flags.writeable
    acc, _, _ = _core.pairwise_accuracy(scores, gold, offsets)
    np.testing.assert_array_equal(acc, [1.0, 1.0])
    np.testing.assert_array_equal(_core.best_of_n_accuracy(scores, gold, offsets), [1.0, 1.0])
