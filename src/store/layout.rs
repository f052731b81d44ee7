//! Where a neuron's files live on disk: a folder per file kind, group folders made safe, and
//! file names that depend on the neuron alone.

use std::path::{Path, PathBuf};

use crate::archive::files::{original_extension, FileKind};

impl FileKind {
    /// The folder under the output folder that holds this kind.
    pub fn folder(self) -> &'static str {
        match self {
            FileKind::Cng => "downloads",
            FileKind::Original => "original",
            FileKind::RemainingIssues | FileKind::StandardizationLog => "logs",
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
/// - A plain name (docs/collection.md: letters, digits, `.`, `_`, `-`, not starting with a dot)
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
            if c == '/' || c == '\\' || crate::util::text::is_unsafe(c) {
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
}
