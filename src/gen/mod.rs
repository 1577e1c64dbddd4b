//! `entitle gen`: a deterministic, realistic synthetic organisation — the
//! definitions (identity schema, catalog, packages, roles, SoD rules,
//! invariants, guardrails), its identity feed and a drifted live state —
//! the source of every benchmark and of the scale tests.
//!
//! The same [`GenOptions`] give byte-identical output on every machine: the
//! random numbers come from a fixed, documented stream (`rng.rs`:
//! xoshiro256** seeded through SplitMix64, one stream per part and per
//! identity), every date is relative to [`GenOptions::as_of`] rather than the
//! clock, and nothing is emitted in hash-map order. The live state is the
//! desired state computed by [`Engine`] over the generated population (in
//! parallel, joined in order), then drifted (`live.rs` lists the kinds and
//! shares).
//!
//! ```
//! use entitle::gen::{generate, GenOptions};
//!
//! let options = GenOptions { people: 300, nhis: 40, roles: 60, entitlements: 400, ..GenOptions::reference() };
//! let org = generate(&options).expect("the generator's definitions load");
//! assert_eq!(org.totals.roles, 60);
//! assert_eq!(org.feed.identities.len(), 340);
//! // The definitions load from memory like a repository on disk:
//! let project = entitle::Project::from_sources(&org.sources).expect("loads");
//! assert_eq!(project.defs.entitlements.len(), 400);
//! ```
//!
//! Must never: read the clock or the environment, depend on the thread
//! schedule, or write outside the directory it is given (and there, only
//! over a previous `entitle gen` output or into an empty directory).

mod catalog;
mod guardrails;
mod identities;
mod live;
mod packages;
mod rng;
mod roles;
mod text;

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use rayon::prelude::*;
use serde::Serialize;

pub use guardrails::{guardrails, Guardrail, GUARDRAILS, LITERAL_ENTITY_GUARDRAIL};

use crate::diag::Diagnostic;
use crate::eval::{Engine, EvalError};
use crate::io::identities::{parse_identities, IdentityFeed, IdentityFormat};
use crate::model::SourceFile;
use crate::project::{Project, Sources};
use crate::time::Instant;

/// The generated organisation's instant when none is given: every date in
/// it (start and end dates, assignments, `before`/`after` in roles) is
/// relative to this, so output never depends on the clock.
pub const DEFAULT_AS_OF: &str = "2026-11-21";

/// Most identities (people and NHIs) one organisation may have: the live
/// state of more would pass the readers' 1 GiB bound.
pub const MAX_IDENTITIES: usize = 500_000;
/// Most roles.
pub const MAX_ROLES: usize = 40_000;
/// Most entitlements.
pub const MAX_ENTITLEMENTS: usize = 400_000;

/// What to generate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GenOptions {
    /// The seed: the same seed and sizes give the same organisation.
    pub seed: u64,
    /// People in the HR feed.
    pub people: usize,
    /// Service accounts and agents in the feed.
    pub nhis: usize,
    /// Roles.
    pub roles: usize,
    /// Catalog entitlements.
    pub entitlements: usize,
    /// The instant the organisation is generated for (see [`DEFAULT_AS_OF`]).
    pub as_of: Instant,
    /// Also write a guardrail that reads a static entity by literal
    /// (`Entitlement::"okta:super-admin".privileged`), off by default: today
    /// it sends the engine to the full entity store for every identity
    /// (see docs/gen.md for what that costs).
    pub literal_entity_guardrail: bool,
}

impl GenOptions {
    /// The reference organisation of the benchmarks: seed 1, 90,000 people,
    /// 10,000 NHIs, 2,000 roles, 40,000 entitlements, as of [`DEFAULT_AS_OF`].
    pub fn reference() -> GenOptions {
        GenOptions {
            seed: 1,
            people: 90_000,
            nhis: 10_000,
            roles: 2_000,
            entitlements: 40_000,
            as_of: default_as_of(),
            literal_entity_guardrail: false,
        }
    }

    /// Checks the sizes, with a one-sentence error naming the flag.
    pub fn validate(&self) -> Result<(), GenError> {
        let bad = |m: String| Err(GenError::Options(m));
        if self.people < 20 {
            return bad(format!(
                "`--people` must be at least 20 (owners, approvers and departments need people), not {}",
                self.people
            ));
        }
        if self.people + self.nhis > MAX_IDENTITIES {
            return bad(format!(
                "`--people` and `--nhis` together must be at most {MAX_IDENTITIES} (the live state would pass the readers' bound), not {}",
                self.people + self.nhis
            ));
        }
        let fewest_roles = roles::fixed_roles(self) + 20;
        if self.roles < fewest_roles {
            return bad(format!(
                "`--roles` must be at least {fewest_roles} for {} people (birthright, office and department roles come first), not {}",
                self.people, self.roles
            ));
        }
        if self.roles > MAX_ROLES {
            return bad(format!("`--roles` must be at most {MAX_ROLES}, not {}", self.roles));
        }
        let (_, locations) = catalog::shape(self);
        let internal = catalog::internal_apps(self.entitlements);
        let fewest = catalog::core_entitlements(locations) + 4 * internal;
        if self.entitlements < fewest {
            return bad(format!(
                "`--entitlements` must be at least {fewest} (the named systems' own entitlements), not {}",
                self.entitlements
            ));
        }
        if self.entitlements > MAX_ENTITLEMENTS {
            return bad(format!(
                "`--entitlements` must be at most {MAX_ENTITLEMENTS}, not {}",
                self.entitlements
            ));
        }
        Ok(())
    }
}

fn default_as_of() -> Instant {
    // 2026-11-21T00:00:00Z; parsing the constant cannot fail, the fallback is the same instant.
    Instant::parse(DEFAULT_AS_OF).unwrap_or(Instant(1_795_219_200_000))
}

/// Why an organisation could not be generated.
#[derive(Debug, thiserror::Error)]
pub enum GenError {
    /// The options are out of range.
    #[error("{0}")]
    Options(String),
    /// The generated definitions do not load: a bug of the generator.
    #[error("the generated definitions do not load ({} diagnostics, first: {}); this is a bug of `entitle gen`", .0.len(), .0.first().map_or(String::new(), |d| format!("{}: {}", d.location, d.message)))]
    Definitions(Vec<Diagnostic>),
    /// The generated identity feed does not read back: a bug of the generator.
    #[error("the generated identity feed does not read back ({0}); this is a bug of `entitle gen`")]
    Feed(String),
    /// The engine could not evaluate a generated identity.
    #[error("evaluating the generated population: {0}")]
    Eval(EvalError),
    /// The output directory holds something `entitle gen` did not write.
    #[error("`{}` is not empty and was not written by `entitle gen`; choose a new or empty directory", .0.display())]
    NotEmpty(PathBuf),
    /// Writing the output failed.
    #[error("`{}`: {source}", path.display())]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: std::io::Error,
    },
}

/// How the live state was drifted from the desired state, in grants.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Drift {
    /// Lines of the live state.
    pub live_grants: usize,
    /// Desired grants left out (joiners not provisioned, provisioning failures).
    pub not_provisioned: usize,
    /// Grants a mover kept from a previous department, job and team.
    pub mover_leftovers: usize,
    /// Grants of terminated people and people on leave, kept from when they were active.
    pub leavers_not_removed: usize,
    /// Grants of contractors past their end date.
    pub lapsed_contracts: usize,
    /// Grants of workloads whose owner is not active, or that are retired.
    pub orphaned_nhi_grants: usize,
    /// Grants left by expired or over-long assignments.
    pub assignment_leftovers: usize,
    /// Administrator grants planted on contractors.
    pub privileged_contractors: usize,
    /// Catalog grants no role gives, granted by hand.
    pub ad_hoc: usize,
    /// Grants of entitlements outside the catalog.
    pub unmanaged: usize,
    /// Live identities absent from the feed.
    pub orphaned_accounts: usize,
    /// Their grants.
    pub orphaned_account_grants: usize,
}

impl Drift {
    fn add(&mut self, o: &Drift) {
        self.live_grants += o.live_grants;
        self.not_provisioned += o.not_provisioned;
        self.mover_leftovers += o.mover_leftovers;
        self.leavers_not_removed += o.leavers_not_removed;
        self.lapsed_contracts += o.lapsed_contracts;
        self.orphaned_nhi_grants += o.orphaned_nhi_grants;
        self.assignment_leftovers += o.assignment_leftovers;
        self.privileged_contractors += o.privileged_contractors;
        self.ad_hoc += o.ad_hoc;
        self.unmanaged += o.unmanaged;
        self.orphaned_accounts += o.orphaned_accounts;
        self.orphaned_account_grants += o.orphaned_account_grants;
    }
}

/// The figures of a generated organisation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Totals {
    /// Applications.
    pub applications: usize,
    /// Catalog entitlements.
    pub entitlements: usize,
    /// Of which privileged.
    pub privileged_entitlements: usize,
    /// Packages.
    pub packages: usize,
    /// Roles.
    pub roles: usize,
    /// Of which assignable.
    pub assignable_roles: usize,
    /// SoD rules.
    pub sod_rules: usize,
    /// Invariants.
    pub invariants: usize,
    /// Guardrails (hand-written Cedar forbids).
    pub guardrails: usize,
    /// People in the feed.
    pub people: usize,
    /// Service accounts and agents in the feed.
    pub nhis: usize,
    /// Role assignments in the feed.
    pub assignments: usize,
    /// Desired (identity, entitlement) pairs over the feed.
    pub desired_grants: usize,
    /// Roles held per identity of the feed, on average.
    pub mean_roles: f64,
    /// Desired entitlements per identity of the feed, on average.
    pub mean_entitlements: f64,
    /// The live state and its drift.
    pub drift: Drift,
}

impl Totals {
    /// One line for a person: the sizes, the live state and the means.
    pub fn line(&self) -> String {
        format!(
            "{} applications, {} entitlements ({} privileged), {} packages, {} roles ({} assignable), {} SoD rules, {} invariants, {} guardrails; \
             {} people and {} NHIs with {} assignments; {} live grants ({} orphaned accounts, {} unmanaged); \
             per identity {:.1} roles and {:.1} entitlements desired",
            self.applications,
            self.entitlements,
            self.privileged_entitlements,
            self.packages,
            self.roles,
            self.assignable_roles,
            self.sod_rules,
            self.invariants,
            self.guardrails,
            self.people,
            self.nhis,
            self.assignments,
            self.drift.live_grants,
            self.drift.orphaned_accounts,
            self.drift.unmanaged,
            self.mean_roles,
            self.mean_entitlements,
        )
    }
}

/// A generated organisation, in memory.
#[derive(Debug, Clone)]
pub struct GeneratedOrg {
    /// What it was generated from.
    pub options: GenOptions,
    /// The definitions: `roles/*.yaml` and `policies/guardrails.cedar`, named
    /// as [`Project::load`] names them when run in the output directory.
    pub sources: Sources,
    /// The definitions, loaded (the generator needs them to compute the live state).
    pub project: Arc<Project>,
    /// The identity feed, read from `identities` by [`crate::io::identities::parse_identities`].
    pub feed: IdentityFeed,
    /// The identity feed as JSON Lines (`identities.jsonl`).
    pub identities: String,
    /// The live state as JSON Lines (`live.jsonl`).
    pub live: String,
    /// The figures.
    pub totals: Totals,
    /// The roles and guardrails as Rego (`rego/entitle.rego`, `rego/data.json`),
    /// for measuring a Rego engine on the same organisation.
    pub rego: crate::rego::RegoPolicy,
    /// `gen.json`: the options, the files and the figures.
    pub manifest: String,
}

/// The manifest's name: its presence marks a directory `entitle gen` may write over.
pub const MANIFEST: &str = "gen.json";

impl GeneratedOrg {
    /// Every file, with its path relative to the output directory, in a fixed order.
    pub fn files(&self) -> Vec<(String, &str)> {
        let mut out: Vec<(String, &str)> = self
            .sources
            .roles
            .iter()
            .chain(&self.sources.policies)
            .map(|f| (f.name.clone(), f.text.as_str()))
            .collect();
        out.push((crate::rego::MODULE_FILE.into(), &self.rego.module));
        out.push((crate::rego::DATA_FILE.into(), &self.rego.data));
        out.push(("identities.jsonl".into(), &self.identities));
        out.push(("live.jsonl".into(), &self.live));
        out.push((MANIFEST.into(), &self.manifest));
        out
    }

    /// Writes every file under `dir`, which must be new, empty, or an earlier
    /// `entitle gen` output (whose files are removed first). Returns the paths written.
    pub fn write_to(&self, dir: &Path) -> Result<Vec<PathBuf>, GenError> {
        let io = |path: &Path| {
            let path = path.to_path_buf();
            move |source| GenError::Io { path, source }
        };
        if dir.exists() {
            let entries: Vec<_> = std::fs::read_dir(dir)
                .map_err(io(dir))?
                .collect::<Result<_, _>>()
                .map_err(io(dir))?;
            if !entries.is_empty() {
                let manifest = dir.join(MANIFEST);
                let previous = std::fs::read_to_string(&manifest).map_err(|_| GenError::NotEmpty(dir.to_path_buf()))?;
                for file in previous_files(&previous).ok_or_else(|| GenError::NotEmpty(dir.to_path_buf()))? {
                    let path = dir.join(&file);
                    match std::fs::remove_file(&path) {
                        Ok(()) => {}
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                        Err(e) => return Err(io(&path)(e)),
                    }
                }
            }
        }
        let mut written = Vec::new();
        for (name, text) in self.files() {
            let path = dir.join(&name);
            if let Some(parent) = path.parent() {
                std::fs::create_dir_all(parent).map_err(io(parent))?;
            }
            std::fs::write(&path, text).map_err(io(&path))?;
            written.push(path);
        }
        Ok(written)
    }
}

/// The files a previous manifest lists, when every one is a plain relative
/// path of the shape `entitle gen` writes (so a doctored manifest cannot
/// make it delete anything else).
fn previous_files(manifest: &str) -> Option<Vec<String>> {
    let value: serde_json::Value = serde_json::from_str(manifest).ok()?;
    let files = value.get("files")?.as_array()?;
    let mut out = Vec::new();
    for f in files {
        let f = f.as_str()?;
        let path = Path::new(f);
        let plain = path.components().all(|c| matches!(c, Component::Normal(_)));
        let shape = match path.components().count() {
            1 => matches!(f, "identities.jsonl" | "live.jsonl" | MANIFEST),
            2 => {
                (f.starts_with("roles/") && f.ends_with(".yaml"))
                    || (f.starts_with("policies/") && f.ends_with(".cedar"))
                    || matches!(f, crate::rego::MODULE_FILE | crate::rego::DATA_FILE)
            }
            _ => false,
        };
        if !plain || !shape {
            return None;
        }
        out.push(f.to_string());
    }
    Some(out)
}

/// Generates the organisation `options` describe.
pub fn generate(options: &GenOptions) -> Result<GeneratedOrg, GenError> {
    options.validate()?;
    let catalog = catalog::build(options);
    let blueprint = roles::build(options, &catalog);

    let mut role_files: Vec<(String, String)> = vec![("identity.yaml".into(), catalog::identity_yaml())];
    role_files.extend(catalog::application_files(&catalog));
    role_files.push(("packages.yaml".into(), blueprint.packages.yaml(&catalog)));
    role_files.extend(roles::role_files(&blueprint.roles));
    role_files.push(("sod.yaml".into(), blueprint.sod_yaml.clone()));
    role_files.push(("invariants.yaml".into(), roles::invariants_yaml()));
    let mut roles_sources: Vec<SourceFile> = role_files
        .into_iter()
        .map(|(name, text)| SourceFile {
            name: format!("roles/{name}"),
            text,
        })
        .collect();
    // The order `Project::load` reads a directory in.
    roles_sources.sort_by(|a, b| a.name.cmp(&b.name));
    let sources = Sources {
        roles: roles_sources,
        policies: vec![SourceFile {
            name: "policies/guardrails.cedar".into(),
            text: guardrails::cedar(options, &catalog),
        }],
    };
    let project = Arc::new(Project::from_sources(&sources).map_err(|f| GenError::Definitions(f.diagnostics))?);

    let people = identities::build(options, &catalog, &blueprint);
    let identities: String = people
        .states
        .par_chunks(4096)
        .map(|chunk| {
            let mut out = String::with_capacity(chunk.len() * 320);
            for s in chunk {
                identities::write_json(s, &mut out);
            }
            out
        })
        .collect::<Vec<String>>()
        .concat();

    // The feed as every command reads it: the records the engine evaluates
    // below are the ones `plan` will read, and a record the reader refuses
    // is the generator's bug, reported rather than written.
    let feed = parse_identities(
        "identities.jsonl",
        identities.as_bytes(),
        Some(IdentityFormat::JsonLines),
        &project.defs,
    )
    .map_err(|e| GenError::Feed(e.to_string()))?;
    if let Some(bad) = feed.invalid.first() {
        return Err(GenError::Feed(format!("line {}: {}", bad.line, bad.error)));
    }
    let identities::People {
        owner_of,
        people: n_people,
        ..
    } = people;

    let engine = Engine::new(project.clone()).map_err(GenError::Eval)?;
    let records = live::Records {
        states: &feed.identities,
        owner_of: &owner_of,
        people: n_people,
    };
    let live = live::build(options, &catalog, &blueprint, &project, &engine, records)?;

    let n = feed.identities.len().max(1) as f64;
    let totals = Totals {
        applications: catalog.apps.len(),
        entitlements: catalog.ents.len(),
        privileged_entitlements: catalog.ents.iter().filter(|e| e.privileged).count(),
        packages: blueprint.packages.list.len(),
        roles: blueprint.roles.len(),
        assignable_roles: blueprint.roles.iter().filter(|r| r.assignable).count(),
        sod_rules: blueprint.sod_rules,
        invariants: 3,
        guardrails: guardrails::guardrails(options).len(),
        people: n_people,
        nhis: feed.identities.len() - n_people,
        assignments: feed.identities.iter().map(|s| s.assignments.len()).sum(),
        desired_grants: live.desired,
        mean_roles: round2(live.roles_held as f64 / n),
        mean_entitlements: round2(live.desired as f64 / n),
        drift: live.drift,
    };
    let rego = crate::rego::write(&project);
    let mut org = GeneratedOrg {
        options: options.clone(),
        sources,
        rego,
        project,
        feed,
        identities,
        live: live.text,
        totals,
        manifest: String::new(),
    };
    org.manifest = manifest(&org);
    Ok(org)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn manifest(org: &GeneratedOrg) -> String {
    let o = &org.options;
    let mut files: Vec<String> = org.files().into_iter().map(|(name, _)| name).collect();
    files.retain(|f| f != MANIFEST);
    files.push(MANIFEST.into());
    let value = serde_json::json!({
        "generator": "entitle gen",
        "options": {
            "seed": o.seed,
            "people": o.people,
            "nhis": o.nhis,
            "roles": o.roles,
            "entitlements": o.entitlements,
            "as_of": o.as_of.to_rfc3339(),
            "literal_entity_guardrail": o.literal_entity_guardrail,
        },
        "reproduce": format!(
            "entitle gen --seed {} --people {} --nhis {} --roles {} --entitlements {} --as-of {}{} --out DIR",
            o.seed,
            o.people,
            o.nhis,
            o.roles,
            o.entitlements,
            o.as_of.to_rfc3339(),
            if o.literal_entity_guardrail { " --literal-entity-guardrail" } else { "" }
        ),
        "files": files,
        "totals": org.totals,
    });
    let mut text = serde_json::to_string_pretty(&value).unwrap_or_default();
    text.push('\n');
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn apportion_is_exact_and_proportional() {
        assert_eq!(roles::apportion(10, &[1, 1, 2]), [3, 2, 5]);
        assert_eq!(roles::apportion(0, &[1, 2]), [0, 0]);
        assert_eq!(roles::apportion(5, &[0, 0]), [0, 0]);
        assert_eq!(roles::apportion(7, &[3, 3, 1]).iter().sum::<usize>(), 7);
    }

    /// Whatever the sizes, the counts are exact and every reference resolves
    /// to something defined before it (the full check runs in tests/gen.rs).
    #[test]
    fn counts_are_exact_and_references_resolve() {
        let mut checked = 0;
        for people in [20, 300, 5_000, 90_000] {
            for roles in [44, 60, 101, 777, 2_000] {
                for entitlements in [250, 1_000, 40_000] {
                    let options = GenOptions {
                        people,
                        roles,
                        entitlements,
                        ..GenOptions::reference()
                    };
                    if options.validate().is_err() {
                        continue;
                    }
                    checked += 1;
                    let catalog = catalog::build(&options);
                    let blueprint = roles::build(&options, &catalog);
                    let at = format!("{people} people, {roles} roles, {entitlements} entitlements");
                    assert_eq!(catalog.ents.len(), entitlements, "{at}");
                    assert_eq!(blueprint.roles.len(), roles, "{at}");
                    let mut packages = std::collections::BTreeSet::new();
                    for p in &blueprint.packages.list {
                        assert!(
                            p.packages.iter().all(|n| packages.contains(n)),
                            "{at}: `{}` nests a later package",
                            p.id
                        );
                        assert!(!p.ents.is_empty() || !p.packages.is_empty(), "{at}: `{}` is empty", p.id);
                        assert!(packages.insert(p.id.clone()), "{at}: `{}` twice", p.id);
                    }
                    let role_ids: std::collections::BTreeSet<&str> = blueprint.roles.iter().map(|r| r.id.as_str()).collect();
                    assert_eq!(role_ids.len(), roles, "{at}: role ids are unique");
                    for r in &blueprint.roles {
                        assert!(!r.grants.is_empty(), "{at}: `{}` grants nothing", r.id);
                        for g in &r.grants {
                            assert!(
                                packages.contains(g) || catalog.ent(g).is_some(),
                                "{at}: `{}` grants unknown `{g}`",
                                r.id
                            );
                        }
                        assert!(r.extends.iter().all(|e| role_ids.contains(e.as_str())), "{at}: `{}`", r.id);
                    }
                }
            }
        }
        assert!(checked >= 12, "{checked}");
    }

    /// The records written are the records generated: reading the feed
    /// back loses and changes nothing.
    #[test]
    fn the_feed_reads_back_as_the_records_generated() {
        let options = GenOptions {
            people: 400,
            nhis: 80,
            roles: 60,
            entitlements: 400,
            ..GenOptions::reference()
        };
        let catalog = catalog::build(&options);
        let blueprint = roles::build(&options, &catalog);
        let people = identities::build(&options, &catalog, &blueprint);
        let org = generate(&options).expect("generates");
        let read = &org.feed.identities;
        assert_eq!(read.len(), people.states.len());
        for (written, generated) in read.iter().zip(&people.states) {
            assert_eq!(written, generated);
        }
        assert!(people.states.iter().any(|s| !s.assignments.is_empty()));
        assert!(people.states.iter().any(|s| s.attributes.contains_key("tags")));
    }

    #[test]
    fn a_doctored_manifest_cannot_reach_outside() {
        let ok =
            r#"{"files": ["roles/a.yaml", "policies/g.cedar", "rego/entitle.rego", "rego/data.json", "identities.jsonl", "gen.json"]}"#;
        assert_eq!(previous_files(ok).map(|f| f.len()), Some(6));
        for bad in [
            r#"{"files": ["../etc/passwd"]}"#,
            r#"{"files": ["/etc/passwd"]}"#,
            r#"{"files": ["roles/../../x.yaml"]}"#,
            r#"{"files": ["src/lib.rs"]}"#,
            r#"{"files": ["roles/a/b.yaml"]}"#,
            r#"{"files": ["rego/other.rego"]}"#,
            r#"{"files": "roles/a.yaml"}"#,
        ] {
            assert_eq!(previous_files(bad), None, "{bad}");
        }
    }

    #[test]
    fn options_out_of_range_are_named() {
        let o = GenOptions::reference();
        let err = |o: GenOptions| o.validate().err().map(|e| e.to_string()).unwrap_or_default();
        assert!(err(GenOptions { people: 3, ..o.clone() }).starts_with("`--people` must be at least 20"));
        assert!(err(GenOptions { roles: 10, ..o.clone() }).starts_with("`--roles` must be at least"));
        assert!(err(GenOptions {
            entitlements: 50,
            ..o.clone()
        })
        .starts_with("`--entitlements` must be at least"));
        assert!(err(GenOptions {
            people: 600_000,
            ..o.clone()
        })
        .contains("at most 500000"));
        assert!(o.validate().is_ok());
    }
}
