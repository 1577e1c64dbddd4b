//! Policies rewritten for a proof, through Cedar's JSON policy form: the same
//! policy with another effect, or with `resource` fixed to one entitlement.
//!
//! Invariant: a rewritten policy decides exactly what the original decides
//! on the requests the rewrite speaks of (every request, or every request for
//! that entitlement); nothing here changes a condition.

use cedar_policy::{Policy, PolicyId};
use serde_json::{json, Value};

/// `policy` with `effect` (`"permit"` or `"forbid"`) and the id `id`.
pub fn with_effect(policy: &Policy, effect: &str, id: &str) -> Result<Policy, String> {
    let mut json = policy.to_json().map_err(|e| e.to_string())?;
    json["effect"] = Value::String(effect.to_string());
    Policy::from_json(Some(PolicyId::new(id)), json).map_err(|e| e.to_string())
}

/// `policy` with `resource` replaced by `Entitlement::"<entitlement>"`: the
/// resource scope becomes a condition on the literal, and every use of the
/// variable becomes the literal. The result answers, for any request, what
/// the original answers for the request with that resource.
pub fn fix_resource(policy: &Policy, entitlement: &str, id: &str) -> Result<Policy, String> {
    let mut json = policy.to_json().map_err(|e| e.to_string())?;
    let literal = json!({"Value": {"__entity": {"type": "Entitlement", "id": entitlement}}});
    let scope = json.get("resource").cloned().unwrap_or(json!({"op": "All"}));
    let scope_test = scope_condition(&scope, &literal)?;
    json["resource"] = json!({"op": "All"});
    if let Some(conditions) = json.get_mut("conditions").and_then(Value::as_array_mut) {
        for c in conditions.iter_mut() {
            if let Some(body) = c.get_mut("body") {
                replace_resource(body, &literal);
            }
        }
    }
    if let Some(test) = scope_test {
        let conditions = json
            .as_object_mut()
            .ok_or("a policy is not a JSON object")?
            .entry("conditions")
            .or_insert_with(|| json!([]));
        if let Some(list) = conditions.as_array_mut() {
            list.insert(0, json!({"kind": "when", "body": test}));
        }
    }
    Policy::from_json(Some(PolicyId::new(id)), json).map_err(|e| e.to_string())
}

/// The resource scope as a condition on `literal` (`None` for an unconstrained scope).
fn scope_condition(scope: &Value, literal: &Value) -> Result<Option<Value>, String> {
    let entity = |key: &str| scope.get(key).map(|e| json!({"Value": {"__entity": e}}));
    let op = scope.get("op").and_then(Value::as_str).unwrap_or("All");
    Ok(match op {
        "All" => None,
        "==" => Some(json!({"==": {"left": literal, "right": entity("entity").ok_or("a `==` scope without an entity")?}})),
        "in" => Some(json!({"in": {"left": literal, "right": entity("entity").ok_or("an `in` scope without an entity")?}})),
        "is" => {
            let mut is = json!({"left": literal, "entity_type": scope.get("entity_type").cloned().unwrap_or(Value::Null)});
            if let Some(inner) = scope.get("in").and_then(|i| i.get("entity")) {
                is["in"] = json!({"Value": {"__entity": inner}});
            }
            Some(json!({ "is": is }))
        }
        other => return Err(format!("a resource scope `{other}` (templates are not supported)")),
    })
}

fn replace_resource(v: &mut Value, literal: &Value) {
    if v.get("Var").and_then(Value::as_str) == Some("resource") {
        *v = literal.clone();
        return;
    }
    match v {
        Value::Object(m) => m.values_mut().for_each(|x| replace_resource(x, literal)),
        Value::Array(a) => a.iter_mut().for_each(|x| replace_resource(x, literal)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cedar_policy::{Authorizer, Context, Decision, Entities, PolicySet, Request};

    fn decide(policy: &Policy, resource: &str) -> Decision {
        let mut set = PolicySet::new();
        set.add(policy.clone()).unwrap();
        let entities = Entities::from_json_str(
            r#"[{"uid": {"type": "Entitlement", "id": "a:x"}, "attrs": {"privileged": true}, "parents": [{"type": "Package", "id": "p"}]},
                {"uid": {"type": "Entitlement", "id": "a:y"}, "attrs": {"privileged": false}, "parents": []},
                {"uid": {"type": "Package", "id": "p"}, "attrs": {}, "parents": []}]"#,
            None,
        )
        .unwrap();
        let request = Request::new(
            r#"Identity::"u""#.parse().unwrap(),
            r#"Action::"hold""#.parse().unwrap(),
            format!(r#"Entitlement::"{resource}""#).parse().unwrap(),
            Context::empty(),
            None,
        )
        .unwrap();
        Authorizer::new().is_authorized(&request, &set, &entities).decision()
    }

    #[test]
    fn a_fixed_resource_answers_what_the_original_answers_for_it() {
        for text in [
            r#"permit (principal, action, resource is Entitlement in Package::"p");"#,
            r#"permit (principal, action, resource == Entitlement::"a:y");"#,
            r#"permit (principal, action, resource) when { resource.privileged };"#,
            r#"permit (principal, action, resource) when { resource in [Package::"p"] || resource == Entitlement::"a:y" };"#,
        ] {
            let original: Policy = text.parse().unwrap();
            for fixed in ["a:x", "a:y"] {
                let rewritten = fix_resource(&original, fixed, "r").unwrap();
                for asked in ["a:x", "a:y"] {
                    assert_eq!(
                        decide(&rewritten, asked),
                        decide(&original, fixed),
                        "{text} fixed to {fixed}, asked {asked}"
                    );
                }
            }
        }
    }

    #[test]
    fn the_effect_flips_and_nothing_else() {
        let original: Policy = r#"forbid (principal, action, resource) when { resource.privileged };"#.parse().unwrap();
        let permit = with_effect(&original, "permit", "p").unwrap();
        assert_eq!(decide(&permit, "a:x"), Decision::Allow);
        assert_eq!(decide(&permit, "a:y"), Decision::Deny);
    }
}
