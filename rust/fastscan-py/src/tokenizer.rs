//! `Tokenizer`: decodes Arrow lists of token ids into an Arrow string array.

use std::sync::Arc;

use arrow_array::builder::StringBuilder;
use arrow_array::cast::AsArray;
use arrow_array::types::{
    ArrowPrimitiveType, Int16Type, Int32Type, Int64Type, UInt16Type, UInt32Type, UInt64Type,
};
use arrow_array::{Array, ArrayRef, OffsetSizeTrait, StringArray};
use arrow_schema::DataType;
use fastscan_core::BpeDecoder;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3_arrow::PyArray;

use crate::errors::to_pyerr;

/// A GPT-2-style byte-level BPE vocabulary for decoding token-id columns.
#[pyclass(module = "fastscan._fastscan", name = "Tokenizer", frozen)]
pub struct PyTokenizer {
    inner: BpeDecoder,
}

/// Decoded texts (null where the input is null or holds an unknown id) and the rows with an
/// unknown id, each with the first such id (`None`: a null inside the list).
type Decoded = (StringArray, Vec<(usize, Option<i128>)>);

fn decode_list<O: OffsetSizeTrait, T: ArrowPrimitiveType>(
    decoder: &BpeDecoder,
    array: &ArrayRef,
) -> Decoded
where
    T::Native: Into<i128>,
{
    let list = array.as_list::<O>();
    let column = list.values().as_primitive::<T>();
    let values = column.values();
    let offsets = list.value_offsets();
    let mut bad = Vec::new();
    let mut bytes = Vec::new();
    let mut texts = StringBuilder::with_capacity(list.len(), values.len() * 4);
    for i in 0..list.len() {
        if list.is_null(i) {
            texts.append_null();
            continue;
        }
        let (start, end) = (offsets[i].as_usize(), offsets[i + 1].as_usize());
        // A null inside the list is no id at all (its slot holds a meaningless value).
        if column.null_count() > 0 && (start..end).any(|j| column.is_null(j)) {
            bad.push((i, None));
            texts.append_null();
            continue;
        }
        let ids = &values[start..end];
        // Ids beyond i64 (a u64 column) are unknown: reported as they are.
        if let Some(&big) = ids.iter().find(|&&v| i64::try_from(v.into()).is_err()) {
            bad.push((i, Some(big.into())));
            texts.append_null();
            continue;
        }
        bytes.clear();
        let ids = ids
            .iter()
            .map(|&v| i64::try_from(v.into()).unwrap_or(i64::MAX));
        match decoder.decode_into(ids, &mut bytes) {
            // Borrowed (no copy) unless a cut character needs U+FFFD.
            Ok(()) => texts.append_value(String::from_utf8_lossy(&bytes)),
            Err(id) => {
                bad.push((i, Some(i128::from(id))));
                texts.append_null();
            }
        }
    }
    (texts.finish(), bad)
}

fn decode_any<O: OffsetSizeTrait>(
    decoder: &BpeDecoder,
    array: &ArrayRef,
    values: &DataType,
) -> Option<Decoded> {
    Some(match values {
        DataType::Int16 => decode_list::<O, Int16Type>(decoder, array),
        DataType::Int32 => decode_list::<O, Int32Type>(decoder, array),
        DataType::Int64 => decode_list::<O, Int64Type>(decoder, array),
        DataType::UInt16 => decode_list::<O, UInt16Type>(decoder, array),
        DataType::UInt32 => decode_list::<O, UInt32Type>(decoder, array),
        DataType::UInt64 => decode_list::<O, UInt64Type>(decoder, array),
        _ => return None,
    })
}

/// `(pyarrow texts, bad rows)`, as `decode_arrow` returns them.
type DecodedPy<'py> = (Bound<'py, PyAny>, Vec<(usize, Option<i128>)>);

#[pymethods]
impl PyTokenizer {
    /// Builds the decoder from the text of a `tokenizer.json` or `vocab.json`.
    #[new]
    fn new(py: Python<'_>, json: &str) -> PyResult<Self> {
        let inner = py
            .detach(|| BpeDecoder::from_json(json))
            .map_err(|e| to_pyerr(py, e))?;
        Ok(PyTokenizer { inner })
    }

    /// Number of token ids the vocabulary defines slots for.
    #[getter]
    fn vocab_size(&self) -> usize {
        self.inner.vocab_size()
    }

    /// Decodes a list<int> array; returns `(texts, bad_rows)` where `bad_rows` lists
    /// `(row, first unknown id)` (None for a null inside the list) and those rows' texts are
    /// null.
    fn decode_arrow<'py>(&self, py: Python<'py>, array: PyArray) -> PyResult<DecodedPy<'py>> {
        let (array, _) = array.into_inner();
        let decoded = py.detach(|| match array.data_type() {
            DataType::List(f) => decode_any::<i32>(&self.inner, &array, f.data_type()),
            DataType::LargeList(f) => decode_any::<i64>(&self.inner, &array, f.data_type()),
            _ => None,
        });
        let (texts, bad) = decoded.ok_or_else(|| {
            PyTypeError::new_err(format!(
                "token ids must be a list or large_list of integers, not {}",
                array.data_type()
            ))
        })?;
        let texts: ArrayRef = Arc::new(texts);
        let capsule = PyArray::from_array_ref(texts).into_pyobject(py)?;
        let texts = py.import("pyarrow")?.getattr("array")?.call1((capsule,))?;
        Ok((texts, bad))
    }
}
