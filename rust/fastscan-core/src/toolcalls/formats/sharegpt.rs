//! `ShareGPT` as `LLaMA-Factory` reads it: `conversations` of `from` / `value` turns (human, gpt,
//! `function_call`, observation), `system` and `tools` (a JSON string of specs) beside. A
//! `function_call` turn's value is `{"name", "arguments"}` as JSON, or a JSON list of them for
//! parallel calls.

use serde_json::{json, Value};

use super::{
    call_from, call_object, no_ids, no_response_names, no_text_beside, obj, split_system, text,
    tools_from, turns, Loss, ReadError, Sink, Turn,
};
use crate::toolcalls::model::{Call, Message, Record, Role, Tool};

pub(super) fn read(v: &Value) -> Result<Record, ReadError> {
    let o = obj(v, "the record")?;
    let mut record = Record::default();
    if let Some(t) = o.get("tools") {
        record.tools = tools_from(t, "tools")?;
    }
    if let Some(s) = o.get("system") {
        record
            .messages
            .push(Message::new(Role::System, text(Some(s), "system")?));
    }
    for Turn {
        i,
        role,
        text: value,
        ..
    } in turns(o, "conversations", "from", "value")?
    {
        match role {
            "system" => record.messages.push(Message::new(Role::System, value)),
            "human" | "user" => record.messages.push(Message::new(Role::User, value)),
            "gpt" | "assistant" => record.messages.push(Message::new(Role::Assistant, value)),
            "observation" | "tool" | "function" => {
                record.messages.push(Message::new(Role::Tool, value));
            }
            "function_call" => {
                let calls = match serde_json::from_str::<Value>(&value) {
                    Ok(Value::Array(items)) => items
                        .iter()
                        .map(|c| call_from(c, "sharegpt", true))
                        .collect(),
                    Ok(v @ Value::Object(_)) => vec![call_from(&v, "sharegpt", true)],
                    _ => {
                        vec![Call::unparsed(&value, "the function call is not JSON")]
                    }
                };
                let mut m = Message::new(Role::Assistant, "");
                m.calls = calls;
                record.messages.push(m);
            }
            other => {
                return Err(ReadError::malformed(format!(
                    "conversations[{i}] is from {other:?}"
                )))
            }
        }
    }
    Ok(record)
}

pub(super) fn write(record: &Record, sink: &mut Sink<'_>) -> Result<Value, Loss> {
    no_ids(record, sink)?;
    no_response_names(record, sink)?;
    let (system, rest) = split_system(record, sink)?;
    let mut turns = Vec::new();
    for (i, m) in rest.into_iter().enumerate() {
        let (from, value) = match m.role {
            Role::User | Role::System => ("human", m.content.clone()),
            Role::Tool => ("observation", m.content.clone()),
            Role::Assistant if m.calls.is_empty() => ("gpt", m.content.clone()),
            Role::Assistant => {
                no_text_beside(m, i, sink)?;
                let value = if m.calls.len() == 1 {
                    call_object(&m.calls[0])
                } else {
                    Value::Array(m.calls.iter().map(call_object).collect())
                };
                ("function_call", value.to_string())
            }
        };
        turns.push(json!({"from": from, "value": value}));
    }
    let specs: Vec<Value> = record.tools.iter().map(Tool::spec).collect();
    let mut out = json!({"conversations": turns, "tools": Value::Array(specs).to_string()});
    if let Some(s) = system {
        out["system"] = json!(s);
    }
    Ok(out)
}
