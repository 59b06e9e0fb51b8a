//! Hermes / Qwen: tools as JSON inside `<tools>...</tools>` in the system prompt, each call as
//! `<tool_call>{"name": ..., "arguments": {...}}</tool_call>` in the assistant's text, each
//! result as `<tool_response>{"name": ..., "content": ...}</tool_response>`. Records are
//! `conversations` of `from` / `value` turns (system, human, gpt, tool), or `messages` of
//! `role` / `content` (Qwen's chat template, where results come back in user turns).

use serde_json::{json, Map, Value};

use super::{
    call_from, call_object, no_ids, no_markup, obj, tools_from, turns, Loss, ReadError, Sink, Turn,
};
use crate::toolcalls::model::{Call, Message, Record, Role};

const MARKUP: &[&str] = &[
    "<tool_call>",
    "</tool_call>",
    "<tools>",
    "</tools>",
    "<tool_response>",
    "</tool_response>",
];

/// Splits `s` into the text outside `<tag>...</tag>` blocks and the blocks' insides.
pub(super) fn blocks<'a>(s: &'a str, open: &str, close: &str) -> (String, Vec<&'a str>) {
    let mut outside = String::new();
    let mut inside = Vec::new();
    let mut rest = s;
    while let Some(i) = rest.find(open) {
        outside.push_str(&rest[..i]);
        let after = &rest[i + open.len()..];
        if let Some(j) = after.find(close) {
            inside.push(&after[..j]);
            rest = &after[j + close.len()..];
        } else {
            // An unclosed block runs to the end.
            inside.push(after);
            rest = "";
        }
    }
    outside.push_str(rest);
    (outside, inside)
}

/// Every JSON value in `s` (an array, or objects one after another).
fn json_items(s: &str) -> Result<Vec<Value>, String> {
    let mut items = Vec::new();
    for v in serde_json::Deserializer::from_str(s).into_iter::<Value>() {
        match v.map_err(|e| e.to_string())? {
            Value::Array(a) => items.extend(a),
            other => items.push(other),
        }
    }
    Ok(items)
}

fn parse_call(inner: &str) -> Call {
    let parsed = serde_json::from_str::<Value>(inner.trim())
        .ok()
        .or_else(|| crate::toolcalls::pylit::parse_value(inner.trim()).ok());
    if let Some(v @ Value::Object(_)) = parsed {
        return call_from(&v, "hermes", true);
    }
    Call::unparsed(inner.trim(), "the tool call is not a JSON object")
}

fn tool_messages(inners: &[&str]) -> Vec<Message> {
    inners
        .iter()
        .map(|inner| {
            let inner = inner.trim();
            let mut m = Message::new(Role::Tool, inner);
            if let Ok(Value::Object(o)) = serde_json::from_str::<Value>(inner) {
                if let Some(content) = o.get("content") {
                    m.content = match content {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    };
                    m.name = o.get("name").and_then(Value::as_str).map(str::to_owned);
                }
            }
            m
        })
        .collect()
}

pub(super) fn read(v: &Value) -> Result<Record, ReadError> {
    let o = obj(v, "the record")?;
    let list = if o.get("conversations").is_some_and(Value::is_array) {
        turns(o, "conversations", "from", "value")?
    } else if o.get("messages").is_some_and(Value::is_array) {
        turns(o, "messages", "role", "content")?
    } else {
        return Err(ReadError::malformed("no conversations or messages"));
    };
    let mut record = Record::default();
    if let Some(t) = o.get("tools") {
        record.tools = tools_from(t, "tools")?;
    }
    for Turn {
        i,
        role,
        text: value,
        ..
    } in list
    {
        match role {
            "system" => {
                let (outside, inside) = blocks(&value, "<tools>", "</tools>");
                for block in inside {
                    let items = json_items(block).map_err(|e| {
                        ReadError::malformed(format!("turn {i}: <tools> is not JSON: {e}"))
                    })?;
                    for item in &items {
                        record.tools.push(
                            crate::toolcalls::model::Tool::from_spec(item)
                                .map_err(ReadError::malformed)?,
                        );
                    }
                }
                record.messages.push(Message::new(Role::System, outside));
            }
            "human" | "user" => {
                let (outside, inside) = blocks(&value, "<tool_response>", "</tool_response>");
                if inside.is_empty() || !outside.trim().is_empty() {
                    record.messages.push(Message::new(Role::User, value));
                } else {
                    record.messages.extend(tool_messages(&inside));
                }
            }
            "gpt" | "assistant" => {
                let (outside, inside) = blocks(&value, "<tool_call>", "</tool_call>");
                let mut m = Message::new(Role::Assistant, outside);
                m.calls = inside.iter().map(|b| parse_call(b)).collect();
                record.messages.push(m);
            }
            "tool" | "function" | "observation" => {
                let (_, inside) = blocks(&value, "<tool_response>", "</tool_response>");
                if inside.is_empty() {
                    record.messages.push(Message::new(Role::Tool, value));
                } else {
                    record.messages.extend(tool_messages(&inside));
                }
            }
            other => return Err(ReadError::malformed(format!("turn {i} is from {other:?}"))),
        }
    }
    Ok(record)
}

pub(super) fn write(record: &Record, sink: &mut Sink<'_>) -> Result<Value, Loss> {
    no_ids(record, sink)?;
    no_markup(record, MARKUP, sink)?;
    let mut turns = Vec::new();
    let tools = if record.tools.is_empty() {
        None
    } else {
        let lines: Vec<String> = record
            .tools
            .iter()
            .map(|t| json!({"type": "function", "function": t.spec()}).to_string())
            .collect();
        Some(format!("<tools>\n{}\n</tools>", lines.join("\n")))
    };
    let mut tools_written = false;
    for m in &record.messages {
        let value = match m.role {
            Role::System => {
                let mut v = m.content.clone();
                if let (Some(t), false) = (&tools, tools_written) {
                    v = if v.is_empty() {
                        t.clone()
                    } else {
                        format!("{v}\n\n{t}")
                    };
                    tools_written = true;
                }
                v
            }
            Role::User => m.content.clone(),
            Role::Assistant => {
                let mut parts: Vec<String> = Vec::new();
                if !m.content.is_empty() {
                    parts.push(m.content.clone());
                }
                for c in &m.calls {
                    parts.push(format!("<tool_call>\n{}\n</tool_call>", call_object(c)));
                }
                parts.join("\n")
            }
            Role::Tool => {
                let mut o = Map::new();
                if let Some(n) = &m.name {
                    o.insert("name".into(), json!(n));
                }
                o.insert("content".into(), json!(m.content));
                format!("<tool_response>\n{}\n</tool_response>", Value::Object(o))
            }
        };
        let from = match m.role {
            Role::System => "system",
            Role::User => "human",
            Role::Assistant => "gpt",
            Role::Tool => "tool",
        };
        turns.push(json!({"from": from, "value": value}));
    }
    if let (Some(t), false) = (tools, tools_written) {
        turns.insert(0, json!({"from": "system", "value": t}));
    }
    Ok(json!({"conversations": turns}))
}
