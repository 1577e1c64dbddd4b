//! The live state as the plan reads it: every live identity once, in id
//! order, with the catalog entitlements it holds as sorted ids, and the
//! grants of entitlements outside the catalog apart.
//!
//! Built from the readers' compact form ([`LiveFile`]) without resolving a
//! string per grant: each file's distinct strings are looked up once, then
//! the grants are pairs of integers sorted on every core. It owns the view,
//! not the files; it never decides what a grant means (that is the plan).

use std::collections::BTreeMap;

use rayon::prelude::*;

use crate::catalog::{Catalog, EntitlementId};
use crate::io::live::{LastUsed, LiveFile};

/// A live grant of an entitlement outside the catalog, with where it was read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnmanagedGrant<'a> {
    /// The identity.
    pub identity: &'a str,
    /// The entitlement, as written.
    pub entitlement: &'a str,
    /// The file it was first read from.
    pub file: &'a str,
    /// Its line there.
    pub line: u32,
}

/// The live state indexed by identity (see the module documentation).
#[derive(Debug, Clone)]
pub struct LiveIndex<'a> {
    /// Every identity of every file, sorted, each once.
    identities: Vec<&'a str>,
    /// Where each identity's catalog grants end in `held` (they start where the previous end).
    ends: Vec<u32>,
    /// Catalog grants, sorted per identity, each once.
    held: Vec<EntitlementId>,
    /// Grants outside the catalog, by identity then entitlement, each once (its first sighting).
    unmanaged: Vec<UnmanagedGrant<'a>>,
    /// `last_used` of the catalog grants whose export says, as (identity position, entitlement) pairs, sorted;
    /// a grant in several files keeps its latest use.
    last_used: Vec<(u64, LastUsed)>,
}

impl<'a> LiveIndex<'a> {
    /// Indexes `files` against `catalog`. A grant in several files counts once.
    pub fn new(catalog: &Catalog, files: &'a [LiveFile]) -> LiveIndex<'a> {
        // Each file's strings, looked up once: is it an identity, a catalog entitlement?
        let mut identities: Vec<&'a str> = Vec::new();
        let mut entitlement_of: Vec<Vec<Option<EntitlementId>>> = Vec::with_capacity(files.len());
        for file in files {
            let (strings, rows) = file.interned();
            let mut is_identity = vec![false; strings.len()];
            for row in rows {
                is_identity[row.identity.index()] = true;
            }
            identities.extend(strings.iter().filter(|(sym, _)| is_identity[sym.index()]).map(|(_, s)| s));
            entitlement_of.push(strings.iter().map(|(_, s)| catalog.entitlements.id(s)).collect());
        }
        identities.par_sort_unstable();
        identities.dedup();

        // Grants as (identity position, entitlement id) pairs; unmanaged ones apart.
        let mut pairs: Vec<u64> = Vec::with_capacity(files.iter().map(LiveFile::len).sum());
        let mut unmanaged: BTreeMap<(&'a str, &'a str), (&'a str, u32)> = BTreeMap::new();
        let mut last_used: Vec<(u64, LastUsed)> = Vec::new();
        for (file, entitlement_of) in files.iter().zip(&entitlement_of) {
            let (strings, rows) = file.interned();
            let position: Vec<u32> = strings
                .iter()
                .map(|(_, s)| identities.binary_search(&s).map_or(u32::MAX, |p| p as u32))
                .collect();
            for (index, used) in file.last_used_rows() {
                let row = rows[*index as usize];
                if let Some(e) = entitlement_of[row.entitlement.index()] {
                    last_used.push(((u64::from(position[row.identity.index()]) << 32) | u64::from(e.0), *used));
                }
            }
            for row in rows {
                match entitlement_of[row.entitlement.index()] {
                    Some(e) => pairs.push((u64::from(position[row.identity.index()]) << 32) | u64::from(e.0)),
                    None => {
                        let key = (strings.resolve(row.identity), strings.resolve(row.entitlement));
                        unmanaged.entry(key).or_insert((file.file.as_str(), row.line));
                    }
                }
            }
        }
        pairs.par_sort_unstable();
        pairs.dedup();
        // By pair, the latest use last: the last of each pair is kept.
        last_used.par_sort_unstable();
        let mut latest: Vec<(u64, LastUsed)> = Vec::with_capacity(last_used.len());
        for (pair, used) in last_used {
            match latest.last_mut() {
                Some((last, slot)) if *last == pair => *slot = used,
                _ => latest.push((pair, used)),
            }
        }

        let mut ends = Vec::with_capacity(identities.len());
        let mut held = Vec::with_capacity(pairs.len());
        let mut next = pairs.iter().peekable();
        for position in 0..identities.len() as u64 {
            while let Some(pair) = next.next_if(|p| *p >> 32 == position) {
                held.push(EntitlementId(*pair as u32));
            }
            ends.push(held.len() as u32);
        }
        let unmanaged = unmanaged
            .into_iter()
            .map(|((identity, entitlement), (file, line))| UnmanagedGrant {
                identity,
                entitlement,
                file,
                line,
            })
            .collect();
        LiveIndex {
            identities,
            ends,
            held,
            unmanaged,
            last_used: latest,
        }
    }

    /// When `identity` last used `entitlement`, when the live export says.
    pub fn last_used(&self, identity: &str, entitlement: EntitlementId) -> Option<LastUsed> {
        if self.last_used.is_empty() {
            return None;
        }
        let position = self.identities.binary_search(&identity).ok()? as u64;
        let pair = (position << 32) | u64::from(entitlement.0);
        let i = self.last_used.binary_search_by_key(&pair, |(p, _)| *p).ok()?;
        Some(self.last_used[i].1)
    }

    /// How many distinct identities the live state names.
    pub fn identity_count(&self) -> usize {
        self.identities.len()
    }

    /// Every live identity, sorted, with the catalog entitlements it holds (sorted ids).
    pub fn identities(&self) -> impl ExactSizeIterator<Item = (&'a str, &[EntitlementId])> + '_ {
        self.identities.iter().enumerate().map(|(i, id)| (*id, self.held_at(i)))
    }

    /// The catalog entitlements `identity` holds, sorted (empty when it holds none or is not live).
    pub fn held(&self, identity: &str) -> &[EntitlementId] {
        match self.identities.binary_search(&identity) {
            Ok(i) => self.held_at(i),
            Err(_) => &[],
        }
    }

    /// Grants of entitlements outside the catalog, by identity then entitlement.
    pub fn unmanaged(&self) -> &[UnmanagedGrant<'a>] {
        &self.unmanaged
    }

    fn held_at(&self, i: usize) -> &[EntitlementId] {
        let start = if i == 0 { 0 } else { self.ends[i - 1] as usize };
        &self.held[start..self.ends[i] as usize]
    }
}
