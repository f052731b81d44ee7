//! Batched look-ups: neurons by name, morphometry by id (see [`super::by_id`]). Each batch is
//! one request.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::archive::{Neuron, NeuronPage};
use crate::client::{Client, Order};
use crate::error::{Error, FailureKind, Result};

use super::by_id::{IdSelect, BATCH};

/// Batches fetched ahead of the one being handed on.
const WINDOW: u64 = 8;

/// The outcome of [`Client::neurons_by_name`].
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct NameLookup {
    /// The records found, in the order the names were asked (each name once).
    pub found: Vec<Neuron>,
    /// The names the server does not know, in the order asked.
    pub missing: Vec<String>,
}
/// Keep a select URL well under the 8 KB request line many servers (Tomcat's default) accept.
const MAX_QUERY_CHARS: usize = 6000;

/// The morphometric measurements, as NeuroMorpho.Org names them (`/api/morphometry`).
pub const MORPHOMETRY_FIELDS: &[&str] = &[
    "soma_Surface",
    "n_stems",
    "n_bifs",
    "n_branch",
    "width",
    "height",
    "depth",
    "diameter",
    "length",
    "surface",
    "volume",
    "eucDistance",
    "pathDistance",
    "branch_Order",
    "contraction",
    "fragmentation",
    "partition_asymmetry",
    "pk_classic",
    "bif_ampl_local",
    "bif_ampl_remote",
    "fractal_Dim",
];

/// Prefix of the morphometry columns in the metadata table: the record already has
/// `surface`, `volume` and `soma_surface` of its own.
pub(crate) const MORPHOMETRY_PREFIX: &str = "morph_";

/// Split values into batches of at most [`BATCH`] items and about [`MAX_QUERY_CHARS`] characters.
fn batches<S: AsRef<str>>(values: &[S]) -> Vec<&[S]> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut chars = 0;
    for (i, v) in values.iter().enumerate() {
        let len = v.as_ref().len() + 1;
        if i > start && (i - start >= BATCH || chars + len > MAX_QUERY_CHARS) {
            out.push(&values[start..i]);
            start = i;
            chars = 0;
        }
        chars += len;
    }
    if start < values.len() {
        out.push(&values[start..]);
    }
    out
}

impl Client {
    /// Fetch the records of neurons by name: one select request per batch of up to 500
    /// names (fewer when names are long: a request line stays under 8 KB). Blank names are
    /// ignored, duplicates asked once.
    ///
    /// ```no_run
    /// let client = neuromorpho::Client::new()?;
    /// let lookup = client.neurons_by_name(["cnic_001", "no_such_neuron"])?;
    /// assert_eq!(lookup.missing, ["no_such_neuron"]);
    /// # Ok::<(), neuromorpho::Error>(())
    /// ```
    pub fn neurons_by_name<I, S>(&self, names: I) -> Result<NameLookup>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut unique: Vec<String> = Vec::new();
        let mut seen = HashSet::new();
        for n in names {
            let n = n.as_ref().trim();
            if !n.is_empty() && seen.insert(n.to_string()) {
                unique.push(n.to_string());
            }
        }
        let chunks = batches(&unique);
        let url = self.api_url("neuron/select");
        let mut found: HashMap<String, Neuron> = HashMap::with_capacity(unique.len());
        self.workers()?.run(
            chunks.len() as u64,
            Order::InOrder { window: WINDOW },
            &self.cancel,
            |i| {
                self.names_batch(
                    &url,
                    chunks.get(i as usize).copied().unwrap_or(&[]),
                    i,
                    chunks.len(),
                )
            },
            |_, neurons| {
                for n in neurons? {
                    found.insert(n.neuron_name().to_string(), n);
                }
                Ok(())
            },
        )?;
        let mut lookup = NameLookup::default();
        for name in unique {
            match found.remove(&name) {
                Some(n) => lookup.found.push(n),
                None => lookup.missing.push(name),
            }
        }
        Ok(lookup)
    }

    /// One batch of names: `q=neuron_name:a,b,"c,d"`.
    fn names_batch(&self, url: &str, chunk: &[String], i: u64, of: usize) -> Result<Vec<Neuron>> {
        let values: Vec<String> = chunk
            .iter()
            .map(|n| {
                if n.contains(',') {
                    format!("\"{n}\"")
                } else {
                    n.clone()
                }
            })
            .collect();
        let params = [
            ("q", format!("neuron_name:{}", values.join(","))),
            ("page", "0".into()),
            ("size", BATCH.to_string()),
            ("sort", "neuron_id,asc".into()),
        ];
        let what = format!("names batch {} of {of}", i + 1);
        match self.get_json::<NeuronPage>(url, &params, &what, true) {
            Ok(p) => Ok(p.into_records().0),
            // No name of the batch exists.
            Err(Error::Request {
                kind: FailureKind::NotFound,
                ..
            }) => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Morphometric measurements of neurons by id, as `neuron_id -> record`: one
    /// `/api/morphometry/select` request per 500 ids, and one `/api/morphometry/id/{id}`
    /// request per id when the server refuses the batched form. Ids without measurements
    /// are absent from the map.
    pub fn morphometry(&self, ids: &[u64]) -> Result<HashMap<u64, Map<String, Value>>> {
        let spec = IdSelect {
            endpoint: "morphometry",
            // `Neuron_id` with a capital N: the spelling NeuroMorpho's own tools use here.
            field: "Neuron_id",
            collection: "measurements",
            what: "morphometry",
            ask_missing: false,
        };
        Ok(self.select_by_id(&spec, ids)?.found)
    }
}

/// The morphometry columns for one neuron (`morph_length`, ...), in [`MORPHOMETRY_FIELDS`] order.
pub(crate) fn morphometry_columns(m: Option<&Map<String, Value>>) -> Vec<(String, Value)> {
    MORPHOMETRY_FIELDS
        .iter()
        .map(|f| {
            let v = m.and_then(|m| m.get(*f)).cloned().unwrap_or(Value::Null);
            (format!("{MORPHOMETRY_PREFIX}{f}"), v)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batches_respect_count_and_length() {
        let names: Vec<String> = (0..1201).map(|i| format!("n{i}")).collect();
        let b = batches(&names);
        assert_eq!(
            b.iter().map(|c| c.len()).collect::<Vec<_>>(),
            vec![500, 500, 201]
        );
        let long: Vec<String> = (0..100).map(|i| format!("{i:0>99}")).collect();
        let b = batches(&long);
        assert!(
            b.len() >= 2
                && b.iter()
                    .all(|c| c.iter().map(|n| n.len() + 1).sum::<usize>() <= MAX_QUERY_CHARS)
        );
        assert_eq!(b.iter().map(|c| c.len()).sum::<usize>(), 100);
    }
}
