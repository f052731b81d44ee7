//! An output folder is data other people and programs touch: copied, restored, edited by
//! scripts. What the tool reads back from it is input. Its own files (manifest, run file,
//! tables, lock) are opened without blocking and without following a symlink, and used only
//! when they are regular files; a path read from one of them is checked before anything is
//! read or written there.

use std::fs::{File, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Component, Path, PathBuf};

use crate::archive::files::FileKind;

/// Open flags for a file of the folder: a FIFO opens at once instead of waiting for a writer,
/// and a symlink is an error instead of a way out of the folder.
const NO_SURPRISES: i32 = libc::O_NONBLOCK | libc::O_NOFOLLOW;

/// What sits at a path instead of a regular file, in words (`a FIFO`, `a directory`, ...).
pub(crate) fn describe(meta: &std::fs::Metadata) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    let t = meta.file_type();
    if t.is_dir() {
        "a directory"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else if t.is_file() {
        "a regular file"
    } else {
        "not a regular file"
    }
}

/// The error for a special file where a regular one belongs (shown after its path).
pub(crate) fn not_regular(what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{what}, not a regular file (remove it)"),
    )
}

/// Open a file of the folder for reading: never blocks (a FIFO), never follows a symlink, and
/// fails unless it is a regular file. `Ok(None)` when there is nothing there.
pub(crate) fn open_regular(path: &Path) -> io::Result<Option<File>> {
    let file = match OpenOptions::new()
        .read(true)
        .custom_flags(NO_SURPRISES)
        .open(path)
    {
        Ok(f) => f,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(not_regular("a symbolic link"))
        }
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(describe(&meta)));
    }
    Ok(Some(file))
}

/// The whole of a file of the folder (see [`open_regular`]); `Ok(None)` when it is absent.
pub(crate) fn read_regular(path: &Path) -> io::Result<Option<Vec<u8>>> {
    let Some(mut f) = open_regular(path)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    f.read_to_end(&mut bytes)?;
    Ok(Some(bytes))
}

/// Open (creating it) a file of the folder for writing in place, as the lock and appended
/// manifests are: never through a symlink, never blocking on a FIFO, regular files only.
pub(crate) fn open_for_append(path: &Path, append: bool) -> io::Result<File> {
    let mut options = OpenOptions::new();
    options.create(true).custom_flags(NO_SURPRISES).mode(0o644);
    if append {
        // Read too: an appender looks at the last byte (a torn line to step past).
        options.read(true).append(true);
    } else {
        options.write(true).truncate(false);
    }
    let file = match options.open(path) {
        Ok(f) => f,
        Err(e) if e.raw_os_error() == Some(libc::ELOOP) => {
            return Err(not_regular("a symbolic link"))
        }
        // A FIFO without a reader answers ENXIO to a non-blocking open for writing.
        Err(e) if e.raw_os_error() == Some(libc::ENXIO) => return Err(not_regular("a FIFO")),
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular(describe(&meta)));
    }
    Ok(file)
}

/// Why a path read from a file of the folder (a manifest entry's) cannot be used for a file
/// of `kind`, or `None` when it can: relative, made of plain components (not empty, not
/// starting with a dot — so never `.` or `..` —, no backslash, colon or control character),
/// at least a folder and a file, inside the data folder of its kind.
pub(crate) fn unsafe_entry_path(path: &str, kind: FileKind) -> Option<String> {
    if path.is_empty() {
        return Some("an empty path".into());
    }
    if path.len() > 4096 {
        return Some("a path longer than 4096 bytes".into());
    }
    if path.starts_with('/') {
        return Some("an absolute path".into());
    }
    let parts: Vec<&str> = path.split('/').collect();
    for part in &parts {
        if part.is_empty() {
            return Some("an empty path component".into());
        }
        if *part == "." || *part == ".." {
            return Some(format!("a '{part}' component"));
        }
        if part.starts_with('.') {
            return Some("a component starting with a dot".into());
        }
        if let Some(c) = part
            .chars()
            .find(|&c| c == '\\' || c == ':' || crate::util::text::is_unsafe(c))
        {
            return Some(match c {
                '\\' => "a backslash".to_string(),
                ':' => "a colon (a drive or stream name)".to_string(),
                _ => format!(
                    "a control character ({})",
                    crate::util::text::escape(&c.to_string())
                ),
            });
        }
    }
    if parts.len() < 2 {
        return Some(format!(
            "not inside {}/, the folder of its kind",
            kind.folder()
        ));
    }
    if parts.first() != Some(&kind.folder()) {
        return Some(format!(
            "outside {}/, the folder of {kind} files",
            kind.folder()
        ));
    }
    None
}

/// A folder on the way to a file that is not a plain folder.
#[derive(Debug)]
pub(crate) struct Blocked {
    /// The folder at fault.
    pub path: PathBuf,
    /// What is wrong with it.
    pub error: io::Error,
}

impl std::fmt::Display for Blocked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}",
            crate::util::text::escape(&self.path.display().to_string()),
            self.error
        )
    }
}

impl From<Blocked> for crate::error::Error {
    fn from(b: Blocked) -> crate::error::Error {
        crate::error::Error::io(b.path, b.error)
    }
}

/// The folders between `out_dir` and `path` (a path under it): none may be a symlink (or
/// anything but a folder), so that a file placed at `path` stays inside `out_dir`. Folders
/// that do not exist yet are fine (they are created as folders). `Err` names the first one at
/// fault.
pub(crate) fn check_folders(out_dir: &Path, path: &Path) -> Result<(), Blocked> {
    let blocked = |at: &Path, error| Blocked {
        path: at.to_path_buf(),
        error,
    };
    let Ok(rel) = path.strip_prefix(out_dir) else {
        return Err(blocked(
            path,
            io::Error::new(io::ErrorKind::InvalidInput, "not inside the output folder"),
        ));
    };
    let mut at = out_dir.to_path_buf();
    let mut components = rel.components().peekable();
    while let Some(c) = components.next() {
        if components.peek().is_none() {
            break; // the file itself: a symlink there is replaced, never followed
        }
        let Component::Normal(name) = c else {
            return Err(blocked(
                path,
                io::Error::new(io::ErrorKind::InvalidInput, "not a plain path"),
            ));
        };
        at.push(name);
        match std::fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(m) => {
                let what = describe(&m);
                return Err(blocked(
                    &at,
                    io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "{what}, not a folder: no file is placed through it (replace it \
                             with a folder)"
                        ),
                    ),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(blocked(&at, e)),
        }
    }
    Ok(())
}

/// `create_dir_all` for the folder of a file under `out_dir`, refusing to go through a
/// symlink (before and after: a folder swapped for a link meanwhile is caught too).
pub(crate) fn create_folders(out_dir: &Path, path: &Path) -> Result<(), Blocked> {
    check_folders(out_dir, path)?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(|error| Blocked {
            path: dir.to_path_buf(),
            error,
        })?;
    }
    check_folders(out_dir, path)
}

/// `out_dir` joined with a checked relative path (`/`-separated).
pub(crate) fn join(out_dir: &Path, rel: &str) -> PathBuf {
    let mut p = out_dir.to_path_buf();
    for part in rel.split('/') {
        p.push(part);
    }
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_paths_stay_in_their_data_folder() {
        let ok = |p: &str, k| unsafe_entry_path(p, k).is_none();
        assert!(ok("downloads/cnic_001.swc", FileKind::Cng));
        assert!(ok("downloads/mouse/neocortex/7~a_b.swc", FileKind::Cng));
        assert!(ok("original/x.asc", FileKind::Original));
        assert!(ok("logs/x.std", FileKind::StandardizationLog));
        for bad in [
            "../outside/victim.txt",
            "../../x.swc",
            "downloads/../metadata.csv",
            "metadata.csv",
            "manifest.jsonl",
            "downloads",
            "/etc/passwd",
            "downloads//x.swc",
            "downloads/./x.swc",
            "downloads/.x.swc.host-1-0.part",
            "downloads/a\nb.swc",
            "downloads/a\\b.swc",
            "C:/downloads/x.swc",
            "downloads/x\u{202e}.swc",
            "original/x.swc",
            "",
        ] {
            assert!(!ok(bad, FileKind::Cng), "{bad:?} must be refused");
        }
    }

    #[test]
    fn folders_through_a_symlink_are_refused() {
        let dir = std::env::temp_dir().join(format!("nm-safe-fs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let out = dir.join("out");
        let elsewhere = dir.join("elsewhere");
        std::fs::create_dir_all(&out).unwrap();
        std::fs::create_dir_all(&elsewhere).unwrap();
        std::os::unix::fs::symlink(&elsewhere, out.join("downloads")).unwrap();
        let target = out.join("downloads").join("x.swc");
        let err = create_folders(&out, &target).unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        assert_eq!(err.path, out.join("downloads"));
        assert!(check_folders(&out, &out.join("original").join("a").join("x")).is_ok());
        // A FIFO opens at once and is refused; so is a symlink.
        let fifo = out.join("fifo");
        assert!(std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|s| s.success()));
        let err = open_regular(&fifo).unwrap_err();
        assert!(err.to_string().contains("a FIFO"), "{err}");
        let err = open_for_append(&fifo, true).unwrap_err();
        assert!(err.to_string().contains("FIFO"), "{err}");
        std::os::unix::fs::symlink(elsewhere.join("made"), out.join("link")).unwrap();
        assert!(open_for_append(&out.join("link"), false).is_err());
        assert!(
            !elsewhere.join("made").exists(),
            "never created through the link"
        );
        assert!(open_regular(&out.join("absent")).unwrap().is_none());
        let _ = std::fs::remove_dir_all(&dir);
    }
}
