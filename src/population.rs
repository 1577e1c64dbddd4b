//! A population: an identity feed indexed by id, so each identity's owner
//! can be found, and told apart from an owner that is missing or broken.

use std::collections::{BTreeSet, HashMap};

use crate::io::identities::IdentityFeed;
use crate::state::IdentityState;

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

    /// The valid record with `id`.
    pub fn get(&self, id: &str) -> Option<&IdentityState> {
        self.index.get(id).map(|i| &self.feed.identities[*i])
    }

    /// Is there an invalid record with `id`?
    pub fn is_invalid(&self, id: &str) -> bool {
        self.invalid_ids.contains(id)
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
