//! Document statistics as an Arrow `RecordBatch`: counts as `uint64`, fractions as `float64`.

use std::sync::Arc;

use arrow_array::{ArrayRef, Float64Array, RecordBatch, UInt64Array};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use fastscan_core::stats::{N_STATS, STATS};

/// The schema of a statistics batch, in `fastscan_core::stats::STATS` order.
pub fn schema() -> SchemaRef {
    let fields: Vec<Field> = STATS
        .iter()
        .map(|(name, count)| {
            let ty = if *count {
                DataType::UInt64
            } else {
                DataType::Float64
            };
            Field::new(*name, ty, false)
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// Row-major values (`N_STATS` per document) as a batch of `schema`.
#[allow(clippy::cast_sign_loss)] // the count columns hold non-negative integers
pub fn record_batch(schema: &SchemaRef, values: &[f64]) -> Result<RecordBatch, ArrowError> {
    let n = values.len() / N_STATS;
    let columns: Vec<ArrayRef> = STATS
        .iter()
        .enumerate()
        .map(|(j, (_, count))| {
            let column = (0..n).map(|i| values[i * N_STATS + j]);
            if *count {
                Arc::new(UInt64Array::from_iter_values(column.map(|v| v as u64))) as ArrayRef
            } else {
                Arc::new(Float64Array::from_iter_values(column)) as ArrayRef
            }
        })
        .collect();
    RecordBatch::try_new(schema.clone(), columns)
}
