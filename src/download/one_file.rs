//! One file of a download: skip it when the copy in place is known good, revalidate it with the
//! server (`--update`), or one GET streamed into an atomic file, checked and hashed as it
//! comes, committed only when whole.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::client::{Answer, Client, Failure, Req};
use crate::error::{Error, FailureKind};
use crate::store::atomic_file::{sync_dir, AtomicFile};
use crate::store::manifest::{hash_file, Manifest, ManifestEntry, Sha256};
use crate::store::mirror::Taken;
use crate::swc::{Expect, SwcCheck, Verdict};
use crate::util::time::Timestamp;

use super::plan::Job;
use super::{DownloadOptions, FailedFile};

/// What became of one file.
#[derive(Debug)]
pub(crate) enum Outcome {
    /// Fetched now; `replaced`: an older copy was kept under `previous/`; `repaired`: the
    /// copy in place was damaged (or unrecognised) and is replaced.
    Downloaded {
        entry: ManifestEntry,
        replaced: bool,
        repaired: bool,
        /// The mirror held a damaged copy (said in the log), so the server's was fetched.
        mirror_damaged: bool,
    },
    /// Taken from the mirror (`linked`: a hard link, else a checked copy); `repaired`: over
    /// a damaged copy in place.
    Mirrored {
        entry: ManifestEntry,
        linked: bool,
        repaired: bool,
    },
    /// In place and left alone; `record`: it had no manifest entry and passed the checks.
    Skipped {
        record: Option<ManifestEntry>,
    },
    /// Revalidated: the server's copy is the one in place (entry with fresh validators; none
    /// when another run revalidated and recorded it meanwhile).
    Unchanged {
        entry: Option<ManifestEntry>,
    },
    Failed(FailedFile),
}

/// A body streamed into a temporary file, not yet committed.
struct Streamed {
    file: AtomicFile,
    bytes: u64,
    sha256: String,
    etag: Option<String>,
    last_modified: Option<String>,
}

/// What a conditional request gave.
enum Revalidated {
    NotModified {
        etag: Option<String>,
        last_modified: Option<String>,
    },
    Body(Streamed),
}

/// Writes through to `inner` and hashes what passes.
struct Hashing<'a> {
    inner: &'a mut AtomicFile,
    sha: Sha256,
}

impl Write for Hashing<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.sha.update(buf.get(..n).unwrap_or(buf));
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

/// What other runs recorded meanwhile: the folder's manifests read again (at most once a
/// second) when a file in place is not what this run's plan says, so that another run's new
/// copy is recognised as such instead of being called damaged and fetched again.
pub(crate) struct Fresh<'a> {
    out_dir: &'a Path,
    read: Mutex<Option<(Instant, Arc<Manifest>)>>,
}

impl<'a> Fresh<'a> {
    pub(crate) fn new(out_dir: &'a Path) -> Fresh<'a> {
        Fresh {
            out_dir,
            read: Mutex::new(None),
        }
    }

    /// The entry the folder's manifests hold for `rel` now.
    fn entry(&self, rel: &str) -> Option<ManifestEntry> {
        let mut guard = self.read.lock().unwrap_or_else(|p| p.into_inner());
        let stale = guard
            .as_ref()
            .is_none_or(|(at, _)| at.elapsed() >= Duration::from_secs(1));
        if stale {
            let m = Manifest::load(self.out_dir).ok()?;
            *guard = Some((Instant::now(), Arc::new(m)));
        }
        guard.as_ref().and_then(|(_, m)| m.get(rel))
    }
}

impl Client {
    pub(crate) fn fetch_one(
        &self,
        job: &Job<'_>,
        options: &DownloadOptions,
        fresh: &Fresh<'_>,
    ) -> Outcome {
        let fail = |kind, detail: String| Outcome::Failed(job.failure(kind, detail));
        let Some(url) = &job.url else {
            let why = job.why_no_url();
            log::info!("{}", crate::util::text::escape(&why));
            return fail(FailureKind::InvalidRecord, why);
        };
        // A file reached through a symlinked folder is outside the folder: never counted as
        // held, never written (verify calls it "not checked" for the same reason).
        if let Err(blocked) = crate::store::safe_fs::check_folders(&options.out_dir, &job.path) {
            return fail(FailureKind::Io, blocked.to_string());
        }
        // A symlink at a final name is never trusted nor followed: it is replaced by the
        // file (rename replaces the link itself).
        let present =
            std::fs::symlink_metadata(&job.path).is_ok_and(|m| m.is_file() && m.len() > 0);
        if present && (options.update || options.skip_existing) {
            match job.check_in_place(options.check_hash) {
                InPlace::Good(record) if options.update => {
                    return self.revalidate(job, url, options, record)
                }
                InPlace::Good(record) => return Outcome::Skipped { record },
                InPlace::Bad(why) => {
                    // Another run may have put a new copy in place and recorded it meanwhile.
                    if let Some(newer) = fresh
                        .entry(&job.rel)
                        .filter(|e| Some(e) != job.entry.as_ref())
                    {
                        let again = Job {
                            entry: Some(newer),
                            ..job.clone()
                        };
                        if let InPlace::Good(_) = again.check_in_place(options.check_hash) {
                            log::info!(
                                "{}: another run has recorded a new copy meanwhile; kept",
                                job.path.display()
                            );
                            return if options.update {
                                Outcome::Unchanged { entry: None }
                            } else {
                                Outcome::Skipped { record: None }
                            };
                        }
                    }
                    log::info!("{}: {why}; fetching it again", job.path.display());
                    return self.take_or_fetch(job, url, options, true);
                }
            }
        }
        self.take_or_fetch(job, url, options, false)
    }

    /// The mirror's copy when it holds a good one (the mirror is only read), else the
    /// server's: a damaged copy in the mirror is said so, and the server's fetched.
    fn take_or_fetch(
        &self,
        job: &Job<'_>,
        url: &str,
        options: &DownloadOptions,
        repairing: bool,
    ) -> Outcome {
        let Some(mirror) = options.mirror.as_deref() else {
            return self.fetch_plain(job, url, options, repairing);
        };
        if let Err(e) = make_room(&options.out_dir, &job.path) {
            return Outcome::Failed(job.failure(FailureKind::Io, e));
        }
        let (linked, sha256, bytes, source) = match mirror.take_into(url, &job.path) {
            Ok(Taken::Linked {
                sha256,
                bytes,
                source,
            }) => (true, sha256, bytes, source),
            Ok(Taken::Copied {
                sha256,
                bytes,
                source,
            }) => (false, sha256, bytes, source),
            Ok(Taken::Damaged { why }) => {
                log::warn!(
                    "{}; fetching {} from the server",
                    why,
                    crate::util::text::escape(&job.rel)
                );
                return match self.fetch_plain(job, url, options, repairing) {
                    Outcome::Downloaded {
                        entry,
                        replaced,
                        repaired,
                        ..
                    } => Outcome::Downloaded {
                        entry,
                        replaced,
                        repaired,
                        mirror_damaged: true,
                    },
                    other => other,
                };
            }
            Ok(_) => return self.fetch_plain(job, url, options, repairing),
            Err(e) => return job.failed(e),
        };
        // The mirror's validators and date hold for its copy: a later --update of the
        // subset revalidates it as the mirror would.
        let mut entry = job.entry_for(url, bytes, sha256);
        entry.etag = source.etag.clone();
        entry.last_modified = source.last_modified.clone();
        entry.fetched_at = source.fetched_at;
        log::debug!(
            "{}: {} from the mirror",
            job.path.display(),
            if linked { "linked" } else { "copied" }
        );
        Outcome::Mirrored {
            entry,
            linked,
            repaired: repairing,
        }
    }

    /// One plain GET streamed into an atomic file, committed over whatever is in place
    /// (`repairing`: a damaged copy).
    fn fetch_plain(
        &self,
        job: &Job<'_>,
        url: &str,
        options: &DownloadOptions,
        repairing: bool,
    ) -> Outcome {
        if let Err(e) = make_room(&options.out_dir, &job.path) {
            return Outcome::Failed(job.failure(FailureKind::Io, e));
        }
        let expect = job.kind.expects(job.item.original_format.as_deref());
        let result = self.request(&Req::file(url), |answer| {
            stream_to_file(answer, &job.path, expect, options.durable)
        });
        // A copy in place that was not what its entry says, but is what the server sends:
        // not damaged after all (a killed run's last copy, never recorded); recorded now.
        if repairing {
            if let Ok(s) = &result {
                if job.in_place_is(s) == Some(true) {
                    let mut entry = job.entry_for(url, s.bytes, s.sha256.clone());
                    entry.etag = s.etag.clone();
                    entry.last_modified = s.last_modified.clone();
                    log::info!(
                        "{}: the copy in place is the server's; recorded",
                        job.path.display()
                    );
                    return if options.update {
                        Outcome::Unchanged { entry: Some(entry) }
                    } else {
                        Outcome::Downloaded {
                            entry,
                            replaced: false,
                            repaired: false,
                            mirror_damaged: false,
                        }
                    };
                }
            }
        }
        match result.and_then(|s| job.commit(s, false, url, options)) {
            Ok(Outcome::Downloaded {
                entry, replaced, ..
            }) => Outcome::Downloaded {
                entry,
                replaced,
                repaired: repairing,
                mirror_damaged: false,
            },
            Ok(outcome) => outcome,
            Err(e) => job.failed(e),
        }
    }

    /// `--update`: one conditional request for a file in place (`If-None-Match` /
    /// `If-Modified-Since` from its entry); without validators, the body is fetched and its
    /// hash compared. A changed file replaces the old one, which is kept under `previous/`.
    /// The copy in place must hold first (its size, and with `check_hash` its hash; without
    /// an entry the content checks): a damaged copy is fetched again with a plain GET, never
    /// confirmed by a `304`, and not kept as an old version.
    ///
    /// Only a `304` to a request that carried a validator means "unchanged": one to a request
    /// without (the first download got none) is the server's error, a failure of the file.
    fn revalidate(
        &self,
        job: &Job<'_>,
        url: &str,
        options: &DownloadOptions,
        record: Option<ManifestEntry>,
    ) -> Outcome {
        let held = record.or_else(|| job.entry.clone());
        let held_sha = held.as_ref().map(|e| e.sha256.clone());
        let mut req = Req::file(url);
        if let Some(e) = &job.entry {
            if let Some(tag) = &e.etag {
                req.headers.push(("if-none-match", tag.clone()));
            } else if let Some(date) = &e.last_modified {
                req.headers.push(("if-modified-since", date.clone()));
            }
        }
        req.not_modified_ok = !req.headers.is_empty();
        let expect = job.kind.expects(job.item.original_format.as_deref());
        let result = self.request(&req, |answer| {
            if answer.status == 304 {
                return Ok(Revalidated::NotModified {
                    etag: answer.header("etag").map(str::to_string),
                    last_modified: answer.header("last-modified").map(str::to_string),
                });
            }
            stream_to_file(answer, &job.path, expect, options.durable).map(Revalidated::Body)
        });
        let refreshed = |etag: Option<String>, last_modified: Option<String>| {
            let mut entry = job.entry_for(url, 0, String::new());
            if let Some(old) = &held {
                entry.bytes = old.bytes;
                entry.sha256 = old.sha256.clone();
                entry.fetched_at = old.fetched_at;
            }
            entry.etag = etag.or_else(|| job.entry.as_ref().and_then(|e| e.etag.clone()));
            entry.last_modified =
                last_modified.or_else(|| job.entry.as_ref().and_then(|e| e.last_modified.clone()));
            Outcome::Unchanged { entry: Some(entry) }
        };
        match result {
            Ok(Revalidated::NotModified {
                etag,
                last_modified,
            }) => refreshed(etag, last_modified),
            // The same bytes: nothing to replace (the temporary file goes when dropped).
            Ok(Revalidated::Body(s)) if Some(&s.sha256) == held_sha.as_ref() => {
                refreshed(s.etag.clone(), s.last_modified.clone())
            }
            Ok(Revalidated::Body(s)) => match job.commit(s, true, url, options) {
                Ok(outcome) => outcome,
                Err(e) => job.failed(e),
            },
            Err(e) => job.failed(e),
        }
    }
}

/// What is known of a file in place.
enum InPlace {
    Good(Option<ManifestEntry>),
    Bad(String),
}

impl Job<'_> {
    fn failure(&self, kind: FailureKind, detail: String) -> FailedFile {
        FailedFile {
            neuron_name: self.item.neuron_name.clone(),
            neuron_id: self.item.neuron_id,
            kind: self.kind,
            url: self.url.clone().unwrap_or_default(),
            reason: kind,
            detail,
            path: self.rel.clone(),
            seen: self.entry.clone(),
        }
    }

    fn failed(&self, e: Error) -> Outcome {
        // The report's one line: the failure's words, then its causes.
        let line = format!("{}{}", e.detail_or_display(), crate::error::causes(&e));
        Outcome::Failed(self.failure(e.kind().unwrap_or(FailureKind::Io), line))
    }

    fn why_no_url(&self) -> String {
        let item = self.item;
        let id = item
            .neuron_id
            .map(|id| format!("record neuron_id {id}"))
            .unwrap_or_else(|| "a record without neuron_id".into());
        if item.neuron_name.trim().is_empty() {
            format!("{id} has no neuron_name")
        } else if item.archive.trim().is_empty() {
            format!("{id} has no archive")
        } else {
            format!(
                "{id}: no original file extension in original_format {:?}",
                item.original_format.as_deref().unwrap_or("")
            )
        }
    }

    /// An entry for this job's file (size and hash to fill in).
    fn entry_for(&self, url: &str, bytes: u64, sha256: String) -> ManifestEntry {
        ManifestEntry {
            neuron_id: self.item.neuron_id,
            neuron_name: self.item.neuron_name.clone(),
            kind: self.kind,
            path: self.rel.clone(),
            url: url.to_string(),
            bytes,
            sha256,
            etag: None,
            last_modified: None,
            fetched_at: Timestamp::now(),
        }
    }

    /// Whether the file in place can be kept: its size (and hash, when asked) match its
    /// entry; without an entry (a folder of an older version, or of another tool) it must
    /// pass the content checks, and is then recorded.
    fn check_in_place(&self, check_hash: bool) -> InPlace {
        if let Some(entry) = &self.entry {
            let len = std::fs::symlink_metadata(&self.path)
                .map(|m| m.len())
                .unwrap_or(0);
            if len != entry.bytes {
                return InPlace::Bad(format!(
                    "{len} bytes, not the {} its manifest entry says",
                    entry.bytes
                ));
            }
            if check_hash {
                match hash_file(&self.path) {
                    Ok((sha, _)) if sha == entry.sha256 => {}
                    Ok(_) => {
                        return InPlace::Bad("its SHA-256 differs from its manifest entry".into())
                    }
                    Err(e) => return InPlace::Bad(e.to_string()),
                }
            }
            return InPlace::Good(None);
        }
        let expect = self.kind.expects(self.item.original_format.as_deref());
        match check_file_content(&self.path, expect) {
            // Recorded now (its modification time is shown nowhere and trusted for nothing).
            Ok((sha, bytes)) => InPlace::Good(Some(self.entry_for(
                self.url.as_deref().unwrap_or(""),
                bytes,
                sha,
            ))),
            Err(why) => InPlace::Bad(why),
        }
    }

    /// Move a streamed body into place (keeping the copy it replaces under `previous/` when
    /// `keep_old`), and describe it.
    fn commit(
        &self,
        s: Streamed,
        keep_old: bool,
        url: &str,
        options: &DownloadOptions,
    ) -> crate::error::Result<Outcome> {
        let io = |e: std::io::Error| Error::io(&self.path, e);
        let mut replaced = false;
        if keep_old {
            match self.in_place_is(&s) {
                // Another run (an update beside this one) put the server's new copy in place
                // meanwhile: nothing to replace, and that copy is no old version to keep.
                Some(true) => {
                    let mut entry = self.entry_for(url, s.bytes, s.sha256);
                    entry.etag = s.etag;
                    entry.last_modified = s.last_modified;
                    return Ok(Outcome::Unchanged { entry: Some(entry) });
                }
                Some(false) => replaced = self.keep_old_copy(options)?,
                None => {}
            }
        }
        s.file.commit().map_err(io)?;
        let mut entry = self.entry_for(url, s.bytes, s.sha256);
        entry.etag = s.etag;
        entry.last_modified = s.last_modified;
        log::debug!(
            "{}: {} bytes -> {}",
            crate::util::text::escape(&self.item.neuron_name),
            entry.bytes,
            self.path.display()
        );
        Ok(Outcome::Downloaded {
            entry,
            replaced,
            repaired: false,
            mirror_damaged: false,
        })
    }

    /// Whether the file in place holds the streamed body (`None`: nothing there). The size
    /// first; the hash only when the sizes agree.
    fn in_place_is(&self, s: &Streamed) -> Option<bool> {
        let meta = std::fs::symlink_metadata(&self.path).ok()?;
        if !meta.is_file() {
            return None;
        }
        let len = meta.len();
        if len != s.bytes {
            return Some(false);
        }
        Some(hash_file(&self.path).is_ok_and(|(sha, _)| sha == s.sha256))
    }

    /// Move the file in place to `previous/<date>/<rel>`. False when it went meanwhile (an
    /// update beside this one moved it first).
    fn keep_old_copy(&self, options: &DownloadOptions) -> crate::error::Result<bool> {
        let old = previous_path(&options.out_dir, &self.rel);
        // Never through a symlink planted at previous/ or below it.
        crate::store::safe_fs::create_folders(&options.out_dir, &old)?;
        match std::fs::rename(&self.path, &old) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
            Err(e) => return Err(Error::io(&self.path, e)),
        }
        if options.durable {
            if let Some(dir) = old.parent() {
                sync_dir(dir).map_err(|e| Error::io(dir, e))?;
            }
        }
        log::info!(
            "{}: the server's copy changed; the old one is {}",
            self.path.display(),
            old.display()
        );
        Ok(true)
    }
}

/// `out/previous/<today>/<rel>`; a later update of the same day that must keep another old
/// copy of the same file uses `<today>-2`, `-3`, ...
fn previous_path(out: &Path, rel: &str) -> PathBuf {
    let today = Timestamp::now().date();
    let mut n = 1;
    loop {
        let day = if n == 1 {
            today.clone()
        } else {
            format!("{today}-{n}")
        };
        let mut p = out.join("previous").join(day);
        for part in rel.split('/') {
            p.push(part);
        }
        if !p.exists() || n >= 1000 {
            return p;
        }
        n += 1;
    }
}

/// The checks a downloaded body passes, on a file in place; its hash and size when good.
///
/// An SWC file in place must also end with a newline: a writer killed in the middle of the
/// last number of a line (`... 0.14 2` of `... 0.14 2707`) leaves a last line of 7 numbers,
/// which no content check can tell from a whole one. Published files end with one; one that
/// does not costs a single request, once (it is recorded after that). A cut exactly at the
/// end of a line stays out of reach without an entry (`--update` finds it: no validator is
/// known, so its body is fetched and the hashes compared).
fn check_file_content(path: &Path, expect: Expect) -> Result<(String, u64), String> {
    use std::io::Read;
    let mut f = crate::store::safe_fs::open_regular(path)
        .map_err(|e| e.to_string())?
        .ok_or_else(|| "it is gone".to_string())?;
    let mut check = SwcCheck::expecting(expect);
    let mut sha = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    let mut last = None;
    loop {
        let k = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e.to_string()),
        };
        let chunk = buf.get(..k).unwrap_or(&buf);
        if let Verdict::Bad(why) = check.feed(chunk) {
            return Err(why.to_string());
        }
        sha.update(chunk);
        n += k as u64;
        last = chunk.last().copied().or(last);
    }
    // A file in place has no announced length: a cut last line is judged.
    match check.finish(false) {
        Verdict::Bad(why) | Verdict::Cut(why) => Err(why.to_string()),
        _ if expect == Expect::Swc && !matches!(last, Some(b'\n' | b'\r')) => {
            Err("it does not end with a newline (cut short?)".to_string())
        }
        _ => Ok((sha.hex(), n)),
    }
}

/// Make the place of a file ready: its folders (never through a symlink), and an empty
/// folder standing at its name removed (a rename cannot replace one). A folder with files in
/// it at a file's name is an error: nothing of anyone's is removed.
fn make_room(out_dir: &Path, path: &Path) -> Result<(), String> {
    crate::store::safe_fs::create_folders(out_dir, path).map_err(|e| e.to_string())?;
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => std::fs::remove_dir(path).map_err(|e| {
            format!(
                "{}: a folder stands where the file belongs ({e})",
                path.display()
            )
        }),
        _ => Ok(()),
    }
}

fn io_failure(path: &Path, e: std::io::Error) -> Failure {
    Failure::new(FailureKind::Io, format!("{}: {e}", path.display())).with_cause(e)
}

/// Stream an answer into a new temporary file beside `path`, checked and hashed.
fn stream_to_file(
    answer: Answer,
    path: &Path,
    expect: Expect,
    durable: bool,
) -> std::result::Result<Streamed, Failure> {
    let etag = answer.header("etag").map(str::to_string);
    let last_modified = answer.header("last-modified").map(str::to_string);
    let mut file = AtomicFile::create(path, durable).map_err(|e| io_failure(path, e))?;
    let temp = file.temp_path().to_path_buf();
    let mut hashing = Hashing {
        inner: &mut file,
        sha: Sha256::new(),
    };
    let bytes = answer.copy_checked(&mut hashing, expect).map_err(|mut f| {
        if f.kind == FailureKind::Io {
            f.detail = format!("{}: {}", temp.display(), f.detail);
        }
        f
    })?;
    let sha256 = hashing.sha.hex();
    Ok(Streamed {
        file,
        bytes,
        sha256,
        etag,
        last_modified,
    })
}
