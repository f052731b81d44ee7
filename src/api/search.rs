//! Searching: the count, the first page at once, then every other page in parallel, handed
//! on in the server's order and checked against the count as they come.

use std::collections::HashSet;

use serde::Deserialize;
use serde_json::Value;

use std::sync::Arc;

use crate::archive::query::Query;
use crate::archive::sample::Limit;
use crate::archive::{FieldList, Neuron, NeuronPage, PageInfo, Placed, SharedPage, ValuePage};
use crate::client::{Client, Failure, Order, Req};
use crate::error::{Error, FailureKind, InvalidItem, Result};
use crate::util::id_set::IdSet;
use crate::util::suggest::closest;

/// Records per page: the server's maximum (neuromorphopy asks for 100).
pub(crate) const PAGE_SIZE: u64 = 500;

/// How many times a search starts over when the server's answers disagree with its count.
const SEARCH_ATTEMPTS: u32 = 2;

/// Pages fetched ahead of the one being handed on, at most (whatever the concurrency): the
/// memory held by waiting pages stays bounded.
const MAX_WINDOW: u64 = 32;

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
        /// Entries of the page that are not records at all (not a JSON object).
        skipped: Vec<SkippedRecord>,
    },
}

/// A page handed on by the crate's own search ([`Client::search_with`]): its records with
/// their positions, and what the caller's parser made of it besides.
pub(crate) struct FetchedPage<O> {
    /// 0-based page number.
    pub number: u64,
    /// Pages in all.
    pub pages: u64,
    /// The records, each with its 0-based position in the page as sent.
    pub records: Placed<Neuron>,
    /// Entries of the page that are not records.
    pub skipped: Vec<SkippedRecord>,
    /// What the parser gave besides the records.
    pub extra: O,
}

/// What the crate's own search hands on.
pub(crate) enum PassEvent<O> {
    /// As [`SearchEvent::Started`].
    Started {
        total: u64,
        pages: u64,
        restart: bool,
    },
    /// One page.
    Page(FetchedPage<O>),
}

/// How a fetched page is read, on the worker that fetched it: its records (a
/// [`NeuronPage`]), and whatever else the caller takes from the same pass (a table's rows).
pub(crate) type PageParser<'p, O> =
    dyn Fn(&Arc<SharedPage>) -> serde_json::Result<(NeuronPage, O)> + Sync + 'p;

/// An entry of a page that is not a neuron record: it costs its row, not the search.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct SkippedRecord {
    /// 0-based page number.
    pub page: u64,
    /// 0-based position in the page.
    pub position: u64,
    /// What was there instead of an object, shortened.
    pub found: String,
}

impl std::fmt::Display for SkippedRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "entry {} of page {} is not a neuron record: {}",
            self.position,
            self.page,
            crate::util::text::escape(&self.found)
        )
    }
}

/// The `page` of an answer alone (for the count).
#[derive(Deserialize)]
struct PageCheck {
    page: PageInfo,
}

/// A search page, parsed on the worker that fetched it: pages are parsed on as many
/// threads as fetch them, and the caller's thread only hands records on.
struct SearchPage<O> {
    /// The total the page reports; `None` for an empty answer (a select past its end).
    total: Option<u64>,
    entries: u64,
    records: Placed<Neuron>,
    skipped: Vec<SkippedRecord>,
    /// What the caller's parser gave besides the records.
    extra: O,
}

impl<O: Default> Default for SearchPage<O> {
    fn default() -> Self {
        SearchPage {
            total: None,
            entries: 0,
            records: Vec::new(),
            skipped: Vec::new(),
            extra: O::default(),
        }
    }
}

/// How a pass over the pages contradicted the count.
struct Contradiction {
    expected: u64,
    got: u64,
    detail: String,
}

impl Client {
    /// Number of neurons matching `query`: one request with `size=1`.
    ///
    /// The server answers a select with no hits with HTTP 404; that is a count of 0.
    pub fn count(&self, query: &Query) -> Result<u64> {
        let (url, mut params) = self.search_endpoint(query);
        params.push(("page", "0".into()));
        params.push(("size", "1".into()));
        match self.get_json::<PageCheck>(&url, &params, "the count", !query.is_all()) {
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
            Ok(p) => Ok(p.into_records().0),
            Err(Error::Request {
                kind: FailureKind::NotFound,
                ..
            }) if !query.is_all() => Ok(Vec::new()),
            Err(e) => Err(e),
        }
    }

    /// Every neuron matching `query`, in the server's order, each once. Entries that are not
    /// records are left out (with a warning); [`Client::search_each`] reports them.
    ///
    /// Holds the whole result in memory; for the whole catalog prefer [`Client::search_each`].
    pub fn search(&self, query: &Query) -> Result<Vec<Neuron>> {
        let mut all = Vec::new();
        self.search_each(query, |event| {
            match event {
                SearchEvent::Started { total, .. } => {
                    all.clear();
                    // A count is only a claim: reserve for a few pages, not for it.
                    all.reserve(usize::try_from(total.min(8 * PAGE_SIZE)).unwrap_or(0));
                }
                SearchEvent::Page {
                    neurons, skipped, ..
                } => {
                    for s in skipped {
                        log::warn!("{s}; left out");
                    }
                    all.extend(neurons)
                }
            }
            Ok(())
        })?;
        Ok(all)
    }

    /// Stream a search page by page: the count, the first page as soon as it arrives, then
    /// every other page fetched in parallel on the client's workers, handed to `on_event` in
    /// order on the calling thread (a small reordering window keeps memory flat).
    ///
    /// Every page is checked against the count as it comes: a page that reports another
    /// total, or an empty or short page before the last, stops the pass at once. The search
    /// then starts over once; if the answers still disagree the result is
    /// [`Error::Incomplete`] with the numbers — never a silently shorter list. An error
    /// returned by `on_event` stops the search and is returned. Returns the number of
    /// neurons.
    pub fn search_each<F>(&self, query: &Query, mut on_event: F) -> Result<u64>
    where
        F: FnMut(SearchEvent) -> Result<()>,
    {
        let plain = |shared: &Arc<SharedPage>| Ok((NeuronPage::of_shared(shared)?, ()));
        self.search_with(query, None, &plain, |event| {
            on_event(match event {
                PassEvent::Started {
                    total,
                    pages,
                    restart,
                } => SearchEvent::Started {
                    total,
                    pages,
                    restart,
                },
                PassEvent::Page(page) => SearchEvent::Page {
                    number: page.number,
                    pages: page.pages,
                    neurons: page.records.into_iter().map(|(_, n)| n).collect(),
                    skipped: page.skipped,
                },
            })
        })
    }

    /// [`Client::search_each`] with each page read by `parse` on the worker that fetched it
    /// (so that a table's rows are rendered there, in the same pass), handed on with the
    /// positions of its records. With a `limit`, only the pages that hold its first matches
    /// are asked for (the count still says how many match in all).
    pub(crate) fn search_with<O, F>(
        &self,
        query: &Query,
        limit: Option<Limit>,
        parse: &PageParser<'_, O>,
        mut on_event: F,
    ) -> Result<u64>
    where
        O: Send + Default,
        F: FnMut(PassEvent<O>) -> Result<()>,
    {
        let mut attempt = 0;
        loop {
            attempt += 1;
            let total = self.count(query)?;
            let pages = total.div_ceil(PAGE_SIZE);
            on_event(PassEvent::Started {
                total,
                pages,
                restart: attempt > 1,
            })?;
            if total == 0 {
                return Ok(0);
            }
            let contradiction = match self.one_pass(query, total, limit, parse, &mut on_event)? {
                None => return Ok(total),
                Some(c) => c,
            };
            if attempt < SEARCH_ATTEMPTS {
                log::warn!(
                    "the server's answers changed during the search ({}); starting over",
                    contradiction.detail
                );
                continue;
            }
            log::warn!(
                "the server's answers are inconsistent: {}",
                contradiction.detail
            );
            return Err(Error::Incomplete {
                expected: contradiction.expected,
                got: contradiction.got,
                detail: contradiction.detail,
            });
        }
    }

    /// Fetch and hand on every page once; `Some` when the answers contradicted the count.
    fn one_pass<O, F>(
        &self,
        query: &Query,
        total: u64,
        limit: Option<Limit>,
        parse: &PageParser<'_, O>,
        on_event: &mut F,
    ) -> Result<Option<Contradiction>>
    where
        O: Send + Default,
        F: FnMut(PassEvent<O>) -> Result<()>,
    {
        let (url, base_params) = self.search_endpoint(query);
        let pages = total.div_ceil(PAGE_SIZE);
        // A limit needs only its first pages: the last of them may be short only when it
        // is the last page of all.
        let wanted = limit.map_or(pages, |l| l.pages_needed(total, PAGE_SIZE));
        let expect = if wanted == pages {
            total
        } else {
            wanted.saturating_mul(PAGE_SIZE)
        };
        let fetch = |page: u64| -> Result<SearchPage<O>> {
            let mut params = base_params.clone();
            params.push(("page", page.to_string()));
            params.push(("size", PAGE_SIZE.to_string()));
            match self.get_search_page(&url, &params, page, parse) {
                // A select past its last hit answers 404, like a select with no hits.
                Err(Error::Request {
                    kind: FailureKind::NotFound,
                    ..
                }) if !query.is_all() => Ok(SearchPage::default()),
                other => other,
            }
        };
        let mut check = PassCheck {
            total,
            expect,
            pages,
            received: 0,
            seen: IdSet::new(),
            announced: None,
            short: None,
        };
        // The first page alone: its records reach the caller at once (who may prepare the
        // parsing of the others from it), and a count that the first page already belies is
        // questioned before any other page is planned.
        let first = fetch(0)?;
        check.hand_on(0, first, on_event)?;
        if check.stopped() || wanted <= 1 {
            return Ok(check.finish());
        }
        // A page or two beyond the workers keeps them all busy; more would only hold pages
        // (a page in hand is about 1 MB).
        let window = (self.concurrency() as u64 + 2).min(MAX_WINDOW);
        let result = self.workers()?.run(
            wanted - 1,
            Order::InOrder { window },
            &self.cancel,
            |i| fetch(i + 1),
            |i, raw| {
                check.hand_on(i + 1, raw?, on_event)?;
                if check.stopped() {
                    // Stop the workers: this pass is void.
                    return Err(Error::Cancelled);
                }
                Ok(())
            },
        );
        match result {
            Err(Error::Cancelled) if check.stopped() => {}
            other => other?,
        }
        Ok(check.finish())
    }

    /// One page of a search, read by `parse`: a malformed answer (or one without its `page`)
    /// is retried like any other failure.
    fn get_search_page<O>(
        &self,
        url: &str,
        query: &[(&str, String)],
        number: u64,
        parse: &PageParser<'_, O>,
    ) -> Result<SearchPage<O>> {
        let req = Req::api(url, query).quiet_not_found(true);
        self.request(&req, |mut answer| {
            let bytes = answer.read_to_vec()?;
            let bad = |detail: String| Failure::new(FailureKind::BadJson, detail);
            let malformed = |e: serde_json::Error| {
                bad(format!("malformed JSON from page {number}")).with_cause(e)
            };
            let shared = SharedPage::from_bytes(bytes).map_err(malformed)?;
            let (parsed, extra) = parse(&shared).map_err(malformed)?;
            let info = parsed.info.ok_or_else(|| {
                bad(format!(
                    "malformed JSON from page {number}: no `page` object"
                ))
            })?;
            Ok(SearchPage {
                total: Some(info.total_elements),
                entries: parsed.entries,
                records: parsed.records,
                skipped: parsed
                    .skipped
                    .into_iter()
                    .map(|(i, v)| SkippedRecord {
                        page: number,
                        position: i as u64,
                        found: v.to_string().chars().take(80).collect(),
                    })
                    .collect(),
                extra,
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
            crate::archive::files::encode_segment(field)
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
                    Value::String(s) => s,
                    Value::Null => continue,
                    other => other.to_string(),
                };
                if seen.insert(s.clone()) {
                    values.push(s);
                }
            }
        };
        take(first);
        if pages > 1 {
            self.workers()?.run(
                pages - 1,
                Order::InOrder { window: MAX_WINDOW },
                &self.cancel,
                |i| self.get_json::<ValuePage>(&url, &params(i + 1), &what(i + 1), false),
                |_, page| {
                    take(page?);
                    Ok(())
                },
            )?;
        }
        Ok(values)
    }

    /// Check a query against the server: every field (and the sort field) must be queryable
    /// and every value known. Errors list each offending item with up to five closest valid
    /// ones.
    ///
    /// Values of `neuron_id`, `neuron_name`, `reference_pmid` and `reference_doi` (one per
    /// neuron or paper, too many to list), wildcards (`*`, `?`) and ranges (`[a TO b]`) are
    /// not checked.
    pub fn validate(&self, query: &Query) -> Result<()> {
        if query.is_all() && query.sort().is_none() {
            return Ok(());
        }
        let fields = self.fields()?;
        let mut problems = Vec::new();
        for (field, values) in query.filters() {
            if !fields.iter().any(|f| f == field) {
                problems.push(InvalidItem::new(field, None, closest(field, &fields)));
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
                    problems.push(InvalidItem::new(field, Some(v), closest(v, &known)));
                }
            }
        }
        if let Some(sort) = query.sort() {
            if !fields.contains(&sort.field) {
                let mut item = InvalidItem::new(&sort.field, None, closest(&sort.field, &fields));
                item.field = format!("{} (sort)", sort.field);
                problems.push(item);
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(Error::InvalidQuery(problems))
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
}

/// What one pass over the pages checks as each page is handed on.
struct PassCheck {
    total: u64,
    /// Entries the pages asked for should hold: `total`, or a limit's whole pages.
    expect: u64,
    pages: u64,
    received: u64,
    seen: IdSet,
    /// The first total a page reported that differs from the count (the pass goes on, to
    /// count what arrives).
    announced: Option<(u64, String)>,
    /// A page before the last that is short or empty: the count is wrong, the pass stops.
    short: Option<String>,
}

impl PassCheck {
    fn stopped(&self) -> bool {
        self.short.is_some()
    }

    /// Check page `number` against the count; hand its records on if it agrees.
    fn hand_on<O, F>(&mut self, number: u64, page: SearchPage<O>, on_event: &mut F) -> Result<()>
    where
        F: FnMut(PassEvent<O>) -> Result<()>,
    {
        let total = self.total;
        if let Some(reported) = page.total.filter(|&t| t != total) {
            if self.announced.is_none() {
                self.announced = Some((
                    reported,
                    format!("page {number} reports {reported} neurons, the count said {total}"),
                ));
            }
        }
        if number + 1 < self.pages && page.entries < PAGE_SIZE {
            self.short = Some(format!(
                "page {} of {} holds {} records, not the {PAGE_SIZE} the count of {total} implies",
                number + 1,
                self.pages,
                page.entries
            ));
            return Ok(());
        }
        self.received += page.entries;
        let mut placed = page.records;
        placed.retain(|(_, n)| match n.neuron_id() {
            Some(id) => {
                let fresh = self.seen.insert(id);
                if !fresh {
                    log::warn!("neuron_id {id} was sent twice (page {number}); kept once");
                }
                fresh
            }
            None => true,
        });
        on_event(PassEvent::Page(FetchedPage {
            number,
            pages: self.pages,
            records: placed,
            skipped: page.skipped,
            extra: page.extra,
        }))
    }

    fn finish(self) -> Option<Contradiction> {
        let (total, got) = (self.expect, self.received);
        if let Some(detail) = self.short {
            return Some(Contradiction {
                expected: total,
                got,
                detail,
            });
        }
        match self.announced {
            None if got == total => None,
            None => Some(Contradiction {
                expected: total,
                got,
                detail: format!("the pages brought {got} of the {total} the count announced"),
            }),
            // Name the announcement that the neurons received contradict.
            Some((announced, detail)) => Some(Contradiction {
                expected: if got != total { total } else { announced },
                got,
                detail,
            }),
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
