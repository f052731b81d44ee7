//! The folder's record of what it holds: `manifest.jsonl`, one JSON line per file (neuron,
//! kind, path, URL, size, SHA-256, the server's validators, when it was fetched), appended as
//! files are committed; and `SHA256SUMS` beside it, for `sha256sum -c`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::atomic_file::write_atomically;
use crate::error::{Error, Result};
use crate::files::FileKind;
use crate::time::Timestamp;

/// The manifest's name in an output folder (shards: `manifest.shard-K-of-N.jsonl`).
pub(crate) const MANIFEST: &str = "manifest";
/// The checksum list's name (shards: `SHA256SUMS.shard-K-of-N`).
pub(crate) const SUMS: &str = "SHA256SUMS";

/// One file held in an output folder: a line of `manifest.jsonl`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ManifestEntry {
    /// The neuron's id.
    pub neuron_id: Option<u64>,
    /// The neuron's name.
    pub neuron_name: String,
    /// Which of its files.
    #[serde(serialize_with = "kind_out", deserialize_with = "kind_in")]
    pub kind: FileKind,
    /// The path relative to the output folder, with `/` separators.
    pub path: String,
    /// Where it came from.
    pub url: String,
    /// Its size.
    pub bytes: u64,
    /// Its SHA-256, lower-case hex.
    pub sha256: String,
    /// The server's `ETag`, when it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// The server's `Last-Modified`, when it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<String>,
    /// When it was fetched (or, for a file found in place, when it was recorded), UTC.
    #[serde(serialize_with = "time_out", deserialize_with = "time_in")]
    pub fetched_at: Timestamp,
}

fn kind_out<S: Serializer>(k: &FileKind, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(k.as_str())
}

fn kind_in<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<FileKind, D::Error> {
    let s = String::deserialize(d)?;
    s.parse().map_err(serde::de::Error::custom)
}

fn time_out<S: Serializer>(t: &Timestamp, s: S) -> std::result::Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_string())
}

fn time_in<'de, D: Deserializer<'de>>(d: D) -> std::result::Result<Timestamp, D::Error> {
    let s = String::deserialize(d)?;
    Timestamp::parse_rfc3339(&s)
        .ok_or_else(|| serde::de::Error::custom(format!("not an RFC 3339 UTC time: {s}")))
}

impl ManifestEntry {
    /// The file's path under `out_dir`.
    pub fn full_path(&self, out_dir: &Path) -> PathBuf {
        let mut p = out_dir.to_path_buf();
        for part in self.path.split('/') {
            p.push(part);
        }
        p
    }
}

/// The relative form of `path` under `out_dir` (`downloads/x.swc`), `None` if it is not
/// under it.
pub(crate) fn relative(out_dir: &Path, path: &Path) -> Option<String> {
    let rel = path.strip_prefix(out_dir).ok()?;
    let parts: Vec<String> = rel
        .components()
        .map(|c| c.as_os_str().to_string_lossy().into_owned())
        .collect();
    (!parts.is_empty()).then(|| parts.join("/"))
}

/// What the folder's manifests say, the latest entry per path.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Manifest {
    /// path -> (entry, the suffix of the manifest it came from)
    entries: HashMap<String, (ManifestEntry, String)>,
    /// Lines that could not be read (a line torn by a kill), skipped.
    pub damaged_lines: u64,
    /// The same, per manifest (by suffix), for the run that owns it to repair.
    damaged: HashMap<String, u64>,
    /// The manifest files read.
    pub files: Vec<PathBuf>,
}

impl Manifest {
    /// Read every manifest of `out_dir` (`manifest.jsonl` and the shards'). A folder without
    /// one has an empty manifest. A line that cannot be read (torn by a kill) is skipped
    /// and counted.
    pub fn load(out_dir: &Path) -> Result<Manifest> {
        let mut m = Manifest::default();
        let mut names: Vec<PathBuf> = match std::fs::read_dir(out_dir) {
            Ok(entries) => entries
                .flatten()
                .map(|e| e.path())
                .filter(|p| {
                    p.file_name()
                        .map(|n| n.to_string_lossy())
                        .is_some_and(|n| n.starts_with(MANIFEST) && n.ends_with(".jsonl"))
                })
                .collect(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(m),
            Err(e) => return Err(Error::io(out_dir, e)),
        };
        names.sort();
        for path in names {
            let text = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
            let suffix = suffix_of(&path);
            for line in text.split(|&b| b == b'\n') {
                if line.iter().all(u8::is_ascii_whitespace) {
                    continue;
                }
                match serde_json::from_slice::<ManifestEntry>(line) {
                    Ok(e) => m.insert(e, &suffix),
                    Err(_) => {
                        m.damaged_lines += 1;
                        *m.damaged.entry(suffix.clone()).or_default() += 1;
                    }
                }
            }
            m.files.push(path);
        }
        Ok(m)
    }

    fn insert(&mut self, e: ManifestEntry, suffix: &str) {
        match self.entries.get(&e.path) {
            Some((old, _)) if old.fetched_at > e.fetched_at => {}
            _ => {
                self.entries.insert(e.path.clone(), (e, suffix.to_string()));
            }
        }
    }

    /// The entry of a path relative to the output folder.
    pub fn get(&self, path: &str) -> Option<&ManifestEntry> {
        self.entries.get(path).map(|(e, _)| e)
    }

    /// Damaged lines in the manifest `manifest<suffix>.jsonl`.
    pub(crate) fn damaged_in(&self, suffix: &str) -> u64 {
        self.damaged.get(suffix).copied().unwrap_or(0)
    }

    /// The suffix of the manifest that recorded `path` (`""` or `.shard-2-of-10`).
    pub(crate) fn suffix_of(&self, path: &str) -> Option<&str> {
        self.entries.get(path).map(|(_, s)| s.as_str())
    }

    /// Every entry, sorted by path.
    pub fn entries(&self) -> Vec<&ManifestEntry> {
        let mut v: Vec<&ManifestEntry> = self.entries.values().map(|(e, _)| e).collect();
        v.sort_by(|a, b| a.path.cmp(&b.path));
        v
    }

    /// Number of files recorded.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

/// The suffix of a manifest file: `manifest.shard-2-of-10.jsonl` -> `.shard-2-of-10`.
fn suffix_of(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy())
        .and_then(|n| {
            n.strip_prefix(MANIFEST)
                .and_then(|r| r.strip_suffix(".jsonl"))
                .map(str::to_string)
        })
        .unwrap_or_default()
}

/// `manifest<suffix>.jsonl` of `out_dir`.
pub(crate) fn manifest_path(out_dir: &Path, suffix: &str) -> PathBuf {
    out_dir.join(format!("{MANIFEST}{suffix}.jsonl"))
}

/// Append entries to the manifest (the caller holds the folder lock): one write of whole
/// lines, so that a kill leaves at worst one torn last line, skipped when read.
pub(crate) fn append(path: &Path, entries: &[ManifestEntry]) -> Result<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let mut text = String::with_capacity(entries.len() * 300);
    for e in entries {
        let line = serde_json::to_string(e).map_err(|e| Error::io(path, e.into()))?;
        text.push_str(&line);
        text.push('\n');
    }
    let mut f = OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .map_err(|e| Error::io(path, e))?;
    // A torn line of a killed run must not swallow ours: start on a line of our own.
    let needs_newline = std::fs::metadata(path)
        .map(|m| m.len() > 0)
        .unwrap_or(false)
        && last_byte(path) != Some(b'\n');
    if needs_newline {
        text.insert(0, '\n');
    }
    f.write_all(text.as_bytes()).map_err(|e| Error::io(path, e))
}

fn last_byte(path: &Path) -> Option<u8> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).ok()?;
    f.seek(SeekFrom::End(-1)).ok()?;
    let mut b = [0u8; 1];
    f.read_exact(&mut b).ok()?;
    Some(b[0])
}

/// Rewrite the manifest `manifest<suffix>.jsonl` with one line per path (the latest), drop
/// torn lines, and write the matching `SHA256SUMS<suffix>` (the caller holds the folder
/// lock).
pub(crate) fn compact(out_dir: &Path, suffix: &str, durable: bool) -> Result<()> {
    let path = manifest_path(out_dir, suffix);
    if !path.exists() {
        return Ok(());
    }
    let text = std::fs::read(&path).map_err(|e| Error::io(&path, e))?;
    let mut own = Manifest::default();
    for line in text.split(|&b| b == b'\n') {
        if let Ok(e) = serde_json::from_slice::<ManifestEntry>(line) {
            own.insert(e, suffix);
        }
    }
    let mut out = String::with_capacity(text.len());
    let mut sums = String::new();
    for e in own.entries() {
        let line = serde_json::to_string(e).map_err(|e| Error::io(&path, e.into()))?;
        out.push_str(&line);
        out.push('\n');
        // sha256sum's format: hash, two spaces (text mode), the path. A path with a newline
        // or a backslash would need escaping; our file names never have them.
        if !e.path.contains(['\n', '\\']) {
            let _ = writeln!(sums, "{}  {}", e.sha256, e.path);
        }
    }
    write_atomically(&path, out.as_bytes(), durable).map_err(|e| Error::io(&path, e))?;
    let sums_path = out_dir.join(format!("{SUMS}{suffix}"));
    write_atomically(&sums_path, sums.as_bytes(), durable).map_err(|e| Error::io(&sums_path, e))
}

/// SHA-256 of a stream, as lower-case hex.
#[derive(Clone)]
pub(crate) struct Sha256(ring::digest::Context);

impl Sha256 {
    pub(crate) fn new() -> Sha256 {
        Sha256(ring::digest::Context::new(&ring::digest::SHA256))
    }

    pub(crate) fn update(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub(crate) fn hex(self) -> String {
        let digest = self.0.finish();
        let mut s = String::with_capacity(64);
        for b in digest.as_ref() {
            let _ = write!(s, "{b:02x}");
        }
        s
    }
}

/// The SHA-256 and size of a file, read in 256 KiB chunks.
pub(crate) fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    use std::io::Read;
    let mut f = std::fs::File::open(path)?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 256 * 1024];
    let mut n = 0u64;
    loop {
        let k = match f.read(&mut buf) {
            Ok(0) => break,
            Ok(k) => k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        h.update(buf.get(..k).unwrap_or(&buf));
        n += k as u64;
    }
    Ok((h.hex(), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(path: &str, at: u64) -> ManifestEntry {
        ManifestEntry {
            neuron_id: Some(1),
            neuron_name: "cnic_001".into(),
            kind: FileKind::Cng,
            path: path.into(),
            url: "http://x/dableFiles/a/CNG%20version/cnic_001.CNG.swc".into(),
            bytes: 3,
            sha256: "ab".repeat(32),
            etag: Some("\"e1\"".into()),
            last_modified: None,
            fetched_at: Timestamp::from_unix(at),
        }
    }

    #[test]
    fn hashes() {
        let mut h = Sha256::new();
        h.update(b"abc");
        assert_eq!(
            h.hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn append_load_compact() {
        let dir = std::env::temp_dir().join(format!("nm-manifest-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = manifest_path(&dir, "");
        append(
            &path,
            &[entry("downloads/a.swc", 10), entry("downloads/b.swc", 11)],
        )
        .unwrap();
        // A kill tears a line; the next run's lines start on a line of their own.
        let mut f = OpenOptions::new().append(true).open(&path).unwrap();
        f.write_all(b"{\"neuron_id\":1,\"neur").unwrap();
        append(&path, &[entry("downloads/a.swc", 20)]).unwrap();
        let m = Manifest::load(&dir).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m.damaged_lines, 1);
        assert_eq!(
            m.get("downloads/a.swc").unwrap().fetched_at.unix(),
            20,
            "the latest"
        );
        compact(&dir, "", false).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        let sums = std::fs::read_to_string(dir.join(SUMS)).unwrap();
        assert_eq!(sums.lines().count(), 2);
        assert!(sums.starts_with(&format!("{}  downloads/a.swc\n", "ab".repeat(32))));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
