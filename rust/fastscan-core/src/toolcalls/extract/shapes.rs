//! Tool specs and calls in a structured value, whatever serialization it came from: `OpenAI` /
//! `BFCL` function specs (`name` + `parameters`), `xLAM` flat parameter maps, `ToolBench`
//! `required_parameters` / `optional_parameters` lists, Gorilla / API Zoo `api_name` +
//! `api_arguments`, OpenAPI / Swagger documents and lone path items (local `$ref`s resolved),
//! tool-call transcripts in every format the converter reads, and `{"name", "arguments"}` calls.

use serde_json::{json, Map, Value};

use crate::toolcalls::formats;
use crate::toolcalls::model::{Call, Tool};
use crate::toolcalls::types::parse_type;

/// What one value held.
#[derive(Debug, Default)]
pub struct Found {
    /// `(extractor, tool)`.
    pub tools: Vec<(&'static str, Tool)>,
    pub calls: Vec<(&'static str, Call)>,
}

const METHODS: &[&str] = &[
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];
const MAX_DEPTH: usize = 16;

/// Walks `v` for specs and calls.
#[must_use]
pub fn find(v: &Value) -> Found {
    let mut out = Found::default();
    walk(v, v, None, 0, &mut out);
    out
}

fn walk(v: &Value, root: &Value, key: Option<&str>, depth: usize, out: &mut Found) {
    if depth > MAX_DEPTH {
        return;
    }
    match v {
        Value::Array(items) => {
            for item in items {
                walk(item, root, None, depth + 1, out);
            }
        }
        Value::Object(o) => {
            if matched(o, v, root, key, out) {
                return;
            }
            for (k, item) in o {
                walk(item, root, Some(k), depth + 1, out);
            }
        }
        // Values inside a string field: a JSON document (xLAM's `tools`, a ShareGPT
        // `function_call`), or specs written into prose (a prompt that lists its tools).
        Value::String(s) if s.len() > 12 && s.contains(['{', '[']) => {
            if s.trim_start().starts_with(['{', '[']) {
                if let Ok(inner) = serde_json::from_str::<Value>(s) {
                    walk(&inner, &inner, key, depth + 1, out);
                    return;
                }
            }
            for c in super::scan::candidates(s) {
                walk(&c.value, &c.value, None, depth + 1, out);
            }
        }
        _ => {}
    }
}

/// Tries every shape on one object; true when it was one (its inside is then not walked).
fn matched(
    o: &Map<String, Value>,
    v: &Value,
    root: &Value,
    key: Option<&str>,
    out: &mut Found,
) -> bool {
    if o.contains_key("paths")
        && (o.contains_key("openapi") || o.contains_key("swagger") || o.contains_key("info"))
    {
        if let Some(Value::Object(paths)) = o.get("paths") {
            for (path, item) in paths {
                path_item(item, path, v, out);
            }
            return true;
        }
    }
    if key.is_some_and(|k| k.starts_with('/')) || o.keys().any(|k| METHODS.contains(&k.as_str())) {
        let before = out.tools.len();
        path_item(v, key.unwrap_or(""), root, out);
        if out.tools.len() > before {
            return true;
        }
    }
    if formats::detect(v).is_some()
        && (o.contains_key("messages")
            || o.contains_key("conversations")
            || o.contains_key("answers")
            || o.contains_key("chat"))
    {
        if let Some(f) = formats::detect(v) {
            if let Ok(record) = formats::read(v, f) {
                if !record.tools.is_empty() || record.calls().next().is_some() {
                    // Tools a prompt lists in its text (ToolACE's system prompt).
                    for m in record
                        .messages
                        .iter()
                        .filter(|m| m.role == crate::toolcalls::model::Role::System)
                    {
                        for c in super::scan::candidates(&m.content) {
                            walk(&c.value, &c.value, None, 1, out);
                        }
                    }
                    for t in record.tools {
                        out.tools.push(("transcript", t));
                    }
                    for m in record.messages {
                        for c in m.calls {
                            out.calls.push(("transcript", c));
                        }
                    }
                    return true;
                }
            }
        }
    }
    if let Some(t) = function_spec(o) {
        out.tools.push(t);
        return true;
    }
    if let Some(c) = call(o) {
        out.calls.push(("call", c));
        return true;
    }
    false
}

fn name_of(o: &Map<String, Value>, keys: &[&str]) -> Option<String> {
    keys.iter()
        .find_map(|k| o.get(*k).and_then(Value::as_str))
        .map(str::trim)
        .filter(|n| !n.is_empty() && n.len() <= 200 && !n.contains('\n'))
        .map(str::to_owned)
}

fn description(o: &Map<String, Value>) -> Option<String> {
    ["description", "api_description", "summary", "functionality"]
        .iter()
        .find_map(|k| o.get(*k).and_then(Value::as_str))
        .map(str::trim)
        .filter(|d| !d.is_empty())
        .map(str::to_owned)
}

/// The keys a function spec's name is found under, across published datasets.
const NAME_KEYS: &[&str] = &["name", "api_name", "tool_name", "func_name", "function"];

/// A parameters object as JSON Schema: itself when it is one (a `type` or `properties`), or
/// when it is a flat map without a `required` list (xLAM's: each type says `optional`, read
/// by `Tool::new`); a flat map of name to `{type, description}` with a `required` list beside
/// it (or inside it) is made into one.
fn object_schema(p: &Value, required_beside: Option<&Value>) -> Value {
    let Some(map) = p.as_object() else {
        return p.clone();
    };
    let listed = map.get("required").or(required_beside);
    if !matches!(listed, Some(Value::Array(_))) {
        return p.clone();
    }
    let is_schema = map.contains_key("type") || map.contains_key("properties");
    let flat = !map.is_empty()
        && map
            .iter()
            .filter(|(k, _)| k.as_str() != "required")
            .all(|(_, v)| v.as_object().is_some_and(|f| f.contains_key("type")));
    if is_schema || !flat {
        return p.clone();
    }
    let props: Map<String, Value> = map
        .iter()
        .filter(|(k, _)| k.as_str() != "required")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let mut out = json!({"type": "object", "properties": props});
    if let Some(req @ Value::Array(_)) = map.get("required").or(required_beside) {
        out["required"] = req.clone();
    }
    out
}

/// `OpenAI` / `BFCL` / `xLAM` / `ToolBench` / Gorilla function specs.
fn function_spec(o: &Map<String, Value>) -> Option<(&'static str, Tool)> {
    if o.get("type").and_then(Value::as_str) == Some("function") {
        if let Some(Value::Object(inner)) = o.get("function") {
            return function_spec(inner).map(|(_, t)| ("function_spec", t));
        }
    }
    if let Some(name) = name_of(o, NAME_KEYS) {
        for key in ["parameters", "input_schema", "inputSchema"] {
            match o.get(key) {
                Some(p @ Value::Object(_)) => {
                    let schema = object_schema(p, o.get("required"));
                    return Some(("function_spec", Tool::new(name, description(o), &schema)));
                }
                Some(Value::Array(list)) => {
                    return Some((
                        "function_spec",
                        Tool::new(name, description(o), &list_schema(list, &[])),
                    ));
                }
                _ => {}
            }
        }
    }
    if o.contains_key("required_parameters") || o.contains_key("optional_parameters") {
        let name = name_of(o, &["api_name", "name"])?;
        let req = o
            .get("required_parameters")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let opt = o
            .get("optional_parameters")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let all: Vec<Value> = req.iter().chain(opt).cloned().collect();
        let names: Vec<&str> = req
            .iter()
            .filter_map(|p| p.get("name").and_then(Value::as_str))
            .collect();
        return Some((
            "toolbench",
            Tool::new(name, description(o), &list_schema(&all, &names)),
        ));
    }
    if let (Some(name), Some(args)) = (name_of(o, &["api_name"]), o.get("api_arguments")) {
        // A method name field names the tool; a prose name (Gorilla's "Torch Hub model")
        // gives way to the function the example call calls.
        let name = if is_identifier(&name) {
            name
        } else {
            o.get("api_call")
                .and_then(Value::as_str)
                .and_then(called_name)
                .unwrap_or(name)
        };
        return Some((
            "api_entry",
            Tool::new(name, description(o), &api_arguments(args)),
        ));
    }
    None
}

/// A name a program could call: letters, digits, `_` and `.`, not starting with a digit.
fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && !name.starts_with(|c: char| c.is_ascii_digit())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
}

/// The function a call expression calls: `model = torch.hub.load(...)` → `torch.hub.load`.
fn called_name(expr: &str) -> Option<String> {
    let expr = expr
        .split_once('=')
        .filter(|(l, _)| !l.contains('('))
        .map_or(expr, |(_, r)| r)
        .trim();
    let open = expr.find('(')?;
    let name = expr[..open].trim();
    (!name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.'))
    .then(|| name.to_owned())
}

/// A schema from a list of `{"name", "type", "description", "required"?, "default"?}`.
fn list_schema(list: &[Value], required: &[&str]) -> Value {
    let mut props = Map::new();
    let mut req: Vec<Value> = required.iter().map(|r| json!(r)).collect();
    for p in list {
        let Some(po) = p.as_object() else { continue };
        let Some(name) = po.get("name").and_then(Value::as_str) else {
            continue;
        };
        let mut s = Map::new();
        if let Some(t) = po.get("type") {
            s.insert("type".into(), t.clone());
        }
        for k in ["description", "default", "enum", "items"] {
            if let Some(x) = po.get(k) {
                s.insert(k.into(), x.clone());
            }
        }
        if po.get("required").and_then(Value::as_bool) == Some(true) && !req.contains(&json!(name))
        {
            req.push(json!(name));
        }
        props.insert(name.to_owned(), Value::Object(s));
    }
    let mut out = json!({"type": "object", "properties": props});
    if !req.is_empty() {
        out["required"] = Value::Array(req);
    }
    out
}

/// Gorilla / API Zoo `api_arguments`: a map of name to `"type: description"` (or a value), a
/// list of names, or `"a, b"`.
fn api_arguments(args: &Value) -> Value {
    let mut props = Map::new();
    let mut required = Vec::new();
    match args {
        Value::Object(m) => {
            for (k, v) in m {
                let mut s = Map::new();
                if let Value::String(text) = v {
                    // `[REQUIRED] string: ...`, `(optional) int: ...`
                    let (mark, text) = requirement_mark(text);
                    if mark == Some(true) {
                        required.push(json!(k));
                    }
                    match text.split_once(':') {
                        Some((t, d)) if parse_type(t).is_some() => {
                            s.insert("type".into(), json!(t.trim()));
                            s.insert("description".into(), json!(d.trim()));
                        }
                        _ => {
                            s.insert("description".into(), json!(text));
                        }
                    }
                } else {
                    s.insert("default".into(), v.clone());
                }
                props.insert(k.clone(), Value::Object(s));
            }
        }
        Value::Array(items) => {
            for item in items.iter().filter_map(Value::as_str) {
                props.insert(item.trim().to_owned(), json!({}));
            }
        }
        Value::String(s) => {
            for item in s
                .split(',')
                .map(str::trim)
                .filter(|i| !i.is_empty() && !i.contains(' '))
            {
                props.insert(item.to_owned(), json!({}));
            }
        }
        _ => {}
    }
    let mut out = json!({"type": "object", "properties": props});
    if !required.is_empty() {
        out["required"] = Value::Array(required);
    }
    out
}

/// A leading `[REQUIRED]` / `[OPTIONAL]` (or in parentheses, any case) on an argument's
/// doc: `Some(true)` required, `Some(false)` optional, and the text after it.
fn requirement_mark(text: &str) -> (Option<bool>, &str) {
    let t = text.trim_start();
    for (open, close) in [('[', ']'), ('(', ')')] {
        if let Some(rest) = t.strip_prefix(open) {
            if let Some(end) = rest.find(close) {
                let word = rest[..end].trim().to_ascii_lowercase();
                let after = rest[end + 1..].trim_start();
                match word.as_str() {
                    "required" => return (Some(true), after),
                    "optional" => return (Some(false), after),
                    _ => {}
                }
            }
        }
    }
    (None, text)
}

/// `{"name", "arguments"}` (also `parameters` holding values, not a schema).
fn call(o: &Map<String, Value>) -> Option<Call> {
    let name = name_of(o, &["name"])?;
    let args = o.get("arguments")?;
    if o.contains_key("description") {
        return None;
    }
    let mut c = formats::call_from(&json!({"name": name, "arguments": args}), "json", true);
    c.encoding_issue = None;
    Some(c)
}

/// One OpenAPI path item: a tool per operation (operationId, else `METHOD path`), path and
/// operation parameters and the JSON request body merged into one schema.
fn path_item(item: &Value, path: &str, root: &Value, out: &mut Found) {
    let Some(item) = item.as_object() else { return };
    let shared = item
        .get("parameters")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for method in METHODS {
        let Some(Value::Object(op)) = item.get(*method) else {
            continue;
        };
        if ![
            "responses",
            "parameters",
            "operationId",
            "requestBody",
            "summary",
            "description",
        ]
        .iter()
        .any(|k| op.contains_key(*k))
        {
            continue;
        }
        let name = op.get("operationId").and_then(Value::as_str).map_or_else(
            || {
                format!("{} {path}", method.to_ascii_uppercase())
                    .trim()
                    .to_owned()
            },
            str::to_owned,
        );
        let mut props = Map::new();
        let mut required: Vec<Value> = Vec::new();
        let params = shared.iter().chain(
            op.get("parameters")
                .and_then(Value::as_array)
                .into_iter()
                .flatten(),
        );
        for p in params {
            let p = resolve(p, root, 0);
            let Some(po) = p.as_object() else { continue };
            let Some(pname) = po.get("name").and_then(Value::as_str) else {
                continue;
            };
            let mut s = if let Some(schema) = po.get("schema") {
                resolve(schema, root, 0)
                    .as_object()
                    .cloned()
                    .unwrap_or_default()
            } else {
                let mut s = Map::new();
                for k in ["type", "items", "enum", "format", "default"] {
                    if let Some(x) = po.get(k) {
                        s.insert(k.into(), x.clone());
                    }
                }
                s
            };
            if let Some(d) = po.get("description") {
                s.entry("description").or_insert_with(|| d.clone());
            }
            if po.get("required").and_then(Value::as_bool) == Some(true)
                || po.get("in").and_then(Value::as_str) == Some("path")
            {
                required.push(json!(pname));
            }
            props.insert(pname.to_owned(), Value::Object(s));
        }
        if let Some(body) = op.get("requestBody") {
            request_body(body, root, &mut props, &mut required);
        }
        let mut params = json!({"type": "object", "properties": props});
        if !required.is_empty() {
            params["required"] = Value::Array(required);
        }
        let desc = op
            .get("summary")
            .or_else(|| op.get("description"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        out.tools.push(("openapi", Tool::new(name, desc, &params)));
    }
}

/// Merges a JSON request body into the operation's parameters: its properties when it is an
/// object schema, else one `body` parameter.
fn request_body(
    body: &Value,
    root: &Value,
    props: &mut Map<String, Value>,
    required: &mut Vec<Value>,
) {
    let body = resolve(body, root, 0);
    let schema = body
        .get("content")
        .and_then(Value::as_object)
        .and_then(|c| c.get("application/json").or_else(|| c.values().next()))
        .and_then(|m| m.get("schema"))
        .map(|s| resolve(s, root, 0));
    let Some(schema) = schema else { return };
    if let Some(bp) = schema.get("properties").and_then(Value::as_object) {
        for (k, s) in bp {
            props.insert(k.clone(), resolve(s, root, 0));
        }
        if let Some(Value::Array(r)) = schema.get("required") {
            required.extend(r.iter().cloned());
        }
    } else {
        props.insert("body".into(), schema.clone());
        if body.get("required").and_then(Value::as_bool) == Some(true) {
            required.push(json!("body"));
        }
    }
}

/// A local `$ref` (`#/components/schemas/X`) resolved against the document, recursively
/// (depth-capped: a cycle stays a reference).
fn resolve(v: &Value, root: &Value, depth: usize) -> Value {
    if depth > 8 {
        return v.clone();
    }
    match v {
        Value::Object(o) => {
            if let Some(Value::String(r)) = o.get("$ref") {
                if let Some(target) = r.strip_prefix('#').and_then(|p| root.pointer(p)) {
                    return resolve(target, root, depth + 1);
                }
                return v.clone();
            }
            Value::Object(
                o.iter()
                    .map(|(k, x)| (k.clone(), resolve(x, root, depth + 1)))
                    .collect(),
            )
        }
        Value::Array(items) => {
            Value::Array(items.iter().map(|x| resolve(x, root, depth + 1)).collect())
        }
        other => other.clone(),
    }
}
