//! The scanner with the built-in tool-use pack (raw and folded views, lanes, gates): any
//! document; finite, non-negative scores, never a panic.
#![no_main]
use std::sync::OnceLock;

use fastscan_core::{Pack, ScanOptions, Scanner};
use libfuzzer_sys::fuzz_target;

static SCANNER: OnceLock<Scanner> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let scanner = SCANNER.get_or_init(|| {
        let text = include_str!("../../python/fastscan/packs/tool-use.toml");
        let pack = Pack::from_toml(text).expect("the built-in pack compiles");
        Scanner::new(
            pack,
            ScanOptions {
                threads: Some(1),
                pattern_counts: true,
            },
        )
        .expect("the built-in pack builds a scanner")
    });
    let scan = scanner.scan_one(data);
    assert!(scan.score.is_finite() && scan.score >= 0.0);
});
