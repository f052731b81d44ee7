//! Turning items into jobs: the URL and the final path of every file, each path once, and an
//! output folder known to be usable before the first request.
//!
//! A whole archive is a million files: a job's [`Planner`] takes items as the pages of a
//! search arrive and keeps them in a temporary file in the output folder (a line each), with
//! 16 bytes per planned path to ask each path once; the download then reads them back a
//! [`CHUNK`] at a time.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::archive::files::{file_url, FileKind};
use crate::error::{Error, Result};
use crate::store::atomic_file::{remove_stale, AtomicFile};
use crate::store::layout::local_path;
use crate::store::manifest::{key_of, relative, Manifest, ManifestEntry};

use super::{DownloadItem, DownloadOptions};

/// Items read back from a [`Planner`] at a time: the jobs in flight and their outcomes are
/// all a download holds of its plan.
pub(crate) const CHUNK: usize = 2048;

/// One file to fetch.
#[derive(Debug, Clone)]
pub(crate) struct Job<'a> {
    pub item: &'a DownloadItem,
    pub kind: FileKind,
    pub url: Option<String>,
    pub path: PathBuf,
    /// `path` relative to the output folder, as the manifest writes it.
    pub rel: String,
    /// What the folder's manifest says of the file, if anything.
    pub entry: Option<ManifestEntry>,
}

/// An item and the kinds of its files still to plan (those whose path no earlier item took):
/// bit `i` of `kinds` stands for the `i`-th kind the options ask for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(crate) struct Planned {
    pub item: DownloadItem,
    pub kinds: u64,
}

/// Make the data folders ready before the first request: created (never through a symlink),
/// writable, and without the temporary files of killed runs.
pub(crate) fn prepare(options: &DownloadOptions) -> Result<()> {
    let out = &options.out_dir;
    for kind in &options.what {
        let dir = out.join(kind.folder());
        crate::store::safe_fs::create_folders(out, &dir.join("x"))?;
        check_writable(&dir)?;
        let removed = remove_stale(&dir, true);
        if removed > 0 {
            log::info!(
                "removed {removed} temporary file(s) left by an interrupted run in {}",
                dir.display()
            );
        }
    }
    Ok(())
}

/// The final path of an item's file of one kind.
fn path_of(out: &Path, item: &DownloadItem, kind: FileKind) -> PathBuf {
    local_path(
        out,
        kind,
        &item.group_values,
        &item.neuron_name,
        item.neuron_id,
        item.original_format.as_deref(),
    )
}

/// The jobs of planned items, in order (the manifest's entry of each looked up).
pub(crate) fn jobs<'a>(
    base_url: &str,
    planned: &'a [Planned],
    options: &DownloadOptions,
    manifest: &Manifest,
) -> Vec<Job<'a>> {
    let out = &options.out_dir;
    let mut jobs = Vec::with_capacity(planned.len() * options.what.len());
    for p in planned {
        let item = &p.item;
        for (i, &kind) in options.what.iter().enumerate() {
            if p.kinds & (1 << (i % 64)) == 0 {
                continue;
            }
            let path = path_of(out, item, kind);
            let url = file_url(
                base_url,
                &item.archive,
                &item.neuron_name,
                item.original_format.as_deref(),
                kind,
            );
            let rel = relative(out, &path).unwrap_or_default();
            let entry = manifest.get(&rel);
            jobs.push(Job {
                item,
                kind,
                url,
                path,
                rel,
                entry,
            });
        }
    }
    jobs
}

/// Takes items, each file's path once, and keeps them for the download (in memory for a
/// small download, in a temporary file of the output folder for a job).
pub(crate) struct Planner {
    out_dir: PathBuf,
    what: Vec<FileKind>,
    used: HashSet<[u64; 2]>,
    store: Store,
    items: u64,
    files: u64,
}

enum Store {
    Memory(Vec<Planned>),
    File(BufWriter<AtomicFile>),
}

impl Planner {
    /// A planner that keeps its items in memory.
    pub(crate) fn in_memory(options: &DownloadOptions) -> Planner {
        Planner::with(options, Store::Memory(Vec::new()))
    }

    /// A planner that keeps its items in a temporary file of the output folder (removed when
    /// the planner goes; a killed run's is swept by the next).
    pub(crate) fn spilled(options: &DownloadOptions) -> Result<Planner> {
        let at = options.out_dir.join(".neuromorpho-plan");
        let file = AtomicFile::create(&at, false).map_err(|e| Error::io(&at, e))?;
        Ok(Planner::with(
            options,
            Store::File(BufWriter::with_capacity(256 * 1024, file)),
        ))
    }

    fn with(options: &DownloadOptions, store: Store) -> Planner {
        Planner {
            out_dir: options.out_dir.clone(),
            what: options.what.clone(),
            used: HashSet::new(),
            store,
            items: 0,
            files: 0,
        }
    }

    /// Take an item: the kinds whose path no earlier item took (the same item passed twice
    /// is fetched once).
    pub(crate) fn add(&mut self, item: DownloadItem) -> Result<()> {
        // A path is a function of the kind, the group values, the stem (name and id) and,
        // for the original only, its format: two keys an item stand for all its paths (16
        // bytes each; a key per path would cost twice as much for four kinds).
        let stem = crate::store::layout::local_stem(&item.neuron_name, item.neuron_id);
        // The folder names as the path has them (two values may make one folder).
        let mut place = item
            .group_values
            .iter()
            .map(|g| crate::store::layout::safe_component(g))
            .collect::<Vec<_>>()
            .join("/");
        place.push('\u{1}');
        place.push_str(&stem);
        let shared = key_of(&place);
        place.push('\u{1}');
        place.push_str(item.original_format.as_deref().unwrap_or(""));
        let original = key_of(&place);
        let (mut new_shared, mut new_original) = (None, None);
        let mut kinds = 0u64;
        for (i, &k) in self.what.iter().enumerate() {
            let fresh = if k == FileKind::Original {
                *new_original.get_or_insert_with(|| self.used.insert(original))
            } else {
                *new_shared.get_or_insert_with(|| self.used.insert(shared))
            };
            if fresh {
                kinds |= 1 << (i % 64);
            }
        }
        if kinds == 0 {
            return Ok(());
        }
        self.items += 1;
        self.files += u64::from(kinds.count_ones());
        let planned = Planned { item, kinds };
        match &mut self.store {
            Store::Memory(v) => v.push(planned),
            Store::File(w) => {
                let io = |e: std::io::Error| Error::io(&self.out_dir, e);
                serde_json::to_writer(&mut *w, &planned).map_err(|e| io(e.into()))?;
                w.write_all(b"\n").map_err(io)?;
            }
        }
        Ok(())
    }

    /// Make room for the path keys of `items` more items at once, so that the set never
    /// grows by rehashing into a second table beside the first (at most a million items: a
    /// count is the server's word, not a promise).
    pub(crate) fn expect(&mut self, items: u64) {
        let original = self.what.contains(&FileKind::Original);
        let other = self.what.iter().any(|&k| k != FileKind::Original);
        let keys = usize::from(original) + usize::from(other);
        let items = usize::try_from(items.min(1 << 20)).unwrap_or(0);
        self.used.reserve(items.saturating_mul(keys));
    }

    /// Forget every item (a search that starts over).
    pub(crate) fn clear(&mut self) -> Result<()> {
        self.used.clear();
        self.items = 0;
        self.files = 0;
        match &mut self.store {
            Store::Memory(v) => v.clear(),
            Store::File(w) => {
                w.flush().map_err(|e| Error::io(&self.out_dir, e))?;
                w.get_mut()
                    .truncate()
                    .map_err(|e| Error::io(&self.out_dir, e))?;
            }
        }
        Ok(())
    }

    /// Files planned: each path once.
    pub(crate) fn files(&self) -> u64 {
        self.files
    }

    /// Items kept.
    pub(crate) fn items(&self) -> u64 {
        self.items
    }

    /// The items back, a chunk at a time; the paths taken are forgotten (they are not needed
    /// any more, and they are the larger part of a plan's memory).
    pub(crate) fn into_chunks(self) -> Result<Chunks> {
        match self.store {
            Store::Memory(v) => Ok(Chunks::Memory(Some(v))),
            Store::File(w) => {
                let file = w
                    .into_inner()
                    .map_err(|e| Error::io(&self.out_dir, e.into_error()))?;
                let read = std::fs::File::open(file.temp_path())
                    .map_err(|e| Error::io(file.temp_path(), e))?;
                Ok(Chunks::File {
                    reader: BufReader::with_capacity(256 * 1024, read),
                    _file: file,
                })
            }
        }
    }
}

/// Planned items read back.
pub(crate) enum Chunks {
    Memory(Option<Vec<Planned>>),
    File {
        reader: BufReader<std::fs::File>,
        /// Kept until the end: dropping it removes the temporary file.
        _file: AtomicFile,
    },
}

impl Chunks {
    /// The next items (empty at the end).
    pub(crate) fn next_chunk(&mut self) -> Result<Vec<Planned>> {
        match self {
            Chunks::Memory(v) => Ok(v.take().unwrap_or_default()),
            Chunks::File { reader, _file } => {
                let mut out = Vec::with_capacity(CHUNK);
                let mut line = Vec::with_capacity(512);
                while out.len() < CHUNK {
                    line.clear();
                    let n = reader
                        .read_until(b'\n', &mut line)
                        .map_err(|e| Error::io(_file.temp_path(), e))?;
                    if n == 0 {
                        break;
                    }
                    let planned: Planned = serde_json::from_slice(&line)
                        .map_err(|e| Error::io(_file.temp_path(), e.into()))?;
                    out.push(planned);
                }
                Ok(out)
            }
        }
    }
}

/// Fail early, with the folder's name, if we cannot create files in it.
fn check_writable(dir: &Path) -> Result<()> {
    let probe = dir.join(".neuromorpho-write-test");
    AtomicFile::create(&probe, false).map_err(|e| Error::io(dir, e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(i: u64) -> DownloadItem {
        DownloadItem {
            neuron_id: Some(i),
            neuron_name: format!("n{i}"),
            archive: "a".into(),
            original_format: Some("n.swc".into()),
            group_values: Vec::new(),
        }
    }

    #[test]
    fn a_spilled_plan_asks_each_path_once_and_reads_back_in_chunks_then_goes() {
        let dir = std::env::temp_dir().join(format!("nm-plan-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let options = DownloadOptions::new(&dir).what([FileKind::Cng, FileKind::Original]);
        let mut planner = Planner::spilled(&options).unwrap();
        let n = CHUNK as u64 + 100;
        for i in 0..n {
            planner.add(item(i)).unwrap();
            // The same item again: nothing more to plan.
            planner.add(item(i)).unwrap();
        }
        assert_eq!((planner.items(), planner.files()), (n, 2 * n));
        let spill: Vec<_> = std::fs::read_dir(&dir).unwrap().flatten().collect();
        assert_eq!(spill.len(), 1, "one temporary file holds the plan");
        let mut chunks = planner.into_chunks().unwrap();
        let first = chunks.next_chunk().unwrap();
        let second = chunks.next_chunk().unwrap();
        assert_eq!((first.len(), second.len()), (CHUNK, 100));
        assert!(chunks.next_chunk().unwrap().is_empty());
        assert_eq!(second.last().map(|p| p.item.neuron_id), Some(Some(n - 1)));
        assert_eq!(first.first().map(|p| p.kinds), Some(0b11));
        drop(chunks);
        assert_eq!(
            std::fs::read_dir(&dir).unwrap().count(),
            0,
            "and goes with the plan"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
