//! XML calls (Anthropic's text format): `tools` as `{"name", "description", "input_schema"}`,
//! `system` beside, `messages` of user / assistant turns. An assistant turn's calls follow its
//! text as `<function_calls><invoke name="f"><parameter name="a">value</parameter></invoke>
//! </function_calls>`; results come back in a user turn as `<function_results><result>
//! <tool_name>f</tool_name><stdout>...</stdout></result></function_results>`. A parameter
//! value is the string itself where the tool declares a string, JSON otherwise (and wherever
//! the bare string would read back as something else).

use std::fmt::Write as _;
use std::sync::LazyLock;

use regex::Regex;
use serde_json::{json, Map, Value};

use super::{no_ids, obj, record_with, turns, Loss, ReadError, Sink, Turn};
use crate::toolcalls::model::{Arguments, Call, Message, Record, Role, Tool};

static INVOKE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?s)<invoke name="([^"]*)">(.*?)</invoke>"#).expect("valid regex")
});
static PARAMETER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?s)<parameter name="([^"]*)">(.*?)</parameter>"#).expect("valid regex")
});
static RESULT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?s)<result>\s*(?:<tool_name>(.*?)</tool_name>)?\s*<stdout>\n?(.*?)\n?</stdout>\s*</result>")
        .expect("valid regex")
});

const MARKUP: &[&str] = &[
    "<function_calls>",
    "</function_calls>",
    "<invoke",
    "<function_results>",
];

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// Whether the tool declares `param` a string (and nothing else).
fn declared_string(tool: Option<&Tool>, param: &str) -> bool {
    tool.and_then(|t| t.parameters.get("properties"))
        .and_then(|p| p.get(param))
        .and_then(|s| s.get("type"))
        .and_then(Value::as_str)
        == Some("string")
}

fn read_value(tool: Option<&Tool>, param: &str, raw: &str) -> Value {
    if declared_string(tool, param) {
        return Value::String(raw.to_owned());
    }
    serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_owned()))
}

pub(super) fn read(v: &Value) -> Result<Record, ReadError> {
    let o = obj(v, "the record")?;
    let mut record = record_with(o)?;
    for Turn {
        i,
        role,
        text: content,
        ..
    } in turns(o, "messages", "role", "content")?
    {
        match Some(role).filter(|r| !r.is_empty()) {
            Some("system") => record.messages.push(Message::new(Role::System, content)),
            Some("user") => {
                let t = content.trim();
                if t.starts_with("<function_results>") && t.ends_with("</function_results>") {
                    for c in RESULT.captures_iter(t) {
                        let mut msg = Message::new(Role::Tool, unescape(&c[2]));
                        msg.name = c.get(1).map(|n| unescape(n.as_str()));
                        record.messages.push(msg);
                    }
                } else {
                    record.messages.push(Message::new(Role::User, content));
                }
            }
            Some("assistant") => {
                let (before, calls) = match content.find("<function_calls>") {
                    Some(at) => (&content[..at], &content[at..]),
                    None => (content.as_str(), ""),
                };
                let mut msg = Message::new(Role::Assistant, before);
                for inv in INVOKE.captures_iter(calls) {
                    let name = unescape(&inv[1]);
                    let tool = record.tool(&name);
                    let mut args = Map::new();
                    for p in PARAMETER.captures_iter(&inv[2]) {
                        let param = unescape(&p[1]);
                        let value = read_value(tool, &param, &unescape(&p[2]));
                        args.insert(param, value);
                    }
                    msg.calls
                        .push(Call::new(name, Arguments::Parsed(Value::Object(args))));
                }
                record.messages.push(msg);
            }
            other => {
                return Err(ReadError::malformed(format!(
                    "messages[{i}] has role {other:?}"
                )))
            }
        }
    }
    Ok(record)
}

/// The text of a parameter value; `None` when it cannot be written so it reads back equal.
fn write_value(tool: Option<&Tool>, param: &str, v: &Value) -> Option<String> {
    let declared = declared_string(tool, param);
    match v {
        Value::String(s) if declared => Some(s.clone()),
        _ if declared => None,
        Value::String(s) if serde_json::from_str::<Value>(s).is_err() => Some(s.clone()),
        other => Some(other.to_string()),
    }
}

pub(super) fn write(record: &Record, sink: &mut Sink<'_>) -> Result<Value, Loss> {
    no_ids(record, sink)?;
    super::no_markup(record, MARKUP, sink)?;
    let mut system = None;
    let mut messages: Vec<Value> = Vec::new();
    let mut results = String::new();
    let flush = |results: &mut String, messages: &mut Vec<Value>| {
        if !results.is_empty() {
            messages.push(json!({"role": "user", "content": format!("<function_results>\n{results}</function_results>")}));
            results.clear();
        }
    };
    for (i, m) in record.messages.iter().enumerate() {
        match m.role {
            Role::System if i == 0 => system = Some(m.content.clone()),
            Role::System => sink.lose("message_order", || {
                format!("messages[{i}] is a system message after the first turn")
            })?,
            Role::Tool => {
                results.push_str("<result>\n");
                if let Some(n) = &m.name {
                    let _ = writeln!(results, "<tool_name>{}</tool_name>", escape(n));
                }
                let _ = writeln!(
                    results,
                    "<stdout>\n{}\n</stdout>\n</result>",
                    escape(&m.content)
                );
            }
            Role::User => {
                flush(&mut results, &mut messages);
                if m.content.trim_start().starts_with("<function_results>") {
                    sink.lose("markup_in_text", || {
                        format!("messages[{i}] reads as tool results")
                    })?;
                }
                messages.push(json!({"role": "user", "content": m.content}));
            }
            Role::Assistant => {
                flush(&mut results, &mut messages);
                let mut content = m.content.clone();
                if !m.calls.is_empty() {
                    let mut calls = String::from("<function_calls>\n");
                    for c in &m.calls {
                        let tool = record.tool(&c.name);
                        let Some(args) = c.arguments.object() else {
                            sink.lose("argument_values", || {
                                format!("the arguments of {:?} are not an object", c.name)
                            })?;
                            continue;
                        };
                        let _ = writeln!(calls, "<invoke name=\"{}\">", escape(&c.name));
                        for (k, v) in args {
                            let Some(text) = write_value(tool, k, v) else {
                                sink.lose("argument_values", || format!("argument {k:?} of {:?} is not the string its tool declares", c.name))?;
                                continue;
                            };
                            let _ = writeln!(
                                calls,
                                "<parameter name=\"{}\">{}</parameter>",
                                escape(k),
                                escape(&text)
                            );
                        }
                        calls.push_str("</invoke>\n");
                    }
                    calls.push_str("</function_calls>");
                    content = if content.is_empty() {
                        calls
                    } else {
                        format!("{content}\n\n{calls}")
                    };
                }
                messages.push(json!({"role": "assistant", "content": content}));
            }
        }
    }
    flush(&mut results, &mut messages);
    let tools: Vec<Value> = record
        .tools
        .iter()
        .map(|t| {
            let mut o = Map::new();
            o.insert("name".into(), json!(t.name));
            if let Some(d) = &t.description {
                o.insert("description".into(), json!(d));
            }
            o.insert("input_schema".into(), t.parameters.clone());
            Value::Object(o)
        })
        .collect();
    let mut out = Map::new();
    if let Some(s) = system {
        out.insert("system".into(), json!(s));
    }
    out.insert("tools".into(), Value::Array(tools));
    out.insert("messages".into(), Value::Array(messages));
    Ok(Value::Object(out))
}
