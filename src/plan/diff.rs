//! The difference of two sorted lists of ids: what only the first holds,
//! what only the second holds, and how many both hold. The plan diffs desired
//! against live with it; what-if diffs a state against another.
//!
//! Pure: no catalog, no strings, no allocation beyond the two result lists.

/// What two sorted, duplicate-free lists do not share.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SortedDiff<T> {
    /// In the first list only, sorted.
    pub only_first: Vec<T>,
    /// In the second list only, sorted.
    pub only_second: Vec<T>,
    /// How many items both hold.
    pub both: usize,
}

impl<T> SortedDiff<T> {
    /// How many items either holds: |first ∪ second|.
    pub fn union(&self) -> usize {
        self.only_first.len() + self.only_second.len() + self.both
    }
}

/// Compares two sorted, duplicate-free lists in one pass.
///
/// (`sorted_diff(&[1, 3, 5], &[3, 4])`: only first `[1, 5]`, only second `[4]`, both 1.)
pub fn sorted_diff<T: Ord + Copy>(first: &[T], second: &[T]) -> SortedDiff<T> {
    let mut out = SortedDiff {
        only_first: Vec::new(),
        only_second: Vec::new(),
        both: 0,
    };
    let (mut i, mut j) = (0, 0);
    while i < first.len() && j < second.len() {
        match first[i].cmp(&second[j]) {
            std::cmp::Ordering::Less => {
                out.only_first.push(first[i]);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                out.only_second.push(second[j]);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                out.both += 1;
                i += 1;
                j += 1;
            }
        }
    }
    out.only_first.extend_from_slice(&first[i..]);
    out.only_second.extend_from_slice(&second[j..]);
    out
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn agrees_with_set_difference(a in prop::collection::btree_set(0u32..64, 0..24), b in prop::collection::btree_set(0u32..64, 0..24)) {
            let first: Vec<u32> = a.iter().copied().collect();
            let second: Vec<u32> = b.iter().copied().collect();
            let d = sorted_diff(&first, &second);
            prop_assert_eq!(&d.only_first, &a.difference(&b).copied().collect::<Vec<_>>());
            prop_assert_eq!(&d.only_second, &b.difference(&a).copied().collect::<Vec<_>>());
            prop_assert_eq!(d.both, a.intersection(&b).count());
            prop_assert_eq!(d.union(), a.union(&b).collect::<BTreeSet<_>>().len());
        }
    }
}

#[cfg(test)]
mod example {
    use super::*;

    #[test]
    fn the_diff_of_two_sorted_lists() {
        let d = sorted_diff(&[1, 3, 5], &[3, 4]);
        assert_eq!((d.only_first, d.only_second, d.both), (vec![1, 5], vec![4], 1));
    }
}
