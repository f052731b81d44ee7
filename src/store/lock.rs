//! The folder lock: runs that share an output folder take it, briefly, around the updates of
//! the files they share (the manifest, the tables, `SHA256SUMS`). Downloads themselves never
//! wait for it, so shards writing into one folder still run in parallel.

use std::fs::{File, TryLockError};
use std::path::Path;
use std::time::{Duration, Instant};

use crate::cancel::CancelToken;
use crate::error::{Error, Result};

/// The lock file in an output folder.
pub(crate) const LOCK_FILE: &str = ".neuromorpho.lock";

/// How long a run that was cancelled still waits for the lock to record what it committed
/// (Ctrl-C ends a run within 3 s; what it could not record, the next run finds in place).
pub(crate) const GRACE: Duration = Duration::from_secs(1);

/// A held lock, released when dropped (and by the kernel if the process dies: `flock`, so a
/// killed run never leaves a stale lock behind).
#[derive(Debug)]
pub(crate) struct FolderLock {
    file: Option<File>,
}

impl FolderLock {
    /// Take the lock of `out_dir`, waiting (and saying so once through `waiting`) while
    /// another run holds it, until `cancel` is cancelled (then `Err(Cancelled)`). A file
    /// system without locks (some network mounts answer ENOLCK) gives a lock that holds
    /// nothing, with a warning: the updates are then not protected against a run writing at
    /// the very same moment. The lock file is opened without blocking and without following
    /// a symlink: a FIFO or a link planted at its name is an error naming it.
    pub(crate) fn acquire(
        out_dir: &Path,
        cancel: &CancelToken,
        waiting: &mut dyn FnMut(&str),
    ) -> Result<FolderLock> {
        FolderLock::acquire_with_grace(out_dir, cancel, Duration::ZERO, waiting)
    }

    /// [`FolderLock::acquire`], but once `cancel` is cancelled, go on waiting for `grace`
    /// more (a run that was stopped records what it committed if it can do so quickly).
    pub(crate) fn acquire_with_grace(
        out_dir: &Path,
        cancel: &CancelToken,
        grace: Duration,
        waiting: &mut dyn FnMut(&str),
    ) -> Result<FolderLock> {
        let path = out_dir.join(LOCK_FILE);
        let file = crate::store::safe_fs::open_for_append(&path, false)
            .map_err(|e| Error::io(&path, e))?;
        let mut said = false;
        let mut cancelled_at: Option<Instant> = None;
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
                    if cancel.is_cancelled() {
                        let since = *cancelled_at.get_or_insert_with(Instant::now);
                        if since.elapsed() >= grace {
                            return Err(Error::Cancelled);
                        }
                        std::thread::sleep(Duration::from_millis(25));
                    } else {
                        // Ends at once when cancelled; the grace (if any) starts then.
                        let _ = cancel.sleep(Duration::from_millis(25));
                    }
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
