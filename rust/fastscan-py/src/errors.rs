//! Maps [`CoreError`] to Python exceptions: one place, one mapping.

use fastscan_core::CoreError;
use pyo3::exceptions::{PyOSError, PyRuntimeError, PyValueError};
use pyo3::prelude::*;

pyo3::create_exception!(
    _fastscan,
    PackError,
    PyValueError,
    "A pattern pack that cannot be compiled. Attributes: group, pattern, reason (each may be None)."
);

/// Converts a core error into the Python exception users catch.
pub fn to_pyerr(py: Python<'_>, err: CoreError) -> PyErr {
    match err {
        CoreError::Pack(problem) => {
            let pyerr = PackError::new_err(problem.to_string());
            let value = pyerr.value(py);
            let attrs = [
                ("group", problem.group.as_deref()),
                ("pattern", problem.pattern.as_deref()),
                ("reason", Some(problem.reason.as_str())),
            ];
            for (name, attr) in attrs {
                if let Err(e) = value.setattr(name, attr) {
                    return e;
                }
            }
            pyerr
        }
        CoreError::Config(message) => PyValueError::new_err(message),
        CoreError::ThreadPool(_) => PyRuntimeError::new_err(err.to_string()),
        CoreError::Io { .. } => PyOSError::new_err(err.to_string()),
    }
}
