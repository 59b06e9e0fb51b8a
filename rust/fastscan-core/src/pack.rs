//! Pattern packs: the data a scanner is compiled from.
//!
//! A pack is TOML (or the same structure as JSON):
//!
//! ```toml
//! [pack]
//! name = "demo"
//!
//! [[group]]
//! name = "http"            # a column of the scan result
//! weight = 2.0             # contribution to the score (see `scan`)
//! case_sensitive = false   # literals fold ASCII case, regexes get (?i)
//! min_hits = 1             # the group counts towards the score from this many hits
//! view = "raw"             # or "folded": match on the serialization-invariant view (`fold`)
//! support = false          # true: adds to the score only beside a non-support group's hit
//! literals = ["curl -X", "Content-Type:"]
//! regexes = ['\b(?:GET|POST) /[\w/{}.-]*']
//!
//!   [[group.format]]       # a named sub-family, reported per document
//!   name = "curl"
//!   literals = ["curl "]
//! ```
//!
//! [`Pack::from_toml`] and [`Pack::from_json`] parse and validate; every problem is a
//! [`CoreError::Pack`] naming the group, the pattern and the reason.

use std::collections::HashSet;

use serde::Deserialize;
use toml::Value;

use crate::error::{CoreError, Result};

/// The most compiled size one regex may take (bytes of the regex crate's NFA). It also bounds
/// the scan's cost per byte: a regex whose lazy DFA cannot fit its cache falls back to the
/// NFA simulation, whose cost grows with this size (measured: `a{1850}b`, 60 KB, scans its
/// worst input at ~590 MB/s; `a{2000}b`, 64 KB, at 0.09 MB/s). The built-in pack's largest
/// regex takes 47 KB.
pub const REGEX_SIZE_LIMIT: usize = 56 << 10;
/// The most compiled size all regexes of a pack may take together.
pub const REGEX_SET_SIZE_LIMIT: usize = 1 << 25;
/// The most formats a pack may declare (a document's formats are a 64-bit set).
pub const MAX_FORMATS: usize = 64;
/// The most patterns a pack may hold.
pub const MAX_PATTERNS: usize = 1 << 20;
/// The longest literal, in bytes: longer strings are documents, not patterns (and the
/// automaton's size grows with every literal byte).
pub const MAX_LITERAL_BYTES: usize = 256;
/// The most literal bytes a pack may hold together (bounds the automata's states).
pub const MAX_TOTAL_LITERAL_BYTES: usize = 1 << 16;
/// The largest weight: scores stay finite whatever the counts.
pub const MAX_WEIGHT: f64 = 1e6;
/// Names that would collide with the columns of a scan result or of a run's scores files.
pub const RESERVED_NAMES: &[&str] = &[
    "score",
    "formats",
    "pattern_counts",
    "decision",
    "reject_reason",
    "row",
    "offset",
    "length",
    "shard",
    "stages_passed",
    "drop_reason",
    "dropped_by",
    "similarity",
    "static_similarity",
    "ngram_tokens",
    "log_importance",
];

/// Which view of a document a pattern is matched on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum View {
    /// The document's bytes as they are.
    #[default]
    Raw,
    /// The serialization-invariant view of [`crate::fold`]: quotes and escapes dropped,
    /// whitespace reduced to a separator between words.
    Folded,
}

impl View {
    /// `"raw"` or `"folded"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            View::Raw => "raw",
            View::Folded => "folded",
        }
    }
}

/// Descriptive fields of a pack.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PackMeta {
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct GroupSpec {
    name: String,
    #[serde(default)]
    description: String,
    #[serde(default = "default_weight")]
    weight: f64,
    #[serde(default = "default_true")]
    case_sensitive: bool,
    #[serde(default = "default_min_hits")]
    min_hits: u32,
    #[serde(default)]
    view: View,
    #[serde(default)]
    support: bool,
    #[serde(default)]
    literals: Vec<String>,
    #[serde(default)]
    regexes: Vec<String>,
    #[serde(default, rename = "format")]
    formats: Vec<FormatSpec>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct FormatSpec {
    name: String,
    #[serde(default)]
    description: String,
    case_sensitive: Option<bool>,
    view: Option<View>,
    #[serde(default = "default_min_hits")]
    min_hits: u32,
    #[serde(default)]
    literals: Vec<String>,
    #[serde(default)]
    regexes: Vec<String>,
}

fn default_weight() -> f64 {
    1.0
}
fn default_true() -> bool {
    true
}
fn default_min_hits() -> u32 {
    1
}

/// A named group of patterns: one count column of the scan result.
#[derive(Debug, Clone, PartialEq)]
pub struct Group {
    pub name: String,
    pub description: String,
    pub weight: f64,
    pub min_hits: u32,
    pub case_sensitive: bool,
    /// The view the group's own patterns are matched on (a format may choose another).
    pub view: View,
    /// A supporting group adds to the score only when some non-supporting group of the
    /// document reached its `min_hits` (generic evidence ranks, it never decides alone).
    pub support: bool,
}

/// A named sub-family of a group (a tool-call format, say), reported per document.
#[derive(Debug, Clone, PartialEq)]
pub struct Format {
    pub name: String,
    pub description: String,
    /// Index into [`Pack::groups`].
    pub group: usize,
    pub min_hits: u32,
}

/// Whether a pattern is a literal or a regex.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatternKind {
    Literal,
    Regex,
}

impl PatternKind {
    /// `"literal"` or `"regex"`.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            PatternKind::Literal => "literal",
            PatternKind::Regex => "regex",
        }
    }
}

/// One literal or regex, with the group (and format) its hits count towards.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    /// Index into [`Pack::groups`].
    pub group: usize,
    /// Index into [`Pack::formats`], when the pattern belongs to a format.
    pub format: Option<usize>,
    pub kind: PatternKind,
    pub text: String,
    pub case_sensitive: bool,
    pub view: View,
}

impl Pattern {
    /// The bytes a literal is searched for: its text, folded in the folded view.
    #[must_use]
    pub fn literal_bytes(&self) -> Vec<u8> {
        match self.view {
            View::Raw => self.text.as_bytes().to_vec(),
            View::Folded => crate::fold::fold(self.text.as_bytes()),
        }
    }
}

/// A validated pattern pack. Pattern ids are positions in [`Pack::patterns`]: per group in
/// file order, the group's literals, its regexes, then each format's literals and regexes.
#[derive(Debug, Clone, PartialEq)]
pub struct Pack {
    pub meta: PackMeta,
    pub groups: Vec<Group>,
    pub formats: Vec<Format>,
    pub patterns: Vec<Pattern>,
}

impl Pack {
    /// Parses and validates a pack written in TOML.
    pub fn from_toml(text: &str) -> Result<Pack> {
        let table: toml::Table = toml::from_str(text)
            .map_err(|e| CoreError::pack(None, None, format!("TOML syntax: {e}")))?;
        Pack::from_value(Value::Table(table))
    }

    /// Parses and validates a pack written as JSON (the same structure as the TOML form).
    pub fn from_json(text: &str) -> Result<Pack> {
        let json: serde_json::Value = serde_json::from_str(text)
            .map_err(|e| CoreError::pack(None, None, format!("JSON syntax: {e}")))?;
        let value = Value::try_from(json).map_err(|e| {
            CoreError::pack(None, None, format!("unsupported JSON value (null?): {e}"))
        })?;
        Pack::from_value(value)
    }

    /// Validates a pack given as a TOML value (the parsed form of either syntax).
    pub fn from_value(value: Value) -> Result<Pack> {
        let Value::Table(mut top) = value else {
            return Err(CoreError::pack(None, None, "a pack must be a table"));
        };
        if let Some(key) = top.keys().find(|k| *k != "pack" && *k != "group") {
            return Err(CoreError::pack(
                None,
                None,
                format!("unknown top-level key {key:?} (expected `pack` and `group`)"),
            ));
        }
        let meta = match top.remove("pack") {
            None => PackMeta::default(),
            Some(v) => v
                .try_into()
                .map_err(|e| CoreError::pack(None, None, format!("[pack]: {e}")))?,
        };
        let groups = match top.remove("group") {
            None => Vec::new(),
            Some(Value::Array(items)) => items,
            Some(_) => {
                return Err(CoreError::pack(
                    None,
                    None,
                    "`group` must be an array of tables ([[group]])",
                ))
            }
        };
        if groups.is_empty() {
            return Err(CoreError::pack(
                None,
                None,
                "a pack needs at least one [[group]]",
            ));
        }
        let mut builder = Builder {
            pack: Pack {
                meta,
                groups: Vec::new(),
                formats: Vec::new(),
                patterns: Vec::new(),
            },
            group_names: HashSet::new(),
            format_names: HashSet::new(),
            literal_bytes: 0,
        };
        for (index, item) in groups.into_iter().enumerate() {
            builder.add_group(index, item)?;
        }
        if builder.pack.patterns.len() > MAX_PATTERNS {
            return Err(CoreError::pack(
                None,
                None,
                format!("a pack may hold at most {MAX_PATTERNS} patterns"),
            ));
        }
        Ok(builder.pack)
    }

    /// Indices of the patterns that are literals.
    pub fn literal_ids(&self) -> impl Iterator<Item = usize> + '_ {
        self.ids_of(PatternKind::Literal)
    }

    /// Indices of the patterns that are regexes.
    pub fn regex_ids(&self) -> impl Iterator<Item = usize> + '_ {
        self.ids_of(PatternKind::Regex)
    }

    fn ids_of(&self, kind: PatternKind) -> impl Iterator<Item = usize> + '_ {
        self.patterns
            .iter()
            .enumerate()
            .filter(move |(_, p)| p.kind == kind)
            .map(|(i, _)| i)
    }
}

struct Builder {
    pack: Pack,
    group_names: HashSet<String>,
    format_names: HashSet<String>,
    literal_bytes: usize,
}

impl Builder {
    fn add_group(&mut self, index: usize, item: Value) -> Result<()> {
        let label = group_label(index, &item);
        let spec: GroupSpec = item
            .try_into()
            .map_err(|e| CoreError::pack(Some(&label), None, e.to_string()))?;
        let name = spec.name.as_str();
        check_name(name, "group", Some(name))?;
        if !self.group_names.insert(spec.name.clone()) {
            return Err(CoreError::pack(Some(name), None, "duplicate group name"));
        }
        if !spec.weight.is_finite() || spec.weight.abs() > MAX_WEIGHT {
            return Err(CoreError::pack(
                Some(name),
                None,
                format!("weight must be a finite number of at most {MAX_WEIGHT:e} in size"),
            ));
        }
        if spec.min_hits == 0 {
            return Err(CoreError::pack(
                Some(name),
                None,
                "min_hits must be at least 1",
            ));
        }
        let group = self.pack.groups.len();
        let mut seen_literals = HashSet::new();
        self.add_patterns(
            group,
            None,
            name,
            (spec.case_sensitive, spec.view),
            &spec.literals,
            &spec.regexes,
            &mut seen_literals,
        )?;
        let mut any = !spec.literals.is_empty() || !spec.regexes.is_empty();
        for format in &spec.formats {
            let label = format!("{name}/{}", format.name);
            check_name(&format.name, "format", Some(&label))?;
            if !self.format_names.insert(format.name.clone()) {
                return Err(CoreError::pack(Some(&label), None, "duplicate format name"));
            }
            if format.min_hits == 0 {
                return Err(CoreError::pack(
                    Some(&label),
                    None,
                    "min_hits must be at least 1",
                ));
            }
            if format.literals.is_empty() && format.regexes.is_empty() {
                return Err(CoreError::pack(
                    Some(&label),
                    None,
                    "a format needs at least one literal or regex",
                ));
            }
            if self.pack.formats.len() == MAX_FORMATS {
                return Err(CoreError::pack(
                    Some(&label),
                    None,
                    format!("a pack may declare at most {MAX_FORMATS} formats"),
                ));
            }
            let format_id = self.pack.formats.len();
            self.pack.formats.push(Format {
                name: format.name.clone(),
                description: format.description.clone(),
                group,
                min_hits: format.min_hits,
            });
            self.add_patterns(
                group,
                Some(format_id),
                &label,
                (
                    format.case_sensitive.unwrap_or(spec.case_sensitive),
                    format.view.unwrap_or(spec.view),
                ),
                &format.literals,
                &format.regexes,
                &mut seen_literals,
            )?;
            any = true;
        }
        if !any {
            return Err(CoreError::pack(
                Some(name),
                None,
                "a group needs at least one literal, regex or format",
            ));
        }
        self.pack.groups.push(Group {
            name: spec.name,
            description: spec.description,
            weight: spec.weight,
            min_hits: spec.min_hits,
            case_sensitive: spec.case_sensitive,
            view: spec.view,
            support: spec.support,
        });
        Ok(())
    }

    #[allow(clippy::too_many_arguments)]
    fn add_patterns(
        &mut self,
        group: usize,
        format: Option<usize>,
        label: &str,
        (case_sensitive, view): (bool, View),
        literals: &[String],
        regexes: &[String],
        seen_literals: &mut HashSet<(View, Vec<u8>)>,
    ) -> Result<()> {
        for literal in literals {
            if literal.is_empty() {
                return Err(CoreError::pack(Some(label), Some(literal), "empty literal"));
            }
            if literal.len() > MAX_LITERAL_BYTES {
                return Err(CoreError::pack(
                    Some(label),
                    Some(&literal.chars().take(40).collect::<String>()),
                    format!(
                        "literal of {} bytes; the limit is {MAX_LITERAL_BYTES}",
                        literal.len()
                    ),
                ));
            }
            self.literal_bytes += literal.len();
            if self.literal_bytes > MAX_TOTAL_LITERAL_BYTES {
                return Err(CoreError::pack(
                    Some(label),
                    None,
                    format!("the pack's literals exceed {MAX_TOTAL_LITERAL_BYTES} bytes in all"),
                ));
            }
            let pattern = Pattern {
                group,
                format,
                kind: PatternKind::Literal,
                text: literal.clone(),
                case_sensitive,
                view,
            };
            let mut key = pattern.literal_bytes();
            if key.is_empty() {
                return Err(CoreError::pack(
                    Some(label),
                    Some(literal),
                    "literal is empty in the folded view (only quotes, backslashes and spaces)",
                ));
            }
            if !case_sensitive {
                key.make_ascii_lowercase();
            }
            if !seen_literals.insert((view, key)) {
                return Err(CoreError::pack(
                    Some(label),
                    Some(literal),
                    "duplicate literal in this group (it would be counted twice)",
                ));
            }
            self.pack.patterns.push(pattern);
        }
        for regex in regexes {
            check_regex(label, regex, case_sensitive)?;
            self.pack.patterns.push(Pattern {
                group,
                format,
                kind: PatternKind::Regex,
                text: regex.clone(),
                case_sensitive,
                view,
            });
        }
        Ok(())
    }
}

fn group_label(index: usize, item: &Value) -> String {
    match item.get("name").and_then(Value::as_str) {
        Some(name) => name.to_owned(),
        None => format!("#{}", index + 1),
    }
}

fn check_name(name: &str, what: &str, label: Option<&str>) -> Result<()> {
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !valid {
        return Err(CoreError::pack(
            label,
            None,
            format!("{what} name {name:?} must start with a letter or '_' and hold only letters, digits, '_' and '-'"),
        ));
    }
    if RESERVED_NAMES.contains(&name) {
        return Err(CoreError::pack(
            label,
            None,
            format!("{what} name {name:?} is reserved for a result column"),
        ));
    }
    Ok(())
}

/// The regex source as compiled: case-insensitive patterns are wrapped in `(?i:...)`.
#[must_use]
pub fn effective_regex(text: &str, case_sensitive: bool) -> String {
    if case_sensitive {
        text.to_owned()
    } else {
        format!("(?i:{text})")
    }
}

fn check_regex(label: &str, regex: &str, case_sensitive: bool) -> Result<()> {
    if regex.is_empty() {
        return Err(CoreError::pack(Some(label), Some(regex), "empty regex"));
    }
    let source = effective_regex(regex, case_sensitive);
    let hir = regex_syntax::ParserBuilder::new()
        .utf8(false)
        .build()
        .parse(&source)
        .map_err(|e| CoreError::pack(Some(label), Some(regex), format!("invalid regex: {e}")))?;
    if hir.properties().minimum_len() == Some(0) {
        return Err(CoreError::pack(
            Some(label),
            Some(regex),
            "regex can match the empty string (it would count a hit at every position)",
        ));
    }
    regex::bytes::RegexBuilder::new(&source)
        .size_limit(REGEX_SIZE_LIMIT)
        .build()
        .map_err(|e| match e {
            regex::Error::CompiledTooBig(limit) => CoreError::pack(
                Some(label),
                Some(regex),
                format!("regex is over the compiled size limit of {limit} bytes"),
            ),
            other => CoreError::pack(Some(label), Some(regex), format!("invalid regex: {other}")),
        })?;
    Ok(())
}
