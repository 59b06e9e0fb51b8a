//! Turns a core [`ScanBatch`] (or a judged batch with its placement in a shard) into an Arrow
//! `RecordBatch`, and one row into a dict.

use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{
    ArrayRef, FixedSizeListArray, Float64Array, RecordBatch, StringArray, UInt32Array, UInt64Array,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use fastscan_core::{Decision, DocScan, Judged, Pack, ScanBatch};
use pyo3::prelude::*;
use pyo3::types::PyDict;

/// The result schema: `score`, one `uint32` column per group, `formats`, and optionally
/// `pattern_counts` (a fixed-size list with one count per pattern).
pub fn schema(pack: &Pack, pattern_counts: bool) -> SchemaRef {
    let mut fields = vec![Field::new("score", DataType::Float64, false)];
    for group in &pack.groups {
        fields.push(Field::new(&group.name, DataType::UInt32, false));
    }
    fields.push(Field::new(
        "formats",
        DataType::List(Arc::new(Field::new_list_field(DataType::Utf8, true))),
        false,
    ));
    if pattern_counts {
        fields.push(Field::new(
            "pattern_counts",
            DataType::FixedSizeList(
                Arc::new(Field::new_list_field(DataType::UInt32, false)),
                list_size(pack.patterns.len()),
            ),
            false,
        ));
    }
    let metadata = [("fastscan.pack".to_owned(), pack.meta.name.clone())].into();
    Arc::new(Schema::new_with_metadata(fields, metadata))
}

/// Arrow's fixed-size-list length. The core caps a pack at `MAX_PATTERNS` (far below
/// `i32::MAX`), so the saturation never happens.
fn list_size(n: usize) -> i32 {
    i32::try_from(n).unwrap_or(i32::MAX)
}

fn format_names(pack: &Pack, bits: u64) -> impl Iterator<Item = &str> {
    pack.formats
        .iter()
        .enumerate()
        .filter(move |(f, _)| bits & (1 << f) != 0)
        .map(|(_, format)| format.name.as_str())
}

/// Builds the record batch of a scan, moving its buffers (pure Rust: runs without the GIL).
pub fn record_batch(
    pack: &Pack,
    schema: &SchemaRef,
    batch: ScanBatch,
) -> Result<RecordBatch, ArrowError> {
    let columns = scan_columns(pack, batch)?;
    RecordBatch::try_new(Arc::clone(schema), columns)
}

/// The schema of a scores file: `row`, `offset` (JSONL only), `length` (bytes), the scan
/// columns of [`schema`], `decision` (`kept` / `dropped` / `rejected`) and `reject_reason`.
pub fn scores_schema(pack: &Pack, pattern_counts: bool, id: bool) -> SchemaRef {
    let scan = schema(pack, pattern_counts);
    let mut fields = vec![
        Field::new("row", DataType::UInt64, false),
        Field::new("offset", DataType::UInt64, true),
        Field::new("length", DataType::UInt64, false),
    ];
    if id {
        fields.push(Field::new("id", DataType::Utf8, true));
    }
    fields.extend(scan.fields().iter().map(|f| f.as_ref().clone()));
    fields.push(Field::new("decision", DataType::Utf8, false));
    fields.push(Field::new("reject_reason", DataType::Utf8, true));
    Arc::new(Schema::new_with_metadata(fields, scan.metadata().clone()))
}

/// Where each record of a judged batch sits in its shard.
pub struct Placement {
    pub rows: Vec<u64>,
    pub offsets: Option<Vec<u64>>,
    pub lengths: Vec<u64>,
    /// Each record's id, when the schema has an `id` column.
    pub ids: Option<Vec<Option<String>>>,
}

/// Builds a scores batch (schema from [`scores_schema`]).
pub fn scores_batch(
    pack: &Pack,
    schema: &SchemaRef,
    placement: Placement,
    judged: Judged,
) -> Result<RecordBatch, ArrowError> {
    let n = placement.rows.len();
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(UInt64Array::from(placement.rows)),
        match placement.offsets {
            Some(offsets) => Arc::new(UInt64Array::from(offsets)),
            None => Arc::new(UInt64Array::new_null(n)),
        },
        Arc::new(UInt64Array::from(placement.lengths)),
    ];
    if let Some(ids) = placement.ids {
        columns.push(Arc::new(StringArray::from(ids)));
    }
    columns.extend(scan_columns(pack, judged.scan)?);
    let decisions: StringArray = judged.decisions.iter().map(|d| Some(d.as_str())).collect();
    let reasons: StringArray = judged
        .decisions
        .iter()
        .map(|d| match d {
            Decision::Rejected(r) => Some(r.as_str()),
            _ => None,
        })
        .collect();
    columns.push(Arc::new(decisions));
    columns.push(Arc::new(reasons));
    RecordBatch::try_new(Arc::clone(schema), columns)
}

/// The scan columns of [`schema`], in order, moving the batch's buffers.
fn scan_columns(pack: &Pack, batch: ScanBatch) -> Result<Vec<ArrayRef>, ArrowError> {
    let mut columns: Vec<ArrayRef> = Vec::with_capacity(batch.n_groups + 3);
    let group_columns: Vec<ArrayRef> = (0..batch.n_groups)
        .map(|g| Arc::new(UInt32Array::from(batch.group_column(g))) as ArrayRef)
        .collect();
    columns.push(Arc::new(Float64Array::from(batch.scores)));
    columns.extend(group_columns);
    let mut formats = ListBuilder::new(StringBuilder::new());
    for &bits in &batch.formats {
        for name in format_names(pack, bits) {
            formats.values().append_value(name);
        }
        formats.append(true);
    }
    columns.push(Arc::new(formats.finish()));
    if let Some(counts) = batch.pattern_counts {
        let values = Arc::new(UInt32Array::from(counts));
        let field = Arc::new(Field::new_list_field(DataType::UInt32, false));
        columns.push(Arc::new(FixedSizeListArray::try_new(
            field,
            list_size(batch.n_patterns),
            values,
            None,
        )?));
    }
    Ok(columns)
}

/// One document's results as a dict with the same keys as the record batch's columns.
pub fn row_dict<'py>(py: Python<'py>, pack: &Pack, row: &DocScan) -> PyResult<Bound<'py, PyDict>> {
    let dict = PyDict::new(py);
    dict.set_item("score", row.score)?;
    for (group, count) in pack.groups.iter().zip(&row.group_counts) {
        dict.set_item(&group.name, count)?;
    }
    dict.set_item(
        "formats",
        format_names(pack, row.formats).collect::<Vec<_>>(),
    )?;
    if let Some(counts) = &row.pattern_counts {
        dict.set_item("pattern_counts", counts)?;
    }
    Ok(dict)
}
