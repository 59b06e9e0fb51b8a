//! Compression by file name: decoders for reading shards, encoders for writing kept records.

use std::fs::File;
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::Path;

/// The compressions fastscan reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Zstd,
}

/// Bytes per read from disk: large reads keep syscalls and decoder calls out of the profile.
const READ_BUFFER: usize = 1 << 20;

impl Compression {
    /// The compression a file name says (`.gz`, `.zst` / `.zstd`, anything else: none).
    #[must_use]
    pub fn from_path(path: &Path) -> Compression {
        match path.extension().and_then(|e| e.to_str()) {
            Some("gz") => Compression::Gzip,
            Some("zst" | "zstd") => Compression::Zstd,
            _ => Compression::None,
        }
    }

    /// Parses a user's `--output-compression` value.
    #[must_use]
    pub fn from_name(name: &str) -> Option<Compression> {
        match name {
            "none" => Some(Compression::None),
            "gzip" | "gz" => Some(Compression::Gzip),
            "zstd" | "zst" => Some(Compression::Zstd),
            _ => None,
        }
    }

    /// The file name suffix of this compression, with its dot (empty for none).
    #[must_use]
    pub fn suffix(self) -> &'static str {
        match self {
            Compression::None => "",
            Compression::Gzip => ".gz",
            Compression::Zstd => ".zst",
        }
    }
}

/// A reader that counts the bytes it has handed out (the compressed position in the file).
pub struct Counted<R> {
    inner: R,
    count: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// Opens `path` and decodes it as `compression` says. `consumed` counts the file bytes read,
/// so a caller can show progress in on-disk bytes. Multi-member gzip files and multi-frame
/// zstd files are read to the end; a truncated stream is an `UnexpectedEof` error.
pub fn open_decoder(
    path: &Path,
    compression: Compression,
    consumed: std::sync::Arc<std::sync::atomic::AtomicU64>,
) -> io::Result<Box<dyn Read + Send>> {
    let file = Counted {
        inner: File::open(path)?,
        count: consumed,
    };
    Ok(match compression {
        Compression::None => Box::new(file),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(BufReader::with_capacity(
            READ_BUFFER,
            file,
        ))),
        Compression::Zstd => Box::new(zstd::Decoder::with_buffer(BufReader::with_capacity(
            READ_BUFFER,
            file,
        ))?),
    })
}

/// A file being written, compressed as asked. Call [`Encoder::finish`]: dropping it without
/// finishing leaves a truncated stream, which is what a crash would leave too.
pub enum Encoder {
    Plain(BufWriter<File>),
    Gzip(flate2::write::GzEncoder<BufWriter<File>>),
    Zstd(zstd::Encoder<'static, BufWriter<File>>),
}

/// zstd level for kept records: fast, and far better than gzip's ratio at that speed.
const ZSTD_LEVEL: i32 = 3;

impl Encoder {
    /// Creates `path` (truncating it) with `compression`.
    pub fn create(path: &Path, compression: Compression) -> io::Result<Encoder> {
        let file = BufWriter::with_capacity(READ_BUFFER, File::create(path)?);
        Ok(match compression {
            Compression::None => Encoder::Plain(file),
            // A fixed header (no mtime, no name) keeps the output byte-identical across runs.
            Compression::Gzip => {
                Encoder::Gzip(flate2::GzBuilder::new().write(file, flate2::Compression::default()))
            }
            Compression::Zstd => Encoder::Zstd(zstd::Encoder::new(file, ZSTD_LEVEL)?),
        })
    }

    /// Completes the stream and flushes the file.
    pub fn finish(self) -> io::Result<()> {
        let mut file = match self {
            Encoder::Plain(w) => w,
            Encoder::Gzip(w) => w.finish()?,
            Encoder::Zstd(w) => w.finish()?,
        };
        file.flush()
    }
}

impl Write for Encoder {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Encoder::Plain(w) => w.write(buf),
            Encoder::Gzip(w) => w.write(buf),
            Encoder::Zstd(w) => w.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Encoder::Plain(w) => w.flush(),
            Encoder::Gzip(w) => w.flush(),
            Encoder::Zstd(w) => w.flush(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU64;
    use std::sync::Arc;

    fn roundtrip(compression: Compression) {
        let dir = std::env::temp_dir().join(format!(
            "fastscan-compression-{}-{:?}",
            std::process::id(),
            compression
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("a.jsonl{}", compression.suffix()));
        let mut enc = Encoder::create(&path, compression).unwrap();
        enc.write_all(b"{\"text\": \"x\"}\n").unwrap();
        enc.finish().unwrap();
        assert_eq!(Compression::from_path(&path), compression);
        let consumed = Arc::new(AtomicU64::new(0));
        let mut out = Vec::new();
        open_decoder(&path, compression, Arc::clone(&consumed))
            .unwrap()
            .read_to_end(&mut out)
            .unwrap();
        assert_eq!(out, b"{\"text\": \"x\"}\n");
        assert_eq!(
            consumed.load(std::sync::atomic::Ordering::Relaxed),
            std::fs::metadata(&path).unwrap().len()
        );
        // A truncated compressed stream is an error, never a silent short read.
        if compression != Compression::None {
            let bytes = std::fs::read(&path).unwrap();
            std::fs::write(&path, &bytes[..bytes.len() - 4]).unwrap();
            let mut out = Vec::new();
            let err = open_decoder(&path, compression, Arc::new(AtomicU64::new(0)))
                .and_then(|mut r| r.read_to_end(&mut out));
            assert!(err.is_err(), "{compression:?}: truncation not detected");
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn plain_gzip_zstd_roundtrip() {
        roundtrip(Compression::None);
        roundtrip(Compression::Gzip);
        roundtrip(Compression::Zstd);
    }
}
