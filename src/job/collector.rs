//! The one job under every entry point: takes pages as they come (metadata rows out,
//! compact download items kept), puts the table in place, downloads the files, writes the
//! lists and the citations, and sums it all up.

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::api::lookup::morphometry_columns;
use crate::api::search::SkippedRecord;
use crate::archive::{Neuron, Placed};
use crate::client::Client;
use crate::download::{merge_failed_csv, DownloadItem, FailedFile, HeldFile, Planner};
use crate::error::{Error, FailureKind, Result};
use crate::progress::Progress;
use crate::store::atomic_file::AtomicFile;
use crate::store::lock::FolderLock;
use crate::store::manifest::Manifest;
use crate::tables::citations::Citations;
use crate::tables::metadata::{MetadataWriter, PreparedRows, RowFormat, WrittenRows};
use crate::tables::pvec::{PvecWriter, PVEC_TABLE};
use crate::util::text::plural;

use super::options::JobOptions;
use super::summary::{CheckedFiles, JobSummary, MirrorSummary, PvecSummary, UpdateSummary};

/// Takes pages as they come: metadata rows out, compact download items kept.
pub(crate) struct Collector<'a> {
    options: &'a JobOptions,
    client: &'a Client,
    writer: Option<MetadataWriter>,
    /// The files to download, planned as pages arrive (kept on disk, not in memory).
    planner: Option<Planner>,
    /// The names of this run's neurons (hashed): a row of `failed.csv` without a URL is
    /// resolved when this run tried its neuron again. A list, sorted when it is asked (8
    /// bytes a neuron).
    tried: Vec<u64>,
    /// This run's references, as the server sent them (the table's may be cleaned: a DOI in
    /// lower case), one line per neuron in a temporary file, for `CITATIONS.md`.
    refs: Option<std::io::BufWriter<AtomicFile>>,
    /// The rows this run writes, so that rows of other runs are kept; by their ids, the
    /// neurons of this run (for what `--update` finds gone).
    written: WrittenRows,
    /// `pvec.csv`, with its counts.
    pvec: Option<(PvecWriter, PvecSummary)>,
    /// Failures known before any download: unreadable records, unknown names.
    pub(crate) failed: Vec<FailedFile>,
}

impl<'a> Collector<'a> {
    pub(crate) fn new(client: &'a Client, options: &'a JobOptions) -> Result<Collector<'a>> {
        std::fs::create_dir_all(options.out_dir()).map_err(|e| Error::io(options.out_dir(), e))?;
        check_records(options.out_dir())?;
        // Tables of a killed run (its temporary files) go; another live run's stay.
        crate::store::atomic_file::remove_stale(options.out_dir(), false);
        let mut writer = MetadataWriter::create(options.metadata_path(), options.metadata_format)?;
        if options.morphometry {
            writer = writer.with_extra_columns(
                morphometry_columns(None)
                    .into_iter()
                    .map(|(k, _)| k)
                    .collect(),
            );
        }
        let planner = if options.download {
            Some(Planner::spilled(&options.download_options())?)
        } else {
            None
        };
        let refs = if options.download && options.citations {
            let at = options.out_dir().join(".neuromorpho-references");
            let file = AtomicFile::create(&at, false).map_err(|e| Error::io(&at, e))?;
            Some(std::io::BufWriter::new(file))
        } else {
            None
        };
        let pvec = if options.pvec {
            let table = PvecWriter::create(options.per_shard(PVEC_TABLE, "csv"))?;
            Some((table, PvecSummary::default()))
        } else {
            None
        };
        Ok(Collector {
            options,
            client,
            pvec,
            writer: Some(writer),
            planner,
            tried: Vec::new(),
            refs,
            written: WrittenRows::default(),
            failed: Vec::new(),
        })
    }

    /// The search will bring about `total` records: room for their plan.
    pub(crate) fn expect(&mut self, total: u64) {
        if let Some(p) = self.planner.as_mut() {
            p.expect(total);
        }
    }

    pub(crate) fn reset(&mut self) -> Result<()> {
        if let Some(p) = self.planner.as_mut() {
            p.clear()?;
        }
        self.tried.clear();
        if let Some(refs) = self.refs.as_mut() {
            let at = self.options.out_dir();
            refs.flush().map_err(|e| Error::io(at, e))?;
            refs.get_mut().truncate().map_err(|e| Error::io(at, e))?;
        }
        self.failed.clear();
        self.written.clear();
        if let Some((table, counts)) = self.pvec.as_mut() {
            table.reset()?;
            *counts = PvecSummary::default();
        }
        match self.writer.as_mut() {
            Some(w) => w.reset(),
            None => Ok(()),
        }
    }

    /// How the workers render the rows of later pages, once the table's columns are known
    /// (not with morphometry: its values come with each page, here).
    pub(crate) fn row_format(&self) -> Option<RowFormat> {
        self.writer.as_ref()?.row_format()
    }

    /// Take a page's records (each with its position in page `number`, to name a record that
    /// cannot be downloaded): rows of the table (`prepared` by the workers, or rendered
    /// here), and download items.
    pub(crate) fn add(
        &mut self,
        records: &Placed<Neuron>,
        skipped: Vec<SkippedRecord>,
        number: Option<u64>,
        prepared: Option<PreparedRows>,
    ) -> Result<()> {
        // Logged for the log file; the summary counts them and names the first ten.
        for s in skipped {
            log::info!("{s}");
            self.failed.push(FailedFile::record(
                "",
                None,
                FailureKind::InvalidRecord,
                s.to_string(),
            ));
        }
        let shard = self.options.shard;
        let mine: Vec<(&Neuron, usize)> = records
            .iter()
            .filter(|(_, n)| shard.is_none_or(|s| s.contains(n.neuron_id())))
            .map(|(i, n)| (n, *i))
            .collect();
        let morph = if self.options.morphometry {
            let ids: Vec<u64> = mine.iter().filter_map(|(n, _)| n.neuron_id()).collect();
            Some(self.client.morphometry(&ids)?)
        } else {
            None
        };
        self.add_pvec(&mine)?;
        let Some(writer) = self.writer.as_mut() else {
            return Ok(());
        };
        for &(n, position) in &mine {
            let done = match &prepared {
                Some(rows) => writer.write_prepared(rows, position)?,
                None => false,
            };
            if !done {
                let extra = match &morph {
                    Some(m) => morphometry_columns(n.neuron_id().and_then(|id| m.get(&id))),
                    None => Vec::new(),
                };
                writer.write_with_extra(n, &extra)?;
            }
            // Only a record without an id is known by its name (read from it then).
            match n.neuron_id() {
                Some(id) => self.written.insert_id(id),
                None => self.written.insert_name(n.neuron_name()),
            }
            let Some(planner) = self.planner.as_mut() else {
                continue;
            };
            if n.neuron_name().trim().is_empty() || n.archive().trim().is_empty() {
                self.failed
                    .push(unusable_record(n, number.map(|p| (p, position))));
                continue;
            }
            self.tried.push(name_key(n.neuron_name()));
            if let (Some(refs), Some(id)) = (self.refs.as_mut(), n.neuron_id()) {
                let line = serde_json::to_string(&(id, n.reference_pmid(), n.reference_doi()))
                    .map_err(|e| Error::io(self.options.out_dir(), e.into()))?;
                writeln!(refs, "{line}").map_err(|e| Error::io(self.options.out_dir(), e))?;
            }
            planner.add(DownloadItem::from_neuron(n, &self.options.files.group_by))?;
        }
        Ok(())
    }

    /// The persistence vectors of a page's neurons (one request per 500), into `pvec.csv`;
    /// a neuron without one is a failure of kind pvec.
    fn add_pvec(&mut self, mine: &[(&Neuron, usize)]) -> Result<()> {
        let Some((table, counts)) = self.pvec.as_mut() else {
            return Ok(());
        };
        let ids: Vec<u64> = mine.iter().filter_map(|(n, _)| n.neuron_id()).collect();
        let batch = if ids.is_empty() {
            crate::api::pvec::PvecBatch::default()
        } else {
            self.client.pvec_of_page(&ids)?
        };
        counts.requests += batch.batch_requests + batch.single_requests;
        for (n, _) in mine {
            // Tried now: an earlier run's row of failed.csv for it is settled by this one.
            self.tried.push(name_key(n.neuron_name()));
            let why = match n.neuron_id() {
                Some(id) => match batch.get(id) {
                    Some(v) => {
                        if table.write(n.neuron_name(), v)? {
                            counts.vectors += 1;
                        }
                        continue;
                    }
                    None => match batch.invalid.iter().find(|i| i.neuron_id == id) {
                        Some(bad) => format!("its persistence vector is unusable: {}", bad.why),
                        None => "the server has no persistence vector for it".to_string(),
                    },
                },
                None => "a record without neuron_id: no persistence vector can be asked".into(),
            };
            counts.missing += 1;
            self.failed.push(FailedFile::record(
                n.neuron_name(),
                n.neuron_id(),
                FailureKind::Pvec,
                why,
            ));
        }
        Ok(())
    }

    /// `pvec.csv` into place, with the rows of earlier runs kept (under the folder lock).
    fn commit_pvec(
        &mut self,
        summary: &mut JobSummary,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<()> {
        let Some((mut table, counts)) = self.pvec.take() else {
            return Ok(());
        };
        if table.rows() > 0 || table.path().exists() {
            let _lock = self.lock(progress)?;
            let kept = table.keep_rows_of_final()?;
            let path = table.finish()?;
            log::info!(
                "wrote {} to {}{}",
                plural(counts.vectors, "persistence vector"),
                path.display(),
                if kept > 0 {
                    format!(" (and kept {} of earlier runs)", plural(kept, "row"))
                } else {
                    String::new()
                }
            );
            summary.written.pvec = Some(path);
        }
        summary.pvec = Some(counts);
        Ok(())
    }

    /// Take the folder lock for a short update of the files runs share.
    fn lock(&self, progress: &mut dyn FnMut(&Progress)) -> Result<FolderLock> {
        FolderLock::acquire(self.options.out_dir(), &self.client.cancel, &mut |what| {
            progress(&Progress::Waiting {
                what: what.to_string(),
            })
        })
    }

    /// The table into place, then the files, `failed.csv` and `CITATIONS.md`.
    pub(crate) fn finish(
        mut self,
        matched: u64,
        started: Instant,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<JobSummary> {
        let mut summary = JobSummary {
            matched,
            ..JobSummary::default()
        };
        self.commit_table(&mut summary, progress)?;
        self.commit_pvec(&mut summary, progress)?;
        if self.planner.as_ref().is_some_and(|p| p.items() > 0) {
            let held = self.download(&mut summary, progress)?;
            if self.options.check {
                self.check_files(&held, &mut summary, progress)?;
            }
        }
        if self.options.download || !self.failed.is_empty() {
            self.write_lists(&mut summary, progress)?;
        }
        summary.failed = std::mem::take(&mut self.failed);
        // Records and names that gave no file count as one failed file each.
        summary.files += summary.failed.iter().filter(|f| f.path.is_empty()).count() as u64;
        summary.elapsed = started.elapsed();
        Ok(summary)
    }

    /// The metadata table, with the rows of other runs kept (under the folder lock).
    fn commit_table(
        &mut self,
        summary: &mut JobSummary,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<()> {
        let Some(mut writer) = self.writer.take() else {
            return Ok(());
        };
        summary.selected = writer.rows();
        // No row, no table: an empty file would look like a successful search.
        if summary.selected == 0 {
            return Ok(());
        }
        let _lock = self.lock(progress)?;
        let kept = writer.keep_rows_of_final(&self.written)?;
        let path = writer.finish()?;
        log::info!(
            "wrote metadata for {} to {}{}",
            plural(summary.selected, "neuron"),
            path.display(),
            if kept > 0 {
                format!(" (and kept {} of earlier runs)", plural(kept, "row"))
            } else {
                String::new()
            }
        );
        summary.written.metadata = Some(path);
        Ok(())
    }

    /// `checks.csv`: the verdicts of the SWC checks on the files held (under the lock).
    fn check_files(
        &self,
        held: &[crate::download::HeldFile],
        summary: &mut JobSummary,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<()> {
        let path = self.options.per_shard("checks", "csv");
        let _lock = self.lock(progress)?;
        let checked = crate::tables::checks::write_checks(
            self.options.out_dir(),
            held,
            &path,
            &self.options.check_options,
        )?;
        summary.check = Some(CheckedFiles {
            files: checked.files,
            with_errors: checked.with_errors,
            with_warnings: checked.with_warnings,
            neurom_failed: checked.neurom_failed,
            rejected: checked.rejected,
            table: path,
        });
        Ok(())
    }

    /// The files, recorded; returns the files held at the end.
    fn download(
        &mut self,
        summary: &mut JobSummary,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<Vec<HeldFile>> {
        let download = self.options.download_options();
        let Some(planner) = self.planner.take() else {
            return Ok(Vec::new());
        };
        // The files held are listed only for the checks that need them.
        let report =
            self.client
                .download_planned(planner, &download, self.options.check, progress)?;
        summary.files = report.planned;
        summary.downloaded = report.downloaded;
        summary.skipped = report.skipped;
        summary.repaired = report.repaired;
        summary.bytes = report.bytes;
        if download.mirror.is_some() {
            summary.mirror = Some(MirrorSummary {
                taken: report.from_mirror,
                linked: report.linked,
                from_server: report.downloaded.saturating_sub(report.from_mirror),
                damaged: report.mirror_damaged,
            });
        }
        self.failed.extend(report.failed);
        if download.update {
            let gone = self.gone()?;
            for g in &gone {
                log::info!("{g}: no longer matched by the query; kept");
            }
            summary.update = Some(UpdateSummary {
                changed: report.changed,
                unchanged: report.unchanged,
                gone,
            });
        }
        Ok(report.files)
    }

    /// Files the folder holds (of the kinds and shard of this run) whose neuron this run's
    /// query no longer matched.
    fn gone(&self) -> Result<Vec<String>> {
        let manifest = Manifest::load(self.options.out_dir())?;
        let mut gone = Vec::new();
        manifest.each(|e| {
            if self.options.files.what.contains(&e.kind)
                && self.options.shard.is_none_or(|s| s.contains(e.neuron_id))
                && e.neuron_id.is_none_or(|id| !self.written.has_id(id))
            {
                gone.push(e.path);
            }
            Ok(())
        })?;
        gone.sort();
        Ok(gone)
    }

    /// `failed.csv` (what is still missing, whichever run tried) and `CITATIONS.md` (every
    /// neuron with a file in the folder), under the folder lock. A failure of this run whose
    /// file another run has put in place meanwhile is no failure any more: it is dropped
    /// from the summary too.
    fn write_lists(
        &mut self,
        summary: &mut JobSummary,
        progress: &mut dyn FnMut(&Progress),
    ) -> Result<()> {
        let options = self.options;
        let _lock = self.lock(progress)?;
        let manifest = Manifest::load(options.out_dir())?;
        let out = options.out_dir();
        // A failure of this run is mended only when another run has recorded its file since
        // this run planned it (an entry other than the one seen then), and the file is
        // complete and as that entry says. A damaged copy, or the same entry as before (an
        // update the server failed), stays a failure.
        let mut mended = 0u64;
        self.failed.retain(|f| {
            let by_other = !f.path.is_empty()
                && manifest
                    .get(&f.path)
                    .is_some_and(|now| Some(&now) != f.seen.as_ref() && holds(out, &now));
            if by_other {
                log::info!(
                    "{}: failed here ({}), but another run has put it in place meanwhile",
                    crate::util::text::escape(&f.path),
                    f.kind
                );
                mended += 1;
            }
            !by_other
        });
        summary.skipped += mended;
        // Rows of failed.csv left by other runs: resolved when a file of that URL is in place
        // and whole (looked at only for those rows).
        // Shards of a job array share the output folder: each keeps its own lists, or they
        // would overwrite (and race on) each other's.
        let failed_path = options.per_shard("failed", "csv");
        let wanted = crate::download::failed_csv_urls(&failed_path);
        let mut by_url: HashMap<String, crate::store::manifest::ManifestEntry> = HashMap::new();
        if !wanted.is_empty() {
            manifest.each(|e| {
                if wanted.contains(&e.url) {
                    by_url.insert(e.url.clone(), e);
                }
                Ok(())
            })?;
        }
        let is_held = |url: &str| by_url.get(url).is_some_and(|e| holds(out, e));
        self.tried.sort_unstable();
        self.tried.dedup();
        let tried = &self.tried;
        let resolved = |name: &str, url: &str| {
            if url.is_empty() {
                tried.binary_search(&name_key(name)).is_ok()
            } else {
                is_held(url)
            }
        };
        summary.written.failed_list = merge_failed_csv(&self.failed, &failed_path, &resolved)?;
        if options.citations && options.download {
            summary.written.citations = self.write_citations(&manifest)?;
        }
        Ok(())
    }

    /// `CITATIONS.md` for the neurons with a file in the folder (their references read back
    /// from the table, which holds this run's rows and those of earlier runs); none when there
    /// is none. Streamed: a set of ids is all it holds.
    fn write_citations(&mut self, manifest: &Manifest) -> Result<Option<PathBuf>> {
        // A shard cites its own neurons (each shard writes its own CITATIONS file).
        let shard = self.options.shard;
        let mut held: HashSet<u64> = HashSet::new();
        manifest.each(|e| {
            if let Some(id) = e
                .neuron_id
                .filter(|id| shard.is_none_or(|s| s.contains(Some(*id))))
            {
                held.insert(id);
            }
            Ok(())
        })?;
        let mut citations = Citations::new();
        // This run's references first, as the server sent them; then the table's, for the
        // neurons earlier runs brought.
        if let Some(refs) = self.refs.as_mut() {
            let at = self.options.out_dir();
            refs.flush().map_err(|e| Error::io(at, e))?;
            let path = refs.get_ref().temp_path().to_path_buf();
            let file = std::fs::File::open(&path).map_err(|e| Error::io(&path, e))?;
            for line in std::io::BufRead::lines(std::io::BufReader::new(file)) {
                let line = line.map_err(|e| Error::io(&path, e))?;
                let Ok((id, pmids, dois)) =
                    serde_json::from_str::<(u64, Vec<String>, Vec<String>)>(&line)
                else {
                    continue;
                };
                if held.remove(&id) {
                    citations.add(&pmids, &dois);
                }
            }
        }
        crate::tables::metadata::each_reference(
            &self.options.metadata_path(),
            |id, (pmids, dois)| {
                if held.remove(&id) {
                    citations.add(&pmids, &dois);
                }
                Ok(())
            },
        )?;
        // Neurons held whose row is not in the table: counted, without a reference.
        for _ in held.drain() {
            citations.add(&[], &[]);
        }
        if citations.neurons() == 0 {
            return Ok(None);
        }
        citations.write_bibtex_to(&self.options.per_shard("CITATIONS", "bib"))?;
        let path = self.options.per_shard("CITATIONS", "md");
        citations.write_to(&path).map(Some)
    }
}

/// A name's key in the set of names a run tried.
fn name_key(name: &str) -> u64 {
    crate::store::layout::fnv1a(name.as_bytes())
}

/// Before the first request: the folder's own records (lock, manifests, checksum lists, run
/// files) are regular files where they exist, so that a FIFO or a link planted at one of
/// their names stops the run at once with its name, not after the search.
fn check_records(out_dir: &Path) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(out_dir) else {
        return Ok(());
    };
    for e in entries.flatten() {
        let name = e.file_name();
        let name = name.to_string_lossy();
        let ours = name == crate::store::lock::LOCK_FILE
            || name.starts_with(crate::store::manifest::SUMS)
            || (name.starts_with(crate::store::manifest::MANIFEST) && name.ends_with(".jsonl"))
            || (name.starts_with("neuromorpho-run") && name.ends_with(".json"));
        if !ours {
            continue;
        }
        let meta = std::fs::symlink_metadata(e.path()).map_err(|err| Error::io(e.path(), err))?;
        if !meta.is_file() {
            return Err(Error::io(
                e.path(),
                crate::store::safe_fs::not_regular(crate::store::safe_fs::describe(&meta)),
            ));
        }
    }
    Ok(())
}

/// Whether the file of an entry is in place, complete and as the entry says (size and
/// SHA-256; used only for the few files a run failed on).
fn holds(out_dir: &Path, e: &crate::store::manifest::ManifestEntry) -> bool {
    let path = e.full_path(out_dir);
    crate::store::safe_fs::check_folders(out_dir, &path).is_ok()
        && std::fs::symlink_metadata(&path).is_ok_and(|m| m.is_file() && m.len() == e.bytes)
        && crate::store::manifest::hash_file(&path).is_ok_and(|(sha, _)| sha == e.sha256)
}

/// The failure of a record that lacks what a download needs, naming where it is (`placed`:
/// its page and position there).
fn unusable_record(n: &Neuron, placed: Option<(u64, usize)>) -> FailedFile {
    let who = match (n.neuron_id(), placed) {
        (Some(id), _) => format!("record neuron_id {id}"),
        (None, Some((number, pos))) => format!("entry {pos} of page {number} (no neuron_id)"),
        (None, None) => "a record without neuron_id".to_string(),
    };
    let what = if n.neuron_name().trim().is_empty() {
        "neuron_name"
    } else {
        "archive"
    };
    let detail = format!("{who} has no {what}");
    log::info!("{}", crate::util::text::escape(&detail));
    FailedFile::record(
        n.neuron_name(),
        n.neuron_id(),
        FailureKind::InvalidRecord,
        detail,
    )
}
