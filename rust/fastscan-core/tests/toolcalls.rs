//! Tool-call records: every format pair round trips a record every format can hold; losses are
//! named; the checker's rules fire on the cases they describe.

use fastscan_core::toolcalls::{check_record, convert_record, read_record, Format, NotConverted};
use serde_json::json;

/// A record every format can hold: one user query, one call, no ids, no text beside the call.
fn simple() -> String {
    json!({
        "tools": [{"type": "function", "function": {
            "name": "get_weather", "description": "Weather for a city",
            "parameters": {"type": "object", "properties": {
                "city": {"type": "string", "description": "City name"},
                "days": {"type": "integer"},
                "units": {"type": "string", "enum": ["c", "f"]},
                "tags": {"type": "array", "items": {"type": "string"}}
            }, "required": ["city"]}}}],
        "messages": [
            {"role": "user", "content": "Weather in Paris for 3 days?"},
            {"role": "assistant", "content": null, "tool_calls": [{"type": "function", "function": {
                "name": "get_weather", "arguments": "{\"city\": \"Paris\", \"days\": 3, \"tags\": [\"a\"]}"}}]}
        ]
    })
    .to_string()
}

#[test]
fn every_pair_round_trips_a_simple_record() {
    let (_, want) = read_record(simple().as_bytes(), Some(Format::Openai)).unwrap();
    for a in Format::ALL {
        let written_a = convert_record(simple().as_bytes(), Some(Format::Openai), a, &[])
            .unwrap_or_else(|e| panic!("openai -> {}: {e:?}", a.name()));
        for b in Format::ALL {
            let written_b = convert_record(written_a.json.as_bytes(), Some(a), b, &[])
                .unwrap_or_else(|e| {
                    panic!("{} -> {}: {e:?}\n{}", a.name(), b.name(), written_a.json)
                });
            let back = convert_record(written_b.json.as_bytes(), Some(b), a, &[])
                .unwrap_or_else(|e| panic!("{} -> {} -> {}: {e:?}", a.name(), b.name(), a.name()));
            let (_, got) = read_record(back.json.as_bytes(), Some(a)).unwrap();
            assert_eq!(
                got.canonical(),
                want.canonical(),
                "{} -> {} -> {}",
                a.name(),
                b.name(),
                a.name()
            );
            // Detection finds a format that reads the record the same.
            let (_, detected) = read_record(written_b.json.as_bytes(), None).unwrap();
            assert_eq!(
                detected.canonical(),
                want.canonical(),
                "detected {}",
                b.name()
            );
        }
    }
}

#[test]
fn a_loss_is_named_and_refused_unless_allowed() {
    let rec = json!({"messages": [
        {"role": "user", "content": "two"},
        {"role": "assistant", "content": "calling", "tool_calls": [
            {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{}"}},
            {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{}"}}]},
        {"role": "tool", "tool_call_id": "a", "content": "1"},
        {"role": "tool", "tool_call_id": "b", "content": "2"}
    ]})
    .to_string();
    let err = convert_record(rec.as_bytes(), None, Format::Hermes, &[]).unwrap_err();
    assert!(
        matches!(err, NotConverted::Loss(ref l) if l.code == "call_ids"),
        "{err:?}"
    );
    let ok = convert_record(rec.as_bytes(), None, Format::Hermes, &["call_ids".into()]).unwrap();
    assert_eq!(ok.lost, vec!["call_ids"]);
    let err =
        convert_record(rec.as_bytes(), None, Format::Glaive, &["call_ids".into()]).unwrap_err();
    assert!(
        matches!(err, NotConverted::Loss(ref l) if l.code == "parallel_calls"),
        "{err:?}"
    );
    // YAML and OpenAI hold everything.
    for to in [Format::Yaml, Format::Openai, Format::Xml] {
        let r = convert_record(rec.as_bytes(), None, to, &[]);
        if to == Format::Xml {
            assert!(matches!(r, Err(NotConverted::Loss(ref l)) if l.code == "call_ids"));
        } else {
            assert!(r.is_ok(), "{}: {r:?}", to.name());
        }
    }
}

fn rules(rec: &serde_json::Value) -> Vec<&'static str> {
    let c = check_record(rec.to_string().as_bytes(), None).unwrap();
    c.violations.iter().map(|v| v.rule).collect()
}

#[test]
fn each_rule_fires_on_its_case() {
    let tools = json!([{"type": "function", "function": {"name": "f", "parameters": {"type": "object",
        "properties": {"n": {"type": "integer"}, "x": {"type": "number"}, "u": {"type": "string", "enum": ["a"]},
        "l": {"type": "array", "items": {"type": "integer"}}}, "required": ["n"]}}}]);
    let call = |args: &str| {
        json!({"tools": tools, "messages": [{"role": "user", "content": "q"},
        {"role": "assistant", "tool_calls": [{"id": "1", "type": "function", "function": {"name": "f", "arguments": args}}]}]})
    };
    assert!(rules(&call(r#"{"n": 1, "x": 2, "u": "a", "l": [1]}"#)).is_empty());
    assert_eq!(rules(&call(r#"{"n": true}"#)), vec!["type_mismatch"]);
    assert_eq!(rules(&call(r#"{"n": 1.0}"#)), vec!["type_mismatch"]);
    assert_eq!(
        rules(&call(r#"{"n": 1, "l": [1, "2"]}"#)),
        vec!["type_mismatch"]
    );
    assert_eq!(rules(&call(r#"{"n": 1, "u": "b"}"#)), vec!["enum_mismatch"]);
    assert_eq!(rules(&call(r#"{"x": 1}"#)), vec!["missing_required"]);
    assert_eq!(
        rules(&call(r#"{"n": 1, "zz": 1}"#)),
        vec!["unknown_argument"]
    );
    assert_eq!(rules(&call(r#"{"n": 1"#)), vec!["invalid_arguments"]);
    assert_eq!(rules(&call("[1]")), vec!["invalid_arguments"]);
}
