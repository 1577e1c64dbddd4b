//! A population: an identity feed indexed by id, so each identity's owner
//! can be found, and told apart from an owner that is missing or broken;
//! and the records of a CSV feed that may be two records glued together.
//!
//! It never decides what anyone holds.

use std::collections::{BTreeSet, HashMap};

use crate::io::identities::{parse_identities, IdentityFeed, IdentityFormat};
use crate::io::InputError;
use crate::model::Definitions;
use crate::state::{shown, IdentityState};

/// What the feed says about an identity's owner.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnerRecord<'a> {
    /// The identity names no owner.
    NoOwner,
    /// The owner's valid record.
    Known(&'a IdentityState),
    /// The owner is not in the feed (owner conditions are false).
    Unknown,
    /// The owner's record is in the feed but invalid: the identity's desired
    /// state cannot be known, so nothing may be revoked from it.
    Invalid,
}

impl<'a> OwnerRecord<'a> {
    /// The record to evaluate with (`None` for no, unknown or invalid owner).
    pub fn record(self) -> Option<&'a IdentityState> {
        match self {
            OwnerRecord::Known(o) => Some(o),
            _ => None,
        }
    }
}

/// An identity feed with an index by id.
#[derive(Debug, Clone)]
pub struct Population {
    /// The feed.
    pub feed: IdentityFeed,
    index: HashMap<String, usize>,
    invalid_ids: BTreeSet<String>,
}

impl Population {
    /// Indexes a feed.
    pub fn new(feed: IdentityFeed) -> Population {
        let index = feed.identities.iter().enumerate().map(|(i, s)| (s.id.clone(), i)).collect();
        let invalid_ids = feed.invalid.iter().filter_map(|r| r.id.clone()).collect();
        Population { feed, index, invalid_ids }
    }

    /// A population from identity records held in memory (an HR system's
    /// answer), named `<memory>` in output; a record's "line" is its 1-based position.
    pub fn from_records(records: impl IntoIterator<Item = IdentityState>) -> Population {
        let records = records.into_iter().zip(1..).collect();
        Population::new(IdentityFeed::from_records("<memory>", records))
    }

    /// A population from JSON Lines text (spec §4), read as a feed named
    /// `<memory>`; invalid records are kept as invalid, as from a file.
    pub fn from_json_lines(text: &str, defs: &Definitions) -> Result<Population, InputError> {
        parse_identities("<memory>.jsonl", text.as_bytes(), Some(IdentityFormat::JsonLines), defs).map(Population::new)
    }

    /// The valid record with `id`.
    pub fn get(&self, id: &str) -> Option<&IdentityState> {
        self.index.get(id).map(|i| &self.feed.identities[*i])
    }

    /// Is there an invalid record with `id`?
    pub fn is_invalid(&self, id: &str) -> bool {
        self.invalid_ids.contains(id)
    }

    /// Records of a CSV feed that may be two records glued together by a
    /// partial write, given the ids of the live state.
    ///
    /// CSV is not self-delimiting: a record cut inside its first cell, with
    /// the next record written straight after it, reads as one well-formed
    /// row whose id is the cut id's start followed by the next record's id
    /// (`u-10` + `u-1011,person,...` reads as `u-10u-1011`). No reader can see
    /// it in the feed alone, but the live state shows the pattern: the row's
    /// id is new (not in the live state), and it ends with the id of a live
    /// identity that has gone from the feed. Such a row is a
    /// [`GluedRecord`]; `plan` holds it back and treats the feed as
    /// uncertain for the run. Other formats delimit their records and give
    /// none.
    pub fn glued_records<'a>(&self, live_identities: impl IntoIterator<Item = &'a str>) -> Vec<GluedRecord> {
        if self.feed.format != IdentityFormat::Csv {
            return Vec::new();
        }
        let live: BTreeSet<&str> = live_identities.into_iter().collect();
        // The feed's ids that the live state does not know, reversed, so "ends with" is a prefix search.
        let mut new_ids: Vec<(String, &str, u32)> = self
            .feed
            .identities
            .iter()
            .enumerate()
            .map(|(i, s)| (s.id.as_str(), self.feed.line_of(i).unwrap_or(0)))
            .chain(self.feed.invalid.iter().filter_map(|r| r.id.as_deref().map(|id| (id, r.line))))
            .filter(|(id, _)| !live.contains(id))
            .map(|(id, line)| (id.chars().rev().collect(), id, line))
            .collect();
        new_ids.sort();
        let mut glued = Vec::new();
        for hidden in live.iter().filter(|id| self.get(id).is_none() && !self.is_invalid(id)) {
            let reversed: String = hidden.chars().rev().collect();
            let from = new_ids.partition_point(|(r, _, _)| r.as_str() < reversed.as_str());
            for (r, id, line) in &new_ids[from..] {
                if !r.starts_with(&reversed) {
                    break;
                }
                if r.len() > reversed.len() {
                    glued.push(GluedRecord {
                        id: id.to_string(),
                        hidden: hidden.to_string(),
                        line: *line,
                    });
                }
            }
        }
        glued.sort_by(|a, b| (a.line, &a.id, &a.hidden).cmp(&(b.line, &b.id, &b.hidden)));
        glued
    }

    /// What the feed says about `identity`'s owner.
    pub fn owner_of(&self, identity: &IdentityState) -> OwnerRecord<'_> {
        match identity.owner.as_deref() {
            None => OwnerRecord::NoOwner,
            Some(id) => match self.get(id) {
                Some(o) => OwnerRecord::Known(o),
                None if self.is_invalid(id) => OwnerRecord::Invalid,
                None => OwnerRecord::Unknown,
            },
        }
    }
}

/// A CSV row that may be two records glued together (see [`Population::glued_records`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GluedRecord {
    /// The row's id (`u-10u-1011`).
    pub id: String,
    /// The live identity missing from the feed whose id ends it (`u-1011`).
    pub hidden: String,
    /// The row's line.
    pub line: u32,
}

impl GluedRecord {
    /// Why both identities are held back, one clause.
    pub fn reason(&self, file: &str) -> String {
        format!(
            "line {} of `{}` holds `{}`, which ends with `{}`, an identity of the live state missing from the feed: a CSV record cut inside its id and glued to the next one reads like that",
            self.line,
            shown(file),
            shown(&self.id),
            shown(&self.hidden)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::identities::parse_identities;
    use crate::model::{load, SourceFile};

    fn population(file: &str, text: &str) -> Population {
        let (defs, diags) = load(&[SourceFile {
            name: "t.yaml".into(),
            text: "identity:\n  attributes:\n    status: { type: enum, values: [active], required: true }\n".into(),
        }]);
        assert!(diags.is_empty(), "{diags:?}");
        Population::new(parse_identities(file, text.as_bytes(), None, &defs).unwrap())
    }

    #[test]
    fn a_csv_row_ending_with_a_missing_live_id_may_be_two_records_glued() {
        // `u-1010,person,active` was cut after `u-10`, and `u-1011`'s row written straight after it.
        let feed = population("p.csv", "id,kind,status\nu-1,person,active\nu-10u-1011,person,active\n");
        let live = ["u-1", "u-1010", "u-1011", "x-1011"];
        let glued = feed.glued_records(live);
        assert_eq!(
            glued,
            [GluedRecord {
                id: "u-10u-1011".into(),
                hidden: "u-1011".into(),
                line: 3
            }]
        );
        assert_eq!(
            glued[0].reason("p.csv"),
            "line 3 of `p.csv` holds `u-10u-1011`, which ends with `u-1011`, an identity of the live state missing from the feed: a CSV record cut inside its id and glued to the next one reads like that"
        );
        // A row the live state already knows is not new, and other formats delimit their records.
        assert!(feed.glued_records(["u-1", "u-10u-1011", "u-1011"]).is_empty());
        let jsonl = population(
            "p.jsonl",
            "{\"id\": \"u-10u-1011\", \"kind\": \"person\", \"attributes\": {\"status\": \"active\"}}\n",
        );
        assert!(jsonl.glued_records(live).is_empty());
    }
}
