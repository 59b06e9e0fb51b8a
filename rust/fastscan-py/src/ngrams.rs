//! `NgramCounter` and `NgramModel`: hashed n-gram bucket counts and DSIR importance weights
//! over Arrow text arrays.

use std::collections::HashMap;
use std::sync::Arc;

use arrow_array::{Float64Array, UInt64Array};
use fastscan_core::ngrams::{bucket_of, Featurizer, NgramConfig, NgramModel, Smoothing};
use fastscan_core::{resolve_threads_from_env, Pool};
use pyo3::exceptions::PyValueError;
use pyo3::prelude::*;
use pyo3_arrow::PyArray;

use crate::docs::with_arrow_docs;
use crate::errors::to_pyerr;

fn pool(py: Python<'_>, threads: Option<usize>) -> PyResult<Pool> {
    let (n, _) = resolve_threads_from_env(threads).map_err(|e| to_pyerr(py, e))?;
    Ok(Pool::new(n))
}

fn smoothing(kind: &str, value: f64) -> PyResult<Smoothing> {
    match kind {
        "epsilon" => Ok(Smoothing::Epsilon(value)),
        "additive" => Ok(Smoothing::Additive(value)),
        other => Err(PyValueError::new_err(format!(
            "smoothing must be 'epsilon' or 'additive', not {other:?}"
        ))),
    }
}

fn arrow_out(py: Python<'_>, array: arrow_array::ArrayRef) -> PyResult<Bound<'_, PyAny>> {
    let capsule = PyArray::from_array_ref(array).into_pyobject(py)?;
    py.import("pyarrow")?.getattr("array")?.call1((capsule,))
}

/// Counts hashed n-gram buckets of text batches.
#[pyclass(module = "fastscan._fastscan", name = "NgramCounter", frozen)]
pub struct PyNgramCounter {
    featurizer: Featurizer,
    pool: Pool,
}

#[pymethods]
impl PyNgramCounter {
    #[new]
    #[pyo3(signature = (buckets, n, *, threads = None))]
    fn new(py: Python<'_>, buckets: u32, n: usize, threads: Option<usize>) -> PyResult<Self> {
        let featurizer =
            Featurizer::new(NgramConfig { buckets, n }).map_err(|e| to_pyerr(py, e))?;
        Ok(PyNgramCounter {
            featurizer,
            pool: pool(py, threads)?,
        })
    }

    /// The bucket counts of an Arrow string/binary array, summed (a `uint64` array).
    fn count_arrow<'py>(&self, py: Python<'py>, array: PyArray) -> PyResult<Bound<'py, PyAny>> {
        let (array, _) = array.into_inner();
        let counts = py
            .detach(|| {
                with_arrow_docs(&array, |docs| self.featurizer.count_batch(&self.pool, docs))
            })?
            .map_err(|e| to_pyerr(py, e))?;
        arrow_out(py, Arc::new(UInt64Array::from(counts)))
    }
}

/// A fitted DSIR importance model.
#[pyclass(module = "fastscan._fastscan", name = "NgramModel", frozen)]
pub struct PyNgramModel {
    inner: NgramModel,
    pool: Pool,
}

#[pymethods]
impl PyNgramModel {
    #[new]
    #[pyo3(signature = (target, raw, *, buckets, n, smoothing_kind = "epsilon", smoothing_value = 1e-8, threads = None))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        target: Vec<u64>,
        raw: Vec<u64>,
        buckets: u32,
        n: usize,
        smoothing_kind: &str,
        smoothing_value: f64,
        threads: Option<usize>,
    ) -> PyResult<Self> {
        let smoothing = smoothing(smoothing_kind, smoothing_value)?;
        let inner = NgramModel::fit(NgramConfig { buckets, n }, &target, &raw, smoothing)
            .map_err(|e| to_pyerr(py, e))?;
        Ok(PyNgramModel {
            inner,
            pool: pool(py, threads)?,
        })
    }

    /// `(log importance weights float64, token counts uint64)` of an Arrow text array.
    fn importance_arrow<'py>(
        &self,
        py: Python<'py>,
        array: PyArray,
    ) -> PyResult<(Bound<'py, PyAny>, Bound<'py, PyAny>)> {
        let (array, _) = array.into_inner();
        let (weights, tokens) = py
            .detach(|| {
                with_arrow_docs(&array, |docs| self.inner.importance_batch(&self.pool, docs))
            })?
            .map_err(|e| to_pyerr(py, e))?;
        Ok((
            arrow_out(py, Arc::new(Float64Array::from(weights)))?,
            arrow_out(py, Arc::new(UInt64Array::from(tokens)))?,
        ))
    }

    /// The per-bucket log ratio `log p_target - log p_raw`.
    #[getter]
    fn log_ratio(&self) -> Vec<f64> {
        self.inner.log_ratio().to_vec()
    }

    #[getter]
    fn threads(&self) -> usize {
        self.pool.threads()
    }
}

/// The bucket of one feature string (a token, or tokens joined by single spaces).
#[pyfunction]
pub fn ngram_bucket(feature: &str, buckets: u32) -> PyResult<u32> {
    if buckets == 0 {
        return Err(PyValueError::new_err("buckets must be at least 1"));
    }
    Ok(bucket_of(feature.as_bytes(), buckets))
}

/// Document frequencies of word n-grams (`min_n..=max_n`) of an Arrow text array:
/// `{ngram: documents}`.
#[pyfunction]
#[pyo3(signature = (array, min_n = 1, max_n = 3, *, threads = None))]
pub fn doc_frequencies(
    py: Python<'_>,
    array: PyArray,
    min_n: usize,
    max_n: usize,
    threads: Option<usize>,
) -> PyResult<HashMap<String, u64>> {
    let (array, _) = array.into_inner();
    let pool = pool(py, threads)?;
    let counts = py
        .detach(|| {
            with_arrow_docs(&array, |docs| {
                fastscan_core::ngrams::doc_frequencies(&pool, docs, min_n, max_n)
            })
        })?
        .map_err(|e| to_pyerr(py, e))?;
    Ok(counts.into_iter().collect())
}
