//! What the server sends: neuron records and the paged envelopes around them.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use serde::de::{Deserializer, Error as _, IgnoredAny, MapAccess, Visitor};
use serde::{Deserialize, Serialize, Serializer};
use serde_json::{Map, Value};

use crate::archive::json_view::{Text, Val};

use super::page::{span_in, SharedPage};

use crate::archive::files::{file_url, FileKind};

/// One neuron record as the server sent it.
///
/// Every key (44 in a current record, plus `_links`) is kept in the server's order and
/// available through [`Neuron::get`] and [`Neuron::fields`]; the ones the library uses have
/// typed accessors, read from the record once when it is built. A `Neuron` cannot be changed,
/// so the accessors and the record never disagree. Serializing a `Neuron` gives back the
/// record as it came.
///
/// A record is kept as its JSON text (a span of the page it came in, which its records
/// share) and its `neuron_id`; the typed fields are read from the text the first time an
/// accessor asks, the map of every key the first time [`Neuron::get`] or [`Neuron::fields`]
/// does. A search of the whole catalog thus pays for what it reads, not for 45 keys and
/// values per record that only a table writer needs. Cloning is cheap; a record kept holds
/// the text of its page (about 1.5 kB per record of it).
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
#[derive(Clone)]
pub struct Neuron {
    /// `neuron_id`, read when the record is built: every record of a search is checked by it.
    id: Option<u64>,
    /// The record's JSON text (an object).
    text: RecordText,
    /// The typed fields, read from `text` when first asked for.
    typed: OnceLock<Typed>,
    /// Every key, parsed from `text` when first asked for.
    map: OnceLock<Map<String, Value>>,
}

impl std::fmt::Debug for Neuron {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Neuron")
            .field("neuron_id", &self.id)
            .field("record", &self.text.get())
            .finish()
    }
}

/// A record's JSON text: a span of the page it came in, shared by the page's records, so
/// that a page costs one allocation for its text, not one per record.
#[derive(Clone)]
struct RecordText {
    page: Arc<SharedPage>,
    at: At,
}

/// Where a record lies in its page's text.
#[derive(Clone, Copy)]
enum At {
    Span(usize, usize),
    /// The entry of that index in `_embedded.neuronResources`, found when first asked for.
    Entry(usize),
}

impl RecordText {
    fn whole(text: String) -> RecordText {
        let end = text.len();
        RecordText {
            page: SharedPage::new(text),
            at: At::Span(0, end),
        }
    }

    /// The record within `page`, if `record` is a slice of its text.
    fn within(page: &Arc<SharedPage>, record: &str) -> Option<RecordText> {
        let (start, end) = span_in(page.text(), record)?;
        Some(RecordText {
            page: Arc::clone(page),
            at: At::Span(start, end),
        })
    }

    fn get(&self) -> &str {
        match self.at {
            At::Span(start, end) => self.page.text().get(start..end).unwrap_or(""),
            At::Entry(index) => self.page.entry(index),
        }
    }
}

/// The fields the library reads, taken from a record the way [`Neuron::from_map`] documents.
#[derive(Debug, Clone, Default, PartialEq)]
struct Typed {
    neuron_id: Option<u64>,
    neuron_name: String,
    archive: String,
    species: Option<String>,
    brain_region: Vec<String>,
    cell_type: Vec<String>,
    original_format: Option<String>,
    reference_pmid: Vec<String>,
    reference_doi: Vec<String>,
}

impl Typed {
    /// Take `key`'s value if it is one of the typed fields. A key sent twice: the last
    /// value counts, as in the map.
    fn take(&mut self, key: &str, v: &Val<'_>) {
        match key {
            "neuron_id" => self.neuron_id = id_of(v),
            "neuron_name" => self.neuron_name = text_of(v).unwrap_or_default(),
            "archive" => self.archive = text_of(v).unwrap_or_default(),
            "species" => self.species = text_of(v),
            "brain_region" => self.brain_region = list_of(v),
            "cell_type" => self.cell_type = list_of(v),
            "original_format" => self.original_format = text_of(v),
            "reference_pmid" => self.reference_pmid = list_of(v),
            "reference_doi" => self.reference_doi = list_of(v),
            _ => {}
        }
    }
}

/// Whether `key` is one of the typed fields.
fn is_typed(key: &str) -> bool {
    matches!(
        key,
        "neuron_id"
            | "neuron_name"
            | "archive"
            | "species"
            | "brain_region"
            | "cell_type"
            | "original_format"
            | "reference_pmid"
            | "reference_doi"
    )
}

/// A text field: a string, or a number as written.
fn text_of(v: &Val<'_>) -> Option<String> {
    match v {
        Val::Str(s) => Some(s.to_string()),
        Val::Num(n) => Some(n.to_string()),
        _ => None,
    }
}

/// A list field: its strings (a null left out, anything else as JSON), or one string.
fn list_of(v: &Val<'_>) -> Vec<String> {
    match v {
        Val::Arr(a) => a
            .iter()
            .filter_map(|v| match v {
                Val::Str(s) => Some(s.to_string()),
                Val::Null => None,
                other => serde_json::to_string(other).ok(),
            })
            .collect(),
        Val::Str(s) => vec![s.to_string()],
        _ => Vec::new(),
    }
}

/// `neuron_id`: an integer, or a numeric string.
fn id_of(v: &Val<'_>) -> Option<u64> {
    match v {
        Val::Num(n) => n.as_u64(),
        Val::Str(s) => s.trim().parse().ok(),
        _ => None,
    }
}

impl Neuron {
    /// Build from a JSON object, keeping every key.
    ///
    /// The typed fields: `neuron_name`, `archive`, `species` and `original_format` are a
    /// string, or a number as written; the lists (`brain_region`, `cell_type`,
    /// `reference_pmid`, `reference_doi`) are a list of strings (a null left out, anything
    /// else as JSON) or one string; `neuron_id` is an integer or a numeric string.
    pub fn from_map(raw: Map<String, Value>) -> Neuron {
        let mut typed = Typed::default();
        for (key, v) in &raw {
            if is_typed(key) {
                typed.take(key, &Val::of(v));
            }
        }
        Neuron {
            id: typed.neuron_id,
            text: RecordText::whole(serde_json::to_string(&raw).unwrap_or_default()),
            typed: OnceLock::from(typed),
            map: OnceLock::from(raw),
        }
    }

    /// Build from the JSON text of one record, a slice of `page`, reading its typed fields
    /// now. `None` when the text is not a JSON object.
    pub(crate) fn from_json(page: &Arc<SharedPage>, record: &str) -> Option<Neuron> {
        let TypedOnly(typed) = serde_json::from_str(record).ok()?;
        Some(Neuron {
            id: typed.neuron_id,
            text: RecordText::within(page, record)
                .unwrap_or_else(|| RecordText::whole(record.to_string())),
            typed: OnceLock::from(typed),
            map: OnceLock::new(),
        })
    }

    /// Build from the JSON text of one record, held alone (not a slice of a page). `None`
    /// when the text is not a JSON object.
    pub(crate) fn from_text(record: String) -> Option<Neuron> {
        let TypedOnly(typed) = serde_json::from_str(&record).ok()?;
        Some(Neuron {
            id: typed.neuron_id,
            text: RecordText::whole(record),
            typed: OnceLock::from(typed),
            map: OnceLock::new(),
        })
    }

    /// Build from entry `index` of `page`, an object whose `entries` were read as the page
    /// was; its text is found and its typed fields read when they are asked for.
    pub(crate) fn from_entry(
        page: &Arc<SharedPage>,
        index: usize,
        entries: &[(Cow<'_, str>, Val<'_>)],
    ) -> Neuron {
        let id = entries
            .iter()
            .rev()
            .find(|(k, _)| k == "neuron_id")
            .and_then(|(_, v)| id_of(v));
        Neuron {
            id,
            text: RecordText {
                page: Arc::clone(page),
                at: At::Entry(index),
            },
            typed: OnceLock::new(),
            map: OnceLock::new(),
        }
    }

    /// The record's JSON text, as sent (or as written from the map it was built from).
    pub(crate) fn raw_json(&self) -> &str {
        self.text.get()
    }

    /// The typed fields.
    fn typed(&self) -> &Typed {
        self.typed.get_or_init(|| {
            // The text was checked to be an object when the record was built.
            serde_json::from_str::<TypedOnly>(self.text.get())
                .map(|t| t.0)
                .unwrap_or_default()
        })
    }

    /// `neuron_id` (an integer, also accepted as a numeric string); `None` if absent.
    pub fn neuron_id(&self) -> Option<u64> {
        self.id
    }

    /// `neuron_name`; empty if absent (such a record cannot be downloaded).
    pub fn neuron_name(&self) -> &str {
        &self.typed().neuron_name
    }

    /// `archive`, the display name (`Allen Cell Types`); empty if absent.
    pub fn archive(&self) -> &str {
        &self.typed().archive
    }

    /// `species`.
    pub fn species(&self) -> Option<&str> {
        self.typed().species.as_deref()
    }

    /// `brain_region` (a list, levels 1..n).
    pub fn brain_region(&self) -> &[String] {
        &self.typed().brain_region
    }

    /// `cell_type` (a list; NOT ordered by level on the real server).
    pub fn cell_type(&self) -> &[String] {
        &self.typed().cell_type
    }

    /// `original_format`, e.g. `Neurozoom.swc`: its extension names the original file.
    pub fn original_format(&self) -> Option<&str> {
        self.typed().original_format.as_deref()
    }

    /// `reference_pmid` (a list).
    pub fn reference_pmid(&self) -> &[String] {
        &self.typed().reference_pmid
    }

    /// `reference_doi` (a list).
    pub fn reference_doi(&self) -> &[String] {
        &self.typed().reference_doi
    }

    /// Any key of the record, as sent.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.fields().get(key)
    }

    /// Every key of the record, in the server's order (including `_links`).
    pub fn fields(&self) -> &Map<String, Value> {
        // The text was checked to be an object when the record was built.
        self.map
            .get_or_init(|| serde_json::from_str(self.text.get()).unwrap_or_default())
    }

    /// Give back the record as a JSON object.
    pub fn into_map(self) -> Map<String, Value> {
        match self.map.into_inner() {
            Some(m) => m,
            None => serde_json::from_str(self.text.get()).unwrap_or_default(),
        }
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
            &self.typed().archive,
            &self.typed().neuron_name,
            self.typed().original_format.as_deref(),
            kind,
        )
    }
}

impl PartialEq for Neuron {
    /// Two records are equal when they hold the same keys and values.
    fn eq(&self, other: &Neuron) -> bool {
        self.id == other.id
            && (self.text.get() == other.text.get() || self.fields() == other.fields())
    }
}

impl<'de> Deserialize<'de> for Neuron {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match Value::deserialize(d)? {
            Value::Object(m) => Ok(Neuron::from_map(m)),
            other => Err(D::Error::custom(format!(
                "a neuron record must be a JSON object, got {}",
                crate::util::text::escape(&other.to_string())
            ))),
        }
    }
}

impl Serialize for Neuron {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self.map.get() {
            Some(m) => m.serialize(s),
            // Not kept: a record serialized once need not hold its map ever after.
            None => serde_json::from_str::<Map<String, Value>>(self.text.get())
                .map_err(serde::ser::Error::custom)?
                .serialize(s),
        }
    }
}

/// The typed fields of a record, every other value skipped unparsed.
struct TypedOnly(Typed);

impl<'de> Deserialize<'de> for TypedOnly {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TypedOnly;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a neuron record (a JSON object)")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<TypedOnly, A::Error> {
                let mut typed = Typed::default();
                while let Some(Text(key)) = map.next_key()? {
                    if is_typed(&key) {
                        typed.take(&key, &map.next_value::<Val>()?);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(TypedOnly(typed))
            }
        }
        d.deserialize_map(V)
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
}
