//! Diagnostics as SARIF 2.1.0, the format GitHub code scanning reads.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use crate::diag::{Code, Diagnostic, Severity};

/// A SARIF 2.1.0 log with one run holding every diagnostic.
pub fn to_sarif(diagnostics: &[Diagnostic]) -> Value {
    let codes: BTreeSet<Code> = diagnostics.iter().map(|d| d.code).collect();
    let codes: Vec<Code> = codes.into_iter().collect();
    let rules: Vec<Value> = codes
        .iter()
        .map(|c| {
            json!({
                "id": c.as_str(),
                "name": c.title(),
                "shortDescription": {"text": c.title()},
                "fullDescription": {"text": c.doc().trim()},
                "defaultConfiguration": {"level": level(c.severity())},
            })
        })
        .collect();
    let results: Vec<Value> = diagnostics
        .iter()
        .map(|d| {
            let mut message = d.message.clone();
            if let Some(help) = &d.help {
                message.push_str(&format!("\nhelp: {help}"));
            }
            json!({
                "ruleId": d.code.as_str(),
                "ruleIndex": codes.iter().position(|c| *c == d.code).unwrap_or(0),
                "level": level(d.severity),
                "message": {"text": message},
                "locations": [{
                    "physicalLocation": {
                        "artifactLocation": {"uri": d.location.file.replace('\\', "/")},
                        "region": {"startLine": d.location.line.max(1), "startColumn": d.location.column.max(1)},
                    }
                }],
            })
        })
        .collect();
    json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {"name": "entitle", "version": env!("CARGO_PKG_VERSION"), "rules": rules}},
            "results": results,
        }],
    })
}

fn level(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Location;

    #[test]
    fn has_the_shape_code_scanning_requires() {
        let d = [Diagnostic::new(
            Code::UnknownKey,
            Location::new("roles/a.yaml", 3, 5),
            "unknown key `whne` in a role",
        )];
        let log = to_sarif(&d);
        assert_eq!(log["version"], "2.1.0");
        let run = &log["runs"][0];
        assert_eq!(run["tool"]["driver"]["name"], "entitle");
        assert_eq!(run["tool"]["driver"]["rules"][0]["id"], "E002");
        let result = &run["results"][0];
        assert_eq!(result["ruleId"], "E002");
        assert_eq!(result["level"], "error");
        let region = &result["locations"][0]["physicalLocation"]["region"];
        assert_eq!(region["startLine"], 3);
        assert_eq!(region["startColumn"], 5);
        assert_eq!(
            result["locations"][0]["physicalLocation"]["artifactLocation"]["uri"],
            "roles/a.yaml"
        );
    }
}
