//! Tool-call records and documents: any bytes read as a record (every format, detected or
//! named), checked, converted to every format (each conversion verified by reading it back),
//! and extracted from as a document; results or errors, never a panic.
#![no_main]
use fastscan_core::toolcalls::{check_record, convert_record, extract, Format};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let format = data.first().and_then(|b| Format::ALL.get(usize::from(*b) % 11).copied());
    let record = data.get(1..).unwrap_or_default();
    let _ = check_record(record, format);
    for to in Format::ALL {
        let _ = convert_record(record, format, to, &["call_ids".to_owned()]);
    }
    if let Ok(text) = std::str::from_utf8(record) {
        let _ = extract::extract(text);
    }
});
