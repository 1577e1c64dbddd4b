//! Writes the seed corpora of the fuzz targets (`fuzz/`) from the
//! repository's own inputs: the example organisation, the scenarios, the
//! check cases, the feed and live cases and the fixtures, each encoded as its
//! target reads input (see `fuzz/src/checks/`).
//!
//! ```text
//! cargo run --example fuzz_seeds -- fuzz/seeds     # fuzz/run.sh does this
//! ```
//!
//! The `conditions` target decodes any bytes into roles, so its seeds are
//! bytes from a fixed pseudo-random sequence.

use std::fs;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

/// The selector byte of the `identities` target for a file name (see `fuzz/src/checks/identities.rs`).
fn identity_selector(file: &str) -> u8 {
    match Path::new(file).extension().and_then(|e| e.to_str()) {
        Some("jsonl") => 1,
        Some("csv") => 2,
        Some("json") if file.starts_with("users") => 3,
        Some("json") => 0,
        _ => 5,
    }
}

/// The selector byte of the `live` target for a file name (see `fuzz/src/checks/live.rs`).
fn live_selector(file: &str) -> u8 {
    match Path::new(file).extension().and_then(|e| e.to_str()) {
        Some("jsonl") => 0,
        Some("csv") => 1,
        Some("json") => 2,
        _ => 4,
    }
}

struct Seeds {
    dir: PathBuf,
    written: usize,
}

impl Seeds {
    fn write(&mut self, target: &str, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        let dir = self.dir.join(target);
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(name), bytes)?;
        self.written += 1;
        Ok(())
    }
}

/// The files of `dir` with extension `ext`, sorted.
fn files(dir: &Path, ext: &str) -> std::io::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().and_then(|e| e.to_str()) == Some(ext))
        .collect();
    out.sort();
    Ok(out)
}

/// Definition files as one `definitions` input: each after a `%% NAME` line.
fn definitions_input(files: &[(String, String)]) -> String {
    files.iter().map(|(name, text)| format!("%% {name}\n{text}")).collect()
}

fn tree(root: &Path) -> std::io::Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (sub, ext) in [("roles", "yaml"), ("policies", "cedar")] {
        let dir = root.join(sub);
        if dir.is_dir() {
            for path in files(&dir, ext)? {
                let name = format!("{sub}/{}", path.file_name().and_then(|n| n.to_str()).unwrap_or("x"));
                out.push((name, fs::read_to_string(&path)?));
            }
        }
    }
    Ok(out)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = std::env::args().nth(1).ok_or("usage: fuzz_seeds OUT_DIR")?;
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut seeds = Seeds {
        dir: PathBuf::from(out),
        written: 0,
    };

    // definitions: the example organisation, each scenario, each check case.
    let example = tree(root)?;
    seeds.write("definitions", "example-organisation", definitions_input(&example).as_bytes())?;
    for (name, text) in &example {
        seeds.write("definitions", &format!("example-{}", name.replace('/', "-")), text.as_bytes())?;
    }
    for scenario in fs::read_dir(root.join("tests/scenarios"))? {
        let scenario = scenario?.path();
        let name = scenario.file_name().and_then(|n| n.to_str()).unwrap_or("x").to_string();
        seeds.write(
            "definitions",
            &format!("scenario-{name}"),
            definitions_input(&tree(&scenario)?).as_bytes(),
        )?;
        for feed in ["identities.jsonl"] {
            if let Ok(bytes) = fs::read(scenario.join(feed)) {
                let mut input = vec![identity_selector(feed)];
                input.extend(bytes);
                seeds.write("identities", &format!("scenario-{name}"), &input)?;
            }
        }
        if let Ok(bytes) = fs::read(scenario.join("live.jsonl")) {
            let mut input = vec![live_selector("live.jsonl")];
            input.extend(bytes);
            seeds.write("live", &format!("scenario-{name}"), &input)?;
        }
    }
    for path in files(&root.join("tests/cases/check"), "yaml")? {
        let case: Value = serde_yaml::from_str(&fs::read_to_string(&path)?)?;
        let Some(Value::Mapping(map)) = case.get("files") else { continue };
        let files: Vec<(String, String)> = map
            .iter()
            .filter_map(|(k, v)| Some((k.as_str()?.to_string(), v.as_str()?.to_string())))
            .collect();
        let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("x");
        seeds.write("definitions", &format!("check-{stem}"), definitions_input(&files).as_bytes())?;
    }
    let feed_defs = fs::read(root.join("tests/cases/feeds/_definitions.yaml"))?;
    seeds.write("definitions", "feed-definitions", &feed_defs)?;

    // identities and live: the feed and live cases (their `input`), the fixtures.
    for (dir, target) in [("tests/cases/feeds", "identities"), ("tests/cases/live", "live")] {
        for path in files(&root.join(dir), "yaml")? {
            let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("x");
            if stem.starts_with('_') {
                continue;
            }
            let case: Value = serde_yaml::from_str(&fs::read_to_string(&path)?)?;
            let (Some(file), Some(input)) = (case.get("file").and_then(Value::as_str), case.get("input").and_then(Value::as_str)) else {
                continue;
            };
            let selector = if target == "identities" {
                identity_selector(file)
            } else {
                live_selector(file)
            };
            let mut bytes = vec![selector];
            bytes.extend_from_slice(input.as_bytes());
            seeds.write(target, stem, &bytes)?;
            // The same text through detection by content, too.
            bytes[0] = if target == "identities" { 5 } else { 4 };
            seeds.write(target, &format!("{stem}-detected"), &bytes)?;
        }
    }
    for (file, target, selector) in [("fixtures/identities.jsonl", "identities", 1), ("fixtures/live.jsonl", "live", 0)] {
        let mut bytes = vec![selector];
        bytes.extend(fs::read(root.join(file))?);
        seeds.write(target, &format!("fixture-{}", file.replace('/', "-")), &bytes)?;
    }

    // conditions: pseudo-random bytes (xorshift, fixed seed), 16 to 256 bytes each.
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for n in 0..64 {
        let len = 16 + (next() % 241) as usize;
        let bytes: Vec<u8> = (0..len).map(|_| next() as u8).collect();
        seeds.write("conditions", &format!("random-{n:02}"), &bytes)?;
    }
    println!("{} seeds written under {}", seeds.written, seeds.dir.display());
    Ok(())
}
