//! Bindings for best-of-n curves, NDR and over-optimisation γ (`rmbench_core::curves`),
//! exported from `rmbench._core` by `lib.rs`.
//!
//! Inputs are borrowed without copying (see `convert.rs`), the GIL is released while the core
//! runs, and the core's errors become `ValueError`. Results come back as NumPy arrays and
//! plain tuples; `rmbench.metrics.curves` wraps them in dataclasses.

use numpy::PyArray1;
use pyo3::prelude::*;
use rmbench_core::{BestOfNSummary, Groups, Result, Score};

use crate::convert::{count, metric_err, readonly1, slice, Scores};

/// Runs `f` with the GIL released on `threads` threads (None: the global pool).
pub(crate) fn detached<T: Send>(
    py: Python<'_>,
    threads: Option<usize>,
    f: impl FnOnce() -> Result<T> + Send,
) -> PyResult<T> {
    py.detach(|| rmbench_core::with_threads(threads, f).and_then(|r| r))
        .map_err(metric_err)
}

/// Optional thread count argument.
pub(crate) fn threads_arg(threads: Option<i64>) -> PyResult<Option<usize>> {
    threads.map(|t| count(t, "threads")).transpose()
}

fn curves_impl<S: Score>(
    py: Python<'_>,
    scores: &[S],
    gold: &[f64],
    offsets: &[i64],
    threads: Option<usize>,
) -> PyResult<rmbench_core::BestOfNCurves> {
    detached(py, threads, || {
        let groups = Groups::new(offsets, scores.len())?;
        rmbench_core::best_of_n_curves(scores, gold, &groups)
    })
}

/// Per-candidate best-of-n curves: returns (proxy, oracle) aligned with the candidates.
#[pyfunction]
#[pyo3(signature = (scores, gold, offsets, threads = None))]
#[allow(clippy::type_complexity)]
pub(crate) fn best_of_n_curves<'py>(
    py: Python<'py>,
    scores: &Bound<'py, PyAny>,
    gold: &Bound<'py, PyAny>,
    offsets: &Bound<'py, PyAny>,
    threads: Option<i64>,
) -> PyResult<(Bound<'py, PyArray1<f64>>, Bound<'py, PyArray1<f64>>)> {
    let scores = Scores::extract(scores)?;
    let gold = readonly1::<f64>(gold, "gold", "float64")?;
    let offsets = readonly1::<i64>(offsets, "offsets", "int64")?;
    let (gold, offsets) = (slice(&gold, "gold")?, slice(&offsets, "offsets")?);
    let threads = threads_arg(threads)?;
    let curves = match &scores {
        Scores::F32(s) => curves_impl(py, slice(s, "scores")?, gold, offsets, threads)?,
        Scores::F64(s) => curves_impl(py, slice(s, "scores")?, gold, offsets, threads)?,
    };
    Ok((
        PyArray1::from_vec(py, curves.proxy),
        PyArray1::from_vec(py, curves.oracle),
    ))
}

/// Curves averaged over groups for n = 1..N_max: (mean_proxy, mean_oracle, mean_e1,
/// proxy_gain, oracle_gain, ndr, n_groups).
#[pyfunction]
#[pyo3(signature = (proxy, oracle, offsets))]
pub(crate) fn best_of_n_summary<'py>(
    py: Python<'py>,
    proxy: &Bound<'py, PyAny>,
    oracle: &Bound<'py, PyAny>,
    offsets: &Bound<'py, PyAny>,
) -> PyResult<SummaryArrays<'py>> {
    let proxy = readonly1::<f64>(proxy, "proxy", "float64")?;
    let oracle = readonly1::<f64>(oracle, "oracle", "float64")?;
    let offsets = readonly1::<i64>(offsets, "offsets", "int64")?;
    let (proxy, oracle) = (slice(&proxy, "proxy")?, slice(&oracle, "oracle")?);
    let offsets = slice(&offsets, "offsets")?;
    let s = detached(py, None, || {
        let groups = Groups::new(offsets, proxy.len())?;
        rmbench_core::best_of_n_summary(proxy, oracle, &groups)
    })?;
    Ok(summary_arrays(py, s))
}

/// A [`BestOfNSummary`] as NumPy arrays: (mean_proxy, mean_oracle, mean_e1, proxy_gain,
/// oracle_gain, ndr, n_groups), the order `_core.pyi` documents.
pub(crate) type SummaryArrays<'py> = (
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<f64>>,
    Bound<'py, PyArray1<i64>>,
);

pub(crate) fn summary_arrays(py: Python<'_>, s: BestOfNSummary) -> SummaryArrays<'_> {
    // Group counts are at most the number of groups: far below i64::MAX.
    let n_groups = s.n_groups.iter().map(|&c| c as i64).collect();
    (
        PyArray1::from_vec(py, s.mean_proxy),
        PyArray1::from_vec(py, s.mean_oracle),
        PyArray1::from_vec(py, s.mean_e1),
        PyArray1::from_vec(py, s.proxy_gain),
        PyArray1::from_vec(py, s.oracle_gain),
        PyArray1::from_vec(py, s.ndr),
        PyArray1::from_vec(py, n_groups),
    )
}

/// KL(n) = log n - (n - 1) / n elementwise (NaN where n < 1 or not finite).
#[pyfunction]
#[pyo3(signature = (n))]
pub(crate) fn best_of_n_kl<'py>(
    py: Python<'py>,
    n: &Bound<'py, PyAny>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let n = readonly1::<f64>(n, "n", "float64")?;
    let n = slice(&n, "n")?;
    let kl = n.iter().map(|&v| rmbench_core::best_of_n_kl(v)).collect();
    Ok(PyArray1::from_vec(py, kl))
}

/// Gaussian regressional-Goodhart prediction: (rho, predicted_ndr, gamma).
#[pyfunction]
#[pyo3(signature = (pairwise_accuracy))]
pub(crate) fn gaussian_goodhart(pairwise_accuracy: f64) -> PyResult<(f64, f64, f64)> {
    let g = rmbench_core::gaussian_goodhart(pairwise_accuracy).map_err(metric_err)?;
    Ok((g.rho, g.predicted_ndr, g.gamma))
}

/// Kim et al.'s γ: (alpha_oracle, beta_oracle, alpha_proxy, beta_proxy, gamma, d_max,
/// n_points, reason).
#[pyfunction]
#[pyo3(signature = (oracle_gain, proxy_gain))]
#[allow(clippy::type_complexity)]
pub(crate) fn overoptimisation_gamma<'py>(
    oracle_gain: &Bound<'py, PyAny>,
    proxy_gain: &Bound<'py, PyAny>,
) -> PyResult<(f64, f64, f64, f64, f64, f64, usize, Option<String>)> {
    let oracle = readonly1::<f64>(oracle_gain, "oracle_gain", "float64")?;
    let proxy = readonly1::<f64>(proxy_gain, "proxy_gain", "float64")?;
    let (oracle, proxy) = (slice(&oracle, "oracle_gain")?, slice(&proxy, "proxy_gain")?);
    let g = rmbench_core::overoptimisation_gamma(oracle, proxy).map_err(metric_err)?;
    Ok((
        g.oracle.alpha,
        g.oracle.beta,
        g.proxy.alpha,
        g.proxy.beta,
        g.gamma,
        g.d_max,
        g.n_points,
        g.reason,
    ))
}
