"""Best-of-n curves, NDR and over-optimisation gamma from the Rust core, checked against
independent references.

The curve reference is brute force: every n-subset of a group crossed with every tie-break
order of the proxy (all permutations inside every tie block), the best of a subset being its
earliest member in the strict order. Inputs come from tiny value pools so proxy ties, gold ties
and both at once are the common case. Gamma is checked against ``numpy.linalg.lstsq`` fits and
``scipy.integrate.quad`` on the fitted quadratics.
"""

from __future__ import annotations

import itertools
import math
from itertools import pairwise
from typing import Any

import numpy as np
import pytest
from core_cases import Case, assert_close, pooled_groups
from hypothesis import given, settings
from hypothesis import strategies as st
from numpy.typing import NDArray
from scipy import integrate, special

from rmbench import _core, metrics

SETTINGS = settings(derandomize=True, max_examples=60, deadline=None)


# ---------------------------------------------------------------------------- references


def brute_proxy_curve(scores: NDArray[Any], gold: NDArray[np.float64]) -> NDArray[np.float64]:
    """E_n by enumeration of all tie-break orders x all n-subsets (uniform over both)."""
    n = len(scores)
    levels = sorted(set(scores.tolist()), reverse=True)
    blocks = [[i for i in range(n) if scores[i] == level] for level in levels]
    masks = np.array(list(itertools.product([False, True], repeat=n))[1:], dtype=bool)
    sizes = masks.sum(axis=1)
    sums, counts = np.zeros(n), np.zeros(n)
    for order in itertools.product(*(itertools.permutations(b) for b in blocks)):
        strict = [i for block in order for i in block]  # best first
        rank = np.empty(n, dtype=np.int64)
        rank[strict] = np.arange(n)
        best = np.where(masks, rank[None, :], n).argmin(axis=1)
        np.add.at(sums, sizes - 1, gold[best])
        np.add.at(counts, sizes - 1, 1)
    return sums / counts


def brute_oracle_curve(gold: NDArray[np.float64]) -> NDArray[np.float64]:
    n = len(gold)
    out = np.zeros(n)
    for k in range(1, n + 1):
        out[k - 1] = np.mean([max(c) for c in itertools.combinations(gold.tolist(), k)])
    return out


def ref_summary(
    proxy: list[NDArray[np.float64]], oracle: list[NDArray[np.float64]]
) -> dict[str, NDArray[np.float64]]:
    n_max = max((len(p) for p in proxy), default=0)
    out: dict[str, list[float]] = {k: [] for k in ("mp", "mo", "e1", "gp", "go", "ndr", "cnt")}
    for n in range(1, n_max + 1):
        live = [i for i, p in enumerate(proxy) if len(p) >= n]
        p_n = np.array([proxy[i][n - 1] for i in live])
        o_n = np.array([oracle[i][n - 1] for i in live])
        e1 = np.array([proxy[i][0] for i in live])
        gp, go = np.mean(p_n - e1), np.mean(o_n - e1)
        out["mp"].append(p_n.mean())
        out["mo"].append(o_n.mean())
        out["e1"].append(e1.mean())
        out["gp"].append(gp)
        out["go"].append(go)
        out["ndr"].append(gp / go if abs(go) > 1e-12 else np.nan)
        out["cnt"].append(len(live))
    return {k: np.array(v, dtype=np.float64) for k, v in out.items()}


def kl(n: NDArray[Any]) -> NDArray[np.float64]:
    n = np.asarray(n, dtype=np.float64)
    return np.log(n) - (n - 1) / n


# ---------------------------------------------------------------------------- strategies


def grouped_case(dtype: type[np.floating[Any]], max_size: int = 6) -> st.SearchStrategy[Case]:
    return pooled_groups(dtype, max_size=max_size, max_groups=8, pool=3, one_grade=0.1)


# ---------------------------------------------------------------------------- curves


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@SETTINGS
@given(data=st.data())
def test_curves_match_brute_force(dtype: type[np.floating[Any]], data: st.DataObject) -> None:
    scores, gold, offsets = data.draw(grouped_case(dtype))
    curves = metrics.best_of_n_curves(scores, gold, offsets)
    assert curves.proxy.dtype == np.float64 and curves.proxy.shape == gold.shape
    want_p, want_o = [], []
    for g, (lo, hi) in enumerate(pairwise(offsets)):
        p, o = curves.group(g)
        want_p.append(brute_proxy_curve(scores[lo:hi], gold[lo:hi]))
        want_o.append(brute_oracle_curve(gold[lo:hi]))
        assert_close(p, want_p[-1])
        assert_close(o, want_o[-1])
    ref = ref_summary(want_p, want_o)
    s = curves.summary
    np.testing.assert_array_equal(s.n, np.arange(1, len(ref["cnt"]) + 1))
    np.testing.assert_array_equal(s.n_groups, ref["cnt"])
    assert_close(s.mean_proxy, ref["mp"])
    assert_close(s.mean_oracle, ref["mo"])
    assert_close(s.mean_e1, ref["e1"])
    assert_close(s.proxy_gain, ref["gp"])
    assert_close(s.oracle_gain, ref["go"])
    assert_close(s.ndr, ref["ndr"])
    assert_close(s.kl, kl(s.n))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@SETTINGS
@given(data=st.data())
def test_curve_invariants(dtype: type[np.floating[Any]], data: st.DataObject) -> None:
    scores, gold, offsets = data.draw(grouped_case(dtype, max_size=30))
    curves = metrics.best_of_n_curves(scores, gold, offsets)
    for g, (lo, hi) in enumerate(pairwise(offsets)):
        p, o = curves.group(g)
        s, y = scores[lo:hi], gold[lo:hi]
        # E_1 is the mean gold, bit-identical on both curves.
        assert p[0] == o[0]
        assert p[0] == pytest.approx(y.mean(), abs=1e-12)
        # E_N: tie-averaged gold of the proxy's top pick; the oracle's is the best gold.
        assert p[-1] == pytest.approx(y[s == s.max()].mean(), abs=1e-12)
        assert o[-1] == pytest.approx(y.max(), abs=1e-12)
        assert np.all(np.diff(o) >= -1e-12)
        assert np.all(o >= p - 1e-12)
        if y.min() == y.max():  # constant gold: exactly constant curves, zero gains
            assert np.all(p == y[0]) and np.all(o == y[0])


def test_hand_worked_curves() -> None:
    # Group 0: proxy order matches gold. Group 1: the top two tie, gold 1 and 0.
    curves = metrics.best_of_n_curves([3, 2, 1, 2, 2, 0], [1, 0, 0, 1, 0, 0], [0, 3, 6])
    p0, o0 = curves.group(0)
    assert_close(p0, [1 / 3, 2 / 3, 1], atol=1e-15)
    assert_close(o0, [1 / 3, 2 / 3, 1], atol=1e-15)
    p1, o1 = curves.group(1)
    # Tie block {gold 1, gold 0} has mean 1/2 at positions 1 and 2: E_2 = 2/3 * 1/2 + 1/3 * 1/2.
    assert_close(p1, [1 / 3, 1 / 2, 1 / 2], atol=1e-15)
    assert_close(o1, [1 / 3, 2 / 3, 1], atol=1e-15)
    s = curves.summary
    assert np.isnan(s.ndr[0])
    assert s.ndr[1] == pytest.approx((2 / 3 + 1 / 2 - 2 / 3) / (2 / 3 + 2 / 3 - 2 / 3))
    assert s.ndr[2] == pytest.approx((1 + 1 / 2 - 2 / 3) / (2 - 2 / 3))


def test_large_groups_match_log_gamma_weights() -> None:
    """N in the thousands: ratio-of-products weights agree with log-gamma binomials."""
    rng = np.random.default_rng(0)
    sizes = [3000, 1200, 2]
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    scores = rng.integers(0, 40, size=offsets[-1]).astype(np.float64)
    gold = rng.normal(size=offsets[-1])
    curves = metrics.best_of_n_curves(scores, gold, offsets)
    assert np.all(np.isfinite(curves.proxy)) and np.all(np.isfinite(curves.oracle))
    big_n = sizes[0]
    s, y = scores[: sizes[0]], gold[: sizes[0]]
    # Tie-averaged gold in proxy order, then E_n with log-gamma weights.
    order = np.argsort(-s, kind="stable")
    levels, inverse = np.unique(-s[order], return_inverse=True)
    block_mean = np.bincount(inverse, weights=y[order]) / np.bincount(inverse)
    h = block_mean[inverse]
    p, o = curves.group(0)
    y_sorted = np.sort(y)[::-1]
    for n in (1, 2, 10, 500, 2999, 3000):
        k = np.arange(1, big_n - n + 2)
        log_w = (
            special.gammaln(big_n - k + 1)
            - special.gammaln(n)
            - special.gammaln(big_n - k - n + 2)
            - (special.gammaln(big_n + 1) - special.gammaln(n + 1) - special.gammaln(big_n - n + 1))
        )
        w = np.exp(log_w)
        assert w.sum() == pytest.approx(1.0, abs=1e-9)
        assert p[n - 1] == pytest.approx(np.dot(w, h[: len(w)]), abs=1e-9)
        assert o[n - 1] == pytest.approx(np.dot(w, y_sorted[: len(w)]), abs=1e-9)
    assert len(levels) <= 40


def test_thread_count_does_not_change_results() -> None:
    rng = np.random.default_rng(1)
    sizes = rng.integers(2, 40, size=3000)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    scores = rng.integers(0, 5, size=offsets[-1]).astype(np.float32)
    gold = rng.integers(0, 3, size=offsets[-1]).astype(np.float64)
    runs = [metrics.best_of_n_curves(scores, gold, offsets, threads=t) for t in (1, 2, 8, None)]
    for other in runs[1:]:
        assert other.proxy.tobytes() == runs[0].proxy.tobytes()
        assert other.oracle.tobytes() == runs[0].oracle.tobytes()
        assert other.summary.ndr.tobytes() == runs[0].summary.ndr.tobytes()


def test_no_groups_and_constant_gold() -> None:
    curves = metrics.best_of_n_curves([], [], [0])
    assert curves.proxy.shape == (0,) and curves.summary.ndr.shape == (0,)
    curves = metrics.best_of_n_curves([0.3, 0.1, 0.2, 0.5, 0.5], [0.1] * 5, [0, 3, 5])
    assert np.all(curves.proxy == 0.1) and np.all(curves.oracle == 0.1)
    assert np.all(np.isnan(curves.summary.ndr)) and np.all(curves.summary.oracle_gain == 0.0)
    assert math.isnan(curves.summary.overoptimisation_gamma().gamma)


def test_summary_of_a_resample_of_groups() -> None:
    """summarize_best_of_n on a subset of groups (e.g. a bootstrap draw) matches recomputing."""
    rng = np.random.default_rng(2)
    sizes = rng.integers(2, 9, size=50)
    offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
    scores = rng.normal(size=offsets[-1])
    gold = rng.integers(0, 2, size=offsets[-1]).astype(np.float64)
    curves = metrics.best_of_n_curves(scores, gold, offsets)
    pick = rng.integers(0, 50, size=50)
    idx = np.concatenate([np.arange(offsets[g], offsets[g + 1]) for g in pick])
    sub_offsets = np.concatenate([[0], np.cumsum(sizes[pick])]).astype(np.int64)
    got = metrics.summarize_best_of_n(curves.proxy[idx], curves.oracle[idx], sub_offsets)
    want = metrics.best_of_n_curves(scores[idx], gold[idx], sub_offsets).summary
    assert got.ndr.tobytes() == want.ndr.tobytes()


# ---------------------------------------------------------------------------- KL, gamma


def test_kl() -> None:
    n = np.array([1, 2, 3, 16, 1024])
    assert_close(metrics.best_of_n_kl(n), kl(n), atol=1e-15)
    assert metrics.best_of_n_kl(1.0) == 0.0
    assert metrics.best_of_n_kl([[1, 2], [4, 8]]).shape == (2, 2)
    assert np.all(np.isnan(metrics.best_of_n_kl([0.5, -1, np.nan, np.inf])))


@pytest.mark.parametrize("acc", [0.0, 0.2, 0.5, 0.6, 0.75, 0.9, 1.0])
def test_gaussian_identities(acc: float) -> None:
    g = metrics.gaussian_goodhart(acc)
    assert g.rho == pytest.approx(math.sin(math.pi * (acc - 0.5)), abs=1e-15)
    assert 0.5 + math.asin(g.rho) / math.pi == pytest.approx(acc, abs=1e-12)  # Sheppard
    assert g.predicted_ndr == g.rho
    assert g.gamma == pytest.approx(1 - g.rho**2, abs=1e-15)


def test_gaussian_prediction_matches_simulated_ndr() -> None:
    """Jointly Gaussian proxy/gold: pairwise accuracy predicts rho and NDR_BoN ~ rho."""
    rng = np.random.default_rng(3)
    rho, n_groups, size = 0.5, 4000, 16
    x = rng.normal(size=(n_groups, size))
    y = rho * x + math.sqrt(1 - rho**2) * rng.normal(size=(n_groups, size))
    offsets = np.arange(0, n_groups * size + 1, size, dtype=np.int64)
    acc, _, _ = metrics.pairwise_accuracy(x.ravel(), y.ravel(), offsets, tie_credit=0.5)
    pred = metrics.gaussian_goodhart(float(acc.mean()))
    assert pred.rho == pytest.approx(rho, abs=0.02)
    ndr = metrics.best_of_n_curves(x.ravel(), y.ravel(), offsets).summary.ndr
    np.testing.assert_allclose(ndr[1:], pred.predicted_ndr, atol=0.05)


def lstsq_fit(d: NDArray[np.float64], y: NDArray[np.float64]) -> tuple[float, float]:
    (alpha, beta), *_ = np.linalg.lstsq(np.column_stack([d, -(d**2)]), y, rcond=None)
    return float(alpha), float(beta)


@settings(derandomize=True, max_examples=80, deadline=None)
@given(
    n_max=st.integers(3, 200),
    coefs=st.tuples(*(st.floats(-1.0, 1.5) for _ in range(4))),
    noise_seed=st.integers(0, 2**32 - 1),
)
def test_gamma_matches_lstsq_and_quad(
    n_max: int, coefs: tuple[float, float, float, float], noise_seed: int
) -> None:
    rng = np.random.default_rng(noise_seed)
    n = np.arange(1, n_max + 1)
    d = np.sqrt(kl(n))
    a_o, b_o, a_p, b_p = coefs
    oracle = d * (abs(a_o) + 0.1 - abs(b_o) / 5 * d) + rng.normal(0, 0.01, n_max) * (n > 1)
    proxy = d * (a_p - b_p * d) + rng.normal(0, 0.01, n_max) * (n > 1)
    got = metrics.overoptimisation_gamma(oracle, proxy)
    fo, fp = lstsq_fit(d[1:], oracle[1:]), lstsq_fit(d[1:], proxy[1:])
    scale = 1.0 + max(map(abs, fo + fp))
    assert got.n_points == n_max - 1
    assert got.d_max == pytest.approx(d[-1], abs=1e-15)
    for g, w in zip(
        (got.alpha_oracle, got.beta_oracle, got.alpha_proxy, got.beta_proxy), fo + fp, strict=True
    ):
        assert g == pytest.approx(w, abs=1e-8 * scale)
    f = lambda x: got.alpha_oracle * x - got.beta_oracle * x**2  # noqa: E731
    g_ = lambda x: got.alpha_proxy * x - got.beta_proxy * x**2  # noqa: E731
    den = integrate.quad(f, 0, got.d_max, epsabs=1e-13, epsrel=1e-13)[0]
    if den <= 0:
        assert math.isnan(got.gamma) and got.reason is not None
        return
    # quad is told about the kink of |f - g| at the root inside (0, d_max), if any.
    a, b = got.alpha_oracle - got.alpha_proxy, got.beta_oracle - got.beta_proxy
    root = a / b if b != 0 else math.inf
    points = [root] if 0 < root < got.d_max else None
    num = integrate.quad(
        lambda x: abs(f(x) - g_(x)), 0, got.d_max, points=points, epsabs=1e-13, epsrel=1e-13
    )[0]
    assert got.reason is None
    assert got.gamma == pytest.approx(num / den, rel=1e-9, abs=1e-9)


def test_gamma_degenerate_cases_are_nan_with_reason() -> None:
    g = metrics.overoptimisation_gamma([0.0, 0.1], [0.0, 0.05])
    assert math.isnan(g.gamma) and "at least 2 values of n >= 2" in (g.reason or "")
    g = metrics.overoptimisation_gamma(np.zeros(8), np.linspace(0, 1, 8))
    assert math.isnan(g.gamma) and "not positive" in (g.reason or "")
    d = np.sqrt(kl(np.arange(1, 9)))
    same = metrics.overoptimisation_gamma(d * (1 - 0.1 * d), d * (1 - 0.1 * d))
    assert same.gamma == 0.0 and same.reason is None


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
        ([1, 0, 1, 0], [1, 0, np.inf, 0], [0, 2, 4], r"non-finite value inf in `gold` at group 1"),
        ([1, 0, 1, 0], [1, 0, 1], [0, 2, 4], r"`scores` has 4 elements but `gold` has 3"),
        ([1, 0, 1], [1, 0, 1], [0, 2, 3], r"group 1 has 1 candidate\(s\)"),
        ([1, 0, 1, 0], [1, 0, 1, 0], [0, 2, 3], r"must end at the number of candidates \(4\)"),
    ],
)
def test_bad_curve_inputs(
    scores: list[float], gold: list[float], offsets: list[int], match: str
) -> None:
    for dtype in (np.float32, np.float64):
        with pytest.raises(ValueError, match=match):
            metrics.best_of_n_curves(np.array(scores, dtype=dtype), gold, offsets)


def test_other_errors() -> None:
    with pytest.raises(
        ValueError, match=r"bad parameter `pairwise_accuracy`: must lie in \[0, 1\]"
    ):
        metrics.gaussian_goodhart(1.2)
    with pytest.raises(ValueError, match=r"`oracle_gain` has 3 elements but `proxy_gain` has 2"):
        metrics.overoptimisation_gamma([0, 1, 2], [0, 1])
    with pytest.raises(ValueError, match=r"non-finite value NaN in `proxy_gain` at index 1"):
        metrics.overoptimisation_gamma([0, 1, 2], [0, np.nan, 1])
    with pytest.raises(ValueError, match=r"`proxy` has 3 elements but `oracle` has 2"):
        metrics.summarize_best_of_n([0, 1, 2], [0, 1], [0, 3])
    with pytest.raises(ValueError, match=r"non-finite value inf in `oracle` at index 0"):
        metrics.summarize_best_of_n([0, 1], [np.inf, 1], [0, 2])
    with pytest.raises(ValueError, match=r"`threads`: must be at least 1, got 0"):
        metrics.best_of_n_curves([1, 0], [1, 0], [0, 2], threads=0)
    with pytest.raises(TypeError, match=r"`scores` must be a numpy.ndarray, got list"):
        _core.best_of_n_curves([1.0, 0.0], np.array([1.0, 0.0]), np.array([0, 2]))
    with pytest.raises(ValueError, match=r"`gold` must have dtype float64, got dtype float32"):
        _core.best_of_n_curves(
            np.array([1.0, 0.0]), np.array([1.0, 0.0], dtype=np.float32), np.array([0, 2])
        )
