//! Hostile suites: the example's suites mangled at random — bytes cut,
//! YAML punctuation and control characters inserted, lines repeated or
//! swapped — never make `entitle test` panic. Either every problem is a
//! located diagnostic (a file, and a line for everything but I/O), or the
//! suites load and run to a report.

use std::path::Path;
use std::sync::Arc;

use entitle::diag::Code;
use entitle::eval::Engine;
use entitle::model::SourceFile;
use entitle::project::Project;
use entitle::testing::{load_suites, run_suites};
use proptest::prelude::*;

use crate::common;

fn project() -> Arc<Project> {
    common::load_project(Path::new(env!("CARGO_MANIFEST_DIR")))
}

/// The example's suite files, named as `entitle test` names them (relative to the crate root).
fn suites() -> Vec<SourceFile> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/tests");
    let mut files: Vec<SourceFile> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .map(|p| SourceFile {
            name: format!("fixtures/tests/{}", p.file_name().unwrap().to_string_lossy()),
            text: std::fs::read_to_string(&p).unwrap(),
        })
        .collect();
    files.sort_by(|a, b| a.name.cmp(&b.name));
    files
}

/// Applies `edits` to `text`: each edit picks an operation and a place from its numbers.
fn mangle(text: &str, edits: &[(u8, usize, usize)]) -> String {
    const PIECES: &[&str] = &[
        ":",
        "- ",
        "[",
        "]",
        "{",
        "}",
        "&a",
        "*a",
        "\"",
        "'",
        "#",
        "\t",
        "\n",
        "  ",
        "null",
        "~",
        "u-1042",
        "okta:sso",
        "expect:",
        "given:",
        "set:",
        "owner.status: terminated",
        "\u{0}",
        "\u{1b}[2J",
        "\u{202e}",
        "é",
        "2026-13-45",
        "999999999999999999999",
    ];
    let mut chars: Vec<char> = text.chars().collect();
    for &(op, at, len) in edits {
        let at = if chars.is_empty() { 0 } else { at % (chars.len() + 1) };
        match op % 4 {
            0 => {
                let end = (at + len % 40).min(chars.len());
                chars.drain(at..end);
            }
            1 => {
                let piece = PIECES[len % PIECES.len()];
                chars.splice(at..at, piece.chars());
            }
            2 => {
                // Repeat the line around `at`.
                let text: String = chars.iter().collect();
                let start = text[..text.char_indices().nth(at).map_or(text.len(), |(i, _)| i)]
                    .rfind('\n')
                    .map_or(0, |i| i + 1);
                let end = text[start..].find('\n').map_or(text.len(), |i| start + i + 1);
                let line = text[start..end].to_string();
                chars = format!("{}{line}{}", &text[..end], &text[end..]).chars().collect();
            }
            _ => chars.truncate(at),
        }
    }
    chars.into_iter().collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn mangled_suites_never_panic(file in 0usize..64, edits in prop::collection::vec((any::<u8>(), any::<usize>(), any::<usize>()), 1..6)) {
        let project = project();
        let mut files = suites();
        let index = file % files.len();
        files[index].text = mangle(&files[index].text, &edits);
        let loaded = load_suites(&project, files);
        for d in &loaded.diagnostics {
            prop_assert!(!d.location.file.is_empty(), "{d:?}");
            prop_assert!(d.location.line > 0 || d.code == Code::Io, "unlocated: {d:?}");
            prop_assert!(!d.message.is_empty() && !d.message.ends_with('.'), "{d:?}");
        }
        if loaded.diagnostics.is_empty() {
            let engine = Engine::new(project.clone()).unwrap();
            let report = run_suites(&project, &engine, &loaded.suites, true).unwrap();
            prop_assert_eq!(report.suites.len(), loaded.suites.len());
        }
    }
}
