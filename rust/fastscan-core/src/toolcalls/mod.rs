//! Tool-call datasets: the canonical record ([`model`]), the formats that read and write it
//! ([`formats`]), the type table ([`types`]), the rule checker ([`check`]) and call modes
//! ([`modes`]); and the per-record entry points the binding runs over blocks of records:
//! [`check_record`] and [`convert_record`].

pub mod check;
pub mod extract;
pub mod formats;
pub mod model;
pub mod modes;
pub mod pylit;
pub mod types;

use serde_json::Value;

pub use check::{Violation, RULES};
pub use formats::{Format, Loss, ReadError, LOSSES};
pub use model::Record;

/// Parses one record's bytes and reads it in `format` (detected when `None`).
pub fn read_record(line: &[u8], format: Option<Format>) -> Result<(Format, Record), ReadError> {
    let value: Value = serde_json::from_slice(line).map_err(|e| ReadError {
        reason: "unparseable_json",
        detail: e.to_string(),
    })?;
    let Some(format) = format.or_else(|| formats::detect(&value)) else {
        return Err(ReadError {
            reason: "unknown_format",
            detail: "the record matches none of the formats (pass the format to read it as)".into(),
        });
    };
    formats::read(&value, format).map(|r| (format, r))
}

/// What the checker says of one record.
#[derive(Debug)]
pub struct Checked {
    pub format: Format,
    pub mode: &'static str,
    pub violations: Vec<Violation>,
    /// Names of the tools called.
    pub called: Vec<String>,
}

/// Checks one record: its violations (none: valid), or why it could not be read.
pub fn check_record(line: &[u8], format: Option<Format>) -> Result<Checked, ReadError> {
    let (format, record) = read_record(line, format)?;
    Ok(Checked {
        format,
        mode: modes::mode(&record),
        violations: check::check(&record),
        called: record.calls().map(|(_, _, c)| c.name.clone()).collect(),
    })
}

/// A converted record.
#[derive(Debug)]
pub struct Converted {
    pub from: Format,
    pub json: String,
    /// The losses allowed and met.
    pub lost: Vec<&'static str>,
}

/// Why a record was not converted.
#[derive(Debug)]
pub enum NotConverted {
    Unreadable(ReadError),
    Loss(Loss),
}

/// Converts one record to `to`. Every conversion that met no allowed loss is verified: the
/// written record is read back and must equal the source's canonical record, else it is
/// refused as `not_representable` (so nothing is dropped silently, whatever a writer misses).
pub fn convert_record(
    line: &[u8],
    from: Option<Format>,
    to: Format,
    allow: &[String],
) -> Result<Converted, NotConverted> {
    let (from, record) = read_record(line, from).map_err(NotConverted::Unreadable)?;
    let mut sink = formats::Sink::new(allow);
    let written = formats::write(&record, to, &mut sink).map_err(NotConverted::Loss)?;
    if sink.lost.is_empty() {
        let back = formats::read(&written, to).map(|r| r.canonical());
        let want = record.canonical();
        if back.as_ref() != Ok(&want) {
            let detail = match back {
                Ok(got) => first_difference(&want, &got, ""),
                Err(e) => format!("the written record does not read back: {}", e.detail),
            };
            return Err(NotConverted::Loss(Loss {
                code: "not_representable",
                detail,
            }));
        }
    }
    Ok(Converted {
        from,
        json: written.to_string(),
        lost: sink.lost,
    })
}

/// The path of the first place two canonical records differ, for messages.
fn first_difference(want: &Value, got: &Value, path: &str) -> String {
    match (want, got) {
        (Value::Object(a), Value::Object(b)) => {
            for (k, v) in a {
                match b.get(k) {
                    Some(w) if w == v => {}
                    Some(w) => return first_difference(v, w, &format!("{path}.{k}")),
                    None => return format!("{path}.{k} is lost"),
                }
            }
            match b.keys().find(|k| !a.contains_key(*k)) {
                Some(k) => format!("{path}.{k} appears"),
                None => format!("{path} differs"),
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (v, w)) in a.iter().zip(b).enumerate() {
                if v != w {
                    return first_difference(v, w, &format!("{path}[{i}]"));
                }
            }
            format!("{path} differs")
        }
        _ => format!(
            "{} reads back as {}",
            path.trim_start_matches('.'),
            short(got)
        ),
    }
}

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 80 {
        let mut end = 80;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        format!("{}...", &s[..end])
    } else {
        s
    }
}

/// Checks every document of a block on `pool`, in order.
pub fn check_documents(
    pool: &crate::Pool,
    docs: &dyn crate::Documents,
    format: Option<Format>,
) -> crate::Result<Vec<Result<Checked, ReadError>>> {
    use rayon::prelude::*;
    pool.install(|| {
        (0..docs.count())
            .into_par_iter()
            .map(|i| check_record(docs.doc(i), format))
            .collect()
    })
}

/// Converts every document of a block on `pool`, in order.
pub fn convert_documents(
    pool: &crate::Pool,
    docs: &dyn crate::Documents,
    from: Option<Format>,
    to: Format,
    allow: &[String],
) -> crate::Result<Vec<Result<Converted, NotConverted>>> {
    use rayon::prelude::*;
    pool.install(|| {
        (0..docs.count())
            .into_par_iter()
            .map(|i| convert_record(docs.doc(i), from, to, allow))
            .collect()
    })
}
