//! Cedar policies compiled to native predicates: hand-written guardrails (and
//! `cedar:` escape hatches) that use only what entitle's facts can answer are
//! evaluated without building a Cedar entity store, with exactly Cedar's
//! semantics — errors included.
//!
//! A policy is read from Cedar's JSON form (EST), never from its text. It is
//! native when every part of it is one of: the variables (`principal`,
//! `resource`, `action`, `context`); literals (booleans, longs, strings,
//! entities, sets of them); `.attr` and `has` (also `has a.b`) on identities
//! (declared attributes, `kind`, `owner`), on entitlements (`privileged`,
//! `application`, also named by literal) and on `context.now`; `==`, `!=`,
//! `<`, `<=`, `>`, `>=` (longs, datetimes, durations), `+`, `-`, `*`, unary `-` (with
//! overflow errors), `!`, `&&`, `||`, `if-then-else`, `like`, `is`, `in`
//! (over the role hierarchy, package nesting and applications), set literals,
//! `contains`, `containsAll`, `containsAny`, `isEmpty`; Cedar's extension
//! functions (`datetime`, `duration`, `offset`, `durationSince`, `toDate`,
//! `toTime`, `toMilliseconds` … `toDays`; `decimal` and its comparisons;
//! `ip` and its methods — `extensions.rs`); and the scope constraints `==`,
//! `in`, `is`, `is … in`. Anything else (records, tags, template slots) keeps the Cedar
//! path. A constructor applied to a literal is evaluated once, when the
//! policy is compiled: a valid literal becomes a value, an invalid one an
//! expression that errs when (and only if) it is evaluated.
//!
//! The semantics follow cedar-policy-core's evaluator: operands are evaluated
//! left to right; `&&`, `||` and `if` short-circuit; an attribute read that
//! is absent (without `has`), an entity that is not in the store, an
//! overflow or a type mismatch is an error, and the authorizer skips a policy
//! whose evaluation errs. The store modelled is the oracle's: the static
//! entities (from the catalog), the identity and, when its record is known,
//! its owner — an identity entity has its declared attributes, `kind`, and
//! `owner` only when the owner's record is known; the owner's entity has no
//! `owner`.
//!
//! Must never: guess. A construct whose semantics are not modelled here is
//! refused at compile time, so the policy stays on the Cedar path.

use std::sync::Arc;

use serde_json::Value;

use crate::catalog::{ApplicationId, AttributeId, Catalog, EntitlementId, PackageId, RoleId};

use super::condition::{ExprError, Tri};
use super::extensions::{self, Arg, ExtFn, ExtValue};
use super::facts::{Fact, Facts, SubjectFacts};

/// Why a policy cannot be evaluated natively (it stays on the Cedar path).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unsupported(pub String);

fn unsupported<T>(what: impl Into<String>) -> Result<T, Unsupported> {
    Err(Unsupported(what.into()))
}

/// A policy condition (scope and `when`/`unless` clauses together) compiled to a native predicate.
#[derive(Debug, Clone, PartialEq)]
pub struct NativePolicy {
    condition: Expr,
    reads_resource: bool,
}

/// An attribute name, with its catalog id when it is a declared identity attribute.
#[derive(Debug, Clone, PartialEq)]
struct Attr {
    name: Box<str>,
    id: Option<AttributeId>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum BinOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    Add,
    Sub,
    Mul,
    In,
    Contains,
    ContainsAll,
    ContainsAny,
}

#[derive(Debug, Clone, PartialEq)]
enum Expr {
    Lit(Lit),
    Principal,
    Resource,
    Action,
    Context,
    Get(Box<Expr>, Attr),
    Has(Box<Expr>, Box<[Attr]>),
    Not(Box<Expr>),
    Neg(Box<Expr>),
    IsEmpty(Box<Expr>),
    Bin(BinOp, Box<Expr>, Box<Expr>),
    And(Box<Expr>, Box<Expr>),
    Or(Box<Expr>, Box<Expr>),
    If(Box<Expr>, Box<Expr>, Box<Expr>),
    Like(Box<Expr>, Box<[Pattern]>),
    Is(Box<Expr>, Box<str>, Option<Box<Expr>>),
    Set(Box<[Expr]>),
    /// An extension function applied to its arguments (a method's receiver first).
    Call(ExtFn, Box<[Expr]>),
    /// An expression that always errs (an extension constructor applied to a literal it does not read).
    Fail,
}

#[derive(Debug, Clone, PartialEq)]
enum Lit {
    Bool(bool),
    Long(i64),
    Str(Box<str>),
    Entity(EntityLit),
    Set(Box<[Lit]>),
    Ext(ExtValue),
}

/// An entity named by a literal, resolved against the catalog where it can be.
#[derive(Debug, Clone, PartialEq)]
enum EntityLit {
    /// Resolved when evaluating: the identity, its owner, or an identity not in the store.
    Identity(Box<str>),
    Entitlement(EntitlementId),
    Application(ApplicationId),
    Package(PackageId),
    Role(RoleId),
    Action(Box<str>),
    /// Any entity the store does not hold (an unknown id, or another type).
    Missing(Box<str>, Box<str>),
}

/// One element of a `like` pattern.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Pattern {
    Char(char),
    Wildcard,
}

impl NativePolicy {
    /// Compiles a policy from its Cedar JSON form.
    pub fn compile(policy: &Value, catalog: &Catalog) -> Result<NativePolicy, Unsupported> {
        let c = Compiler {
            catalog,
            depth: std::cell::Cell::new(0),
        };
        let principal = c.scope(policy.get("principal"), Expr::Principal)?;
        let action = c.action_scope(policy.get("action"))?;
        let resource = c.scope(policy.get("resource"), Expr::Resource)?;
        let mut condition = Expr::Lit(Lit::Bool(true));
        let clauses = match policy.get("conditions") {
            None => Vec::new(),
            Some(Value::Array(items)) => items.clone(),
            Some(_) => return unsupported("conditions that are not a list"),
        };
        for (i, clause) in clauses.iter().enumerate() {
            let body = c.expr(clause.get("body").unwrap_or(&Value::Null))?;
            let body = match clause.get("kind").and_then(Value::as_str) {
                Some("when") => body,
                Some("unless") => Expr::Not(Box::new(body)),
                _ => return unsupported("a condition that is neither `when` nor `unless`"),
            };
            condition = if i == 0 {
                body
            } else {
                Expr::And(Box::new(condition), Box::new(body))
            };
        }
        // Cedar's policy condition: principal && (action && (resource && conditions)).
        let condition = Expr::And(
            Box::new(principal),
            Box::new(Expr::And(
                Box::new(action),
                Box::new(Expr::And(Box::new(resource), Box::new(condition))),
            )),
        );
        Ok(NativePolicy::new(condition))
    }

    fn new(condition: Expr) -> NativePolicy {
        let reads_resource = condition.mentions_resource();
        NativePolicy { condition, reads_resource }
    }

    /// Does the policy read `resource` at all? (When not, its verdict is the same for every entitlement.)
    pub fn reads_resource(&self) -> bool {
        self.reads_resource
    }

    /// Compiles only a policy's principal scope (for deciding whether a permit can apply to an identity).
    pub fn compile_principal_scope(policy: &Value, catalog: &Catalog) -> Result<NativePolicy, Unsupported> {
        let c = Compiler {
            catalog,
            depth: std::cell::Cell::new(0),
        };
        Ok(NativePolicy::new(c.scope(policy.get("principal"), Expr::Principal)?))
    }

    /// Is the policy satisfied for the identity of `facts` holding `resource`
    /// (`None`: the probe entitlement escape hatches are asked with, which is
    /// not in the store)? An error means the authorizer skips the policy.
    pub fn eval(&self, catalog: &Catalog, facts: &Facts<'_>, resource: Option<EntitlementId>) -> Tri {
        let env = Env { catalog, facts, resource };
        match env.eval(&self.condition)? {
            Val::Bool(b) => Ok(b),
            _ => Err(ExprError),
        }
    }
}

struct Compiler<'c> {
    catalog: &'c Catalog,
    /// How deep `expr` is: past [`MAX_NATIVE_DEPTH`] the policy keeps Cedar's path.
    depth: std::cell::Cell<usize>,
}

/// The deepest expression compiled natively. Compiling, evaluating and
/// dropping a native expression recurse once per level; Cedar's own
/// evaluator is proven safe up to the bounds of `compile::bounds` on a 2 MiB
/// stack, so deeper guardrails (rare: 64 levels is a chain of some sixty
/// alternatives) are left to it.
pub const MAX_NATIVE_DEPTH: usize = 64;

impl Compiler<'_> {
    fn entity(&self, v: &Value) -> Result<EntityLit, Unsupported> {
        let e = v.get("__entity").unwrap_or(v);
        let (Some(ty), Some(id)) = (e.get("type").and_then(Value::as_str), e.get("id").and_then(Value::as_str)) else {
            return unsupported("an entity reference that is not `Type::\"id\"`");
        };
        let c = self.catalog;
        let missing = || EntityLit::Missing(ty.into(), id.into());
        Ok(match ty {
            "Identity" => EntityLit::Identity(id.into()),
            "Entitlement" => c.entitlements.id(id).map_or_else(missing, EntityLit::Entitlement),
            "Application" => c.applications.id(id).map_or_else(missing, EntityLit::Application),
            "Package" => c.packages.id(id).map_or_else(missing, EntityLit::Package),
            "Role" => c.roles.id(id).map_or_else(missing, EntityLit::Role),
            "Action" => EntityLit::Action(id.into()),
            _ => missing(),
        })
    }

    fn scope(&self, scope: Option<&Value>, var: Expr) -> Result<Expr, Unsupported> {
        let Some(scope) = scope else {
            return Ok(Expr::Lit(Lit::Bool(true)));
        };
        let entity = |v: Option<&Value>| -> Result<Expr, Unsupported> {
            match v.and_then(|s| s.get("entity")) {
                Some(e) => Ok(Expr::Lit(Lit::Entity(self.entity(e)?))),
                None => unsupported("a scope constraint on a template slot"),
            }
        };
        let var_box = || Box::new(var.clone());
        Ok(match scope.get("op").and_then(Value::as_str) {
            Some("All") => Expr::Lit(Lit::Bool(true)),
            Some("==") => Expr::Bin(BinOp::Eq, var_box(), Box::new(entity(Some(scope))?)),
            Some("in") => Expr::Bin(BinOp::In, var_box(), Box::new(entity(Some(scope))?)),
            Some("is") => {
                let Some(ty) = scope.get("entity_type").and_then(Value::as_str) else {
                    return unsupported("an `is` scope without a type");
                };
                let within = match scope.get("in") {
                    None => None,
                    Some(target) => Some(Box::new(entity(Some(target))?)),
                };
                Expr::Is(var_box(), ty.into(), within)
            }
            _ => return unsupported("an unknown scope constraint"),
        })
    }

    fn action_scope(&self, scope: Option<&Value>) -> Result<Expr, Unsupported> {
        let Some(scope) = scope else {
            return Ok(Expr::Lit(Lit::Bool(true)));
        };
        match (scope.get("op").and_then(Value::as_str), scope.get("entities")) {
            (Some("in"), Some(Value::Array(items))) => {
                let items = items.iter().map(|e| self.entity(e).map(Lit::Entity)).collect::<Result<_, _>>()?;
                Ok(Expr::Bin(BinOp::In, Box::new(Expr::Action), Box::new(Expr::Lit(Lit::Set(items)))))
            }
            _ => self.scope(Some(scope), Expr::Action),
        }
    }

    fn literal(&self, v: &Value) -> Result<Lit, Unsupported> {
        Ok(match v {
            Value::Bool(b) => Lit::Bool(*b),
            Value::Number(n) => match n.as_i64() {
                Some(n) => Lit::Long(n),
                None => return unsupported("a number that is not a Long"),
            },
            Value::String(s) => Lit::Str(s.as_str().into()),
            Value::Array(items) => Lit::Set(items.iter().map(|i| self.literal(i)).collect::<Result<_, _>>()?),
            Value::Object(m) if m.contains_key("__entity") => Lit::Entity(self.entity(v)?),
            _ => return unsupported("a record or extension literal"),
        })
    }

    fn attr(&self, name: &str) -> Attr {
        Attr {
            name: name.into(),
            id: self.catalog.attributes.id(name),
        }
    }

    fn expr(&self, v: &Value) -> Result<Expr, Unsupported> {
        let depth = self.depth.get() + 1;
        if depth > MAX_NATIVE_DEPTH {
            return unsupported(format!("an expression nested deeper than {MAX_NATIVE_DEPTH} levels"));
        }
        self.depth.set(depth);
        let compiled = self.expr_at_depth(v);
        self.depth.set(depth - 1);
        compiled
    }

    fn expr_at_depth(&self, v: &Value) -> Result<Expr, Unsupported> {
        let Value::Object(map) = v else {
            return unsupported("an expression that is not a JSON object");
        };
        let mut entries = map.iter();
        let (Some((op, body)), None) = (entries.next(), entries.next()) else {
            return unsupported("an expression with more than one operator");
        };
        let arg = |key: &str| -> Result<Box<Expr>, Unsupported> {
            match body.get(key) {
                Some(v) => Ok(Box::new(self.expr(v)?)),
                None => unsupported(format!("`{op}` without `{key}`")),
            }
        };
        let bin = |o: BinOp| -> Result<Expr, Unsupported> { Ok(Expr::Bin(o, arg("left")?, arg("right")?)) };
        Ok(match op.as_str() {
            "Value" => Expr::Lit(self.literal(body)?),
            "Var" => match body.as_str() {
                Some("principal") => Expr::Principal,
                Some("resource") => Expr::Resource,
                Some("action") => Expr::Action,
                Some("context") => Expr::Context,
                _ => return unsupported("an unknown variable"),
            },
            "!" => Expr::Not(arg("arg")?),
            "neg" => Expr::Neg(arg("arg")?),
            "isEmpty" => Expr::IsEmpty(arg("arg")?),
            "==" => bin(BinOp::Eq)?,
            "!=" => bin(BinOp::Ne)?,
            "<" => bin(BinOp::Lt)?,
            "<=" => bin(BinOp::Le)?,
            ">" => bin(BinOp::Gt)?,
            ">=" => bin(BinOp::Ge)?,
            "+" => bin(BinOp::Add)?,
            "-" => bin(BinOp::Sub)?,
            "*" => bin(BinOp::Mul)?,
            "in" => bin(BinOp::In)?,
            "contains" => bin(BinOp::Contains)?,
            "containsAll" => bin(BinOp::ContainsAll)?,
            "containsAny" => bin(BinOp::ContainsAny)?,
            "&&" => Expr::And(arg("left")?, arg("right")?),
            "||" => Expr::Or(arg("left")?, arg("right")?),
            "." => match body.get("attr").and_then(Value::as_str) {
                Some(a) => Expr::Get(arg("left")?, self.attr(a)),
                None => return unsupported("`.` without an attribute"),
            },
            "has" => {
                let attrs: Vec<Attr> = match body.get("attr") {
                    Some(Value::String(a)) => vec![self.attr(a)],
                    Some(Value::Array(items)) if !items.is_empty() => items
                        .iter()
                        .map(|a| a.as_str().map(|a| self.attr(a)))
                        .collect::<Option<_>>()
                        .ok_or(Unsupported("`has` with a non-string attribute".into()))?,
                    _ => return unsupported("`has` without an attribute"),
                };
                Expr::Has(arg("left")?, attrs.into())
            }
            "like" => {
                let Some(Value::Array(elems)) = body.get("pattern") else {
                    return unsupported("`like` without a pattern");
                };
                let mut pattern = Vec::new();
                for e in elems {
                    match e {
                        Value::String(w) if w == "Wildcard" => pattern.push(Pattern::Wildcard),
                        Value::Object(m) => match m.get("Literal").and_then(Value::as_str) {
                            Some(text) => pattern.extend(text.chars().map(Pattern::Char)),
                            None => return unsupported("an unknown `like` pattern element"),
                        },
                        _ => return unsupported("an unknown `like` pattern element"),
                    }
                }
                Expr::Like(arg("left")?, pattern.into())
            }
            "is" => {
                let Some(ty) = body.get("entity_type").and_then(Value::as_str) else {
                    return unsupported("`is` without a type");
                };
                let within = match body.get("in") {
                    None => None,
                    Some(v) => Some(Box::new(self.expr(v)?)),
                };
                Expr::Is(arg("left")?, ty.into(), within)
            }
            "if-then-else" => Expr::If(arg("if")?, arg("then")?, arg("else")?),
            "Set" => match body {
                Value::Array(items) => Expr::Set(items.iter().map(|i| self.expr(i)).collect::<Result<_, _>>()?),
                _ => return unsupported("a set that is not a list"),
            },
            name => match (ExtFn::named(name), body) {
                (Some(f), Value::Array(args)) if f.takes(args.len()) => {
                    let args: Box<[Expr]> = args.iter().map(|a| self.expr(a)).collect::<Result<_, _>>()?;
                    fold(f, args)
                }
                (Some(_), _) => return unsupported(format!("`{name}` with a number of arguments it does not take")),
                (None, _) => return unsupported(format!("`{name}`")),
            },
        })
    }
}

/// An extension function call, evaluated now when its arguments are plain literals.
fn fold(f: ExtFn, args: Box<[Expr]>) -> Expr {
    fn literal(e: &Expr) -> Option<Arg<'_>> {
        match e {
            Expr::Lit(Lit::Str(s)) => Some(Arg::Str(s)),
            Expr::Lit(Lit::Long(n)) => Some(Arg::Long(*n)),
            Expr::Lit(Lit::Bool(b)) => Some(Arg::Bool(*b)),
            Expr::Lit(Lit::Ext(v)) => Some(Arg::Ext(*v)),
            _ => None,
        }
    }
    let Some(values) = args.iter().map(literal).collect::<Option<Vec<Arg<'_>>>>() else {
        return Expr::Call(f, args);
    };
    let folded = match extensions::apply(f, &values) {
        Ok(Arg::Ext(v)) => Some(Expr::Lit(Lit::Ext(v))),
        Ok(Arg::Long(n)) => Some(Expr::Lit(Lit::Long(n))),
        Ok(Arg::Bool(b)) => Some(Expr::Lit(Lit::Bool(b))),
        Ok(Arg::Str(_) | Arg::Other) => None,
        Err(_) => Some(Expr::Fail),
    };
    folded.unwrap_or(Expr::Call(f, args))
}

impl Expr {
    fn mentions_resource(&self) -> bool {
        match self {
            Expr::Resource => true,
            Expr::Lit(_) | Expr::Principal | Expr::Action | Expr::Context | Expr::Fail => false,
            Expr::Get(e, _) | Expr::Has(e, _) | Expr::Not(e) | Expr::Neg(e) | Expr::IsEmpty(e) | Expr::Like(e, _) => e.mentions_resource(),
            Expr::Bin(_, l, r) | Expr::And(l, r) | Expr::Or(l, r) => l.mentions_resource() || r.mentions_resource(),
            Expr::If(c, t, e) => c.mentions_resource() || t.mentions_resource() || e.mentions_resource(),
            Expr::Is(e, _, within) => e.mentions_resource() || within.as_ref().is_some_and(|w| w.mentions_resource()),
            Expr::Set(items) | Expr::Call(_, items) => items.iter().any(Expr::mentions_resource),
        }
    }
}

/// An entity of the modelled store, normalised so that equal entities compare equal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ent<'v> {
    Principal,
    Owner,
    /// An identity that is neither: not in the store.
    OtherIdentity(&'v str),
    Entitlement(EntitlementId),
    Application(ApplicationId),
    Package(PackageId),
    Role(RoleId),
    Action(&'v str),
    /// Not in the store: (type, id).
    Missing(&'v str, &'v str),
}

impl Ent<'_> {
    fn type_name(&self) -> &str {
        match self {
            Ent::Principal | Ent::Owner | Ent::OtherIdentity(_) => "Identity",
            Ent::Entitlement(_) => "Entitlement",
            Ent::Application(_) => "Application",
            Ent::Package(_) => "Package",
            Ent::Role(_) => "Role",
            Ent::Action(_) => "Action",
            Ent::Missing(ty, _) => ty,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Val<'v> {
    Bool(bool),
    Long(i64),
    Str(&'v str),
    Ext(ExtValue),
    Entity(Ent<'v>),
    Set(Vec<Val<'v>>),
    /// A set attribute of an identity.
    /// (Members sorted, each once.)
    StrSet(&'v [Arc<str>]),
    /// The context record `{ now }`.
    Context,
}

impl<'v> Val<'v> {
    fn bool(self) -> Result<bool, ExprError> {
        match self {
            Val::Bool(b) => Ok(b),
            _ => Err(ExprError),
        }
    }

    fn long(&self) -> Result<i64, ExprError> {
        match self {
            Val::Long(n) => Ok(*n),
            _ => Err(ExprError),
        }
    }

    /// As an extension function sees it.
    fn arg(&self) -> Arg<'v> {
        match self {
            Val::Bool(b) => Arg::Bool(*b),
            Val::Long(n) => Arg::Long(*n),
            Val::Str(s) => Arg::Str(s),
            Val::Ext(v) => Arg::Ext(*v),
            Val::Entity(_) | Val::Set(_) | Val::StrSet(_) | Val::Context => Arg::Other,
        }
    }

    fn is_set(&self) -> bool {
        matches!(self, Val::Set(_) | Val::StrSet(_))
    }

    /// The members of a set (a type error for anything else).
    fn members(&self) -> Result<Vec<Val<'v>>, ExprError> {
        match self {
            Val::Set(items) => Ok(items.clone()),
            Val::StrSet(items) => Ok(items.iter().map(|s| Val::Str(s)).collect()),
            _ => Err(ExprError),
        }
    }
}

/// Cedar's value equality: same type and equal; sets compare as sets.
fn equal(a: &Val<'_>, b: &Val<'_>) -> bool {
    match (a, b) {
        _ if a.is_set() && b.is_set() => {
            let (Ok(x), Ok(y)) = (a.members(), b.members()) else { return false };
            x.iter().all(|i| y.iter().any(|j| equal(i, j))) && y.iter().all(|j| x.iter().any(|i| equal(i, j)))
        }
        (Val::Set(_), _) | (Val::StrSet(_), _) | (_, Val::Set(_)) | (_, Val::StrSet(_)) => false,
        _ => a == b,
    }
}

struct Env<'f, 'a> {
    catalog: &'f Catalog,
    facts: &'f Facts<'a>,
    resource: Option<EntitlementId>,
}

/// The name of the probe entitlement escape hatches are asked with (not in the store).
const PROBE: &str = "entitle:probe";

impl<'f, 'a: 'f> Env<'f, 'a> {
    fn subject(&self, e: Ent<'_>) -> Option<&'f SubjectFacts<'a>> {
        match e {
            Ent::Principal => Some(&self.facts.identity),
            Ent::Owner => self.facts.owner.as_ref(),
            _ => None,
        }
    }

    fn entity(&self, lit: &'f EntityLit) -> Ent<'f> {
        match lit {
            EntityLit::Identity(id) => {
                if **id == *self.facts.identity.state.id {
                    Ent::Principal
                } else if self.facts.owner.as_ref().is_some_and(|o| *o.state.id == **id) {
                    Ent::Owner
                } else {
                    Ent::OtherIdentity(id)
                }
            }
            EntityLit::Entitlement(e) => Ent::Entitlement(*e),
            EntityLit::Application(a) => Ent::Application(*a),
            EntityLit::Package(p) => Ent::Package(*p),
            EntityLit::Role(r) => Ent::Role(*r),
            EntityLit::Action(a) => Ent::Action(a),
            EntityLit::Missing(ty, id) => Ent::Missing(ty, id),
        }
    }

    fn literal(&self, lit: &'f Lit) -> Val<'f> {
        match lit {
            Lit::Bool(b) => Val::Bool(*b),
            Lit::Long(n) => Val::Long(*n),
            Lit::Str(s) => Val::Str(s),
            Lit::Entity(e) => Val::Entity(self.entity(e)),
            Lit::Set(items) => Val::Set(items.iter().map(|i| self.literal(i)).collect()),
            Lit::Ext(v) => Val::Ext(*v),
        }
    }

    fn fact(&self, fact: Fact<'a>, attr: AttributeId) -> Result<Val<'f>, ExprError> {
        Ok(match fact {
            Fact::Absent => return Err(ExprError),
            Fact::Str(s) => Val::Str(s),
            Fact::Enum(v) => match &self.catalog.attribute(attr).values {
                Some(values) => Val::Str(values.name(v)),
                None => return Err(ExprError),
            },
            Fact::Int(n) => Val::Long(n),
            Fact::Bool(b) => Val::Bool(b),
            Fact::Date(t) => Val::Ext(ExtValue::DateTime(t)),
            Fact::Set(items) => Val::StrSet(items),
        })
    }

    /// `v.attr`: the value, or an error when the entity or the attribute is absent.
    fn get(&self, v: &Val<'f>, attr: &'f Attr) -> Result<Val<'f>, ExprError> {
        match v {
            Val::Entity(e @ (Ent::Principal | Ent::Owner)) => {
                let subject = self.subject(*e).ok_or(ExprError)?;
                match &*attr.name {
                    "kind" => Ok(Val::Str(&subject.state.kind)),
                    "owner" if *e == Ent::Principal && self.facts.owner.is_some() => Ok(Val::Entity(Ent::Owner)),
                    _ => match attr.id {
                        Some(id) => self.fact(subject.get(id), id),
                        None => Err(ExprError),
                    },
                }
            }
            Val::Entity(Ent::Entitlement(e)) => {
                let info = self.catalog.entitlement(*e);
                match &*attr.name {
                    "privileged" => Ok(Val::Bool(info.privileged)),
                    "application" => Ok(Val::Entity(Ent::Application(info.application))),
                    _ => Err(ExprError),
                }
            }
            Val::Context if &*attr.name == "now" => Ok(Val::Ext(ExtValue::DateTime(self.facts.at.0))),
            // Entities without attributes, entities not in the store, other attributes of the context,
            // and values that are not entities or records.
            _ => Err(ExprError),
        }
    }

    /// `v has attr`: false for entities not in the store; an error for values that are not entities or records.
    fn has(&self, v: &Val<'f>, attr: &Attr) -> Result<bool, ExprError> {
        match v {
            Val::Entity(e @ (Ent::Principal | Ent::Owner)) => {
                let Some(subject) = self.subject(*e) else { return Ok(false) };
                Ok(match &*attr.name {
                    "kind" => true,
                    "owner" => *e == Ent::Principal && self.facts.owner.is_some(),
                    _ => attr.id.is_some_and(|id| subject.get(id) != Fact::Absent),
                })
            }
            Val::Entity(Ent::Entitlement(_)) => Ok(matches!(&*attr.name, "privileged" | "application")),
            Val::Entity(_) => Ok(false),
            Val::Context => Ok(&*attr.name == "now"),
            _ => Err(ExprError),
        }
    }

    /// Is `e` a descendant of `ancestor` in the store's hierarchy (itself excluded)?
    fn descends(&self, e: Ent<'_>, ancestor: Ent<'_>) -> bool {
        let c = self.catalog;
        match (e, ancestor) {
            (Ent::Principal | Ent::Owner, Ent::Role(r)) => self.subject(e).is_some_and(|s| s.is_member(c, self.facts.at, r)),
            (Ent::Entitlement(x), Ent::Application(a)) => c.entitlement(x).application == a,
            (Ent::Entitlement(x), Ent::Package(p)) => c.entitlement(x).packages.binary_search(&p).is_ok(),
            (Ent::Package(x), Ent::Package(p)) => c.package_ancestors(x).binary_search(&p).is_ok(),
            (Ent::Role(x), Ent::Role(r)) => c.role(x).ancestors.binary_search(&r).is_ok(),
            _ => false,
        }
    }

    fn is_in(&self, left: &Val<'f>, right: &Val<'f>) -> Result<bool, ExprError> {
        let Val::Entity(e) = left else { return Err(ExprError) };
        let targets: Vec<Ent<'_>> = match right {
            Val::Entity(t) => vec![*t],
            Val::Set(items) => items
                .iter()
                .map(|i| match i {
                    Val::Entity(t) => Ok(*t),
                    _ => Err(ExprError),
                })
                .collect::<Result<_, _>>()?,
            _ => return Err(ExprError),
        };
        Ok(targets.into_iter().any(|t| t == *e || self.descends(*e, t)))
    }

    fn eval(&self, expr: &'f Expr) -> Result<Val<'f>, ExprError> {
        Ok(match expr {
            Expr::Lit(l) => self.literal(l),
            Expr::Principal => Val::Entity(Ent::Principal),
            Expr::Resource => Val::Entity(match self.resource {
                Some(e) => Ent::Entitlement(e),
                None => Ent::Missing("Entitlement", PROBE),
            }),
            Expr::Action => Val::Entity(Ent::Action("hold")),
            Expr::Context => Val::Context,
            Expr::Get(e, attr) => {
                let v = self.eval(e)?;
                self.get(&v, attr)?
            }
            Expr::Has(e, attrs) => {
                let mut v = self.eval(e)?;
                let Some((last, path)) = attrs.split_last() else {
                    return Err(ExprError);
                };
                for attr in path {
                    if !self.has(&v, attr)? {
                        return Ok(Val::Bool(false));
                    }
                    v = self.get(&v, attr)?;
                }
                Val::Bool(self.has(&v, last)?)
            }
            Expr::Not(e) => Val::Bool(!self.eval(e)?.bool()?),
            Expr::Neg(e) => Val::Long(self.eval(e)?.long()?.checked_neg().ok_or(ExprError)?),
            Expr::IsEmpty(e) => Val::Bool(self.eval(e)?.members()?.is_empty()),
            Expr::And(l, r) => Val::Bool(self.eval(l)?.bool()? && self.eval(r)?.bool()?),
            Expr::Or(l, r) => Val::Bool(self.eval(l)?.bool()? || self.eval(r)?.bool()?),
            Expr::If(c, t, e) => {
                if self.eval(c)?.bool()? {
                    self.eval(t)?
                } else {
                    self.eval(e)?
                }
            }
            Expr::Like(e, pattern) => match self.eval(e)? {
                Val::Str(s) => Val::Bool(like(pattern, s)),
                _ => return Err(ExprError),
            },
            Expr::Is(e, ty, within) => {
                let v = self.eval(e)?;
                let Val::Entity(ent) = v else { return Err(ExprError) };
                if ent.type_name() != &**ty {
                    return Ok(Val::Bool(false));
                }
                match within {
                    None => Val::Bool(true),
                    Some(target) => {
                        let t = self.eval(target)?;
                        Val::Bool(self.is_in(&v, &t)?)
                    }
                }
            }
            Expr::Set(items) => Val::Set(items.iter().map(|i| self.eval(i)).collect::<Result<_, _>>()?),
            Expr::Fail => return Err(ExprError),
            // Arguments are evaluated left to right, all of them, then the function is applied.
            Expr::Call(f, args) => {
                let result = match &**args {
                    [a] => extensions::apply(*f, &[self.eval(a)?.arg()]),
                    [a, b] => {
                        let a = self.eval(a)?;
                        let b = self.eval(b)?;
                        extensions::apply(*f, &[a.arg(), b.arg()])
                    }
                    _ => {
                        let values = args.iter().map(|a| self.eval(a)).collect::<Result<Vec<_>, _>>()?;
                        extensions::apply(*f, &values.iter().map(Val::arg).collect::<Vec<_>>())
                    }
                };
                match result.map_err(|_| ExprError)? {
                    Arg::Bool(b) => Val::Bool(b),
                    Arg::Long(n) => Val::Long(n),
                    Arg::Ext(v) => Val::Ext(v),
                    Arg::Str(_) | Arg::Other => return Err(ExprError),
                }
            }
            Expr::Bin(op, l, r) => {
                let (a, b) = (self.eval(l)?, self.eval(r)?);
                match op {
                    BinOp::Eq => Val::Bool(equal(&a, &b)),
                    BinOp::Ne => Val::Bool(!equal(&a, &b)),
                    BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge => {
                        // Longs, or two values of one extension type that overloads them (datetime, duration).
                        let (x, y) = match (&a, &b) {
                            (Val::Long(x), Val::Long(y)) => (*x, *y),
                            (Val::Ext(x), Val::Ext(y)) => match (x.ordered(), y.ordered()) {
                                (Some((tx, x)), Some((ty, y))) if tx == ty => (x, y),
                                _ => return Err(ExprError),
                            },
                            _ => return Err(ExprError),
                        };
                        Val::Bool(match op {
                            BinOp::Lt => x < y,
                            BinOp::Le => x <= y,
                            BinOp::Gt => x > y,
                            _ => x >= y,
                        })
                    }
                    BinOp::Add => Val::Long(a.long()?.checked_add(b.long()?).ok_or(ExprError)?),
                    BinOp::Sub => Val::Long(a.long()?.checked_sub(b.long()?).ok_or(ExprError)?),
                    BinOp::Mul => Val::Long(a.long()?.checked_mul(b.long()?).ok_or(ExprError)?),
                    BinOp::In => Val::Bool(self.is_in(&a, &b)?),
                    BinOp::Contains => match (&a, &b) {
                        (Val::StrSet(items), Val::Str(s)) => Val::Bool(items.binary_search_by(|m| (**m).cmp(*s)).is_ok()),
                        (Val::StrSet(_), _) => Val::Bool(false),
                        (Val::Set(items), _) => Val::Bool(items.iter().any(|i| equal(i, &b))),
                        _ => return Err(ExprError),
                    },
                    BinOp::ContainsAll => {
                        let (x, y) = (a.members()?, b.members()?);
                        Val::Bool(y.iter().all(|j| x.iter().any(|i| equal(i, j))))
                    }
                    BinOp::ContainsAny => {
                        let (x, y) = (a.members()?, b.members()?);
                        Val::Bool(y.iter().any(|j| x.iter().any(|i| equal(i, j))))
                    }
                }
            }
        })
    }
}

/// Cedar's `like`: `*` (the wildcard) matches any run of characters, also none; the whole text must match.
fn like(pattern: &[Pattern], text: &str) -> bool {
    let text: Vec<char> = text.chars().collect();
    let (mut pi, mut ti) = (0, 0);
    let mut backtrack: Option<(usize, usize)> = None;
    while ti < text.len() {
        match pattern.get(pi) {
            Some(Pattern::Wildcard) => {
                backtrack = Some((pi, ti));
                pi += 1;
            }
            Some(Pattern::Char(c)) if *c == text[ti] => {
                pi += 1;
                ti += 1;
            }
            _ => match backtrack {
                Some((sp, st)) => {
                    pi = sp + 1;
                    ti = st + 1;
                    backtrack = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[pi..].iter().all(|p| *p == Pattern::Wildcard)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::SourceFile;
    use crate::project::{Project, Sources};
    use crate::state::IdentityState;
    use crate::time::Instant;
    use cedar_policy::{Authorizer, PolicySet};
    use std::str::FromStr;

    const ROLES: &str = "identity:\n  attributes:\n    status: { type: enum, values: [active, terminated], required: true }\n    level: { type: int }\n    tags: { type: set }\n    end: { type: date }\n    note: { type: string }\napplications:\n  - id: a\n    entitlements: [{ id: x, privileged: true }, { id: y }]\npackages:\n  - id: outer\n    packages: [inner]\n  - id: inner\n    entitlements: [a:x]\nroles:\n  - id: base\n    assignable: true\n    grants: [a:y]\n  - id: lead\n    assignable: true\n    extends: [base]\n    grants: [a:y]\n";

    fn project() -> Project {
        let sources = Sources {
            roles: vec![SourceFile {
                name: "r.yaml".into(),
                text: ROLES.into(),
            }],
            policies: vec![],
        };
        Project::from_sources(&sources).unwrap_or_else(|f| panic!("{:?}", f.diagnostics))
    }

    fn identity(p: &Project, json: serde_json::Value) -> IdentityState {
        IdentityState::from_json(&json, &p.defs).unwrap()
    }

    /// Native verdict and Cedar's (over the oracle's store) for one policy text.
    fn both(p: &Project, policy: &str, who: &IdentityState, owner: Option<&IdentityState>, resource: &str) -> (Tri, Tri) {
        both_at(p, policy, who, owner, resource, Instant::parse("2026-11-21").unwrap())
    }

    /// [`both`] at a given instant.
    fn both_at(p: &Project, policy: &str, who: &IdentityState, owner: Option<&IdentityState>, resource: &str, at: Instant) -> (Tri, Tri) {
        let set = PolicySet::from_str(policy).unwrap();
        let json = set.policies().next().unwrap().to_json().unwrap();
        let native = NativePolicy::compile(&json, p.catalog()).unwrap_or_else(|u| panic!("{policy}: {u:?}"));
        let facts = Facts::new(p.catalog(), who, owner, at);
        let fast = native.eval(p.catalog(), &facts, p.catalog().entitlements.id(resource));
        let store = crate::eval::cedar_io::full_store(p, who, owner, at).unwrap();
        let request = crate::eval::cedar_io::hold_request(&who.id, resource, crate::eval::cedar_io::context_at(at).unwrap()).unwrap();
        let response = Authorizer::new().is_authorized(&request, &set, &store);
        // Satisfied: the one policy is among the reasons (permit or forbid alike).
        let slow = if response.diagnostics().errors().next().is_some() {
            Err(ExprError)
        } else {
            Ok(response.diagnostics().reason().next().is_some())
        };
        (fast, slow)
    }

    #[test]
    fn native_verdicts_are_cedars_errors_included() {
        let p = project();
        let u = identity(
            &p,
            serde_json::json!({"id": "u", "kind": "person", "attributes": {"status": "active", "level": 3, "tags": ["x"], "end": "2026-01-01"},
                "assignments": [{"role": "lead", "starts": "2026-01-01T00:00:00Z", "expires": "2027-01-01T00:00:00Z"}]}),
        );
        let o = identity(
            &p,
            serde_json::json!({"id": "o", "kind": "person", "attributes": {"status": "terminated"}}),
        );
        let bot = identity(
            &p,
            serde_json::json!({"id": "bot", "kind": "agent", "owner": "o", "attributes": {"status": "active"}}),
        );
        let conditions = [
            "principal.status == \"active\"",
            "principal.level > 2 && resource.privileged",
            "principal.end < context.now",
            "principal.missing_is_error == 1",
            "principal.level + 9223372036854775807 > 0",
            "-principal.level < 0",
            "principal.level * 4611686018427387904 > 0",
            "principal in Role::\"base\"",
            "principal in Role::\"lead\" && !(principal in Role::\"ghost\")",
            "resource in Package::\"outer\"",
            "resource in [Application::\"a\", Package::\"ghost\"]",
            "resource == Entitlement::\"a:x\"",
            "resource.application == Application::\"a\"",
            "Entitlement::\"a:x\".privileged",
            "Entitlement::\"ghost:x\".privileged",
            "Package::\"inner\" in Package::\"outer\"",
            "Role::\"lead\" in Role::\"base\"",
            "principal.tags.contains(\"x\") && principal.tags.containsAny([\"y\", \"x\"]) && !principal.tags.containsAll([\"x\", \"y\"])",
            "[principal.level, 1].contains(3) && [1, 2] == [2, 1, 1]",
            "principal.tags.isEmpty()",
            "principal.kind like \"p*n\"",
            "principal has owner && principal.owner.status == \"terminated\"",
            "principal.owner.status == \"terminated\"",
            "principal has owner.status",
            "principal.owner has owner",
            "if principal has level then principal.level == 3 else principal.nope == 1",
            "principal is Identity && resource is Entitlement in Application::\"a\"",
            "principal == Identity::\"u\" || principal == Identity::\"o\"",
            "Identity::\"o\".status == \"terminated\"",
            "Identity::\"stranger\" has status",
            "context has now && context.now > principal.end",
            "action == Action::\"hold\" && action in [Action::\"hold\"]",
        ];
        for condition in conditions {
            for effect in ["permit", "forbid"] {
                let policy = format!("{effect} (principal, action, resource) when {{ {condition} }};");
                for (who, owner) in [(&u, None), (&bot, Some(&o)), (&bot, None)] {
                    for resource in ["a:x", "a:y"] {
                        let (fast, slow) = both(&p, &policy, who, owner, resource);
                        assert_eq!(
                            fast,
                            slow,
                            "{policy} for {} (owner {:?}) on {resource}",
                            who.id,
                            owner.map(|o| &o.id)
                        );
                    }
                }
            }
        }
        let scoped = [
            "permit (principal in Role::\"base\", action == Action::\"hold\", resource in Package::\"outer\");",
            "forbid (principal is Identity in Role::\"lead\", action, resource is Entitlement) unless { resource.privileged };",
            "permit (principal == Identity::\"u\", action in [Action::\"hold\"], resource == Entitlement::\"a:y\") when { true } when { principal.level == 3 };",
        ];
        for policy in scoped {
            for resource in ["a:x", "a:y"] {
                let (fast, slow) = both(&p, policy, &u, None, resource);
                assert_eq!(fast, slow, "{policy} on {resource}");
            }
        }
    }

    /// Cedar's extension functions: each condition's verdict for one identity
    /// (`None`: an error), asserted for the native path and for Cedar alike, so
    /// agreement cannot come from both erring.
    #[test]
    fn extension_functions_as_cedar_evaluates_them() {
        let p = project();
        let u = identity(
            &p,
            serde_json::json!({"id": "u", "kind": "person",
                "attributes": {"status": "active", "level": 3, "end": "2026-01-01", "note": "2026-11-20T12:00:00Z"}}),
        );
        let cases: &[(&str, Option<bool>)] = &[
            // datetime and duration: literals, attributes, context.now.
            ("principal.end < datetime(\"2026-01-01T00:00:00.001Z\")", Some(true)),
            ("principal.end.offset(duration(\"30d\")) > context.now", Some(false)),
            ("principal.end.offset(duration(\"-1d2h3m4s5ms\")) <= datetime(\"2025-12-30T21:56:55.995Z\")", Some(true)),
            ("principal.end.offset(duration(\"-1d2h3m4s5ms\")) < datetime(\"2025-12-30T21:56:55.995Z\")", Some(false)),
            ("datetime(\"2026-11-21\") == datetime(\"2026-11-21T00:00:00Z\")", Some(true)),
            ("datetime(\"2026-11-21T01:00:00+0100\") == context.now && datetime(\"2026-11-20T23:30:00.000-0030\") == context.now", Some(true)),
            ("datetime(\"1969-12-31T23:59:59.999Z\").toTime() == duration(\"23h59m59s999ms\")", Some(true)),
            ("datetime(\"1969-12-31T23:59:59.999Z\").toDate() == datetime(\"1969-12-31\")", Some(true)),
            ("context.now.toDate() == datetime(\"2026-11-21\") && context.now.toTime() == duration(\"0ms\")", Some(true)),
            ("context.now.toDate().offset(duration(\"-1ms\")).toTime().toMilliseconds() == 86399999", Some(true)),
            ("context.now.durationSince(principal.end).toDays() == 324", Some(true)),
            ("principal.end.durationSince(context.now).toHours() == -7776 && principal.end.durationSince(context.now).toMinutes() < 0", Some(true)),
            ("context.now.durationSince(datetime(\"0000-01-01\")).toSeconds() > 0", Some(true)),
            ("duration(\"1d\") == duration(\"24h\") && duration(\"1d\") > duration(\"23h59m\") && duration(\"-1999ms\").toSeconds() == -1", Some(true)),
            ("duration(\"-1ms\").toMilliseconds() == -1 && duration(\"1m1ms\") == duration(\"60001ms\")", Some(true)),
            ("duration(\"106751991167d\") > duration(\"1ms\")", Some(true)),
            ("duration(\"1d\") == 86400000", Some(false)),
            ("duration(\"1d\") == datetime(\"1970-01-02\").durationSince(datetime(\"1970-01-01\"))", Some(true)),
            ("[context.now, datetime(\"2026-01-01\")].contains(datetime(\"2026-11-21\"))", Some(true)),
            ("[duration(\"1h\")] == [duration(\"60m\"), duration(\"3600s\")]", Some(true)),
            ("if principal has end then principal.end.offset(duration(\"1d\")) > context.now else false", Some(false)),
            ("datetime(principal.note) < context.now && datetime(principal.note).toTime() == duration(\"12h\")", Some(true)),
            // Overflow is an error; so is an invalid text, only where it is evaluated.
            ("context.now.offset(duration(\"9223372036854775807ms\")) > context.now", None),
            ("context.now.offset(duration(\"-9223372036854775808ms\")) < context.now", Some(true)),
            ("datetime(\"1970-01-01\").offset(duration(\"-9223372036854775808ms\")).toDate() < context.now", None),
            ("datetime(\"1970-01-01\").offset(duration(\"-9223372036854775808ms\")).toTime() >= duration(\"0ms\")", Some(true)),
            ("datetime(\"1970-01-01\").offset(duration(\"-9223372036854775808ms\")).durationSince(context.now) < duration(\"0ms\")", None),
            ("duration(\"106751991168d\") > duration(\"1ms\")", None),
            ("duration(\"99999999999999999999d\") == duration(\"1d\")", None),
            ("datetime(\"2026-13-01\") < context.now", None),
            ("datetime(\"2026-11-21T00:00:00\") == context.now", None),
            ("false && datetime(\"bad\") == context.now", Some(false)),
            ("datetime(\"bad\") == context.now || true", None),
            ("datetime(principal.kind) < context.now", None),
            ("duration(principal.note) > duration(\"1d\")", None),
            ("duration(principal.level) > duration(\"1d\")", None),
            // Type errors: no comparison across types, no arithmetic on datetimes, no decimal methods on them.
            ("context.now < duration(\"1d\")", None),
            ("context.now < 5", None),
            ("context.now + 1 > context.now", None),
            ("context.now.lessThan(context.now)", None),
            ("principal.level.toDays() == 0", None),
            // decimal.
            ("decimal(\"1.5\").lessThan(decimal(\"1.6\")) && decimal(\"-1.5\").greaterThanOrEqual(decimal(\"-1.5000\"))", Some(true)),
            ("decimal(\"1.5\") == decimal(\"1.5000\") && !decimal(\"1.5\").greaterThan(decimal(\"2.0\"))", Some(true)),
            ("decimal(\"-0.5\").lessThanOrEqual(decimal(\"0.0\"))", Some(true)),
            ("decimal(\"1.5\").lessThanOrEqual(decimal(\"1.50001\"))", None),
            ("decimal(\"1.5\") < decimal(\"2.0\")", None),
            ("decimal(\"922337203685477.5808\") == decimal(\"1.0\")", None),
            // ipaddr.
            ("ip(\"10.0.0.1\").isInRange(ip(\"10.0.0.0/8\")) && !ip(\"10.0.0.1\").isInRange(ip(\"::1\"))", Some(true)),
            ("ip(\"::1\").isLoopback() && ip(\"224.0.0.1\").isMulticast() && ip(\"::1\").isIpv6() && !ip(\"::1\").isIpv4()", Some(true)),
            ("ip(\"10.0.0.1\") == ip(\"10.0.0.1/32\") && ip(\"10.0.0.1/24\") != ip(\"10.0.0.0/24\")", Some(true)),
            ("ip(\"1.2.3.4/33\").isIpv4()", None),
            ("ip(\"10.0.0.1\") < ip(\"10.0.0.2\")", None),
            ("ip(principal.kind).isIpv4()", None),
        ];
        for (condition, expected) in cases {
            let expected = expected.ok_or(ExprError);
            for effect in ["permit", "forbid"] {
                let policy = format!("{effect} (principal, action, resource) when {{ {condition} }};");
                let (fast, slow) = both(&p, &policy, &u, None, "a:y");
                assert_eq!((fast, slow), (expected, expected), "{policy}");
            }
        }
    }

    /// Random datetime and duration expressions — invalid texts, constructors
    /// on attribute values, overflow near both ends of `i64`, type errors —
    /// that a validated policy could never hold (strict validation refuses
    /// invalid literals and non-literal constructor arguments) but Cedar
    /// evaluates all the same: the native verdict is Cedar's on each, for
    /// identities with and without the attributes, at instants on and off
    /// midnight and on both sides of the Unix epoch.
    #[test]
    fn random_extension_expressions_agree_with_cedar() {
        struct Gen(u64);
        impl Gen {
            fn below(&mut self, n: usize) -> usize {
                self.0 ^= self.0 << 13;
                self.0 ^= self.0 >> 7;
                self.0 ^= self.0 << 17;
                (self.0 % n as u64) as usize
            }
            fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
                items[self.below(items.len())]
            }
        }
        const DATETIMES: &[&str] = &[
            "2026-11-21",
            "2026-11-21T12:30:00Z",
            "1969-12-31T23:59:59.999Z",
            "0000-01-01",
            "9999-12-31T23:59:59.999-2359",
            "2026-02-29",
            "2026-11-21T24:00:00Z",
            "2026-11-21T12:30:00",
            "bad",
            "",
        ];
        const DURATIONS: &[&str] = &[
            "1d",
            "-1d",
            "12h",
            "30d",
            "1d2h3m4s5ms",
            "-1ms",
            "0ms",
            "9223372036854775807ms",
            "-9223372036854775808ms",
            "106751991167d",
            "106751991168d",
            "1h1d",
            "-",
            "",
        ];
        fn datetime(g: &mut Gen, depth: usize) -> String {
            match g.below(if depth == 0 { 5 } else { 9 }) {
                0 => "context.now".into(),
                1 => "principal.end".into(),
                2 => format!("datetime({:?})", g.pick(DATETIMES)),
                3 => "datetime(principal.note)".into(),
                4 => g.pick(&["duration(\"1d\")", "5", "\"2026-11-21\"", "principal"]).into(),
                5 | 6 => format!("{}.offset({})", datetime(g, depth - 1), duration(g, depth - 1)),
                _ => format!("{}.toDate()", datetime(g, depth - 1)),
            }
        }
        fn duration(g: &mut Gen, depth: usize) -> String {
            match g.below(if depth == 0 { 3 } else { 6 }) {
                0 | 1 => format!("duration({:?})", g.pick(DURATIONS)),
                2 => g
                    .pick(&["duration(principal.note)", "duration(principal.level)", "context.now"])
                    .into(),
                3 | 4 => format!("{}.durationSince({})", datetime(g, depth - 1), datetime(g, depth - 1)),
                _ => format!("{}.toTime()", datetime(g, depth - 1)),
            }
        }
        fn condition(g: &mut Gen, depth: usize) -> String {
            let op = g.pick(&["<", "<=", ">", ">=", "==", "!="]);
            match g.below(if depth == 0 { 4 } else { 7 }) {
                0 => format!("{} {op} {}", datetime(g, 2), datetime(g, 2)),
                1 => format!("{} {op} {}", duration(g, 2), duration(g, 2)),
                2 => format!(
                    "{}.{}() {op} {}",
                    duration(g, 2),
                    g.pick(&["toMilliseconds", "toSeconds", "toMinutes", "toHours", "toDays"]),
                    g.pick(&["0", "-1", "324", "86399999", "principal.level"])
                ),
                3 => format!("[{}, {}].contains({})", datetime(g, 1), duration(g, 1), datetime(g, 1)),
                4 => format!("({}) && ({})", condition(g, depth - 1), condition(g, depth - 1)),
                5 => format!("({}) || ({})", condition(g, depth - 1), condition(g, depth - 1)),
                _ => format!(
                    "if principal has end then {} else !({})",
                    condition(g, depth - 1),
                    condition(g, depth - 1)
                ),
            }
        }
        let p = project();
        let people = [
            serde_json::json!({"id": "u", "kind": "person", "attributes": {"status": "active", "level": 3, "end": "2026-01-01", "note": "2026-11-20T12:00:00Z"}}),
            serde_json::json!({"id": "v", "kind": "person", "attributes": {"status": "active", "end": "1969-12-31T23:00:00Z", "note": "bad"}}),
            serde_json::json!({"id": "w", "kind": "person", "attributes": {"status": "terminated"}}),
        ]
        .map(|j| identity(&p, j));
        let instants = [
            "2026-11-21",
            "2026-11-21T13:45:10.123Z",
            "1969-12-31T06:00:00Z",
            "0000-01-01",
            "9999-12-31T23:59:59.999Z",
        ]
        .map(|t| Instant::parse(t).unwrap());
        let mut g = Gen(0x9e37_79b9_7f4a_7c15);
        let mut outcomes = [0usize; 3];
        for _ in 0..600 {
            let policy = format!("forbid (principal, action, resource) when {{ {} }};", condition(&mut g, 2));
            for (who, at) in people.iter().zip(instants.iter().cycle().skip(g.below(instants.len()))) {
                let (fast, slow) = both_at(&p, &policy, who, None, "a:y", *at);
                assert_eq!(fast, slow, "{policy} for {} at {at}", who.id);
                outcomes[match fast {
                    Ok(true) => 0,
                    Ok(false) => 1,
                    Err(_) => 2,
                }] += 1;
            }
        }
        assert!(outcomes.iter().all(|n| *n > 150), "true, false, error: {outcomes:?}");
    }

    #[test]
    fn what_is_not_modelled_stays_on_the_cedar_path() {
        let p = project();
        for condition in [
            "{a: 1}.a == 1",
            "principal.hasTag(\"x\")",
            "context has now && {now: context.now}.now < datetime(\"2026-01-01\")",
        ] {
            let set = PolicySet::from_str(&format!("forbid (principal, action, resource) when {{ {condition} }};")).unwrap();
            let json = set.policies().next().unwrap().to_json().unwrap();
            assert!(NativePolicy::compile(&json, p.catalog()).is_err(), "{condition}");
        }
    }

    #[test]
    fn like_patterns() {
        let p = |s: &str| -> Vec<Pattern> {
            s.chars()
                .map(|c| if c == '*' { Pattern::Wildcard } else { Pattern::Char(c) })
                .collect()
        };
        assert!(like(&p("FIN-*"), "FIN-110"));
        assert!(like(&p("*a*b"), "xxaxxb"));
        assert!(!like(&p("*a*b"), "xxaxxbc"));
        assert!(like(&p(""), ""));
        assert!(!like(&p(""), "a"));
        assert!(like(&[Pattern::Char('*')], "*"));
        assert!(!like(&[Pattern::Char('*')], "a"));
    }
}
