//! Python literals and call lists, as `ToolACE` writes calls (`[f(a=1, b="x"), g()]`) and as
//! Glaive and BFCL write values: a small parser onto JSON values and the renderer back.
//!
//! Values: strings (single or double quotes, the usual escapes), integers, floats, `True` /
//! `False` / `None` (and JSON's `true` / `false` / `null`), lists and tuples (arrays), dicts
//! with string keys (objects). Anything else is an error naming the position.

use serde_json::{Map, Number, Value};

/// A parse error at a byte offset.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub at: usize,
    pub message: String,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at byte {}", self.message, self.at)
    }
}

struct Parser<'a> {
    s: &'a [u8],
    text: &'a str,
    pos: usize,
    depth: usize,
}

const MAX_DEPTH: usize = 128;

impl<'a> Parser<'a> {
    fn new(text: &'a str) -> Self {
        Parser {
            s: text.as_bytes(),
            text,
            pos: 0,
            depth: 0,
        }
    }

    fn err<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        Err(ParseError {
            at: self.pos,
            message: message.into(),
        })
    }

    fn ws(&mut self) {
        while self.pos < self.s.len() && self.s[self.pos].is_ascii_whitespace() {
            self.pos += 1;
        }
    }

    fn peek(&self) -> Option<u8> {
        self.s.get(self.pos).copied()
    }

    fn eat(&mut self, b: u8) -> bool {
        self.ws();
        if self.peek() == Some(b) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    fn expect(&mut self, b: u8) -> Result<(), ParseError> {
        if self.eat(b) {
            Ok(())
        } else {
            self.err(format!("expected {:?}", b as char))
        }
    }

    fn ident(&mut self) -> Option<&'a str> {
        self.ws();
        let start = self.pos;
        while self.pos < self.s.len()
            && (self.s[self.pos].is_ascii_alphanumeric() || matches!(self.s[self.pos], b'_' | b'.'))
        {
            self.pos += 1;
        }
        (self.pos > start && !self.s[start].is_ascii_digit()).then(|| &self.text[start..self.pos])
    }

    fn value(&mut self) -> Result<Value, ParseError> {
        self.ws();
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return self.err("nested too deeply");
        }
        let v = match self.peek() {
            None => self.err("unexpected end"),
            Some(b'"' | b'\'') => self.string().map(Value::String),
            Some(b'[') => {
                self.pos += 1;
                self.sequence(b']').map(Value::Array)
            }
            Some(b'(') => {
                self.pos += 1;
                self.sequence(b')').map(Value::Array)
            }
            Some(b'{') => {
                self.pos += 1;
                self.dict()
            }
            Some(b'-' | b'+' | b'0'..=b'9' | b'.') => self.number(),
            Some(_) => {
                let start = self.pos;
                match self.ident() {
                    Some("True" | "true") => Ok(Value::Bool(true)),
                    Some("False" | "false") => Ok(Value::Bool(false)),
                    Some("None" | "null") => Ok(Value::Null),
                    _ => {
                        self.pos = start;
                        self.err("expected a value")
                    }
                }
            }
        };
        self.depth -= 1;
        v
    }

    fn sequence(&mut self, close: u8) -> Result<Vec<Value>, ParseError> {
        let mut items = Vec::new();
        loop {
            if self.eat(close) {
                return Ok(items);
            }
            items.push(self.value()?);
            if !self.eat(b',') {
                self.expect(close)?;
                return Ok(items);
            }
        }
    }

    fn dict(&mut self) -> Result<Value, ParseError> {
        let mut m = Map::new();
        loop {
            if self.eat(b'}') {
                return Ok(Value::Object(m));
            }
            let key = match self.value()? {
                Value::String(s) => s,
                Value::Number(n) => n.to_string(),
                Value::Bool(b) => b.to_string(),
                _ => return self.err("a dict key must be a string or a number"),
            };
            self.expect(b':')?;
            let v = self.value()?;
            m.insert(key, v);
            if !self.eat(b',') {
                self.expect(b'}')?;
                return Ok(Value::Object(m));
            }
        }
    }

    fn number(&mut self) -> Result<Value, ParseError> {
        let start = self.pos;
        while self.pos < self.s.len()
            && matches!(
                self.s[self.pos],
                b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E' | b'_'
            )
        {
            self.pos += 1;
        }
        let t: String = self.text[start..self.pos]
            .chars()
            .filter(|c| *c != '_')
            .collect();
        let float = t.contains(['.', 'e', 'E']);
        if !float {
            if let Ok(i) = t.parse::<i64>() {
                return Ok(Value::Number(i.into()));
            }
            if let Ok(u) = t.parse::<u64>() {
                return Ok(Value::Number(u.into()));
            }
        }
        if let Some(n) = t.parse::<f64>().ok().and_then(Number::from_f64) {
            Ok(Value::Number(n))
        } else {
            self.pos = start;
            self.err(format!("bad number {t:?}"))
        }
    }

    fn string(&mut self) -> Result<String, ParseError> {
        let quote = self.s[self.pos];
        self.pos += 1;
        let mut out = String::new();
        loop {
            let Some(rest) = self.text.get(self.pos..) else {
                return self.err("unterminated string");
            };
            let Some(i) = rest.find([quote as char, '\\']) else {
                return self.err("unterminated string");
            };
            out.push_str(&rest[..i]);
            self.pos += i;
            if self.s[self.pos] == quote {
                self.pos += 1;
                return Ok(out);
            }
            self.pos += 1;
            let Some(e) = self.peek() else {
                return self.err("unterminated string");
            };
            self.pos += 1;
            match e {
                b'n' => out.push('\n'),
                b't' => out.push('\t'),
                b'r' => out.push('\r'),
                b'b' => out.push('\u{8}'),
                b'f' => out.push('\u{c}'),
                b'0' => out.push('\0'),
                b'/' => out.push('/'),
                b'\\' | b'\'' | b'"' => out.push(e as char),
                b'\n' => {}
                b'x' => out.push(self.hex(2)?),
                b'u' => {
                    let c = self.hex_u32(4)?;
                    if (0xD800..0xDC00).contains(&c) && self.text[self.pos..].starts_with("\\u") {
                        self.pos += 2;
                        let low = self.hex_u32(4)?;
                        let code =
                            0x10000 + ((c - 0xD800) << 10) + (low.wrapping_sub(0xDC00) & 0x3FF);
                        out.push(char::from_u32(code).unwrap_or('\u{FFFD}'));
                    } else {
                        out.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                    }
                }
                b'U' => out.push(self.hex(8)?),
                _ => {
                    // Python keeps an unknown escape as written.
                    out.push('\\');
                    self.pos -= 1;
                }
            }
        }
    }

    fn hex_u32(&mut self, n: usize) -> Result<u32, ParseError> {
        let digits = self.text.get(self.pos..self.pos + n);
        match digits.and_then(|d| u32::from_str_radix(d, 16).ok()) {
            Some(v) => {
                self.pos += n;
                Ok(v)
            }
            None => self.err("bad escape"),
        }
    }

    fn hex(&mut self, n: usize) -> Result<char, ParseError> {
        let v = self.hex_u32(n)?;
        char::from_u32(v).map_or_else(|| self.err("bad escape"), Ok)
    }

    /// `name(k=v, ...)`; positional arguments are an error (no names to give them).
    fn call(&mut self) -> Result<ParsedCall, ParseError> {
        let Some(name) = self.ident() else {
            return self.err("expected a function name");
        };
        let name = name.to_owned();
        self.expect(b'(')?;
        let mut args = Map::new();
        loop {
            if self.eat(b')') {
                return Ok((name, args));
            }
            let Some(key) = self.ident() else {
                return self.err("expected an argument name (keyword arguments only)");
            };
            let key = key.to_owned();
            self.expect(b'=')?;
            let v = self.value()?;
            args.insert(key, v);
            if !self.eat(b',') {
                self.expect(b')')?;
                return Ok((name, args));
            }
        }
    }
}

/// Parses one Python literal (the whole text).
pub fn parse_value(text: &str) -> Result<Value, ParseError> {
    let mut p = Parser::new(text);
    let v = p.value()?;
    p.ws();
    if p.pos != p.s.len() {
        return p.err("unexpected text after the value");
    }
    Ok(v)
}

/// Parses one Python literal at the start of `text`: the value and the bytes it took.
pub fn parse_value_prefix(text: &str) -> Result<(Value, usize), ParseError> {
    let mut p = Parser::new(text);
    let v = p.value()?;
    Ok((v, p.pos))
}

/// One parsed call: the function name and its keyword arguments.
pub type ParsedCall = (String, Map<String, Value>);

/// Parses one call `name(k=v, ...)` at the start of `text`: the call and the bytes it took.
pub fn parse_call_prefix(text: &str) -> Result<(ParsedCall, usize), ParseError> {
    let mut p = Parser::new(text);
    let c = p.call()?;
    Ok((c, p.pos))
}

/// Parses `[f(a=1), g(b="x")]` (or one call without brackets): `(name, arguments)` per call.
pub fn parse_calls(text: &str) -> Result<Vec<ParsedCall>, ParseError> {
    let mut p = Parser::new(text);
    let bracketed = p.eat(b'[');
    let mut calls = Vec::new();
    loop {
        if bracketed && p.eat(b']') {
            break;
        }
        calls.push(p.call()?);
        if !p.eat(b',') {
            if bracketed {
                p.expect(b']')?;
            }
            break;
        }
    }
    p.ws();
    if p.pos != p.s.len() {
        return p.err("unexpected text after the calls");
    }
    Ok(calls)
}

/// Renders a JSON value as a Python literal that [`parse_value`] reads back equal.
#[must_use]
pub fn render_value(v: &Value) -> String {
    let mut out = String::new();
    render_into(v, &mut out);
    out
}

fn render_into(v: &Value, out: &mut String) {
    match v {
        Value::Null => out.push_str("None"),
        Value::Bool(true) => out.push_str("True"),
        Value::Bool(false) => out.push_str("False"),
        // JSON's string escapes are Python's too; numbers print alike.
        Value::Number(_) | Value::String(_) => out.push_str(&v.to_string()),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                render_into(item, out);
            }
            out.push(']');
        }
        Value::Object(m) => {
            out.push('{');
            for (i, (k, item)) in m.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push_str(": ");
                render_into(item, out);
            }
            out.push('}');
        }
    }
}

/// Whether `name` can be written as a Python keyword argument or function name (dots allowed
/// in function names, as `ToolACE` writes `module.func`).
#[must_use]
pub fn is_identifier(name: &str, dots: bool) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (dots && c == '.'))
        && !(dots && (name.ends_with('.') || name.contains("..")))
}

/// Renders calls as `[f(a=1), g(b="x")]`.
#[must_use]
pub fn render_calls<'a>(calls: impl Iterator<Item = (&'a str, &'a Map<String, Value>)>) -> String {
    let mut out = String::from("[");
    for (i, (name, args)) in calls.enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(name);
        out.push('(');
        for (j, (k, v)) in args.iter().enumerate() {
            if j > 0 {
                out.push_str(", ");
            }
            out.push_str(k);
            out.push('=');
            render_into(v, &mut out);
        }
        out.push(')');
    }
    out.push(']');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn calls_and_values_round_trip() {
        let calls = parse_calls(r#"[get_weather(city='Paris', days=3, opts={"u": "c"}, ok=True), x.y(l=[1, 2.5, None])]"#).unwrap();
        assert_eq!(calls[0].0, "get_weather");
        assert_eq!(calls[0].1["city"], json!("Paris"));
        assert_eq!(calls[0].1["ok"], json!(true));
        assert_eq!(calls[1].0, "x.y");
        assert_eq!(calls[1].1["l"], json!([1, 2.5, null]));
        let text = render_calls(calls.iter().map(|(n, a)| (n.as_str(), a)));
        assert_eq!(parse_calls(&text).unwrap(), calls);
        let v = json!({"s": "a'b\"c\\\n\u{e9}", "f": 1.0, "i": -3, "n": [true, {"k": null}]});
        assert_eq!(parse_value(&render_value(&v)).unwrap(), v);
    }

    #[test]
    fn bad_input_is_an_error() {
        assert!(parse_calls("[f(1)]").is_err());
        assert!(parse_calls("[f(a=)]").is_err());
        assert!(parse_value("'open").is_err());
        assert!(parse_value(&"[".repeat(1000)).is_err());
    }
}
