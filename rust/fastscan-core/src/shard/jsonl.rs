//! The per-shard pipeline for JSONL shards (plain, gzip or zstd).
//!
//! ```text
//! file -> decoder -> LineBlocks --(reader thread, 2 blocks ahead)--> block
//!   block: parse every line (parallel) -> judge (scan, parallel) -> write rejects
//!          -> BlockReport (one row per record, and the texts of the records kept)
//! ```
//!
//! With one thread everything runs on the caller's thread; with more, a reader thread
//! decompresses and splits ahead while the pool parses and scans. Which records a run keeps
//! is known only once every stage has scored them (a `top_fraction` ranks the whole run), so
//! kept files are then written afterwards from the input and the chosen rows
//! ([`super::copy`]). Without a ranking the scan writes them through the same writer, saving
//! the second read: given a kept output, the keep rule's survivors wait here (their lines)
//! until [`JsonlShard::keep_survivors`] says which the run keeps, block by block when the
//! keep rule is the whole decision, once the later stages have decided them otherwise.

use std::borrow::Cow;
use std::collections::VecDeque;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{channel, sync_channel, Receiver, Sender};
use std::sync::Arc;

use rayon::prelude::*;

use super::compression::{open_decoder, Compression};
use super::copy::{KeptOutput, KeptSink};
use super::judge::{judge, Decision, Judged, KeepRule, RejectReason};
use super::lines::{Block, LineBlocks};
use super::record::{extract_fields, FieldPath, RecordError};
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
    /// Whether each block report carries the texts of the records the keep rule keeps (for
    /// the stages after it).
    pub survivor_texts: bool,
    /// A field whose value (a string, or a number's JSON text) each block report carries as
    /// the record's id, read in the same parse as the text.
    pub id_field: Option<FieldPath>,
}

impl Default for JsonlOptions {
    fn default() -> Self {
        JsonlOptions {
            text_field: FieldPath::parse("text").expect("a valid path"),
            block_bytes: 8 << 20,
            max_record_bytes: 64 << 20,
            survivor_texts: false,
            id_field: None,
        }
    }
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
    /// With [`JsonlOptions::survivor_texts`]: the texts of the kept records, in order, as
    /// UTF-8 bytes and `n + 1` offsets into them (Arrow's large-string layout).
    pub survivors: Texts,
    /// With [`JsonlOptions::id_field`]: each record's id (None: absent, or rejected).
    pub ids: Option<Vec<Option<String>>>,
}

/// Texts in one buffer: text `i` is `data[offsets[i]..offsets[i + 1]]`.
#[derive(Debug, Default)]
pub struct Texts {
    pub data: Vec<u8>,
    pub offsets: Vec<i64>,
}

enum Source {
    Inline(LineBlocks<Box<dyn std::io::Read + Send>>),
    /// Blocks from the reader thread, and the way their buffers go back to it.
    Thread(Receiver<std::io::Result<Option<Block>>>, Sender<Vec<u8>>),
}

/// A JSONL shard being filtered, one block per [`JsonlShard::next_block`] call.
pub struct JsonlShard {
    path: PathBuf,
    source: Source,
    scanner: Arc<Scanner>,
    rule: KeepRule,
    options: JsonlOptions,
    kept: Option<KeptSink>,
    /// Survivors waiting for their final decision (with a kept output): their lines (and
    /// texts, for an output of texts) back to back in `waiting_data`, oldest first.
    waiting: VecDeque<Waiting>,
    waiting_data: Vec<u8>,
    rejects: RejectWriter,
    consumed: Arc<AtomicU64>,
    done: bool,
}

/// Where a waiting survivor's line and text lie in `waiting_data`.
struct Waiting {
    start: usize,
    text: usize,
    end: usize,
}

impl JsonlShard {
    /// Opens `input` (compression from its name); rejects go to `rejects` (created at the
    /// first one); with `kept`, the records the keep rule keeps wait for
    /// [`JsonlShard::keep_survivors`] to say which of them go there (for a run without a
    /// ranking over all its shards).
    pub fn open(
        input: &Path,
        scanner: Arc<Scanner>,
        rule: KeepRule,
        options: JsonlOptions,
        kept: Option<&KeptOutput>,
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
            spawn_reader(blocks).map_err(|e| {
                CoreError::io(
                    "cannot start a reader thread (a limit on threads or processes, e.g. a \
                     pids cgroup?)",
                    e,
                )
            })?
        };
        let kept = kept.map(KeptSink::create).transpose()?;
        Ok(JsonlShard {
            path: input.to_owned(),
            source,
            scanner,
            rule,
            options,
            kept,
            waiting: VecDeque::new(),
            waiting_data: Vec::new(),
            rejects: RejectWriter::new(rejects, rejects_compression),
            consumed,
            done: false,
        })
    }

    /// Decides the oldest waiting survivors, one flag each, in order: writes the ones
    /// flagged to the kept output.
    ///
    /// # Errors
    /// When more flags come than survivors wait, when the shard has no kept output, or when
    /// the output cannot be written.
    pub fn keep_survivors(&mut self, keep: &[bool]) -> Result<()> {
        let Some(kept) = self.kept.as_mut() else {
            return Err(CoreError::Config(
                "keep_survivors needs a kept output".into(),
            ));
        };
        if keep.len() > self.waiting.len() {
            return Err(CoreError::Config(format!(
                "{} decisions for {} waiting survivors",
                keep.len(),
                self.waiting.len()
            )));
        }
        for (&flag, w) in keep.iter().zip(self.waiting.drain(..keep.len())) {
            if flag {
                let text = std::str::from_utf8(&self.waiting_data[w.text..w.end])
                    .map_err(|_| CoreError::Config("a waiting text is not UTF-8".into()))?;
                kept.write_record(&self.waiting_data[w.start..w.text], text)?;
            }
        }
        if self.waiting.is_empty() {
            self.waiting_data.clear();
        }
        Ok(())
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
            Source::Thread(rx, _) => rx
                .recv()
                .unwrap_or_else(|_| Err(std::io::Error::other("the reader thread stopped"))),
        }
        .map_err(|e| CoreError::io(format!("cannot read {}", self.path.display()), e))?;
        self.done = block.is_none();
        let Some(block) = block else {
            return Ok(None);
        };
        let report = self.process(&block)?;
        match &mut self.source {
            Source::Inline(blocks) => blocks.recycle(block.data),
            // A reader that has stopped has no use for it.
            Source::Thread(_, back) => drop(back.send(block.data)),
        }
        Ok(Some(report))
    }

    fn process(&mut self, block: &Block) -> Result<BlockReport> {
        let data = &block.data;
        let field = &self.options.text_field;
        let id_field = self.options.id_field.as_ref();
        let max = self.options.max_record_bytes;
        let parse = |line: &super::lines::Line| -> Parsed<'_> {
            match line.oversized {
                Some(len) => Err(RecordError {
                    reason: RejectReason::RecordTooLarge,
                    detail: format!("line of {len} bytes is over the {max}-byte record limit"),
                }),
                None => extract_fields(line.content(data), field, id_field),
            }
        };
        let fields: Vec<Parsed<'_>> = if self.scanner.threads().0 == 1 {
            block.lines.iter().map(parse).collect()
        } else {
            self.scanner
                .install(|| block.lines.par_iter().with_min_len(64).map(parse).collect())?
        };
        let ids = id_field.map(|_| {
            fields
                .iter()
                .map(|f| {
                    f.as_ref()
                        .ok()
                        .and_then(|(_, id)| id.as_deref().map(str::to_owned))
                })
                .collect()
        });
        let parsed: Vec<_> = fields
            .into_iter()
            .map(|f| f.map(|(text, _)| text))
            .collect();
        let texts: Vec<&[u8]> = parsed
            .iter()
            .map(|p| p.as_ref().map_or(&[][..], |t| t.as_bytes()))
            .collect();
        let rejected: Vec<Option<RejectReason>> = parsed
            .iter()
            .map(|p| p.as_ref().err().map(|e| e.reason))
            .collect();
        let judged = judge(&self.scanner, &self.rule, texts.as_slice(), &rejected)?;
        self.write_rejects(block, &parsed, &judged)?;
        if let Some(kept) = &mut self.kept {
            let texts_too = kept.takes_texts();
            for ((line, text), decision) in block.lines.iter().zip(&parsed).zip(&judged.decisions) {
                if let (Decision::Kept, Ok(text)) = (decision, text) {
                    let start = self.waiting_data.len();
                    self.waiting_data.extend_from_slice(line.raw(data));
                    let middle = self.waiting_data.len();
                    if texts_too {
                        self.waiting_data.extend_from_slice(text.as_bytes());
                    }
                    self.waiting.push_back(Waiting {
                        start,
                        text: middle,
                        end: self.waiting_data.len(),
                    });
                }
            }
        }
        let survivors = if self.options.survivor_texts {
            survivor_texts(&parsed, &judged.decisions)
        } else {
            Texts::default()
        };
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
            survivors,
            ids,
        })
    }

    fn write_rejects(
        &mut self,
        block: &Block,
        parsed: &[std::result::Result<Cow<'_, str>, RecordError>],
        judged: &Judged,
    ) -> Result<()> {
        for ((line, text), decision) in block.lines.iter().zip(parsed).zip(&judged.decisions) {
            if let (Decision::Rejected(reason), Err(error)) = (decision, text) {
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
        }
        Ok(())
    }

    /// Completes the outputs (call after `next_block` returned `None`); returns the rejects
    /// file (`None` when nothing was rejected) and the kept files written during the scan.
    pub fn finish(self) -> Result<(Option<PathBuf>, Vec<PathBuf>)> {
        if !self.waiting.is_empty() {
            return Err(CoreError::Config(format!(
                "{} survivors were never decided (keep_survivors)",
                self.waiting.len()
            )));
        }
        let (_, rejects) = self
            .rejects
            .finish()
            .map_err(|e| CoreError::io("cannot write the rejects file", e))?;
        let kept = self
            .kept
            .map(KeptSink::finish)
            .transpose()?
            .unwrap_or_default();
        Ok((rejects, kept))
    }
}

/// A line's text and id, or why it has no text.
type Parsed<'a> = std::result::Result<(Cow<'a, str>, Option<Cow<'a, str>>), RecordError>;

/// The texts of the records the keep rule kept, in order.
fn survivor_texts(
    parsed: &[std::result::Result<Cow<'_, str>, RecordError>],
    decisions: &[Decision],
) -> Texts {
    let mut texts = Texts {
        data: Vec::new(),
        offsets: vec![0],
    };
    for (text, decision) in parsed.iter().zip(decisions) {
        if let (Decision::Kept, Ok(text)) = (decision, text) {
            texts.data.extend_from_slice(text.as_bytes());
            texts
                .offsets
                .push(i64::try_from(texts.data.len()).unwrap_or(i64::MAX));
        }
    }
    texts
}

/// Reads blocks on a thread of their own, at most two ahead (bounded memory). The thread
/// ends after sending the end of the stream or an error, or when the shard is dropped.
/// Starts the reader thread; fails (rather than panics) when the system refuses a thread.
fn spawn_reader(mut blocks: LineBlocks<Box<dyn std::io::Read + Send>>) -> std::io::Result<Source> {
    let (tx, rx) = sync_channel(2);
    let (back, returned) = channel::<Vec<u8>>();
    std::thread::Builder::new()
        .name("fastscan-reader".into())
        .spawn(move || loop {
            while let Ok(data) = returned.try_recv() {
                blocks.recycle(data);
            }
            let next = blocks.next_block();
            let last = !matches!(next, Ok(Some(_)));
            if tx.send(next).is_err() || last {
                break;
            }
        })?;
    Ok(Source::Thread(rx, back))
}

#[cfg(test)]
mod tests {
    use std::fmt::Write as _;

    use super::*;
    use crate::{Pack, ScanOptions};

    /// A shard of ten records, the even ones holding the pack's literal, scanned with a kept
    /// output; the directory it writes in.
    fn deferred_shard(name: &str) -> (JsonlShard, PathBuf) {
        let dir =
            std::env::temp_dir().join(format!("fastscan-jsonl-{}-{name}", std::process::id()));
        drop(std::fs::remove_dir_all(&dir));
        std::fs::create_dir_all(&dir).unwrap();
        let mut lines = String::new();
        for i in 0..10 {
            let word = if i % 2 == 0 { "curl" } else { "plain" };
            writeln!(lines, "{{\"text\": \"{word} {i}\"}}").unwrap();
        }
        std::fs::write(dir.join("in.jsonl"), lines).unwrap();
        let pack = Pack::from_toml("[[group]]\nname = \"http\"\nliterals = [\"curl \"]\n").unwrap();
        let options = ScanOptions {
            threads: Some(1),
            ..ScanOptions::default()
        };
        let scanner = Arc::new(Scanner::new(pack, options).unwrap());
        let rule = KeepRule::new(scanner.pack(), 1.0, &[]).unwrap();
        let options = JsonlOptions::default();
        let kept = KeptOutput::Lines {
            path: dir.join("kept"),
            compression: Compression::None,
        };
        let rejects = dir.join("rejects");
        let shard = JsonlShard::open(
            &dir.join("in.jsonl"),
            scanner,
            rule,
            options,
            Some(&kept),
            &rejects,
            Compression::None,
        )
        .unwrap();
        (shard, dir)
    }

    #[test]
    fn deferred_survivors_are_written_as_decided() {
        let (mut shard, dir) = deferred_shard("decided");
        while shard.next_block().unwrap().is_some() {}
        // Survivors 0, 2, 4, 6, 8 wait; the run keeps the first, third and fifth.
        shard.keep_survivors(&[true, false]).unwrap();
        shard.keep_survivors(&[true, false, true]).unwrap();
        assert!(
            shard.keep_survivors(&[true]).is_err(),
            "no survivor waits any more"
        );
        shard.finish().unwrap();
        let kept = std::fs::read_to_string(dir.join("kept")).unwrap();
        assert_eq!(
            kept,
            "{\"text\": \"curl 0\"}\n{\"text\": \"curl 4\"}\n{\"text\": \"curl 8\"}\n"
        );
        drop(std::fs::remove_dir_all(&dir));
    }

    #[test]
    fn undecided_survivors_fail_the_shard() {
        let (mut shard, dir) = deferred_shard("undecided");
        while shard.next_block().unwrap().is_some() {}
        shard.keep_survivors(&[true]).unwrap();
        let error = shard.finish().unwrap_err().to_string();
        assert!(error.contains("4 survivors were never decided"), "{error}");
        drop(std::fs::remove_dir_all(&dir));
    }
}
