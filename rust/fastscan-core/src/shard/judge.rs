//! The keep rule and the per-record decision: kept, dropped, or rejected with a reason.

use crate::error::{CoreError, Result};
use crate::pack::Pack;
use crate::scan::{Documents, ScanBatch, Scanner};

/// Why a record could not be scored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RejectReason {
    /// The line is not valid JSON (or has trailing data after the object).
    InvalidJson,
    /// The line is not valid UTF-8.
    InvalidUtf8,
    /// The record has no text field (or is not a JSON object).
    MissingField,
    /// The text field holds a number, object, array, boolean or null.
    NotAString,
    /// The line is longer than the record limit.
    RecordTooLarge,
    /// A Parquet row whose text (or token) cell is null.
    NullText,
    /// A token id outside the tokenizer's vocabulary.
    InvalidTokens,
}

impl RejectReason {
    /// Every reason, in a fixed order.
    pub const ALL: [RejectReason; 7] = [
        RejectReason::InvalidJson,
        RejectReason::InvalidUtf8,
        RejectReason::MissingField,
        RejectReason::NotAString,
        RejectReason::RecordTooLarge,
        RejectReason::NullText,
        RejectReason::InvalidTokens,
    ];

    /// The reason's name in outputs and reports.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            RejectReason::InvalidJson => "invalid_json",
            RejectReason::InvalidUtf8 => "invalid_utf8",
            RejectReason::MissingField => "missing_field",
            RejectReason::NotAString => "not_a_string",
            RejectReason::RecordTooLarge => "record_too_large",
            RejectReason::NullText => "null_text",
            RejectReason::InvalidTokens => "invalid_tokens",
        }
    }
}

/// What happens to a record.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Decision {
    Kept,
    Dropped,
    Rejected(RejectReason),
}

impl Decision {
    /// `kept`, `dropped` or `rejected`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Decision::Kept => "kept",
            Decision::Dropped => "dropped",
            Decision::Rejected(_) => "rejected",
        }
    }
}

/// The keep rule's default `min_score`: the one place it is set (the binding and the Python
/// settings read it from here).
pub const DEFAULT_MIN_SCORE: f64 = 2.0;

/// Keeps a document when its score reaches `min_score` and every required group is hit
/// (its count reaches the group's `min_hits`).
#[derive(Debug, Clone, PartialEq)]
pub struct KeepRule {
    min_score: f64,
    /// `(group index, min_hits)` of each required group.
    require: Vec<(usize, u32)>,
}

impl KeepRule {
    /// Builds the rule; a required group the pack does not have is an error.
    pub fn new(pack: &Pack, min_score: f64, require: &[String]) -> Result<KeepRule> {
        if !min_score.is_finite() {
            return Err(CoreError::Config(format!(
                "min_score must be a finite number, not {min_score}"
            )));
        }
        let require = require
            .iter()
            .map(|name| {
                pack.groups
                    .iter()
                    .position(|g| &g.name == name)
                    .map(|i| (i, pack.groups[i].min_hits))
                    .ok_or_else(|| {
                        let known: Vec<&str> =
                            pack.groups.iter().map(|g| g.name.as_str()).collect();
                        CoreError::Config(format!(
                            "required group {name:?} is not in pack {:?} (its groups: {})",
                            pack.meta.name,
                            known.join(", ")
                        ))
                    })
            })
            .collect::<Result<_>>()?;
        Ok(KeepRule { min_score, require })
    }

    /// Whether a document with this score and these group counts is kept.
    #[must_use]
    pub fn keeps(&self, score: f64, group_counts: &[u32]) -> bool {
        score >= self.min_score
            && self
                .require
                .iter()
                .all(|&(g, min_hits)| group_counts[g] >= min_hits.max(1))
    }
}

/// Documents with the rejected ones blanked out (scanned as empty: all counts zero).
struct Masked<'a, D: ?Sized> {
    docs: &'a D,
    rejected: &'a [Option<RejectReason>],
}

impl<D: Documents + ?Sized> Documents for Masked<'_, D> {
    fn count(&self) -> usize {
        self.docs.count()
    }
    fn doc(&self, i: usize) -> &[u8] {
        if self.rejected[i].is_some() {
            &[]
        } else {
            self.docs.doc(i)
        }
    }
}

/// The scan of a batch and the decision for each of its records.
#[derive(Debug, Clone, PartialEq)]
pub struct Judged {
    pub scan: ScanBatch,
    pub decisions: Vec<Decision>,
}

/// Scans `docs` (skipping the rejected ones) and decides each record.
///
/// # Panics
/// When `rejected` does not have one slot per document.
pub fn judge<D: Documents + ?Sized>(
    scanner: &Scanner,
    rule: &KeepRule,
    docs: &D,
    rejected: &[Option<RejectReason>],
) -> Result<Judged> {
    assert_eq!(docs.count(), rejected.len(), "one reject slot per document");
    let scan = scanner.scan_batch(&Masked { docs, rejected })?;
    let n_groups = scan.n_groups;
    let decisions = rejected
        .iter()
        .enumerate()
        .map(|(i, r)| match r {
            Some(reason) => Decision::Rejected(*reason),
            None if rule.keeps(
                scan.scores[i],
                &scan.group_counts[i * n_groups..(i + 1) * n_groups],
            ) =>
            {
                Decision::Kept
            }
            None => Decision::Dropped,
        })
        .collect();
    Ok(Judged { scan, decisions })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::ScanOptions;

    fn scanner() -> Scanner {
        let pack = Pack::from_toml(
            r#"
            [[group]]
            name = "a"
            literals = ["alpha"]
            [[group]]
            name = "b"
            literals = ["beta"]
            min_hits = 2
            "#,
        )
        .unwrap();
        Scanner::new(
            pack,
            ScanOptions {
                threads: Some(1),
                pattern_counts: false,
            },
        )
        .unwrap()
    }

    #[test]
    fn rule_needs_score_and_required_groups() {
        let s = scanner();
        let rule = KeepRule::new(s.pack(), 1.0, &["b".to_owned()]).unwrap();
        let docs = ["alpha", "beta beta", "alpha beta", "alpha beta beta", "x"];
        let rejected = [None, None, None, None, Some(RejectReason::InvalidJson)];
        let j = judge(&s, &rule, &docs[..], &rejected).unwrap();
        assert_eq!(
            j.decisions,
            vec![
                Decision::Dropped,
                Decision::Kept,
                Decision::Dropped,
                Decision::Kept,
                Decision::Rejected(RejectReason::InvalidJson)
            ]
        );
        assert!(KeepRule::new(s.pack(), 0.0, &["nope".to_owned()]).is_err());
        assert!(KeepRule::new(s.pack(), f64::NAN, &[]).is_err());
    }
}
