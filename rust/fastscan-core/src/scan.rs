//! The scanner: one compiled pack, applied to many documents in parallel.
//!
//! # Match semantics
//!
//! Every pattern is counted on its own, as if it were searched alone:
//!
//! * **Literals** count every position where they occur, overlapping occurrences included
//!   (`"aa"` occurs twice in `"aaa"`). All literals of a pack, of every group, run in one
//!   Aho-Corasick DFA pass (two when the pack mixes case-sensitive and case-insensitive
//!   groups), walked on several stretches of the document at once ([`crate::literals`]).
//!   Case-insensitive literals fold ASCII letters only.
//! * **Regexes** count their leftmost-first, non-overlapping matches, as `re.finditer` in
//!   Python or `Regex::find_iter` in Rust would. A regex runs on a document only when that
//!   document holds one of the literals every match of the regex contains
//!   ([`crate::factors`]): multi-byte ones are found by the literal pass, which runs anyway,
//!   single bytes with `memchr`. Regexes that guarantee no literal run on every document; when
//!   a pack has more than [`MAX_DIRECT_REGEXES`] of them, one multi-pattern automaton
//!   (`RegexSet`, linear time, size-limited) first says which of them match at all.
//!   Skipping never changes a count: it only leaves out regexes that cannot match.
//!   Case-insensitive regexes are compiled as `(?i:...)` (Unicode simple case folding).
//!
//! * **Views.** Each pattern is matched on the view its group (or format) names: the document's
//!   bytes (`raw`, the default) or its folded view (`folded`, [`crate::fold`]), in which the
//!   same structure reads the same whether written as JSON with any spacing, a Python
//!   literal, JSON escaped inside a string (any depth) or YAML. Literals of folded groups are
//!   folded when the scanner is compiled; counting on a view follows the rules above on that
//!   view's bytes. The folded literals are also compiled into an automaton that reads a
//!   document's raw bytes and counts what its folded view holds
//!   ([`LiteralAutomaton::on_raw`]), so the folded view itself (a per-thread buffer) is built
//!   only for a document with a backslash or when a folded regex runs on it.
//!
//! A group's count is the sum of its patterns' counts (its formats' patterns included). A
//! format is *detected* in a document when its patterns' counts sum to at least its
//! `min_hits`. A group *reaches* its `min_hits` when its count is at least that. The score is
//!
//! ```text
//! score = sum over groups g that reach min_hits_g, and are not support groups unless some
//!         non-support group reaches its min_hits,  of  weight_g * log2(1 + count_g)
//! ```
//!
//! so one hit of a group adds its weight, three hits twice its weight, seven hits three times:
//! repetition helps, with diminishing returns, and long documents cannot win by length alone.
//! A *support* group (`support = true`: generic code markers, say) ranks documents that hold
//! other evidence but never scores on its own.

use std::collections::HashMap;

use rayon::prelude::*;
use regex::bytes::{Regex, RegexBuilder, RegexSet, RegexSetBuilder};

use crate::error::{CoreError, Result};
use crate::factors::required_factor;
use crate::literals::LiteralAutomaton;
use crate::pack::{effective_regex, Pack, View, REGEX_SET_SIZE_LIMIT, REGEX_SIZE_LIMIT};
use crate::threads::{resolve_threads_from_env, Pool, ThreadSource};

/// No format: the marker in [`Target::format`].
const NO_FORMAT: u32 = u32::MAX;

/// Regexes without a required literal run one by one up to this many; past it, a `RegexSet`
/// pass first says which of them match a document at all.
pub const MAX_DIRECT_REGEXES: usize = 8;

/// Options fixed when a scanner is built.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ScanOptions {
    /// Threads for batch scans; `None` resolves as described in [`crate::threads`].
    pub threads: Option<usize>,
    /// Also return one count per pattern (slower to collect and larger to return).
    pub pattern_counts: bool,
}

/// A collection of documents to scan: anything that yields byte slices by index.
///
/// The binding crate implements this for Arrow arrays, so a scan reads Arrow buffers in place.
pub trait Documents: Sync {
    /// The number of documents.
    fn count(&self) -> usize;
    /// The bytes of document `i` (`i < count()`); a missing (null) document is empty.
    fn doc(&self, i: usize) -> &[u8];
}

impl<T: AsRef<[u8]> + Sync> Documents for [T] {
    fn count(&self) -> usize {
        self.len()
    }
    fn doc(&self, i: usize) -> &[u8] {
        self[i].as_ref()
    }
}

/// Documents per parallel task: small enough to balance uneven document sizes, large enough
/// that task overhead stays invisible.
const ROWS_PER_TASK: usize = 64;

/// Mutable views of a batch's output rows, split into tasks for the pool.
struct Rows<'a> {
    scores: &'a mut [f64],
    formats: &'a mut [u64],
    groups: &'a mut [u32],
    patterns: Option<&'a mut [u32]>,
}

impl<'a> Rows<'a> {
    /// Splits into chunks of `size` rows, each with the index of its first row.
    fn split(self, size: usize, n_groups: usize, n_patterns: usize) -> Vec<(usize, Rows<'a>)> {
        let mut out = Vec::new();
        let mut rest = self;
        let mut first = 0;
        while !rest.scores.is_empty() {
            let n = size.min(rest.scores.len());
            let (scores, scores_rest) = rest.scores.split_at_mut(n);
            let (formats, formats_rest) = rest.formats.split_at_mut(n);
            let (groups, groups_rest) = rest.groups.split_at_mut(n * n_groups);
            let (patterns, patterns_rest) = match rest.patterns {
                Some(p) => {
                    let (a, b) = p.split_at_mut(n * n_patterns);
                    (Some(a), Some(b))
                }
                None => (None, None),
            };
            out.push((
                first,
                Rows {
                    scores,
                    formats,
                    groups,
                    patterns,
                },
            ));
            rest = Rows {
                scores: scores_rest,
                formats: formats_rest,
                groups: groups_rest,
                patterns: patterns_rest,
            };
            first += n;
        }
        out
    }
}

/// The pattern a hit counts towards: its group, format and id.
#[derive(Debug, Clone, Copy)]
struct Target {
    group: u32,
    format: u32,
    pattern: u32,
}

/// What an automaton pattern stands for: a pack literal's hit, or the required literal of a
/// regex (which then runs on the document).
#[derive(Debug, Clone, Copy)]
enum Member {
    Count(Target),
    Gate(u32),
}

/// One literal automaton of one view and case mode and, per automaton pattern, what it stands
/// for (one literal can belong to several groups, or also be a regex's required literal; the
/// automaton holds it once).
#[derive(Debug)]
struct LiteralSet {
    view: View,
    automaton: LiteralAutomaton,
    /// For the folded view: the same literals walked on a document's raw bytes
    /// ([`LiteralAutomaton::on_raw`]), used for documents without a backslash; `None` when
    /// its table would be too large (the folded view is then always built).
    on_raw: Option<LiteralAutomaton>,
    starts: Vec<u32>,
    members: Vec<Member>,
}

/// When a regex runs on a document.
#[derive(Debug, Clone)]
enum Gate {
    /// Only when one of its required literals was found by the literal pass.
    Literals,
    /// Only when the document holds one of these (at most three) bytes.
    Bytes(Vec<u8>),
    /// Always (it guarantees no literal).
    Always,
}

/// Per-thread buffers of a scan, reused across documents: one flag per regex (its required
/// literal was found), the literal walk's match states and the folded view of the document.
struct Scratch {
    fired: Vec<bool>,
    ends: Vec<u32>,
    folded: Vec<u8>,
}

/// A pack regex, with where its hits count, the view it reads and when it runs.
#[derive(Debug)]
struct GatedRegex {
    regex: Regex,
    target: Target,
    view: View,
    gate: Gate,
    /// Its gate bytes are all bytes the fold keeps, so (in a document without a backslash)
    /// they are in the folded view exactly when they are in the document.
    bytes_on_raw: bool,
}

/// A `RegexSet` over the always-run regexes of one view, when there are many.
#[derive(Debug)]
struct UngatedSet {
    view: View,
    set: RegexSet,
    /// Indices into `Scanner::regexes`, in set order.
    members: Vec<usize>,
}

/// The results of scanning one document.
#[derive(Debug, Clone, PartialEq)]
pub struct DocScan {
    pub score: f64,
    /// One count per group, in pack order.
    pub group_counts: Vec<u32>,
    /// Bit `f` is set when format `f` was detected.
    pub formats: u64,
    /// One count per pattern, when the scanner collects them.
    pub pattern_counts: Option<Vec<u32>>,
}

/// The results of scanning a batch, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct ScanBatch {
    pub n_docs: usize,
    pub n_groups: usize,
    pub n_patterns: usize,
    pub scores: Vec<f64>,
    /// `n_docs * n_groups` counts, document after document.
    pub group_counts: Vec<u32>,
    pub formats: Vec<u64>,
    /// `n_docs * n_patterns` counts, when the scanner collects them.
    pub pattern_counts: Option<Vec<u32>>,
}

impl ScanBatch {
    /// The counts of group `g` for every document.
    #[must_use]
    pub fn group_column(&self, g: usize) -> Vec<u32> {
        self.group_counts
            .iter()
            .skip(g)
            .step_by(self.n_groups)
            .copied()
            .collect()
    }

    /// The results of document `i` on their own.
    #[must_use]
    pub fn row(&self, i: usize) -> DocScan {
        DocScan {
            score: self.scores[i],
            group_counts: self.group_counts[i * self.n_groups..(i + 1) * self.n_groups].to_vec(),
            formats: self.formats[i],
            pattern_counts: self
                .pattern_counts
                .as_ref()
                .map(|p| p[i * self.n_patterns..(i + 1) * self.n_patterns].to_vec()),
        }
    }
}

/// A compiled pattern pack, reusable across documents and threads.
#[derive(Debug)]
pub struct Scanner {
    pack: Pack,
    options: ScanOptions,
    literal_sets: Vec<LiteralSet>,
    regexes: Vec<GatedRegex>,
    /// Per view, over its `Always` regexes, when there are many.
    regex_sets: Vec<UngatedSet>,
    /// Some pattern reads the folded view.
    folds: bool,
    /// Some folded literal set has no raw-byte walk: every document is folded.
    fold_always: bool,
    pool: Pool,
    thread_source: ThreadSource,
}

impl Scanner {
    /// Compiles `pack`. Fails on a configuration error (threads) or a regex set over the
    /// size limit; every single pattern was already checked by [`Pack`]'s validation.
    pub fn new(pack: Pack, options: ScanOptions) -> Result<Scanner> {
        let (threads, thread_source) = resolve_threads_from_env(options.threads)?;
        let mut regexes = Vec::new();
        let mut triggers: Vec<(View, Vec<u8>, u32)> = Vec::new();
        for id in pack.regex_ids() {
            let p = &pack.patterns[id];
            let source = effective_regex(&p.text, p.case_sensitive);
            let regex = RegexBuilder::new(&source)
                .size_limit(REGEX_SIZE_LIMIT)
                .build()
                .map_err(|e| CoreError::pack(None, Some(&p.text), e.to_string()))?;
            let factor = required_factor(&source).unwrap_or_default();
            let gate = if factor.is_empty() {
                Gate::Always
            } else if factor.iter().all(|m| m.len() >= 2) {
                let r = regexes.len() as u32;
                triggers.extend(factor.into_iter().map(|m| (p.view, m, r)));
                Gate::Literals
            } else if factor.len() <= 3 && factor.iter().all(|m| m.len() == 1) {
                Gate::Bytes(factor.into_iter().map(|m| m[0]).collect())
            } else {
                Gate::Always
            };
            let bytes_on_raw = match &gate {
                Gate::Bytes(bytes) => bytes.iter().all(|&b| crate::fold::is_kept(b) && b != b'\\'),
                _ => false,
            };
            regexes.push(GatedRegex {
                regex,
                target: target_of(&pack, id),
                view: p.view,
                gate,
                bytes_on_raw,
            });
        }
        let mut literal_sets = Vec::new();
        for view in [View::Raw, View::Folded] {
            for case_sensitive in [true, false] {
                let gates: Vec<(Vec<u8>, u32)> = if case_sensitive {
                    triggers
                        .iter()
                        .filter(|t| t.0 == view)
                        .map(|t| (t.1.clone(), t.2))
                        .collect()
                } else {
                    Vec::new()
                };
                if let Some(set) = build_literal_set(&pack, view, case_sensitive, &gates)? {
                    literal_sets.push(set);
                }
            }
        }
        let mut regex_sets = Vec::new();
        for view in [View::Raw, View::Folded] {
            let members: Vec<usize> = (0..regexes.len())
                .filter(|&r| regexes[r].view == view && matches!(regexes[r].gate, Gate::Always))
                .collect();
            if members.len() > MAX_DIRECT_REGEXES {
                let sources = members.iter().map(|&r| regexes[r].regex.as_str());
                let set = RegexSetBuilder::new(sources)
                    .size_limit(REGEX_SET_SIZE_LIMIT)
                    .dfa_size_limit(64 << 20)
                    .build()
                    .map_err(|e| {
                        CoreError::pack(
                            None,
                            None,
                            format!("the pack's regexes together do not compile: {e}"),
                        )
                    })?;
                regex_sets.push(UngatedSet { view, set, members });
            }
        }
        let folds = pack.patterns.iter().any(|p| p.view == View::Folded);
        let fold_always = literal_sets
            .iter()
            .any(|set| set.view == View::Folded && set.on_raw.is_none());
        Ok(Scanner {
            pack,
            options,
            literal_sets,
            regexes,
            regex_sets,
            folds,
            fold_always,
            pool: Pool::new(threads),
            thread_source,
        })
    }

    /// The pack this scanner was compiled from.
    #[must_use]
    pub fn pack(&self) -> &Pack {
        &self.pack
    }

    /// The options it was built with.
    #[must_use]
    pub fn options(&self) -> &ScanOptions {
        &self.options
    }

    /// The number of threads batch scans use, and where that number came from.
    #[must_use]
    pub fn threads(&self) -> (usize, ThreadSource) {
        (self.pool.threads(), self.thread_source)
    }

    /// The scanner's thread pool (other per-document work of a run shares it).
    #[must_use]
    pub fn pool(&self) -> &Pool {
        &self.pool
    }

    /// Runs `op` on the scanner's pool (inline when it has one thread: then `op` must not use
    /// rayon's parallel iterators, which would run on the global pool).
    pub fn install<R: Send>(&self, op: impl FnOnce() -> R + Send) -> Result<R> {
        self.pool.install(op)
    }

    /// Scans one document on the calling thread.
    #[must_use]
    pub fn scan_one(&self, doc: &[u8]) -> DocScan {
        let mut group_counts = vec![0; self.pack.groups.len()];
        let mut pattern_counts = self
            .options
            .pattern_counts
            .then(|| vec![0; self.pack.patterns.len()]);
        let mut scratch = self.scratch();
        let (score, formats) = self.scan_into(
            doc,
            &mut group_counts,
            pattern_counts.as_deref_mut(),
            &mut scratch,
        );
        DocScan {
            score,
            group_counts,
            formats,
            pattern_counts,
        }
    }

    /// Scans a batch of documents on the scanner's thread pool.
    pub fn scan_batch<D: Documents + ?Sized>(&self, docs: &D) -> Result<ScanBatch> {
        let n_docs = docs.count();
        let n_groups = self.pack.groups.len();
        let n_patterns = self.pack.patterns.len();
        let mut scores = vec![0.0; n_docs];
        let mut formats = vec![0u64; n_docs];
        let mut group_counts = vec![0u32; n_docs * n_groups];
        let mut pattern_counts = self
            .options
            .pattern_counts
            .then(|| vec![0u32; n_docs * n_patterns]);
        let rows = Rows {
            scores: &mut scores,
            formats: &mut formats,
            groups: &mut group_counts,
            patterns: pattern_counts.as_deref_mut(),
        };
        if self.pool.threads() == 1 {
            self.scan_rows(docs, 0, rows);
        } else {
            self.pool.install(|| {
                rows.split(ROWS_PER_TASK, n_groups, n_patterns)
                    .into_par_iter()
                    .for_each(|(first, chunk)| self.scan_rows(docs, first, chunk));
            })?;
        }
        Ok(ScanBatch {
            n_docs,
            n_groups,
            n_patterns,
            scores,
            group_counts,
            formats,
            pattern_counts,
        })
    }

    /// Scans documents `first..first + rows.len()` into `rows`, on the calling thread.
    fn scan_rows<D: Documents + ?Sized>(&self, docs: &D, first: usize, rows: Rows<'_>) {
        let n_groups = self.pack.groups.len();
        let n_patterns = self.pack.patterns.len();
        let mut patterns = rows.patterns;
        let mut scratch = self.scratch();
        for (i, (score, formats)) in rows
            .scores
            .iter_mut()
            .zip(rows.formats.iter_mut())
            .enumerate()
        {
            let groups = &mut rows.groups[i * n_groups..(i + 1) * n_groups];
            let per_pattern = patterns
                .as_deref_mut()
                .map(|p| &mut p[i * n_patterns..(i + 1) * n_patterns]);
            (*score, *formats) =
                self.scan_into(docs.doc(first + i), groups, per_pattern, &mut scratch);
        }
    }

    fn scratch(&self) -> Scratch {
        Scratch {
            fired: vec![false; self.regexes.len()],
            ends: Vec::new(),
            folded: Vec::new(),
        }
    }

    /// Counts into `groups` (and `patterns`), returns the score and the detected formats.
    /// `scratch` is reused from document to document.
    fn scan_into(
        &self,
        doc: &[u8],
        groups: &mut [u32],
        mut patterns: Option<&mut [u32]>,
        scratch: &mut Scratch,
    ) -> (f64, u64) {
        let Scratch {
            fired,
            ends,
            folded,
        } = scratch;
        // The folded view is built only when something must read it: a document with a
        // backslash (the raw-byte walk of the folded literals covers the others), a folded
        // literal set without a raw-byte walk, or a folded regex that runs.
        let mut have_folded = false;
        if self.folds && (self.fold_always || memchr::memchr(b'\\', doc).is_some()) {
            crate::fold::fold_into(doc, folded);
            have_folded = true;
        }
        let mut format_counts = [0u32; crate::pack::MAX_FORMATS];
        let mut count = |t: &Target, n: u32, patterns: &mut Option<&mut [u32]>| {
            groups[t.group as usize] += n;
            if t.format != NO_FORMAT {
                format_counts[t.format as usize] += n;
            }
            if let Some(p) = patterns.as_deref_mut() {
                p[t.pattern as usize] += n;
            }
        };
        fired.fill(false);
        for set in &self.literal_sets {
            let (automaton, text): (&LiteralAutomaton, &[u8]) = match (set.view, &set.on_raw) {
                (View::Raw, _) => (&set.automaton, doc),
                (View::Folded, Some(on_raw)) if !have_folded => (on_raw, doc),
                (View::Folded, _) => (&set.automaton, folded.as_slice()),
            };
            automaton.for_each_match(text, ends, |id| {
                let range = set.starts[id] as usize..set.starts[id + 1] as usize;
                for member in &set.members[range] {
                    match member {
                        Member::Count(t) => count(t, 1, &mut patterns),
                        Member::Gate(r) => fired[*r as usize] = true,
                    }
                }
            });
        }
        for (r, gated) in self.regexes.iter().enumerate() {
            let run = match &gated.gate {
                Gate::Literals => fired[r],
                Gate::Bytes(bytes) => {
                    let text: &[u8] = match gated.view {
                        View::Raw => doc,
                        View::Folded if !have_folded && gated.bytes_on_raw => doc,
                        View::Folded => {
                            ensure_folded(doc, folded, &mut have_folded);
                            folded
                        }
                    };
                    match bytes[..] {
                        [a] => memchr::memchr(a, text).is_some(),
                        [a, b] => memchr::memchr2(a, b, text).is_some(),
                        [a, b, c] => memchr::memchr3(a, b, c, text).is_some(),
                        _ => true,
                    }
                }
                // Run below, with its view's regex set when there is one.
                Gate::Always => !self.regex_sets.iter().any(|s| s.view == gated.view),
            };
            if run {
                let text: &[u8] = match gated.view {
                    View::Raw => doc,
                    View::Folded => {
                        ensure_folded(doc, folded, &mut have_folded);
                        folded
                    }
                };
                let n = gated.regex.find_iter(text).count() as u32;
                count(&gated.target, n, &mut patterns);
            }
        }
        for ungated in &self.regex_sets {
            let text: &[u8] = match ungated.view {
                View::Raw => doc,
                View::Folded => {
                    ensure_folded(doc, folded, &mut have_folded);
                    folded
                }
            };
            for i in &ungated.set.matches(text) {
                let gated = &self.regexes[ungated.members[i]];
                let n = gated.regex.find_iter(text).count() as u32;
                count(&gated.target, n, &mut patterns);
            }
        }
        (self.score_of(groups), self.formats_of(&format_counts))
    }

    /// The score of a document's group counts (see the module docs): supporting groups count
    /// only beside a non-supporting group that reached its `min_hits`.
    fn score_of(&self, groups: &[u32]) -> f64 {
        // `min_hits` is at least 1, so a group that reached it has a hit.
        let reached = || {
            self.pack
                .groups
                .iter()
                .zip(groups)
                .filter(|(g, &c)| c >= g.min_hits)
        };
        let evidence = reached().any(|(g, _)| !g.support);
        reached()
            .filter(|(g, _)| evidence || !g.support)
            // Summed from +0.0 in group order (`sum` would start at -0.0).
            .fold(0.0, |score, (g, &c)| {
                score + g.weight * f64::from(c).ln_1p() / std::f64::consts::LN_2
            })
    }

    fn formats_of(&self, format_counts: &[u32]) -> u64 {
        let mut formats = 0u64;
        for (f, format) in self.pack.formats.iter().enumerate() {
            if format_counts[f] >= format.min_hits {
                formats |= 1 << f;
            }
        }
        formats
    }
}

/// Builds the folded view of `doc` into `folded` unless it is there already.
fn ensure_folded(doc: &[u8], folded: &mut Vec<u8>, have_folded: &mut bool) {
    if !*have_folded {
        crate::fold::fold_into(doc, folded);
        *have_folded = true;
    }
}

fn target_of(pack: &Pack, id: usize) -> Target {
    let p = &pack.patterns[id];
    Target {
        group: p.group as u32,
        format: p.format.map_or(NO_FORMAT, |f| f as u32),
        pattern: id as u32,
    }
}

/// The automaton of the pack's literals of one case mode, plus (case-sensitive only) the
/// required literals of the regexes, `(literal, regex index)`.
fn build_literal_set(
    pack: &Pack,
    view: View,
    case_sensitive: bool,
    gates: &[(Vec<u8>, u32)],
) -> Result<Option<LiteralSet>> {
    // Unique automaton patterns, each with what it stands for.
    let mut keys: Vec<Vec<u8>> = Vec::new();
    let mut members: Vec<Vec<Member>> = Vec::new();
    let mut index = HashMap::new();
    let mut add = |key: Vec<u8>, member: Member| {
        let slot = *index.entry(key.clone()).or_insert_with(|| {
            keys.push(key);
            members.push(Vec::new());
            keys.len() - 1
        });
        members[slot].push(member);
    };
    for id in pack.literal_ids() {
        let p = &pack.patterns[id];
        if p.case_sensitive != case_sensitive || p.view != view {
            continue;
        }
        let mut key = p.literal_bytes();
        if !case_sensitive {
            key.make_ascii_lowercase();
        }
        add(key, Member::Count(target_of(pack, id)));
    }
    for (key, regex) in gates {
        add(key.clone(), Member::Gate(*regex));
    }
    if keys.is_empty() {
        return Ok(None);
    }
    let automaton = LiteralAutomaton::new(&keys, !case_sensitive)?;
    let on_raw = match view {
        View::Raw => None,
        View::Folded => LiteralAutomaton::on_raw(&keys, !case_sensitive)?,
    };
    let mut starts = Vec::with_capacity(keys.len() + 1);
    let mut flat = Vec::new();
    starts.push(0);
    for m in members {
        flat.extend(m);
        starts.push(flat.len() as u32);
    }
    Ok(Some(LiteralSet {
        view,
        automaton,
        on_raw,
        starts,
        members: flat,
    }))
}
