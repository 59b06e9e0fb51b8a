//! The canonical tool-call record: what every format reader produces and every writer takes.
//!
//! A [`Record`] is a conversation ([`Message`]s with the roles system / user / assistant /
//! tool) and the tools it offers ([`Tool`]: name, description, parameters as JSON Schema with
//! the type spellings normalised by [`super::types`], and the spellings it rewrote). An
//! assistant message holds its tool calls ([`Call`]: id, name, parsed arguments, the argument
//! text as written) beside its text.
//!
//! Readers end with [`Record::normalize`], the one place that decides what two spellings of the
//! same record have in common: message text is compared trimmed, an empty system message is no
//! message, `required` is a set (sorted), an empty description is none. Round trips between
//! formats are judged on [`Record::canonical`], which leaves out what only says how the source
//! was written (raw argument text, original type spellings, encoding notes).

use serde_json::{json, Map, Value};

/// Who speaks a message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Role {
    System,
    User,
    Assistant,
    Tool,
}

impl Role {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Role::System => "system",
            Role::User => "user",
            Role::Assistant => "assistant",
            Role::Tool => "tool",
        }
    }
}

/// A call's arguments: parsed, or the text that did not parse.
#[derive(Debug, Clone, PartialEq)]
pub enum Arguments {
    Parsed(Value),
    Invalid { raw: String, error: String },
}

impl Arguments {
    /// Parses a JSON argument string.
    #[must_use]
    pub fn from_json_text(text: &str) -> Arguments {
        if text.trim().is_empty() {
            return Arguments::Parsed(Value::Object(Map::new()));
        }
        match serde_json::from_str::<Value>(text) {
            Ok(v) => Arguments::Parsed(v),
            Err(e) => Arguments::Invalid {
                raw: text.to_owned(),
                error: e.to_string(),
            },
        }
    }

    /// The parsed object, when the arguments are one.
    #[must_use]
    pub fn object(&self) -> Option<&Map<String, Value>> {
        match self {
            Arguments::Parsed(Value::Object(m)) => Some(m),
            _ => None,
        }
    }
}

/// One tool call of an assistant message.
#[derive(Debug, Clone, PartialEq)]
pub struct Call {
    pub id: Option<String>,
    pub name: String,
    pub arguments: Arguments,
    /// The argument text as the source wrote it, when it wrote text (not a structure).
    pub raw_arguments: Option<String>,
    /// Set by a reader when the arguments are encoded other than its format defines (a JSON
    /// string where an object belongs, or the reverse): what was found.
    pub encoding_issue: Option<String>,
}

impl Call {
    /// A call whose text could not be read as a call at all: no name, the text kept as its
    /// (invalid) arguments, so the checker reports it and writers carry it on as written.
    #[must_use]
    pub fn unparsed(text: &str, error: impl Into<String>) -> Call {
        let mut c = Call::new(
            "",
            Arguments::Invalid {
                raw: text.to_owned(),
                error: error.into(),
            },
        );
        c.raw_arguments = Some(text.to_owned());
        c
    }

    #[must_use]
    pub fn new(name: impl Into<String>, arguments: Arguments) -> Call {
        Call {
            id: None,
            name: name.into(),
            arguments,
            raw_arguments: None,
            encoding_issue: None,
        }
    }
}

/// One message of the conversation.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub role: Role,
    /// The text (for an assistant message with calls: the text beside them).
    pub content: String,
    pub calls: Vec<Call>,
    /// For a tool message: the id of the call it answers.
    pub call_id: Option<String>,
    /// For a tool message: the name of the tool that answered.
    pub name: Option<String>,
}

impl Message {
    #[must_use]
    pub fn new(role: Role, content: impl Into<String>) -> Message {
        Message {
            role,
            content: content.into(),
            calls: Vec::new(),
            call_id: None,
            name: None,
        }
    }
}

/// A tool offered to the model.
#[derive(Debug, Clone, PartialEq)]
pub struct Tool {
    pub name: String,
    pub description: Option<String>,
    /// JSON Schema of the arguments, type spellings normalised.
    pub parameters: Value,
    /// The original spelling of each type the table rewrote (`parameters.properties.city.type`
    /// was `"str"`), by path.
    pub spellings: Vec<(String, String)>,
    /// What made the parameters unusable as a schema (the `malformed_schema` rule).
    pub problems: Vec<String>,
}

impl Tool {
    /// A tool from its parameters as written: normalises them with the type table.
    #[must_use]
    pub fn new(name: impl Into<String>, description: Option<String>, parameters: &Value) -> Tool {
        let (normalized, notes) = super::types::normalize_parameters(parameters);
        Tool {
            name: name.into(),
            description,
            parameters: normalized,
            spellings: notes.spellings,
            problems: notes.problems,
        }
    }

    /// Reads `{"name", "description", "parameters"}` (also `input_schema`, `arguments`).
    pub fn from_spec(spec: &Value) -> Result<Tool, String> {
        let obj = spec
            .as_object()
            .ok_or_else(|| format!("a tool is {}, not an object", kind_of(spec)))?;
        let obj = match obj.get("function") {
            Some(Value::Object(inner))
                if obj.get("type").and_then(Value::as_str) == Some("function")
                    || !obj.contains_key("name") =>
            {
                inner
            }
            _ => obj,
        };
        let name = match obj.get("name") {
            Some(Value::String(s)) => s.clone(),
            Some(other) => {
                return Err(format!("a tool's name is {}, not a string", kind_of(other)))
            }
            None => String::new(),
        };
        let description = obj
            .get("description")
            .and_then(Value::as_str)
            .map(str::to_owned);
        let empty = json!({});
        let params = ["parameters", "input_schema", "arguments"]
            .iter()
            .find_map(|k| obj.get(*k))
            .unwrap_or(&empty);
        Ok(Tool::new(name, description, params))
    }

    /// `{"name", "description"?, "parameters"}` in canonical form.
    #[must_use]
    pub fn spec(&self) -> Value {
        let mut m = Map::new();
        m.insert("name".into(), Value::String(self.name.clone()));
        if let Some(d) = &self.description {
            m.insert("description".into(), Value::String(d.clone()));
        }
        m.insert("parameters".into(), self.parameters.clone());
        Value::Object(m)
    }
}

/// A conversation and the tools it offers.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Record {
    pub messages: Vec<Message>,
    pub tools: Vec<Tool>,
}

impl Record {
    /// The one normalisation every reader ends with (see the module docs).
    #[must_use]
    pub fn normalize(mut self) -> Record {
        for m in &mut self.messages {
            let trimmed = m.content.trim();
            if trimmed.len() != m.content.len() {
                m.content = trimmed.to_owned();
            }
        }
        self.messages
            .retain(|m| !(m.role == Role::System && m.content.is_empty()));
        for t in &mut self.tools {
            if t.description
                .as_deref()
                .is_some_and(|d| d.trim().is_empty())
            {
                t.description = None;
            }
        }
        self
    }

    /// Every call with the index of its message.
    pub fn calls(&self) -> impl Iterator<Item = (usize, usize, &Call)> {
        self.messages
            .iter()
            .enumerate()
            .flat_map(|(mi, m)| m.calls.iter().enumerate().map(move |(ci, c)| (mi, ci, c)))
    }

    /// The tool named `name`.
    #[must_use]
    pub fn tool(&self, name: &str) -> Option<&Tool> {
        self.tools.iter().find(|t| t.name == name)
    }

    /// The record as JSON, leaving out how the source spelled it: the form round trips are
    /// compared on and `fastscan.toolcalls.canonical` returns.
    #[must_use]
    pub fn canonical(&self) -> Value {
        let messages: Vec<Value> = self
            .messages
            .iter()
            .map(|m| {
                let mut o = Map::new();
                o.insert("role".into(), json!(m.role.as_str()));
                o.insert("content".into(), json!(m.content));
                if !m.calls.is_empty() {
                    let calls: Vec<Value> = m
                        .calls
                        .iter()
                        .map(|c| {
                            let mut co = Map::new();
                            if let Some(id) = &c.id {
                                co.insert("id".into(), json!(id));
                            }
                            co.insert("name".into(), json!(c.name));
                            match &c.arguments {
                                Arguments::Parsed(v) => {
                                    co.insert("arguments".into(), v.clone());
                                }
                                Arguments::Invalid { raw, .. } => {
                                    co.insert("invalid_arguments".into(), json!(raw));
                                }
                            }
                            Value::Object(co)
                        })
                        .collect();
                    o.insert("calls".into(), Value::Array(calls));
                }
                if let Some(id) = &m.call_id {
                    o.insert("call_id".into(), json!(id));
                }
                if let Some(n) = &m.name {
                    o.insert("name".into(), json!(n));
                }
                Value::Object(o)
            })
            .collect();
        let tools: Vec<Value> = self.tools.iter().map(Tool::spec).collect();
        json!({"messages": messages, "tools": tools})
    }
}

/// "a string", "an array", ... for messages.
#[must_use]
pub fn kind_of(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(n) if n.is_f64() => "a number",
        Value::Number(_) => "an integer",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
