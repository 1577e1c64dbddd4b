//! A campaign as CSV (for spreadsheets: formulas escaped, byte-identical for
//! the same inputs) and Markdown; JSON is `Serialize`. It computes nothing.

use std::fmt::Write as _;

use sha2::Digest as _;

use super::{Campaign, ReviewItem, ReviewerItems};
use crate::who::justification_text;

/// The CSV header; `decision` (`keep` or `revoke`) and `comment` are for the reviewer to fill in.
pub const CSV_HEADER: &str =
    "reviewer,identity,kind,entitlement,application,flags,justification,revoke_reason,last_used,escalated_from,decision,comment";

/// A cell made safe for spreadsheets: a value starting with `=`, `+`, `-`, `@`, a tab or a
/// carriage return (which a spreadsheet would run as a formula), or with `'`, gets a `'`
/// in front; [`unescape_csv_cell`] takes it off again, so every value reads back exactly.
pub fn escape_csv_cell(value: &str) -> String {
    match value.chars().next() {
        Some('=' | '+' | '-' | '@' | '\t' | '\r' | '\'') => format!("'{value}"),
        _ => value.to_string(),
    }
}

/// The value of a cell [`escape_csv_cell`] wrote.
pub fn unescape_csv_cell(cell: &str) -> &str {
    cell.strip_prefix('\'').unwrap_or(cell)
}

/// A cell as RFC 4180 writes it: formula-escaped, then quoted when it holds a comma, a quote
/// or a line break.
fn cell(value: &str) -> String {
    let value = escape_csv_cell(value);
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value
    }
}

fn justification_cell(item: &ReviewItem) -> String {
    if item.justification.is_empty() {
        return "none".to_string();
    }
    item.justification.iter().map(justification_text).collect::<Vec<_>>().join("; ")
}

fn flags_text(item: &ReviewItem) -> String {
    item.flags.iter().map(|f| f.as_str()).collect::<Vec<_>>().join(";")
}

/// The items of `groups` as CSV, one row per item, with the header.
pub fn csv(groups: &[ReviewerItems]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for group in groups {
        for item in &group.items {
            let row = [
                group.reviewer.clone().unwrap_or_default(),
                item.identity.clone(),
                item.kind.clone(),
                item.entitlement.clone(),
                item.application.clone(),
                flags_text(item),
                justification_cell(item),
                item.revoke_reason.clone().unwrap_or_default(),
                item.last_used.clone().unwrap_or_default(),
                item.escalated_from.join(";"),
                String::new(),
                String::new(),
            ];
            out += &row.iter().map(|v| cell(v)).collect::<Vec<_>>().join(",");
            out.push('\n');
        }
    }
    out
}

/// Markdown text in a table cell: pipes and line breaks cannot end the cell, `<` cannot open HTML.
fn md(text: &str) -> String {
    crate::term::one_line(text)
        .replace('\\', "\\\\")
        .replace('|', "\\|")
        .replace('<', "&lt;")
}

/// The campaign as Markdown: the summary, then a table per reviewer.
pub fn markdown(campaign: &Campaign) -> String {
    let s = &campaign.summary;
    let mut out = String::new();
    let _ = writeln!(out, "# Access review as of {}\n", campaign.as_of);
    let by = match campaign.by {
        super::ReviewBy::Manager => "manager",
        super::ReviewBy::AppOwner => "application owner",
    };
    let _ = writeln!(
        out,
        "{} live grants: **{} to review** by {} reviewers (by {by}), {} unassigned; {} justified by a birthright role are summarised, not listed.\n",
        s.live_grants, s.items, s.reviewers, s.unassigned, s.birthright_summarised
    );
    if !s.birthright_by_role.is_empty() {
        let roles: Vec<String> = s.birthright_by_role.iter().map(|(r, n)| format!("{} {n}", md(r))).collect();
        let _ = writeln!(out, "Birthright grants summarised: {}.\n", roles.join(", "));
    }
    if !s.flags.is_empty() {
        let flags: Vec<String> = s.flags.iter().map(|(f, n)| format!("{f} {n}")).collect();
        let _ = writeln!(out, "Risk flags: {}.\n", flags.join(", "));
    }
    for group in &campaign.reviewers {
        match &group.reviewer {
            Some(r) => {
                let _ = writeln!(out, "## {} ({} items)\n", md(r), group.items.len());
            }
            None => {
                let _ = writeln!(out, "## Unassigned ({} items)\n", group.items.len());
            }
        }
        let _ = writeln!(out, "| identity | entitlement | flags | justification | last used | decision |");
        let _ = writeln!(out, "|---|---|---|---|---|---|");
        for item in &group.items {
            let mut why = justification_cell(item);
            if let Some(reason) = &item.revoke_reason {
                why = format!("none (plan: {reason})");
            }
            let mut identity = md(&item.identity);
            if !item.escalated_from.is_empty() {
                identity += &format!(" (escalated from {})", md(&item.escalated_from.join(", ")));
            }
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | |",
                identity,
                md(&item.entitlement),
                flags_text(item),
                md(&why),
                md(item.last_used.as_deref().unwrap_or(""))
            );
        }
        out.push('\n');
    }
    out
}

/// The file name (without extension) of a reviewer's part of a campaign written to a
/// directory: `reviewer-<id>` when the id is a safe file name, else the id with unsafe
/// characters replaced and a hash of it; `unassigned` for items without a reviewer.
pub fn file_stem(reviewer: Option<&str>) -> String {
    let Some(id) = reviewer else {
        return "unassigned".to_string();
    };
    let safe: String = id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    if safe == id && !id.starts_with('.') && id.len() <= 100 {
        format!("reviewer-{id}")
    } else {
        let hash: String = sha2::Sha256::digest(id.as_bytes())
            .iter()
            .take(4)
            .map(|b| format!("{b:02x}"))
            .collect();
        let short: String = safe.chars().take(60).collect();
        format!("reviewer-{}-{hash}", short.trim_start_matches('.'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formulas_are_escaped_and_read_back_exactly() {
        for (value, written) in [
            ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"),
            ("+1", "'+1"),
            ("-2+3", "'-2+3"),
            ("@SUM(A1)", "'@SUM(A1)"),
            ("\tx", "'\tx"),
            ("\rx", "'\rx"),
            ("'quoted", "''quoted"),
            ("u-1001", "u-1001"),
            ("", ""),
        ] {
            assert_eq!(escape_csv_cell(value), written, "{value:?}");
            assert_eq!(unescape_csv_cell(&escape_csv_cell(value)), value);
        }
        assert_eq!(cell("=1,2"), "\"'=1,2\"");
        assert_eq!(cell("a\"b"), "\"a\"\"b\"");
    }

    #[test]
    fn reviewer_file_names_cannot_leave_the_directory() {
        assert_eq!(file_stem(Some("u-1001")), "reviewer-u-1001");
        assert_eq!(file_stem(None), "unassigned");
        let odd = file_stem(Some("../../etc/passwd"));
        assert!(!odd.contains('/') && odd.starts_with("reviewer-"), "{odd}");
        assert_ne!(file_stem(Some("a/b")), file_stem(Some("a_b")));
    }
}
