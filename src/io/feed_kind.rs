//! Which kind of feed a file is — identity states or live grants — told from
//! its first record, so that a file given in the other's place is reported
//! once ("`live.jsonl` is a live-state export, not an identity feed") instead
//! of as one invalid record per line.
//!
//! It looks at the first record only and decides nothing else: a file it
//! cannot tell is left to the reader, which reports what is wrong with it.
//! The command (`cli/feed_kind.rs`) and the service (`serve`) both ask it.

use super::{SCIM_GROUP, SCIM_USER};

/// The kinds of feed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FeedKind {
    /// Identity states (spec §4): records with `id`, `kind`, `attributes`.
    Identities,
    /// Live state (spec §4): grants with `identity` and `entitlement`.
    Live,
}

/// How much of a file is looked at.
const SNIFF_BYTES: usize = 64 * 1024;

/// The kind of feed `bytes` looks like, when its first record says so clearly.
pub fn sniff(bytes: &[u8]) -> Option<FeedKind> {
    let head = String::from_utf8_lossy(&bytes[..bytes.len().min(SNIFF_BYTES)]);
    let text = head.trim_start_matches('\u{feff}').trim_start();
    let first_line = text.lines().next().unwrap_or_default().trim();
    match text.chars().next()? {
        '{' => {
            if let Ok(serde_json::Value::Object(record)) = serde_json::from_str::<serde_json::Value>(first_line) {
                if let Some(kind) = kind_of_record(&record) {
                    return Some(kind);
                }
            }
            // A document over several lines: a SCIM ListResponse says what its resources are.
            match (text.contains(SCIM_USER), text.contains(SCIM_GROUP)) {
                (true, false) => Some(FeedKind::Identities),
                (false, true) => Some(FeedKind::Live),
                _ => None,
            }
        }
        '[' => None,
        _ => {
            let header: Vec<String> = first_line
                .split(',')
                .map(|c| c.trim().trim_matches('"').to_ascii_lowercase())
                .collect();
            let has = |name: &str| header.iter().any(|c| c == name);
            if has("identity") && has("entitlement") && !has("kind") {
                Some(FeedKind::Live)
            } else if has("id") && has("kind") && !has("entitlement") {
                Some(FeedKind::Identities)
            } else {
                None
            }
        }
    }
}

fn kind_of_record(record: &serde_json::Map<String, serde_json::Value>) -> Option<FeedKind> {
    let has = |key: &str| record.contains_key(key);
    if has("identity") && has("entitlement") && !has("attributes") {
        Some(FeedKind::Live)
    } else if has("id") && (has("attributes") || has("kind")) && !has("entitlement") {
        Some(FeedKind::Identities)
    } else {
        None
    }
}

/// A feed given in the other kind's place: what is wrong, and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Misplaced {
    /// One sentence naming the file and what it is.
    pub message: String,
    /// Where it belongs.
    pub help: &'static str,
}

/// What is wrong with `file`, given where a feed of kind `expected` belongs, when it is plainly the other kind.
pub fn misplaced(file: &str, bytes: &[u8], expected: FeedKind) -> Option<Misplaced> {
    let found = sniff(bytes)?;
    if found == expected {
        return None;
    }
    Some(match found {
        FeedKind::Live => Misplaced {
            message: format!("`{file}` is a live-state export (grants of `identity` and `entitlement`), not an identity feed"),
            help: "give the identity feed (records of `id`, `kind` and `attributes`) with `--identities FILE`; live state goes to `entitle plan --live FILE`",
        },
        FeedKind::Identities => Misplaced {
            message: format!("`{file}` is an identity feed (records of `id`, `kind` and `attributes`), not a live-state export"),
            help: "give it with `--identities FILE`; `--live FILE` takes one grant per record: `identity` and `entitlement`",
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tells_the_kinds_apart() {
        let cases: [(&str, Option<FeedKind>); 9] = [
            ("{\"identity\": \"u-1\", \"entitlement\": \"a:b\"}\n", Some(FeedKind::Live)),
            (
                "\u{feff}\n{\"id\": \"u-1\", \"kind\": \"person\", \"attributes\": {}}\n",
                Some(FeedKind::Identities),
            ),
            ("identity,entitlement\nu-1,a:b\n", Some(FeedKind::Live)),
            ("id,kind,status\nu-1,person,active\n", Some(FeedKind::Identities)),
            (
                "{\n \"schemas\": [\"x\"], \"Resources\": [{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:Group\"]}]}",
                Some(FeedKind::Live),
            ),
            (
                "{\n \"schemas\": [\"x\"], \"Resources\": [{\"schemas\": [\"urn:ietf:params:scim:schemas:core:2.0:User\"]}]}",
                Some(FeedKind::Identities),
            ),
            ("[{\"id\": \"u-1\"}]", None),
            ("{\"id\": \"u-1\"\n", None),
            ("", None),
        ];
        for (text, expected) in cases {
            assert_eq!(sniff(text.as_bytes()), expected, "{text:?}");
        }
    }
}
