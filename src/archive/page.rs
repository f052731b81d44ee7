//! Pages of neuron records: the envelope `{"_embedded":{"neuronResources":[...]},"page":{...}}`
//! read once, each record kept as a span of the page's text, which its records share.

use std::fmt;
use std::sync::{Arc, OnceLock};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;

use crate::archive::json_view::{Item, ItemSeed, Text};

use super::{Neuron, PageInfo};

/// Entries of a page with their 0-based positions in it.
pub(crate) type Placed<T> = Vec<(usize, T)>;

/// A page's text, which its records share. Where each entry of `neuronResources` lies in it
/// is found the first time a record asks for its own text (a table writer never does: it
/// reads the records as the page is read).
pub(crate) struct SharedPage {
    text: String,
    spans: OnceLock<Vec<(usize, usize)>>,
}

impl SharedPage {
    pub(crate) fn new(text: String) -> Arc<SharedPage> {
        Arc::new(SharedPage {
            text,
            spans: OnceLock::new(),
        })
    }

    /// A page's bytes as its text (JSON is UTF-8), without a copy.
    pub(crate) fn from_bytes(bytes: Vec<u8>) -> serde_json::Result<Arc<SharedPage>> {
        match String::from_utf8(bytes) {
            Ok(s) => Ok(SharedPage::new(s)),
            // Let the parser name where.
            Err(e) => Err(serde_json::from_slice::<IgnoredAny>(e.as_bytes())
                .err()
                .unwrap_or_else(|| de::Error::custom("the answer is not UTF-8"))),
        }
    }

    pub(crate) fn text(&self) -> &str {
        &self.text
    }

    /// The text of entry `index` of `neuronResources` (empty if there is none).
    pub(crate) fn entry(&self, index: usize) -> &str {
        let spans = self.spans.get_or_init(|| {
            PageText::parse(self.text.as_bytes())
                .map(|p| {
                    p.entries
                        .iter()
                        .filter_map(|e| span_in(&self.text, e.get()))
                        .collect()
                })
                .unwrap_or_default()
        });
        spans
            .get(index)
            .and_then(|&(start, end)| self.text.get(start..end))
            .unwrap_or("")
    }
}

impl fmt::Debug for SharedPage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SharedPage({} bytes)", self.text.len())
    }
}

/// Where `part`, a slice of `text`, lies in it.
pub(super) fn span_in(text: &str, part: &str) -> Option<(usize, usize)> {
    let start = (part.as_ptr() as usize).checked_sub(text.as_ptr() as usize)?;
    let end = start.checked_add(part.len())?;
    text.get(start..end)?;
    Some((start, end))
}

/// A page as text: each entry's JSON borrowed from the answer, checked but not parsed.
struct PageText<'a> {
    /// `page`, when the answer has one.
    pub page: Option<PageInfo>,
    /// `_embedded.neuronResources`.
    pub entries: Vec<&'a RawValue>,
}

impl<'a> PageText<'a> {
    /// Read a page's envelope from its text.
    pub(crate) fn parse(bytes: &'a [u8]) -> serde_json::Result<PageText<'a>> {
        #[derive(Deserialize)]
        struct Envelope<'a> {
            #[serde(rename = "_embedded", default, borrow)]
            embedded: Option<Embedded<'a>>,
            #[serde(default)]
            page: Option<PageInfo>,
        }
        #[derive(Deserialize)]
        struct Embedded<'a> {
            #[serde(rename = "neuronResources", default, borrow)]
            neurons: Vec<&'a RawValue>,
        }
        let e: Envelope = serde_json::from_slice(bytes)?;
        Ok(PageText {
            page: e.page,
            entries: e.embedded.map(|e| e.neurons).unwrap_or_default(),
        })
    }
}

/// What an entry that is not an object holds, as JSON.
fn not_a_record(entry: &RawValue) -> Value {
    serde_json::from_str(entry.get()).unwrap_or(Value::Null)
}

/// A page of `/api/neuron` or `/api/neuron/select`, parsed once: each record is kept as its
/// JSON text with its typed fields read, so that one record that is not an object costs one
/// row, not the page. Deserialize it from a slice or a string.
#[derive(Debug, Default)]
pub(crate) struct NeuronPage {
    /// `page`, when the answer has one.
    pub info: Option<PageInfo>,
    /// Entries of `neuronResources`, records or not.
    pub entries: u64,
    /// The records, with their positions.
    pub records: Placed<Neuron>,
    /// The entries that are not objects, with their positions.
    pub skipped: Placed<Value>,
}

impl NeuronPage {
    /// Parse a page: its records with their typed fields read, the rest of each kept as text.
    pub(crate) fn parse(bytes: &[u8]) -> serde_json::Result<NeuronPage> {
        NeuronPage::of_shared(&SharedPage::from_bytes(bytes.to_vec())?)
    }

    /// [`NeuronPage::parse`] of a page already held as shared text.
    pub(crate) fn of_shared(shared: &Arc<SharedPage>) -> serde_json::Result<NeuronPage> {
        let text = PageText::parse(shared.text().as_bytes())?;
        let mut page = NeuronPage {
            info: text.page,
            entries: text.entries.len() as u64,
            records: Vec::with_capacity(text.entries.len()),
            skipped: Vec::new(),
        };
        for (i, entry) in text.entries.into_iter().enumerate() {
            match Neuron::from_json(shared, entry.get()) {
                Some(n) => page.records.push((i, n)),
                None => page.skipped.push((i, not_a_record(entry))),
            }
        }
        Ok(page)
    }

    /// The records, and the 0-based positions of the entries that are not records.
    pub(crate) fn into_records(self) -> (Vec<Neuron>, Placed<Value>) {
        (
            self.records.into_iter().map(|(_, n)| n).collect(),
            self.skipped,
        )
    }
}

impl<'de> Deserialize<'de> for NeuronPage {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        // Answers are read whole before they are parsed: from that text, at once.
        let text = <&RawValue>::deserialize(d)?;
        NeuronPage::parse(text.get().as_bytes()).map_err(de::Error::custom)
    }
}

/// Read a page in one pass, handing each entry of `neuronResources` to `each` with its
/// index as it is read (an object's values under the keys `keep` refuses are skipped
/// unread). Returns the page's `page`, and the number of entries.
pub(crate) fn walk_page<'a>(
    text: &'a str,
    keep: &dyn Fn(&str) -> bool,
    each: &mut dyn FnMut(usize, Item<'a>),
) -> serde_json::Result<(Option<PageInfo>, u64)> {
    let mut walk = Walk {
        keep,
        each,
        entries: 0,
    };
    let mut de = serde_json::Deserializer::from_str(text);
    let page = de.deserialize_map(Envelope(&mut walk))?;
    de.end()?;
    Ok((page, walk.entries as u64))
}

struct Walk<'k, 'f, 'a> {
    keep: &'k dyn Fn(&str) -> bool,
    each: &'f mut dyn FnMut(usize, Item<'a>),
    entries: usize,
}

/// The envelope: `_embedded` walked, `page` read, the rest skipped.
struct Envelope<'w, 'k, 'f, 'a>(&'w mut Walk<'k, 'f, 'a>);

impl<'de> Visitor<'de> for Envelope<'_, '_, '_, 'de> {
    type Value = Option<PageInfo>;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a page of neuron records")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Option<PageInfo>, A::Error> {
        let (mut page, mut embedded) = (None, false);
        while let Some(Text(key)) = map.next_key()? {
            match key.as_ref() {
                "_embedded" if embedded => return Err(de::Error::duplicate_field("_embedded")),
                "_embedded" => {
                    embedded = true;
                    map.next_value_seed(Embedded(&mut *self.0))?;
                }
                "page" if page.is_some() => return Err(de::Error::duplicate_field("page")),
                "page" => page = Some(map.next_value::<Option<PageInfo>>()?),
                _ => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(page.flatten())
    }
}

/// `_embedded`: null, or an object with `neuronResources`.
struct Embedded<'w, 'k, 'f, 'a>(&'w mut Walk<'k, 'f, 'a>);

impl<'de> DeserializeSeed<'de> for Embedded<'_, '_, '_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Embedded<'_, '_, '_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with neuronResources")
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(Text(key)) = map.next_key()? {
            if key == "neuronResources" {
                if seen {
                    return Err(de::Error::duplicate_field("neuronResources"));
                }
                seen = true;
                map.next_value_seed(Resources(&mut *self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// `neuronResources`: each entry handed on as it is read.
struct Resources<'w, 'k, 'f, 'a>(&'w mut Walk<'k, 'f, 'a>);

impl<'de> DeserializeSeed<'de> for Resources<'_, '_, '_, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Resources<'_, '_, '_, 'de> {
    type Value = ();
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of neuron records")
    }
    fn visit_seq<S: SeqAccess<'de>>(self, mut seq: S) -> Result<(), S::Error> {
        while let Some(entry) = seq.next_element_seed(ItemSeed(self.0.keep))? {
            let index = self.0.entries;
            self.0.entries += 1;
            (self.0.each)(index, entry);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn one_pass_reads_what_the_envelope_holds() {
        let text = r#"{"_embedded":{"other":1,"neuronResources":[{"neuron_id":1,"_links":{"x":1}},
            [1,"a"],"s",null,{"neuron_id":3}]},"_links":{},"page":{"totalElements":5}}"#;
        let mut seen = Vec::new();
        let (page, entries) = walk_page(text, &|k| k != "_links", &mut |i, e| {
            seen.push(match e {
                Item::Object(r) => format!(
                    "{i}:{:?}",
                    r.iter().map(|(k, _)| k.to_string()).collect::<Vec<_>>()
                ),
                Item::Other(v) => format!("{i}:{}", serde_json::to_string(&v).unwrap()),
            })
        })
        .unwrap();
        assert_eq!(page.map(|p| p.total_elements), Some(5));
        assert_eq!(entries, 5);
        assert_eq!(
            seen,
            [
                r#"0:["neuron_id"]"#,
                r#"1:[1,"a"]"#,
                r#"2:"s""#,
                "3:null",
                r#"4:["neuron_id"]"#
            ]
        );
        // The text of an entry, found later.
        let shared = SharedPage::new(text.to_string());
        assert_eq!(shared.entry(4), r#"{"neuron_id":3}"#);
        assert_eq!(shared.entry(1), r#"[1,"a"]"#);
        assert_eq!(shared.entry(9), "");
        // Malformed, duplicated or missing parts are errors or nothing, never a panic.
        assert!(walk_page(
            r#"{"_embedded":{"neuronResources":[{"a":1},"#,
            &|_| true,
            &mut |_, _| {}
        )
        .is_err());
        assert!(walk_page(r#"{"page":{},"page":{}}"#, &|_| true, &mut |_, _| {}).is_err());
        assert_eq!(
            walk_page(r#"{"_embedded":null}"#, &|_| true, &mut |_, _| {}).unwrap(),
            (None, 0)
        );
        assert!(walk_page("[]", &|_| true, &mut |_, _| {}).is_err());
    }
}
