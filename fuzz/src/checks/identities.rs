//! `identities`: any bytes through `parse_identities`, in every format (the
//! first byte chooses it, or leaves it to detection).
//!
//! Invariants: no panic; on success every valid record has a clean id (no
//! surrounding whitespace, no control or invisible character), a clean owner
//! id, and a line within the input; every invalid record and uncertain
//! stretch has lines within the input and a message that is safe to show;
//! no id is held by two valid records, nor by a valid and an invalid one
//! (spec §8: either could be the truth); reading is deterministic. On
//! failure the error names a line within the input and is safe to show.

use std::collections::HashSet;
use std::sync::OnceLock;

use entitle::io::identities::{parse_identities, IdentityFormat};
use entitle::model::SourceFile;
use entitle::project::{Project, Sources};
use entitle::state::check_id;

use super::{assert_shown_safely, line_count};

/// The definitions the feed cases are read against (every attribute type).
const DEFINITIONS: &str = include_str!("../../../tests/cases/feeds/_definitions.yaml");

fn project() -> &'static Project {
    static PROJECT: OnceLock<Project> = OnceLock::new();
    PROJECT.get_or_init(|| {
        let sources = Sources {
            roles: vec![SourceFile {
                name: "roles/feeds.yaml".into(),
                text: DEFINITIONS.into(),
            }],
            policies: vec![],
        };
        Project::from_sources(&sources).expect("the feed cases' definitions load")
    })
}

/// The file name and format the selector byte chooses.
pub fn format_of(selector: u8) -> (&'static str, Option<IdentityFormat>) {
    match selector % 6 {
        0 => ("feed.json", Some(IdentityFormat::Json)),
        1 => ("feed.jsonl", Some(IdentityFormat::JsonLines)),
        2 => ("feed.csv", Some(IdentityFormat::Csv)),
        3 => ("feed.json", Some(IdentityFormat::Scim)),
        4 => ("feed.json", None),
        _ => ("feed", None),
    }
}

/// Checks one input: its first byte chooses the format, the rest is the feed.
pub fn check(data: &[u8]) {
    let Some((&selector, bytes)) = data.split_first() else {
        return;
    };
    let (file, format) = format_of(selector);
    let defs = &project().defs;
    let lines = line_count(bytes);
    let feed = match parse_identities(file, bytes, format, defs) {
        Ok(feed) => feed,
        Err(e) => {
            assert_shown_safely("feed error", &e.to_string());
            assert_eq!(e.file(), file);
            if let Some(line) = e.line() {
                assert!((1..=lines).contains(&line), "error line {line} outside 1..={lines}: {e}");
            }
            return;
        }
    };
    let mut valid = HashSet::new();
    for (i, state) in feed.identities.iter().enumerate() {
        if let Err(e) = check_id("`id`", &state.id) {
            panic!("valid record with an unclean id: {e}");
        }
        if let Some(owner) = &state.owner {
            if let Err(e) = check_id("`owner`", owner) {
                panic!("valid record with an unclean owner: {e}");
            }
        }
        let line = feed.line_of(i).expect("every valid record has a line");
        assert!(
            (1..=lines).contains(&line),
            "record `{}` at line {line} outside 1..={lines}",
            state.id
        );
        assert!(valid.insert(state.id.as_str()), "id `{}` held by two valid records", state.id);
    }
    assert_eq!(feed.line_of(feed.identities.len()), None, "a line for a record that is not there");
    for record in &feed.invalid {
        assert!(
            (1..=lines).contains(&record.line),
            "invalid record at line {} outside 1..={lines}",
            record.line
        );
        assert_shown_safely("invalid record", &record.error);
        if let Some(id) = &record.id {
            assert!(!valid.contains(id.as_str()), "id `{id}` held by a valid and an invalid record");
        } else {
            assert!(record.id_uncertain, "a record without an id must be uncertain");
        }
        if record.id_uncertain {
            assert!(
                feed.uncertain
                    .iter()
                    .any(|s| s.first_line <= record.line && record.line <= s.last_line),
                "an uncertain record at line {} outside every uncertain stretch",
                record.line
            );
        }
    }
    for stretch in &feed.uncertain {
        assert!(
            1 <= stretch.first_line && stretch.first_line <= stretch.last_line && stretch.last_line <= lines,
            "uncertain stretch {}..{} outside 1..={lines}",
            stretch.first_line,
            stretch.last_line
        );
        assert_shown_safely("uncertain stretch", &stretch.reason);
    }
    if let Some(why) = feed.uncertainty() {
        assert_shown_safely("uncertainty", &why);
    }
    let again = parse_identities(file, bytes, format, defs).expect("the same bytes read twice");
    assert!(again == feed, "reading is not deterministic");
}
