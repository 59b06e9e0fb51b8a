//! Kept files of a JSONL shard, written from its input and the rows a run chose to keep.
//!
//! A run decides which records it keeps only after every stage has scored every shard (a
//! `top_fraction` ranks the whole run), so the kept lines are copied from the input in a
//! second, cheap pass: a plain file is read at the chosen lines' byte ranges only; a
//! compressed one is decompressed once more up to the last chosen line, whose byte ranges in
//! the decompressed stream the scores give. Lines are copied verbatim (or their text, for `LMFlow`), in input order, so the
//! output depends only on the input and the chosen rows: a fresh run and `fastscan select`
//! over its scores write the same bytes.

use std::fs::File;
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU64;
use std::sync::Arc;

use super::compression::{open_decoder, Compression, Encoder};
use super::jsonl::JsonlOptions;
use super::lmflow::LmflowWriter;
use super::record::extract_text;
use crate::error::{CoreError, Result};

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

/// The rows to copy, ascending, with where each line lies in the decompressed stream (its
/// offset and its length, terminator included), as the scores file records them.
#[derive(Debug, Clone, Copy)]
pub struct Chosen<'a> {
    pub rows: &'a [u64],
    pub offsets: &'a [u64],
    pub lengths: &'a [u64],
}

/// The one writer of kept records: the scan writes through it when its keep rule is a run's
/// whole decision, [`copy_rows`] otherwise; the same lines in the same order give the same
/// bytes either way.
pub enum KeptSink {
    Lines(Encoder, PathBuf),
    Lmflow(LmflowWriter),
}

impl KeptSink {
    /// Creates the output.
    ///
    /// # Errors
    /// When the file cannot be created.
    pub fn create(out: &KeptOutput) -> Result<KeptSink> {
        Ok(match out {
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
        })
    }

    /// Whether the output takes each record's text (else its line).
    #[must_use]
    pub fn takes_texts(&self) -> bool {
        matches!(self, KeptSink::Lmflow(_))
    }

    /// Writes one record: its line (`raw`, terminator included) or its text.
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn write_record(&mut self, raw: &[u8], text: &str) -> Result<()> {
        match self {
            KeptSink::Lines(out, path) => out
                .write_all(raw)
                .map_err(|e| CoreError::io(format!("cannot write {}", path.display()), e)),
            KeptSink::Lmflow(out) => out
                .write_text(text)
                .map_err(|e| CoreError::io("cannot write the LMFlow output", e)),
        }
    }

    /// Writes one line, its text read again when the output takes texts.
    fn write(&mut self, raw: &[u8], options: &JsonlOptions) -> Result<()> {
        match self {
            KeptSink::Lines(..) => self.write_record(raw, ""),
            KeptSink::Lmflow(_) => {
                let text = extract_text(content(raw), &options.text_field).map_err(|e| {
                    CoreError::Config(format!("a kept record no longer reads: {}", e.detail))
                })?;
                self.write_record(raw, &text)
            }
        }
    }

    /// Completes the output; returns its files (none for `LMFlow` when nothing was kept).
    ///
    /// # Errors
    /// When the output cannot be written.
    pub fn finish(self) -> Result<Vec<PathBuf>> {
        match self {
            KeptSink::Lines(out, path) => {
                out.finish()
                    .map_err(|e| CoreError::io(format!("cannot write {}", path.display()), e))?;
                Ok(vec![path])
            }
            KeptSink::Lmflow(out) => out
                .finish()
                .map_err(|e| CoreError::io("cannot write the LMFlow output", e)),
        }
    }
}

/// A line without its terminator (`\n` or `\r\n`).
fn content(raw: &[u8]) -> &[u8] {
    let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
    raw.strip_suffix(b"\r").unwrap_or(raw)
}

fn read_error(input: &Path) -> impl Fn(std::io::Error) -> CoreError + '_ {
    move |e| CoreError::io(format!("cannot read {}", input.display()), e)
}

fn changed(input: &Path, what: &str) -> CoreError {
    CoreError::Config(format!(
        "{} changed since it was scored ({what}): score it again",
        input.display()
    ))
}

/// Copies the `chosen` lines of `input` into `out`; returns the files written (an empty kept
/// file when nothing was chosen, no file for `LMFlow`).
///
/// # Errors
/// When the input cannot be read, an output cannot be written, or the input no longer has
/// the chosen lines where its scores say (it changed since it was scored).
pub fn copy_rows(
    input: &Path,
    chosen: Chosen<'_>,
    options: &JsonlOptions,
    out: &KeptOutput,
) -> Result<Vec<PathBuf>> {
    let n = chosen.rows.len();
    if chosen.offsets.len() != n || chosen.lengths.len() != n {
        return Err(CoreError::Config(
            "rows, offsets and lengths must have one entry per chosen row".into(),
        ));
    }
    if chosen.rows.windows(2).any(|w| w[0] >= w[1]) {
        return Err(CoreError::Config("chosen rows must be ascending".into()));
    }
    let mut sink = KeptSink::create(out)?;
    if n > 0 {
        if Compression::from_path(input) == Compression::None {
            copy_ranges(input, chosen, options, &mut sink)?;
        } else {
            copy_streamed(input, chosen, options, &mut sink)?;
        }
    }
    sink.finish()
}

/// A plain file: each chosen line read at its byte range.
fn copy_ranges(
    input: &Path,
    chosen: Chosen<'_>,
    options: &JsonlOptions,
    sink: &mut KeptSink,
) -> Result<()> {
    let read_err = read_error(input);
    let mut file = File::open(input).map_err(&read_err)?;
    let size = file.metadata().map_err(&read_err)?.len();
    let mut line = Vec::new();
    for (&offset, &length) in chosen.offsets.iter().zip(chosen.lengths) {
        let end = offset.checked_add(length).filter(|&end| end <= size);
        let Some(end) = end else {
            return Err(changed(input, "it is shorter"));
        };
        line.resize(usize::try_from(length).unwrap_or(usize::MAX), 0);
        file.seek(SeekFrom::Start(offset)).map_err(&read_err)?;
        file.read_exact(&mut line).map_err(&read_err)?;
        // Every line but the last ends with its newline.
        if end < size && line.last() != Some(&b'\n') {
            return Err(changed(input, &format!("no line ends at byte {end}")));
        }
        sink.write(&line, options)?;
    }
    Ok(())
}

/// A compressed file: decompressed as a stream, each chosen line taken at its byte range of
/// the decompressed bytes (no line splitting), until the last one.
fn copy_streamed(
    input: &Path,
    chosen: Chosen<'_>,
    options: &JsonlOptions,
    sink: &mut KeptSink,
) -> Result<()> {
    let read_err = read_error(input);
    let mut decoder = open_decoder(
        input,
        Compression::from_path(input),
        Arc::new(AtomicU64::new(0)),
    )
    .map_err(&read_err)?;
    let mut chunk = vec![0u8; 1 << 20];
    let mut chunk_len = 0usize;
    let mut chunk_start = 0u64; // stream offset of chunk[0]
    let mut before = b'\n'; // the byte before chunk[0]
    let mut line = Vec::new();
    for (&offset, &length) in chosen.offsets.iter().zip(chosen.lengths) {
        let end = offset
            .checked_add(length)
            .ok_or_else(|| changed(input, "a bad range"))?;
        line.clear();
        let mut at = offset;
        while at < end {
            let chunk_end = chunk_start + chunk_len as u64;
            if at >= chunk_end {
                if chunk_len > 0 {
                    before = chunk[chunk_len - 1];
                }
                chunk_start = chunk_end;
                chunk_len = read_full(&mut decoder, &mut chunk).map_err(&read_err)?;
                if chunk_len == 0 {
                    return Err(changed(input, &format!("it ends before byte {end}")));
                }
                continue;
            }
            let from = usize::try_from(at - chunk_start).unwrap_or(usize::MAX);
            if at == offset {
                // A line starts after a newline (or at the start of the stream).
                let previous = if from == 0 { before } else { chunk[from - 1] };
                if offset > 0 && previous != b'\n' {
                    return Err(changed(input, &format!("no line starts at byte {offset}")));
                }
            }
            let to = usize::try_from(end.min(chunk_end) - chunk_start).unwrap_or(usize::MAX);
            line.extend_from_slice(&chunk[from..to]);
            at = chunk_start + to as u64;
        }
        sink.write(&line, options)?;
    }
    Ok(())
}

/// Fills `buf` from `reader` as far as it goes; returns the bytes read (0: the end).
fn read_full(reader: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copies_chosen_lines_plain_and_compressed() {
        let dir = std::env::temp_dir().join(format!("fastscan-copy-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let data = b"{\"text\":\"a\"}\n\n{\"text\":\"b\"}\r\n{\"text\":\"c\"}";
        // rows: 0 at 0 (13 bytes), blank line, 1 at 14 (14 bytes), 2 at 28 (12 bytes)
        let chosen = Chosen {
            rows: &[1, 2],
            offsets: &[14, 28],
            lengths: &[14, 12],
        };
        let options = JsonlOptions::default();
        for compression in [Compression::None, Compression::Zstd, Compression::Gzip] {
            let input = dir.join(format!("in.jsonl{}", compression.suffix()));
            let mut enc = Encoder::create(&input, compression).unwrap();
            enc.write_all(data).unwrap();
            enc.finish().unwrap();
            let out = dir.join("out.jsonl");
            let kept = KeptOutput::Lines {
                path: out.clone(),
                compression: Compression::None,
            };
            copy_rows(&input, chosen, &options, &kept).unwrap();
            assert_eq!(
                std::fs::read(&out).unwrap(),
                b"{\"text\":\"b\"}\r\n{\"text\":\"c\"}"
            );
            let moved = Chosen {
                rows: &[1],
                offsets: &[15],
                lengths: &[14],
            };
            assert!(copy_rows(&input, moved, &options, &kept).is_err());
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
