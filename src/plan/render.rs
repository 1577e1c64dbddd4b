//! Plan output: JSON (spec §7), a human summary, and SCIM 2.0 PatchOps.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::{json, Value};

use crate::eval::explain::render_justification;
use crate::term::one_line;

use super::{Change, ExceptionState, Plan};

/// The SCIM PatchOp message schema (RFC 7644 §3.5.2).
pub const SCIM_PATCH_OP: &str = "urn:ietf:params:scim:api:messages:2.0:PatchOp";

/// One SCIM PatchOp per entitlement (group), JSON Lines: `{"group": ..., "application": ...,
/// "displayName": ..., "patch": PatchOp}`, adds before removes, members sorted.
pub fn scim_patches(plan: &Plan) -> Vec<Value> {
    let mut by_group: BTreeMap<&str, (Vec<&str>, Vec<&str>)> = BTreeMap::new();
    for c in &plan.changes {
        match c {
            Change::Grant { identity, entitlement, .. } => by_group.entry(entitlement).or_default().0.push(identity),
            Change::Revoke { identity, entitlement, .. } => by_group.entry(entitlement).or_default().1.push(identity),
        }
    }
    by_group
        .into_iter()
        .map(|(group, (mut adds, mut removes))| {
            adds.sort();
            removes.sort();
            let mut operations = Vec::new();
            if !adds.is_empty() {
                operations
                    .push(json!({"op": "add", "path": "members", "value": adds.iter().map(|i| json!({"value": i})).collect::<Vec<_>>()}));
            }
            for i in removes {
                operations.push(json!({"op": "remove", "path": format!("members[value eq {}]", serde_json::Value::from(i))}));
            }
            let (app, name) = group.split_once(':').unwrap_or(("", group));
            json!({
                "group": group,
                "application": app,
                "displayName": name,
                "patch": {"schemas": [SCIM_PATCH_OP], "Operations": operations},
            })
        })
        .collect()
}

/// ANSI styling, only when writing to a terminal.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    /// Use colour.
    pub colour: bool,
}

impl Style {
    /// `text` in the ANSI style `code` (`1` bold, `31` red...), when colour is on.
    pub fn paint(self, code: &str, text: &str) -> String {
        if self.colour {
            format!("\u{1b}[{code}m{text}\u{1b}[0m")
        } else {
            text.to_string()
        }
    }
}

/// The plan for a person: the summary table first, then changes by identity.
pub fn human(plan: &Plan, style: Style) -> String {
    let s = &plan.summary;
    let mut out = String::new();
    let _ = writeln!(out, "plan as of {}", plan.as_of);
    let rows: Vec<(&str, String)> = vec![
        ("identities", s.identities.to_string()),
        ("desired", s.desired.to_string()),
        ("live", s.live.to_string()),
        ("grants", s.grants.to_string()),
        ("revokes", s.revokes.to_string()),
        ("unchanged", s.unchanged.to_string()),
        ("entitlement accuracy", format!("{:.1}%", s.entitlement_accuracy * 100.0)),
        ("orphaned accounts", s.orphaned_accounts.to_string()),
        ("invalid identities", s.invalid_identities.to_string()),
        ("sod violations", s.sod_violations.to_string()),
        ("expired assignments", s.expired_assignments.to_string()),
        ("unmanaged grants", plan.unmanaged.len().to_string()),
    ];
    for (k, v) in rows {
        let _ = writeln!(out, "  {k:<24}{v:>8}");
    }
    for (reason, n) in &s.revokes_by_reason {
        let _ = writeln!(out, "    revoke {reason:<17}{n:>8}");
    }
    if let Some(why) = &plan.refused {
        let _ = writeln!(
            out,
            "\n{} {}; nothing will change (override with --force)",
            style.paint("1;31", "REFUSED:"),
            one_line(why)
        );
        let _ = writeln!(
            out,
            "it would have made {} grants and {} revocations (the figures above)",
            s.grants, s.revokes
        );
    }
    for why in &plan.forced {
        let _ = writeln!(out, "\n{} {}", style.paint("1;33", "FORCED past a guard:"), one_line(why));
    }
    let mut current = "";
    for c in &plan.changes {
        let (identity, entitlement) = c.key();
        if identity != current {
            let _ = writeln!(out, "\n{}", style.paint("1", &one_line(identity)));
            current = identity;
        }
        match c {
            Change::Grant { because, .. } => {
                let _ = writeln!(out, "  {} {}", style.paint("32", "+ grant "), one_line(entitlement));
                for j in because.iter().take(3) {
                    let _ = writeln!(out, "      {}", one_line(&render_justification(j)));
                }
                if because.len() > 3 {
                    let _ = writeln!(out, "      … and {} more", because.len() - 3);
                }
            }
            Change::Revoke {
                reason,
                forbidden_by,
                detail,
                ..
            } => {
                let mut why = reason.as_str().to_string();
                if let Some(f) = forbidden_by {
                    why.push_str(&format!(" by `{f}`"));
                }
                if let Some(d) = detail {
                    why.push_str(&format!(": {d}"));
                }
                let _ = writeln!(
                    out,
                    "  {} {}  ({})",
                    style.paint("31", "- revoke"),
                    one_line(entitlement),
                    one_line(&why)
                );
            }
        }
    }
    let section = |out: &mut String, title: &str, lines: Vec<String>| {
        if !lines.is_empty() {
            let _ = writeln!(out, "\n{}", style.paint("1", title));
            for l in lines {
                let _ = writeln!(out, "  {}", one_line(&l));
            }
        }
    };
    section(
        &mut out,
        "separation-of-duties violations",
        plan.sod_violations
            .iter()
            .map(|v| {
                let sides: Vec<String> = v.sides.iter().map(|s| s.join(" + ")).collect();
                format!(
                    "{} `{}` ({:?}, in {:?}): {}",
                    v.identity,
                    v.rule,
                    v.severity,
                    v.state,
                    sides.join(" vs ")
                )
            })
            .collect(),
    );
    section(
        &mut out,
        "expired assignments",
        plan.expired_assignments
            .iter()
            .map(|a| format!("{} `{}` {} {}", a.identity, a.role, a.status, a.expired_at.as_deref().unwrap_or("")))
            .collect(),
    );
    section(
        &mut out,
        "orphaned accounts",
        plan.orphaned_accounts
            .iter()
            .map(|o| format!("{} ({} grants)", o.identity, o.entitlements))
            .collect(),
    );
    section(
        &mut out,
        "unmanaged grants (reported, never revoked)",
        plan.unmanaged
            .iter()
            .map(|u| format!("{} {} ({})", u.identity, u.entitlement, u.source))
            .collect(),
    );
    section(
        &mut out,
        "invalid identities (no change is made for them)",
        plan.invalid_identities
            .iter()
            .map(|r| {
                format!(
                    "{}:{}: {}: {}",
                    r.file,
                    r.line,
                    r.identity.as_deref().unwrap_or("<unknown id>"),
                    r.error
                )
            })
            .collect(),
    );
    section(
        &mut out,
        "held back",
        plan.held_back.iter().map(|h| format!("{}: {}", h.identity, h.reason)).collect(),
    );
    section(
        &mut out,
        "approved exceptions",
        plan.exceptions
            .iter()
            .map(|x| {
                let what = x.entitlement.as_deref().or(x.package.as_deref()).unwrap_or_default();
                let state = match x.status {
                    ExceptionState::Active if x.expiring => "active, EXPIRING SOON",
                    ExceptionState::Active => "active",
                    ExceptionState::Expired => "expired",
                    ExceptionState::UnknownIdentity => "identity not in the feed",
                };
                let mut line = format!(
                    "`{}` {} {what} until {} (ticket {}): {state}",
                    x.id, x.identity, x.expires, x.ticket
                );
                for (label, list) in [("keeps", &x.kept), ("grants", &x.granted), ("revoked", &x.revoked)] {
                    if !list.is_empty() {
                        line.push_str(&format!("; {label} {}", list.join(", ")));
                    }
                }
                for o in &x.overridden {
                    line.push_str(&format!("; {} forbidden by `{}`", o.entitlement, o.forbidden_by));
                }
                line
            })
            .collect(),
    );
    section(
        &mut out,
        "dormant grants",
        plan.dormant
            .iter()
            .map(|d| {
                let idle = d.idle_days.map(|n| format!(" ({n} days)")).unwrap_or_default();
                format!(
                    "{} ({}) {} last used {}{idle}: {}",
                    d.identity, d.kind, d.entitlement, d.last_used, d.action
                )
            })
            .collect(),
    );
    out
}
