//! The pack parser and compiler: any TOML text; a scanner or a pack error, never a panic (and
//! the size limits keep compiling fast).
#![no_main]
use fastscan_core::{Pack, ScanOptions, Scanner};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(pack) = Pack::from_toml(text) {
        let options = ScanOptions {
            threads: Some(1),
            pattern_counts: true,
        };
        if let Ok(scanner) = Scanner::new(pack, options) {
            let _ = scanner.scan_one(data);
        }
    }
});
