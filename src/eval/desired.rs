//! The desired state of one identity, in numbered form: sorted role and
//! entitlement ids, each entitlement with references into the catalog's
//! shared, prepared justifications, and the forbidden entitlements with the
//! forbidding guardrails' ids.
//!
//! Nothing here copies a string while evaluating; readable ids and rendered
//! [`Justification`]s are produced by the accessors and by `Serialize`, only
//! for what is output or asked for. Every evaluator returns this type, so
//! `engine.desired(..) == oracle.desired(..)` compares whole answers.

use std::fmt;
use std::sync::Arc;

use serde::ser::{SerializeMap, SerializeStruct};
use serde::{Serialize, Serializer};

use crate::catalog::{Catalog, EntitlementId, GuardrailId, JustificationId, RoleId};

use super::Justification;

/// The desired state of one identity: its roles, its entitlements with every
/// justification, and what guardrails forbid it.
///
/// Lists are sorted (ids follow the catalog's string order, so the readable
/// forms come out sorted too). `Serialize` writes the `eval --explain` JSON
/// shape of spec §7; [`DesiredSet::summary`] the shape without `because`.
///
/// ```
/// # use std::sync::Arc;
/// # use entitle::eval::{Engine, Evaluator};
/// # use entitle::model::SourceFile;
/// # use entitle::project::{Project, Sources};
/// # use entitle::state::IdentityState;
/// # let roles = "identity:\n  attributes:\n    status: { type: enum, values: [active, terminated], required: true }\napplications:\n  - id: slack\n    entitlements: [{ id: member }]\nroles:\n  - id: employee\n    when: { status: active }\n    grants: [slack:member]\n";
/// # let sources = Sources { roles: vec![SourceFile { name: "roles/org.yaml".into(), text: roles.into() }], policies: vec![] };
/// # let project = Arc::new(Project::from_sources(&sources).unwrap());
/// let engine = Engine::new(project.clone()).unwrap();
/// let record = serde_json::json!({"id": "u-1", "kind": "person", "attributes": {"status": "active"}});
/// let identity = IdentityState::from_json(&record, &project.defs).unwrap();
/// let desired = engine.desired(&identity, None, entitle::Instant::parse("2026-11-21").unwrap()).unwrap();
///
/// assert_eq!(desired.roles().collect::<Vec<_>>(), ["employee"]);
/// assert!(desired.holds("slack:member"));
/// assert_eq!(desired.justifications("slack:member").unwrap()[0].policy, "role:employee");
/// assert_eq!(desired.forbidden().count(), 0);
/// ```
#[derive(Clone)]
pub struct DesiredSet {
    catalog: Arc<Catalog>,
    identity: String,
    roles: Vec<RoleId>,
    entitlements: Vec<EntitlementId>,
    /// Where each entitlement's justifications end in `because` (they start where the previous end).
    because_end: Vec<u32>,
    because: Vec<JustificationId>,
    forbidden: Vec<(EntitlementId, Box<[GuardrailId]>)>,
}

impl DesiredSet {
    /// An empty desired set of `identity` (no role, nothing desired or forbidden).
    pub fn empty(catalog: Arc<Catalog>, identity: impl Into<String>) -> DesiredSet {
        DesiredSet {
            catalog,
            identity: identity.into(),
            roles: Vec::new(),
            entitlements: Vec::new(),
            because_end: Vec::new(),
            because: Vec::new(),
            forbidden: Vec::new(),
        }
    }

    /// An empty desired set with room for `entitlements` entitlements and `justifications` justifications.
    pub(crate) fn with_capacity(catalog: Arc<Catalog>, identity: String, entitlements: usize, justifications: usize) -> DesiredSet {
        DesiredSet {
            catalog,
            identity,
            roles: Vec::new(),
            entitlements: Vec::with_capacity(entitlements),
            because_end: Vec::with_capacity(entitlements),
            because: Vec::with_capacity(justifications),
            forbidden: Vec::new(),
        }
    }

    /// Sets the roles held (sorted, no duplicates).
    pub(crate) fn set_roles(&mut self, roles: Vec<RoleId>) {
        debug_assert!(roles.windows(2).all(|w| w[0] < w[1]));
        self.roles = roles;
    }

    /// Adds a desired entitlement, after every one already added, with its justifications (sorted).
    pub(crate) fn push_entitlement(&mut self, entitlement: EntitlementId, because: impl IntoIterator<Item = JustificationId>) {
        debug_assert!(self.entitlements.last().is_none_or(|last| *last < entitlement));
        self.entitlements.push(entitlement);
        self.because.extend(because);
        self.because_end.push(self.because.len() as u32);
    }

    /// Adds a forbidden entitlement, after every one already added, with the forbidding guardrails (sorted).
    pub(crate) fn push_forbidden(&mut self, entitlement: EntitlementId, by: impl IntoIterator<Item = GuardrailId>) {
        debug_assert!(self.forbidden.last().is_none_or(|(last, _)| *last < entitlement));
        self.forbidden.push((entitlement, by.into_iter().collect()));
    }

    /// The catalog the ids refer to.
    pub fn catalog(&self) -> &Arc<Catalog> {
        &self.catalog
    }

    /// The identity id.
    pub fn identity(&self) -> &str {
        &self.identity
    }

    /// The roles held (conditions met; for assignable roles, a valid assignment too), sorted.
    pub fn roles(&self) -> impl ExactSizeIterator<Item = &str> + DoubleEndedIterator + '_ {
        self.roles.iter().map(|r| self.catalog.roles.name(*r))
    }

    /// The roles held, as catalog ids (sorted).
    pub fn role_ids(&self) -> &[RoleId] {
        &self.roles
    }

    /// Does the identity hold `role`?
    pub fn holds_role(&self, role: &str) -> bool {
        self.catalog.roles.id(role).is_some_and(|r| self.roles.binary_search(&r).is_ok())
    }

    /// The desired entitlements, sorted.
    pub fn entitlements(&self) -> impl ExactSizeIterator<Item = &str> + DoubleEndedIterator + '_ {
        self.entitlements.iter().map(|e| self.catalog.entitlements.name(*e))
    }

    /// The desired entitlements, as catalog ids (sorted).
    pub fn entitlement_ids(&self) -> &[EntitlementId] {
        &self.entitlements
    }

    /// How many entitlements are desired.
    pub fn len(&self) -> usize {
        self.entitlements.len()
    }

    /// Is nothing desired?
    pub fn is_empty(&self) -> bool {
        self.entitlements.is_empty()
    }

    /// Is `entitlement` desired?
    pub fn holds(&self, entitlement: &str) -> bool {
        self.position(entitlement).is_some()
    }

    /// Is the entitlement with this id desired?
    pub fn holds_id(&self, entitlement: EntitlementId) -> bool {
        self.entitlements.binary_search(&entitlement).is_ok()
    }

    fn position(&self, entitlement: &str) -> Option<usize> {
        let id = self.catalog.entitlements.id(entitlement)?;
        self.entitlements.binary_search(&id).ok()
    }

    fn because_at(&self, position: usize) -> &[JustificationId] {
        let start = if position == 0 {
            0
        } else {
            self.because_end[position - 1] as usize
        };
        &self.because[start..self.because_end[position] as usize]
    }

    /// Every justification of a desired entitlement, rendered and sorted; `None` when it is not desired.
    pub fn justifications(&self, entitlement: &str) -> Option<Vec<Justification>> {
        self.position(entitlement).map(|i| self.render(self.because_at(i)))
    }

    /// The justifications of a desired entitlement as ids into the catalog's table.
    pub fn justification_ids(&self, entitlement: EntitlementId) -> Option<&[JustificationId]> {
        self.entitlements.binary_search(&entitlement).ok().map(|i| self.because_at(i))
    }

    /// Each desired entitlement with its rendered justifications, sorted by entitlement.
    pub fn because(&self) -> impl ExactSizeIterator<Item = (&str, Vec<Justification>)> + '_ {
        self.entitlements
            .iter()
            .enumerate()
            .map(|(i, e)| (self.catalog.entitlements.name(*e), self.render(self.because_at(i))))
    }

    fn render(&self, ids: &[JustificationId]) -> Vec<Justification> {
        ids.iter().map(|j| self.catalog.justification(*j)).collect()
    }

    /// Entitlements some policy permits but a guardrail forbids, each with
    /// the forbidding guardrails' ids (both sorted).
    pub fn forbidden(&self) -> impl ExactSizeIterator<Item = (&str, Vec<&str>)> + '_ {
        self.forbidden.iter().map(|(e, by)| {
            (
                self.catalog.entitlements.name(*e),
                by.iter().map(|g| self.catalog.guardrails.name(*g)).collect(),
            )
        })
    }

    /// The guardrails that forbid `entitlement` (sorted), when some policy permits it and they forbid it.
    pub fn forbidden_by(&self, entitlement: &str) -> Option<Vec<&str>> {
        let id = self.catalog.entitlements.id(entitlement)?;
        let i = self.forbidden.binary_search_by_key(&id, |(e, _)| *e).ok()?;
        Some(self.forbidden[i].1.iter().map(|g| self.catalog.guardrails.name(*g)).collect())
    }

    /// The forbidden entitlements as ids, each with the forbidding guardrails.
    pub fn forbidden_ids(&self) -> &[(EntitlementId, Box<[GuardrailId]>)] {
        &self.forbidden
    }

    /// The `eval` JSON shape without `because` and `forbidden` (spec §7, no `--explain`).
    pub fn summary(&self) -> DesiredSummary<'_> {
        DesiredSummary(self)
    }
}

impl PartialEq for DesiredSet {
    fn eq(&self, other: &DesiredSet) -> bool {
        if !Arc::ptr_eq(&self.catalog, &other.catalog) {
            // Different catalogs number differently: compare what they say.
            return self.identity == other.identity
                && self.roles().eq(other.roles())
                && self.because().eq(other.because())
                && self.forbidden().eq(other.forbidden());
        }
        self.identity == other.identity
            && self.roles == other.roles
            && self.entitlements == other.entitlements
            && self.because_end == other.because_end
            && self.because == other.because
            && self.forbidden == other.forbidden
    }
}

impl Eq for DesiredSet {}

/// Readable ids, not numbers.
impl fmt::Debug for DesiredSet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        struct Map<I>(std::cell::Cell<Option<I>>);
        impl<K: fmt::Debug, V: fmt::Debug, I: Iterator<Item = (K, V)>> fmt::Debug for Map<I> {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.debug_map().entries(self.0.take().into_iter().flatten()).finish()
            }
        }
        f.debug_struct("DesiredSet")
            .field("identity", &self.identity)
            .field("roles", &self.roles().collect::<Vec<_>>())
            .field("entitlements", &Map(std::cell::Cell::new(Some(self.because()))))
            .field("forbidden", &Map(std::cell::Cell::new(Some(self.forbidden()))))
            .finish()
    }
}

/// The rendered justifications of every desired entitlement, as a JSON map.
struct Because<'a>(&'a DesiredSet);

impl Serialize for Because<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (i, e) in self.0.entitlements.iter().enumerate() {
            map.serialize_entry(self.0.catalog.entitlements.name(*e), &self.0.render(self.0.because_at(i)))?;
        }
        map.end()
    }
}

struct Forbidden<'a>(&'a DesiredSet);

impl Serialize for Forbidden<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.forbidden())
    }
}

struct Names<I>(std::cell::Cell<Option<I>>);

impl<'a, I: Iterator<Item = &'a str>> Serialize for Names<I> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.0.take().into_iter().flatten())
    }
}

fn names<'a, I: Iterator<Item = &'a str>>(items: I) -> Names<I> {
    Names(std::cell::Cell::new(Some(items)))
}

/// `{"identity", "valid": true, "roles", "entitlements", "because", "forbidden"}`:
/// the `eval --explain` JSON line of spec §7 (`forbidden` only when something is).
impl Serialize for DesiredSet {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let forbidden = !self.forbidden.is_empty();
        let mut out = s.serialize_struct("DesiredSet", 5 + usize::from(forbidden))?;
        out.serialize_field("identity", &self.identity)?;
        out.serialize_field("valid", &true)?;
        out.serialize_field("roles", &names(self.roles()))?;
        out.serialize_field("entitlements", &names(self.entitlements()))?;
        out.serialize_field("because", &Because(self))?;
        if forbidden {
            out.serialize_field("forbidden", &Forbidden(self))?;
        }
        out.end()
    }
}

/// A desired set serialized without its justifications: `{"identity", "valid": true, "roles", "entitlements"}`.
#[derive(Debug, Clone, Copy)]
pub struct DesiredSummary<'a>(&'a DesiredSet);

impl Serialize for DesiredSummary<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut out = s.serialize_struct("DesiredSet", 4)?;
        out.serialize_field("identity", &self.0.identity)?;
        out.serialize_field("valid", &true)?;
        out.serialize_field("roles", &names(self.0.roles()))?;
        out.serialize_field("entitlements", &names(self.0.entitlements()))?;
        out.end()
    }
}
