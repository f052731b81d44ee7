//! Where a neuron's files live: on the server (URLs built from archive and name) and on disk
//! (folders per file kind, and file names that depend on the neuron alone).

use std::path::{Path, PathBuf};

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::error::{Error, Result};

/// Everything but RFC 3986's unreserved characters is percent-encoded in a path segment.
const SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encode one URL path segment (`Allen Cell Types` -> `Allen%20Cell%20Types`).
pub(crate) fn encode_segment(s: &str) -> String {
    utf8_percent_encode(s, SEGMENT).to_string()
}

/// A kind of per-neuron file on the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum FileKind {
    /// The standardized SWC (`CNG version/<name>.CNG.swc`), saved as `downloads/<name>.swc`.
    Cng,
    /// The original upload (`Source-Version/<name>.<ext of original_format>`), saved under
    /// `original/`. Not necessarily SWC: kept byte for byte.
    Original,
    /// The standardization report of remaining issues (`Remaining issues/<name>.CNG.swc.std`),
    /// saved under `logs/`.
    RemainingIssues,
    /// The standardization log (`Standardization log/<name>.std`), saved under `logs/`.
    StandardizationLog,
}

impl FileKind {
    /// Every kind, in the order files of one neuron are fetched.
    pub const ALL: [FileKind; 4] = [
        FileKind::Cng,
        FileKind::Original,
        FileKind::RemainingIssues,
        FileKind::StandardizationLog,
    ];

    /// The name used on the command line, in manifests and in `failed.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Cng => "cng",
            FileKind::Original => "original",
            FileKind::RemainingIssues => "remaining-issues",
            FileKind::StandardizationLog => "standardization-log",
        }
    }

    /// The folder under the output folder that holds this kind.
    pub fn folder(self) -> &'static str {
        match self {
            FileKind::Cng => "downloads",
            FileKind::Original => "original",
            FileKind::RemainingIssues | FileKind::StandardizationLog => "logs",
        }
    }

    /// Whether a body of this kind must be an SWC file (an original is, when its name says so).
    pub(crate) fn expects_swc(self, original_format: Option<&str>) -> bool {
        match self {
            FileKind::Cng => true,
            FileKind::Original => original_format
                .and_then(original_extension)
                .is_some_and(|e| e == "swc"),
            _ => false,
        }
    }

    /// The file name on disk for a neuron's local stem (see [`local_stem`]).
    fn file_name(self, stem: &str, original_format: Option<&str>) -> String {
        match self {
            FileKind::Cng => format!("{stem}.swc"),
            FileKind::Original => match original_format.and_then(original_extension) {
                Some(ext) => format!("{stem}.{ext}"),
                None => format!("{stem}.original"),
            },
            FileKind::RemainingIssues => format!("{stem}.CNG.swc.std"),
            FileKind::StandardizationLog => format!("{stem}.std"),
        }
    }
}

impl std::fmt::Display for FileKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for FileKind {
    type Err = Error;

    /// `cng` (or `swc`), `original`, `remaining-issues`, `standardization-log`.
    fn from_str(s: &str) -> Result<FileKind> {
        match s.trim() {
            "cng" | "swc" => Ok(FileKind::Cng),
            other => FileKind::ALL
                .into_iter()
                .find(|k| k.as_str() == other)
                .ok_or_else(|| {
                    Error::setting(
                        "file kind",
                        format!(
                            "unknown file kind '{}' (expected cng, original, remaining-issues \
                             or standardization-log)",
                            crate::text::escape(other)
                        ),
                    )
                }),
        }
    }
}

/// The extension of the original upload, from `original_format` (`Neurozoom.swc` -> `swc`,
/// and NeuroMorpho's special case `Custom.xml` -> `morph.xml`).
pub(crate) fn original_extension(original_format: &str) -> Option<String> {
    let f = original_format.trim();
    if f.eq_ignore_ascii_case("Custom.xml") {
        return Some("morph.xml".into());
    }
    let (_, ext) = f.rsplit_once('.')?;
    let ext = ext.trim().to_ascii_lowercase();
    (!ext.is_empty() && ext.len() <= 16 && ext.chars().all(|c| c.is_ascii_alphanumeric()))
        .then_some(ext)
}

/// The URL of a neuron's file: `{base}/dableFiles/{encoded lower-case archive}/{folder}/{encoded name}{suffix}`.
///
/// Built from the record, never scraped from a `.jsp` page (NeuroMorpho.Org's terms of use
/// forbid scripting those). `None` when the record lacks what the URL needs.
pub(crate) fn file_url(
    base_url: &str,
    archive: &str,
    neuron_name: &str,
    original_format: Option<&str>,
    kind: FileKind,
) -> Option<String> {
    if archive.trim().is_empty() || neuron_name.trim().is_empty() {
        return None;
    }
    let dir = encode_segment(&archive.to_lowercase());
    let name = encode_segment(neuron_name);
    let base = base_url.trim_end_matches('/');
    Some(match kind {
        FileKind::Cng => format!("{base}/dableFiles/{dir}/CNG%20version/{name}.CNG.swc"),
        FileKind::Original => {
            let ext = original_extension(original_format?)?;
            format!("{base}/dableFiles/{dir}/Source-Version/{name}.{ext}")
        }
        FileKind::RemainingIssues => {
            format!("{base}/dableFiles/{dir}/Remaining%20issues/{name}.CNG.swc.std")
        }
        FileKind::StandardizationLog => {
            format!("{base}/dableFiles/{dir}/Standardization%20log/{name}.std")
        }
    })
}

/// Whether `name` can be a file name as it is: 1 to 200 of `[A-Za-z0-9._-]`, not starting
/// with a dot. Every name NeuroMorpho.Org has published so far is.
fn is_plain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

/// The file stem of a neuron on disk: a function of its name and id alone, so that a file's
/// name never depends on the run or on the other neurons in it.
///
/// - A plain name (see the README: letters, digits, `.`, `_`, `-`, not starting with a dot)
///   is used as it is: `cnic_001`.
/// - Any other name is prefixed with its id and `~`, and every other character becomes `_`:
///   `a/b` with id 7 is `7~a_b`. A plain name never contains `~`, so the two forms never meet,
///   and ids are unique, so two distinct neurons never share a file. A record without an id
///   uses `h` and a hash of its name instead.
pub(crate) fn local_stem(neuron_name: &str, neuron_id: Option<u64>) -> String {
    if is_plain(neuron_name) {
        return neuron_name.to_string();
    }
    let mut safe: String = neuron_name
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-') {
                c
            } else {
                '_'
            }
        })
        .take(180)
        .collect();
    if safe.is_empty() {
        safe.push_str("unnamed");
    }
    match neuron_id {
        Some(id) => format!("{id}~{safe}"),
        None => format!("h{:016x}~{safe}", fnv1a(neuron_name.as_bytes())),
    }
}

/// FNV-1a, 64 bits: a stable hash (std's is randomized per process).
pub(crate) fn fnv1a(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Make a value from the server safe as one folder name: no `/`, `\`, NUL or other control
/// characters, no leading dot (so never `.` or `..`), at most 200 bytes; an empty value
/// becomes `unknown`.
pub(crate) fn safe_component(s: &str) -> String {
    let mut out: String = s
        .trim()
        .chars()
        .map(|c| {
            if c == '/' || c == '\\' || crate::text::is_unsafe(c) {
                '_'
            } else {
                c
            }
        })
        .collect();
    let dots = out.len() - out.trim_start_matches('.').len();
    if dots > 0 {
        out.replace_range(..dots, &"_".repeat(dots));
    }
    if out.len() > 200 {
        let mut cut = 200;
        while !out.is_char_boundary(cut) {
            cut -= 1;
        }
        out.truncate(cut);
    }
    if out.is_empty() {
        out.push_str("unknown");
    }
    out
}

/// The final path of a neuron's file under `out`: `out/<kind folder>/<group folders>/<stem><ext>`.
pub(crate) fn local_path(
    out: &Path,
    kind: FileKind,
    group_values: &[String],
    neuron_name: &str,
    neuron_id: Option<u64>,
    original_format: Option<&str>,
) -> PathBuf {
    let mut path = out.join(kind.folder());
    for g in group_values {
        path.push(safe_component(g));
    }
    path.push(kind.file_name(&local_stem(neuron_name, neuron_id), original_format));
    path
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_from_archive_and_name() {
        let base = "https://neuromorpho.org";
        assert_eq!(
            file_url(base, "Wearne_Hof", "cnic_001", None, FileKind::Cng).unwrap(),
            "https://neuromorpho.org/dableFiles/wearne_hof/CNG%20version/cnic_001.CNG.swc"
        );
        assert_eq!(
            file_url(base, "Allen Cell Types", "H17-03_m", None, FileKind::Cng).unwrap(),
            "https://neuromorpho.org/dableFiles/allen%20cell%20types/CNG%20version/H17-03_m.CNG.swc"
        );
        assert_eq!(
            file_url(
                base,
                "Wearne_Hof",
                "cnic_001",
                Some("Neurozoom.swc"),
                FileKind::Original
            )
            .unwrap(),
            "https://neuromorpho.org/dableFiles/wearne_hof/Source-Version/cnic_001.swc"
        );
        assert_eq!(
            file_url(base, "X", "n", Some("Custom.xml"), FileKind::Original).unwrap(),
            "https://neuromorpho.org/dableFiles/x/Source-Version/n.morph.xml"
        );
        assert_eq!(
            file_url(base, "X", "n", None, FileKind::RemainingIssues).unwrap(),
            "https://neuromorpho.org/dableFiles/x/Remaining%20issues/n.CNG.swc.std"
        );
        assert_eq!(
            file_url(base, "X", "n", None, FileKind::StandardizationLog).unwrap(),
            "https://neuromorpho.org/dableFiles/x/Standardization%20log/n.std"
        );
        assert_eq!(file_url(base, "", "n", None, FileKind::Cng), None);
        assert_eq!(file_url(base, "X", "n", None, FileKind::Original), None);
        assert_eq!(
            file_url(base, "X", "a b/c?", None, FileKind::Cng).unwrap(),
            "https://neuromorpho.org/dableFiles/x/CNG%20version/a%20b%2Fc%3F.CNG.swc"
        );
    }

    #[test]
    fn hostile_components_stay_inside() {
        for bad in [
            "..",
            ".",
            "../x",
            "a/b",
            "a\\b",
            "\0",
            "/etc/passwd",
            ".hidden",
            "",
            "x\u{202e}y",
        ] {
            let s = safe_component(bad);
            assert!(
                !s.contains(['/', '\\', '\0', '\u{202e}']),
                "{bad:?} -> {s:?}"
            );
            assert!(!s.starts_with('.'), "{bad:?} -> {s:?}");
            assert!(!s.is_empty());
        }
        assert_eq!(safe_component(&"é".repeat(150)).len(), 200);
        assert_eq!(safe_component("Allen Cell Types"), "Allen Cell Types");
    }

    #[test]
    fn stems_depend_on_the_neuron_alone() {
        assert_eq!(local_stem("cnic_001", Some(1)), "cnic_001");
        assert_eq!(local_stem("a_b", Some(3)), "a_b");
        assert_eq!(local_stem("a/b", Some(7)), "7~a_b");
        assert_eq!(local_stem("a\\b", Some(8)), "8~a_b");
        assert_eq!(local_stem("..", Some(9)), "9~..");
        assert_eq!(local_stem(".hidden", Some(10)), "10~.hidden");
        assert_eq!(local_stem("x\u{1b}[2K", Some(11)), "11~x__2K");
        // No id: a stable hash of the name.
        let h = local_stem("a/b", None);
        assert!(h.starts_with('h') && h.ends_with("~a_b"), "{h}");
        assert_eq!(h, local_stem("a/b", None));
        assert_ne!(h, local_stem("a\\b", None));
        for name in ["a/b", "..", "", "\0", "é"] {
            let s = local_stem(name, Some(1));
            assert!(!s.starts_with('.') && !s.contains(['/', '\\', '\0']), "{s}");
        }
    }

    #[test]
    fn file_kinds_by_name() {
        assert_eq!("cng".parse::<FileKind>().unwrap(), FileKind::Cng);
        assert_eq!(
            "remaining-issues".parse::<FileKind>().unwrap(),
            FileKind::RemainingIssues
        );
        assert!("png".parse::<FileKind>().is_err());
        assert_eq!(
            original_extension("Neurolucida.ASC").as_deref(),
            Some("asc")
        );
        assert_eq!(original_extension("none"), None);
        assert!(FileKind::Original.expects_swc(Some("Neurozoom.swc")));
        assert!(!FileKind::Original.expects_swc(Some("x.asc")));
    }
}
