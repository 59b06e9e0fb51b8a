//! # fastscan-core
//!
//! The pure-Rust core of fastscan, a prefilter that picks tool-use and API documents out of
//! LLM pretraining corpora. No Python here: the `fastscan-py` crate converts types and maps
//! errors, and everything in this crate is tested with `cargo test` alone.
//!
//! The design, first:
//!
//! * A [`Pack`] is data: named groups of literals and regexes with a weight, a case mode and a
//!   minimum hit count, plus optional named *formats* inside a group (the tool-call formats
//!   of the built-in pack). Parsing validates everything and names the group and pattern of
//!   any problem ([`PackProblem`]).
//! * A [`Scanner`] compiles a pack once: all literals into one Aho-Corasick DFA walked on
//!   several stretches of a document at once ([`literals`]), each regex on its own, run only
//!   on documents that hold a literal it requires ([`factors`]). It works on bytes, never on decoded strings, and is shared by
//!   reference across threads. [`scan`] documents the exact match semantics and the score.
//! * [`shard`] holds the per-shard pipeline: decoders and encoders, JSONL blocks, the text
//!   field of a record, the keep rule, the kept / rejects / `LMFlow` writers.
//!   [`tokenizer`] decodes GPT-2-style token ids (`ClimbLab`'s Parquet) back to text.
//! * Batch scans run on the scanner's own rayon pool, sized as [`threads`] describes, and read
//!   documents through the [`Documents`] trait, so Arrow buffers are scanned in place.
//!
//! ```
//! use fastscan_core::{Pack, Scanner, ScanOptions};
//!
//! let pack = Pack::from_toml(r#"
//!     [[group]]
//!     name = "http"
//!     literals = ["curl "]
//!     regexes = ['\b(?:GET|POST) /\S*']
//! "#).unwrap();
//! let scanner = Scanner::new(pack, ScanOptions::default()).unwrap();
//! let doc = scanner.scan_one(b"curl -X POST /v1/chat then GET /v1/models");
//! assert_eq!(doc.group_counts, vec![3]);
//! assert_eq!(doc.score, 2.0); // weight 1 * log2(1 + 3)
//! ```

pub mod error;
pub mod factors;
pub mod fold;
pub mod literals;
pub mod ngrams;
pub mod pack;
pub mod scan;
pub mod shard;
pub mod stats;
pub mod threads;
pub mod tokenizer;
pub mod toolcalls;

pub use error::{CoreError, PackProblem, Result};
pub use pack::{Format, Group, Pack, PackMeta, Pattern, PatternKind, View};
pub use scan::{DocScan, Documents, ScanBatch, ScanOptions, Scanner};
pub use shard::judge::{judge, Decision, Judged, KeepRule, RejectReason};
pub use threads::{resolve_threads, resolve_threads_from_env, Pool, ThreadSource};
pub use tokenizer::BpeDecoder;
