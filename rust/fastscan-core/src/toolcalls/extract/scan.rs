//! Structured values inside free text: JSON, Python literals, JSON escaped once or twice inside
//! a string, and YAML (fenced blocks and OpenAPI documents), each with its byte span.

use serde_json::Value;

use crate::toolcalls::pylit;

/// A value found in the text, and where.
#[derive(Debug, Clone)]
pub struct Candidate {
    pub value: Value,
    pub start: usize,
    pub end: usize,
    /// `json`, `python`, `escaped`, `yaml`.
    pub how: &'static str,
}

/// Values smaller than this many bytes are not worth walking.
const MIN_BYTES: usize = 12;
/// At most this many candidates per document.
const MAX_CANDIDATES: usize = 4096;

/// Every top-level structured value in `text`, left to right, not overlapping.
#[must_use]
pub fn candidates(text: &str) -> Vec<Candidate> {
    let bytes = text.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() && out.len() < MAX_CANDIDATES {
        let Some(off) = memchr::memchr2(b'{', b'[', &bytes[i..]) else {
            break;
        };
        let at = i + off;
        if let Some(c) = value_at(text, at) {
            i = c.end.max(at + 1);
            if c.end - c.start >= MIN_BYTES {
                out.push(c);
            }
        } else {
            i = at + 1;
        }
    }
    out.extend(yaml_blocks(text));
    out
}

fn value_at(text: &str, at: usize) -> Option<Candidate> {
    let rest = &text[at..];
    let mut stream = serde_json::Deserializer::from_str(rest).into_iter::<Value>();
    if let Some(Ok(v)) = stream.next() {
        return Some(Candidate {
            value: v,
            start: at,
            end: at + stream.byte_offset(),
            how: "json",
        });
    }
    if let Ok((v, n)) = pylit::parse_value_prefix(rest) {
        if matches!(v, Value::Object(_) | Value::Array(_)) {
            return Some(Candidate {
                value: v,
                start: at,
                end: at + n,
                how: "python",
            });
        }
    }
    let next = rest[1..].trim_start();
    if next.starts_with('\\') || next.starts_with("{\\") {
        return escaped_at(rest).map(|(v, n)| Candidate {
            value: v,
            start: at,
            end: at + n,
            how: "escaped",
        });
    }
    None
}

/// JSON escaped once or twice inside a string: unescapes a window and parses a value at its
/// start; the span is mapped back onto the original bytes.
fn escaped_at(rest: &str) -> Option<(Value, usize)> {
    let window = &rest[..floor_char(rest, rest.len().min(1 << 20))];
    let (once, map1) = unescape(window);
    let mut stream = serde_json::Deserializer::from_str(&once).into_iter::<Value>();
    if let Some(Ok(v)) = stream.next() {
        return Some((v, map1[stream.byte_offset()]));
    }
    let (twice, map2) = unescape(&once);
    let mut stream = serde_json::Deserializer::from_str(&twice).into_iter::<Value>();
    if let Some(Ok(v)) = stream.next() {
        return Some((v, map1[map2[stream.byte_offset()]]));
    }
    None
}

fn floor_char(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// One level of JSON string escapes undone (`\"`, `\\`, `\n`, `\t`, `\/`, `\uXXXX` kept as is);
/// `map[k]` is the byte in the input where output byte `k` came from (and `map[len]` = input len).
fn unescape(s: &str) -> (String, Vec<usize>) {
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut map = Vec::with_capacity(s.len() + 1);
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 1 < b.len() {
            let c = match b[i + 1] {
                b'"' => Some('"'),
                b'\\' => Some('\\'),
                b'/' => Some('/'),
                b'n' => Some('\n'),
                b't' => Some('\t'),
                b'r' => Some('\r'),
                _ => None,
            };
            if let Some(c) = c {
                out.push(c);
                map.push(i);
                i += 2;
                continue;
            }
        }
        let ch = s[i..].chars().next().unwrap_or('\u{fffd}');
        for _ in 0..ch.len_utf8() {
            map.push(i);
        }
        out.push(ch);
        i += ch.len_utf8();
    }
    map.push(b.len());
    // Output bytes past a multi-byte char map to its first byte; spans end on char boundaries.
    (out, map)
}

/// YAML inside the text: fenced `yaml` / `yml` blocks, and a document starting at a line
/// `openapi:` / `swagger:`.
fn yaml_blocks(text: &str) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut search = 0;
    while let Some(off) = text[search..].find("```") {
        let open = search + off;
        let after = &text[open + 3..];
        let lang_end = after.find('\n').unwrap_or(after.len());
        let lang = after[..lang_end].trim().to_ascii_lowercase();
        let body_start = open + 3 + lang_end + 1;
        let Some(close) = text.get(body_start..).and_then(|t| t.find("```")) else {
            break;
        };
        let body_end = body_start + close;
        if lang == "yaml" || lang == "yml" {
            if let Some(v) = parse_yaml(&text[body_start..body_end]) {
                out.push(Candidate {
                    value: v,
                    start: body_start,
                    end: body_end,
                    how: "yaml",
                });
            }
        }
        search = body_end + 3;
    }
    if out.is_empty() {
        for key in ["openapi:", "swagger:"] {
            let Some(pos) = line_start_with(text, key) else {
                continue;
            };
            let end = yaml_extent(text, pos);
            if let Some(v) = parse_yaml(&text[pos..end]) {
                out.push(Candidate {
                    value: v,
                    start: pos,
                    end,
                    how: "yaml",
                });
                break;
            }
        }
    }
    if out.is_empty() {
        out.extend(bare_yaml_specs(text));
    }
    out
}

/// YAML tool specs outside fences: a block starting at a line `name:` (or `- name:`,
/// `tools:`, `functions:`) that holds a `parameters:` key.
fn bare_yaml_specs(text: &str) -> Vec<Candidate> {
    let mut out = Vec::new();
    let mut pos = 0;
    for line in text.split_inclusive('\n') {
        let start = pos;
        pos += line.len();
        if out.last().is_some_and(|c: &Candidate| start < c.end) {
            continue;
        }
        let starts = ["name:", "- name:", "tools:", "functions:"]
            .iter()
            .any(|k| line.starts_with(k));
        if !starts {
            continue;
        }
        let end = yaml_extent(text, start);
        let block = &text[start..end];
        if !block.contains("parameters:") {
            continue;
        }
        if let Some(v) = parse_yaml(block) {
            out.push(Candidate {
                value: v,
                start,
                end,
                how: "yaml",
            });
        }
    }
    out
}

fn line_start_with(text: &str, key: &str) -> Option<usize> {
    if text.starts_with(key) {
        return Some(0);
    }
    text.match_indices(&format!("\n{key}"))
        .next()
        .map(|(i, _)| i + 1)
}

/// From `start`, the lines that look like YAML (indented, a `key:`, a list item, blank).
fn yaml_extent(text: &str, start: usize) -> usize {
    let mut end = start;
    for line in text[start..].split_inclusive('\n') {
        let t = line.trim_end();
        let looks = t.is_empty()
            || t.starts_with([' ', '\t', '-', '#'])
            || t.split_once(':')
                .is_some_and(|(k, _)| !k.is_empty() && !k.contains(' '));
        if !looks {
            break;
        }
        end += line.len();
    }
    end
}

/// Parses YAML; on an error, retries on the lines before it (a block that runs into prose).
fn parse_yaml(body: &str) -> Option<Value> {
    let mut body = body;
    for _ in 0..3 {
        match serde_yaml_ng::from_str::<Value>(body) {
            Ok(v) if v.is_object() || v.is_array() => return Some(v),
            Ok(_) => return None,
            Err(e) => {
                let line = e.location()?.line();
                if line <= 1 {
                    return None;
                }
                let cut: usize = body
                    .split_inclusive('\n')
                    .take(line - 1)
                    .map(str::len)
                    .sum();
                body = &body[..cut];
            }
        }
    }
    None
}
