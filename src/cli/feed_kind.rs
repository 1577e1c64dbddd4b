//! Which kind of feed a file is — identity states or live grants — told from
//! its first record, so that a file given in the other's place is reported
//! once ("`live.jsonl` is a live-state export, not an identity feed") instead
//! of as one invalid record per line.
//!
//! It looks at the first record only and decides nothing else: a file it
//! cannot tell is left to the reader, which reports what is wrong with it.

use super::errors::CliError;

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

const SCIM_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
const SCIM_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";

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

/// The error for `file`, given where a feed of kind `expected` belongs, when it is plainly the other kind.
pub fn misplaced(file: &str, bytes: &[u8], expected: FeedKind) -> Option<CliError> {
    let found = sniff(bytes)?;
    if found == expected {
        return None;
    }
    Some(match found {
        FeedKind::Live => CliError::new(
            "wrong-feed-kind",
            format!("`{file}` is a live-state export (grants of `identity` and `entitlement`), not an identity feed"),
        )
        .at(file, None)
        .with_help("give the identity feed (records of `id`, `kind` and `attributes`) with `--identities FILE`; live state goes to `entitle plan --live FILE`"),
        FeedKind::Identities => CliError::new(
            "wrong-feed-kind",
            format!("`{file}` is an identity feed (records of `id`, `kind` and `attributes`), not a live-state export"),
        )
        .at(file, None)
        .with_help("give it with `--identities FILE`; `--live FILE` takes one grant per record: `identity` and `entitlement`"),
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

    #[test]
    fn only_the_other_kind_is_misplaced() {
        let live = b"{\"identity\": \"u-1\", \"entitlement\": \"a:b\"}\n";
        assert!(misplaced("live.jsonl", live, FeedKind::Live).is_none());
        let e = misplaced("live.jsonl", live, FeedKind::Identities).unwrap();
        assert_eq!(e.code, "wrong-feed-kind");
        assert_eq!(
            e.message,
            "`live.jsonl` is a live-state export (grants of `identity` and `entitlement`), not an identity feed"
        );
    }
}
