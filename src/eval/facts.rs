//! Identity facts: an [`IdentityState`] (and its owner's) turned once per
//! evaluation into compact values indexed by attribute id — enum values as
//! their catalog index, strings and sets borrowed, dates as milliseconds —
//! plus the identity's kind and the roles its valid assignments put it in.
//!
//! Everything the engine asks of an identity (role conditions, the role
//! index, native guardrails) reads these facts; nothing here decides a verdict.

use std::cell::OnceCell;
use std::sync::Arc;

use crate::catalog::{AttributeId, Catalog, DenseId, KindId, RoleId, ValueId};
use crate::state::{AssignmentStatus, AttrValue, IdentityState};
use crate::time::Instant;

/// One attribute's value, compact.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact<'a> {
    /// The record does not carry it.
    Absent,
    /// A string attribute.
    Str(&'a str),
    /// An enum attribute: the value's catalog index.
    Enum(ValueId),
    /// An int attribute.
    Int(i64),
    /// A bool attribute.
    Bool(bool),
    /// A date attribute (ms since the epoch, as Cedar's `datetime`).
    Date(i64),
    /// A set attribute (members sorted, each once).
    Set(&'a [Arc<str>]),
}

/// The facts of one identity record (the identity itself, or its owner).
#[derive(Debug, Clone)]
pub struct SubjectFacts<'a> {
    /// The record.
    pub state: &'a IdentityState,
    /// Its kind (`None` only for a kind the schema does not declare, which a valid record cannot have).
    pub kind: Option<KindId>,
    values: Vec<Fact<'a>>,
    roles: OnceCell<Vec<RoleId>>,
}

impl<'a> SubjectFacts<'a> {
    fn new(catalog: &Catalog, state: &'a IdentityState) -> SubjectFacts<'a> {
        let mut values = vec![Fact::Absent; catalog.attributes.len()];
        // Both sides are sorted by name: one merge walk, no hashing.
        let mut names = catalog.attributes.iter().peekable();
        for (name, value) in state.attributes.iter() {
            while names.next_if(|(_, n)| *n < name).is_some() {}
            let Some((id, _)) = names.next_if(|(_, n)| *n == name) else {
                continue;
            };
            values[id.index()] = match value {
                AttrValue::Str(s) => match &catalog.attribute(id).values {
                    Some(enum_values) => enum_values.id(s).map_or(Fact::Str(s), Fact::Enum),
                    None => Fact::Str(s),
                },
                AttrValue::Int(n) => Fact::Int(*n),
                AttrValue::Bool(b) => Fact::Bool(*b),
                AttrValue::Date(t) => Fact::Date(t.0),
                AttrValue::Set(items) => Fact::Set(items),
            };
        }
        SubjectFacts {
            state,
            kind: catalog.kinds.id(&state.kind),
            values,
            roles: OnceCell::new(),
        }
    }

    /// The value of an attribute.
    pub fn get(&self, attribute: AttributeId) -> Fact<'a> {
        self.values.get(attribute.index()).copied().unwrap_or(Fact::Absent)
    }

    /// The roles the record is a member of at `at` (Cedar `in`): those of its
    /// valid assignments and every role they extend, sorted. Computed once.
    pub fn memberships(&self, catalog: &Catalog, at: Instant) -> &[RoleId] {
        self.roles.get_or_init(|| {
            let mut roles = Vec::new();
            for a in &self.state.assignments {
                let Some(role) = catalog.roles.id(&a.role) else { continue };
                let info = catalog.role(role);
                if info.assignable && a.status(at, info.max_duration) == AssignmentStatus::Active {
                    roles.push(role);
                    roles.extend_from_slice(&info.ancestors);
                }
            }
            roles.sort_unstable();
            roles.dedup();
            roles
        })
    }

    /// Is the record a member of `role` at `at` (Cedar `principal in Role::"r"`)?
    pub fn is_member(&self, catalog: &Catalog, at: Instant, role: RoleId) -> bool {
        self.memberships(catalog, at).binary_search(&role).is_ok()
    }

    /// The record's own value of an attribute (for showing what was seen).
    pub fn raw(&self, catalog: &Catalog, attribute: AttributeId) -> Option<&'a AttrValue> {
        self.state.attributes.get(catalog.attributes.name(attribute))
    }
}

/// Everything an evaluation reads of an identity at an instant.
#[derive(Debug, Clone)]
pub struct Facts<'a> {
    /// The identity.
    pub identity: SubjectFacts<'a>,
    /// Its owner, when it has one and the record is known.
    pub owner: Option<SubjectFacts<'a>>,
    /// The instant of evaluation.
    pub at: Instant,
}

impl<'a> Facts<'a> {
    /// The facts of `identity` (and `owner`) at `at`.
    pub fn new(catalog: &Catalog, identity: &'a IdentityState, owner: Option<&'a IdentityState>, at: Instant) -> Facts<'a> {
        Facts {
            identity: SubjectFacts::new(catalog, identity),
            owner: owner.map(|o| SubjectFacts::new(catalog, o)),
            at,
        }
    }
}
