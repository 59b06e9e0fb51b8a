//! `JsonlShard`: the core's JSONL scan as a Python iterator of scores batches; `copy_rows`:
//! a shard's kept lines written from its input; `LmflowWriter` for the kept texts of Parquet
//! shards.

use std::path::PathBuf;
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::{Array, BooleanArray, LargeStringArray, UInt64Array};
use arrow_buffer::{Buffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::SchemaRef;
use fastscan_core::shard::compression::Compression;
use fastscan_core::shard::copy::{copy_rows as core_copy_rows, Chosen, KeptOutput};
use fastscan_core::shard::jsonl::{BlockReport, JsonlOptions, JsonlShard, Texts};
use fastscan_core::shard::lmflow::LmflowWriter;
use fastscan_core::shard::record::FieldPath;
use fastscan_core::{KeepRule, Scanner};
use pyo3::exceptions::{PyRuntimeError, PyStopIteration, PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::PyTuple;
use pyo3_arrow::{PyArray, PyRecordBatch};

use crate::errors::to_pyerr;
use crate::output::{scores_batch, Placement};
use crate::PyScanner;

fn compression(name: &str, what: &str) -> PyResult<Compression> {
    Compression::from_name(name).ok_or_else(|| {
        PyValueError::new_err(format!("{what} must be none, gzip or zstd, not {name:?}"))
    })
}

fn options(
    text_field: &str,
    block_bytes: usize,
    max_record_bytes: usize,
    survivor_texts: bool,
    id_field: Option<&str>,
) -> PyResult<JsonlOptions> {
    Ok(JsonlOptions {
        text_field: FieldPath::parse(text_field).map_err(PyValueError::new_err)?,
        block_bytes,
        max_record_bytes,
        survivor_texts,
        id_field: id_field
            .map(FieldPath::parse)
            .transpose()
            .map_err(PyValueError::new_err)?,
    })
}

/// Where kept records go, from the keyword arguments (`None`: neither given).
fn kept_output(
    kept_path: Option<PathBuf>,
    kept_compression: &str,
    lmflow_dir: Option<PathBuf>,
    lmflow_stem: &str,
    lmflow_max_bytes: u64,
) -> PyResult<Option<KeptOutput>> {
    Ok(match (kept_path, lmflow_dir) {
        (Some(path), None) => Some(KeptOutput::Lines {
            path,
            compression: compression(kept_compression, "kept_compression")?,
        }),
        (None, Some(dir)) => Some(KeptOutput::Lmflow {
            dir,
            stem: lmflow_stem.to_owned(),
            max_bytes: lmflow_max_bytes,
        }),
        (None, None) => None,
        _ => {
            return Err(PyValueError::new_err(
                "give at most one of kept_path and lmflow_dir",
            ))
        }
    })
}

/// A JSONL shard being scanned; iterating yields one scores `RecordBatch` per block (with
/// `survivor_texts`, a `(batch, texts)` pair: the texts of the records the keep rule keeps).
#[pyclass(module = "fastscan._fastscan", name = "JsonlShard", frozen)]
pub struct PyJsonlShard {
    inner: Mutex<Option<JsonlShard>>,
    scanner: Arc<Scanner>,
    schema: SchemaRef,
    survivor_texts: bool,
    blank_lines: std::sync::atomic::AtomicU64,
}

impl PyJsonlShard {
    fn with<R>(&self, f: impl FnOnce(&mut JsonlShard) -> R) -> PyResult<R> {
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let shard = guard
            .as_mut()
            .ok_or_else(|| PyRuntimeError::new_err("the shard is already finished"))?;
        Ok(f(shard))
    }
}

/// Texts as an Arrow large-string array (the buffers move, nothing is copied).
fn texts_array(texts: Texts) -> PyResult<LargeStringArray> {
    let offsets = if texts.offsets.is_empty() {
        vec![0]
    } else {
        texts.offsets
    };
    let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
    LargeStringArray::try_new(offsets, Buffer::from_vec(texts.data), None)
        .map_err(|e| PyValueError::new_err(format!("could not build the texts: {e}")))
}

#[pymethods]
impl PyJsonlShard {
    #[new]
    #[pyo3(signature = (
        scanner, path, *, rejects_path, rejects_compression = "none",
        text_field = "text", min_score = fastscan_core::shard::judge::DEFAULT_MIN_SCORE, require = Vec::new(),
        block_bytes = 8 << 20, max_record_bytes = 64 << 20, survivor_texts = false,
        id_field = None, kept_path = None, kept_compression = "none", lmflow_dir = None,
        lmflow_stem = "kept", lmflow_max_bytes = 256 << 20
    ))]
    #[allow(clippy::too_many_arguments)]
    fn new(
        py: Python<'_>,
        scanner: &PyScanner,
        path: PathBuf,
        rejects_path: PathBuf,
        rejects_compression: &str,
        text_field: &str,
        min_score: f64,
        require: Vec<String>,
        block_bytes: usize,
        max_record_bytes: usize,
        survivor_texts: bool,
        id_field: Option<&str>,
        kept_path: Option<PathBuf>,
        kept_compression: &str,
        lmflow_dir: Option<PathBuf>,
        lmflow_stem: &str,
        lmflow_max_bytes: u64,
    ) -> PyResult<Self> {
        let kept = kept_output(
            kept_path,
            kept_compression,
            lmflow_dir,
            lmflow_stem,
            lmflow_max_bytes,
        )?;
        let core = Arc::clone(&scanner.inner);
        let rule = KeepRule::new(core.pack(), min_score, &require).map_err(|e| to_pyerr(py, e))?;
        let rejects_compression = compression(rejects_compression, "rejects_compression")?;
        let options = options(
            text_field,
            block_bytes,
            max_record_bytes,
            survivor_texts,
            id_field,
        )?;
        let shard = py
            .detach(|| {
                JsonlShard::open(
                    &path,
                    Arc::clone(&core),
                    rule,
                    options,
                    kept.as_ref(),
                    &rejects_path,
                    rejects_compression,
                )
            })
            .map_err(|e| to_pyerr(py, e))?;
        Ok(PyJsonlShard {
            inner: Mutex::new(Some(shard)),
            schema: crate::output::scores_schema(
                core.pack(),
                core.options().pattern_counts,
                id_field.is_some(),
            ),
            scanner: core,
            survivor_texts,
            blank_lines: std::sync::atomic::AtomicU64::new(0),
        })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyAny>> {
        let next = py.detach(|| self.with(JsonlShard::next_block))?;
        let report: BlockReport = match next.map_err(|e| to_pyerr(py, e))? {
            Some(report) => report,
            None => return Err(PyStopIteration::new_err(())),
        };
        self.blank_lines
            .fetch_add(report.blank_lines, std::sync::atomic::Ordering::Relaxed);
        let placement = Placement {
            rows: report.rows,
            offsets: Some(report.offsets),
            lengths: report.lengths,
            ids: report.ids,
        };
        let batch = py
            .detach(|| scores_batch(self.scanner.pack(), &self.schema, placement, report.judged))
            .map_err(|e| PyValueError::new_err(format!("could not build the scores batch: {e}")))?;
        let batch = PyRecordBatch::new(batch).into_pyarrow(py)?;
        if !self.survivor_texts {
            return Ok(batch);
        }
        let texts = PyArray::from_array_ref(Arc::new(texts_array(report.survivors)?))
            .to_pyarrow(py)?
            .unbind();
        Ok(PyTuple::new(py, [batch, texts.into_bound(py)])?.into_any())
    }

    /// Bytes of the input file read so far (on-disk bytes, compressed when it is).
    #[getter]
    fn consumed(&self) -> PyResult<u64> {
        self.with(|s| s.consumed())
    }

    /// Whitespace-only lines seen so far (not records; counted for the report).
    #[getter]
    fn blank_lines(&self) -> u64 {
        self.blank_lines.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Decides the oldest survivors waiting (with a kept output), one boolean each, in
    /// order: the ones true are written to the kept output.
    fn keep_survivors(&self, py: Python<'_>, keep: PyArray) -> PyResult<()> {
        let (array, _) = keep.into_inner();
        let flags = array
            .as_any()
            .downcast_ref::<BooleanArray>()
            .ok_or_else(|| PyTypeError::new_err("keep must be a boolean array"))?;
        if flags.null_count() > 0 {
            return Err(PyValueError::new_err("keep has nulls"));
        }
        let flags: Vec<bool> = flags.values().iter().collect();
        py.detach(|| self.with(|s| s.keep_survivors(&flags)))?
            .map_err(|e| to_pyerr(py, e))
    }

    /// Completes the outputs; returns `(rejects path or None, [kept files])`.
    fn finish(&self, py: Python<'_>) -> PyResult<(Option<PathBuf>, Vec<PathBuf>)> {
        let shard = self
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("the shard is already finished"))?;
        py.detach(|| shard.finish()).map_err(|e| to_pyerr(py, e))
    }
}

fn u64_values(array: PyArray, name: &str) -> PyResult<Vec<u64>> {
    let (array, _) = array.into_inner();
    let values = array
        .as_any()
        .downcast_ref::<UInt64Array>()
        .ok_or_else(|| PyTypeError::new_err(format!("{name} must be a uint64 array")))?;
    if values.null_count() > 0 {
        return Err(PyValueError::new_err(format!("{name} has nulls")));
    }
    Ok(values.values().to_vec())
}

/// Writes the chosen lines of a JSONL shard (`rows` ascending, with the `offsets` and
/// `lengths` its scores file gives them) verbatim into `kept_path`, or their texts into
/// `LMFlow` files under `lmflow_dir`; returns the files written.
#[pyfunction]
#[pyo3(signature = (
    path, rows, offsets, lengths, *, kept_path = None, kept_compression = "none",
    lmflow_dir = None, lmflow_stem = "kept", lmflow_max_bytes = 256 << 20,
    text_field = "text", block_bytes = 8 << 20, max_record_bytes = 64 << 20
))]
#[allow(clippy::too_many_arguments)]
pub fn copy_rows(
    py: Python<'_>,
    path: PathBuf,
    rows: PyArray,
    offsets: PyArray,
    lengths: PyArray,
    kept_path: Option<PathBuf>,
    kept_compression: &str,
    lmflow_dir: Option<PathBuf>,
    lmflow_stem: &str,
    lmflow_max_bytes: u64,
    text_field: &str,
    block_bytes: usize,
    max_record_bytes: usize,
) -> PyResult<Vec<PathBuf>> {
    let out = kept_output(
        kept_path,
        kept_compression,
        lmflow_dir,
        lmflow_stem,
        lmflow_max_bytes,
    )?
    .ok_or_else(|| PyValueError::new_err("give one of kept_path and lmflow_dir"))?;
    let options = options(text_field, block_bytes, max_record_bytes, false, None)?;
    let rows = u64_values(rows, "rows")?;
    let offsets = u64_values(offsets, "offsets")?;
    let lengths = u64_values(lengths, "lengths")?;
    let chosen = Chosen {
        rows: &rows,
        offsets: &offsets,
        lengths: &lengths,
    };
    py.detach(|| core_copy_rows(&path, chosen, &options, &out))
        .map_err(|e| to_pyerr(py, e))
}

/// Writes texts into `LMFlow` `text_only` files (the Parquet path's `--output-format lmflow`).
#[pyclass(module = "fastscan._fastscan", name = "LmflowWriter", frozen)]
pub struct PyLmflowWriter {
    inner: Mutex<Option<LmflowWriter>>,
}

#[pymethods]
impl PyLmflowWriter {
    #[new]
    fn new(dir: PathBuf, stem: &str, max_bytes: u64) -> Self {
        PyLmflowWriter {
            inner: Mutex::new(Some(LmflowWriter::new(&dir, stem, max_bytes))),
        }
    }

    /// Appends every non-null text of an Arrow string array.
    fn write_arrow(&self, py: Python<'_>, array: PyArray) -> PyResult<()> {
        let (array, _) = array.into_inner();
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let writer = guard
            .as_mut()
            .ok_or_else(|| PyRuntimeError::new_err("the writer is already finished"))?;
        py.detach(|| {
            crate::docs::with_arrow_docs(&array, |docs| -> std::io::Result<()> {
                for i in 0..docs.count() {
                    if !arrow_array::Array::is_null(array.as_ref(), i) {
                        writer.write_text(&String::from_utf8_lossy(docs.doc(i)))?;
                    }
                }
                Ok(())
            })
        })?
        .map_err(|e| {
            pyo3::exceptions::PyOSError::new_err(format!("cannot write LMFlow output: {e}"))
        })
    }

    /// Closes the last file; returns every file written.
    fn finish(&self) -> PyResult<Vec<PathBuf>> {
        let writer = self
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
            .ok_or_else(|| PyRuntimeError::new_err("the writer is already finished"))?;
        writer.finish().map_err(|e| {
            pyo3::exceptions::PyOSError::new_err(format!("cannot write LMFlow output: {e}"))
        })
    }
}
