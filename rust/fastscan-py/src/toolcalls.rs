//! Tool-call datasets: the core's checker and converter over blocks of records (Arrow in,
//! Arrow out), and the line reader / writer the Python layer streams JSONL files with.

use std::path::PathBuf;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::builder::{
    BinaryBuilder, BooleanBuilder, ListBuilder, StringBuilder, UInt32Builder, UInt64Builder,
};
use arrow_array::{Array, ArrayRef, BooleanArray, RecordBatch};
use arrow_schema::ArrowError;
use fastscan_core::shard::compression::{open_decoder, Compression, Encoder};
use fastscan_core::shard::lines::LineBlocks;
use fastscan_core::toolcalls::{self, Format, NotConverted};
use fastscan_core::Pool;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;
use pyo3::types::{PyDict, PyList};
use pyo3_arrow::{PyArray, PyRecordBatch};

use crate::docs::with_arrow_docs;
use crate::errors::to_pyerr;

fn format_arg(name: Option<&str>) -> PyResult<Option<Format>> {
    name.map(|n| {
        Format::from_name(n).ok_or_else(|| {
            let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
            PyValueError::new_err(format!(
                "unknown format {n:?}; the formats are {}",
                names.join(", ")
            ))
        })
    })
    .transpose()
}

fn batch<'py>(py: Python<'py>, columns: Vec<(&str, ArrayRef)>) -> PyResult<Bound<'py, PyAny>> {
    let b = RecordBatch::try_from_iter(columns).map_err(|e: ArrowError| {
        PyValueError::new_err(format!("could not build the result batch: {e}"))
    })?;
    PyRecordBatch::new(b).into_pyarrow(py)
}

/// Checks and converts blocks of tool-call records on a thread pool.
#[pyclass(module = "fastscan._fastscan", name = "ToolCalls", frozen)]
pub struct PyToolCalls {
    pool: Pool,
}

#[pymethods]
impl PyToolCalls {
    #[new]
    #[pyo3(signature = (*, threads = None))]
    fn new(py: Python<'_>, threads: Option<usize>) -> PyResult<Self> {
        let (n, _) =
            fastscan_core::resolve_threads_from_env(threads).map_err(|e| to_pyerr(py, e))?;
        Ok(PyToolCalls { pool: Pool::new(n) })
    }

    /// Checks an Arrow array of JSON records: `(records, violations)` batches. `records` has one
    /// row per record (status valid / invalid / rejected, format, mode, violations, reason,
    /// detail, called); `violations` one row per violation (`record` is the index in the array).
    #[pyo3(signature = (array, *, format = None))]
    fn check<'py>(
        &self,
        py: Python<'py>,
        array: PyArray,
        format: Option<&str>,
    ) -> PyResult<Bound<'py, PyTuple2>> {
        let format = format_arg(format)?;
        let (array, _) = array.into_inner();
        let results = py
            .detach(|| {
                with_arrow_docs(&array, |docs| {
                    toolcalls::check_documents(&self.pool, docs, format)
                })
            })?
            .map_err(|e| to_pyerr(py, e))?;
        let mut status = StringBuilder::new();
        let mut fmt = StringBuilder::new();
        let mut mode = StringBuilder::new();
        let mut count = UInt32Builder::new();
        let mut reason = StringBuilder::new();
        let mut detail = StringBuilder::new();
        let mut called = ListBuilder::new(StringBuilder::new());
        let (mut v_record, mut v_rule, mut v_path, mut v_message, mut v_tool) = (
            UInt64Builder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
            StringBuilder::new(),
        );
        for (i, r) in results.iter().enumerate() {
            match r {
                Ok(c) => {
                    status.append_value(if c.violations.is_empty() {
                        "valid"
                    } else {
                        "invalid"
                    });
                    fmt.append_value(c.format.name());
                    mode.append_value(c.mode);
                    count.append_value(c.violations.len() as u32);
                    reason.append_null();
                    detail.append_null();
                    for name in &c.called {
                        called.values().append_value(name);
                    }
                    called.append(true);
                    for v in &c.violations {
                        v_record.append_value(i as u64);
                        v_rule.append_value(v.rule);
                        v_path.append_value(&v.path);
                        v_message.append_value(&v.message);
                        v_tool.append_option(v.tool.as_deref());
                    }
                }
                Err(e) => {
                    status.append_value("rejected");
                    fmt.append_null();
                    mode.append_null();
                    count.append_value(0);
                    reason.append_value(e.reason);
                    detail.append_value(&e.detail);
                    called.append(true);
                }
            }
        }
        let records = batch(
            py,
            vec![
                ("status", Arc::new(status.finish()) as ArrayRef),
                ("format", Arc::new(fmt.finish())),
                ("mode", Arc::new(mode.finish())),
                ("violations", Arc::new(count.finish())),
                ("reason", Arc::new(reason.finish())),
                ("detail", Arc::new(detail.finish())),
                ("called", Arc::new(called.finish())),
            ],
        )?;
        let violations = batch(
            py,
            vec![
                ("record", Arc::new(v_record.finish()) as ArrayRef),
                ("rule", Arc::new(v_rule.finish())),
                ("path", Arc::new(v_path.finish())),
                ("message", Arc::new(v_message.finish())),
                ("tool", Arc::new(v_tool.finish())),
            ],
        )?;
        pyo3::types::PyTuple::new(py, [records, violations])
    }

    /// Converts an Arrow array of JSON records to `to`: one row per record (status `converted`,
    /// `not_converted` or `rejected`; output, from, reason, detail, lost).
    #[pyo3(signature = (array, to, *, from_format = None, allow = Vec::new()))]
    fn convert<'py>(
        &self,
        py: Python<'py>,
        array: PyArray,
        to: &str,
        from_format: Option<&str>,
        allow: Vec<String>,
    ) -> PyResult<Bound<'py, PyAny>> {
        let to = Format::from_name(to).ok_or_else(|| {
            let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
            PyValueError::new_err(format!(
                "unknown format {to:?}; the formats are {}",
                names.join(", ")
            ))
        })?;
        let from = format_arg(from_format)?;
        for a in &allow {
            if !toolcalls::LOSSES.iter().any(|(code, _)| code == a) {
                let codes: Vec<&str> = toolcalls::LOSSES.iter().map(|(c, _)| *c).collect();
                return Err(PyValueError::new_err(format!(
                    "unknown loss {a:?}; the losses are {}",
                    codes.join(", ")
                )));
            }
        }
        let (array, _) = array.into_inner();
        let results = py
            .detach(|| {
                with_arrow_docs(&array, |docs| {
                    toolcalls::convert_documents(&self.pool, docs, from, to, &allow)
                })
            })?
            .map_err(|e| to_pyerr(py, e))?;
        let mut status = StringBuilder::new();
        let mut output = StringBuilder::new();
        let mut source = StringBuilder::new();
        let mut reason = StringBuilder::new();
        let mut detail = StringBuilder::new();
        let mut lost = ListBuilder::new(StringBuilder::new());
        for r in &results {
            match r {
                Ok(c) => {
                    status.append_value("converted");
                    output.append_value(&c.json);
                    source.append_value(c.from.name());
                    reason.append_null();
                    detail.append_null();
                    for l in &c.lost {
                        lost.values().append_value(l);
                    }
                }
                Err(NotConverted::Loss(l)) => {
                    status.append_value("not_converted");
                    output.append_null();
                    source.append_null();
                    reason.append_value(l.code);
                    detail.append_value(&l.detail);
                }
                Err(NotConverted::Unreadable(e)) => {
                    status.append_value("rejected");
                    output.append_null();
                    source.append_null();
                    reason.append_value(e.reason);
                    detail.append_value(&e.detail);
                }
            }
            lost.append(true);
        }
        batch(
            py,
            vec![
                ("status", Arc::new(status.finish()) as ArrayRef),
                ("output", Arc::new(output.finish())),
                ("from", Arc::new(source.finish())),
                ("reason", Arc::new(reason.finish())),
                ("detail", Arc::new(detail.finish())),
                ("lost", Arc::new(lost.finish())),
            ],
        )
    }

    /// Extracts tool specs and calls from an Arrow array of documents (texts, or JSON records
    /// with `text_field`): `(docs, specs, calls, rejected)` batches; `doc` is the index in the
    /// array, offsets are characters of the document's text.
    #[pyo3(signature = (array, *, text_field = None))]
    fn extract<'py>(
        &self,
        py: Python<'py>,
        array: PyArray,
        text_field: Option<&str>,
    ) -> PyResult<Bound<'py, PyTuple2>> {
        let field = text_field
            .map(fastscan_core::shard::record::FieldPath::parse)
            .transpose()
            .map_err(PyValueError::new_err)?;
        let (array, _) = array.into_inner();
        let results = py
            .detach(|| {
                with_arrow_docs(&array, |docs| {
                    toolcalls::extract::extract_documents(&self.pool, docs, field.as_ref())
                })
            })?
            .map_err(|e| to_pyerr(py, e))?;
        extraction_batches(py, &results)
    }
}

type PyTuple2 = pyo3::types::PyTuple;

/// The `(docs, specs, calls, rejected)` batches of a block's extraction.
// One Arrow builder per output column: long, but one straight conversion.
#[allow(clippy::too_many_lines)]
fn extraction_batches<'py>(
    py: Python<'py>,
    results: &[Result<toolcalls::extract::DocRows, String>],
) -> PyResult<Bound<'py, PyTuple2>> {
    let mut d_error = StringBuilder::new();
    let (mut s_doc, mut s_name, mut s_desc, mut s_params) = (
        UInt64Builder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let (mut s_start, mut s_end, mut s_ext, mut s_syntax) = (
        UInt64Builder::new(),
        UInt64Builder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let (mut c_doc, mut c_name, mut c_args) = (
        UInt64Builder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let (mut c_start, mut c_end, mut c_ext, mut c_ctx) = (
        UInt64Builder::new(),
        UInt64Builder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    let (mut r_doc, mut r_ext, mut r_name, mut r_reason) = (
        UInt64Builder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
        StringBuilder::new(),
    );
    for (i, r) in results.iter().enumerate() {
        let doc = i as u64;
        let rows = match r {
            Ok(rows) => {
                d_error.append_null();
                rows
            }
            Err(e) => {
                d_error.append_value(e);
                continue;
            }
        };
        for (name, desc, params, start, end, ext, syntax) in &rows.specs {
            s_doc.append_value(doc);
            s_name.append_value(name);
            s_desc.append_option(desc.as_deref());
            s_params.append_value(params);
            s_start.append_value(*start as u64);
            s_end.append_value(*end as u64);
            s_ext.append_value(ext);
            s_syntax.append_value(syntax);
        }
        for (name, args, start, end, ext, ctx) in &rows.calls {
            c_doc.append_value(doc);
            c_name.append_value(name);
            c_args.append_value(args);
            c_start.append_value(*start as u64);
            c_end.append_value(*end as u64);
            c_ext.append_value(ext);
            c_ctx.append_value(ctx);
        }
        for (ext, name, reason, _, _) in &rows.rejected {
            r_doc.append_value(doc);
            r_ext.append_value(ext);
            r_name.append_value(name);
            r_reason.append_value(reason);
        }
    }
    let docs = batch(py, vec![("error", Arc::new(d_error.finish()) as ArrayRef)])?;
    let specs = batch(
        py,
        vec![
            ("doc", Arc::new(s_doc.finish()) as ArrayRef),
            ("name", Arc::new(s_name.finish())),
            ("description", Arc::new(s_desc.finish())),
            ("parameters", Arc::new(s_params.finish())),
            ("start", Arc::new(s_start.finish())),
            ("end", Arc::new(s_end.finish())),
            ("extractor", Arc::new(s_ext.finish())),
            ("syntax", Arc::new(s_syntax.finish())),
        ],
    )?;
    let calls = batch(
        py,
        vec![
            ("doc", Arc::new(c_doc.finish()) as ArrayRef),
            ("name", Arc::new(c_name.finish())),
            ("arguments", Arc::new(c_args.finish())),
            ("start", Arc::new(c_start.finish())),
            ("end", Arc::new(c_end.finish())),
            ("extractor", Arc::new(c_ext.finish())),
            ("context", Arc::new(c_ctx.finish())),
        ],
    )?;
    let rejected = batch(
        py,
        vec![
            ("doc", Arc::new(r_doc.finish()) as ArrayRef),
            ("extractor", Arc::new(r_ext.finish())),
            ("name", Arc::new(r_name.finish())),
            ("reason", Arc::new(r_reason.finish())),
        ],
    )?;
    pyo3::types::PyTuple::new(py, [docs, specs, calls, rejected])
}

/// The canonical record of one JSON record, as JSON text (`format` detected when `None`).
#[pyfunction]
#[pyo3(signature = (record, format = None))]
pub fn toolcall_canonical(record: &str, format: Option<&str>) -> PyResult<(String, String)> {
    let format = format_arg(format)?;
    match toolcalls::read_record(record.as_bytes(), format) {
        Ok((f, r)) => Ok((f.name().to_owned(), r.canonical().to_string())),
        Err(e) => Err(PyValueError::new_err(format!("{}: {}", e.reason, e.detail))),
    }
}

/// The tables the documentation is written from: formats, rules, losses, modes, type spellings.
#[pyfunction]
pub fn toolcall_tables(py: Python<'_>) -> PyResult<Bound<'_, PyDict>> {
    let d = PyDict::new(py);
    let names: Vec<&str> = Format::ALL.iter().map(|f| f.name()).collect();
    d.set_item("formats", names)?;
    d.set_item(
        "rules",
        PyList::new(py, toolcalls::RULES.iter().map(|(c, w)| (*c, *w)))?,
    )?;
    d.set_item(
        "losses",
        PyList::new(py, toolcalls::LOSSES.iter().map(|(c, w)| (*c, *w)))?,
    )?;
    d.set_item("modes", toolcalls::modes::MODES.to_vec())?;
    d.set_item(
        "extractors",
        PyList::new(
            py,
            toolcalls::extract::EXTRACTORS.iter().map(|(c, w)| (*c, *w)),
        )?,
    )?;
    Ok(d)
}

/// The JSON Schema a type spelling maps to (`None` when the table does not know it), and
/// whether the spelling marks the parameter optional.
#[pyfunction]
pub fn normalize_type(spelling: &str) -> Option<(String, bool)> {
    toolcalls::types::normalize_spelling(spelling)
        .map(|(schema, optional)| (schema.to_string(), optional))
}

/// Reads a JSONL file (compression by suffix) in blocks of whole lines: each a batch of `row`
/// (index of the record in the file), `line` (bytes, terminator excluded) and `oversized`
/// (the line is longer than `max_record_bytes`; `line` holds its first bytes).
#[pyclass(module = "fastscan._fastscan", name = "LineReader", frozen)]
pub struct PyLineReader {
    inner: Mutex<LineBlocks<Box<dyn std::io::Read + Send>>>,
}

#[pymethods]
impl PyLineReader {
    #[new]
    #[pyo3(signature = (path, *, block_bytes = 8 << 20, max_record_bytes = 64 << 20))]
    fn new(path: PathBuf, block_bytes: usize, max_record_bytes: usize) -> PyResult<Self> {
        let reader = open_decoder(
            &path,
            Compression::from_path(&path),
            Arc::new(AtomicU64::new(0)),
        )
        .map_err(|e| PyOSError::new_err(format!("{}: {e}", path.display())))?;
        Ok(PyLineReader {
            inner: Mutex::new(LineBlocks::new(reader, block_bytes, max_record_bytes)),
        })
    }

    fn __iter__(slf: PyRef<'_, Self>) -> PyRef<'_, Self> {
        slf
    }

    fn __next__<'py>(&self, py: Python<'py>) -> PyResult<Option<Bound<'py, PyAny>>> {
        let block = py
            .detach(|| {
                self.inner
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .next_block()
            })
            .map_err(|e| PyOSError::new_err(e.to_string()))?;
        let Some(block) = block else { return Ok(None) };
        let mut rows = UInt64Builder::new();
        let mut lines = BinaryBuilder::new();
        let mut oversized = BooleanBuilder::new();
        for l in &block.lines {
            rows.append_value(l.row);
            lines.append_value(l.content(&block.data));
            oversized.append_value(l.oversized.is_some());
        }
        batch(
            py,
            vec![
                ("row", Arc::new(rows.finish()) as ArrayRef),
                ("line", Arc::new(lines.finish())),
                ("oversized", Arc::new(oversized.finish())),
            ],
        )
        .map(Some)
    }
}

/// Writes lines to a file compressed as its suffix says (`.gz`, `.zst`, none); `finish()`
/// completes the stream (a writer dropped unfinished leaves a truncated file).
#[pyclass(module = "fastscan._fastscan", name = "LineWriter", frozen)]
pub struct PyLineWriter {
    inner: Mutex<Option<Encoder>>,
    path: PathBuf,
}

impl PyLineWriter {
    fn with<R>(&self, f: impl FnOnce(&mut Encoder) -> std::io::Result<R>) -> PyResult<R> {
        let mut guard = self.inner.lock().unwrap_or_else(PoisonError::into_inner);
        let enc = guard
            .as_mut()
            .ok_or_else(|| PyRuntimeError::new_err("the writer is finished"))?;
        f(enc).map_err(|e| PyOSError::new_err(format!("{}: {e}", self.path.display())))
    }
}

#[pymethods]
impl PyLineWriter {
    /// `like`: take the compression from this name's suffix instead (for a file written under
    /// a temporary name).
    #[new]
    #[pyo3(signature = (path, *, like = None))]
    fn new(path: PathBuf, like: Option<PathBuf>) -> PyResult<Self> {
        let compression = Compression::from_path(like.as_deref().unwrap_or(&path));
        let enc = Encoder::create(&path, compression)
            .map_err(|e| PyOSError::new_err(format!("{}: {e}", path.display())))?;
        Ok(PyLineWriter {
            inner: Mutex::new(Some(enc)),
            path,
        })
    }

    /// Writes the elements of a string / binary array where `mask` is true, one per line.
    #[pyo3(signature = (array, mask = None))]
    fn write(&self, py: Python<'_>, array: PyArray, mask: Option<PyArray>) -> PyResult<()> {
        use std::io::Write as _;
        let (array, _) = array.into_inner();
        let mask = match mask {
            Some(m) => {
                let (m, _) = m.into_inner();
                Some(
                    m.as_any()
                        .downcast_ref::<BooleanArray>()
                        .ok_or_else(|| PyValueError::new_err("mask must be a boolean array"))?
                        .clone(),
                )
            }
            None => None,
        };
        py.detach(|| {
            with_arrow_docs(&array, |docs| {
                self.with(|enc| {
                    for i in 0..docs.count() {
                        if mask.as_ref().is_none_or(|m| m.value(i)) {
                            enc.write_all(docs.doc(i))?;
                            enc.write_all(b"\n")?;
                        }
                    }
                    Ok(())
                })
            })
        })?
    }

    /// Completes the file.
    fn finish(&self, py: Python<'_>) -> PyResult<()> {
        let enc = self
            .inner
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        if let Some(enc) = enc {
            py.detach(|| enc.finish())
                .map_err(|e| PyOSError::new_err(format!("{}: {e}", self.path.display())))?;
        }
        Ok(())
    }
}
