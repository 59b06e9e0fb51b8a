//! The JSONL line reader: any bytes, any block and record limits; blocks account for every
//! byte of the stream exactly once, line ranges lie inside their block, nothing panics.
#![no_main]
use fastscan_core::shard::lines::LineBlocks;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let block = 1 + usize::from(data[0]) * 7;
    let record = 1 + usize::from(data[1]) * 3;
    let body = &data[2..];
    let mut blocks = LineBlocks::new(body, block, record);
    let mut stream = 0u64;
    while let Ok(Some(block)) = blocks.next_block() {
        for line in &block.lines {
            assert!(line.start <= line.end && line.end <= block.data.len());
            let _ = line.raw(&block.data);
        }
        stream += block.stream_bytes;
    }
    assert_eq!(stream, body.len() as u64);
});
