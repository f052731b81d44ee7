//! Recording what a download committed in the folder's manifest, as it goes: entries are
//! appended in small batches under the folder lock, and the manifest is compacted (with
//! `SHA256SUMS` rewritten) at the end.

use std::time::{Duration, Instant};

use crate::cancel::CancelToken;
use crate::error::Result;
use crate::progress::Progress;
use crate::store::atomic_file::remove_stale;
use crate::store::lock::{FolderLock, GRACE};
use crate::store::manifest::{append, compact, manifest_path, path_key, ManifestEntry};

use super::one_file::Outcome;
use super::DownloadOptions;

/// Entries waiting to be appended, at most this many ...
const BATCH: usize = 256;
/// ... or for this long.
const BATCH_TIME: Duration = Duration::from_secs(2);

pub(crate) struct Recorder<'a> {
    options: &'a DownloadOptions,
    cancel: &'a CancelToken,
    pending: Vec<ManifestEntry>,
    since: Instant,
    /// The paths recorded (their keys; sorted and deduplicated when full and at the end, 8
    /// bytes a path): compaction takes them out of other manifests.
    recorded: Vec<u64>,
}

impl<'a> Recorder<'a> {
    pub(crate) fn new(options: &'a DownloadOptions, cancel: &'a CancelToken) -> Recorder<'a> {
        Recorder {
            options,
            cancel,
            pending: Vec::new(),
            since: Instant::now(),
            recorded: Vec::new(),
        }
    }

    /// Take note of one outcome; append a batch when it is due.
    pub(crate) fn note(
        &mut self,
        outcome: &Outcome,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<()> {
        if !self.options.manifest {
            return Ok(());
        }
        let entry = match outcome {
            Outcome::Downloaded { entry, .. } | Outcome::Mirrored { entry, .. } => entry,
            Outcome::Unchanged { entry: Some(entry) }
            | Outcome::Skipped {
                record: Some(entry),
            } => entry,
            _ => return Ok(()),
        };
        if self.pending.is_empty() {
            self.since = Instant::now();
        }
        self.pending.push(entry.clone());
        if self.pending.len() >= BATCH || self.since.elapsed() >= BATCH_TIME {
            self.flush(Duration::ZERO, progress)?;
        }
        Ok(())
    }

    /// Append the pending entries under the lock; once the run is cancelled, wait at most
    /// `grace` for the lock.
    fn flush(&mut self, grace: Duration, progress: &mut dyn FnMut(&Progress)) -> Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        let out = &self.options.out_dir;
        let _lock = FolderLock::acquire_with_grace(out, self.cancel, grace, &mut |what| {
            progress(&Progress::Waiting {
                what: what.to_string(),
            })
        })?;
        append(&manifest_path(out, &self.options.suffix), &self.pending)?;
        for e in &self.pending {
            if self.recorded.len() == self.recorded.capacity() && self.recorded.len() >= 1 << 16 {
                self.recorded.sort_unstable();
                self.recorded.dedup();
            }
            self.recorded.push(path_key(&e.path));
        }
        self.pending.clear();
        Ok(())
    }

    /// Append what is left and compact the manifest (which writes `SHA256SUMS`: every run
    /// that touches the folder leaves a checksum list that matches its manifest), then remove
    /// what runs that died while this one ran left behind. Runs even after a cancellation:
    /// what was committed is recorded if the lock comes within [`GRACE`] (what is not, the
    /// next run finds in place and records after its checks).
    pub(crate) fn finish(mut self, progress: &mut dyn FnMut(&Progress)) -> Result<()> {
        let recorded = self.record_rest(progress);
        tidy(self.options);
        recorded
    }

    fn record_rest(&mut self, progress: &mut dyn FnMut(&Progress)) -> Result<()> {
        if !self.options.manifest {
            return Ok(());
        }
        self.flush(GRACE, progress)?;
        let out = &self.options.out_dir;
        let _lock = FolderLock::acquire_with_grace(out, self.cancel, GRACE, &mut |what| {
            progress(&Progress::Waiting {
                what: what.to_string(),
            })
        })?;
        self.recorded.sort_unstable();
        self.recorded.dedup();
        let recorded = &self.recorded;
        compact(out, &self.options.suffix, self.options.durable, &|p| {
            recorded.binary_search(&path_key(p)).is_ok()
        })
    }
}

/// Remove the temporary files of writers that died while this run went on (a run killed
/// beside this one): the sweep at the start of the run saw them alive and left them. Another
/// live run's files stay.
fn tidy(options: &DownloadOptions) {
    let out = &options.out_dir;
    let mut removed = remove_stale(out, false);
    let mut folders: Vec<&str> = options.what.iter().map(|k| k.folder()).collect();
    folders.sort_unstable();
    folders.dedup();
    for f in folders {
        removed += remove_stale(&out.join(f), true);
    }
    if removed > 0 {
        log::info!(
            "removed {removed} temporary file(s) left by a run that ended while this one went on, in {}",
            out.display()
        );
    }
}
