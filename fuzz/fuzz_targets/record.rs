//! The record extractor: any line, any dotted field path; a text or a reject, never a panic.
#![no_main]
use fastscan_core::shard::record::{extract_text, FieldPath};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(0);
    let (path, line) = data.split_at(split);
    let path = std::str::from_utf8(path).unwrap_or("text");
    if let Ok(path) = FieldPath::parse(if path.is_empty() { "text" } else { path }) {
        let _ = extract_text(line, &path);
    }
});
