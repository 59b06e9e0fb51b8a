//! xLAM / `APIGen`: one user `query`, the `tools` offered and the `answers` (the calls), the
//! last two as JSON strings. Tool parameters are a flat map of name to
//! `{"type": "str, optional", "description", "default"}` with Python type spellings.

use serde_json::{json, Map, Value};

use super::{
    call_from, call_object, maybe_json_string, no_ids, obj, text, tools_from, Loss, ReadError, Sink,
};
use crate::toolcalls::model::{Message, Record, Role, Tool};
use crate::toolcalls::types::python_spelling;

pub(super) fn read(v: &Value) -> Result<Record, ReadError> {
    let o = obj(v, "the record")?;
    let mut record = Record::default();
    if let Some(t) = o.get("tools") {
        record.tools = tools_from(t, "tools")?;
    }
    record
        .messages
        .push(Message::new(Role::User, text(o.get("query"), "query")?));
    let answers = match o.get("answers") {
        Some(a) if !a.is_null() => maybe_json_string(a, "answers")?,
        _ => Value::Array(Vec::new()),
    };
    let Value::Array(answers) = answers else {
        return Err(ReadError::malformed("answers is not a list"));
    };
    let mut m = Message::new(Role::Assistant, "");
    m.calls = answers.iter().map(|a| call_from(a, "xlam", true)).collect();
    record.messages.push(m);
    Ok(record)
}

/// A canonical parameter schema in xLAM's spelling; `None` when the spelling cannot hold it.
fn flat_parameter(schema: &Value, required: bool) -> Option<Value> {
    let s = schema.as_object()?;
    if let Some(Value::Array(ts)) = s.get("type") {
        if ts.iter().any(|t| t == "null") {
            return None;
        }
    }
    let mut out = s.clone();
    let mut spelling = python_spelling(s)?;
    if s.get("type").and_then(Value::as_str) == Some("array") {
        if let Some(Value::Object(items)) = s.get("items") {
            if items.len() == 1 && items.get("type").is_some_and(Value::is_string) {
                spelling = format!("List[{}]", python_spelling(items)?);
                out.remove("items");
            }
        }
    }
    if !required {
        spelling.push_str(", optional");
    }
    out.insert("type".into(), Value::String(spelling));
    Some(Value::Object(out))
}

fn flat_parameters(tool: &Tool) -> Option<Value> {
    let p = tool.parameters.as_object()?;
    if p.keys()
        .any(|k| !matches!(k.as_str(), "type" | "properties" | "required"))
    {
        return None;
    }
    let props = p.get("properties").and_then(Value::as_object)?;
    let required: Vec<&str> = p
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut out = Map::new();
    for (name, schema) in props {
        out.insert(
            name.clone(),
            flat_parameter(schema, required.contains(&name.as_str()))?,
        );
    }
    Some(Value::Object(out))
}

pub(super) fn write(record: &Record, sink: &mut Sink<'_>) -> Result<Value, Loss> {
    no_ids(record, sink)?;
    let mut query = None;
    let mut answer = None;
    for (i, m) in record.messages.iter().enumerate() {
        match m.role {
            Role::System => sink.lose("system_prompt", || "xlam has no system prompt".into())?,
            Role::Tool => sink.lose("tool_responses", || {
                format!("messages[{i}] is a tool response")
            })?,
            Role::User if query.is_none() => query = Some(m),
            Role::Assistant if query.is_some() && answer.is_none() => answer = Some((i, m)),
            _ => sink.lose("multi_turn", || {
                format!("messages[{i}] is past the first exchange")
            })?,
        }
    }
    let Some(query) = query else {
        sink.lose("message_order", || "no user query".into())?;
        return Ok(json!({"query": "", "tools": "[]", "answers": "[]"}));
    };
    let mut answers = Vec::new();
    if let Some((i, m)) = answer {
        if !m.content.is_empty() {
            sink.lose("text_beside_call", || {
                format!("messages[{i}] has text; xlam answers are calls only")
            })?;
        }
        answers = m.calls.iter().map(call_object).collect();
    } else {
        sink.lose("message_order", || "no assistant answer".into())?;
    }
    let mut tools = Vec::new();
    for t in &record.tools {
        let Some(params) = flat_parameters(t) else {
            sink.lose("schema_features", || {
                format!(
                    "the parameters of {:?} do not fit a flat map of Python types",
                    t.name
                )
            })?;
            continue;
        };
        let mut spec = Map::new();
        spec.insert("name".into(), json!(t.name));
        if let Some(d) = &t.description {
            spec.insert("description".into(), json!(d));
        }
        spec.insert("parameters".into(), params);
        tools.push(Value::Object(spec));
    }
    Ok(json!({
        "query": query.content,
        "tools": Value::Array(tools).to_string(),
        "answers": Value::Array(answers).to_string(),
    }))
}
