//! The rejects file: one JSON line per record that could not be scored, with the reason and
//! the record's bytes (as a string when they are UTF-8, base64 otherwise).

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use base64::Engine as _;
use serde::Serialize;

use super::compression::{Compression, Encoder};
use super::judge::RejectReason;

/// One rejected record, as written.
#[derive(Debug, Serialize)]
pub struct Reject<'a> {
    pub row: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    pub length: u64,
    pub reason: &'static str,
    pub detail: &'a str,
    /// The record verbatim, when it is valid UTF-8.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<&'a str>,
    /// The record base64-encoded, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line_base64: Option<String>,
    /// Set when only the first bytes of an oversized record are stored.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub truncated: bool,
}

impl<'a> Reject<'a> {
    /// Describes a rejected record holding `raw` (verbatim or a prefix when `truncated`).
    #[must_use]
    pub fn new(
        row: u64,
        offset: Option<u64>,
        length: u64,
        reason: RejectReason,
        detail: &'a str,
        raw: &'a [u8],
        truncated: bool,
    ) -> Self {
        let (line, line_base64) = match std::str::from_utf8(raw) {
            Ok(s) => (Some(s), None),
            // A prefix may end inside a character: store what decodes, like a verbatim cut.
            Err(e) if truncated && e.error_len().is_none() => {
                (std::str::from_utf8(&raw[..e.valid_up_to()]).ok(), None)
            }
            Err(_) => (
                None,
                Some(base64::engine::general_purpose::STANDARD.encode(raw)),
            ),
        };
        Reject {
            row,
            offset,
            length,
            reason: reason.as_str(),
            detail,
            line,
            line_base64,
            truncated,
        }
    }
}

/// Writes rejects to `path` (compressed as `compression` says), creating the file only when
/// there is a first reject.
pub struct RejectWriter {
    path: PathBuf,
    compression: Compression,
    out: Option<Encoder>,
    count: u64,
}

impl RejectWriter {
    #[must_use]
    pub fn new(path: &Path, compression: Compression) -> Self {
        RejectWriter {
            path: path.to_owned(),
            compression,
            out: None,
            count: 0,
        }
    }

    /// Appends one reject.
    pub fn write(&mut self, reject: &Reject<'_>) -> io::Result<()> {
        let out = match &mut self.out {
            Some(out) => out,
            None => self
                .out
                .insert(Encoder::create(&self.path, self.compression)?),
        };
        serde_json::to_writer(&mut *out, reject)?;
        out.write_all(b"\n")?;
        self.count += 1;
        Ok(())
    }

    /// Flushes; returns the number of rejects and the file, if one was written.
    pub fn finish(self) -> io::Result<(u64, Option<PathBuf>)> {
        match self.out {
            Some(out) => {
                out.finish()?;
                Ok((self.count, Some(self.path)))
            }
            None => Ok((0, None)),
        }
    }
}
