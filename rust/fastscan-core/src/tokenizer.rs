//! Decoding GPT-2-style byte-level BPE token ids back to text (ClimbLab ships token ids).
//!
//! Byte-level BPE maps every byte to a printable character before merging, so a token's
//! string in the vocabulary spells its bytes in that alphabet. Decoding a document is the
//! concatenation of its tokens' bytes; the bytes are UTF-8 text except where a model split a
//! character at a document edge, which decodes with U+FFFD (as `tokenizer.decode` does).

use std::collections::HashMap;

use crate::error::{CoreError, Result};

/// GPT-2's byte-to-character table: printable Latin-1 bytes stand for themselves, the others
/// for the code points from U+0100 on, in byte order.
fn byte_for_char() -> HashMap<char, u8> {
    let mut table = HashMap::with_capacity(256);
    let mut next = 256u32;
    for b in 0..=255u8 {
        let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        let c = if printable {
            char::from(b)
        } else {
            let c = char::from_u32(next).expect("U+0100..U+0143 are chars");
            next += 1;
            c
        };
        table.insert(c, b);
    }
    table
}

/// A vocabulary: the bytes of every token id.
#[derive(Debug, Clone)]
pub struct BpeDecoder {
    tokens: Vec<Option<Vec<u8>>>,
}

impl BpeDecoder {
    /// Loads `tokenizer.json` (Hugging Face: `model.vocab` plus `added_tokens`) or a GPT-2
    /// `vocab.json` (a `{token: id}` object), told apart by their shape.
    pub fn from_json(text: &str) -> Result<BpeDecoder> {
        let value: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| CoreError::Config(format!("tokenizer file is not JSON: {e}")))?;
        let (vocab, added) = match value.get("model").and_then(|m| m.get("vocab")) {
            Some(vocab) => (vocab, value.get("added_tokens")),
            None => (&value, None),
        };
        let vocab = vocab.as_object().ok_or_else(|| {
            CoreError::Config("tokenizer vocabulary is not a {token: id} object".into())
        })?;
        let table = byte_for_char();
        let mut tokens: Vec<Option<Vec<u8>>> = Vec::new();
        let mut put = |id: &serde_json::Value, bytes: Vec<u8>, name: &str| -> Result<()> {
            let id = id
                .as_u64()
                .and_then(|i| usize::try_from(i).ok())
                .filter(|&i| i < 1 << 24)
                .ok_or_else(|| CoreError::Config(format!("token {name:?} has a bad id {id}")))?;
            if tokens.len() <= id {
                tokens.resize(id + 1, None);
            }
            tokens[id] = Some(bytes);
            Ok(())
        };
        for (token, id) in vocab {
            let bytes = token
                .chars()
                .map(|c| table.get(&c).copied())
                .collect::<Option<Vec<u8>>>()
                .ok_or_else(|| {
                    CoreError::Config(format!(
                        "token {token:?} is not in the byte-level alphabet (not a GPT-2-style vocabulary?)"
                    ))
                })?;
            put(id, bytes, token)?;
        }
        // Added (special) tokens are stored as plain text, not in the byte alphabet.
        for item in added.and_then(|a| a.as_array()).into_iter().flatten() {
            if let (Some(id), Some(content)) =
                (item.get("id"), item.get("content").and_then(|c| c.as_str()))
            {
                put(id, content.as_bytes().to_vec(), content)?;
            }
        }
        if tokens.is_empty() {
            return Err(CoreError::Config("tokenizer vocabulary is empty".into()));
        }
        Ok(BpeDecoder { tokens })
    }

    /// Number of id slots (the largest id + 1).
    #[must_use]
    pub fn vocab_size(&self) -> usize {
        self.tokens.len()
    }

    /// Appends the bytes of `ids` to `out`; on an unknown id, returns it and leaves `out`
    /// with the bytes decoded so far.
    pub fn decode_into(
        &self,
        ids: impl IntoIterator<Item = i64>,
        out: &mut Vec<u8>,
    ) -> std::result::Result<(), i64> {
        for id in ids {
            let bytes = usize::try_from(id)
                .ok()
                .and_then(|i| self.tokens.get(i))
                .and_then(Option::as_ref)
                .ok_or(id)?;
            out.extend_from_slice(bytes);
        }
        Ok(())
    }

    /// The text of `ids` (U+FFFD for bytes that are not UTF-8), or the first unknown id.
    pub fn decode(&self, ids: impl IntoIterator<Item = i64>) -> std::result::Result<String, i64> {
        let mut bytes = Vec::new();
        self.decode_into(ids, &mut bytes)?;
        Ok(String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_byte_level_tokens() {
        // "Ġ" is the space byte, "Ċ" the newline, "Ã©" the two bytes of "é".
        let vocab = r#"{"model": {"vocab": {"Hello": 0, "Ġworld": 1, "Ċ": 2, "Ã©": 3}},
                        "added_tokens": [{"id": 4, "content": "<|endoftext|>"}]}"#;
        let d = BpeDecoder::from_json(vocab).unwrap();
        assert_eq!(
            d.decode([0, 1, 2, 3, 4]).unwrap(),
            "Hello world\né<|endoftext|>"
        );
        assert_eq!(d.decode([0, 9]), Err(9));
        assert_eq!(d.decode([-1]), Err(-1));
        // A plain vocab.json works too; half a character decodes as U+FFFD.
        let d = BpeDecoder::from_json(r#"{"Ã": 0, "©": 1}"#).unwrap();
        assert_eq!(d.decode([0, 1]).unwrap(), "é");
        assert_eq!(d.decode([0]).unwrap(), "\u{fffd}");
        assert!(BpeDecoder::from_json(r#"{"日本": 0}"#).is_err());
    }
}
