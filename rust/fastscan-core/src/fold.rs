//! The *folded view* of a document: the same structure, whatever its serialization.
//!
//! Tool specs, schemas and calls reach a corpus as JSON with any spacing, as a Python literal
//! (`repr()` of a dict), as JSON escaped once or twice inside another JSON string, or as YAML.
//! Patterns of a pack group with `view = "folded"` are matched on a view of the document in
//! which these spellings coincide, so one pattern counts the structure in every one of them:
//!
//! ```text
//! {"type": "object", "required": ["city"]}          JSON
//! {'type': 'object', 'required': ['city']}          Python literal
//! "{\"type\": \"object\", \"required\": [\"city\"]}"  JSON in a JSON string (any depth)
//! type: object                                      YAML
//! ```
//!
//! fold to `{type:object,required:[city]}` (the YAML line to `type:object`).
//!
//! # Rules (byte by byte, one pass, no allocation beyond the output buffer)
//!
//! 1. Quotes vanish: `"` and `'`, together with the run of backslashes escaping them (`\"`,
//!    `\\\"`, ...), are dropped.
//! 2. Whitespace is a separator: a run of ASCII whitespace (space, tab, CR, LF, VT, FF) and of
//!    escaped whitespace (a run of backslashes followed by `n`, `r` or `t`, as a newline reads
//!    inside a JSON string at any depth) becomes one space when the bytes on both sides of it
//!    are word bytes (ASCII letters, digits, `_`, or any byte of a non-ASCII character), and
//!    nothing otherwise. So `"type" : "object"` and `type: object` both fold to `type:object`,
//!    while `return value` stays two words.
//! 3. A run of backslashes before `/` is dropped (JSON's `\/`); any other run of backslashes
//!    folds to one backslash.
//! 4. Every other byte is kept as it is; the view keeps the letter case (groups choose their
//!    case mode as usual).
//!
//! The view loses line structure: patterns that need `^` / `$` belong in the raw view.
//! Counting on the folded view follows [`crate::scan`]'s semantics on the folded bytes
//! (overlapping literal occurrences, leftmost-first regex matches). A pack's literals of a
//! folded group are folded the same way when the scanner is compiled, so a pack author writes
//! them as they read in JSON (`'"type": "object"'`).

/// Byte classes, as bit flags: a word byte (ASCII letters and digits, `_`, every byte of a
/// non-ASCII character, so a separator between two words in any script is kept), a byte the
/// view keeps, whitespace.
const WORD: u8 = 1;
const KEEP: u8 = 2;
const SPACE: u8 = 4;

const CLASSES: [u8; 256] = {
    let mut t = [KEEP; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'_' || c >= 0x80 {
            t[b] = WORD | KEEP;
        }
        b += 1;
    }
    t[b' ' as usize] = SPACE;
    t[b'\t' as usize] = SPACE;
    t[b'\r' as usize] = SPACE;
    t[b'\n' as usize] = SPACE;
    t[0x0b] = SPACE;
    t[0x0c] = SPACE;
    t[b'"' as usize] = 0;
    t[b'\'' as usize] = 0;
    t
};

/// What the fold does with byte `b`: `(word, kept, whitespace)`. A byte neither kept nor
/// whitespace is a quote. (A backslash is kept here: runs of backslashes are handled before.)
#[must_use]
pub fn class_of(b: u8) -> (bool, bool, bool) {
    let class = CLASSES[usize::from(b)];
    (class & WORD != 0, class & KEEP != 0, class & SPACE != 0)
}

/// Whether the fold keeps byte `b` (it is not whitespace or a quote).
#[must_use]
pub fn is_kept(b: u8) -> bool {
    CLASSES[usize::from(b)] & KEEP != 0
}

/// The fold's state between bytes: where the output ends, whether a separator was seen since
/// the last byte written (0 or 1), whether the last byte written is a word byte (0 or 1).
#[derive(Clone, Copy)]
struct State {
    out_len: usize,
    pending: u8,
    last_word: u8,
}

impl State {
    /// Before the first byte: nothing written, nothing pending.
    const START: State = State {
        out_len: 0,
        pending: 0,
        last_word: 0,
    };
}

/// Bytes folded at once by [`fold_block`].
const BLOCK: usize = 64;

/// Folds the byte at `i` (or the backslash run starting there and what it escapes) one byte
/// at a time; returns the next input position.
///
/// # Safety
/// `buf` has room for `doc.len() + 1` bytes and `state.out_len <= i`: a byte is written only
/// for a kept input byte and a separator only after at least one whitespace input byte that
/// wrote nothing, so the (speculative) writes at `out_len` and `out_len + 1` stay in bounds
/// and `out_len <= i` holds again at the position returned.
#[inline]
unsafe fn fold_step(doc: &[u8], i: usize, state: &mut State, buf: *mut u8) -> usize {
    let b = doc[i];
    if b == b'\\' {
        let mut j = i + 1;
        while j < doc.len() && doc[j] == b'\\' {
            j += 1;
        }
        return match doc.get(j) {
            Some(b'"' | b'\'') => j + 1,
            Some(b'n' | b'r' | b't') => {
                state.pending = 1;
                j + 1
            }
            Some(b'/') => j,
            _ => {
                // One backslash, kept (not a word byte).
                // SAFETY: see the function's contract.
                unsafe { buf.add(state.out_len).write(b'\\') };
                state.out_len += 1;
                state.pending = 0;
                state.last_word = 0;
                j
            }
        };
    }
    let class = CLASSES[usize::from(b)];
    let word = class & WORD;
    let keep = (class & KEEP) >> 1;
    let sep = state.pending & state.last_word & word;
    // SAFETY: see the function's contract.
    unsafe {
        buf.add(state.out_len).write(b' ');
        state.out_len += usize::from(sep);
        buf.add(state.out_len).write(b);
    }
    state.out_len += usize::from(keep);
    state.pending = (state.pending | ((class & SPACE) >> 2)) & (keep ^ 1);
    // `keep` is 0 or 1: take `word` when the byte was kept, else keep the old value.
    state.last_word = (word & keep) | (state.last_word & (keep ^ 1));
    i + 1
}

/// For each bit `i`: whether some bit `j <= i` of `seed` is set with every bit of `through`
/// in `j + 1 ..= i` set (a prefix OR that passes only through `through`; Kogge-Stone).
#[inline]
fn spread(mut seed: u64, mut through: u64) -> u64 {
    for shift in [1, 2, 4, 8, 16, 32] {
        seed |= through & (seed << shift);
        through &= through << shift;
    }
    seed
}

/// Folds a block of [`BLOCK`] bytes that holds no backslash, with bit masks instead of a
/// byte-by-byte state: bit `i` of each mask says something of byte `i`.
///
/// A kept word byte gets a separator before it when the bytes between it and the previous
/// kept byte are all dropped (whitespace and quotes), at least one is whitespace, and the
/// previous kept byte is a word byte (the carried state stands for the bytes before the
/// block): the rules of the module, all at once. The separator takes the place of the last
/// dropped byte before it, so every output byte comes from one input byte and one store per
/// input byte compacts the block.
///
/// # Safety
/// As [`fold_step`]: `state.out_len` is at most the block's position in the document, and
/// `buf` has room for the document's length plus one.
#[inline]
unsafe fn fold_block(
    block: &[u8; BLOCK],
    masks: &Masks,
    state: &mut State,
    buf: *mut u8,
    ssse3: bool,
) {
    let Masks {
        word, keep, space, ..
    } = *masks;
    let dropped = !keep;
    // A dropped run so far holds whitespace (the carried `pending` runs into bit 0).
    let seen_space = spread(space | (u64::from(state.pending) & dropped & 1), dropped);
    // The last kept byte at or before each bit is a word byte.
    let last_word = spread(
        (keep & word) | (u64::from(state.last_word) & dropped & 1),
        dropped,
    );
    let sep = keep
        & word
        & ((seen_space << 1) | u64::from(state.pending))
        & ((last_word << 1) | u64::from(state.last_word));
    let mut out = state.out_len;
    // SAFETY: see the function's contract; a separator before bit 0 stands for a dropped
    // byte of an earlier block that wrote nothing, and each later write lands at or before
    // its input byte's position.
    unsafe {
        if sep & 1 != 0 {
            buf.add(out).write(b' ');
            out += 1;
        }
        out = compact(block, keep | (sep >> 1), sep >> 1, buf, out, ssse3);
    }
    state.out_len = out;
    state.pending = ((seen_space >> 63) & 1) as u8;
    state.last_word = ((last_word >> 63) & 1) as u8;
}

/// Bit masks of a block: word bytes, kept bytes, whitespace bytes, backslashes.
struct Masks {
    word: u64,
    keep: u64,
    space: u64,
    backslash: u64,
}

/// The masks of a block, from [`CLASSES`] (the reference; on `x86_64`, SSE2 computes the same).
#[cfg_attr(target_arch = "x86_64", allow(dead_code))]
fn masks_scalar(block: &[u8; BLOCK]) -> Masks {
    let (mut word, mut keep, mut space, mut backslash) = (0u64, 0u64, 0u64, 0u64);
    for (j, &b) in block.iter().enumerate() {
        let class = u64::from(CLASSES[usize::from(b)]);
        word |= (class & u64::from(WORD)) << j;
        keep |= ((class & u64::from(KEEP)) >> 1) << j;
        space |= ((class & u64::from(SPACE)) >> 2) << j;
        backslash |= u64::from(b == b'\\') << j;
    }
    Masks {
        word,
        keep,
        space,
        backslash,
    }
}

#[cfg(not(target_arch = "x86_64"))]
fn masks(block: &[u8; BLOCK]) -> Masks {
    masks_scalar(block)
}

/// The masks of a block with SSE2 (part of every `x86_64` CPU): 16 bytes per compare.
// The intrinsics take and give bit patterns as signed integers: the casts reinterpret them.
#[cfg(target_arch = "x86_64")]
#[allow(
    clippy::cast_possible_wrap,
    clippy::cast_sign_loss,
    clippy::cast_possible_truncation
)]
fn masks(block: &[u8; BLOCK]) -> Masks {
    use std::arch::x86_64::{
        __m128i, _mm_cmpeq_epi8, _mm_loadu_si128, _mm_min_epu8, _mm_movemask_epi8, _mm_or_si128,
        _mm_set1_epi8, _mm_sub_epi8,
    };
    // `x - lo <= span` as unsigned bytes: min(x - lo, span) == x - lo.
    #[inline]
    fn within(x: __m128i, lo: u8, span: u8) -> __m128i {
        // SAFETY: SSE2 is part of the x86_64 baseline.
        unsafe {
            let d = _mm_sub_epi8(x, _mm_set1_epi8(lo as i8));
            _mm_cmpeq_epi8(_mm_min_epu8(d, _mm_set1_epi8(span as i8)), d)
        }
    }
    let (mut word, mut keep, mut space, mut backslash) = (0u64, 0u64, 0u64, 0u64);
    for (k, chunk) in block.chunks_exact(16).enumerate() {
        // SAFETY: SSE2 is part of the x86_64 baseline; the load reads the chunk's 16 bytes.
        let (w, q, sp, bs) = unsafe {
            let x = _mm_loadu_si128(chunk.as_ptr().cast());
            let eq = |c: u8| _mm_cmpeq_epi8(x, _mm_set1_epi8(c as i8));
            let letter = within(_mm_or_si128(x, _mm_set1_epi8(0x20)), b'a', 25);
            let alnum = _mm_or_si128(letter, within(x, b'0', 9));
            let w = _mm_movemask_epi8(_mm_or_si128(alnum, eq(b'_'))) | _mm_movemask_epi8(x);
            let q = _mm_movemask_epi8(_mm_or_si128(eq(b'"'), eq(b'\'')));
            let sp = _mm_movemask_epi8(_mm_or_si128(eq(b' '), within(x, b'\t', 4)));
            (w, q, sp, _mm_movemask_epi8(eq(b'\\')))
        };
        let shift = 16 * k;
        word |= u64::from(w as u16) << shift;
        space |= u64::from(sp as u16) << shift;
        keep |= u64::from(!(q | sp) as u16) << shift;
        backslash |= u64::from(bs as u16) << shift;
    }
    Masks {
        word,
        keep,
        space,
        backslash,
    }
}

/// Per 8-bit mask, the 8-byte mask with `0xff` in each byte whose bit is set.
const EXPAND: [u64; 256] = {
    let mut table = [0u64; 256];
    let mut m = 0;
    while m < 256 {
        let mut j = 0;
        while j < 8 {
            if m >> j & 1 != 0 {
                table[m] |= 0xff << (8 * j);
            }
            j += 1;
        }
        m += 1;
    }
    table
};

/// Writes the bytes of `block` whose bit is set in `written` to `buf[out..]`, in order, with
/// the bytes of `blank` written as a space; returns the new end. Works on 8-byte groups and
/// writes up to 8 bytes past the end (the caller's buffer has the room). `ssse3`: the CPU
/// has SSSE3 (`pshufb` compacts a group in one step).
///
/// # Safety
/// `buf` has room for `out + popcount(written) + 8` bytes; `ssse3` only when the CPU has it.
#[inline]
unsafe fn compact(
    block: &[u8; BLOCK],
    written: u64,
    blank: u64,
    buf: *mut u8,
    out: usize,
    ssse3: bool,
) -> usize {
    let mut out = out;
    for (g, group) in block.chunks_exact(8).enumerate() {
        let blanks = EXPAND[((blank >> (8 * g)) & 0xff) as usize];
        let bytes = u64::from_le_bytes(group.try_into().expect("8 bytes"));
        let bytes = (bytes & !blanks) | (0x2020_2020_2020_2020 & blanks);
        let m = ((written >> (8 * g)) & 0xff) as usize;
        #[cfg(target_arch = "x86_64")]
        {
            if ssse3 {
                // SAFETY: SSSE3 is there (the caller's word); the caller's contract covers
                // the 8-byte store.
                unsafe { compact_group_ssse3(bytes, m, buf.add(out)) };
                out += m.count_ones() as usize;
                continue;
            }
        }
        let _ = ssse3;
        // SAFETY: the caller's contract (each write is at most one past the last kept byte).
        out = unsafe { compact_group_scalar(bytes, m, buf, out) };
    }
    out
}

/// Compacts one group byte by byte: every byte is stored, the end advances past kept ones.
///
/// # Safety
/// As [`compact`].
#[inline]
unsafe fn compact_group_scalar(bytes: u64, m: usize, buf: *mut u8, out: usize) -> usize {
    let mut out = out;
    for j in 0..8 {
        // SAFETY: the caller's contract.
        unsafe { buf.add(out).write((bytes >> (8 * j)) as u8) };
        out += (m >> j) & 1;
    }
    out
}

/// Shuffle controls for `pshufb`: entry `m` moves the bytes of an 8-byte group whose bit is
/// set in `m` to the front, in order.
#[cfg(target_arch = "x86_64")]
const SHUFFLES: [[u8; 16]; 256] = {
    let mut table = [[0x80u8; 16]; 256];
    let mut m = 0;
    while m < 256 {
        let mut n = 0;
        let mut j = 0u8;
        while j < 8 {
            if m >> j & 1 != 0 {
                table[m][n] = j;
                n += 1;
            }
            j += 1;
        }
        m += 1;
    }
    table
};

/// Compacts one group with `pshufb`: the kept bytes to the front, one 8-byte store.
///
/// # Safety
/// The CPU has SSSE3; `to` has room for 8 bytes.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "ssse3")]
#[allow(clippy::cast_possible_wrap)] // the intrinsic takes the 8 bytes as an i64 bit pattern
unsafe fn compact_group_ssse3(bytes: u64, m: usize, to: *mut u8) {
    use std::arch::x86_64::{
        _mm_cvtsi64_si128, _mm_loadu_si128, _mm_shuffle_epi8, _mm_storel_epi64,
    };
    // SAFETY: a 16-byte load of a table row and an 8-byte store within the caller's room.
    unsafe {
        let v = _mm_cvtsi64_si128(bytes as i64);
        let control = _mm_loadu_si128(SHUFFLES[m].as_ptr().cast());
        _mm_storel_epi64(to.cast(), _mm_shuffle_epi8(v, control));
    }
}

/// Writes the folded view of `doc` into `out` (cleared first).
///
/// Blocks of [`BLOCK`] bytes without a backslash are folded with bit masks ([`fold_block`]);
/// blocks with one, and the tail, byte by byte ([`fold_step`]). Both follow the same rules
/// (the property tests compare the result with a one-character-at-a-time model).
pub fn fold_into(doc: &[u8], out: &mut Vec<u8>) {
    out.clear();
    // One byte for `fold_step`'s speculative write, eight for `compact`'s last store.
    out.reserve(doc.len() + 9);
    let buf = out.spare_capacity_mut().as_mut_ptr().cast::<u8>();
    let mut state = State::START;
    let mut i = 0;
    #[cfg(target_arch = "x86_64")]
    let ssse3 = std::arch::is_x86_feature_detected!("ssse3");
    #[cfg(not(target_arch = "x86_64"))]
    let ssse3 = false;
    // SAFETY: `buf` has room for `doc.len() + 9` bytes and `state.out_len <= i` throughout
    // (each step's contract); `ssse3` was detected.
    unsafe {
        while i + BLOCK <= doc.len() {
            let Ok(block) = <&[u8; BLOCK]>::try_from(&doc[i..i + BLOCK]) else {
                unreachable!("a slice of BLOCK bytes")
            };
            let masks = masks(block);
            if masks.backslash != 0 {
                let end = i + BLOCK;
                while i < end {
                    i = fold_step(doc, i, &mut state, buf);
                }
            } else {
                fold_block(block, &masks, &mut state, buf, ssse3);
                i += BLOCK;
            }
        }
        while i < doc.len() {
            i = fold_step(doc, i, &mut state, buf);
        }
    }
    // SAFETY: the first `out_len` bytes were written above (`out_len <= len < capacity`).
    unsafe { out.set_len(state.out_len) };
}

/// The folded view of `doc`, as a new buffer.
#[must_use]
pub fn fold(doc: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    fold_into(doc, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::{compact, fold, fold_step, masks, masks_scalar, State, BLOCK};

    /// The fold one byte at a time, without blocks: the reference for the block path.
    fn bytewise(doc: &[u8]) -> Vec<u8> {
        let mut out = Vec::with_capacity(doc.len() + 1);
        let buf = out.spare_capacity_mut().as_mut_ptr().cast::<u8>();
        let mut state = State::START;
        let mut i = 0;
        while i < doc.len() {
            // SAFETY: capacity `doc.len() + 1` and `out_len <= i` (fold_step's contract).
            i = unsafe { fold_step(doc, i, &mut state, buf) };
        }
        // SAFETY: `out_len` bytes were written.
        unsafe { out.set_len(state.out_len) };
        out
    }

    #[test]
    fn masks_and_compaction_agree_with_their_scalar_forms() {
        let mut block = [0u8; BLOCK];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        for round in 0..64 {
            for (j, b) in block.iter_mut().enumerate() {
                *b = (round * 64 + j) as u8; // every byte value, in every position
            }
            let (a, b) = (masks(&block), masks_scalar(&block));
            assert_eq!(
                (a.word, a.keep, a.space),
                (b.word, b.keep, b.space),
                "round {round}"
            );
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let mut one = vec![0u8; BLOCK + 8];
            let mut two = vec![0u8; BLOCK + 8];
            // SAFETY: buffers of BLOCK + 8 bytes.
            let blank = seed.rotate_left(7) & !seed;
            #[cfg(target_arch = "x86_64")]
            let ssse3 = std::arch::is_x86_feature_detected!("ssse3");
            #[cfg(not(target_arch = "x86_64"))]
            let ssse3 = false;
            // SAFETY: buffers of BLOCK + 8 bytes; `ssse3` as detected.
            let (n1, n2) = unsafe {
                (
                    compact(&block, seed | blank, blank, one.as_mut_ptr(), 0, ssse3),
                    compact(&block, seed | blank, blank, two.as_mut_ptr(), 0, false),
                )
            };
            let want: Vec<u8> = (0..BLOCK)
                .filter(|j| (seed | blank) >> j & 1 != 0)
                .map(|j| if blank >> j & 1 != 0 { b' ' } else { block[j] })
                .collect();
            assert_eq!(one[..n1], want[..]);
            assert_eq!(two[..n2], want[..]);
        }
    }

    #[test]
    fn blocks_agree_with_the_bytewise_fold() {
        // Every block boundary position of runs of spaces, quotes and words, with and
        // without backslashes, from a small deterministic generator.
        let alphabet: &[&[u8]] = &[
            b"a",
            b"Z",
            b"_",
            b"9",
            b" ",
            b"  ",
            b"\n",
            b"\t",
            b"\"",
            b"'",
            b":",
            b",",
            b"{",
            b"\\",
            b"\\\"",
            b"\\n",
            b"\\/",
            "é".as_bytes(),
            b"\r\n",
        ];
        let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
        for case in 0..3000 {
            let mut doc = Vec::new();
            let len = 40 + case % 400;
            while doc.len() < len {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let pick = if case % 3 == 0 { seed % 13 } else { seed % 19 };
                doc.extend_from_slice(alphabet[pick as usize]);
            }
            assert_eq!(
                fold(&doc),
                bytewise(&doc),
                "{:?}",
                String::from_utf8_lossy(&doc)
            );
        }
    }

    fn f(s: &str) -> String {
        String::from_utf8(fold(s.as_bytes())).unwrap()
    }

    #[test]
    fn serializations_coincide() {
        let want = "{type:object,required:[city]}";
        assert_eq!(f(r#"{"type": "object", "required": ["city"]}"#), want);
        assert_eq!(f(r#"{"type":"object","required":["city"]}"#), want);
        assert_eq!(
            f("{\n  \"type\" : \"object\",\n  \"required\": [\n    \"city\"\n  ]\n}"),
            want
        );
        assert_eq!(f("{'type': 'object', 'required': ['city']}"), want);
        assert_eq!(
            f(r#"{\"type\": \"object\", \"required\": [\"city\"]}"#),
            want
        );
        assert_eq!(
            f(r#"{\\\"type\\\": \\\"object\\\",\\n \\\"required\\\": [\\\"city\\\"]}"#),
            want
        );
        assert_eq!(
            f("type: object\nrequired:\n  - city\n"),
            "type:object required:-city"
        );
    }

    #[test]
    fn words_keep_one_separator() {
        assert_eq!(f("return  value\n\tnext"), "return value next");
        assert_eq!(f("a \\n b"), "a b");
        assert_eq!(f("héllo wörld"), "héllo wörld");
        assert_eq!(f("x = 1"), "x=1");
        assert_eq!(f("f(a = 1, b = 'x')"), "f(a=1,b=x)");
    }

    #[test]
    fn backslashes() {
        assert_eq!(f(r"https:\/\/api.x.com\/v1"), "https://api.x.com/v1");
        assert_eq!(f(r"C:\\dir\\file"), r"C:\dir\file");
        assert_eq!(f(r"a\b"), r"a\b");
        assert_eq!(f("trailing\\"), "trailing\\");
        assert_eq!(f(""), "");
        assert_eq!(f("  \"\" ' "), "");
    }
}
