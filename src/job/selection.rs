//! Which of a query's matches a job keeps: the first `N` in the sort order (a limit), then a
//! stable sample of those (see [`crate::archive::sample`]), page by page as they come.
//!
//! A share decides each neuron as its page arrives (nothing is held). A count must see
//! every match before it knows its `N`: the records it may keep are written to a temporary
//! file of the output folder as they come (only those that would be kept at the time they
//! are offered: about `N * (1 + ln(matches / N))` of them), and its keeper holds 12 bytes a
//! neuron to find them again, so that a sample of the whole archive stays within a few
//! megabytes whatever `N`'s records weigh.

use std::io::{BufWriter, Read, Seek, SeekFrom, Write};
use std::path::Path;

use crate::api::search::{SkippedRecord, PAGE_SIZE};
use crate::archive::sample::{Limit, Sample, Sampler};
use crate::archive::{Neuron, Placed};
use crate::error::{Error, Result};
use crate::store::atomic_file::AtomicFile;

use super::summary::SampledSummary;

/// Records handed back at a time when a count's sample is read back.
const CHUNK: usize = 500;

/// Where a spilled record is: offset and length in the spill file.
type Spot = (u64, u32);

/// The records a count may keep, one JSON text after another in a temporary file.
struct Spill {
    out: BufWriter<AtomicFile>,
    at: u64,
}

/// A job's limit and sample, applied to pages as they come.
pub(crate) struct Selection {
    limit: Option<Limit>,
    sample: Option<Sample>,
    seed: u64,
    sampler: Option<Sampler<Spot>>,
    spill: Option<Spill>,
    /// Matches looked at (after the limit).
    population: u64,
    /// Records handed on now (a share, a limit alone).
    passed: u64,
}

impl Selection {
    /// The selection of a job: nothing to do without a limit or a sample.
    pub(crate) fn new(
        out_dir: &Path,
        limit: Option<Limit>,
        sample: Option<Sample>,
        seed: u64,
    ) -> Result<Selection> {
        let spill = match sample {
            Some(Sample::Count(_)) => {
                let at = out_dir.join(".neuromorpho-sample");
                let file = AtomicFile::create(&at, false).map_err(|e| Error::io(&at, e))?;
                Some(Spill {
                    out: BufWriter::with_capacity(256 * 1024, file),
                    at: 0,
                })
            }
            _ => None,
        };
        Ok(Selection {
            limit,
            sample,
            seed,
            sampler: sample.map(|s| Sampler::new(s, seed)),
            spill,
            population: 0,
            passed: 0,
        })
    }

    /// Whether it keeps anything but every match.
    pub(crate) fn is_active(&self) -> bool {
        self.limit.is_some() || self.sample.is_some()
    }

    /// Forget what was seen (a search that starts over).
    pub(crate) fn reset(&mut self) -> Result<()> {
        if let Some(s) = self.sampler.as_mut() {
            s.reset();
        }
        if let Some(spill) = self.spill.as_mut() {
            let file = spill.out.get_mut();
            let at = file.temp_path().to_path_buf();
            spill.out.flush().map_err(|e| Error::io(&at, e))?;
            spill
                .out
                .get_mut()
                .truncate()
                .map_err(|e| Error::io(&at, e))?;
            spill.at = 0;
        }
        self.population = 0;
        self.passed = 0;
        Ok(())
    }

    /// The records and skipped entries of a page (`number`: its place in the search, or
    /// `None` for names, placed in the order given) that go on now. A count keeps its
    /// candidates back, to [`Selection::finish`].
    pub(crate) fn take_page(
        &mut self,
        number: Option<u64>,
        records: Placed<Neuron>,
        skipped: Vec<SkippedRecord>,
    ) -> Result<(Placed<Neuron>, Vec<SkippedRecord>)> {
        if !self.is_active() {
            return Ok((records, skipped));
        }
        let base = number.map_or(0, |n| n.saturating_mul(PAGE_SIZE));
        let admits = |pos: u64| {
            self.limit
                .is_none_or(|l| l.admits(base.saturating_add(pos)))
        };
        let records: Placed<Neuron> = records
            .into_iter()
            .filter(|(pos, _)| admits(*pos as u64))
            .collect();
        let skipped: Vec<SkippedRecord> =
            skipped.into_iter().filter(|s| admits(s.position)).collect();
        self.population += (records.len() + skipped.len()) as u64;
        let Some(sampler) = self.sampler.as_mut() else {
            self.passed += records.len() as u64;
            return Ok((records, skipped));
        };
        // An entry that is not a record has no id: never sampled (but counted).
        for _ in &skipped {
            sampler.offer(None, (0, 0));
        }
        let mut kept = Vec::new();
        for (pos, n) in records {
            let id = n.neuron_id();
            match self.spill.as_mut() {
                None => {
                    if sampler.offer(id, (0, 0)).is_some() {
                        kept.push((pos, n));
                    }
                }
                Some(spill) => {
                    // Written only when it would be kept now: most of a big query never is.
                    let spot = if sampler.would_keep(id) {
                        spill.push(n.raw_json())?
                    } else {
                        (0, 0)
                    };
                    sampler.offer(id, spot);
                }
            }
        }
        self.passed += kept.len() as u64;
        Ok((kept, Vec::new()))
    }

    /// A count's sample, read back in id order, `CHUNK` records at a time (placed in that
    /// order), to `each`; then what was kept of how many (`None` without a limit or a
    /// sample).
    pub(crate) fn finish(
        self,
        each: &mut dyn FnMut(Placed<Neuron>) -> Result<()>,
    ) -> Result<Option<SampledSummary>> {
        if !self.is_active() {
            return Ok(None);
        }
        let mut kept = self.passed;
        if let (Some(sampler), Some(mut spill)) = (self.sampler, self.spill) {
            let spots = sampler.finish();
            kept = spots.len() as u64;
            let path = spill.out.get_ref().temp_path().to_path_buf();
            spill.out.flush().map_err(|e| Error::io(&path, e))?;
            let mut file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
            let mut text = Vec::new();
            let mut place = 0usize;
            for chunk in spots.chunks(CHUNK) {
                let mut records = Vec::with_capacity(chunk.len());
                for &(offset, len) in chunk {
                    text.resize(len as usize, 0);
                    file.seek(SeekFrom::Start(offset))
                        .and_then(|_| file.read_exact(&mut text))
                        .map_err(|e| Error::io(&path, e))?;
                    let json = String::from_utf8_lossy(&text).into_owned();
                    if let Some(n) = Neuron::from_text(json) {
                        records.push((place, n));
                        place += 1;
                    }
                }
                each(records)?;
            }
        }
        Ok(Some(SampledSummary {
            sample: self.sample,
            seed: self.seed,
            limit: self.limit,
            population: self.population,
            kept,
        }))
    }
}

impl Spill {
    /// Append a record's text; where it is.
    fn push(&mut self, json: &str) -> Result<Spot> {
        let len = u32::try_from(json.len()).unwrap_or(u32::MAX);
        let bytes = json.as_bytes().get(..len as usize).unwrap_or_default();
        let at = self.out.get_ref().temp_path().to_path_buf();
        self.out.write_all(bytes).map_err(|e| Error::io(&at, e))?;
        let spot = (self.at, len);
        self.at += u64::from(len);
        Ok(spot)
    }
}
