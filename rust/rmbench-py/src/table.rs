//! Binding for the fused per-prompt metric table (`rmbench_core::table`), exported from
//! `rmbench._core` by `lib.rs`; `rmbench.metrics.report.evaluate` is its caller.

use numpy::prelude::*;
use numpy::{PyArray1, PyArray2};
use pyo3::prelude::*;
use rmbench_core::{Groups, MetricTable, Score, TableSpec};

use crate::convert::{count, readonly1, slice, Scores};
use crate::curves::{detached, summary_arrays, threads_arg, SummaryArrays};

fn table_impl<S: Score>(
    py: Python<'_>,
    scores: &[S],
    gold: &[f64],
    offsets: &[i64],
    spec: &TableSpec,
    threads: Option<usize>,
) -> PyResult<MetricTable> {
    detached(py, threads, || {
        let groups = Groups::new(offsets, scores.len())?;
        rmbench_core::metric_table(scores, gold, &groups, spec)
    })
}

/// The fused table: (names, rows of shape (n_groups, len(names)), summed calibration row,
/// (mean_proxy, mean_oracle, mean_e1, proxy_gain, oracle_gain, ndr, n_groups)).
#[pyfunction]
#[pyo3(signature = (scores, gold, offsets, points, tie_credit = 0.0, ndcg_k = None, n_bins = 10, threads = None))]
#[allow(clippy::too_many_arguments, clippy::type_complexity)]
pub(crate) fn metric_table<'py>(
    py: Python<'py>,
    scores: &Bound<'py, PyAny>,
    gold: &Bound<'py, PyAny>,
    offsets: &Bound<'py, PyAny>,
    points: Vec<i64>,
    tie_credit: f64,
    ndcg_k: Option<i64>,
    n_bins: i64,
    threads: Option<i64>,
) -> PyResult<(
    Vec<String>,
    Bound<'py, PyArray2<f64>>,
    Bound<'py, PyArray1<f64>>,
    SummaryArrays<'py>,
)> {
    let scores = Scores::extract(scores)?;
    let gold = readonly1::<f64>(gold, "gold", "float64")?;
    let offsets = readonly1::<i64>(offsets, "offsets", "int64")?;
    let (gold, offsets) = (slice(&gold, "gold")?, slice(&offsets, "offsets")?);
    let spec = TableSpec {
        tie_credit,
        ndcg_k: ndcg_k.map(|k| count(k, "ndcg_k")).transpose()?,
        n_bins: count(n_bins, "n_bins")?,
        points: points
            .into_iter()
            .map(|n| count(n, "points"))
            .collect::<PyResult<_>>()?,
    };
    let threads = threads_arg(threads)?;
    let t = match &scores {
        Scores::F32(s) => table_impl(py, slice(s, "scores")?, gold, offsets, &spec, threads)?,
        Scores::F64(s) => table_impl(py, slice(s, "scores")?, gold, offsets, &spec, threads)?,
    };
    let n_groups = offsets.len().saturating_sub(1);
    let rows = PyArray1::from_vec(py, t.rows).reshape([n_groups, t.names.len()])?;
    Ok((
        t.names,
        rows,
        PyArray1::from_vec(py, t.calibration),
        summary_arrays(py, t.curve),
    ))
}
