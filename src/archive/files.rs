//! A neuron's files on the server: their kinds, and URLs built from archive and name (never
//! scraped from a `.jsp` page).

use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use crate::error::{Error, Result};
use crate::swc::Expect;

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
    /// NeuroMorpho.Org's picture of the neuron (the record's `png_url`:
    /// `images/imageFiles/<Archive>/<name>.png`), saved as `images/<name>.png`. Kept only when
    /// it is a whole PNG image (its signature first, its `IEND` chunk last).
    Png,
}

impl FileKind {
    /// Every kind, in the order files of one neuron are fetched.
    pub const ALL: [FileKind; 5] = [
        FileKind::Cng,
        FileKind::Original,
        FileKind::RemainingIssues,
        FileKind::StandardizationLog,
        FileKind::Png,
    ];

    /// The name used on the command line, in manifests and in `failed.csv`.
    pub fn as_str(self) -> &'static str {
        match self {
            FileKind::Cng => "cng",
            FileKind::Original => "original",
            FileKind::RemainingIssues => "remaining-issues",
            FileKind::StandardizationLog => "standardization-log",
            FileKind::Png => "png",
        }
    }

    /// What a body of this kind must be: an SWC file (an original is, when its name says
    /// so), a PNG image, or any file that is not an HTML page.
    pub(crate) fn expects(self, original_format: Option<&str>) -> Expect {
        match self {
            FileKind::Cng => Expect::Swc,
            FileKind::Original
                if original_format
                    .and_then(original_extension)
                    .is_some_and(|e| e == "swc") =>
            {
                Expect::Swc
            }
            FileKind::Png => Expect::Png,
            _ => Expect::Other,
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

    /// `cng` (or `swc`), `original`, `remaining-issues`, `standardization-log`, `png`.
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
                            "unknown file kind '{}' (expected cng, original, remaining-issues, \
                             standardization-log or png)",
                            crate::util::text::escape(other)
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
        // The record's `png_url`: the archive as the record spells it (not lower-cased).
        FileKind::Png => format!(
            "{base}/images/imageFiles/{}/{name}.png",
            encode_segment(archive)
        ),
    })
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
        assert_eq!(
            file_url(base, "Wearne_Hof", "cnic_001", None, FileKind::Png).unwrap(),
            "https://neuromorpho.org/images/imageFiles/Wearne_Hof/cnic_001.png"
        );
        assert_eq!(
            file_url(base, "Allen Cell Types", "a b", None, FileKind::Png).unwrap(),
            "https://neuromorpho.org/images/imageFiles/Allen%20Cell%20Types/a%20b.png"
        );
        assert_eq!(file_url(base, "", "n", None, FileKind::Cng), None);
        assert_eq!(file_url(base, "X", "n", None, FileKind::Original), None);
        assert_eq!(
            file_url(base, "X", "a b/c?", None, FileKind::Cng).unwrap(),
            "https://neuromorpho.org/dableFiles/x/CNG%20version/a%20b%2Fc%3F.CNG.swc"
        );
    }

    #[test]
    fn file_kinds_by_name() {
        assert_eq!("cng".parse::<FileKind>().unwrap(), FileKind::Cng);
        assert_eq!(
            "remaining-issues".parse::<FileKind>().unwrap(),
            FileKind::RemainingIssues
        );
        assert_eq!("png".parse::<FileKind>().unwrap(), FileKind::Png);
        assert!("jpeg".parse::<FileKind>().is_err());
        assert_eq!(
            original_extension("Neurolucida.ASC").as_deref(),
            Some("asc")
        );
        assert_eq!(original_extension("none"), None);
        assert_eq!(
            FileKind::Original.expects(Some("Neurozoom.swc")),
            Expect::Swc
        );
        assert_eq!(FileKind::Original.expects(Some("x.asc")), Expect::Other);
        assert_eq!(FileKind::Png.expects(None), Expect::Png);
    }
}
