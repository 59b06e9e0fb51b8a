//! The per-shard pipeline for JSONL shards (plain, gzip or zstd).
//!
//! ```text
//! file -> decoder -> LineBlocks --(reader thread, 2 blocks ahead)--> block
//!   block: parse every line (parallel) -> judge (scan, parallel) -> write kept / rejects
//!          -> BlockReport (one row per record) for the caller's scores file and report
//! ```
//!
//! With one thread everything runs on the caller's thread; with more, a reader thread
//! decompresses and splits ahead while the pool parses and scans. Kept lines are written
//! byte-identical to the input lines, in input order, so a shard's outputs depend only on its
//! input and the configuration.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver};
use std::sync::Arc;

use rayon::prelude::*;

use super::compression::{open_decoder, Compression, Encoder};
use super::judge::{judge, Decision, Judged, KeepRule, RejectReason};
use super::lines::{Block, LineBlocks};
use super::lmflow::LmflowWriter;
use super::record::{extract_text, FieldPath, RecordError};
use super::rejects::{Reject, RejectWriter};
use crate::error::{CoreError, Result};
use crate::scan::Scanner;

/// How a JSONL shard is read.
#[derive(Debug, Clone)]
pub struct JsonlOptions {
    pub text_field: FieldPath,
    /// Bytes per block (whole lines; the unit of parallel work and of the scores batches).
    pub block_bytes: usize,
    /// Longest line scored; longer lines are rejected as `record_too_large`.
    pub max_record_bytes: usize,
}

impl Default for JsonlOptions {
    fn default() -> Self {
        JsonlOptions {
            text_field: FieldPath::parse("text").expect("a valid path"),
            block_bytes: 8 << 20,
            max_record_bytes: 64 << 20,
        }
    }
}

/// Where kept records go.
#[derive(Debug, Clone)]
pub enum KeptOutput {
    /// The input lines, verbatim, into one file with this compression.
    Lines {
        path: PathBuf,
        compression: Compression,
    },
    /// The text of each kept record into `LMFlow` `text_only` files.
    Lmflow {
        dir: PathBuf,
        stem: String,
        max_bytes: u64,
    },
}

enum KeptSink {
    Lines(Encoder, PathBuf),
    Lmflow(LmflowWriter),
}

/// One row per record of a block, for the scores file.
#[derive(Debug)]
pub struct BlockReport {
    pub rows: Vec<u64>,
    pub offsets: Vec<u64>,
    /// Bytes of each line in the stream, terminator included.
    pub lengths: Vec<u64>,
    pub judged: Judged,
    pub blank_lines: u64,
    /// Decompressed bytes this block covers (blank lines included).
    pub stream_bytes: u64,
}

/// What a finished shard wrote.
#[derive(Debug, Default)]
pub struct ShardFiles {
    pub kept: Vec<PathBuf>,
    pub rejects: Option<PathBuf>,
}

enum Source {
    Inline(LineBlocks<Box<dyn std::io::Read + Send>>),
    Thread(Receiver<std::io::Result<Option<Block>>>),
}

/// A JSONL shard being filtered, one block per [`JsonlShard::next_block`] call.
pub struct JsonlShard {
    path: PathBuf,
    source: Source,
    scanner: Arc<Scanner>,
    rule: KeepRule,
    options: JsonlOptions,
    kept: KeptSink,
    rejects: RejectWriter,
    consumed: Arc<AtomicU64>,
    done: bool,
}

impl JsonlShard {
    /// Opens `input` (compression from its name) and creates the outputs.
    pub fn open(
        input: &Path,
        scanner: Arc<Scanner>,
        rule: KeepRule,
        options: JsonlOptions,
        kept: &KeptOutput,
        rejects: &Path,
        rejects_compression: Compression,
    ) -> Result<JsonlShard> {
        let consumed = Arc::new(AtomicU64::new(0));
        let decoder = open_decoder(input, Compression::from_path(input), Arc::clone(&consumed))
            .map_err(|e| CoreError::io(format!("cannot open {}", input.display()), e))?;
        let blocks = LineBlocks::new(decoder, options.block_bytes, options.max_record_bytes);
        let source = if scanner.threads().0 == 1 {
            Source::Inline(blocks)
        } else {
            Source::Thread(spawn_reader(blocks).map_err(|e| {
                CoreError::io(
                    "cannot start a reader thread (a limit on threads or processes, e.g. a \
                     pids cgroup?)",
                    e,
                )
            })?)
        };
        let kept = match kept {
            KeptOutput::Lines { path, compression } => KeptSink::Lines(
                Encoder::create(path, *compression)
                    .map_err(|e| CoreError::io(format!("cannot create {}", path.display()), e))?,
                path.clone(),
            ),
            KeptOutput::Lmflow {
                dir,
                stem,
                max_bytes,
            } => KeptSink::Lmflow(LmflowWriter::new(dir, stem, *max_bytes)),
        };
        Ok(JsonlShard {
            path: input.to_owned(),
            source,
            scanner,
            rule,
            options,
            kept,
            rejects: RejectWriter::new(rejects, rejects_compression),
            consumed,
            done: false,
        })
    }

    /// Bytes of the input file read so far (compressed bytes for a compressed shard).
    #[must_use]
    pub fn consumed(&self) -> u64 {
        self.consumed.load(Ordering::Relaxed)
    }

    /// Filters the next block; `None` when the shard is done.
    pub fn next_block(&mut self) -> Result<Option<BlockReport>> {
        if self.done {
            return Ok(None);
        }
        let block = match &mut self.source {
            Source::Inline(blocks) => blocks.next_block(),
            Source::Thread(rx) => rx
                .recv()
                .unwrap_or_else(|_| Err(std::io::Error::other("the reader thread stopped"))),
        }
        .map_err(|e| CoreError::io(format!("cannot read {}", self.path.display()), e))?;
        self.done = block.is_none();
        block.map(|b| self.process(&b)).transpose()
    }

    fn process(&mut self, block: &Block) -> Result<BlockReport> {
        let data = &block.data;
        let field = &self.options.text_field;
        let max = self.options.max_record_bytes;
        let parse = |line: &super::lines::Line| -> std::result::Result<Cow<'_, str>, RecordError> {
            match line.oversized {
                Some(len) => Err(RecordError {
                    reason: RejectReason::RecordTooLarge,
                    detail: format!("line of {len} bytes is over the {max}-byte record limit"),
                }),
                None => extract_text(line.content(data), field),
            }
        };
        let parsed: Vec<_> = if self.scanner.threads().0 == 1 {
            block.lines.iter().map(parse).collect()
        } else {
            self.scanner
                .install(|| block.lines.par_iter().with_min_len(64).map(parse).collect())?
        };
        let texts: Vec<&[u8]> = parsed
            .iter()
            .map(|p| p.as_ref().map_or(&[][..], |t| t.as_bytes()))
            .collect();
        let rejected: Vec<Option<RejectReason>> = parsed
            .iter()
            .map(|p| p.as_ref().err().map(|e| e.reason))
            .collect();
        let judged = judge(&self.scanner, &self.rule, texts.as_slice(), &rejected)?;
        self.write(block, &parsed, &judged)?;
        Ok(BlockReport {
            rows: block.lines.iter().map(|l| l.row).collect(),
            offsets: block.lines.iter().map(|l| l.offset).collect(),
            lengths: block
                .lines
                .iter()
                .map(super::lines::Line::stream_len)
                .collect(),
            judged,
            blank_lines: block.blank_lines,
            stream_bytes: block.stream_bytes,
        })
    }

    fn write(
        &mut self,
        block: &Block,
        parsed: &[std::result::Result<Cow<'_, str>, RecordError>],
        judged: &Judged,
    ) -> Result<()> {
        for ((line, text), decision) in block.lines.iter().zip(parsed).zip(&judged.decisions) {
            match (decision, text) {
                (Decision::Kept, Ok(text)) => match &mut self.kept {
                    KeptSink::Lines(out, path) => {
                        std::io::Write::write_all(out, line.raw(&block.data)).map_err(|e| {
                            CoreError::io(format!("cannot write {}", path.display()), e)
                        })?;
                    }
                    KeptSink::Lmflow(out) => out
                        .write_text(text)
                        .map_err(|e| CoreError::io("cannot write the LMFlow output", e))?,
                },
                (Decision::Rejected(reason), Err(error)) => {
                    let reject = Reject::new(
                        line.row,
                        Some(line.offset),
                        line.stream_len(),
                        *reason,
                        &error.detail,
                        line.content(&block.data),
                        line.oversized.is_some(),
                    );
                    self.rejects
                        .write(&reject)
                        .map_err(|e| CoreError::io("cannot write the rejects file", e))?;
                }
                _ => {}
            }
        }
        Ok(())
    }

    /// Completes the output files (call after `next_block` returned `None`).
    pub fn finish(self) -> Result<ShardFiles> {
        let kept = match self.kept {
            KeptSink::Lines(out, path) => {
                out.finish()
                    .map_err(|e| CoreError::io(format!("cannot write {}", path.display()), e))?;
                vec![path]
            }
            KeptSink::Lmflow(out) => out
                .finish()
                .map_err(|e| CoreError::io("cannot write the LMFlow output", e))?,
        };
        let (_, rejects) = self
            .rejects
            .finish()
            .map_err(|e| CoreError::io("cannot write the rejects file", e))?;
        Ok(ShardFiles { kept, rejects })
    }
}

/// Reads blocks on a thread of their own, at most two ahead (bounded memory). The thread
/// ends after sending the end of the stream or an error, or when the shard is dropped.
/// Starts the reader thread; fails (rather than panics) when the system refuses a thread.
fn spawn_reader(
    mut blocks: LineBlocks<Box<dyn std::io::Read + Send>>,
) -> std::io::Result<Receiver<std::io::Result<Option<Block>>>> {
    let (tx, rx) = sync_channel(2);
    std::thread::Builder::new()
        .name("fastscan-reader".into())
        .spawn(move || loop {
            let next = blocks.next_block();
            let last = !matches!(next, Ok(Some(_)));
            if tx.send(next).is_err() || last {
                break;
            }
        })?;
    Ok(rx)
}
