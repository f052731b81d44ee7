//! A set of neuron ids, for the checks every record of a search passes (sent twice? written
//! by this run?): a bitmap for the ids the archive uses, a hash set for any other.

use std::collections::HashSet;

/// Ids below this live in the bitmap (2 MB at most); the archive's are below 10^6.
const DENSE: u64 = 1 << 24;

/// A set of `u64` ids. A bit per id up to the largest one seen below [`DENSE`], so that
/// the common case costs a shift and a mask, not a hash; an id above it (a hostile or a
/// future server) goes to a hash set and costs memory for itself alone.
#[derive(Debug, Default, Clone)]
pub(crate) struct IdSet {
    bits: Vec<u64>,
    others: HashSet<u64>,
    len: usize,
}

impl IdSet {
    pub(crate) fn new() -> IdSet {
        IdSet::default()
    }

    /// Add `id`; true if it was not there.
    pub(crate) fn insert(&mut self, id: u64) -> bool {
        let fresh = if id < DENSE {
            let (word, bit) = ((id / 64) as usize, id % 64);
            if word >= self.bits.len() {
                // Grown by at least half again: amortized, like a vector's push.
                let want = (word + 1).max(self.bits.len() + self.bits.len() / 2);
                self.bits.resize(want, 0);
            }
            let slot = &mut self.bits[word];
            let fresh = *slot & (1 << bit) == 0;
            *slot |= 1 << bit;
            fresh
        } else {
            self.others.insert(id)
        };
        if fresh {
            self.len += 1;
        }
        fresh
    }

    /// Whether `id` is in the set.
    pub(crate) fn contains(&self, id: u64) -> bool {
        if id < DENSE {
            self.bits
                .get((id / 64) as usize)
                .is_some_and(|w| w & (1 << (id % 64)) != 0)
        } else {
            self.others.contains(&id)
        }
    }

    /// Ids in the set.
    #[cfg(test)]
    fn len(&self) -> usize {
        self.len
    }

    pub(crate) fn clear(&mut self) {
        self.bits.clear();
        self.others.clear();
        self.len = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn small_and_huge_ids_alike() {
        let mut s = IdSet::new();
        for id in [0, 1, 63, 64, 300_000, DENSE - 1, DENSE, u64::MAX] {
            assert!(!s.contains(id));
            assert!(s.insert(id), "{id}");
            assert!(!s.insert(id), "{id} twice");
            assert!(s.contains(id));
        }
        assert_eq!(s.len(), 8);
        assert!(!s.contains(2) && !s.contains(65) && !s.contains(DENSE + 1));
        // A huge id costs no bitmap.
        assert!(s.bits.len() <= (DENSE / 64) as usize);
        s.clear();
        assert!(!s.contains(64) && !s.contains(u64::MAX) && s.len() == 0);
    }
}
