//! Bindings for the per-group correlation and ranking metrics (`rmbench_core::correlation`,
//! `rmbench_core::ranking`), exported from `rmbench._core` by `lib.rs`.
//!
//! All six share one shape: `(scores, gold, offsets, [k,] threads=None) -> float64 array` with
//! one value per group. Inputs are borrowed without copying (see `convert.rs`), the GIL is
//! released while the core runs, and the core's errors become `ValueError`.

use numpy::PyArray1;
use pyo3::prelude::*;
use rmbench_core::{Groups, Result, Score};

use crate::convert::{count, metric_err, readonly1, slice, Scores};

/// Which metric to run; one generic driver serves them all.
#[derive(Clone, Copy)]
enum Metric {
    Pearson,
    Spearman,
    KendallTauB,
    ChatterjeeXi,
    Mrr,
    Ndcg(Option<usize>),
}

impl Metric {
    fn run<S: Score>(self, scores: &[S], gold: &[f64], groups: &Groups) -> Result<Vec<f64>> {
        match self {
            Self::Pearson => rmbench_core::pearson(scores, gold, groups),
            Self::Spearman => rmbench_core::spearman(scores, gold, groups),
            Self::KendallTauB => rmbench_core::kendall_tau_b(scores, gold, groups),
            Self::ChatterjeeXi => rmbench_core::chatterjee_xi(scores, gold, groups),
            Self::Mrr => rmbench_core::mrr(scores, gold, groups),
            Self::Ndcg(k) => rmbench_core::ndcg(scores, gold, groups, k),
        }
    }
}

/// Runs `metric` on one borrowed precision of scores, GIL released, on `threads` threads.
fn detached<S: Score>(
    py: Python<'_>,
    metric: Metric,
    scores: &[S],
    gold: &[f64],
    offsets: &[i64],
    threads: Option<usize>,
) -> PyResult<Vec<f64>> {
    py.detach(|| {
        rmbench_core::with_threads(threads, || {
            let groups = Groups::new(offsets, scores.len())?;
            metric.run(scores, gold, &groups)
        })
        .and_then(|r| r)
    })
    .map_err(metric_err)
}

/// Converts the arguments, runs `metric` and wraps the per-group values as a NumPy array.
fn per_group<'py>(
    py: Python<'py>,
    metric: Metric,
    scores: &Bound<'py, PyAny>,
    gold: &Bound<'py, PyAny>,
    offsets: &Bound<'py, PyAny>,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let scores = Scores::extract(scores)?;
    let gold = readonly1::<f64>(gold, "gold", "float64")?;
    let offsets = readonly1::<i64>(offsets, "offsets", "int64")?;
    let (gold, offsets) = (slice(&gold, "gold")?, slice(&offsets, "offsets")?);
    let threads = threads.map(|t| count(t, "threads")).transpose()?;
    let values = match &scores {
        Scores::F32(s) => detached(py, metric, slice(s, "scores")?, gold, offsets, threads)?,
        Scores::F64(s) => detached(py, metric, slice(s, "scores")?, gold, offsets, threads)?,
    };
    Ok(PyArray1::from_vec(py, values))
}

/// The `#[pyfunction]` of a per-group metric whose only arguments are the common ones.
macro_rules! per_group_metric {
    ($($(#[doc = $doc:expr])* $name:ident => $metric:expr;)*) => {$(
        $(#[doc = $doc])*
        #[pyfunction]
        #[pyo3(signature = (scores, gold, offsets, threads = None))]
        pub(crate) fn $name<'py>(
            py: Python<'py>,
            scores: &Bound<'py, PyAny>,
            gold: &Bound<'py, PyAny>,
            offsets: &Bound<'py, PyAny>,
            threads: Option<i64>,
        ) -> PyResult<Bound<'py, PyArray1<f64>>> {
            per_group(py, $metric, scores, gold, offsets, threads)
        }
    )*};
}

per_group_metric! {
    /// Per-group Pearson correlation of scores and gold (NaN where either side is constant).
    pearson => Metric::Pearson;
    /// Per-group Spearman rank correlation (NaN where either side is constant).
    spearman => Metric::Spearman;
    /// Per-group Kendall tau-b (NaN where either side is constant).
    kendall_tau_b => Metric::KendallTauB;
    /// Per-group Chatterjee xi(X = scores, Y = gold) (NaN where gold is constant).
    chatterjee_xi => Metric::ChatterjeeXi;
    /// Per-group reciprocal gold rank of the proxy's top pick (NaN where gold is constant).
    mrr => Metric::Mrr;
}

/// Per-group NDCG (optionally cut at k) of the proxy's ranking (NaN where gold is constant).
#[pyfunction]
#[pyo3(signature = (scores, gold, offsets, k = None, threads = None))]
pub(crate) fn ndcg<'py>(
    py: Python<'py>,
    scores: &Bound<'py, PyAny>,
    gold: &Bound<'py, PyAny>,
    offsets: &Bound<'py, PyAny>,
    k: Option<i64>,
    threads: Option<i64>,
) -> PyResult<Bound<'py, PyArray1<f64>>> {
    let k = k.map(|k| count(k, "k")).transpose()?;
    per_group(py, Metric::Ndcg(k), scores, gold, offsets, threads)
}
