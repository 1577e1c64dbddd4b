//! Role conditions compiled once over catalog ids, and the one walker of the
//! condition language.
//!
//! [`RoleConditions`] compiles every role's `when` at engine build: attribute
//! names become [`AttributeId`]s, enum literals their value index, kinds
//! [`KindId`]s, so evaluating reads the identity's [`Facts`] by index and
//! compares integers (strings only for free-text attributes). The semantics
//! are exactly those `compile::expr` gives the condition in Cedar: an absent
//! attribute, or an unknown owner, makes every test false (`exists: false`
//! aside), never an error; `cedar:` escape hatches are asked of Cedar, and an
//! error there is an error of the whole condition, as in Cedar.
//!
//! The walker has a trace mode ([`RoleConditions::trace`]): every entry of
//! the condition, its outcome and the value it saw, for explanations (and
//! coverage) to render. It never decides anything the plain walk would not.

use std::collections::HashMap;
use std::str::FromStr;

use cedar_policy::PolicySet;

use crate::catalog::{AttributeId, Catalog, DenseId, KindId, RoleId, ValueId};
use crate::model::{AttrTest, AttrType, CmpOp, Condition, Literal, Subject};
use crate::project::Project;
use crate::state::AttrValue;
use crate::time::Instant;

use super::facts::{Fact, Facts, SubjectFacts};
use super::native::NativePolicy;
use super::EvalError;

/// A Cedar expression failed to evaluate (an absent attribute read without
/// `has`, an overflow, ...): as in Cedar, the policy it is part of does not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the expression does not evaluate (as in Cedar, its policy does not apply)")]
pub struct ExprError;

/// A condition evaluated to true, false, or an error.
pub type Tri = Result<bool, ExprError>;

/// What a condition (or one entry of it) came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// It holds.
    Holds,
    /// It does not hold.
    Fails,
    /// Evaluating it is an error (only `cedar:` escape hatches can err).
    Error,
}

impl From<Tri> for Outcome {
    fn from(t: Tri) -> Outcome {
        match t {
            Ok(true) => Outcome::Holds,
            Ok(false) => Outcome::Fails,
            Err(ExprError) => Outcome::Error,
        }
    }
}

/// What an entry of a condition saw of the identity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen<'a> {
    /// Nothing (combinators and escape hatches).
    Nothing,
    /// The entry reads the owner, and the identity has no known owner.
    NoOwner,
    /// The subject's kind.
    Kind(&'a str),
    /// The subject's value of the attribute (`None`: absent).
    Value(Option<&'a AttrValue>),
}

/// One entry of a traced condition.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TraceEntry<'c, 'a> {
    /// The entry as written in the YAML (with its location).
    pub condition: &'c Condition,
    /// What it came to on its own (every entry is evaluated, even past a short circuit).
    pub outcome: Outcome,
    /// What it saw.
    pub seen: Seen<'a>,
}

/// A traced condition: its entries in pre-order (an `all`/`any`/`not` is
/// followed by its items), and the outcome of the whole.
#[derive(Debug, Clone, PartialEq)]
pub struct Trace<'c, 'a> {
    /// The outcome of the condition, with Cedar's short-circuit semantics.
    pub outcome: Outcome,
    /// Every entry, pre-order.
    pub entries: Vec<TraceEntry<'c, 'a>>,
}

/// An escape hatch's place in [`EscapeHatches`].
pub type HatchId = usize;

/// A literal resolved against the attribute's type.
#[derive(Debug, Clone, PartialEq)]
enum Scalar {
    Str(Box<str>),
    Enum(ValueId),
    Int(i64),
    Bool(bool),
    Date(i64),
}

/// The right-hand side of a comparison.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Bound {
    Int(i64),
    Date(i64),
    Now,
    /// A literal of another type: the comparison is false.
    Never,
}

/// A compiled attribute test.
#[derive(Debug, Clone, PartialEq)]
enum Test {
    Exists(bool),
    /// Equal to one of (a set: contains one of). `attr: v` is `In([v])`.
    In(Box<[Scalar]>),
    /// Equal to none of (a set: contains none of). `{ not: v }` is `NotIn([v])`.
    NotIn(Box<[Scalar]>),
    /// A set contains it (anything else: false).
    Contains(Scalar),
    /// A free-text value matches the glob (`*` only).
    Matches(Box<str>),
    Cmp(CmpOp, Bound),
}

/// A compiled condition; its shape is the YAML condition's, entry for entry,
/// so a trace can pair each compiled entry with the written one.
#[derive(Debug, Clone, PartialEq)]
enum Cond {
    All(Box<[Cond]>),
    Any(Box<[Cond]>),
    Not(Box<Cond>),
    Kind {
        subject: Subject,
        kinds: Box<[KindId]>,
    },
    Attr {
        subject: Subject,
        attr: Option<AttributeId>,
        test: Test,
    },
    Cedar(HatchId),
}

/// The `cedar:` escape hatches of a project, each a one-policy set that is
/// satisfied when the expression holds, and its native form when it has one
/// (`native.rs`: the same answers as Cedar, errors included).
#[derive(Debug, Clone, Default)]
pub struct EscapeHatches {
    sets: Vec<PolicySet>,
    native: Vec<Option<NativePolicy>>,
    by_text: HashMap<String, HatchId>,
}

impl EscapeHatches {
    fn intern(&mut self, expr: &str, catalog: &Catalog) -> Result<HatchId, EvalError> {
        if let Some(id) = self.by_text.get(expr) {
            return Ok(*id);
        }
        let text = format!("permit (principal, action, resource) when {{ ({expr}) }};");
        let set = PolicySet::from_str(&text).map_err(|e| EvalError::Cedar(e.to_string()))?;
        let native = set
            .policies()
            .next()
            .and_then(|p| p.to_json().ok())
            .and_then(|json| NativePolicy::compile(&json, catalog).ok());
        self.sets.push(set);
        self.native.push(native);
        self.by_text.insert(expr.to_string(), self.sets.len() - 1);
        Ok(self.sets.len() - 1)
    }

    /// The one-policy set of an escape hatch.
    pub fn policy_set(&self, id: HatchId) -> Option<&PolicySet> {
        self.sets.get(id)
    }

    /// The native form of an escape hatch, when it has one.
    pub fn native(&self, id: HatchId) -> Option<&NativePolicy> {
        self.native.get(id).and_then(Option::as_ref)
    }

    /// The policy sets of the escape hatches that are asked of Cedar (no native form).
    pub fn cedar_sets(&self) -> impl Iterator<Item = &PolicySet> {
        self.sets.iter().zip(&self.native).filter(|(_, n)| n.is_none()).map(|(s, _)| s)
    }
}

/// Every role's condition, compiled over catalog ids.
#[derive(Debug, Clone)]
pub struct RoleConditions {
    /// By role id.
    roles: Vec<Cond>,
    hatches: EscapeHatches,
}

impl RoleConditions {
    /// Compiles the conditions of every role of `project`.
    pub fn new(project: &Project) -> Result<RoleConditions, EvalError> {
        let catalog = project.catalog();
        let mut hatches = EscapeHatches::default();
        let mut roles = Vec::with_capacity(catalog.roles.len());
        for (_, name) in catalog.roles.iter() {
            let cond = match project.defs.roles.get(name) {
                Some(role) => compile(&role.when, catalog, &mut hatches)?,
                None => Cond::Any(Box::new([])),
            };
            roles.push(cond);
        }
        Ok(RoleConditions { roles, hatches })
    }

    /// The escape hatches the conditions use.
    pub fn escape_hatches(&self) -> &EscapeHatches {
        &self.hatches
    }

    /// Does `role`'s condition hold? `hatch` answers escape hatches.
    pub fn eval(&self, role: RoleId, facts: &Facts<'_>, hatch: &mut dyn FnMut(HatchId) -> Tri) -> Tri {
        match self.roles.get(role.index()) {
            Some(c) => eval(c, facts, hatch),
            None => Ok(false),
        }
    }

    /// `role`'s condition traced: every entry with its outcome and what it saw.
    /// `when` is the role's condition as written (the one compiled).
    pub fn trace<'c, 'a>(
        &self,
        catalog: &Catalog,
        role: RoleId,
        when: &'c Condition,
        facts: &Facts<'a>,
        hatch: &mut dyn FnMut(HatchId) -> Tri,
    ) -> Trace<'c, 'a> {
        let mut entries = Vec::new();
        let outcome = match self.roles.get(role.index()) {
            Some(c) => trace(c, when, catalog, facts, hatch, &mut entries),
            None => Ok(false),
        };
        Trace {
            outcome: outcome.into(),
            entries,
        }
    }
}

fn compile(c: &Condition, catalog: &Catalog, hatches: &mut EscapeHatches) -> Result<Cond, EvalError> {
    Ok(match c {
        Condition::All(items) => Cond::All(items.iter().map(|i| compile(i, catalog, hatches)).collect::<Result<_, _>>()?),
        Condition::Any(items) => Cond::Any(items.iter().map(|i| compile(i, catalog, hatches)).collect::<Result<_, _>>()?),
        Condition::Not(inner) => Cond::Not(Box::new(compile(inner, catalog, hatches)?)),
        Condition::Cedar { expr, .. } => Cond::Cedar(hatches.intern(expr, catalog)?),
        Condition::Kind { subject, kinds, .. } => {
            let mut ids: Vec<KindId> = kinds.iter().filter_map(|k| catalog.kinds.id(k)).collect();
            ids.sort_unstable();
            ids.dedup();
            Cond::Kind {
                subject: *subject,
                kinds: ids.into(),
            }
        }
        Condition::Attr {
            subject, attr, ty, test, ..
        } => {
            let id = catalog.attributes.id(attr);
            let values = id.and_then(|id| catalog.attribute(id).values.as_ref());
            let scalar = |l: &Literal| -> Option<Scalar> {
                match (ty, l) {
                    (AttrType::Enum(_), Literal::Str(s)) => values?.id(s).map(Scalar::Enum),
                    (AttrType::String | AttrType::Set, Literal::Str(s)) => Some(Scalar::Str(s.as_str().into())),
                    (AttrType::Int, Literal::Int(n)) => Some(Scalar::Int(*n)),
                    (AttrType::Bool, Literal::Bool(b)) => Some(Scalar::Bool(*b)),
                    (AttrType::Date, Literal::Date(t)) => Some(Scalar::Date(t.0)),
                    // A literal of another type can equal no value of the attribute.
                    _ => None,
                }
            };
            let scalars = |ls: &[Literal]| -> Box<[Scalar]> { ls.iter().filter_map(scalar).collect() };
            let test = match test {
                AttrTest::Exists(b) => Test::Exists(*b),
                AttrTest::Eq(l) => Test::In(scalar(l).into_iter().collect()),
                AttrTest::In(ls) => Test::In(scalars(ls)),
                AttrTest::NotIn(ls) => Test::NotIn(scalars(ls)),
                AttrTest::Not(l) => Test::NotIn(scalar(l).into_iter().collect()),
                AttrTest::Contains(l) => match (ty, scalar(l)) {
                    (AttrType::Set, Some(s)) => Test::Contains(s),
                    _ => Test::In(Box::new([])),
                },
                // An enum value matches or not once and for all: the glob becomes the values it matches.
                AttrTest::Matches(glob) => match values {
                    Some(values) => Test::In(
                        values
                            .iter()
                            .filter(|(_, v)| glob_matches(glob, v))
                            .map(|(id, _)| Scalar::Enum(id))
                            .collect(),
                    ),
                    None => Test::Matches(glob.as_str().into()),
                },
                AttrTest::Cmp(op, l) => Test::Cmp(
                    *op,
                    match l {
                        Literal::Int(n) => Bound::Int(*n),
                        Literal::Date(t) => Bound::Date(t.0),
                        Literal::Now => Bound::Now,
                        _ => Bound::Never,
                    },
                ),
            };
            Cond::Attr {
                subject: *subject,
                attr: id,
                test,
            }
        }
    })
}

fn subject<'f, 'a>(facts: &'f Facts<'a>, subject: Subject) -> Option<&'f SubjectFacts<'a>> {
    match subject {
        Subject::Identity => Some(&facts.identity),
        Subject::Owner => facts.owner.as_ref(),
    }
}

/// A leaf (kind or attribute test); never an error.
fn leaf(c: &Cond, facts: &Facts<'_>) -> bool {
    match c {
        Cond::Kind { subject: s, kinds } => subject(facts, *s).is_some_and(|f| f.kind.is_some_and(|k| kinds.contains(&k))),
        Cond::Attr { subject: s, attr, test } => match subject(facts, *s) {
            None => false,
            Some(f) => test_fact(test, attr.map_or(Fact::Absent, |a| f.get(a)), facts.at),
        },
        _ => false,
    }
}

fn eval(c: &Cond, facts: &Facts<'_>, hatch: &mut dyn FnMut(HatchId) -> Tri) -> Tri {
    match c {
        Cond::All(items) => {
            for item in items.iter() {
                if !eval(item, facts, hatch)? {
                    return Ok(false);
                }
            }
            Ok(true)
        }
        Cond::Any(items) => {
            for item in items.iter() {
                if eval(item, facts, hatch)? {
                    return Ok(true);
                }
            }
            Ok(false)
        }
        Cond::Not(inner) => eval(inner, facts, hatch).map(|b| !b),
        Cond::Cedar(id) => hatch(*id),
        Cond::Kind { .. } | Cond::Attr { .. } => Ok(leaf(c, facts)),
    }
}

/// The traced walk: every entry evaluated and recorded; the result combines
/// the items left to right with Cedar's short circuits, as [`eval`] does.
fn trace<'c, 'a>(
    c: &Cond,
    source: &'c Condition,
    catalog: &Catalog,
    facts: &Facts<'a>,
    hatch: &mut dyn FnMut(HatchId) -> Tri,
    out: &mut Vec<TraceEntry<'c, 'a>>,
) -> Tri {
    let at = out.len();
    out.push(TraceEntry {
        condition: source,
        outcome: Outcome::Error,
        seen: Seen::Nothing,
    });
    let (result, seen) = match (c, source) {
        (Cond::All(items), Condition::All(written)) => {
            let mut result = Ok(true);
            for (item, w) in items.iter().zip(written) {
                let r = trace(item, w, catalog, facts, hatch, out);
                if result == Ok(true) {
                    result = r;
                }
            }
            (result, Seen::Nothing)
        }
        (Cond::Any(items), Condition::Any(written)) => {
            let mut result = Ok(false);
            for (item, w) in items.iter().zip(written) {
                let r = trace(item, w, catalog, facts, hatch, out);
                if result == Ok(false) {
                    result = r;
                }
            }
            (result, Seen::Nothing)
        }
        (Cond::Not(inner), Condition::Not(written)) => (trace(inner, written, catalog, facts, hatch, out).map(|b| !b), Seen::Nothing),
        (Cond::Cedar(id), _) => (hatch(*id), Seen::Nothing),
        (Cond::Kind { subject: s, .. }, _) => {
            let seen = match subject(facts, *s) {
                None => Seen::NoOwner,
                Some(f) => Seen::Kind(&f.state.kind),
            };
            (Ok(leaf(c, facts)), seen)
        }
        (Cond::Attr { subject: s, attr, .. }, _) => {
            let seen = match subject(facts, *s) {
                None => Seen::NoOwner,
                Some(f) => Seen::Value(attr.and_then(|a| f.raw(catalog, a))),
            };
            (Ok(leaf(c, facts)), seen)
        }
        // Compiled and written shapes always agree; a mismatch would be a bug: evaluate without tracing.
        _ => (eval(c, facts, hatch), Seen::Nothing),
    };
    out[at].outcome = result.into();
    out[at].seen = seen;
    result
}

fn test_fact(test: &Test, fact: Fact<'_>, at: Instant) -> bool {
    if fact == Fact::Absent {
        return matches!(test, Test::Exists(false));
    }
    match test {
        Test::Exists(present) => *present,
        Test::In(ls) => match fact {
            Fact::Set(items) => ls.iter().any(|l| set_has(items, l)),
            v => ls.iter().any(|l| equals(v, l)),
        },
        Test::NotIn(ls) => match fact {
            Fact::Set(items) => !ls.iter().any(|l| set_has(items, l)),
            v => !ls.iter().any(|l| equals(v, l)),
        },
        Test::Contains(l) => matches!(fact, Fact::Set(items) if set_has(items, l)),
        Test::Matches(glob) => matches!(fact, Fact::Str(s) if glob_matches(glob, s)),
        Test::Cmp(op, bound) => {
            let (a, b) = match (fact, bound) {
                (Fact::Int(a), Bound::Int(b)) => (a, *b),
                (Fact::Date(a), Bound::Date(b)) => (a, *b),
                (Fact::Date(a), Bound::Now) => (a, at.0),
                _ => return false,
            };
            match op {
                CmpOp::Gt => a > b,
                CmpOp::Gte => a >= b,
                CmpOp::Lt => a < b,
                CmpOp::Lte => a <= b,
            }
        }
    }
}

fn set_has(items: &[std::sync::Arc<str>], l: &Scalar) -> bool {
    matches!(l, Scalar::Str(s) if items.binary_search_by(|m| (**m).cmp(&**s)).is_ok())
}

fn equals(v: Fact<'_>, l: &Scalar) -> bool {
    match (v, l) {
        (Fact::Str(a), Scalar::Str(b)) => a == &**b,
        (Fact::Enum(a), Scalar::Enum(b)) => a == *b,
        (Fact::Int(a), Scalar::Int(b)) => a == *b,
        (Fact::Bool(a), Scalar::Bool(b)) => a == *b,
        (Fact::Date(a), Scalar::Date(b)) => a == *b,
        _ => false,
    }
}

/// Cedar's `like`: `*` matches any run of characters (also none); the whole text must match.
pub fn glob_matches(glob: &str, text: &str) -> bool {
    // ASCII text and glob (the common case) match on bytes; otherwise on chars.
    if glob.is_ascii() && text.is_ascii() {
        return wildcard_match(glob.as_bytes(), text.as_bytes());
    }
    let p: Vec<char> = glob.chars().collect();
    let t: Vec<char> = text.chars().collect();
    wildcard_match(&p, &t)
}

fn wildcard_match<C: PartialEq + Copy + From<u8>>(p: &[C], t: &[C]) -> bool {
    let star = C::from(b'*');
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && p[pi] == star {
            backtrack = Some((pi, ti));
            pi += 1;
        } else if pi < p.len() && p[pi] == t[ti] {
            pi += 1;
            ti += 1;
        } else if let Some((sp, st)) = backtrack {
            pi = sp + 1;
            ti = st + 1;
            backtrack = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == star)
}

#[cfg(test)]
mod tests {
    use super::glob_matches;

    #[test]
    fn globs() {
        assert!(glob_matches("FIN-*", "FIN-110"));
        assert!(glob_matches("FIN-*", "FIN-"));
        assert!(!glob_matches("FIN-*", "XFIN-1"));
        assert!(glob_matches("*a*b", "xxaxxb"));
        assert!(!glob_matches("*a*b", "xxaxxbc"));
        assert!(glob_matches("", ""));
        assert!(!glob_matches("", "a"));
        assert!(glob_matches("**", "anything"));
        assert!(glob_matches("caf*", "café"));
        assert!(glob_matches("*é", "café"));
        assert!(!glob_matches("caf?", "café"));
    }
}
