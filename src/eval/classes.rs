//! Resource classes: entitlements that no guardrail can tell apart.
//!
//! A guardrail sees an entitlement only through what it reads of `resource`.
//! When every guardrail reads it only as `resource.privileged`,
//! `resource.application`, `resource has …`, `resource is …`, `resource in
//! <literals>` or `resource == <literal>`, two entitlements with the same
//! `privileged`, the same application, the same membership in every entity
//! the guardrails name, and not named themselves, get the same answer from
//! every guardrail — so the engine asks Cedar once per class, not once per
//! entitlement. Any other use of `resource` turns classes off (one class per
//! entitlement), which is always exact.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::Value;

use crate::catalog::{DenseId, EntitlementId};

/// What the guardrails can observe of an entitlement.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct Signature {
    privileged: bool,
    application: String,
    /// Named entities (`Type::"id"`) the entitlement is in, itself included.
    member_of: Vec<String>,
    /// The entitlement's own id, when a guardrail names it.
    named: Option<String>,
}

/// What the guardrails read of `resource`.
#[derive(Debug, Default)]
struct Observed {
    /// Entities named as `in`/`==` targets, as `Type::"id"`.
    entities: BTreeSet<String>,
    /// `resource.privileged` is read.
    privileged: bool,
    /// `resource.application` is read.
    application: bool,
}

/// Entitlements grouped into classes the guardrails cannot tell apart.
#[derive(Debug, Clone, Default)]
pub struct ResourceClasses {
    /// By entitlement id (catalog order).
    class_of: Vec<u32>,
}

impl ResourceClasses {
    /// Classes for `entitlements`, in catalog order (id, privileged,
    /// application, ancestors as `Type::"id"`), under the guardrails' JSON forms.
    pub fn new<'a, A: std::borrow::Borrow<BTreeSet<String>>>(
        guardrails: impl IntoIterator<Item = &'a Value>,
        entitlements: impl IntoIterator<Item = (&'a str, bool, &'a str, A)>,
    ) -> ResourceClasses {
        let mut observed = Observed::default();
        let mut exact = true;
        for policy in guardrails {
            exact &= scan_scope(policy.get("resource"), &mut observed);
            if let Some(conditions) = policy.get("conditions") {
                exact &= scan(conditions, &mut observed);
            }
        }
        let named_entities = &observed.entities;
        let mut classes: BTreeMap<Signature, u32> = BTreeMap::new();
        let mut class_of = Vec::new();
        for (id, privileged, application, ancestors) in entitlements {
            let own = format!("Entitlement::{id:?}");
            let signature = if exact {
                Signature {
                    privileged: privileged && observed.privileged,
                    application: if observed.application {
                        application.to_string()
                    } else {
                        String::new()
                    },
                    member_of: ancestors
                        .borrow()
                        .iter()
                        .chain(std::iter::once(&own))
                        .filter(|a| named_entities.contains(*a))
                        .cloned()
                        .collect(),
                    named: named_entities.contains(&own).then(|| id.to_string()),
                }
            } else {
                Signature {
                    privileged,
                    application: String::new(),
                    member_of: Vec::new(),
                    named: Some(id.to_string()),
                }
            };
            let next = classes.len() as u32;
            let class = *classes.entry(signature).or_insert(next);
            class_of.push(class);
        }
        ResourceClasses { class_of }
    }

    /// The class of an entitlement.
    pub fn class(&self, entitlement: EntitlementId) -> u32 {
        self.class_of.get(entitlement.index()).copied().unwrap_or(u32::MAX)
    }

    /// The class of the `index`-th entitlement given to [`ResourceClasses::new`]
    /// (for classes made of part of the catalog).
    pub fn class_at(&self, index: usize) -> Option<u32> {
        self.class_of.get(index).copied()
    }

    /// How many classes there are.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.class_of.iter().collect::<BTreeSet<_>>().len()
    }
}

fn entity_key(v: &Value) -> Option<String> {
    let e = v.get("__entity").unwrap_or(v);
    let ty = e.get("type")?.as_str()?;
    let id = e.get("id")?.as_str()?;
    Some(format!("{ty}::{id:?}"))
}

fn is_resource(v: &Value) -> bool {
    v.get("Var").and_then(Value::as_str) == Some("resource")
}

/// Entity literals in `v`: a single literal or a set of them. `None` if anything else.
fn literals(v: &Value) -> Option<Vec<String>> {
    if let Some(lit) = v.get("Value") {
        return match lit {
            Value::Array(items) => items.iter().map(entity_key).collect(),
            other => entity_key(other).map(|k| vec![k]),
        };
    }
    if let Some(Value::Array(items)) = v.get("Set") {
        return items.iter().map(|i| i.get("Value").and_then(entity_key)).collect();
    }
    None
}

fn scan_scope(scope: Option<&Value>, named: &mut Observed) -> bool {
    let Some(scope) = scope else { return true };
    match scope.get("op").and_then(Value::as_str) {
        None | Some("All") | Some("is") if scope.get("in").is_none() => true,
        Some("==") | Some("in") => match scope.get("entity").and_then(entity_key) {
            Some(k) => {
                named.entities.insert(k);
                true
            }
            None => scope
                .get("entities")
                .and_then(Value::as_array)
                .is_some_and(|items| items.iter().all(|i| entity_key(i).map(|k| named.entities.insert(k)).is_some())),
        },
        Some("is") => match scope.get("in").and_then(|i| i.get("entity")).and_then(entity_key) {
            Some(k) => {
                named.entities.insert(k);
                true
            }
            None => false,
        },
        _ => false,
    }
}

/// Is every use of `resource` in `v` one the classes account for? Records named entities.
fn scan(v: &Value, named: &mut Observed) -> bool {
    match v {
        Value::Array(items) => items.iter().all(|i| scan(i, named)),
        Value::Object(map) => {
            if is_resource(v) {
                return false;
            }
            map.iter().all(|(op, body)| {
                let left = body.get("left");
                let right = body.get("right");
                let left_is_resource = left.is_some_and(is_resource);
                let right_is_resource = right.is_some_and(is_resource);
                match op.as_str() {
                    "." if left_is_resource => match body.get("attr").and_then(Value::as_str) {
                        Some("privileged") => {
                            named.privileged = true;
                            true
                        }
                        Some("application") => {
                            named.application = true;
                            true
                        }
                        _ => false,
                    },
                    "has" if left_is_resource => true,
                    "is" if left_is_resource => match body.get("in") {
                        None => true,
                        Some(target) => match literals(target) {
                            Some(keys) => {
                                named.entities.extend(keys);
                                true
                            }
                            None => false,
                        },
                    },
                    "in" if left_is_resource => match right.and_then(literals) {
                        Some(keys) => {
                            named.entities.extend(keys);
                            true
                        }
                        None => false,
                    },
                    "==" | "!=" if left_is_resource || right_is_resource => {
                        let other = if left_is_resource { right } else { left };
                        match other.and_then(literals) {
                            Some(keys) => {
                                named.entities.extend(keys);
                                true
                            }
                            None => false,
                        }
                    }
                    _ => scan(body, named),
                }
            })
        }
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::str::FromStr;

    fn classes(policies: &[&str]) -> ResourceClasses {
        let jsons: Vec<Value> = policies
            .iter()
            .map(|p| cedar_policy::Policy::from_str(p).unwrap().to_json().unwrap())
            .collect();
        let ents = vec![
            (
                "a:x",
                false,
                "a",
                BTreeSet::from(["Package::\"p\"".to_string(), "Application::\"a\"".to_string()]),
            ),
            ("a:y", false, "a", BTreeSet::from(["Application::\"a\"".to_string()])),
            ("a:z", true, "a", BTreeSet::from(["Application::\"a\"".to_string()])),
            ("b:x", false, "b", BTreeSet::from(["Application::\"b\"".to_string()])),
        ];
        ResourceClasses::new(jsons.iter(), ents)
    }

    #[test]
    fn resource_independent_guardrails_make_one_class() {
        let c = classes(&["forbid (principal, action, resource) when { principal.kind == \"agent\" };"]);
        assert_eq!(c.len(), 1);
    }

    fn id(name: &str) -> EntitlementId {
        EntitlementId(["a:x", "a:y", "a:z", "b:x"].iter().position(|n| *n == name).unwrap() as u32)
    }

    #[test]
    fn read_attributes_split_classes() {
        let c = classes(&["forbid (principal, action, resource) when { resource.privileged };"]);
        assert_eq!(c.class(id("a:x")), c.class(id("b:x")));
        assert_ne!(c.class(id("a:x")), c.class(id("a:z")));
        let c = classes(&["forbid (principal, action, resource) when { resource.application == Application::\"a\" };"]);
        assert_eq!(c.class(id("a:x")), c.class(id("a:z")));
        assert_ne!(c.class(id("a:x")), c.class(id("b:x")));
    }

    #[test]
    fn named_packages_and_entitlements_split_classes() {
        let c = classes(&["forbid (principal, action, resource in Package::\"p\");"]);
        assert_ne!(c.class(id("a:x")), c.class(id("a:y")));
        let c = classes(&["forbid (principal, action, resource) when { resource == Entitlement::\"a:y\" };"]);
        assert_ne!(c.class(id("a:x")), c.class(id("a:y")));
    }

    #[test]
    fn other_uses_of_resource_make_every_entitlement_its_own_class() {
        let c = classes(&["forbid (principal, action, resource) when { resource in principal };"]);
        assert_eq!(c.len(), 4);
    }
}
