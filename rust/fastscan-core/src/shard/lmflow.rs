//! LMFlow's `text_only` dataset files, the input of the Data4ELM training scripts:
//! `{"type": "text_only", "instances": [{"text": ...}, ...]}`, split into files of about
//! `max_bytes` each (`STEM.00000.json`, `STEM.00001.json`, ...).

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};

const HEAD: &[u8] = b"{\"type\": \"text_only\", \"instances\": [";
const TAIL: &[u8] = b"\n]}\n";

struct Open {
    out: BufWriter<File>,
    bytes: u64,
    instances: u64,
}

/// Streams texts into LMFlow JSON files.
pub struct LmflowWriter {
    dir: PathBuf,
    stem: String,
    max_bytes: u64,
    open: Option<Open>,
    files: Vec<PathBuf>,
    /// One instance, serialized (reused: no allocation per text).
    item: Vec<u8>,
}

impl LmflowWriter {
    /// Files go to `dir/STEM.NNNNN.json`; a new file starts once one holds `max_bytes`.
    #[must_use]
    pub fn new(dir: &Path, stem: &str, max_bytes: u64) -> Self {
        LmflowWriter {
            dir: dir.to_owned(),
            stem: stem.to_owned(),
            max_bytes: max_bytes.max(1),
            open: None,
            files: Vec::new(),
            item: Vec::new(),
        }
    }

    /// Appends one instance.
    pub fn write_text(&mut self, text: &str) -> io::Result<()> {
        if self
            .open
            .as_ref()
            .is_some_and(|o| o.bytes >= self.max_bytes)
        {
            self.close()?;
        }
        if self.open.is_none() {
            let path = self
                .dir
                .join(format!("{}.{:05}.json", self.stem, self.files.len()));
            let mut out = BufWriter::new(File::create(&path)?);
            out.write_all(HEAD)?;
            self.files.push(path);
            self.open = Some(Open {
                out,
                bytes: HEAD.len() as u64,
                instances: 0,
            });
        }
        let Some(open) = self.open.as_mut() else {
            unreachable!("opened above")
        };
        let item = &mut self.item;
        item.clear();
        item.extend_from_slice(if open.instances == 0 { b"\n" } else { b",\n" });
        item.extend_from_slice(b"{\"text\": ");
        serde_json::to_writer(&mut *item, text)?;
        item.push(b'}');
        open.out.write_all(item)?;
        open.bytes += item.len() as u64;
        open.instances += 1;
        Ok(())
    }

    fn close(&mut self) -> io::Result<()> {
        if let Some(mut open) = self.open.take() {
            open.out.write_all(TAIL)?;
            open.out.flush()?;
        }
        Ok(())
    }

    /// Closes the last file; returns every file written (none when nothing was kept).
    pub fn finish(mut self) -> io::Result<Vec<PathBuf>> {
        self.close()?;
        Ok(std::mem::take(&mut self.files))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splits_by_size_and_parses_as_json() {
        let dir = std::env::temp_dir().join(format!("fastscan-lmflow-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let mut w = LmflowWriter::new(&dir, "part", 80);
        for t in ["first \"quoted\"", "second\nline", "third é"] {
            w.write_text(t).unwrap();
        }
        let files = w.finish().unwrap();
        assert_eq!(files.len(), 2);
        let mut texts = Vec::new();
        for f in &files {
            let v: serde_json::Value = serde_json::from_slice(&std::fs::read(f).unwrap()).unwrap();
            assert_eq!(v["type"], "text_only");
            for i in v["instances"].as_array().unwrap() {
                texts.push(i["text"].as_str().unwrap().to_owned());
            }
        }
        assert_eq!(texts, ["first \"quoted\"", "second\nline", "third é"]);
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
