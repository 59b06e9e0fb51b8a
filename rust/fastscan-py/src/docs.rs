//! Inputs to a batch scan: a Python list of `str`/`bytes`, or an Arrow array imported through
//! the `PyCapsule` interface. Both are read in place; nothing is copied into Rust strings.

use arrow_array::cast::AsArray;
use arrow_array::types::{ByteArrayType, ByteViewType};
use arrow_array::{Array, ArrayRef, GenericByteArray, GenericByteViewArray};
use arrow_schema::DataType;
use fastscan_core::Documents;
use pyo3::exceptions::PyTypeError;
use pyo3::prelude::*;
use pyo3::pybacked::{PyBackedBytes, PyBackedStr};
use pyo3::types::PyList;

/// One item of a Python list: the `str`'s UTF-8 buffer or the `bytes` object, kept alive.
pub enum Text {
    Str(PyBackedStr),
    Bytes(PyBackedBytes),
}

impl AsRef<[u8]> for Text {
    fn as_ref(&self) -> &[u8] {
        match self {
            Text::Str(s) => s.as_bytes(),
            Text::Bytes(b) => b.as_ref(),
        }
    }
}

impl Text {
    /// Borrows a `str` or `bytes` object; anything else is a `TypeError` naming the index.
    /// Every item of a Python list of `str` / `bytes`.
    pub fn extract_list(texts: &Bound<'_, PyList>) -> PyResult<Vec<Text>> {
        texts
            .iter()
            .enumerate()
            .map(|(i, item)| Text::extract(&item, i))
            .collect()
    }

    pub fn extract(item: &Bound<'_, PyAny>, index: usize) -> PyResult<Text> {
        if let Ok(s) = item.extract::<PyBackedStr>() {
            return Ok(Text::Str(s));
        }
        if let Ok(b) = item.extract::<PyBackedBytes>() {
            return Ok(Text::Bytes(b));
        }
        let type_name = item.get_type().name()?;
        Err(PyTypeError::new_err(format!(
            "texts[{index}] is {type_name}, expected str or bytes"
        )))
    }
}

struct ByteDocs<'a, T: ByteArrayType>(&'a GenericByteArray<T>);

impl<T: ByteArrayType> Documents for ByteDocs<'_, T>
where
    T::Native: AsRef<[u8]>,
{
    fn count(&self) -> usize {
        self.0.len()
    }
    fn doc(&self, i: usize) -> &[u8] {
        if self.0.is_null(i) {
            &[]
        } else {
            self.0.value(i).as_ref()
        }
    }
}

struct ViewDocs<'a, T: ByteViewType + ?Sized>(&'a GenericByteViewArray<T>);

impl<T: ByteViewType + ?Sized> Documents for ViewDocs<'_, T>
where
    T::Native: AsRef<[u8]>,
{
    fn count(&self) -> usize {
        self.0.len()
    }
    fn doc(&self, i: usize) -> &[u8] {
        if self.0.is_null(i) {
            &[]
        } else {
            self.0.value(i).as_ref()
        }
    }
}

/// Runs `f` over an Arrow array of strings or binaries, whichever of the six layouts it has.
pub fn with_arrow_docs<R>(array: &ArrayRef, f: impl FnOnce(&dyn Documents) -> R) -> PyResult<R> {
    Ok(match array.data_type() {
        DataType::Utf8 => f(&ByteDocs(array.as_string::<i32>())),
        DataType::LargeUtf8 => f(&ByteDocs(array.as_string::<i64>())),
        DataType::Binary => f(&ByteDocs(array.as_binary::<i32>())),
        DataType::LargeBinary => f(&ByteDocs(array.as_binary::<i64>())),
        DataType::Utf8View => f(&ViewDocs(array.as_string_view())),
        DataType::BinaryView => f(&ViewDocs(array.as_binary_view())),
        other => {
            return Err(PyTypeError::new_err(format!(
                "cannot scan an Arrow array of type {other}: expected string, large_string, \
                 string_view, binary, large_binary or binary_view"
            )))
        }
    })
}
