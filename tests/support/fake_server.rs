//! A fake NeuroMorpho.Org server for the tests, the benchmark and `examples/fake-server.rs`.
//!
//! Only `std` and `serde_json`: this file is compiled into every integration test binary
//! (through `tests/support/mod.rs`) and into the example (through `#[path]`).
//!
//! * [`Catalog`]: a deterministic generated set of neuron records. Neuron 0 is the real
//!   `cnic_001` record from `fixtures/api/`; the others copy its key order and vary archive,
//!   species, brain region, cell type, format and references. Records are rendered to JSON on
//!   demand, so 300,000 neurons cost almost no memory.
//! * [`FakeServer`]: serves `/api/...` and `/dableFiles/...` the way the real server behaves
//!   (paged Spring-style envelopes, Solr-like `select`, 404 JSON errors, 404 HTML for missing
//!   files), counts what it was asked ([`Counters`]) and injects faults ([`FaultRule`],
//!   [`FakeServer::set_random_faults`]).
//!
//! `GET /__fake/stats` returns the counters as JSON and `GET|POST /__fake/reset` zeroes them,
//! for a benchmark that runs the server as a child process.

// Compiled into several test binaries and an example; each one uses a different subset.
#![allow(dead_code)]

use serde_json::{Map, Value};
use std::borrow::Cow;
use std::cmp::Ordering as CmpOrdering;
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Origin used in the records' `_links` (the real server writes `http://` even over https).
const ORIGIN: &str = "http://neuromorpho.org";
const DEFAULT_PAGE_SIZE: usize = 50;
const MAX_PAGE_SIZE: usize = 500;
const MAX_LINE: u64 = 16 * 1024;
const MAX_HEADERS: usize = 100;
const MAX_BODY: usize = 1024 * 1024;
/// Past this many cached queries the cache is simply cleared (tests issue few distinct ones).
const MAX_CACHED_QUERIES: usize = 512;

const NOT_FOUND_HTML: &str =
    "<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>";
const FORBIDDEN_HTML: &str =
    "<html><head><title>403 Forbidden</title></head><body><h1>Forbidden</h1></body></html>";
/// What a proxy or a broken Tomcat answers with status 200 (the `Html200` fault).
const ERROR_PAGE_HTML: &str = "<html><head><title>Service Unavailable</title></head><body>\
<h1>The server is temporarily unable to service your request.</h1></body></html>";

/// `GET /api/neuron/fields`: the "suggested emulator list" of the API notes (§3.3).
pub const NEURON_FIELDS: &[&str] = &[
    "neuron_id",
    "neuron_name",
    "archive",
    "age_scale",
    "gender",
    "age_classification",
    "brain_region",
    "brain_region_1",
    "brain_region_2",
    "brain_region_3",
    "cell_type",
    "cell_type_1",
    "cell_type_2",
    "cell_type_3",
    "species",
    "strain",
    "scientific_name",
    "stain",
    "experiment_condition",
    "protocol",
    "slicing_direction",
    "reconstruction_software",
    "objective_type",
    "original_format",
    "domain",
    "attributes",
    "magnification",
    "upload_date",
    "deposition_date",
    "shrinkage_reported",
    "shrinkage_corrected",
    "slicing_thickness",
    "min_age",
    "max_age",
    "min_weight",
    "max_weight",
    "reference_pmid",
    "reference_doi",
    "Physical_Integrity",
];

/// Keys of a morphometry record, in the order the official reporting tool lists them.
pub const MORPHOMETRY_KEYS: &[&str] = &[
    "neuron_id",
    "neuron_name",
    "surface",
    "volume",
    "soma_Surface",
    "n_stems",
    "n_bifs",
    "n_branch",
    "width",
    "height",
    "depth",
    "diameter",
    "eucDistance",
    "pathDistance",
    "branch_Order",
    "contraction",
    "fragmentation",
    "partition_asymmetry",
    "pk_classic",
    "bif_ampl_local",
    "fractal_Dim",
    "bif_ampl_remote",
    "length",
];

// ------------------------------------------------------------------------------------------
// Value tables of the generated catalog. Each attribute cycles with its own period so that
// combinations vary (a select with q AND fq hits a scattered subset).

const ARCHIVES: &[&str] = &[
    "Wearne_Hof",
    "Allen Cell Types",
    "Markram",
    "Amaral",
    "De Koninck",
    "MouseLight",
    "Dusart",
];
/// (species, scientific_name, strain)
const SPECIES: &[(&str, &str, &str)] = &[
    ("mouse", "Mus musculus", "C57BL/6"),
    ("rat", "Rattus norvegicus", "Wistar"),
    ("human", "Homo sapiens", "Not reported"),
    ("monkey", "Macaca mulatta", "Rhesus"),
    (
        "drosophila melanogaster",
        "Drosophila melanogaster",
        "Canton-S",
    ),
    ("zebrafish", "Danio rerio", "AB"),
];
const BRAIN_REGIONS: &[&[&str]] = &[
    &["neocortex", "prefrontal", "layer 3"],
    &["hippocampus", "CA1"],
    &["cerebellum", "Purkinje layer"],
    &["neocortex", "somatosensory", "layer 5"],
    &["hippocampus", "dentate gyrus", "granule layer"],
];
const CELL_TYPES: &[&[&str]] = &[
    &["Local projecting", "pyramidal", "principal cell"],
    &["interneuron", "basket"],
    &["Purkinje", "principal cell"],
    &["pyramidal", "principal cell"],
    &["interneuron", "Martinotti"],
];
const FORMATS: &[&str] = &["Neurozoom.swc", "Neurolucida.asc", "Custom.xml"];
/// (reference_pmid, reference_doi); the first one is cnic_001's, the others are synthetic
/// (10.5555 is the DOI test prefix).
const PUBLICATIONS: &[(&[&str], &[&str])] = &[
    (
        &["12204204", "12902394"],
        &["10.1016/S0306-4522(02)00305-6", "10.1093/cercor/13.9.950"],
    ),
    (&["20000001"], &["10.5555/nmo.fake.0001"]),
    (&["20000002"], &["10.5555/nmo.fake.0002"]),
    (
        &["20000003", "20000004"],
        &["10.5555/nmo.fake.0003", "10.5555/nmo.fake.0004"],
    ),
    (&["20000005"], &["10.5555/nmo.fake.0005"]),
];
/// Generated names are `prefix + id + suffix`: unique, only `[A-Za-z0-9._-]`, and reversible
/// (a name lookup parses the id back instead of keeping a 300k-entry map).
const NAME_FORMS: &[(&str, &str)] = &[
    ("C", "A-I4"),
    ("cell_", ".b"),
    ("H17-", "_m"),
    ("Purkinje-slice-", ""),
    ("oi", "rpy2-1"),
    ("", "_DSGC"),
];

fn gen_id(i: usize) -> u64 {
    (1 + i + i / 7) as u64
}
fn gen_name(i: usize) -> String {
    let (prefix, suffix) = NAME_FORMS[(i + i / 7) % NAME_FORMS.len()];
    format!("{prefix}{}{suffix}", gen_id(i))
}
fn gen_archive(i: usize) -> &'static str {
    ARCHIVES[i % ARCHIVES.len()]
}
fn gen_species(i: usize) -> (&'static str, &'static str, &'static str) {
    SPECIES[(i / 3) % SPECIES.len()]
}
fn gen_date(id: u64, plus_years: u64) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        2005 + id % 18 + plus_years,
        1 + (id / 3) % 12,
        1 + id % 28
    )
}

fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
/// Deterministic number in `lo..hi` for (id, attribute k).
fn derived(id: u64, k: u64, lo: f64, hi: f64) -> f64 {
    let unit = (splitmix64(id.wrapping_mul(64).wrapping_add(k)) >> 11) as f64 / (1u64 << 53) as f64;
    lo + unit * (hi - lo)
}
fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

// ------------------------------------------------------------------------------------------
// Catalog

/// A record kept as given: the real record and records added with [`Catalog::push_raw`].
struct Raw {
    value: Value,
    json: String,
    file: Option<Arc<[u8]>>,
}

impl Raw {
    fn new(value: Value, file: Option<Arc<[u8]>>) -> Raw {
        let json = value.to_string();
        Raw { value, json, file }
    }
    fn str_field(&self, key: &str) -> Option<&str> {
        self.value.get(key).and_then(Value::as_str)
    }
}

/// Which generated value a key of the real record takes.
#[derive(Clone, Copy)]
enum Slot {
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

fn slot_of(key: &str) -> Slot {
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
struct Fixtures {
    real: Raw,
    keys: Vec<String>,
    key_index: HashMap<String, usize>,
    slots: Vec<Slot>,
    /// Compact JSON of each value of the real record, copied into generated records.
    rendered: Vec<String>,
    /// `fixtures/swc/*` sorted by file name.
    swc: Vec<(String, Arc<[u8]>)>,
}

fn fixtures() -> Arc<Fixtures> {
    static FIXTURES: OnceLock<Arc<Fixtures>> = OnceLock::new();
    FIXTURES
        .get_or_init(|| {
            let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures");
            Arc::new(Fixtures::load(&dir))
        })
        .clone()
}

impl Fixtures {
    // Panics: a missing fixture is a broken checkout, not a condition tests should handle.
    fn load(dir: &Path) -> Fixtures {
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
enum GenVal<'a> {
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
struct FieldRef {
    key: String,
    elem: Option<usize>,
}

enum Row<'a> {
    Gen(usize),
    Fixed(&'a Raw),
}

/// Deterministic set of neuron records (see the module doc).
///
/// Rows `0..n` come from [`Catalog::generate`] (row 0 is the real `cnic_001` record, id 1;
/// row `i` has id `1 + i + i/7`), rows added with [`Catalog::push_raw`] follow.
pub struct Catalog {
    fx: Arc<Fixtures>,
    generated: usize,
    raws: Vec<Raw>,
    removed: Mutex<HashSet<String>>,
}

impl Catalog {
    /// `n` neurons; neuron 0 is the real record. O(1) memory per neuron: values are derived
    /// from the index when a record is rendered.
    pub fn generate(n: usize) -> Catalog {
        assert!(n < u32::MAX as usize, "catalog too large");
        Catalog {
            fx: fixtures(),
            generated: n,
            raws: Vec::new(),
            removed: Mutex::new(HashSet::new()),
        }
    }

    /// Number of neurons.
    pub fn len(&self) -> usize {
        self.generated + self.raws.len()
    }

    /// True when there is no neuron.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends a hand-made record, kept exactly as given (it need not be an object and may
    /// lack any key). When `file` is `Some`, it is served as the CNG file at the URL computed
    /// from the record's `archive` and `neuron_name`. Returns the new row's index.
    pub fn push_raw(&mut self, record: Value, file: Option<Vec<u8>>) -> usize {
        self.raws.push(Raw::new(record, file.map(Arc::from)));
        self.len() - 1
    }

    /// Makes the CNG file of the neuron(s) called `name` answer 404 (works after the catalog
    /// was handed to a server, see [`FakeServer::catalog`]).
    pub fn remove_file(&self, name: &str) {
        lock(&self.removed).insert(name.to_string());
    }

    fn row(&self, i: usize) -> Row<'_> {
        if i >= self.generated {
            Row::Fixed(&self.raws[i - self.generated])
        } else if i == 0 {
            Row::Fixed(&self.fx.real)
        } else {
            Row::Gen(i)
        }
    }

    /// `neuron_id` of row `i` (None for a raw record without an integer id). Panics if
    /// `i >= len()`.
    pub fn id(&self, i: usize) -> Option<u64> {
        match self.row(i) {
            Row::Gen(i) => Some(gen_id(i)),
            Row::Fixed(raw) => raw.value.get("neuron_id").and_then(Value::as_u64),
        }
    }

    /// `neuron_name` of row `i` ("" when a raw record has none). Panics if `i >= len()`.
    pub fn name(&self, i: usize) -> Cow<'_, str> {
        match self.row(i) {
            Row::Gen(i) => Cow::Owned(gen_name(i)),
            Row::Fixed(raw) => Cow::Borrowed(raw.str_field("neuron_name").unwrap_or("")),
        }
    }

    /// `archive` of row `i` (None when a raw record has none). Panics if `i >= len()`.
    pub fn archive(&self, i: usize) -> Option<&str> {
        match self.row(i) {
            Row::Gen(i) => Some(gen_archive(i)),
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

    /// Bytes of row `i`'s CNG file: fixture number `i % 25` (sorted by file name) for
    /// generated rows, the given file for raw rows (empty when none was given).
    pub fn swc_bytes(&self, i: usize) -> &[u8] {
        self.cng_file(i).unwrap_or(&[])
    }

    /// File name of the fixture used for row `i` (None for raw rows).
    pub fn swc_fixture_name(&self, i: usize) -> Option<&str> {
        (i < self.generated).then(|| self.fx.swc[i % self.fx.swc.len()].0.as_str())
    }

    fn cng_file(&self, i: usize) -> Option<&[u8]> {
        if i < self.generated {
            Some(&self.fx.swc[i % self.fx.swc.len()].1)
        } else {
            self.raws[i - self.generated].file.as_deref()
        }
    }

    /// First row whose `neuron_id` is `id`.
    pub fn index_of_id(&self, id: u64) -> Option<usize> {
        self.indices_of_id(id).into_iter().next()
    }

    /// First row whose `neuron_name` is `name`.
    pub fn index_of_name(&self, name: &str) -> Option<usize> {
        self.indices_of_name(name).into_iter().next()
    }

    fn gen_index_of_id(&self, id: u64) -> Option<usize> {
        // gen_id is strictly increasing: binary search instead of an id -> index map.
        let (mut lo, mut hi) = (0, self.generated);
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

    fn indices_of_id(&self, id: u64) -> Vec<usize> {
        let mut found: Vec<usize> = self.gen_index_of_id(id).into_iter().collect();
        let raws = self.raws.iter().enumerate();
        found.extend(
            raws.filter(|(_, r)| r.value.get("neuron_id").and_then(Value::as_u64) == Some(id))
                .map(|(k, _)| self.generated + k),
        );
        found
    }

    fn indices_of_name(&self, name: &str) -> Vec<usize> {
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
            if let Some(i) = self.gen_index_of_id(id).filter(|&i| i > 0) {
                if gen_name(i) == name {
                    found.push(i);
                }
            }
        }
        let raws = self.raws.iter().enumerate();
        found.extend(
            raws.filter(|(_, r)| r.str_field("neuron_name") == Some(name))
                .map(|(k, _)| self.generated + k),
        );
        found
    }

    /// Lower-cased archive: the directory name under `/dableFiles/` (before percent-encoding).
    fn archive_dir(&self, i: usize) -> Option<String> {
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

    /// URL path of row `i`'s original upload (`Source-Version/{name}.{ext}`).
    pub fn source_path(&self, i: usize) -> Option<String> {
        let dir = self.archive_dir(i)?;
        let ext = self.source_ext(i)?;
        Some(format!(
            "/dableFiles/{}/Source-Version/{}.{ext}",
            percent_encode(&dir),
            percent_encode(&self.name(i))
        ))
    }

    /// Extension of the Source-Version file: `original_format`'s, lower-cased, with the
    /// real server's special case `Custom.xml` -> `morph.xml`.
    fn source_ext(&self, i: usize) -> Option<String> {
        let format = self.first_value(i, "original_format")?;
        if format.eq_ignore_ascii_case("Custom.xml") {
            return Some("morph.xml".to_string());
        }
        let (_, ext) = format.rsplit_once('.')?;
        Some(ext.to_lowercase())
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

    fn gen_val(&self, i: usize, k: usize) -> GenVal<'_> {
        let id = gen_id(i);
        match self.fx.slots[k] {
            Slot::Id => GenVal::Id(id),
            Slot::Name => GenVal::Str(Cow::Owned(gen_name(i))),
            Slot::Archive => GenVal::Str(Cow::Borrowed(gen_archive(i))),
            Slot::Note if i % 4 == 0 => GenVal::Str(Cow::Owned(format!(
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

    fn write_record(&self, i: usize, out: &mut Vec<u8>) {
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
    fn visit(&self, i: usize, key: &str, elem: Option<usize>, f: &mut dyn FnMut(&str)) {
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

    fn values(&self, i: usize, field: &FieldRef) -> Vec<String> {
        let mut out = Vec::new();
        self.visit(i, &field.key, field.elem, &mut |v| out.push(v.to_string()));
        out
    }

    fn first_value(&self, i: usize, key: &str) -> Option<String> {
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
    fn resolve_field(&self, name: &str) -> Option<FieldRef> {
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
    fn resolve_morphometry_field(&self, name: &str) -> Option<FieldRef> {
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

    fn parse_query(
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
    fn filter(&self, clauses: &[Clause]) -> Vec<u32> {
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

    fn parse_sort(&self, raw: Option<&str>) -> Result<SortSpec, String> {
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
    fn sort_rows(&self, rows: &mut Vec<u32>, spec: &SortSpec) {
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

    fn sort_key(&self, i: usize, field: &FieldRef) -> SortKey {
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
    fn distinct(&self, field: &FieldRef) -> Vec<(String, usize)> {
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

fn visit_json(v: &Value, elem: Option<usize>, f: &mut dyn FnMut(&str)) {
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

// ------------------------------------------------------------------------------------------
// Query language: `field:v1,v2 field2:v3`, values exact, "quoted", prefix*, glob ?/*,
// [a TO b] ranges.

#[derive(Debug)]
enum Pat {
    Exact(String),
    Prefix(String),
    Glob(Vec<char>),
    Range(Option<String>, Option<String>),
}

impl Pat {
    fn parse(v: &str) -> Pat {
        if v.len() >= 2 && v.starts_with('"') && v.ends_with('"') {
            return Pat::Exact(v[1..v.len() - 1].to_string());
        }
        if let Some(inner) = v.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            if let Some((lo, hi)) = inner.split_once(" TO ") {
                let bound = |b: &str| Some(b.trim().to_string()).filter(|b| b != "*");
                return Pat::Range(bound(lo), bound(hi));
            }
        }
        match v.strip_suffix('*') {
            Some(prefix) if !prefix.contains(['*', '?']) => Pat::Prefix(prefix.to_string()),
            _ if v.contains(['*', '?']) => Pat::Glob(v.chars().collect()),
            _ => Pat::Exact(v.to_string()),
        }
    }

    fn matches(&self, v: &str) -> bool {
        match self {
            Pat::Exact(s) => v == s,
            Pat::Prefix(p) => v.starts_with(p.as_str()),
            Pat::Glob(p) => glob_match(p, v),
            Pat::Range(lo, hi) => {
                lo.as_deref()
                    .is_none_or(|l| compare_values(v, l) != CmpOrdering::Less)
                    && hi
                        .as_deref()
                        .is_none_or(|h| compare_values(v, h) != CmpOrdering::Greater)
            }
        }
    }
}

/// Numbers compare as numbers, anything else as strings.
fn compare_values(a: &str, b: &str) -> CmpOrdering {
    match (a.parse::<f64>(), b.parse::<f64>()) {
        (Ok(x), Ok(y)) => x.partial_cmp(&y).unwrap_or(CmpOrdering::Equal),
        _ => a.cmp(b),
    }
}

fn glob_match(pattern: &[char], text: &str) -> bool {
    let s: Vec<char> = text.chars().collect();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < s.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == s[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[derive(Debug)]
struct Clause {
    field: FieldRef,
    pats: Vec<Pat>,
}

impl Clause {
    fn matches(&self, catalog: &Catalog, i: usize) -> bool {
        let mut hit = false;
        catalog.visit(i, &self.field.key, self.field.elem, &mut |v| {
            hit = hit || self.pats.iter().any(|p| p.matches(v));
        });
        hit
    }

    /// The ids of a plain `neuron_id:1,2,3` clause.
    fn exact_ids(&self) -> Option<Vec<u64>> {
        if self.field.key != "neuron_id" || self.field.elem.is_some() {
            return None;
        }
        self.pats
            .iter()
            .map(|p| match p {
                Pat::Exact(s) => s.parse::<u64>().ok(),
                _ => None,
            })
            .collect()
    }
}

/// Splits `species:mouse brain_region:neocortex` at spaces that start a new `field:`, so
/// that values may contain spaces (`archive:Allen Cell Types`).
fn split_clauses(q: &str) -> Vec<&str> {
    let starts_clause = |rest: &str| match rest.find(':') {
        Some(c) => {
            c > 0
                && rest[..c]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_')
        }
        None => false,
    };
    let mut out = Vec::new();
    let (mut start, mut quoted, mut range) = (0, false, false);
    for (p, c) in q.char_indices() {
        match c {
            '"' => quoted = !quoted,
            '[' if !quoted => range = true,
            ']' if !quoted => range = false,
            ' ' if !quoted && !range && starts_clause(&q[p + 1..]) => {
                out.push(&q[start..p]);
                start = p + 1;
            }
            _ => {}
        }
    }
    out.push(&q[start..]);
    out.into_iter()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .collect()
}

fn split_values(s: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let (mut start, mut quoted) = (0, false);
    for (p, c) in s.char_indices() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => {
                out.push(&s[start..p]);
                start = p + 1;
            }
            _ => {}
        }
    }
    out.push(&s[start..]);
    out
}

fn parse_clause(text: &str, resolve: &dyn Fn(&str) -> Option<FieldRef>) -> Result<Clause, String> {
    let Some((name, values)) = text.split_once(':') else {
        return Err(format!("Malformed query '{text}': expected field:value"));
    };
    let name = name.trim();
    let field = resolve(name).ok_or_else(|| format!("Unknown field '{name}'"))?;
    let pats: Vec<Pat> = split_values(values)
        .into_iter()
        .map(str::trim)
        .filter(|v| !v.is_empty())
        .map(Pat::parse)
        .collect();
    if pats.is_empty() {
        return Err(format!("No value given for field '{name}'"));
    }
    Ok(Clause { field, pats })
}

/// `POST /api/neuron/select` body: `{"field": ["v1", "v2"], ...}` (OR in a list, AND across).
fn parse_post_body(
    body: &[u8],
    resolve: &dyn Fn(&str) -> Option<FieldRef>,
) -> Result<Vec<Clause>, String> {
    let value: Value =
        serde_json::from_slice(body).map_err(|e| format!("Malformed JSON body: {e}"))?;
    let object = value.as_object().ok_or("The body must be a JSON object")?;
    let mut clauses = Vec::new();
    for (name, values) in object {
        let field = resolve(name).ok_or_else(|| format!("Unknown field '{name}'"))?;
        let list: Vec<&Value> = match values {
            Value::Array(items) => items.iter().collect(),
            other => vec![other],
        };
        let pats: Vec<Pat> = list
            .into_iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(Pat::parse(s)),
                Value::Number(n) => Some(Pat::Exact(n.to_string())),
                _ => None,
            })
            .collect();
        if pats.is_empty() {
            return Err(format!("No value given for field '{name}'"));
        }
        clauses.push(Clause { field, pats });
    }
    if clauses.is_empty() {
        return Err("Empty query".to_string());
    }
    Ok(clauses)
}

struct SortSpec {
    props: Vec<FieldRef>,
    desc: bool,
    text: String,
}

#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum SortKey {
    Num(Option<u64>),
    Text(Vec<String>),
}

// ------------------------------------------------------------------------------------------
// Faults, counters, options

/// Which requests a [`FaultRule`] applies to.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    /// Every request (except `/__fake/...`).
    Any,
    /// Every `/api/...` request.
    Api,
    /// A count probe: `/api/neuron` or `/api/neuron/select` with `size=1`.
    Count,
    /// A page request (`/api/neuron` or `/api/neuron/select`, not a count) for this page number.
    Page(usize),
    /// Every `/dableFiles/...` request.
    AnyFile,
    /// Requests whose percent-decoded path contains this substring.
    Path(String),
}

/// What goes wrong.
#[derive(Debug, Clone, PartialEq)]
pub enum Fault {
    /// This status with a Spring-style JSON error body.
    Status(u16),
    /// 429 with a `Retry-After` header.
    TooMany {
        /// The header's value, sent as given (seconds or an HTTP date; may be garbage).
        retry_after: String,
    },
    /// Read the request, then close with a TCP RST before any byte of the answer.
    ResetBeforeHeaders,
    /// Send the headers and half the body, then RST.
    ResetAfterHeaders,
    /// Send the full `Content-Length`, half the body, then close normally (FIN).
    Truncate,
    /// 200 with an HTML error page (a proxy's or Tomcat's).
    Html200,
    /// Sleep, then answer normally.
    Delay(Duration),
    /// 200 with the normal JSON cut in half (consistent `Content-Length`).
    MalformedJson,
    /// Normal answer, but `page.totalElements` shifted by this much (`totalPages` follows), as
    /// when the database changes between two requests.
    ReportTotalDelta(i64),
}

/// A fault applied to the next `times` requests that match `target`.
#[derive(Debug, Clone, PartialEq)]
pub struct FaultRule {
    /// Requests the rule applies to.
    pub target: Target,
    /// How many matching requests get the fault; the rule is removed after the last one.
    pub times: usize,
    /// The fault.
    pub fault: Fault,
}

impl FaultRule {
    /// Shorthand for a rule applied `times` times.
    pub fn new(target: Target, times: usize, fault: Fault) -> FaultRule {
        FaultRule {
            target,
            times,
            fault,
        }
    }
}

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// Snapshot of the server's counters ([`FakeServer::counters`]). Every request except
        /// `/__fake/...` increments `requests` and exactly one of the per-kind counters.
        #[derive(Debug, Clone, Default, PartialEq, Eq)]
        pub struct Counters {
            $($(#[$doc])* pub $name: usize,)*
        }

        impl Counters {
            fn load(cells: &CounterCells) -> Counters {
                Counters { $($name: cells.$name.load(Ordering::SeqCst),)* }
            }

            /// The counters as a JSON object (what `GET /__fake/stats` answers).
            pub fn to_json(&self) -> String {
                let mut m = Map::new();
                $(m.insert(stringify!($name).to_string(), self.$name.into());)*
                Value::Object(m).to_string()
            }

            /// Parses [`Counters::to_json`] output (e.g. a `/__fake/stats` answer).
            pub fn from_json(text: &str) -> Option<Counters> {
                let v: Value = serde_json::from_str(text).ok()?;
                Some(Counters { $($name: v.get(stringify!($name))?.as_u64()? as usize,)* })
            }
        }

        #[derive(Default)]
        struct CounterCells {
            $($name: AtomicUsize,)*
        }

        impl CounterCells {
            fn reset(&self) {
                $(self.$name.store(0, Ordering::SeqCst);)*
            }
        }
    };
}

counters! {
    /// TCP connections accepted.
    connections,
    /// Requests answered (or faulted).
    requests,
    /// `/api/neuron` or `/api/neuron/select` with `size=1`.
    count,
    /// Other `/api/neuron` and `/api/neuron/select` requests.
    pages,
    /// `/api/neuron/fields`.
    fields,
    /// `/api/neuron/fields/{field}`.
    field_values,
    /// `/api/neuron/partition/{field}`.
    partition,
    /// `/api/neuron/id/{id}` and `/api/neuron/name/{name}`.
    records,
    /// `/api/morphometry/...`.
    morphometry,
    /// `/dableFiles/...`.
    files,
    /// `*.jsp` pages (answered 403; clients must never ask for one).
    jsp,
    /// `/api/health`.
    health,
    /// Anything else.
    other,
    /// Faults injected (rules and random).
    faults,
}

#[derive(Clone, Copy, PartialEq, Debug)]
enum Category {
    Count,
    Pages,
    Fields,
    FieldValues,
    Partition,
    Records,
    Morphometry,
    Files,
    Jsp,
    Health,
    Other,
}

fn classify(decoded: &str, req: &Request) -> Category {
    let is = |p: &str| decoded == p;
    let under = |p: &str| decoded.starts_with(p);
    if is("/api/neuron") || is("/api/neuron/select") {
        if req.param("size").and_then(|s| s.parse::<usize>().ok()) == Some(1) {
            Category::Count
        } else {
            Category::Pages
        }
    } else if is("/api/health") {
        Category::Health
    } else if is("/api/neuron/fields") {
        Category::Fields
    } else if under("/api/neuron/fields/") {
        Category::FieldValues
    } else if under("/api/neuron/partition/") {
        Category::Partition
    } else if under("/api/neuron/id/") || under("/api/neuron/name/") {
        Category::Records
    } else if under("/api/morphometry") {
        Category::Morphometry
    } else if under("/dableFiles/") {
        Category::Files
    } else if decoded.ends_with(".jsp") && !under("/api/") {
        Category::Jsp
    } else {
        Category::Other
    }
}

/// What the fault machinery knows about a request.
struct ReqInfo {
    category: Category,
    decoded: String,
    page: usize,
    target: String,
}

impl Target {
    fn matches(&self, info: &ReqInfo) -> bool {
        match self {
            Target::Any => true,
            Target::Api => info.decoded.starts_with("/api/"),
            Target::Count => info.category == Category::Count,
            Target::Page(k) => info.category == Category::Pages && info.page == *k,
            Target::AnyFile => info.category == Category::Files,
            Target::Path(s) => info.decoded.contains(s.as_str()),
        }
    }
}

/// Random faults for soak runs: never more than 2 in a row for one request target, so a
/// client making 4 attempts always gets through.
struct RandomFaults {
    rate: f64,
    state: u64,
    streaks: HashMap<String, u32>,
}

impl RandomFaults {
    fn next(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        splitmix64(self.state)
    }

    fn draw(&mut self, target: &str) -> Option<Fault> {
        let roll = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        let kind = self.next() % 5;
        let streak = self.streaks.get(target).copied().unwrap_or(0);
        if roll >= self.rate || streak >= 2 {
            self.streaks.remove(target);
            return None;
        }
        self.streaks.insert(target.to_string(), streak + 1);
        Some(match kind {
            0 => Fault::Status(503),
            1 => Fault::TooMany {
                retry_after: "0".to_string(),
            },
            2 => Fault::ResetBeforeHeaders,
            3 => Fault::Truncate,
            _ => Fault::Html200,
        })
    }
}

/// A request as recorded by the server ([`FakeServer::requests`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RecordedRequest {
    /// `GET`, `POST`, ...
    pub method: String,
    /// Path and query exactly as sent.
    pub target: String,
    /// The `User-Agent` header.
    pub user_agent: Option<String>,
    /// All headers (names lower-cased), in order.
    pub headers: Vec<(String, String)>,
}

/// Start-up options of [`FakeServer::start_with`]; everything can also be changed later.
#[derive(Debug, Clone)]
pub struct ServerOptions {
    /// Port to bind on 127.0.0.1 (0: any free port).
    pub port: u16,
    /// Sleep before every answer.
    pub latency: Duration,
    /// `GET /api/morphometry/select` answers 400 (to test a per-id fallback).
    pub refuse_morphometry_batch: bool,
    /// Keep a list of the requests (turn off for long benchmark runs).
    pub recording: bool,
}

impl Default for ServerOptions {
    fn default() -> ServerOptions {
        ServerOptions {
            port: 0,
            latency: Duration::ZERO,
            refuse_morphometry_batch: false,
            recording: true,
        }
    }
}

// ------------------------------------------------------------------------------------------
// HTTP plumbing

struct Request {
    method: String,
    target: String,
    path: String,
    query: Vec<(String, String)>,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    close: bool,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn param(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
    fn params(&self, name: &str) -> Vec<&str> {
        self.query
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

enum ReadError {
    /// EOF or I/O error: just drop the connection.
    Closed,
    /// Unparseable request: answer 400 and close.
    Bad(&'static str),
}

fn read_line(r: &mut BufReader<TcpStream>, line: &mut Vec<u8>) -> Result<usize, ReadError> {
    line.clear();
    let n = r
        .by_ref()
        .take(MAX_LINE)
        .read_until(b'\n', line)
        .map_err(|_| ReadError::Closed)?;
    if n > 0 && line.last() != Some(&b'\n') {
        return Err(if n as u64 >= MAX_LINE {
            ReadError::Bad("Header line too long")
        } else {
            ReadError::Closed
        });
    }
    while matches!(line.last(), Some(b'\n' | b'\r')) {
        line.pop();
    }
    Ok(n)
}

fn read_request(r: &mut BufReader<TcpStream>) -> Result<Option<Request>, ReadError> {
    let mut line = Vec::new();
    let request_line = loop {
        if read_line(r, &mut line)? == 0 {
            return Ok(None);
        }
        if !line.is_empty() {
            break String::from_utf8_lossy(&line).into_owned();
        }
    };
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Bad("Malformed request line"));
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') || method.is_empty() {
        return Err(ReadError::Bad("Malformed request line"));
    }
    let mut headers = Vec::new();
    loop {
        if read_line(r, &mut line)? == 0 {
            return Err(ReadError::Closed);
        }
        if line.is_empty() {
            break;
        }
        if headers.len() >= MAX_HEADERS {
            return Err(ReadError::Bad("Too many headers"));
        }
        let text = String::from_utf8_lossy(&line);
        let (name, value) = text
            .split_once(':')
            .ok_or(ReadError::Bad("Malformed header"))?;
        headers.push((name.trim().to_ascii_lowercase(), value.trim().to_string()));
    }
    let header = |n: &str| {
        headers
            .iter()
            .find(|(k, _)| k == n)
            .map(|(_, v)| v.to_ascii_lowercase())
    };
    if header("transfer-encoding").is_some() {
        return Err(ReadError::Bad("Chunked request bodies are not supported"));
    }
    let mut body = Vec::new();
    if let Some(len) = header("content-length") {
        let len: usize = len
            .parse()
            .map_err(|_| ReadError::Bad("Bad Content-Length"))?;
        if len > MAX_BODY {
            return Err(ReadError::Bad("Request body too large"));
        }
        body.resize(len, 0);
        r.read_exact(&mut body).map_err(|_| ReadError::Closed)?;
    }
    let connection = header("connection").unwrap_or_default();
    let close = if version == "HTTP/1.0" {
        !connection.contains("keep-alive")
    } else {
        connection.contains("close")
    };
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let query = query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect();
    Ok(Some(Request {
        method: method.to_string(),
        target: target.to_string(),
        path: path.to_string(),
        query,
        headers,
        body,
        close,
    }))
}

struct Response {
    status: u16,
    content_type: &'static str,
    headers: Vec<(&'static str, String)>,
    body: Vec<u8>,
}

const JSON: &str = "application/json";

impl Response {
    fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Response {
        Response {
            status,
            content_type,
            headers: Vec::new(),
            body: body.into(),
        }
    }
    fn json(body: impl Into<Vec<u8>>) -> Response {
        Response::new(200, JSON, body)
    }
    fn not_found_html() -> Response {
        Response::new(404, "text/html", NOT_FOUND_HTML)
    }

    /// Status line, headers and body in one buffer (one `write_all`: several small writes
    /// meet Nagle + delayed ACK and cost 40 ms each). Returns the buffer and the header length.
    fn serialize(&self, head_only: bool, close: bool) -> (Vec<u8>, usize) {
        let mut head = format!(
            "HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\nConnection: {}\r\n",
            self.status,
            reason(self.status),
            self.content_type,
            self.body.len(),
            if close { "close" } else { "keep-alive" }
        );
        for (name, value) in &self.headers {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
        head.push_str("\r\n");
        let head_len = head.len();
        let mut out = head.into_bytes();
        if !head_only {
            out.extend_from_slice(&self.body);
        }
        (out, head_len)
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        400 => "Bad Request",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Status",
    }
}

/// Spring Boot's error layout, the one the real server uses.
fn json_error(status: u16, path: &str, message: &str) -> Response {
    let mut m = Map::new();
    m.insert("status".into(), status.into());
    m.insert("error".into(), reason(status).into());
    m.insert("message".into(), message.into());
    m.insert("path".into(), path.into());
    Response::new(status, JSON, Value::Object(m).to_string())
}

fn push_json_str(out: &mut Vec<u8>, s: &str) {
    out.push(b'"');
    for &b in s.as_bytes() {
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0..=0x1f => out.extend_from_slice(format!("\\u{b:04x}").as_bytes()),
            _ => out.push(b),
        }
    }
    out.push(b'"');
}

/// Decodes `%XX` escapes only (`+` stays `+`); invalid escapes are kept as they are.
pub fn percent_decode(s: &str) -> String {
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            if let (Some(h), Some(l)) = (
                bytes.get(i + 1).and_then(|&b| hex(b)),
                bytes.get(i + 2).and_then(|&b| hex(b)),
            ) {
                out.push(h * 16 + l);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Percent-encodes everything but RFC 3986 unreserved characters (space -> `%20`).
pub fn percent_encode(s: &str) -> String {
    encode_keeping(s, b"-._~")
}

fn encode_keeping(s: &str, keep: &[u8]) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if b.is_ascii_alphanumeric() || keep.contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Strips the legacy `/neuroMorpho` context path.
fn strip_context(path: &str) -> &str {
    path.strip_prefix("/neuroMorpho")
        .filter(|r| r.starts_with('/'))
        .unwrap_or(path)
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panicking test thread must not poison the server for the other tests.
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// Closes `stream` with a TCP RST: SO_LINGER {on, 0 s}, then close.
fn reset(stream: TcpStream) {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        #[repr(C)]
        struct Linger {
            l_onoff: i32,
            l_linger: i32,
        }
        // std links libc already; TcpStream::set_linger is unstable (tcp_linger).
        unsafe extern "C" {
            fn setsockopt(
                fd: i32,
                level: i32,
                name: i32,
                val: *const std::ffi::c_void,
                len: u32,
            ) -> i32;
        }
        const SOL_SOCKET: i32 = 1;
        const SO_LINGER: i32 = 13;
        let linger = Linger {
            l_onoff: 1,
            l_linger: 0,
        };
        // SAFETY: valid fd owned by `stream`; `linger` outlives the call; size matches.
        unsafe {
            setsockopt(
                stream.as_raw_fd(),
                SOL_SOCKET,
                SO_LINGER,
                (&linger as *const Linger).cast(),
                std::mem::size_of::<Linger>() as u32,
            );
        }
    }
    drop(stream);
}

enum Action {
    KeepAlive,
    Close,
    Reset,
}

// ------------------------------------------------------------------------------------------
// Server

type Hits = Result<Arc<Vec<u32>>, String>;
type HitsCache = Mutex<HashMap<String, Arc<OnceLock<Hits>>>>;
type Distinct = Arc<Vec<(String, usize)>>;
type DistinctCache = Mutex<HashMap<String, Arc<OnceLock<Distinct>>>>;

struct Shared {
    catalog: Catalog,
    addr: SocketAddr,
    stop: AtomicBool,
    counters: CounterCells,
    file_hits: Mutex<HashMap<String, usize>>,
    recording: AtomicBool,
    requests: Mutex<Vec<RecordedRequest>>,
    latency_ns: AtomicU64,
    refuse_morphometry_batch: AtomicBool,
    faults: Mutex<Vec<FaultRule>>,
    random: Mutex<Option<RandomFaults>>,
    hits_cache: HitsCache,
    distinct_cache: DistinctCache,
    conns: Mutex<HashMap<u64, TcpStream>>,
    next_conn: AtomicU64,
}

/// The fake server: a thread accepting on 127.0.0.1 and one thread per connection.
/// Dropping it stops accepting and shuts the open connections down.
pub struct FakeServer {
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl FakeServer {
    /// Serves `catalog` on a free port of 127.0.0.1 with default options.
    pub fn start(catalog: Catalog) -> FakeServer {
        FakeServer::start_with(catalog, ServerOptions::default())
    }

    /// Serves `catalog` with `options`. Panics if the port cannot be bound.
    pub fn start_with(catalog: Catalog, options: ServerOptions) -> FakeServer {
        let listener = TcpListener::bind(("127.0.0.1", options.port))
            .unwrap_or_else(|e| panic!("cannot bind 127.0.0.1:{}: {e}", options.port));
        let addr = listener
            .local_addr()
            .expect("bound listener has an address");
        let shared = Arc::new(Shared {
            catalog,
            addr,
            stop: AtomicBool::new(false),
            counters: CounterCells::default(),
            file_hits: Mutex::new(HashMap::new()),
            recording: AtomicBool::new(options.recording),
            requests: Mutex::new(Vec::new()),
            latency_ns: AtomicU64::new(options.latency.as_nanos() as u64),
            refuse_morphometry_batch: AtomicBool::new(options.refuse_morphometry_batch),
            faults: Mutex::new(Vec::new()),
            random: Mutex::new(None),
            hits_cache: Mutex::new(HashMap::new()),
            distinct_cache: Mutex::new(HashMap::new()),
            conns: Mutex::new(HashMap::new()),
            next_conn: AtomicU64::new(0),
        });
        let accept_shared = shared.clone();
        let accept = thread::Builder::new()
            .name("fake-accept".into())
            .spawn(move || accept_loop(accept_shared, listener))
            .expect("spawn the accept thread");
        FakeServer {
            shared,
            accept: Some(accept),
        }
    }

    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.shared.addr)
    }

    /// The bound address.
    pub fn addr(&self) -> SocketAddr {
        self.shared.addr
    }

    /// The served catalog (e.g. to compute expected answers or [`Catalog::remove_file`]).
    pub fn catalog(&self) -> &Catalog {
        &self.shared.catalog
    }

    /// Shorthand for `catalog().remove_file(name)`.
    pub fn remove_file(&self, name: &str) {
        self.shared.catalog.remove_file(name);
    }

    /// Snapshot of the counters.
    pub fn counters(&self) -> Counters {
        Counters::load(&self.shared.counters)
    }

    /// Zeroes the counters and the file hit counts and forgets the recorded requests.
    pub fn reset_counters(&self) {
        self.shared.reset();
    }

    /// Sum of the hit counts of the `/dableFiles/` paths (percent-decoded) that contain
    /// `needle` (a neuron name, a full path, ...).
    pub fn file_hits(&self, needle: &str) -> usize {
        lock(&self.shared.file_hits)
            .iter()
            .filter(|(p, _)| p.contains(needle))
            .map(|(_, n)| n)
            .sum()
    }

    /// Highest hit count of a single file path (1 = nothing was fetched twice).
    pub fn max_file_hits(&self) -> usize {
        lock(&self.shared.file_hits)
            .values()
            .copied()
            .max()
            .unwrap_or(0)
    }

    /// The requests received so far (not `/__fake/...`), in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        lock(&self.shared.requests).clone()
    }

    /// Turns request recording on or off (off for long benchmark runs).
    pub fn set_recording(&self, on: bool) {
        self.shared.recording.store(on, Ordering::SeqCst);
    }

    /// Sleep this long before every answer (each connection sleeps independently).
    pub fn set_latency(&self, latency: Duration) {
        self.shared
            .latency_ns
            .store(latency.as_nanos() as u64, Ordering::SeqCst);
    }

    /// Makes `/api/morphometry/select` answer 400.
    pub fn set_refuse_morphometry_batch(&self, refuse: bool) {
        self.shared
            .refuse_morphometry_batch
            .store(refuse, Ordering::SeqCst);
    }

    /// Adds a fault rule; the first rule matching a request applies (rules with `times == 0`
    /// are ignored).
    pub fn push_fault(&self, rule: FaultRule) {
        if rule.times > 0 {
            lock(&self.shared.faults).push(rule);
        }
    }

    /// Removes all fault rules.
    pub fn clear_faults(&self) {
        lock(&self.shared.faults).clear();
    }

    /// Remaining applications of all fault rules (0 once every rule was used up).
    pub fn pending_faults(&self) -> usize {
        lock(&self.shared.faults).iter().map(|r| r.times).sum()
    }

    /// Faults each request with probability `rate` (0 turns it off), drawn from 503, 429
    /// (`Retry-After: 0`), RST before headers, truncated body and HTML 200, never more than
    /// twice in a row for the same request target. Deterministic for a given `seed` and
    /// request order.
    pub fn set_random_faults(&self, rate: f64, seed: u64) {
        *lock(&self.shared.random) = (rate > 0.0).then(|| RandomFaults {
            rate,
            state: seed,
            streaks: HashMap::new(),
        });
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Unblock accept() with a connection of our own.
        let _ = TcpStream::connect_timeout(&self.shared.addr, Duration::from_secs(1));
        if let Some(handle) = self.accept.take() {
            let _ = handle.join();
        }
        for (_, stream) in lock(&self.shared.conns).drain() {
            let _ = stream.shutdown(Shutdown::Both);
        }
    }
}

fn accept_loop(shared: Arc<Shared>, listener: TcpListener) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = conn else {
            // EMFILE and friends: back off instead of spinning.
            thread::sleep(Duration::from_millis(10));
            continue;
        };
        shared.counters.connections.fetch_add(1, Ordering::SeqCst);
        let id = shared.next_conn.fetch_add(1, Ordering::SeqCst);
        if let Ok(clone) = stream.try_clone() {
            lock(&shared.conns).insert(id, clone);
        }
        let conn_shared = shared.clone();
        let spawned = thread::Builder::new()
            .name("fake-conn".into())
            .spawn(move || serve_connection(conn_shared, stream, id));
        if spawned.is_err() {
            lock(&shared.conns).remove(&id);
        }
    }
}

fn serve_connection(shared: Arc<Shared>, stream: TcpStream, id: u64) {
    let _ = stream.set_nodelay(true);
    let mut reader = BufReader::new(stream);
    let action = loop {
        match read_request(&mut reader) {
            Ok(Some(req)) => match shared.serve(&req, reader.get_mut()) {
                Action::KeepAlive => continue,
                other => break other,
            },
            Ok(None) | Err(ReadError::Closed) => break Action::Close,
            Err(ReadError::Bad(message)) => {
                let (bytes, _) = json_error(400, "", message).serialize(false, true);
                let _ = reader.get_mut().write_all(&bytes);
                break Action::Close;
            }
        }
    };
    // The registry holds a dup of the socket: drop it first, or close/RST would not happen.
    lock(&shared.conns).remove(&id);
    let stream = reader.into_inner();
    match action {
        Action::Reset => reset(stream),
        _ => drop(stream),
    }
}

/// Paging parameters after validation.
struct Paging {
    page: usize,
    size: usize,
}

fn parse_paging(req: &Request, max: Option<usize>) -> Result<Paging, String> {
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
struct PageSpec<'a> {
    collection: &'a str,
    /// `http://host/path?q=...&` (the links append `page`, `size`, `sort`).
    link_base: String,
    sort: Option<&'a str>,
    paging: Paging,
    total_delta: i64,
}

fn envelope(spec: &PageSpec, rows: &[u32], render: &mut dyn FnMut(usize, &mut Vec<u8>)) -> Vec<u8> {
    let Paging { page, size } = spec.paging;
    let total = rows.len();
    let reported = (total as i64).saturating_add(spec.total_delta).max(0) as usize;
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
    fn reset(&self) {
        self.counters.reset();
        lock(&self.file_hits).clear();
        lock(&self.requests).clear();
    }

    fn serve(&self, req: &Request, stream: &mut TcpStream) -> Action {
        let path = strip_context(&req.path);
        if let Some(command) = path.strip_prefix("/__fake/") {
            return self.control(command, req, stream);
        }
        let decoded = percent_decode(path);
        let category = classify(&decoded, req);
        self.count(category, &decoded, req);

        let latency = self.latency_ns.load(Ordering::SeqCst);
        if latency > 0 {
            thread::sleep(Duration::from_nanos(latency));
        }
        let info = ReqInfo {
            category,
            page: req.param("page").and_then(|p| p.parse().ok()).unwrap_or(0),
            decoded,
            target: req.target.clone(),
        };
        let fault = self.pick_fault(&info);
        if fault.is_some() {
            self.counters.faults.fetch_add(1, Ordering::SeqCst);
        }
        let resp = match &fault {
            Some(Fault::ResetBeforeHeaders) => return Action::Reset,
            Some(Fault::Status(code)) => json_error(*code, &req.path, "Injected fault"),
            Some(Fault::TooMany { retry_after }) => {
                let mut r = json_error(429, &req.path, "Too many requests");
                r.headers.push(("Retry-After", retry_after.clone()));
                r
            }
            Some(Fault::Html200) => Response::new(200, "text/html", ERROR_PAGE_HTML),
            Some(Fault::Delay(d)) => {
                thread::sleep(*d);
                self.route(req, category, 0)
            }
            Some(Fault::ReportTotalDelta(delta)) => self.route(req, category, *delta),
            Some(Fault::MalformedJson) => {
                let mut r = self.route(req, category, 0);
                r.body.truncate(r.body.len() / 2);
                r.status = 200;
                r.content_type = JSON;
                r
            }
            _ => self.route(req, category, 0),
        };
        let cut = matches!(fault, Some(Fault::Truncate | Fault::ResetAfterHeaders));
        let close = req.close || cut;
        let (bytes, head_len) = resp.serialize(req.method == "HEAD", close);
        let sent = if cut {
            head_len + (bytes.len() - head_len) / 2
        } else {
            bytes.len()
        };
        if stream
            .write_all(&bytes[..sent])
            .and_then(|_| stream.flush())
            .is_err()
        {
            return Action::Close;
        }
        match fault {
            Some(Fault::Truncate) => {
                let _ = stream.shutdown(Shutdown::Write);
                Action::Close
            }
            Some(Fault::ResetAfterHeaders) => {
                // Let the partial answer reach the client before the RST overtakes it.
                thread::sleep(Duration::from_millis(20));
                Action::Reset
            }
            _ if close => Action::Close,
            _ => Action::KeepAlive,
        }
    }

    fn count(&self, category: Category, decoded: &str, req: &Request) {
        let c = &self.counters;
        c.requests.fetch_add(1, Ordering::SeqCst);
        let cell = match category {
            Category::Count => &c.count,
            Category::Pages => &c.pages,
            Category::Fields => &c.fields,
            Category::FieldValues => &c.field_values,
            Category::Partition => &c.partition,
            Category::Records => &c.records,
            Category::Morphometry => &c.morphometry,
            Category::Files => &c.files,
            Category::Jsp => &c.jsp,
            Category::Health => &c.health,
            Category::Other => &c.other,
        };
        cell.fetch_add(1, Ordering::SeqCst);
        if category == Category::Files {
            *lock(&self.file_hits)
                .entry(decoded.to_string())
                .or_insert(0) += 1;
        }
        if self.recording.load(Ordering::SeqCst) {
            lock(&self.requests).push(RecordedRequest {
                method: req.method.clone(),
                target: req.target.clone(),
                user_agent: req.header("user-agent").map(str::to_string),
                headers: req.headers.clone(),
            });
        }
    }

    fn pick_fault(&self, info: &ReqInfo) -> Option<Fault> {
        {
            let mut rules = lock(&self.faults);
            if let Some(pos) = rules.iter().position(|r| r.target.matches(info)) {
                let fault = rules[pos].fault.clone();
                rules[pos].times -= 1;
                if rules[pos].times == 0 {
                    rules.remove(pos);
                }
                return Some(fault);
            }
        }
        lock(&self.random)
            .as_mut()
            .and_then(|r| r.draw(&info.target))
    }

    fn control(&self, command: &str, req: &Request, stream: &mut TcpStream) -> Action {
        let resp = match command {
            "stats" => {
                let mut stats: Value =
                    serde_json::from_str(&Counters::load(&self.counters).to_json())
                        .unwrap_or(Value::Null);
                let max = lock(&self.file_hits).values().copied().max().unwrap_or(0);
                if let Some(m) = stats.as_object_mut() {
                    m.insert("max_file_hits".into(), max.into());
                }
                Response::json(stats.to_string())
            }
            "reset" => {
                self.reset();
                Response::json(r#"{"reset":true}"#)
            }
            _ => json_error(404, &req.path, "Unknown control command"),
        };
        let (bytes, _) = resp.serialize(req.method == "HEAD", req.close);
        match stream.write_all(&bytes) {
            Ok(()) if !req.close => Action::KeepAlive,
            _ => Action::Close,
        }
    }

    /// `http://{Host}`, as Spring builds its links (so following `next` stays on this server).
    fn link_origin(&self, req: &Request) -> String {
        match req.header("host") {
            Some(host) if !host.is_empty() => format!("http://{host}"),
            _ => format!("http://{}", self.addr),
        }
    }

    fn route(&self, req: &Request, category: Category, delta: i64) -> Response {
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
            ["dableFiles", dir, kind, file] => self.file(dir, kind, file),
            ["api", ..] => json_error(404, &req.path, "No handler found"),
            _ => Response::not_found_html(),
        }
    }

    fn record(&self, index: Option<usize>, path: &str) -> Response {
        match index {
            Some(i) => Response::json(self.catalog.record_json(i)),
            None => json_error(404, path, "Requested neuron not found"),
        }
    }

    fn cached_hits(&self, key: String, compute: impl FnOnce() -> Hits) -> Hits {
        let cell = {
            let mut cache = lock(&self.hits_cache);
            if cache.len() >= MAX_CACHED_QUERIES {
                cache.clear();
            }
            cache.entry(key).or_default().clone()
        };
        // Computed outside the map's lock; concurrent requests for the same key wait here.
        cell.get_or_init(compute).clone()
    }

    fn neuron_list(&self, req: &Request, delta: i64) -> Response {
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
        };
        Response::json(envelope(&spec, &rows, &mut |i, out| {
            self.catalog.write_record(i, out)
        }))
    }

    fn neuron_select(&self, req: &Request, delta: i64) -> Response {
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
        let spec = PageSpec {
            collection: "neuronResources",
            link_base: format!("{}{}?{link_params}", self.link_origin(req), req.path),
            sort: Some(&sort.text),
            paging,
            total_delta: delta,
        };
        Response::json(envelope(&spec, &rows, &mut |i, out| {
            catalog.write_record(i, out)
        }))
    }

    fn distinct(&self, field: &str) -> Option<Distinct> {
        let resolved = self.catalog.resolve_field(field)?;
        let cell = lock(&self.distinct_cache)
            .entry(field.to_string())
            .or_default()
            .clone();
        Some(
            cell.get_or_init(|| Arc::new(self.catalog.distinct(&resolved)))
                .clone(),
        )
    }

    fn field_values(&self, req: &Request, field: &str, delta: i64) -> Response {
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

    fn partition(&self, req: &Request, field: &str) -> Response {
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

    fn morphometry(&self, index: Option<usize>, path: &str) -> Response {
        match index.and_then(|i| self.catalog.morphometry_json(i)) {
            Some(json) => Response::json(json),
            None => json_error(404, path, "Requested morphometry not found"),
        }
    }

    fn morphometry_select(&self, req: &Request, delta: i64) -> Response {
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
        };
        Response::json(envelope(&spec, &rows, &mut |i, out| {
            out.extend_from_slice(catalog.morphometry_json(i).unwrap_or_default().as_bytes())
        }))
    }

    /// `/dableFiles/{archive_dir}/{kind}/{file}` with all three segments percent-decoded.
    fn file(&self, dir: &str, kind: &str, file: &str) -> Response {
        let catalog = &self.catalog;
        let in_dir = |name: &str| -> Vec<usize> {
            let rows = catalog.indices_of_name(name).into_iter();
            rows.filter(|&i| catalog.archive_dir(i).as_deref() == Some(dir))
                .collect()
        };
        let text = |body: String| Response::new(200, "text/plain", body);
        match kind {
            "CNG version" => {
                let Some(name) = file.strip_suffix(".CNG.swc") else {
                    return Response::not_found_html();
                };
                if lock(&catalog.removed).contains(name) {
                    return Response::not_found_html();
                }
                in_dir(name)
                    .into_iter()
                    .find_map(|i| catalog.cng_file(i))
                    .map_or_else(Response::not_found_html, |b| {
                        Response::new(200, "text/plain", b)
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
                        if ext == "swc" {
                            return catalog
                                .cng_file(i)
                                .map_or_else(Response::not_found_html, |b| {
                                    Response::new(200, "text/plain", b)
                                });
                        }
                        let format = catalog
                            .first_value(i, "original_format")
                            .unwrap_or_default();
                        return text(format!(
                            "; Original {format} reconstruction of {name} (neuron_id {}).\n\
                             ; Served by the fake NeuroMorpho.Org server.\n",
                            catalog
                                .id(i)
                                .map_or_else(|| "unknown".to_string(), |id| id.to_string())
                        ));
                    }
                }
                Response::not_found_html()
            }
            "Remaining issues" => match file.strip_suffix(".CNG.swc.std") {
                Some(name) if !in_dir(name).is_empty() => text(format!(
                    "Remaining issues for {name}.CNG.swc\nNo remaining issues.\n"
                )),
                _ => Response::not_found_html(),
            },
            "Standardization log" => match file.strip_suffix(".std") {
                Some(name) if !in_dir(name).is_empty() => text(format!(
                    "Standardization log for {name}\nSoma: kept\nDiameters: kept\nZ-jumps: none\n"
                )),
                _ => Response::not_found_html(),
            },
            _ => Response::not_found_html(),
        }
    }
}
