//! Call modes, as function-calling data generators label records: one label per record, the
//! first that applies in this order.
//!
//! * `dependent`: an argument of a call repeats a value from an earlier tool response (the
//!   call uses an earlier call's result);
//! * `parallel`: an assistant turn makes several calls;
//! * `multiple`: calls to different tools (in separate turns);
//! * `single`: calls to one tool;
//! * `miss_param`: no call, and the assistant asks for a required argument of an offered tool
//!   (its turn holds a question naming the argument);
//! * `no_tool_use`: no call.

use serde_json::Value;

use super::model::{Record, Role};

pub const MODES: &[&str] = &[
    "dependent",
    "parallel",
    "multiple",
    "single",
    "miss_param",
    "no_tool_use",
];

/// Scalars of a value, as text (strings of 3+ characters, numbers of 2+ digits).
fn scalars(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) if s.chars().count() >= 3 => out.push(s.clone()),
        Value::Number(n) if n.to_string().len() >= 2 => out.push(n.to_string()),
        Value::Array(items) => items.iter().for_each(|i| scalars(i, out)),
        Value::Object(o) => o.values().for_each(|i| scalars(i, out)),
        _ => {}
    }
}

#[must_use]
pub fn mode(record: &Record) -> &'static str {
    let mut responses = String::new();
    let mut names: Vec<&str> = Vec::new();
    let mut dependent = false;
    let mut parallel = false;
    for m in &record.messages {
        if m.role == Role::Tool {
            responses.push_str(&m.content);
            responses.push('\n');
        }
        if m.calls.len() > 1 {
            parallel = true;
        }
        for c in &m.calls {
            if !names.contains(&c.name.as_str()) {
                names.push(&c.name);
            }
            if !responses.is_empty() {
                if let Some(args) = c.arguments.object() {
                    let mut vals = Vec::new();
                    for v in args.values() {
                        scalars(v, &mut vals);
                    }
                    dependent |= vals.iter().any(|v| responses.contains(v.as_str()));
                }
            }
        }
    }
    if dependent {
        return "dependent";
    }
    if parallel {
        return "parallel";
    }
    match names.len() {
        0 => {}
        1 => return "single",
        _ => return "multiple",
    }
    if asks_for_required(record) {
        "miss_param"
    } else {
        "no_tool_use"
    }
}

fn asks_for_required(record: &Record) -> bool {
    let mut required: Vec<String> = Vec::new();
    for t in &record.tools {
        if let Some(Value::Array(r)) = t.parameters.get("required") {
            for name in r.iter().filter_map(Value::as_str) {
                required.push(name.to_ascii_lowercase());
                required.push(name.replace('_', " ").to_ascii_lowercase());
            }
        }
    }
    if required.is_empty() {
        return false;
    }
    record
        .messages
        .iter()
        .filter(|m| m.role == Role::Assistant && m.calls.is_empty())
        .any(|m| {
            let text = m.content.to_ascii_lowercase();
            text.contains('?')
                && required
                    .iter()
                    .any(|r| r.len() >= 3 && text.contains(r.as_str()))
        })
}
