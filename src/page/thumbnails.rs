//! The page's thumbnails: `OUT/thumbnails/<sha256>.svg`, one per SWC file, named by the
//! file's SHA-256 in the manifest, so that a file fetched again with other bytes gets a new
//! one; drawn again when the SWC is newer than its thumbnail or the renderer changed; those
//! no neuron uses any more are removed. Drawn on a few threads; the caller hears of each.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;

use crate::cancel::CancelToken;
use crate::error::{Error, Result};
use crate::store::atomic_file::write_atomically;
use crate::swc::{Morphology, RenderOptions};

/// The folder, under the output folder. Not a data folder: `verify` does not look in it.
pub(crate) const FOLDER: &str = "thumbnails";

/// Bumped when the thumbnails' drawing changes: every thumbnail is then drawn again.
const VERSION: &str = "neuromorpho thumbnails 1\n";
const VERSION_FILE: &str = "version.txt";

/// The largest SWC file drawn (the largest on NeuroMorpho.Org are a few tens of MB).
const MAX_BYTES: u64 = 256 << 20;

/// What to draw: a neuron's SWC file and its thumbnail's name.
#[derive(Debug, Clone)]
pub(crate) struct Job {
    pub(crate) swc: PathBuf,
    /// `<sha256>.svg`.
    pub(crate) name: String,
}

/// What became of one [`Job`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Outcome {
    Drawn,
    UpToDate,
    /// The SWC could not be read or parsed (the message names the file).
    Failed(String),
}

/// The thumbnail's file name for a manifest's SHA-256: only 64 hex digits make a name (a
/// manifest is a file anyone can edit: its text never becomes a path as it is).
pub(crate) fn name_for(sha256: &str) -> Option<String> {
    (sha256.len() == 64 && sha256.bytes().all(|b| b.is_ascii_hexdigit()))
        .then(|| format!("{}.svg", sha256.to_ascii_lowercase()))
}

/// Make the folder (never through a link), and forget every thumbnail drawn by another
/// version of the renderer. Returns its path.
pub(crate) fn prepare(out_dir: &Path) -> Result<PathBuf> {
    let dir = out_dir.join(FOLDER);
    let version = dir.join(VERSION_FILE);
    crate::store::safe_fs::create_folders(out_dir, &version)?;
    let current = crate::store::safe_fs::read_regular(&version)
        .ok()
        .flatten()
        .is_some_and(|v| v == VERSION.as_bytes());
    if !current {
        remove_unused(&dir, &[]);
        write_atomically(&version, VERSION.as_bytes(), false)
            .map_err(|e| Error::io(&version, e))?;
    }
    Ok(dir)
}

/// Remove the thumbnails (`<64 hex>.svg`, regular files) not in `keep` (sorted); returns how
/// many. Nothing else in the folder is touched.
pub(crate) fn remove_unused(dir: &Path, keep: &[String]) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut removed = 0;
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let ours = name
            .strip_suffix(".svg")
            .and_then(name_for)
            .is_some_and(|n| n == name);
        let regular = e.file_type().is_ok_and(|t| t.is_file());
        if ours
            && regular
            && keep.binary_search(&name).is_err()
            && std::fs::remove_file(e.path()).is_ok()
        {
            removed += 1;
        }
    }
    removed
}

fn modified(path: &Path) -> Option<std::time::SystemTime> {
    std::fs::symlink_metadata(path).ok()?.modified().ok()
}

/// Draw one thumbnail unless it is up to date.
fn run(out_dir: &Path, dir: &Path, job: &Job, options: &RenderOptions) -> Outcome {
    let target = dir.join(&job.name);
    let shown = job
        .swc
        .strip_prefix(out_dir)
        .unwrap_or(&job.swc)
        .display()
        .to_string();
    if let Err(blocked) = crate::store::safe_fs::check_folders(out_dir, &job.swc) {
        return Outcome::Failed(format!("{shown}: {blocked}"));
    }
    if let (Some(svg), Some(swc)) = (modified(&target), modified(&job.swc)) {
        if svg >= swc {
            return Outcome::UpToDate;
        }
    }
    let bytes = match crate::store::safe_fs::open_regular(&job.swc) {
        Ok(Some(file)) => {
            use std::io::Read;
            let mut bytes = Vec::new();
            match file.take(MAX_BYTES + 1).read_to_end(&mut bytes) {
                Ok(n) if n as u64 > MAX_BYTES => {
                    return Outcome::Failed(format!("{shown}: larger than {MAX_BYTES} bytes"))
                }
                Ok(_) => bytes,
                Err(e) => return Outcome::Failed(format!("{shown}: {e}")),
            }
        }
        Ok(None) => return Outcome::Failed(format!("{shown}: missing")),
        Err(e) => return Outcome::Failed(format!("{shown}: {e}")),
    };
    let morphology = match Morphology::from_bytes(&bytes) {
        Ok(m) => m,
        Err(e) => return Outcome::Failed(format!("{shown}: {e}")),
    };
    let svg = morphology.to_svg(options);
    // Derived and redrawn at will: not synced.
    match write_atomically(&target, svg.as_bytes(), false) {
        Ok(()) => Outcome::Drawn,
        Err(e) => Outcome::Failed(format!("{}: {e}", target.display())),
    }
}

/// Draw `jobs` on `threads` threads; `each(index, outcome)` is called on this thread as they
/// finish. Stops early (`Err(Cancelled)`) when `cancel` is cancelled.
pub(crate) fn draw_all(
    out_dir: &Path,
    dir: &Path,
    jobs: &[Job],
    threads: usize,
    cancel: Option<&CancelToken>,
    mut each: impl FnMut(usize, Outcome),
) -> Result<()> {
    let options = RenderOptions::thumbnail();
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::channel::<(usize, Outcome)>();
    let cancelled = || cancel.is_some_and(CancelToken::is_cancelled);
    std::thread::scope(|scope| {
        for _ in 0..threads.clamp(1, 64) {
            let tx = tx.clone();
            let (next, options) = (&next, &options);
            scope.spawn(move || loop {
                if cancelled() {
                    return;
                }
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(job) = jobs.get(i) else { return };
                if tx.send((i, run(out_dir, dir, job, options))).is_err() {
                    return;
                }
            });
        }
        drop(tx);
        for (i, outcome) in rx {
            each(i, outcome);
        }
    });
    if cancelled() {
        return Err(Error::Cancelled);
    }
    Ok(())
}
