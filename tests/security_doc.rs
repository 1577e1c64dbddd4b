//! docs/security.md promises that every defence it lists has a test that
//! runs in CI. This keeps the promise honest: every row of its defence tables
//! names at least one test, and every name is a test function or a case file
//! that exists (so a renamed or deleted test cannot leave a row behind).

use std::path::{Path, PathBuf};

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The names of every test function in the crate's sources and tests.
fn test_functions() -> Vec<String> {
    let mut files = Vec::new();
    rust_files(&root().join("src"), &mut files);
    rust_files(&root().join("tests"), &mut files);
    let mut names = Vec::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        let mut next_is_test = false;
        for line in text.lines().map(str::trim) {
            if line.starts_with("#[test]") || line.starts_with("proptest!") {
                next_is_test = true;
            }
            if let Some(rest) = line.strip_prefix("fn ").or_else(|| line.strip_prefix("pub fn ")) {
                let name: String = rest.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect();
                if next_is_test {
                    names.push(name);
                }
                next_is_test = false;
            }
        }
    }
    names
}

#[test]
fn every_defence_names_tests_that_exist() {
    let doc = std::fs::read_to_string(root().join("docs/security.md")).unwrap();
    let section = doc
        .split("## Defences and their tests")
        .nth(1)
        .expect("docs/security.md has a defences section");
    let section = section.split("\n## ").next().unwrap_or(section);
    let tests = test_functions();
    let mut rows = 0;
    let mut problems = Vec::new();
    for line in section.lines().filter(|l| l.starts_with('|')) {
        let cells: Vec<&str> = line.trim_matches('|').split('|').map(str::trim).collect();
        if cells.len() < 3 || cells[0] == "bad input tried" || cells[0].starts_with("---") {
            continue;
        }
        rows += 1;
        let last = cells[cells.len() - 1];
        let named: Vec<&str> = last.split('`').skip(1).step_by(2).collect();
        if named.is_empty() {
            problems.push(format!("no test named for: {}", cells[0]));
        }
        for name in named {
            let exists = if name.starts_with("tests/") || name.starts_with("fuzz/") {
                root().join(name).exists()
            } else {
                tests.iter().any(|t| t == name)
            };
            if !exists {
                problems.push(format!("`{name}` (for: {}) is not a test or case file", cells[0]));
            }
        }
    }
    assert!(rows >= 20, "the defence tables have only {rows} rows");
    assert!(problems.is_empty(), "docs/security.md:\n  {}", problems.join("\n  "));
}
