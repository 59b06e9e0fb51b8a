//! Splits a byte stream into blocks of whole JSONL lines.
//!
//! A block is a few MiB of complete lines (the last line of a stream may lack its `\n`). Lines
//! longer than the record limit are not buffered: their first [`OVERSIZED_PREFIX`] bytes are
//! kept, the rest is skipped, and the line is handed on marked as oversized so it becomes a
//! counted reject, not an out-of-memory crash.

use std::io::{self, Read};

/// Bytes of an oversized line kept for the rejects file.
pub const OVERSIZED_PREFIX: usize = 4096;

/// Bytes asked of the reader per call.
const READ_CHUNK: usize = 1 << 20;

/// One line of a block.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Index of the record in the shard (blank lines are not records).
    pub row: u64,
    /// Offset of the line in the (decompressed) stream.
    pub offset: u64,
    /// Byte range in the block's data, terminator (`\n` or `\r\n`) included.
    pub start: usize,
    pub end: usize,
    /// Length of the content, terminator excluded.
    pub content_len: usize,
    /// For an oversized line: its full length in the stream (the block holds a prefix only).
    pub oversized: Option<u64>,
}

impl Line {
    /// The line's bytes in `data`, terminator included.
    #[must_use]
    pub fn raw<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        &data[self.start..self.end]
    }

    /// The line's content in `data`, terminator excluded.
    #[must_use]
    pub fn content<'a>(&self, data: &'a [u8]) -> &'a [u8] {
        &data[self.start..self.start + self.content_len]
    }

    /// Its length in the stream, terminator included.
    #[must_use]
    pub fn stream_len(&self) -> u64 {
        self.oversized.unwrap_or((self.end - self.start) as u64)
    }
}

/// Complete lines and the buffer that holds them.
#[derive(Debug, Default)]
pub struct Block {
    pub data: Vec<u8>,
    pub lines: Vec<Line>,
    /// Lines holding only whitespace: skipped, counted here.
    pub blank_lines: u64,
    /// Bytes of the stream this block covers (blank lines included).
    pub stream_bytes: u64,
}

/// Reads blocks of about `block_bytes` from a stream.
pub struct LineBlocks<R> {
    src: R,
    buf: Vec<u8>,
    /// `buf[..searched]` holds no `\n`.
    searched: usize,
    offset: u64,
    row: u64,
    block_bytes: usize,
    max_record: usize,
    eof: bool,
    /// A finished block's buffer handed back by [`LineBlocks::recycle`], for the next one.
    spare: Option<Vec<u8>>,
}

impl<R: Read> LineBlocks<R> {
    /// `max_record` is the longest line (terminator included) handed on whole.
    pub fn new(src: R, block_bytes: usize, max_record: usize) -> Self {
        LineBlocks {
            src,
            buf: Vec::new(),
            searched: 0,
            offset: 0,
            row: 0,
            block_bytes: block_bytes.max(1),
            max_record: max_record.max(1),
            eof: false,
            spare: None,
        }
    }

    /// Takes back a block's buffer once its lines are done with: the next block fills it
    /// instead of new memory (no page faults, no regrowth).
    pub fn recycle(&mut self, data: Vec<u8>) {
        if data.capacity() >= self.block_bytes {
            self.spare = Some(data);
        }
    }

    /// A buffer for the next block, holding `rest` (the start of its first line): big
    /// enough for a whole block and the read that ends it, so filling it never reallocates.
    fn next_buffer(&mut self, cut: usize) -> Vec<u8> {
        let mut buf = self.spare.take().unwrap_or_default();
        buf.clear();
        buf.reserve(
            self.block_bytes
                .saturating_add(READ_CHUNK)
                .max(self.buf.len() - cut),
        );
        buf.extend_from_slice(&self.buf[cut..]);
        buf
    }

    fn read_more(&mut self) -> io::Result<()> {
        let len = self.buf.len();
        if self.buf.capacity() < len + READ_CHUNK {
            // The first block's buffer, or an oversized line's: room for a whole block.
            let want = self
                .block_bytes
                .saturating_add(READ_CHUNK)
                .max(len + READ_CHUNK);
            self.buf.reserve(want - len);
        }
        self.buf.resize(len + READ_CHUNK, 0);
        let n = loop {
            match self.src.read(&mut self.buf[len..]) {
                Ok(n) => break n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    self.buf.truncate(len);
                    return Err(e);
                }
            }
        };
        self.buf.truncate(len + n);
        self.eof = n == 0;
        Ok(())
    }

    /// The next block, `None` at the end of the stream.
    pub fn next_block(&mut self) -> io::Result<Option<Block>> {
        while !self.eof && self.buf.len() < self.block_bytes {
            self.read_more()?;
        }
        loop {
            if let Some(pos) = memchr::memrchr(b'\n', &self.buf[self.searched..]) {
                let cut = self.searched + pos + 1;
                let next = self.next_buffer(cut);
                let mut data = std::mem::replace(&mut self.buf, next);
                data.truncate(cut);
                self.searched = 0;
                return Ok(Some(self.block_of(data)));
            }
            self.searched = self.buf.len();
            if self.eof {
                if self.buf.is_empty() {
                    return Ok(None);
                }
                let data = std::mem::take(&mut self.buf);
                self.searched = 0;
                return Ok(Some(self.block_of(data)));
            }
            if self.buf.len() > self.max_record {
                return self.skip_oversized().map(Some);
            }
            self.read_more()?;
        }
    }

    /// Splits `data` (whole lines) into a block and advances the stream position.
    fn block_of(&mut self, data: Vec<u8>) -> Block {
        let mut lines = Vec::new();
        let mut blank_lines = 0;
        let mut start = 0;
        while start < data.len() {
            let end = memchr::memchr(b'\n', &data[start..]).map_or(data.len(), |p| start + p + 1);
            let mut content_len = end - start;
            if data[end - 1] == b'\n' {
                content_len -= 1;
                if content_len > 0 && data[start + content_len - 1] == b'\r' {
                    content_len -= 1;
                }
            }
            let content = &data[start..start + content_len];
            if content.iter().all(u8::is_ascii_whitespace) {
                blank_lines += 1;
            } else if end - start > self.max_record {
                // A long line that arrived whole inside a block: kept as a prefix all the same.
                lines.push(Line {
                    row: self.row,
                    offset: self.offset + start as u64,
                    start,
                    end: start + OVERSIZED_PREFIX.min(content_len),
                    content_len: OVERSIZED_PREFIX.min(content_len),
                    oversized: Some((end - start) as u64),
                });
                self.row += 1;
            } else {
                lines.push(Line {
                    row: self.row,
                    offset: self.offset + start as u64,
                    start,
                    end,
                    content_len,
                    oversized: None,
                });
                self.row += 1;
            }
            start = end;
        }
        let stream_bytes = data.len() as u64;
        self.offset += stream_bytes;
        Block {
            data,
            lines,
            blank_lines,
            stream_bytes,
        }
    }

    /// The buffer starts a line longer than the limit with no `\n` yet: keep a prefix, skip
    /// to the end of the line, and return a block holding that one oversized line.
    fn skip_oversized(&mut self) -> io::Result<Block> {
        let mut length = self.buf.len() as u64;
        let mut prefix = std::mem::take(&mut self.buf);
        prefix.truncate(OVERSIZED_PREFIX);
        let mut scratch = vec![0u8; READ_CHUNK];
        loop {
            let n = match self.src.read(&mut scratch) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if n == 0 {
                self.eof = true;
                break;
            }
            if let Some(pos) = memchr::memchr(b'\n', &scratch[..n]) {
                length += (pos + 1) as u64;
                self.buf.extend_from_slice(&scratch[pos + 1..n]);
                break;
            }
            length += n as u64;
        }
        self.searched = 0;
        let line = Line {
            row: self.row,
            offset: self.offset,
            start: 0,
            end: prefix.len(),
            content_len: prefix.len(),
            oversized: Some(length),
        };
        self.row += 1;
        self.offset += length;
        Ok(Block {
            data: prefix,
            lines: vec![line],
            blank_lines: 0,
            stream_bytes: length,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `(row, offset, content, oversized)` of each line.
    type Seen = Vec<(u64, u64, Vec<u8>, Option<u64>)>;

    /// Every line of `input`, its blank lines and stream bytes; the same whether the
    /// blocks' buffers are recycled or not (checked here on every call).
    fn all_lines(input: &[u8], block: usize, max: usize) -> (Seen, u64, u64) {
        let read = |recycle: bool| {
            let mut reader = LineBlocks::new(input, block, max);
            let mut out = Vec::new();
            let mut blank = 0;
            let mut bytes = 0;
            while let Some(b) = reader.next_block().unwrap() {
                blank += b.blank_lines;
                bytes += b.stream_bytes;
                for l in &b.lines {
                    out.push((l.row, l.offset, l.content(&b.data).to_vec(), l.oversized));
                }
                if recycle {
                    reader.recycle(b.data);
                }
            }
            (out, blank, bytes)
        };
        let fresh = read(false);
        assert_eq!(read(true), fresh);
        fresh
    }

    #[test]
    fn a_recycled_buffer_holds_a_later_block() {
        /// Hands out at most 500 bytes a call, as a pipe might.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let n = buf.len().min(500).min(self.0.len());
                buf[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let input: Vec<u8> = (0..10_000)
            .flat_map(|i| format!("line {i}\n").into_bytes())
            .collect();
        let mut reader = LineBlocks::new(Trickle(&input), 1000, 100);
        let first = reader.next_block().unwrap().unwrap();
        assert!(first.data.capacity() >= 1000);
        let ptr = first.data.as_ptr();
        reader.recycle(first.data);
        let second = reader.next_block().unwrap().unwrap();
        let third = reader.next_block().unwrap().unwrap();
        assert_ne!(second.data.as_ptr(), ptr);
        assert_eq!(third.data.as_ptr(), ptr);
        assert!(third.data.starts_with(b"line "));
    }

    #[test]
    fn lines_offsets_and_terminators() {
        let input = b"a\r\nbb\n\n  \nccc";
        for block in [1, 2, 5, 100] {
            let (lines, blank, bytes) = all_lines(input, block, 100);
            assert_eq!(blank, 2);
            assert_eq!(bytes, input.len() as u64);
            assert_eq!(
                lines,
                vec![
                    (0, 0, b"a".to_vec(), None),
                    (1, 3, b"bb".to_vec(), None),
                    (2, 10, b"ccc".to_vec(), None),
                ]
            );
        }
    }

    #[test]
    fn oversized_lines_are_skipped_not_buffered() {
        let mut input = b"ok\n".to_vec();
        input.extend(std::iter::repeat_n(b'x', 3 * READ_CHUNK + 10));
        input.extend(b"\nafter\n");
        input.extend(std::iter::repeat_n(b'y', 20));
        let (lines, _, bytes) = all_lines(&input, 4, 16);
        assert_eq!(bytes, input.len() as u64);
        assert_eq!(lines.len(), 4);
        assert_eq!(lines[0].2, b"ok");
        assert_eq!(lines[1].3, Some(3 * READ_CHUNK as u64 + 11));
        assert_eq!(lines[1].2.len(), OVERSIZED_PREFIX);
        assert_eq!(
            (lines[2].1, &lines[2].2[..]),
            (3 + 3 * READ_CHUNK as u64 + 11, &b"after"[..])
        );
        // The last line has no terminator and is over the limit too.
        assert_eq!(lines[3].3, Some(20));
    }
}
