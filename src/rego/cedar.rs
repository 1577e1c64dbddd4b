//! Cedar (the JSON form of a policy or expression) → Rego predicates, with
//! Cedar's error semantics.
//!
//! Cedar evaluates a condition to true, false or an *error*, and an error
//! makes the whole policy not apply — also under `!`, where Rego's `not`
//! would turn "undefined" into true. So every boolean expression `e` becomes
//! two predicates: `T(e)` (evaluates to true) and `F(e)` (evaluates to false
//! without error); neither holds where Cedar errs. Values are bound to
//! variables first (`v1 := ...`), so a value that Cedar could not compute
//! (an absent attribute, no owner) leaves both predicates false.
//!
//! What it covers: literals, `principal` / `resource` / `action` /
//! `context.now`, attributes and `has` of the identity, its owner, the
//! resource and static entities, `==`, `!=`, `<`, `<=`, `>`, `>=`, `&&`,
//! `||`, `!`, `if`, `in` (the role and package hierarchies), `is`, `like`,
//! set literals, `contains`, `containsAll`, `containsAny`, `isEmpty`, and
//! the `datetime` / `duration` extension (literals, `offset`,
//! `durationSince`, `toMilliseconds`), and `+`, `-`, `*` with Cedar's
//! 64-bit overflow errors. Anything else (records,
//! tags, `decimal`, `ip`, other `datetime` methods, template slots) is
//! reported as [`Unsupported`], and the caller leaves the policy out.

use std::str::FromStr;

use serde_json::Value as Json;

use crate::model::{AttrType, Definitions};

use super::body::{Helpers, Pred};
use super::{rego_str, uid_term};

/// A construct the translation does not cover, described for a person.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Unsupported(pub(super) String);

type Tr<T> = Result<T, Unsupported>;

fn unsupported<T>(what: impl Into<String>) -> Tr<T> {
    Err(Unsupported(what.into()))
}

/// Which entity a value is, as far as the translation can tell.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ent {
    /// The identity asked about.
    Principal,
    /// Its owner (present only when the owner's record is known).
    Owner,
    /// The entitlement asked about.
    Resource,
    /// `Action::"hold"`.
    Action,
    /// A static entity (application, entitlement, package, role) or an
    /// identity named by literal; its type when known.
    Other(Option<String>),
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Ty {
    Bool,
    Long,
    Str,
    /// `datetime` and `duration`, both milliseconds.
    Time,
    Set,
    Context,
    Entity(Ent),
}

/// A value: the statements that compute it (all hold iff Cedar computes it
/// without error) and the Rego term that then denotes it.
#[derive(Debug, Clone)]
struct Val {
    stmts: Vec<String>,
    term: String,
    ty: Ty,
}

/// The largest and smallest milliseconds a Cedar `datetime` or `duration`
/// holds (its 64-bit range); a result beyond them is an overflow error.
const I64_BOUNDS: (&str, &str) = ("-9223372036854775808", "9223372036854775807");

/// Translates Cedar expressions in one context (a role condition, or a
/// guardrail rule whose parameter `res` is the candidate entitlement id).
pub(super) struct Translator<'a> {
    pub(super) defs: &'a Definitions,
    pub(super) helpers: &'a mut Helpers,
    /// Is `resource` bound (guardrails), or absent (role conditions)?
    pub(super) resource: bool,
    /// Which of the module's shared rules the translation used.
    pub(super) uses: &'a mut Uses,
}

/// The shared rules a translation refers to, so the module writes only those.
#[derive(Debug, Default, Clone, Copy)]
pub(super) struct Uses {
    pub(super) principal_uid: bool,
    pub(super) owner_uid: bool,
    pub(super) principal_in: bool,
    pub(super) owner_in: bool,
}

impl Translator<'_> {
    /// `T(e)`: the expression evaluates to true.
    pub(super) fn truth(&mut self, e: &Json) -> Tr<Pred> {
        self.boolean(e, true)
    }

    /// `F(e)`: the expression evaluates to false, without error.
    pub(super) fn falsity(&mut self, e: &Json) -> Tr<Pred> {
        self.boolean(e, false)
    }

    /// A whole policy's condition: its scope, then each `when` and `unless`
    /// in order, conjoined with `&&`'s error semantics.
    pub(super) fn policy(&mut self, policy: &Json) -> Tr<Pred> {
        let mut parts = Vec::new();
        for (var, ent) in [("principal", Ent::Principal), ("action", Ent::Action), ("resource", Ent::Resource)] {
            parts.push(self.scope(policy.get(var).unwrap_or(&Json::Null), ent)?);
        }
        let mut out = self.helpers.all(parts);
        for condition in policy.get("conditions").and_then(Json::as_array).into_iter().flatten() {
            let body = condition.get("body").unwrap_or(&Json::Null);
            // T(a && b) = T(a) ∧ T(b); `unless { e }` is `!e`.
            let t = match condition.get("kind").and_then(Json::as_str) {
                Some("when") => self.truth(body)?,
                Some("unless") => self.falsity(body)?,
                other => return unsupported(format!("a condition of kind {other:?}")),
            };
            out = self.helpers.and(out, t);
        }
        Ok(out)
    }

    fn scope(&mut self, c: &Json, ent: Ent) -> Tr<Pred> {
        if ent == Ent::Action {
            // One action, with no parents: decided here.
            let hold = |e: &Json| {
                let e = e.get("__entity").unwrap_or(e);
                e.get("type").and_then(Json::as_str) == Some("Action") && e.get("id").and_then(Json::as_str) == Some("hold")
            };
            let holds = match (c.get("op").and_then(Json::as_str), c.get("entity"), c.get("entities")) {
                (Some("All"), _, _) => true,
                (Some("==" | "in"), Some(e), _) => hold(e),
                (Some("in"), None, Some(Json::Array(list))) => list.iter().any(hold),
                (other, _, _) => return unsupported(format!("an action scope {other:?}")),
            };
            return Ok(if holds { Pred::always() } else { Pred::never() });
        }
        let left = self.entity_val(ent);
        match c.get("op").and_then(Json::as_str) {
            Some("All") => Ok(Pred::always()),
            Some("==") => {
                let right = self.entity_literal(c.get("entity"))?;
                Ok(Pred::stmt(format!("{} == {}", left.term, right.term)))
            }
            Some("in") => {
                let right = match (c.get("entity"), c.get("entities")) {
                    (Some(e), _) => self.entity_literal(Some(e))?,
                    (None, Some(Json::Array(list))) => {
                        let items = list.iter().map(|e| self.entity_literal(Some(e))).collect::<Tr<Vec<_>>>()?;
                        set_of(items)
                    }
                    _ => return unsupported("a template slot"),
                };
                self.within(&left, &right)
            }
            Some("is") => {
                let ty = c.get("entity_type").and_then(Json::as_str).unwrap_or_default().to_string();
                let is = Pred::stmt(format!("{}.type == {}", left.term, rego_str(&ty)));
                match c.get("in") {
                    None => Ok(is),
                    Some(inner) => {
                        let right = self.entity_literal(inner.get("entity"))?;
                        let within = self.within(&left, &right)?;
                        Ok(self.helpers.and(is, within))
                    }
                }
            }
            other => unsupported(format!("a scope constraint {other:?}")),
        }
    }

    fn boolean(&mut self, e: &Json, want: bool) -> Tr<Pred> {
        let (op, arg) = single_key(e)?;
        match op {
            "Value" => match arg {
                Json::Bool(b) => Ok(if *b == want { Pred::always() } else { Pred::never() }),
                _ => unsupported("a non-boolean literal as a condition"),
            },
            "&&" | "||" => {
                let (left, right) = (field(arg, "left")?, field(arg, "right")?);
                // T(a && b) = T(a) ∧ T(b);  F(a && b) = F(a) ∨ (T(a) ∧ F(b)); dually for ||.
                let short = op == "||";
                if want != short {
                    let a = self.boolean(left, want)?;
                    let b = self.boolean(right, want)?;
                    Ok(self.helpers.and(a, b))
                } else {
                    let a_short = self.boolean(left, want)?;
                    let a_on = self.boolean(left, !want)?;
                    let b = self.boolean(right, want)?;
                    let rest = self.helpers.and(a_on, b);
                    Ok(Helpers::or(a_short, rest))
                }
            }
            "!" => self.boolean(field(arg, "arg")?, !want),
            "if-then-else" => {
                let (c, t, f) = (field(arg, "if")?, field(arg, "then")?, field(arg, "else")?);
                let yes = self.truth(c)?;
                let then = self.boolean(t, want)?;
                let no = self.falsity(c)?;
                let otherwise = self.boolean(f, want)?;
                let a = self.helpers.and(yes, then);
                let b = self.helpers.and(no, otherwise);
                Ok(Helpers::or(a, b))
            }
            _ => {
                let (stmts, tests) = self.test(e)?;
                let holds = self.helpers.and(Pred::body(stmts.clone()), tests.clone());
                if want {
                    return Ok(holds);
                }
                // Every operand computed, and the test does not hold.
                let negated = match tests.0.as_slice() {
                    [body] if body.len() == 1 => self.helpers.not(tests),
                    _ => {
                        let call = self.helpers.statement(holds);
                        self.helpers.not(Pred::stmt(call))
                    }
                };
                Ok(self.helpers.and(Pred::body(stmts), negated))
            }
        }
    }

    /// A boolean leaf: the statements that compute its operands, and (given
    /// those) when it holds. `T = stmts ∧ test`.
    fn test(&mut self, e: &Json) -> Tr<(Vec<String>, Pred)> {
        let (op, arg) = single_key(e)?;
        let two = |this: &mut Self| -> Tr<(Val, Val)> { Ok((this.value(field(arg, "left")?)?, this.value(field(arg, "right")?)?)) };
        match op {
            "==" | "!=" => {
                let (l, r) = two(self)?;
                if matches!(l.ty, Ty::Context) || matches!(r.ty, Ty::Context) {
                    return unsupported("comparing records");
                }
                let rel = if op == "==" { "==" } else { "!=" };
                let stmts = stmts_of(&[&l, &r]);
                Ok((stmts, Pred::stmt(format!("{} {rel} {}", l.term, r.term))))
            }
            "<" | "<=" | ">" | ">=" => {
                let (l, r) = two(self)?;
                let stmts = stmts_of(&[&l, &r]);
                Ok((stmts, Pred::stmt(format!("{} {op} {}", l.term, r.term))))
            }
            "in" => {
                let (l, r) = two(self)?;
                let stmts = stmts_of(&[&l, &r]);
                Ok((stmts, self.within(&l, &r)?))
            }
            "contains" => {
                let (l, r) = two(self)?;
                Ok((stmts_of(&[&l, &r]), Pred::stmt(format!("{} in {}", r.term, l.term))))
            }
            "containsAll" => {
                let (l, r) = two(self)?;
                let z = self.helpers.var();
                Ok((
                    stmts_of(&[&l, &r]),
                    Pred::stmt(format!("count({{{z} | some {z} in {}; not {z} in {}}}) == 0", r.term, l.term)),
                ))
            }
            "containsAny" => {
                let (l, r) = two(self)?;
                let z = self.helpers.var();
                let p = Pred::body(vec![format!("some {z} in {}", r.term), format!("{z} in {}", l.term)]);
                Ok((stmts_of(&[&l, &r]), p))
            }
            "isEmpty" => {
                let v = self.value(field(arg, "arg")?)?;
                Ok((v.stmts.clone(), Pred::stmt(format!("count({}) == 0", v.term))))
            }
            "has" => {
                let v = self.has(arg)?;
                Ok((v.stmts, Pred::stmt(v.term)))
            }
            "like" => {
                let v = self.value(field(arg, "left")?)?;
                let pattern = field(arg, "pattern")?.as_array().cloned().unwrap_or_default();
                let test = like(&v.term, &pattern);
                Ok((v.stmts, test))
            }
            "is" => {
                let v = self.value(field(arg, "left")?)?;
                let ty = field(arg, "entity_type")?.as_str().unwrap_or_default().to_string();
                let is = Pred::stmt(format!("{}.type == {}", v.term, rego_str(&ty)));
                match arg.get("in") {
                    None => Ok((v.stmts, is)),
                    Some(inner) => {
                        let right = self.value(inner)?;
                        let stmts = stmts_of(&[&v, &right]);
                        let within = self.within(&v, &right)?;
                        Ok((stmts, self.helpers.and(is, within)))
                    }
                }
            }
            _ => {
                // Any other boolean-valued expression (an attribute, say).
                let v = self.value(e)?;
                if v.ty != Ty::Bool {
                    return unsupported(format!("`{op}` as a condition"));
                }
                Ok((v.stmts, Pred::stmt(format!("{} == true", v.term))))
            }
        }
    }

    /// `left in right`, given both computed: equal, or `right` is among
    /// `left`'s ancestors (for a set, any member).
    fn within(&mut self, left: &Val, right: &Val) -> Tr<Pred> {
        let ancestors = self.ancestors(left)?;
        let (lt, rt) = (entity_type(&left.ty), entity_type(&right.ty));
        if right.ty != Ty::Set && lt.is_some() && rt.is_some() && lt != rt {
            // Entities of two types are never equal.
            return Ok(Pred::stmt(format!("{} in {ancestors}", right.term)));
        }
        Ok(if right.ty == Ty::Set {
            let z = self.helpers.var();
            Pred(vec![
                vec![format!("{} in {}", left.term, right.term)],
                vec![format!("some {z} in {}", right.term), format!("{z} in {ancestors}")],
            ])
        } else {
            Pred(vec![
                vec![format!("{} == {}", left.term, right.term)],
                vec![format!("{} in {ancestors}", right.term)],
            ])
        })
    }

    /// The Rego term for an entity's ancestors (Cedar's `in` closure).
    fn ancestors(&mut self, v: &Val) -> Tr<String> {
        let Ty::Entity(ent) = &v.ty else {
            return unsupported("`in` on a value that is not an entity");
        };
        Ok(match ent {
            Ent::Principal => {
                self.uses.principal_in = true;
                "principal_in".into()
            }
            Ent::Owner => {
                self.uses.owner_in = true;
                "owner_in".into()
            }
            Ent::Resource => "data.catalog.entities.Entitlement[res][\"in\"]".into(),
            Ent::Action => "set()".into(),
            Ent::Other(Some(t)) if t == "Identity" => return unsupported("the roles of an identity named by literal"),
            Ent::Other(_) => format!("object.get(data.catalog.entities, [{t}.type, {t}.id, \"in\"], [])", t = v.term),
        })
    }

    fn entity_val(&mut self, ent: Ent) -> Val {
        let term = match &ent {
            Ent::Principal => {
                self.uses.principal_uid = true;
                "principal_uid".to_string()
            }
            Ent::Resource => uid_term("Entitlement", "res", false),
            Ent::Action => uid_term("Action", "hold", true),
            Ent::Owner | Ent::Other(_) => String::new(),
        };
        Val {
            stmts: Vec::new(),
            term,
            ty: Ty::Entity(ent),
        }
    }

    fn entity_literal(&mut self, e: Option<&Json>) -> Tr<Val> {
        let Some(e) = e else {
            return unsupported("a template slot");
        };
        let e = e.get("__entity").unwrap_or(e);
        let (Some(ty), Some(id)) = (e.get("type").and_then(Json::as_str), e.get("id").and_then(Json::as_str)) else {
            return unsupported("an entity reference without a type and id");
        };
        Ok(Val {
            stmts: Vec::new(),
            term: uid_term(ty, id, true),
            ty: Ty::Entity(match ty {
                "Action" if id == "hold" => Ent::Action,
                _ => Ent::Other(Some(ty.to_string())),
            }),
        })
    }

    fn bind(&mut self, mut stmts: Vec<String>, term: String, ty: Ty) -> Val {
        let v = self.helpers.var();
        stmts.push(format!("{v} := {term}"));
        Val { stmts, term: v, ty }
    }

    fn value(&mut self, e: &Json) -> Tr<Val> {
        let (op, arg) = single_key(e)?;
        match op {
            "Value" => self.literal(arg),
            "Var" => match arg.as_str() {
                Some("principal") => Ok(self.entity_val(Ent::Principal)),
                Some("resource") if self.resource => Ok(self.entity_val(Ent::Resource)),
                Some("resource") => unsupported("`resource` in a role condition"),
                Some("action") => Ok(self.entity_val(Ent::Action)),
                Some("context") => Ok(Val {
                    stmts: Vec::new(),
                    term: "input".into(),
                    ty: Ty::Context,
                }),
                other => unsupported(format!("the variable {other:?}")),
            },
            "." => {
                let left = self.value(field(arg, "left")?)?;
                let attr = field(arg, "attr")?.as_str().unwrap_or_default().to_string();
                self.get_attr(left, &attr)
            }
            "Set" => {
                let items = arg
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|i| self.value(i))
                    .collect::<Tr<Vec<_>>>()?;
                Ok(set_of(items))
            }
            "datetime" | "duration" => {
                let text = match arg.as_array().map(Vec::as_slice) {
                    Some([one]) => one.get("Value").and_then(Json::as_str).map(str::to_string),
                    _ => None,
                };
                let Some(text) = text else {
                    return unsupported(format!("`{op}` of a value that is not a literal"));
                };
                Ok(match extension_millis(op, &text) {
                    Some(ms) => Val {
                        stmts: Vec::new(),
                        term: ms.to_string(),
                        ty: Ty::Time,
                    },
                    // Cedar errs on this literal every time.
                    None => Val {
                        stmts: vec!["false".into()],
                        term: "0".into(),
                        ty: Ty::Time,
                    },
                })
            }
            "offset" | "durationSince" => {
                let args = arg.as_array().cloned().unwrap_or_default();
                let [a, b] = args.as_slice() else {
                    return unsupported(format!("`{op}` without two operands"));
                };
                let (a, b) = (self.value(a)?, self.value(b)?);
                let sign = if op == "offset" { "+" } else { "-" };
                let v = self.bind(stmts_of(&[&a, &b]), format!("{} {sign} {}", a.term, b.term), Ty::Time);
                Ok(in_i64(v))
            }
            "+" | "-" | "*" => {
                let (a, b) = (self.value(field(arg, "left")?)?, self.value(field(arg, "right")?)?);
                let v = self.bind(stmts_of(&[&a, &b]), format!("{} {op} {}", a.term, b.term), Ty::Long);
                Ok(in_i64(v))
            }
            "neg" => {
                let a = self.value(field(arg, "arg")?)?;
                let v = self.bind(a.stmts, format!("0 - {}", a.term), Ty::Long);
                Ok(in_i64(v))
            }
            "toMilliseconds" => match arg.as_array().map(Vec::as_slice) {
                Some([one]) => self.value(one),
                _ => unsupported("`toMilliseconds` without one operand"),
            },
            "has" => {
                let v = self.has(arg)?;
                let term = format!("({})", v.term);
                Ok(Val { term, ..v })
            }
            other => unsupported(format!("`{other}`")),
        }
    }

    fn literal(&mut self, v: &Json) -> Tr<Val> {
        let (term, ty) = match v {
            Json::Bool(b) => (b.to_string(), Ty::Bool),
            Json::Number(n) => (n.to_string(), Ty::Long),
            Json::String(s) => (rego_str(s), Ty::Str),
            Json::Array(items) => {
                let vals = items.iter().map(|i| self.literal(i)).collect::<Tr<Vec<_>>>()?;
                return Ok(set_of(vals));
            }
            Json::Object(m) if m.contains_key("__entity") => return self.entity_literal(Some(v)),
            _ => return unsupported("a record or extension literal"),
        };
        Ok(Val {
            stmts: Vec::new(),
            term,
            ty,
        })
    }

    fn get_attr(&mut self, left: Val, attr: &str) -> Tr<Val> {
        let Ty::Entity(ent) = left.ty.clone() else {
            if left.ty == Ty::Context && attr == "now" {
                return Ok(Val {
                    stmts: left.stmts,
                    term: "input.now".into(),
                    ty: Ty::Time,
                });
            }
            return unsupported(format!("the attribute `{attr}` of a record"));
        };
        match ent {
            Ent::Principal | Ent::Owner => {
                let (doc, mut stmts) = match ent {
                    Ent::Principal => ("input.identity".to_string(), left.stmts),
                    _ => ("input.owner".to_string(), self.owner_present(left.stmts)),
                };
                match attr {
                    "kind" => Ok(self.bind(stmts, format!("{doc}.kind"), Ty::Str)),
                    // An owner's own owner is not in the store: reading it errs.
                    "owner" if ent == Ent::Owner => Ok(Val {
                        stmts: vec!["false".into()],
                        term: "null".into(),
                        ty: Ty::Entity(Ent::Other(Some("Identity".into()))),
                    }),
                    "owner" => {
                        self.uses.owner_uid = true;
                        Ok(self.bind(stmts, "owner_uid".into(), Ty::Entity(Ent::Owner)))
                    }
                    _ => {
                        let Some(def) = self.defs.identity.attributes.get(attr) else {
                            stmts.push("false".into());
                            return Ok(Val {
                                stmts,
                                term: "null".into(),
                                ty: Ty::Bool,
                            });
                        };
                        let term = format!("{doc}.attributes[{}]", rego_str(attr));
                        Ok(match def.ty {
                            AttrType::Set => {
                                let raw = self.bind(stmts, term, Ty::Set);
                                let x = self.helpers.var();
                                self.bind(raw.stmts, format!("{{{x} | some {x} in {}}}", raw.term), Ty::Set)
                            }
                            AttrType::Int => self.bind(stmts, term, Ty::Long),
                            AttrType::Bool => self.bind(stmts, term, Ty::Bool),
                            AttrType::Date => self.bind(stmts, term, Ty::Time),
                            AttrType::String | AttrType::Enum(_) => self.bind(stmts, term, Ty::Str),
                        })
                    }
                }
            }
            Ent::Resource | Ent::Other(_) => {
                if matches!(&ent, Ent::Other(Some(t)) if t == "Identity") {
                    return unsupported("the attributes of an identity named by literal");
                }
                let base = match ent {
                    Ent::Resource => "data.catalog.entities.Entitlement[res]".to_string(),
                    _ => format!("data.catalog.entities[{t}.type][{t}.id]", t = left.term),
                };
                let ty = match attr {
                    "privileged" => Ty::Bool,
                    "application" => Ty::Entity(Ent::Other(Some("Application".into()))),
                    // No other static entity has attributes: reading one errs.
                    _ => Ty::Bool,
                };
                Ok(self.bind(left.stmts, format!("{base}.attrs[{}]", rego_str(attr)), ty))
            }
            Ent::Action => Ok(Val {
                stmts: vec!["false".into()],
                term: "null".into(),
                ty: Ty::Bool,
            }),
        }
    }

    /// The owner is in the store (its record known): reading through `principal.owner` works.
    fn owner_present(&mut self, mut stmts: Vec<String>) -> Vec<String> {
        self.uses.owner_uid = true;
        if !stmts.iter().any(|s| s.ends_with(":= owner_uid")) {
            let v = self.helpers.var();
            stmts.push(format!("{v} := owner_uid"));
        }
        stmts
    }

    /// `left has attr`, as a boolean value (Cedar: a missing entity has nothing).
    fn has(&mut self, arg: &Json) -> Tr<Val> {
        let left = self.value(field(arg, "left")?)?;
        let Some(attr) = field(arg, "attr")?.as_str().map(str::to_string) else {
            return unsupported("`has` of an attribute path");
        };
        let constant = |stmts: Vec<String>, b: bool| Val {
            stmts,
            term: b.to_string(),
            ty: Ty::Bool,
        };
        let present = |stmts: Vec<String>, doc: &str, key: &str| Val {
            stmts,
            term: format!("object.get({doc}, {}, null) != null", rego_str(key)),
            ty: Ty::Bool,
        };
        Ok(match left.ty.clone() {
            Ty::Context => constant(left.stmts, attr == "now"),
            Ty::Entity(Ent::Principal) => match attr.as_str() {
                "kind" => constant(left.stmts, true),
                "owner" => present(left.stmts, "input", "owner"),
                _ => present(left.stmts, "input.identity.attributes", &attr),
            },
            Ty::Entity(Ent::Owner) => {
                let stmts = self.owner_present(left.stmts);
                match attr.as_str() {
                    "kind" => constant(stmts, true),
                    "owner" => constant(stmts, false),
                    _ => present(stmts, "input.owner.attributes", &attr),
                }
            }
            Ty::Entity(Ent::Resource) => constant(left.stmts, matches!(attr.as_str(), "privileged" | "application")),
            Ty::Entity(Ent::Action) => constant(left.stmts, false),
            Ty::Entity(Ent::Other(Some(t))) if t == "Identity" => return unsupported("`has` on an identity named by literal"),
            Ty::Entity(Ent::Other(_)) => Val {
                term: format!(
                    "object.get(data.catalog.entities, [{t}.type, {t}.id, \"attrs\", {}], null) != null",
                    rego_str(&attr),
                    t = left.term
                ),
                stmts: left.stmts,
                ty: Ty::Bool,
            },
            _ => return unsupported("`has` on a value that is not an entity or record"),
        })
    }
}

/// Cedar's longs, datetimes and durations are 64-bit: a result past them is
/// an overflow error. (Rego's integers are exact, so the check is too.)
fn in_i64(mut v: Val) -> Val {
    v.stmts.push(format!("{} <= {}", v.term, I64_BOUNDS.1));
    v.stmts.push(format!("{} >= {}", v.term, I64_BOUNDS.0));
    v
}

/// The entity type of a value, when the translation knows it.
fn entity_type(ty: &Ty) -> Option<&str> {
    match ty {
        Ty::Entity(Ent::Principal | Ent::Owner) => Some("Identity"),
        Ty::Entity(Ent::Resource) => Some("Entitlement"),
        Ty::Entity(Ent::Action) => Some("Action"),
        Ty::Entity(Ent::Other(Some(t))) => Some(t),
        _ => None,
    }
}

fn set_of(items: Vec<Val>) -> Val {
    let stmts = stmts_of(&items.iter().collect::<Vec<_>>());
    let term = if items.is_empty() {
        "set()".to_string()
    } else {
        format!("{{{}}}", items.iter().map(|v| v.term.as_str()).collect::<Vec<_>>().join(", "))
    };
    Val { stmts, term, ty: Ty::Set }
}

fn stmts_of(vals: &[&Val]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for v in vals {
        for s in &v.stmts {
            if !out.contains(s) {
                out.push(s.clone());
            }
        }
    }
    out
}

fn single_key(e: &Json) -> Tr<(&str, &Json)> {
    match e.as_object().map(|m| m.iter().collect::<Vec<_>>()).as_deref() {
        Some([(k, v)]) => Ok((k.as_str(), v)),
        _ => unsupported("an expression of an unknown shape"),
    }
}

fn field<'j>(e: &'j Json, name: &str) -> Tr<&'j Json> {
    e.get(name).ok_or_else(|| Unsupported(format!("an expression without `{name}`")))
}

/// Milliseconds of a `datetime` (since the epoch) or `duration` literal,
/// as Cedar itself reads it; `None` where Cedar errs.
fn extension_millis(function: &str, text: &str) -> Option<i64> {
    let lit = crate::compile::expr::string_lit(text);
    let source = match function {
        "datetime" => format!("datetime({lit}).durationSince(datetime(\"1970-01-01\")).toMilliseconds()"),
        _ => format!("duration({lit}).toMilliseconds()"),
    };
    let expr = cedar_policy::Expression::from_str(&source).ok()?;
    let uid = |t: &str| cedar_policy::EntityUid::from_str(&format!("{t}::\"x\"")).ok();
    let request = cedar_policy::Request::new(uid("P")?, uid("A")?, uid("R")?, cedar_policy::Context::empty(), None).ok()?;
    match cedar_policy::eval_expression(&request, &cedar_policy::Entities::empty(), &expr).ok()? {
        cedar_policy::EvalResult::Long(ms) => Some(ms),
        _ => None,
    }
}

/// Cedar's `like` on the string `term`: `*` matches any run of characters.
pub(super) fn like(term: &str, pattern: &[Json]) -> Pred {
    // Literal runs between wildcards.
    let mut parts: Vec<String> = vec![String::new()];
    for elem in pattern {
        match elem {
            Json::String(w) if w == "Wildcard" => parts.push(String::new()),
            Json::Object(m) => match m.get("Literal").and_then(Json::as_str) {
                Some(s) => {
                    if let Some(last) = parts.last_mut() {
                        last.push_str(s);
                    }
                }
                // (Cedar writes no other shape.)
                None => return Pred::never(),
            },
            _ => return Pred::never(),
        }
    }
    match parts.as_slice() {
        [exact] => Pred::stmt(format!("{term} == {}", rego_str(exact))),
        [prefix, suffix] if suffix.is_empty() => Pred::stmt(format!("startswith({term}, {})", rego_str(prefix))),
        [prefix, suffix] if prefix.is_empty() => Pred::stmt(format!("endswith({term}, {})", rego_str(suffix))),
        [prefix, suffix] => Pred::body(vec![
            format!("startswith({term}, {})", rego_str(prefix)),
            format!("endswith({term}, {})", rego_str(suffix)),
            format!("count({term}) >= {}", prefix.chars().count() + suffix.chars().count()),
        ]),
        _ => {
            let regex: Vec<String> = parts.iter().map(|p| regex_escape(p)).collect();
            Pred::stmt(format!("regex.match({}, {term})", rego_str(&format!("(?s)^{}$", regex.join(".*")))))
        }
    }
}

/// `text` as a regular expression that matches exactly it.
pub(super) fn regex_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if "\\.+*?()|[]{}^$#&-~".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}
