//! Persistence vectors: the archive's ready-made topological feature of each neuron (a
//! distance, a scaling factor and 100 coefficients), asked for by id the way morphometry is
//! (see [`super::by_id`]).

use serde_json::{Map, Value};

use crate::client::Client;
use crate::error::Result;

use super::by_id::{id_of, IdSelect};

/// Coefficients in a persistence vector.
pub const PVEC_COEFFICIENTS: usize = 100;

/// A neuron's persistence vector, as `/api/pvec` serves it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct PersistenceVector {
    /// The neuron's id.
    pub neuron_id: u64,
    /// The record's `distance`.
    pub distance: f64,
    /// The record's `scaling_factor`.
    pub scaling_factor: f64,
    /// Exactly [`PVEC_COEFFICIENTS`] coefficients (`coeff00` .. `coeff99`).
    pub coefficients: Vec<f64>,
}

/// A record the server sent for a neuron that is not a usable persistence vector.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct InvalidPvec {
    /// The neuron it was asked for.
    pub neuron_id: u64,
    /// What is wrong with it, one line.
    pub why: String,
}

/// The outcome of [`Client::persistence_vectors`]: every id asked is in exactly one of
/// `vectors`, `missing` and `invalid` (each sorted by id).
#[derive(Debug, Clone, Default, PartialEq)]
#[non_exhaustive]
pub struct PvecBatch {
    /// The vectors found.
    pub vectors: Vec<PersistenceVector>,
    /// Ids the server has no vector for (neither the batch nor the one-id request).
    pub missing: Vec<u64>,
    /// Ids whose record is not a usable vector.
    pub invalid: Vec<InvalidPvec>,
    /// Select requests sent (one per batch of up to 500 ids).
    pub batch_requests: u64,
    /// Ids asked one by one at `/api/pvec/id/{id}` (the fallback).
    pub single_requests: u64,
}

impl PvecBatch {
    /// The vector of a neuron, if found.
    pub fn get(&self, neuron_id: u64) -> Option<&PersistenceVector> {
        self.vectors
            .binary_search_by_key(&neuron_id, |v| v.neuron_id)
            .ok()
            .and_then(|i| self.vectors.get(i))
    }
}

/// A number of a record: a JSON number or a numeric string, finite.
fn number(v: Option<&Value>, what: &str) -> std::result::Result<f64, String> {
    let x = match v {
        None | Some(Value::Null) => return Err(format!("no {what}")),
        Some(Value::Number(n)) => n.as_f64(),
        Some(Value::String(s)) => s.trim().parse::<f64>().ok(),
        Some(_) => None,
    };
    x.filter(|x| x.is_finite())
        .ok_or_else(|| format!("{what} is not a number"))
}

impl PersistenceVector {
    /// Read the record asked for `neuron_id`: `distance`, `scaling_factor` and 100
    /// coefficients (a `coefficients` array, or keys `coeff00` .. `coeff99`).
    pub(crate) fn from_record(
        neuron_id: u64,
        m: &Map<String, Value>,
    ) -> std::result::Result<PersistenceVector, String> {
        if let Some(named) = id_of(m).filter(|&id| id != neuron_id) {
            return Err(format!("the record names neuron_id {named}"));
        }
        let distance = number(m.get("distance"), "distance")?;
        let scaling_factor = number(m.get("scaling_factor"), "scaling_factor")?;
        let coefficients = match m.get("coefficients") {
            Some(Value::Array(items)) => {
                if items.len() != PVEC_COEFFICIENTS {
                    return Err(format!(
                        "{} coefficients, not {PVEC_COEFFICIENTS}",
                        items.len()
                    ));
                }
                items
                    .iter()
                    .enumerate()
                    .map(|(k, v)| number(Some(v), &format!("coefficient {k}")))
                    .collect::<std::result::Result<Vec<f64>, String>>()?
            }
            Some(_) => return Err("coefficients is not a list".into()),
            None => (0..PVEC_COEFFICIENTS)
                .map(|k| {
                    let key = format!("coeff{k:02}");
                    number(m.get(&key), &key)
                })
                .collect::<std::result::Result<Vec<f64>, String>>()
                .map_err(|e| {
                    if m.keys().any(|k| k.starts_with("coeff")) {
                        e
                    } else {
                        "no coefficients".to_string()
                    }
                })?,
        };
        Ok(PersistenceVector {
            neuron_id,
            distance,
            scaling_factor,
            coefficients,
        })
    }
}

impl Client {
    /// The persistence vectors of neurons by id (duplicates asked once): one
    /// `/api/pvec/select?q=neuron_id:1,2,3` request per batch of up to 500 ids, on the
    /// client's workers; for an id a batch answer lacks (or every id of a batch the server
    /// refuses), one `/api/pvec/id/{id}` request, where a 404 means the neuron has no vector.
    ///
    /// A record that is not a vector (not 100 coefficients, a value that is not a number) is
    /// listed in [`PvecBatch::invalid`], never a panic or an `Err`. The answer is held in
    /// memory (about 1 KB per neuron): for a whole catalog, ask a page's ids at a time. An `Err` is a request
    /// that failed after its retries, or [`Error::Cancelled`](crate::Error::Cancelled).
    ///
    /// ```no_run
    /// let client = neuromorpho::Client::new()?;
    /// let batch = client.persistence_vectors(&[1, 2, 3])?;
    /// for v in &batch.vectors {
    ///     println!("{}: distance {}, {} coefficients", v.neuron_id, v.distance, v.coefficients.len());
    /// }
    /// # Ok::<(), neuromorpho::Error>(())
    /// ```
    pub fn persistence_vectors(&self, ids: &[u64]) -> Result<PvecBatch> {
        self.pvec_batches(ids, true)
    }

    /// As [`Client::persistence_vectors`], but an id a select answer lacks is asked alone
    /// only when the answer says it holds more than it carried (or the batch is refused):
    /// what a job asks, where most missing ids simply have no vector and a request each
    /// would cost one request per such neuron.
    pub(crate) fn pvec_of_page(&self, ids: &[u64]) -> Result<PvecBatch> {
        self.pvec_batches(ids, false)
    }

    fn pvec_batches(&self, ids: &[u64], ask_missing: bool) -> Result<PvecBatch> {
        let spec = IdSelect {
            endpoint: "pvec",
            field: "neuron_id",
            collection: "pvecs",
            what: "persistence vector",
            ask_missing,
        };
        let mut found = self.select_by_id(&spec, ids)?;
        let mut asked: Vec<u64> = ids.to_vec();
        asked.sort_unstable();
        asked.dedup();
        let mut batch = PvecBatch {
            batch_requests: found.batches,
            single_requests: found.singles,
            ..PvecBatch::default()
        };
        for id in asked {
            match found.found.remove(&id) {
                None => batch.missing.push(id),
                Some(record) => match PersistenceVector::from_record(id, &record) {
                    Ok(v) => batch.vectors.push(v),
                    Err(why) => {
                        log::info!("persistence vector of neuron {id}: {why}");
                        batch.invalid.push(InvalidPvec { neuron_id: id, why });
                    }
                },
            }
        }
        Ok(batch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn record(v: Value) -> Map<String, Value> {
        v.as_object().cloned().unwrap_or_default()
    }

    #[test]
    fn records_are_read_exactly_or_said_why_not() {
        let coefficients: Vec<f64> = (0..100).map(|k| 0.1 * k as f64 + 1e-17).collect();
        let good = record(json!({
            "neuron_id": 7, "distance": 123.456, "scaling_factor": "0.5",
            "coefficients": coefficients,
        }));
        let v = PersistenceVector::from_record(7, &good).unwrap();
        assert_eq!((v.distance, v.scaling_factor), (123.456, 0.5));
        assert_eq!(v.coefficients, coefficients);

        let mut named = serde_json::Map::new();
        named.insert("distance".into(), json!(1.0));
        named.insert("scaling_factor".into(), json!(2.0));
        for k in 0..100 {
            named.insert(format!("coeff{k:02}"), json!(k));
        }
        let v = PersistenceVector::from_record(9, &named).unwrap();
        assert_eq!(v.coefficients[99], 99.0);

        let why = |v: Value| PersistenceVector::from_record(7, &record(v)).unwrap_err();
        let short: Vec<f64> = vec![0.0; 99];
        assert_eq!(
            why(json!({"distance": 1, "scaling_factor": 1, "coefficients": short})),
            "99 coefficients, not 100"
        );
        let mut bad: Vec<Value> = vec![json!(0.0); 100];
        bad[42] = json!("x");
        assert_eq!(
            why(json!({"distance": 1, "scaling_factor": 1, "coefficients": bad})),
            "coefficient 42 is not a number"
        );
        assert_eq!(why(json!({"scaling_factor": 1})), "no distance");
        assert_eq!(
            why(json!({"distance": 1, "scaling_factor": 1})),
            "no coefficients"
        );
        assert_eq!(
            why(json!({"distance": 1, "scaling_factor": 1, "coefficients": {}})),
            "coefficients is not a list"
        );
        assert_eq!(
            why(json!({"neuron_id": 8, "distance": 1})),
            "the record names neuron_id 8"
        );
        assert_eq!(
            why(json!({"distance": "NaN", "scaling_factor": 1})),
            "distance is not a number"
        );
    }
}
