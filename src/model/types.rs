//! The typed definitions: what the YAML under `roles/` means once read.
//!
//! Every definition keeps the [`Location`] it came from, so later stages
//! (graph, compiler, lints, explanations) can point back at the YAML line.

use std::collections::BTreeMap;

use crate::diag::Location;
use crate::time::{Duration, Instant};

/// The kinds an identity schema declares when it names none.
pub const DEFAULT_KINDS: [&str; 3] = ["person", "service_account", "agent"];

/// The declared shape of an identity.
#[derive(Debug, Clone, PartialEq)]
pub struct IdentitySchema {
    /// The identity kinds (`person`, `service_account`, `agent`, ...).
    pub kinds: Vec<String>,
    /// The declared attributes, by name.
    pub attributes: BTreeMap<String, AttributeDef>,
    /// Where the `identity:` key is.
    pub source: Location,
}

impl IdentitySchema {
    /// The schema entitle assumes when definitions declare none (used only after an error).
    pub fn empty(source: Location) -> Self {
        IdentitySchema {
            kinds: DEFAULT_KINDS.iter().map(|k| k.to_string()).collect(),
            attributes: BTreeMap::new(),
            source,
        }
    }
}

/// One declared identity attribute.
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeDef {
    /// The attribute name.
    pub name: String,
    /// Its type.
    pub ty: AttrType,
    /// Must every identity of an allowed kind carry it?
    pub required: bool,
    /// The kinds that may carry it; `None` for all kinds.
    pub kinds: Option<Vec<String>>,
    /// Where it is declared.
    pub source: Location,
}

impl AttributeDef {
    /// May an identity of `kind` carry this attribute?
    pub fn applies_to(&self, kind: &str) -> bool {
        self.kinds.as_ref().is_none_or(|kinds| kinds.iter().any(|k| k == kind))
    }
}

/// The type of an identity attribute.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttrType {
    /// Free text.
    String,
    /// One of a closed list of words.
    Enum(Vec<String>),
    /// A whole number.
    Int,
    /// true or false.
    Bool,
    /// A date or instant (Cedar `datetime`).
    Date,
    /// A set of strings.
    Set,
}

impl AttrType {
    /// The type's name as written in YAML.
    pub fn name(&self) -> &'static str {
        match self {
            AttrType::String => "string",
            AttrType::Enum(_) => "enum",
            AttrType::Int => "int",
            AttrType::Bool => "bool",
            AttrType::Date => "date",
            AttrType::Set => "set",
        }
    }
}

/// An application and its catalog of entitlements.
#[derive(Debug, Clone, PartialEq)]
pub struct Application {
    /// The application id (`github`).
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// The identity accountable for the application.
    pub owner: Option<String>,
    /// Where it is defined.
    pub source: Location,
}

/// One catalog entitlement.
#[derive(Debug, Clone, PartialEq)]
pub struct Entitlement {
    /// The full id, `app:slug`.
    pub id: String,
    /// The application id.
    pub application: String,
    /// Display name.
    pub name: Option<String>,
    /// Privileged access (admin, owner, production write).
    pub privileged: bool,
    /// Where it is defined.
    pub source: Location,
}

/// A reference from a grant list to a package or an entitlement.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum GrantRef {
    /// A package id.
    Package(String),
    /// A full entitlement id.
    Entitlement(String),
}

impl GrantRef {
    /// The referenced id.
    pub fn id(&self) -> &str {
        match self {
            GrantRef::Package(id) | GrantRef::Entitlement(id) => id,
        }
    }
}

/// A bundle of entitlements and nested packages.
#[derive(Debug, Clone, PartialEq)]
pub struct Package {
    /// The package id.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// Full entitlement ids it contains directly.
    pub entitlements: Vec<String>,
    /// Package ids nested in it.
    pub packages: Vec<String>,
    /// Where it is defined.
    pub source: Location,
}

/// A role: who (the condition) gets what (the grants).
#[derive(Debug, Clone, PartialEq)]
pub struct Role {
    /// The role id.
    pub id: String,
    /// Display name.
    pub name: Option<String>,
    /// What it is for.
    pub description: Option<String>,
    /// The identity kinds it applies to.
    pub kinds: Vec<String>,
    /// Roles whose grants it inherits.
    pub extends: Vec<String>,
    /// Held only through an assignment.
    pub assignable: bool,
    /// Who qualifies (for an assignable role: who stays eligible).
    pub when: Condition,
    /// The longest assignment allowed.
    pub max_duration: Option<Duration>,
    /// What it grants directly.
    pub grants: Vec<GrantRef>,
    /// Where it is defined.
    pub source: Location,
}

/// A toxic combination nobody may hold.
#[derive(Debug, Clone, PartialEq)]
pub struct SodRule {
    /// The rule id.
    pub id: String,
    /// What it prevents.
    pub description: Option<String>,
    /// Two or more sides; each a list of entitlement or package references.
    pub sides: Vec<Vec<GrantRef>>,
    /// How bad a violation is.
    pub severity: SodSeverity,
    /// Where it is defined.
    pub source: Location,
}

/// The severity of an SoD rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SodSeverity {
    /// Low.
    Low,
    /// Medium (the default).
    Medium,
    /// High.
    High,
}

/// A property that must hold for every identity state matching `for`.
#[derive(Debug, Clone, PartialEq)]
pub struct Invariant {
    /// The invariant id.
    pub id: String,
    /// The identities it speaks of.
    pub subject: Condition,
    /// What they may hold.
    pub rule: InvariantRule,
    /// Where it is defined.
    pub source: Location,
}

/// What an invariant requires of the identities it covers.
#[derive(Debug, Clone, PartialEq)]
pub enum InvariantRule {
    /// `holds: nothing`.
    HoldsNothing,
    /// `never: { privileged: true }` and friends (`never: [ids]` is short for
    /// `never: { entitlements: [ids] }`): no entitlement matching the filter.
    Never(EntitlementFilter),
    /// `only: [ids]`: nothing outside these entitlements and packages.
    Only(Vec<GrantRef>),
}

/// A filter over catalog entitlements: an entitlement matches when it
/// matches every field given (an empty filter matches every entitlement).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct EntitlementFilter {
    /// Match on `privileged`.
    pub privileged: Option<bool>,
    /// Match on the application id.
    pub application: Option<String>,
    /// Match on these entitlement or package references.
    pub entitlements: Vec<GrantRef>,
}

/// Whose attribute a condition reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Subject {
    /// The identity itself.
    Identity,
    /// The identity's owner (false when it has none or the owner is unknown).
    Owner,
}

/// A literal in a condition, already checked against the attribute's type.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Literal {
    /// A string (also enum values and set members).
    Str(String),
    /// An integer.
    Int(i64),
    /// A boolean.
    Bool(bool),
    /// An instant (dates are their midnight UTC).
    Date(Instant),
    /// The instant of evaluation (`context.now`).
    Now,
}

/// A comparison operator for ints and dates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CmpOp {
    /// `>` (`gt`, `after`)
    Gt,
    /// `>=` (`gte`)
    Gte,
    /// `<` (`lt`, `before`)
    Lt,
    /// `<=` (`lte`)
    Lte,
}

/// What a condition asks of one attribute.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum AttrTest {
    /// `attr: value` (contains, for a set).
    Eq(Literal),
    /// `{ in: [...] }` (any member, for a set).
    In(Vec<Literal>),
    /// `{ not_in: [...] }` (no member, for a set).
    NotIn(Vec<Literal>),
    /// `{ not: v }` (does not contain, for a set).
    Not(Literal),
    /// `{ exists: bool }`.
    Exists(bool),
    /// `{ matches: "FIN-*" }`, `*` the only wildcard.
    Matches(String),
    /// `{ contains: v }` on a set.
    Contains(Literal),
    /// `gt`/`gte`/`lt`/`lte`/`before`/`after`.
    Cmp(CmpOp, Literal),
}

/// A condition over an identity state (`when`, `for`).
#[derive(Debug, Clone, PartialEq)]
pub enum Condition {
    /// Every one holds (an empty list holds).
    All(Vec<Condition>),
    /// At least one holds (an empty list does not).
    Any(Vec<Condition>),
    /// It does not hold.
    Not(Box<Condition>),
    /// The subject's kind is one of these.
    Kind {
        /// Whose kind.
        subject: Subject,
        /// The kinds that satisfy it.
        kinds: Vec<String>,
        /// Where it is written.
        source: Location,
    },
    /// A test of one attribute.
    Attr {
        /// Whose attribute.
        subject: Subject,
        /// The attribute name.
        attr: String,
        /// The attribute's declared type.
        ty: AttrType,
        /// The test.
        test: AttrTest,
        /// Where it is written.
        source: Location,
    },
    /// A Cedar expression over `principal` and `context`.
    Cedar {
        /// The expression as written.
        expr: String,
        /// Where it is written.
        source: Location,
    },
}

impl Condition {
    /// The condition that always holds.
    pub fn always() -> Self {
        Condition::All(Vec::new())
    }
}

/// An approved exception: one identity may hold one entitlement (or every
/// entitlement of one package) until `expires`, outside what roles grant.
///
/// It compiles to a Cedar permit for exactly that principal and resource,
/// bounded by `context.now < expires`, so guardrails (forbids) still win and
/// the oracle stays the definition (docs/governance.md).
#[derive(Debug, Clone, PartialEq)]
pub struct Exception {
    /// The exception id (`EXC-2026-014`).
    pub id: String,
    /// The identity it applies to (an id of the identity feed).
    pub identity: String,
    /// What it allows: one entitlement, or a package.
    pub grants: GrantRef,
    /// Why it was approved.
    pub reason: String,
    /// Who approved it (an identity id or a name).
    pub approved_by: String,
    /// The ticket that records the approval.
    pub ticket: String,
    /// When it was approved, if written (the length lint measures from it).
    pub approved_on: Option<Instant>,
    /// The first instant it no longer applies.
    pub expires: Instant,
    /// Where it is defined.
    pub source: Location,
}

/// Project-wide governance settings (`governance:`).
#[derive(Debug, Clone, PartialEq)]
pub struct Governance {
    /// The longest an exception may run (from `approved_on`, or from the
    /// instant of the run) before lint `W013` warns; 90 days by default.
    pub exception_max_duration: Duration,
    /// Where `governance:` is written, when it is.
    pub source: Option<Location>,
}

impl Governance {
    /// The default longest exception: 90 days.
    pub const DEFAULT_EXCEPTION_MAX_DURATION: Duration = Duration(90 * 86_400_000);
}

impl Default for Governance {
    fn default() -> Self {
        Governance {
            exception_max_duration: Governance::DEFAULT_EXCEPTION_MAX_DURATION,
            source: None,
        }
    }
}

/// Everything read from the definition files.
#[derive(Debug, Clone, PartialEq)]
pub struct Definitions {
    /// The identity schema.
    pub identity: IdentitySchema,
    /// Applications by id.
    pub applications: BTreeMap<String, Application>,
    /// Entitlements by full id.
    pub entitlements: BTreeMap<String, Entitlement>,
    /// Packages by id.
    pub packages: BTreeMap<String, Package>,
    /// Roles by id.
    pub roles: BTreeMap<String, Role>,
    /// SoD rules by id.
    pub sod: BTreeMap<String, SodRule>,
    /// Invariants by id.
    pub invariants: BTreeMap<String, Invariant>,
    /// Approved exceptions by id.
    pub exceptions: BTreeMap<String, Exception>,
    /// Governance settings.
    pub governance: Governance,
}
