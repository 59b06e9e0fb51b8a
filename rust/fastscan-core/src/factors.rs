//! Required literals of a regex: strings one of which every match must contain.
//!
//! The scanner uses them to skip regexes: a regex whose required literals do not occur in a
//! document cannot match there, so it is not run at all. Multi-byte literals ride along in the
//! literal automaton that runs anyway; single bytes are looked for with `memchr`.
//!
//! The walk over the regex's syntax tree is conservative: a literal is reported as required
//! only where the tree says so (a literal of a concatenation, a repetition of at least one, a
//! capture; for an alternation, one literal set per branch, united), so skipping on it never
//! changes a count. Where nothing useful is required the regex is simply always run.

use regex_syntax::hir::{Hir, HirKind};

/// The most alternatives a required set may hold (an alternation of more is not a good gate).
const MAX_ALTERNATIVES: usize = 32;

/// A set of strings one of which occurs in every match of the regex.
pub type Factor = Vec<Vec<u8>>;

/// The best required set of `pattern` (the regex as the scanner compiles it), or `None` when
/// the regex guarantees no literal or does not parse. "Best" means the longest shortest
/// member, then the fewest members: those fire the least often on text the regex misses.
#[must_use]
pub fn required_factor(pattern: &str) -> Option<Factor> {
    let hir = regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(pattern)
        .ok()?;
    required(&hir)
}

fn rank(factor: &Factor) -> (usize, std::cmp::Reverse<usize>) {
    let shortest = factor.iter().map(Vec::len).min().unwrap_or(0);
    (shortest, std::cmp::Reverse(factor.len()))
}

fn best(a: Option<Factor>, b: Option<Factor>) -> Option<Factor> {
    match (a, b) {
        (Some(a), Some(b)) => Some(if rank(&b) > rank(&a) { b } else { a }),
        (a, b) => a.or(b),
    }
}

fn required(hir: &Hir) -> Option<Factor> {
    match hir.kind() {
        HirKind::Literal(lit) if !lit.0.is_empty() => Some(vec![lit.0.to_vec()]),
        HirKind::Repetition(rep) if rep.min >= 1 => required(&rep.sub),
        HirKind::Capture(cap) => required(&cap.sub),
        HirKind::Concat(parts) => {
            // Adjacent literals join into one longer literal; every part is a candidate.
            let mut found = None;
            let mut run: Vec<u8> = Vec::new();
            for part in parts {
                if let HirKind::Literal(lit) = part.kind() {
                    run.extend_from_slice(&lit.0);
                    continue;
                }
                if !run.is_empty() {
                    found = best(found, Some(vec![std::mem::take(&mut run)]));
                }
                found = best(found, required(part));
            }
            if !run.is_empty() {
                found = best(found, Some(vec![run]));
            }
            found
        }
        HirKind::Alternation(branches) => {
            let mut all: Factor = Vec::new();
            for branch in branches {
                for member in required(branch)? {
                    if !all.contains(&member) {
                        all.push(member);
                    }
                }
            }
            (all.len() <= MAX_ALTERNATIVES).then_some(all)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn factor(pattern: &str) -> Option<Vec<String>> {
        required_factor(pattern).map(|f| {
            f.into_iter()
                .map(|m| String::from_utf8(m).unwrap())
                .collect()
        })
    }

    #[test]
    fn literals_inside_concatenations_and_repetitions() {
        assert_eq!(factor(r"curl -X"), Some(vec!["curl -X".into()]));
        assert_eq!(
            factor(r"(?m)^[ \t]+type:[ \t]*x"),
            Some(vec!["type:".into()])
        );
        assert_eq!(factor(r"(?:ab)+c"), Some(vec!["ab".into()]));
        assert_eq!(factor(r#""type"[ \t]*:"#), Some(vec!["\"type\"".into()]));
    }

    #[test]
    fn alternations_unite_their_branches() {
        assert_eq!(
            factor(r"(?:\*\*|`)(?:GET|POST)[ \t]+/"),
            Some(vec!["GET".into(), "POST".into()])
        );
        // One branch without a literal: the alternation guarantees nothing, the rest decides.
        assert_eq!(factor(r"(?:GET|[a-z]+) /x"), Some(vec![" /x".into()]));
    }

    #[test]
    fn optional_parts_and_classes_guarantee_nothing() {
        assert_eq!(factor(r"(?:abc)?[a-z]+"), None);
        assert_eq!(factor(r"(?:abc)*\d"), None);
        assert_eq!(factor(r"^$"), None);
        assert_eq!(factor(r"(unclosed"), None);
    }

    #[test]
    fn case_insensitive_letters_are_classes_not_literals() {
        // (?i) turns letters into classes; the `|` stays a literal.
        assert_eq!(factor(r"(?i)name[ \t]*\|"), Some(vec!["|".into()]));
    }
}
