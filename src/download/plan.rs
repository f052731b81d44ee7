//! Turning items into jobs: the URL and the final path of every file, each path once, and an
//! output folder known to be usable before the first request.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::archive::files::{file_url, FileKind};
use crate::error::{Error, Result};
use crate::store::atomic_file::{remove_stale, AtomicFile};
use crate::store::layout::local_path;
use crate::store::manifest::{relative, Manifest, ManifestEntry};

use super::{DownloadItem, DownloadOptions};

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

/// Jobs with final paths, in item order, each path once; fails only if the output folder is
/// unusable (a data folder that is a symlink included: nothing is placed through one).
pub(crate) fn plan<'a>(
    base_url: &str,
    items: &'a [DownloadItem],
    options: &DownloadOptions,
) -> Result<Vec<Job<'a>>> {
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
    let manifest = if options.manifest {
        Manifest::load(out)?
    } else {
        Manifest::default()
    };
    let mut used: HashSet<PathBuf> = HashSet::with_capacity(items.len() * options.what.len());
    let mut jobs = Vec::with_capacity(items.len() * options.what.len());
    for item in items {
        for &kind in &options.what {
            let path = local_path(
                out,
                kind,
                &item.group_values,
                &item.neuron_name,
                item.neuron_id,
                item.original_format.as_deref(),
            );
            // The same file asked for twice (the same item passed again) is fetched once.
            if !used.insert(path.clone()) {
                continue;
            }
            let url = file_url(
                base_url,
                &item.archive,
                &item.neuron_name,
                item.original_format.as_deref(),
                kind,
            );
            let rel = relative(out, &path).unwrap_or_default();
            let entry = manifest.get(&rel).cloned();
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
    Ok(jobs)
}

/// Fail early, with the folder's name, if we cannot create files in it.
fn check_writable(dir: &Path) -> Result<()> {
    let probe = dir.join(".neuromorpho-write-test");
    AtomicFile::create(&probe, false).map_err(|e| Error::io(dir, e))?;
    Ok(())
}
