//! The decompressors and the line reader behind them: any bytes as .gz or .zst; an error or
//! lines, never a panic.
#![no_main]
use std::io::Write;
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use fastscan_core::shard::compression::{open_decoder, Compression};
use fastscan_core::shard::lines::LineBlocks;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&kind, body)) = data.split_first() else {
        return;
    };
    let compression = if kind % 2 == 0 {
        Compression::Gzip
    } else {
        Compression::Zstd
    };
    let mut file = tempfile::NamedTempFile::new().unwrap();
    file.write_all(body).unwrap();
    let Ok(reader) = open_decoder(file.path(), compression, Arc::new(AtomicU64::new(0))) else {
        return;
    };
    let mut blocks = LineBlocks::new(reader, 1 << 12, 1 << 10);
    for _ in 0..64 {
        match blocks.next_block() {
            Ok(Some(_)) => {}
            _ => break,
        }
    }
});
