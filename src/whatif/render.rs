//! What-if output for people: the human report (per-entitlement totals
//! first, then each identity with its reasons) and the Markdown comment a
//! pull request gets (totals, a per-entitlement table, the first identities,
//! privileged gains called out). JSON is `Serialize` on the types.
//!
//! Every value from the definitions or the feed goes through
//! [`one_line`] (terminal-safe) and, in Markdown, into a code span that no
//! backtick or `|` in it can break. It computes nothing.

use std::fmt::Write as _;

use crate::eval::explain::render_justification;
use crate::plan::render::Style;
use crate::term::one_line;

use super::timeline::Timeline;
use super::{EntitlementTotal, EvaluationMode, IdentityChange, Loss, Side, SodChange, SodChangeKind, WhatIf};
use crate::model::SodSeverity;

/// How much of a long report to show.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Identities (or timeline events) listed in full; the rest are counted.
    pub identities: usize,
    /// Entitlement rows of the Markdown table; the rest are counted.
    pub entitlements: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            identities: 50,
            entitlements: 50,
        }
    }
}

fn signed(gained: usize, lost: usize) -> String {
    format!("+{gained} −{lost}")
}

/// The instants line: one instant, or both.
fn instants(w: &WhatIf) -> String {
    if w.before.as_of == w.after.as_of {
        format!("as of {}", w.before.as_of)
    } else {
        format!("as of {} → {}", w.before.as_of, w.after.as_of)
    }
}

fn evaluated(w: &WhatIf) -> String {
    let e = &w.evaluation;
    let mode = match e.mode {
        EvaluationMode::Full => "full",
        EvaluationMode::Incremental => "incremental",
    };
    format!("evaluated {} of {} identities ({mode}: {})", e.evaluated, e.identities, e.reason)
}

/// The report for a person: figures, per-entitlement totals, then each identity.
pub fn human(w: &WhatIf, style: Style, limits: Limits) -> String {
    let s = &w.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} → {}, {}",
        style.paint("1", "what-if:"),
        one_line(&w.before.label),
        one_line(&w.after.label),
        instants(w)
    );
    let _ = writeln!(out, "{}", one_line(&evaluated(w)));
    let _ = writeln!(out);
    let rows = [
        ("identities affected", s.identities_affected.to_string()),
        ("gained", s.gained.to_string()),
        ("lost", s.lost.to_string()),
        ("privileged gained", s.privileged_gained.to_string()),
        ("roles gained / lost", format!("{} / {}", s.roles_gained, s.roles_lost)),
        (
            "sod violations",
            format!("+{} / −{}", s.sod_violations_added, s.sod_violations_removed),
        ),
        ("invalid identities", s.invalid_identities.to_string()),
        ("held back", s.held_back.to_string()),
    ];
    for (k, v) in rows {
        let _ = writeln!(out, "  {k:<22}{v:>10}");
    }
    if !w.entitlements.is_empty() {
        let _ = writeln!(out, "\n{}", style.paint("1", "by entitlement"));
        let width = w
            .entitlements
            .iter()
            .map(|t| t.entitlement.chars().count())
            .max()
            .unwrap_or(0)
            .min(48);
        for t in &w.entitlements {
            let name = one_line(&t.entitlement);
            let flag = if t.privileged {
                style.paint("1;33", " [privileged]")
            } else {
                String::new()
            };
            let _ = writeln!(out, "  {name:<width$}  {}{flag}", signed(t.gained, t.lost));
        }
    }
    if !w.changes.is_empty() {
        let _ = writeln!(out, "\n{}", style.paint("1", "by identity"));
    }
    for c in w.changes.iter().take(limits.identities) {
        let sod = w.sod_violations.iter().filter(|v| v.identity == c.identity);
        identity_lines(&mut out, c, sod, style);
    }
    if w.changes.len() > limits.identities {
        let _ = writeln!(
            out,
            "\n… and {} more identities (`--limit N` shows more; `--format json` lists them all)",
            w.changes.len() - limits.identities
        );
    }
    let invalid: Vec<String> = w
        .invalid_identities
        .iter()
        .map(|r| {
            let side = match r.side {
                Side::Before => "before",
                Side::After => "after",
                Side::Both => "before and after",
            };
            format!(
                "{}:{}: {}: {} ({side})",
                r.file,
                r.line,
                r.identity.as_deref().unwrap_or("<unknown id>"),
                r.error
            )
        })
        .collect();
    section(&mut out, style, "invalid identities (not compared)", invalid);
    section(
        &mut out,
        style,
        "held back",
        w.held_back.iter().map(|h| format!("{}: {}", h.identity, h.reason)).collect(),
    );
    out
}

fn section(out: &mut String, style: Style, title: &str, lines: Vec<String>) {
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(out, "\n{}", style.paint("1", title));
    for l in lines {
        let _ = writeln!(out, "  {}", one_line(&l));
    }
}

/// One identity: gains with their justifications, losses with their reasons, roles, SoD.
fn identity_lines<'a>(out: &mut String, c: &IdentityChange, sod: impl Iterator<Item = &'a SodChange>, style: Style) {
    let _ = writeln!(out, "\n{}", style.paint("1", &one_line(&c.identity)));
    for e in &c.gained {
        let _ = writeln!(out, "  {} {}", style.paint("32", "+"), one_line(e));
        let because = c.because.get(e).map(Vec::as_slice).unwrap_or_default();
        for j in because.iter().take(3) {
            let _ = writeln!(out, "      {}", one_line(&render_justification(j)));
        }
        if because.len() > 3 {
            let _ = writeln!(out, "      … and {} more", because.len() - 3);
        }
    }
    for e in &c.lost {
        let Some(loss) = c.lost_because.get(e) else { continue };
        let _ = writeln!(
            out,
            "  {} {}  ({})",
            style.paint("31", "-"),
            one_line(e),
            one_line(&loss_phrase(loss))
        );
        for g in &loss.roles {
            let who = match &g.role {
                Some(r) => format!("role `{r}`"),
                None => format!("permit `{}`", g.policy),
            };
            let at = g.source.as_deref().map(|s| format!(" ({s})")).unwrap_or_default();
            let _ = writeln!(
                out,
                "      {}{}: {}",
                one_line(&who),
                one_line(&at),
                one_line(&g.reasons.join("; "))
            );
        }
    }
    for r in &c.roles_gained {
        let _ = writeln!(out, "  {} role {}", style.paint("32", "+"), one_line(r));
    }
    for r in &c.roles_lost {
        let _ = writeln!(out, "  {} role {}", style.paint("31", "-"), one_line(r));
    }
    for v in sod {
        let _ = writeln!(out, "  {} {}", style.paint("33", "!"), one_line(&sod_phrase(v)));
    }
}

/// `forbidden by `g``, `expired-assignment: assignment to ... expired at ...`.
pub fn loss_phrase(loss: &Loss) -> String {
    let mut why = loss.reason.as_str().to_string();
    if !loss.forbidden_by.is_empty() {
        let by: Vec<String> = loss.forbidden_by.iter().map(|g| format!("`{g}`")).collect();
        let _ = write!(why, " by {}", by.join(", "));
    }
    if let Some(d) = &loss.detail {
        let _ = write!(why, ": {d}");
    }
    why
}

fn sod_phrase(v: &SodChange) -> String {
    let sides: Vec<String> = v.sides.iter().map(|s| s.join(" + ")).collect();
    let change = match v.change {
        SodChangeKind::Added => "now violates",
        SodChangeKind::Removed => "no longer violates",
    };
    let severity = match v.severity {
        SodSeverity::Low => "low",
        SodSeverity::Medium => "medium",
        SodSeverity::High => "high",
    };
    format!("{change} `{}` ({severity}): {}", v.rule, sides.join(" vs "))
}

/// A Markdown code span holding `text` (on one line), whatever backticks it holds.
fn code(text: &str) -> String {
    let text = one_line(text).replace('|', "\\|");
    let longest = text.split(|c| c != '`').map(str::len).max().unwrap_or(0);
    let fence = "`".repeat(longest + 1);
    let pad = if text.starts_with('`') || text.ends_with('`') { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// The comment a pull request gets: totals, the entitlement table, the first identities.
pub fn markdown(w: &WhatIf, limits: Limits) -> String {
    let s = &w.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### entitle whatif: {} {} affected\n",
        s.identities_affected,
        if s.identities_affected == 1 { "identity" } else { "identities" }
    );
    let _ = writeln!(
        out,
        "{} → {}, {} · {}\n",
        code(&w.before.label),
        code(&w.after.label),
        instants(w),
        one_line(&evaluated(w)).replace('|', "\\|")
    );
    let _ = writeln!(
        out,
        "**+{} gained · −{} lost** · roles +{} / −{} · SoD violations +{} / −{}{}{}\n",
        s.gained,
        s.lost,
        s.roles_gained,
        s.roles_lost,
        s.sod_violations_added,
        s.sod_violations_removed,
        if s.invalid_identities > 0 {
            format!(" · {} invalid records", s.invalid_identities)
        } else {
            String::new()
        },
        if s.held_back > 0 {
            format!(" · {} held back", s.held_back)
        } else {
            String::new()
        },
    );
    let privileged: Vec<&EntitlementTotal> = w.entitlements.iter().filter(|t| t.privileged && t.gained > 0).collect();
    if !privileged.is_empty() {
        let list: Vec<String> = privileged
            .iter()
            .map(|t| format!("{} (+{})", code(&t.entitlement), t.gained))
            .collect();
        let _ = writeln!(
            out,
            "> ⚠️ **{} privileged {}**: {}\n",
            s.privileged_gained,
            if s.privileged_gained == 1 { "gain" } else { "gains" },
            list.join(", ")
        );
    }
    if !w.entitlements.is_empty() {
        // Privileged gains first, then the largest changes.
        let mut rows: Vec<&EntitlementTotal> = w.entitlements.iter().collect();
        rows.sort_by(|a, b| {
            let key = |t: &EntitlementTotal| (!(t.privileged && t.gained > 0), std::cmp::Reverse(t.gained + t.lost));
            key(a).cmp(&key(b)).then_with(|| a.entitlement.cmp(&b.entitlement))
        });
        let _ = writeln!(out, "| entitlement | gained | lost |\n|---|---:|---:|");
        for t in rows.iter().take(limits.entitlements) {
            let name = if t.privileged {
                format!("**{}** ⚠️ privileged", code(&t.entitlement))
            } else {
                code(&t.entitlement)
            };
            let _ = writeln!(out, "| {name} | +{} | −{} |", t.gained, t.lost);
        }
        if rows.len() > limits.entitlements {
            let _ = writeln!(out, "\n… and {} more entitlements.", rows.len() - limits.entitlements);
        }
        let _ = writeln!(out);
    }
    if !w.changes.is_empty() {
        let shown = w.changes.len().min(limits.identities);
        let _ = writeln!(
            out,
            "<details><summary>By identity ({})</summary>\n",
            if shown < w.changes.len() {
                format!("first {shown} of {}", w.changes.len())
            } else {
                format!("{}", w.changes.len())
            }
        );
        let _ = writeln!(out, "| identity | gained | lost |\n|---|---|---|");
        for c in w.changes.iter().take(shown) {
            let gained: Vec<String> = c.gained.iter().map(|e| code(e)).collect();
            let lost: Vec<String> = c
                .lost
                .iter()
                .map(|e| {
                    let reason = c
                        .lost_because
                        .get(e)
                        .map(|l| format!(" ({})", l.reason.as_str()))
                        .unwrap_or_default();
                    format!("{}{reason}", code(e))
                })
                .collect();
            let mut gained = gained.join(", ");
            let roles: Vec<String> = c
                .roles_gained
                .iter()
                .map(|r| format!("role {}", code(r)))
                .chain(c.roles_lost.iter().map(|r| format!("−role {}", code(r))))
                .collect();
            if !roles.is_empty() {
                if !gained.is_empty() {
                    gained.push_str("; ");
                }
                gained.push_str(&roles.join(", "));
            }
            let _ = writeln!(out, "| {} | {} | {} |", code(&c.identity), gained, lost.join(", "));
        }
        if shown < w.changes.len() {
            let _ = writeln!(out, "\nand {} more.", w.changes.len() - shown);
        }
        let _ = writeln!(out, "\n</details>");
    }
    out
}

/// The timeline for a person: each event with its instant, identity, causes and changes.
pub fn timeline_human(t: &Timeline, style: Style, limits: Limits) -> String {
    let s = &t.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} {} .. {}: {} events for {} identities ({})",
        style.paint("1", "timeline"),
        t.from,
        t.to,
        s.events,
        s.identities_affected,
        signed(s.gained, s.lost)
    );
    for e in t.events.iter().take(limits.identities) {
        let _ = writeln!(
            out,
            "\n{}  {}",
            style.paint("1", &e.at),
            style.paint("1", &one_line(&e.change.identity))
        );
        for cause in &e.causes {
            let _ = writeln!(out, "  when {}", one_line(cause));
        }
        let mut lines = String::new();
        identity_lines(&mut lines, &e.change, e.sod_violations.iter(), style);
        // Skip the identity line identity_lines starts with: the event line named it.
        for l in lines.lines().skip(2) {
            let _ = writeln!(out, "{l}");
        }
    }
    if t.events.len() > limits.identities {
        let _ = writeln!(
            out,
            "\n… and {} more events (`--limit N` shows more; `--format json` lists them all)",
            t.events.len() - limits.identities
        );
    }
    section(
        &mut out,
        style,
        "held back",
        t.held_back.iter().map(|h| format!("{}: {}", h.identity, h.reason)).collect(),
    );
    out
}

/// The timeline as Markdown: one table row per event.
pub fn timeline_markdown(t: &Timeline, limits: Limits) -> String {
    let s = &t.summary;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "### entitle timeline: {} events for {} identities\n\n{} .. {} · **+{} gained · −{} lost**\n",
        s.events, s.identities_affected, t.from, t.to, s.gained, s.lost
    );
    if !t.events.is_empty() {
        let _ = writeln!(out, "| when | identity | because | gained | lost |\n|---|---|---|---|---|");
        for e in t.events.iter().take(limits.identities) {
            let c = &e.change;
            let gained: Vec<String> = c.gained.iter().map(|x| code(x)).collect();
            let lost: Vec<String> = c.lost.iter().map(|x| code(x)).collect();
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} |",
                e.at,
                code(&c.identity),
                one_line(&e.causes.join("; ")).replace('|', "\\|"),
                gained.join(", "),
                lost.join(", ")
            );
        }
        if t.events.len() > limits.identities {
            let _ = writeln!(out, "\nand {} more.", t.events.len() - limits.identities);
        }
    }
    out
}
