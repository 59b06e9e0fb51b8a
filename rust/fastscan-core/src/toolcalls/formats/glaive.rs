//! Glaive (`glaive-function-calling-v2`): `system` is `SYSTEM: ` + the prompt + the functions as
//! JSON objects one after another; `chat` is the conversation as text, turns starting
//! `USER: `, `ASSISTANT: ` and `FUNCTION RESPONSE: `, a call written
//! `<functioncall> {"name": "f", "arguments": '{"a": 1}'}` (the arguments a JSON text in single
//! quotes), assistant turns ending `<|endoftext|>`.

use std::sync::LazyLock;

use regex::Regex;
use serde_json::{json, Value};

use super::toolace::embedded_tools;
use super::{
    arguments_text, call_from, no_ids, no_markup, no_response_names, obj, one_call_per_turn,
    split_system, text, Loss, ReadError, Sink,
};
use crate::toolcalls::model::{Arguments, Call, Message, Record, Role};

static TURN: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?m)^[ \t]*(USER|ASSISTANT|FUNCTION RESPONSE):").expect("valid regex")
});
static QUOTED_CALL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r#"(?s)^\{\s*"name"\s*:\s*("(?:[^"\\]|\\.)*")\s*,\s*"arguments"\s*:\s*'(.*)'\s*\}$"#)
        .expect("valid regex")
});

const END: &str = "<|endoftext|>";
const MARKUP: &[&str] = &[
    "<functioncall>",
    END,
    "USER:",
    "ASSISTANT:",
    "FUNCTION RESPONSE:",
];

fn parse_call(body: &str) -> Call {
    let body = body.trim();
    if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(body) {
        return call_from(&v, "glaive", false);
    }
    if let Some(c) = QUOTED_CALL.captures(body) {
        let name: String = serde_json::from_str(&c[1]).unwrap_or_default();
        let raw = c[2].to_owned();
        let mut call = Call::new(name, Arguments::from_json_text(&raw));
        call.raw_arguments = Some(raw);
        return call;
    }
    Call::unparsed(body, "the function call does not parse")
}

pub(super) fn read(v: &Value) -> Result<Record, ReadError> {
    let o = obj(v, "the record")?;
    let mut record = Record::default();
    if let Some(s) = o.get("system") {
        let s = text(Some(s), "system")?;
        let s = s.trim_start();
        let s = s.strip_prefix("SYSTEM:").unwrap_or(s);
        match embedded_tools(s, '{')? {
            Some((tools, rest)) => {
                record.tools = tools;
                record.messages.push(Message::new(Role::System, rest));
            }
            None => record.messages.push(Message::new(Role::System, s)),
        }
    }
    let chat = text(o.get("chat"), "chat")?;
    let marks: Vec<_> = TURN.captures_iter(&chat).collect();
    if marks.is_empty() && !chat.trim().is_empty() {
        return Err(ReadError::malformed("chat has no USER: / ASSISTANT: turns"));
    }
    for (k, cap) in marks.iter().enumerate() {
        let whole = cap.get(0).expect("match");
        let end = marks
            .get(k + 1)
            .map_or(chat.len(), |n| n.get(0).expect("match").start());
        let body = chat[whole.end()..end].trim();
        let body = body.strip_suffix(END).unwrap_or(body);
        match &cap[1] {
            "USER" => record.messages.push(Message::new(Role::User, body)),
            "FUNCTION RESPONSE" => record.messages.push(Message::new(Role::Tool, body)),
            _ => match body.find("<functioncall>") {
                Some(at) => {
                    let mut m = Message::new(Role::Assistant, &body[..at]);
                    m.calls
                        .push(parse_call(&body[at + "<functioncall>".len()..]));
                    record.messages.push(m);
                }
                None => record.messages.push(Message::new(Role::Assistant, body)),
            },
        }
    }
    Ok(record)
}

pub(super) fn write(record: &Record, sink: &mut Sink<'_>) -> Result<Value, Loss> {
    no_ids(record, sink)?;
    no_response_names(record, sink)?;
    no_markup(record, MARKUP, sink)?;
    let (system, rest) = split_system(record, sink)?;
    let mut system_text = String::from("SYSTEM: ");
    if let Some(s) = system {
        if embedded_tools(s, '{').ok().flatten().is_some() {
            sink.lose("markup_in_text", || {
                "the system prompt holds JSON function specs".into()
            })?;
        }
        system_text.push_str(s);
    }
    for t in &record.tools {
        if !system_text.ends_with(' ') {
            system_text.push('\n');
        }
        system_text.push_str(&serde_json::to_string_pretty(&t.spec()).unwrap_or_default());
        system_text.push('\n');
    }
    let mut turns = Vec::new();
    for (i, m) in rest.into_iter().enumerate() {
        match m.role {
            Role::User | Role::System => turns.push(format!("USER: {}", m.content)),
            Role::Tool => turns.push(format!("FUNCTION RESPONSE: {}", m.content)),
            Role::Assistant if m.calls.is_empty() => {
                turns.push(format!("ASSISTANT: {} {END}", m.content));
            }
            Role::Assistant => {
                one_call_per_turn(m, i, sink)?;
                for (k, c) in m.calls.iter().enumerate() {
                    let text = if k == 0 { m.content.as_str() } else { "" };
                    let sep = if text.is_empty() { "" } else { " " };
                    turns.push(format!(
                        "ASSISTANT: {text}{sep}<functioncall> {{\"name\": {}, \"arguments\": '{}'}} {END}",
                        json!(c.name),
                        arguments_text(c)
                    ));
                }
            }
        }
    }
    let mut chat = turns.join("\n\n\n");
    if !chat.is_empty() {
        chat.push_str("\n\n\n");
    }
    Ok(json!({"system": system_text.trim_end(), "chat": chat}))
}
