//! Runs the shared test vectors in `tests/data/*.toml` (pytest runs the same files).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use fastscan_core::{CoreError, Pack, ScanOptions, Scanner};
use serde::Deserialize;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VectorFile {
    #[allow(dead_code)]
    description: String,
    pack: Option<toml::Value>,
    builtin: Option<String>,
    #[serde(default)]
    case: Vec<Case>,
    #[serde(default)]
    error: Vec<ErrorCase>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Case {
    name: String,
    haystack: String,
    groups: Option<BTreeMap<String, u32>>,
    min_groups: Option<BTreeMap<String, u32>>,
    formats: Option<Vec<String>>,
    patterns: Option<Vec<u32>>,
    score: Option<f64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct ErrorCase {
    name: String,
    toml: String,
    group: Option<String>,
    pattern: Option<String>,
    reason: String,
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn vector_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(repo_root().join("tests/data"))
        .expect("tests/data exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

fn load_pack(file: &VectorFile) -> Pack {
    if let Some(name) = &file.builtin {
        let path = repo_root().join(format!("python/fastscan/packs/{name}.toml"));
        let text = std::fs::read_to_string(&path).expect("built-in pack exists");
        return Pack::from_toml(&text).expect("built-in pack compiles");
    }
    let value = file
        .pack
        .clone()
        .expect("a vector file has `pack` or `builtin`");
    Pack::from_value(value).expect("vector pack compiles")
}

fn check_case(scanner: &Scanner, case: &Case) -> Vec<String> {
    let pack = scanner.pack();
    let doc = scanner.scan_one(case.haystack.as_bytes());
    let batch = scanner
        .scan_batch([case.haystack.as_bytes()].as_slice())
        .expect("batch scan");
    let mut problems = Vec::new();
    if batch.row(0) != doc {
        problems.push("scan_batch and scan_one disagree".to_owned());
    }
    for (g, group) in pack.groups.iter().enumerate() {
        let got = doc.group_counts[g];
        if let Some(exact) = &case.groups {
            let want = exact.get(&group.name).copied().unwrap_or(0);
            if got != want {
                problems.push(format!("group {}: got {got}, want {want}", group.name));
            }
        }
        if let Some(min) = case.min_groups.as_ref().and_then(|m| m.get(&group.name)) {
            if got < *min {
                problems.push(format!(
                    "group {}: got {got}, want at least {min}",
                    group.name
                ));
            }
        }
    }
    if let Some(want) = &case.formats {
        let got: Vec<&str> = pack
            .formats
            .iter()
            .enumerate()
            .filter(|(f, _)| doc.formats & (1 << f) != 0)
            .map(|(_, f)| f.name.as_str())
            .collect();
        if got != *want {
            problems.push(format!("formats: got {got:?}, want {want:?}"));
        }
    }
    if let Some(want) = &case.patterns {
        let got = doc.pattern_counts.clone().unwrap_or_default();
        if got != *want {
            problems.push(format!("patterns: got {got:?}, want {want:?}"));
        }
    }
    if let Some(want) = case.score {
        if (doc.score - want).abs() > 1e-9 {
            problems.push(format!("score: got {}, want {want}", doc.score));
        }
    }
    problems
}

#[test]
fn shared_vectors() {
    let files = vector_files();
    assert!(
        files.len() >= 5,
        "expected the shared vectors, found {files:?}"
    );
    let mut failures = Vec::new();
    let mut checked = 0;
    for path in &files {
        let text = std::fs::read_to_string(path).expect("readable vector file");
        let file: VectorFile =
            toml::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        for err in &file.error {
            checked += 1;
            match Pack::from_toml(&err.toml) {
                Ok(_) => failures.push(format!("{}: {}: compiled", path.display(), err.name)),
                Err(CoreError::Pack(p)) => {
                    if p.group != err.group
                        || p.pattern != err.pattern
                        || !p.reason.contains(&err.reason)
                    {
                        failures.push(format!("{}: {}: got {p:?}", path.display(), err.name));
                    }
                }
                Err(other) => failures.push(format!("{}: {}: {other}", path.display(), err.name)),
            }
        }
        if file.case.is_empty() {
            continue;
        }
        let options = ScanOptions {
            threads: Some(2),
            pattern_counts: true,
        };
        let scanner = Scanner::new(load_pack(&file), options).expect("scanner builds");
        for case in &file.case {
            checked += 1;
            for problem in check_case(&scanner, case) {
                failures.push(format!("{}: {}: {problem}", path.display(), case.name));
            }
        }
    }
    assert!(checked > 30, "only {checked} vectors checked");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
