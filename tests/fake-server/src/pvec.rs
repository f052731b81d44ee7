//! Persistence vectors (`/api/pvec/id/{id}`, `/api/pvec/select`), in the layout of the API
//! notes (§3.9): a record `{"neuron_id", "scaling_factor", "distance", "coefficients": [100
//! numbers]}`, the select's list under `_embedded.pvecs`.
//!
//! Every row with an id has a vector derived from its id, except the rows whose id is 3
//! modulo 7 (none, as many real neurons have none). The numbers are full-precision doubles,
//! so a client that rounds them is caught. The server can also refuse the batched form, leave
//! ids out of select answers that `/id/{id}` still serves, and serve records of 99
//! coefficients ([`super::FakeServer::set_refuse_pvec_batch`],
//! [`super::FakeServer::set_pvec_select_omits`], [`super::FakeServer::set_pvec_malformed`]).

use serde_json::{Map, Value};
use std::sync::atomic::Ordering;

use super::catalog::{Catalog, FieldRef};
use super::handlers::{envelope, parse_paging, PageSpec, MAX_PAGE_SIZE};
use super::http::{encode_keeping, json_error, lock, Request, Response};
use super::server::Shared;
use super::tables::splitmix64;

/// Coefficients in a vector.
pub const PVEC_LEN: usize = 100;

/// A double in `[lo, hi)` from `(id, k)`, with all 53 bits of its mantissa used.
fn unit(id: u64, k: u64, lo: f64, hi: f64) -> f64 {
    let bits = splitmix64(splitmix64(id ^ 0x7076_6563_0000_0000).wrapping_add(k));
    lo + (bits >> 11) as f64 / (1u64 << 53) as f64 * (hi - lo)
}

impl Catalog {
    /// Whether row `i` has a persistence vector: every row with an id, but those whose id is
    /// 3 modulo 7.
    pub fn has_pvec(&self, i: usize) -> bool {
        self.id(i).is_some_and(|id| id % 7 != 3)
    }

    /// Row `i`'s persistence vector as the API serves it (None without one).
    pub fn pvec_value(&self, i: usize) -> Option<Value> {
        if !self.has_pvec(i) {
            return None;
        }
        let id = self.id(i)?;
        let mut m = Map::new();
        m.insert("neuron_id".into(), id.into());
        m.insert("scaling_factor".into(), unit(id, 1, 0.05, 2.0).into());
        m.insert("distance".into(), unit(id, 0, 10.0, 900.0).into());
        let coefficients: Vec<Value> = (0..PVEC_LEN as u64)
            .map(|k| unit(id, 100 + k, 0.0, 1.0).into())
            .collect();
        m.insert("coefficients".into(), Value::Array(coefficients));
        Some(Value::Object(m))
    }

    /// Fields the pvec select accepts.
    fn resolve_pvec_field(&self, name: &str) -> Option<FieldRef> {
        matches!(name, "neuron_id" | "Neuron_id").then(|| FieldRef {
            key: "neuron_id".to_string(),
            elem: None,
        })
    }
}

impl Shared {
    /// Row `i`'s vector as served now: cut to 99 coefficients when the id is set malformed.
    fn pvec_served(&self, i: usize) -> Option<Value> {
        let mut v = self.catalog.pvec_value(i)?;
        let id = self.catalog.id(i)?;
        if lock(&self.pvec_malformed).contains(&id) {
            if let Some(Value::Array(c)) = v.get_mut("coefficients") {
                c.pop();
            }
        }
        Some(v)
    }

    /// `/api/pvec/id/{id}`: the record, or 404.
    pub(super) fn pvec_one(&self, id: &str, path: &str) -> Response {
        let Ok(id) = id.parse::<u64>() else {
            return json_error(400, path, &format!("Invalid neuron id '{id}'"));
        };
        match self
            .catalog
            .index_of_id(id)
            .and_then(|i| self.pvec_served(i))
        {
            Some(v) => Response::json(v.to_string()),
            None => json_error(404, path, "Requested persistence vector not found"),
        }
    }

    /// `/api/pvec/select?q=neuron_id:1,2,3&page=0&size=500`: the vectors of the rows the
    /// query matches, by id, paged; 404 when none has one.
    pub(super) fn pvec_select(&self, req: &Request, delta: i64) -> Response {
        if self.refuse_pvec_batch.load(Ordering::SeqCst) {
            return json_error(400, &req.path, "Batch pvec queries are not supported");
        }
        let paging = match parse_paging(req, Some(MAX_PAGE_SIZE)) {
            Ok(p) => p,
            Err(e) => return json_error(400, &req.path, &e),
        };
        let Some(q) = req.param("q").filter(|q| !q.trim().is_empty()) else {
            return json_error(
                400,
                &req.path,
                "Required request parameter 'q' is not present",
            );
        };
        let catalog = &self.catalog;
        let clauses = match catalog.parse_query(q, &|f| catalog.resolve_pvec_field(f)) {
            Ok(c) => c,
            Err(e) => return json_error(400, &req.path, &e),
        };
        let omitted = lock(&self.pvec_select_omits).clone();
        let mut rows = catalog.filter(&clauses);
        rows.retain(|&i| catalog.has_pvec(i as usize));
        let before = rows.len();
        rows.retain(|&i| {
            catalog
                .id(i as usize)
                .is_some_and(|id| !omitted.contains(&id))
        });
        // Left out but counted: the answer claims more than it carries.
        let delta = if self.pvec_omits_counted.load(Ordering::SeqCst) {
            delta.saturating_add((before - rows.len()) as i64)
        } else {
            delta
        };
        rows.sort_by_key(|&i| catalog.id(i as usize));
        if rows.is_empty() {
            return json_error(404, &req.path, "No persistence vectors found");
        }
        let spec = PageSpec {
            collection: "pvecs",
            link_base: format!(
                "{}{}?q={}&",
                self.link_origin(req),
                req.path,
                encode_keeping(q, b"-._~:,*")
            ),
            sort: None,
            paging,
            total_delta: delta,
            announced: None,
        };
        Response::json(envelope(&spec, &rows, &mut |i, out| {
            if let Some(v) = self.pvec_served(i) {
                out.extend_from_slice(v.to_string().as_bytes());
            }
        }))
    }
}
