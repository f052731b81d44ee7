//! Helpers of the tests of one output folder (issue 10): its manifest read back as JSON, the
//! SHA-256 of bytes, the CNG file of a catalog row on disk, byte surgery on files (a flipped
//! byte, a cut), `sha256sum -c` when the tool exists, and what must never be left behind.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

use super::{files_under, part_files, FakeServer};

/// Lower-case hex SHA-256 of `bytes` (ring: a dependency of the library).
pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02x}")).collect()
}

/// `out/downloads/<name>.swc` of catalog row `i` (a plain name, as every generated one is).
pub fn swc_of(out: &Path, server: &FakeServer, i: usize) -> PathBuf {
    out.join("downloads")
        .join(format!("{}.swc", server.catalog().name(i)))
}

/// `downloads/<name>.swc`, the manifest's relative path of row `i`'s CNG file.
pub fn rel_of(server: &FakeServer, i: usize) -> String {
    format!("downloads/{}.swc", server.catalog().name(i))
}

/// Every line of `path` parsed as JSON; panics on a line that is not (a finished run leaves
/// none: a torn line is repaired at its end).
pub fn jsonl(path: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    text.lines()
        .enumerate()
        .map(|(n, l)| {
            serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("{} line {}: {e}: {l:?}", path.display(), n + 1))
        })
        .collect()
}

/// The lines of `out/manifest.jsonl`.
pub fn manifest(out: &Path) -> Vec<Value> {
    jsonl(&out.join("manifest.jsonl"))
}

/// The entry of `rel` in `out/manifest.jsonl`; panics unless there is exactly one.
pub fn entry_of(out: &Path, rel: &str) -> Value {
    let found: Vec<Value> = manifest(out)
        .into_iter()
        .filter(|e| e["path"] == rel)
        .collect();
    assert_eq!(found.len(), 1, "{rel}: {found:?}");
    found.into_iter().next().unwrap()
}

/// The paths of the entries of a manifest, in file order.
pub fn paths_of(entries: &[Value]) -> Vec<String> {
    entries
        .iter()
        .map(|e| e["path"].as_str().unwrap().to_string())
        .collect()
}

/// Flip one bit of the byte at `at` (bit rot: same size, other content).
pub fn flip_byte(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

/// Keep the first `len` bytes of a file (a killed in-place writer).
pub fn cut_to(path: &Path, len: usize) {
    let bytes = std::fs::read(path).unwrap();
    std::fs::write(path, &bytes[..len]).unwrap();
}

/// Keep the first `lines` whole lines of a file: a file cut at a line boundary, still valid
/// SWC.
pub fn cut_to_lines(path: &Path, lines: usize) {
    let bytes = std::fs::read(path).unwrap();
    let mut seen = 0;
    let end = bytes
        .iter()
        .position(|&b| {
            if b == b'\n' {
                seen += 1;
            }
            seen == lines
        })
        .expect("the file has enough lines");
    std::fs::write(path, &bytes[..=end]).unwrap();
}

/// Whether `sha256sum` (coreutils) can be run here.
pub fn have_sha256sum() -> bool {
    Command::new("sha256sum")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success())
}

/// `sha256sum -c <sums>` run in `out`: (exit code, stdout). `None` (with a note on stderr)
/// when the tool is missing, so that the caller skips that one assertion.
pub fn sha256sum_check(out: &Path, sums: &str) -> Option<(i32, String)> {
    if !have_sha256sum() {
        eprintln!("note: sha256sum is not installed here: `sha256sum -c {sums}` not run");
        return None;
    }
    let o = Command::new("sha256sum")
        .args(["-c", "--strict", sums])
        .current_dir(out)
        .output()
        .expect("run sha256sum");
    Some((
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
    ))
}

/// No temporary file anywhere under `dir`.
pub fn assert_no_temp(dir: &Path) {
    let temps = part_files(dir);
    assert!(temps.is_empty(), "temporary files left: {temps:?}");
}

/// Every file under `dir`, relative, with `/` separators, sorted.
pub fn rel_files(dir: &Path) -> Vec<String> {
    files_under(dir)
        .iter()
        .map(|p| {
            p.strip_prefix(dir)
                .unwrap()
                .components()
                .map(|c| c.as_os_str().to_string_lossy().into_owned())
                .collect::<Vec<_>>()
                .join("/")
        })
        .collect()
}

/// The log files (`*.log`) directly in `out`.
pub fn log_files(out: &Path) -> Vec<PathBuf> {
    let mut logs: Vec<PathBuf> = std::fs::read_dir(out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .collect();
    logs.sort();
    logs
}
