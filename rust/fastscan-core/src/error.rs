//! The one error type of the core. The binding crate maps each variant to one Python
//! exception class (`PackError` is a `ValueError`, configuration errors are `ValueError`).

use std::fmt;

/// Where in a pattern pack a problem was found, and what it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackProblem {
    /// The group (or `group/format`) the problem is in, when it belongs to one.
    pub group: Option<String>,
    /// The literal or regex at fault, when one is.
    pub pattern: Option<String>,
    /// What is wrong, in words.
    pub reason: String,
}

impl fmt::Display for PackProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("invalid pattern pack")?;
        if let Some(group) = &self.group {
            write!(f, ": group {group:?}")?;
        }
        if let Some(pattern) = &self.pattern {
            write!(f, ", pattern {pattern:?}")?;
        }
        write!(f, ": {}", self.reason)
    }
}

/// Every error the core can return.
#[derive(Debug, thiserror::Error)]
pub enum CoreError {
    /// A pattern pack that cannot be compiled.
    #[error("{0}")]
    Pack(Box<PackProblem>),
    /// A bad setting (thread count, environment variable).
    #[error("{0}")]
    Config(String),
    /// A thread pool that could not be started.
    #[error("could not start the thread pool: {0}")]
    ThreadPool(String),
    /// Reading or writing a file failed; `context` says which file and what was being done.
    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },
}

impl CoreError {
    #[cold]
    pub(crate) fn pack(
        group: Option<&str>,
        pattern: Option<&str>,
        reason: impl Into<String>,
    ) -> Self {
        CoreError::Pack(Box::new(PackProblem {
            group: group.map(str::to_owned),
            pattern: pattern.map(str::to_owned),
            reason: reason.into(),
        }))
    }
}

impl CoreError {
    /// An I/O error with the file and the action that failed.
    #[cold]
    pub fn io(context: impl Into<String>, source: std::io::Error) -> Self {
        CoreError::Io {
            context: context.into(),
            source,
        }
    }
}

/// The result type of the core.
pub type Result<T, E = CoreError> = std::result::Result<T, E>;
