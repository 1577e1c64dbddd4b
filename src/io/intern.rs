//! Interned strings: each distinct string stored once, named by a small
//! integer, so a live export of millions of grants over a few thousand
//! identities and entitlements costs a few integers per grant.
//!
//! It owns the strings it hands out; it never forgets one while it lives.

use std::collections::HashMap;
use std::sync::Arc;

/// A string's number in its [`Interner`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct Sym(u32);

impl Sym {
    /// Its position in its interner, for tables indexed by symbol.
    pub(crate) fn index(self) -> usize {
        self.0 as usize
    }
}

/// Distinct strings, each one allocation (shared by the index and the list).
#[derive(Debug, Default, Clone)]
pub(crate) struct Interner {
    strings: Vec<Arc<str>>,
    index: HashMap<Arc<str>, Sym, foldhash::fast::RandomState>,
}

impl Interner {
    /// The symbol of `s`, adding it on first sight; `None` past `u32::MAX` strings.
    pub(crate) fn intern(&mut self, s: &str) -> Option<Sym> {
        if let Some(sym) = self.index.get(s) {
            return Some(*sym);
        }
        let sym = Sym(u32::try_from(self.strings.len()).ok()?);
        let shared: Arc<str> = Arc::from(s);
        self.strings.push(shared.clone());
        self.index.insert(shared, sym);
        Some(sym)
    }

    /// The string of `sym` (empty for a symbol of another interner that is out of range).
    pub(crate) fn resolve(&self, sym: Sym) -> &str {
        self.strings.get(sym.0 as usize).map_or("", |s| s)
    }

    /// Every string with its symbol, in symbol order.
    pub(crate) fn iter(&self) -> impl ExactSizeIterator<Item = (Sym, &str)> + '_ {
        self.strings.iter().enumerate().map(|(i, s)| (Sym(i as u32), &**s))
    }

    /// How many distinct strings it holds.
    pub(crate) fn len(&self) -> usize {
        self.strings.len()
    }
}

impl PartialEq for Interner {
    fn eq(&self, other: &Self) -> bool {
        self.strings == other.strings
    }
}

impl Eq for Interner {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_distinct_string_once() {
        let mut strings = Interner::default();
        let a = strings.intern("u-1").unwrap();
        let b = strings.intern("okta:sso").unwrap();
        assert_eq!(strings.intern("u-1"), Some(a));
        assert_ne!(a, b);
        assert_eq!((strings.resolve(a), strings.resolve(b)), ("u-1", "okta:sso"));
        assert_eq!(strings.len(), 2);
    }
}
