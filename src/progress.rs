//! Progress of a long job, as events handed to a callback on the calling thread; the
//! library never draws anything itself.

/// What a job reports while it runs, in order, on the thread that called it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Progress {
    /// The count is known; `pages` pages follow.
    SearchStarted {
        /// Neurons matched.
        total: u64,
        /// Pages to fetch.
        pages: u64,
    },
    /// A page arrived (in order).
    Page {
        /// Pages done.
        done: u64,
        /// Pages in all.
        pages: u64,
    },
    /// Downloads begin.
    DownloadStarted {
        /// Files to fetch or skip.
        files: u64,
    },
    /// A file finished (downloaded, skipped or failed).
    File {
        /// Files done.
        done: u64,
        /// Files in all.
        files: u64,
        /// Bytes written so far.
        bytes: u64,
        /// Failures so far.
        failed: u64,
    },
    /// `verify` checked a file.
    Verified {
        /// Files checked.
        done: u64,
        /// Files in all.
        files: u64,
        /// Bytes hashed so far.
        bytes: u64,
        /// Problems so far.
        problems: u64,
    },
    /// The collection page's thumbnails: one more drawn, or found up to date.
    Thumbnails {
        /// Thumbnails done.
        done: u64,
        /// Thumbnails in all.
        files: u64,
    },
    /// The job waits for another run working in the same folder (its lock), at most a few
    /// seconds at a time.
    Waiting {
        /// What it waits for, e.g. `another run's update of neurons/metadata.csv`.
        what: String,
    },
}
