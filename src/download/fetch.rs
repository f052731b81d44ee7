//! Fetching one file: skip it if it is already complete, else one GET streamed into an
//! atomic file, checked as it comes (content, size, length), committed only when whole.

use std::io::Write;

use crate::atomic_file::AtomicFile;
use crate::client::{Answer, Client, Failure, Req};
use crate::error::{Error, FailureKind};
use crate::swc::{SwcCheck, Verdict};

use super::plan::Job;
use super::{DownloadOptions, FailedFile};

/// What became of one file.
#[derive(Debug)]
pub(crate) enum Outcome {
    Downloaded(u64),
    Skipped,
    Failed(FailedFile),
}

impl Client {
    pub(crate) fn fetch_one(&self, job: &Job<'_>, options: &DownloadOptions) -> Outcome {
        let item = job.item;
        let fail = |kind, detail: String| {
            Outcome::Failed(FailedFile {
                neuron_name: item.neuron_name.clone(),
                neuron_id: item.neuron_id,
                file_kind: job.kind,
                url: job.url.clone().unwrap_or_default(),
                kind,
                detail,
            })
        };
        let Some(url) = &job.url else {
            let id = item
                .neuron_id
                .map(|id| format!("record neuron_id {id}"))
                .unwrap_or_else(|| "a record without neuron_id".into());
            let why = if item.neuron_name.trim().is_empty() {
                format!("{id} has no neuron_name")
            } else if item.archive.trim().is_empty() {
                format!("{id} has no archive")
            } else {
                format!(
                    "{id}: no original file extension in original_format {:?}",
                    item.original_format.as_deref().unwrap_or("")
                )
            };
            log::warn!("{}", crate::text::escape(&why));
            return fail(FailureKind::InvalidRecord, why);
        };
        // We only ever rename complete files into place; an empty one (left by another tool
        // that writes in place) is fetched again.
        let present = std::fs::metadata(&job.path).is_ok_and(|m| m.is_file() && m.len() > 0);
        if options.skip_existing && present {
            log::debug!(
                "{}: {} already present",
                crate::text::escape(&item.neuron_name),
                job.path.display()
            );
            return Outcome::Skipped;
        }
        if let Some(dir) = job.path.parent() {
            if let Err(e) = std::fs::create_dir_all(dir) {
                return fail(FailureKind::Io, format!("{}: {e}", dir.display()));
            }
        }
        let expect_swc = job.kind.expects_swc(item.original_format.as_deref());
        let result = self.request(&Req::file(url), |answer| {
            let mut file = AtomicFile::create(&job.path, options.durable)
                .map_err(|e| io_failure(&job.path, e))?;
            let temp = file.temp_path().to_path_buf();
            let n = check_body(answer, &mut file, expect_swc).map_err(|mut f| {
                if f.kind == FailureKind::Io {
                    f.detail = format!("{}: {}", temp.display(), f.detail);
                }
                f
            })?;
            file.commit().map_err(|e| io_failure(&job.path, e))?;
            Ok(n)
        });
        match result {
            Ok(n) => {
                log::debug!(
                    "{}: {n} bytes -> {}",
                    crate::text::escape(&item.neuron_name),
                    job.path.display()
                );
                Outcome::Downloaded(n)
            }
            Err(Error::Request { kind, detail, .. }) => fail(kind, detail),
            Err(other) => fail(other.kind().unwrap_or(FailureKind::Io), other.to_string()),
        }
    }
}

fn io_failure(path: &std::path::Path, e: std::io::Error) -> Failure {
    Failure::new(FailureKind::Io, format!("{}: {e}", path.display())).with_cause(e)
}

/// Copy an answer's body to `out`, checking as it streams: the content (an SWC body must
/// look like one, nothing may be an HTML error page), the size against the maximum, and the
/// length against `Content-Length` (or, without one, that an SWC body does not end inside a
/// line). Returns the bytes written.
pub(crate) fn check_body(
    mut answer: Answer,
    out: &mut dyn Write,
    expect_swc: bool,
) -> std::result::Result<u64, Failure> {
    let announced = answer.content_length();
    let max = answer.limit();
    if let Some(n) = announced.filter(|n| *n > max) {
        return Err(Failure::new(
            FailureKind::TooLarge,
            format!("file of {n} bytes is larger than the maximum of {max}"),
        ));
    }
    let mut check = SwcCheck::new(expect_swc);
    let mut buf = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    loop {
        let n = answer.read(&mut buf)?;
        if n == 0 {
            break;
        }
        let chunk = buf.get(..n).unwrap_or(&buf);
        if let Verdict::Bad(why) = check.feed(chunk) {
            return Err(Failure::new(FailureKind::NotSwc, why));
        }
        written += n as u64;
        out.write_all(chunk)
            .map_err(|e| Failure::new(FailureKind::Io, e.to_string()).with_cause(e))?;
    }
    match check.finish(announced.is_some()) {
        Verdict::Bad(why) => return Err(Failure::new(FailureKind::NotSwc, why)),
        Verdict::Cut(why) => return Err(Failure::new(FailureKind::Incomplete, why)),
        Verdict::Good | Verdict::Undecided => {}
    }
    if let Some(n) = announced.filter(|n| *n != written) {
        return Err(Failure::new(
            FailureKind::Incomplete,
            format!("body cut short: {written} of {n} bytes"),
        ));
    }
    Ok(written)
}
