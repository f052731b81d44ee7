//! What the server sends: neuron records and the paged envelopes around them.

use serde::de::{Deserializer, Error as _};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::files::{file_url, FileKind};

/// One neuron record as the server sent it.
///
/// Every key (44 in a current record, plus `_links`) is kept in the server's order and
/// available through [`Neuron::get`] and [`Neuron::fields`]; the ones the library uses have
/// typed accessors, read from the record once when it is built. A `Neuron` cannot be changed,
/// so the accessors and the record never disagree. Serializing a `Neuron` gives back the
/// record as it came.
///
/// ```
/// let json = r#"{"neuron_id":1,"neuron_name":"cnic_001","archive":"Wearne_Hof",
///                "brain_region":["neocortex","prefrontal","layer 3"],"species":"monkey"}"#;
/// let n: neuromorpho::Neuron = serde_json::from_str(json).unwrap();
/// assert_eq!(n.neuron_id(), Some(1));
/// assert_eq!(n.archive(), "Wearne_Hof");
/// assert_eq!(n.brain_region(), ["neocortex", "prefrontal", "layer 3"]);
/// assert_eq!(n.get("species").and_then(|v| v.as_str()), Some("monkey"));
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Neuron {
    neuron_id: Option<u64>,
    neuron_name: String,
    archive: String,
    species: Option<String>,
    brain_region: Vec<String>,
    cell_type: Vec<String>,
    original_format: Option<String>,
    reference_pmid: Vec<String>,
    reference_doi: Vec<String>,
    raw: Map<String, Value>,
}

impl Neuron {
    /// Build from a JSON object, keeping every key.
    pub fn from_map(raw: Map<String, Value>) -> Neuron {
        let text = |k: &str| match raw.get(k) {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            _ => None,
        };
        let list = |k: &str| match raw.get(k) {
            Some(Value::Array(a)) => a
                .iter()
                .filter_map(|v| match v {
                    Value::String(s) => Some(s.clone()),
                    Value::Null => None,
                    other => Some(other.to_string()),
                })
                .collect(),
            Some(Value::String(s)) => vec![s.clone()],
            _ => Vec::new(),
        };
        let neuron_id = match raw.get("neuron_id") {
            Some(Value::Number(n)) => n.as_u64(),
            Some(Value::String(s)) => s.trim().parse().ok(),
            _ => None,
        };
        Neuron {
            neuron_id,
            neuron_name: text("neuron_name").unwrap_or_default(),
            archive: text("archive").unwrap_or_default(),
            species: text("species"),
            brain_region: list("brain_region"),
            cell_type: list("cell_type"),
            original_format: text("original_format"),
            reference_pmid: list("reference_pmid"),
            reference_doi: list("reference_doi"),
            raw,
        }
    }

    /// `neuron_id` (an integer, also accepted as a numeric string); `None` if absent.
    pub fn neuron_id(&self) -> Option<u64> {
        self.neuron_id
    }

    /// `neuron_name`; empty if absent (such a record cannot be downloaded).
    pub fn neuron_name(&self) -> &str {
        &self.neuron_name
    }

    /// `archive`, the display name (`Allen Cell Types`); empty if absent.
    pub fn archive(&self) -> &str {
        &self.archive
    }

    /// `species`.
    pub fn species(&self) -> Option<&str> {
        self.species.as_deref()
    }

    /// `brain_region` (a list, levels 1..n).
    pub fn brain_region(&self) -> &[String] {
        &self.brain_region
    }

    /// `cell_type` (a list; NOT ordered by level on the real server).
    pub fn cell_type(&self) -> &[String] {
        &self.cell_type
    }

    /// `original_format`, e.g. `Neurozoom.swc`: its extension names the original file.
    pub fn original_format(&self) -> Option<&str> {
        self.original_format.as_deref()
    }

    /// `reference_pmid` (a list).
    pub fn reference_pmid(&self) -> &[String] {
        &self.reference_pmid
    }

    /// `reference_doi` (a list).
    pub fn reference_doi(&self) -> &[String] {
        &self.reference_doi
    }

    /// Any key of the record, as sent.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.raw.get(key)
    }

    /// Every key of the record, in the server's order (including `_links`).
    pub fn fields(&self) -> &Map<String, Value> {
        &self.raw
    }

    /// Give back the record as a JSON object.
    pub fn into_map(self) -> Map<String, Value> {
        self.raw
    }

    /// The standardized SWC file's URL on `base_url` (see [`FileKind::Cng`]).
    ///
    /// ```
    /// let n = neuromorpho::Neuron::from_map(serde_json::from_str(
    ///     r#"{"neuron_id":5,"neuron_name":"H17-03_m","archive":"Allen Cell Types"}"#).unwrap());
    /// assert_eq!(n.swc_url("https://neuromorpho.org").unwrap(),
    ///     "https://neuromorpho.org/dableFiles/allen%20cell%20types/CNG%20version/H17-03_m.CNG.swc");
    /// ```
    pub fn swc_url(&self, base_url: &str) -> Option<String> {
        self.file_url(base_url, FileKind::Cng)
    }

    /// The URL of one of the neuron's files on `base_url`; `None` when the record lacks what
    /// the URL needs (name, archive, or for an original its `original_format`).
    pub fn file_url(&self, base_url: &str, kind: FileKind) -> Option<String> {
        file_url(
            base_url,
            &self.archive,
            &self.neuron_name,
            self.original_format.as_deref(),
            kind,
        )
    }
}

impl<'de> Deserialize<'de> for Neuron {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Object(m) => Ok(Neuron::from_map(m)),
            other => Err(D::Error::custom(format!(
                "a neuron record must be a JSON object, got {}",
                crate::text::escape(&other.to_string())
            ))),
        }
    }
}

impl Serialize for Neuron {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        self.raw.serialize(s)
    }
}

/// `page` of a paged answer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct PageInfo {
    #[serde(default)]
    pub size: u64,
    #[serde(default)]
    pub total_elements: u64,
    #[serde(default)]
    pub total_pages: u64,
    #[serde(default)]
    pub number: u64,
}

/// Entries of a page with their 0-based positions in it.
pub(crate) type Placed<T> = Vec<(usize, T)>;

/// A page of `/api/neuron` or `/api/neuron/select`, its records kept as JSON values so that
/// one record that is not an object costs one row, not the page.
#[derive(Debug, Deserialize)]
pub(crate) struct NeuronPage {
    #[serde(rename = "_embedded", default)]
    pub embedded: Option<Embedded>,
}

#[derive(Debug, Deserialize)]
pub(crate) struct Embedded {
    #[serde(rename = "neuronResources", default)]
    pub neurons: Vec<Value>,
}

impl NeuronPage {
    /// The records that are objects, and the 0-based positions of those that are not.
    pub(crate) fn into_records(self) -> (Vec<Neuron>, Vec<(usize, Value)>) {
        let (good, bad) = self.into_placed_records();
        (good.into_iter().map(|(_, n)| n).collect(), bad)
    }

    /// [`NeuronPage::into_records`], each record with its 0-based position in the page.
    pub(crate) fn into_placed_records(self) -> (Placed<Neuron>, Placed<Value>) {
        let mut good = Vec::new();
        let mut bad = Vec::new();
        for (i, v) in self
            .embedded
            .map(|e| e.neurons)
            .unwrap_or_default()
            .into_iter()
            .enumerate()
        {
            match v {
                Value::Object(m) => good.push((i, Neuron::from_map(m))),
                other => bad.push((i, other)),
            }
        }
        (good, bad)
    }
}

/// `/api/neuron/fields`.
#[derive(Debug, Deserialize)]
pub(crate) struct FieldList {
    #[serde(rename = "Neuron Fields")]
    pub fields: Vec<String>,
}

/// A page of `/api/neuron/fields/{field}`.
#[derive(Debug, Deserialize)]
pub(crate) struct ValuePage {
    #[serde(default)]
    pub fields: Vec<Value>,
    #[serde(default)]
    pub page: Option<PageInfo>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numeric_string_ids_and_missing_keys() {
        let n: Neuron = serde_json::from_str(r#"{"neuron_id":"42","brain_region":null}"#).unwrap();
        assert_eq!(n.neuron_id(), Some(42));
        assert!(n.neuron_name().is_empty());
        assert!(n.brain_region().is_empty());
        assert!(serde_json::from_str::<Neuron>("[1]").is_err());
    }

    #[test]
    fn a_record_that_is_not_an_object_costs_one_row() {
        let page: NeuronPage = serde_json::from_str(
            r#"{"_embedded":{"neuronResources":[{"neuron_id":1},42,{"neuron_id":3}]},
                "page":{"size":500,"totalElements":3,"totalPages":1,"number":0}}"#,
        )
        .unwrap();
        let (good, bad) = page.into_records();
        assert_eq!(good.len(), 2);
        assert_eq!(bad, vec![(1, Value::from(42))]);
    }
}
