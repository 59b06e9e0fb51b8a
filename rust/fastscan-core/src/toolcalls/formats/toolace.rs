//! `ToolACE`: `system` holds the prompt with the function list as a JSON array inside it;
//! `conversations` are `from` / `value` turns (user, assistant, tool); an assistant turn that
//! calls is only the calls, written as Python: `[f(a=1, b="x"), g()]`.

use serde_json::{json, Value};

use super::{no_text_beside, obj, plain_message, plain_turns, text, turns, Loss, ReadError, Sink};
use crate::toolcalls::model::{Arguments, Call, Message, Record, Role, Tool};
use crate::toolcalls::pylit;

/// The first run of tool specs in `s`, as one JSON array (`open = '['`, `ToolACE`) or as JSON
/// objects one after another (`open = '{'`, Glaive): `(tools, the text around them)`.
pub(super) fn embedded_tools(
    s: &str,
    open: char,
) -> Result<Option<(Vec<Tool>, String)>, ReadError> {
    for (i, _) in s.match_indices(open) {
        let mut stream = serde_json::Deserializer::from_str(&s[i..]).into_iter::<Value>();
        let mut specs = Vec::new();
        let mut len = 0;
        if open == '[' {
            if let Some(Ok(Value::Array(items))) = stream.next() {
                specs = items;
                len = stream.byte_offset();
            }
        } else {
            while let Some(Ok(v @ Value::Object(_))) = stream.next() {
                specs.push(v);
                len = stream.byte_offset();
            }
        }
        if specs.is_empty()
            || !specs
                .iter()
                .all(|t| t.get("name").is_some() || t.get("function").is_some())
        {
            continue;
        }
        let tools = specs
            .iter()
            .map(Tool::from_spec)
            .collect::<Result<Vec<_>, _>>()
            .map_err(ReadError::malformed)?;
        let mut rest = s[..i].to_owned();
        rest.push_str(&s[i + len..]);
        return Ok(Some((tools, rest)));
    }
    Ok(None)
}

fn calls_of(value: &str) -> Option<Vec<Call>> {
    let t = value.trim();
    if !t.starts_with('[') {
        return None;
    }
    let calls = pylit::parse_calls(t).ok()?;
    if calls.is_empty() {
        return None;
    }
    Some(
        calls
            .into_iter()
            .map(|(name, args)| Call::new(name, Arguments::Parsed(Value::Object(args))))
            .collect(),
    )
}

pub(super) fn read(v: &Value) -> Result<Record, ReadError> {
    let o = obj(v, "the record")?;
    let mut record = Record::default();
    if let Some(system) = o.get("system") {
        let system = text(Some(system), "system")?;
        match embedded_tools(&system, '[')? {
            Some((tools, rest)) => {
                record.tools = tools;
                record.messages.push(Message::new(Role::System, rest));
            }
            None => record.messages.push(Message::new(Role::System, system)),
        }
    }
    for turn in turns(o, "conversations", "from", "value")? {
        match turn.role {
            "function" => record.messages.push(Message::new(Role::Tool, turn.text)),
            "assistant" | "gpt" => match calls_of(&turn.text) {
                Some(calls) => {
                    let mut m = Message::new(Role::Assistant, "");
                    m.calls = calls;
                    record.messages.push(m);
                }
                None => record
                    .messages
                    .push(Message::new(Role::Assistant, turn.text)),
            },
            _ => record.messages.push(plain_message(turn, "conversations")?),
        }
    }
    Ok(record)
}

pub(super) fn write(record: &Record, sink: &mut Sink<'_>) -> Result<Value, Loss> {
    let (system, rest) = plain_turns(record, sink)?;
    let mut turns = Vec::new();
    for (i, m) in rest.into_iter().enumerate() {
        let value = if m.calls.is_empty() {
            if m.role == Role::Assistant && calls_of(&m.content).is_some() {
                sink.lose("markup_in_text", || {
                    format!("messages[{i}] reads as a list of calls")
                })?;
            }
            m.content.clone()
        } else {
            no_text_beside(m, i, sink)?;
            let mut calls = Vec::new();
            for c in &m.calls {
                if !pylit::is_identifier(&c.name, true) {
                    sink.lose("argument_names", || {
                        format!("tool name {:?} is not a Python name", c.name)
                    })?;
                    continue;
                }
                let Some(args) = c.arguments.object() else {
                    sink.lose("argument_values", || {
                        format!("the arguments of {:?} are not an object", c.name)
                    })?;
                    continue;
                };
                if let Some(bad) = args.keys().find(|k| !pylit::is_identifier(k, false)) {
                    sink.lose("argument_names", || {
                        format!("argument {bad:?} is not a Python name")
                    })?;
                    continue;
                }
                calls.push((c.name.as_str(), args));
            }
            pylit::render_calls(calls.into_iter())
        };
        let from = match m.role {
            Role::User | Role::System => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        };
        turns.push(json!({"from": from, "value": value}));
    }
    let mut system_text = system.unwrap_or_default().to_owned();
    if !record.tools.is_empty() {
        if system_text.contains('[') && embedded_tools(&system_text, '[').ok().flatten().is_some() {
            sink.lose("markup_in_text", || {
                "the system prompt holds a JSON list of tools".into()
            })?;
        }
        let specs: Vec<Value> = record.tools.iter().map(Tool::spec).collect();
        let list = Value::Array(specs).to_string();
        system_text = if system_text.is_empty() {
            list
        } else {
            format!("{system_text}\n{list}")
        };
    }
    Ok(json!({"system": system_text, "conversations": turns}))
}
