//! The folder's record of what it holds: `manifest.jsonl`, one JSON line per file (neuron,
//! kind, path, URL, size, SHA-256, the server's validators, when it was fetched), appended as
//! files are committed; and `SHA256SUMS` beside it, for `sha256sum -c`.

use std::fmt::Write as _;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::archive::files::FileKind;
use crate::error::{Error, Result};
use crate::store::atomic_file::AtomicFile;
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
///
/// A whole archive has a million files: the manifest is not held in memory. [`Manifest::load`]
/// reads every line once and keeps, per path, 24 bytes: a 128-bit key of the path and where
/// its winning line is; [`Manifest::get`] reads that one line again, [`Manifest::each`]
/// streams the winning lines in file order.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Manifest {
    /// The winning line of each path, sorted by key.
    index: Vec<Slot>,
    /// The manifests read, open (a manifest rewritten meanwhile is still the one indexed).
    handles: Arc<Vec<std::fs::File>>,
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

/// A path's key and where its line is: 24 bytes a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
struct Slot {
    key: [u64; 2],
    /// The manifest's number in `files` (16 bits) and the line's offset in it (48 bits).
    at: u64,
}

const OFFSET_BITS: u32 = 48;

fn at(file: usize, offset: u64) -> u64 {
    ((file as u64) << OFFSET_BITS) | (offset & ((1 << OFFSET_BITS) - 1))
}

/// The slot read last of each key, sorted by key, in place: `at` grows in reading order
/// (the manifest's number, then the offset), so the largest `at` of a key is its last line.
fn last_of_each(mut slots: Vec<Slot>) -> Vec<Slot> {
    dedup_slots(&mut slots);
    slots.shrink_to_fit();
    slots
}

fn dedup_slots(slots: &mut Vec<Slot>) {
    slots.sort_unstable_by(|a, b| a.key.cmp(&b.key).then(b.at.cmp(&a.at)));
    slots.dedup_by_key(|s| s.key);
}

/// Slots a list holds before it is first deduplicated (small in unit tests, so that they do
/// it many times).
const DEDUP_AT: usize = if cfg!(test) { 8 } else { 1 << 16 };

/// Slots read so far, deduplicated in place each time they grew by a quarter: a manifest
/// that an update appended to holds two lines a path, and its slots then cost what its
/// paths do, not what its lines do. (Dedup keeps each key's largest `at`, so doing it early
/// changes nothing.)
struct Slots {
    list: Vec<Slot>,
    next_dedup: usize,
}

impl Slots {
    fn with_capacity(room: usize) -> Slots {
        Slots {
            list: Vec::with_capacity(room),
            next_dedup: DEDUP_AT,
        }
    }

    fn push(&mut self, slot: Slot) {
        if self.list.len() >= self.next_dedup {
            dedup_slots(&mut self.list);
            let len = self.list.len();
            self.next_dedup = len.saturating_add(len / 4).max(DEDUP_AT);
        }
        self.list.push(slot);
    }
}

/// A 128-bit key of a path: two independent 64-bit hashes, so that two paths of one folder
/// never share a key in practice (a million paths: a chance of about 10^-27).
pub(crate) fn key_of(path: &str) -> [u64; 2] {
    use std::hash::{Hash, Hasher};
    let hash = |salt: u8| {
        let mut h = std::collections::hash_map::DefaultHasher::new();
        salt.hash(&mut h);
        path.hash(&mut h);
        h.finish()
    };
    [hash(0), hash(1)]
}

/// Calls `line(offset, bytes)` for every line of a manifest file (without its `\n`), reading
/// it in one pass with a small buffer (a regular file only: never a FIFO or a link).
fn each_line(
    path: &Path,
    mut line: impl FnMut(u64, &[u8]) -> Result<()>,
) -> Result<Option<std::fs::File>> {
    use std::io::BufRead;
    let Some(file) = crate::store::safe_fs::open_regular(path).map_err(|e| Error::io(path, e))?
    else {
        return Ok(None);
    };
    let mut reader = std::io::BufReader::with_capacity(
        256 * 1024,
        file.try_clone().map_err(|e| Error::io(path, e))?,
    );
    let mut buf = Vec::with_capacity(1024);
    let mut offset = 0u64;
    loop {
        buf.clear();
        let n = reader
            .read_until(b'\n', &mut buf)
            .map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
        line(offset, text)?;
        offset += n as u64;
    }
    Ok(Some(file))
}

/// The line of `file` that starts at `offset`.
fn line_at(file: &std::fs::File, offset: u64) -> std::io::Result<Vec<u8>> {
    use std::os::unix::fs::FileExt;
    let mut line = Vec::new();
    let mut chunk = [0u8; 1024];
    let mut at = offset;
    loop {
        let n = file.read_at(&mut chunk, at)?;
        let got = chunk.get(..n).unwrap_or(&[]);
        if let Some(end) = got.iter().position(|&b| b == b'\n') {
            line.extend_from_slice(got.get(..end).unwrap_or(&[]));
            return Ok(line);
        }
        line.extend_from_slice(got);
        if n == 0 {
            return Ok(line);
        }
        at += n as u64;
    }
}

impl Manifest {
    /// Read every manifest of `out_dir` (`manifest.jsonl` and the shards'). A folder without
    /// one has an empty manifest. A line that cannot be read (torn by a kill) or names an
    /// unsafe path is skipped and listed in [`Manifest::bad_lines`]. A manifest that is not
    /// a regular file (a FIFO, a link) is an error naming it.
    pub fn load(out_dir: &Path) -> Result<Manifest> {
        let mut m = Manifest::default();
        let mut handles = Vec::new();
        // In reading order: a later line (and a later manifest) wins.
        let files = manifest_files(out_dir)?;
        // Room for as many lines as the files could hold (no entry is shorter than 128
        // bytes): a large reservation is mapped but not touched, so it costs memory only as
        // slots fill it, and the index never grows by copying itself.
        let bytes: u64 = files
            .iter()
            .filter_map(|p| std::fs::symlink_metadata(p).ok())
            .filter(|m| m.is_file())
            .map(|m| m.len())
            .sum();
        let room = usize::try_from(bytes / 128)
            .unwrap_or(usize::MAX)
            .min(1 << 26);
        let mut slots = Slots::with_capacity(room);
        for path in files {
            let number = handles.len();
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let mut line_number = 0u64;
            let handle = each_line(&path, |offset, line| {
                line_number += 1;
                match parse_line(line) {
                    Line::Blank => {}
                    Line::Entry(e) => slots.push(Slot {
                        key: key_of(&e.path),
                        at: at(number, offset),
                    }),
                    Line::Bad { why, path } => {
                        if path.is_none() {
                            m.damaged_lines += 1;
                        }
                        m.bad_lines.push(ManifestLine {
                            manifest: name.clone(),
                            line: line_number,
                            why,
                            path,
                        });
                    }
                }
                Ok(())
            })?;
            let Some(handle) = handle else { continue };
            handles.push(handle);
            m.files.push(path);
        }
        m.index = last_of_each(slots.list);
        m.handles = Arc::new(handles);
        Ok(m)
    }

    fn slot(&self, path: &str) -> Option<&Slot> {
        let key = key_of(path);
        let i = self.index.binary_search_by(|s| s.key.cmp(&key)).ok()?;
        self.index.get(i)
    }

    /// The entry at `at`, read again from its manifest.
    fn read(&self, at: u64) -> Option<ManifestEntry> {
        let file = self.handles.get((at >> OFFSET_BITS) as usize)?;
        let line = line_at(file, at & ((1 << OFFSET_BITS) - 1)).ok()?;
        match parse_line(&line) {
            Line::Entry(e) => Some(e),
            _ => None,
        }
    }

    /// The entry of a path relative to the output folder (its line read again).
    pub fn get(&self, path: &str) -> Option<ManifestEntry> {
        self.read(self.slot(path)?.at).filter(|e| e.path == path)
    }

    /// The entry of the path whose [`key_of`] is `key`.
    pub(crate) fn get_by_key(&self, key: &[u64; 2]) -> Option<ManifestEntry> {
        let i = self.index.binary_search_by(|s| s.key.cmp(key)).ok()?;
        self.read(self.index.get(i)?.at)
    }

    /// Whether a path relative to the output folder is recorded.
    pub fn contains(&self, path: &str) -> bool {
        self.slot(path).is_some()
    }

    /// The suffix of the manifest that recorded `path` (`""` or `.shard-2-of-10`).
    pub(crate) fn suffix_of(&self, path: &str) -> Option<String> {
        let file = (self.slot(path)?.at >> OFFSET_BITS) as usize;
        self.files.get(file).map(|f| suffix_of(f))
    }

    /// Every entry, streamed: the winning line of each path, manifest by manifest in file
    /// order. Memory stays flat however many files the folder holds.
    pub fn each(&self, mut f: impl FnMut(ManifestEntry) -> Result<()>) -> Result<()> {
        for number in 0..self.files.len() {
            self.each_in(number, &mut f)?;
        }
        Ok(())
    }

    /// The entries that the manifest number `number` holds (those no other line overrides).
    fn each_in(&self, number: usize, f: &mut dyn FnMut(ManifestEntry) -> Result<()>) -> Result<()> {
        let Some(path) = self.files.get(number) else {
            return Ok(());
        };
        let Some(file) = self.handles.get(number) else {
            return Ok(());
        };
        use std::io::BufRead;
        let reader_file = file.try_clone().map_err(|e| Error::io(path, e))?;
        let mut reader = std::io::BufReader::with_capacity(256 * 1024, ReadFrom::new(reader_file));
        let mut buf = Vec::with_capacity(1024);
        let mut offset = 0u64;
        loop {
            buf.clear();
            let n = reader
                .read_until(b'\n', &mut buf)
                .map_err(|e| Error::io(path, e))?;
            if n == 0 {
                break;
            }
            let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
            if let Line::Entry(e) = parse_line(line) {
                if self
                    .slot(&e.path)
                    .is_some_and(|s| s.at == at(number, offset))
                {
                    f(e)?;
                }
            }
            offset += n as u64;
        }
        Ok(())
    }

    /// The entries of the manifest `manifest<suffix>.jsonl`, streamed.
    pub(crate) fn each_of(
        &self,
        suffix: &str,
        mut f: impl FnMut(ManifestEntry) -> Result<()>,
    ) -> Result<()> {
        for (number, file) in self.files.iter().enumerate() {
            if suffix_of(file) == suffix {
                self.each_in(number, &mut f)?;
            }
        }
        Ok(())
    }

    /// Every entry, sorted by path, in memory (for a small folder; [`Manifest::each`]
    /// streams).
    pub fn entries(&self) -> Result<Vec<ManifestEntry>> {
        let mut v = Vec::with_capacity(self.index.len());
        self.each(|e| {
            v.push(e);
            Ok(())
        })?;
        v.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(v)
    }

    /// Number of files recorded.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Whether nothing is recorded.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

/// A file read from its start through `pread`, so that clones of one handle never share a
/// position.
struct ReadFrom {
    file: std::fs::File,
    at: u64,
}

impl ReadFrom {
    fn new(file: std::fs::File) -> ReadFrom {
        ReadFrom { file, at: 0 }
    }
}

impl std::io::Read for ReadFrom {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use std::os::unix::fs::FileExt;
        let n = self.file.read_at(buf, self.at)?;
        self.at += n as u64;
        Ok(n)
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

/// An order-free digest of a checksum list: the number of its lines and the wrapping sum of a
/// 128-bit hash of each (`<sha256>  <path>`), so that a list and a manifest of a million files
/// are compared without holding either.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct SumsDigest {
    lines: u64,
    sum: u128,
}

impl SumsDigest {
    /// Take one line of a checksum list (without its newline).
    pub(crate) fn add_line(&mut self, line: &[u8]) {
        let d = ring::digest::digest(&ring::digest::SHA256, line);
        let mut b = [0u8; 16];
        for (to, from) in b.iter_mut().zip(d.as_ref()) {
            *to = *from;
        }
        self.lines += 1;
        self.sum = self.sum.wrapping_add(u128::from_le_bytes(b));
    }

    /// Take the line an entry gives.
    pub(crate) fn add_entry(&mut self, e: &ManifestEntry) {
        self.add_line(format!("{}  {}", e.sha256, e.path).as_bytes());
    }
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
/// whose files this run has recorded). One pass over the file, streamed: its lines sorted by
/// path in bounded runs on disk, the last written of each path kept, with its checksum beside
/// it; nothing held per path.
fn rewrite(
    out_dir: &Path,
    suffix: &str,
    durable: bool,
    drop: &dyn Fn(&str) -> bool,
    remove_empty: bool,
) -> Result<()> {
    let path = manifest_path(out_dir, suffix);
    let sums_path = sums_path(out_dir, suffix);
    let io = |p: &Path| {
        let p = p.to_path_buf();
        move |e: std::io::Error| Error::io(&p, e)
    };
    // One pass: every usable line, sorted by path (as `sha256sum` lists are) in bounded
    // memory; the sort keeps the order of equal paths, so the last of each is the line
    // written last, the one that counts.
    let mut sorted = SortedLines::new(&path);
    let mut dropped = 0u64;
    let exists = each_line(&path, |_, line| {
        match parse_line(line) {
            Line::Entry(e) => {
                if !drop(&e.path) {
                    // `<sha256>\t<line>`: the checksum list is written from the same pass.
                    let mut line = Vec::with_capacity(400);
                    line.extend_from_slice(e.sha256.as_bytes());
                    line.push(b'\t');
                    serde_json::to_writer(&mut line, &e)
                        .map_err(|err| Error::io(&path, err.into()))?;
                    sorted.push(e.path, line)?;
                }
            }
            Line::Blank => {}
            Line::Bad { .. } => dropped += 1,
        }
        Ok(())
    })?
    .is_some();
    if !exists && !sums_path.exists() {
        return Ok(());
    }
    if dropped > 0 {
        log::warn!(
            "{}: dropped {dropped} line(s) that cannot be used (unreadable, or naming an unsafe path)",
            path.display()
        );
    }
    let mut manifest_out = AtomicFile::create(&path, durable).map_err(io(&path))?;
    let mut sums_out = AtomicFile::create(&sums_path, durable).map_err(io(&sums_path))?;
    let mut kept = 0u64;
    {
        let mut m = std::io::BufWriter::with_capacity(256 * 1024, &mut manifest_out);
        let mut c = std::io::BufWriter::with_capacity(64 * 1024, &mut sums_out);
        sorted.each_last(|key, value| {
            let (sha, line) = split_run_line(value);
            m.write_all(line).map_err(io(&path))?;
            m.write_all(b"\n").map_err(io(&path))?;
            c.write_all(sha).map_err(io(&sums_path))?;
            writeln!(c, "  {key}").map_err(io(&sums_path))?;
            kept += 1;
            Ok(())
        })?;
        m.flush().map_err(io(&path))?;
        c.flush().map_err(io(&sums_path))?;
    }
    if remove_empty && kept == 0 {
        for p in [&path, &sums_path] {
            match std::fs::remove_file(p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::io(p, e)),
            }
        }
        return Ok(());
    }
    if exists {
        manifest_out.commit().map_err(io(&path))?;
    }
    sums_out.commit().map_err(io(&sums_path))
}

/// Lines sorted by a key, in bounded memory: up to [`RUN`] lines are sorted in memory and
/// written to a temporary file beside `near` (a run); the runs are merged at the end. A
/// million-line manifest is compacted with a few megabytes.
struct SortedLines {
    near: PathBuf,
    buffer: Vec<(String, Vec<u8>)>,
    bytes: usize,
    runs: Vec<AtomicFile>,
}

/// Lines (or bytes of lines) sorted in memory before a run is written.
// Small in unit tests, so that they merge many runs.
const RUN: usize = if cfg!(test) { 7 } else { 16 * 1024 };
const RUN_BYTES: usize = 8 * 1024 * 1024;
/// Runs kept before they are merged into one (small in unit tests, so that they do it).
const MAX_RUNS: usize = if cfg!(test) { 3 } else { 64 };

impl SortedLines {
    fn new(near: &Path) -> SortedLines {
        SortedLines {
            near: near.to_path_buf(),
            buffer: Vec::new(),
            bytes: 0,
            runs: Vec::new(),
        }
    }

    /// Take a line and its key (the key holds no tab or newline: a checked path).
    fn push(&mut self, key: String, line: Vec<u8>) -> Result<()> {
        self.bytes += key.len() + line.len();
        self.buffer.push((key, line));
        if self.buffer.len() >= RUN || self.bytes >= RUN_BYTES {
            self.spill()?;
        }
        Ok(())
    }

    fn spill(&mut self) -> Result<()> {
        self.buffer.sort_by(|a, b| a.0.cmp(&b.0));
        let mut run = AtomicFile::create(&self.near.with_extension("run"), false)
            .map_err(|e| Error::io(&self.near, e))?;
        {
            let mut w = std::io::BufWriter::with_capacity(256 * 1024, &mut run);
            for (key, line) in self.buffer.drain(..) {
                w.write_all(key.as_bytes())
                    .map_err(|e| Error::io(&self.near, e))?;
                w.write_all(b"\t").map_err(|e| Error::io(&self.near, e))?;
                w.write_all(&line).map_err(|e| Error::io(&self.near, e))?;
                w.write_all(b"\n").map_err(|e| Error::io(&self.near, e))?;
            }
            w.flush().map_err(|e| Error::io(&self.near, e))?;
        }
        self.bytes = 0;
        self.runs.push(run);
        if self.runs.len() >= MAX_RUNS {
            // Few files open at once, however long the manifest: the runs so far become one.
            let mut merged = AtomicFile::create(&self.near.with_extension("run"), false)
                .map_err(|e| Error::io(&self.near, e))?;
            {
                let near = &self.near;
                let mut w = std::io::BufWriter::with_capacity(256 * 1024, &mut merged);
                merge_runs(near, &self.runs, &mut |key, rest| {
                    let io = |e| Error::io(near, e);
                    w.write_all(key.as_bytes()).map_err(io)?;
                    w.write_all(b"\t").map_err(io)?;
                    w.write_all(rest).map_err(io)?;
                    w.write_all(b"\n").map_err(io)
                })?;
                w.flush().map_err(|e| Error::io(near, e))?;
            }
            self.runs = vec![merged];
        }
        Ok(())
    }

    /// The last line pushed of each key, in key order.
    fn each_last(self, mut f: impl FnMut(&str, &[u8]) -> Result<()>) -> Result<()> {
        let mut pending: Option<(String, Vec<u8>)> = None;
        self.each(|key, value| {
            if let Some((k, v)) = pending.as_mut() {
                if k != key {
                    f(k, v)?;
                    k.clear();
                    k.push_str(key);
                }
                v.clear();
                v.extend_from_slice(value);
            } else {
                pending = Some((key.to_string(), value.to_vec()));
            }
            Ok(())
        })?;
        match pending {
            Some((k, v)) => f(&k, &v),
            None => Ok(()),
        }
    }

    /// Every line in key order; lines of one key in the order they were pushed.
    fn each(mut self, mut f: impl FnMut(&str, &[u8]) -> Result<()>) -> Result<()> {
        if self.runs.is_empty() {
            self.buffer.sort_by(|a, b| a.0.cmp(&b.0));
            for (key, line) in &self.buffer {
                f(key, line)?;
            }
            return Ok(());
        }
        if !self.buffer.is_empty() {
            self.spill()?;
        }
        merge_runs(&self.near, &self.runs, &mut |key, rest| f(key, rest))
    }
}

/// The lines of sorted runs in key order; of equal keys, the earlier run's first (so the
/// order of pushing holds across runs).
fn merge_runs(
    near: &Path,
    runs: &[AtomicFile],
    f: &mut dyn FnMut(&str, &[u8]) -> Result<()>,
) -> Result<()> {
    let io = |e| Error::io(near, e);
    let mut readers = Vec::with_capacity(runs.len());
    for run in runs {
        let file = std::fs::File::open(run.temp_path()).map_err(io)?;
        readers.push(std::io::BufReader::with_capacity(32 * 1024, file));
    }
    let mut heads: Vec<Option<Vec<u8>>> = Vec::with_capacity(readers.len());
    for r in &mut readers {
        heads.push(next_run_line(r).map_err(io)?);
    }
    let mut heap = std::collections::BinaryHeap::new();
    for (i, head) in heads.iter().enumerate() {
        if let Some(line) = head {
            heap.push(std::cmp::Reverse((run_key(line).to_vec(), i)));
        }
    }
    while let Some(std::cmp::Reverse((_, i))) = heap.pop() {
        let Some(line) = heads.get_mut(i).and_then(Option::take) else {
            continue;
        };
        let (key, rest) = split_run_line(&line);
        f(&String::from_utf8_lossy(key), rest)?;
        if let Some(r) = readers.get_mut(i) {
            if let Some(next) = next_run_line(r).map_err(io)? {
                heap.push(std::cmp::Reverse((run_key(&next).to_vec(), i)));
                if let Some(slot) = heads.get_mut(i) {
                    *slot = Some(next);
                }
            }
        }
    }
    Ok(())
}

fn next_run_line(r: &mut impl std::io::BufRead) -> std::io::Result<Option<Vec<u8>>> {
    let mut line = Vec::new();
    if r.read_until(b'\n', &mut line)? == 0 {
        return Ok(None);
    }
    if line.last() == Some(&b'\n') {
        line.pop();
    }
    Ok(Some(line))
}

fn split_run_line(line: &[u8]) -> (&[u8], &[u8]) {
    match line.iter().position(|&b| b == b'\t') {
        Some(at) => (
            line.get(..at).unwrap_or(&[]),
            line.get(at + 1..).unwrap_or(&[]),
        ),
        None => (line, &[]),
    }
}

fn run_key(line: &[u8]) -> &[u8] {
    split_run_line(line).0
}

/// Rewrite another run's manifest only when it names a path this run took.
fn rewrite_if_taken(
    out_dir: &Path,
    suffix: &str,
    durable: bool,
    taken: &dyn Fn(&str) -> bool,
) -> Result<()> {
    let mut names_one = false;
    each_line(&manifest_path(out_dir, suffix), |_, line| {
        if !names_one {
            names_one = matches!(parse_line(line), Line::Entry(e) if taken(&e.path));
        }
        Ok(())
    })?;
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
    fn an_index_deduplicated_while_it_grows_keeps_each_paths_last_line() {
        let dir = std::env::temp_dir().join(format!("nm-manifest-dedup-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = manifest_path(&dir, "");
        // 13 paths written 20 times over (an update a run): far more lines than DEDUP_AT.
        for round in 0..20u64 {
            let batch: Vec<ManifestEntry> = (0..13u64)
                .map(|p| entry(&format!("downloads/n{p}.swc"), round * 100 + p))
                .collect();
            append(&path, &batch).unwrap();
        }
        let m = Manifest::load(&dir).unwrap();
        assert_eq!(m.len(), 13);
        for p in 0..13u64 {
            let got = m.get(&format!("downloads/n{p}.swc")).unwrap();
            assert_eq!(got.fetched_at.unix(), 1900 + p, "n{p}: the last line");
        }
        compact(&dir, "", false, &|_| false).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert_eq!(text.lines().count(), 13);
        let m = Manifest::load(&dir).unwrap();
        for p in 0..13u64 {
            let got = m.get(&format!("downloads/n{p}.swc")).unwrap();
            assert_eq!(got.fetched_at.unix(), 1900 + p, "n{p} after compaction");
        }
        std::fs::remove_dir_all(&dir).unwrap();
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
        assert_eq!(
            m.suffix_of("downloads/a.swc").as_deref(),
            Some(".shard-1-of-2")
        );
        let mut in_main = 0;
        m.each_of("", |_| {
            in_main += 1;
            Ok(())
        })
        .unwrap();
        assert_eq!(in_main, 0);
        assert!(
            !path.exists() && !dir.join(SUMS).exists(),
            "an emptied manifest goes"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn compaction_merges_sorted_runs_keeps_the_last_line_and_lists_what_it_keeps() {
        let dir = std::env::temp_dir().join(format!("nm-manifest-runs-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let path = manifest_path(&dir, "");
        // 100 paths in a scrambled order (many runs of RUN lines), each written twice: the
        // second line (a later time) must win.
        let paths: Vec<String> = (0..100u64)
            .map(|i| format!("downloads/n{:03}.swc", (i * 37) % 100))
            .collect();
        for round in [1u64, 2] {
            let entries: Vec<ManifestEntry> =
                paths.iter().map(|p| entry(p, round * 1000)).collect();
            append(&path, &entries).unwrap();
        }
        let m = Manifest::load(&dir).unwrap();
        assert_eq!(m.len(), 100);
        assert_eq!(m.get("downloads/n042.swc").unwrap().fetched_at.unix(), 2000);
        assert!(m.get("downloads/n100.swc").is_none());
        compact(&dir, "", false, &|_| false).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let got: Vec<ManifestEntry> = text
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        let mut want = paths.clone();
        want.sort();
        let got_paths: Vec<&str> = got.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(got_paths, want, "sorted by path, each once");
        assert!(
            got.iter().all(|e| e.fetched_at.unix() == 2000),
            "the last line won"
        );
        let sums = std::fs::read_to_string(dir.join(SUMS)).unwrap();
        let listed: Vec<&str> = sums.lines().map(|l| &l[66..]).collect();
        assert_eq!(
            listed, want,
            "the checksum list names the same paths, in order"
        );
        // The index after compaction reads the same entries.
        let again = Manifest::load(&dir).unwrap();
        let mut streamed = Vec::new();
        again
            .each(|e| {
                streamed.push(e.path);
                Ok(())
            })
            .unwrap();
        assert_eq!(streamed, want);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
