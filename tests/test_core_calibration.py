"""Pairwise calibration from the Rust core, checked against independent references.

Streaming statistics are compared with a numpy reference that enumerates every pair of every
group (orientation, bins, Brier and clipped log loss written out directly), the isotonic fit
with ``sklearn.isotonic.IsotonicRegression`` (fitted values, knots and ``predict`` on new points)
and temperature scaling with ``scipy.optimize.minimize_scalar``. Scores and gold come from tiny
pools so that ties are the common case.
"""

from __future__ import annotations

import math
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from core_cases import Case, assert_close, pooled_groups
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy import optimize
from sklearn.isotonic import IsotonicRegression

from rmbench import _core, metrics
from rmbench.metrics import calibration as cal

SETTINGS = settings(derandomize=True, max_examples=80, deadline=None)
EPS = np.finfo(np.float64).eps


# ---------------------------------------------------------------------------- references


def ref_pairs(
    scores: NDArray[Any], gold: NDArray[np.float64], offsets: NDArray[np.int64]
) -> tuple[NDArray[np.int64], NDArray[np.int64], NDArray[np.float64], NDArray[np.float64]]:
    """Every pair i < j with differing gold, oriented by the proxy (ties: i first)."""
    first, second, margin, outcome = [], [], [], []
    for lo, hi in pairwise(offsets):
        for i in range(lo, hi):
            for j in range(i + 1, hi):
                if gold[i] == gold[j]:
                    continue
                si, sj = float(scores[i]), float(scores[j])
                a, b = (i, j) if si >= sj else (j, i)
                first.append(a)
                second.append(b)
                margin.append(abs(si - sj))
                # a proxy tie is right half the time, whatever the listing order
                outcome.append(0.5 if si == sj else 1.0 if gold[a] > gold[b] else 0.0)
    return (
        np.array(first, dtype=np.int64),
        np.array(second, dtype=np.int64),
        np.array(margin, dtype=np.float64),
        np.array(outcome, dtype=np.float64),
    )


def ref_row(
    margin: NDArray[np.float64], y: NDArray[np.float64], n_bins: int
) -> NDArray[np.float64]:
    """One statistics row from explicit pairs."""
    with np.errstate(over="ignore"):
        p = 1.0 / (1.0 + np.exp(-margin))
    nll = np.where(y == 1.0, np.logaddexp(0.0, -margin), np.logaddexp(0.0, margin))
    nll = np.clip(nll, -np.log1p(-EPS), -np.log(EPS))
    bins = np.minimum(np.floor((p - 0.5) * (2 * n_bins)), n_bins - 1).astype(np.int64)
    row = np.zeros(3 + 3 * n_bins)
    row[0] = len(margin)
    row[1] = np.sum(np.where(margin == 0.0, 0.25, (p - y) ** 2))  # expected Brier of a tie
    row[2] = np.sum(nll)
    row[3 : 3 + n_bins] = np.bincount(bins, minlength=n_bins)
    row[3 + n_bins : 3 + 2 * n_bins] = np.bincount(bins, weights=p, minlength=n_bins)
    row[3 + 2 * n_bins :] = np.bincount(bins, weights=y, minlength=n_bins)
    return row


def ref_stats(
    scores: NDArray[Any], gold: NDArray[np.float64], offsets: NDArray[np.int64], n_bins: int
) -> NDArray[np.float64]:
    rows = []
    for lo, hi in pairwise(offsets):
        _, _, m, y = ref_pairs(scores[lo:hi], gold[lo:hi], np.array([0, hi - lo]))
        rows.append(ref_row(m, y, n_bins))
    return np.array(rows).reshape(len(offsets) - 1, 3 + 3 * n_bins)


def mean_nll(margin: NDArray[np.float64], y: NDArray[np.float64], w: float) -> float:
    z = w * margin
    return float(np.mean(y * np.logaddexp(0.0, -z) + (1.0 - y) * np.logaddexp(0.0, z)))


# ---------------------------------------------------------------------------- strategies


def grouped_case(dtype: type[np.floating[Any]]) -> st.SearchStrategy[Case]:
    return pooled_groups(dtype, max_groups=10, score_bounds=(-50.0, 50.0))


# ---------------------------------------------------------------------------- statistics


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@SETTINGS
@given(data=st.data())
def test_stats_and_summary_match_reference(
    dtype: type[np.floating[Any]], data: st.DataObject
) -> None:
    scores, gold, offsets = data.draw(grouped_case(dtype))
    n_bins = data.draw(st.sampled_from([1, 3, 10]))
    stats = metrics.calibration_stats(scores, gold, offsets, n_bins=n_bins)
    assert stats.dtype == np.float64 and stats.shape == (len(offsets) - 1, 3 + 3 * n_bins)
    want = ref_stats(scores, gold, offsets, n_bins)
    np.testing.assert_array_equal(stats[:, 0], want[:, 0])
    np.testing.assert_array_equal(stats[:, 3 : 3 + n_bins], want[:, 3 : 3 + n_bins])
    assert_close(stats, want)

    _, _, m, y = ref_pairs(scores, gold, offsets)
    s = metrics.pairwise_calibration(scores, gold, offsets, n_bins=n_bins)
    if len(m) == 0:
        assert s.n_pairs == 0 and math.isnan(s.ece) and math.isnan(s.brier)
        return
    p = 1.0 / (1.0 + np.exp(-m))
    bins = np.minimum(np.floor((p - 0.5) * (2 * n_bins)), n_bins - 1).astype(int)
    ece = sum(
        (bins == b).sum() / len(m) * abs(y[bins == b].mean() - p[bins == b].mean())
        for b in range(n_bins)
        if (bins == b).any()
    )
    assert s.n_pairs == len(m)
    assert s.ece == pytest.approx(ece, abs=1e-9)
    brier = np.where(m == 0, 0.25, (p - y) ** 2)  # a tie's expected Brier over both orders
    assert s.brier == pytest.approx(np.mean(brier), abs=1e-9)
    ll = np.clip(np.where(y == 1, np.logaddexp(0, -m), np.logaddexp(0, m)), EPS, -np.log(EPS))
    assert s.log_loss == pytest.approx(ll.mean(), abs=1e-9)
    assert s.accuracy == pytest.approx(y.mean(), abs=1e-12)
    assert s.confidence == pytest.approx(p.mean(), abs=1e-9)
    np.testing.assert_array_equal(s.bin_edges, np.linspace(0.5, 1.0, n_bins + 1))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@SETTINGS
@given(data=st.data())
def test_pairs_match_reference(dtype: type[np.floating[Any]], data: st.DataObject) -> None:
    scores, gold, offsets = data.draw(grouped_case(dtype))
    pairs = metrics.calibration_pairs(scores, gold, offsets)
    first, second, margin, outcome = ref_pairs(scores, gold, offsets)
    np.testing.assert_array_equal(pairs.first, first)
    np.testing.assert_array_equal(pairs.second, second)
    np.testing.assert_array_equal(pairs.margin, margin)
    np.testing.assert_array_equal(pairs.outcome, outcome)
    assert pairs.n_total == pairs.n_used == len(margin) and not pairs.sampled
    if len(margin) > 2:
        cap = data.draw(st.integers(1, len(margin) - 1))
        seed = data.draw(st.integers(0, 2**64 - 1))
        sample = metrics.calibration_pairs(scores, gold, offsets, max_pairs=cap, seed=seed)
        assert sample.n_used == cap and sample.n_total == len(margin) and sample.sampled

        # A subset of the full list, kept in canonical order without repeats.
        def key(a: NDArray[np.int64], b: NDArray[np.int64]) -> NDArray[np.int64]:
            return np.minimum(a, b) * (len(scores) + 1) + np.maximum(a, b)

        pos = np.searchsorted(key(first, second), key(sample.first, sample.second))
        assert np.all(np.diff(pos) > 0)
        np.testing.assert_array_equal(margin[pos], sample.margin)
        np.testing.assert_array_equal(outcome[pos], sample.outcome)


def test_hand_worked_calibration() -> None:
    # Scores 2, 1, 1 with gold 1, 0, 1: pair (0,1) margin 1, y = 1; (0,2) equal gold, skipped;
    # (1,2) a proxy tie: p = 0.5, right half the time (y = 0.5) whatever the order.
    s = metrics.pairwise_calibration([2.0, 1.0, 1.0], [1, 0, 1], [0, 3], n_bins=2)
    p = 1 / (1 + math.exp(-1))
    assert s.n_pairs == 2
    np.testing.assert_array_equal(s.bin_count, [2, 0])
    assert s.ece == pytest.approx(abs(1.5 - (p + 0.5)) / 2, abs=1e-15)
    assert s.brier == pytest.approx(((1 - p) ** 2 + 0.25) / 2, abs=1e-15)
    assert s.log_loss == pytest.approx((-math.log(p) + math.log(2)) / 2, abs=1e-15)
    assert s.accuracy == 0.75
    swapped = metrics.pairwise_calibration([2.0, 1.0, 1.0], [1, 1, 0], [0, 3], n_bins=2)
    assert swapped.ece == s.ece and swapped.accuracy == s.accuracy


def test_rows_add_up_for_bootstrap() -> None:
    rng = np.random.default_rng(0)
    sizes = rng.integers(2, 12, size=200)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    scores = rng.normal(size=offsets[-1]).astype(np.float32)
    gold = rng.integers(0, 3, size=offsets[-1]).astype(np.float64)
    stats = metrics.calibration_stats(scores, gold, offsets)
    draws = rng.integers(0, 200, size=(5, 200))
    counts = np.stack([np.bincount(d, minlength=200) for d in draws]).astype(np.float64)
    many = metrics.calibration_summaries(counts @ stats)
    assert many.ece.shape == (5,) and many.bin_count.shape == (5, 10)
    for r, d in enumerate(draws):
        idx = np.concatenate([np.arange(offsets[g], offsets[g + 1]) for g in d])
        sub = np.concatenate([[0], np.cumsum(sizes[d])]).astype(np.int64)
        one = metrics.pairwise_calibration(scores[idx], gold[idx], sub)
        assert many.ece[r] == pytest.approx(one.ece, abs=1e-12)
        assert many.brier[r] == pytest.approx(one.brier, abs=1e-12)
        assert many.log_loss[r] == pytest.approx(one.log_loss, abs=1e-12)


def test_thread_count_does_not_change_results() -> None:
    rng = np.random.default_rng(1)
    sizes = rng.integers(2, 30, size=3000)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    scores = rng.integers(0, 7, size=offsets[-1]).astype(np.float32) / np.float32(3)
    gold = rng.integers(0, 3, size=offsets[-1]).astype(np.float64)
    runs = []
    for t in (1, 2, 8, None):
        stats = metrics.calibration_stats(scores, gold, offsets, threads=t)
        pairs = metrics.calibration_pairs(scores, gold, offsets, 20_000, seed=5, threads=t)
        temp = metrics.fit_temperature(pairs.margin, pairs.outcome, threads=t)
        pred = metrics.isotonic_predict([0.0, 1.0], [0.2, 0.9], pairs.margin, threads=t)
        runs.append((stats, pairs, temp, pred))
    stats0, pairs0, temp0, pred0 = runs[0]
    for stats, pairs, temp, pred in runs[1:]:
        assert stats.tobytes() == stats0.tobytes()
        assert pairs.first.tobytes() == pairs0.first.tobytes()
        assert pairs.margin.tobytes() == pairs0.margin.tobytes()
        assert temp.temperature == temp0.temperature
        assert temp.probabilities.tobytes() == temp0.probabilities.tobytes()
        assert pred.tobytes() == pred0.tobytes()


# ---------------------------------------------------------------------------- temperature


@settings(derandomize=True, max_examples=60, deadline=None)
@given(
    n=st.integers(5, 400),
    true_w=st.floats(0.05, 8.0),
    scale=st.floats(0.01, 100.0),
    seed=st.integers(0, 2**32 - 1),
    tie_share=st.floats(0.0, 0.5),
)
def test_temperature_matches_scipy(
    n: int, true_w: float, scale: float, seed: int, tie_share: float
) -> None:
    rng = np.random.default_rng(seed)
    margin = np.abs(rng.normal(size=n)) * scale
    margin[rng.random(n) < tie_share] = 0.0
    y = (rng.random(n) < 1.0 / (1.0 + np.exp(-true_w * margin / scale))).astype(np.float64)
    fit = metrics.fit_temperature(margin, y)
    nz = margin > 0
    if not nz.any():
        assert fit.status == "degenerate" and math.isnan(fit.temperature)
        np.testing.assert_array_equal(fit.probabilities, 0.5)
        return
    if np.sum(margin * (0.5 - y)) >= 0:
        assert fit.status == "uninformative" and fit.temperature == math.inf
        np.testing.assert_array_equal(fit.probabilities, 0.5)
        return
    if np.all(y[nz] == 1.0):
        assert fit.status == "separable"
        w_max = min(40 / margin[nz].min(), 1e300 / margin[nz].max())
        assert fit.inverse_temperature == w_max
        return
    assert fit.status == "converged" and fit.iterations < 20
    res = optimize.minimize_scalar(
        lambda log_t: mean_nll(margin, y, math.exp(-log_t)),
        bounds=(-25.0, 25.0),
        method="bounded",
        options={"xatol": 1e-10},
    )
    # minimize_scalar only sees function values, so on a nearly flat NLL (T far above 1) its
    # argmin is good to ~sqrt(eps) relative; the root of the gradient (brentq) is sharper.
    assert fit.temperature == pytest.approx(math.exp(res.x), rel=1e-5)
    assert fit.nll_after <= res.fun + 1e-15
    w_root = optimize.brentq(
        lambda w: float(np.sum(margin * (1.0 / (1.0 + np.exp(-w * margin)) - y))),
        1e-9,
        1e9,
        xtol=1e-300,
        rtol=4 * EPS,
    )
    assert fit.inverse_temperature == pytest.approx(w_root, rel=1e-9)
    assert fit.nll_after == pytest.approx(mean_nll(margin, y, 1 / fit.temperature), abs=1e-12)
    assert fit.nll_before == pytest.approx(mean_nll(margin, y, 1.0), abs=1e-12)
    want = 1.0 / (1.0 + np.exp(-margin / fit.temperature))
    assert_close(fit.probabilities, want, atol=1e-12)
    assert_close(fit.predict(margin), want, atol=1e-12)


def test_temperature_soft_labels_and_errors() -> None:
    fit = metrics.fit_temperature([1.0, 2.0, 3.0], [0.7, 0.8, 0.9])
    assert fit.status == "converged" and fit.iterations < 20
    res = optimize.minimize_scalar(
        lambda lt: mean_nll(np.array([1.0, 2.0, 3.0]), np.array([0.7, 0.8, 0.9]), math.exp(-lt)),
        bounds=(-10, 10),
        method="bounded",
        options={"xatol": 1e-10},
    )
    assert fit.temperature == pytest.approx(math.exp(res.x), rel=1e-6)
    with pytest.raises(ValueError, match=r"bad parameter `outcomes`: outcomes\[1\] = 2 lies"):
        metrics.fit_temperature([1.0, 2.0], [1.0, 2.0])
    with pytest.raises(ValueError, match=r"non-finite value inf in `margins` at index 0"):
        metrics.fit_temperature([np.inf], [1.0])
    with pytest.raises(ValueError, match=r"`margins` has 2 elements but `outcomes` has 1"):
        metrics.fit_temperature([1.0, 2.0], [1.0])


# ---------------------------------------------------------------------------- isotonic


@st.composite
def isotonic_case(draw: st.DrawFn) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    n = draw(st.integers(1, 60))
    pool = draw(st.lists(st.floats(0.0, 20.0), min_size=1, max_size=6))
    x = draw(
        st.lists(st.one_of(st.sampled_from(pool), st.floats(0.0, 20.0)), min_size=n, max_size=n)
    )
    y = draw(
        st.lists(
            st.one_of(st.sampled_from([0.0, 1.0]), st.floats(0.0, 1.0)), min_size=n, max_size=n
        )
    )
    return np.array(x), np.array(y)


@settings(derandomize=True, max_examples=150, deadline=None)
@given(case=isotonic_case(), new=st.lists(st.floats(-5.0, 25.0), max_size=20))
def test_isotonic_matches_sklearn(
    case: tuple[NDArray[np.float64], NDArray[np.float64]], new: list[float]
) -> None:
    x, y = case
    fit = metrics.fit_isotonic(x, y)
    ref = IsotonicRegression(out_of_bounds="clip").fit(x, y)
    assert_close(fit.fitted, ref.predict(x), atol=1e-9)
    assert_close(fit.knots_x, ref.X_thresholds_, atol=0)
    assert_close(fit.knots_y, ref.y_thresholds_, atol=1e-9)
    probe = np.concatenate([np.array(new, dtype=np.float64), x, fit.knots_x])
    assert_close(fit.predict(probe), ref.predict(probe), atol=1e-9)


def test_isotonic_on_calibration_pairs_matches_sklearn() -> None:
    rng = np.random.default_rng(4)
    sizes = rng.integers(2, 10, size=300)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    scores = np.round(rng.normal(size=offsets[-1]), 1)  # many tied margins
    gold = (rng.random(offsets[-1]) < 1 / (1 + np.exp(-scores))).astype(np.float64)
    pairs = metrics.calibration_pairs(scores, gold, offsets)
    fit = metrics.fit_isotonic(pairs.margin, pairs.outcome)
    ref = IsotonicRegression(out_of_bounds="clip").fit(pairs.margin, pairs.outcome)
    assert_close(fit.fitted, ref.predict(pairs.margin))
    grid = np.linspace(-1, 8, 1001)
    assert_close(fit.predict(grid), ref.predict(grid))


def test_isotonic_errors() -> None:
    with pytest.raises(ValueError, match=r"isotonic regression needs at least one point"):
        metrics.fit_isotonic([], [])
    with pytest.raises(ValueError, match=r"non-finite value NaN in `outcomes` at index 1"):
        metrics.fit_isotonic([0.0, 1.0], [0.0, np.nan])
    with pytest.raises(ValueError, match=r"`knots_x`: must be strictly increasing"):
        metrics.isotonic_predict([0.0, 0.0], [0.1, 0.2], [0.5])
    with pytest.raises(ValueError, match=r"`knots_x` has 2 elements but `knots_y` has 1"):
        metrics.isotonic_predict([0.0, 1.0], [0.1], [0.5])


# ---------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("scores", "gold", "offsets", "match"),
    [
        (
            [1, 0, np.nan, 0],
            [1, 0, 1, 0],
            [0, 2, 4],
            r"non-finite value NaN in `scores` at group 1",
        ),
        (
            [1, 0, 1, 0],
            [1, 0, -np.inf, 0],
            [0, 2, 4],
            r"non-finite value -inf in `gold` at group 1",
        ),
        ([1, 0, 1, 0], [1, 0, 1], [0, 2, 4], r"`scores` has 4 elements but `gold` has 3"),
        ([1, 0, 1], [1, 0, 1], [0, 2, 3], r"group 1 has 1 candidate\(s\)"),
    ],
)
@pytest.mark.parametrize("metric", ["stats", "pairs"])
def test_bad_grouped_inputs(
    scores: list[float], gold: list[float], offsets: list[int], match: str, metric: str
) -> None:
    for dtype in (np.float32, np.float64):
        s = np.array(scores, dtype=dtype)
        with pytest.raises(ValueError, match=match):
            if metric == "stats":
                metrics.calibration_stats(s, gold, offsets)
            else:
                metrics.calibration_pairs(s, gold, offsets)


def test_parameter_errors() -> None:
    with pytest.raises(
        ValueError, match=r"bad parameter `n_bins`: must lie in \[1, 100000\], got 0"
    ):
        metrics.calibration_stats([1, 0], [1, 0], [0, 2], n_bins=0)
    with pytest.raises(ValueError, match=r"`n_bins` must be non-negative, got -1"):
        metrics.calibration_stats([1, 0], [1, 0], [0, 2], n_bins=-1)
    with pytest.raises(ValueError, match=r"`max_pairs` must be non-negative, got -3"):
        metrics.calibration_pairs([1, 0], [1, 0], [0, 2], max_pairs=-3)
    with pytest.raises(ValueError, match=r"3 \+ 3 \* n_bins columns"):
        metrics.calibration_summary(np.zeros((2, 7)))
    with pytest.raises(ValueError, match=r"non-finite value NaN in `sums` at index 4"):
        metrics.calibration_summary([1, 0, 0, 1, np.nan, 0])
    with pytest.raises(ValueError, match=r"not a multiple of the row width"):
        _core.calibration_summary(np.zeros(7), 1)
    with pytest.raises(ValueError, match=r"`threads`: must be at least 1, got 0"):
        metrics.calibration_stats([1, 0], [1, 0], [0, 2], threads=0)


def test_no_groups_and_no_pairs() -> None:
    stats = metrics.calibration_stats([], [], [0])
    assert stats.shape == (0, 33)
    s = metrics.calibration_summary(stats)
    assert s.n_pairs == 0 and math.isnan(s.ece) and math.isnan(s.log_loss)
    pairs = metrics.calibration_pairs([0.2, 0.1], [1.0, 1.0], [0, 2], max_pairs=5)
    assert pairs.n_total == 0 and pairs.n_used == 0 and not pairs.sampled
    assert cal.bin_edges(4).tolist() == [0.5, 0.625, 0.75, 0.875, 1.0]
