//! `fastscan._fastscan`: the Python binding of `fastscan-core`.
//!
//! This crate only converts types, releases the GIL around core work and maps errors
//! (`errors.rs`). The public Python API is the `fastscan` package, which wraps these classes.

// PyO3 extracts owned arguments (`PathBuf`, `Vec<String>`) for `#[pyfunction]`s and methods.
#![allow(clippy::needless_pass_by_value)]

mod docs;
mod errors;
mod ngrams;
mod output;
mod shard;
mod stats;
mod tokenizer;
mod toolcalls;

use std::sync::Arc;

// The core allocates many small JSON values per tool-call record; mimalloc frees them in a
// fraction of glibc's time.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use arrow_array::Array;
use arrow_schema::SchemaRef;
use fastscan_core::shard::judge::DEFAULT_MIN_SCORE;
use fastscan_core::{judge, KeepRule, Pack, RejectReason, ScanOptions, Scanner};
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pyo3_arrow::{PyArray, PyRecordBatch};

use crate::docs::{with_arrow_docs, Text};
use crate::errors::{to_pyerr, PackError};

fn parse(py: Python<'_>, source: &str, syntax: &str) -> PyResult<Pack> {
    let parsed = match syntax {
        "toml" => Pack::from_toml(source),
        "json" => Pack::from_json(source),
        other => {
            return Err(PyValueError::new_err(format!(
                "syntax must be 'toml' or 'json', not {other:?}"
            )))
        }
    };
    parsed.map_err(|e| to_pyerr(py, e))
}

/// Parses and validates a pack; returns its description as plain Python data.
#[pyfunction]
#[pyo3(signature = (source, syntax = "toml"))]
fn parse_pack<'py>(py: Python<'py>, source: &str, syntax: &str) -> PyResult<Bound<'py, PyDict>> {
    let pack = parse(py, source, syntax)?;
    let out = PyDict::new(py);
    let meta = PyDict::new(py);
    meta.set_item("name", &pack.meta.name)?;
    meta.set_item("version", &pack.meta.version)?;
    meta.set_item("description", &pack.meta.description)?;
    out.set_item("meta", meta)?;
    let groups = PyList::empty(py);
    for g in &pack.groups {
        let d = PyDict::new(py);
        d.set_item("name", &g.name)?;
        d.set_item("description", &g.description)?;
        d.set_item("weight", g.weight)?;
        d.set_item("min_hits", g.min_hits)?;
        d.set_item("case_sensitive", g.case_sensitive)?;
        d.set_item("view", g.view.as_str())?;
        d.set_item("support", g.support)?;
        groups.append(d)?;
    }
    out.set_item("groups", groups)?;
    let formats = PyList::empty(py);
    for f in &pack.formats {
        let d = PyDict::new(py);
        d.set_item("name", &f.name)?;
        d.set_item("description", &f.description)?;
        d.set_item("group", &pack.groups[f.group].name)?;
        d.set_item("min_hits", f.min_hits)?;
        formats.append(d)?;
    }
    out.set_item("formats", formats)?;
    let patterns = PyList::empty(py);
    for p in &pack.patterns {
        let d = PyDict::new(py);
        d.set_item("group", &pack.groups[p.group].name)?;
        d.set_item("format", p.format.map(|f| pack.formats[f].name.as_str()))?;
        d.set_item("kind", p.kind.as_str())?;
        d.set_item("text", &p.text)?;
        d.set_item("case_sensitive", p.case_sensitive)?;
        d.set_item("view", p.view.as_str())?;
        patterns.append(d)?;
    }
    out.set_item("patterns", patterns)?;
    Ok(out)
}

/// The folded view of a text (`fastscan_core::fold`): `str` in, `str` out; `bytes` in,
/// `bytes` out.
#[pyfunction]
fn fold<'py>(py: Python<'py>, text: &Bound<'py, PyAny>) -> PyResult<Bound<'py, PyAny>> {
    let text =
        Text::extract(text, 0).map_err(|_| PyTypeError::new_err("fold takes a str or bytes"))?;
    let folded = py.detach(|| fastscan_core::fold::fold(text.as_ref()));
    match text {
        // Folding valid UTF-8 keeps it valid: only ASCII bytes are dropped or inserted.
        Text::Str(_) => {
            Ok(pyo3::types::PyString::new(py, &String::from_utf8_lossy(&folded)).into_any())
        }
        Text::Bytes(_) => Ok(pyo3::types::PyBytes::new(py, &folded).into_any()),
    }
}

/// The statistics stage's column names, in order.
#[pyfunction]
fn stat_names() -> Vec<&'static str> {
    fastscan_core::stats::STATS
        .iter()
        .map(|(name, _)| *name)
        .collect()
}

/// Resolves a thread count as a scanner would: returns `(threads, source)`.
#[pyfunction]
#[pyo3(signature = (threads = None))]
fn resolve_threads(py: Python<'_>, threads: Option<usize>) -> PyResult<(usize, &'static str)> {
    fastscan_core::resolve_threads_from_env(threads)
        .map(|(n, source)| (n, source.as_str()))
        .map_err(|e| to_pyerr(py, e))
}

/// A compiled pattern pack (the Rust handle behind `fastscan.Scanner`).
#[pyclass(module = "fastscan._fastscan", name = "Scanner", frozen)]
#[allow(clippy::struct_field_names)]
struct PyScanner {
    inner: Arc<Scanner>,
    schema: SchemaRef,
    scores_schema: SchemaRef,
    stats_schema: SchemaRef,
}

#[pymethods]
impl PyScanner {
    #[new]
    #[pyo3(signature = (source, *, syntax = "toml", threads = None, pattern_counts = false))]
    fn new(
        py: Python<'_>,
        source: &str,
        syntax: &str,
        threads: Option<usize>,
        pattern_counts: bool,
    ) -> PyResult<Self> {
        let pack = parse(py, source, syntax)?;
        let schema = output::schema(&pack, pattern_counts);
        let scores_schema = output::scores_schema(&pack, pattern_counts, false);
        let options = ScanOptions {
            threads,
            pattern_counts,
        };
        let scanner = py
            .detach(|| Scanner::new(pack, options))
            .map_err(|e| to_pyerr(py, e))?;
        Ok(PyScanner {
            inner: Arc::new(scanner),
            schema,
            scores_schema,
            stats_schema: stats::schema(),
        })
    }

    /// Scans a list of `str`/`bytes`; returns a `pyarrow.RecordBatch`.
    fn scan_list<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyList>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let items = Text::extract_list(texts)?;
        let scanner = &self.inner;
        let schema = &self.schema;
        let batch = py.detach(|| {
            scanner
                .scan_batch(items.as_slice())
                .map(|b| output::record_batch(scanner.pack(), schema, b))
        });
        finish(py, batch)
    }

    /// Scans an Arrow string or binary array (zero-copy); returns a `pyarrow.RecordBatch`.
    fn scan_arrow<'py>(&self, py: Python<'py>, array: PyArray) -> PyResult<Bound<'py, PyAny>> {
        let (array, _field) = array.into_inner();
        let scanner = &self.inner;
        let schema = &self.schema;
        let batch = py.detach(|| {
            with_arrow_docs(&array, |docs| {
                scanner
                    .scan_batch(docs)
                    .map(|b| output::record_batch(scanner.pack(), schema, b))
            })
        })?;
        finish(py, batch)
    }

    /// Document statistics of a list of `str`/`bytes`; returns a `pyarrow.RecordBatch`.
    fn stats_list<'py>(
        &self,
        py: Python<'py>,
        texts: &Bound<'py, PyList>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let items = Text::extract_list(texts)?;
        let pool = self.inner.pool();
        let schema = &self.stats_schema;
        let batch = py.detach(|| {
            fastscan_core::stats::stats_batch(pool, items.as_slice())
                .map(|values| stats::record_batch(schema, &values))
        });
        finish(py, batch)
    }

    /// Document statistics of an Arrow string or binary array (zero-copy; nulls count as
    /// empty); returns a `pyarrow.RecordBatch`.
    fn stats_arrow<'py>(&self, py: Python<'py>, array: PyArray) -> PyResult<Bound<'py, PyAny>> {
        let (array, _field) = array.into_inner();
        let pool = self.inner.pool();
        let schema = &self.stats_schema;
        let batch = py.detach(|| {
            with_arrow_docs(&array, |docs| {
                fastscan_core::stats::stats_batch(pool, docs)
                    .map(|values| stats::record_batch(schema, &values))
            })
        })?;
        finish(py, batch)
    }

    /// Judges an Arrow string/binary array (a Parquet shard's batch): returns the scores batch
    /// for rows `first_row..`, with null cells rejected as `null_text`, and the rows in
    /// `invalid_tokens` as `invalid_tokens`.
    #[pyo3(signature = (array, *, first_row = 0, min_score = DEFAULT_MIN_SCORE, require = Vec::new(), invalid_tokens = Vec::new()))]
    fn judge_arrow<'py>(
        &self,
        py: Python<'py>,
        array: PyArray,
        first_row: u64,
        min_score: f64,
        require: Vec<String>,
        invalid_tokens: Vec<usize>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let (array, _field) = array.into_inner();
        let scanner = &self.inner;
        let rule =
            KeepRule::new(scanner.pack(), min_score, &require).map_err(|e| to_pyerr(py, e))?;
        let n = array.len();
        let mut rejected: Vec<Option<RejectReason>> = (0..n)
            .map(|i| array.is_null(i).then_some(RejectReason::NullText))
            .collect();
        for i in invalid_tokens {
            if let Some(slot) = rejected.get_mut(i) {
                *slot = Some(RejectReason::InvalidTokens);
            }
        }
        let batch = py.detach(|| {
            with_arrow_docs(&array, |docs| {
                let lengths = (0..n).map(|i| docs.doc(i).len() as u64).collect();
                judge(scanner, &rule, docs, &rejected).map(|judged| {
                    let placement = output::Placement {
                        rows: (first_row..first_row + n as u64).collect(),
                        offsets: None,
                        lengths,
                        ids: None,
                    };
                    output::scores_batch(scanner.pack(), &self.scores_schema, placement, judged)
                })
            })
        })?;
        finish(py, batch)
    }

    /// The keep rule over a scores batch (its `score` column and the required groups' count
    /// columns): one boolean per row, false where the score is null. The rule the scan
    /// applied, for deciding again from a scores file (`fastscan select`).
    #[pyo3(signature = (batch, *, min_score = DEFAULT_MIN_SCORE, require = Vec::new()))]
    fn keeps_arrow<'py>(
        &self,
        py: Python<'py>,
        batch: PyRecordBatch,
        min_score: f64,
        require: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        use arrow_array::{BooleanArray, Float64Array, UInt32Array};
        let batch = batch.into_inner();
        let pack = self.inner.pack();
        let rule = KeepRule::new(pack, min_score, &require).map_err(|e| to_pyerr(py, e))?;
        let column = |name: &str| {
            batch
                .column_by_name(name)
                .ok_or_else(|| PyValueError::new_err(format!("the batch has no column {name:?}")))
        };
        let score = column("score")?;
        let score = score
            .as_any()
            .downcast_ref::<Float64Array>()
            .ok_or_else(|| PyTypeError::new_err("column \"score\" must be float64"))?;
        let mut groups: Vec<Option<&UInt32Array>> = vec![None; pack.groups.len()];
        let mut arrays = Vec::new();
        for name in &require {
            arrays.push((name.clone(), column(name)?));
        }
        for (name, array) in &arrays {
            let index = pack
                .groups
                .iter()
                .position(|g| &g.name == name)
                .unwrap_or(0);
            groups[index] = Some(
                array
                    .as_any()
                    .downcast_ref::<UInt32Array>()
                    .ok_or_else(|| {
                        PyTypeError::new_err(format!("column {name:?} must be uint32"))
                    })?,
            );
        }
        let mut counts = vec![0u32; pack.groups.len()];
        let keeps: BooleanArray = (0..batch.num_rows())
            .map(|i| {
                for (slot, group) in counts.iter_mut().zip(&groups) {
                    *slot = group.map_or(0, |g| g.value(i));
                }
                Some(score.is_valid(i) && rule.keeps(score.value(i), &counts))
            })
            .collect();
        let keeps = PyArray::from_array_ref(Arc::new(keeps))
            .to_pyarrow(py)?
            .unbind();
        Ok(keeps.into_bound(py))
    }

    /// Scans one `str` or `bytes` on the calling thread; returns a dict.
    fn scan_one<'py>(
        &self,
        py: Python<'py>,
        text: &Bound<'py, PyAny>,
    ) -> PyResult<Bound<'py, PyDict>> {
        let text = Text::extract(text, 0)
            .map_err(|_| PyTypeError::new_err("scan_one takes a str or bytes"))?;
        let row = py.detach(|| self.inner.scan_one(text.as_ref()));
        output::row_dict(py, self.inner.pack(), &row)
    }

    /// `(threads, source)`: the pool size and the setting it came from.
    #[getter]
    fn threads(&self) -> (usize, &'static str) {
        let (n, source) = self.inner.threads();
        (n, source.as_str())
    }

    /// Whether per-pattern counts are collected.
    #[getter]
    fn pattern_counts(&self) -> bool {
        self.inner.options().pattern_counts
    }
}

type BatchResult =
    fastscan_core::Result<Result<arrow_array::RecordBatch, arrow_schema::ArrowError>>;

fn finish(py: Python<'_>, batch: BatchResult) -> PyResult<Bound<'_, PyAny>> {
    let batch = batch
        .map_err(|e| to_pyerr(py, e))?
        .map_err(|e| PyValueError::new_err(format!("could not build the result batch: {e}")))?;
    PyRecordBatch::new(batch).into_pyarrow(py)
}

#[pymodule]
fn _fastscan(m: &Bound<'_, PyModule>) -> PyResult<()> {
    m.add_class::<PyScanner>()?;
    m.add_class::<shard::PyJsonlShard>()?;
    m.add_class::<shard::PyLmflowWriter>()?;
    m.add_function(wrap_pyfunction!(shard::copy_rows, m)?)?;
    m.add_class::<tokenizer::PyTokenizer>()?;
    m.add_class::<ngrams::PyNgramCounter>()?;
    m.add_class::<ngrams::PyNgramModel>()?;
    m.add_class::<toolcalls::PyToolCalls>()?;
    m.add_class::<toolcalls::PyLineReader>()?;
    m.add_class::<toolcalls::PyLineWriter>()?;
    m.add_function(wrap_pyfunction!(toolcalls::toolcall_canonical, m)?)?;
    m.add_function(wrap_pyfunction!(toolcalls::toolcall_tables, m)?)?;
    m.add_function(wrap_pyfunction!(toolcalls::normalize_type, m)?)?;
    m.add_function(wrap_pyfunction!(ngrams::ngram_bucket, m)?)?;
    m.add_function(wrap_pyfunction!(ngrams::doc_frequencies, m)?)?;
    m.add_function(wrap_pyfunction!(parse_pack, m)?)?;
    m.add_function(wrap_pyfunction!(fold, m)?)?;
    m.add_function(wrap_pyfunction!(resolve_threads, m)?)?;
    m.add_function(wrap_pyfunction!(stat_names, m)?)?;
    m.add("PackError", m.py().get_type::<PackError>())?;
    m.add("__version__", env!("CARGO_PKG_VERSION"))?;
    m.add("DEFAULT_MIN_SCORE", DEFAULT_MIN_SCORE)?;
    Ok(())
}
