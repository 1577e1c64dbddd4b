//! The command's face of [`entitle::io::feed_kind`]: a feed given in the
//! other kind's place as one located CLI error.
//!
//! It decides nothing itself: the library tells the kinds apart.

pub use entitle::io::feed_kind::FeedKind;

use super::errors::CliError;

/// The error for `file`, given where a feed of kind `expected` belongs, when it is plainly the other kind.
pub fn misplaced(file: &str, bytes: &[u8], expected: FeedKind) -> Option<CliError> {
    let found = entitle::io::feed_kind::misplaced(file, bytes, expected)?;
    Some(CliError::new("wrong-feed-kind", found.message).at(file, None).with_help(found.help))
}

#[cfg(test)]
mod tests {
    use super::*;

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
