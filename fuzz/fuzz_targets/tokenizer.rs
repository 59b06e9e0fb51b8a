//! The token decoder: any vocabulary JSON, any ids; bytes or an unknown id, never a panic.
#![no_main]
use fastscan_core::BpeDecoder;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let split = data.iter().position(|&b| b == 0).unwrap_or(data.len());
    let (json, ids) = data.split_at(split);
    let Ok(json) = std::str::from_utf8(json) else {
        return;
    };
    let Ok(decoder) = BpeDecoder::from_json(json) else {
        return;
    };
    let ids = ids.chunks(8).map(|c| {
        let mut b = [0u8; 8];
        b[..c.len()].copy_from_slice(c);
        i64::from_le_bytes(b)
    });
    let mut out = Vec::new();
    let _ = decoder.decode_into(ids, &mut out);
});
