//! Message-list formats: `OpenAI` chat (`tools` + `tool_calls` with JSON-string arguments), its
//! legacy `functions` / `function_call` form, and `LMFlow`'s `conversation` records (roles
//! `function` for a call and `observation` for its result, `system` and `tools` beside).

use serde_json::{json, Map, Value};

use super::{
    arguments_text, call_from, call_object, no_ids, no_text_beside, obj, one_call_per_turn,
    plain_message, plain_turns, record_with, tools_from, turns, Format, Loss, ReadError, Sink,
    Turn,
};
use crate::toolcalls::model::{Call, Message, Record, Role, Tool};

pub(super) fn read(v: &Value, format: Format) -> Result<Record, ReadError> {
    let o = obj(v, "the record")?;
    let mut record = Record::default();
    for key in ["tools", "functions"] {
        if let Some(t) = o.get(key) {
            record.tools.extend(tools_from(t, key)?);
        }
    }
    let name = format.name();
    for Turn {
        i,
        obj: mo,
        role,
        text: content,
    } in turns(o, "messages", "role", "content")?
    {
        let mut msg = match role {
            "system" | "developer" => Message::new(Role::System, content),
            "user" => Message::new(Role::User, content),
            "assistant" => Message::new(Role::Assistant, content),
            "tool" | "function" => Message::new(Role::Tool, content),
            other => {
                return Err(ReadError::malformed(format!(
                    "messages[{i}] has role {other:?}"
                )))
            }
        };
        if msg.role == Role::Tool {
            msg.call_id = mo
                .get("tool_call_id")
                .and_then(Value::as_str)
                .map(str::to_owned);
            msg.name = mo.get("name").and_then(Value::as_str).map(str::to_owned);
        }
        if let Some(calls) = mo.get("tool_calls").filter(|c| !c.is_null()) {
            let Value::Array(calls) = calls else {
                return Err(ReadError::malformed(format!(
                    "messages[{i}].tool_calls is not an array"
                )));
            };
            for c in calls {
                let f = c.get("function").unwrap_or(c);
                let mut call = call_from(f, name, false);
                call.id = c.get("id").and_then(Value::as_str).map(str::to_owned);
                msg.calls.push(call);
            }
        }
        if let Some(fc) = mo.get("function_call").filter(|f| !f.is_null()) {
            msg.calls.push(call_from(fc, name, false));
        }
        record.messages.push(msg);
    }
    Ok(record)
}

fn tools_openai(record: &Record) -> Value {
    Value::Array(
        record
            .tools
            .iter()
            .map(|t| json!({"type": "function", "function": t.spec()}))
            .collect(),
    )
}

// Every writer returns `Result`; this one never fails (OpenAI chat holds every record).
#[allow(clippy::unnecessary_wraps)]
pub(super) fn write_openai(record: &Record, _sink: &mut Sink<'_>) -> Result<Value, Loss> {
    let mut messages = Vec::new();
    for m in &record.messages {
        let mut o = Map::new();
        o.insert("role".into(), json!(m.role.as_str()));
        if m.role == Role::Assistant && !m.calls.is_empty() && m.content.is_empty() {
            o.insert("content".into(), Value::Null);
        } else {
            o.insert("content".into(), json!(m.content));
        }
        if !m.calls.is_empty() {
            let calls: Vec<Value> = m
                .calls
                .iter()
                .map(|c| {
                    let mut co = Map::new();
                    if let Some(id) = &c.id {
                        co.insert("id".into(), json!(id));
                    }
                    co.insert("type".into(), json!("function"));
                    co.insert(
                        "function".into(),
                        json!({"name": c.name, "arguments": arguments_text(c)}),
                    );
                    Value::Object(co)
                })
                .collect();
            o.insert("tool_calls".into(), Value::Array(calls));
        }
        if let Some(id) = &m.call_id {
            o.insert("tool_call_id".into(), json!(id));
        }
        if let Some(n) = &m.name {
            o.insert("name".into(), json!(n));
        }
        messages.push(Value::Object(o));
    }
    let mut out = Map::new();
    out.insert("messages".into(), Value::Array(messages));
    if !record.tools.is_empty() {
        out.insert("tools".into(), tools_openai(record));
    }
    Ok(Value::Object(out))
}

pub(super) fn write_functions(record: &Record, sink: &mut Sink<'_>) -> Result<Value, Loss> {
    no_ids(record, sink)?;
    let mut messages = Vec::new();
    for (i, m) in record.messages.iter().enumerate() {
        if m.role == Role::Tool {
            let mut o = Map::new();
            o.insert("role".into(), json!("function"));
            if let Some(n) = &m.name {
                o.insert("name".into(), json!(n));
            }
            o.insert("content".into(), json!(m.content));
            messages.push(Value::Object(o));
            continue;
        }
        if m.calls.is_empty() {
            messages.push(json!({"role": m.role.as_str(), "content": m.content}));
            continue;
        }
        one_call_per_turn(m, i, sink)?;
        for (k, c) in m.calls.iter().enumerate() {
            let content = if k == 0 && !m.content.is_empty() {
                json!(m.content)
            } else {
                Value::Null
            };
            messages.push(json!({
                "role": "assistant",
                "content": content,
                "function_call": {"name": c.name, "arguments": arguments_text(c)},
            }));
        }
    }
    let mut out = Map::new();
    out.insert("messages".into(), Value::Array(messages));
    if !record.tools.is_empty() {
        out.insert(
            "functions".into(),
            Value::Array(record.tools.iter().map(Tool::spec).collect()),
        );
    }
    Ok(Value::Object(out))
}

pub(super) fn read_lmflow(v: &Value) -> Result<Record, ReadError> {
    let o = obj(v, "the record")?;
    let mut record = record_with(o)?;
    for turn in turns(o, "messages", "role", "content")? {
        if turn.role != "function" {
            record.messages.push(plain_message(turn, "messages")?);
            continue;
        }
        let content = turn.text;
        let calls: Vec<Value> = match serde_json::from_str::<Value>(&content) {
            Ok(Value::Array(items)) => items,
            Ok(v) => vec![v],
            Err(e) => {
                push_call(&mut record, Call::unparsed(&content, e.to_string()));
                continue;
            }
        };
        for c in &calls {
            push_call(&mut record, call_from(c, "lmflow", true));
        }
    }
    Ok(record)
}

/// Consecutive call turns are one assistant turn with several calls.
fn push_call(record: &mut Record, call: Call) {
    if let Some(last) = record.messages.last_mut() {
        if last.role == Role::Assistant && !last.calls.is_empty() && last.content.is_empty() {
            last.calls.push(call);
            return;
        }
    }
    let mut m = Message::new(Role::Assistant, "");
    m.calls.push(call);
    record.messages.push(m);
}

pub(super) fn write_lmflow(record: &Record, sink: &mut Sink<'_>) -> Result<Value, Loss> {
    let (system, rest) = plain_turns(record, sink)?;
    let mut messages = Vec::new();
    let mut last_was_call = false;
    for (i, m) in rest.into_iter().enumerate() {
        if m.calls.is_empty() {
            let role = match m.role {
                Role::Tool => "observation",
                r => r.as_str(),
            };
            messages.push(json!({"role": role, "content": m.content}));
            last_was_call = false;
            continue;
        }
        if last_was_call {
            sink.lose("message_order", || {
                format!("messages[{i}] calls right after a calling turn")
            })?;
        }
        no_text_beside(m, i, sink)?;
        for c in &m.calls {
            messages.push(json!({"role": "function", "content": call_object(c).to_string()}));
        }
        last_was_call = true;
    }
    let mut out = Map::new();
    if let Some(s) = system {
        out.insert("system".into(), json!(s));
    }
    out.insert(
        "tools".into(),
        Value::Array(record.tools.iter().map(Tool::spec).collect()),
    );
    out.insert("messages".into(), Value::Array(messages));
    Ok(Value::Object(out))
}
