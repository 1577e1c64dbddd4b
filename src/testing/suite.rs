//! Test suite files (spec §6) read into typed [`Suite`]s, every problem a
//! located diagnostic.
//!
//! A suite names an instant, identities (a file beside it, or records
//! inline) and tests; each test names an identity — or, for an HR change,
//! a `given` identity and the attributes its `set` changes — and what it
//! expects. Every id a suite names is checked against the definitions and
//! the identities, with a "did you mean"; expectations that can never pass
//! together, and tests that assert nothing, are errors too.
//!
//! This module reads only the suite files it is given and the identity
//! files they name; it never evaluates anyone.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::diag::{did_you_mean, Code, Diagnostic, Location};
use crate::io::identities::{read_identities_within, IdentityFeed};
use crate::io::{InputError, ReadBudget};
use crate::model::reader::Reader;
use crate::model::yaml::{self, Node, Value};
use crate::model::{read_file, read_tree, SourceFile};
use crate::population::Population;
use crate::project::Project;
use crate::state::IdentityState;
use crate::time::Instant;

/// The keys a suite file may hold at its top level.
pub const SUITE_KEYS: &[&str] = &["name", "description", "as_of", "identities", "tests"];
/// The keys of a test.
pub const TEST_KEYS: &[&str] = &["name", "description", "identity", "given", "set", "as_of", "expect"];
/// The keys of `expect`: one per kind of expectation.
pub const EXPECTATION_KEYS: &[&str] = &[
    "roles",
    "exactly",
    "includes",
    "excludes",
    "because",
    "forbidden_by",
    "sod_violations",
    "gained",
    "lost",
];
/// The keys of one `because` expectation.
const BECAUSE_KEYS: &[&str] = &["role", "via"];

/// A test suite, read and checked against the definitions.
#[derive(Debug, Clone)]
pub struct Suite {
    /// The suite file, as named to the user.
    pub file: String,
    /// Its `name` (the file's stem when it has none).
    pub name: String,
    /// The instant its tests are evaluated at, unless a test gives its own.
    pub as_of: Instant,
    /// Its identities (shared between suites that read the same file).
    pub identities: Arc<Population>,
    /// Its tests, in file order.
    pub tests: Vec<Test>,
}

/// One test of a suite.
#[derive(Debug, Clone)]
pub struct Test {
    /// Its `name`, or one made from its identity.
    pub name: String,
    /// Where the test starts.
    pub location: Location,
    /// The instant it is evaluated at (its own `as_of`, else the suite's).
    pub as_of: Instant,
    /// Whom it evaluates.
    pub subject: TestSubject,
    /// What it expects, in file order.
    pub expectations: Vec<Expectation>,
}

/// Whom a test evaluates.
#[derive(Debug, Clone)]
pub enum TestSubject {
    /// `identity: ID`: the identity as the suite's identities have it.
    Identity(String),
    /// `given: ID` with `set`: an HR change (a mover, a leaver) or, with
    /// `owner.<attr>` keys, a change of the identity's owner.
    Change {
        /// The identity changed.
        given: String,
        /// Its record after the change.
        changed: Box<IdentityState>,
        /// Its owner's record after the change, when `set` changes the owner.
        owner: Option<Box<IdentityState>>,
    },
}

impl TestSubject {
    /// The id of the identity the test evaluates.
    pub fn identity(&self) -> &str {
        match self {
            TestSubject::Identity(id) => id,
            TestSubject::Change { given, .. } => given,
        }
    }
}

/// One expectation of a test, with where it is written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expectation {
    /// What is expected.
    pub kind: ExpectationKind,
    /// Where (the key, or the entry of a `because`/`forbidden_by` map).
    pub location: Location,
}

/// What a test may expect of the desired state of its identity (after the
/// change, for an HR change). Lists are ids as written, without duplicates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectationKind {
    /// `roles`: exactly these roles are held (their own conditions hold).
    Roles(Vec<String>),
    /// `exactly`: exactly these entitlements are desired.
    Exactly(Vec<String>),
    /// `includes`: at least these entitlements are desired.
    Includes(Vec<String>),
    /// `excludes`: none of these entitlements is desired.
    Excludes(Vec<String>),
    /// `because`: the entitlement is desired through this role (the role
    /// held, or one it inherits the grant through) and/or via these packages
    /// (each in the package path, in this order).
    Because {
        /// The entitlement.
        entitlement: String,
        /// The role.
        role: Option<String>,
        /// Packages of the path, outermost first.
        via: Vec<String>,
    },
    /// `forbidden_by`: the entitlement is not desired, and each of these
    /// guardrails forbids the identity holding it.
    ForbiddenBy {
        /// The entitlement.
        entitlement: String,
        /// The forbidding guardrails.
        guardrails: Vec<String>,
    },
    /// `sod_violations`: exactly these separation-of-duties rules are
    /// violated by the desired state (`[]`: none).
    SodViolations(Vec<String>),
    /// `gained` (HR changes only): exactly these entitlements are desired
    /// after the change and not before.
    Gained(Vec<String>),
    /// `lost` (HR changes only): exactly these entitlements are desired
    /// before the change and not after.
    Lost(Vec<String>),
}

impl ExpectationKind {
    /// The key it is written under in `expect`.
    pub fn key(&self) -> &'static str {
        match self {
            ExpectationKind::Roles(_) => "roles",
            ExpectationKind::Exactly(_) => "exactly",
            ExpectationKind::Includes(_) => "includes",
            ExpectationKind::Excludes(_) => "excludes",
            ExpectationKind::Because { .. } => "because",
            ExpectationKind::ForbiddenBy { .. } => "forbidden_by",
            ExpectationKind::SodViolations(_) => "sod_violations",
            ExpectationKind::Gained(_) => "gained",
            ExpectationKind::Lost(_) => "lost",
        }
    }
}

/// Test suites read from files, with every diagnostic of reading them.
#[derive(Debug, Clone, Default)]
pub struct LoadedSuites {
    /// The suites that read without error, in file order.
    pub suites: Vec<Suite>,
    /// The suite files read (for rendering diagnostics).
    pub sources: Vec<SourceFile>,
    /// Every diagnostic, sorted.
    pub diagnostics: Vec<Diagnostic>,
}

/// Finds suite files: each path is a suite file or a folder searched
/// recursively for `*.yaml` and `*.yml`; with no path, `default_dir`
/// (`fixtures/` beside the roles). Files come back sorted by path within each
/// folder, folders in the order given; a path that does not exist, or finding
/// no suite at all, is an `io` diagnostic.
pub fn discover(paths: &[PathBuf], default_dir: &Path, diagnostics: &mut Vec<Diagnostic>) -> Vec<SourceFile> {
    let defaulted = [default_dir.to_path_buf()];
    let roots: &[PathBuf] = if paths.is_empty() { &defaulted } else { paths };
    let mut files = Vec::new();
    let before = diagnostics.len();
    for root in roots {
        if root.is_dir() {
            files.extend(read_tree(root, &["yaml", "yml"], diagnostics));
        } else if root.is_file() {
            files.extend(read_file(root, diagnostics));
        } else {
            let help = if paths.is_empty() {
                "write suites under `fixtures/` beside the roles, or pass suite files or folders".to_string()
            } else {
                "pass suite files (`*.yaml`) or folders holding them".to_string()
            };
            diagnostics.push(
                Diagnostic::new(
                    Code::Io,
                    Location::new(root.display().to_string(), 0, 0),
                    format!("no suite file or folder `{}`", root.display()),
                )
                .with_help(help),
            );
        }
    }
    if files.is_empty() && diagnostics.len() == before {
        let shown: Vec<String> = roots.iter().map(|r| format!("`{}`", r.display())).collect();
        diagnostics.push(
            Diagnostic::new(
                Code::Io,
                Location::new(roots[0].display().to_string(), 0, 0),
                format!("no test suites (`*.yaml`, `*.yml`) under {}", shown.join(", ")),
            )
            .with_help("write suites as spec §6 describes, or pass their files or folders"),
        );
    }
    let mut seen = BTreeSet::new();
    files.retain(|f: &SourceFile| seen.insert(f.name.clone()));
    files
}

/// Reads every suite file against `project`. Identity files named by several
/// suites are read once; all of them together are bounded like one run's
/// inputs ([`ReadBudget::per_run`]).
pub fn load_suites(project: &Project, files: Vec<SourceFile>) -> LoadedSuites {
    let mut diagnostics = Vec::new();
    let mut feeds = Feeds::default();
    let mut suites = Vec::new();
    for file in &files {
        if let Some(suite) = read_suite(project, file, &mut feeds, &mut diagnostics) {
            suites.push(suite);
        }
    }
    crate::diag::sort(&mut diagnostics);
    LoadedSuites {
        suites,
        sources: files,
        diagnostics,
    }
}

/// Identity files already read, by path as resolved.
#[derive(Default)]
struct Feeds {
    read: HashMap<PathBuf, Option<Arc<Population>>>,
    budget: Option<ReadBudget>,
}

/// The `x/../y` of a path without the round trip (`fixtures/tests/../identities.jsonl`
/// is shown as `fixtures/identities.jsonl`); links are not resolved.
fn tidy(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for part in path.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.components().next_back(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    if out.as_os_str().is_empty() {
        out.push(".");
    }
    out
}

/// A map's entries as the reader gives them: key, key node, value node.
type Entries<'n> = Vec<(&'n str, &'n Node, &'n Node)>;

/// The entries of a map, and whether one of its keys was unknown (reported
/// with a "did you mean"): a missing key is then most likely that one, and is
/// not reported again.
fn entries_of<'n>(r: &mut Reader<'_>, node: &'n Node, allowed: &[&str], what: &str) -> Option<(Entries<'n>, bool)> {
    let before = r.diagnostics.len();
    let entries = r.map(node, allowed, what)?;
    let misspelt = r.diagnostics[before..].iter().any(|d| d.code == Code::UnknownKey);
    Some((entries, misspelt))
}

/// Reads one suite; `None` when it has errors (they are in `diagnostics`).
fn read_suite(project: &Project, file: &SourceFile, feeds: &mut Feeds, diagnostics: &mut Vec<Diagnostic>) -> Option<Suite> {
    let before = diagnostics.len();
    let root = match yaml::parse(&file.name, &file.text) {
        Ok(Some(root)) => root,
        Ok(None) => {
            diagnostics.push(
                Diagnostic::new(Code::MissingKey, Location::new(&file.name, 1, 1), "the suite is empty")
                    .with_help("a suite needs `as_of`, `identities` and `tests`"),
            );
            return None;
        }
        Err(d) => {
            diagnostics.push(d);
            return None;
        }
    };
    let mut r = Reader {
        file: file.name.clone(),
        diagnostics,
    };
    let (entries, misspelt) = entries_of(&mut r, &root, SUITE_KEYS, "a test suite")?;
    let get = |key: &str| entries.iter().find(|(k, _, _)| *k == key).map(|(_, k, v)| (*k, *v));

    let name = match get("name") {
        Some((_, v)) => r.string(v, "the suite's `name`"),
        None => Path::new(&file.name).file_stem().map(|s| s.to_string_lossy().into_owned()),
    };
    if let Some((_, v)) = get("description") {
        r.string(v, "the suite's `description`");
    }
    let as_of = match get("as_of") {
        Some((_, v)) => instant(&mut r, v, "`as_of`"),
        None if misspelt => None,
        None => {
            r.report_help(
                Code::MissingKey,
                &root,
                "the suite has no `as_of`",
                Some("give the instant its tests are evaluated at (`as_of: 2026-11-21`), so they pass or fail the same on any day".into()),
            );
            None
        }
    };
    let identities = match get("identities") {
        Some((_, v)) => read_identities_value(project, &mut r, &file.name, v, feeds),
        None if misspelt => None,
        None => {
            r.report_help(
                Code::MissingKey,
                &root,
                "the suite has no `identities`",
                Some("name an identity file relative to the suite (`identities: ../identities.jsonl`) or list the records inline".into()),
            );
            None
        }
    };
    let tests_node = match get("tests") {
        Some((key, v)) => Some((key, v)),
        None if misspelt => None,
        None => {
            r.report_help(
                Code::MissingKey,
                &root,
                "the suite has no `tests`",
                Some("list tests, each with `identity` and `expect`".into()),
            );
            None
        }
    };
    let mut tests = Vec::new();
    if let Some((key, node)) = tests_node {
        if let Some(items) = r.seq(node, "`tests`") {
            if items.is_empty() {
                r.report_help(
                    Code::AssertsNothing,
                    key,
                    "the suite has no tests",
                    Some("a suite without tests passes whatever the definitions say: add tests or remove the file".into()),
                );
            }
            let mut names: BTreeMap<String, Location> = BTreeMap::new();
            for item in items {
                let Some(test) = read_test(project, &mut r, item, identities.as_deref(), as_of) else {
                    continue;
                };
                if let Some(first) = names.get(&test.name) {
                    r.report_help(
                        Code::DuplicateId,
                        item,
                        format!("two tests are named `{}`", test.name),
                        Some(format!("the first is at line {}: give each test its own `name`", first.line)),
                    );
                    continue;
                }
                names.insert(test.name.clone(), test.location.clone());
                tests.push(test);
            }
        }
    }
    if r.diagnostics.len() > before {
        return None;
    }
    Some(Suite {
        file: file.name.clone(),
        name: name?,
        as_of: as_of?,
        identities: identities?,
        tests,
    })
}

fn instant(r: &mut Reader<'_>, node: &Node, what: &str) -> Option<Instant> {
    let text = r.string(node, what)?;
    match Instant::parse(&text) {
        Ok(t) => Some(t),
        Err(e) => {
            r.report_help(
                Code::InvalidValue,
                node,
                format!("{what}: {e}"),
                Some("write an RFC 3339 instant (`2026-11-21T09:00:00Z`) or a date (`2026-11-21`, its midnight UTC)".into()),
            );
            None
        }
    }
}

/// `identities:` — a file relative to the suite, or records inline.
fn read_identities_value(
    project: &Project,
    r: &mut Reader<'_>,
    suite_file: &str,
    node: &Node,
    feeds: &mut Feeds,
) -> Option<Arc<Population>> {
    match &node.value {
        Value::Scalar { text, .. } if !node.is_null() => {
            let path = tidy(&Path::new(suite_file).parent().unwrap_or(Path::new("")).join(text));
            if let Some(read) = feeds.read.get(&path) {
                return read.clone();
            }
            let budget = feeds.budget.get_or_insert_with(ReadBudget::per_run);
            let read = match read_identities_within(&path, None, &project.defs, budget) {
                Ok(feed) => {
                    let mut ok = true;
                    for invalid in &feed.invalid {
                        ok = false;
                        r.diagnostics.push(Diagnostic::new(
                            Code::InvalidIdentity,
                            Location::new(feed.file.clone(), invalid.line, 0),
                            match &invalid.id {
                                Some(id) => format!("identity `{id}` is invalid: {}", invalid.error),
                                None => format!("an identity record is invalid: {}", invalid.error),
                            },
                        ));
                    }
                    ok.then(|| Arc::new(Population::new(feed)))
                }
                Err(e) => {
                    let code = match e {
                        InputError::Io { .. } => Code::Io,
                        _ => Code::InvalidIdentity,
                    };
                    r.report_help(
                        code,
                        node,
                        format!("cannot read the identities: {e}"),
                        Some("`identities` names a file relative to the suite, or lists the records inline".into()),
                    );
                    None
                }
            };
            feeds.read.insert(path, read.clone());
            read
        }
        Value::Seq(items) => {
            let mut records: Vec<(IdentityState, u32)> = Vec::new();
            let mut ok = true;
            for item in items {
                let json = match to_json(item) {
                    Ok(json) => json,
                    Err((at, message)) => {
                        r.report(Code::WrongType, at, message);
                        ok = false;
                        continue;
                    }
                };
                match IdentityState::from_json(&json, &project.defs) {
                    Ok(state) => {
                        if records.iter().any(|(s, _)| s.id == state.id) {
                            r.report(Code::DuplicateId, item, format!("identity `{}` is listed twice", state.id));
                            ok = false;
                            continue;
                        }
                        records.push((state, item.pos.line));
                    }
                    Err(e) => {
                        let message = match json.get("id").and_then(serde_json::Value::as_str) {
                            Some(id) => format!("identity `{id}` is invalid: {e}"),
                            None => format!("an identity record is invalid: {e}"),
                        };
                        r.report(Code::InvalidIdentity, item, message);
                        ok = false;
                    }
                }
            }
            ok.then(|| Arc::new(Population::new(IdentityFeed::from_records(suite_file, records))))
        }
        _ => {
            r.report(
                Code::WrongType,
                node,
                format!(
                    "expected `identities` as a file name or a list of records, found {}",
                    node.type_name()
                ),
            );
            None
        }
    }
}

/// A YAML value as the JSON an identity record reader takes: plain scalars
/// are numbers, booleans or null when they read as one, strings otherwise.
fn to_json(node: &Node) -> Result<serde_json::Value, (&Node, String)> {
    Ok(match &node.value {
        Value::Scalar { text, plain: false } => serde_json::Value::String(text.clone()),
        Value::Scalar { .. } if node.is_null() => serde_json::Value::Null,
        Value::Scalar { text, plain: true } => match text.as_str() {
            "true" => serde_json::Value::Bool(true),
            "false" => serde_json::Value::Bool(false),
            _ => match text.parse::<i64>() {
                Ok(n) => n.into(),
                Err(_) => serde_json::Value::String(text.clone()),
            },
        },
        Value::Seq(items) => serde_json::Value::Array(items.iter().map(to_json).collect::<Result<_, _>>()?),
        Value::Map(entries) => {
            let mut map = serde_json::Map::new();
            for (k, v) in entries {
                let Value::Scalar { text, .. } = &k.value else {
                    return Err((k, format!("expected a key, found {}", k.type_name())));
                };
                map.insert(text.clone(), to_json(v)?);
            }
            serde_json::Value::Object(map)
        }
    })
}

/// Reads one test; `None` when it has errors.
fn read_test(
    project: &Project,
    r: &mut Reader<'_>,
    node: &Node,
    identities: Option<&Population>,
    suite_as_of: Option<Instant>,
) -> Option<Test> {
    let before = r.diagnostics.len();
    let (entries, misspelt) = entries_of(r, node, TEST_KEYS, "a test")?;
    let get = |key: &str| entries.iter().find(|(k, _, _)| *k == key).map(|(_, k, v)| (*k, *v));
    let name = get("name").and_then(|(_, v)| r.string(v, "a test's `name`"));
    if let Some((_, v)) = get("description") {
        r.string(v, "a test's `description`");
    }
    let as_of = match get("as_of") {
        Some((_, v)) => instant(r, v, "`as_of`"),
        None => suite_as_of,
    };
    let identity = get("identity");
    let given = get("given");
    let set = get("set");
    match (identity, given) {
        (Some(_), Some((key, _))) => r.report_help(
            Code::ConflictingKeys,
            key,
            "a test takes `identity` or `given`, not both",
            Some("`identity` tests a record as it is; `given` with `set` tests an HR change".into()),
        ),
        (None, None) if misspelt => {}
        (None, None) => r.report_help(
            Code::MissingKey,
            node,
            "the test names no identity",
            Some("give `identity: ID`, or `given: ID` with `set` for an HR change".into()),
        ),
        _ => {}
    }
    if let (Some((key, _)), None) = (set, given) {
        r.report_help(
            Code::ConflictingKeys,
            key,
            "`set` changes the identity of `given`, and the test has no `given`",
            Some("write `given: ID` instead of `identity: ID`".into()),
        );
    }
    if let (Some((key, _)), None) = (given, set) {
        r.report_help(
            Code::MissingKey,
            key,
            "`given` needs `set`: the attributes the change sets",
            Some("for the record as it is, write `identity` instead".into()),
        );
    }
    let subject_id = identity
        .or(given)
        .and_then(|(_, v)| r.string(v, "an identity id").map(|id| (id, v)));
    let base = match (subject_id.as_ref(), identities) {
        (Some((id, node)), Some(population)) => match population.get(id) {
            Some(state) => Some(state),
            None => {
                let help = did_you_mean(id, population.feed.identities.iter().map(|s| s.id.as_str()));
                r.report_help(
                    Code::UnknownIdentity,
                    node,
                    format!("no identity `{id}` in `{}`", population.feed.file),
                    help,
                );
                None
            }
        },
        _ => None,
    };

    let subject = match (given, set, base, identities) {
        (Some(_), Some((_, set_node)), Some(base), Some(population)) => {
            read_change(project, r, set_node, base, population).map(|(changed, owner)| TestSubject::Change {
                given: base.id.clone(),
                changed: Box::new(changed),
                owner: owner.map(Box::new),
            })
        }
        (None, _, Some(base), _) => Some(TestSubject::Identity(base.id.clone())),
        _ => None,
    };

    let is_change = given.is_some();
    let expectations = match get("expect") {
        Some((key, v)) => read_expectations(project, r, key, v, is_change),
        None if misspelt => None,
        None => {
            r.report_help(
                Code::MissingKey,
                node,
                "the test has no `expect`",
                Some(format!(
                    "expect one or more of {}",
                    crate::model::reader::quote_list(EXPECTATION_KEYS)
                )),
            );
            None
        }
    };
    if r.diagnostics.len() > before {
        return None;
    }
    let subject = subject?;
    let name = name.unwrap_or_else(|| match &subject {
        TestSubject::Identity(id) => id.clone(),
        TestSubject::Change { given, .. } => format!("{given} changed"),
    });
    Some(Test {
        name,
        location: r.loc(node),
        as_of: as_of?,
        subject,
        expectations: expectations?,
    })
}

/// `set`: attribute values of the identity (`attr: value`, `attr: null` to
/// remove it) and of its owner (`owner.attr: value`); the changed records.
fn read_change(
    project: &Project,
    r: &mut Reader<'_>,
    node: &Node,
    base: &IdentityState,
    population: &Population,
) -> Option<(IdentityState, Option<IdentityState>)> {
    let entries = r.map(node, &[], "`set`")?;
    if entries.is_empty() {
        r.report_help(
            Code::AssertsNothing,
            node,
            "`set` changes nothing",
            Some("name the attributes the change sets (`status: terminated`)".into()),
        );
        return None;
    }
    let declared = &project.defs.identity.attributes;
    let mut own = base.to_json();
    let mut owner_json = None;
    let mut ok = true;
    for (key, key_node, value) in entries {
        let (target, attr) = match key.strip_prefix("owner.") {
            Some(attr) => {
                let Some(owner) = base.owner.as_deref().and_then(|o| population.get(o)) else {
                    r.report_help(
                        Code::UnknownIdentity,
                        key_node,
                        format!("`{key}` changes the owner of `{}`, which has no owner in the identities", base.id),
                        Some("give the identity an `owner` whose record is among the suite's identities".into()),
                    );
                    ok = false;
                    continue;
                };
                (owner_json.get_or_insert_with(|| owner.to_json()), attr)
            }
            None => (&mut own, key),
        };
        if !declared.contains_key(attr) {
            let help = did_you_mean(attr, declared.keys().map(String::as_str))
                .or_else(|| Some("`set` changes declared attributes (and `owner.<attribute>`)".into()));
            r.report_help(Code::UnknownReference, key_node, format!("unknown attribute `{attr}`"), help);
            ok = false;
            continue;
        }
        let value = match to_json(value) {
            Ok(v) => v,
            Err((at, message)) => {
                r.report(Code::WrongType, at, message);
                ok = false;
                continue;
            }
        };
        if let Some(attributes) = target.get_mut("attributes").and_then(serde_json::Value::as_object_mut) {
            attributes.insert(attr.to_string(), value);
        }
    }
    if !ok {
        return None;
    }
    let mut read = |json: serde_json::Value, whose: &str| match IdentityState::from_json(&json, &project.defs) {
        Ok(state) => Some(state),
        Err(e) => {
            r.report(Code::InvalidIdentity, node, format!("after `set`, {whose} is invalid: {e}"));
            None
        }
    };
    let changed = read(own, &format!("`{}`", base.id));
    let owner = match owner_json {
        Some(json) => Some(read(json, "the owner")?),
        None => None,
    };
    Some((changed?, owner))
}

/// A list of ids with where each is written.
type Ids = Vec<(String, Location)>;

/// What a test's `expect` says, with locations, before it is checked for contradictions.
#[derive(Default)]
struct Read {
    exactly: Option<Ids>,
    includes: Option<Ids>,
    excludes: Option<Ids>,
    gained: Option<Ids>,
    lost: Option<Ids>,
    because: Vec<(String, Location)>,
    forbidden: Vec<(String, Location)>,
}

fn read_expectations(project: &Project, r: &mut Reader<'_>, key: &Node, node: &Node, is_change: bool) -> Option<Vec<Expectation>> {
    let before = r.diagnostics.len();
    let (entries, misspelt) = entries_of(r, node, EXPECTATION_KEYS, "`expect`")?;
    if entries.is_empty() && !misspelt {
        r.report_help(
            Code::AssertsNothing,
            key,
            "the test expects nothing",
            Some(format!(
                "a test without expectations passes whatever the definitions say: expect one or more of {}",
                crate::model::reader::quote_list(EXPECTATION_KEYS)
            )),
        );
        return None;
    }
    let catalog = project.catalog();
    let entitlement_ids = || catalog.entitlements.iter().map(|(_, n)| n);
    let mut out = Vec::new();
    let mut read = Read::default();
    for (name, key_node, value) in entries {
        let location = r.loc(key_node);
        match name {
            "roles" => {
                let ids = ids(r, value, "role", &|id| catalog.roles.id(id).is_some(), &|id| {
                    did_you_mean(id, catalog.roles.iter().map(|(_, n)| n))
                });
                out.push(Expectation {
                    kind: ExpectationKind::Roles(names(&ids)),
                    location,
                });
            }
            "exactly" | "includes" | "excludes" | "gained" | "lost" => {
                if matches!(name, "gained" | "lost") && !is_change {
                    r.report_help(
                        Code::ConflictingKeys,
                        key_node,
                        format!("`{name}` compares before and after an HR change, and the test has no `given`"),
                        Some("write `given: ID` with `set`, or expect `includes`/`excludes` instead".into()),
                    );
                    continue;
                }
                let ids = ids(r, value, "entitlement", &|id| catalog.entitlements.id(id).is_some(), &|id| {
                    entitlement_help(project, id, entitlement_ids())
                });
                let list = names(&ids);
                let (kind, slot) = match name {
                    "exactly" => (ExpectationKind::Exactly(list), &mut read.exactly),
                    "includes" => (ExpectationKind::Includes(list), &mut read.includes),
                    "excludes" => (ExpectationKind::Excludes(list), &mut read.excludes),
                    "gained" => (ExpectationKind::Gained(list), &mut read.gained),
                    _ => (ExpectationKind::Lost(list), &mut read.lost),
                };
                out.push(Expectation { kind, location });
                *slot = Some(ids);
            }
            "sod_violations" => {
                let ids = ids(r, value, "SoD rule", &|id| project.defs.sod.contains_key(id), &|id| {
                    did_you_mean(id, project.defs.sod.keys().map(String::as_str))
                });
                out.push(Expectation {
                    kind: ExpectationKind::SodViolations(names(&ids)),
                    location,
                });
            }
            "because" => {
                let Some(items) = r.map(value, &[], "`because`") else { continue };
                for (entitlement, e_node, spec) in items {
                    if !known(
                        r,
                        e_node,
                        entitlement,
                        "entitlement",
                        catalog.entitlements.id(entitlement).is_some(),
                        || entitlement_help(project, entitlement, entitlement_ids()),
                    ) {
                        continue;
                    }
                    let Some(fields) = r.map(spec, BECAUSE_KEYS, "a `because` expectation") else {
                        continue;
                    };
                    let mut role = None;
                    let mut via = Vec::new();
                    for (field, f_node, v) in fields {
                        if field == "role" {
                            if let Some(id) = r.string(v, "a role id") {
                                if known(r, v, &id, "role", catalog.roles.id(&id).is_some(), || {
                                    did_you_mean(&id, catalog.roles.iter().map(|(_, n)| n))
                                }) {
                                    role = Some(id);
                                }
                            }
                        } else {
                            let listed = one_or_more(r, v, "package");
                            if listed.is_empty() {
                                r.report(Code::WrongType, f_node, "`via` names no package");
                            }
                            for (id, at) in listed {
                                if known(r, at, &id, "package", catalog.packages.id(&id).is_some(), || {
                                    did_you_mean(&id, catalog.packages.iter().map(|(_, n)| n))
                                }) {
                                    via.push(id);
                                }
                            }
                        }
                    }
                    if role.is_none() && via.is_empty() {
                        r.report_help(
                            Code::AssertsNothing,
                            e_node,
                            format!("`because` for `{entitlement}` names no `role` or `via`"),
                            Some("name the role that grants it, the packages it comes through, or both; to expect only that it is held, use `includes`".into()),
                        );
                        continue;
                    }
                    let location = r.loc(e_node);
                    read.because.push((entitlement.to_string(), location.clone()));
                    out.push(Expectation {
                        kind: ExpectationKind::Because {
                            entitlement: entitlement.to_string(),
                            role,
                            via,
                        },
                        location,
                    });
                }
            }
            _ => {
                // forbidden_by
                let Some(items) = r.map(value, &[], "`forbidden_by`") else {
                    continue;
                };
                let forbids: Vec<&str> = catalog
                    .guardrails
                    .iter()
                    .filter(|(g, _)| catalog.guardrail(*g).forbid)
                    .map(|(_, n)| n)
                    .collect();
                for (entitlement, e_node, spec) in items {
                    if !known(
                        r,
                        e_node,
                        entitlement,
                        "entitlement",
                        catalog.entitlements.id(entitlement).is_some(),
                        || entitlement_help(project, entitlement, entitlement_ids()),
                    ) {
                        continue;
                    }
                    let listed = one_or_more(r, spec, "guardrail");
                    if listed.is_empty() {
                        r.report(
                            Code::WrongType,
                            spec,
                            format!("`forbidden_by` for `{entitlement}` names no guardrail"),
                        );
                        continue;
                    }
                    let mut guardrails = Vec::new();
                    for (id, at) in listed {
                        if known(r, at, &id, "guardrail", forbids.contains(&id.as_str()), || {
                            if catalog.guardrails.id(&id).is_some() {
                                Some(format!("`{id}` is a permit: `forbidden_by` names guardrails that forbid"))
                            } else {
                                did_you_mean(&id, forbids.iter().copied())
                            }
                        }) {
                            guardrails.push(id);
                        }
                    }
                    let location = r.loc(e_node);
                    read.forbidden.push((entitlement.to_string(), location.clone()));
                    out.push(Expectation {
                        kind: ExpectationKind::ForbiddenBy {
                            entitlement: entitlement.to_string(),
                            guardrails,
                        },
                        location,
                    });
                }
            }
        }
    }
    contradictions(r, &read);
    (r.diagnostics.len() == before).then_some(out)
}

/// Reads a list of ids and checks each exists.
fn ids(r: &mut Reader<'_>, node: &Node, what: &str, exists: &dyn Fn(&str) -> bool, help: &dyn Fn(&str) -> Option<String>) -> Ids {
    let listed = strings(r, node, what);
    let mut out = Vec::new();
    for (id, at) in listed {
        if known(r, at, &id, what, exists(&id), || help(&id)) {
            out.push((id, r.loc(at)));
        }
    }
    out
}

/// A list of strings (one string alone is not a list), each with its node;
/// a repeated one is reported and dropped.
fn strings<'n>(r: &mut Reader<'_>, node: &'n Node, what: &str) -> Vec<(String, &'n Node)> {
    let Some(items) = r.seq(node, &format!("a list of {what}s")) else {
        return Vec::new();
    };
    let mut out: Vec<(String, &Node)> = Vec::new();
    for item in items {
        let Some(text) = r.string(item, &format!("a {what} id")) else {
            continue;
        };
        if out.iter().any(|(seen, _)| *seen == text) {
            r.report(Code::DuplicateId, item, format!("{what} `{text}` is listed twice"));
            continue;
        }
        out.push((text, item));
    }
    out
}

/// One string, or a list of them.
fn one_or_more<'n>(r: &mut Reader<'_>, node: &'n Node, what: &str) -> Vec<(String, &'n Node)> {
    match &node.value {
        Value::Seq(_) => strings(r, node, what),
        _ => r
            .string(node, &format!("a {what} id"))
            .map(|id| vec![(id, node)])
            .unwrap_or_default(),
    }
}

/// Reports an unknown id; whether it is known.
fn known(r: &mut Reader<'_>, node: &Node, id: &str, what: &str, exists: bool, help: impl FnOnce() -> Option<String>) -> bool {
    if !exists {
        r.report_help(Code::UnknownReference, node, format!("unknown {what} `{id}`"), help());
    }
    exists
}

fn entitlement_help<'a>(project: &Project, id: &str, all: impl Iterator<Item = &'a str>) -> Option<String> {
    if project.defs.packages.contains_key(id) {
        return Some(format!(
            "`{id}` is a package: expectations list entitlements (`application:entitlement`)"
        ));
    }
    did_you_mean(id, all)
}

fn names(ids: &Ids) -> Vec<String> {
    ids.iter().map(|(id, _)| id.clone()).collect()
}

/// Expectations that no desired state can meet together.
fn contradictions(r: &mut Reader<'_>, read: &Read) {
    let mut found: Vec<(Location, String)> = Vec::new();
    let has = |list: &Option<Ids>, id: &str| list.as_ref().is_some_and(|l| l.iter().any(|(x, _)| x == id));
    for (id, at) in read.excludes.iter().flatten() {
        if has(&read.includes, id) {
            found.push((at.clone(), format!("`{id}` is both included and excluded")));
        }
        if has(&read.exactly, id) {
            found.push((at.clone(), format!("`{id}` is excluded, and `exactly` lists it")));
        }
    }
    if let Some(exactly) = &read.exactly {
        for (id, at) in read.includes.iter().flatten() {
            if !exactly.iter().any(|(x, _)| x == id) {
                found.push((at.clone(), format!("`{id}` is included, and `exactly` does not list it")));
            }
        }
        for (id, at) in &read.because {
            if !exactly.iter().any(|(x, _)| x == id) {
                found.push((at.clone(), format!("`because` expects `{id}` held, and `exactly` does not list it")));
            }
        }
    }
    for (id, at) in &read.because {
        if has(&read.excludes, id) {
            found.push((at.clone(), format!("`because` expects `{id}` held, and it is excluded")));
        }
    }
    for (id, at) in &read.forbidden {
        if has(&read.includes, id) || has(&read.exactly, id) || read.because.iter().any(|(x, _)| x == id) {
            found.push((
                at.clone(),
                format!("`forbidden_by` expects `{id}` withheld, and another expectation expects it held"),
            ));
        }
    }
    for (id, at) in read.lost.iter().flatten() {
        if has(&read.gained, id) {
            found.push((at.clone(), format!("`{id}` is both gained and lost")));
        }
        if has(&read.includes, id) || has(&read.exactly, id) {
            found.push((
                at.clone(),
                format!("`{id}` is lost, and another expectation expects it held after the change"),
            ));
        }
    }
    for (id, at) in read.gained.iter().flatten() {
        if has(&read.excludes, id) {
            found.push((at.clone(), format!("`{id}` is gained, and it is excluded after the change")));
        }
    }
    for (location, message) in found {
        r.diagnostics.push(
            Diagnostic::new(Code::ContradictoryExpectation, location, message)
                .with_help("no desired state can meet both: the test could never pass"),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::tidy;
    use std::path::Path;

    #[test]
    fn tidy_folds_parent_steps() {
        assert_eq!(
            tidy(Path::new("fixtures/tests/../identities.jsonl")),
            Path::new("fixtures/identities.jsonl")
        );
        assert_eq!(tidy(Path::new("./a/./b")), Path::new("a/b"));
        assert_eq!(tidy(Path::new("../x")), Path::new("../x"));
        assert_eq!(tidy(Path::new("a/../../x")), Path::new("../x"));
    }
}
