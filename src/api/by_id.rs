//! Records asked for by neuron id, the way NeuroMorpho.Org's own tools ask for morphometry
//! and persistence vectors: one `/api/{endpoint}/select?q={field}:1,2,3` request per batch of
//! up to 500 ids, on the client's workers, and `/api/{endpoint}/id/{id}` for one id only as a
//! fallback — for every id of a batch the server refuses (a 4xx), and, when asked, for each
//! id a select answer lacks.

use std::collections::{HashMap, HashSet};

use serde_json::{Map, Value};

use crate::client::{Client, Order};
use crate::error::{Error, FailureKind, Result};

/// At most this many ids per select request (the server's largest page).
pub(crate) const BATCH: usize = 500;
/// Batches fetched ahead of the one being handed on.
const WINDOW: u64 = 8;

/// Where and how records of one kind are asked for.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdSelect<'a> {
    /// `/api/{endpoint}/select` and `/api/{endpoint}/id/{id}`: `morphometry`, `pvec`.
    pub endpoint: &'a str,
    /// The field the select's `q` names (`Neuron_id` for morphometry, as the official tool
    /// spells it there; `neuron_id` for persistence vectors).
    pub field: &'a str,
    /// The list under `_embedded` in a select answer (`measurements`, `pvecs`).
    pub collection: &'a str,
    /// What one record is, in messages (`morphometry`, `persistence vector`).
    pub what: &'a str,
    /// Ask `/id/{id}` for each id a select answer lacks, not only for a refused batch or
    /// an answer that says it holds more records than it carried.
    pub ask_missing: bool,
}

/// What the requests brought back: records by the id they were asked for, and how many
/// requests of each form it took.
#[derive(Debug, Default)]
pub(crate) struct ById {
    /// `neuron_id -> record`; ids without a record are absent.
    pub found: HashMap<u64, Map<String, Value>>,
    /// Select requests sent (one per batch).
    pub batches: u64,
    /// Ids asked one by one at `/id/{id}` (the fallback).
    pub singles: u64,
}

/// One batch's answer.
enum BatchAnswer {
    /// The records of the answer, by id (only ids that were asked); `short`: the answer's
    /// `page.totalElements` says it holds more records than it carried.
    Records(Vec<(u64, Map<String, Value>)>, bool),
    /// The server refused the batched form (a 4xx other than 404): ask per id.
    Refused,
}

/// The id a record names (`neuron_id`, or `Neuron_id`), as a number or a numeric string.
pub(crate) fn id_of(m: &Map<String, Value>) -> Option<u64> {
    match m.get("neuron_id").or_else(|| m.get("Neuron_id"))? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The ids once each, in the order first given.
fn unique(ids: &[u64]) -> Vec<u64> {
    let mut seen = HashSet::with_capacity(ids.len());
    ids.iter().copied().filter(|id| seen.insert(*id)).collect()
}

impl Client {
    /// Records of `spec`'s kind for `ids` (duplicates asked once); see the module docs.
    pub(crate) fn select_by_id(&self, spec: &IdSelect<'_>, ids: &[u64]) -> Result<ById> {
        let ids = unique(ids);
        let chunks: Vec<&[u64]> = ids.chunks(BATCH).collect();
        let url = self.api_url(&format!("{}/select", spec.endpoint));
        let mut out = ById {
            found: HashMap::with_capacity(ids.len()),
            ..ById::default()
        };
        let mut ask_one_by_one: Vec<u64> = Vec::new();
        self.workers()?.run(
            chunks.len() as u64,
            Order::InOrder { window: WINDOW },
            &self.cancel,
            |i| self.id_batch(spec, &url, chunks.get(i as usize).copied().unwrap_or(&[])),
            |i, answer| {
                out.batches += 1;
                let chunk = chunks.get(i as usize).copied().unwrap_or(&[]);
                match answer? {
                    BatchAnswer::Records(records, short) => {
                        out.found.extend(records);
                        if spec.ask_missing || short {
                            ask_one_by_one
                                .extend(chunk.iter().filter(|id| !out.found.contains_key(id)));
                        }
                    }
                    BatchAnswer::Refused => ask_one_by_one.extend_from_slice(chunk),
                }
                Ok(())
            },
        )?;
        if !ask_one_by_one.is_empty() {
            log::debug!(
                "asking {} {} record(s) one by one",
                ask_one_by_one.len(),
                spec.what
            );
            self.one_by_one(spec, &ask_one_by_one, &mut out)?;
        }
        Ok(out)
    }

    /// One batch: `q={field}:1,2,3&page=0&size=500`.
    fn id_batch(&self, spec: &IdSelect<'_>, url: &str, chunk: &[u64]) -> Result<BatchAnswer> {
        let list: Vec<String> = chunk.iter().map(u64::to_string).collect();
        let params = [
            ("q", format!("{}:{}", spec.field, list.join(","))),
            ("page", "0".into()),
            ("size", BATCH.to_string()),
        ];
        let what = format!("a {} batch", spec.what);
        match self.get_json::<Value>(url, &params, &what, true) {
            Ok(mut page) => {
                let asked: HashSet<u64> = chunk.iter().copied().collect();
                let claimed = page
                    .get("page")
                    .and_then(|p| p.get("totalElements"))
                    .and_then(Value::as_u64);
                let records = match page
                    .get_mut("_embedded")
                    .and_then(|e| e.get_mut(spec.collection))
                    .map(Value::take)
                {
                    Some(Value::Array(items)) => items,
                    _ => Vec::new(),
                };
                let short = claimed.is_some_and(|n| n > records.len() as u64);
                Ok(BatchAnswer::Records(
                    records
                        .into_iter()
                        .filter_map(|v| match v {
                            Value::Object(m) => Some(m),
                            _ => None,
                        })
                        .filter_map(|m| id_of(&m).filter(|id| asked.contains(id)).map(|id| (id, m)))
                        .collect(),
                    short,
                ))
            }
            // No id of the batch has a record.
            Err(Error::Request {
                kind: FailureKind::NotFound,
                ..
            }) => Ok(BatchAnswer::Records(Vec::new(), false)),
            Err(Error::Request {
                kind: FailureKind::Http4xx,
                detail,
                ..
            }) => {
                log::info!(
                    "batched {} refused ({}); asking per neuron",
                    spec.what,
                    crate::util::text::shown(&detail)
                );
                Ok(BatchAnswer::Refused)
            }
            Err(e) => Err(e),
        }
    }

    /// The fallback: `/api/{endpoint}/id/{id}` for each of `ids`; a 404 is no record.
    fn one_by_one(&self, spec: &IdSelect<'_>, ids: &[u64], out: &mut ById) -> Result<()> {
        let found = &mut out.found;
        let singles = &mut out.singles;
        self.workers()?.run(
            ids.len() as u64,
            Order::AsDone,
            &self.cancel,
            |i| {
                let id = ids.get(i as usize).copied().unwrap_or_default();
                let url = self.api_url(&format!("{}/id/{id}", spec.endpoint));
                match self.get_json::<Map<String, Value>>(&url, &[], spec.what, true) {
                    Ok(m) => Ok(Some((id, m))),
                    Err(Error::Request {
                        kind: FailureKind::NotFound,
                        ..
                    }) => Ok(None),
                    Err(e) => Err(e),
                }
            },
            |_, answer| {
                *singles += 1;
                if let Some((id, m)) = answer? {
                    found.insert(id, m);
                }
                Ok(())
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_read_as_numbers_or_numeric_text_and_asked_once() {
        let m = |v: Value| v.as_object().cloned().unwrap_or_default();
        assert_eq!(id_of(&m(serde_json::json!({"neuron_id": 7}))), Some(7));
        assert_eq!(id_of(&m(serde_json::json!({"Neuron_id": " 8 "}))), Some(8));
        assert_eq!(id_of(&m(serde_json::json!({"neuron_id": -1}))), None);
        assert_eq!(id_of(&m(serde_json::json!({"neuron_id": [1]}))), None);
        assert_eq!(unique(&[3, 1, 3, 2, 1]), [3, 1, 2]);
    }
}
