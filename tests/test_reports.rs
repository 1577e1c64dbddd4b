//! The CI reports validate against the schemas their consumers use:
//! `entitle test --format junit` against the JUnit XSD Jenkins publishes,
//! and `entitle check --format sarif` against the SARIF 2.1.0 JSON schema of
//! the OASIS standard. Both schemas are vendored under `tests/schemas/` with
//! their licences (`tests/schemas/README.md`). Each validator is first shown
//! to refuse documents that break the schema, so a pass means something. The
//! JUnit checker (`tests/common/xsd.rs`) reads the XSD itself and refuses any
//! construct outside the subset it enforces; Cargo.toml says why it is not a crate.

use std::path::Path;
use std::process::Command;

use entitle::io::sarif::to_sarif;
use entitle::model::SourceFile;
use entitle::project::{Project, Sources};
use serde_json::Value;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn entitle(dir: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_entitle"))
        .current_dir(dir)
        .args(args)
        .output()
        .expect("entitle runs")
}

// --- JUnit ------------------------------------------------------------------

#[path = "common/xsd.rs"]
mod xsd;

/// The vendored JUnit XSD, read by the checker (which refuses any construct it does not enforce).
fn junit_schema() -> xsd::Schema {
    let text = std::fs::read_to_string(root().join("tests/schemas/junit-10.xsd")).expect("the vendored JUnit XSD");
    xsd::Schema::parse(&text).expect("the JUnit XSD uses only what the checker enforces")
}

/// The violations of `xml` against the JUnit XSD (empty: valid).
fn junit_violations(schema: &xsd::Schema, xml: &str) -> Vec<String> {
    schema.validate(xml)
}

#[test]
fn the_junit_validator_refuses_what_the_schema_forbids() {
    let schema = junit_schema();
    let valid =
        r#"<testsuites><testsuite name="s" tests="1" failures="0" errors="0"><testcase name="t" classname="s"/></testsuite></testsuites>"#;
    assert_eq!(junit_violations(&schema, valid), Vec::<String>::new());
    let broken = [
        // a testcase without its required name
        r#"<testsuites><testsuite name="s" tests="1" failures="0" errors="0"><testcase classname="s"/></testsuite></testsuites>"#,
        // a testsuite without the required failures count
        r#"<testsuites><testsuite name="s" tests="1" errors="0"><testcase name="t"/></testsuite></testsuites>"#,
        // an attribute the schema does not declare
        r#"<testsuites><testsuite name="s" tests="1" failures="0" errors="0"><testcase name="t" line="3"/></testsuite></testsuites>"#,
        // a time that is not a number (the SUREFIRE_TIME pattern)
        r#"<testsuites><testsuite name="s" tests="1" failures="0" errors="0" time="soon"><testcase name="t"/></testsuite></testsuites>"#,
        // an element the schema does not declare
        r#"<testsuites><testsuite name="s" tests="1" failures="0" errors="0"><testcase name="t"><oops/></testcase></testsuite></testsuites>"#,
        // markup inside a failure's text
        r#"<testsuites><testsuite name="s" tests="1" failures="1" errors="0"><testcase name="t"><failure message="m"><b/></failure></testcase></testsuite></testsuites>"#,
        // text where only elements belong
        r#"<testsuites>stray<testsuite name="s" tests="0" failures="0" errors="0"/></testsuites>"#,
        // a root the schema does not declare
        r#"<results><testsuite name="s" tests="0" failures="0" errors="0"/></results>"#,
    ];
    for xml in broken {
        assert!(!junit_violations(&schema, xml).is_empty(), "accepted: {xml}");
    }
}

#[test]
fn the_example_suites_report_valid_junit() {
    let schema = junit_schema();
    let out = entitle(root(), &["test", "--format", "junit"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let xml = String::from_utf8(out.stdout).expect("UTF-8");
    assert_eq!(junit_violations(&schema, &xml), Vec::<String>::new(), "{xml}");
    let tests = xml.matches("<testcase ").count();
    assert!(tests >= 80, "one testcase per test: {tests}");
    assert!(!xml.contains("<failure"), "the example passes");
}

/// Failures, with markup, quotes and control characters in names and
/// messages, still make a valid document; the failure text has the diff and
/// the explanation.
#[test]
fn failing_tests_report_valid_junit_with_their_explanations() {
    let schema = junit_schema();
    let dir = tempfile::tempdir().unwrap();
    let suite = "name: \"a <suite> & \\\"quotes\\\" \\e[31m\"\n\
                 as_of: 2026-11-21\n\
                 identities: IDENTITIES\n\
                 tests:\n\
                 \x20 - name: \"the <wrong> entitlements & a \\x01 control\"\n\
                 \x20   identity: u-1042\n\
                 \x20   expect: { exactly: [okta:sso], excludes: [netsuite:payment-approve] }\n\
                 \x20 - name: \"passes\"\n\
                 \x20   identity: u-1042\n\
                 \x20   expect: { includes: [okta:sso] }\n"
        .replace("IDENTITIES", &root().join("fixtures/identities.jsonl").display().to_string());
    std::fs::write(dir.path().join("suite.yaml"), suite).unwrap();
    let out = entitle(
        root(),
        &["test", "--format", "junit", &dir.path().join("suite.yaml").display().to_string()],
    );
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let xml = String::from_utf8(out.stdout).expect("UTF-8");
    assert_eq!(junit_violations(&schema, &xml), Vec::<String>::new(), "{xml}");
    assert!(xml.contains(r#"failures="1""#), "{xml}");
    assert!(xml.contains("the &lt;wrong&gt; entitlements &amp; a \\u{1} control"), "{xml}");
    assert!(xml.contains("a &lt;suite&gt; &amp; &quot;quotes&quot; \\u{1b}[31m"), "{xml}");
    // The failure text: what differs, and why each entitlement is held.
    assert!(xml.contains("unexpected `netsuite:payment-approve`"), "{xml}");
    assert!(xml.contains("role `treasury-approver` directly"), "{xml}");
    assert!(xml.contains("excludes ("), "{xml}");
}

/// Suites that cannot be read still give a valid report: one error per diagnostic.
#[test]
fn malformed_suites_report_valid_junit_with_an_error_each() {
    let schema = junit_schema();
    let dir = tempfile::tempdir().unwrap();
    let suite = dir.path().join("broken.yaml");
    std::fs::write(&suite, "as_of: someday\nidentities: [{ id: u-1, kind: person, attributes: { status: active } }]\ntests:\n  - identity: u-1\n    expect: { include: [okta:sso] }\n").unwrap();
    let out = entitle(root(), &["test", "--format", "junit", &suite.display().to_string()]);
    assert_eq!(out.status.code(), Some(1), "{}", String::from_utf8_lossy(&out.stderr));
    let xml = String::from_utf8(out.stdout).expect("UTF-8");
    assert_eq!(junit_violations(&schema, &xml), Vec::<String>::new(), "{xml}");
    assert!(xml.contains(r#"errors="2""#), "{xml}");
    assert!(xml.contains(r#"type="E015""#) && xml.contains(r#"type="E002""#), "{xml}");
    assert!(xml.contains("help: did you mean `includes`?"), "{xml}");
}

// --- SARIF ------------------------------------------------------------------

fn sarif_validator() -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("tests/schemas/sarif-schema-2.1.0.json")).expect("the vendored SARIF schema");
    let schema: Value = serde_json::from_str(&text).expect("the schema is JSON");
    jsonschema::draft4::options()
        .should_validate_formats(true)
        .build(&schema)
        .expect("the SARIF schema compiles")
}

fn sarif_errors(validator: &jsonschema::Validator, log: &Value) -> Vec<String> {
    validator.iter_errors(log).map(|e| format!("{}: {e}", e.instance_path())).collect()
}

#[test]
fn the_sarif_validator_refuses_what_the_schema_forbids() {
    let validator = sarif_validator();
    let good = serde_json::json!({"version": "2.1.0", "runs": [{"tool": {"driver": {"name": "entitle"}}, "results": []}]});
    assert_eq!(sarif_errors(&validator, &good), Vec::<String>::new());
    let mut wrong_version = good.clone();
    wrong_version["version"] = "2.0.0".into();
    let mut no_driver = good.clone();
    no_driver["runs"][0]["tool"] = serde_json::json!({});
    let mut bad_level = good.clone();
    bad_level["runs"][0]["results"] = serde_json::json!([{"message": {"text": "m"}, "level": "fatal"}]);
    let mut bad_line = good.clone();
    bad_line["runs"][0]["results"] = serde_json::json!([{"message": {"text": "m"},
        "locations": [{"physicalLocation": {"artifactLocation": {"uri": "a.yaml"}, "region": {"startLine": 0}}}]}]);
    let mut unknown_property = good.clone();
    unknown_property["extra"] = true.into();
    for (what, log) in [
        ("version", wrong_version),
        ("driver", no_driver),
        ("level", bad_level),
        ("startLine", bad_line),
        ("extra property", unknown_property),
    ] {
        assert!(!sarif_errors(&validator, &log).is_empty(), "accepted a log with a bad {what}");
    }
}

#[test]
fn check_reports_valid_sarif_on_the_example() {
    let validator = sarif_validator();
    let out = entitle(root(), &["check", "--format", "sarif"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let log: Value = serde_json::from_slice(&out.stdout).expect("SARIF is JSON");
    assert_eq!(sarif_errors(&validator, &log), Vec::<String>::new());
}

/// Every diagnostic code entitle has a check case for, errors and warnings,
/// as SARIF: each valid against the schema.
#[test]
fn every_check_case_reports_valid_sarif() {
    #[derive(serde::Deserialize)]
    struct Case {
        files: std::collections::BTreeMap<String, String>,
    }
    let validator = sarif_validator();
    let mut codes = std::collections::BTreeSet::new();
    let mut cases = 0;
    for entry in std::fs::read_dir(root().join("tests/cases/check")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "yaml") {
            continue;
        }
        let case: Case = serde_yaml::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        let mut sources = Sources::default();
        for (name, text) in case.files {
            let file = SourceFile { name: name.clone(), text };
            if name.ends_with(".cedar") {
                sources.policies.push(file);
            } else {
                sources.roles.push(file);
            }
        }
        let diagnostics = match Project::from_sources(&sources) {
            Ok(p) => p.warnings,
            Err(f) => f.diagnostics,
        };
        codes.extend(diagnostics.iter().map(|d| d.code));
        let log = to_sarif(&diagnostics);
        assert_eq!(sarif_errors(&validator, &log), Vec::<String>::new(), "{}", path.display());
        cases += 1;
    }
    assert!(cases > 100 && codes.len() > 25, "{cases} cases, {} codes", codes.len());
}
