//! The catalog: the deterministic set of neuron records (real fixture + generated rows +
//! hand-made raw rows), rendered to JSON on demand, and its CNG/Source-Version files.

use serde_json::{Map, Value};
use std::borrow::Cow;
use std::cmp::Ordering as CmpOrdering;
use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicU32;
use std::sync::{Arc, Mutex, OnceLock};

use super::http::{lock, percent_encode, push_json_str};
use super::query::{parse_clause, split_clauses, Clause, SortKey, SortSpec};
use super::tables::{
    derived, gen_archive, gen_date, gen_id, gen_name, gen_species, round2, splitmix64,
    BRAIN_REGIONS, CELL_TYPES, FORMATS, NAME_FORMS, ORIGIN, PUBLICATIONS,
};
use super::validators::content_hash;

/// A record kept as given: the real record and records added with [`Catalog::push_raw`].
#[derive(Clone)]
pub(super) struct Raw {
    pub(super) value: Value,
    pub(super) json: String,
    pub(super) file: Option<Arc<[u8]>>,
}

impl Raw {
    pub(super) fn new(value: Value, file: Option<Arc<[u8]>>) -> Raw {
        let json = value.to_string();
        Raw { value, json, file }
    }
    pub(super) fn str_field(&self, key: &str) -> Option<&str> {
        self.value.get(key).and_then(Value::as_str)
    }
}

/// Which generated value a key of the real record takes.
#[derive(Clone, Copy)]
pub(super) enum Slot {
    Id,
    Name,
    Archive,
    Note,
    BrainRegion,
    CellType,
    Species,
    ScientificName,
    Strain,
    OriginalFormat,
    UploadDate,
    DepositionDate,
    SomaSurface,
    Surface,
    Volume,
    SlicingThickness,
    PngUrl,
    Pmid,
    Doi,
    Links,
    Copied,
}

pub(super) fn slot_of(key: &str) -> Slot {
    match key {
        "neuron_id" => Slot::Id,
        "neuron_name" => Slot::Name,
        "archive" => Slot::Archive,
        "note" => Slot::Note,
        "brain_region" => Slot::BrainRegion,
        "cell_type" => Slot::CellType,
        "species" => Slot::Species,
        "scientific_name" => Slot::ScientificName,
        "strain" => Slot::Strain,
        "original_format" => Slot::OriginalFormat,
        "upload_date" => Slot::UploadDate,
        "deposition_date" => Slot::DepositionDate,
        "soma_surface" => Slot::SomaSurface,
        "surface" => Slot::Surface,
        "volume" => Slot::Volume,
        "slicing_thickness" => Slot::SlicingThickness,
        "png_url" => Slot::PngUrl,
        "reference_pmid" => Slot::Pmid,
        "reference_doi" => Slot::Doi,
        "_links" => Slot::Links,
        _ => Slot::Copied,
    }
}

/// Data read once per process from `fixtures/` and shared by every catalog.
pub(super) struct Fixtures {
    pub(super) real: Raw,
    pub(super) keys: Vec<String>,
    pub(super) key_index: HashMap<String, usize>,
    pub(super) slots: Vec<Slot>,
    /// Compact JSON of each value of the real record, copied into generated records.
    pub(super) rendered: Vec<String>,
    /// `fixtures/swc/*` sorted by file name.
    pub(super) swc: Vec<(String, Arc<[u8]>)>,
}

pub(super) fn fixtures() -> Arc<Fixtures> {
    static FIXTURES: OnceLock<Arc<Fixtures>> = OnceLock::new();
    FIXTURES
        .get_or_init(|| {
            // The repository's fixtures: this crate lives in tests/fake-server.
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
            Arc::new(Fixtures::load(&dir))
        })
        .clone()
}

impl Fixtures {
    // Panics: a missing fixture is a broken checkout, not a condition tests should handle.
    pub(super) fn load(dir: &Path) -> Fixtures {
        let record_path = dir.join("api/neuron_id_1_cnic_001.json");
        let text = std::fs::read_to_string(&record_path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", record_path.display()));
        let value: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("bad JSON in {}: {e}", record_path.display()));
        let object = value.as_object().expect("the real record is a JSON object");
        let keys: Vec<String> = object.keys().cloned().collect();
        let key_index = keys
            .iter()
            .enumerate()
            .map(|(k, key)| (key.clone(), k))
            .collect();
        let slots = keys.iter().map(|k| slot_of(k)).collect();
        let rendered = object.values().map(Value::to_string).collect();

        let swc_dir = dir.join("swc");
        let mut swc: Vec<(String, Arc<[u8]>)> = std::fs::read_dir(&swc_dir)
            .unwrap_or_else(|e| panic!("cannot list {}: {e}", swc_dir.display()))
            .filter_map(Result::ok)
            .filter(|e| e.path().is_file())
            .map(|e| {
                let bytes = std::fs::read(e.path())
                    .unwrap_or_else(|err| panic!("cannot read {}: {err}", e.path().display()));
                (
                    e.file_name().to_string_lossy().into_owned(),
                    Arc::from(bytes),
                )
            })
            .collect();
        swc.sort_by(|a, b| a.0.cmp(&b.0));
        assert!(!swc.is_empty(), "no SWC fixtures in {}", swc_dir.display());
        Fixtures {
            real: Raw::new(value, None),
            keys,
            key_index,
            slots,
            rendered,
            swc,
        }
    }
}

/// A generated value of one key of a generated record.
pub(super) enum GenVal<'a> {
    Str(Cow<'a, str>),
    Null,
    List(&'static [&'static str]),
    /// Copied from the real record (index into `Fixtures::keys`).
    Copied(usize),
    Id(u64),
    Links(u64),
}

/// A field as the query language names it: record key plus optional array element
/// (`brain_region_2` is element 1 of `brain_region`).
#[derive(Clone, Debug, PartialEq)]
pub(super) struct FieldRef {
    pub(super) key: String,
    pub(super) elem: Option<usize>,
}

pub(super) enum Row<'a> {
    /// A generated record; the number is its generator index (the row index for rows
    /// `1..n`, a later index for rows added by a release).
    Gen(usize),
    Fixed(&'a Raw),
}

/// A Source-Version body set with [`Catalog::set_original`], with its content hash.
pub(super) struct Original {
    pub(super) bytes: Arc<[u8]>,
    pub(super) hash: u64,
}

/// Deterministic set of neuron records (see the module doc).
///
/// Rows `0..n` come from [`Catalog::generate`] (row 0 is the real `cnic_001` record, id 1;
/// row `i` has id `1 + i + i/7`), rows added with [`Catalog::push_raw`] follow, and after them
/// the rows that later releases add ([`Catalog::set_release`]).
pub struct Catalog {
    pub(super) fx: Arc<Fixtures>,
    pub(super) generated: usize,
    pub(super) raws: Vec<Raw>,
    pub(super) removed: Mutex<HashSet<String>>,
    /// Source-Version bodies by row ([`Catalog::set_original`]).
    pub(super) originals: Mutex<HashMap<usize, Original>>,
    /// The release being served (1 = as generated).
    pub(super) release: AtomicU32,
    /// Content hashes of release bodies, by (body, release of its last change).
    pub(super) hashes: Mutex<HashMap<(BodyId, u32), u64>>,
}

/// Which stored bytes a CNG body starts from (the key of the hash cache).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub(super) enum BodyId {
    /// `fixtures/swc/` file number k.
    Fixture(usize),
    /// The file of raw row k (index into `Catalog::raws`).
    Raw(usize),
}

impl Catalog {
    /// `n` neurons; neuron 0 is the real record. O(1) memory per neuron: values are derived
    /// from the index when a record is rendered.
    /// [`Catalog::generate`] with small SWC bodies (a few points each, 25 distinct ones)
    /// instead of the real fixtures: for benchmarks of a whole archive, whose disk the real
    /// files (up to a few hundred kilobytes each) would fill. Originals of SWC format are
    /// these bodies too; the others are a two-line text as always.
    pub fn generate_small(n: usize) -> Catalog {
        let mut catalog = Catalog::generate(n);
        let fx = &catalog.fx;
        let swc = (0..fx.swc.len())
            .map(|k| {
                let body = format!(
                    "# small body {k} of the fake server\n1 1 0 0 0 5 -1\n2 3 0 {} 0 1 1\n3 3 {k} 9 0 0.5 2\n",
                    k + 1
                );
                (format!("small-{k:02}.swc"), Arc::<[u8]>::from(body.into_bytes()))
            })
            .collect();
        catalog.fx = Arc::new(Fixtures {
            real: fx.real.clone(),
            keys: fx.keys.clone(),
            key_index: fx.key_index.clone(),
            slots: fx.slots.clone(),
            rendered: fx.rendered.clone(),
            swc,
        });
        catalog
    }

    pub fn generate(n: usize) -> Catalog {
        assert!(n < u32::MAX as usize, "catalog too large");
        Catalog {
            fx: fixtures(),
            generated: n,
            raws: Vec::new(),
            removed: Mutex::new(HashSet::new()),
            originals: Mutex::new(HashMap::new()),
            release: AtomicU32::new(1),
            hashes: Mutex::new(HashMap::new()),
        }
    }

    /// Number of neurons in the release being served ([`Catalog::len_at_release`] of
    /// [`Catalog::release`]).
    pub fn len(&self) -> usize {
        self.len_at_release(self.release())
    }

    /// True when there is no neuron.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a hand-made record, kept exactly as given: it need not be an object (`42`,
    /// `"text"`) and may lack any key. It is served in `/api/neuron` pages and counted in
    /// `totalElements` like any record; under the default sort (`neuron_id`) a record without
    /// an integer `neuron_id` comes before all others (as nulls do), records keep their push
    /// order among equals. A select clause never matches a key the record lacks (nor anything
    /// in a record that is not an object), so `neuron_id:[* TO *]` skips such records. Without
    /// `neuron_name` and `archive` it has no file URL. When `file` is `Some`, it is served as
    /// the CNG file at the URL computed from the record's `archive` and `neuron_name`.
    /// Returns the new row's index. Rows a release added move up by one.
    pub fn push_raw(&mut self, record: Value, file: Option<Vec<u8>>) -> usize {
        self.raws.push(Raw::new(record, file.map(Arc::from)));
        self.lock_hashes().clear();
        self.base_len() - 1
    }

    /// Makes the CNG file of the neuron(s) called `name` answer 404 (works after the catalog
    /// was handed to a server, see [`FakeServer::catalog`]).
    pub fn remove_file(&self, name: &str) {
        lock(&self.removed).insert(name.to_string());
    }

    /// Whether [`Catalog::remove_file`] was called for `name`.
    pub(super) fn is_removed(&self, name: &str) -> bool {
        lock(&self.removed).contains(name)
    }

    pub(super) fn lock_hashes(&self) -> std::sync::MutexGuard<'_, HashMap<(BodyId, u32), u64>> {
        lock(&self.hashes)
    }

    /// Rows of release 1: generated and raw ones.
    pub(super) fn base_len(&self) -> usize {
        self.generated + self.raws.len()
    }

    /// Generator index of the first row a release adds: past every generated row (and at
    /// least 1, index 0 is the real record), and with an id above every raw record's id.
    pub(super) fn release_gen_base(&self) -> usize {
        let max_raw_id = self
            .raws
            .iter()
            .filter_map(|r| r.value.get("neuron_id").and_then(Value::as_u64))
            .max()
            .unwrap_or(0);
        // First g with gen_id(g) > max_raw_id (gen_id is increasing and gen_id(g) > g).
        let (mut lo, mut hi) = (
            0usize,
            usize::try_from(max_raw_id).unwrap_or(usize::MAX / 2),
        );
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if gen_id(mid) > max_raw_id {
                hi = mid;
            } else {
                lo = mid + 1;
            }
        }
        lo.max(self.generated).max(1)
    }

    /// Generator index of row `i` (None for the raw rows).
    pub(super) fn gen_index(&self, i: usize) -> Option<usize> {
        if i < self.generated {
            Some(i)
        } else if i < self.base_len() {
            None
        } else {
            Some(self.release_gen_base() + (i - self.base_len()))
        }
    }

    /// Row `i`. Rows past [`Catalog::len`] that a later release adds are already defined (so
    /// that a test can look at them before switching); other rows past the end panic.
    pub(super) fn row(&self, i: usize) -> Row<'_> {
        match self.gen_index(i) {
            Some(0) => Row::Fixed(&self.fx.real),
            Some(g) => Row::Gen(g),
            None => Row::Fixed(&self.raws[i - self.generated]),
        }
    }

    /// `neuron_id` of row `i` (None for a raw record without an integer id).
    pub fn id(&self, i: usize) -> Option<u64> {
        match self.row(i) {
            Row::Gen(g) => Some(gen_id(g)),
            Row::Fixed(raw) => raw.value.get("neuron_id").and_then(Value::as_u64),
        }
    }

    /// `neuron_name` of row `i` ("" when a raw record has none).
    pub fn name(&self, i: usize) -> Cow<'_, str> {
        match self.row(i) {
            Row::Gen(g) => Cow::Owned(gen_name(g)),
            Row::Fixed(raw) => Cow::Borrowed(raw.str_field("neuron_name").unwrap_or("")),
        }
    }

    /// `archive` of row `i` (None when a raw record has none).
    pub fn archive(&self, i: usize) -> Option<&str> {
        match self.row(i) {
            Row::Gen(g) => Some(gen_archive(g)),
            Row::Fixed(raw) => raw.str_field("archive"),
        }
    }

    /// The record as the API serves it: compact JSON, keys in the real record's order.
    pub fn record_json(&self, i: usize) -> String {
        let mut out = Vec::with_capacity(2048);
        self.write_record(i, &mut out);
        String::from_utf8(out).expect("records are rendered from UTF-8 strings")
    }

    /// The record parsed back into a `serde_json::Value`.
    pub fn record_value(&self, i: usize) -> Value {
        serde_json::from_str(&self.record_json(i)).expect("rendered records are valid JSON")
    }

    /// Bytes of row `i`'s CNG file as first published: fixture number `i % 25` (sorted by
    /// file name) for generated rows, the given file for raw rows (empty when none was
    /// given). This is what the server sends in release 1; a later release may serve a
    /// reprocessed body instead ([`Catalog::cng_bytes`]).
    pub fn swc_bytes(&self, i: usize) -> &[u8] {
        self.cng_file(i).unwrap_or(&[])
    }

    /// File name of the fixture used for row `i` (None for raw rows).
    pub fn swc_fixture_name(&self, i: usize) -> Option<&str> {
        let g = self.gen_index(i)?;
        Some(self.fx.swc[g % self.fx.swc.len()].0.as_str())
    }

    /// The stored bytes row `i`'s CNG body starts from, and which they are.
    pub(super) fn cng_source(&self, i: usize) -> Option<(BodyId, &[u8])> {
        match self.gen_index(i) {
            Some(g) => {
                let k = g % self.fx.swc.len();
                Some((BodyId::Fixture(k), &self.fx.swc[k].1))
            }
            None => {
                let k = i - self.generated;
                let file = self.raws[k].file.as_deref()?;
                Some((BodyId::Raw(k), file))
            }
        }
    }

    pub(super) fn cng_file(&self, i: usize) -> Option<&[u8]> {
        self.cng_source(i).map(|(_, bytes)| bytes)
    }

    /// First row whose `neuron_id` is `id`.
    pub fn index_of_id(&self, id: u64) -> Option<usize> {
        self.indices_of_id(id).into_iter().next()
    }

    /// First row whose `neuron_name` is `name`.
    pub fn index_of_name(&self, name: &str) -> Option<usize> {
        self.indices_of_name(name).into_iter().next()
    }

    /// Generator index in `lo..hi` whose id is `id`.
    fn gen_search(lo: usize, hi: usize, id: u64) -> Option<usize> {
        // gen_id is strictly increasing: binary search instead of an id -> index map.
        let (mut lo, mut hi) = (lo, hi);
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            match gen_id(mid).cmp(&id) {
                CmpOrdering::Less => lo = mid + 1,
                CmpOrdering::Greater => hi = mid,
                CmpOrdering::Equal => return Some(mid),
            }
        }
        None
    }

    /// Rows (generated in release 1, or added by the release being served) whose generator
    /// gives them `id`, in row order.
    fn gen_rows_of_id(&self, id: u64) -> Vec<usize> {
        let mut found: Vec<usize> = Catalog::gen_search(0, self.generated, id)
            .into_iter()
            .collect();
        let (base, len) = (self.base_len(), self.len());
        if len > base {
            let start = self.release_gen_base();
            if let Some(g) = Catalog::gen_search(start, start + (len - base), id) {
                found.push(base + (g - start));
            }
        }
        found
    }

    pub(super) fn indices_of_id(&self, id: u64) -> Vec<usize> {
        let mut found = self.gen_rows_of_id(id);
        let raws = self.raws.iter().enumerate();
        found.extend(
            raws.filter(|(_, r)| r.value.get("neuron_id").and_then(Value::as_u64) == Some(id))
                .map(|(k, _)| self.generated + k),
        );
        found.sort_unstable();
        found
    }

    pub(super) fn indices_of_name(&self, name: &str) -> Vec<usize> {
        let mut found = Vec::new();
        if self.generated > 0 && self.fx.real.str_field("neuron_name") == Some(name) {
            found.push(0);
        }
        for (prefix, suffix) in NAME_FORMS {
            let digits = name
                .strip_prefix(prefix)
                .and_then(|r| r.strip_suffix(suffix));
            let Some(id) = digits
                .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
                .and_then(|d| d.parse::<u64>().ok())
            else {
                continue;
            };
            for i in self.gen_rows_of_id(id) {
                if i > 0 && self.name(i) == name {
                    found.push(i);
                }
            }
        }
        let raws = self.raws.iter().enumerate();
        found.extend(
            raws.filter(|(_, r)| r.str_field("neuron_name") == Some(name))
                .map(|(k, _)| self.generated + k),
        );
        found.sort_unstable();
        found
    }

    /// Lower-cased archive: the directory name under `/dableFiles/` (before percent-encoding).
    pub(super) fn archive_dir(&self, i: usize) -> Option<String> {
        self.archive(i).map(str::to_lowercase)
    }

    /// URL path of row `i`'s CNG file:
    /// `/dableFiles/{encoded lower-cased archive}/CNG%20version/{encoded name}.CNG.swc`.
    pub fn cng_path(&self, i: usize) -> Option<String> {
        let dir = self.archive_dir(i)?;
        let name = match self.row(i) {
            Row::Gen(_) => self.name(i),
            Row::Fixed(raw) => Cow::Borrowed(raw.str_field("neuron_name")?),
        };
        Some(format!(
            "/dableFiles/{}/CNG%20version/{}.CNG.swc",
            percent_encode(&dir),
            percent_encode(&name)
        ))
    }

    /// URL path of row `i`'s original upload (`Source-Version/{name}.{ext}`); None without an
    /// archive, a name or an `original_format` with an extension.
    pub fn source_path(&self, i: usize) -> Option<String> {
        let dir = self.archive_dir(i)?;
        let ext = self.source_ext(i)?;
        let name = match self.row(i) {
            Row::Gen(_) => self.name(i),
            Row::Fixed(raw) => Cow::Borrowed(raw.str_field("neuron_name")?),
        };
        Some(format!(
            "/dableFiles/{}/Source-Version/{}.{ext}",
            percent_encode(&dir),
            percent_encode(&name)
        ))
    }

    /// Extension of the Source-Version file: `original_format`'s, lower-cased, with the
    /// real server's special case `Custom.xml` -> `morph.xml`.
    pub(super) fn source_ext(&self, i: usize) -> Option<String> {
        let format = self.first_value(i, "original_format")?;
        if format.eq_ignore_ascii_case("Custom.xml") {
            return Some("morph.xml".to_string());
        }
        let (_, ext) = format.rsplit_once('.')?;
        Some(ext.to_lowercase())
    }

    /// Serves `bytes` as row `i`'s Source-Version file, at [`Catalog::source_path`] (whose
    /// extension comes from the record's `original_format`; `Custom.xml` -> `morph.xml`), in
    /// place of the generated text (or the CNG bytes when the original format is SWC). Any
    /// bytes: a 2 MiB one-line JSON ([`one_line_json`](super::one_line_json)), NUL bytes,
    /// invalid UTF-8. Works on a running server's catalog too.
    pub fn set_original(&self, i: usize, bytes: Vec<u8>) {
        let hash = content_hash(&bytes);
        let original = Original {
            bytes: Arc::from(bytes),
            hash,
        };
        lock(&self.originals).insert(i, original);
    }

    /// What the server sends at row `i`'s [`Catalog::source_path`] (None when that URL
    /// answers 404): the [`Catalog::set_original`] bytes, else for an SWC original the CNG
    /// bytes as first published, else a short generated text.
    pub fn original_bytes(&self, i: usize) -> Option<Vec<u8>> {
        self.source_body(i).map(|(bytes, _)| bytes)
    }

    /// The Source-Version body of row `i` and its content hash.
    pub(super) fn source_body(&self, i: usize) -> Option<(Vec<u8>, u64)> {
        let ext = self.source_ext(i)?;
        if let Some(original) = lock(&self.originals).get(&i) {
            return Some((original.bytes.to_vec(), original.hash));
        }
        if ext == "swc" {
            let (id, bytes) = self.cng_source(i)?;
            let hash = *self
                .lock_hashes()
                .entry((id, 0))
                .or_insert_with(|| content_hash(bytes));
            return Some((bytes.to_vec(), hash));
        }
        let format = self.first_value(i, "original_format").unwrap_or_default();
        let text = format!(
            "; Original {format} reconstruction of {} (neuron_id {}).\n\
             ; Served by the fake NeuroMorpho.Org server.\n",
            self.name(i),
            self.id(i)
                .map_or_else(|| "unknown".to_string(), |id| id.to_string())
        );
        let hash = content_hash(text.as_bytes());
        Some((text.into_bytes(), hash))
    }

    /// The values a query on `field` sees for row `i` (array elements separately; nulls
    /// skipped), or None if `field` is not a known field. Handy to compute expected hits.
    pub fn field_values(&self, i: usize, field: &str) -> Option<Vec<String>> {
        let f = self.resolve_field(field)?;
        Some(self.values(i, &f))
    }

    /// Rows (in index order) matching `q` and every `fq`, with the server's select syntax.
    pub fn query(&self, q: &str, fq: &[&str]) -> Result<Vec<usize>, String> {
        let mut clauses = self.parse_query(q, &|f| self.resolve_field(f))?;
        for f in fq {
            clauses.extend(self.parse_query(f, &|f| self.resolve_field(f))?);
        }
        Ok(self
            .filter(&clauses)
            .into_iter()
            .map(|i| i as usize)
            .collect())
    }

    pub(super) fn gen_val(&self, i: usize, k: usize) -> GenVal<'_> {
        let id = gen_id(i);
        match self.fx.slots[k] {
            Slot::Id => GenVal::Id(id),
            Slot::Name => GenVal::Str(Cow::Owned(gen_name(i))),
            Slot::Archive => GenVal::Str(Cow::Borrowed(gen_archive(i))),
            Slot::Note if i.is_multiple_of(4) => GenVal::Str(Cow::Owned(format!(
                "Synthetic record {id} generated by the fake NeuroMorpho.Org server."
            ))),
            Slot::Note => GenVal::Null,
            Slot::BrainRegion => GenVal::List(BRAIN_REGIONS[(i / 2) % BRAIN_REGIONS.len()]),
            Slot::CellType => GenVal::List(CELL_TYPES[(i + i / 5) % CELL_TYPES.len()]),
            Slot::Species => GenVal::Str(Cow::Borrowed(gen_species(i).0)),
            Slot::ScientificName => GenVal::Str(Cow::Borrowed(gen_species(i).1)),
            Slot::Strain if i % 9 == 4 => GenVal::Null,
            Slot::Strain => GenVal::Str(Cow::Borrowed(gen_species(i).2)),
            Slot::OriginalFormat => GenVal::Str(Cow::Borrowed(FORMATS[(i / 4) % FORMATS.len()])),
            Slot::UploadDate => GenVal::Str(Cow::Owned(gen_date(id, 1))),
            Slot::DepositionDate => GenVal::Str(Cow::Owned(gen_date(id, 0))),
            Slot::SomaSurface => {
                GenVal::Str(Cow::Owned(format!("{:.1}", derived(id, 1, 100.0, 1500.0))))
            }
            Slot::Surface => GenVal::Str(Cow::Owned(format!(
                "{:.2}",
                derived(id, 2, 1000.0, 30000.0)
            ))),
            Slot::Volume => {
                GenVal::Str(Cow::Owned(format!("{:.2}", derived(id, 3, 500.0, 20000.0))))
            }
            Slot::SlicingThickness if i % 8 == 3 => GenVal::Null,
            Slot::PngUrl => GenVal::Str(Cow::Owned(format!(
                "{ORIGIN}/images/imageFiles/{}/{}.png",
                gen_archive(i),
                gen_name(i)
            ))),
            Slot::Pmid => GenVal::List(PUBLICATIONS[(i / 6) % PUBLICATIONS.len()].0),
            Slot::Doi => GenVal::List(PUBLICATIONS[(i / 6) % PUBLICATIONS.len()].1),
            Slot::Links => GenVal::Links(id),
            Slot::Copied | Slot::SlicingThickness => GenVal::Copied(k),
        }
    }

    pub(super) fn write_record(&self, i: usize, out: &mut Vec<u8>) {
        let i = match self.row(i) {
            Row::Fixed(raw) => return out.extend_from_slice(raw.json.as_bytes()),
            Row::Gen(i) => i,
        };
        out.push(b'{');
        for (k, key) in self.fx.keys.iter().enumerate() {
            if k > 0 {
                out.push(b',');
            }
            push_json_str(out, key);
            out.push(b':');
            match self.gen_val(i, k) {
                GenVal::Str(s) => push_json_str(out, &s),
                GenVal::Null => out.extend_from_slice(b"null"),
                GenVal::List(items) => {
                    out.push(b'[');
                    for (n, item) in items.iter().enumerate() {
                        if n > 0 {
                            out.push(b',');
                        }
                        push_json_str(out, item);
                    }
                    out.push(b']');
                }
                GenVal::Copied(k) => out.extend_from_slice(self.fx.rendered[k].as_bytes()),
                GenVal::Id(id) => out.extend_from_slice(id.to_string().as_bytes()),
                GenVal::Links(id) => out.extend_from_slice(
                    format!(
                        "{{\"self\":{{\"href\":\"{ORIGIN}/api/neuron/id/{id}\"}},\
                         \"measurements\":{{\"href\":\"{ORIGIN}/api/morphometry/id/{id}\"}},\
                         \"persistence_vector\":{{\"href\":\"{ORIGIN}/api/pvec/id/{id}\"}}}}"
                    )
                    .as_bytes(),
                ),
            }
        }
        out.push(b'}');
    }

    /// Calls `f` with every value of `key` (or only element `elem` of an array) in row `i`.
    pub(super) fn visit(&self, i: usize, key: &str, elem: Option<usize>, f: &mut dyn FnMut(&str)) {
        let i = match self.row(i) {
            Row::Fixed(raw) => {
                if let Some(v) = raw.value.get(key) {
                    visit_json(v, elem, f);
                }
                return;
            }
            Row::Gen(i) => i,
        };
        let Some(&k) = self.fx.key_index.get(key) else {
            return;
        };
        let scalar = elem.unwrap_or(0) == 0;
        match self.gen_val(i, k) {
            GenVal::Str(s) if scalar => f(&s),
            GenVal::List(items) => match elem {
                None => items.iter().for_each(|s| f(s)),
                Some(e) => items.get(e).into_iter().for_each(|s| f(s)),
            },
            GenVal::Copied(k) => visit_json(&self.fx.real.value[&self.fx.keys[k]], elem, f),
            GenVal::Id(id) if scalar => f(&id.to_string()),
            _ => {}
        }
    }

    pub(super) fn values(&self, i: usize, field: &FieldRef) -> Vec<String> {
        let mut out = Vec::new();
        self.visit(i, &field.key, field.elem, &mut |v| out.push(v.to_string()));
        out
    }

    pub(super) fn first_value(&self, i: usize, key: &str) -> Option<String> {
        let mut first = None;
        self.visit(i, key, None, &mut |v| {
            if first.is_none() {
                first = Some(v.to_string());
            }
        });
        first
    }

    /// Query/sort/field name -> record key. Accepts the keys of the real record, the
    /// level fields `brain_region_1..3`/`cell_type_1..3` and `Physical_Integrity`.
    pub(super) fn resolve_field(&self, name: &str) -> Option<FieldRef> {
        for base in ["brain_region", "cell_type"] {
            if let Some(level) = name.strip_prefix(base).and_then(|r| r.strip_prefix('_')) {
                let elem = match level {
                    "1" => 0,
                    "2" => 1,
                    "3" => 2,
                    _ => return None,
                };
                return Some(FieldRef {
                    key: base.to_string(),
                    elem: Some(elem),
                });
            }
        }
        let key = match name {
            "Physical_Integrity" => "physical_Integrity",
            "_links" => return None,
            other if self.fx.key_index.contains_key(other) => other,
            _ => return None,
        };
        Some(FieldRef {
            key: key.to_string(),
            elem: None,
        })
    }

    /// Fields the morphometry select accepts (the official tool sends `Neuron_id`).
    pub(super) fn resolve_morphometry_field(&self, name: &str) -> Option<FieldRef> {
        let key = match name {
            "Neuron_id" | "neuron_id" => "neuron_id",
            "Neuron_name" | "neuron_name" => "neuron_name",
            _ => return None,
        };
        Some(FieldRef {
            key: key.to_string(),
            elem: None,
        })
    }

    pub(super) fn parse_query(
        &self,
        text: &str,
        resolve: &dyn Fn(&str) -> Option<FieldRef>,
    ) -> Result<Vec<Clause>, String> {
        let clauses = split_clauses(text);
        if clauses.is_empty() {
            return Err("Empty query".to_string());
        }
        clauses
            .into_iter()
            .map(|c| parse_clause(c, resolve))
            .collect()
    }

    /// Rows matching every clause, in index order.
    pub(super) fn filter(&self, clauses: &[Clause]) -> Vec<u32> {
        // `neuron_id:1,2,3` (the official tool's batches): look the ids up instead of scanning.
        if let Some(ids) = clauses.iter().find_map(Clause::exact_ids) {
            let mut rows: Vec<usize> = ids
                .into_iter()
                .flat_map(|id| self.indices_of_id(id))
                .collect();
            rows.sort_unstable();
            rows.dedup();
            return rows
                .into_iter()
                .filter(|&i| clauses.iter().all(|c| c.matches(self, i)))
                .map(|i| i as u32)
                .collect();
        }
        (0..self.len())
            .filter(|&i| clauses.iter().all(|c| c.matches(self, i)))
            .map(|i| i as u32)
            .collect()
    }

    pub(super) fn parse_sort(&self, raw: Option<&str>) -> Result<SortSpec, String> {
        let text = raw.unwrap_or("neuron_id,asc");
        let mut tokens: Vec<&str> = text
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .collect();
        let desc = match tokens.last().map(|t| t.to_ascii_lowercase()) {
            Some(t) if t == "desc" => {
                tokens.pop();
                true
            }
            Some(t) if t == "asc" => {
                tokens.pop();
                false
            }
            _ => false,
        };
        if tokens.is_empty() {
            tokens.push("neuron_id");
        }
        let props = tokens
            .iter()
            .map(|t| {
                self.resolve_field(t)
                    .ok_or_else(|| format!("No property '{t}' found for type 'Neuron'"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SortSpec {
            props,
            desc,
            text: text.to_string(),
        })
    }

    /// Stable sort of `rows` (ties keep index order).
    pub(super) fn sort_rows(&self, rows: &mut Vec<u32>, spec: &SortSpec) {
        let direct = |o: CmpOrdering| if spec.desc { o.reverse() } else { o };
        if spec.props.len() == 1 && spec.props[0].key == "neuron_id" {
            rows.sort_by(|&a, &b| direct(self.id(a as usize).cmp(&self.id(b as usize))));
            return;
        }
        let mut keyed: Vec<(Vec<SortKey>, u32)> = rows
            .iter()
            .map(|&i| {
                let keys = spec
                    .props
                    .iter()
                    .map(|f| self.sort_key(i as usize, f))
                    .collect();
                (keys, i)
            })
            .collect();
        keyed.sort_by(|a, b| direct(a.0.cmp(&b.0)));
        *rows = keyed.into_iter().map(|(_, i)| i).collect();
    }

    pub(super) fn sort_key(&self, i: usize, field: &FieldRef) -> SortKey {
        if field.key == "neuron_id" && field.elem.is_none() {
            SortKey::Num(self.id(i))
        } else {
            SortKey::Text(self.values(i, field))
        }
    }

    /// Morphometry record of row `i` (None without an id): numbers derived from the id,
    /// `surface`/`volume`/`soma_Surface` taken from the neuron record when they parse.
    pub fn morphometry_json(&self, i: usize) -> Option<String> {
        let id = self.id(i)?;
        let from_record = |key: &str, k: u64, lo: f64, hi: f64| {
            self.first_value(i, key)
                .and_then(|v| v.parse::<f64>().ok())
                .unwrap_or_else(|| round2(derived(id, k, lo, hi)))
        };
        let int = |k: u64, lo: u64, span: u64| lo + splitmix64(id.wrapping_mul(64) + k) % span;
        let real = |k: u64, lo: f64, hi: f64| round2(derived(id, k, lo, hi));
        let n_stems = int(10, 2, 9);
        let n_bifs = int(11, 8, 120);
        let n_branch = 2 * n_bifs + n_stems;
        let euc = real(20, 100.0, 800.0);
        let mut m = Map::new();
        m.insert("neuron_id".into(), id.into());
        m.insert("neuron_name".into(), self.name(i).into_owned().into());
        m.insert(
            "surface".into(),
            from_record("surface", 2, 1000.0, 30000.0).into(),
        );
        m.insert(
            "volume".into(),
            from_record("volume", 3, 500.0, 20000.0).into(),
        );
        let soma = from_record("soma_surface", 1, 100.0, 1500.0);
        m.insert("soma_Surface".into(), soma.into());
        m.insert("n_stems".into(), n_stems.into());
        m.insert("n_bifs".into(), n_bifs.into());
        m.insert("n_branch".into(), n_branch.into());
        m.insert("width".into(), real(12, 50.0, 600.0).into());
        m.insert("height".into(), real(13, 50.0, 600.0).into());
        m.insert("depth".into(), real(14, 20.0, 300.0).into());
        m.insert("diameter".into(), real(15, 0.2, 2.5).into());
        m.insert("eucDistance".into(), euc.into());
        m.insert(
            "pathDistance".into(),
            round2(euc * derived(id, 21, 1.05, 1.4)).into(),
        );
        m.insert("branch_Order".into(), int(22, 3, 23).into());
        m.insert("contraction".into(), real(23, 0.75, 0.97).into());
        m.insert("fragmentation".into(), (n_branch * int(24, 5, 11)).into());
        m.insert("partition_asymmetry".into(), real(25, 0.3, 0.7).into());
        m.insert("pk_classic".into(), real(26, 1.0, 3.0).into());
        m.insert("bif_ampl_local".into(), real(27, 20.0, 90.0).into());
        m.insert("fractal_Dim".into(), real(28, 1.0, 1.2).into());
        m.insert("bif_ampl_remote".into(), real(29, 20.0, 100.0).into());
        m.insert("length".into(), real(30, 500.0, 20000.0).into());
        Some(Value::Object(m).to_string())
    }

    /// Distinct values of `field` in first-seen order, with their counts.
    pub(super) fn distinct(&self, field: &FieldRef) -> Vec<(String, usize)> {
        let mut position: HashMap<String, usize> = HashMap::new();
        let mut out: Vec<(String, usize)> = Vec::new();
        for i in 0..self.len() {
            self.visit(i, &field.key, field.elem, &mut |v| match position.get(v) {
                Some(&p) => out[p].1 += 1,
                None => {
                    position.insert(v.to_string(), out.len());
                    out.push((v.to_string(), 1));
                }
            });
        }
        out
    }
}

pub(super) fn visit_json(v: &Value, elem: Option<usize>, f: &mut dyn FnMut(&str)) {
    fn scalar(v: &Value, f: &mut dyn FnMut(&str)) {
        match v {
            Value::String(s) => f(s),
            Value::Number(n) => f(&n.to_string()),
            Value::Bool(b) => f(if *b { "true" } else { "false" }),
            _ => {}
        }
    }
    match (v, elem) {
        (Value::Array(items), None) => items.iter().for_each(|x| scalar(x, f)),
        (Value::Array(items), Some(e)) => items.get(e).into_iter().for_each(|x| scalar(x, f)),
        (other, None | Some(0)) => scalar(other, f),
        _ => {}
    }
}
