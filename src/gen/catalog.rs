//! The organisation's shape and its application catalog: departments with
//! job codes and teams, locations in regions, real-sounding applications
//! (SSO, email, chat, code host, CI, cloud accounts per environment, ERP, CRM,
//! HRIS, ticketing, warehouse, vault, …) then numbered internal ones, and the
//! entitlements of each, a share of them privileged.
//!
//! Must never: use randomness outside its own stream, or produce an id the
//! definition reader would refuse.

use std::collections::BTreeMap;

use super::rng::{Rng, Stream};
use super::text::{scalar, Y};
use super::GenOptions;

/// A department and its shape.
#[derive(Debug, Clone)]
pub(crate) struct Department {
    /// Display name, the value of the `department` attribute.
    pub name: &'static str,
    /// The job-code prefix (`ENG`).
    pub code: &'static str,
    /// Lowercase id part (`customer-success`).
    pub slug: String,
    /// Relative headcount.
    pub weight: u32,
    /// Job codes (`ENG-210`) with their band digit.
    pub job_codes: Vec<(String, u8)>,
    /// Cost centres (`CC-ENG-004`), one per team.
    pub teams: Vec<String>,
    /// Applications this department works in (indexes into the catalog's apps).
    pub apps: Vec<usize>,
}

/// A location and its region.
#[derive(Debug, Clone)]
pub(crate) struct Location {
    /// The value of the `location` attribute.
    pub name: &'static str,
    /// Lowercase id part.
    pub slug: String,
    /// `americas`, `emea` or `apac`.
    pub region: &'static str,
    /// Relative headcount.
    pub weight: u32,
}

/// What kind of system an application is (drives entitlement naming).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Category {
    /// Code hosting: team groups.
    Code,
    /// A cloud account: account roles.
    Cloud,
    /// Anything else: groups.
    Other,
}

/// An application of the catalog.
#[derive(Debug, Clone)]
pub(crate) struct App {
    /// The id (`github`, `app-0042`).
    pub id: String,
    /// Display name.
    pub name: String,
    /// The kind of system.
    pub category: Category,
    /// The accountable identity.
    pub owner: String,
    /// Its entitlements (indexes into the catalog's entitlements): the named
    /// core ones first, then the filler.
    pub ents: Vec<usize>,
    /// Entitlements beyond the named core ones, not privileged.
    pub filler: Vec<usize>,
    /// Filler entitlements that are privileged.
    pub filler_privileged: Vec<usize>,
    /// Internal applications go in numbered files.
    pub internal: bool,
    /// Every department uses it (mail, chat, …).
    pub everyone: bool,
}

/// An entitlement of the catalog.
#[derive(Debug, Clone)]
pub(crate) struct Ent {
    /// Full id, `app:slug`.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Administrative or production-write access.
    pub privileged: bool,
}

/// The catalog and the organisation's shape.
#[derive(Debug, Clone)]
pub(crate) struct Catalog {
    /// Departments, most central first.
    pub departments: Vec<Department>,
    /// Locations.
    pub locations: Vec<Location>,
    /// Applications: named ones first, then internal ones.
    pub apps: Vec<App>,
    /// Every entitlement.
    pub ents: Vec<Ent>,
    /// Full id → index.
    pub ent_index: BTreeMap<String, usize>,
}

impl Catalog {
    /// The index of a named (core) entitlement; named ones always exist.
    pub(crate) fn ent(&self, id: &str) -> Option<usize> {
        self.ent_index.get(id).copied()
    }

    /// The department with job-code prefix `code`.
    pub(crate) fn department(&self, code: &str) -> Option<usize> {
        self.departments.iter().position(|d| d.code == code)
    }

    /// The department named `name`.
    pub(crate) fn department_named(&self, name: &str) -> Option<usize> {
        self.departments.iter().position(|d| d.name == name)
    }
}

/// (name, code, headcount weight)
const DEPARTMENTS: &[(&str, &str, u32)] = &[
    ("Engineering", "ENG", 220),
    ("Sales", "SAL", 120),
    ("Support", "SUP", 90),
    ("Finance", "FIN", 40),
    ("Data", "DAT", 50),
    ("IT", "ITS", 30),
    ("Security", "SEC", 20),
    ("People", "PPL", 20),
    ("Marketing", "MKT", 40),
    ("Operations", "OPS", 50),
    ("Product", "PRD", 40),
    ("Customer Success", "CSM", 50),
    ("Procurement", "PRC", 10),
    ("Legal", "LGL", 10),
    ("Design", "DSN", 20),
    ("Research", "RES", 30),
    ("Manufacturing", "MFG", 30),
    ("Quality Assurance", "QAE", 20),
    ("Supply Chain", "SCM", 20),
    ("Solutions Engineering", "SOL", 20),
    ("Professional Services", "PSV", 20),
    ("Compliance", "CMP", 10),
    ("Internal Audit", "AUD", 8),
    ("Treasury", "TRS", 6),
    ("Tax", "TAX", 6),
    ("Communications", "COM", 8),
    ("Business Development", "BDV", 10),
    ("Partnerships", "PTN", 10),
    ("Facilities", "FAC", 10),
    ("Risk", "RSK", 8),
    ("Corporate Strategy", "STR", 5),
    ("Executive Office", "EXO", 4),
];

/// (name, region, headcount weight)
const LOCATIONS: &[(&str, &str, u32)] = &[
    ("London", "emea", 120),
    ("New York", "americas", 110),
    ("San Francisco", "americas", 90),
    ("Berlin", "emea", 60),
    ("Remote-US", "americas", 90),
    ("Bangalore", "apac", 70),
    ("Dublin", "emea", 40),
    ("Singapore", "apac", 40),
    ("Austin", "americas", 40),
    ("Toronto", "americas", 30),
    ("Remote-EU", "emea", 40),
    ("Sydney", "apac", 25),
    ("Paris", "emea", 25),
    ("Tokyo", "apac", 20),
    ("Amsterdam", "emea", 20),
    ("Chicago", "americas", 25),
    ("Seattle", "americas", 25),
    ("Boston", "americas", 20),
    ("Madrid", "emea", 15),
    ("Warsaw", "emea", 20),
    ("Sao Paulo", "americas", 15),
    ("Tel Aviv", "emea", 15),
    ("Zurich", "emea", 10),
    ("Stockholm", "emea", 10),
    ("Mexico City", "americas", 12),
    ("Remote-APAC", "apac", 15),
];

/// Job-code bands: the first digit of the number (`ENG-210` is band 2).
pub(crate) const BANDS: &[(u8, &str, u32)] = &[
    (1, "associate", 40),
    (2, "senior", 30),
    (3, "staff", 10),
    (5, "specialist", 7),
    (8, "manager", 8),
    (9, "operations", 5),
];

/// Every department uses these (`*`), or the listed department codes.
const ALL: &[&str] = &["*"];

/// A named application: id, name, category, filler weight, departments, core entitlements.
struct NamedApp {
    id: &'static str,
    name: &'static str,
    category: Category,
    weight: u32,
    departments: &'static [&'static str],
    /// (slug, name, privileged)
    core: &'static [(&'static str, &'static str, bool)],
}

const fn app(
    id: &'static str,
    name: &'static str,
    category: Category,
    weight: u32,
    departments: &'static [&'static str],
    core: &'static [(&'static str, &'static str, bool)],
) -> NamedApp {
    NamedApp {
        id,
        name,
        category,
        weight,
        departments,
        core,
    }
}

use Category::{Cloud, Code, Other};

const ENGINEERING: &[&str] = &["ENG", "DAT", "SEC", "ITS", "QAE", "RES", "SOL", "PRD"];
const FINANCE: &[&str] = &["FIN", "PRC", "TRS", "TAX", "AUD", "RSK", "EXO"];
const GO_TO_MARKET: &[&str] = &["SAL", "MKT", "CSM", "BDV", "PTN", "SOL", "PSV", "SUP"];

const NAMED_APPS: &[NamedApp] = &[
    app(
        "okta",
        "Okta Workforce Identity (SSO)",
        Other,
        1,
        &["ITS", "SEC"],
        &[
            ("sso", "Okta user, SSO to all federated apps", false),
            ("help-desk-admin", "Help desk administrator (reset MFA and passwords)", true),
            ("super-admin", "Super administrator", true),
        ],
    ),
    app(
        "google",
        "Google Workspace",
        Other,
        2,
        ALL,
        &[
            ("mail", "Gmail and Calendar", false),
            ("drive", "Google Drive and shared drives", false),
            ("all-staff-list", "all-staff mailing list", false),
            ("super-admin", "Workspace super administrator", true),
        ],
    ),
    app(
        "slack",
        "Slack Enterprise Grid",
        Other,
        2,
        ALL,
        &[
            ("member", "Full member of the workspace", false),
            ("guest", "Multi-channel guest (contractors)", false),
            ("admin", "Workspace administrator", true),
        ],
    ),
    app(
        "zoom",
        "Zoom",
        Other,
        1,
        ALL,
        &[
            ("licensed", "Licensed user", false),
            ("webinar", "Webinar host", false),
            ("admin", "Account administrator", true),
        ],
    ),
    app(
        "1password",
        "1Password Business",
        Other,
        1,
        ALL,
        &[
            ("personal", "Personal vault", false),
            ("engineering-vault", "Shared engineering secrets vault", false),
            ("finance-vault", "Shared finance vault (bank portals)", false),
            ("it-vault", "Shared IT vault", false),
            ("admin", "Account owner / administrator", true),
        ],
    ),
    app(
        "vault",
        "HashiCorp Vault",
        Other,
        3,
        &["ENG", "SEC", "ITS", "DAT"],
        &[
            ("dev-secrets-read", "Read dev secrets", false),
            ("staging-secrets-read", "Read staging secrets", false),
            ("prod-secrets-read", "Read production secrets", true),
            ("root", "Root token holder", true),
        ],
    ),
    app(
        "github",
        "GitHub Enterprise Cloud",
        Code,
        40,
        ENGINEERING,
        &[
            ("org-member", "Member of the organisation (read)", false),
            ("copilot", "Copilot seat", false),
            ("repo-write", "Write to product repositories", false),
            ("org-owner", "Organisation owner", true),
        ],
    ),
    app(
        "jira",
        "Jira",
        Other,
        6,
        ALL,
        &[
            ("software", "Jira Software user", false),
            ("business", "Jira Work Management user", false),
            ("admin", "Jira administrator", true),
        ],
    ),
    app(
        "confluence",
        "Confluence",
        Other,
        4,
        ALL,
        &[
            ("viewer", "Read every public space", false),
            ("editor", "Create and edit pages", false),
            ("admin", "Confluence administrator", true),
        ],
    ),
    app(
        "jenkins",
        "Jenkins CI",
        Other,
        6,
        &["ENG", "QAE", "DAT"],
        &[
            ("viewer", "View jobs and logs", false),
            ("build", "Run builds", false),
            ("staging-deploy", "Deploy to staging", false),
            ("prod-deploy", "Deploy to production", true),
            ("admin", "Jenkins administrator", true),
        ],
    ),
    app(
        "artifactory",
        "JFrog Artifactory",
        Other,
        3,
        &["ENG", "QAE"],
        &[
            ("reader", "Pull artefacts", false),
            ("publisher", "Publish artefacts", false),
            ("admin", "Artifactory administrator", true),
        ],
    ),
    app(
        "pagerduty",
        "PagerDuty",
        Other,
        2,
        &["ENG", "SEC", "ITS"],
        &[
            ("responder", "On-call responder", false),
            ("manager", "Schedule manager", false),
            ("admin", "Account administrator", true),
        ],
    ),
    app(
        "datadog",
        "Datadog",
        Other,
        3,
        &["ENG", "SEC", "DAT"],
        &[
            ("viewer", "Read dashboards and logs", false),
            ("editor", "Edit dashboards and monitors", false),
            ("admin", "Organisation administrator", true),
        ],
    ),
    app(
        "sentry",
        "Sentry",
        Other,
        2,
        &["ENG", "QAE"],
        &[("member", "Project member", false), ("admin", "Organisation administrator", true)],
    ),
    app(
        "aws-dev",
        "AWS dev account",
        Cloud,
        20,
        &["ENG", "DAT", "SEC", "QAE", "RES"],
        &[
            ("readonly", "Read-only in dev", false),
            ("deploy", "Deploy to dev", false),
            ("admin", "Administrator in dev", true),
        ],
    ),
    app(
        "aws-staging",
        "AWS staging account",
        Cloud,
        15,
        &["ENG", "DAT", "SEC", "QAE"],
        &[
            ("readonly", "Read-only in staging", false),
            ("deploy", "Deploy to staging", false),
            ("admin", "Administrator in staging", true),
        ],
    ),
    app(
        "aws-prod",
        "AWS production account",
        Cloud,
        20,
        &["ENG", "DAT", "SEC"],
        &[
            ("readonly", "Read-only in production", false),
            ("billing-viewer", "Cost and usage reports", false),
            ("security-audit", "Security audit (read everywhere)", false),
            ("deploy", "Deploy to production", true),
            ("admin", "Administrator in production", true),
        ],
    ),
    app(
        "gcp-dev",
        "Google Cloud dev project",
        Cloud,
        8,
        &["DAT", "RES", "ENG"],
        &[
            ("viewer", "Viewer in dev", false),
            ("editor", "Editor in dev", false),
            ("owner", "Owner in dev", true),
        ],
    ),
    app(
        "gcp-prod",
        "Google Cloud production project",
        Cloud,
        8,
        &["DAT", "ENG"],
        &[
            ("viewer", "Viewer in production", false),
            ("editor", "Editor in production", true),
            ("owner", "Owner in production", true),
        ],
    ),
    app(
        "k8s-prod",
        "Kubernetes production cluster",
        Cloud,
        6,
        &["ENG", "SEC"],
        &[
            ("view", "View workloads", false),
            ("edit", "Edit workloads", true),
            ("cluster-admin", "Cluster administrator", true),
        ],
    ),
    app(
        "terraform",
        "Terraform Cloud",
        Other,
        3,
        &["ENG", "SEC", "ITS"],
        &[
            ("plan", "Plan workspaces", false),
            ("apply", "Apply to workspaces", true),
            ("admin", "Organisation owner", true),
        ],
    ),
    app(
        "snowflake",
        "Snowflake data warehouse",
        Other,
        15,
        &["DAT", "FIN", "SAL", "MKT", "CSM", "PRD", "RES"],
        &[
            ("analyst-reader", "Read the curated marts", false),
            ("finance-mart-reader", "Read the finance mart", false),
            ("data-engineer", "Build pipelines and transformations", false),
            ("restricted-reader", "Read restricted (PII) data", false),
            ("sysadmin", "Warehouse administrator", true),
        ],
    ),
    app(
        "tableau",
        "Tableau",
        Other,
        5,
        &["DAT", "FIN", "SAL", "MKT", "OPS", "CSM", "EXO"],
        &[
            ("viewer", "View workbooks", false),
            ("creator", "Publish workbooks", false),
            ("admin", "Site administrator", true),
        ],
    ),
    app(
        "databricks",
        "Databricks",
        Other,
        5,
        &["DAT", "RES"],
        &[("user", "Workspace user", false), ("admin", "Workspace administrator", true)],
    ),
    app(
        "netsuite",
        "NetSuite ERP",
        Other,
        8,
        FINANCE,
        &[
            ("viewer", "Read-only", false),
            ("expense-report", "Submit expense reports", false),
            ("journal-entry", "Post journal entries", false),
            ("journal-approve", "Approve journal entries", false),
            ("ap-clerk", "Accounts payable clerk", false),
            ("vendor-create", "Create and edit vendors", false),
            ("payment-approve", "Approve vendor payments", false),
            ("admin", "NetSuite administrator", true),
        ],
    ),
    app(
        "coupa",
        "Coupa procurement",
        Other,
        3,
        &["PRC", "FIN", "OPS", "SCM", "FAC"],
        &[
            ("requester", "Raise purchase requisitions", false),
            ("buyer", "Buyer", false),
            ("approver", "Approve requisitions", false),
            ("admin", "Coupa administrator", true),
        ],
    ),
    app(
        "adp",
        "ADP payroll",
        Other,
        2,
        &["PPL", "FIN"],
        &[
            ("viewer", "Read payroll reports", false),
            ("payroll-edit", "Edit payroll", false),
            ("payroll-approve", "Approve payroll runs", false),
            ("admin", "Payroll administrator", true),
        ],
    ),
    app(
        "workday",
        "Workday HCM",
        Other,
        4,
        &["PPL", "FIN", "EXO"],
        &[
            ("self-service", "Employee self-service", false),
            ("onboarding", "Onboarding tasks before day one", false),
            ("manager-view", "Manager self-service", false),
            ("benefits-americas", "Benefits enrolment, Americas", false),
            ("benefits-emea", "Benefits enrolment, EMEA", false),
            ("benefits-apac", "Benefits enrolment, APAC", false),
            ("long-service-award", "Long-service award programme", false),
            ("hr-partner", "HR business partner", false),
            ("comp-edit", "Edit compensation", false),
            ("comp-approve", "Approve compensation changes", false),
            ("admin", "Workday administrator", true),
        ],
    ),
    app(
        "greenhouse",
        "Greenhouse recruiting",
        Other,
        2,
        &["PPL"],
        &[
            ("interviewer", "Interviewer", false),
            ("recruiter", "Recruiter", false),
            ("admin", "Site administrator", true),
        ],
    ),
    app(
        "lms",
        "Learning platform",
        Other,
        2,
        ALL,
        &[
            ("learner", "Learner", false),
            ("new-joiner-curriculum", "New-joiner curriculum", false),
            ("author", "Course author", false),
            ("admin", "Learning administrator", true),
        ],
    ),
    app(
        "salesforce",
        "Salesforce",
        Other,
        15,
        GO_TO_MARKET,
        &[
            ("sales-cloud", "Sales Cloud user", false),
            ("service-cloud", "Service Cloud user", false),
            ("read-only", "Read-only user", false),
            ("quote-create", "Create quotes", false),
            ("discount-approve", "Approve discounts", false),
            ("admin", "System administrator", true),
        ],
    ),
    app(
        "hubspot",
        "HubSpot marketing",
        Other,
        3,
        &["MKT", "COM", "BDV"],
        &[("marketer", "Marketing user", false), ("admin", "Super admin", true)],
    ),
    app(
        "zendesk",
        "Zendesk",
        Other,
        5,
        &["SUP", "CSM"],
        &[
            ("agent", "Support agent", false),
            ("light-agent", "Light agent (read and comment)", false),
            ("admin", "Zendesk administrator", true),
        ],
    ),
    app(
        "docusign",
        "DocuSign",
        Other,
        1,
        &["LGL", "SAL", "PRC", "PPL"],
        &[("sender", "Send envelopes", false), ("admin", "Account administrator", true)],
    ),
    app(
        "servicenow",
        "ServiceNow ITSM",
        Other,
        6,
        ALL,
        &[
            ("requester", "Raise requests and incidents", false),
            ("itil-agent", "ITIL fulfiller", false),
            ("change-approve", "Change Advisory Board approver", false),
            ("admin", "ServiceNow administrator", true),
        ],
    ),
    app(
        "crowdstrike",
        "CrowdStrike Falcon",
        Other,
        2,
        &["SEC", "ITS"],
        &[
            ("analyst", "Read detections", false),
            ("responder", "Contain hosts", false),
            ("admin", "Falcon administrator", true),
        ],
    ),
    app(
        "splunk",
        "Splunk",
        Other,
        4,
        &["SEC", "ITS", "ENG"],
        &[
            ("user", "Search", false),
            ("power", "Power user (saved searches, alerts)", false),
            ("admin", "Splunk administrator", true),
        ],
    ),
    app(
        "badge",
        "Physical access control",
        Other,
        0,
        &["FAC", "SEC"],
        &[("datacenter", "Data centre cages", true)],
    ),
    app(
        "vpn",
        "GlobalProtect VPN",
        Other,
        1,
        ALL,
        &[("user", "Remote access", false), ("admin", "VPN administrator", true)],
    ),
    app(
        "box",
        "Box",
        Other,
        3,
        ALL,
        &[("user", "Box user", false), ("admin", "Box administrator", true)],
    ),
    app(
        "figma",
        "Figma",
        Other,
        2,
        &["DSN", "PRD", "MKT", "ENG"],
        &[
            ("viewer", "Viewer", false),
            ("editor", "Editor seat", false),
            ("admin", "Organisation administrator", true),
        ],
    ),
    app(
        "ironclad",
        "Ironclad contracts",
        Other,
        2,
        &["LGL", "SAL", "PRC", "CMP"],
        &[
            ("viewer", "Read contracts", false),
            ("editor", "Draft contracts", false),
            ("approver", "Approve contracts", false),
            ("admin", "Workspace administrator", true),
        ],
    ),
    app(
        "avalara",
        "Avalara tax",
        Other,
        1,
        &["TAX", "FIN"],
        &[("user", "Tax user", false), ("admin", "Avalara administrator", true)],
    ),
    app(
        "kyriba",
        "Kyriba treasury",
        Other,
        1,
        &["TRS", "FIN"],
        &[
            ("viewer", "Cash positions", false),
            ("payment-create", "Create payments", false),
            ("payment-approve", "Approve payments", false),
            ("admin", "Kyriba administrator", true),
        ],
    ),
    app(
        "sap-mm",
        "SAP materials management",
        Other,
        6,
        &["MFG", "SCM", "OPS", "QAE", "PRC"],
        &[
            ("display", "Display materials and stock", false),
            ("goods-receipt", "Post goods receipts", false),
            ("invoice-verify", "Verify supplier invoices", false),
            ("admin", "Basis administrator", true),
        ],
    ),
];

/// Words for internal application names.
const INTERNAL_WORDS: &[&str] = &[
    "Atlas", "Beacon", "Cobalt", "Delta", "Ember", "Falcon", "Garnet", "Harbor", "Iris", "Juniper", "Kestrel", "Lumen", "Meridian",
    "Nimbus", "Orion", "Pioneer", "Quartz", "Raven", "Sierra", "Tundra", "Umbra", "Vertex", "Willow", "Zephyr",
];
const INTERNAL_NOUNS: &[&str] = &[
    "Billing",
    "Ledger",
    "Pricing",
    "Orders",
    "Catalog",
    "Inventory",
    "Payments",
    "Search",
    "Identity",
    "Reporting",
    "Forecasting",
    "Scheduling",
    "Shipping",
    "Claims",
    "Quotes",
    "Contracts",
    "Telemetry",
    "Onboarding",
    "Portal",
    "Analytics",
    "Rewards",
    "Notifications",
    "Routing",
    "Compliance",
];

/// Levels of a filler resource (group, team, account role), with the chance it exists.
fn levels(category: Category) -> [(&'static str, f64, bool); 4] {
    match category {
        Category::Code => [
            ("read", 1.0, false),
            ("write", 0.85, false),
            ("maintain", 0.3, false),
            ("admin", 0.22, true),
        ],
        Category::Cloud => [
            ("readonly", 1.0, false),
            ("deploy", 0.85, false),
            ("operator", 0.3, false),
            ("admin", 0.22, true),
        ],
        Category::Other => [
            ("read", 1.0, false),
            ("write", 0.85, false),
            ("approve", 0.3, false),
            ("admin", 0.22, true),
        ],
    }
}

fn resource_word(category: Category) -> &'static str {
    match category {
        Category::Code => "team",
        Category::Cloud => "acct",
        Category::Other => "group",
    }
}

/// How many named core entitlements there are for `locations` locations
/// (office channels and badges come per location).
pub(crate) fn core_entitlements(locations: usize) -> usize {
    NAMED_APPS.iter().map(|a| a.core.len()).sum::<usize>() + 2 * locations
}

/// How many internal applications a catalog of `entitlements` has: about
/// one application per 100 entitlements in all, at least one per 150.
pub(crate) fn internal_apps(entitlements: usize) -> usize {
    (entitlements / 100).saturating_sub(NAMED_APPS.len()).max(entitlements / 150)
}

/// How many departments and locations an organisation of this size has.
pub(crate) fn shape(options: &GenOptions) -> (usize, usize) {
    let departments = (options.people / 3000).min(options.roles / 8).clamp(6, DEPARTMENTS.len());
    // At least six, so that every region has one.
    let locations = (options.people / 3600).min(options.roles / 10).clamp(6, LOCATIONS.len());
    (departments, locations)
}

fn slug(name: &str) -> String {
    name.to_ascii_lowercase().replace(' ', "-")
}

/// Builds the catalog.
pub(crate) fn build(options: &GenOptions) -> Catalog {
    let mut rng = Rng::new(options.seed, Stream::Catalog, 0);
    let (n_departments, n_locations) = shape(options);
    let person = |k: usize| super::identities::person_id(k.wrapping_mul(7919) % options.people.max(1));

    let locations: Vec<Location> = LOCATIONS[..n_locations]
        .iter()
        .map(|(name, region, weight)| Location {
            name,
            slug: slug(name),
            region,
            weight: *weight,
        })
        .collect();

    // Teams: about one per 120 people, at least two per department.
    let weights: Vec<u32> = DEPARTMENTS[..n_departments].iter().map(|d| d.2).collect();
    let total_weight: u32 = weights.iter().sum();
    let mut departments: Vec<Department> = DEPARTMENTS[..n_departments]
        .iter()
        .map(|(name, code, weight)| {
            let headcount = options.people as u64 * u64::from(*weight) / u64::from(total_weight.max(1));
            let teams = ((headcount / 120) as usize).max(2);
            // Big departments have more job families.
            let families = (3 + rng.below(4) + if *weight >= 90 { 3 } else { 0 }).min(9);
            let mut job_codes = Vec::new();
            for (band, _, _) in BANDS {
                // Small departments have no specialist or operations band.
                if (*band == 5 || *band == 9) && *weight < 20 {
                    continue;
                }
                for family in 1..=families {
                    job_codes.push((format!("{code}-{band}{family}0"), *band));
                }
            }
            Department {
                name,
                code,
                slug: slug(name),
                weight: *weight,
                job_codes,
                teams: (1..=teams).map(|t| format!("CC-{code}-{t:03}")).collect(),
                apps: Vec::new(),
            }
        })
        .collect();

    // Named applications, then internal ones.
    let named = NAMED_APPS.len();
    let internal = internal_apps(options.entitlements);
    let mut apps: Vec<App> = Vec::new();
    let mut ents: Vec<Ent> = Vec::new();
    let mut app_weights: Vec<u32> = Vec::new();
    for (k, a) in NAMED_APPS.iter().enumerate() {
        let mut app = App {
            id: a.id.to_string(),
            name: a.name.to_string(),
            category: a.category,
            owner: person(k + 1),
            ents: Vec::new(),
            filler: Vec::new(),
            filler_privileged: Vec::new(),
            internal: false,
            everyone: a.departments == ALL,
        };
        for (s, name, privileged) in a.core {
            app.ents.push(ents.len());
            ents.push(Ent {
                id: format!("{}:{s}", a.id),
                name: name.to_string(),
                privileged: *privileged,
            });
        }
        // Office channels and badges, one per location.
        if a.id == "slack" || a.id == "badge" {
            for l in &locations {
                app.ents.push(ents.len());
                let (s, name) = if a.id == "slack" {
                    (format!("office-{}", l.slug), format!("#office-{}", l.slug))
                } else {
                    (format!("office-{}", l.slug), format!("{} office badge", l.name))
                };
                ents.push(Ent {
                    id: format!("{}:{s}", a.id),
                    name,
                    privileged: false,
                });
            }
        }
        for dept in departments.iter_mut() {
            if a.departments == ALL || a.departments.contains(&dept.code) {
                dept.apps.push(apps.len());
            }
        }
        apps.push(app);
        app_weights.push(a.weight);
    }
    for n in 1..=internal {
        let word = INTERNAL_WORDS[rng.below(INTERNAL_WORDS.len())];
        let noun = INTERNAL_NOUNS[rng.below(INTERNAL_NOUNS.len())];
        let index = apps.len();
        // One home department, sometimes a second.
        let home = rng.weighted(&weights);
        departments[home].apps.push(index);
        if rng.chance(0.3) {
            let other = rng.weighted(&weights);
            if other != home {
                departments[other].apps.push(index);
            }
        }
        let id = format!("app-{n:04}");
        let mut app = App {
            id: id.clone(),
            name: format!("{word} {noun} (internal)"),
            category: Category::Other,
            owner: person(named + n),
            ents: Vec::new(),
            filler: Vec::new(),
            filler_privileged: Vec::new(),
            internal: true,
            everyone: false,
        };
        for (s, name, privileged) in [
            ("user", "User", false),
            ("viewer", "Read-only", false),
            ("editor", "Editor", false),
            ("admin", "Administrator", true),
        ] {
            app.ents.push(ents.len());
            ents.push(Ent {
                id: format!("{id}:{s}"),
                name: name.to_string(),
                privileged,
            });
        }
        apps.push(app);
        app_weights.push(1 + rng.below(3) as u32);
    }

    // Filler: the rest of the budget, spread over the applications by weight.
    let budget = options.entitlements.saturating_sub(ents.len());
    let total: u64 = app_weights.iter().map(|w| u64::from(*w)).sum::<u64>().max(1);
    let mut shares: Vec<usize> = app_weights
        .iter()
        .map(|w| (budget as u64 * u64::from(*w) / total) as usize)
        .collect();
    let mut left = budget - shares.iter().sum::<usize>();
    let mut i = 0;
    while left > 0 {
        let k = i % shares.len();
        if app_weights[k] > 0 {
            shares[k] += 1;
            left -= 1;
        }
        i += 1;
    }
    for (a, share) in shares.into_iter().enumerate() {
        let category = apps[a].category;
        let word = resource_word(category);
        let mut made = 0;
        let mut resource = 1;
        while made < share {
            for (level, p, privileged) in levels(category) {
                if made == share {
                    break;
                }
                // The first level always exists; the others by chance.
                if p < 1.0 && !rng.chance(p) {
                    continue;
                }
                let index = ents.len();
                let app = &mut apps[a];
                ents.push(Ent {
                    id: format!("{}:{word}-{resource:04}-{level}", app.id),
                    name: format!("{} {resource:04} {level}", capitalise(word)),
                    privileged,
                });
                app.ents.push(index);
                if privileged {
                    app.filler_privileged.push(index);
                } else {
                    app.filler.push(index);
                }
                made += 1;
            }
            resource += 1;
        }
    }
    let ent_index = ents.iter().enumerate().map(|(i, e)| (e.id.clone(), i)).collect();
    Catalog {
        departments,
        locations,
        apps,
        ents,
        ent_index,
    }
}

fn capitalise(word: &str) -> String {
    let mut c = word.chars();
    match c.next() {
        Some(first) => first.to_ascii_uppercase().to_string() + c.as_str(),
        None => String::new(),
    }
}

/// `roles/identity.yaml`.
pub(crate) fn identity_yaml() -> String {
    "# Identity schema of the generated organisation (entitle gen).\n\
     #\n\
     # People come from the HR feed; service accounts and AI agents from the\n\
     # NHI inventory, each with an owner whose lifecycle their access follows.\n\
     version: 1\n\
     \n\
     identity:\n  kinds: [person, service_account, agent]\n  attributes:\n    \
     status:      { type: enum, values: [pre_hire, active, leave, terminated], required: true }\n    \
     department:  { type: string }\n    \
     job_code:    { type: string }     # DEPT-BFN: band digit, family digit, 0 (ENG-210)\n    \
     cost_center: { type: string }     # the team, CC-DEPT-NNN\n    \
     location:    { type: string }\n    \
     worker_type: { type: enum, values: [employee, contractor, intern] }\n    \
     start_date:  { type: date }\n    \
     end_date:    { type: date }       # contract or internship end, or termination date\n    \
     clearance:   { type: int }        # 0 (none) .. 3 (restricted data)\n    \
     tags:        { type: set }\n    \
     environment: { type: enum, values: [dev, staging, prod], kinds: [service_account, agent] }\n    \
     purpose:     { type: string, kinds: [service_account, agent] }\n"
        .to_string()
}

/// The application files: `applications.yaml` (named systems) and
/// `applications-internal-NN.yaml` (100 internal applications each).
pub(crate) fn application_files(catalog: &Catalog) -> Vec<(String, String)> {
    let header = |what: &str| {
        format!(
            "# {what} (entitle gen). Full entitlement ids are `app:slug`;\n\
             # `privileged: true` marks administrative and production-write access.\nversion: 1\n\napplications:\n"
        )
    };
    let mut files = vec![("applications.yaml".to_string(), header("Named systems of the catalog"))];
    for (i, app) in catalog.apps.iter().enumerate() {
        if app.internal {
            let internal_position = i - catalog.apps.iter().filter(|a| !a.internal).count();
            let file = format!("applications-internal-{:02}.yaml", internal_position / 100 + 1);
            if files.last().is_none_or(|(name, _)| *name != file) {
                files.push((file, header("Internal applications")));
            }
        }
        let Some((_, out)) = files.last_mut() else { continue };
        out.push_str(&format!(
            "  - id: {}\n    name: {}\n    owner: {}\n    entitlements:\n",
            app.id,
            scalar(&app.name),
            app.owner
        ));
        for e in &app.ents {
            let ent = &catalog.ents[*e];
            let slug = ent.id.split_once(':').map_or(ent.id.as_str(), |(_, s)| s);
            let mut fields = vec![("id".to_string(), Y::s(slug)), ("name".to_string(), Y::s(&ent.name))];
            if ent.privileged {
                fields.push(("privileged".to_string(), Y::Raw("true".into())));
            }
            out.push_str("      - ");
            Y::Map(fields).write(out);
            out.push('\n');
        }
    }
    files
}
