//! Generated value tables: the field lists the server announces and the per-attribute value
//! cycles (with the id/name/date generators) that the catalog derives its records from.

/// Origin used in the records' `_links` (the real server writes `http://` even over https).
pub(super) const ORIGIN: &str = "http://neuromorpho.org";

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

// Value tables of the generated catalog. Each attribute cycles with its own period so that
// combinations vary (a select with q AND fq hits a scattered subset).

pub(super) const ARCHIVES: &[&str] = &[
    "Wearne_Hof",
    "Allen Cell Types",
    "Markram",
    "Amaral",
    "De Koninck",
    "MouseLight",
    "Dusart",
];
/// (species, scientific_name, strain)
pub(super) const SPECIES: &[(&str, &str, &str)] = &[
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
pub(super) const BRAIN_REGIONS: &[&[&str]] = &[
    &["neocortex", "prefrontal", "layer 3"],
    &["hippocampus", "CA1"],
    &["cerebellum", "Purkinje layer"],
    &["neocortex", "somatosensory", "layer 5"],
    &["hippocampus", "dentate gyrus", "granule layer"],
];
pub(super) const CELL_TYPES: &[&[&str]] = &[
    &["Local projecting", "pyramidal", "principal cell"],
    &["interneuron", "basket"],
    &["Purkinje", "principal cell"],
    &["pyramidal", "principal cell"],
    &["interneuron", "Martinotti"],
];
pub(super) const FORMATS: &[&str] = &["Neurozoom.swc", "Neurolucida.asc", "Custom.xml"];
/// (reference_pmid, reference_doi); the first one is cnic_001's, the others are synthetic
/// (10.5555 is the DOI test prefix).
pub(super) const PUBLICATIONS: &[(&[&str], &[&str])] = &[
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
pub(super) const NAME_FORMS: &[(&str, &str)] = &[
    ("C", "A-I4"),
    ("cell_", ".b"),
    ("H17-", "_m"),
    ("Purkinje-slice-", ""),
    ("oi", "rpy2-1"),
    ("", "_DSGC"),
];

pub(super) fn gen_id(i: usize) -> u64 {
    (1 + i + i / 7) as u64
}
pub(super) fn gen_name(i: usize) -> String {
    let (prefix, suffix) = NAME_FORMS[(i + i / 7) % NAME_FORMS.len()];
    format!("{prefix}{}{suffix}", gen_id(i))
}
pub(super) fn gen_archive(i: usize) -> &'static str {
    ARCHIVES[i % ARCHIVES.len()]
}
pub(super) fn gen_species(i: usize) -> (&'static str, &'static str, &'static str) {
    SPECIES[(i / 3) % SPECIES.len()]
}
pub(super) fn gen_date(id: u64, plus_years: u64) -> String {
    format!(
        "{:04}-{:02}-{:02}",
        2005 + id % 18 + plus_years,
        1 + (id / 3) % 12,
        1 + id % 28
    )
}

pub(super) fn splitmix64(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}
/// Deterministic number in `lo..hi` for (id, attribute k).
pub(super) fn derived(id: u64, k: u64, lo: f64, hi: f64) -> f64 {
    let unit = (splitmix64(id.wrapping_mul(64).wrapping_add(k)) >> 11) as f64 / (1u64 << 53) as f64;
    lo + unit * (hi - lo)
}
pub(super) fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}
