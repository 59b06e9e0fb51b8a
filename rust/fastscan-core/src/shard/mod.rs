//! Shards: reading records, deciding them, writing what a run produces.
//!
//! * [`compression`]: decoders and encoders chosen by file name (gzip, zstd, none).
//! * [`lines`]: blocks of whole JSONL lines, with oversized lines cut to a prefix.
//! * [`record`]: the text field of one JSON record, without building the whole value.
//! * [`judge`]: the keep rule and each record's decision (kept, dropped, rejected + reason).
//! * [`rejects`], [`lmflow`]: the rejects file and `LMFlow` `text_only` output.
//! * [`jsonl`]: the per-shard scan that ties them together for JSONL shards.
//! * [`copy`]: kept files written from an input and the rows a run chose to keep.
//!
//! Parquet shards are read by the Python layer (pyarrow) and judged here through
//! [`judge::judge`] on Arrow arrays, so both formats share the keep rule and the decisions.

pub mod compression;
pub mod copy;
pub mod jsonl;
pub mod judge;
pub mod lines;
pub mod lmflow;
pub mod record;
pub mod rejects;
