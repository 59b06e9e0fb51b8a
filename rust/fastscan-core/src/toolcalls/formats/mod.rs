//! The tool-call formats: one module each, a reader (`read`: JSON record to [`Record`]) and a
//! writer (`write`: [`Record`] to JSON record), auto-detection, and the loss codes a writer
//! names when its format cannot hold part of a record.

mod chat;
mod glaive;
mod hermes;
mod sharegpt;
mod toolace;
mod xlam;
mod xml;
mod yaml;

use serde_json::{Map, Value};

use super::model::{kind_of, Record};

/// A tool-call dataset format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    Openai,
    OpenaiFunctions,
    Hermes,
    Toolace,
    Xlam,
    Glaive,
    Sharegpt,
    Lmflow,
    Xml,
    Yaml,
}

impl Format {
    pub const ALL: [Format; 10] = [
        Format::Openai,
        Format::OpenaiFunctions,
        Format::Hermes,
        Format::Toolace,
        Format::Xlam,
        Format::Glaive,
        Format::Sharegpt,
        Format::Lmflow,
        Format::Xml,
        Format::Yaml,
    ];

    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Format::Openai => "openai",
            Format::OpenaiFunctions => "openai_functions",
            Format::Hermes => "hermes",
            Format::Toolace => "toolace",
            Format::Xlam => "xlam",
            Format::Glaive => "glaive",
            Format::Sharegpt => "sharegpt",
            Format::Lmflow => "lmflow",
            Format::Xml => "xml",
            Format::Yaml => "yaml",
        }
    }

    #[must_use]
    pub fn from_name(name: &str) -> Option<Format> {
        Format::ALL.into_iter().find(|f| f.name() == name)
    }
}

/// Why a record could not be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadError {
    /// `unparseable_json`, `unknown_format`, `malformed_record`, `oversized`.
    pub reason: &'static str,
    pub detail: String,
}

impl ReadError {
    pub(crate) fn malformed(detail: impl Into<String>) -> ReadError {
        ReadError {
            reason: "malformed_record",
            detail: detail.into(),
        }
    }
}

/// What a format cannot hold, as a stable code (documented in the README's formats table).
pub const LOSSES: &[(&str, &str)] = &[
    ("call_ids", "the format has no call ids"),
    (
        "parallel_calls",
        "the format has one call per assistant turn",
    ),
    (
        "text_beside_call",
        "the format has no place for text in a turn that calls",
    ),
    (
        "response_names",
        "the format's tool responses carry no tool name",
    ),
    ("system_prompt", "the format has no system prompt"),
    (
        "multi_turn",
        "the format holds one user query and one answer",
    ),
    ("tool_responses", "the format has no tool responses"),
    (
        "message_order",
        "the format cannot hold this order of messages",
    ),
    (
        "markup_in_text",
        "a message's text holds the format's own markup",
    ),
    (
        "argument_names",
        "argument or tool names the format cannot write",
    ),
    (
        "argument_values",
        "arguments the format cannot write (not an object, or not parsed)",
    ),
    (
        "schema_features",
        "parameter schemas the format's type spelling cannot hold",
    ),
    (
        "not_representable",
        "the written record does not read back equal (see the detail)",
    ),
];

/// A loss that stopped a conversion.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Loss {
    pub code: &'static str,
    pub detail: String,
}

/// The losses a writer met: refused unless allowed, then recorded.
pub struct Sink<'a> {
    allow: &'a [String],
    pub lost: Vec<&'static str>,
}

impl<'a> Sink<'a> {
    #[must_use]
    pub fn new(allow: &'a [String]) -> Sink<'a> {
        Sink {
            allow,
            lost: Vec::new(),
        }
    }

    /// Meets a loss: `Err` unless `code` is allowed, in which case the writer drops the part.
    pub fn lose(
        &mut self,
        code: &'static str,
        detail: impl FnOnce() -> String,
    ) -> Result<(), Loss> {
        if self.allow.iter().any(|a| a == code) {
            if !self.lost.contains(&code) {
                self.lost.push(code);
            }
            Ok(())
        } else {
            Err(Loss {
                code,
                detail: detail(),
            })
        }
    }
}

/// Guesses a record's format from its shape (documented in the README).
#[must_use]
pub fn detect(v: &Value) -> Option<Format> {
    let o = v.as_object()?;
    if o.get("yaml").is_some_and(Value::is_string) {
        return Some(Format::Yaml);
    }
    if o.contains_key("query") && o.contains_key("answers") {
        return Some(Format::Xlam);
    }
    if o.get("chat").is_some_and(Value::is_string) {
        return Some(Format::Glaive);
    }
    if let Some(Value::Array(conv)) = o.get("conversations") {
        let values = || {
            conv.iter()
                .filter_map(|t| t.get("value").and_then(Value::as_str))
        };
        let froms = || {
            conv.iter()
                .filter_map(|t| t.get("from").and_then(Value::as_str))
        };
        // A `tools` string names ShareGPT, unless it is an empty list beside a system
        // prompt (ToolACE's ShareGPT release keeps its tools in the prompt).
        let tools_string = o
            .get("tools")
            .and_then(Value::as_str)
            .is_some_and(|t| !(is_empty_list(t) && o.get("system").is_some_and(Value::is_string)));
        if froms().any(|f| f == "function_call" || f == "observation") || tools_string {
            return Some(Format::Sharegpt);
        }
        if values().any(|s| {
            s.contains("<tool_call>") || s.contains("<tools>") || s.contains("<tool_response>")
        }) {
            return Some(Format::Hermes);
        }
        if o.get("system").is_some_and(Value::is_string) {
            return Some(Format::Toolace);
        }
        return Some(Format::Sharegpt);
    }
    if let Some(Value::Array(msgs)) = o.get("messages") {
        let roles = || {
            msgs.iter()
                .filter_map(|m| m.get("role").and_then(Value::as_str))
        };
        let contents = || {
            msgs.iter()
                .filter_map(|m| m.get("content").and_then(Value::as_str))
        };
        if roles().any(|r| r == "function" || r == "observation")
            && !msgs.iter().any(|m| m.get("function_call").is_some())
        {
            return Some(Format::Lmflow);
        }
        if o.contains_key("functions") || msgs.iter().any(|m| m.get("function_call").is_some()) {
            return Some(Format::OpenaiFunctions);
        }
        if msgs.iter().any(|m| m.get("tool_calls").is_some()) || roles().any(|r| r == "tool") {
            return Some(Format::Openai);
        }
        if contents().any(|s| {
            s.contains("<invoke")
                || s.contains("<function_calls>")
                || s.contains("<function_results>")
        }) {
            return Some(Format::Xml);
        }
        if contents().any(|s| s.contains("<tool_call>") || s.contains("<tools>")) {
            return Some(Format::Hermes);
        }
        if let Some(Value::Array(tools)) = o.get("tools") {
            if tools.iter().any(|t| t.get("input_schema").is_some()) {
                return Some(Format::Xml);
            }
        }
        if o.get("system").is_some_and(Value::is_string) {
            return Some(Format::Lmflow);
        }
        return Some(Format::Openai);
    }
    None
}

/// Reads a record written in `format`, normalised.
pub fn read(v: &Value, format: Format) -> Result<Record, ReadError> {
    let record = match format {
        Format::Openai | Format::OpenaiFunctions => chat::read(v, format),
        Format::Lmflow => chat::read_lmflow(v),
        Format::Hermes => hermes::read(v),
        Format::Toolace => toolace::read(v),
        Format::Xlam => xlam::read(v),
        Format::Glaive => glaive::read(v),
        Format::Sharegpt => sharegpt::read(v),
        Format::Xml => xml::read(v),
        Format::Yaml => yaml::read(v),
    }?;
    Ok(record.normalize())
}

/// Writes `record` in `format`; the losses met are refused unless `sink` allows them.
pub fn write(record: &Record, format: Format, sink: &mut Sink<'_>) -> Result<Value, Loss> {
    match format {
        Format::Openai => chat::write_openai(record, sink),
        Format::OpenaiFunctions => chat::write_functions(record, sink),
        Format::Lmflow => chat::write_lmflow(record, sink),
        Format::Hermes => hermes::write(record, sink),
        Format::Toolace => toolace::write(record, sink),
        Format::Xlam => xlam::write(record, sink),
        Format::Glaive => glaive::write(record, sink),
        Format::Sharegpt => sharegpt::write(record, sink),
        Format::Xml => xml::write(record, sink),
        Format::Yaml => Ok(yaml::write(record)),
    }
}

// ---- helpers shared by the readers and writers ----

pub(crate) fn obj<'a>(v: &'a Value, what: &str) -> Result<&'a Map<String, Value>, ReadError> {
    v.as_object()
        .ok_or_else(|| ReadError::malformed(format!("{what} is {}, not an object", kind_of(v))))
}

pub(crate) fn array<'a>(o: &'a Map<String, Value>, key: &str) -> Result<&'a [Value], ReadError> {
    match o.get(key) {
        Some(Value::Array(a)) => Ok(a),
        Some(other) => Err(ReadError::malformed(format!(
            "{key} is {}, not an array",
            kind_of(other)
        ))),
        None => Err(ReadError::malformed(format!("no {key}"))),
    }
}

/// One turn of a message list: its index, its object, its role and its text.
pub(crate) struct Turn<'a> {
    pub i: usize,
    pub obj: &'a Map<String, Value>,
    pub role: &'a str,
    pub text: String,
}

/// The turns of the message list at `key` (`role_key` / `text_key`: `role` / `content` or
/// `from` / `value`).
pub(crate) fn turns<'a>(
    o: &'a Map<String, Value>,
    key: &str,
    role_key: &str,
    text_key: &str,
) -> Result<Vec<Turn<'a>>, ReadError> {
    array(o, key)?
        .iter()
        .enumerate()
        .map(|(i, t)| {
            let obj = obj(t, &format!("{key}[{i}]"))?;
            let role = obj
                .get(role_key)
                .and_then(Value::as_str)
                .unwrap_or_default();
            let text = text(obj.get(text_key), &format!("{key}[{i}].{text_key}"))?;
            Ok(Turn { i, obj, role, text })
        })
        .collect()
}

/// A record holding the tools listed at `tools` and the system prompt at `system`, when the
/// record has them (the formats that keep both beside their messages).
pub(crate) fn record_with(o: &Map<String, Value>) -> Result<Record, ReadError> {
    let mut record = Record::default();
    if let Some(t) = o.get("tools") {
        record.tools = tools_from(t, "tools")?;
    }
    if let Some(s) = o.get("system") {
        let mut system = text(Some(s), "system")?;
        // No tools beside the prompt (absent, or "[]"): the tools the prompt lists, as
        // several published datasets store them.
        if record.tools.is_empty() {
            if let Some((tools, rest)) = toolace::embedded_tools(&system, '[')? {
                record.tools = tools;
                system = rest;
            }
        }
        record.messages.push(super::model::Message::new(
            super::model::Role::System,
            system,
        ));
    }
    Ok(record)
}

/// Whether `s` is a JSON empty list (`[]`, spaces allowed).
fn is_empty_list(s: &str) -> bool {
    matches!(serde_json::from_str::<Value>(s), Ok(Value::Array(a)) if a.is_empty())
}

/// A plain message for the role names every format shares (system; user, human; assistant,
/// gpt; tool, observation), or the error naming the turn.
pub(crate) fn plain_message(turn: Turn<'_>, key: &str) -> Result<super::model::Message, ReadError> {
    use super::model::{Message, Role};
    let role = match turn.role {
        "system" => Role::System,
        "user" | "human" => Role::User,
        "assistant" | "gpt" => Role::Assistant,
        "tool" | "observation" => Role::Tool,
        other => {
            return Err(ReadError::malformed(format!(
                "{key}[{}] has role {other:?}",
                turn.i
            )))
        }
    };
    Ok(Message::new(role, turn.text))
}

/// A text field: a string, null / missing (empty), or a list of `{"type": "text", "text"}` parts.
pub(crate) fn text(v: Option<&Value>, what: &str) -> Result<String, ReadError> {
    match v {
        None | Some(Value::Null) => Ok(String::new()),
        Some(Value::String(s)) => Ok(s.clone()),
        Some(Value::Array(parts)) => {
            let mut out = String::new();
            for p in parts {
                match p.get("text").and_then(Value::as_str).or_else(|| p.as_str()) {
                    Some(t) => out.push_str(t),
                    None => {
                        return Err(ReadError::malformed(format!(
                            "{what} holds a part without text"
                        )))
                    }
                }
            }
            Ok(out)
        }
        Some(other) => Err(ReadError::malformed(format!(
            "{what} is {}, not text",
            kind_of(other)
        ))),
    }
}

/// A JSON value that may be written as a JSON string (xLAM's `tools`, `ShareGPT`'s `tools`).
pub(crate) fn maybe_json_string(v: &Value, what: &str) -> Result<Value, ReadError> {
    match v {
        Value::String(s) if s.trim().is_empty() => Ok(Value::Array(Vec::new())),
        Value::String(s) => serde_json::from_str(s)
            .map_err(|e| ReadError::malformed(format!("{what} is a string that is not JSON: {e}"))),
        other => Ok(other.clone()),
    }
}

/// Tools from a list of specs (each possibly a JSON string).
pub(crate) fn tools_from(v: &Value, what: &str) -> Result<Vec<super::model::Tool>, ReadError> {
    let list = maybe_json_string(v, what)?;
    let items: Vec<Value> = match list {
        Value::Array(items) => items,
        Value::Object(_) => vec![list],
        Value::Null => Vec::new(),
        other => {
            return Err(ReadError::malformed(format!(
                "{what} is {}, not a list",
                kind_of(&other)
            )))
        }
    };
    items
        .iter()
        .map(|t| {
            let t = maybe_json_string(t, what)?;
            super::model::Tool::from_spec(&t).map_err(ReadError::malformed)
        })
        .collect()
}

/// A call written as `{"name": ..., "arguments": ...}` where the format wants `arguments` as
/// an object (`expect_object`) or as a JSON string.
pub fn call_from(v: &Value, format: &str, expect_object: bool) -> super::model::Call {
    use super::model::{Arguments, Call};
    let name = v
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_owned();
    let mut call = match v.get("arguments").or_else(|| v.get("parameters")) {
        None | Some(Value::Null) => Call::new(name, Arguments::Parsed(Value::Object(Map::new()))),
        Some(Value::String(s)) => {
            let mut c = Call::new(name, Arguments::from_json_text(s));
            c.raw_arguments = Some(s.clone());
            if expect_object {
                c.encoding_issue = Some(format!(
                    "arguments are a JSON string where {format} writes an object"
                ));
            }
            c
        }
        Some(other) => {
            let mut c = Call::new(name, Arguments::Parsed(other.clone()));
            if !expect_object {
                c.encoding_issue = Some(format!(
                    "arguments are {} where {format} writes a JSON string",
                    kind_of(other)
                ));
            }
            c
        }
    };
    call.id = v.get("id").and_then(Value::as_str).map(str::to_owned);
    call
}

/// `{"name": ..., "arguments": ...}` with the arguments as an object (invalid ones as their
/// raw string, which reads back as the same invalid arguments).
pub(crate) fn call_object(c: &super::model::Call) -> Value {
    use super::model::Arguments;
    let args = match &c.arguments {
        Arguments::Parsed(v) => v.clone(),
        Arguments::Invalid { raw, .. } => Value::String(raw.clone()),
    };
    serde_json::json!({"name": c.name, "arguments": args})
}

/// The arguments as a JSON string: the text as written when it says the same, else compact JSON.
pub(crate) fn arguments_text(c: &super::model::Call) -> String {
    use super::model::Arguments;
    match &c.arguments {
        Arguments::Parsed(v) => match &c.raw_arguments {
            Some(raw) if serde_json::from_str::<Value>(raw).ok().as_ref() == Some(v) => raw.clone(),
            _ => v.to_string(),
        },
        Arguments::Invalid { raw, .. } => raw.clone(),
    }
}

/// Refuses the losses every "no ids" format meets: call ids and tool-response ids.
pub(crate) fn no_ids(record: &Record, sink: &mut Sink<'_>) -> Result<(), Loss> {
    if record.calls().any(|(_, _, c)| c.id.is_some())
        || record.messages.iter().any(|m| m.call_id.is_some())
    {
        sink.lose("call_ids", || "the record has call ids".into())?;
    }
    Ok(())
}

/// Refuses tool-response names for formats that have none.
pub(crate) fn no_response_names(record: &Record, sink: &mut Sink<'_>) -> Result<(), Loss> {
    if record.messages.iter().any(|m| m.name.is_some()) {
        sink.lose("response_names", || {
            "the record's tool responses name their tool".into()
        })?;
    }
    Ok(())
}

/// Refuses markup of the format inside message text.
pub(crate) fn no_markup(record: &Record, marks: &[&str], sink: &mut Sink<'_>) -> Result<(), Loss> {
    for (i, m) in record.messages.iter().enumerate() {
        if let Some(mark) = marks.iter().find(|mark| m.content.contains(*mark)) {
            sink.lose("markup_in_text", || format!("messages[{i}] holds {mark:?}"))?;
        }
    }
    Ok(())
}

/// The system prompt and the other turns of a record written as plain turns, which carry
/// neither call ids nor the names of responding tools (both refused or dropped as `sink` says).
pub(crate) fn plain_turns<'r>(
    record: &'r Record,
    sink: &mut Sink<'_>,
) -> Result<(Option<&'r str>, Vec<&'r super::model::Message>), Loss> {
    no_ids(record, sink)?;
    no_response_names(record, sink)?;
    split_system(record, sink)
}

/// The system prompt (only a first system message; others refused) and the other messages.
pub(crate) fn split_system<'r>(
    record: &'r Record,
    sink: &mut Sink<'_>,
) -> Result<(Option<&'r str>, Vec<&'r super::model::Message>), Loss> {
    use super::model::Role;
    let mut system = None;
    let mut rest = Vec::new();
    for (i, m) in record.messages.iter().enumerate() {
        if m.role == Role::System {
            if i == 0 {
                system = Some(m.content.as_str());
            } else {
                sink.lose("message_order", || {
                    format!("messages[{i}] is a system message after the first turn")
                })?;
            }
        } else {
            rest.push(m);
        }
    }
    Ok((system, rest))
}

/// Assistant text beside calls: refused, or dropped when allowed.
pub(crate) fn no_text_beside(
    m: &super::model::Message,
    i: usize,
    sink: &mut Sink<'_>,
) -> Result<bool, Loss> {
    if !m.calls.is_empty() && !m.content.is_empty() {
        sink.lose("text_beside_call", || {
            format!("messages[{i}] has text beside its calls")
        })?;
        return Ok(false);
    }
    Ok(true)
}

/// Several calls in one turn: refused, or written as one turn per call when allowed.
pub(crate) fn one_call_per_turn(
    m: &super::model::Message,
    i: usize,
    sink: &mut Sink<'_>,
) -> Result<(), Loss> {
    if m.calls.len() > 1 {
        sink.lose("parallel_calls", || {
            format!("messages[{i}] makes {} calls in one turn", m.calls.len())
        })?;
    }
    Ok(())
}
