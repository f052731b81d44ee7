//! `verify` and `verify --repair`: check a folder against its manifest, offline, and mend
//! what that found from the client's server.

use std::path::Path;

use crate::client::Client;
use crate::download::{DownloadOptions, DownloadReport, FailedFile};
use crate::error::{FailureKind, Result};
use crate::progress::Progress;
use crate::store::lock::FolderLock;
use crate::store::manifest::{compact, suffix_of, Manifest, ManifestEntry, SUMS};
use crate::store::verify::{Problem, VerifyOptions, VerifyReport};

impl Client {
    /// Check a folder against its manifest, offline: every entry (present, a regular file
    /// reached through plain folders, its size, and with [`VerifyOptions::hash`] its
    /// SHA-256), every manifest line (each one that cannot be used is a finding), each
    /// checksum list against its manifest, and the files of the data folders that no entry
    /// names. Only reads; sends no request (a [`Client::new`](crate::Client::new) with no
    /// network will do); hashes [`VerifyOptions::threads`] files at once. `progress` gets
    /// [`Progress::Verified`] on this thread. An `Err` when there is no manifest to check
    /// (or one cannot be read at all), or when the client's token is cancelled.
    ///
    /// ```no_run
    /// let client = neuromorpho::Client::new()?;
    /// let report = client.verify("neurons".as_ref(), &Default::default(), |_| {})?;
    /// for f in &report.problems {
    ///     println!("{}: {}", f.path, f.problem);
    /// }
    /// # Ok::<(), neuromorpho::Error>(())
    /// ```
    pub fn verify(
        &self,
        out_dir: &Path,
        options: &VerifyOptions,
        progress: impl FnMut(&Progress),
    ) -> Result<VerifyReport> {
        crate::store::verify::verify(out_dir, options, &self.cancel, progress)
    }

    /// Mend what [`Client::verify`] found, from this client's server: every file that is missing, cut,
    /// changed or replaced by something else than a file is fetched again, atomically (the
    /// file part of the URL its entry records, after `/dableFiles/`), and recorded; manifests
    /// with lines that cannot be used are compacted (those lines dropped, with a warning) and
    /// every checksum list found missing or stale is written again. Unlisted files are left
    /// alone; so is an entry behind a symlinked folder (a failure of the report: nothing is
    /// placed through one). An entry whose URL is not a file of the server is a failure too,
    /// never asked for (a manifest is a file anyone can edit: it does not choose the hosts we
    /// talk to).
    pub fn repair(
        &self,
        out_dir: &Path,
        report: &VerifyReport,
        mut progress: impl FnMut(&Progress),
    ) -> Result<DownloadReport> {
        let manifest = Manifest::load(out_dir)?;
        let mut by_manifest: std::collections::BTreeMap<String, Vec<ManifestEntry>> =
            Default::default();
        let mut total = DownloadReport::default();
        let mut to_compact: std::collections::BTreeSet<String> = Default::default();
        for p in &report.problems {
            match &p.problem {
                Problem::ManifestLine { .. } => {
                    to_compact.insert(suffix_of(Path::new(&p.path)));
                    continue;
                }
                Problem::Checksums(_) => {
                    let suffix = p.path.strip_prefix(SUMS).unwrap_or("").to_string();
                    to_compact.insert(suffix);
                    continue;
                }
                _ => {}
            }
            let Some(e) = &p.entry else { continue };
            let unrepaired = |detail: String, kind| FailedFile {
                neuron_name: e.neuron_name.clone(),
                neuron_id: e.neuron_id,
                kind: e.kind,
                url: e.url.clone(),
                reason: kind,
                detail,
                path: e.path.clone(),
                seen: Some(e.clone()),
            };
            if let Problem::Blocked(why) = &p.problem {
                total
                    .failed
                    .push(unrepaired(format!("{}: {why}", e.path), FailureKind::Io));
                continue;
            }
            if !p.problem.refetched() {
                continue;
            }
            let Some(url) = rebased(self.base_url(), &e.url) else {
                total.failed.push(unrepaired(
                    format!(
                        "{}: its manifest URL is not a file of the server (no /dableFiles/ or /images/imageFiles/); not fetched",
                        e.path
                    ),
                    FailureKind::InvalidRecord,
                ));
                continue;
            };
            let suffix = manifest.suffix_of(&e.path).unwrap_or_default();
            let mut e = e.clone();
            e.url = url;
            by_manifest.entry(suffix).or_default().push(e);
        }
        for (suffix, entries) in by_manifest {
            let mut options = DownloadOptions::new(out_dir);
            options.skip_existing = false;
            options.suffix = suffix.clone();
            // The run's recorder compacts this manifest and writes its checksum list.
            to_compact.remove(&suffix);
            let r = self.refetch(&entries, &options, &mut progress)?;
            total.downloaded += r.downloaded;
            total.bytes += r.bytes;
            total.failed.extend(r.failed);
            total.files.extend(r.files);
        }
        if !to_compact.is_empty() {
            let _lock = FolderLock::acquire(out_dir, &self.cancel, &mut |what| {
                progress(&Progress::Waiting {
                    what: what.to_string(),
                })
            })?;
            for suffix in to_compact {
                compact(out_dir, &suffix, true, &|_| false)?;
            }
        }
        Ok(total)
    }
}

/// `url`'s file part (from `/dableFiles/` or `/images/imageFiles/` on) on the server `base`;
/// `None` if it has none.
fn rebased(base: &str, url: &str) -> Option<String> {
    let at = url
        .find("/dableFiles/")
        .or_else(|| url.find("/images/imageFiles/"))?;
    let tail = url.get(at..)?;
    Some(format!("{}{tail}", base.trim_end_matches('/')))
}
