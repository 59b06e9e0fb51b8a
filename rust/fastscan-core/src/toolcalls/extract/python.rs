//! Python functions with docstrings: the signature's parameters (types from annotations,
//! required when there is no default), the docstring's summary and its parameter sections in
//! the Google (`Args:`), `NumPy` (`Parameters` + `----------`) and Sphinx (`:param x:`) styles.
//! Functions without a docstring and private ones (`_name`) are not specs.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{json, Map, Value};

use crate::toolcalls::model::Tool;
use crate::toolcalls::types::parse_type;

static DEF: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^([ \t]*)(?:async[ \t]+)?def[ \t]+([A-Za-z_]\w*)[ \t]*\(")
        .expect("valid regex")
});
static SPHINX: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^:(param|type)\s+(?:([^:]+?)\s+)?(\w+)\s*:\s*(.*)$").expect("valid regex")
});
static GOOGLE_ITEM: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"^\*{0,2}(\w+)\s*(?:\(([^)]*)\))?\s*:\s*(.*)$").expect("valid regex")
});
static NUMPY_ITEM: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"^(\w+)\s*(?::\s*(.*))?$").expect("valid regex"));

/// `(tool, start, end)` for every documented public function in `text` (byte span of the def
/// through its docstring).
#[must_use]
pub fn functions(text: &str) -> Vec<(Tool, usize, usize)> {
    let mut out = Vec::new();
    for cap in DEF.captures_iter(text) {
        let Some(whole) = cap.get(0) else { continue };
        let name = &cap[2];
        if name.starts_with('_') {
            continue;
        }
        let Some((params, after)) = signature(text, whole.end()) else {
            continue;
        };
        let Some((doc, end)) = docstring(text, after) else {
            continue;
        };
        let (summary, documented) = parse_docstring(&doc);
        let mut props = Map::new();
        let mut required = Vec::new();
        for p in &params {
            let mut s = Map::new();
            let doc_entry = documented.iter().find(|(n, _, _)| n == &p.name);
            let spelling = p
                .annotation
                .as_deref()
                .or(doc_entry.and_then(|(_, t, _)| t.as_deref()));
            let mut optional = p.default.is_some();
            if let Some(t) = spelling {
                if let Some((_, opt)) = parse_type(t) {
                    s.insert("type".into(), json!(t));
                    optional |= opt;
                }
            }
            if let Some((_, _, d)) = doc_entry.filter(|(_, _, d)| !d.is_empty()) {
                s.insert("description".into(), json!(d));
            }
            if let Some(default) = &p.default {
                if let Ok(v) = crate::toolcalls::pylit::parse_value(default) {
                    s.insert("default".into(), v);
                }
            }
            if !optional {
                required.push(json!(p.name));
            }
            props.insert(p.name.clone(), Value::Object(s));
        }
        let mut schema = json!({"type": "object", "properties": props});
        if !required.is_empty() {
            schema["required"] = Value::Array(required);
        }
        let desc = (!summary.is_empty()).then_some(summary);
        out.push((
            Tool::new(name, desc, &schema),
            whole.start() + cap[1].len(),
            end,
        ));
    }
    out
}

struct Param {
    name: String,
    annotation: Option<String>,
    default: Option<String>,
}

/// The parameters of a signature whose `(` ends at `open`; and the byte after `):`.
fn signature(text: &str, open: usize) -> Option<(Vec<Param>, usize)> {
    let bytes = text.as_bytes();
    let mut depth = 1;
    let mut i = open;
    let mut quote: Option<u8> = None;
    while i < bytes.len() && depth > 0 {
        let b = bytes[i];
        match quote {
            Some(q) if b == q => quote = None,
            Some(_) if b == b'\\' => i += 1,
            Some(_) => {}
            None => match b {
                b'\'' | b'"' => quote = Some(b),
                b'(' | b'[' | b'{' => depth += 1,
                b')' | b']' | b'}' => depth -= 1,
                _ => {}
            },
        }
        i += 1;
    }
    if depth != 0 || i - open > 4096 {
        return None;
    }
    let inner = &text[open..i - 1];
    let colon = text[i..].find(':')? + i;
    if text[i..colon].contains('\n') && !text[i..colon].trim_start().starts_with("->") {
        return None;
    }
    let mut params = Vec::new();
    for part in split_top(inner) {
        let part = part.trim();
        if part.is_empty() || part == "*" || part == "/" || part.starts_with('*') {
            continue;
        }
        let (head, default) = match part.split_once('=') {
            Some((h, d)) => (h.trim(), Some(d.trim().to_owned())),
            None => (part, None),
        };
        let (name, annotation) = match head.split_once(':') {
            Some((n, a)) => (n.trim(), Some(a.trim().to_owned())),
            None => (head, None),
        };
        if name == "self" || name == "cls" || !name.chars().all(|c| c.is_alphanumeric() || c == '_')
        {
            continue;
        }
        params.push(Param {
            name: name.to_owned(),
            annotation,
            default,
        });
    }
    Some((params, colon + 1))
}

fn split_top(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    let mut quote: Option<char> = None;
    for (i, c) in s.char_indices() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '\'' | '"' => quote = Some(c),
                '(' | '[' | '{' => depth += 1,
                ')' | ']' | '}' => depth -= 1,
                ',' if depth == 0 => {
                    out.push(&s[start..i]);
                    start = i + 1;
                }
                _ => {}
            },
        }
    }
    out.push(&s[start..]);
    out
}

/// The docstring right after a `def ...:` (the first statement), dedented; and its end.
fn docstring(text: &str, after: usize) -> Option<(String, usize)> {
    let rest = &text[after..];
    let trimmed = rest.trim_start();
    let start = after + (rest.len() - trimmed.len());
    let body = trimmed.strip_prefix(['r', 'R', 'u']).unwrap_or(trimmed);
    let skip = trimmed.len() - body.len();
    let quote = ["\"\"\"", "'''"]
        .into_iter()
        .find(|q| body.starts_with(q))?;
    let close = body[3..].find(quote)?;
    let doc = &body[3..3 + close];
    Some((dedent(doc), start + skip + 3 + close + 3))
}

fn dedent(doc: &str) -> String {
    let lines: Vec<&str> = doc.lines().collect();
    let indent = lines
        .iter()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start().len())
        .min()
        .unwrap_or(0);
    lines
        .iter()
        .enumerate()
        .map(|(i, l)| {
            if i == 0 {
                l.trim()
            } else {
                l.get(indent..).unwrap_or(l.trim_start())
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A documented parameter: `(name, type, description)`.
type DocParam = (String, Option<String>, String);

/// `(summary, [(name, type, description)])` of a dedented docstring.
fn parse_docstring(doc: &str) -> (String, Vec<DocParam>) {
    let lines: Vec<&str> = doc.lines().collect();
    let summary: Vec<&str> = lines
        .iter()
        .map(|l| l.trim())
        .skip_while(|l| l.is_empty())
        .take_while(|l| !l.is_empty() && !is_section(l) && !l.starts_with(':'))
        .collect();
    let mut params: Vec<DocParam> = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let t = lines[i].trim();
        if let Some(c) = SPHINX.captures(t) {
            let name = c[3].to_owned();
            let value = c[4].trim().to_owned();
            let entry = entry(&mut params, &name);
            if &c[1] == "type" {
                entry.1 = Some(value);
            } else {
                if let Some(t) = c.get(2) {
                    entry.1 = Some(t.as_str().trim().to_owned());
                }
                entry.2 = value;
            }
            i += 1;
            continue;
        }
        let numpy = lines
            .get(i + 1)
            .is_some_and(|n| n.trim().starts_with("---"));
        if is_section(t)
            || (numpy && matches!(t, "Parameters" | "Arguments" | "Args" | "Other Parameters"))
        {
            i = section(&lines, i, numpy, &mut params);
            continue;
        }
        i += 1;
    }
    (summary.join(" "), params)
}

/// Reads the parameter entries of the section whose heading is `lines[i]`; returns the line
/// after it.
fn section(lines: &[&str], mut i: usize, numpy: bool, params: &mut Vec<DocParam>) -> usize {
    let base = indent(lines[i]);
    i += if numpy { 2 } else { 1 };
    let mut item_indent: Option<usize> = None;
    while i < lines.len() {
        let l = lines[i];
        if l.trim().is_empty() {
            i += 1;
            if lines
                .get(i)
                .is_some_and(|n| indent(n) <= base && !n.trim().is_empty())
            {
                break;
            }
            continue;
        }
        let ind = indent(l);
        if !numpy && ind <= base {
            break;
        }
        if numpy
            && ind <= base
            && lines
                .get(i + 1)
                .is_some_and(|n| n.trim().starts_with("---"))
        {
            break;
        }
        let first = *item_indent.get_or_insert(ind);
        if ind <= first {
            let t = l.trim();
            let parsed = if numpy {
                NUMPY_ITEM.captures(t).map(|c| {
                    (
                        c[1].to_owned(),
                        c.get(2).map(|m| m.as_str().to_owned()),
                        String::new(),
                    )
                })
            } else {
                GOOGLE_ITEM.captures(t).map(|c| {
                    (
                        c[1].to_owned(),
                        c.get(2).map(|m| m.as_str().to_owned()),
                        c[3].trim().to_owned(),
                    )
                })
            };
            match parsed {
                Some((name, ty, desc)) => {
                    let e = entry(params, &name);
                    if ty.is_some() {
                        e.1 = ty;
                    }
                    e.2 = desc;
                }
                None => break,
            }
        } else if let Some(last) = params.last_mut() {
            if !last.2.is_empty() {
                last.2.push(' ');
            }
            last.2.push_str(l.trim());
        }
        i += 1;
    }
    i
}

fn entry<'a>(
    params: &'a mut Vec<(String, Option<String>, String)>,
    name: &str,
) -> &'a mut (String, Option<String>, String) {
    if let Some(pos) = params.iter().position(|(n, _, _)| n == name) {
        return &mut params[pos];
    }
    params.push((name.to_owned(), None, String::new()));
    params.last_mut().expect("just pushed")
}

fn indent(l: &str) -> usize {
    l.len() - l.trim_start().len()
}

fn is_section(t: &str) -> bool {
    matches!(
        t,
        "Args:" | "Arguments:" | "Parameters:" | "Params:" | "Keyword Args:" | "Keyword Arguments:"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn props(t: &Tool) -> Vec<(String, Value)> {
        t.parameters["properties"]
            .as_object()
            .unwrap()
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    #[test]
    fn google_numpy_and_sphinx_docstrings() {
        let google = "def get_weather(city: str, days: int = 3):\n    \"\"\"Weather for a city.\n\n    Args:\n        city: The city.\n        days (int): Days ahead,\n            at most 7.\n    \"\"\"\n";
        let numpy = "def area(width, height=1.0):\n    '''Area of a box.\n\n    Parameters\n    ----------\n    width : float\n        The width.\n    height : float, optional\n        The height.\n    '''\n";
        let sphinx = "def send(to, body):\n    \"\"\"Send a mail.\n\n    :param str to: Recipient.\n    :param body: Text.\n    :type body: str\n    \"\"\"\n";
        let t = &functions(google)[0].0;
        assert_eq!(t.name, "get_weather");
        assert_eq!(t.description.as_deref(), Some("Weather for a city."));
        assert_eq!(t.parameters["required"], json!(["city"]));
        assert_eq!(
            props(t)[1].1["description"],
            json!("Days ahead, at most 7.")
        );
        let t = &functions(numpy)[0].0;
        assert_eq!(t.parameters["properties"]["width"]["type"], json!("number"));
        assert_eq!(t.parameters["required"], json!(["width"]));
        let t = &functions(sphinx)[0].0;
        assert_eq!(t.parameters["properties"]["to"]["type"], json!("string"));
        assert_eq!(t.parameters["properties"]["body"]["type"], json!("string"));
        assert!(functions("def _private(x):\n    \"\"\"Doc.\"\"\"\n").is_empty());
        assert!(functions("def undocumented(x):\n    return x\n").is_empty());
    }
}
