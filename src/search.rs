//! Searching: the count, then every page in parallel, delivered in the server's order.

use std::collections::{BTreeMap, HashSet};
use std::io::Read;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Condvar, Mutex};

use serde::de::{Deserializer, IgnoredAny, MapAccess, Visitor};
use serde::Deserialize;

use crate::client::{classify_io, Client, Failure, Kind};
use crate::error::{Error, FailureKind, InvalidItem, Result};
use crate::model::{FieldList, Neuron, NeuronPage, PageInfo, ValuePage};
use crate::query::Query;

/// Records per page: the server's maximum (neuromorphopy asks for 100).
pub const PAGE_SIZE: u64 = 500;

/// How many times a search starts over when the server's answers disagree with its count.
const SEARCH_ATTEMPTS: u32 = 2;

/// What a streaming search ([`Client::search_each`]) hands to its callback, in order.
#[derive(Debug)]
#[non_exhaustive]
pub enum SearchEvent {
    /// The count is known. Sent again (with `restart: true`) if the server's answers changed
    /// under us and the search starts over: discard what the earlier pages gave.
    Started {
        /// Neurons matching (`page.totalElements`).
        total: u64,
        /// Pages that will follow.
        pages: u64,
        /// True when this is a restart.
        restart: bool,
    },
    /// One page, in the server's order, duplicates (by `neuron_id`) removed.
    Page {
        /// 0-based page number.
        number: u64,
        /// Pages in all.
        pages: u64,
        /// The records.
        neurons: Vec<Neuron>,
    },
}

impl Client {
    /// Number of neurons matching `query`: one request with `size=1`.
    ///
    /// The server answers a select with no hits with HTTP 404; that is a count of 0.
    pub fn count(&self, query: &Query) -> Result<u64> {
        let (url, mut params) = self.search_endpoint(query);
        params.push(("page", "0".into()));
        params.push(("size", "1".into()));
        match self.get_json::<NeuronPage>(&url, &params, "the count", !query.is_all()) {
            Ok(p) => Ok(p.page.total_elements),
            Err(Error::Request {
                kind: FailureKind::NotFound,
                ..
            }) if !query.is_all() => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// The first `n` neurons matching `query` (at most 500): one request.
    pub fn first(&self, query: &Query, n: u64) -> Result<Vec<Neuron>> {
        let (url, mut params) = self.search_endpoint(query);
        params.push(("page", "0".into()));
        params.push(("size", n.clamp(1, PAGE_SIZE).to_string()));
        match self.get_json::<NeuronPage>(&url, &params, "the first page", !query.is_all()) {
            Ok(p) => Ok(p.embedded.map(|e| e.neurons).unwrap_or_default()),
            Err(Error::Request {
                kind: FailureKind::NotFound,
                ..
            }) if !query.is_all() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Every neuron matching `query`, in the server's order, each once.
    ///
    /// Holds the whole result in memory; for the whole catalog prefer [`Client::search_each`].
    pub fn search(&self, query: &Query) -> Result<Vec<Neuron>> {
        let mut all = Vec::new();
        self.search_each(query, |event| {
            match event {
                SearchEvent::Started { total, .. } => {
                    all.clear();
                    all.reserve(total.min(1_000_000) as usize);
                }
                SearchEvent::Page { neurons, .. } => all.extend(neurons),
            }
            Ok(())
        })?;
        Ok(all)
    }

    /// Stream a search page by page: the count, then every page fetched in parallel on a
    /// thread pool of the client's concurrency, handed to `on_event` in order on the calling
    /// thread (a small reordering window keeps memory flat).
    ///
    /// The number received is checked against the count. If the server's answers change
    /// meanwhile (a page reports another total, or pages bring more or fewer neurons), the
    /// search starts over once; if it still disagrees the result is
    /// [`Error::Incomplete`] — never a silently shorter list. Returns the number of neurons.
    pub fn search_each<F>(&self, query: &Query, mut on_event: F) -> Result<u64>
    where
        F: FnMut(SearchEvent) -> Result<()>,
    {
        let (url, base_params) = self.search_endpoint(query);
        let mut attempt = 0;
        loop {
            attempt += 1;
            let total = self.count(query)?;
            let pages = total.div_ceil(PAGE_SIZE);
            on_event(SearchEvent::Started {
                total,
                pages,
                restart: attempt > 1,
            })?;
            if total == 0 {
                return Ok(0);
            }
            let mut seen: HashSet<u64> = HashSet::with_capacity(total.min(1 << 20) as usize);
            let mut received = 0u64;
            let mut inconsistent: Option<String> = None;
            // What the server announced last: the count, or a page that disagreed with it.
            let mut announced = total;
            let fetch = |page: u64| -> Result<RawPage> {
                let mut params = base_params.clone();
                params.push(("page", page.to_string()));
                params.push(("size", PAGE_SIZE.to_string()));
                let what = format!("page {page} of {url}");
                match self.get_raw_page(&url, &params, &what) {
                    // A select past its last hit answers 404, like a select with no hits.
                    Err(Error::Request {
                        kind: FailureKind::NotFound,
                        ..
                    }) if !query.is_all() => Ok(RawPage::default()),
                    other => other,
                }
            };
            self.fetch_ordered(pages, fetch, |number, raw| {
                if raw.total != total && inconsistent.is_none() {
                    announced = raw.total;
                    inconsistent = Some(format!(
                        "page {number} reports {} neurons, the count said {total}",
                        raw.total
                    ));
                }
                let mut neurons = raw.into_neurons(&url, number)?;
                neurons.retain(|n| match n.neuron_id {
                    Some(id) => {
                        let fresh = seen.insert(id);
                        if !fresh {
                            log::warn!("neuron_id {id} was sent twice (page {number}); kept once");
                        }
                        fresh
                    }
                    None => true,
                });
                received += neurons.len() as u64;
                on_event(SearchEvent::Page {
                    number,
                    pages,
                    neurons,
                })
            })?;
            if received != total && inconsistent.is_none() {
                inconsistent = Some(format!("expected {total} neurons, got {received}"));
            }
            match inconsistent {
                None => return Ok(total),
                Some(why) if attempt < SEARCH_ATTEMPTS => {
                    log::warn!(
                        "the server's answers changed during the search ({why}); starting over"
                    );
                }
                Some(why) => {
                    log::warn!("the server's answers are inconsistent: {why}");
                    // Name the announcement that the neurons received contradict.
                    let expected = if total != received { total } else { announced };
                    return Err(Error::Incomplete {
                        expected,
                        got: received,
                    });
                }
            }
        }
    }

    /// One page of a search as its JSON text, checked (valid JSON, a `page`, every record an
    /// object) so that a malformed answer is retried like any other, but not yet parsed into
    /// records: a parsed record costs several times its text (~10 KB for 1.5 KB of JSON, in
    /// order-preserving maps), so the pages waiting in the reordering window stay as text
    /// and only the page being handed on is parsed.
    fn get_raw_page(&self, url: &str, query: &[(&str, String)], what: &str) -> Result<RawPage> {
        self.request(Kind::Api, url, query, false, |resp| {
            // Sized from Content-Length: read_to_end doubling from empty would hold ~1 MB
            // for a 0.75 MB page, and every waiting page keeps its buffer.
            let limit: u64 = 64 << 20;
            let announced = resp.body().content_length().unwrap_or(0).min(limit);
            let mut bytes = Vec::with_capacity(announced as usize);
            resp.into_body()
                .into_with_config()
                .limit(limit)
                .reader()
                .read_to_end(&mut bytes)
                .map_err(|e| classify_io(&e))?;
            let check: PageCheck = serde_json::from_slice(&bytes).map_err(|e| {
                Failure::new(
                    FailureKind::BadJson,
                    format!("malformed JSON from {what}: {e}"),
                )
            })?;
            Ok(RawPage {
                bytes,
                total: check.page.total_elements,
            })
        })
    }

    /// The queryable fields (`/api/neuron/fields`).
    pub fn fields(&self) -> Result<Vec<String>> {
        let url = self.api_url("neuron/fields");
        Ok(self
            .get_json::<FieldList>(&url, &[], "the field list", false)?
            .fields)
    }

    /// Every value of `field`, following every page of `/api/neuron/fields/{field}`
    /// (neuromorphopy reads only the first page and so rejects valid values).
    pub fn field_values(&self, field: &str) -> Result<Vec<String>> {
        let url = self.api_url(&format!(
            "neuron/fields/{}",
            crate::download::encode_segment(field)
        ));
        let params = |page: u64| vec![("page", page.to_string()), ("size", PAGE_SIZE.to_string())];
        let what = |page: u64| format!("page {page} of the values of '{field}'");
        let first: ValuePage = self.get_json(&url, &params(0), &what(0), false)?;
        let pages = first.page.map(|p| p.total_pages).unwrap_or(1).max(1);
        let mut values = Vec::new();
        let mut seen = HashSet::new();
        let mut take = |page: ValuePage| {
            for v in page.fields {
                let s = match v {
                    serde_json::Value::String(s) => s,
                    serde_json::Value::Null => continue,
                    other => other.to_string(),
                };
                if seen.insert(s.clone()) {
                    values.push(s);
                }
            }
        };
        take(first);
        if pages > 1 {
            self.fetch_ordered(
                pages - 1,
                |i| self.get_json::<ValuePage>(&url, &params(i + 1), &what(i + 1), false),
                |_, page| {
                    take(page);
                    Ok(())
                },
            )?;
        }
        Ok(values)
    }

    /// Check a query against the server: every field must be queryable and every value
    /// known. Errors list each offending item with up to five closest valid ones.
    ///
    /// Values of `neuron_id`, `neuron_name`, `reference_pmid` and `reference_doi` (one per
    /// neuron or paper, too many to list), wildcards (`*`, `?`) and ranges (`[a TO b]`) are
    /// not checked.
    pub fn validate(&self, query: &Query) -> Result<()> {
        if query.is_all() {
            return Ok(());
        }
        let fields = self.fields()?;
        let mut problems = Vec::new();
        for (field, values) in query.filters() {
            if !fields.iter().any(|f| f == field) {
                problems.push(InvalidItem {
                    field: field.clone(),
                    value: None,
                    suggestions: closest(field, &fields),
                });
                continue;
            }
            if SKIP_VALUE_CHECK.contains(&field.as_str()) {
                continue;
            }
            let checkable: Vec<&String> = values
                .iter()
                .filter(|v| !v.contains(['*', '?']) && !v.starts_with('['))
                .collect();
            if checkable.is_empty() {
                continue;
            }
            let known = self.field_values(field)?;
            for v in checkable {
                if !known.iter().any(|k| k == v) {
                    problems.push(InvalidItem {
                        field: field.clone(),
                        value: Some(v.clone()),
                        suggestions: closest(v, &known),
                    });
                }
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::Invalid(problems))
        }
    }

    /// `/api/neuron` for the whole catalog, `/api/neuron/select` with `q`/`fq` otherwise.
    pub(crate) fn search_endpoint(&self, query: &Query) -> (String, Vec<(&'static str, String)>) {
        let mut params = Vec::new();
        let url = if query.is_all() {
            self.api_url("neuron")
        } else {
            params = query.select_params();
            self.api_url("neuron/select")
        };
        params.push(("sort", query.sort_param()));
        (url, params)
    }

    /// Fetch items `0..count` on a thread pool of the client's concurrency and hand them to
    /// `emit` in order on the calling thread. Workers stay at most a window of 2 x
    /// concurrency ahead of `emit`, so memory does not grow with `count`. The first error
    /// (from `fetch` or `emit`) stops the work and is returned.
    pub(crate) fn fetch_ordered<T, F, E>(&self, count: u64, fetch: F, mut emit: E) -> Result<()>
    where
        T: Send,
        F: Fn(u64) -> Result<T> + Sync,
        E: FnMut(u64, T) -> Result<()>,
    {
        if count == 0 {
            return Ok(());
        }
        let workers = (self.concurrency() as u64).min(count) as usize;
        // Ahead of the consumer by at most this many items, whatever the concurrency: the
        // memory held by waiting pages stays bounded (a consumer writing CSV is CPU-bound).
        let window = (2 * self.concurrency() as u64).min(32);
        let pool = self.thread_pool("page")?;
        let next = AtomicU64::new(0);
        let stop = AtomicBool::new(false);
        let emitted = Mutex::new(0u64);
        let advanced = Condvar::new();
        let (tx, rx) = mpsc::channel::<(u64, Result<T>)>();
        let mut first_error = None;
        std::thread::scope(|threads| {
            let (next, stop, emitted, advanced, fetch) =
                (&next, &stop, &emitted, &advanced, &fetch);
            threads.spawn(move || {
                pool.scope(|s| {
                    for _ in 0..workers {
                        let tx = tx.clone();
                        s.spawn(move |_| loop {
                            if stop.load(Ordering::Relaxed) {
                                break;
                            }
                            let k = next.fetch_add(1, Ordering::Relaxed);
                            if k >= count {
                                break;
                            }
                            {
                                let mut done = emitted.lock().unwrap_or_else(|p| p.into_inner());
                                while k >= *done + window && !stop.load(Ordering::Relaxed) {
                                    done = advanced.wait(done).unwrap_or_else(|p| p.into_inner());
                                }
                            }
                            if stop.load(Ordering::Relaxed) || tx.send((k, fetch(k))).is_err() {
                                break;
                            }
                        });
                    }
                    drop(tx);
                });
            });
            let mut pending: BTreeMap<u64, Result<T>> = BTreeMap::new();
            let mut want = 0u64;
            for (k, r) in rx.iter() {
                if first_error.is_some() {
                    continue; // drain so that workers can finish
                }
                pending.insert(k, r);
                while let Some(r) = pending.remove(&want) {
                    let result = r.and_then(|t| emit(want, t));
                    want += 1;
                    *emitted.lock().unwrap_or_else(|p| p.into_inner()) = want;
                    advanced.notify_all();
                    if let Err(e) = result {
                        first_error = Some(e);
                        stop.store(true, Ordering::Relaxed);
                        advanced.notify_all();
                        pending.clear();
                        break;
                    }
                }
            }
        });
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }
}

/// Fields with one value per neuron or per paper: too many to list for a check.
const SKIP_VALUE_CHECK: &[&str] = &[
    "neuron_id",
    "neuron_name",
    "reference_pmid",
    "reference_doi",
];

/// A search page as received ([`Client::get_raw_page`]); empty for a select past its last hit.
#[derive(Default)]
struct RawPage {
    bytes: Vec<u8>,
    total: u64,
}

impl RawPage {
    /// The records (on the calling thread, one page at a time). Fails after the check only
    /// for invalid UTF-8 inside a string (the check skips strings without decoding them).
    fn into_neurons(self, url: &str, number: u64) -> Result<Vec<Neuron>> {
        if self.bytes.is_empty() {
            return Ok(Vec::new());
        }
        let page: NeuronPage = serde_json::from_slice(&self.bytes).map_err(|e| Error::Request {
            url: url.to_string(),
            kind: FailureKind::BadJson,
            detail: format!("malformed JSON from page {number} of {url}: {e}"),
        })?;
        Ok(page.embedded.map(|e| e.neurons).unwrap_or_default())
    }
}

/// What [`Client::get_raw_page`] checks, without building anything.
#[derive(Deserialize)]
struct PageCheck {
    #[serde(rename = "_embedded", default)]
    _embedded: Option<EmbeddedCheck>,
    page: PageInfo,
}

#[derive(Deserialize)]
struct EmbeddedCheck {
    #[serde(rename = "neuronResources", default)]
    _neurons: Vec<ObjectCheck>,
}

/// A JSON object, skipped (a record that is not an object is refused, as by `Neuron`).
struct ObjectCheck;

impl<'de> Deserialize<'de> for ObjectCheck {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        struct Skip;
        impl<'de> Visitor<'de> for Skip {
            type Value = ObjectCheck;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a neuron record (a JSON object)")
            }
            fn visit_map<A: MapAccess<'de>>(
                self,
                mut m: A,
            ) -> std::result::Result<ObjectCheck, A::Error> {
                while m.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
                Ok(ObjectCheck)
            }
        }
        d.deserialize_map(Skip)
    }
}

/// Up to five candidates closest to `wanted`: case-insensitive equality first, then
/// prefix/substring matches, then by edit distance.
pub(crate) fn closest(wanted: &str, candidates: &[String]) -> Vec<String> {
    let w = wanted.to_lowercase();
    let limit = (w.chars().count() / 2).max(3);
    let mut scored: Vec<(usize, &String)> = candidates
        .iter()
        .filter_map(|c| {
            let l = c.to_lowercase();
            let score = if l == w {
                0
            } else if l.starts_with(&w) || w.starts_with(&l) || l.contains(&w) {
                1
            } else {
                let d = levenshtein(&w, &l);
                if d > limit {
                    return None;
                }
                1 + d
            };
            Some((score, c))
        })
        .collect();
    scored.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.cmp(b.1)));
    scored.into_iter().take(5).map(|(_, c)| c.clone()).collect()
}

fn levenshtein(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suggestions_rank_close_names_first() {
        let fields: Vec<String> = ["species", "strain", "stain", "brain_region", "cell_type"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(closest("specie", &fields)[0], "species");
        assert_eq!(closest("Brain_Region", &fields)[0], "brain_region");
        assert!(closest("zzzzzzzzzzzz", &fields).is_empty());
        assert_eq!(levenshtein("kitten", "sitting"), 3);
    }
}
