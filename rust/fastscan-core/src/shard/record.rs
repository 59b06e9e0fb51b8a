//! Pulls the text field out of one JSON record without building the whole value.
//!
//! The record is parsed completely (so malformed JSON is always caught), but every value other
//! than the one on the field path is skipped with `IgnoredAny`, and the text itself is
//! borrowed from the line when it holds no escapes.

use std::borrow::Cow;
use std::fmt;

use serde::de::{DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::judge::RejectReason;

/// A dotted field path: `text`, or `meta.body` for `{"meta": {"body": ...}}`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldPath(Vec<String>);

impl FieldPath {
    /// Parses `a.b.c`; empty segments are an error.
    pub fn parse(path: &str) -> Result<FieldPath, String> {
        let parts: Vec<String> = path.split('.').map(str::to_owned).collect();
        if parts.iter().any(String::is_empty) {
            return Err(format!("invalid field path {path:?}: empty segment"));
        }
        Ok(FieldPath(parts))
    }

    /// The path's segments.
    #[must_use]
    pub fn segments(&self) -> &[String] {
        &self.0
    }
}

impl fmt::Display for FieldPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.join("."))
    }
}

/// What the walk found at the end of the path.
enum Found<'a> {
    Text(Cow<'a, str>),
    Missing,
    /// The JSON type found instead of a string.
    NotString(&'static str),
}

/// A record that could not give its text: the reason and a message for the rejects file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordError {
    pub reason: RejectReason,
    pub detail: String,
}

/// The text at `path` in the JSON object `line`.
pub fn extract_text<'a>(line: &'a [u8], path: &FieldPath) -> Result<Cow<'a, str>, RecordError> {
    let line = std::str::from_utf8(line).map_err(|e| RecordError {
        reason: RejectReason::InvalidUtf8,
        detail: e.to_string(),
    })?;
    // A byte order mark (what some tools put at the start of a UTF-8 file) is not JSON.
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    let mut de = serde_json::Deserializer::from_str(line);
    let found = Walk {
        path: path.segments(),
    }
    .deserialize(&mut de)
    .and_then(|found| de.end().map(|()| found))
    .map_err(|e| RecordError {
        reason: RejectReason::InvalidJson,
        detail: e.to_string(),
    })?;
    match found {
        Found::Text(text) => Ok(text),
        Found::Missing => Err(RecordError {
            reason: RejectReason::MissingField,
            detail: format!("no string field {path}"),
        }),
        Found::NotString(kind) => Err(RecordError {
            reason: RejectReason::NotAString,
            detail: format!("field {path} is {kind}, not a string"),
        }),
    }
}

/// Walks `path` (the remaining segments) into the value being deserialized.
struct Walk<'p> {
    path: &'p [String],
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = Found<'de>;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Found<'de>, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = Found<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Found<'de>, E> {
        Ok(self.leaf(|| Cow::Borrowed(v)))
    }

    fn visit_str<E>(self, v: &str) -> Result<Found<'de>, E> {
        Ok(self.leaf(|| Cow::Owned(v.to_owned())))
    }

    fn visit_string<E>(self, v: String) -> Result<Found<'de>, E> {
        Ok(self.leaf(|| Cow::Owned(v)))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Found<'de>, E> {
        Ok(self.other("a boolean"))
    }

    fn visit_i64<E>(self, _: i64) -> Result<Found<'de>, E> {
        Ok(self.other("a number"))
    }

    fn visit_u64<E>(self, _: u64) -> Result<Found<'de>, E> {
        Ok(self.other("a number"))
    }

    fn visit_f64<E>(self, _: f64) -> Result<Found<'de>, E> {
        Ok(self.other("a number"))
    }

    fn visit_unit<E>(self) -> Result<Found<'de>, E> {
        Ok(self.other("null"))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Found<'de>, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(self.other("an array"))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Found<'de>, A::Error> {
        let Some((head, rest)) = self.path.split_first() else {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(Found::NotString("an object"));
        };
        // Like Python's json module, the last of duplicate keys wins.
        let mut found = Found::Missing;
        while let Some(is_head) = map.next_key_seed(KeyIs(head))? {
            if is_head {
                found = map.next_value_seed(Walk { path: rest })?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

impl<'de> Walk<'_> {
    /// A scalar: the text when the path ends here, otherwise the path is missing.
    fn leaf(&self, text: impl FnOnce() -> Cow<'de, str>) -> Found<'de> {
        if self.path.is_empty() {
            Found::Text(text())
        } else {
            Found::Missing
        }
    }

    fn other(&self, kind: &'static str) -> Found<'de> {
        if self.path.is_empty() {
            Found::NotString(kind)
        } else {
            Found::Missing
        }
    }
}

/// Deserializes a map key into "is it `name`?" without allocating for plain keys.
struct KeyIs<'n>(&'n str);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = bool;

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<bool, D::Error> {
        de.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyIs<'_> {
    type Value = bool;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E>(self, v: &str) -> Result<bool, E> {
        Ok(v == self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_byte_order_mark_is_not_a_reject() {
        let path = FieldPath::parse("text").unwrap();
        let line = "\u{feff}{\"text\": \"hi\"}".as_bytes();
        assert_eq!(extract_text(line, &path).unwrap(), "hi");
    }

    fn get(line: &str, path: &str) -> Result<String, RejectReason> {
        extract_text(line.as_bytes(), &FieldPath::parse(path).unwrap())
            .map(Cow::into_owned)
            .map_err(|e| e.reason)
    }

    #[test]
    fn finds_plain_escaped_and_nested_text() {
        assert_eq!(get(r#"{"id": 1, "text": "hi"}"#, "text"), Ok("hi".into()));
        assert_eq!(
            get(r#"{"text": "a\"b\u00e9\n"}"#, "text"),
            Ok("a\"b\u{e9}\n".into())
        );
        assert_eq!(
            get(
                r#"{"meta": {"x": [1, {"body": 2}], "body": "deep"}}"#,
                "meta.body"
            ),
            Ok("deep".into())
        );
        assert_eq!(get(r#"{"text": "a", "text": "b"}"#, "text"), Ok("b".into()));
        assert!(matches!(
            extract_text(br#"{"text": "plain"}"#, &FieldPath::parse("text").unwrap()),
            Ok(Cow::Borrowed("plain"))
        ));
    }

    #[test]
    fn classifies_problems() {
        let cases = [
            (r#"{"text": "a"#, "text", RejectReason::InvalidJson),
            (r#"{"text": "a"} x"#, "text", RejectReason::InvalidJson),
            (r#"{"body": "a"}"#, "text", RejectReason::MissingField),
            (r#"["text"]"#, "text", RejectReason::MissingField),
            (r#"{"text": 3}"#, "text", RejectReason::NotAString),
            (r#"{"text": null}"#, "text", RejectReason::NotAString),
            (r#"{"text": {"a": 1}}"#, "text", RejectReason::NotAString),
            (
                r#"{"meta": "flat"}"#,
                "meta.body",
                RejectReason::MissingField,
            ),
        ];
        for (line, path, reason) in cases {
            assert_eq!(get(line, path), Err(reason), "{line}");
        }
        let bad = b"{\"text\": \"\xff\"}";
        assert_eq!(
            extract_text(bad, &FieldPath::parse("text").unwrap()).map_err(|e| e.reason),
            Err(RejectReason::InvalidUtf8)
        );
        assert!(FieldPath::parse("a..b").is_err());
    }
}
