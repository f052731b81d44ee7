//! Files the `neuromorpho` binary writes or prints beside the downloads: completion scripts,
//! `CITATIONS.bib`, and `checks.csv` (`download --check`, `get --check`).

use crate::support;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::process::Command;

use serde_json::{json, Value};
use support::*;

// ------------------------------------------------------------------------------------------
// Completions

/// Whether `shell` can be run here.
fn have(shell: &str) -> bool {
    Command::new(shell)
        .args(["-c", "exit 0"])
        .output()
        .is_ok_and(|o| o.status.success())
}

fn completion_script(shell: &str, dir: &Path) -> std::path::PathBuf {
    let o = Cli::new().args(["completions", shell]).run();
    assert_eq!(o.code, 0, "{shell}: {}", o.err);
    assert_eq!(o.err, "", "{shell}");
    assert!(o.out.contains("neuromorpho"), "{shell}: {}", o.out);
    // Every command, and neuromorphopy's aliases, are completed.
    for word in [
        "fields",
        "preview",
        "metadata",
        "download",
        "get",
        "verify",
        "check",
        "doctor",
        "completions",
        "output-dir",
        "metadata-filename",
        "concurrent",
        "group-by",
    ] {
        assert!(o.out.contains(word), "{shell}: {word} missing");
    }
    let path = dir.join(format!("neuromorpho.{shell}"));
    std::fs::write(&path, &o.out).unwrap();
    path
}

/// `shell -n script`: the script parses.
fn assert_parses(shell: &str, script: &Path) {
    let o = Command::new(shell).arg("-n").arg(script).output().unwrap();
    assert!(
        o.status.success(),
        "{shell} -n: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(
        o.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn bash_completion_parses_and_completes() {
    let dir = TempDir::new();
    let script = completion_script("bash", dir.path());
    if !have("bash") {
        eprintln!("note: bash is not installed: the bash script is not checked");
        return;
    }
    assert_parses("bash", &script);
    // Run the completion function as bash would on TAB.
    let probe = r#"
source "$1"
comp() { COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); COMPREPLY=(); _neuromorpho; echo "${COMPREPLY[*]}"; }
comp neuromorpho dow
comp neuromorpho -v down
comp neuromorpho download --output-
comp neuromorpho download --metadata-f
comp neuromorpho download --concurr
comp neuromorpho download -g spec
comp neuromorpho download -f speci
comp neuromorpho download --what o
comp neuromorpho check --format j
comp neuromorpho completions f
comp neuromorpho help ve
"#;
    let o = Command::new("bash")
        .args(["-c", probe, "probe"])
        .arg(&script)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let got: Vec<String> = String::from_utf8_lossy(&o.stdout)
        .lines()
        .map(String::from)
        .collect();
    assert_eq!(
        got,
        [
            "download",
            "download",
            "--output-dir",
            "--metadata-filename --metadata-format",
            "--concurrency --concurrent",
            "species",
            "species=",
            "original",
            "jsonl",
            "fish",
            "verify",
        ]
    );
}

#[test]
fn zsh_completion_parses() {
    let dir = TempDir::new();
    let script = completion_script("zsh", dir.path());
    assert!(std::fs::read_to_string(&script)
        .unwrap()
        .starts_with("#compdef neuromorpho\n"));
    if !have("zsh") {
        eprintln!("note: zsh is not installed: `zsh -n` skipped");
        return;
    }
    assert_parses("zsh", &script);
}

#[test]
fn fish_completion_parses_and_completes() {
    let dir = TempDir::new();
    let script = completion_script("fish", dir.path());
    if !have("fish") {
        eprintln!("note: fish is not installed: `fish -n` skipped");
        return;
    }
    assert_parses("fish", &script);
    let o = Command::new("fish")
        .arg("-c")
        .arg(format!(
            "source '{}'; complete -C 'neuromorpho dow'; complete -C 'neuromorpho download --output-'; complete -C 'neuromorpho download --what o'; complete -C 'neuromorpho completions f'",
            script.display()
        ))
        .env("HOME", dir.path())
        .env("XDG_CONFIG_HOME", dir.path())
        .env("XDG_DATA_HOME", dir.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let out = String::from_utf8_lossy(&o.stdout);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(
        lines,
        [
            "download\tthe table, then every file",
            "--output-dir\tneuromorphopy's name for --output",
            "original\twhich files",
            "fish",
        ],
        "{out}"
    );
}

#[test]
fn an_unknown_shell_is_a_usage_error() {
    let o = Cli::new().args(["completions", "tcsh"]).run();
    assert_eq!(o.code, 2);
    assert!(
        o.err.contains("unknown shell 'tcsh'") && o.err.contains("bash, zsh or fish"),
        "{}",
        o.err
    );
    let o = Cli::new().args(["completions"]).run();
    assert_eq!(o.code, 2);
    assert!(o.err.contains("bash|zsh|fish"), "{}", o.err);
}

// ------------------------------------------------------------------------------------------
// CITATIONS.bib

/// The BibTeX entries of a file: (type, key, body), checking that braces balance inside each
/// entry and never go below zero.
fn bib_entries(bib: &str) -> Vec<(String, String, String)> {
    let mut entries = Vec::new();
    let mut rest = bib;
    while let Some(at) = rest.find('@') {
        let text = &rest[at..];
        let open = text.find('{').expect("an entry opens with a brace");
        let kind = text[1..open].to_string();
        let mut depth = 0i32;
        let mut end = None;
        for (k, ch) in text.char_indices() {
            match ch {
                '{' => depth += 1,
                '}' => {
                    depth -= 1;
                    assert!(depth >= 0, "a brace closes nothing: {text}");
                    if depth == 0 {
                        end = Some(k);
                        break;
                    }
                }
                _ => {}
            }
        }
        let end = end.unwrap_or_else(|| panic!("unclosed entry: {text}"));
        let body = &text[open + 1..end];
        let (key, fields) = body.split_once(',').expect("a key, then fields");
        entries.push((kind, key.trim().to_string(), fields.to_string()));
        rest = &text[end + 1..];
    }
    assert_eq!(
        bib.matches('{').count(),
        bib.matches('}').count(),
        "braces balance"
    );
    entries
}

/// The strings of a record's list field.
fn strings(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn citations_bib_lists_every_source_publication_and_neuromorphos_own() {
    let mut catalog = Catalog::generate(40);
    // A DOI-only publication, and one whose DOI holds braces (they must not unbalance it).
    let swc = b"1 1 0 0 0 1 -1\n2 3 0 5 0 1 1\n".to_vec();
    catalog.push_raw(
        json!({"neuron_id": 9001, "neuron_name": "doi_only", "archive": "Wearne_Hof",
               "reference_pmid": [], "reference_doi": ["10.5555/only.doi"]}),
        Some(swc.clone()),
    );
    catalog.push_raw(
        json!({"neuron_id": 9002, "neuron_name": "odd_doi", "archive": "Wearne_Hof",
               "reference_pmid": ["30000001"], "reference_doi": ["10.5555/x}y{z"]}),
        Some(swc.clone()),
    );
    catalog.push_raw(
        json!({"neuron_id": 9003, "neuron_name": "no_reference", "archive": "Wearne_Hof"}),
        Some(swc),
    );
    let server = FakeServer::start(catalog);
    let dir = TempDir::new();
    let out = dir.path().join("o");
    let o = cli(&server)
        .args(["download", "--all", "--no-log", "-q", "-o"])
        .arg(&out)
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(out.join("CITATIONS.md").is_file());
    let bib = std::fs::read_to_string(out.join("CITATIONS.bib")).unwrap();
    let entries = bib_entries(&bib);
    let keys: BTreeSet<&str> = entries.iter().map(|(_, k, _)| k.as_str()).collect();
    assert_eq!(keys.len(), entries.len(), "every key once: {bib}");

    // Expected: every PMID (with the DOI at its position) of the neurons downloaded.
    let mut pmids: BTreeMap<String, Option<String>> = BTreeMap::new();
    let mut doi_only: BTreeSet<String> = BTreeSet::new();
    for i in 0..server.catalog().len() {
        let rec = server.catalog().record_value(i);
        let p = strings(&rec["reference_pmid"]);
        let d = strings(&rec["reference_doi"]);
        for k in 0..p.len().max(d.len()) {
            match (p.get(k), d.get(k)) {
                (Some(p), doi) => {
                    pmids.insert(p.clone(), doi.cloned());
                }
                (None, Some(d)) => {
                    doi_only.insert(d.clone());
                }
                (None, None) => {}
            }
        }
    }
    assert!(pmids.len() >= 6, "{pmids:?}");
    let sources: Vec<&(String, String, String)> = entries
        .iter()
        .filter(|(_, key, _)| key.starts_with("pmid") || key.starts_with("doi_"))
        .collect();
    assert_eq!(sources.len(), pmids.len() + doi_only.len(), "{bib}");
    for (pmid, doi) in &pmids {
        let (kind, _, body) = entries
            .iter()
            .find(|(_, key, _)| key == &format!("pmid{pmid}"))
            .unwrap_or_else(|| panic!("no entry for PMID {pmid}: {bib}"));
        assert_eq!(kind, "misc");
        assert!(body.contains(&format!("eprint = {{{pmid}}}")), "{body}");
        assert!(body.contains("eprinttype = {pubmed}"), "{body}");
        let doi = doi.as_deref().unwrap();
        let shown: String = doi.chars().filter(|c| !"{}".contains(*c)).collect();
        assert!(body.contains(&format!("doi = {{{shown}}}")), "{body}");
    }
    for doi in &doi_only {
        assert!(
            sources.iter().any(|(_, key, body)| key.starts_with("doi_")
                && body.contains(&format!("doi = {{{doi}}}"))),
            "{doi}: {bib}"
        );
    }
    // Source entries invent no title, and say why.
    for (_, key, body) in &sources {
        assert!(!body.contains("title ="), "{key}: {body}");
        assert!(body.contains("gives no title"), "{key}: {body}");
    }
    // NeuroMorpho.Org's own references, with their DOIs and the RRID.
    for want in [
        "10.1523/JNEUROSCI.2055-07.2007",
        "10.1096/fba.2024-00048",
        "RRID:SCR_002145",
    ] {
        assert!(bib.contains(want), "{want}: {bib}");
    }
    let own: Vec<&(String, String, String)> = entries
        .iter()
        .filter(|(_, key, _)| !key.starts_with("pmid") && !key.starts_with("doi_"))
        .collect();
    assert_eq!(own.len(), 3, "{own:?}");
    // The counts add up: each source entry counts the neurons citing it.
    let count = |pmid: &str| {
        (0..server.catalog().len())
            .filter(|&i| {
                strings(&server.catalog().record_value(i)["reference_pmid"])
                    .iter()
                    .any(|p| p == pmid)
            })
            .count()
    };
    let (_, _, body) = entries
        .iter()
        .find(|(_, k, _)| k == "pmid12204204")
        .unwrap();
    assert!(
        body.contains(&format!(
            "Source publication of {} neuron(s)",
            count("12204204")
        )),
        "{body}"
    );
}

#[test]
fn citations_bib_of_a_shard_cites_its_own_neurons() {
    let server = FakeServer::start(Catalog::generate(36));
    let dir = TempDir::new();
    let out = dir.path().join("o");
    let o = cli(&server)
        .args([
            "download", "--all", "--no-log", "-q", "--shard", "1/2", "-o",
        ])
        .arg(&out)
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    let bib = std::fs::read_to_string(out.join("CITATIONS.shard-1-of-2.bib")).unwrap();
    assert!(!out.join("CITATIONS.bib").exists());
    let mut want: BTreeSet<String> = BTreeSet::new();
    for i in 0..36 {
        if server.catalog().id(i).unwrap().is_multiple_of(2) {
            want.extend(strings(&server.catalog().record_value(i)["reference_pmid"]));
        }
    }
    let got: BTreeSet<String> = bib_entries(&bib)
        .into_iter()
        .filter_map(|(_, key, _)| key.strip_prefix("pmid").map(String::from))
        .collect();
    assert_eq!(got, want);
}

// ------------------------------------------------------------------------------------------
// --check: checks.csv

const CHECKS_HEADER: &str = "neuron_id,neuron_name,file,points,roots,stems,bifurcations,tips,total_length,errors,warnings,issues,morphio,morphio_reason,neurom,neurom_failed,passes";

fn neurom() -> Value {
    let path = fixtures_dir().join("neurom/neurom.json");
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// checks.csv as rows keyed by column name.
fn read_checks(path: &Path) -> Vec<BTreeMap<String, String>> {
    let text = std::fs::read_to_string(path).unwrap();
    assert_eq!(text.lines().next(), Some(CHECKS_HEADER), "{text}");
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers: Vec<String> = r.headers().unwrap().iter().map(String::from).collect();
    r.records()
        .map(|row| {
            let row = row.unwrap();
            headers
                .iter()
                .cloned()
                .zip(row.iter().map(String::from))
                .collect()
        })
        .collect()
}

/// Data lines of an SWC body (not blank, not comments).
fn points_of(bytes: &[u8]) -> usize {
    String::from_utf8_lossy(bytes)
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .count()
}

/// What `neuromorpho check --format jsonl` says of one file: its issues as `code@line`.
fn issues_by_check(path: &Path) -> String {
    let o = Cli::new()
        .args(["check", "--format", "jsonl"])
        .arg(path)
        .run();
    let v: Value = serde_json::from_str(o.out.trim()).unwrap_or_else(|e| panic!("{e}: {}", o.out));
    v["issues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| match i["line"].as_u64() {
            Some(l) => format!("{}@{l}", i["code"].as_str().unwrap()),
            None => i["code"].as_str().unwrap().to_string(),
        })
        .collect::<Vec<_>>()
        .join(" ")
}

fn broken(name: &str) -> Vec<u8> {
    std::fs::read(fixtures_dir().join("swc-broken").join(name)).unwrap()
}

#[test]
fn download_check_writes_checks_csv_keeps_bad_files_and_counts_them() {
    let mut catalog = Catalog::generate(25);
    let bad = [
        catalog.push_raw(
            json!({"neuron_id": 9001, "neuron_name": "dup_id", "archive": "Wearne_Hof"}),
            Some(broken("duplicate-id.swc")),
        ),
        catalog.push_raw(
            json!({"neuron_id": 9002, "neuron_name": "no_parent", "archive": "Wearne_Hof"}),
            Some(broken("missing-parent.swc")),
        ),
    ];
    let server = FakeServer::start(catalog);
    let dir = TempDir::new();
    let out = dir.path().join("o");
    let o = cli(&server)
        .args(["download", "--all", "--no-log", "--check", "-o"])
        .arg(&out)
        .run();
    assert_eq!(o.code, 0, "bad files are kept, not failures: {}", o.err);
    let rows = read_checks(&out.join("checks.csv"));
    assert_eq!(rows.len(), 27);
    let record = neurom();
    let mut with_errors = 0;
    let mut with_warnings = 0;
    for row in &rows {
        let name = &row["neuron_name"];
        let i = server.catalog().index_of_name(name).unwrap();
        assert_eq!(
            row["neuron_id"],
            server.catalog().id(i).unwrap().to_string()
        );
        assert_eq!(row["file"], format!("downloads/{name}.swc"));
        let file = out.join(&row["file"]);
        // Every file kept as served, the broken ones too.
        assert_eq!(
            std::fs::read(&file).unwrap(),
            server.catalog().swc_bytes(i),
            "{name}"
        );
        assert_eq!(row["issues"], issues_by_check(&file), "{name}");
        assert_eq!(
            row["points"],
            points_of(server.catalog().swc_bytes(i)).to_string(),
            "{name}"
        );
        let errors: u64 = row["errors"].parse().unwrap();
        let warnings: u64 = row["warnings"].parse().unwrap();
        with_errors += u64::from(errors > 0);
        with_warnings += u64::from(warnings > 0);
        if bad.contains(&i) {
            assert!(errors > 0, "{row:?}");
            let code = if name == "dup_id" {
                "duplicate-id@4"
            } else {
                "missing-parent@4"
            };
            assert!(row["issues"].split(' ').any(|c| c == code), "{row:?}");
            // MorphIO's words (fixtures/morphio-neurom/verdicts.json pins them on these files).
            let reason = if name == "dup_id" {
                "Repeated ID"
            } else {
                "refers to non-existant parent ID"
            };
            assert_eq!(row["morphio"], "refuses", "{row:?}");
            assert!(row["morphio_reason"].contains(reason), "{row:?}");
            for k in ["stems", "bifurcations", "tips", "total_length"] {
                assert_eq!(
                    row[k], "",
                    "no tree measure for a file with errors: {row:?}"
                );
            }
            continue;
        }
        assert_eq!(errors, 0, "{row:?}");
        let fixture = server.catalog().swc_fixture_name(i).unwrap();
        let rec = &record["files"][fixture];
        if rec["neurom_loaded"] == false {
            assert!(row["issues"].contains("soma-bifurcation"), "{row:?}");
            assert_eq!(row["morphio"], "refuses", "{row:?}");
            assert!(
                row["morphio_reason"].contains("Found soma bifurcation"),
                "{row:?}"
            );
            continue;
        }
        assert_eq!(
            (row["morphio"].as_str(), row["morphio_reason"].as_str()),
            ("loads", ""),
            "{row:?}"
        );
        assert_eq!(row["roots"], "1", "{name} ({fixture})");
        assert_eq!(
            row["stems"],
            rec["number_of_neurites"].to_string(),
            "{name} ({fixture})"
        );
        assert_eq!(
            row["bifurcations"],
            rec["number_of_bifurcations"].to_string(),
            "{name}"
        );
        assert_eq!(row["tips"], rec["number_of_leaves"].to_string(), "{name}");
        let ours: f64 = row["total_length"].parse().unwrap();
        let theirs = rec["total_length"].as_f64().unwrap();
        assert!(
            (ours - theirs).abs() <= 0.005 + 2e-6 * theirs,
            "{name}: {ours} vs NeuroM's {theirs}"
        );
    }
    assert_eq!(with_errors, 2);
    let summary = format!(
        "checked 27 SWC files: 2 with errors, {with_warnings} with warnings (kept; verdicts in {})",
        out.join("checks.csv").display()
    );
    assert!(o.err.contains(&summary), "wanted {summary:?} in {}", o.err);
    // Beside the metadata table.
    assert!(out.join("metadata.csv").is_file());
}

#[test]
fn get_check_adds_its_rows_to_the_table_in_place() {
    let mut catalog = Catalog::generate(10);
    let bad = catalog.push_raw(
        json!({"neuron_id": 9002, "neuron_name": "no_parent", "archive": "Wearne_Hof"}),
        Some(broken("missing-parent.swc")),
    );
    let server = FakeServer::start(catalog);
    let first = server.catalog().name(2).to_string();
    let second = server.catalog().name(bad).to_string();
    let dir = TempDir::new();
    let out = dir.path().join("o");
    let o = cli(&server)
        .args(["get", &first, "--check", "--no-log", "-o"])
        .arg(&out)
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(
        o.err.contains("checked 1 SWC file: 0 with errors"),
        "{}",
        o.err
    );
    let rows = read_checks(&out.join("checks.csv"));
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0]["neuron_name"], first);
    // A second get in the same folder: its row is added, the first one kept.
    let o = cli(&server)
        .args(["get", &second, "--check", "--no-log", "-o"])
        .arg(&out)
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(o.err.contains("1 with errors"), "{}", o.err);
    let rows = read_checks(&out.join("checks.csv"));
    let names: BTreeSet<&str> = rows.iter().map(|r| r["neuron_name"].as_str()).collect();
    assert_eq!(names, BTreeSet::from([first.as_str(), second.as_str()]));
    let row = rows.iter().find(|r| r["neuron_name"] == second).unwrap();
    assert_eq!(row["neuron_id"], "9002");
    assert!(row["issues"].contains("missing-parent@4"), "{row:?}");
    assert_eq!(
        std::fs::read(out.join("downloads/no_parent.swc")).unwrap(),
        broken("missing-parent.swc"),
        "kept as served"
    );
    // Without --check no table is written or changed.
    let before = std::fs::read(out.join("checks.csv")).unwrap();
    let o = cli(&server)
        .args(["get", &server.catalog().name(3), "--no-log", "-o"])
        .arg(&out)
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(!o.err.contains("checked "), "{}", o.err);
    assert_eq!(std::fs::read(out.join("checks.csv")).unwrap(), before);
}

#[test]
fn a_shard_writes_its_own_checks_table() {
    let server = FakeServer::start(Catalog::generate(12));
    let dir = TempDir::new();
    let out = dir.path().join("o");
    let o = cli(&server)
        .args([
            "download", "--all", "--no-log", "-q", "--check", "--shard", "2/3", "-o",
        ])
        .arg(&out)
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(!out.join("checks.csv").exists());
    let rows = read_checks(&out.join("checks.shard-2-of-3.csv"));
    let want: BTreeSet<String> = (0..12)
        .filter(|&i| server.catalog().id(i).unwrap() % 3 == 1)
        .map(|i| server.catalog().name(i).to_string())
        .collect();
    let got: BTreeSet<String> = rows.iter().map(|r| r["neuron_name"].clone()).collect();
    assert_eq!(got, want);
}

/// What MorphIO 3.5.0 and NeuroM 4.0.6 say of a fixture (`fixtures/morphio-neurom/verdicts.json`,
/// keyed by its path under `fixtures/`): whether MorphIO loads it, the `neurom` column's word
/// and the NeuroM checks that fail (sorted).
fn pinned_verdict(fixture: &str) -> (bool, &'static str, String) {
    let path = fixtures_dir().join("morphio-neurom/verdicts.json");
    let pinned: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
    let file = &pinned["files"][fixture];
    assert!(file.is_object(), "{fixture} is not pinned");
    let loads = file["morphio"]["loads"].as_bool().unwrap();
    let neurom = file["neurom"].as_object().unwrap();
    if neurom.contains_key("load_error") {
        return (loads, "unloadable", String::new());
    }
    let mut failed: Vec<&str> = neurom
        .iter()
        .filter(|(_, v)| v["pass"] == false)
        .map(|(k, _)| k.as_str())
        .collect();
    failed.sort_unstable();
    let undecided = neurom.values().any(|v| v["pass"].is_null());
    let word = match (failed.is_empty(), undecided) {
        (false, _) => "fail",
        (true, true) => "undecided",
        (true, false) => "pass",
    };
    (loads, word, failed.join(" "))
}

/// A catalog of the fixtures' SWC files and the hand-written MorphIO/NeuroM cases, with the
/// fixture each neuron's file comes from (as `verdicts.json` names it).
fn verdict_catalog() -> (Catalog, Vec<(usize, String)>) {
    let mut catalog = Catalog::generate(20);
    let mut fixtures: Vec<(usize, String)> = (0..20)
        .map(|i| (i, format!("swc/{}", catalog.swc_fixture_name(i).unwrap())))
        .collect();
    for (k, case) in [
        "negative-type.swc",
        "coinciding-soma.swc",
        "narrow-dendrite.swc",
    ]
    .iter()
    .enumerate()
    {
        let bytes = std::fs::read(fixtures_dir().join("morphio-neurom/cases").join(case)).unwrap();
        let i = catalog.push_raw(
            json!({"neuron_id": 9100 + k, "neuron_name": format!("case_{k}"), "archive": "Wearne_Hof"}),
            Some(bytes),
        );
        fixtures.push((i, format!("morphio-neurom/cases/{case}")));
    }
    (catalog, fixtures)
}

#[test]
fn download_check_neurom_writes_neurom_verdicts_and_what_passes_require() {
    let (catalog, fixtures) = verdict_catalog();
    let server = FakeServer::start(catalog);
    let dir = TempDir::new();
    let out = dir.path().join("o");
    // --neurom and --require ask for the check: no --check needed.
    let o = cli(&server)
        .args([
            "download",
            "--all",
            "--no-log",
            "--neurom",
            "--require",
            "morphio",
            "-o",
        ])
        .arg(&out)
        .run();
    assert_eq!(
        o.code, 0,
        "files failing checks are kept, not failures: {}",
        o.err
    );
    let rows = read_checks(&out.join("checks.csv"));
    assert_eq!(rows.len(), fixtures.len());
    let (mut failing, mut rejected, mut refused) = (0, 0, 0);
    for (i, fixture) in &fixtures {
        let name = server.catalog().name(*i);
        let row = rows.iter().find(|r| r["neuron_name"] == name).unwrap();
        let (loads, word, failed) = pinned_verdict(fixture);
        assert_eq!(
            row["morphio"],
            if loads { "loads" } else { "refuses" },
            "{fixture}"
        );
        assert_eq!(row["neurom"], word, "{fixture}: {row:?}");
        let mut ours: Vec<&str> = row["neurom_failed"]
            .split(' ')
            .filter(|s| !s.is_empty())
            .collect();
        ours.sort_unstable();
        assert_eq!(ours.join(" "), failed, "{fixture}");
        // --require morphio: a file passes when MorphIO loads it, errors or not.
        assert_eq!(row["passes"], if loads { "yes" } else { "no" }, "{fixture}");
        failing += u64::from(!failed.is_empty());
        rejected += u64::from(!loads);
        refused += u64::from(!loads);
        assert!(out.join(&row["file"]).is_file(), "kept: {fixture}");
    }
    assert!(
        failing > 0 && refused > 0,
        "the set has failing and refused files"
    );
    assert!(
        o.err.contains(&format!(
            "{failing} failing a NeuroM check, {rejected} not passing --require morphio (kept; verdicts in"
        )),
        "{}",
        o.err
    );

    // Without --neurom the columns are empty; by default a file passes when it has no error.
    let plain = dir.path().join("plain");
    let o = cli(&server)
        .args(["download", "--all", "--no-log", "--check", "-o"])
        .arg(&plain)
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    for row in read_checks(&plain.join("checks.csv")) {
        assert_eq!(
            (row["neurom"].as_str(), row["neurom_failed"].as_str()),
            ("", ""),
            "{row:?}"
        );
        let errors: u64 = row["errors"].parse().unwrap();
        assert_eq!(
            row["passes"],
            if errors == 0 { "yes" } else { "no" },
            "{row:?}"
        );
    }
    assert!(!o.err.contains("NeuroM"), "{}", o.err);

    // A bad check name is a usage error naming the option.
    let o = cli(&server)
        .args(["download", "--all", "--checks", "has_wings", "-o"])
        .arg(dir.path().join("x"))
        .run();
    assert_eq!(o.code, 2, "{}", o.err);
    assert!(
        o.err.contains("--checks") && o.err.contains("has_wings"),
        "{}",
        o.err
    );
}

#[test]
fn the_library_checks_a_download_with_neurom_and_counts_what_fails() {
    use neuromorpho::swc::{CheckOptions, NeuromCheck, NeuromOptions, Requirements};
    use neuromorpho::{JobOptions, Query};
    let (catalog, fixtures) = verdict_catalog();
    let server = FakeServer::start(catalog);
    let dir = TempDir::new();
    let out = dir.path().join("o");
    let checks = CheckOptions::new()
        .neurom(NeuromOptions::new().checks([NeuromCheck::HasAxon]))
        .require(Requirements::none().neurom([NeuromCheck::HasAxon]));
    let summary = client(&server)
        .download_query(
            &Query::all(),
            &JobOptions::new(&out).check_with(checks),
            |_| {},
        )
        .unwrap();
    let check = summary.check.unwrap();
    assert_eq!(check.files, fixtures.len() as u64);
    let rows = read_checks(&check.table);
    let mut no_axon = 0;
    for (i, fixture) in &fixtures {
        let name = server.catalog().name(*i);
        let row = rows.iter().find(|r| r["neuron_name"] == name).unwrap();
        let path = fixtures_dir().join("morphio-neurom/verdicts.json");
        let pinned: Value = serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap();
        let axon = &pinned["files"][fixture.as_str()]["neurom"]["has_axon"];
        let fails = axon["pass"] == false;
        no_axon += u64::from(axon["pass"] != true);
        assert_eq!(
            row["neurom_failed"],
            if fails { "has_axon" } else { "" },
            "{fixture}"
        );
        assert_eq!(
            row["passes"],
            if axon["pass"] == true { "yes" } else { "no" },
            "{fixture}"
        );
    }
    assert!(no_axon > 0);
    assert_eq!(check.rejected, no_axon);
}
