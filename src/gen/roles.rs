//! Roles, the packages they grant, separation-of-duties rules and invariants.
//!
//! The mix, as shares of `--roles` after the fixed ones (12 birthright, one
//! per location, one per department): non-human identity roles 7%,
//! assignable administration roles 16%, job-band roles 10% (globs such as
//! `ENG-2*`), job-code roles 22%, narrow cross-cutting "initiative" roles 13%
//! (tags, clearance, regions, `any`, `all`, `not`, `not_in`, dates, `exists`,
//! a few `cedar:` escape hatches), team roles (`cost_center`) the rest; what
//! a department cannot use (more band or job roles than it has bands or job
//! codes, more team roles than teams) moves on to the next kind. The
//! attribute a role keys on is spread on purpose: department, job code, cost
//! centre, location, worker type, kind, purpose.
//!
//! Must never: emit a role that grants nothing, a package nothing reaches,
//! or a reference to an id not defined before it.

use std::collections::BTreeSet;

use super::catalog::{Catalog, BANDS};
use super::packages::{Drawer, Packages};
use super::rng::{Rng, Stream};
use super::text::{id_list, scalar, Y};
use super::GenOptions;
use crate::time::Instant;

/// One role, ready to write.
#[derive(Debug, Clone)]
pub(crate) struct RoleDef {
    pub id: String,
    pub name: String,
    pub description: String,
    pub kinds: Option<Vec<&'static str>>,
    pub extends: Vec<String>,
    pub assignable: bool,
    pub max_duration_days: Option<i64>,
    pub when: Vec<(String, Y)>,
    pub grants: Vec<String>,
    /// The file it is written to (`roles-engineering.yaml`).
    pub file: String,
}

/// Who an assignable role is meant for, so the population gets plausible assignments.
#[derive(Debug, Clone)]
pub(crate) struct AssignableRole {
    pub id: String,
    pub max_duration_days: Option<i64>,
    /// People of this department (or, for an NHI role, none).
    pub department: Option<usize>,
    /// And of this job band.
    pub band: Option<u8>,
    /// And with at least this clearance.
    pub clearance: Option<i64>,
    /// NHIs of this purpose.
    pub purpose: Option<&'static str>,
}

/// What a non-human identity is for.
#[derive(Debug, Clone)]
pub(crate) struct Purpose {
    pub name: &'static str,
    pub kind: &'static str,
    /// The department its owners usually sit in.
    pub department: usize,
    /// Named entitlements it needs in every environment.
    pub needs: &'static [&'static str],
    /// Its cloud access: `aws-<env>:<this>` (prod: read-only).
    pub cloud: Option<&'static str>,
}

/// (purpose, kind, owner department code, needs, cloud access)
type PurposeRow = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    Option<&'static str>,
);

const PURPOSES: &[PurposeRow] = &[
    (
        "ci",
        "service_account",
        "ENG",
        &["jenkins:build", "github:repo-write"],
        Some("deploy"),
    ),
    ("coding-assistant", "agent", "ENG", &["github:repo-write", "jenkins:build"], None),
    ("etl", "service_account", "DAT", &["snowflake:data-engineer"], Some("readonly")),
    ("monitoring", "service_account", "ENG", &["datadog:viewer"], Some("readonly")),
    ("support-triage", "agent", "SUP", &["zendesk:light-agent", "jira:software"], None),
    ("deploy", "service_account", "ENG", &["artifactory:reader"], Some("deploy")),
    (
        "erp-crm-sync",
        "service_account",
        "FIN",
        &["netsuite:viewer", "salesforce:read-only"],
        None,
    ),
    ("analytics", "agent", "DAT", &["snowflake:analyst-reader"], None),
    ("sales-assistant", "agent", "SAL", &["salesforce:read-only"], None),
    ("backup", "service_account", "ITS", &["box:user"], Some("readonly")),
    (
        "security-scanner",
        "service_account",
        "SEC",
        &["crowdstrike:analyst", "github:org-member"],
        Some("readonly"),
    ),
    ("it-helpdesk", "agent", "ITS", &["servicenow:itil-agent"], None),
    ("scim-provisioning", "service_account", "ITS", &["okta:sso"], None),
    (
        "reporting",
        "service_account",
        "DAT",
        &["tableau:viewer", "snowflake:analyst-reader"],
        None,
    ),
    ("finance-close", "agent", "FIN", &["netsuite:viewer"], None),
    ("code-review", "agent", "ENG", &["github:org-member"], None),
    ("recruiting-assistant", "agent", "PPL", &["greenhouse:interviewer"], None),
    ("hr-sync", "service_account", "PPL", &["workday:hr-partner"], None),
];

/// HR tags and how common they are among people.
pub(crate) const TAGS: &[(&str, f64)] = &[
    ("people-manager", 0.0), // by job band, see identities
    ("on-call", 0.0),        // by department and band
    ("security-champion", 0.03),
    ("hiring-manager", 0.05),
    ("mentor", 0.06),
    ("incident-commander", 0.01),
    ("budget-owner", 0.02),
    ("works-council", 0.01),
    ("first-aider", 0.02),
    ("travel-booker", 0.02),
    ("legal-hold", 0.004),
    ("break-glass", 0.002),
];

/// The definitions beyond the catalog.
#[derive(Debug, Clone)]
pub(crate) struct Blueprint {
    pub packages: Packages,
    pub roles: Vec<RoleDef>,
    pub assignable: Vec<AssignableRole>,
    pub purposes: Vec<Purpose>,
    pub sod_yaml: String,
    pub sod_rules: usize,
    /// Per department, privileged entitlements its admins hold (drift plants some on contractors).
    pub privileged: Vec<Vec<usize>>,
}

/// Splits `total` in proportion to `weights` (largest remainder, ties to the first).
pub(crate) fn apportion(total: usize, weights: &[u32]) -> Vec<usize> {
    let sum: u64 = weights.iter().map(|w| u64::from(*w)).sum();
    if sum == 0 || weights.is_empty() {
        return vec![0; weights.len()];
    }
    let exact: Vec<(usize, u64)> = weights
        .iter()
        .map(|w| {
            let x = total as u64 * u64::from(*w);
            ((x / sum) as usize, x % sum)
        })
        .collect();
    let mut out: Vec<usize> = exact.iter().map(|(q, _)| *q).collect();
    let mut order: Vec<usize> = (0..weights.len()).collect();
    order.sort_by(|a, b| exact[*b].1.cmp(&exact[*a].1).then(a.cmp(b)));
    let left = total - out.iter().sum::<usize>();
    for i in order.into_iter().take(left) {
        out[i] += 1;
    }
    out
}

/// How many roles are fixed whatever `--roles` says: 12 birthright, one per
/// location and one per department.
pub(crate) fn fixed_roles(options: &GenOptions) -> usize {
    let (departments, locations) = super::catalog::shape(options);
    12 + departments + locations
}

fn day_string(at: Instant, days_before: i64) -> String {
    let day = at.0.div_euclid(86_400_000) - days_before;
    Instant(day * 86_400_000).to_cedar()
}

fn s(k: &str, v: &str) -> (String, Y) {
    (k.to_string(), Y::s(v))
}

fn op(k: &str, o: &str, v: Y) -> (String, Y) {
    (k.to_string(), Y::op(o, v))
}

fn raw(v: &str) -> Y {
    Y::Raw(v.to_string())
}

struct Builder<'c> {
    catalog: &'c Catalog,
    rng: Rng,
    drawer: Drawer,
    packages: Packages,
    roles: Vec<RoleDef>,
    role_ids: BTreeSet<String>,
    assignable: Vec<AssignableRole>,
}

impl Builder<'_> {
    fn ent(&self, id: &str) -> Vec<usize> {
        self.catalog.ent(id).into_iter().collect()
    }

    fn ents(&self, ids: &[&str]) -> Vec<usize> {
        ids.iter().filter_map(|id| self.catalog.ent(id)).collect()
    }

    #[allow(clippy::too_many_arguments)]
    fn role(
        &mut self,
        id: &str,
        name: &str,
        description: &str,
        file: &str,
        when: Vec<(String, Y)>,
        grants: Vec<String>,
        extends: Vec<String>,
    ) -> String {
        let mut unique = id.to_string();
        let mut n = 2;
        while self.role_ids.contains(&unique) {
            unique = format!("{id}-{n}");
            n += 1;
        }
        self.role_ids.insert(unique.clone());
        self.roles.push(RoleDef {
            id: unique.clone(),
            name: name.to_string(),
            description: description.to_string(),
            kinds: None,
            extends,
            assignable: false,
            max_duration_days: None,
            when,
            grants,
            file: file.to_string(),
        });
        unique
    }

    /// One entitlement for a job or team package: with probability `p` one
    /// of the named duties of the department's own systems (posting journals,
    /// approving payments: what SoD rules are about), else a filler group.
    fn duty_or_filler(&mut self, d: usize, p: f64) -> Vec<usize> {
        let catalog = self.catalog;
        if self.rng.chance(p) {
            if let Some(e) = self.rng.pick(&duties(catalog, d)) {
                return vec![*e];
            }
        }
        self.drawer.scattered(catalog, d, 1, &mut self.rng)
    }

    fn last(&mut self) -> Option<&mut RoleDef> {
        self.roles.last_mut()
    }
}

/// Builds packages, roles and SoD rules, aiming at two packages per role in all.
pub(crate) fn build(options: &GenOptions, catalog: &Catalog) -> Blueprint {
    let mut b = Builder {
        catalog,
        rng: Rng::new(options.seed, Stream::Roles, 0),
        drawer: Drawer::new(catalog),
        packages: Packages::default(),
        roles: Vec::new(),
        role_ids: BTreeSet::new(),
        assignable: Vec::new(),
    };
    let depts = &catalog.departments;
    let locations = &catalog.locations;
    let dept_weights: Vec<u32> = depts.iter().map(|d| d.weight).collect();
    let as_of = options.as_of;

    // --- Fixed packages -------------------------------------------------------
    let sso = b.packages.add("sso-base", "Single sign-on", b.ent("okta:sso"), vec![]);
    let collab = b.packages.add(
        "collaboration-base",
        "Mail, drive and chat",
        b.ents(&["google:mail", "google:drive", "slack:member"]),
        vec![],
    );
    let hr = b.packages.add(
        "hr-self-service",
        "HR self-service, learning and the service desk",
        b.ents(&["workday:self-service", "lms:learner", "servicenow:requester"]),
        vec![],
    );
    let all_staff = b.packages.add(
        "all-staff",
        "Every employee and intern",
        b.ents(&["1password:personal", "netsuite:expense-report"]),
        vec![sso.clone(), collab, hr],
    );
    let contractor_base = b.packages.add(
        "contractor-base",
        "Contractor baseline (no shared drives, chat as a guest)",
        b.ents(&["okta:sso", "google:mail", "slack:guest", "servicenow:requester"]),
        vec![],
    );
    let manager = b.packages.add(
        "manager-self-service",
        "Manager self-service and interviewing",
        b.ents(&["workday:manager-view", "greenhouse:interviewer"]),
        vec![],
    );
    let restricted = b.packages.add(
        "restricted-data",
        "Restricted (PII) data in the warehouse",
        b.ents(&["snowflake:restricted-reader"]),
        vec![],
    );

    // --- Birthright roles -------------------------------------------------------
    let birthright = "roles-birthright.yaml";
    let region_locations = |region: &str| -> Vec<&str> { locations.iter().filter(|l| l.region == region).map(|l| l.name).collect() };
    b.role(
        "employee",
        "Employee",
        "Birthright access for every active employee",
        birthright,
        vec![s("status", "active"), s("worker_type", "employee")],
        vec![all_staff.clone()],
        vec![],
    );
    b.role(
        "contractor",
        "Contractor",
        "Contractors until their contract end date; a lapsed contract keeps nothing",
        birthright,
        vec![
            s("status", "active"),
            s("worker_type", "contractor"),
            op("end_date", "after", raw("now")),
        ],
        vec![contractor_base],
        vec![],
    );
    b.role(
        "intern",
        "Intern",
        "Interns get the staff baseline for the length of the internship",
        birthright,
        vec![
            s("status", "active"),
            s("worker_type", "intern"),
            op("end_date", "after", raw("now")),
        ],
        vec![all_staff.clone(), "lms:new-joiner-curriculum".into()],
        vec![],
    );
    b.role(
        "pre-hire-onboarding",
        "Pre-hire onboarding",
        "Accepted offers get SSO and onboarding tasks before day one",
        birthright,
        vec![
            s("status", "pre_hire"),
            op("worker_type", "in", Y::strs(&["employee", "intern"])),
            op("start_date", "after", raw("now")),
        ],
        vec!["okta:sso".into(), "workday:onboarding".into()],
        vec![],
    );
    b.role(
        "people-manager",
        "People manager",
        "Anyone HR flags as managing a team",
        birthright,
        vec![s("status", "active"), op("tags", "contains", Y::s("people-manager"))],
        vec![manager],
        vec![],
    );
    b.role(
        "benefits-americas",
        "Benefits, Americas",
        "Employees based in the Americas enrol in its benefits",
        birthright,
        vec![
            s("status", "active"),
            s("worker_type", "employee"),
            op("location", "in", Y::strs(&region_locations("americas"))),
        ],
        vec!["workday:benefits-americas".into()],
        vec![],
    );
    b.role(
        "benefits-emea",
        "Benefits, EMEA",
        "Employees based in EMEA enrol in its benefits",
        birthright,
        vec![
            s("status", "active"),
            s("worker_type", "employee"),
            (
                "any".into(),
                Y::Seq(region_locations("emea").iter().map(|l| Y::Map(vec![s("location", l)])).collect()),
            ),
        ],
        vec!["workday:benefits-emea".into()],
        vec![],
    );
    b.role(
        "benefits-apac",
        "Benefits, APAC",
        "Employees based in APAC enrol in its benefits",
        birthright,
        vec![
            s("status", "active"),
            s("worker_type", "employee"),
            op("location", "in", Y::strs(&region_locations("apac"))),
        ],
        vec!["workday:benefits-apac".into()],
        vec![],
    );
    b.role(
        "long-service",
        "Long service",
        "Employees with fifteen years or more join the long-service programme",
        birthright,
        vec![
            s("status", "active"),
            s("worker_type", "employee"),
            op("start_date", "before", Y::s(day_string(as_of, 5479))),
        ],
        vec!["workday:long-service-award".into()],
        vec![],
    );
    b.role(
        "new-joiner",
        "New joiner",
        "The new-joiner curriculum for the first quarter",
        birthright,
        vec![s("status", "active"), op("start_date", "after", Y::s(day_string(as_of, 90)))],
        vec!["lms:new-joiner-curriculum".into()],
        vec![],
    );
    b.role(
        "leave-of-absence",
        "Leave of absence",
        "People on leave keep mail and HR self-service, nothing else",
        birthright,
        vec![s("status", "leave"), op("worker_type", "not_in", Y::strs(&["contractor"]))],
        vec!["workday:self-service".into(), "google:mail".into()],
        vec![],
    );
    b.role(
        "on-call",
        "On call",
        "People on a rotation carry the pager; contractors are never paged",
        birthright,
        vec![
            s("status", "active"),
            op("tags", "contains", Y::s("on-call")),
            ("not".into(), Y::Map(vec![s("worker_type", "contractor")])),
        ],
        vec!["pagerduty:responder".into()],
        vec![],
    );
    for l in locations {
        let mut ents = b.ents(&[&format!("slack:office-{}", l.slug), &format!("badge:office-{}", l.slug)]);
        if l.name.starts_with("Remote") {
            ents.extend(b.ent("vpn:user"));
        }
        let p = b
            .packages
            .add(&format!("office-{}", l.slug), &format!("{} office", l.name), ents, vec![]);
        b.role(
            &format!("office-{}", l.slug),
            &format!("{} office", l.name),
            &format!("Office channel and badge for people based in {}", l.name),
            birthright,
            vec![s("status", "active"), s("location", l.name)],
            vec![p],
            vec![],
        );
    }

    // --- Budget -----------------------------------------------------------------
    let rest = options.roles.saturating_sub(fixed_roles(options));
    let n_nhi = (rest * 7 / 100).max(4).min(rest);
    let n_assignable = rest * 16 / 100;
    let n_band = rest * 10 / 100;
    let n_job = rest * 22 / 100;
    let n_cross = rest * 13 / 100;
    let n_team = rest.saturating_sub(n_nhi + n_assignable + n_band + n_job + n_cross);

    let band_of: Vec<usize> = apportion(n_band, &dept_weights);
    let mut job_of: Vec<usize> = apportion(n_job, &dept_weights);
    let mut team_of: Vec<usize> = apportion(n_team, &dept_weights);
    let mut cross_of: Vec<usize> = apportion(n_cross, &dept_weights);
    let assignable_of: Vec<usize> = apportion(n_assignable, &dept_weights);
    // What a department cannot use moves on: bands to jobs, jobs (beyond
    // regional variants) and teams to cross-cutting roles. The first band
    // (associates) has no role of its own: it gets the department's baseline.
    let mut band_kept = vec![0; depts.len()];
    for (d, dept) in depts.iter().enumerate() {
        let bands: BTreeSet<u8> = dept.job_codes.iter().map(|(_, b)| *b).collect();
        band_kept[d] = band_of[d].min(bands.len().saturating_sub(1));
        job_of[d] += band_of[d] - band_kept[d];
        let jobs_max = dept.job_codes.len() * 3;
        if job_of[d] > jobs_max {
            cross_of[d] += job_of[d] - jobs_max;
            job_of[d] = jobs_max;
        }
        if team_of[d] > dept.teams.len() {
            cross_of[d] += team_of[d] - dept.teams.len();
            team_of[d] = dept.teams.len();
        }
    }

    // Leaves: small bundles of one system's groups, nested by the job and
    // team packages (one each), the cross-cutting ones (two) and the
    // administration ones (one), so there are about two packages per role.
    let pool_of: Vec<usize> = (0..depts.len())
        .map(|d| job_of[d] + team_of[d] + 2 * cross_of[d] + assignable_of[d])
        .collect();

    let mut privileged: Vec<Vec<usize>> = vec![Vec::new(); depts.len()];
    let mut cedar_left = (rest / 400).max(1);
    let tags: Vec<&str> = TAGS.iter().skip(2).map(|(t, _)| *t).take(8).collect();

    for (d, dept) in depts.iter().enumerate() {
        let file = format!("roles-{}.yaml", dept.slug);
        let slug = dept.slug.clone();

        // Tools and baseline: the first everyday entitlement of each system the
        // department has to itself (not the ones everybody has).
        let named: Vec<usize> = dept
            .apps
            .iter()
            .map(|a| &catalog.apps[*a])
            .filter(|a| !a.internal && !a.everyone)
            .filter_map(|a| {
                a.ents
                    .iter()
                    .find(|e| !catalog.ents[**e].privileged && !ALL_STAFF.contains(&catalog.ents[**e].id.as_str()))
                    .copied()
            })
            .collect();
        let mut tools: Vec<usize> = named.into_iter().take(2).collect();
        if tools.len() < 2 {
            let more = b.drawer.scattered(catalog, d, 2 - tools.len(), &mut b.rng);
            tools.extend(more);
        }
        let tools_id = b
            .packages
            .add(&format!("{slug}-tools"), &format!("{} tools", dept.name), tools, vec![]);
        let extra = b.drawer.scattered(catalog, d, 1, &mut b.rng);
        let base_package = b
            .packages
            .add(&format!("{slug}-base"), &format!("{} baseline", dept.name), extra, vec![tools_id]);
        let base_role = b.role(
            &slug,
            dept.name,
            &format!("Everyone in {}", dept.name),
            &file,
            vec![s("status", "active"), s("department", dept.name)],
            vec![base_package.clone()],
            vec![],
        );

        // Leaves of the department: one to three neighbouring groups of one system.
        let mut pool: Vec<String> = Vec::new();
        for k in 0..pool_of[d] {
            let Some(a) = b.drawer.app_of(catalog, d, false, &mut b.rng) else {
                break;
            };
            let n = 1 + b.rng.below(3);
            let ents = b.drawer.take(catalog, a, n, false);
            let app = &catalog.apps[a];
            let id = b.packages.add(
                &format!("{slug}-{}-{}", app.id, k + 1),
                &format!("{} users of {}", dept.name, app.name),
                ents,
                vec![],
            );
            pool.push(id);
        }
        let mut next_leaf = 0usize;
        // Each nesting package takes the next leaves in turn, so every leaf is
        // nested; now and then it shares one more.
        let mut take_leaves = |n: usize, rng: &mut Rng| -> Vec<String> {
            let upto = (next_leaf + n).min(pool.len());
            let mut out: Vec<String> = pool[next_leaf..upto].to_vec();
            next_leaf = upto;
            if rng.chance(0.1) {
                if let Some(p) = rng.pick(&pool) {
                    out.push(p.clone());
                }
            }
            out
        };

        // Band roles: a glob on the job code, half of them without the department.
        let bands: Vec<u8> = dept
            .job_codes
            .iter()
            .map(|(_, band)| *band)
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        let mut band_roles: Vec<(u8, String)> = Vec::new();
        for band in bands.iter().skip(1).take(band_kept[d]) {
            let band_name = BANDS.iter().find(|(n, _, _)| n == band).map_or("band", |(_, name, _)| *name);
            let ents = b.drawer.scattered(catalog, d, 2, &mut b.rng);
            let p = b
                .packages
                .add(&format!("{slug}-band-{band}"), &format!("{} {band_name}", dept.name), ents, vec![]);
            let mut when = vec![s("status", "active")];
            if b.rng.chance(0.5) {
                when.push(s("department", dept.name));
            }
            when.push(op("job_code", "matches", Y::s(format!("{}-{band}*", dept.code))));
            let extends = if b.rng.chance(0.5) { vec![base_role.clone()] } else { vec![] };
            let id = b.role(
                &format!("{slug}-{band_name}"),
                &format!("{} {band_name}", dept.name),
                &format!("{} job band {band} ({}-{band}xx)", dept.name, dept.code),
                &file,
                when,
                vec![p],
                extends,
            );
            band_roles.push((*band, id));
        }

        // Job-code roles: one per job code, the most common codes first; when
        // there are more roles than codes, the common codes get one role per
        // region instead (a partition: nobody matches two variants of a code).
        let mut codes: Vec<(String, u8)> = dept.job_codes.clone();
        let popularity = |band: u8| BANDS.iter().find(|(b, _, _)| *b == band).map_or(0, |(_, _, w)| *w);
        codes.sort_by_key(|(_, band)| std::cmp::Reverse(popularity(*band)));
        let mut variants: Vec<usize> = vec![0; codes.len()];
        let mut left = job_of[d];
        for v in variants.iter_mut() {
            if left == 0 {
                break;
            }
            *v = 1;
            left -= 1;
        }
        for v in variants.iter_mut() {
            if left == 0 {
                break;
            }
            let more = left.min(2);
            *v += more;
            left -= more;
        }
        let emea = region_locations("emea");
        // The department's own sides of the classic toxic pairs go to its job
        // roles first, one per role, so each side is somebody's job.
        let own_duties = duties(catalog, d);
        let mut sod_duties: std::collections::VecDeque<usize> = NAMED_SOD
            .iter()
            .flat_map(|(_, _, a, other, _)| a.iter().chain(other.iter()))
            .filter_map(|id| catalog.ent(id))
            .filter(|e| own_duties.contains(e))
            .collect();
        for ((code, band), n) in codes.iter().zip(variants) {
            let lower = code.to_ascii_lowercase();
            let regional: Vec<(String, Option<(String, Y)>)> = match n {
                0 => Vec::new(),
                1 => vec![(String::new(), None)],
                2 => vec![
                    ("-emea".to_string(), Some(op("location", "in", Y::strs(&emea)))),
                    ("-outside-emea".to_string(), Some(op("location", "not_in", Y::strs(&emea)))),
                ],
                _ => ["americas", "emea", "apac"]
                    .iter()
                    .map(|r| (format!("-{r}"), Some(op("location", "in", Y::strs(&region_locations(r))))))
                    .collect(),
            };
            for (suffix, location) in regional {
                let leaves = take_leaves(1, &mut b.rng);
                let ents = match sod_duties.pop_front() {
                    Some(e) => vec![e],
                    None => b.duty_or_filler(d, 0.4),
                };
                let pid = format!("job-{lower}{suffix}");
                let p = b.packages.add(&pid, &format!("Job {code}{suffix}"), ents, leaves);
                let mut when = vec![s("status", "active")];
                if location.is_none() && b.rng.chance(0.2) {
                    when.push(op("job_code", "matches", Y::s(format!("{}*", &code[..code.len() - 1]))));
                } else {
                    when.push(s("job_code", code));
                }
                when.extend(location);
                if b.rng.chance(0.1) {
                    when.push(op("worker_type", "not", Y::s("contractor")));
                }
                let extends = match band_roles.iter().find(|(x, _)| x == band) {
                    Some((_, id)) if b.rng.chance(0.2) => vec![id.clone()],
                    _ => vec![],
                };
                b.role(
                    &pid,
                    &format!("Job {code}{suffix}"),
                    &format!("People with job code {code}"),
                    &file,
                    when,
                    vec![p],
                    extends,
                );
            }
        }

        // Team roles: the cost centre.
        for t in 0..team_of[d] {
            let team = dept.teams[t].clone();
            let leaves = take_leaves(1, &mut b.rng);
            let ents = b.duty_or_filler(d, 0.15);
            let lower = team.to_ascii_lowercase();
            let p = b.packages.add(&format!("team-{lower}"), &format!("Team {team}"), ents, leaves);
            let mut when = vec![s("status", "active"), s("cost_center", &team)];
            if b.rng.chance(0.3) {
                when.insert(1, s("department", dept.name));
            }
            if b.rng.chance(0.2) {
                when.push(op("worker_type", "in", Y::strs(&["employee", "contractor"])));
            }
            let extends = if b.rng.chance(0.1) { vec![base_role.clone()] } else { vec![] };
            b.role(
                &format!("team-{lower}"),
                &format!("Team {team}"),
                &format!("Members of cost centre {team}"),
                &file,
                when,
                vec![p],
                extends,
            );
        }

        // Cross-cutting roles: narrow (a few teams), every operator.
        for c in 0..cross_of[d] {
            let leaves = take_leaves(2, &mut b.rng);
            let ents = b.drawer.scattered(catalog, d, 1, &mut b.rng);
            let k = 2 + b.rng.below(2);
            let start = b.rng.below(dept.teams.len());
            let teams: Vec<String> = (0..k.min(dept.teams.len()))
                .map(|i| dept.teams[(start + i) % dept.teams.len()].clone())
                .collect();
            let in_teams = op("cost_center", "in", Y::strs(&teams));
            let template = if cedar_left > 0 && c % 7 == 6 { 8 } else { c % 8 };
            let tag = tags[c % tags.len()];
            let location = locations[b.rng.below(locations.len())].name;
            let (what, when): (String, Vec<(String, Y)>) = match template {
                0 => (
                    format!("{tag} in {}", dept.name),
                    vec![s("status", "active"), s("department", dept.name), op("tags", "contains", Y::s(tag))],
                ),
                1 => {
                    let level = 2 + b.rng.below(2);
                    (
                        format!("{} cleared staff", dept.name),
                        vec![
                            s("status", "active"),
                            op("department", "in", Y::strs(&[dept.name])),
                            in_teams,
                            op("clearance", "gte", raw(&level.to_string())),
                        ],
                    )
                }
                2 => (
                    format!("{} project, permanent staff", dept.name),
                    vec![
                        s("status", "active"),
                        in_teams,
                        op("worker_type", "not_in", Y::strs(&["contractor", "intern"])),
                    ],
                ),
                3 => (
                    format!("{} contractors on a live contract", dept.name),
                    vec![
                        s("status", "active"),
                        s("department", dept.name),
                        s("worker_type", "contractor"),
                        op("end_date", "after", raw("now")),
                        in_teams,
                    ],
                ),
                4 => (
                    format!("{} tenured staff", dept.name),
                    vec![
                        s("status", "active"),
                        in_teams,
                        op("start_date", "before", Y::s(day_string(as_of, 730))),
                        op("end_date", "exists", raw("false")),
                    ],
                ),
                5 => (
                    format!("{} project outside {location}", dept.name),
                    vec![
                        s("status", "active"),
                        (
                            "all".into(),
                            Y::Seq(vec![
                                Y::Map(vec![in_teams]),
                                Y::Map(vec![("not".into(), Y::Map(vec![s("location", location)]))]),
                            ]),
                        ),
                    ],
                ),
                6 => {
                    let other = locations[b.rng.below(locations.len())].name;
                    (
                        format!("{} in {location} or {other}", dept.name),
                        vec![
                            s("status", "active"),
                            s("department", dept.name),
                            (
                                "any".into(),
                                Y::Seq(vec![Y::Map(vec![s("location", location)]), Y::Map(vec![s("location", other)])]),
                            ),
                            op("tags", "contains", Y::s(tag)),
                        ],
                    )
                }
                7 => (
                    format!("{} senior project members", dept.name),
                    vec![
                        s("status", "active"),
                        in_teams,
                        op("clearance", "gte", raw("1")),
                        op(
                            "job_code",
                            "not_in",
                            Y::strs(
                                &dept
                                    .job_codes
                                    .iter()
                                    .filter(|(_, b)| *b == 1)
                                    .map(|(c, _)| c.clone())
                                    .collect::<Vec<_>>(),
                            ),
                        ),
                    ],
                ),
                _ => {
                    cedar_left -= 1;
                    let expr = match cedar_left % 3 {
                        0 => "principal has clearance && principal.clearance >= 2".to_string(),
                        1 => "principal has tags && principal.tags.containsAny([\"on-call\", \"incident-commander\"])".to_string(),
                        _ => "principal has start_date && principal.start_date < context.now.offset(duration(\"-365d\"))".to_string(),
                    };
                    (
                        format!("{} (written in Cedar)", dept.name),
                        vec![
                            s("status", "active"),
                            s("department", dept.name),
                            ("cedar".into(), Y::Raw(format!("'{expr}'"))),
                        ],
                    )
                }
            };
            let p = b.packages.add(&format!("{slug}-initiative-{}", c + 1), &what, ents, leaves);
            let grants = if template == 1 && c % 3 == 1 {
                vec![p, restricted.clone()]
            } else {
                vec![p]
            };
            b.role(
                &format!("{slug}-initiative-{}", c + 1),
                &capitalise(&what),
                &format!("Cross-cutting access: {what}"),
                &file,
                when,
                grants,
                vec![],
            );
        }
        // Assignable privileged roles of the department.
        for k in 0..assignable_of[d] {
            // A system with privileged groups, else any of the department's
            // systems with a privileged entitlement of its own.
            // The first one administers the department's main system (the
            // production cloud account for engineers, the identity provider for IT).
            let main = (k == 0)
                .then(|| {
                    let id = MAIN_SYSTEMS.iter().find(|(code, _)| *code == dept.code)?.1;
                    dept.apps.iter().copied().find(|a| catalog.apps[*a].id == id)
                })
                .flatten();
            let (a, mut ents) = match main.or_else(|| b.drawer.app_of(catalog, d, true, &mut b.rng)) {
                Some(a) => (a, b.drawer.take(catalog, a, 1 + b.rng.below(3), true)),
                None => {
                    let with_admin: Vec<usize> = dept
                        .apps
                        .iter()
                        .copied()
                        .filter(|a| catalog.apps[*a].ents.iter().any(|e| catalog.ents[*e].privileged))
                        .collect();
                    let Some(a) = b.rng.pick(&with_admin).copied() else { continue };
                    (a, Vec::new())
                }
            };
            let app = &catalog.apps[a];
            // Now and then (or when it has no privileged groups) the named admin entitlement too.
            if ents.is_empty() || b.rng.chance(0.2) {
                if let Some(e) = app.ents.iter().find(|e| catalog.ents[**e].privileged) {
                    ents.push(*e);
                }
            }
            privileged[d].extend(ents.iter().copied());
            let leaves = take_leaves(1, &mut b.rng);
            let p = b.packages.add(
                &format!("{slug}-{}-admin-{}", app.id, k + 1),
                &format!("{} administration of {}", dept.name, app.name),
                ents,
                leaves,
            );
            let days = [7, 14, 30, 30, 90][b.rng.below(5)];
            // A few are left without a bound: the classic audit finding (W005).
            let max = if k == 3 && d % 4 == 0 { None } else { Some(days) };
            let mut when = vec![s("status", "active"), s("department", dept.name)];
            let mut band = None;
            let mut clearance = None;
            if b.rng.chance(0.4) {
                let senior = if bands.contains(&3) {
                    3
                } else {
                    bands.last().copied().unwrap_or(1)
                };
                band = Some(senior);
                when.push(op("job_code", "matches", Y::s(format!("{}-{senior}*", dept.code))));
            } else if b.rng.chance(0.3) {
                clearance = Some(2);
                when.push(op("clearance", "gte", raw("2")));
            }
            let id = b.role(
                &format!("{slug}-{}-admin-{}", app.id, k + 1),
                &format!("{} administrator ({})", app.name, dept.name),
                &format!("Requested, approved and time-bound administration of {}", app.name),
                &file,
                when,
                vec![p],
                vec![],
            );
            if let Some(r) = b.last() {
                r.assignable = true;
                r.max_duration_days = max;
            }
            b.assignable.push(AssignableRole {
                id,
                max_duration_days: max,
                department: Some(d),
                band,
                clearance,
                purpose: None,
            });
        }

        // Every leaf is nested by now (the last referencing package takes the
        // remainder); should rounding leave any, the baseline nests them.
        if next_leaf < pool.len() {
            let rest: Vec<String> = pool[next_leaf..].to_vec();
            if let Some(base) = b.packages.list.iter_mut().find(|p| p.id == base_package) {
                base.packages.extend(rest);
            }
        }
    }

    // A classic slip, planted once: a birthright role reaching privileged access (W001).
    if let Some(first) = privileged.iter().find(|p| !p.is_empty()).and_then(|p| p.first().copied()) {
        let p = b
            .packages
            .add("legacy-admin-bundle", "Legacy bundle nobody cleaned up", vec![first], vec![]);
        let d = depts.len() - 1;
        let file = format!("roles-{}.yaml", depts[d].slug);
        // It replaces the last cross-cutting role of the last department, keeping the count.
        if let Some(pos) = b.roles.iter().rposition(|r| r.file == file && r.id.contains("-initiative-")) {
            b.roles[pos].grants.push(p);
        } else if let Some(pos) = b.roles.iter().rposition(|r| r.file == file && !r.assignable) {
            b.roles[pos].grants.push(p);
        }
    }

    // --- Non-human identities ------------------------------------------------
    let purposes: Vec<Purpose> = PURPOSES
        .iter()
        .filter_map(|(name, kind, code, needs, cloud)| {
            catalog.department(code).map(|department| Purpose {
                name,
                kind,
                department,
                needs,
                cloud: *cloud,
            })
        })
        .collect();
    let nhi_file = "roles-nhi.yaml";
    let mut nhi_left = n_nhi;
    // Purpose by purpose (the most common first): outside production, in
    // production, and privileged production credentials (assignable) for
    // workloads that deploy or touch the cloud, and for the coding agents
    // (which the guardrails refuse: agents never hold privileged access).
    'purposes: for purpose in &purposes {
        for env in ["nonprod", "prod-privileged", "prod"] {
            if nhi_left == 0 {
                break 'purposes;
            }
            if env == "prod-privileged" {
                if purpose.cloud.is_none() && purpose.name != "coding-assistant" {
                    continue;
                }
                let mut ents = b.ents(&["aws-prod:deploy", "vault:prod-secrets-read"]);
                if purpose.kind == "agent" {
                    ents.extend(b.ent("github:org-owner"));
                } else if let Some(a) = catalog.apps.iter().position(|a| a.id == "aws-prod") {
                    ents.extend(b.drawer.take(catalog, a, 1, true));
                }
                let id = format!("nhi-{}-prod-privileged", purpose.name);
                let p = b
                    .packages
                    .add(&id, &format!("{} production credentials", purpose.name), ents, vec![]);
                let rid = b.role(
                    &id,
                    &format!("{} production credentials", purpose.name),
                    "Privileged production credentials for a workload, assigned and re-certified every quarter",
                    nhi_file,
                    vec![
                        s("status", "active"),
                        s("purpose", purpose.name),
                        s("environment", "prod"),
                        s("owner.status", "active"),
                    ],
                    vec![p],
                    vec![],
                );
                if let Some(r) = b.last() {
                    r.kinds = Some(vec![purpose.kind]);
                    r.assignable = true;
                    r.max_duration_days = Some(90);
                }
                b.assignable.push(AssignableRole {
                    id: rid,
                    max_duration_days: Some(90),
                    department: None,
                    band: None,
                    clearance: None,
                    purpose: Some(purpose.name),
                });
                nhi_left -= 1;
                continue;
            }
            let mut ents = b.ents(purpose.needs);
            if let Some(cloud) = purpose.cloud {
                if env == "prod" {
                    ents.extend(b.ent("aws-prod:readonly"));
                } else {
                    ents.extend(b.ent(&format!("aws-dev:{cloud}")));
                    ents.extend(b.ent(&format!("aws-staging:{cloud}")));
                }
            }
            ents.extend(b.drawer.scattered(catalog, purpose.department, 1, &mut b.rng));
            let id = format!("nhi-{}-{env}", purpose.name);
            let p = b.packages.add(&id, &format!("{} workloads ({env})", purpose.name), ents, vec![]);
            let mut when = vec![s("status", "active"), s("purpose", purpose.name)];
            if env == "prod" {
                when.push(s("environment", "prod"));
                when.push(s("owner.status", "active"));
                when.push(s("owner.department", catalog.departments[purpose.department].name));
                if purpose.name == "analytics" {
                    when.push(op("owner.clearance", "gte", raw("2")));
                }
            } else {
                when.push(op("environment", "not", Y::s("prod")));
                when.push(s("owner.status", "active"));
            }
            if purpose.kind == "agent" && b.rng.chance(0.5) {
                when.push(s("owner.kind", "person"));
            }
            let place = if env == "prod" { "in production" } else { "outside production" };
            b.role(
                &id,
                &format!("{} ({env})", purpose.name),
                &format!(
                    "{} {}s {place}, while their owner is active",
                    purpose.name,
                    purpose.kind.replace('_', " ")
                ),
                nhi_file,
                when,
                vec![p],
                vec![],
            );
            if let Some(r) = b.last() {
                r.kinds = Some(vec![purpose.kind]);
            }
            nhi_left -= 1;
        }
    }
    // Team-scoped workloads: the owner's team's systems.
    let mut t = 0usize;
    while nhi_left > 0 && !purposes.is_empty() {
        let purpose = &purposes[t % purposes.len()];
        let dept = &catalog.departments[purpose.department];
        let team = &dept.teams[(t / purposes.len()) % dept.teams.len()];
        let ents = b.drawer.scattered(catalog, purpose.department, 2, &mut b.rng);
        let lower = team.to_ascii_lowercase();
        let id = format!("nhi-{}-{lower}", purpose.name);
        let p = b.packages.add(&id, &format!("{} workloads of {team}", purpose.name), ents, vec![]);
        b.role(
            &id,
            &format!("{} of {team}", purpose.name),
            &format!("{} workloads owned by an active member of {team}", purpose.name),
            nhi_file,
            vec![
                s("status", "active"),
                s("purpose", purpose.name),
                s("owner.status", "active"),
                s("owner.cost_center", team),
            ],
            vec![p],
            vec![],
        );
        if let Some(r) = b.last() {
            r.kinds = Some(vec![purpose.kind]);
        }
        nhi_left -= 1;
        t += 1;
    }

    // --- Separation of duties -------------------------------------------------
    let (sod_yaml, sod_rules) = sod(options, catalog, &mut b);

    Blueprint {
        packages: b.packages,
        roles: b.roles,
        assignable: b.assignable,
        purposes,
        sod_yaml,
        sod_rules,
        privileged,
    }
}

/// The named, everyday entitlements of the systems department `d` has to
/// itself: its duties (posting journals, approving payments, …).
pub(crate) fn duties(catalog: &Catalog, d: usize) -> Vec<usize> {
    let dept = &catalog.departments[d];
    let mut out: Vec<usize> = dept
        .apps
        .iter()
        .map(|a| &catalog.apps[*a])
        .filter(|a| !a.internal && !a.everyone)
        .flat_map(|a| a.ents[..a.ents.len() - a.filler.len() - a.filler_privileged.len()].iter().copied())
        .filter(|e| !catalog.ents[*e].privileged && !ALL_STAFF.contains(&catalog.ents[*e].id.as_str()))
        .collect();
    // Duties in systems everybody uses.
    for (code, ids) in SHARED_DUTIES {
        if *code == dept.code {
            out.extend(ids.iter().filter_map(|id| catalog.ent(id)));
        }
    }
    out
}

/// Duties some departments have in systems every department uses.
const SHARED_DUTIES: &[(&str, &[&str])] = &[
    ("ITS", &["servicenow:itil-agent", "servicenow:change-approve", "confluence:editor"]),
    ("ENG", &["servicenow:change-approve", "confluence:editor"]),
    ("SEC", &["servicenow:itil-agent", "servicenow:change-approve"]),
    ("PPL", &["lms:author", "google:all-staff-list"]),
    ("OPS", &["servicenow:itil-agent"]),
    ("COM", &["zoom:webinar", "confluence:editor"]),
];

/// The system a department's first administration role is for.
const MAIN_SYSTEMS: &[(&str, &str)] = &[
    ("ENG", "aws-prod"),
    ("DAT", "snowflake"),
    ("SEC", "okta"),
    ("ITS", "okta"),
    ("FIN", "netsuite"),
    ("PPL", "workday"),
    ("SAL", "salesforce"),
    ("SUP", "zendesk"),
];

/// What `all-staff` hands everyone: never a department's own tool.
const ALL_STAFF: &[&str] = &[
    "okta:sso",
    "google:mail",
    "google:drive",
    "slack:member",
    "netsuite:expense-report",
    "1password:personal",
    "workday:self-service",
    "lms:learner",
    "servicenow:requester",
];

fn capitalise(text: &str) -> String {
    let mut c = text.chars();
    match c.next() {
        Some(first) => first.to_uppercase().collect::<String>() + c.as_str(),
        None => String::new(),
    }
}

/// The classic toxic pairs: (id, description, side, other side, severity).
type SodRow = (
    &'static str,
    &'static str,
    &'static [&'static str],
    &'static [&'static str],
    &'static str,
);

const NAMED_SOD: &[SodRow] = &[
    (
        "vendor-payment",
        "Nobody may both create vendors and approve payments",
        &["netsuite:vendor-create"],
        &["netsuite:payment-approve"],
        "high",
    ),
    (
        "journal-maker-checker",
        "Journal entries are posted and approved by different people",
        &["netsuite:journal-entry"],
        &["netsuite:journal-approve"],
        "high",
    ),
    (
        "deploy-approve-change",
        "Nobody may both deploy to production and approve the change",
        &["jenkins:prod-deploy", "aws-prod:deploy"],
        &["servicenow:change-approve"],
        "high",
    ),
    (
        "payroll-edit-approve",
        "Payroll is edited and approved by different people",
        &["adp:payroll-edit"],
        &["adp:payroll-approve"],
        "high",
    ),
    (
        "treasury-payment",
        "Treasury payments are created and approved by different people",
        &["kyriba:payment-create"],
        &["kyriba:payment-approve"],
        "high",
    ),
    (
        "compensation",
        "Compensation changes are made and approved by different people",
        &["workday:comp-edit"],
        &["workday:comp-approve"],
        "medium",
    ),
    (
        "requisition-approve",
        "Requesters and buyers do not approve requisitions",
        &["coupa:requester", "coupa:buyer"],
        &["coupa:approver"],
        "medium",
    ),
    (
        "identity-admin-audit",
        "Identity administrators do not administer the audit log",
        &["okta:super-admin"],
        &["splunk:admin"],
        "medium",
    ),
    (
        "goods-receipt-invoice",
        "Goods receipts and invoice verification are split",
        &["sap-mm:goods-receipt"],
        &["sap-mm:invoice-verify"],
        "medium",
    ),
    (
        "quote-discount",
        "Quotes and their discounts are approved by different people",
        &["salesforce:quote-create"],
        &["salesforce:discount-approve"],
        "low",
    ),
    (
        "contract-draft-approve",
        "Contracts are drafted and approved by different people",
        &["ironclad:editor"],
        &["ironclad:approver"],
        "low",
    ),
];

/// The SoD rules: the classic toxic pairs of the named systems, then
/// maker-checker pairs on internal groups.
fn sod(options: &GenOptions, catalog: &Catalog, b: &mut Builder<'_>) -> (String, usize) {
    let named = NAMED_SOD;
    let target = (options.roles / 60).clamp(8, 60);
    let mut out = String::from(
        "# Separation of duties (entitle gen): holding anything from both sides is a\n# violation, reported by `entitle plan` in live and desired state.\nversion: 1\n\nseparation_of_duties:\n",
    );
    let mut count = 0;
    let write = |out: &mut String, id: &str, description: &str, a: &[String], bside: &[String], severity: &str| {
        out.push_str(&format!(
            "  - id: {id}\n    description: {}\n    sides: [{}, {}]\n    severity: {severity}\n",
            scalar(description),
            id_list(a),
            id_list(bside)
        ));
    };
    for (id, description, a, bside, severity) in named.iter().take(target) {
        let a: Vec<String> = a.iter().map(|s| s.to_string()).collect();
        let bside: Vec<String> = bside.iter().map(|s| s.to_string()).collect();
        write(&mut out, id, description, &a, &bside, severity);
        count += 1;
    }
    // Maker-checker on internal groups that have both a write and an approve level.
    let mut candidates: Vec<(String, String)> = Vec::new();
    for app in &catalog.apps {
        for e in &app.filler {
            let id = &catalog.ents[*e].id;
            if let Some(group) = id.strip_suffix("-approve") {
                let write = format!("{group}-write");
                if catalog.ent(&write).is_some() {
                    candidates.push((write, id.clone()));
                }
            }
        }
    }
    b.rng.shuffle(&mut candidates);
    for (w, a) in candidates.into_iter().take(target.saturating_sub(count)) {
        let group = w.trim_end_matches("-write").replace(':', "-");
        write(
            &mut out,
            &format!("{group}-maker-checker"),
            "Group changes are made and approved by different people",
            &[w],
            &[a],
            "low",
        );
        count += 1;
    }
    (out, count)
}

/// The role files: `roles-birthright.yaml`, one per department, `roles-nhi.yaml`.
pub(crate) fn role_files(roles: &[RoleDef]) -> Vec<(String, String)> {
    let mut files: Vec<(String, String)> = Vec::new();
    for r in roles {
        if !files.iter().any(|(f, _)| *f == r.file) {
            let what = match r.file.as_str() {
                "roles-birthright.yaml" => "Birthright roles: access a population gets from HR attributes alone".to_string(),
                "roles-nhi.yaml" => "Non-human identities: every role requires an active owner".to_string(),
                f => format!(
                    "Roles of {}: department, job bands and codes, teams, initiatives, assignable administration",
                    f.trim_start_matches("roles-").trim_end_matches(".yaml")
                ),
            };
            files.push((r.file.clone(), format!("# {what} (entitle gen).\nversion: 1\n\nroles:\n")));
        }
        let Some((_, out)) = files.iter_mut().find(|(f, _)| *f == r.file) else {
            continue;
        };
        out.push_str(&format!(
            "  - id: {}\n    name: {}\n    description: {}\n",
            r.id,
            scalar(&r.name),
            scalar(&r.description)
        ));
        if let Some(kinds) = &r.kinds {
            out.push_str(&format!("    kinds: {}\n", id_list(kinds)));
        }
        if !r.extends.is_empty() {
            out.push_str(&format!("    extends: {}\n", id_list(&r.extends)));
        }
        if r.assignable {
            out.push_str("    assignable: true\n");
        }
        out.push_str("    when: ");
        Y::Map(r.when.clone()).write(out);
        out.push('\n');
        if let Some(days) = r.max_duration_days {
            out.push_str(&format!("    max_duration: {days}d\n"));
        }
        out.push_str(&format!("    grants: {}\n", id_list(&r.grants)));
    }
    files
}

/// `roles/invariants.yaml`.
pub(crate) fn invariants_yaml() -> String {
    "# Invariants (entitle gen), proved by `entitle prove` over all identity states;\n\
     # the guardrails in policies/guardrails.cedar make them hold.\nversion: 1\n\n\
     invariants:\n  - id: leavers-hold-nothing\n    for: { status: terminated }\n    holds: nothing\n\n  \
     - id: contractors-never-privileged\n    for: { worker_type: contractor }\n    never: { privileged: true }\n\n  \
     - id: orphaned-nhis-hold-nothing\n    for: { kind: { in: [service_account, agent] }, owner.status: { not: active } }\n    holds: nothing\n"
        .to_string()
}
