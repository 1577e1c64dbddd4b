//! Identity states as Cedar entities, and Cedar requests at an instant.
//!
//! Shared by the oracle and the engine so both hand Cedar exactly the same
//! facts: the identity (its `kind`, `owner`, declared attributes, and the
//! roles of its assignments valid at the instant, with their ancestors) and,
//! where it has one and the record is known, its owner.

use std::cell::RefCell;
use std::collections::{BTreeSet, HashMap, HashSet};
use std::str::FromStr;

use cedar_policy::{Authorizer, Context, Decision, Entities, Entity, EntityUid, Request, RestrictedExpression};

use crate::catalog::Catalog;
use crate::compile::{uid, EntityType};
use crate::model::Definitions;
use crate::project::Project;
use crate::state::{AssignmentStatus, AttrValue, IdentityState};
use crate::time::Instant;

use super::condition::{EscapeHatches, ExprError, HatchId, Tri};
use super::facts::Facts;
use super::EvalError;

/// The `hold` action.
pub fn hold_action() -> EntityUid {
    static HOLD: std::sync::LazyLock<EntityUid> = std::sync::LazyLock::new(|| {
        #[expect(clippy::expect_used, reason = "a fixed, valid entity uid literal")]
        EntityUid::from_str(r#"Action::"hold""#).expect("valid uid")
    });
    HOLD.clone()
}

/// The roles an identity's assignments put it in at `at`: valid assignments only.
pub fn assigned_roles(defs: &Definitions, identity: &IdentityState, at: Instant) -> BTreeSet<String> {
    identity
        .assignments
        .iter()
        .filter(|a| {
            defs.roles
                .get(&a.role)
                .is_some_and(|r| r.assignable && a.status(at, r.max_duration) == AssignmentStatus::Active)
        })
        .map(|a| a.role.clone())
        .collect()
}

fn value_expr(v: &AttrValue) -> RestrictedExpression {
    match v {
        AttrValue::Str(s) => RestrictedExpression::new_string(s.to_string()),
        AttrValue::Int(n) => RestrictedExpression::new_long(*n),
        AttrValue::Bool(b) => RestrictedExpression::new_bool(*b),
        AttrValue::Date(t) => datetime_expr(*t),
        AttrValue::Set(items) => RestrictedExpression::new_set(items.iter().map(|s| RestrictedExpression::new_string(s.to_string()))),
    }
}

/// The Cedar entity of an identity at `at`. Its parents are the roles of its
/// valid assignments; the role hierarchy comes from the static entities.
///
/// `owner_known` says whether the owner's record is part of the request. An
/// owner that is not (absent from the feed) is left out of `owner` altogether:
/// in Cedar the identity then has no owner, so `principal has owner` is false
/// and no policy can trip over a reference to a missing entity — the unknown
/// owner counts as no owner, as spec §2 says of `owner.<attr>`.
pub fn identity_entity(defs: &Definitions, identity: &IdentityState, at: Instant, owner_known: bool) -> Result<Entity, EvalError> {
    let mut attrs: HashMap<String, RestrictedExpression> =
        identity.attributes.iter().map(|(k, v)| (k.to_string(), value_expr(v))).collect();
    attrs.insert("kind".into(), RestrictedExpression::new_string(identity.kind.to_string()));
    if let Some(owner) = identity.owner.as_ref().filter(|_| owner_known) {
        attrs.insert(
            "owner".into(),
            RestrictedExpression::new_entity_uid(uid(EntityType::Identity, owner)),
        );
    }
    let parents: HashSet<EntityUid> = assigned_roles(defs, identity, at)
        .iter()
        .map(|r| uid(EntityType::Role, r))
        .collect();
    Entity::new(uid(EntityType::Identity, &identity.id), attrs, parents)
        .map_err(|e| EvalError::Cedar(format!("identity `{}`: {e}", identity.id)))
}

/// Most datetime expressions and contexts kept per thread before the caches start over.
const CACHE_LIMIT: usize = 65_536;

thread_local! {
    static DATETIMES: RefCell<HashMap<Instant, RestrictedExpression>> = RefCell::new(HashMap::new());
    static CONTEXTS: RefCell<HashMap<Instant, Context>> = RefCell::new(HashMap::new());
}

/// Cedar's `datetime(...)` for an instant. Cedar parses the extension's name on
/// every construction, which dominated evaluation time; HR dates repeat a lot,
/// so each thread keeps the expressions it built (bounded).
fn datetime_expr(t: Instant) -> RestrictedExpression {
    DATETIMES.with(|cache| {
        let mut cache = cache.borrow_mut();
        if let Some(e) = cache.get(&t) {
            return e.clone();
        }
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        let e = RestrictedExpression::new_datetime(t.to_cedar());
        cache.insert(t, e.clone());
        e
    })
}

/// The context `{ now: datetime }` (cached per thread, like [`datetime_expr`]).
pub fn context_at(at: Instant) -> Result<Context, EvalError> {
    CONTEXTS.with(|cache| {
        if let Some(c) = cache.borrow().get(&at) {
            return Ok(c.clone());
        }
        let context = Context::from_pairs([("now".to_string(), datetime_expr(at))]).map_err(|e| EvalError::Cedar(e.to_string()))?;
        let mut cache = cache.borrow_mut();
        if cache.len() >= CACHE_LIMIT {
            cache.clear();
        }
        cache.insert(at, context.clone());
        Ok(context)
    })
}

/// The request "may `principal` hold `entitlement`".
pub fn hold_request(principal: &str, entitlement: &str, context: Context) -> Result<Request, EvalError> {
    Request::new(
        uid(EntityType::Identity, principal),
        hold_action(),
        uid(EntityType::Entitlement, entitlement),
        context,
        None,
    )
    .map_err(|e| EvalError::Cedar(e.to_string()))
}

/// A catalog entitlement as the static store holds it (its application and
/// `privileged`), its parents flattened to every ancestor: its application
/// and every package that holds it, however deep.
pub fn entitlement_entity(project: &Project, id: &str) -> Result<Entity, EvalError> {
    let e = project
        .defs
        .entitlements
        .get(id)
        .ok_or_else(|| EvalError::Cedar(format!("`{id}` is not in the catalog")))?;
    let mut parents: HashSet<EntityUid> = HashSet::from([uid(EntityType::Application, &e.application)]);
    parents.extend(
        project
            .graph
            .entitlement_packages
            .get(id)
            .into_iter()
            .flatten()
            .map(|p| uid(EntityType::Package, p)),
    );
    let attrs = HashMap::from([
        (
            "application".to_string(),
            RestrictedExpression::new_entity_uid(uid(EntityType::Application, &e.application)),
        ),
        ("privileged".to_string(), RestrictedExpression::new_bool(e.privileged)),
    ]);
    Entity::new(uid(EntityType::Entitlement, id), attrs, parents).map_err(|e| EvalError::Cedar(e.to_string()))
}

/// The oracle's store: the static entities plus the identity and, when known, its owner.
pub fn full_store(project: &Project, identity: &IdentityState, owner: Option<&IdentityState>, at: Instant) -> Result<Entities, EvalError> {
    let defs = &project.defs;
    let mut extra = vec![identity_entity(defs, identity, at, owner.is_some())?];
    if let Some(o) = owner {
        extra.push(identity_entity(defs, o, at, false)?);
    }
    project
        .compiled
        .entities()
        .map_err(|e| EvalError::Cedar(e.0))?
        .clone()
        .add_entities(extra, None)
        .map_err(|e| EvalError::Cedar(format!("identity `{}`: {e}", identity.id)))
}

/// Answers `cedar:` escape hatches for one identity at an instant: natively
/// when the hatch has a native form, otherwise asking Cedar with a store
/// built on first use. An error in the expression is the condition's error,
/// as in Cedar; a store or request Cedar refuses is entitle's failure, kept
/// in `failure` (evaluation must then fail, as the oracle would).
pub struct CedarHatches<'a> {
    hatches: &'a EscapeHatches,
    catalog: &'a Catalog,
    facts: &'a Facts<'a>,
    build: &'a dyn Fn() -> Result<Entities, EvalError>,
    identity: &'a str,
    at: Instant,
    store: Option<Entities>,
    /// Set when Cedar refused what entitle built.
    pub failure: Option<EvalError>,
}

impl<'a> CedarHatches<'a> {
    /// Answers for the identity of `facts`; `build` makes the entity store when first needed.
    pub fn new(
        hatches: &'a EscapeHatches,
        catalog: &'a Catalog,
        facts: &'a Facts<'a>,
        build: &'a dyn Fn() -> Result<Entities, EvalError>,
    ) -> Self {
        CedarHatches {
            hatches,
            catalog,
            facts,
            build,
            identity: &facts.identity.state.id,
            at: facts.at,
            store: None,
            failure: None,
        }
    }

    /// Does escape hatch `id` hold?
    pub fn answer(&mut self, id: HatchId) -> Tri {
        if let Some(native) = self.hatches.native(id) {
            // Escape hatches are asked with a probe resource outside the catalog.
            return native.eval(self.catalog, self.facts, None);
        }
        let set = self.hatches.policy_set(id).ok_or(ExprError)?;
        let entities = match &self.store {
            Some(s) => s,
            None => match (self.build)() {
                Ok(s) => self.store.insert(s),
                Err(e) => {
                    self.failure = Some(e);
                    return Err(ExprError);
                }
            },
        };
        let request = match context_at(self.at).and_then(|c| hold_request(self.identity, "entitle:probe", c)) {
            Ok(r) => r,
            Err(e) => {
                self.failure = Some(e);
                return Err(ExprError);
            }
        };
        let response = Authorizer::new().is_authorized(&request, set, entities);
        if response.diagnostics().errors().next().is_some() {
            return Err(ExprError);
        }
        Ok(response.decision() == Decision::Allow)
    }
}
