//! The request handlers: routing and the answers of each `/api/...` and `/dableFiles/...`
//! endpoint, with the paged envelope they share.

use serde_json::{Map, Value};
use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::faults::Category;
use super::http::{
    encode_keeping, json_error, lock, percent_decode, push_json_str, strip_context, Request,
    Response,
};
use super::query::parse_post_body;
use super::server::{Distinct, Hits, Shared};
use super::tables::NEURON_FIELDS;
use super::validators::{content_hash, etag, http_date, not_modified, release_secs};

pub(super) const DEFAULT_PAGE_SIZE: usize = 50;
pub(super) const MAX_PAGE_SIZE: usize = 500;
/// Past this many cached queries the cache is simply cleared (tests issue few distinct ones).
pub(super) const MAX_CACHED_QUERIES: usize = 512;

pub(super) const FORBIDDEN_HTML: &str =
    "<html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1></body></html>";

/// Paging parameters after validation.
pub(super) struct Paging {
    pub(super) page: usize,
    pub(super) size: usize,
}

pub(super) fn parse_paging(req: &Request, max: Option<usize>) -> Result<Paging, String> {
    let number = |name: &str, default: usize| match req.param(name) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| format!("Invalid value '{v}' for parameter '{name}'")),
    };
    let page = number("page", 0)?;
    let size = number("size", DEFAULT_PAGE_SIZE)?;
    if size == 0 {
        return Err("Page size must not be less than one".to_string());
    }
    Ok(Paging {
        page,
        size: max.map_or(size, |m| size.min(m)),
    })
}

/// Everything a paged envelope needs besides the rows.
pub(super) struct PageSpec<'a> {
    pub(super) collection: &'a str,
    /// `http://host/path?q=...&` (the links append `page`, `size`, `sort`).
    pub(super) link_base: String,
    pub(super) sort: Option<&'a str>,
    pub(super) paging: Paging,
    pub(super) total_delta: i64,
    /// [`super::FakeServer::set_announced_total`]: reported instead of the real hits.
    pub(super) announced: Option<u64>,
}

pub(super) fn envelope(
    spec: &PageSpec,
    rows: &[u32],
    render: &mut dyn FnMut(usize, &mut Vec<u8>),
) -> Vec<u8> {
    let Paging { page, size } = spec.paging;
    let total = rows.len();
    let base = spec
        .announced
        .map_or(total as i64, |n| i64::try_from(n).unwrap_or(i64::MAX));
    let reported = base.saturating_add(spec.total_delta).max(0) as usize;
    let pages = reported.div_ceil(size);
    let start = page.saturating_mul(size);
    let mut out = Vec::with_capacity(1024 + size.min(total) * 2048);
    out.push(b'{');
    if start < total {
        out.extend_from_slice(b"\"_embedded\":{");
        push_json_str(&mut out, spec.collection);
        out.extend_from_slice(b":[");
        for (n, &i) in rows[start..total.min(start.saturating_add(size))]
            .iter()
            .enumerate()
        {
            if n > 0 {
                out.push(b',');
            }
            render(i as usize, &mut out);
        }
        out.extend_from_slice(b"]},");
    }
    let sort = spec
        .sort
        .map(|s| format!("&sort={}", encode_keeping(s, b"-._~,")))
        .unwrap_or_default();
    let href = |k: usize| {
        format!(
            "{{\"href\":\"{}page={k}&size={size}{sort}\"}}",
            spec.link_base
        )
    };
    // Spring HATEOAS order: first, prev, self, next, last (prev/next only where they exist).
    let mut links = vec![format!("\"first\":{}", href(0))];
    if page > 0 {
        links.push(format!("\"prev\":{}", href(page - 1)));
    }
    links.push(format!("\"self\":{}", href(page)));
    if page + 1 < pages {
        links.push(format!("\"next\":{}", href(page + 1)));
    }
    links.push(format!("\"last\":{}", href(pages.max(1) - 1)));
    out.extend_from_slice(format!("\"_links\":{{{}}},", links.join(",")).as_bytes());
    out.extend_from_slice(
        format!("\"page\":{{\"size\":{size},\"totalElements\":{reported},\"totalPages\":{pages},\"number\":{page}}}}}")
            .as_bytes(),
    );
    out
}

impl Shared {
    /// `http://{Host}`, as Spring builds its links (so following `next` stays on this server).
    pub(super) fn link_origin(&self, req: &Request) -> String {
        match req.header("host") {
            Some(host) if !host.is_empty() => format!("http://{host}"),
            _ => format!("http://{}", self.addr),
        }
    }

    pub(super) fn route(&self, req: &Request, category: Category, delta: i64) -> Response {
        let path = strip_context(&req.path);
        let segments: Vec<String> = path.split('/').skip(1).map(percent_decode).collect();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        let method = req.method.as_str();
        if !matches!(method, "GET" | "HEAD" | "POST")
            || (method == "POST" && segments != ["api", "neuron", "select"])
        {
            return json_error(
                405,
                &req.path,
                &format!("Request method '{method}' is not supported"),
            );
        }
        if category == Category::Jsp {
            return Response::new(403, "text/html", FORBIDDEN_HTML);
        }
        let catalog = &self.catalog;
        match segments.as_slice() {
            ["api", "health"] => Response::json(r#"{"status":"UP"}"#),
            ["api", "neuron"] => self.neuron_list(req, delta),
            ["api", "neuron", "select"] => self.neuron_select(req, delta),
            ["api", "neuron", "id", id] => match id.parse::<u64>() {
                Ok(id) => self.record(catalog.index_of_id(id), &req.path),
                Err(_) => json_error(400, &req.path, &format!("Invalid neuron id '{id}'")),
            },
            ["api", "neuron", "name", name] => self.record(catalog.index_of_name(name), &req.path),
            ["api", "neuron", "fields"] => {
                let mut m = Map::new();
                m.insert("Neuron Fields".into(), NEURON_FIELDS.to_vec().into());
                Response::json(Value::Object(m).to_string())
            }
            ["api", "neuron", "fields", field] => self.field_values(req, field, delta),
            ["api", "neuron", "partition", field] => self.partition(req, field),
            ["api", "morphometry", "id", id] => match id.parse::<u64>() {
                Ok(id) => self.morphometry(catalog.index_of_id(id), &req.path),
                Err(_) => json_error(400, &req.path, &format!("Invalid neuron id '{id}'")),
            },
            ["api", "morphometry", "name", name] => {
                self.morphometry(catalog.index_of_name(name), &req.path)
            }
            ["api", "morphometry", "select"] => self.morphometry_select(req, delta),
            ["api", "pvec", "id", id] => self.pvec_one(id, &req.path),
            ["api", "pvec", "select"] => self.pvec_select(req, delta),
            ["dableFiles", dir, kind, file] => self.file(req, dir, kind, file),
            ["api", ..] => json_error(404, &req.path, "No handler found"),
            _ => Response::not_found_html(),
        }
    }

    pub(super) fn record(&self, index: Option<usize>, path: &str) -> Response {
        match index {
            Some(i) => Response::json(self.catalog.record_json(i)),
            None => json_error(404, path, "Requested neuron not found"),
        }
    }

    pub(super) fn cached_hits(&self, key: String, compute: impl FnOnce() -> Hits) -> Hits {
        let cell = {
            let mut cache = lock(&self.hits_cache);
            if cache.len() >= MAX_CACHED_QUERIES {
                cache.clear();
            }
            // The hits depend on the release being served (it adds rows).
            let key = format!("{}\u{1}{key}", self.catalog.release());
            cache.entry(key).or_default().clone()
        };
        // Computed outside the map's lock; concurrent requests for the same key wait here.
        cell.get_or_init(compute).clone()
    }

    pub(super) fn neuron_list(&self, req: &Request, delta: i64) -> Response {
        let (paging, sort) = match (
            parse_paging(req, Some(MAX_PAGE_SIZE)),
            self.catalog.parse_sort(req.param("sort")),
        ) {
            (Ok(p), Ok(s)) => (p, s),
            (Err(e), _) | (_, Err(e)) => return json_error(400, &req.path, &e),
        };
        let hits = self.cached_hits(format!("list\u{1}{}", sort.text), || {
            let mut rows: Vec<u32> = (0..self.catalog.len() as u32).collect();
            self.catalog.sort_rows(&mut rows, &sort);
            Ok(Arc::new(rows))
        });
        let rows = match hits {
            Ok(rows) => rows,
            Err(e) => return json_error(400, &req.path, &e),
        };
        let spec = PageSpec {
            collection: "neuronResources",
            link_base: format!("{}{}?", self.link_origin(req), req.path),
            sort: Some(&sort.text),
            paging,
            total_delta: delta,
            announced: *lock(&self.announced_total),
        };
        Response::json(envelope(&spec, &rows, &mut |i, out| {
            self.catalog.write_record(i, out)
        }))
    }

    pub(super) fn neuron_select(&self, req: &Request, delta: i64) -> Response {
        let (paging, sort) = match (
            parse_paging(req, Some(MAX_PAGE_SIZE)),
            self.catalog.parse_sort(req.param("sort")),
        ) {
            (Ok(p), Ok(s)) => (p, s),
            (Err(e), _) | (_, Err(e)) => return json_error(400, &req.path, &e),
        };
        let catalog = &self.catalog;
        let resolve = |f: &str| catalog.resolve_field(f);
        let fqs = req.params("fq");
        let (key, parsed, link_params) = if req.method == "POST" {
            let key = format!(
                "post\u{1}{}\u{1}{}",
                String::from_utf8_lossy(&req.body),
                sort.text
            );
            (key, parse_post_body(&req.body, &resolve), String::new())
        } else {
            let Some(q) = req.param("q").filter(|q| !q.trim().is_empty()) else {
                return json_error(
                    400,
                    &req.path,
                    "Required request parameter 'q' is not present",
                );
            };
            let mut parsed = catalog.parse_query(q, &resolve);
            let mut link_params = format!("q={}&", encode_keeping(q, b"-._~:,*"));
            for fq in &fqs {
                if let Ok(clauses) = parsed.as_mut() {
                    match catalog.parse_query(fq, &resolve) {
                        Ok(more) => clauses.extend(more),
                        Err(e) => parsed = Err(e),
                    }
                }
                link_params.push_str(&format!("fq={}&", encode_keeping(fq, b"-._~:,*")));
            }
            (
                format!("select\u{1}{q}\u{1}{}\u{1}{}", fqs.join("\u{2}"), sort.text),
                parsed,
                link_params,
            )
        };
        let clauses = match parsed {
            Ok(c) => c,
            Err(e) => return json_error(400, &req.path, &e),
        };
        let hits = self.cached_hits(key, || {
            let mut rows = catalog.filter(&clauses);
            catalog.sort_rows(&mut rows, &sort);
            Ok(Arc::new(rows))
        });
        let rows = match hits {
            Ok(rows) if rows.is_empty() => return json_error(404, &req.path, "No neurons found"),
            Ok(rows) => rows,
            Err(e) => return json_error(400, &req.path, &e),
        };
        let announced = *lock(&self.announced_total);
        if announced.is_some() && paging.page.saturating_mul(paging.size) >= rows.len() {
            // Past the real end of a lying count: what the real server answers to no hits.
            return json_error(404, &req.path, "No neurons found");
        }
        let spec = PageSpec {
            collection: "neuronResources",
            link_base: format!("{}{}?{link_params}", self.link_origin(req), req.path),
            sort: Some(&sort.text),
            paging,
            total_delta: delta,
            announced,
        };
        Response::json(envelope(&spec, &rows, &mut |i, out| {
            catalog.write_record(i, out)
        }))
    }

    pub(super) fn distinct(&self, field: &str) -> Option<Distinct> {
        let resolved = self.catalog.resolve_field(field)?;
        let cell = lock(&self.distinct_cache)
            .entry(format!("{}\u{1}{field}", self.catalog.release()))
            .or_default()
            .clone();
        Some(
            cell.get_or_init(|| Arc::new(self.catalog.distinct(&resolved)))
                .clone(),
        )
    }

    pub(super) fn field_values(&self, req: &Request, field: &str, delta: i64) -> Response {
        let paging = match parse_paging(req, None) {
            Ok(p) => p,
            Err(e) => return json_error(400, &req.path, &e),
        };
        let Some(values) = self.distinct(field) else {
            return json_error(404, &req.path, &format!("Unknown field '{field}'"));
        };
        let Paging { page, size } = paging;
        let reported = (values.len() as i64).saturating_add(delta).max(0) as usize;
        let start = page.saturating_mul(size).min(values.len());
        let end = start.saturating_add(size).min(values.len());
        let mut out = b"{\"fields\":[".to_vec();
        for (n, (v, _)) in values[start..end].iter().enumerate() {
            if n > 0 {
                out.push(b',');
            }
            push_json_str(&mut out, v);
        }
        out.extend_from_slice(
            format!(
                "],\"page\":{{\"size\":{size},\"totalElements\":{reported},\"totalPages\":{},\"number\":{page}}}}}",
                reported.div_ceil(size)
            )
            .as_bytes(),
        );
        Response::json(out)
    }

    pub(super) fn partition(&self, req: &Request, field: &str) -> Response {
        let Some(values) = self.distinct(field) else {
            return json_error(404, &req.path, &format!("Unknown field '{field}'"));
        };
        let counts: Map<String, Value> = values
            .iter()
            .map(|(v, n)| (v.clone(), (*n).into()))
            .collect();
        let mut m = Map::new();
        m.insert("fields".into(), Value::Object(counts));
        Response::json(Value::Object(m).to_string())
    }

    pub(super) fn morphometry(&self, index: Option<usize>, path: &str) -> Response {
        match index.and_then(|i| self.catalog.morphometry_json(i)) {
            Some(json) => Response::json(json),
            None => json_error(404, path, "Requested morphometry not found"),
        }
    }

    pub(super) fn morphometry_select(&self, req: &Request, delta: i64) -> Response {
        if self.refuse_morphometry_batch.load(Ordering::SeqCst) {
            return json_error(
                400,
                &req.path,
                "Batch morphometry queries are not supported",
            );
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
        let clauses = match catalog.parse_query(q, &|f| catalog.resolve_morphometry_field(f)) {
            Ok(c) => c,
            Err(e) => return json_error(400, &req.path, &e),
        };
        let hits = self.cached_hits(format!("morphometry\u{1}{q}"), || {
            let mut rows = catalog.filter(&clauses);
            rows.retain(|&i| catalog.id(i as usize).is_some());
            rows.sort_by_key(|&i| catalog.id(i as usize));
            Ok(Arc::new(rows))
        });
        let rows = match hits {
            Ok(rows) if rows.is_empty() => {
                return json_error(404, &req.path, "No measurements found")
            }
            Ok(rows) => rows,
            Err(e) => return json_error(400, &req.path, &e),
        };
        let spec = PageSpec {
            collection: "measurements",
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
            out.extend_from_slice(catalog.morphometry_json(i).unwrap_or_default().as_bytes())
        }))
    }

    /// `/dableFiles/{archive_dir}/{kind}/{file}` with all three segments percent-decoded.
    pub(super) fn file(&self, req: &Request, dir: &str, kind: &str, file: &str) -> Response {
        match self.find_file(dir, kind, file) {
            Some(found) => self.file_answer(req, found),
            None => Response::not_found_html(),
        }
    }

    /// 200 with the file, its `ETag` and `Last-Modified` (unless validators are off), or 304
    /// when the request's conditions say the client has it.
    fn file_answer(&self, req: &Request, found: FileBody) -> Response {
        let mut r = Response::new(200, "text/plain", found.bytes);
        r.file_body = true;
        if self.validators.load(Ordering::SeqCst) {
            let tag = etag(found.hash);
            let modified = release_secs(found.release);
            if not_modified(req, &tag, modified) {
                r.status = 304;
                r.body.clear();
                r.file_body = false;
            }
            r.headers.push(("ETag", tag));
            r.headers.push(("Last-Modified", http_date(modified)));
        }
        r
    }

    fn find_file(&self, dir: &str, kind: &str, file: &str) -> Option<FileBody> {
        let catalog = &self.catalog;
        let in_dir = |name: &str| -> Vec<usize> {
            let rows = catalog.indices_of_name(name).into_iter();
            rows.filter(|&i| catalog.archive_dir(i).as_deref() == Some(dir))
                .collect()
        };
        let text = |i: usize, body: String| FileBody {
            hash: content_hash(body.as_bytes()),
            bytes: body.into_bytes(),
            release: catalog.release_added(i),
        };
        match kind {
            "CNG version" => {
                let name = file.strip_suffix(".CNG.swc")?;
                if catalog.is_removed(name) {
                    return None;
                }
                let i = in_dir(name)
                    .into_iter()
                    .find(|&i| catalog.cng_file(i).is_some())?;
                let (bytes, hash, release) = catalog.cng_at(i, catalog.release())?;
                Some(FileBody {
                    bytes: bytes.into_owned(),
                    hash,
                    release,
                })
            }
            "Source-Version" => {
                // Names contain dots: try every split into `{name}.{ext}`.
                for (p, _) in file.match_indices('.') {
                    let (name, ext) = (&file[..p], &file[p + 1..]);
                    for i in in_dir(name) {
                        if catalog.source_ext(i).as_deref() != Some(ext) {
                            continue;
                        }
                        let (bytes, hash) = catalog.source_body(i)?;
                        let release = catalog.release_added(i);
                        return Some(FileBody {
                            bytes,
                            hash,
                            release,
                        });
                    }
                }
                None
            }
            "Remaining issues" => {
                let name = file.strip_suffix(".CNG.swc.std")?;
                let i = *in_dir(name).first()?;
                Some(text(
                    i,
                    format!("Remaining issues for {name}.CNG.swc\nNo remaining issues.\n"),
                ))
            }
            "Standardization log" => {
                let name = file.strip_suffix(".std")?;
                let i = *in_dir(name).first()?;
                Some(text(
                    i,
                    format!(
                        "Standardization log for {name}\nSoma: kept\nDiameters: kept\nZ-jumps: none\n"
                    ),
                ))
            }
            _ => None,
        }
    }
}

/// A file found under `/dableFiles/`: its bytes, their content hash and the release they
/// date from (its `Last-Modified`).
struct FileBody {
    bytes: Vec<u8>,
    hash: u64,
    release: u32,
}
