//! Hashed word n-gram counts and DSIR importance weights (Xie et al. 2023, "Data Selection
//! for Language Models via Importance Resampling").
//!
//! A document is lower-cased and split into tokens as the reference implementation does with
//! `nltk`'s `WordPunctTokenizer`, the regex `\w+|[^\w\s]+` with Unicode (UTS #18) classes:
//! maximal runs of word characters (`Alphabetic`, marks, decimal digits, connector punctuation,
//! the joiners U+200C / U+200D) and maximal runs of other characters that are not
//! `White_Space`. Its features are the token unigrams and, up to `n`, the n-grams joined by
//! single spaces, each hashed into one of `buckets` buckets.
//!
//! The hash of a feature string `s` (its UTF-8 bytes) is a polynomial hash modulo 2^64,
//! `h = sum(s[i] * P^(len-1-i))`, finished by one xor-shift-multiply round and mapped to a
//! bucket by multiply-shift. The polynomial form lets an n-gram's hash be built from its
//! tokens' hashes (`h(a + " " + b) = (h(a) * P + 0x20) * P^len(b) + h(b)`) without copying
//! bytes; [`bucket_of`] gives the same bucket for the joined string.
//!
//! A fitted [`NgramModel`] holds, per bucket, the log ratio of the target and raw bucket
//! probabilities; a document's log importance weight is the sum of the log ratios of its
//! features (the reference's `dot(log_diff, counts)`).

use rayon::prelude::*;
use rustc_hash::{FxHashMap, FxHashSet};
use unicode_general_category::{get_general_category, GeneralCategory};

use crate::{CoreError, Documents, Pool, Result};

/// The polynomial hash's multiplier (odd: invertible modulo 2^64).
const P: u64 = 0x9E37_79B9_7F4A_7C15;

/// How hashed n-gram features are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NgramConfig {
    /// Number of hash buckets.
    pub buckets: u32,
    /// Largest n (1: unigrams only; 2: unigrams and bigrams, the reference default).
    pub n: usize,
}

impl Default for NgramConfig {
    fn default() -> Self {
        NgramConfig {
            buckets: 10_000,
            n: 2,
        }
    }
}

/// How bucket probabilities are smoothed before the log ratio.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Smoothing {
    /// `log(p + eps)`, with `p = count / total` (the reference uses `eps = 1e-8`).
    Epsilon(f64),
    /// Additive (Laplace / Lidstone): `p = (count + alpha) / (total + alpha * buckets)`.
    Additive(f64),
}

/// `P^k` for the short strings most features are.
const POW: [u64; 64] = {
    let mut table = [1u64; 64];
    let mut k = 1;
    while k < 64 {
        table[k] = table[k - 1].wrapping_mul(P);
        k += 1;
    }
    table
};

/// A feature's polynomial hash and its length in bytes.
#[derive(Clone, Copy)]
struct Poly {
    hash: u64,
    len: u32,
}

impl Poly {
    const EMPTY: Poly = Poly { hash: 0, len: 0 };

    #[inline]
    fn push(self, byte: u8) -> Poly {
        Poly {
            hash: self.hash.wrapping_mul(P).wrapping_add(u64::from(byte)),
            len: self.len + 1,
        }
    }

    /// `self + " " + next`.
    #[inline]
    fn join(self, next: Poly) -> Poly {
        let spaced = self.push(b' ');
        let power = POW
            .get(next.len as usize)
            .copied()
            .unwrap_or_else(|| P.wrapping_pow(next.len));
        Poly {
            hash: spaced.hash.wrapping_mul(power).wrapping_add(next.hash),
            len: spaced.len + next.len,
        }
    }

    /// One xor-shift-multiply round (low-bit differences reach the high bits), then the high
    /// bits pick the bucket (multiply-shift).
    #[inline]
    fn bucket(self, buckets: u32) -> u32 {
        let h = (self.hash ^ (self.hash >> 29)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        ((u128::from(h) * u128::from(buckets)) >> 64) as u32
    }
}

/// The bucket of one feature string (a token, or tokens joined by single spaces).
#[must_use]
pub fn bucket_of(feature: &[u8], buckets: u32) -> u32 {
    feature
        .iter()
        .fold(Poly::EMPTY, |p, &b| p.push(b))
        .bucket(buckets)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Class {
    Word,
    Space,
    Other,
}

/// ASCII classes: `[0-9A-Za-z_]` word, `[\t\n\x0b\x0c\r ]` space, the rest other.
const ASCII_CLASS: [Class; 128] = {
    let mut table = [Class::Other; 128];
    let mut b = 0;
    while b < 128 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'_' {
            table[b] = Class::Word;
        } else if matches!(c, b'\t' | b'\n' | 0x0b | 0x0c | b'\r' | b' ') {
            table[b] = Class::Space;
        }
        b += 1;
    }
    table
};

/// The Unicode (UTS #18) classes the reference's tokenizer uses: word characters are
/// `Alphabetic`, marks, decimal digits, connector punctuation and the two joiners; space is
/// `White_Space`.
fn class_of(c: char) -> Class {
    use GeneralCategory as G;
    if c.is_ascii() {
        return ASCII_CLASS[c as usize];
    }
    if c.is_whitespace() {
        return Class::Space;
    }
    if c.is_alphabetic() || matches!(c, '\u{200c}' | '\u{200d}') {
        return Class::Word;
    }
    match get_general_category(c) {
        G::NonspacingMark
        | G::SpacingMark
        | G::EnclosingMark
        | G::DecimalNumber
        | G::ConnectorPunctuation => Class::Word,
        _ => Class::Other,
    }
}

/// Calls `f` with the hash of every token of `text` lower-cased, in order.
///
/// Lower-casing is per character (`char::to_lowercase`, as Python's `str.lower`), except for a
/// text with a capital sigma, whose final-sigma rule needs context: it is lower-cased whole.
fn for_each_token(text: &str, f: impl FnMut(Poly)) {
    if text.contains('Σ') {
        tokens_of_lowercased(&text.to_lowercase(), f);
    } else {
        tokens_of_lowercased(text, f);
    }
}

/// The token being built: its class (`Space` when none) and hash.
struct Token<F: FnMut(Poly)> {
    class: Class,
    poly: Poly,
    emit: F,
}

impl<F: FnMut(Poly)> Token<F> {
    #[inline]
    fn feed(&mut self, class: Class, bytes: &[u8]) {
        if class != self.class {
            self.flush();
            self.class = class;
        }
        if class != Class::Space {
            for &b in bytes {
                self.poly = self.poly.push(b);
            }
        }
    }

    #[inline]
    fn flush(&mut self) {
        if self.class != Class::Space {
            (self.emit)(self.poly);
            self.poly = Poly::EMPTY;
            self.class = Class::Space;
        }
    }
}

/// Tokens of `text`, each character lower-cased on the way (a no-op on lower-cased text).
fn tokens_of_lowercased(text: &str, emit: impl FnMut(Poly)) {
    let mut token = Token {
        class: Class::Space,
        poly: Poly::EMPTY,
        emit,
    };
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b < 0x80 {
            let lower = b.to_ascii_lowercase();
            let class = ASCII_CLASS[lower as usize];
            if class == Class::Space {
                token.flush();
                i += 1;
                continue;
            }
            if class != token.class {
                token.flush();
                token.class = class;
            }
            // The hot loop: a run of ASCII bytes of one class.
            let mut poly = token.poly.push(lower);
            i += 1;
            while let Some(&next) = bytes.get(i) {
                let lower = next.to_ascii_lowercase();
                if next >= 0x80 || ASCII_CLASS[lower as usize] != class {
                    break;
                }
                poly = poly.push(lower);
                i += 1;
            }
            token.poly = poly;
            continue;
        }
        let c = text[i..].chars().next().expect("a char starts here");
        i += c.len_utf8();
        let mut buf = [0u8; 4];
        for lower in c.to_lowercase() {
            token.feed(class_of(lower), lower.encode_utf8(&mut buf).as_bytes());
        }
    }
    token.flush();
}

/// Splits text into lower-cased tokens and hashes their n-grams.
#[derive(Debug, Clone)]
pub struct Featurizer {
    config: NgramConfig,
}

impl Featurizer {
    pub fn new(config: NgramConfig) -> Result<Featurizer> {
        if config.buckets == 0 || config.n == 0 || config.n > 8 {
            return Err(CoreError::Config(
                "n-gram buckets must be at least 1 and n between 1 and 8".into(),
            ));
        }
        Ok(Featurizer { config })
    }

    #[must_use]
    pub fn config(&self) -> NgramConfig {
        self.config
    }

    /// Calls `f` with the bucket of every feature of `text`; returns the number of tokens.
    pub fn for_each_bucket(&self, text: &str, mut f: impl FnMut(u32)) -> usize {
        let NgramConfig { buckets, n } = self.config;
        // The last n - 1 tokens, most recent last.
        let mut recent = [Poly::EMPTY; 8];
        let mut tokens = 0usize;
        for_each_token(text, |token| {
            f(token.bucket(buckets));
            // n-grams ending at this token: (k + 1)-grams for k = 1..n-1 earlier tokens.
            let earlier = tokens.min(n - 1);
            let mut gram = token;
            for k in 1..=earlier {
                gram = recent[n - 1 - k].join(gram);
                f(gram.bucket(buckets));
            }
            if n > 1 {
                recent.copy_within(1..n - 1, 0);
                recent[n - 2] = token;
            }
            tokens += 1;
        });
        tokens
    }

    /// Adds the bucket counts of every document of `docs` into one vector, on `pool`.
    pub fn count_batch<D: Documents + ?Sized>(&self, pool: &Pool, docs: &D) -> Result<Vec<u64>> {
        let size = self.config.buckets as usize;
        let count_range = |range: std::ops::Range<usize>| {
            let mut counts = vec![0u64; size];
            for i in range {
                let text = String::from_utf8_lossy(docs.doc(i));
                self.for_each_bucket(&text, |b| counts[b as usize] += 1);
            }
            counts
        };
        pool.map_reduce(
            docs.count(),
            count_range,
            || vec![0u64; size],
            |mut a, b| {
                a.iter_mut().zip(b).for_each(|(x, y)| *x += y);
                a
            },
        )
    }
}

/// The tokens of `text` (lower-cased first, as for the hashed features), as strings.
#[must_use]
pub fn tokens(text: &str) -> Vec<String> {
    let lower = text.to_lowercase();
    let mut out = Vec::new();
    let mut current = String::new();
    let mut class = Class::Space;
    for c in lower.chars() {
        let k = class_of(c);
        if k != class && !current.is_empty() {
            out.push(std::mem::take(&mut current));
        }
        class = k;
        if k != Class::Space {
            current.push(c);
        }
    }
    if !current.is_empty() {
        out.push(current);
    }
    out
}

/// Document frequencies of word n-grams (`min_n..=max_n`, tokens joined by single spaces):
/// in how many documents of `docs` each occurs, on `pool`.
pub fn doc_frequencies<D: Documents + ?Sized>(
    pool: &Pool,
    docs: &D,
    min_n: usize,
    max_n: usize,
) -> Result<FxHashMap<String, u64>> {
    if min_n == 0 || max_n < min_n {
        return Err(CoreError::Config(
            "n-gram sizes must satisfy 1 <= min <= max".into(),
        ));
    }
    let count_range = |range: std::ops::Range<usize>| {
        let mut counts: FxHashMap<String, u64> = FxHashMap::default();
        for i in range {
            let words = tokens(&String::from_utf8_lossy(docs.doc(i)));
            // Each n-gram once per document; a string is made only for a new one.
            let mut seen: FxHashSet<&[String]> = FxHashSet::default();
            for n in min_n..=max_n {
                for gram in words.windows(n) {
                    if seen.insert(gram) {
                        *counts.entry(gram.join(" ")).or_insert(0) += 1;
                    }
                }
            }
        }
        counts
    };
    let merge = |mut a: FxHashMap<String, u64>, b: FxHashMap<String, u64>| {
        for (k, v) in b {
            *a.entry(k).or_insert(0) += v;
        }
        a
    };
    pool.map_reduce(docs.count(), count_range, FxHashMap::default, merge)
}

/// A fitted importance model: the featurizer and a log ratio per bucket.
#[derive(Debug, Clone)]
pub struct NgramModel {
    featurizer: Featurizer,
    log_ratio: Vec<f64>,
}

impl NgramModel {
    /// Fits from target and raw bucket counts.
    pub fn fit(
        config: NgramConfig,
        target: &[u64],
        raw: &[u64],
        smoothing: Smoothing,
    ) -> Result<NgramModel> {
        let size = config.buckets as usize;
        if target.len() != size || raw.len() != size {
            return Err(CoreError::Config(format!(
                "bucket counts must have {size} entries (target {}, raw {})",
                target.len(),
                raw.len()
            )));
        }
        let log_ratio = log_probs(target, smoothing)?
            .into_iter()
            .zip(log_probs(raw, smoothing)?)
            .map(|(t, r)| t - r)
            .collect();
        Ok(NgramModel {
            featurizer: Featurizer::new(config)?,
            log_ratio,
        })
    }

    #[must_use]
    pub fn log_ratio(&self) -> &[f64] {
        &self.log_ratio
    }

    #[must_use]
    pub fn config(&self) -> NgramConfig {
        self.featurizer.config()
    }

    /// The log importance weight of one document and its token count.
    #[must_use]
    pub fn importance(&self, text: &str) -> (f64, usize) {
        let mut sum = 0.0;
        let tokens = self
            .featurizer
            .for_each_bucket(text, |b| sum += self.log_ratio[b as usize]);
        (sum, tokens)
    }

    /// Log importance weights and token counts of a batch, on `pool`.
    pub fn importance_batch<D: Documents + ?Sized>(
        &self,
        pool: &Pool,
        docs: &D,
    ) -> Result<(Vec<f64>, Vec<u64>)> {
        let n = docs.count();
        let mut weights = vec![0.0; n];
        let mut tokens = vec![0u64; n];
        let one = |(i, (w, t)): (usize, (&mut f64, &mut u64))| {
            let text = String::from_utf8_lossy(docs.doc(i));
            let (weight, count) = self.importance(&text);
            *w = weight;
            *t = count as u64;
        };
        if pool.threads() == 1 {
            weights
                .iter_mut()
                .zip(tokens.iter_mut())
                .enumerate()
                .for_each(one);
        } else {
            pool.install(|| {
                weights
                    .par_iter_mut()
                    .zip(tokens.par_iter_mut())
                    .enumerate()
                    .with_min_len(64)
                    .for_each(one);
            })?;
        }
        Ok((weights, tokens))
    }
}

fn log_probs(counts: &[u64], smoothing: Smoothing) -> Result<Vec<f64>> {
    let total: u64 = counts.iter().sum();
    let size = counts.len() as f64;
    match smoothing {
        Smoothing::Epsilon(eps) if eps > 0.0 => {
            let total = total.max(1) as f64;
            Ok(counts
                .iter()
                .map(|&c| (c as f64 / total + eps).ln())
                .collect())
        }
        Smoothing::Additive(alpha) if alpha > 0.0 => {
            let denominator = total as f64 + alpha * size;
            Ok(counts
                .iter()
                .map(|&c| ((c as f64 + alpha) / denominator).ln())
                .collect())
        }
        _ => Err(CoreError::Config(
            "smoothing must be positive (epsilon or additive alpha)".into(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn buckets_of(f: &Featurizer, text: &str) -> Vec<u32> {
        let mut out = Vec::new();
        f.for_each_bucket(text, |b| out.push(b));
        out
    }

    #[test]
    fn features_are_unigrams_then_bigrams_of_lowercased_tokens() {
        let f = Featurizer::new(NgramConfig {
            buckets: 1 << 20,
            n: 2,
        })
        .unwrap();
        let b = |s: &str| bucket_of(s.as_bytes(), 1 << 20);
        assert_eq!(
            buckets_of(&f, "Get /users, NOW"),
            vec![
                b("get"),
                b("/"),
                b("get /"),
                b("users"),
                b("/ users"),
                b(","),
                b("users ,"),
                b("now"),
                b(", now"),
            ]
        );
        assert_eq!(f.for_each_bucket("Straße ÄÖ", |_| {}), 2);
        assert_eq!(buckets_of(&f, "ÄÖ")[0], b("äö"));
        // Word runs and other runs, across ASCII and non-ASCII: "é²—y" is "é", "²—", "y"
        // (a superscript digit is not a decimal digit), "e\u{301}x" one word (a mark).
        assert_eq!(
            buckets_of(&f, "é²—y"),
            vec![b("é"), b("²—"), b("é ²—"), b("y"), b("²— y")]
        );
        assert_eq!(buckets_of(&f, "e\u{301}x"), vec![b("e\u{301}x")]);
        assert_eq!(
            tokens("Get /users, NOW x²—y"),
            ["get", "/", "users", ",", "now", "x", "²—", "y"]
        );
        // Trigrams join three tokens with single spaces.
        let f3 = Featurizer::new(NgramConfig {
            buckets: 1 << 20,
            n: 3,
        })
        .unwrap();
        assert_eq!(buckets_of(&f3, "a b c")[5], b("a b c"));
    }

    #[test]
    fn importance_is_the_sum_of_log_ratios() {
        let config = NgramConfig { buckets: 8, n: 2 };
        let f = Featurizer::new(config).unwrap();
        let target = [4u64, 0, 1, 0, 0, 3, 0, 0];
        let raw = [1u64, 1, 1, 1, 1, 1, 1, 1];
        let model = NgramModel::fit(config, &target, &raw, Smoothing::Epsilon(1e-8)).unwrap();
        let text = "alpha beta gamma";
        let mut expected = 0.0;
        f.for_each_bucket(text, |b| expected += model.log_ratio()[b as usize]);
        let (weight, tokens) = model.importance(text);
        assert!((weight - expected).abs() < 1e-12);
        assert_eq!(tokens, 3);
        let lr0 = (4.0f64 / 8.0 + 1e-8).ln() - (1.0f64 / 8.0 + 1e-8).ln();
        assert!((model.log_ratio()[0] - lr0).abs() < 1e-12);
        assert!(NgramModel::fit(config, &target, &raw[..4], Smoothing::Epsilon(1e-8)).is_err());
        assert!(NgramModel::fit(config, &target, &raw, Smoothing::Additive(0.0)).is_err());
    }
}
