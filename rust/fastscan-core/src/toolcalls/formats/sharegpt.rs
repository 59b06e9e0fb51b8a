//! `ShareGPT` as `LLaMA-Factory` reads it: `conversations` of `from` / `value` turns (human, gpt,
//! `function_call`, observation), `system` and `tools` (a JSON string of specs) beside. A
//! `function_call` turn's value is `{"name", "arguments"}` as JSON, or a JSON list of them for
//! parallel calls.

use serde_json::{json, Value};

use super::{
    call_from, call_object, no_text_beside, obj, plain_message, plain_turns, record_with, turns,
    Loss, ReadError, Sink,
};
use crate::toolcalls::model::{Call, Message, Record, Role, Tool};

pub(super) fn read(v: &Value) -> Result<Record, ReadError> {
    let o = obj(v, "the record")?;
    let mut record = record_with(o)?;
    for turn in turns(o, "conversations", "from", "value")? {
        match turn.role {
            "function" => record.messages.push(Message::new(Role::Tool, turn.text)),
            "function_call" => {
                let value = turn.text;
                let calls = match serde_json::from_str::<Value>(&value) {
                    Ok(Value::Array(items)) => items
                        .iter()
                        .map(|c| call_from(c, "sharegpt", true))
                        .collect(),
                    Ok(v @ Value::Object(_)) => vec![call_from(&v, "sharegpt", true)],
                    _ => vec![Call::unparsed(&value, "the function call is not JSON")],
                };
                let mut m = Message::new(Role::Assistant, "");
                m.calls = calls;
                record.messages.push(m);
            }
            _ => record.messages.push(plain_message(turn, "conversations")?),
        }
    }
    Ok(record)
}

pub(super) fn write(record: &Record, sink: &mut Sink<'_>) -> Result<Value, Loss> {
    let (system, rest) = plain_turns(record, sink)?;
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
