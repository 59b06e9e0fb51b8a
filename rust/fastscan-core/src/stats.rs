//! Document statistics: length, character classes, and the Gopher quality and repetition
//! features (Rae et al. 2021, "Scaling Language Models: Methods, Analysis & Insights from
//! Training Gopher", appendix A; as implemented by datatrove's `GopherQualityFilter` and
//! `GopherRepetitionFilter`).
//!
//! Definitions, over the text's Unicode scalar values ("chars"):
//!
//! * **whitespace**: the Unicode `White_Space` property (`char::is_whitespace`).
//! * **words**: maximal runs of non-whitespace chars. A word's length is its char count.
//! * **lines**: the text split at `\n`, empty pieces dropped (a `\r` stays in its line).
//! * **paragraphs**: the text with leading and trailing whitespace removed, split at runs of two
//!   or more `\n`, empty pieces dropped.
//! * Character classes by Unicode general category: alphabetic `L*`, digit `Nd`, punctuation
//!   `P*` or `S*` (all of ASCII's punctuation and symbols), uppercase `Lu`; non-ASCII is any
//!   char above U+007F.
//! * **symbol words**: words made only of punctuation chars; `mean_word_length` leaves them out.
//! * **stop words**: the Gopher set (the, be, to, of, and, that, have, with), matched against
//!   whole words ASCII-case-insensitively.
//! * **bullet lines** start (after whitespace) with one of `• ‣ ◦ ⁃ - *`; **ellipsis lines**
//!   end (before whitespace) with `...` or `…`. `ellipsis_word_ratio` counts `...`
//!   (non-overlapping, left to right) and `…` in the whole text, per word.
//! * **duplicates**: a line (paragraph) is a duplicate when an equal one came before it;
//!   `dup_line_frac` is duplicates per line, `dup_line_char_frac` their chars per text char.
//! * **top n-gram** (n = 2, 3, 4): over word n-grams, the highest count `c`; among the n-grams
//!   with count `c` the longest `L` (its words joined by single spaces); the value is
//!   `c * L / chars`.
//! * **duplicated n-grams** (n = 5..=10): scanning word positions left to right, an n-gram seen
//!   before adds its words' chars (without spaces) and the scan jumps past it; otherwise it is
//!   remembered and the scan moves one word on. The value is those chars per text char.
//!
//! Fractions of an empty denominator are 0.

use rayon::prelude::*;
use rustc_hash::{FxBuildHasher, FxHashMap, FxHashSet};
use unicode_general_category::{get_general_category, GeneralCategory};

use crate::{Documents, Pool, Result};

/// The statistics, in column order: name and whether it is a count (else a fraction).
pub const STATS: &[(&str, bool)] = &[
    ("chars", true),
    ("words", true),
    ("lines", true),
    ("paragraphs", true),
    ("stop_words", true),
    ("mean_word_length", false),
    ("alpha_frac", false),
    ("digit_frac", false),
    ("punct_frac", false),
    ("whitespace_frac", false),
    ("upper_frac", false),
    ("non_ascii_frac", false),
    ("alpha_word_frac", false),
    ("symbol_word_ratio", false),
    ("ellipsis_word_ratio", false),
    ("bullet_line_frac", false),
    ("ellipsis_line_frac", false),
    ("dup_line_frac", false),
    ("dup_line_char_frac", false),
    ("dup_para_frac", false),
    ("dup_para_char_frac", false),
    ("top_2gram_char_frac", false),
    ("top_3gram_char_frac", false),
    ("top_4gram_char_frac", false),
    ("dup_5gram_char_frac", false),
    ("dup_6gram_char_frac", false),
    ("dup_7gram_char_frac", false),
    ("dup_8gram_char_frac", false),
    ("dup_9gram_char_frac", false),
    ("dup_10gram_char_frac", false),
];

/// Number of statistics per document.
pub const N_STATS: usize = STATS.len();

const STOP_WORDS: [&str; 8] = ["the", "be", "to", "of", "and", "that", "have", "with"];
const BULLETS: [char; 6] = ['•', '‣', '◦', '⁃', '-', '*'];

/// The statistics of one document, in [`STATS`] order (counts as exact integers in `f64`).
pub type DocStats = [f64; N_STATS];

// Character classes as bits.
const ALPHA: u8 = 1;
const DIGIT: u8 = 2;
const PUNCT: u8 = 4;
const UPPER: u8 = 8;

fn classes(c: char) -> u8 {
    use GeneralCategory as G;
    if c.is_ascii() {
        let bit = |on: bool, b: u8| if on { b } else { 0 };
        return bit(c.is_ascii_alphabetic(), ALPHA)
            | bit(c.is_ascii_digit(), DIGIT)
            | bit(c.is_ascii_punctuation(), PUNCT)
            | bit(c.is_ascii_uppercase(), UPPER);
    }
    match get_general_category(c) {
        G::UppercaseLetter => ALPHA | UPPER,
        G::LowercaseLetter | G::TitlecaseLetter | G::ModifierLetter | G::OtherLetter => ALPHA,
        G::DecimalNumber => DIGIT,
        G::ConnectorPunctuation
        | G::DashPunctuation
        | G::OpenPunctuation
        | G::ClosePunctuation
        | G::InitialPunctuation
        | G::FinalPunctuation
        | G::OtherPunctuation
        | G::MathSymbol
        | G::CurrencySymbol
        | G::ModifierSymbol
        | G::OtherSymbol => PUNCT,
        _ => 0,
    }
}

fn frac(part: usize, whole: usize) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 / whole as f64
    }
}

/// Computes every statistic of `text`.
#[must_use]
pub fn doc_stats(text: &str) -> DocStats {
    let mut out = [0.0; N_STATS];
    let mut chars = 0usize;
    let (mut alpha, mut digit, mut punct, mut space, mut upper, mut non_ascii) =
        (0usize, 0usize, 0usize, 0usize, 0usize, 0usize);
    for c in text.chars() {
        chars += 1;
        non_ascii += usize::from(!c.is_ascii());
        if c.is_whitespace() {
            space += 1;
            continue;
        }
        let k = classes(c);
        alpha += usize::from(k & ALPHA != 0);
        digit += usize::from(k & DIGIT != 0);
        punct += usize::from(k & PUNCT != 0);
        upper += usize::from(k & UPPER != 0);
    }

    let words: Vec<&str> = text.split_whitespace().collect();
    let ascii = text.is_ascii();
    let char_len = |s: &str| if ascii { s.len() } else { s.chars().count() };
    let word_len: Vec<usize> = words.iter().map(|w| char_len(w)).collect();
    let mut stop_words = 0usize;
    let mut alpha_words = 0usize;
    let (mut content_words, mut content_chars) = (0usize, 0usize);
    for (w, &len) in words.iter().zip(&word_len) {
        stop_words += usize::from(STOP_WORDS.iter().any(|s| w.eq_ignore_ascii_case(s)));
        let mut any_alpha = false;
        let mut any_content = false;
        for c in w.chars() {
            let k = classes(c);
            any_alpha |= k & ALPHA != 0;
            any_content |= k & PUNCT == 0;
        }
        alpha_words += usize::from(any_alpha);
        if any_content {
            content_words += 1;
            content_chars += len;
        }
    }
    let n_words = words.len();
    let hashes = text.matches('#').count();
    let ellipses = text.matches("...").count() + text.matches('…').count();

    let lines: Vec<&str> = text.split('\n').filter(|l| !l.is_empty()).collect();
    let bullets = lines
        .iter()
        .filter(|l| l.trim_start().starts_with(BULLETS))
        .count();
    let ellipsis_lines = lines
        .iter()
        .filter(|l| {
            let t = l.trim_end();
            t.ends_with("...") || t.ends_with('…')
        })
        .count();
    let (dup_lines, dup_line_chars) = duplicates(&lines, char_len);
    let paragraphs = split_paragraphs(text.trim());
    let (dup_paras, dup_para_chars) = duplicates(&paragraphs, char_len);

    let ids = word_ids(&words);
    let mut grams = Grams::new(words.len());
    let mut top = |n| frac(grams.top_chars(&ids, &word_len, n), chars);
    let tops = [top(2), top(3), top(4)];
    let mut dup = |n| frac(grams.duplicated_chars(&ids, &word_len, n), chars);
    let dups = [dup(5), dup(6), dup(7), dup(8), dup(9), dup(10)];
    let values: [f64; N_STATS] = [
        chars as f64,
        n_words as f64,
        lines.len() as f64,
        paragraphs.len() as f64,
        stop_words as f64,
        frac(content_chars, content_words),
        frac(alpha, chars),
        frac(digit, chars),
        frac(punct, chars),
        frac(space, chars),
        frac(upper, chars),
        frac(non_ascii, chars),
        frac(alpha_words, n_words),
        frac(hashes, n_words),
        frac(ellipses, n_words),
        frac(bullets, lines.len()),
        frac(ellipsis_lines, lines.len()),
        frac(dup_lines, lines.len()),
        frac(dup_line_chars, chars),
        frac(dup_paras, paragraphs.len()),
        frac(dup_para_chars, chars),
        tops[0],
        tops[1],
        tops[2],
        dups[0],
        dups[1],
        dups[2],
        dups[3],
        dups[4],
        dups[5],
    ];
    out.copy_from_slice(&values);
    out
}

/// The statistics of every document of a batch, row after row (`N_STATS` values each), on
/// `pool`. Bytes that are not UTF-8 are read as U+FFFD.
pub fn stats_batch<D: Documents + ?Sized>(pool: &Pool, docs: &D) -> Result<Vec<f64>> {
    let n = docs.count();
    let mut out = vec![0.0; n * N_STATS];
    let one = |(i, row): (usize, &mut [f64])| {
        let text = String::from_utf8_lossy(docs.doc(i));
        row.copy_from_slice(&doc_stats(&text));
    };
    if pool.threads() == 1 {
        out.chunks_mut(N_STATS).enumerate().for_each(one);
    } else {
        pool.install(|| out.par_chunks_mut(N_STATS).enumerate().for_each(one))?;
    }
    Ok(out)
}

/// Pieces between runs of two or more `\n`, empty pieces dropped.
fn split_paragraphs(text: &str) -> Vec<&str> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\n' {
            let run_end = bytes[i..]
                .iter()
                .position(|&b| b != b'\n')
                .map_or(bytes.len(), |p| i + p);
            if run_end - i >= 2 {
                out.push(&text[start..i]);
                start = run_end;
            }
            i = run_end;
        } else {
            i += 1;
        }
    }
    out.push(&text[start..]);
    out.retain(|p| !p.is_empty());
    out
}

/// (pieces equal to an earlier piece, their chars).
fn duplicates(pieces: &[&str], char_len: impl Fn(&str) -> usize) -> (usize, usize) {
    let mut seen: FxHashSet<&str> =
        FxHashSet::with_capacity_and_hasher(pieces.len(), FxBuildHasher);
    let (mut n, mut chars) = (0, 0);
    for p in pieces {
        if !seen.insert(p) {
            n += 1;
            chars += char_len(p);
        }
    }
    (n, chars)
}

/// Each word as a dense id: equal words, equal ids.
fn word_ids(words: &[&str]) -> Vec<u32> {
    let mut ids: FxHashMap<&str, u32> =
        FxHashMap::with_capacity_and_hasher(words.len(), FxBuildHasher);
    words
        .iter()
        .map(|w| {
            let next = ids.len() as u32;
            *ids.entry(w).or_insert(next)
        })
        .collect()
}

/// Scratch tables reused across the n-gram passes of one document.
struct Grams<'a> {
    counts: FxHashMap<&'a [u32], (usize, usize)>,
    seen: FxHashSet<&'a [u32]>,
}

impl<'a> Grams<'a> {
    fn new(words: usize) -> Self {
        Grams {
            counts: FxHashMap::with_capacity_and_hasher(words, FxBuildHasher),
            seen: FxHashSet::with_capacity_and_hasher(words, FxBuildHasher),
        }
    }

    /// `c * L` of the most frequent word n-gram (see the module docs).
    fn top_chars(&mut self, ids: &'a [u32], word_len: &[usize], n: usize) -> usize {
        if ids.len() < n {
            return 0;
        }
        self.counts.clear();
        for (i, gram) in ids.windows(n).enumerate() {
            self.counts.entry(gram).or_insert((0, i)).0 += 1;
        }
        let mut best = (0usize, 0usize); // (count, length)
        for (count, first) in self.counts.values() {
            let len = word_len[*first..*first + n].iter().sum::<usize>() + n - 1;
            best = best.max((*count, len));
        }
        best.0 * best.1
    }

    /// Chars of the duplicated word n-grams, scanning as the module docs describe.
    fn duplicated_chars(&mut self, ids: &'a [u32], word_len: &[usize], n: usize) -> usize {
        if ids.len() < n {
            return 0;
        }
        self.seen.clear();
        let mut chars = 0;
        let mut i = 0;
        while i + n <= ids.len() {
            let gram = &ids[i..i + n];
            if self.seen.insert(gram) {
                i += 1;
            } else {
                chars += word_len[i..i + n].iter().sum::<usize>();
                i += n;
            }
        }
        chars
    }
}

#[cfg(test)]
#[allow(clippy::float_cmp)] // the expected values are exact
mod tests {
    use super::*;

    fn stat(s: &DocStats, name: &str) -> f64 {
        s[STATS.iter().position(|(n, _)| *n == name).unwrap()]
    }

    #[test]
    fn counts_and_classes() {
        let s = doc_stats("Hello, World 42!\n\n- the cat...\n- the cat...\n");
        assert_eq!(stat(&s, "chars"), 44.0);
        assert_eq!(stat(&s, "words"), 9.0);
        assert_eq!(stat(&s, "lines"), 3.0);
        assert_eq!(stat(&s, "paragraphs"), 2.0);
        assert_eq!(stat(&s, "stop_words"), 2.0);
        assert_eq!(stat(&s, "bullet_line_frac"), 2.0 / 3.0);
        assert_eq!(stat(&s, "ellipsis_line_frac"), 2.0 / 3.0);
        assert_eq!(stat(&s, "dup_line_frac"), 1.0 / 3.0);
        assert_eq!(stat(&s, "dup_line_char_frac"), 12.0 / 44.0);
        assert_eq!(stat(&s, "upper_frac"), 2.0 / 44.0);
        assert_eq!(stat(&s, "digit_frac"), 2.0 / 44.0);
    }

    #[test]
    fn empty_text_is_all_zero() {
        assert!(doc_stats("").iter().all(|v| *v == 0.0));
    }

    #[test]
    fn duplicated_ngrams_jump_past_a_repeat() {
        // a b c d e | a b c d e: the second 5-gram repeat covers 5 words of 1 char.
        let s = doc_stats("a b c d e a b c d e");
        assert_eq!(stat(&s, "dup_5gram_char_frac"), 5.0 / 19.0);
        // top 2-gram: "a b" twice (and others twice): 2 * 3 chars.
        assert_eq!(stat(&s, "top_2gram_char_frac"), 6.0 / 19.0);
    }

    #[test]
    fn non_ascii_letters_and_symbols() {
        let s = doc_stats("Ünïcode — ©");
        assert_eq!(stat(&s, "alpha_frac"), 7.0 / 11.0);
        assert_eq!(stat(&s, "punct_frac"), 2.0 / 11.0);
        assert_eq!(stat(&s, "non_ascii_frac"), 4.0 / 11.0);
        assert_eq!(stat(&s, "upper_frac"), 1.0 / 11.0);
        // "—" and "©" are symbol words: the mean covers "Ünïcode" only.
        assert_eq!(stat(&s, "mean_word_length"), 7.0);
    }
}
