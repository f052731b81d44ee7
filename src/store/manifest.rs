//! The folder's record of what it holds: `manifest.jsonl`, one JSON line per file (neuron,
//! kind, path, URL, size, SHA-256, the server's validators, when it was fetched), appended as
//! files are committed; and `SHA256SUMS` beside it, for `sha256sum -c`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::archive::files::FileKind;
use crate::error::{Error, Result};
use crate::store::atomic_file::write_atomically;
use crate::util::time::Timestamp;

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
        crate::store::safe_fs::join(out_dir, &self.path)
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

/// A line of a manifest that is not used: it cannot be read (a line torn by a kill, an edit),
/// or its path is not one the tool may read or write.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ManifestLine {
    /// The manifest's file name (`manifest.jsonl`, `manifest.shard-2-of-10.jsonl`).
    pub manifest: String,
    /// The line's number, from 1.
    pub line: u64,
    /// What is wrong with it.
    pub why: String,
    /// The path the line names, when it could be read.
    pub path: Option<String>,
}

/// What the folder's manifests say: per path, the entry written last.
///
/// The order of the lines is the order of what happened (entries are appended as files are
/// committed): within a manifest the last line for a path wins, whatever its `fetched_at`
/// says (clocks of different nodes disagree; times are shown, never trusted). A run that
/// records a path takes it out of the other manifests of the folder when it compacts its
/// own; should two still name it (a run killed in between), the manifest later in name order
/// wins.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Manifest {
    /// path -> (entry, the suffix of the manifest it came from)
    entries: HashMap<String, (ManifestEntry, String)>,
    /// Lines that could not be read (a line torn by a kill), skipped.
    pub damaged_lines: u64,
    /// Every line not used, with why: unreadable, or naming a path that is not safe.
    pub bad_lines: Vec<ManifestLine>,
    /// The manifest files read.
    pub files: Vec<PathBuf>,
}

/// The names of the manifests of `out_dir`, sorted (none when the folder does not exist).
pub(crate) fn manifest_files(out_dir: &Path) -> Result<Vec<PathBuf>> {
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
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(Error::io(out_dir, e)),
    };
    names.sort();
    Ok(names)
}

/// One line of a manifest, judged: an entry to use, or why not.
pub(crate) enum Line {
    Blank,
    Entry(ManifestEntry),
    Bad { why: String, path: Option<String> },
}

/// Read one line: a JSON entry whose path is safe for its kind.
pub(crate) fn parse_line(line: &[u8]) -> Line {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Line::Blank;
    }
    match serde_json::from_slice::<ManifestEntry>(line) {
        Ok(e) => match crate::store::safe_fs::unsafe_entry_path(&e.path, e.kind) {
            None => Line::Entry(e),
            Some(why) => Line::Bad {
                why: format!(
                    "unsafe path '{}' ({why}): never read or written",
                    crate::util::text::escape(&e.path)
                ),
                path: Some(e.path),
            },
        },
        Err(err) => Line::Bad {
            why: format!(
                "unreadable entry ({})",
                crate::archive::query::strip_position(&err.to_string())
            ),
            path: None,
        },
    }
}

/// The whole of a manifest file (a regular file: never a FIFO or a link).
fn read_manifest(path: &Path) -> Result<Vec<u8>> {
    crate::store::safe_fs::read_regular(path)
        .map_err(|e| Error::io(path, e))
        .map(Option::unwrap_or_default)
}

impl Manifest {
    /// Read every manifest of `out_dir` (`manifest.jsonl` and the shards'). A folder without
    /// one has an empty manifest. A line that cannot be read (torn by a kill) or names an
    /// unsafe path is skipped and listed in [`Manifest::bad_lines`]. A manifest that is not
    /// a regular file (a FIFO, a link) is an error naming it.
    pub fn load(out_dir: &Path) -> Result<Manifest> {
        let mut m = Manifest::default();
        for path in manifest_files(out_dir)? {
            let text = read_manifest(&path)?;
            let suffix = suffix_of(&path);
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            for (number, line) in (1u64..).zip(text.split(|&b| b == b'\n')) {
                match parse_line(line) {
                    Line::Blank => {}
                    Line::Entry(e) => {
                        m.entries.insert(e.path.clone(), (e, suffix.clone()));
                    }
                    Line::Bad { why, path } => {
                        if path.is_none() {
                            m.damaged_lines += 1;
                        }
                        m.bad_lines.push(ManifestLine {
                            manifest: name.clone(),
                            line: number,
                            why,
                            path,
                        });
                    }
                }
            }
            m.files.push(path);
        }
        Ok(m)
    }

    /// The entry of a path relative to the output folder.
    pub fn get(&self, path: &str) -> Option<&ManifestEntry> {
        self.entries.get(path).map(|(e, _)| e)
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

    /// The entries recorded by the manifest `manifest<suffix>.jsonl`, sorted by path.
    pub(crate) fn entries_of(&self, suffix: &str) -> Vec<&ManifestEntry> {
        let mut v: Vec<&ManifestEntry> = self
            .entries
            .values()
            .filter(|(_, s)| s == suffix)
            .map(|(e, _)| e)
            .collect();
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
pub(crate) fn suffix_of(path: &Path) -> String {
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

/// `SHA256SUMS<suffix>` of `out_dir`.
pub(crate) fn sums_path(out_dir: &Path, suffix: &str) -> PathBuf {
    out_dir.join(format!("{SUMS}{suffix}"))
}

/// The text of `SHA256SUMS` for these entries (sorted by path), in `sha256sum`'s format: the
/// hash, two spaces (text mode), the path. Paths are safe (checked when read), so they need
/// no escaping.
pub(crate) fn sums_text(entries: &[&ManifestEntry]) -> String {
    let mut sums = String::with_capacity(entries.len() * 100);
    for e in entries {
        let _ = writeln!(sums, "{}  {}", e.sha256, e.path);
    }
    sums
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
    let mut f =
        crate::store::safe_fs::open_for_append(path, true).map_err(|e| Error::io(path, e))?;
    // A torn line of a killed run must not swallow ours: start on a line of our own.
    if last_byte(&mut f).is_some_and(|b| b != b'\n') {
        text.insert(0, '\n');
    }
    f.write_all(text.as_bytes()).map_err(|e| Error::io(path, e))
}

fn last_byte(f: &mut std::fs::File) -> Option<u8> {
    use std::io::{Read, Seek, SeekFrom};
    f.seek(SeekFrom::End(-1)).ok()?;
    let mut b = [0u8; 1];
    f.read_exact(&mut b).ok()?;
    Some(b[0])
}

/// Rewrite the manifest `manifest<suffix>.jsonl` with one line per path (the last written),
/// drop lines that cannot be used, and write the matching `SHA256SUMS<suffix>` (the caller
/// holds the folder lock). Paths for which `taken(path)` is true — those this run recorded —
/// are then taken out of the folder's other manifests (and their checksum lists), so that one
/// manifest names each file. A missing manifest gives an empty checksum list only if one is
/// there to correct.
pub(crate) fn compact(
    out_dir: &Path,
    suffix: &str,
    durable: bool,
    taken: &dyn Fn(&str) -> bool,
) -> Result<()> {
    rewrite(out_dir, suffix, durable, &|_| false, false)?;
    for other in manifest_files(out_dir)? {
        let other_suffix = suffix_of(&other);
        if other_suffix != suffix {
            rewrite_if_taken(out_dir, &other_suffix, durable, taken)?;
        }
    }
    Ok(())
}

/// Rewrite one manifest and its checksum list without the lines `drop` names; with
/// `remove_empty`, a manifest left without entries goes, with its list (another run's, all of
/// whose files this run has recorded).
fn rewrite(
    out_dir: &Path,
    suffix: &str,
    durable: bool,
    drop: &dyn Fn(&str) -> bool,
    remove_empty: bool,
) -> Result<()> {
    let path = manifest_path(out_dir, suffix);
    let sums_path = sums_path(out_dir, suffix);
    let text = read_manifest(&path)?;
    if text.is_empty() && !path.exists() && !sums_path.exists() {
        return Ok(());
    }
    let mut own: HashMap<String, ManifestEntry> = HashMap::new();
    let mut dropped = 0u64;
    for line in text.split(|&b| b == b'\n') {
        match parse_line(line) {
            Line::Entry(e) if !drop(&e.path) => {
                own.insert(e.path.clone(), e);
            }
            Line::Entry(_) | Line::Blank => {}
            Line::Bad { .. } => dropped += 1,
        }
    }
    if dropped > 0 {
        log::warn!(
            "{}: dropped {dropped} line(s) that cannot be used (unreadable, or naming an unsafe path)",
            path.display()
        );
    }
    let mut entries: Vec<&ManifestEntry> = own.values().collect();
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    if remove_empty && entries.is_empty() {
        for p in [&path, &sums_path] {
            match std::fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(p, e)),
            }
        }
        return Ok(());
    }
    let mut out = String::with_capacity(text.len());
    for e in &entries {
        let line = serde_json::to_string(e).map_err(|e| Error::io(&path, e.into()))?;
        out.push_str(&line);
        out.push('\n');
    }
    if path.exists() {
        write_atomically(&path, out.as_bytes(), durable).map_err(|e| Error::io(&path, e))?;
    }
    write_atomically(&sums_path, sums_text(&entries).as_bytes(), durable)
        .map_err(|e| Error::io(&sums_path, e))
}

/// Rewrite another run's manifest only when it names a path this run took.
fn rewrite_if_taken(
    out_dir: &Path,
    suffix: &str,
    durable: bool,
    taken: &dyn Fn(&str) -> bool,
) -> Result<()> {
    let text = read_manifest(&manifest_path(out_dir, suffix))?;
    let names_one = text
        .split(|&b| b == b'\n')
        .any(|line| match parse_line(line) {
            Line::Entry(e) => taken(&e.path),
            _ => false,
        });
    if names_one {
        rewrite(out_dir, suffix, durable, taken, true)?;
    }
    Ok(())
}

/// A path's key in a small set: 8 bytes per file a run records, instead of the path.
pub(crate) fn path_key(path: &str) -> u64 {
    crate::store::layout::fnv1a(path.as_bytes())
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

/// The SHA-256 and size of a file, read in 256 KiB chunks: a regular file only (a FIFO or a
/// link where a file belongs is an error, never a wait).
pub(crate) fn hash_file(path: &Path) -> std::io::Result<(String, u64)> {
    use std::io::Read;
    let mut f = crate::store::safe_fs::open_regular(path)?
        .ok_or_else(|| std::io::Error::from(std::io::ErrorKind::NotFound))?;
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
        let mut f = std::fs::OpenOptions::new()
            .append(true)
            .open(&path)
            .unwrap();
        f.write_all(b"{\"neuron_id\":1,\"neur").unwrap();
        append(&path, &[entry("downloads/a.swc", 20)]).unwrap();
        // A clock that ran ahead: the entry written last wins all the same.
        append(&path, &[entry("downloads/b.swc", 4_000_000_000)]).unwrap();
        append(&path, &[entry("downloads/b.swc", 12)]).unwrap();
        let m = Manifest::load(&dir).unwrap();
        assert_eq!(m.len(), 2);
        assert_eq!(m.damaged_lines, 1);
        assert_eq!(m.bad_lines.len(), 1);
        assert_eq!(m.bad_lines[0].line, 3);
        assert_eq!(
            m.get("downloads/a.swc").unwrap().fetched_at.unix(),
            20,
            "the latest"
        );
        assert_eq!(
            m.get("downloads/b.swc").unwrap().fetched_at.unix(),
            12,
            "the last written, not the largest time"
        );
        compact(&dir, "", false, &|_| false).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 2);
        let sums = std::fs::read_to_string(dir.join(SUMS)).unwrap();
        assert_eq!(sums.lines().count(), 2);
        assert!(sums.starts_with(&format!("{}  downloads/a.swc\n", "ab".repeat(32))));
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn unsafe_paths_are_listed_not_used() {
        let dir = std::env::temp_dir().join(format!("nm-manifest-unsafe-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = manifest_path(&dir, "");
        append(
            &path,
            &[
                entry("downloads/a.swc", 1),
                entry("../outside/victim.txt", 2),
                entry("metadata.csv", 3),
                entry("downloads/a\nb.swc", 4),
            ],
        )
        .unwrap();
        let m = Manifest::load(&dir).unwrap();
        assert_eq!(m.len(), 1);
        let lines: Vec<u64> = m.bad_lines.iter().map(|l| l.line).collect();
        assert_eq!(lines, [2, 3, 4]);
        assert!(
            m.bad_lines[0].why.contains("unsafe path"),
            "{:?}",
            m.bad_lines
        );
        // A run that records a path takes it out of another shard's manifest.
        let shard = manifest_path(&dir, ".shard-1-of-2");
        append(&shard, &[entry("downloads/a.swc", 5)]).unwrap();
        compact(&dir, ".shard-1-of-2", false, &|p| p == "downloads/a.swc").unwrap();
        let m = Manifest::load(&dir).unwrap();
        assert_eq!(m.suffix_of("downloads/a.swc"), Some(".shard-1-of-2"));
        assert!(m.entries_of("").is_empty());
        assert!(
            !path.exists() && !dir.join(SUMS).exists(),
            "an emptied manifest goes"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
