//! The folder lock: runs that share an output folder take it, briefly, around the updates of
//! the files they share (the manifest, the tables, `SHA256SUMS`). Downloads themselves never
//! wait for it, so shards writing into one folder still run in parallel.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;
use std::time::Duration;

use crate::cancel::CancelToken;
use crate::error::{Error, Result};

/// The lock file in an output folder.
pub(crate) const LOCK_FILE: &str = ".neuromorpho.lock";

/// A held lock, released when dropped (and by the kernel if the process dies: `flock`, so a
/// killed run never leaves a stale lock behind).
#[derive(Debug)]
pub(crate) struct FolderLock {
    file: Option<File>,
}

impl FolderLock {
    /// Take the lock of `out_dir`, waiting (and saying so once through `waiting`) while
    /// another run holds it. A file system without locks (some network mounts answer
    /// ENOLCK) gives a lock that holds nothing, with a warning: the updates are then not
    /// protected against a run writing at the very same moment.
    pub(crate) fn acquire(
        out_dir: &Path,
        cancel: &CancelToken,
        waiting: &mut dyn FnMut(&str),
    ) -> Result<FolderLock> {
        let path = out_dir.join(LOCK_FILE);
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&path)
            .map_err(|e| Error::io(&path, e))?;
        let mut said = false;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(FolderLock { file: Some(file) }),
                Err(TryLockError::WouldBlock) => {
                    if !said {
                        waiting(&format!(
                            "another run writing in {} (its lock {})",
                            out_dir.display(),
                            path.display()
                        ));
                        said = true;
                    }
                    cancel.sleep(Duration::from_millis(25))?;
                }
                Err(TryLockError::Error(e)) => {
                    log::warn!(
                        "cannot lock {} ({e}): concurrent runs in this folder are not kept apart",
                        path.display()
                    );
                    return Ok(FolderLock { file: None });
                }
            }
        }
    }

    /// Whether the lock is really held (not on a file system without locks).
    #[cfg(test)]
    fn held(&self) -> bool {
        self.file.is_some()
    }
}

impl Drop for FolderLock {
    fn drop(&mut self) {
        if let Some(f) = self.file.take() {
            let _ = f.unlock();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_taker_waits_and_says_so() {
        let dir = std::env::temp_dir().join(format!("nm-lock-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let never = CancelToken::new();
        let first = FolderLock::acquire(&dir, &never, &mut |_| {}).unwrap();
        assert!(first.held());
        let (tx, rx) = std::sync::mpsc::channel();
        let d = dir.clone();
        let waiter = std::thread::spawn(move || {
            let mut said = Vec::new();
            let l = FolderLock::acquire(&d, &CancelToken::new(), &mut |w| said.push(w.to_string()));
            tx.send(()).unwrap();
            (l.map(|l| l.held()).unwrap_or(false), said)
        });
        assert!(
            rx.recv_timeout(Duration::from_millis(200)).is_err(),
            "must wait"
        );
        drop(first);
        let (held, said) = waiter.join().unwrap();
        assert!(held);
        assert_eq!(said.len(), 1, "{said:?}");
        assert!(said[0].contains("another run"), "{said:?}");
        // A cancelled waiter stops waiting.
        let _again = FolderLock::acquire(&dir, &never, &mut |_| {}).unwrap();
        let token = CancelToken::new();
        token.cancel();
        let d = dir.clone();
        let r = std::thread::spawn(move || FolderLock::acquire(&d, &token, &mut |_| {}).is_err())
            .join()
            .unwrap();
        assert!(r);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
