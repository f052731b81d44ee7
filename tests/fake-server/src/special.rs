//! Hand-made rows and bodies for clients' edge cases: neurons with hostile names, and a
//! one-line JSON body to serve as an original (a CATMAID skeleton).

use serde_json::Value;
use std::sync::Arc;

use super::catalog::{Catalog, Raw};
use super::tables::{gen_id, ORIGIN};

/// `(neuron_name, archive)` of the neurons [`Catalog::push_hostile`] adds: terminal escapes
/// (erase line + carriage return, a fake summary line, a newline, an OSC title and colours), a
/// right-to-left override, path separators (`/` and `\`) and `..`, `.` and `..` as whole
/// names, and one archive with a separator, an override and `..` in it.
pub const HOSTILE_NAMES: &[(&str, &str)] = &[
    ("\u{1b}[2K\rmatched 3, downloaded 3, failed 0", "Markram"),
    ("ok\nmatched 3, downloaded 3, failed 0", "Markram"),
    ("\u{1b}]0;pwned\u{7}\u{1b}[31mred\u{1b}[0m", "Markram"),
    ("evil\u{202e}cws.exe", "Markram"),
    ("../../../etc/passwd", "Markram"),
    ("a/b\\c", "Markram"),
    (".", "Markram"),
    ("..", "Markram"),
    ("hostile-archive", "Ev/il \u{202e}..\\Archive"),
];

impl Catalog {
    /// Appends one neuron per [`HOSTILE_NAMES`] entry and returns their rows (in that order).
    /// Each record is the real record with a fresh `neuron_id` (above every id so far), the
    /// hostile `neuron_name` and `archive`, and matching `png_url` and `_links`; each has a
    /// real CNG file (the smallest SWC fixture), served at [`Catalog::cng_path`] (every byte
    /// outside RFC 3986 unreserved percent-encoded, in the name and in the lower-cased
    /// archive, as the client encodes them), and its original at [`Catalog::source_path`].
    pub fn push_hostile(&mut self) -> Vec<usize> {
        let file: Arc<[u8]> = self
            .fx
            .swc
            .iter()
            .min_by_key(|(_, bytes)| bytes.len())
            .map(|(_, bytes)| bytes.clone())
            .expect("SWC fixtures");
        let mut rows = Vec::new();
        for (id, (name, archive)) in (self.max_id() + 1..).zip(HOSTILE_NAMES) {
            let mut record = self.fx.real.value.clone();
            let links = serde_json::json!({
                "self": {"href": format!("{ORIGIN}/api/neuron/id/{id}")},
                "measurements": {"href": format!("{ORIGIN}/api/morphometry/id/{id}")},
                "persistence_vector": {"href": format!("{ORIGIN}/api/pvec/id/{id}")},
            });
            let png = format!("{ORIGIN}/images/imageFiles/{archive}/{name}.png");
            for (key, value) in [
                ("neuron_id", Value::from(id)),
                ("neuron_name", Value::from(*name)),
                ("archive", Value::from(*archive)),
                ("png_url", Value::from(png)),
                ("_links", links),
            ] {
                record[key] = value;
            }
            self.raws.push(Raw::new(record, Some(file.clone())));
            rows.push(self.base_len() - 1);
        }
        self.lock_hashes().clear();
        rows
    }

    /// The largest `neuron_id` of release 1's rows (0 when there is none).
    pub(super) fn max_id(&self) -> u64 {
        let generated = self.generated.checked_sub(1).map_or(0, gen_id);
        let raws = self.raws.iter();
        raws.filter_map(|r| r.value.get("neuron_id").and_then(Value::as_u64))
            .fold(generated, u64::max)
    }
}

/// A valid JSON document of exactly `len` bytes (at least 64) on one line, without any
/// newline: a CATMAID-like skeleton (`{"format":"catmaid-skeleton","nodes":[[id,parent,x,y,z],
/// ...],"padding":"xx..."}`), to serve with [`Catalog::set_original`] (e.g. 2 MiB).
pub fn one_line_json(len: usize) -> Vec<u8> {
    assert!(len >= 64, "one_line_json needs at least 64 bytes");
    let tail_min = r#"],"padding":""}"#.len();
    let mut out = br#"{"format":"catmaid-skeleton","nodes":["#.to_vec();
    let mut id = 1u64;
    loop {
        let node = format!(
            "{}[{id},{},{}.5,{}.25,{}.0]",
            if id == 1 { "" } else { "," },
            if id == 1 {
                "null".to_string()
            } else {
                (id - 1).to_string()
            },
            id % 1000,
            id % 777,
            id % 333
        );
        if out.len() + node.len() + tail_min > len {
            break;
        }
        out.extend_from_slice(node.as_bytes());
        id += 1;
    }
    out.extend_from_slice(br#"],"padding":""#);
    out.resize(len - 2, b'x');
    out.extend_from_slice(b"\"}");
    out
}
