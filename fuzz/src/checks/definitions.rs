//! `definitions`: arbitrary definition files (YAML, and Cedar guardrails)
//! through `Project::from_sources` — load, graph, compile, lint.
//!
//! The input is split into files at lines `%% NAME` (text before the first
//! such line is `roles/fuzz.yaml`; names are made distinct); a name ending in
//! `.cedar` is a guardrail file. Invariants: no panic and no stack overflow
//! (on a 2 MiB stack); a failed load says why with an error located in a file
//! it was given (or one it names), at a line within it; a successful load
//! compiles to Cedar that parses again and passes Cedar's validator in strict
//! mode, to an engine that builds, and to byte-identical artefacts when
//! loaded twice.

use std::str::FromStr;
use std::sync::Arc;

use cedar_policy::{PolicySet, Schema, ValidationMode, Validator};
use entitle::diag::Severity;
use entitle::eval::Engine;
use entitle::model::SourceFile;
use entitle::project::{Project, Sources};

use super::{line_count, on_small_stack};

/// The line that starts a new file in an input.
pub const FILE_MARK: &str = "%% ";

/// The sources an input decodes to.
pub fn decode(data: &[u8]) -> Sources {
    let text = String::from_utf8_lossy(data);
    let mut sources = Sources::default();
    let mut name = "roles/fuzz.yaml".to_string();
    let mut body = String::new();
    let push = |name: &str, body: &mut String, sources: &mut Sources| {
        // Files read from a directory have distinct names that are not empty.
        let taken = |n: &str| sources.roles.iter().chain(&sources.policies).any(|f| f.name == n);
        let base = if name.is_empty() { "unnamed.yaml" } else { name };
        let mut unique = base.to_string();
        let mut n = 1;
        while taken(&unique) {
            n += 1;
            unique = format!("{n}/{base}");
        }
        let name = unique.as_str();
        let file = SourceFile {
            name: name.to_string(),
            text: std::mem::take(body),
        };
        if name.ends_with(".cedar") {
            sources.policies.push(file);
        } else {
            sources.roles.push(file);
        }
    };
    let mut first = true;
    for line in text.split_inclusive('\n') {
        if let Some(next) = line.strip_prefix(FILE_MARK) {
            if !(first && body.is_empty()) {
                push(&name, &mut body, &mut sources);
            }
            name = next.trim_end_matches(['\n', '\r']).to_string();
        } else {
            body.push_str(line);
        }
        first = false;
    }
    push(&name, &mut body, &mut sources);
    sources
}

/// Checks one input.
pub fn check(data: &[u8]) {
    let sources = decode(data);
    on_small_stack(|| check_sources(&sources));
}

fn check_sources(sources: &Sources) {
    let project = match Project::from_sources(sources) {
        Ok(project) => project,
        Err(failure) => {
            assert!(
                failure.diagnostics.iter().any(|d| d.severity == Severity::Error),
                "a failed load without an error: {:?}",
                failure.diagnostics
            );
            for d in &failure.diagnostics {
                assert!(!d.message.is_empty(), "a diagnostic without a message: {d:?}");
                assert!(!d.location.file.is_empty(), "a diagnostic without a file: {d:?}");
                if let Some(text) = sources.text_of(&d.location.file) {
                    let lines = line_count(text.as_bytes());
                    assert!(
                        d.location.line <= lines,
                        "diagnostic at line {} of a {lines}-line file: {d:?}",
                        d.location.line
                    );
                }
            }
            return;
        }
    };
    let compiled = &project.compiled;
    let validation = Validator::new(compiled.schema.clone()).validate(&compiled.policies, ValidationMode::Strict);
    assert!(
        validation.validation_passed(),
        "compiled policies fail strict validation: {:?}",
        validation.validation_errors().map(ToString::to_string).collect::<Vec<_>>()
    );
    if let Err(e) = Schema::from_str(&compiled.schema_text) {
        panic!("schema text does not parse again: {e}");
    }
    let reparsed = PolicySet::from_str(&compiled.policies_text).unwrap_or_else(|e| panic!("policy text does not parse again: {e}"));
    assert_eq!(
        reparsed.policies().count(),
        compiled.policies.policies().count(),
        "policy text and policy set differ"
    );
    let again = Project::from_sources(sources).unwrap_or_else(|f| panic!("loads once, fails twice: {:?}", f.diagnostics));
    assert_eq!(again.compiled.schema_text, compiled.schema_text, "schema is not deterministic");
    assert_eq!(
        again.compiled.policies_text, compiled.policies_text,
        "policies are not deterministic"
    );
    assert_eq!(
        again.compiled.entities_json, compiled.entities_json,
        "entities are not deterministic"
    );
    assert_eq!(again.warnings, project.warnings, "warnings are not deterministic");
    if let Err(e) = Engine::new(Arc::new(project)) {
        panic!("the engine does not build: {e}");
    }
}
