//! The type-normalisation table: the type spellings real tool-call datasets use, mapped onto
//! JSON Schema. This is the one place that decides it; the README's table is written from it.
//!
//! | spelling (case-insensitive)                                   | JSON Schema           |
//! |---------------------------------------------------------------|-----------------------|
//! | string str text char character java.lang.string               | `"string"`            |
//! | integer int long short byte int32 int64 uint bigint           | `"integer"`           |
//! | number float double decimal bigdecimal                        | `"number"`            |
//! | boolean bool                                                  | `"boolean"`           |
//! | array list tuple set sequence arraylist queue stack iterable   | `"array"`             |
//! | `List[X]` `list[X]` `Sequence[X]` `Set[X]` `Array<X>` `X[]`    | `"array"`, items X    |
//! | object dict map hashmap hashtable struct record `Dict[K, V]`  | `"object"`            |
//! | null none nonetype void                                       | `"null"`              |
//! | any `Any` object? (BFCL `any`)                                | no `type` (anything)  |
//! | `Union[A, B]` `A \| B`                                        | `["a", "b"]`          |
//! | `Optional[X]`, `X, optional`, `X?`                            | X, and not required   |
//!
//! Parameters written as a flat map of parameter name to `{"type": ...}` (xLAM / `APIGen`)
//! become an object schema whose `required` lists the parameters not marked optional.

use serde_json::{Map, Value};

/// A parsed type spelling.
#[derive(Debug, Clone, PartialEq)]
pub enum TypeSpec {
    Named(&'static str),
    Array(Option<Box<TypeSpec>>),
    Union(Vec<TypeSpec>),
    Any,
}

const NAMES: &[(&str, &str)] = &[
    ("string", "string"),
    ("str", "string"),
    ("text", "string"),
    ("char", "string"),
    ("character", "string"),
    ("java.lang.string", "string"),
    ("integer", "integer"),
    ("int", "integer"),
    ("long", "integer"),
    ("short", "integer"),
    ("byte", "integer"),
    ("int32", "integer"),
    ("int64", "integer"),
    ("uint", "integer"),
    ("bigint", "integer"),
    ("number", "number"),
    ("float", "number"),
    ("double", "number"),
    ("decimal", "number"),
    ("bigdecimal", "number"),
    ("boolean", "boolean"),
    ("bool", "boolean"),
    ("array", "array"),
    ("list", "array"),
    ("tuple", "array"),
    ("set", "array"),
    ("sequence", "array"),
    ("arraylist", "array"),
    ("queue", "array"),
    ("stack", "array"),
    ("iterable", "array"),
    ("object", "object"),
    ("dict", "object"),
    ("map", "object"),
    ("hashmap", "object"),
    ("hashtable", "object"),
    ("struct", "object"),
    ("record", "object"),
    ("mapping", "object"),
    ("null", "null"),
    ("none", "null"),
    ("nonetype", "null"),
    ("void", "null"),
];

/// Splits `a, b` at top-level commas (not inside brackets).
fn split_top(s: &str, sep: char) -> Vec<&str> {
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, c) in s.char_indices() {
        match c {
            '[' | '<' | '(' | '{' => depth += 1,
            ']' | '>' | ')' | '}' => depth -= 1,
            c if c == sep && depth == 0 => {
                out.push(s[start..i].trim());
                start = i + c.len_utf8();
            }
            _ => {}
        }
    }
    out.push(s[start..].trim());
    out
}

/// Generic arguments of `Name[...]` or `Name<...>`: `(name, inner)`.
fn generic(s: &str) -> Option<(&str, &str)> {
    for (open, close) in [('[', ']'), ('<', '>')] {
        if let (Some(i), true) = (s.find(open), s.ends_with(close)) {
            return Some((s[..i].trim(), &s[i + 1..s.len() - 1]));
        }
    }
    None
}

/// Whether the parts after a type's name only qualify it: `optional`, then at most a default
/// (`default='x'`, `default: 3`, `defaults to 5`; whatever follows is the default's text,
/// commas included), as docstrings and the xLAM data write them. Either makes the parameter
/// optional.
fn qualifiers_only(rest: &[&str]) -> bool {
    for part in rest {
        let lower = part.trim().to_ascii_lowercase();
        if lower.starts_with("default") {
            return true;
        }
        if lower != "optional" {
            return false;
        }
    }
    true
}

/// Parses one spelling: `(type, optional)`, or `None` for a spelling not in the table.
#[must_use]
pub fn parse_type(spelling: &str) -> Option<(TypeSpec, bool)> {
    let s = spelling.trim();
    if s.is_empty() {
        return None;
    }
    let parts = split_top(s, ',');
    if parts.len() >= 2 && qualifiers_only(&parts[1..]) {
        return parse_type(parts[0]).map(|(t, _)| (t, true));
    }
    if let Some(inner) = s.strip_suffix('?') {
        if inner.eq_ignore_ascii_case("object") {
            return Some((TypeSpec::Any, false));
        }
        return parse_type(inner).map(|(t, _)| (t, true));
    }
    let bars = split_top(s, '|');
    if bars.len() > 1 {
        return union(&bars);
    }
    if let Some(inner) = s.strip_suffix("[]") {
        return parse_type(inner).map(|(t, _)| (TypeSpec::Array(Some(Box::new(t))), false));
    }
    if let Some((name, inner)) = generic(s) {
        let lower = name.to_ascii_lowercase();
        let lower = lower.rsplit('.').next().unwrap_or(&lower);
        let args = split_top(inner, ',');
        return match lower {
            "optional" => parse_type(inner).map(|(t, _)| (t, true)),
            "union" => union(&args),
            "list" | "sequence" | "set" | "array" | "arraylist" | "iterable" | "frozenset"
            | "queue" | "stack" => {
                let item = if args.len() == 1 {
                    parse_type(args[0])?.0
                } else {
                    return None;
                };
                Some((TypeSpec::Array(Some(Box::new(item))), false))
            }
            "tuple" => Some((TypeSpec::Array(None), false)),
            "dict" | "map" | "hashmap" | "mapping" | "record" | "hashtable" => {
                Some((TypeSpec::Named("object"), false))
            }
            "literal" => Some((TypeSpec::Any, false)),
            _ => None,
        };
    }
    let lower = s.to_ascii_lowercase();
    if lower == "any" {
        return Some((TypeSpec::Any, false));
    }
    NAMES
        .iter()
        .find(|(k, _)| *k == lower)
        .map(|(_, v)| (TypeSpec::Named(v), false))
}

fn union(parts: &[&str]) -> Option<(TypeSpec, bool)> {
    let mut types = Vec::new();
    let mut optional = false;
    for p in parts {
        let (t, opt) = parse_type(p)?;
        optional |= opt;
        if t == TypeSpec::Any {
            return Some((TypeSpec::Any, optional));
        }
        if t == TypeSpec::Named("null") {
            optional = true;
            continue;
        }
        if !types.contains(&t) {
            types.push(t);
        }
    }
    if types.len() == 1 {
        return Some((types.pop()?, optional));
    }
    Some((TypeSpec::Union(types), optional))
}

/// The schema one spelling stands for, and whether it marks the parameter optional.
#[must_use]
pub fn normalize_spelling(spelling: &str) -> Option<(Value, bool)> {
    let (spec, optional) = parse_type(spelling)?;
    let mut schema = Map::new();
    apply(&spec, &mut schema);
    Some((Value::Object(schema), optional))
}

/// Writes `spec` into `schema` (`type`, and `items` for a typed array unless one is there).
fn apply(spec: &TypeSpec, schema: &mut Map<String, Value>) {
    match spec {
        TypeSpec::Any => {
            schema.remove("type");
        }
        TypeSpec::Named(n) => {
            schema.insert("type".into(), Value::String((*n).to_owned()));
        }
        TypeSpec::Array(item) => {
            schema.insert("type".into(), Value::String("array".into()));
            if let Some(item) = item {
                if !schema.contains_key("items") {
                    let mut inner = Map::new();
                    apply(item, &mut inner);
                    schema.insert("items".into(), Value::Object(inner));
                }
            }
        }
        TypeSpec::Union(types) => {
            let names: Vec<Value> = types
                .iter()
                .map(|t| match t {
                    TypeSpec::Named(n) => Value::String((*n).to_owned()),
                    _ => Value::String("array".into()),
                })
                .collect();
            schema.insert("type".into(), Value::Array(names));
        }
    }
}

/// What normalising a schema noticed: problems (the `malformed_schema` rule) and the original
/// spelling of every type the table rewrote, by path.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Notes {
    pub problems: Vec<String>,
    pub spellings: Vec<(String, String)>,
}

/// Normalises a tool's parameters as written: `(JSON Schema, problems)`. Problems are what
/// the `malformed_schema` rule reports; the schema is still as usable as it can be made.
#[must_use]
pub fn normalize_parameters(params: &Value) -> (Value, Notes) {
    let mut notes = Notes::default();
    let problems = &mut notes;
    let schema = match params {
        Value::Null => empty_object(),
        Value::Object(m) if m.is_empty() => empty_object(),
        Value::Object(m) if is_flat_map(m) => {
            let mut props = Map::new();
            let mut required = Vec::new();
            for (name, p) in m {
                let (schema, optional) =
                    normalize_schema(p, &format!("parameters.{name}"), problems);
                if !optional {
                    required.push(Value::String(name.clone()));
                }
                props.insert(name.clone(), schema);
            }
            let mut out = Map::new();
            out.insert("type".into(), Value::String("object".into()));
            out.insert("properties".into(), Value::Object(props));
            if !required.is_empty() {
                // `required` is a set: sorted, as `normalize_schema` writes it.
                required.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
                out.insert("required".into(), Value::Array(required));
            }
            Value::Object(out)
        }
        Value::Object(_) => {
            let (mut schema, _) = normalize_schema(params, "parameters", problems);
            if let Value::Object(m) = &mut schema {
                match m.get("type") {
                    Some(Value::String(t)) if t == "object" => {
                        m.entry("properties")
                            .or_insert_with(|| Value::Object(Map::new()));
                    }
                    None if m.contains_key("properties") => {
                        m.insert("type".into(), Value::String("object".into()));
                    }
                    other => problems.problems.push(format!(
                        "parameters: the arguments schema must be of type object, not {}",
                        other.map_or_else(|| "untyped".to_owned(), ToString::to_string)
                    )),
                }
            }
            schema
        }
        other => {
            problems.problems.push(format!(
                "parameters is {}, not an object",
                super::model::kind_of(other)
            ));
            empty_object()
        }
    };
    (schema, notes)
}

fn empty_object() -> Value {
    serde_json::json!({"type": "object", "properties": {}})
}

/// A flat map of parameter name to parameter schema (no `type: "object"` / `properties`).
fn is_flat_map(m: &Map<String, Value>) -> bool {
    !m.contains_key("properties")
        && !matches!(m.get("type"), Some(Value::String(_) | Value::Array(_)))
        && m.values().all(|v| {
            v.as_object()
                .is_some_and(|o| o.contains_key("type") || o.contains_key("description"))
        })
}

/// Normalises one (sub)schema recursively: `(schema, optional)`; `optional` when its type
/// spelling said so (`str, optional`).
fn normalize_schema(v: &Value, path: &str, problems: &mut Notes) -> (Value, bool) {
    let Value::Object(m) = v else {
        problems.problems.push(format!(
            "{path} is {}, not a schema object",
            super::model::kind_of(v)
        ));
        return (Value::Object(Map::new()), false);
    };
    // Shallow: properties and items are normalised below into their own places.
    let mut out: Map<String, Value> = m
        .iter()
        .map(|(k, v)| match k.as_str() {
            "properties" | "items" if v.is_object() => (k.clone(), Value::Null),
            _ => (k.clone(), v.clone()),
        })
        .collect();
    let mut optional_children: Vec<String> = Vec::new();
    let mut optional = false;
    if let Some(t) = m.get("type") {
        match t {
            Value::String(s) => match parse_type(s) {
                Some((spec, opt)) => {
                    apply(&spec, &mut out);
                    optional = opt;
                    if out.get("type").and_then(Value::as_str) != Some(s.as_str()) {
                        problems.spellings.push((path.to_owned(), s.clone()));
                    }
                }
                None => problems
                    .problems
                    .push(format!("{path}.type: unknown type {s:?}")),
            },
            Value::Array(items) => {
                let mut names = Vec::new();
                for item in items {
                    match item.as_str().and_then(parse_type) {
                        Some((TypeSpec::Named(n), _)) => names.push(Value::String(n.to_owned())),
                        Some((TypeSpec::Array(_), _)) => names.push(Value::String("array".into())),
                        _ => problems
                            .problems
                            .push(format!("{path}.type: unknown type {item}")),
                    }
                }
                out.insert("type".into(), Value::Array(names));
            }
            other => problems.problems.push(format!(
                "{path}.type is {}, not a string",
                super::model::kind_of(other)
            )),
        }
    }
    if let Some(props) = m.get("properties") {
        match props {
            Value::Object(pm) => {
                let mut np = Map::new();
                for (k, pv) in pm {
                    let (s, opt) =
                        normalize_schema(pv, &format!("{path}.properties.{k}"), problems);
                    if opt {
                        optional_children.push(k.clone());
                    }
                    np.insert(k.clone(), s);
                }
                out.insert("properties".into(), Value::Object(np));
            }
            other => problems.problems.push(format!(
                "{path}.properties is {}, not an object",
                super::model::kind_of(other)
            )),
        }
    }
    if let Some(items) = m.get("items") {
        if items.is_object() {
            let (s, _) = normalize_schema(items, &format!("{path}.items"), problems);
            out.insert("items".into(), s);
        }
    }
    match required(m, &optional_children, path, problems) {
        Some(r) => {
            out.insert("required".into(), r);
        }
        None => {
            out.remove("required");
        }
    }
    if m.get("required").and_then(Value::as_bool) == Some(false) {
        optional = true;
    }
    (Value::Object(out), optional)
}

/// A schema's `required`, normalised: the names as a sorted set without the children whose
/// spelling said optional; `None` when nothing is required.
fn required(
    m: &Map<String, Value>,
    optional_children: &[String],
    path: &str,
    problems: &mut Notes,
) -> Option<Value> {
    match m.get("required") {
        None | Some(Value::Bool(_)) => None,
        Some(Value::Array(names)) => {
            let mut req: Vec<String> = Vec::new();
            for n in names {
                match n.as_str() {
                    Some(s) if !optional_children.iter().any(|o| o == s) => {
                        if !req.iter().any(|r| r == s) {
                            req.push(s.to_owned());
                        }
                    }
                    Some(_) => {}
                    None => problems
                        .problems
                        .push(format!("{path}.required holds {n}, not a name")),
                }
            }
            if let Some(Value::Object(pm)) = m.get("properties") {
                for r in &req {
                    if !pm.contains_key(r) {
                        problems.problems.push(format!(
                            "{path}.required names {r:?}, which is not a property"
                        ));
                    }
                }
            }
            req.sort();
            (!req.is_empty()).then(|| Value::Array(req.into_iter().map(Value::String).collect()))
        }
        Some(other) => {
            problems.problems.push(format!(
                "{path}.required is {}, not an array",
                super::model::kind_of(other)
            ));
            None
        }
    }
}

/// The Python spelling xLAM-style flat parameter maps use for a canonical type; `None` when the
/// schema's `type` cannot be written that way.
#[must_use]
pub fn python_spelling(schema: &Map<String, Value>) -> Option<String> {
    fn name(t: &str) -> Option<&'static str> {
        Some(match t {
            "string" => "str",
            "integer" => "int",
            "number" => "float",
            "boolean" => "bool",
            "array" => "list",
            "object" => "dict",
            "null" => "None",
            _ => return None,
        })
    }
    match schema.get("type") {
        None => Some("Any".into()),
        Some(Value::String(t)) => name(t).map(str::to_owned),
        Some(Value::Array(ts)) => {
            let names: Option<Vec<&str>> = ts.iter().map(|t| t.as_str().and_then(name)).collect();
            let names = names?;
            if names.len() < 2 {
                return None;
            }
            Some(format!("Union[{}]", names.join(", ")))
        }
        Some(_) => None,
    }
}
