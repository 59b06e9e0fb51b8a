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

/// What the walk found at the end of a path.
#[derive(Clone)]
enum Found<'a> {
    Text(Cow<'a, str>),
    /// A number, as its JSON text (an id may be one; a text may not).
    Number(String),
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
    extract_fields(line, path, None).map(|(text, _)| text)
}

/// The text at `path` and, with `id`, the record's id (a string, or a number as its JSON
/// text; None when absent or of another type), in one parse of `line`.
pub fn extract_fields<'a>(
    line: &'a [u8],
    path: &FieldPath,
    id: Option<&FieldPath>,
) -> Result<(Cow<'a, str>, Option<Cow<'a, str>>), RecordError> {
    let line = std::str::from_utf8(line).map_err(|e| RecordError {
        reason: RejectReason::InvalidUtf8,
        detail: e.to_string(),
    })?;
    // A byte order mark (what some tools put at the start of a UTF-8 file) is not JSON.
    let line = line.strip_prefix('\u{feff}').unwrap_or(line);
    let mut de = serde_json::Deserializer::from_str(line);
    let [found, id] = Walk {
        paths: [Some(path.segments()), id.map(FieldPath::segments)],
    }
    .deserialize(&mut de)
    .and_then(|found| de.end().map(|()| found))
    .map_err(|e| RecordError {
        reason: RejectReason::InvalidJson,
        detail: e.to_string(),
    })?;
    let id = match id {
        Found::Text(text) => Some(text),
        Found::Number(number) => Some(Cow::Owned(number)),
        _ => None,
    };
    match found {
        Found::Text(text) => Ok((text, id)),
        Found::Missing => Err(RecordError {
            reason: RejectReason::MissingField,
            detail: format!("no string field {path}"),
        }),
        Found::Number(_) => Err(RecordError {
            reason: RejectReason::NotAString,
            detail: format!("field {path} is a number, not a string"),
        }),
        Found::NotString(kind) => Err(RecordError {
            reason: RejectReason::NotAString,
            detail: format!("field {path} is {kind}, not a string"),
        }),
    }
}

/// Walks up to two paths (the remaining segments; None: not followed) into the value being
/// deserialized, in one pass.
struct Walk<'p> {
    paths: [Option<&'p [String]>; 2],
}

impl<'de> DeserializeSeed<'de> for Walk<'_> {
    type Value = [Found<'de>; 2];

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<Self::Value, D::Error> {
        de.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Walk<'_> {
    type Value = [Found<'de>; 2];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
        Ok(self.leaf(|| Found::Text(Cow::Borrowed(v))))
    }

    fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
        Ok(self.leaf(|| Found::Text(Cow::Owned(v.to_owned()))))
    }

    fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
        Ok(self.leaf(|| Found::Text(Cow::Owned(v))))
    }

    fn visit_bool<E>(self, _: bool) -> Result<Self::Value, E> {
        Ok(self.leaf(|| Found::NotString("a boolean")))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Self::Value, E> {
        Ok(self.leaf(|| Found::Number(v.to_string())))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Self::Value, E> {
        Ok(self.leaf(|| Found::Number(v.to_string())))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Self::Value, E> {
        Ok(self.leaf(|| Found::Number(v.to_string())))
    }

    fn visit_unit<E>(self) -> Result<Self::Value, E> {
        Ok(self.leaf(|| Found::NotString("null")))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(self.leaf(|| Found::NotString("an array")))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
        let mut found = self.leaf(|| Found::NotString("an object"));
        // The path heads to look for here, and what follows each.
        let heads = self.paths.map(|p| {
            p.and_then(|p| p.split_first())
                .map(|(head, _)| head.as_str())
        });
        let rests = self
            .paths
            .map(|p| p.and_then(|p| p.split_first()).map(|(_, rest)| rest));
        if heads == [None, None] {
            while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
            return Ok(found);
        }
        // Like Python's json module, the last of duplicate keys wins.
        while let Some(hits) = map.next_key_seed(KeyIs(heads))? {
            if hits == [false, false] {
                map.next_value::<IgnoredAny>()?;
                continue;
            }
            let paths = [0, 1].map(|i| if hits[i] { rests[i] } else { None });
            let [a, b] = map.next_value_seed(Walk { paths })?;
            for (i, value) in [a, b].into_iter().enumerate() {
                if hits[i] {
                    found[i] = value;
                }
            }
        }
        Ok(found)
    }
}

impl<'de> Walk<'_> {
    /// A value: what each path that ends here finds (`value`, made once, and only when a
    /// path ends here); a path that goes on finds nothing in a scalar; a path not followed
    /// finds nothing.
    fn leaf(&self, value: impl FnOnce() -> Found<'de>) -> [Found<'de>; 2] {
        match self.paths.map(|p| matches!(p, Some([]))) {
            [true, true] => {
                let found = value();
                [found.clone(), found]
            }
            [true, false] => [value(), Found::Missing],
            [false, true] => [Found::Missing, value()],
            [false, false] => [Found::Missing, Found::Missing],
        }
    }
}

/// Deserializes a map key into "is it each of these names?" without allocating for plain
/// keys.
struct KeyIs<'n>([Option<&'n str>; 2]);

impl<'de> DeserializeSeed<'de> for KeyIs<'_> {
    type Value = [bool; 2];

    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<[bool; 2], D::Error> {
        de.deserialize_str(self)
    }
}

impl Visitor<'_> for KeyIs<'_> {
    type Value = [bool; 2];

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a key")
    }

    fn visit_str<E>(self, v: &str) -> Result<[bool; 2], E> {
        Ok(self.0.map(|name| name == Some(v)))
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
    fn finds_the_id_in_the_same_pass() {
        let text = FieldPath::parse("text").unwrap();
        let id = |line: &str, path: &str| {
            let path = FieldPath::parse(path).unwrap();
            extract_fields(line.as_bytes(), &text, Some(&path))
                .map(|(t, id)| (t.into_owned(), id.map(Cow::into_owned)))
                .map_err(|e| e.reason)
        };
        let some = |t: &str, i: &str| Ok((t.to_owned(), Some(i.to_owned())));
        assert_eq!(id(r#"{"id": "a-1", "text": "x"}"#, "id"), some("x", "a-1"));
        assert_eq!(id(r#"{"text": "x", "id": 17}"#, "id"), some("x", "17"));
        assert_eq!(
            id(r#"{"meta": {"id": 2.5}, "text": "x"}"#, "meta.id"),
            some("x", "2.5")
        );
        assert_eq!(id(r#"{"text": "x"}"#, "id"), Ok(("x".to_owned(), None)));
        assert_eq!(
            id(r#"{"text": "x", "id": [1]}"#, "id"),
            Ok(("x".to_owned(), None))
        );
        // Both paths through one object, and the text path as the id path.
        let both = FieldPath::parse("m.t").unwrap();
        let got = extract_fields(
            br#"{"m": {"i": "k", "t": "v"}}"#,
            &both,
            Some(&FieldPath::parse("m.i").unwrap()),
        )
        .unwrap();
        assert_eq!((got.0.as_ref(), got.1.as_deref()), ("v", Some("k")));
        assert_eq!(id(r#"{"text": "x"}"#, "text"), some("x", "x"));
        // A missing id never makes a reject; a bad text still does.
        assert_eq!(id(r#"{"id": 1}"#, "id"), Err(RejectReason::MissingField));
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
