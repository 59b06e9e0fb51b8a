//! Parameter tables in markdown (`| Name | Type | Required | Description |`) and HTML
//! (`<table>` with `<th>` headers). A table is a spec when a column names the parameters and
//! the heading above it names a function or an operation (`## **create_user**`, a code span,
//! `POST /users`); tables under headings about properties, fields, attributes or responses
//! describe data, not calls, and are skipped.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{json, Map, Value};

use crate::toolcalls::model::Tool;
use crate::toolcalls::types::parse_type;

static HEADING: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^(#{1,6})[ \t]+(.+?)[ \t]*#*[ \t]*$|<h[1-6][^>]*>(.*?)</h[1-6]>")
        .expect("valid regex")
});
static HTML_TABLE: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)<table[^>]*>(.*?)</table>").expect("valid regex"));
static HTML_ROW: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)<tr[^>]*>(.*?)</tr>").expect("valid regex"));
static HTML_CELL: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"(?is)<t[hd][^>]*>(.*?)</t[hd]>").expect("valid regex"));
static TAG: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(?s)<[^>]+>").expect("valid regex"));
static LINK: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"\[([^\]]*)\]\([^)]*\)").expect("valid regex"));
static OPERATION: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"\b(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\s+(/\S*)").expect("valid regex")
});
static CODE_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"`([A-Za-z_][\w.]*)\s*(?:\([^`]*\))?`|\*\*([A-Za-z_][\w.]*)\*\*")
        .expect("valid regex")
});

/// Why a table was not taken as a spec, when it looked like one.
pub const NOT_A_FUNCTION: &str =
    "the table describes data (properties, fields, a response), not a call";

/// A spec and its byte span.
pub type Spanned = (Tool, usize, usize);

/// `(tool, start, end)` per parameter table, and the spans of tables skipped as data tables.
#[must_use]
pub fn tables(text: &str) -> (Vec<Spanned>, Vec<(usize, usize)>) {
    let mut found = Vec::new();
    let mut skipped = Vec::new();
    let mut all: Vec<(Vec<Vec<String>>, usize, usize)> = markdown_tables(text);
    for m in HTML_TABLE.captures_iter(text) {
        let Some(whole) = m.get(0) else { continue };
        let rows: Vec<Vec<String>> = HTML_ROW
            .captures_iter(&m[1])
            .map(|r| {
                HTML_CELL
                    .captures_iter(&r[1])
                    .map(|c| clean(&c[1]))
                    .collect()
            })
            .filter(|r: &Vec<String>| !r.is_empty())
            .collect();
        all.push((rows, whole.start(), whole.end()));
    }
    for (rows, start, end) in all {
        let Some((header, body)) = rows.split_first() else {
            continue;
        };
        let Some(cols) = Columns::of(header) else {
            continue;
        };
        let heading = headings_before(text, start);
        let Some(name) = tool_name(&heading) else {
            skipped.push((start, end));
            continue;
        };
        let mut props = Map::new();
        let mut required = Vec::new();
        for row in body {
            let Some(pname) = row
                .get(cols.name)
                .map(|n| n.trim_matches(['*', '`', ' ']).to_owned())
            else {
                continue;
            };
            if pname.is_empty() || pname.contains(' ') {
                continue;
            }
            let mut s = Map::new();
            let mut optional = None;
            if let Some(t) = cols.ty.and_then(|c| row.get(c)) {
                let t = t.trim_matches(['*', '`', ' ']);
                if let Some((_, opt)) = parse_type(t) {
                    s.insert("type".into(), json!(t));
                    optional = opt.then_some(true);
                }
            }
            if let Some(d) = cols
                .description
                .and_then(|c| row.get(c))
                .filter(|d| !d.is_empty())
            {
                s.insert("description".into(), json!(d));
            }
            // A missing cell is an empty one (a row may drop its trailing `|`).
            if let Some(r) = cols.required.map(|c| row.get(c).map_or("", String::as_str)) {
                let r = r.to_ascii_lowercase();
                if r.contains("optional") || r == "no" || r == "false" {
                    optional = Some(true);
                } else if cols.required_by_notes
                    || r.contains("required")
                    || matches!(r.as_str(), "yes" | "true" | "✓" | "x")
                {
                    optional = Some(false);
                }
            }
            if optional == Some(false) {
                required.push(json!(pname));
            }
            props.insert(pname, Value::Object(s));
        }
        if props.is_empty() {
            continue;
        }
        let mut schema = json!({"type": "object", "properties": props});
        if !required.is_empty() {
            schema["required"] = Value::Array(required);
        }
        found.push((Tool::new(name, None, &schema), start, end));
    }
    (found, skipped)
}

struct Columns {
    name: usize,
    ty: Option<usize>,
    required: Option<usize>,
    /// The required column is a `Notes` column: rows without `[optional]` are required.
    required_by_notes: bool,
    description: Option<usize>,
}

impl Columns {
    fn of(header: &[String]) -> Option<Columns> {
        let lower: Vec<String> = header.iter().map(|h| h.to_ascii_lowercase()).collect();
        let find = |keys: &[&str]| {
            lower
                .iter()
                .position(|h| keys.iter().any(|k| h.as_str() == *k || h.starts_with(k)))
        };
        let name = find(&[
            "name",
            "parameter",
            "param",
            "argument",
            "field",
            "key",
            "property",
        ])?;
        let required = find(&["required", "optional", "req"]);
        let notes = find(&["notes"]);
        Some(Columns {
            name,
            ty: find(&["type", "data type", "datatype"]),
            required: required.or(notes),
            required_by_notes: required.is_none() && notes.is_some(),
            description: find(&["description", "desc", "details", "meaning"]),
        })
    }
}

fn clean(cell: &str) -> String {
    let t = TAG.replace_all(cell, "");
    let t = LINK.replace_all(&t, "$1");
    t.replace("&#39;", "'")
        .replace("&quot;", "\"")
        .replace("&amp;", "&")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .trim()
        .to_owned()
}

fn markdown_tables(text: &str) -> Vec<(Vec<Vec<String>>, usize, usize)> {
    let mut out = Vec::new();
    let mut offset = 0;
    let lines: Vec<&str> = text.split_inclusive('\n').collect();
    let mut i = 0;
    let mut starts = Vec::with_capacity(lines.len());
    for l in &lines {
        starts.push(offset);
        offset += l.len();
    }
    while i + 1 < lines.len() {
        let sep = lines[i + 1].trim();
        let is_sep = sep.contains('-') && sep.chars().all(|c| matches!(c, '|' | '-' | ':' | ' '));
        if lines[i].contains('|') && is_sep {
            let mut rows = vec![cells(lines[i])];
            let mut j = i + 2;
            while j < lines.len() && lines[j].contains('|') && !lines[j].trim().is_empty() {
                rows.push(cells(lines[j]));
                j += 1;
            }
            let end = starts.get(j).copied().unwrap_or(text.len());
            out.push((rows, starts[i], end));
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

fn cells(line: &str) -> Vec<String> {
    let t = line.trim().trim_start_matches('|').trim_end_matches('|');
    t.split('|').map(clean).collect()
}

/// The headings above `at`, nearest first (at most three).
fn headings_before(text: &str, at: usize) -> Vec<String> {
    let mut found: Vec<String> = HEADING
        .captures_iter(&text[..at])
        .map(|c| {
            c.get(2)
                .or_else(|| c.get(3))
                .map_or_else(String::new, |m| m.as_str().trim().to_owned())
        })
        .collect();
    found.reverse();
    found.truncate(3);
    found
}

/// The function or operation a table's headings name, skipping "Parameters"-like headings.
fn tool_name(headings: &[String]) -> Option<String> {
    for h in headings {
        let lower = h.to_ascii_lowercase();
        let generic = [
            "parameter",
            "argument",
            "request",
            "query",
            "option",
            "input",
            "header",
            "path",
        ]
        .iter()
        .any(|g| lower.starts_with(g));
        if generic {
            continue;
        }
        if [
            "propert",
            "field",
            "attribute",
            "response",
            "return",
            "model",
            "schema",
            "enum",
        ]
        .iter()
        .any(|d| lower.contains(d))
        {
            return None;
        }
        if let Some(c) = OPERATION.captures(h) {
            return Some(format!("{} {}", &c[1], c[2].trim_end_matches(['`', '*'])));
        }
        if let Some(c) = CODE_NAME.captures(h) {
            return c.get(1).or_else(|| c.get(2)).map(|m| m.as_str().to_owned());
        }
        let clean = TAG.replace_all(h, "");
        let words: Vec<&str> = clean.split_whitespace().collect();
        if words.len() == 1
            && words[0]
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '.')
            && words[0].contains(['_', '.'])
        {
            return Some(words[0].to_owned());
        }
        return None;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markdown_and_html_parameter_tables() {
        let md = "# **create_namespace**\n\n### Parameters\n\nName | Type | Description | Notes\n---- | ---- | ---- | ----\n **body** | [**V1Namespace**](V1Namespace.md)| The body |\n **pretty** | **str**| Pretty print. | [optional]\n\n";
        let (found, _) = tables(md);
        let t = &found[0].0;
        assert_eq!(t.name, "create_namespace");
        assert_eq!(t.parameters["required"], json!(["body"]));
        assert_eq!(
            t.parameters["properties"]["pretty"]["type"],
            json!("string")
        );
        let html = "<h3>POST /v1/users</h3><table><tr><th>Parameter</th><th>Type</th><th>Required</th><th>Description</th></tr><tr><td>email</td><td>string</td><td>yes</td><td>Login</td></tr><tr><td>age</td><td>integer</td><td>no</td><td></td></tr></table>";
        let (found, _) = tables(html);
        assert_eq!(found[0].0.name, "POST /v1/users");
        assert_eq!(found[0].0.parameters["required"], json!(["email"]));
        let data = "## Properties\n\nName | Type | Description\n--- | --- | ---\n**ca_bundle** | **str** | x\n";
        let (found, skipped) = tables(data);
        assert!(found.is_empty());
        assert_eq!(skipped.len(), 1);
    }
}
