//! Splitting a result into N parts for a scheduler's job array.

use crate::error::{Error, Result};

/// One of N parts of a result, for scheduler job arrays: part K keeps the neurons whose
/// `neuron_id mod N == K - 1` (deterministic, so N tasks split a query with no overlap and no
/// gap).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Shard {
    index: u64,
    count: u64,
}

impl Shard {
    /// Part `index` (1-based) of `count`; `None` unless 1 <= index <= count.
    pub fn new(index: u64, count: u64) -> Option<Shard> {
        (count > 0 && (1..=count).contains(&index)).then_some(Shard { index, count })
    }

    /// K, 1-based.
    pub fn index(self) -> u64 {
        self.index
    }

    /// N.
    pub fn count(self) -> u64 {
        self.count
    }

    /// Whether this shard takes the neuron (one without an id goes to shard 1).
    pub fn contains(self, neuron_id: Option<u64>) -> bool {
        match neuron_id {
            Some(id) => id % self.count == self.index - 1,
            None => self.index == 1,
        }
    }

    /// The part of a file name that keeps shards of one folder apart: `.shard-2-of-10`.
    pub fn suffix(self) -> String {
        format!(".shard-{}-of-{}", self.index, self.count)
    }
}

impl std::str::FromStr for Shard {
    type Err = Error;

    /// `K/N` with 1 <= K <= N.
    fn from_str(s: &str) -> Result<Shard> {
        let bad = |why: &str| {
            Error::setting("shard", format!("'{}' {why}", crate::util::text::escape(s)))
        };
        let (k, n) = s
            .split_once('/')
            .ok_or_else(|| bad("must look like K/N, e.g. 2/10"))?;
        let k: u64 = k.trim().parse().map_err(|_| bad("K is not a number"))?;
        let n: u64 = n.trim().parse().map_err(|_| bad("N is not a number"))?;
        Shard::new(k, n).ok_or_else(|| bad("needs 1 <= K <= N"))
    }
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shards_split_without_overlap_or_gap() {
        let shards: Vec<Shard> = (1..=3)
            .map(|k| format!("{k}/3").parse::<Shard>().unwrap())
            .collect();
        for id in 0..1000u64 {
            assert_eq!(shards.iter().filter(|s| s.contains(Some(id))).count(), 1);
        }
        assert!("0/3".parse::<Shard>().is_err());
        assert!("4/3".parse::<Shard>().is_err());
        assert!("x".parse::<Shard>().is_err());
        assert_eq!(shards[1].suffix(), ".shard-2-of-3");
    }
}
