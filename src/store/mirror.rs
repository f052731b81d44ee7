//! A local mirror: a folder this tool downloaded into, used as the source of the files of a
//! subset (`download QUERY -o SUBSET --mirror DIR`), so that a lab carves many subsets from
//! one copy instead of asking the server again.
//!
//! The mirror's manifest says what it holds and the SHA-256 of each file. A file is taken
//! only after its bytes are checked against that entry, then hard-linked beside its place in
//! the subset (or copied, and the copy checked while it is written, where the file system
//! cannot link); the caller renames it into place. A file the mirror lacks is
//! [`Taken::Missing`], a damaged one [`Taken::Damaged`]: both are fetched from the server.
//!
//! # Nothing in the mirror is ever changed
//!
//! The mirror is only read: its manifest through [`Manifest::load`], its files opened
//! read-only (never through a symbolic link, never a FIFO). No lock file is made there.
//! A hard link adds a name for the mirror's file in the subset; the file's bytes and
//! modification time stay as they are (its link count, and with it its change time, grow:
//! that is what a link is).
//!
//! # Why hard links are safe here
//!
//! This tool never writes a file in place: every write goes to a new temporary file that is
//! renamed onto the final name, and an update moves the old copy away by renaming it. So a
//! later run in the subset (an `--update`, a repair) replaces the subset's *name* with a new
//! file and never opens the shared one for writing: the mirror's copy cannot change through
//! the subset. (A program other than this tool that edits a subset's file in place would
//! change the mirror's copy too; [`Mirror::hard_links`] turns links off for such a subset.)

use std::fs::{File, OpenOptions};
use std::io::{self, Read, Seek, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use crate::archive::files::FileKind;
use crate::error::{Error, Result};
use crate::store::atomic_file::{sync_dir, temp_path_for};
use crate::store::manifest::{key_of, Manifest, ManifestEntry, Sha256};
use crate::store::safe_fs::{check_folders, open_regular};

/// How a file is linked (replaced in tests, to take the copy path on any file system).
type Linker = fn(&Path, &Path) -> io::Result<()>;

/// What [`Mirror::take`] did for one file.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Taken {
    /// The mirror's file, checked, is now also at the destination (one inode, two names).
    Linked {
        /// Its SHA-256, as hashed now (and as the mirror's manifest says).
        sha256: String,
        /// Its size.
        bytes: u64,
        /// The mirror's entry for it (its validators and `fetched_at` hold for the copy).
        source: Box<ManifestEntry>,
    },
    /// The file system could not link: the mirror's file was copied, and the copy hashed
    /// while written matches the mirror's manifest.
    Copied {
        /// Its SHA-256.
        sha256: String,
        /// Its size.
        bytes: u64,
        /// The mirror's entry for it.
        source: Box<ManifestEntry>,
    },
    /// The mirror's manifest has no file of that URL.
    Missing,
    /// The mirror's manifest lists the file, but what is there is not it (missing, another
    /// size or SHA-256, not a regular file, behind a symbolic link, unreadable, or changed
    /// while it was taken). Nothing was placed at the destination.
    Damaged {
        /// What is wrong, naming the mirror's file.
        why: String,
    },
}

impl Taken {
    /// Whether the file is now at the destination ([`Taken::Linked`] or [`Taken::Copied`]).
    pub fn is_taken(&self) -> bool {
        matches!(self, Taken::Linked { .. } | Taken::Copied { .. })
    }
}

/// A folder this tool downloaded into, opened as a source of files: see the module docs.
///
/// ```no_run
/// use neuromorpho::store::{Mirror, Taken};
/// let mirror = Mirror::open("all-neurons")?;
/// let url = "https://neuromorpho.org/dableFiles/wearne_hof/CNG%20version/cnic_001.CNG.swc";
/// match mirror.take_into(url, "subset/downloads/cnic_001.swc".as_ref())? {
///     Taken::Linked { .. } | Taken::Copied { .. } => println!("from the mirror"),
///     Taken::Missing => println!("not in the mirror: ask the server"),
///     Taken::Damaged { why } => println!("damaged in the mirror ({why}): ask the server"),
///     _ => {}
/// }
/// # Ok::<(), neuromorpho::Error>(())
/// ```
#[derive(Clone)]
pub struct Mirror {
    dir: PathBuf,
    /// The mirror's manifest: an index of 24 bytes a file, its entries read when needed.
    manifest: Manifest,
    /// (key of the URL's file part, key of the path), sorted: 32 bytes a file, so that a
    /// mirror of the whole archive is opened in a few tens of megabytes.
    by_url: Vec<([u64; 2], [u64; 2])>,
    /// (neuron_id, kind's place in `FileKind::ALL`, key of the URL's file part), sorted.
    by_neuron: Vec<(u64, u8, [u64; 2])>,
    files: usize,
    unusable_lines: usize,
    links: bool,
    durable: bool,
    linker: Linker,
}

/// A kind's place in [`FileKind::ALL`] (a byte of the neuron index).
fn kind_index(kind: FileKind) -> u8 {
    FileKind::ALL
        .iter()
        .position(|k| *k == kind)
        .map_or(u8::MAX, |i| i as u8)
}

impl std::fmt::Debug for Mirror {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Mirror")
            .field("dir", &self.dir)
            .field("files", &self.files)
            .field("links", &self.links)
            .finish()
    }
}

/// The part of a file URL that names the file whatever the server: from `/dableFiles/` (or a
/// picture's `/images/imageFiles/`) on (the path after the host when it has none), so that a mirror made from
/// `https://neuromorpho.org` serves a subset asked of `http://cng.gmu.edu:8080` or of a
/// context path (`/neuroMorpho/dableFiles/...`). Credentials and port are never part of it.
pub(crate) fn url_key(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let Some(slash) = rest.find('/') else {
        return "";
    };
    let path = rest.get(slash..).unwrap_or("");
    match path
        .find("/dableFiles/")
        .or_else(|| path.find("/images/imageFiles/"))
    {
        Some(at) => path.get(at..).unwrap_or(path),
        None => path,
    }
}

/// Link errors after which a copy is tried: another file system, links refused (by the file
/// system, or by `fs.protected_hardlinks` for a file of another user), too many links.
fn link_impossible(e: &io::Error) -> bool {
    matches!(
        e.raw_os_error(),
        Some(
            libc::EXDEV
                | libc::EPERM
                | libc::EMLINK
                | libc::EOPNOTSUPP
                | libc::ENOSYS
                | libc::EACCES
        )
    )
}

/// The parts of a file's metadata that change when it is written or replaced.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Identity {
    dev: u64,
    ino: u64,
    len: u64,
    mtime: (i64, i64),
}

impl Identity {
    fn of(m: &std::fs::Metadata) -> Identity {
        Identity {
            dev: m.dev(),
            ino: m.ino(),
            len: m.len(),
            mtime: (m.mtime(), m.mtime_nsec()),
        }
    }
}

/// Where a stream failed: reading the mirror's file, or writing the copy.
enum StreamError {
    Read(io::Error),
    Write(io::Error),
}

/// Read `f` from its start to its end, hashing it (and writing it to `to`).
fn hash_stream(
    f: &mut File,
    mut to: Option<&mut File>,
) -> std::result::Result<(String, u64), StreamError> {
    f.rewind().map_err(StreamError::Read)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let k = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(StreamError::Read(e)),
        };
        let chunk = buf.get(..k).unwrap_or(&buf);
        h.update(chunk);
        if let Some(out) = to.as_deref_mut() {
            out.write_all(chunk).map_err(StreamError::Write)?;
        }
        n += k as u64;
    }
    Ok((h.hex(), n))
}

/// Removes a destination file when dropped, unless disarmed.
struct RemoveOnDrop<'a>(Option<&'a Path>);

impl Drop for RemoveOnDrop<'_> {
    fn drop(&mut self) {
        if let Some(p) = self.0 {
            let _ = std::fs::remove_file(p);
        }
    }
}

/// What a mirror file became: taken, or why not (a damage to report, not an error).
type Attempt = std::result::Result<Taken, String>;

impl Mirror {
    /// Open a folder this tool downloaded into: its manifests are read (a line that cannot
    /// be used is skipped, as everywhere), and its entries indexed by URL and by neuron and
    /// kind. A folder without a manifest is an error: it was not made by this tool, and
    /// nothing says what its files should be.
    pub fn open(dir: impl AsRef<Path>) -> Result<Mirror> {
        let dir = dir.as_ref().to_path_buf();
        let meta = std::fs::metadata(&dir).map_err(|e| Error::io(&dir, e))?;
        if !meta.is_dir() {
            return Err(Error::input(
                dir.display().to_string(),
                "a mirror must be a folder this tool downloaded into, not a file",
            ));
        }
        let manifest = Manifest::load(&dir)?;
        if manifest.files.is_empty() {
            return Err(Error::input(
                dir.display().to_string(),
                "no manifest.jsonl: not a folder this tool downloaded into, so it cannot be a \
                 mirror (nothing says what its files should be)",
            ));
        }
        if !manifest.bad_lines.is_empty() {
            log::warn!(
                "mirror {}: {} manifest line(s) cannot be used; their files are not taken",
                dir.display(),
                manifest.bad_lines.len()
            );
        }
        let mut by_url = Vec::with_capacity(manifest.len());
        let mut by_neuron = Vec::new();
        let files = manifest.len();
        manifest.each(|e| {
            let key = url_key(&e.url);
            if key.is_empty() {
                return Ok(());
            }
            let url = key_of(key);
            if let Some(id) = e.neuron_id {
                by_neuron.push((id, kind_index(e.kind), url));
            }
            by_url.push((url, key_of(&e.path)));
            Ok(())
        })?;
        by_url.sort_unstable();
        by_neuron.sort_unstable();
        // The first of a neuron's kind (in URL order) names it.
        by_neuron.dedup_by(|b, a| (a.0, a.1) == (b.0, b.1));
        let unusable_lines = manifest.bad_lines.len();
        Ok(Mirror {
            dir,
            manifest,
            by_url,
            by_neuron,
            files,
            unusable_lines,
            links: true,
            durable: true,
            linker: |from, to| std::fs::hard_link(from, to),
        })
    }

    /// Link files where the file system allows (the default), or always copy them (for a
    /// subset that programs other than this tool may edit in place).
    #[must_use]
    pub fn hard_links(mut self, on: bool) -> Mirror {
        self.links = on;
        self
    }

    /// Sync a copy before it is handed over, and with [`Mirror::take_into`] the folder after
    /// the rename (the default), or not (faster; a power cut may lose what was placed).
    #[must_use]
    pub fn durable(mut self, on: bool) -> Mirror {
        self.durable = on;
        self
    }

    /// The mirror's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Files its manifests list.
    pub fn len(&self) -> usize {
        self.files
    }

    /// Whether its manifests list no file.
    pub fn is_empty(&self) -> bool {
        self.files == 0
    }

    /// Manifest lines skipped when it was opened (unreadable, or naming an unsafe path).
    pub fn unusable_lines(&self) -> usize {
        self.unusable_lines
    }

    /// The mirror's entry for a file URL (by the part from `/dableFiles/` on, whatever the
    /// host), if it lists one.
    pub fn entry(&self, url: &str) -> Option<ManifestEntry> {
        self.entries_of(key_of(url_key(url))).into_iter().next()
    }

    /// The entries of a URL key, in path order.
    fn entries_of(&self, url: [u64; 2]) -> Vec<ManifestEntry> {
        let from = self.by_url.partition_point(|(u, _)| *u < url);
        let mut out: Vec<ManifestEntry> = self
            .by_url
            .get(from..)
            .unwrap_or(&[])
            .iter()
            .take_while(|(u, _)| *u == url)
            .filter_map(|(_, path)| self.manifest.get_by_key(path))
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        out
    }

    /// The mirror's entry for a neuron's file of a kind, if it lists one.
    pub fn entry_for(&self, neuron_id: u64, kind: FileKind) -> Option<ManifestEntry> {
        let want = (neuron_id, kind_index(kind));
        let at = self
            .by_neuron
            .binary_search_by(|(id, k, _)| (*id, *k).cmp(&want))
            .ok()?;
        let (_, _, url) = self.by_neuron.get(at)?;
        self.entries_of(*url).into_iter().next()
    }

    /// An error unless `out_dir` and the mirror are apart (neither inside the other): a
    /// subset placed in its mirror would write there.
    pub fn check_apart(&self, out_dir: &Path) -> Result<()> {
        let mirror = std::fs::canonicalize(&self.dir).map_err(|e| Error::io(&self.dir, e))?;
        let out = canonical_as_far_as_it_exists(out_dir);
        if out.starts_with(&mirror) || mirror.starts_with(&out) {
            return Err(Error::setting(
                "mirror",
                format!(
                    "the output folder {} and the mirror {} must be apart (neither inside \
                     the other): nothing in a mirror is ever written",
                    out_dir.display(),
                    self.dir.display()
                ),
            ));
        }
        Ok(())
    }

    /// Take the file of `url` to `dest_temp` (a name that must not exist yet, in the
    /// subset's folder, which must exist): see [`Taken`]. The mirror's file is checked (a
    /// regular file reached through plain folders, of the size and SHA-256 its entry says)
    /// before it is linked; a copy is checked while written. The caller renames `dest_temp`
    /// into place (or [`Mirror::take_into`] does it all). When several entries name the
    /// URL, the first healthy one is taken.
    ///
    /// `Err` only for the destination (it exists, its folder is missing, the disk is full):
    /// what is wrong in the mirror is a [`Taken::Damaged`], and nothing is left at
    /// `dest_temp` then.
    pub fn take(&self, url: &str, dest_temp: &Path) -> Result<Taken> {
        let candidates = self.entries_of(key_of(url_key(url)));
        if candidates.is_empty() {
            return Ok(Taken::Missing);
        }
        let mut damage = Vec::new();
        for entry in &candidates {
            match self.take_entry(entry, dest_temp)? {
                Ok(taken) => return Ok(taken),
                Err(why) => damage.push(why),
            }
        }
        Ok(Taken::Damaged {
            why: damage.join("; "),
        })
    }

    /// [`Mirror::take`] into a fresh temporary name beside `final_path`, renamed onto it
    /// when taken (replacing what was there; the folder synced after, when durable).
    /// Nothing changes at `final_path` when the file is missing or damaged.
    pub fn take_into(&self, url: &str, final_path: &Path) -> Result<Taken> {
        let temp = temp_path_for(final_path);
        let taken = self.take(url, &temp)?;
        if taken.is_taken() {
            let mut guard = RemoveOnDrop(Some(&temp));
            std::fs::rename(&temp, final_path).map_err(|e| Error::io(final_path, e))?;
            guard.0 = None;
            if self.durable {
                if let Some(dir) = final_path.parent() {
                    sync_dir(dir).map_err(|e| Error::io(dir, e))?;
                }
            }
        }
        Ok(taken)
    }

    /// One entry's file to `dest`: `Ok(Err(why))` when the mirror's copy is not it.
    fn take_entry(&self, entry: &ManifestEntry, dest: &Path) -> Result<Attempt> {
        let rel = crate::util::text::escape(&entry.path).into_owned();
        let damaged = |why: String| Ok(Err(format!("{rel} in the mirror: {why}")));
        let path = entry.full_path(&self.dir);
        if let Err(blocked) = check_folders(&self.dir, &path) {
            return damaged(format!("not read ({blocked})"));
        }
        let mut file = match open_regular(&path) {
            Ok(Some(f)) => f,
            Ok(None) => return damaged("missing".into()),
            Err(e) => return damaged(e.to_string()),
        };
        let before = match file.metadata() {
            Ok(m) => Identity::of(&m),
            Err(e) => return damaged(e.to_string()),
        };
        if before.len != entry.bytes {
            return damaged(format!(
                "size {} bytes, its manifest says {}",
                before.len, entry.bytes
            ));
        }
        // Checked before it is taken; when linking is off, the copy is the check.
        if self.links {
            let (sha, n) = match hash_stream(&mut file, None) {
                Ok(h) => h,
                Err(StreamError::Read(e) | StreamError::Write(e)) => {
                    return damaged(format!("unreadable ({e})"))
                }
            };
            if let Some(why) = mismatch(entry, &sha, n) {
                return damaged(why);
            }
            if file.metadata().map(|m| Identity::of(&m)).ok() != Some(before) {
                return damaged("changed while it was read".into());
            }
            match (self.linker)(&path, dest) {
                Ok(()) => {
                    let mut guard = RemoveOnDrop(Some(dest));
                    let placed = std::fs::symlink_metadata(dest).map_err(|e| Error::io(dest, e))?;
                    // The name still led to the inode hashed: nothing replaced it meanwhile.
                    if (placed.dev(), placed.ino()) != (before.dev, before.ino) {
                        return damaged("replaced while it was taken".into());
                    }
                    guard.0 = None;
                    return Ok(Ok(Taken::Linked {
                        sha256: sha,
                        bytes: n,
                        source: Box::new(entry.clone()),
                    }));
                }
                Err(e) if link_impossible(&e) => {
                    log::debug!(
                        "{}: cannot link ({e}); copying",
                        crate::util::text::escape(&path.display().to_string())
                    );
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound && !path.exists() => {
                    return damaged("removed while it was taken".into());
                }
                Err(e) => return Err(Error::io(dest, e)),
            }
        }
        self.copy_checked(entry, &mut file, dest, before, &rel)
    }

    /// Copy `file` to `dest` (created exclusively), hashing what is written; a copy that is
    /// not what the entry says is removed.
    fn copy_checked(
        &self,
        entry: &ManifestEntry,
        file: &mut File,
        dest: &Path,
        before: Identity,
        rel: &str,
    ) -> Result<Attempt> {
        let mut out = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o644)
            .open(dest)
            .map_err(|e| Error::io(dest, e))?;
        let mut guard = RemoveOnDrop(Some(dest));
        let (sha, n) = match hash_stream(file, Some(&mut out)) {
            Ok(h) => h,
            Err(StreamError::Read(e)) => {
                return Ok(Err(format!("{rel} in the mirror: unreadable ({e})")))
            }
            Err(StreamError::Write(e)) => return Err(Error::io(dest, e)),
        };
        if let Some(why) = mismatch(entry, &sha, n) {
            return Ok(Err(format!("{rel} in the mirror: {why}")));
        }
        if file.metadata().map(|m| Identity::of(&m)).ok() != Some(before) {
            return Ok(Err(format!(
                "{rel} in the mirror: changed while it was copied"
            )));
        }
        if self.durable {
            out.sync_all().map_err(|e| Error::io(dest, e))?;
        }
        guard.0 = None;
        Ok(Ok(Taken::Copied {
            sha256: sha,
            bytes: n,
            source: Box::new(entry.clone()),
        }))
    }
}

/// Why bytes hashed to `sha` (`n` of them) are not the entry's file, if they are not.
fn mismatch(entry: &ManifestEntry, sha: &str, n: u64) -> Option<String> {
    if n != entry.bytes {
        Some(format!("size {n} bytes, its manifest says {}", entry.bytes))
    } else if sha != entry.sha256 {
        Some(format!("SHA-256 {sha}, its manifest says {}", entry.sha256))
    } else {
        None
    }
}

/// `path` canonicalized as far as it exists (its missing tail appended as given).
fn canonical_as_far_as_it_exists(path: &Path) -> PathBuf {
    let mut tail = Vec::new();
    let mut at = path.to_path_buf();
    loop {
        if let Ok(c) = std::fs::canonicalize(&at) {
            let mut c = c;
            c.extend(tail.iter().rev());
            return c;
        }
        match (at.file_name().map(|n| n.to_os_string()), at.parent()) {
            (Some(name), Some(parent)) => {
                tail.push(name);
                at = if parent.as_os_str().is_empty() {
                    PathBuf::from(".")
                } else {
                    parent.to_path_buf()
                };
            }
            _ => return path.to_path_buf(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::manifest::{append, manifest_path};
    use crate::util::time::Timestamp;

    const BODY: &[u8] = b"1 1 0 0 0 5 -1\n2 3 0 5 0 1 1\n";

    struct Dirs {
        root: PathBuf,
        mirror: PathBuf,
        subset: PathBuf,
    }

    impl Drop for Dirs {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }

    fn sha(bytes: &[u8]) -> String {
        let mut h = Sha256::new();
        h.update(bytes);
        h.hex()
    }

    fn url(host: &str, name: &str) -> String {
        format!("{host}/dableFiles/wearne_hof/CNG%20version/{name}.CNG.swc")
    }

    /// A mirror holding `a.swc` and `b.swc` (listed with their true size and hash), and an
    /// empty subset folder beside it.
    fn dirs(tag: &str) -> Dirs {
        let root = std::env::temp_dir().join(format!("nm-mirror-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&root);
        let (mirror, subset) = (root.join("mirror"), root.join("subset"));
        std::fs::create_dir_all(mirror.join("downloads")).unwrap();
        std::fs::create_dir_all(subset.join("downloads")).unwrap();
        let mut entries = Vec::new();
        for (id, name) in [(1u64, "a"), (2, "b")] {
            let rel = format!("downloads/{name}.swc");
            std::fs::write(mirror.join(&rel), BODY).unwrap();
            entries.push(ManifestEntry {
                neuron_id: Some(id),
                neuron_name: name.into(),
                kind: FileKind::Cng,
                path: rel,
                url: url("https://neuromorpho.org", name),
                bytes: BODY.len() as u64,
                sha256: sha(BODY),
                etag: Some(format!("\"{name}\"")),
                last_modified: None,
                fetched_at: Timestamp::from_unix(1_700_000_000),
            });
        }
        append(&manifest_path(&mirror, ""), &entries).unwrap();
        Dirs {
            root,
            mirror,
            subset,
        }
    }

    /// Every file of a folder with its bytes and modification time.
    fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
        let mut out = Vec::new();
        let mut stack = vec![dir.to_path_buf()];
        while let Some(d) = stack.pop() {
            for e in std::fs::read_dir(&d).unwrap().flatten() {
                let p = e.path();
                let m = std::fs::symlink_metadata(&p).unwrap();
                if m.is_dir() {
                    stack.push(p);
                } else {
                    out.push((p.clone(), std::fs::read(&p).unwrap(), m.modified().unwrap()));
                }
            }
        }
        out.sort();
        out
    }

    #[test]
    fn a_healthy_file_is_linked_whatever_the_host_and_the_mirror_is_unchanged() {
        let d = dirs("linked");
        let before = snapshot(&d.mirror);
        let mirror = Mirror::open(&d.mirror).unwrap();
        assert_eq!(mirror.len(), 2);
        let dest = d.subset.join("downloads").join("a.swc");
        let taken = mirror
            .take_into(&url("http://cng.gmu.edu:8080", "a"), &dest)
            .unwrap();
        let Taken::Linked {
            sha256,
            bytes,
            source,
        } = &taken
        else {
            panic!("{taken:?}");
        };
        assert_eq!(
            (sha256.as_str(), *bytes),
            (sha(BODY).as_str(), BODY.len() as u64)
        );
        assert_eq!(source.etag.as_deref(), Some("\"a\""));
        let (m, s) = (
            std::fs::metadata(d.mirror.join("downloads/a.swc")).unwrap(),
            std::fs::metadata(&dest).unwrap(),
        );
        assert_eq!((m.dev(), m.ino()), (s.dev(), s.ino()), "one inode");
        assert_eq!(m.nlink(), 2);
        assert_eq!(
            snapshot(&d.mirror),
            before,
            "bytes and times of the mirror unchanged"
        );
        let names: Vec<String> = std::fs::read_dir(d.subset.join("downloads"))
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, ["a.swc"], "no temporary file left");
        assert_eq!(
            mirror.entry_for(2, FileKind::Cng).map(|e| e.path),
            Some("downloads/b.swc".to_string())
        );
        assert!(mirror.entry_for(2, FileKind::Original).is_none());
        assert_eq!(
            mirror
                .take(&url("https://neuromorpho.org", "zz"), &d.subset.join("t"))
                .unwrap(),
            Taken::Missing
        );
    }

    #[test]
    fn a_flipped_byte_is_damage_nothing_is_placed_and_the_mirror_stays_as_it_was() {
        for links in [true, false] {
            let d = dirs(if links { "flip-link" } else { "flip-copy" });
            let file = d.mirror.join("downloads/b.swc");
            let mut bytes = std::fs::read(&file).unwrap();
            bytes[3] ^= 0x20;
            std::fs::write(&file, &bytes).unwrap();
            let before = snapshot(&d.mirror);
            let mirror = Mirror::open(&d.mirror).unwrap().hard_links(links);
            let dest = d.subset.join("downloads").join("b.swc");
            let taken = mirror.take_into(&url("https://h", "b"), &dest).unwrap();
            match &taken {
                Taken::Damaged { why } => assert!(
                    why.starts_with("downloads/b.swc in the mirror: SHA-256 ")
                        && why.contains(&sha(BODY)),
                    "{why}"
                ),
                other => panic!("{other:?}"),
            }
            assert!(!taken.is_taken());
            assert_eq!(
                std::fs::read_dir(d.subset.join("downloads"))
                    .unwrap()
                    .count(),
                0
            );
            assert_eq!(snapshot(&d.mirror), before);
            assert_eq!(std::fs::metadata(&file).unwrap().nlink(), 1);
        }
    }

    #[test]
    fn where_links_fail_the_file_is_copied_and_checked() {
        let d = dirs("copy");
        let before = snapshot(&d.mirror);
        for errno in [libc::EXDEV, libc::EPERM, libc::EMLINK] {
            let mut mirror = Mirror::open(&d.mirror).unwrap();
            mirror.linker = match errno {
                libc::EXDEV => |_, _| Err(io::Error::from_raw_os_error(libc::EXDEV)),
                libc::EPERM => |_, _| Err(io::Error::from_raw_os_error(libc::EPERM)),
                _ => |_, _| Err(io::Error::from_raw_os_error(libc::EMLINK)),
            };
            let dest = d.subset.join("downloads").join(format!("a{errno}.swc"));
            let taken = mirror.take_into(&url("https://h", "a"), &dest).unwrap();
            assert!(
                matches!(taken, Taken::Copied { bytes, .. } if bytes == BODY.len() as u64),
                "{taken:?}"
            );
            assert_eq!(std::fs::read(&dest).unwrap(), BODY);
            let (m, s) = (
                std::fs::metadata(d.mirror.join("downloads/a.swc")).unwrap(),
                std::fs::metadata(&dest).unwrap(),
            );
            assert_ne!(m.ino(), s.ino(), "a copy of its own");
        }
        assert_eq!(snapshot(&d.mirror), before);
        // Another failure of the link is the destination's: an error naming it.
        let mut mirror = Mirror::open(&d.mirror).unwrap();
        mirror.linker = |_, _| Err(io::Error::from_raw_os_error(libc::ENOSPC));
        let dest = d.subset.join("downloads").join("x.swc");
        let err = mirror.take(&url("https://h", "a"), &dest).unwrap_err();
        assert!(
            matches!(&err, Error::Io { path, .. } if path == &dest),
            "{err:?}"
        );
        // So is a name already taken at the destination (never overwritten).
        std::fs::write(&dest, b"mine").unwrap();
        let copying = Mirror::open(&d.mirror).unwrap().hard_links(false);
        assert!(copying.take(&url("https://h", "a"), &dest).is_err());
        assert!(Mirror::open(&d.mirror)
            .unwrap()
            .take(&url("https://h", "a"), &dest)
            .is_err());
        assert_eq!(std::fs::read(&dest).unwrap(), b"mine");
    }

    #[test]
    fn what_the_manifest_lists_must_be_there_as_listed() {
        let d = dirs("listed");
        let mirror_a = d.mirror.join("downloads/a.swc");
        // Removed: damage, not an error.
        std::fs::remove_file(&mirror_a).unwrap();
        let mirror = Mirror::open(&d.mirror).unwrap();
        let dest = d.subset.join("downloads/a.swc");
        let why = |t: Taken| match t {
            Taken::Damaged { why } => why,
            other => panic!("{other:?}"),
        };
        assert_eq!(
            why(mirror.take_into(&url("h", "a"), &dest).unwrap()),
            "downloads/a.swc in the mirror: missing"
        );
        // Cut short: its size is read first.
        std::fs::write(&mirror_a, &BODY[..10]).unwrap();
        assert_eq!(
            why(mirror.take_into(&url("h", "a"), &dest).unwrap()),
            format!(
                "downloads/a.swc in the mirror: size 10 bytes, its manifest says {}",
                BODY.len()
            )
        );
        // A FIFO where the file belongs is never opened blocking.
        std::fs::remove_file(&mirror_a).unwrap();
        assert!(std::process::Command::new("mkfifo")
            .arg(&mirror_a)
            .status()
            .unwrap()
            .success());
        assert!(why(mirror.take_into(&url("h", "a"), &dest).unwrap()).contains("a FIFO"));
        // A data folder that is a symbolic link leads outside the mirror: not read.
        let elsewhere = d.root.join("elsewhere");
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("b.swc"), BODY).unwrap();
        std::fs::remove_file(&mirror_a).unwrap();
        std::fs::remove_file(d.mirror.join("downloads/b.swc")).unwrap();
        std::fs::remove_dir(d.mirror.join("downloads")).unwrap();
        std::os::unix::fs::symlink(&elsewhere, d.mirror.join("downloads")).unwrap();
        let w = why(mirror
            .take_into(&url("h", "b"), &d.subset.join("downloads/b.swc"))
            .unwrap());
        assert!(w.contains("not read") && w.contains("symbolic link"), "{w}");
        assert!(!d.subset.join("downloads/b.swc").exists());
    }

    #[test]
    fn only_a_folder_with_a_manifest_is_a_mirror_and_it_stays_apart() {
        let d = dirs("open");
        let err = Mirror::open(&d.subset).unwrap_err().to_string();
        assert!(err.contains("no manifest.jsonl"), "{err}");
        assert!(!err.contains('\n'));
        let err = Mirror::open(d.mirror.join("manifest.jsonl"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("not a file"), "{err}");
        assert!(matches!(
            Mirror::open(d.root.join("absent")),
            Err(Error::Io { .. })
        ));
        let mirror = Mirror::open(&d.mirror).unwrap();
        assert!(mirror.check_apart(&d.subset).is_ok());
        assert!(mirror.check_apart(&d.subset.join("not/yet/made")).is_ok());
        assert!(mirror.check_apart(&d.mirror.join("sub")).is_err());
        assert!(mirror.check_apart(&d.root).is_err());
        assert!(mirror.check_apart(&d.mirror.join("downloads/..")).is_err());
    }

    #[test]
    fn urls_are_keyed_by_their_file_part() {
        let k = "/dableFiles/wearne_hof/CNG%20version/cnic_001.CNG.swc";
        for u in [
            format!("https://neuromorpho.org{k}"),
            format!("http://cng.gmu.edu:8080{k}"),
            format!("http://me:secret@127.0.0.1:9{k}"),
            format!("http://cng.gmu.edu:8080/neuroMorpho{k}"),
            k.to_string(),
        ] {
            assert_eq!(url_key(&u), k, "{u}");
        }
        assert_eq!(url_key("https://host"), "");
        assert_eq!(url_key("https://host/other/x"), "/other/x");
    }
}
