//! The one way we write a file: into a temporary file created exclusively beside the target,
//! checked, synced and renamed into place; the folder synced after. Dropped before it is
//! committed, the temporary file is removed. A final name therefore only ever holds a
//! complete file, whatever happens (kill, full disk, a second run writing the same file).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

/// A temporary file older than this, whose writer cannot be shown alive, is a leftover.
/// Writers touch their file on every write; a transfer that stalls this long is abandoned
/// far earlier (see the client's speed floor).
const STALE_AFTER: Duration = Duration::from_secs(15 * 60);

/// Temporary files end with this; nothing else of ours does.
pub(crate) const TEMP_SUFFIX: &str = ".part";

/// A file being written; see the module docs.
#[derive(Debug)]
pub(crate) struct AtomicFile {
    final_path: PathBuf,
    temp: PathBuf,
    file: Option<File>,
    durable: bool,
}

/// `host-pid`, so that a later run can tell a dead writer's leftovers from a live one's.
fn writer_id() -> &'static str {
    static ID: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    ID.get_or_init(|| format!("{}-{}", host_name(), std::process::id()))
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok())
        .map(|h| {
            h.trim()
                .chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-')
                .take(64)
                .collect::<String>()
        })
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "host".into())
}

/// A fresh temporary name beside `final_path`, `.<name>.<host>-<pid>-<n>.part`, unique to
/// this writer (so that [`remove_stale`] tells a dead writer's leftover from a live one's).
/// Nothing is created there: the name is for a file made by other means (a hard link),
/// which fails, as `O_EXCL` does, on anything already at the name.
pub(crate) fn temp_path_for(final_path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let name = final_path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    final_path.with_file_name(format!(".{name}.{}-{n}{TEMP_SUFFIX}", writer_id()))
}

impl AtomicFile {
    /// Create the temporary file for `final_path` (its folder must exist). `durable`: sync the
    /// file before the rename and the folder after (a power cut never leaves a partial file
    /// under the final name).
    ///
    /// The temporary name is unique to this writer (`.<name>.<host>-<pid>-<n>.part`) and is
    /// created with `O_CREAT|O_EXCL`, which fails on anything already there — a symlink
    /// (dangling or not) or a FIFO planted at that name is never followed or opened. O_EXCL
    /// is honoured by NFSv3+, Lustre and GPFS.
    pub(crate) fn create(final_path: &Path, durable: bool) -> io::Result<AtomicFile> {
        let mut last_err = None;
        for _ in 0..8 {
            let temp = temp_path_for(final_path);
            match OpenOptions::new().write(true).create_new(true).open(&temp) {
                Ok(file) => {
                    return Ok(AtomicFile {
                        final_path: final_path.to_path_buf(),
                        temp,
                        file: Some(file),
                        durable,
                    })
                }
                // Something sits at our name (planted, or a leftover of a recycled pid): try the next.
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_err = Some(e),
                Err(e) => return Err(e),
            }
        }
        Err(last_err.unwrap_or_else(|| io::Error::other("no free temporary name")))
    }

    /// The temporary file's path (for messages).
    pub(crate) fn temp_path(&self) -> &Path {
        &self.temp
    }

    fn file(&mut self) -> io::Result<&mut File> {
        self.file
            .as_mut()
            .ok_or_else(|| io::Error::other("file already committed"))
    }

    /// Start again from an empty file (a search that starts over).
    pub(crate) fn truncate(&mut self) -> io::Result<()> {
        use std::io::Seek;
        let f = self.file()?;
        f.set_len(0)?;
        f.rewind()?;
        Ok(())
    }

    /// Flush, sync, and rename onto the final name (replacing what was there); then sync the
    /// folder so that the rename itself survives a crash.
    pub(crate) fn commit(mut self) -> io::Result<()> {
        let file = self.file.take();
        if let Some(mut f) = file {
            f.flush()?;
            if self.durable {
                f.sync_all()?;
            }
        }
        std::fs::rename(&self.temp, &self.final_path)?;
        if self.durable {
            if let Some(dir) = self.final_path.parent() {
                sync_dir(dir)?;
            }
        }
        // Renamed: nothing left to remove.
        self.temp = PathBuf::new();
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file()?.write(buf)
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.file()?.write_all(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file()?.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.temp.as_os_str().is_empty() {
            self.file = None;
            let _ = std::fs::remove_file(&self.temp);
        }
    }
}

/// Make a folder's entries (a rename into it) durable. A folder that cannot be opened for
/// syncing (some network file systems) is not an error.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    match File::open(dir) {
        Ok(d) => match d.sync_all() {
            Ok(()) => Ok(()),
            // EINVAL/EBADF: the file system does not sync folders; the rename is what it is.
            Err(e) if e.kind() == io::ErrorKind::InvalidInput => Ok(()),
            Err(e) if e.raw_os_error() == Some(9) || e.raw_os_error() == Some(22) => Ok(()),
            Err(e) => Err(e),
        },
        Err(_) => Ok(()),
    }
}

/// Write `bytes` to `path` atomically (see [`AtomicFile`]).
pub(crate) fn write_atomically(path: &Path, bytes: &[u8], durable: bool) -> io::Result<()> {
    let mut f = AtomicFile::create(path, durable)?;
    f.write_all(bytes)?;
    f.commit()
}

/// Whether `name` is one of our temporary files.
pub(crate) fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(TEMP_SUFFIX)
}

/// Remove the leftovers of killed writers in `dir` (and below, if `recursive`): temporary
/// files of a process of this host that is gone, or of any writer when untouched for
/// [`STALE_AFTER`]. A live writer's file (another run into the same folder) is left alone.
/// Returns how many were removed.
pub(crate) fn remove_stale(dir: &Path, recursive: bool) -> usize {
    let mut removed = 0;
    let mut stack = vec![dir.to_path_buf()];
    let host = host_name();
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            let Ok(kind) = e.file_type() else { continue };
            if kind.is_dir() {
                if recursive {
                    stack.push(e.path());
                }
                continue;
            }
            let name = e.file_name().to_string_lossy().into_owned();
            if !is_temp_name(&name) || !is_stale(&e, &name, &host) {
                continue;
            }
            if std::fs::remove_file(e.path()).is_ok() {
                log::debug!("removed a leftover temporary file {}", e.path().display());
                removed += 1;
            }
        }
    }
    removed
}

fn is_stale(entry: &std::fs::DirEntry, name: &str, host: &str) -> bool {
    // `.<name>.<host>-<pid>-<n>.part`
    let writer = name
        .trim_end_matches(TEMP_SUFFIX)
        .rsplit('.')
        .next()
        .unwrap_or("");
    let mut parts = writer.rsplitn(3, '-');
    let seq = parts.next().and_then(|s| s.parse::<u64>().ok());
    let pid = parts.next().and_then(|p| p.parse::<u32>().ok());
    let from_host = parts.next() == Some(host);
    if seq.is_none() || pid.is_none() {
        // `.<name>.part` without a writer: left by an older version, never in use now.
        return true;
    }
    if let (true, Some(pid)) = (from_host, pid) {
        if pid == std::process::id() {
            return false; // ours, in use
        }
        if Path::new("/proc/self").exists() {
            return !Path::new(&format!("/proc/{pid}")).exists();
        }
    }
    let age = entry
        .metadata()
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| SystemTime::now().duration_since(t).ok());
    age.is_some_and(|a| a > STALE_AFTER)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(tag: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!(
            "nm-atomic-{tag}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&d);
        std::fs::create_dir_all(&d).unwrap();
        d
    }

    #[test]
    fn commit_replaces_and_drop_cleans_up() {
        let d = temp_dir("commit");
        let target = d.join("a.swc");
        std::fs::write(&target, "old").unwrap();
        let mut f = AtomicFile::create(&target, true).unwrap();
        f.write_all(b"new").unwrap();
        let temp = f.temp_path().to_path_buf();
        assert!(is_temp_name(&temp.file_name().unwrap().to_string_lossy()));
        assert_eq!(
            std::fs::read(&target).unwrap(),
            b"old",
            "untouched until commit"
        );
        f.commit().unwrap();
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        assert!(!temp.exists());
        let mut g = AtomicFile::create(&target, false).unwrap();
        g.write_all(b"partial").unwrap();
        let temp = g.temp_path().to_path_buf();
        drop(g);
        assert!(!temp.exists(), "removed when not committed");
        assert_eq!(std::fs::read(&target).unwrap(), b"new");
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn two_writers_never_share_a_temporary_file() {
        let d = temp_dir("two");
        let target = d.join("b.swc");
        let a = AtomicFile::create(&target, false).unwrap();
        let b = AtomicFile::create(&target, false).unwrap();
        assert_ne!(a.temp_path(), b.temp_path());
        let _ = std::fs::remove_dir_all(&d);
    }

    #[test]
    fn leftovers_of_dead_writers_are_removed_live_ones_kept() {
        let d = temp_dir("stale");
        let host = host_name();
        let dead = d.join(format!(".x.swc.{host}-4000000000-0.part"));
        std::fs::write(&dead, "x").unwrap();
        let live = AtomicFile::create(&d.join("y.swc"), false).unwrap();
        let foreign = d.join(".z.swc.otherhost-12-0.part");
        std::fs::write(&foreign, "z").unwrap();
        assert_eq!(remove_stale(&d, false), 1);
        assert!(!dead.exists());
        assert!(live.temp_path().exists(), "our own file is in use");
        assert!(foreign.exists(), "another host's fresh file may be live");
        drop(live);
        let _ = std::fs::remove_dir_all(&d);
    }
}
