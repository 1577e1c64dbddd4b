//! `entitle init [DIR]`: a working policy repository to start from — an
//! identity schema, one application, a birthright role, a guardrail, an
//! identity feed with a test suite, the CI recipe and `entitle.toml` — that
//! passes `entitle check` and `entitle test` as written.
//!
//! It never overwrites: when any file it would write exists, it writes
//! nothing and names them.

use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::common::Reported;
use super::context::Context;
use super::errors::{report, CliError};
use super::project_root::PROJECT_FILE;
use super::{EXIT_OK, EXIT_USAGE};

/// Arguments of `init`.
#[derive(clap::Args, Debug)]
pub struct Args {
    /// The directory to create the repository in (default: the working directory).
    #[arg(value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Output format: `human` (what to run next) or `json` (`{"created": [...]}`).
    #[arg(long, value_enum)]
    format: Option<super::compile::Format>,
}

/// Every file of the scaffold: its path in the new repository and its text.
pub const FILES: &[(&str, &str)] = &[
    (PROJECT_FILE, ENTITLE_TOML),
    ("roles/identity.yaml", IDENTITY_YAML),
    ("roles/applications.yaml", APPLICATIONS_YAML),
    ("roles/roles.yaml", ROLES_YAML),
    ("policies/guardrails.cedar", GUARDRAILS_CEDAR),
    ("fixtures/identities.jsonl", IDENTITIES_JSONL),
    ("fixtures/tests/birthright.yaml", SUITE_YAML),
    ("ci/policy-check.sh", POLICY_CHECK_SH),
    (".github/workflows/policy-check.yml", WORKFLOW_YML),
];

pub fn run(ctx: &Context, args: Args) -> anyhow::Result<i32> {
    let given = args.dir.as_deref().unwrap_or(Path::new("."));
    let dir = ctx.input(given);
    let at = |name: &str| {
        if dir == Path::new(".") {
            PathBuf::from(name)
        } else {
            dir.join(name)
        }
    };
    let existing: Vec<String> = FILES
        .iter()
        .map(|(name, _)| at(name))
        .filter(|p| p.exists())
        .map(|p| format!("`{}`", p.display()))
        .collect();
    if !existing.is_empty() {
        report(
            &CliError::new(
                "init-exists",
                format!(
                    "{} already exist{}: nothing was written",
                    existing.join(", "),
                    if existing.len() == 1 { "s" } else { "" }
                ),
            )
            .with_help("run `entitle init` in an empty directory, or move those files away first"),
        );
        return Err(Reported(EXIT_USAGE).into());
    }
    for (name, text) in FILES {
        let path = at(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create `{}`", parent.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("cannot write `{}`", path.display()))?;
        #[cfg(unix)]
        if name.ends_with(".sh") {
            use std::os::unix::fs::PermissionsExt as _;
            std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
                .with_context(|| format!("cannot make `{}` executable", path.display()))?;
        }
    }
    if ctx.format(args.format) == super::compile::Format::Json {
        let created: Vec<String> = FILES.iter().map(|(name, _)| at(name).display().to_string()).collect();
        println!("{}", serde_json::json!({ "created": created }));
        return Ok(EXIT_OK);
    }
    eprintln!("created a policy repository in {} ({} files); next:", dir.display(), FILES.len());
    // The commands to run next, from where the user is.
    let shown = given.display();
    eprintln!("  entitle -C {shown} check");
    eprintln!("  entitle -C {shown} test --coverage");
    eprintln!("  entitle -C {shown} eval --identities fixtures/identities.jsonl");
    Ok(EXIT_OK)
}

const ENTITLE_TOML: &str = r#"# The root of an entitle policy repository: entitle finds it from any
# subdirectory, as cargo finds Cargo.toml. Every key is optional.

# Where the definitions and the hand-written guardrails are, from here.
roles = "roles"
policies = "policies"

# Limits of `entitle plan`'s safety guards when no flag is given
# (a count, a percentage, or both: "500 or 10%", whichever is smaller).
[guards]
max_revokes = "500 or 10%"
max_invalid = "1%"
max_orphaned = "10%"
max_privileged_grants = "100 or 10%"

# The output format of every command that has it, when --format is not given.
[output]
format = "human"
"#;

const IDENTITY_YAML: &str = r#"# The shape of every identity record: people from the HR feed, service
# accounts and AI agents from the inventory (their `owner` is a person).
version: 1

identity:
  kinds: [person, service_account, agent]
  attributes:
    status:      { type: enum, values: [pre_hire, active, leave, terminated], required: true }
    department:  { type: string }
    worker_type: { type: enum, values: [employee, contractor, intern] }
    start_date:  { type: date }
"#;

const APPLICATIONS_YAML: &str = r#"# The applications entitle provisions, and what can be held in each.
version: 1

applications:
  - id: wiki
    name: Company wiki
    owner: u-1000
    entitlements:
      - id: reader
        name: Read every space
      - id: editor
        name: Edit every space
"#;

const ROLES_YAML: &str = r#"# Roles: who should hold what, and why.
version: 1

packages:
  - id: all-staff
    name: What everyone at work gets
    entitlements: [wiki:reader]

roles:
  - id: employee
    description: Birthright access for every active employee
    when: { status: active, worker_type: employee }
    grants: [all-staff, wiki:editor]

  - id: contractor
    description: Contractors read, but do not edit
    when: { status: active, worker_type: contractor }
    grants: [all-staff]
"#;

const GUARDRAILS_CEDAR: &str = r#"// Guardrails: hand-written Cedar forbids, merged with the policies compiled
// from roles/. A forbid always wins over a role's permit.

// A terminated identity holds nothing: a leaver is cut off the day HR says so.
@id("leavers-hold-nothing")
forbid (principal, action == Action::"hold", resource)
when { principal.status == "terminated" };
"#;

const IDENTITIES_JSONL: &str = r#"{"id": "u-1000", "kind": "person", "attributes": {"status": "active", "department": "IT", "worker_type": "employee", "start_date": "2024-01-08"}}
{"id": "u-1001", "kind": "person", "attributes": {"status": "active", "department": "Sales", "worker_type": "contractor", "start_date": "2025-06-02"}}
{"id": "u-1002", "kind": "person", "attributes": {"status": "terminated", "department": "Sales", "worker_type": "employee", "start_date": "2023-03-01"}}
"#;

const SUITE_YAML: &str = r#"name: birthright access
as_of: 2026-01-01T00:00:00Z
identities: ../identities.jsonl
tests:
  - name: an active employee reads and edits the wiki
    identity: u-1000
    expect:
      roles: [employee]
      exactly: [wiki:editor, wiki:reader]
  - name: a contractor only reads
    identity: u-1001
    expect:
      roles: [contractor]
      exactly: [wiki:reader]
  - name: a leaver holds nothing
    identity: u-1002
    expect:
      roles: []
      exactly: []
"#;

/// The CI recipe of docs/ci.md, as the project ships it.
const POLICY_CHECK_SH: &str = include_str!("../../ci/policy-check.sh");

const WORKFLOW_YML: &str = r#"# The policy checks of a pull request (entitle's docs/ci.md): check with SARIF,
# test with coverage and JUnit, the blast radius as a comment, compile --check.
name: policy checks
on:
  pull_request:
    paths: ["roles/**", "policies/**", "fixtures/**", "compiled/**", "entitle.toml"]
permissions:
  contents: read
  security-events: write   # upload SARIF to code scanning
  checks: write            # publish the JUnit report
  pull-requests: write     # comment the blast radius
jobs:
  policy-check:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          fetch-depth: 0   # whatif reads the base branch's definitions with git
      - uses: dtolnay/rust-toolchain@stable
      - name: Install entitle
        run: cargo install --locked --git "$ENTITLE_GIT" --tag "$ENTITLE_VERSION" entitle
        env:
          ENTITLE_GIT: https://git.example.com/iam/entitle.git   # where your organisation keeps entitle
          ENTITLE_VERSION: v0.1.0
      - name: Policy checks
        id: checks
        continue-on-error: true   # publish every report first; the last step fails the job
        run: ci/policy-check.sh
        env:
          OUT: entitle-reports
          MIN_COVERAGE: "90"
          BASE_REF: origin/${{ github.base_ref }}
          IDENTITIES: fixtures/identities.jsonl
      - name: Upload SARIF to code scanning
        if: always() && hashFiles('entitle-reports/entitle.sarif') != ''
        uses: github/codeql-action/upload-sarif@v3
        with:
          sarif_file: entitle-reports/entitle.sarif
          category: entitle
      - name: Publish the test report
        if: always() && hashFiles('entitle-reports/junit.xml') != ''
        uses: mikepenz/action-junit-report@v4
        with:
          report_paths: entitle-reports/junit.xml
          check_name: entitle test
      - name: Comment the blast radius on the pull request
        if: always() && hashFiles('entitle-reports/whatif.md') != ''
        uses: marocchino/sticky-pull-request-comment@v2
        with:
          header: entitle-whatif
          path: entitle-reports/whatif.md
      - name: Fail when a check failed
        if: steps.checks.outcome == 'failure'
        run: exit 1
"#;
