//! `live`: any bytes through `parse_live`, in every format (the first byte
//! chooses it, or leaves it to detection).
//!
//! Invariants: no panic; on success every grant has a line within the input
//! and clean ids (no surrounding whitespace, no control or invisible
//! character), each (identity, entitlement) pair once; reading is
//! deterministic. On failure the error names a line within the input and is
//! safe to show.

use std::collections::HashSet;

use entitle::io::live::{parse_live, LiveFormat};
use entitle::state::check_id;

use super::{assert_shown_safely, line_count};

/// The file name, format and `--app` the selector byte chooses.
pub fn format_of(selector: u8) -> (&'static str, Option<LiveFormat>, Option<&'static str>) {
    match selector % 5 {
        0 => ("live.jsonl", Some(LiveFormat::JsonLines), None),
        1 => ("live.csv", Some(LiveFormat::Csv), None),
        2 => ("live.json", Some(LiveFormat::ScimGroups { app: "app".into() }), None),
        3 => ("live.json", None, Some("app")),
        _ => ("live", None, None),
    }
}

/// Checks one input: its first byte chooses the format, the rest is the export.
pub fn check(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let (file, format, app) = format_of(selector);
    let lines = line_count(bytes);
    let live = match parse_live(file, bytes, format.clone(), app) {
        Ok(live) => live,
        Err(e) => {
            assert_shown_safely("live error", &e.to_string());
            assert_eq!(e.file(), file);
            if let Some(line) = e.line() {
                assert!((1..=lines).contains(&line), "error line {line} outside 1..={lines}: {e}");
            }
            return;
        }
    };
    let mut seen = HashSet::new();
    for grant in live.grants() {
        assert!(
            (1..=lines).contains(&grant.line()),
            "grant at line {} outside 1..={lines}",
            grant.line()
        );
        if let Err(e) = check_id("`identity`", grant.identity()) {
            panic!("grant with an unclean identity: {e}");
        }
        if let Err(e) = check_id("`entitlement`", grant.entitlement()) {
            panic!("grant with an unclean entitlement: {e}");
        }
        assert!(
            seen.insert((grant.identity(), grant.entitlement())),
            "grant ({}, {}) kept twice",
            grant.identity(),
            grant.entitlement()
        );
    }
    assert_eq!(live.len(), seen.len());
    let again = parse_live(file, bytes, format, app).expect("the same bytes read twice");
    assert!(again == live, "reading is not deterministic");
}
