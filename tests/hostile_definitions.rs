//! Definitions from a hostile or careless pull request end in a located
//! diagnostic, never in a crash: Cedar nested past the stack, flat chains of
//! thousands of conditions, oversized trees, a byte-order mark
//! (docs/security.md: malicious YAML in a pull request, denial of service by
//! size or nesting).

use std::path::Path;
use std::process::{Command, Output};
use std::sync::Arc;

use entitle::eval::{Engine, Evaluator, GuardrailPath, Oracle};
use entitle::model::SourceFile;
use entitle::project::{Project, Sources};
use entitle::state::IdentityState;
use entitle::Instant;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn entitle(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_entitle"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("entitle runs")
}

/// A copy of the example organisation with `extra` written under `policies/` or `roles/`.
fn example_with(extra: &[(&str, String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for sub in ["roles", "policies"] {
        std::fs::create_dir(dir.path().join(sub)).unwrap();
        for entry in std::fs::read_dir(root().join(sub)).unwrap() {
            let entry = entry.unwrap();
            std::fs::copy(entry.path(), dir.path().join(sub).join(entry.file_name())).unwrap();
        }
    }
    for (name, text) in extra {
        std::fs::write(dir.path().join(name), text).unwrap();
    }
    dir
}

fn guardrail(body: &str) -> String {
    format!("@id(\"hostile\")\nforbid (principal, action, resource) when {{ {body} }};\n")
}

#[test]
fn cedar_nested_past_the_stack_is_a_located_error_not_an_abort() {
    let deep = guardrail(&format!("{}true{}", "(".repeat(800), ")".repeat(800)));
    let chain = guardrail(&vec!["principal.status == \"x\""; 20_000].join(" && "));
    for (what, text) in [("800 nested brackets", deep), ("a chain of 20,000 `&&`", chain)] {
        let dir = example_with(&[("policies/hostile.cedar", text)]);
        let out = entitle(dir.path(), &["check"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{what}: {stderr}");
        assert!(
            stderr.contains("error[E019]") && stderr.contains("policies/hostile.cedar:1:1"),
            "{what}: {stderr}"
        );
    }
}

#[test]
fn a_role_with_twenty_thousand_alternatives_compiles_and_evaluates() {
    let mut yaml = String::from("roles:\n  - id: huge\n    when:\n      any:\n");
    for i in 0..20_000 {
        yaml.push_str(&format!("        - {{ department: \"D{i}\" }}\n"));
    }
    yaml.push_str("        - { department: \"Engineering\" }\n    grants: [slack:member]\n");
    let dir = example_with(&[("roles/huge.yaml", yaml)]);
    let out = entitle(dir.path(), &["check"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // Plain Cedar (the oracle) walks the compiled policy: it must not overflow either.
    let feed = root().join("fixtures/identities.jsonl");
    let out = entitle(
        dir.path(),
        &[
            "eval",
            "--identity",
            feed.to_str().unwrap(),
            "--as-of",
            "2026-11-21",
            "--engine",
            "oracle",
            "--format",
            "json",
        ],
    );
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
}

/// Cedar text at the bounds loads and evaluates on a thread with a 2 MiB stack
/// (the default of spawned threads, a library user's worker pool included).
#[test]
fn cedar_at_the_bounds_is_safe_on_a_small_stack() {
    use entitle::compile::bounds::{MAX_BRACKET_NESTING, MAX_EXPRESSION_DEPTH};
    let nested = format!(
        "{}principal.status == \"terminated\"{}",
        "(".repeat(MAX_BRACKET_NESTING - 1),
        ")".repeat(MAX_BRACKET_NESTING - 1)
    );
    // `principal.status == "x"` is two operators (`.`, `==`) and `&&` a third.
    let terms = (MAX_EXPRESSION_DEPTH - 8) / 3;
    let chain = vec!["principal.status == \"x\""; terms].join(" || ");
    let policies = format!("{}\n{}", guardrail(&nested), guardrail(&chain).replace("hostile", "chain"));
    entitle::compile::bounds::check(&policies).expect("both policies are within the bounds");
    let handle = std::thread::Builder::new()
        .stack_size(2 << 20)
        .spawn(move || {
            let mut diagnostics = Vec::new();
            let mut sources = Sources::read(&root().join("roles"), Some(&root().join("policies")), &mut diagnostics);
            sources.policies.push(SourceFile {
                name: "policies/bounds.cedar".into(),
                text: policies,
            });
            let project = Arc::new(Project::from_sources(&sources).expect("loads"));
            let record = serde_json::json!({"id": "u-1", "kind": "person",
                "attributes": {"status": "terminated", "worker_type": "employee"}});
            let identity = IdentityState::from_json(&record, &project.defs).expect("valid");
            let at = Instant::parse("2026-11-21").unwrap();
            let engine = Engine::new(project.clone()).expect("engine");
            // Too deep for the native compiler, whose recursion is not bounded as Cedar's is: Cedar's path.
            let chain_path = engine
                .guardrail_paths()
                .find(|(id, _)| id.contains("chain"))
                .map(|(_, p)| p.clone());
            assert!(
                matches!(chain_path, Some(GuardrailPath::Cedar(ref why)) if why.contains("deeper")),
                "{chain_path:?}"
            );
            let engine = engine.desired(&identity, None, at).expect("engine evaluates");
            let oracle = Oracle::new(project).desired(&identity, None, at).expect("oracle evaluates");
            assert_eq!(engine, oracle);
        })
        .unwrap();
    handle.join().expect("no stack overflow at the bounds");
}

#[test]
fn a_byte_order_mark_starts_a_file_harmlessly() {
    let sod = std::fs::read_to_string(root().join("roles/sod.yaml")).unwrap();
    let guardrails = std::fs::read_to_string(root().join("policies/guardrails.cedar")).unwrap();
    let dir = example_with(&[
        ("roles/sod.yaml", format!("\u{feff}{sod}")),
        ("policies/guardrails.cedar", format!("\u{feff}{guardrails}")),
    ]);
    let out = entitle(dir.path(), &["check"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("0 errors, 0 warnings"), "{stderr}");
    // In memory too (a library user's sources).
    let (defs, diagnostics) = entitle::model::load(&[SourceFile {
        name: "bom.yaml".into(),
        text: "\u{feff}identity:\n  attributes:\n    status: { type: string }\n".into(),
    }]);
    assert!(diagnostics.is_empty(), "{diagnostics:?}");
    assert!(defs.identity.attributes.contains_key("status"));
}

#[test]
fn definitions_over_the_tree_cap_are_refused_before_reading() {
    let dir = tempfile::tempdir().unwrap();
    let roles = dir.path().join("roles");
    std::fs::create_dir(&roles).unwrap();
    // Each file is under the per-file bound; together they pass the per-tree cap.
    let file = format!("# {}\n", "x".repeat(7 << 20));
    let files = (entitle::model::load::MAX_TREE_BYTES / file.len() as u64) + 1;
    for i in 0..files {
        std::fs::write(roles.join(format!("f{i}.yaml")), &file).unwrap();
    }
    let result = Project::load(&roles, None);
    let failure = result.expect_err("over the cap");
    let codes: Vec<&str> = failure.diagnostics.iter().map(|d| d.code.as_str()).collect();
    assert_eq!(codes, ["E019"], "{:?}", failure.diagnostics);
    assert!(failure.diagnostics[0].message.contains("more than the 67108864 allowed in all"));
}
