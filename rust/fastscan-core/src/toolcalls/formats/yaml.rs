//! YAML: the canonical record (`Record::canonical`: `tools` with `name`, `description`,
//! `parameters`; `messages` with `role`, `content`, `calls` of `id` / `name` / `arguments`,
//! `call_id`, `name`) rendered as one YAML 1.2 block document in the record's `yaml` field.
//! It holds everything, so converting to it never loses anything.

use serde_json::{json, Map, Value};

use super::{array, obj, text, ReadError};
use crate::toolcalls::model::{Arguments, Call, Message, Record, Role, Tool};

pub(super) fn read(v: &Value) -> Result<Record, ReadError> {
    let o = obj(v, "the record")?;
    let doc = text(o.get("yaml"), "yaml")?;
    let value: Value = serde_yaml_ng::from_str(&doc)
        .map_err(|e| ReadError::malformed(format!("yaml does not parse: {e}")))?;
    from_canonical(&value)
}

/// Reads the canonical JSON form back into a record.
pub(crate) fn from_canonical(v: &Value) -> Result<Record, ReadError> {
    let o = obj(v, "the document")?;
    let mut record = Record::default();
    if let Some(Value::Array(tools)) = o.get("tools") {
        for t in tools {
            record
                .tools
                .push(Tool::from_spec(t).map_err(ReadError::malformed)?);
        }
    }
    for (i, m) in array(o, "messages")?.iter().enumerate() {
        let mo = obj(m, &format!("messages[{i}]"))?;
        let role = match mo.get("role").and_then(Value::as_str) {
            Some("system") => Role::System,
            Some("user") => Role::User,
            Some("assistant") => Role::Assistant,
            Some("tool") => Role::Tool,
            other => {
                return Err(ReadError::malformed(format!(
                    "messages[{i}] has role {other:?}"
                )))
            }
        };
        let mut msg = Message::new(role, text(mo.get("content"), "content")?);
        msg.call_id = mo.get("call_id").and_then(Value::as_str).map(str::to_owned);
        msg.name = mo.get("name").and_then(Value::as_str).map(str::to_owned);
        if let Some(Value::Array(calls)) = mo.get("calls") {
            for c in calls {
                let name = c.get("name").and_then(Value::as_str).unwrap_or_default();
                let arguments = match (c.get("arguments"), c.get("invalid_arguments")) {
                    (_, Some(Value::String(raw))) => Arguments::Invalid {
                        raw: raw.clone(),
                        error: "as written".into(),
                    },
                    (Some(a), _) => Arguments::Parsed(a.clone()),
                    (None, _) => Arguments::Parsed(Value::Object(Map::new())),
                };
                let mut call = Call::new(name, arguments);
                call.id = c.get("id").and_then(Value::as_str).map(str::to_owned);
                msg.calls.push(call);
            }
        }
        record.messages.push(msg);
    }
    Ok(record)
}

pub(super) fn write(record: &Record) -> Value {
    let doc = serde_yaml_ng::to_string(&record.canonical()).unwrap_or_default();
    json!({ "yaml": doc })
}
