//! The rule checker: every call of a record against the tools the record offers.
//!
//! Each rule has a stable code ([`RULES`]). Paths are JSON paths into the canonical record
//! (`messages[2].calls[0].arguments.city`, `tools[1].parameters`). Types are exact, as BFCL's
//! checker has them: a boolean is not an integer, `1.0` is not an integer, an integer is a
//! number; array items and nested objects are checked recursively.

use serde_json::{Map, Value};

use super::model::{kind_of, Arguments, Call, Message, Record, Role};

/// The rule codes, with what each reports.
pub const RULES: &[(&str, &str)] = &[
    ("unknown_tool", "a call names a tool the record does not offer"),
    ("unknown_argument", "a call passes an argument its tool does not declare"),
    ("missing_required", "a call leaves out an argument its tool requires"),
    ("type_mismatch", "an argument's value is not of the declared type"),
    ("enum_mismatch", "an argument's value is not one of the declared values"),
    ("invalid_arguments", "a call's arguments do not parse, or are not an object"),
    ("arguments_encoding", "arguments encoded other than the format defines (a JSON string where an object belongs, or the reverse)"),
    ("duplicate_call_id", "two calls of the record share an id"),
    ("orphan_tool_response", "a tool response answers no earlier call"),
    ("empty_tool_name", "a call or a tool has an empty name"),
    ("malformed_schema", "a tool's parameters are not a usable schema"),
];

/// One violation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    pub rule: &'static str,
    pub path: String,
    pub message: String,
    /// The tool the violation is about, when there is one.
    pub tool: Option<String>,
}

struct Out<'a> {
    list: Vec<Violation>,
    tool: Option<&'a str>,
}

impl Out<'_> {
    fn push(&mut self, rule: &'static str, path: String, message: String) {
        self.list.push(Violation {
            rule,
            path,
            message,
            tool: self.tool.map(str::to_owned),
        });
    }
}

/// Every violation in `record`, in record order.
#[must_use]
pub fn check(record: &Record) -> Vec<Violation> {
    let mut out = Out {
        list: Vec::new(),
        tool: None,
    };
    check_tools(record, &mut out);
    let mut seen = Seen::default();
    for (mi, m) in record.messages.iter().enumerate() {
        if m.role == Role::Tool {
            check_response(m, mi, &mut seen, &mut out);
        } else {
            for (ci, c) in m.calls.iter().enumerate() {
                seen.pending += 1;
                seen.called.push(&c.name);
                check_call(
                    record,
                    c,
                    &format!("messages[{mi}].calls[{ci}]"),
                    &mut seen,
                    &mut out,
                );
            }
        }
    }
    out.list
}

/// What the calls so far have said: their ids and names, and the responses still owed.
#[derive(Default)]
struct Seen<'r> {
    ids: Vec<&'r str>,
    called: Vec<&'r str>,
    pending: usize,
}

fn check_tools<'r>(record: &'r Record, out: &mut Out<'r>) {
    for (ti, t) in record.tools.iter().enumerate() {
        out.tool = Some(&t.name);
        if t.name.trim().is_empty() {
            out.push(
                "empty_tool_name",
                format!("tools[{ti}].name"),
                "a tool has an empty name".into(),
            );
        }
        for p in &t.problems {
            // Problems read `path: what` or `path is ...`.
            let at = p.split([':', ' ']).next().unwrap_or("parameters");
            out.push("malformed_schema", format!("tools[{ti}].{at}"), p.clone());
        }
    }
}

fn check_response<'r>(m: &'r Message, mi: usize, seen: &mut Seen<'r>, out: &mut Out<'r>) {
    out.tool = m.name.as_deref();
    let path = format!("messages[{mi}]");
    if let Some(id) = &m.call_id {
        if !seen.ids.contains(&id.as_str()) {
            out.push(
                "orphan_tool_response",
                path,
                format!("tool response for call id {id:?}, which no earlier call has"),
            );
            return;
        }
    } else if seen.pending == 0 {
        out.push(
            "orphan_tool_response",
            path,
            "a tool response with no call before it".into(),
        );
        return;
    } else if let Some(n) = &m.name {
        if !seen.called.contains(&n.as_str()) {
            out.push(
                "orphan_tool_response",
                path,
                format!("a response from {n:?}, which no earlier call names"),
            );
            return;
        }
    }
    seen.pending = seen.pending.saturating_sub(1);
}

fn check_call<'r>(
    record: &'r Record,
    c: &'r Call,
    base: &str,
    seen: &mut Seen<'r>,
    out: &mut Out<'r>,
) {
    out.tool = Some(&c.name);
    if let Some(id) = &c.id {
        if seen.ids.contains(&id.as_str()) {
            out.push(
                "duplicate_call_id",
                format!("{base}.id"),
                format!("call id {id:?} is used twice"),
            );
        }
        seen.ids.push(id);
    }
    if let Some(issue) = &c.encoding_issue {
        out.push(
            "arguments_encoding",
            format!("{base}.arguments"),
            issue.clone(),
        );
    }
    let args = match &c.arguments {
        Arguments::Invalid { error, .. } => {
            out.push(
                "invalid_arguments",
                format!("{base}.arguments"),
                format!("arguments do not parse: {error}"),
            );
            None
        }
        Arguments::Parsed(Value::Object(o)) => Some(o),
        Arguments::Parsed(other) => {
            out.push(
                "invalid_arguments",
                format!("{base}.arguments"),
                format!("arguments are {}, not an object", kind_of(other)),
            );
            None
        }
    };
    if c.name.trim().is_empty() {
        out.push(
            "empty_tool_name",
            format!("{base}.name"),
            "a call has an empty tool name".into(),
        );
        return;
    }
    let Some(tool) = record.tool(&c.name) else {
        out.push(
            "unknown_tool",
            format!("{base}.name"),
            format!(
                "{:?} is not among the {} tools offered",
                c.name,
                record.tools.len()
            ),
        );
        return;
    };
    if let (Some(args), true) = (args, tool.problems.is_empty()) {
        let base = format!("{base}.arguments");
        check_object(args, &tool.parameters, &At::Base(&base), out);
    }
}

fn type_names(schema: &Map<String, Value>) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(t)) => vec![t.as_str()],
        Some(Value::Array(ts)) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn is_type(v: &Value, t: &str) -> bool {
    match t {
        "string" => v.is_string(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        "boolean" => v.is_boolean(),
        "array" => v.is_array(),
        "object" => v.is_object(),
        "null" => v.is_null(),
        _ => true,
    }
}

// Enum membership is exact: 1 and 1.0 are the same number, 1.0000001 is not.
#[allow(clippy::float_cmp)]
fn same(a: &Value, b: &Value) -> bool {
    match (a.as_f64(), b.as_f64()) {
        (Some(x), Some(y)) if a.is_number() && b.is_number() => x == y,
        _ => a == b,
    }
}

/// Where a value sits, rendered only when a violation needs it: a base path and the keys /
/// indices below it.
#[derive(Clone, Copy)]
enum At<'a> {
    Base(&'a str),
    Key(&'a At<'a>, &'a str),
    Index(&'a At<'a>, usize),
}

impl At<'_> {
    fn render(&self) -> String {
        match self {
            At::Base(b) => (*b).to_owned(),
            At::Key(parent, k) => format!("{}.{k}", parent.render()),
            At::Index(parent, i) => format!("{}[{i}]", parent.render()),
        }
    }
}

fn check_value(v: &Value, schema: &Value, at: &At<'_>, out: &mut Out<'_>) {
    let Some(s) = schema.as_object() else { return };
    let types = type_names(s);
    if !types.is_empty() && !types.iter().any(|t| is_type(v, t)) {
        out.push(
            "type_mismatch",
            at.render(),
            format!(
                "{} where the schema says {}",
                kind_of(v),
                types.join(" or ")
            ),
        );
        return;
    }
    if let Some(Value::Array(allowed)) = s.get("enum") {
        if !allowed.iter().any(|a| same(a, v)) {
            let shown: Vec<String> = allowed.iter().take(8).map(ToString::to_string).collect();
            out.push(
                "enum_mismatch",
                at.render(),
                format!("{v} is not one of {}", shown.join(", ")),
            );
        }
    }
    match v {
        Value::Array(items) => {
            if let Some(item_schema) = s.get("items") {
                for (i, item) in items.iter().enumerate() {
                    check_value(item, item_schema, &At::Index(at, i), out);
                }
            }
        }
        Value::Object(o) if s.contains_key("properties") || s.contains_key("required") => {
            check_object(o, schema, at, out);
        }
        _ => {}
    }
}

fn check_object(args: &Map<String, Value>, schema: &Value, at: &At<'_>, out: &mut Out<'_>) {
    let empty = Map::new();
    let props = schema
        .get("properties")
        .and_then(Value::as_object)
        .unwrap_or(&empty);
    let open = matches!(
        schema.get("additionalProperties"),
        Some(Value::Bool(true) | Value::Object(_))
    );
    for (k, v) in args {
        match props.get(k) {
            Some(ps) => check_value(v, ps, &At::Key(at, k), out),
            None if !open => out.push(
                "unknown_argument",
                At::Key(at, k).render(),
                format!("argument {k:?} is not declared"),
            ),
            None => {}
        }
    }
    if let Some(Value::Array(required)) = schema.get("required") {
        for r in required.iter().filter_map(Value::as_str) {
            if !args.contains_key(r) {
                out.push(
                    "missing_required",
                    At::Key(at, r).render(),
                    format!("required argument {r:?} is missing"),
                );
            }
        }
    }
}
