//! From documents to tool specs and example calls: the extractors, each small and named.
//!
//! | extractor | finds |
//! |---|---|
//! | `openapi` | OpenAPI / Swagger documents (JSON or YAML) and lone path items: a tool per operation |
//! | `function_spec` | `{"name", "parameters"}` specs (`OpenAI` `tools`, `BFCL` function docs, `xLAM` flat maps) |
//! | `toolbench` | `api_name` with `required_parameters` / `optional_parameters` lists |
//! | `api_entry` | Gorilla / API Zoo `api_name` + `api_arguments` (+ `api_call`) entries |
//! | `transcript` | tool-call records in any format the converter reads: their tools and calls |
//! | `python` | documented Python functions (Google, `NumPy`, Sphinx docstrings) |
//! | `table` | markdown / HTML parameter tables under a heading that names the function |
//!
//! Structured specs are found in any serialization [`scan`] reads: JSON, Python literals, JSON
//! escaped inside strings, YAML. Every spec is normalised by the checker's type table; one the
//! `malformed_schema` rule (or an empty name) rejects is not emitted but counted with its
//! reason. Calls are kept when they name a spec of the same document.

pub mod python;
pub mod scan;
pub mod shapes;
pub mod tables;

use std::collections::{HashMap, HashSet};
use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use super::model::{Arguments, Call, Tool};

/// Extractor names and what each finds (the README's table is written from this).
pub const EXTRACTORS: &[(&str, &str)] = &[
    (
        "openapi",
        "OpenAPI / Swagger documents and lone path items, one tool per operation",
    ),
    (
        "function_spec",
        "name + parameters specs: OpenAI tools, BFCL function docs, xLAM flat maps",
    ),
    (
        "toolbench",
        "api_name with required_parameters / optional_parameters lists",
    ),
    (
        "api_entry",
        "Gorilla / API Zoo api_name + api_arguments entries",
    ),
    (
        "transcript",
        "tool-call records in any format the converter reads",
    ),
    (
        "python",
        "documented Python functions (Google, NumPy, Sphinx docstrings)",
    ),
    (
        "table",
        "markdown / HTML parameter tables under a heading naming the function",
    ),
];

/// A spec found in a document: byte span, extractor, and the syntax it was written in.
#[derive(Debug, Clone)]
pub struct Spec {
    pub tool: Tool,
    pub start: usize,
    pub end: usize,
    pub extractor: &'static str,
    pub syntax: &'static str,
}

/// A call found next to a spec.
#[derive(Debug, Clone)]
pub struct FoundCall {
    pub call: Call,
    pub start: usize,
    pub end: usize,
    pub extractor: &'static str,
}

/// A spec not emitted, with the reason.
#[derive(Debug, Clone)]
pub struct Rejected {
    pub extractor: &'static str,
    pub name: String,
    pub reason: String,
    pub start: usize,
    pub end: usize,
}

/// Everything one document yielded.
#[derive(Debug, Default)]
pub struct Extraction {
    pub specs: Vec<Spec>,
    pub calls: Vec<FoundCall>,
    pub rejected: Vec<Rejected>,
}

static CALL_START: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"[A-Za-z_][\w.]*\(").expect("valid regex"));

/// Runs every extractor on `text`.
#[must_use]
pub fn extract(text: &str) -> Extraction {
    let mut specs: Vec<Spec> = Vec::new();
    let mut calls: Vec<FoundCall> = Vec::new();
    let mut rejected: Vec<Rejected> = Vec::new();
    for c in scan::candidates(text) {
        let found = shapes::find(&c.value);
        for (extractor, tool) in found.tools {
            specs.push(Spec {
                tool,
                start: c.start,
                end: c.end,
                extractor,
                syntax: c.how,
            });
        }
        for (extractor, call) in found.calls {
            calls.push(FoundCall {
                call,
                start: c.start,
                end: c.end,
                extractor,
            });
        }
    }
    for (tool, start, end) in python::functions(text) {
        specs.push(Spec {
            tool,
            start,
            end,
            extractor: "python",
            syntax: "python",
        });
    }
    let (tabled, skipped) = tables::tables(text);
    for (tool, start, end) in tabled {
        specs.push(Spec {
            tool,
            start,
            end,
            extractor: "table",
            syntax: "table",
        });
    }
    for (start, end) in skipped {
        rejected.push(Rejected {
            extractor: "table",
            name: String::new(),
            reason: tables::NOT_A_FUNCTION.into(),
            start,
            end,
        });
    }
    // Validate and deduplicate: the first spec of a name wins (a set of the names kept, so
    // a document of many specs costs linear time).
    let mut kept: Vec<Spec> = Vec::new();
    let mut names: HashSet<String> = HashSet::new();
    for s in specs {
        let reason = if s.tool.name.trim().is_empty() {
            Some("empty_tool_name: the spec has no name".to_owned())
        } else if let Some(p) = s.tool.problems.first() {
            Some(format!("malformed_schema: {p}"))
        } else if !names.insert(s.tool.name.clone()) {
            Some("duplicate: a spec of this name came earlier in the document".to_owned())
        } else {
            None
        };
        match reason {
            Some(reason) => rejected.push(Rejected {
                extractor: s.extractor,
                name: s.tool.name.clone(),
                reason,
                start: s.start,
                end: s.end,
            }),
            None => kept.push(s),
        }
    }
    calls.extend(python_calls(text, &kept));
    calls.retain(|c| names.contains(&c.call.name));
    Extraction {
        specs: kept,
        calls,
        rejected,
    }
}

/// Keyword-argument calls `name(k=v)` of the document's specs written in the text.
fn python_calls(text: &str, specs: &[Spec]) -> Vec<FoundCall> {
    let mut out = Vec::new();
    // A call names a spec by its whole name or its last dotted part; the first spec that
    // either names wins.
    let mut by_name: HashMap<&str, &Spec> = HashMap::new();
    for s in specs {
        by_name.entry(s.tool.name.as_str()).or_insert(s);
        if let Some(last) = s.tool.name.rsplit('.').next() {
            by_name.entry(last).or_insert(s);
        }
    }
    for m in CALL_START.find_iter(text) {
        let name = &text[m.start()..m.end() - 1];
        let Some(spec) = by_name.get(name).copied() else {
            continue;
        };
        // Not the definition itself.
        if text[..m.start()].trim_end().ends_with("def") {
            continue;
        }
        if let Ok(((_, args), n)) = super::pylit::parse_call_prefix(&text[m.start()..]) {
            if args.is_empty() && !text[m.end()..].trim_start().starts_with(')') {
                continue;
            }
            out.push(FoundCall {
                call: Call::new(
                    spec.tool.name.clone(),
                    Arguments::Parsed(Value::Object(args)),
                ),
                start: m.start(),
                end: m.start() + n,
                extractor: "python_call",
            });
        }
    }
    out
}

/// Character offset of byte offset `b` in `text`.
#[must_use]
pub fn char_offset(text: &str, b: usize) -> usize {
    let mut b = b.min(text.len());
    while !text.is_char_boundary(b) {
        b -= 1;
    }
    text[..b].chars().count()
}

/// Character offsets of byte offsets in one text, each in time bounded by [`Self::STEP`]
/// (not the text's length): the characters before every `STEP`-th byte are counted once.
struct CharOffsets<'a> {
    text: &'a str,
    before: Vec<usize>,
}

impl<'a> CharOffsets<'a> {
    const STEP: usize = 4096;

    fn new(text: &'a str) -> Self {
        let bytes = text.as_bytes();
        let mut before = Vec::with_capacity(bytes.len() / Self::STEP + 1);
        let mut count = 0;
        for chunk in bytes.chunks(Self::STEP) {
            before.push(count);
            // Characters start at every byte that is not a UTF-8 continuation byte.
            count += chars_in(chunk);
        }
        before.push(count);
        CharOffsets { text, before }
    }

    /// As [`char_offset`].
    fn of(&self, b: usize) -> usize {
        let mut b = b.min(self.text.len());
        while !self.text.is_char_boundary(b) {
            b -= 1;
        }
        let block = b / Self::STEP;
        let from = block * Self::STEP;
        let tail = &self.text.as_bytes()[from..b];
        self.before[block] + chars_in(tail)
    }
}

/// The characters that start in `bytes` of UTF-8: every byte but continuation bytes
/// (`0b10xx_xxxx`).
fn chars_in(bytes: &[u8]) -> usize {
    bytes.iter().filter(|&&b| b & 0xC0 != 0x80).count()
}

/// The most characters of context an emitted record takes from before a call.
const CONTEXT_CHARS: usize = 500;

/// The paragraph before byte `at` (up to the previous blank line, at most 500 characters):
/// the instruction an emitted training record gives the call found there. Looks back a
/// bounded window first, so many calls in one long paragraph cost linear time.
#[must_use]
pub fn context_before(text: &str, at: usize) -> String {
    let mut at = at.min(text.len());
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    let before = text[..at].trim_end();
    let mut from = before.len().saturating_sub(4 * CONTEXT_CHARS + 4);
    while !before.is_char_boundary(from) {
        from -= 1;
    }
    let window = &before[from..];
    let para = match window.rfind("\n\n") {
        Some(i) => window[i + 2..].trim(),
        // The paragraph starts before the window: its last characters are the window's,
        // unless the window is mostly blank (then the whole paragraph is looked for).
        None if window.trim_start().chars().count() >= CONTEXT_CHARS => window,
        None => {
            let start = before.rfind("\n\n").map_or(0, |i| i + 2);
            before[start..].trim()
        }
    };
    let chars: Vec<char> = para.chars().collect();
    let keep = chars.len().min(CONTEXT_CHARS);
    chars[chars.len() - keep..].iter().collect()
}

/// `(name, description, parameters JSON, start, end, extractor, syntax)`.
pub type SpecRow = (
    String,
    Option<String>,
    String,
    usize,
    usize,
    &'static str,
    &'static str,
);
/// `(name, arguments JSON, start, end, extractor, context before)`.
pub type CallRow = (String, String, usize, usize, &'static str, String);
/// `(extractor, name, reason, start, end)`.
pub type RejectedRow = (&'static str, String, String, usize, usize);

/// One document's extraction with character offsets, ready for output.
#[derive(Debug, Default)]
pub struct DocRows {
    pub specs: Vec<SpecRow>,
    pub calls: Vec<CallRow>,
    pub rejected: Vec<RejectedRow>,
}

/// Extracts one document into rows with character offsets.
#[must_use]
pub fn extract_rows(text: &str) -> DocRows {
    let e = extract(text);
    let offsets = CharOffsets::new(text);
    let ch = |b: usize| offsets.of(b);
    DocRows {
        specs: e
            .specs
            .into_iter()
            .map(|s| {
                let params = s.tool.parameters.to_string();
                (
                    s.tool.name,
                    s.tool.description,
                    params,
                    ch(s.start),
                    ch(s.end),
                    s.extractor,
                    s.syntax,
                )
            })
            .collect(),
        calls: e
            .calls
            .into_iter()
            .map(|c| {
                let args = match &c.call.arguments {
                    Arguments::Parsed(v) => v.to_string(),
                    Arguments::Invalid { raw, .. } => Value::String(raw.clone()).to_string(),
                };
                let context = context_before(text, c.start);
                (
                    c.call.name,
                    args,
                    ch(c.start),
                    ch(c.end),
                    c.extractor,
                    context,
                )
            })
            .collect(),
        rejected: e
            .rejected
            .into_iter()
            .map(|r| (r.extractor, r.name, r.reason, ch(r.start), ch(r.end)))
            .collect(),
    }
}

/// Extracts every document of a block on `pool`. With `text_field`, each document is a JSON
/// record and its text is read at that field (an error when it holds none).
pub fn extract_documents(
    pool: &crate::Pool,
    docs: &dyn crate::Documents,
    text_field: Option<&crate::shard::record::FieldPath>,
) -> crate::Result<Vec<Result<DocRows, String>>> {
    use rayon::prelude::*;
    pool.install(|| {
        (0..docs.count())
            .into_par_iter()
            .map(|i| {
                let raw = docs.doc(i);
                match text_field {
                    Some(path) => crate::shard::record::extract_text(raw, path)
                        .map(|t| extract_rows(&t))
                        .map_err(|e| e.detail),
                    None => std::str::from_utf8(raw)
                        .map(extract_rows)
                        .map_err(|e| e.to_string()),
                }
            })
            .collect()
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fmt::Write as _;

    /// The plain definitions the bounded versions must agree with.
    fn context_reference(text: &str, at: usize) -> String {
        let mut at = at.min(text.len());
        while !text.is_char_boundary(at) {
            at -= 1;
        }
        let before = text[..at].trim_end();
        let start = before.rfind("\n\n").map_or(0, |i| i + 2);
        let para: Vec<char> = before[start..].trim().chars().collect();
        let keep = para.len().min(CONTEXT_CHARS);
        para[para.len() - keep..].iter().collect()
    }

    fn texts() -> Vec<String> {
        let mut out = vec![String::new(), "x".into(), "é".repeat(3000)];
        // Paragraph breaks, long paragraphs, long blank runs and multi-byte characters, in
        // a spread of lengths around the window and the offset index's step.
        let pieces = ["word ", "é", "日本", "\n\n", "\n", " ", "a(b=1) ", "🙂"];
        let mut seed = 7_u64;
        for len in [10, 600, 2100, 5000, 9000] {
            let mut t = String::new();
            while t.len() < len {
                seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                let piece = pieces[(seed >> 33) as usize % pieces.len()];
                let times = if piece == " " {
                    (seed >> 40) as usize % 3000
                } else {
                    1
                };
                t.push_str(&piece.repeat(times));
            }
            out.push(t);
        }
        out
    }

    #[test]
    fn char_offsets_match_counting_from_the_start() {
        for text in texts() {
            let offsets = CharOffsets::new(&text);
            for b in (0..=text.len() + 2).step_by(7) {
                assert_eq!(offsets.of(b), char_offset(&text, b), "byte {b}");
            }
        }
    }

    #[test]
    fn context_matches_the_whole_paragraph_rule() {
        for text in texts() {
            for at in (0..=text.len()).step_by(13) {
                assert_eq!(
                    context_before(&text, at),
                    context_reference(&text, at),
                    "at {at}"
                );
            }
        }
    }

    #[test]
    fn duplicate_names_are_rejected_and_calls_find_their_spec() {
        let mut text = String::new();
        for i in 0..50 {
            writeln!(text, "def f{i}(x: int) -> int:\n    \"\"\"Doc.\"\"\"\n").unwrap();
            writeln!(text, "def f{i}(y: str) -> int:\n    \"\"\"Again.\"\"\"\n").unwrap();
        }
        text.push_str("Call it: f7(x=3)\n");
        let e = extract(&text);
        assert_eq!(e.specs.len(), 50);
        let duplicates = e
            .rejected
            .iter()
            .filter(|r| r.reason.starts_with("duplicate"))
            .count();
        assert_eq!(duplicates, 50);
        assert!(e.calls.iter().any(|c| c.call.name == "f7"));
    }
}
