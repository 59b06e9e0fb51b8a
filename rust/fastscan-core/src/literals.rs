//! Counting every (overlapping) occurrence of many literals: an Aho-Corasick DFA run on
//! several stretches of a document at once.
//!
//! A DFA walk is one dependent load per byte: the next state is not known until the current
//! one is. On one stretch of text the CPU waits on that chain (~2 ns a byte here, 500 MB/s);
//! walking [`LANES`] stretches of the same document in lock step gives it independent chains
//! to overlap, which is where this module's speed comes from (measured: 1 lane 550 MB/s,
//! 4 lanes 1,270 MB/s on the bench corpus with the 215 literals of the built-in pack).
//!
//! # Exactness
//!
//! A document of `n` bytes is cut into `LANES` stretches `[k*s, (k+1)*s)` (the last one runs to
//! the end). Lane `k > 0` starts in the start state `max_len - 1` bytes before its stretch and
//! counts only the matches that *end* inside its stretch. A match of length at most `max_len`
//! ending at or after `k*s` starts at or after `k*s - max_len + 1`, so the lane, started
//! there, sees it exactly as a walk from the document's start would (Aho-Corasick's
//! overlapping search reports every match ending at a position, whatever state it is in, once
//! the text it needs has been read). Every match ends in exactly one stretch, so every match is
//! counted exactly once. The tests compare against `aho-corasick`'s own overlapping iterator.
//!
//! # Table
//!
//! The DFA of the `aho-corasick` crate (standard match semantics, so each state lists every
//! pattern that ends there) is copied into a dense table of `states x classes` entries (bytes
//! no state tells apart share a class: ~70 classes for the built-in pack, so the rows of the
//! states a walk visits most stay in L1), with premultiplied state ids, renumbered so that match
//! states come first (one comparison says whether a state reports matches). A pack whose table would exceed
//! [`MAX_TABLE_BYTES`] keeps walking the crate's own DFA instead (same lanes).

use std::collections::HashMap;
use std::hash::Hash;

use aho_corasick::automaton::{Automaton, StateID};
use aho_corasick::dfa::DFA;
use aho_corasick::{Anchored, MatchKind};

use crate::error::{CoreError, Result};

/// Stretches walked at once on one document. Four measured best on the bench machine
/// (2 lanes 910 MB/s, 3 lanes 1,130, 4 lanes 1,270, 6 lanes 1,160, 8 lanes 1,080); the walk
/// is written out for four.
pub const LANES: usize = 4;

/// The largest dense table (bytes) built; past it the crate's DFA is walked directly.
pub const MAX_TABLE_BYTES: usize = 32 << 20;

/// A compiled set of literals, counted with overlaps.
#[derive(Debug)]
pub struct LiteralAutomaton {
    walk: Walk,
    /// Where a lane past the first starts reading before its stretch.
    warm: Warm,
}

/// How far before its stretch a lane starts (reading without reporting), so that it is in
/// the state a walk from the document's start would be in once its stretch begins.
#[derive(Debug, Clone, Copy)]
enum Warm {
    /// This many bytes: the longest literal, less one byte.
    Bytes(usize),
    /// At the byte that leaves this many kept bytes (bytes the folded view keeps) before the
    /// stretch: the longest literal. See [`LiteralAutomaton::on_raw`].
    KeptBytes(usize),
}

impl Warm {
    fn count(self) -> usize {
        match self {
            Warm::Bytes(n) | Warm::KeptBytes(n) => n,
        }
    }

    /// Where a lane whose stretch starts at `at` starts reading.
    fn from(self, doc: &[u8], at: usize) -> usize {
        match self {
            Warm::Bytes(n) => at - n,
            Warm::KeptBytes(n) => {
                let (mut i, mut kept) = (at, 0);
                while i > 0 && kept < n {
                    i -= 1;
                    kept += usize::from(crate::fold::is_kept(doc[i]));
                }
                i
            }
        }
    }
}

#[derive(Debug)]
enum Walk {
    Dense(Dense),
    Dfa { dfa: DFA, start: StateID },
}

/// The dense table: `trans[state * stride + classes[byte]]` is the next state times `stride`.
#[derive(Debug)]
struct Dense {
    /// Byte classes: bytes no state tells apart share a class (a row entry).
    classes: [u8; 256],
    /// The number of classes: the length of a row.
    stride: usize,
    trans: Vec<u32>,
    start: u32,
    /// States (times `stride`) below this one report matches.
    match_limit: u32,
    /// Per match state, in state order, the patterns ending there.
    matches: Vec<Vec<u32>>,
}

impl LiteralAutomaton {
    /// Compiles `literals` (none empty), folding ASCII case when asked.
    pub fn new<L: AsRef<[u8]>>(literals: &[L], ascii_case_insensitive: bool) -> Result<Self> {
        let (dfa, start) = aho_corasick_dfa(literals, ascii_case_insensitive)?;
        let warm = Warm::Bytes(dfa.max_pattern_len().saturating_sub(1));
        let walk = match Dense::of(&dfa, start) {
            Some(dense) => Walk::Dense(dense),
            None => Walk::Dfa { dfa, start },
        };
        Ok(LiteralAutomaton { walk, warm })
    }

    /// Compiles literals of the folded view (already folded: none empty, none starting or
    /// ending with a space) into an automaton that reads a document's *raw* bytes and counts
    /// exactly what [`LiteralAutomaton::new`] would count on the document's folded view
    /// ([`crate::fold`]), for every document without a backslash (the caller folds those).
    /// `None` when its table would be larger than [`MAX_TABLE_BYTES`].
    ///
    /// Its states pair an Aho-Corasick state with the fold's own state: whether a separator
    /// is pending, whether the last kept byte is a word byte, and whether the last byte read
    /// was kept (only then does the state report the matches ending there, so a quote or a
    /// space after a match does not report it again). A quote leaves the pair as it is, a
    /// whitespace byte sets the pending separator, and a kept byte feeds the Aho-Corasick
    /// automaton a space first when the fold would write one (a literal never ends with a
    /// space, so that step never completes a match), then the byte.
    ///
    /// Lanes past the first start at the byte that leaves as many kept bytes before their
    /// stretch as the longest literal ([`Warm::KeptBytes`]), in the start state: from there
    /// the lane writes the same folded bytes as a walk from the document's start (but for a
    /// separator before its first byte), so it is in the same state by its stretch, and every
    /// match ending in its stretch lies inside what it read.
    pub fn on_raw<L: AsRef<[u8]>>(
        literals: &[L],
        ascii_case_insensitive: bool,
    ) -> Result<Option<Self>> {
        #[derive(Clone, Copy, PartialEq, Eq, Hash)]
        struct Pair {
            q: StateID,
            pending: bool,
            last_word: bool,
            fresh: bool,
        }
        let (dfa, start) = aho_corasick_dfa(literals, ascii_case_insensitive)?;
        let ac = |q: StateID, b: u8| dfa.next_state(Anchored::No, q, b);
        let next = |p: Pair, b: u8| {
            let (word, kept, space) = crate::fold::class_of(b);
            if space {
                Pair {
                    pending: true,
                    fresh: false,
                    ..p
                }
            } else if !kept {
                Pair { fresh: false, ..p }
            } else {
                let q = if p.pending && p.last_word && word {
                    ac(p.q, b' ')
                } else {
                    p.q
                };
                Pair {
                    q: ac(q, b),
                    pending: false,
                    last_word: word,
                    fresh: true,
                }
            }
        };
        let reports = |p: Pair| {
            if p.fresh {
                reports_of(&dfa, p.q)
            } else {
                Vec::new()
            }
        };
        let start = Pair {
            q: start,
            pending: false,
            last_word: false,
            fresh: false,
        };
        Ok(
            Dense::build(start, next, reports).map(|dense| LiteralAutomaton {
                walk: Walk::Dense(dense),
                warm: Warm::KeptBytes(dfa.max_pattern_len()),
            }),
        )
    }

    /// Calls `hit(pattern)` once for every occurrence of every literal in `doc`, overlapping
    /// occurrences included (in no particular order). `scratch` holds the match states between
    /// the walk and the reporting; pass the same one for every document (no allocation each).
    pub fn for_each_match(&self, doc: &[u8], scratch: &mut Vec<u32>, mut hit: impl FnMut(usize)) {
        match &self.walk {
            Walk::Dense(d) => {
                let (trans, classes) = (d.trans.as_slice(), &d.classes);
                // SAFETY: every state in the walk is the start state or an entry of `trans`,
                // all of which are state indices times `stride` with `states * stride ==
                // trans.len()` (`Dense::of`), and every class is below `stride`, so the index
                // is below `trans.len()`. The bounds check this skips is a compare and a
                // branch per byte in the hottest loop.
                let step = |s: u32, b: u8| unsafe {
                    *trans.get_unchecked(s as usize + usize::from(classes[usize::from(b)]))
                };
                scratch.clear();
                walk(
                    doc,
                    self.warm,
                    d.start,
                    step,
                    |s| s < d.match_limit,
                    scratch,
                );
                for &s in scratch.iter() {
                    for &p in &d.matches[s as usize / d.stride] {
                        hit(p as usize);
                    }
                }
            }
            Walk::Dfa { dfa, start } => {
                // The fallback for oversized packs keeps its own buffer (its states are not u32).
                let start = *start;
                let step = |s: StateID, b: u8| dfa.next_state(Anchored::No, s, b);
                let is_match = |s: StateID| dfa.is_special(s) && dfa.is_match(s);
                let mut ends = Vec::new();
                walk(doc, self.warm, start, step, is_match, &mut ends);
                for s in ends {
                    for i in 0..dfa.match_len(s) {
                        hit(dfa.match_pattern(s, i).as_usize());
                    }
                }
            }
        }
    }
}

/// The `aho-corasick` DFA of `literals` (standard semantics, every match reported, no
/// prefilter: the walk visits every byte anyway) and its unanchored start state.
fn aho_corasick_dfa<L: AsRef<[u8]>>(
    literals: &[L],
    ascii_case_insensitive: bool,
) -> Result<(DFA, StateID)> {
    let error =
        |e: &dyn std::fmt::Display| CoreError::pack(None, None, format!("literal automaton: {e}"));
    let dfa = aho_corasick::dfa::Builder::new()
        .match_kind(MatchKind::Standard)
        .ascii_case_insensitive(ascii_case_insensitive)
        .prefilter(false)
        .build(literals)
        .map_err(|e| error(&e))?;
    let start = dfa.start_state(Anchored::No).map_err(|e| error(&e))?;
    Ok((dfa, start))
}

/// The patterns that end at DFA state `s` (none for a state that is not a match state).
fn reports_of(dfa: &DFA, s: StateID) -> Vec<u32> {
    if dfa.is_special(s) && dfa.is_match(s) {
        (0..dfa.match_len(s))
            .map(|i| dfa.match_pattern(s, i).as_u32())
            .collect()
    } else {
        Vec::new()
    }
}

impl Dense {
    /// The dense copy of `dfa`, or `None` when it would be larger than [`MAX_TABLE_BYTES`].
    fn of(dfa: &DFA, start: StateID) -> Option<Dense> {
        Dense::build(
            start,
            |s, b| dfa.next_state(Anchored::No, s, b),
            |s| reports_of(dfa, s),
        )
    }

    /// The dense table of any deterministic automaton: its start state, its transition
    /// function and the patterns each state reports (empty for states that report none).
    /// `None` when the table would be larger than [`MAX_TABLE_BYTES`].
    fn build<S: Copy + Eq + Hash>(
        start: S,
        next: impl Fn(S, u8) -> S,
        reports: impl Fn(S) -> Vec<u32>,
    ) -> Option<Dense> {
        // Every reachable state, breadth first from the start.
        let mut states = vec![start];
        let mut index: HashMap<S, usize> = HashMap::from([(start, 0)]);
        let mut i = 0;
        while i < states.len() {
            // Bounded before byte classes are known: rows of at most 256 entries.
            if states.len() * 256 * 4 > MAX_TABLE_BYTES {
                return None;
            }
            for b in 0..=255u8 {
                let to = next(states[i], b);
                index.entry(to).or_insert_with(|| {
                    states.push(to);
                    states.len() - 1
                });
            }
            i += 1;
        }
        // Byte classes: bytes whose column (next state from every state) is the same.
        let mut classes = [0u8; 256];
        let mut columns: HashMap<Vec<usize>, u8> = HashMap::new();
        for b in 0..=255u8 {
            let column: Vec<usize> = states.iter().map(|&s| index[&next(s, b)]).collect();
            let n = columns.len();
            // At most 256 distinct columns, so the class ids fit a byte.
            classes[usize::from(b)] = *columns.entry(column).or_insert(n as u8);
        }
        let stride = columns.len();
        let representative: Vec<u8> = (0..stride)
            .map(|c| (0..=255u8).find(|&b| usize::from(classes[usize::from(b)]) == c))
            .collect::<Option<_>>()?;
        // Match states first, each group in discovery order (a stable partition).
        let reported: Vec<Vec<u32>> = states.iter().map(|&s| reports(s)).collect();
        let mut order: Vec<usize> = (0..states.len())
            .filter(|&n| !reported[n].is_empty())
            .collect();
        let match_states = order.len();
        order.extend((0..states.len()).filter(|&n| reported[n].is_empty()));
        let premultiplied = u32::try_from(order.len() * stride).ok()?;
        let mut renumbered = vec![0u32; states.len()];
        for (n, &old) in order.iter().enumerate() {
            renumbered[old] = (n * stride) as u32;
        }
        let mut trans = Vec::with_capacity(premultiplied as usize);
        for &old in &order {
            trans.extend(
                representative
                    .iter()
                    .map(|&b| renumbered[index[&next(states[old], b)]]),
            );
        }
        let matches = order[..match_states]
            .iter()
            .map(|&old| reported[old].clone())
            .collect();
        Some(Dense {
            classes,
            stride,
            trans,
            start: renumbered[0],
            match_limit: (match_states * stride) as u32,
            matches,
        })
    }
}

/// Walks `doc` on [`LANES`] lanes (one when it is too short to be worth cutting) and pushes
/// every match state it enters onto `ends`, once per position; see the module documentation
/// for why every match is reported exactly once. The lanes' states are separate locals so
/// they stay in registers (an array of states was spilled to the stack: 860 vs 1,270 MB/s).
fn walk<S: Copy>(
    doc: &[u8],
    warm: Warm,
    start: S,
    step: impl Fn(S, u8) -> S,
    is_match: impl Fn(S) -> bool,
    ends: &mut Vec<S>,
) {
    let stretch = doc.len() / LANES;
    let tail = |mut s: S, bytes: &[u8], ends: &mut Vec<S>| {
        for &b in bytes {
            s = step(s, b);
            if is_match(s) {
                ends.push(s);
            }
        }
    };
    if stretch < 2 * warm.count() + 64 {
        tail(start, doc, ends);
        return;
    }
    // Lanes past the first read the bytes before their stretch without reporting.
    let warm = |k: usize| {
        doc[warm.from(doc, k * stretch)..k * stretch]
            .iter()
            .fold(start, |s, &b| step(s, b))
    };
    let (mut s0, mut s1, mut s2, mut s3) = (start, warm(1), warm(2), warm(3));
    let lanes = doc.as_ptr();
    let (at1, at2, at3) = (stretch, 2 * stretch, 3 * stretch);
    for i in 0..stretch {
        // SAFETY: `i < stretch` and `4 * stretch <= doc.len()`, so every read is in `doc`.
        let (b0, b1, b2, b3) = unsafe {
            let p = lanes.add(i);
            (*p, *p.add(at1), *p.add(at2), *p.add(at3))
        };
        s0 = step(s0, b0);
        s1 = step(s1, b1);
        s2 = step(s2, b2);
        s3 = step(s3, b3);
        // One rarely taken branch for the four lanes; the pushing stays out of the loop.
        if is_match(s0) | is_match(s1) | is_match(s2) | is_match(s3) {
            push_matches([s0, s1, s2, s3], &is_match, ends);
        }
    }
    // The last lane also reads the remainder (fewer than LANES bytes).
    tail(s3, &doc[LANES * stretch..], ends);
}

#[cold]
#[inline(never)]
fn push_matches<S: Copy>(states: [S; LANES], is_match: &impl Fn(S) -> bool, ends: &mut Vec<S>) {
    ends.extend(states.into_iter().filter(|&s| is_match(s)));
}

#[cfg(test)]
mod tests {
    use super::*;
    use aho_corasick::AhoCorasick;

    /// The crate's own overlapping search: per pattern, its number of matches.
    fn reference(literals: &[&str], doc: &[u8], fold: bool) -> Vec<u32> {
        let ac = AhoCorasick::builder()
            .ascii_case_insensitive(fold)
            .build(literals)
            .unwrap();
        let mut counts = vec![0; literals.len()];
        for m in ac.find_overlapping_iter(doc) {
            counts[m.pattern().as_usize()] += 1;
        }
        counts
    }

    fn counts(automaton: &LiteralAutomaton, n: usize, doc: &[u8]) -> Vec<u32> {
        let mut counts = vec![0; n];
        automaton.for_each_match(doc, &mut Vec::new(), |p| counts[p] += 1);
        counts
    }

    /// Documents of every length from 0 to 3,000 bytes over a small alphabet, so matches
    /// straddle every lane boundary: the counts equal the crate's overlapping iterator.
    #[test]
    fn lanes_count_exactly_what_the_crate_counts() {
        let literals = [
            "ab",
            "abcab",
            "b",
            "cabca",
            "aaaa",
            "bca",
            "abcabcabcabcabcabcabcab",
        ];
        let mut rng = 0x9e37_79b9_7f4a_7c15_u64;
        for fold in [false, true] {
            let automaton = LiteralAutomaton::new(&literals, fold).unwrap();
            assert!(matches!(automaton.walk, Walk::Dense(_)));
            for len in (0..3000).step_by(7) {
                let doc: Vec<u8> = (0..len)
                    .map(|_| {
                        rng ^= rng << 13;
                        rng ^= rng >> 7;
                        rng ^= rng << 17;
                        b"abcABC"[(rng % 6) as usize]
                    })
                    .collect();
                let expected = reference(&literals, &doc, fold);
                assert_eq!(
                    counts(&automaton, literals.len(), &doc),
                    expected,
                    "len {len}"
                );
            }
        }
    }

    /// A match ending exactly at each lane boundary, and one across it, counted once.
    #[test]
    fn matches_at_lane_boundaries_count_once() {
        let literals = ["xyz"];
        let automaton = LiteralAutomaton::new(&literals, false).unwrap();
        for len in [1000, 1001, 1003, 2048] {
            let stretch = len / LANES;
            for k in 1..LANES {
                for shift in 0..4 {
                    let mut doc = vec![b'.'; len];
                    let at = k * stretch + shift - 2;
                    doc[at..at + 3].copy_from_slice(b"xyz");
                    assert_eq!(counts(&automaton, 1, &doc), vec![1], "len {len} at {at}");
                }
            }
        }
    }

    #[test]
    fn walking_raw_bytes_counts_what_the_folded_view_holds() {
        // Folded literals (as the scanner compiles them), on documents of every length up to
        // 3,000 bytes (lanes in play) made of words, quotes, whitespace and punctuation.
        let literals: Vec<Vec<u8>> = ["type:object", "a b", "b:", "ab", "x", "required:[a", "b b"]
            .iter()
            .map(|l| crate::fold::fold(l.as_bytes()))
            .collect();
        let pieces: &[&[u8]] = &[
            b"type",
            b"object",
            b"a",
            b"b",
            b"AB",
            b"x",
            b":",
            b" ",
            b"\n  ",
            b"\"",
            b"'",
            b"[",
            b"required",
            b",",
            b"{",
            b"\t",
            "\u{e9}".as_bytes(),
        ];
        let mut seed = 0x853c_49e6_748f_ea9b_u64;
        let mut found = 0;
        for fold_case in [false, true] {
            let on_raw = LiteralAutomaton::on_raw(&literals, fold_case)
                .unwrap()
                .unwrap();
            let plain = LiteralAutomaton::new(&literals, fold_case).unwrap();
            for len in (0..3000).step_by(13) {
                let mut doc = Vec::new();
                while doc.len() < len {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    doc.extend_from_slice(pieces[(seed % pieces.len() as u64) as usize]);
                }
                let folded = crate::fold::fold(&doc);
                let want = counts(&plain, literals.len(), &folded);
                assert_eq!(
                    counts(&on_raw, literals.len(), &doc),
                    want,
                    "{:?}",
                    String::from_utf8_lossy(&doc)
                );
                found += want.iter().filter(|&&c| c > 0).count();
            }
        }
        // Every literal is found in many documents: the comparison is not of zeros.
        assert!(found > 1000, "{found}");
    }

    #[test]
    fn the_fallback_walk_counts_the_same() {
        let literals = ["ab", "abcab", "b", "cabca"];
        let dfa = aho_corasick::dfa::Builder::new()
            .match_kind(MatchKind::Standard)
            .prefilter(false)
            .build(literals)
            .unwrap();
        let automaton = LiteralAutomaton {
            warm: Warm::Bytes(dfa.max_pattern_len() - 1),
            walk: Walk::Dfa {
                start: dfa.start_state(Anchored::No).unwrap(),
                dfa,
            },
        };
        let doc = b"abcabcab-cabca-bab".repeat(100);
        assert_eq!(
            counts(&automaton, literals.len(), &doc),
            reference(&literals, &doc, false)
        );
    }
}
