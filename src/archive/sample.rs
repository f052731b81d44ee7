//! Stable samples and limits of a query's matches.
//!
//! A sample is decided by a key computed from each neuron's id and a seed, never from the
//! order in which pages, sorts, shards or releases bring the neurons: the same command
//! rebuilds the same sample, on any machine, in any language that can do 64-bit unsigned
//! arithmetic.
//!
//! # The key
//!
//! ```text
//! splitmix64(x):                       (all arithmetic modulo 2^64)
//!     z = x + 0x9E3779B97F4A7C15
//!     z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
//!     z = (z ^ (z >> 27)) * 0x94D049BB133111EB
//!     return z ^ (z >> 31)
//!
//! key(neuron_id, seed) = splitmix64(neuron_id ^ splitmix64(seed))
//! ```
//!
//! In Python:
//!
//! ```text
//! M = 2**64 - 1
//! def splitmix64(x):
//!     z = (x + 0x9E3779B97F4A7C15) & M
//!     z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
//!     z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
//!     return z ^ (z >> 31)
//! def key(neuron_id, seed):
//!     return splitmix64(neuron_id ^ splitmix64(seed))
//! ```
//!
//! `splitmix64` is a bijection of the 64-bit integers, so for one seed two neurons never
//! share a key: the `N` smallest keys are one well-defined set, without ties.
//!
//! # The rules
//!
//! - `P%` ([`Sample::Fraction`]) keeps a neuron when `key < floor(2^64 * P / 100)` (with `P`
//!   read exactly as the decimal it is written as; 100% keeps every neuron). Each neuron is
//!   decided alone, as it comes: O(1) memory, and next year the same command keeps the same
//!   neurons (those still matching) plus about `P%` of the new ones.
//! - `N` ([`Sample::Count`]) keeps the `N` neurons of smallest key ([`SampleKeeper`]: O(N)
//!   memory). A new release changes the sample only by newcomers with smaller keys.
//! - A record without a `neuron_id` has no key and is never sampled.
//! - The sample is decided before the shard: a shard keeps the sampled neurons whose id it
//!   owns, so the union of the shards' samples is the unsharded sample.
//! - [`Limit`] keeps the first `N` matches in the query's sort order. With both, the limit is
//!   taken first (the first `N` matches), then the sample of those, then the shard.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use crate::error::{Error, Result};

/// SplitMix64's finalizer (Steele, Lea and Flood, 2014): see the module docs.
const fn splitmix64(x: u64) -> u64 {
    let mut z = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// Percentages are read to this many decimals.
const DECIMALS: u32 = 6;
/// `10^DECIMALS`.
const SCALE: u64 = 1_000_000;
/// 100% in millionths of a percent.
const HUNDRED: u64 = 100 * SCALE;

/// A share of the matches, `(0, 100]` percent, held exactly in millionths of a percent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Percent {
    millionths: u32,
}

impl Percent {
    /// `millionths` millionths of a percent (`12_500_000` is 12.5%); `None` unless
    /// `1 <= millionths <= 100_000_000`.
    pub fn from_millionths(millionths: u32) -> Option<Percent> {
        (1..=HUNDRED)
            .contains(&u64::from(millionths))
            .then_some(Percent { millionths })
    }

    /// The share in millionths of a percent.
    pub fn millionths(self) -> u32 {
        self.millionths
    }

    /// The share as a fraction of 1 (for display; the rule itself is exact).
    pub fn as_fraction(self) -> f64 {
        f64::from(self.millionths) / HUNDRED as f64
    }

    /// `floor(2^64 * P / 100)`: the keys below it are kept.
    fn threshold(self) -> u128 {
        (u128::from(self.millionths) << 64) / u128::from(HUNDRED)
    }
}

impl fmt::Display for Percent {
    /// `12.5%`, `100%`, `0.000001%`: as few decimals as the value needs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let whole = u64::from(self.millionths) / SCALE;
        let part = u64::from(self.millionths) % SCALE;
        if part == 0 {
            return write!(f, "{whole}%");
        }
        let digits = format!("{part:06}");
        write!(f, "{whole}.{}%", digits.trim_end_matches('0'))
    }
}

/// How many of a query's matches to keep, and which: see the module docs for the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Sample {
    /// The `n` neurons of smallest key (`--sample N`).
    Count(u64),
    /// The neurons whose key is below `P%` of the key range (`--sample P%`).
    Fraction(Percent),
}

impl Sample {
    /// The key of a neuron under a seed: `splitmix64(neuron_id ^ splitmix64(seed))` (see
    /// the module docs). Part of the format: it never changes between versions.
    ///
    /// ```
    /// use neuromorpho::Sample;
    /// assert_eq!(Sample::key(1, 42), 0xf34f_e924_8c93_42e5);
    /// ```
    pub const fn key(neuron_id: u64, seed: u64) -> u64 {
        splitmix64(neuron_id ^ splitmix64(seed))
    }

    /// For a [`Sample::Fraction`], whether the neuron is kept (decided alone, as it comes).
    /// A [`Sample::Count`] cannot decide one neuron alone: `None` (use a [`SampleKeeper`]).
    pub fn keeps(self, neuron_id: u64, seed: u64) -> Option<bool> {
        match self {
            Sample::Fraction(p) => Some(u128::from(Sample::key(neuron_id, seed)) < p.threshold()),
            Sample::Count(_) => None,
        }
    }
}

impl fmt::Display for Sample {
    /// The command line's form: `N` or `P%`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Sample::Count(n) => write!(f, "{n}"),
            Sample::Fraction(p) => write!(f, "{p}"),
        }
    }
}

impl FromStr for Sample {
    type Err = Error;

    /// `N` (a whole number, at least 1) or `P%` (`0 < P <= 100`, up to six decimals).
    ///
    /// ```
    /// use neuromorpho::Sample;
    /// assert_eq!("250".parse::<Sample>()?, Sample::Count(250));
    /// assert_eq!("12.5%".parse::<Sample>()?.to_string(), "12.5%");
    /// assert_eq!(
    ///     "0%".parse::<Sample>().unwrap_err().to_string(),
    ///     "invalid setting sample: '0%' must be a share above 0% and at most 100%"
    /// );
    /// # Ok::<(), neuromorpho::Error>(())
    /// ```
    fn from_str(s: &str) -> Result<Sample> {
        let text = s.trim();
        let bad = |why: &str| {
            Error::setting(
                "sample",
                format!("'{}' {why}", crate::util::text::escape(s)),
            )
        };
        let Some(number) = text.strip_suffix('%') else {
            return match whole_number(text) {
                Some(0) => Err(bad("must keep at least 1 neuron")),
                Some(n) => Ok(Sample::Count(n)),
                None => Err(bad(
                    "must be a number of neurons (e.g. 500) or a percentage (e.g. 10%)",
                )),
            };
        };
        let millionths = millionths_of(number.trim_end())
            .ok_or_else(|| bad("must be a percentage with at most 6 decimals, e.g. 10% or 2.5%"))?;
        u32::try_from(millionths)
            .ok()
            .and_then(Percent::from_millionths)
            .map(Sample::Fraction)
            .ok_or_else(|| bad("must be a share above 0% and at most 100%"))
    }
}

/// `123` -> 123: ASCII digits only (no sign, no spaces), within `u64`.
fn whole_number(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// `12.5` -> 12_500_000 (millionths): digits, an optional point and at most six decimals.
fn millionths_of(s: &str) -> Option<u64> {
    let (whole, part) = s.split_once('.').unwrap_or((s, ""));
    if whole.is_empty() && part.is_empty() {
        return None;
    }
    let whole = if whole.is_empty() {
        0
    } else {
        whole_number(whole)?
    };
    if part.len() > DECIMALS as usize || (s.contains('.') && part.is_empty()) {
        return None;
    }
    let fraction = if part.is_empty() {
        0
    } else {
        whole_number(part)? * 10u64.pow(DECIMALS - part.len() as u32)
    };
    whole.checked_mul(SCALE)?.checked_add(fraction)
}

/// A kept neuron, ordered by its key alone.
#[derive(Debug)]
struct Kept<T> {
    neuron_id: u64,
    item: T,
}

/// The `n` neurons of smallest key, kept as they are offered: a bounded max-heap (a map
/// ordered by key, whose largest is dropped when a smaller one comes), O(n) memory whatever
/// the number offered. A neuron offered twice is kept once (its first offer).
///
/// ```
/// use neuromorpho::{dataset::SampleKeeper, Sample};
/// let ids = [5u64, 1, 9, 3];
/// let mut keeper = SampleKeeper::new(2, 42);
/// for id in ids {
///     keeper.offer(id, format!("neuron {id}"));
/// }
/// // The two smallest keys under seed 42, in id order.
/// let mut by_key = ids.to_vec();
/// by_key.sort_by_key(|&id| Sample::key(id, 42));
/// let mut want = by_key[..2].to_vec();
/// want.sort();
/// let kept = keeper.into_sorted();
/// assert_eq!(kept.iter().map(|(id, _)| *id).collect::<Vec<_>>(), want);
/// assert_eq!(kept[0].1, format!("neuron {}", want[0]));
/// ```
#[derive(Debug)]
pub struct SampleKeeper<T> {
    n: u64,
    seed: u64,
    kept: BTreeMap<u64, Kept<T>>,
}

impl<T> SampleKeeper<T> {
    /// Keep the `n` smallest keys under `seed`.
    pub fn new(n: u64, seed: u64) -> SampleKeeper<T> {
        SampleKeeper {
            n,
            seed,
            kept: BTreeMap::new(),
        }
    }

    /// Whether a neuron would be kept if offered now (so that a caller can skip building an
    /// item that would be dropped at once).
    pub fn would_keep(&self, neuron_id: u64) -> bool {
        let key = Sample::key(neuron_id, self.seed);
        if self.kept.contains_key(&key) {
            return false; // offered already
        }
        (self.kept.len() as u64) < self.n
            || self.kept.last_key_value().is_some_and(|(k, _)| key < *k)
    }

    /// Offer a neuron; true when it is kept for now (a later, smaller key may still push it
    /// out).
    pub fn offer(&mut self, neuron_id: u64, item: T) -> bool {
        if !self.would_keep(neuron_id) {
            return false;
        }
        let key = Sample::key(neuron_id, self.seed);
        self.kept.insert(key, Kept { neuron_id, item });
        if self.kept.len() as u64 > self.n {
            self.kept.pop_last();
        }
        true
    }

    /// Neurons kept so far.
    pub fn len(&self) -> usize {
        self.kept.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.kept.is_empty()
    }

    /// Forget every neuron offered (a search that starts over).
    pub fn clear(&mut self) {
        self.kept.clear();
    }

    /// The kept neurons as `(neuron_id, item)`, in id order.
    pub fn into_sorted(self) -> Vec<(u64, T)> {
        let mut out: Vec<(u64, T)> = self
            .kept
            .into_values()
            .map(|k| (k.neuron_id, k.item))
            .collect();
        out.sort_unstable_by_key(|(id, _)| *id);
        out
    }

    /// The kept items, in id order.
    pub fn into_items(self) -> Vec<T> {
        self.into_sorted().into_iter().map(|(_, t)| t).collect()
    }
}

/// A sample taken as neurons come, whatever its kind: a [`Sample::Fraction`] hands each
/// kept neuron back at once (nothing is held), a [`Sample::Count`] holds them in a
/// [`SampleKeeper`] until [`Sampler::finish`]. It counts what it was offered, for the
/// summary ("sampled 10% of 1,200 matches: 118 neurons").
///
/// ```
/// use neuromorpho::{dataset::Sampler, Sample};
/// let mut sampler = Sampler::new("50%".parse::<Sample>()?, 7);
/// let now: Vec<u64> = (1..=100).filter_map(|id| sampler.offer(Some(id), id)).collect();
/// assert_eq!(sampler.offered(), 100);
/// assert_eq!(sampler.kept(), now.len() as u64);
/// assert!(sampler.finish().is_empty(), "a fraction holds nothing back");
/// # Ok::<(), neuromorpho::Error>(())
/// ```
#[derive(Debug)]
pub struct Sampler<T> {
    sample: Sample,
    seed: u64,
    offered: u64,
    without_id: u64,
    passed: u64,
    keeper: Option<SampleKeeper<T>>,
}

impl<T> Sampler<T> {
    /// A sampler for `sample` under `seed`.
    pub fn new(sample: Sample, seed: u64) -> Sampler<T> {
        Sampler {
            sample,
            seed,
            offered: 0,
            without_id: 0,
            passed: 0,
            keeper: match sample {
                Sample::Count(n) => Some(SampleKeeper::new(n, seed)),
                Sample::Fraction(_) => None,
            },
        }
    }

    /// The sample taken.
    pub fn sample(&self) -> Sample {
        self.sample
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Offer a neuron (by its id: a record without one is never sampled). A fraction gives
    /// the item back when it is kept; a count keeps it (or not) until [`Sampler::finish`]
    /// and gives back `None`.
    pub fn offer(&mut self, neuron_id: Option<u64>, item: T) -> Option<T> {
        self.offered += 1;
        let Some(id) = neuron_id else {
            self.without_id += 1;
            return None;
        };
        match (&mut self.keeper, self.sample.keeps(id, self.seed)) {
            (Some(keeper), _) => {
                keeper.offer(id, item);
                None
            }
            (None, Some(true)) => {
                self.passed += 1;
                Some(item)
            }
            (None, _) => None,
        }
    }

    /// Whether offering this neuron could keep it (false for a neuron a fraction drops or a
    /// full count would drop at once): lets a caller skip building the item.
    pub fn would_keep(&self, neuron_id: Option<u64>) -> bool {
        let Some(id) = neuron_id else {
            return false;
        };
        match &self.keeper {
            Some(keeper) => keeper.would_keep(id),
            None => self.sample.keeps(id, self.seed) == Some(true),
        }
    }

    /// Matches offered (the population the sample is taken from).
    pub fn offered(&self) -> u64 {
        self.offered
    }

    /// Records offered without a `neuron_id` (never sampled).
    pub fn without_id(&self) -> u64 {
        self.without_id
    }

    /// Neurons kept: handed back so far (a fraction) or held now (a count).
    pub fn kept(&self) -> u64 {
        match &self.keeper {
            Some(k) => k.len() as u64,
            None => self.passed,
        }
    }

    /// Forget everything offered (a search that starts over).
    pub fn reset(&mut self) {
        self.offered = 0;
        self.without_id = 0;
        self.passed = 0;
        if let Some(k) = &mut self.keeper {
            k.clear();
        }
    }

    /// The neurons a count kept, in id order (empty for a fraction, which handed its
    /// neurons back as they came).
    pub fn finish(self) -> Vec<T> {
        self.keeper
            .map(SampleKeeper::into_items)
            .unwrap_or_default()
    }
}

/// The first `n` matches in the query's sort order (`--limit N`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Limit {
    n: u64,
}

impl Limit {
    /// The first `n` matches; `None` for 0.
    pub fn new(n: u64) -> Option<Limit> {
        (n > 0).then_some(Limit { n })
    }

    /// `n`.
    pub fn get(self) -> u64 {
        self.n
    }

    /// Whether the match at `position` (0-based, in the query's order: page number times
    /// the page size plus the position in the page) is kept.
    pub fn admits(self, position: u64) -> bool {
        position < self.n
    }

    /// How many matches are kept of `total`.
    pub fn kept_of(self, total: u64) -> u64 {
        self.n.min(total)
    }

    /// How many pages of `page_size` records the first `n` of `total` matches take: the job
    /// asks for no page past them. 0 when nothing matches (or the page size is 0).
    ///
    /// ```
    /// use neuromorpho::Limit;
    /// let limit = Limit::new(600).unwrap();
    /// assert_eq!(limit.pages_needed(10_000, 500), 2);
    /// assert_eq!(limit.pages_needed(300, 500), 1);
    /// assert_eq!(limit.pages_needed(0, 500), 0);
    /// ```
    pub fn pages_needed(self, total: u64, page_size: u64) -> u64 {
        if page_size == 0 {
            return 0;
        }
        self.kept_of(total).div_ceil(page_size)
    }
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.n)
    }
}

impl FromStr for Limit {
    type Err = Error;

    /// A whole number, at least 1.
    fn from_str(s: &str) -> Result<Limit> {
        whole_number(s.trim()).and_then(Limit::new).ok_or_else(|| {
            Error::setting(
                "limit",
                format!(
                    "'{}' must be a whole number of neurons, at least 1",
                    crate::util::text::escape(s)
                ),
            )
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Keys pinned by hand from the documented formula, in Python (3.12), so that a change
    /// of the function fails here:
    ///
    /// ```text
    /// >>> M = 2**64 - 1
    /// >>> def splitmix64(x):
    /// ...     z = (x + 0x9E3779B97F4A7C15) & M
    /// ...     z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M
    /// ...     z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M
    /// ...     return z ^ (z >> 31)
    /// >>> def key(i, s): return splitmix64(i ^ splitmix64(s))
    /// >>> hex(splitmix64(0))
    /// '0xe220a8397b1dcdaf'
    /// >>> [hex(key(i, s)) for i, s in [(1, 0), (1, 42), (2, 42), (268441, 42), (10037, 7), (0, 0), (M, M)]]
    /// ['0x8b4fda8c892b50e', '0xf34fe9248c9342e5', '0x725395388690ae46', '0x7872667d5661a84b',
    ///  '0x3a2d471560ddc2ff', '0xa706dd2f4d197e6f', '0x6309143e67a47936']
    /// >>> hex((2**64 * 125) // (100 * 10)), hex((2**64 * 1) // (100 * 10**6))
    /// ('0x2000000000000000', '0x2af31dc461')
    /// ```
    #[test]
    fn keys_are_the_documented_function() {
        assert_eq!(splitmix64(0), 0xe220_a839_7b1d_cdaf);
        let pinned: [(u64, u64, u64); 7] = [
            (1, 0, 0x08b4_fda8_c892_b50e),
            (1, 42, 0xf34f_e924_8c93_42e5),
            (2, 42, 0x7253_9538_8690_ae46),
            (268_441, 42, 0x7872_667d_5661_a84b),
            (10_037, 7, 0x3a2d_4715_60dd_c2ff),
            (0, 0, 0xa706_dd2f_4d19_7e6f),
            (u64::MAX, u64::MAX, 0x6309_143e_67a4_7936),
        ];
        for (id, seed, key) in pinned {
            assert_eq!(Sample::key(id, seed), key, "key({id}, {seed})");
        }
        let p = |s: &str| match s.parse::<Sample>().unwrap() {
            Sample::Fraction(p) => p,
            other => panic!("{other:?}"),
        };
        assert_eq!(p("12.5%").threshold(), 0x2000_0000_0000_0000);
        assert_eq!(p("0.000001%").threshold(), 0x2a_f31d_c461);
        assert_eq!(p("100%").threshold(), 1u128 << 64);
    }

    #[test]
    fn forms_parse_and_print_back() {
        for (text, shown) in [
            ("250", "250"),
            (" 7 ", "7"),
            ("10%", "10%"),
            ("12.5%", "12.5%"),
            ("12.50%", "12.5%"),
            ("0.5%", "0.5%"),
            (".5%", "0.5%"),
            ("0.000001%", "0.000001%"),
            ("100%", "100%"),
            ("100.0%", "100%"),
            ("33.333333%", "33.333333%"),
            ("5 %", "5%"),
        ] {
            let s: Sample = text.parse().unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(s.to_string(), shown, "{text}");
            assert_eq!(s.to_string().parse::<Sample>().unwrap(), s, "{text}");
        }
        for bad in [
            "",
            "0",
            "0%",
            "-5%",
            "+5",
            "101%",
            "100.000001%",
            "1e2%",
            "%",
            "abc",
            "5.1234567%",
            "5.%",
            "nan%",
            "inf%",
            "5%%",
            "1,5%",
            "99999999999999999999999",
            "10 0",
        ] {
            let err = bad.parse::<Sample>().unwrap_err().to_string();
            assert!(
                err.starts_with("invalid setting sample: '") && !err.contains('\n'),
                "{bad:?}: {err}"
            );
        }
        assert!("\u{1b}[2J"
            .parse::<Sample>()
            .unwrap_err()
            .to_string()
            .contains("\\x1b"));
    }

    #[test]
    fn a_fraction_keeps_about_its_share_and_the_same_neurons_whatever_the_order() {
        let s: Sample = "10%".parse().unwrap();
        let kept: Vec<u64> = (1..=100_000u64)
            .filter(|&id| s.keeps(id, 3) == Some(true))
            .collect();
        assert!((9_500..=10_500).contains(&kept.len()), "{}", kept.len());
        let backwards: Vec<u64> = (1..=100_000u64)
            .rev()
            .filter(|&id| s.keeps(id, 3) == Some(true))
            .collect();
        assert_eq!(backwards.into_iter().rev().collect::<Vec<_>>(), kept);
        // Another seed, another sample.
        let other = (1..=100_000u64).filter(|&id| s.keeps(id, 4) == Some(true));
        assert_ne!(other.collect::<Vec<_>>(), kept);
        // A larger share keeps every neuron a smaller one keeps.
        let more: Sample = "25%".parse().unwrap();
        assert!(kept.iter().all(|&id| more.keeps(id, 3) == Some(true)));
        assert!((1..1000).all(|id| "100%".parse::<Sample>().unwrap().keeps(id, 9) == Some(true)));
        assert_eq!(Sample::Count(5).keeps(1, 1), None);
    }

    #[test]
    fn a_keeper_keeps_the_smallest_keys_in_id_order_whatever_the_order_offered() {
        let ids: Vec<u64> = (1..=5000).map(|i| i * 7 + 3).collect();
        let mut by_key = ids.clone();
        by_key.sort_by_key(|&id| Sample::key(id, 11));
        let mut want: Vec<u64> = by_key[..100].to_vec();
        want.sort_unstable();
        for order in [
            ids.clone(),
            ids.iter().rev().copied().collect(),
            by_key.clone(),
        ] {
            let mut keeper = SampleKeeper::new(100, 11);
            for &id in &order {
                keeper.offer(id, id * 10);
            }
            // Offered twice: kept once.
            for &id in &order[..50] {
                keeper.offer(id, 0);
            }
            assert_eq!(keeper.len(), 100);
            let got = keeper.into_sorted();
            assert_eq!(got.iter().map(|(id, _)| *id).collect::<Vec<_>>(), want);
            assert!(
                got.iter().all(|(id, item)| *item == id * 10),
                "first offer kept"
            );
        }
        let mut small = SampleKeeper::new(10, 1);
        for id in 0..3 {
            small.offer(id, ());
        }
        assert_eq!(small.into_sorted().len(), 3, "fewer than n: all of them");
        let mut none = SampleKeeper::<u8>::new(0, 1);
        assert!(!none.offer(1, 1) && none.is_empty());
    }

    #[test]
    fn a_sampler_counts_and_defers_a_count() {
        let mut count = Sampler::new(Sample::Count(3), 5);
        for id in 1..=10 {
            assert_eq!(count.offer(Some(id), id), None);
        }
        assert_eq!(count.offer(None, 99), None);
        assert_eq!(
            (count.offered(), count.without_id(), count.kept()),
            (11, 1, 3)
        );
        let mut want: Vec<u64> = (1..=10).collect();
        want.sort_by_key(|&id| Sample::key(id, 5));
        want.truncate(3);
        want.sort_unstable();
        assert_eq!(count.finish(), want);

        let mut share = Sampler::new("30%".parse().unwrap(), 5);
        let now: Vec<u64> = (1..=1000)
            .filter_map(|id| share.offer(Some(id), id))
            .collect();
        assert_eq!(share.kept(), now.len() as u64);
        assert!(now.iter().all(|&id| share.would_keep(Some(id))));
        share.reset();
        assert_eq!((share.offered(), share.kept()), (0, 0));
    }

    #[test]
    fn limits_count_pages() {
        let l: Limit = "1000".parse().unwrap();
        assert_eq!(l.pages_needed(10_000, 500), 2);
        assert_eq!(l.pages_needed(1001, 500), 2);
        assert_eq!(Limit::new(1001).unwrap().pages_needed(10_000, 500), 3);
        assert_eq!(l.pages_needed(999, 500), 2);
        assert_eq!(l.pages_needed(10, 500), 1);
        assert_eq!(l.pages_needed(10, 0), 0);
        assert!(l.admits(999) && !l.admits(1000));
        assert_eq!(l.kept_of(10), 10);
        assert_eq!(l.to_string(), "1000");
        for bad in ["0", "-1", "x", "", "1.5"] {
            let e = bad.parse::<Limit>().unwrap_err().to_string();
            assert!(e.starts_with("invalid setting limit: '"), "{e}");
        }
    }
}
