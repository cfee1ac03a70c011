"""Per-group correlations (Pearson, Spearman, Kendall tau-b, Chatterjee xi), MRR and NDCG from the
Rust core, checked group by group against scipy / scikit-learn and a brute-force MRR.

Inputs are small integer-valued scores and gold from tiny pools, so ties in the scores, in gold
and in both at once are the common case. Where a reference is undefined (constant input: it
returns NaN, warns or returns a placeholder) the core must return NaN.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from core_cases import BAD_GROUPED_INPUTS
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy import stats
from sklearn.metrics import ndcg_score

from rmbench import _core, metrics

SETTINGS = settings(derandomize=True, max_examples=40, deadline=None)

Case = tuple[NDArray[Any], NDArray[np.float64], NDArray[np.int64]]
Reference = Callable[[NDArray[np.float64], NDArray[np.float64]], float]

# ---------------------------------------------------------------------------- references


def _constant(v: NDArray[Any]) -> bool:
    return bool(np.all(v == v[0]))


def _quiet(fn: Callable[[], Any]) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # scipy warns on constant input
        return float(fn())


def ref_pearson(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    if _constant(x) or _constant(y):
        return np.nan
    return _quiet(lambda: stats.pearsonr(x, y).statistic)


def ref_spearman(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    if _constant(x) or _constant(y):
        return np.nan
    return _quiet(lambda: stats.spearmanr(x, y).statistic)


def ref_kendall(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    if _constant(x) or _constant(y):
        return np.nan
    return _quiet(lambda: stats.kendalltau(x, y, variant="b").statistic)


def ref_chatterjee(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    """scipy's xi with its default ``y_continuous=False``; x must be tie-free."""
    assert len(np.unique(x)) == len(x)
    if _constant(y):
        return np.nan
    return _quiet(lambda: stats.chatterjeexi(x, y).statistic)


def ref_mrr(x: NDArray[np.float64], y: NDArray[np.float64]) -> float:
    if _constant(y):
        return np.nan
    picks = np.flatnonzero(x == x.max())
    return float(np.mean([1.0 / (1 + np.sum(y > y[i])) for i in picks]))


def ref_ndcg(x: NDArray[np.float64], y: NDArray[np.float64], k: int | None = None) -> float:
    """sklearn's tie-averaged NDCG on the shifted gold ``gain = gold - min(gold)``."""
    if _constant(y):
        return np.nan  # sklearn returns 0 when the ideal DCG is 0; the core says "undefined"
    return float(ndcg_score([y - y.min()], [x], k=k, ignore_ties=False))


def per_group(ref: Reference, scores: NDArray[Any], gold: NDArray[np.float64], offsets: Any) -> Any:
    x64 = scores.astype(np.float64)  # exact for float32
    return np.array([ref(x64[lo:hi], gold[lo:hi]) for lo, hi in pairwise(offsets)], dtype=float)


# ---------------------------------------------------------------------------- strategies


@st.composite
def grouped_case(
    draw: st.DrawFn, dtype: type[np.floating[Any]], max_size: int = 10, tie_free_x: bool = False
) -> Case:
    """Ragged groups of small integer-valued scores and gold (hence many ties)."""
    sizes = draw(st.lists(st.integers(2, max_size), max_size=10))
    scores: list[float] = []
    gold: list[float] = []
    for n in sizes:
        if tie_free_x:
            scores += draw(st.lists(st.integers(-40, 40), min_size=n, max_size=n, unique=True))
        else:
            levels = draw(st.integers(1, 6))
            scores += draw(st.lists(st.integers(0, levels - 1), min_size=n, max_size=n))
        grades = draw(st.sampled_from([[0, 1], [0, 1, 2, 3], [-2, 0, 5], [1]]))
        gold += draw(st.lists(st.sampled_from(grades), min_size=n, max_size=n))
    offsets = np.concatenate([[0], np.cumsum(sizes, dtype=np.int64)]).astype(np.int64)
    scale = dtype(0.5)  # non-integer but exactly representable values
    return (
        np.array(scores, dtype=dtype) * scale,
        np.array(gold, dtype=np.float64),
        offsets,
    )


def assert_close(got: NDArray[np.float64], want: NDArray[np.float64]) -> None:
    assert got.dtype == np.float64 and got.shape == want.shape
    np.testing.assert_array_equal(np.isnan(got), np.isnan(want))
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9, equal_nan=True)


DTYPES = [np.float32, np.float64]

SYMMETRIC = [
    (metrics.pearson, ref_pearson),
    (metrics.spearman, ref_spearman),
    (metrics.kendall_tau_b, ref_kendall),
    (metrics.mrr, ref_mrr),
    (metrics.ndcg, ref_ndcg),
]

# ---------------------------------------------------------------------------- properties


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize(("metric", "ref"), SYMMETRIC, ids=lambda v: getattr(v, "__name__", ""))
@SETTINGS
@given(data=st.data())
def test_matches_reference_on_tied_groups(
    dtype: type[np.floating[Any]], metric: Any, ref: Reference, data: st.DataObject
) -> None:
    scores, gold, offsets = data.draw(grouped_case(dtype))
    assert_close(metric(scores, gold, offsets), per_group(ref, scores, gold, offsets))


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(data=st.data())
def test_chatterjee_matches_scipy_on_tie_free_scores(
    dtype: type[np.floating[Any]], data: st.DataObject
) -> None:
    scores, gold, offsets = data.draw(grouped_case(dtype, max_size=30, tie_free_x=True))
    got = metrics.chatterjee_xi(scores, gold, offsets)
    assert_close(got, per_group(ref_chatterjee, scores, gold, offsets))


@pytest.mark.parametrize("dtype", DTYPES)
@SETTINGS
@given(data=st.data())
def test_ndcg_cutoff_matches_sklearn(dtype: type[np.floating[Any]], data: st.DataObject) -> None:
    scores, gold, offsets = data.draw(grouped_case(dtype))
    k = data.draw(st.integers(1, 12))
    got = metrics.ndcg(scores, gold, offsets, k=k)
    assert_close(got, per_group(lambda x, y: ref_ndcg(x, y, k), scores, gold, offsets))


def _large_case(dtype: type[np.floating[Any]], seed: int) -> Case:
    """Groups from 2 to 300 candidates: every kernel's direct and sorting paths run."""
    rng = np.random.default_rng(seed)
    sizes = np.concatenate([rng.integers(2, 300, size=20), [2, 13, 45, 81, 200]])
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    scores = rng.integers(0, 9, size=offsets[-1]).astype(dtype) / dtype(4)
    gold = rng.integers(0, 4, size=offsets[-1]).astype(np.float64)
    scores[offsets[3] : offsets[4]] = 1.0  # a fully tied group (every candidate at the top)
    gold[offsets[5] : offsets[6]] = 2.0  # a constant-gold group
    return scores, gold, offsets


@pytest.mark.parametrize("dtype", DTYPES)
def test_large_groups_match_reference(dtype: type[np.floating[Any]]) -> None:
    scores, gold, offsets = _large_case(dtype, 0)
    for metric, ref in SYMMETRIC:
        assert_close(metric(scores, gold, offsets), per_group(ref, scores, gold, offsets))
    for k in (1, 5, 40):
        got = metrics.ndcg(scores, gold, offsets, k=k)
        assert_close(got, per_group(lambda x, y, k=k: ref_ndcg(x, y, k), scores, gold, offsets))
    # Tie-free scores for xi: a permutation per group.
    rng = np.random.default_rng(1)
    distinct = np.concatenate([rng.permutation(hi - lo) for lo, hi in pairwise(offsets)])
    distinct = distinct.astype(dtype)
    got = metrics.chatterjee_xi(distinct, gold, offsets)
    assert_close(got, per_group(ref_chatterjee, distinct, gold, offsets))


ALL = [
    lambda *a, **kw: metrics.pearson(*a, **kw),
    lambda *a, **kw: metrics.spearman(*a, **kw),
    lambda *a, **kw: metrics.kendall_tau_b(*a, **kw),
    lambda *a, **kw: metrics.chatterjee_xi(*a, **kw),
    lambda *a, **kw: metrics.mrr(*a, **kw),
    lambda *a, **kw: metrics.ndcg(*a, **kw),
    lambda *a, **kw: metrics.ndcg(*a, k=3, **kw),
]
ALL_IDS = ["pearson", "spearman", "kendall_tau_b", "chatterjee_xi", "mrr", "ndcg", "ndcg@3"]


@pytest.mark.parametrize("metric", ALL, ids=ALL_IDS)
def test_thread_count_does_not_change_results(metric: Any) -> None:
    rng = np.random.default_rng(2)
    sizes = rng.integers(2, 70, size=4000)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    scores = rng.integers(0, 6, size=offsets[-1]).astype(np.float32)
    gold = rng.integers(0, 3, size=offsets[-1]).astype(np.float64)
    base = metric(scores, gold, offsets, threads=1)
    assert base.shape == (len(sizes),)
    for threads in (2, 8, None):
        assert metric(scores, gold, offsets, threads=threads).tobytes() == base.tobytes()


# ---------------------------------------------------------------------------- worked examples


def test_hand_worked_examples() -> None:
    # Group 0: x has one tie. Group 1: perfect but non-linear. Group 2: constant gold.
    scores = [1.0, 2.0, 2.0, 3.0, 1.0, 10.0, 100.0, 0.3, 0.1]
    gold = [1.0, 2.0, 3.0, 4.0, 0.1, 0.2, 0.9, 1.0, 1.0]
    offsets = [0, 4, 7, 9]
    tau = metrics.kendall_tau_b(scores, gold, offsets)
    np.testing.assert_allclose(tau[:2], [5 / np.sqrt(30), 1.0], rtol=0, atol=1e-15)
    rho = metrics.spearman(scores, gold, offsets)
    np.testing.assert_allclose(rho[:2], [4.5 / np.sqrt(22.5), 1.0], rtol=0, atol=1e-15)
    assert metrics.pearson(scores, gold, offsets)[1] < 1.0
    for metric in (metrics.pearson, metrics.spearman, metrics.kendall_tau_b, metrics.mrr):
        assert np.isnan(metric(scores, gold, offsets)[2])
    assert np.isnan(metrics.chatterjee_xi(scores, gold, offsets)[2])
    assert np.isnan(metrics.ndcg(scores, gold, offsets)[2])


def test_two_candidates_give_exactly_plus_minus_one() -> None:
    got = metrics.pearson([0.1, 0.3, 0.3, 0.1], [5.0, 7.0, 5.0, 7.0], [0, 2, 4])
    np.testing.assert_array_equal(got, [1.0, -1.0])


def test_chatterjee_breaks_score_ties_by_position() -> None:
    # Scores tie on the first two candidates; listing them in the other order changes xi.
    np.testing.assert_array_equal(
        metrics.chatterjee_xi([1.0, 1.0, 2.0, 1.0, 1.0, 2.0], [0, 1, 1, 1, 0, 1], [0, 3, 6]),
        [0.25, -0.5],
    )
    # Not symmetric: gold = x**2 is a function of x, x is not a function of gold.
    x = np.array([-2.0, -1.0, 0.0, 1.0, 2.0])
    forward = metrics.chatterjee_xi(x, x**2, [0, 5])[0]
    backward = metrics.chatterjee_xi(x**2, x, [0, 5])[0]
    assert forward > backward


def test_mrr_ties_at_the_top_are_averaged() -> None:
    # Two candidates tie for the top score with gold ranks 1 and 2 -> (1 + 1/2) / 2.
    assert metrics.mrr([2.0, 2.0, 1.0], [1, 0, 0], [0, 3])[0] == 0.75
    # A pick tied for the best gold value has rank 1.
    assert metrics.mrr([0.0, 1.0, 0.5], [1, 1, 0], [0, 3])[0] == 1.0


def test_ndcg_shifts_gold_and_k_at_least_n_is_no_cutoff() -> None:
    scores, offsets = [0.3, 0.1, 0.2, 0.2], [0, 4]
    shifted = metrics.ndcg(scores, [-1.0, 0.0, -2.0, 0.0], offsets)
    np.testing.assert_array_equal(shifted, metrics.ndcg(scores, [1.0, 2.0, 0.0, 2.0], offsets))
    for k in (4, 5, 1000):
        np.testing.assert_array_equal(metrics.ndcg(scores, [1, 2, 0, 2], offsets, k=k), shifted)


def test_no_groups() -> None:
    for metric in ALL:
        assert metric([], [], [0]).shape == (0,)


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(("scores", "gold", "offsets", "match"), BAD_GROUPED_INPUTS)
@pytest.mark.parametrize("metric", ALL, ids=ALL_IDS)
def test_bad_inputs_name_the_offender(
    scores: list[float], gold: list[float], offsets: list[int], match: str, metric: Any
) -> None:
    for dtype in DTYPES:
        with pytest.raises(ValueError, match=match):
            metric(np.array(scores, dtype=dtype), gold, offsets)


def test_bad_parameters() -> None:
    with pytest.raises(ValueError, match=r"bad parameter `k`: must be at least 1"):
        metrics.ndcg([1, 0], [1, 0], [0, 2], k=0)
    with pytest.raises(ValueError, match=r"`k` must be non-negative, got -1"):
        metrics.ndcg([1, 0], [1, 0], [0, 2], k=-1)
    with pytest.raises(TypeError):
        metrics.ndcg([1, 0], [1, 0], [0, 2], k=1.5)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"`threads`: must be at least 1, got 0"):
        metrics.spearman([1, 0], [1, 0], [0, 2], threads=0)
    with pytest.raises(ValueError, match=r"`threads` must be non-negative, got -2"):
        metrics.chatterjee_xi([1, 0], [1, 0], [0, 2], threads=-2)


def test_core_rejects_wrong_dtypes_and_layouts() -> None:
    gold, offsets = np.array([1.0, 0.0, 0.5]), np.array([0, 3], dtype=np.int64)
    with pytest.raises(ValueError, match=r"`scores` must have dtype float32 or float64"):
        _core.kendall_tau_b(np.array([1, 0, 2]), gold, offsets)
    with pytest.raises(ValueError, match=r"`gold` must have dtype float64, got dtype float32"):
        _core.mrr(gold, gold.astype(np.float32), offsets)
    with pytest.raises(ValueError, match=r"`offsets` must have dtype int64, got dtype int32"):
        _core.ndcg(gold, gold, offsets.astype(np.int32))
    with pytest.raises(ValueError, match=r"`scores` must be C-contiguous"):
        _core.pearson(np.arange(6.0)[::2], gold, offsets)
    with pytest.raises(TypeError, match=r"`scores` must be a numpy.ndarray, got list"):
        _core.spearman([1.0, 0.0, 2.0], gold, offsets)
    # rmbench.metrics converts the same strided view instead.
    got = metrics.pearson(np.arange(6.0)[::2], gold, offsets)
    np.testing.assert_array_equal(got, _core.pearson(np.array([0.0, 2.0, 4.0]), gold, offsets))
