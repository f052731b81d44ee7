//! Releases: switching a catalog to release n, which reprocesses a deterministic subset of
//! CNG files and adds neurons, and what each release changed (for tests' expectations).
//!
//! Release `r >= 2` changes the CNG body of every row `i` that existed in release `r - 1`,
//! has a CNG file and has `(i + r) % 5 == 0` (every 5th row, a different fifth each time): the
//! body gets a first line `# reprocessed in release r` (with the file's own line ending), so it
//! stays valid SWC and its ETag and Last-Modified change. Release `r` also appends
//! `max(1, len / 10)` generated neurons with fresh ids and names. Everything is a function of
//! the catalog and the release number: nothing is stored per row, switching back works.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::atomic::Ordering;

use super::catalog::Catalog;
use super::validators::{content_hash, etag, release_date};

impl Catalog {
    /// The release being served (1 until [`Catalog::set_release`]).
    pub fn release(&self) -> u32 {
        self.release.load(Ordering::SeqCst)
    }

    /// Switches to release `n` (1 is the catalog as generated; also works on a running
    /// server, see [`super::FakeServer::set_release`]). Requests being answered at that
    /// moment may see either release. Panics if `n == 0` or the catalog would outgrow `u32`.
    pub fn set_release(&self, n: u32) {
        assert!(n >= 1, "releases count from 1");
        assert!(
            self.len_at_release(n) < u32::MAX as usize,
            "release {n} makes the catalog too large"
        );
        self.release.store(n, Ordering::SeqCst);
    }

    /// Number of neurons in release `n`: release 1 has the generated and raw rows, each later
    /// release adds `max(1, previous / 10)`.
    pub fn len_at_release(&self, n: u32) -> usize {
        let mut len = self.base_len();
        for _ in 1..n {
            if len >= u32::MAX as usize {
                break;
            }
            len = len.saturating_add((len / 10).max(1));
        }
        len
    }

    /// Rows that release `n` added (release 1: all its rows). They are generated records
    /// (ids above every earlier id, names of the generated forms, CNG files from the
    /// fixtures), appended in id order.
    pub fn added_in_release(&self, n: u32) -> Range<usize> {
        let start = if n <= 1 {
            0
        } else {
            self.len_at_release(n - 1)
        };
        start..self.len_at_release(n.max(1))
    }

    /// Rows whose CNG body release `n` changed (empty for release 1), in row order.
    pub fn changed_in_release(&self, n: u32) -> Vec<usize> {
        if n < 2 {
            return Vec::new();
        }
        let offset = (5 - n as usize % 5) % 5;
        (offset..self.len_at_release(n - 1))
            .step_by(5)
            .filter(|&i| self.cng_file(i).is_some())
            .collect()
    }

    /// The release in which row `i` first appeared.
    pub fn release_added(&self, i: usize) -> u32 {
        let mut n = 1;
        while i >= self.len_at_release(n) {
            n += 1;
        }
        n
    }

    /// The latest release up to `at` that changed row `i`'s CNG body.
    pub(super) fn last_change(&self, i: usize, at: u32) -> Option<u32> {
        self.cng_file(i)?;
        let r = at.checked_sub(((i as u64 + u64::from(at)) % 5) as u32)?;
        // Earlier candidates are 5 releases apart and had fewer rows still.
        (r >= 2 && i < self.len_at_release(r - 1)).then_some(r)
    }

    /// The release row `i`'s CNG body (as served now) dates from: its last change, or the
    /// release that added the row. Its `Last-Modified` is [`release_date`] of it.
    pub fn cng_release(&self, i: usize) -> u32 {
        self.last_change(i, self.release())
            .unwrap_or_else(|| self.release_added(i))
    }

    /// Row `i`'s CNG body as the server sends it now (None without a file): the
    /// [`Catalog::swc_bytes`] body, or after a change its reprocessed form.
    pub fn cng_bytes(&self, i: usize) -> Option<Cow<'_, [u8]>> {
        self.cng_at(i, self.release()).map(|(bytes, _, _)| bytes)
    }

    /// Row `i`'s CNG body in release `at`, its content hash (cached by stored body and
    /// release of the change) and the release it dates from, all from one release number.
    pub(super) fn cng_at(&self, i: usize, at: u32) -> Option<(Cow<'_, [u8]>, u64, u32)> {
        let (id, base) = self.cng_source(i)?;
        let change = self.last_change(i, at);
        let bytes = match change {
            None => Cow::Borrowed(base),
            Some(r) => Cow::Owned(reprocessed(base, r)),
        };
        let key = (id, change.unwrap_or(0));
        let cached = self.lock_hashes().get(&key).copied();
        let hash = cached.unwrap_or_else(|| {
            let h = content_hash(&bytes);
            self.lock_hashes().insert(key, h);
            h
        });
        let release = change.unwrap_or_else(|| self.release_added(i));
        Some((bytes, hash, release))
    }

    /// The `ETag` the server sends now with row `i`'s CNG file (None without a file).
    pub fn cng_etag(&self, i: usize) -> Option<String> {
        self.cng_at(i, self.release())
            .map(|(_, hash, _)| etag(hash))
    }

    /// The `Last-Modified` the server sends now with row `i`'s CNG file.
    pub fn cng_last_modified(&self, i: usize) -> Option<String> {
        self.cng_file(i)?;
        Some(release_date(self.cng_release(i)))
    }
}

/// `base` as reprocessed in release `r`: one comment line first, with the file's line ending.
pub(super) fn reprocessed(base: &[u8], r: u32) -> Vec<u8> {
    let crlf = base
        .iter()
        .position(|&b| b == b'\n')
        .is_some_and(|p| p > 0 && base[p - 1] == b'\r');
    let mut out = Vec::with_capacity(base.len() + 40);
    out.extend_from_slice(format!("# reprocessed in release {r}").as_bytes());
    out.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
    out.extend_from_slice(base);
    out
}
