//! MorphIO 3.5's and NeuroM 4.0.6's verdicts, file by file: this tool against what the two
//! tools themselves said, pinned in `fixtures/morphio-neurom/verdicts.json` by
//! `fixtures/morphio-neurom/pin_verdicts.py` (run by hand in a virtualenv) on every file of
//! `fixtures/morphio-neurom/cases/`, `fixtures/swc/` and `fixtures/swc-broken/`, and in
//! `suites.json` on every SWC file of MorphIO's and NeuroM's own test suites
//! (`fixtures/suites/`). `rounding.json` names the files where NeuroM's flatness verdict is
//! rounding noise.

use crate::support;

use std::collections::BTreeMap;
use std::path::PathBuf;

use neuromorpho::swc::{Fault, MorphioMorphology, NeuromCheck, NeuromOptions, NeuromReport};
use serde_json::{json, Map, Value};
use support::*;

/// The pinned sets: a document of `fixtures/morphio-neurom/` and the folders of `fixtures/`
/// it covers. `verdicts.json`: files written here and real NeuroMorpho.Org ones;
/// `suites.json`: the SWC files of MorphIO's and NeuroM's own test suites.
const SETS: [(&str, &[&str]); 2] = [
    (
        "verdicts.json",
        &["morphio-neurom/cases", "swc", "swc-broken"],
    ),
    ("suites.json", &["suites"]),
];

/// A pinned document: `{"checks": [...], "files": {"swc/x.swc": {"morphio", "neurom"}}}`.
fn pinned_doc(name: &str) -> Value {
    let path = fixtures_dir().join("morphio-neurom").join(name);
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn pinned() -> Value {
    pinned_doc("verdicts.json")
}

fn files_of(doc: &Value) -> BTreeMap<String, Value> {
    let files = doc["files"].as_object().unwrap();
    files.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn pinned_files() -> BTreeMap<String, Value> {
    files_of(&pinned())
}

/// Every pinned file of every set.
fn all_pinned_files() -> BTreeMap<String, Value> {
    SETS.iter()
        .flat_map(|(doc, _)| files_of(&pinned_doc(doc)))
        .collect()
}

/// The files where NeuroM's `has_no_flat_neurites` verdict is rounding noise
/// (`rounding.json`: a neurite whose second extent, as NeuroM computes it, is above 0 and
/// below 1e-9 of its largest), with what this tool must say there: `Some(false)` when
/// another neurite is flat (its verdict is no noise), `None` ("undecided") otherwise.
fn noise() -> BTreeMap<String, Option<bool>> {
    let doc = pinned_doc("rounding.json");
    assert_eq!(doc["check"], "has_no_flat_neurites");
    let files = doc["files"].as_object().unwrap();
    files
        .iter()
        .map(|(name, rec)| {
            let flat = rec["extents"].as_array().unwrap().iter().any(|e| {
                let e: Vec<f64> = e
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|v| v.as_f64().unwrap())
                    .collect();
                e[1] > 1e-9 * e[2] && e[0] / e[1] < 0.1
            });
            (name.clone(), if flat { Some(false) } else { None })
        })
        .collect()
}

/// Every `.swc` file under `folder` of `fixtures/`, as the pinned documents name them.
fn swc_under(folder: &str, out: &mut Vec<String>) {
    for e in std::fs::read_dir(fixtures_dir().join(folder)).unwrap() {
        let e = e.unwrap();
        let name = format!("{folder}/{}", e.file_name().to_string_lossy());
        if e.file_type().unwrap().is_dir() {
            swc_under(&name, out);
        } else if name.ends_with(".swc") {
            out.push(name);
        }
    }
}

fn points(f: &Fault) -> Value {
    Value::from(
        f.points
            .iter()
            .map(|p| Value::from(p.iter().map(|&v| f64::from(v)).collect::<Vec<f64>>()))
            .collect::<Vec<Value>>(),
    )
}

/// One fault with the keys the Python script writes for that check.
fn entry(check: NeuromCheck, f: &Fault) -> Value {
    use NeuromCheck as C;
    match check {
        C::HasAllNonzeroNeuriteRadii | C::HasAllNonzeroSegmentLengths => {
            json!({"section": f.section, "index": f.index})
        }
        C::HasAllNonzeroSectionLengths | C::HasNoSingleChildren => json!({"section": f.section}),
        C::HasNoBackTracking => json!({
            "section": f.section, "index": f.index, "other_index": f.other_index,
            "points": points(f)
        }),
        C::HasNoOverlappingPoint => {
            json!({"section": f.section, "other_section": f.other_section, "points": points(f)})
        }
        _ => json!({"section": f.section, "points": points(f)}),
    }
}

/// Checks whose `info` is `None` in NeuroM.
fn without_info(check: NeuromCheck) -> bool {
    matches!(
        check,
        NeuromCheck::HasAxon
            | NeuromCheck::HasApicalDendrite
            | NeuromCheck::HasBasalDendrite
            | NeuromCheck::HasNoFlatNeurites
            | NeuromCheck::HasNonzeroSomaRadius
    )
}

/// The verdict of one check as the Python script writes it (`info` sorted for overlaps, as
/// the script sorts NeuroM's set).
fn ours(report: &NeuromReport, check: NeuromCheck) -> Value {
    let r = report.results.iter().find(|r| r.check == check).unwrap();
    match r.pass {
        None => json!({"pass": null, "error": r.message}),
        Some(pass) if without_info(r.check) => json!({"pass": pass, "count": null, "info": null}),
        Some(pass) => {
            let mut info: Vec<Value> = r.faults.iter().map(|f| entry(r.check, f)).collect();
            if r.check == NeuromCheck::HasNoOverlappingPoint {
                info.sort_by_key(|e| e.to_string());
            }
            json!({"pass": pass, "count": r.count, "info": info})
        }
    }
}

fn sorted_info(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(info) = v.get_mut("info").and_then(Value::as_array_mut) {
        info.sort_by_key(|e| e.to_string());
    }
    v
}

#[test]
fn the_pinned_files_are_every_file_of_the_pinned_folders() {
    for (doc_name, folders) in SETS {
        let doc = pinned_doc(doc_name);
        let files = files_of(&doc);
        assert_eq!(doc["generated_by"]["morphio"], "3.5.0");
        assert_eq!(doc["generated_by"]["neurom"], "4.0.6");
        let mut on_disk = Vec::new();
        for folder in folders {
            swc_under(folder, &mut on_disk);
        }
        on_disk.sort();
        assert_eq!(
            files.keys().cloned().collect::<Vec<_>>(),
            on_disk,
            "{doc_name}"
        );
        // Every check of NeuroM's module, in the pinned list and in ours.
        let names: Vec<&str> = NeuromCheck::ALL.iter().map(|c| c.name()).collect();
        let theirs: Vec<&str> = doc["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_str().unwrap())
            .collect();
        let mut sorted = names.clone();
        sorted.sort_unstable();
        assert_eq!(sorted, theirs);
    }
    // MorphIO's and NeuroM's suites: their data files and the SWC of their test code.
    let suites = files_of(&pinned_doc("suites.json"));
    for part in [
        "suites/morphio/data/",
        "suites/morphio/inline/",
        "suites/neurom/data/",
        "suites/neurom/inline/",
    ] {
        let n = suites.keys().filter(|k| k.starts_with(part)).count();
        assert!(n >= 15, "{part}: {n}");
    }
}

#[test]
fn morphios_verdict_is_the_pinned_one_on_every_file() {
    let mut refused = 0;
    for (name, rec) in all_pinned_files() {
        let bytes = std::fs::read(fixtures_dir().join(&name)).unwrap();
        let m = MorphioMorphology::from_bytes(&bytes);
        let v = m.verdict();
        let theirs = &rec["morphio"];
        assert_eq!(Value::from(v.loads), theirs["loads"], "{name}");
        let warnings: Vec<Value> = v
            .warnings
            .iter()
            .map(|w| json!([w.kind.name(), w.count, w.line]))
            .collect();
        assert_eq!(Value::from(warnings), theirs["warnings"], "{name}");
        let Some(r) = &v.refusal else {
            assert!(theirs["reason"].is_null(), "{name}: {}", theirs["reason"]);
            continue;
        };
        refused += 1;
        let reason = &theirs["reason"];
        assert_eq!(r.class, reason["class"].as_str().unwrap(), "{name}");
        assert_eq!(r.message, reason["message"].as_str().unwrap(), "{name}");
        // MorphIO names no line for some refusals; where it names one, it is ours, except
        // that for a self parent and a repeated id MorphIO prints the point's id in place of
        // its line (`cases/self-parent.swc`: id 3 on line 4).
        let id_for_line =
            r.message == "Parent ID can not be itself" || r.message.starts_with("Repeated ID");
        if let Some(line) = reason["line"].as_u64().filter(|_| !id_for_line) {
            assert_eq!(r.line.map(|l| l as u64), Some(line), "{name}");
        }
    }
    assert!(
        refused >= 40,
        "the pinned files cover MorphIO's refusals: {refused}"
    );
}

#[test]
fn every_neurom_check_is_the_pinned_one_on_every_file() {
    let options = NeuromOptions::new().max_faults(usize::MAX);
    let (mut compared, mut failed, mut raised, mut undecided) = (0, 0, 0, 0);
    let noise = noise();
    let files = all_pinned_files();
    for (name, rec) in files.clone() {
        let bytes = std::fs::read(fixtures_dir().join(&name)).unwrap();
        let report = MorphioMorphology::from_bytes(&bytes).neurom_checks(&options);
        let theirs = &rec["neurom"];
        if theirs.get("load_error").is_some() {
            assert!(report.load_error.is_some(), "{name}: NeuroM cannot load it");
            continue;
        }
        assert_eq!(report.load_error, None, "{name}");
        for check in NeuromCheck::ALL {
            let t = &theirs[check.name()];
            let o = ours(&report, *check);
            compared += 1;
            if *check == NeuromCheck::HasNoFlatNeurites {
                if let Some(&expected) = noise.get(&name) {
                    // NeuroM's verdict is rounding noise here: ours is undecided, or
                    // false when another neurite is flat beyond doubt.
                    assert_eq!(o["pass"], json!(expected), "{name}: {o}");
                    if expected.is_none() {
                        undecided += 1;
                        let why = o["error"].as_str().unwrap_or("");
                        assert!(why.starts_with("undecided:"), "{name}: {why}");
                    }
                    continue;
                }
            }
            if t["pass"].is_null() {
                raised += 1;
                // NeuroM raised: ours says so, with the name of NeuroM's exception first.
                let kind = t["error"].as_str().unwrap().split(':').next().unwrap();
                assert!(o["pass"].is_null(), "{name} {check}: {o}");
                let message = o["error"].as_str().unwrap_or("");
                assert_eq!(message.split(':').next(), Some(kind), "{name} {check}");
                continue;
            }
            failed += usize::from(t["pass"] == false);
            assert_eq!(sorted_info(&o), sorted_info(t), "{name} {check}");
        }
    }
    assert!(
        compared > 2500 && failed > 200 && raised > 40,
        "{compared} {failed} {raised}"
    );
    // Undecided only where NeuroM's own extents are noise, and there only.
    let expected = noise
        .iter()
        .filter(|(name, e)| e.is_none() && files.contains_key(*name))
        .count();
    assert!(expected >= 7, "{noise:?}");
    assert_eq!(undecided, expected, "{noise:?}");
}

/// The pinned files through the command line, as a script runs it.
fn cli_verdicts(folders: &[&str], extra: &[&str]) -> (i32, BTreeMap<String, Value>, String) {
    let root = fixtures_dir();
    let o = Cli::new()
        .args(["check", "--format", "jsonl"])
        .args(extra)
        .args(folders.iter().map(|f| root.join(f)))
        .run();
    let mut out = BTreeMap::new();
    for line in o.out.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let path = PathBuf::from(v["file"].as_str().unwrap());
        let name = path
            .strip_prefix(&root)
            .unwrap()
            .to_string_lossy()
            .into_owned();
        out.insert(name, v);
    }
    (o.code, out, o.err)
}

#[test]
fn check_neurom_gives_morphios_and_neuroms_verdicts_on_every_pinned_file() {
    let noise = noise();
    for (doc, folders) in SETS {
        check_neurom_on(doc, folders, &noise);
    }
}

fn check_neurom_on(doc: &str, folders: &[&str], noise: &BTreeMap<String, Option<bool>>) {
    let (code, ours, err) = cli_verdicts(folders, &["--neurom"]);
    assert_eq!(code, 3, "some pinned files have errors: {err}");
    let theirs = files_of(&pinned_doc(doc));
    assert_eq!(
        ours.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>()
    );
    for (name, t) in &theirs {
        let o = &ours[name];
        let (tm, om) = (&t["morphio"], &o["morphio"]);
        assert_eq!(om["loads"], tm["loads"], "{name}");
        assert_eq!(
            om["reason"],
            tm["reason"].get("message").cloned().unwrap_or(Value::Null),
            "{name}"
        );
        let warnings: Vec<&str> = tm["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w[0].as_str().unwrap())
            .collect();
        let said: Vec<&str> = om["warnings"]
            .as_array()
            .unwrap()
            .iter()
            .map(|w| w.as_str().unwrap())
            .collect();
        assert_eq!(said, warnings, "{name}");
        let (tn, on) = (&t["neurom"], &o["neurom"]);
        if tn.get("load_error").is_some() {
            // Every check named, without a verdict, saying why.
            assert_eq!(
                on.as_object().unwrap().len(),
                NeuromCheck::ALL.len(),
                "{name}"
            );
            for (check, verdict) in on.as_object().unwrap() {
                assert!(verdict["pass"].is_null(), "{name} {check}: {verdict}");
                let why = verdict["message"].as_str().unwrap();
                assert!(
                    why.starts_with("NeuroM cannot load the file"),
                    "{name}: {why}"
                );
            }
            continue;
        }
        let checks: &Map<String, Value> = tn.as_object().unwrap();
        assert_eq!(on.as_object().unwrap().len(), checks.len(), "{name}");
        for (check, verdict) in checks {
            if let (true, Some(expected)) = (check == "has_no_flat_neurites", noise.get(name)) {
                assert_eq!(on[check]["pass"], json!(expected), "{name}: {on}");
                continue;
            }
            assert_eq!(on[check]["pass"], verdict["pass"], "{name} {check}");
            // Lines of the file at fault: one or more exactly when NeuroM lists faults (a
            // check without NeuroM info, such as has_no_flat_neurites, may name its neurite).
            let Some(faults) = verdict["count"].as_u64() else {
                continue;
            };
            let lines = on[check]["lines"].as_array().unwrap().len() as u64;
            assert_eq!(lines > 0, faults > 0, "{name} {check}: {on}");
        }
    }
}

#[test]
fn require_morphio_keeps_exactly_the_files_morphio_loads() {
    for (doc, folders) in SETS {
        require_morphio_on(doc, folders);
    }
}

fn require_morphio_on(doc: &str, folders: &[&str]) {
    let theirs = files_of(&pinned_doc(doc));
    let loads = theirs
        .values()
        .filter(|t| t["morphio"]["loads"] == true)
        .count();
    let refused = theirs.len() - loads;
    assert!(loads > 20 && refused > 20, "{loads} {refused}");
    // A folder: exit 3, and the summary counts the files MorphIO loads as kept.
    let (code, _, err) = cli_verdicts(folders, &["--require", "morphio"]);
    assert_eq!(code, 3, "{err}");
    assert!(
        err.contains(&format!(
            "{loads} kept, {refused} rejected (--require morphio)"
        )),
        "{err}"
    );
    // One file at a time, as a script filters: exit 0 exactly for the files MorphIO loads,
    // even the ones with this tool's errors or warnings.
    for (name, t) in &theirs {
        let o = Cli::new()
            .args(["check", "-q", "--require", "morphio"])
            .arg(fixtures_dir().join(name))
            .run();
        let expected = if t["morphio"]["loads"] == true { 0 } else { 3 };
        assert_eq!(o.code, expected, "{name}: {}{}", o.out, o.err);
    }
}

#[test]
fn the_four_cases_of_the_issue_say_what_morphio_and_neurom_do() {
    let cases = fixtures_dir().join("morphio-neurom/cases");
    let theirs = pinned_files();
    let run = |name: &str| {
        let o = Cli::new()
            .args(["check", "--neurom", "--format", "jsonl"])
            .arg(cases.join(name))
            .run();
        serde_json::from_str::<Value>(o.out.trim()).unwrap()
    };
    // Ids beyond 32 bits are refused by MorphIO, and an error of this tool.
    for name in ["id-beyond-32-bits.swc", "parent-beyond-32-bits.swc"] {
        let v = run(name);
        assert_eq!(v["morphio"]["loads"], false, "{v}");
        let pinned = &theirs[&format!("morphio-neurom/cases/{name}")]["morphio"]["reason"];
        assert_eq!(v["morphio"]["reason"], pinned["message"], "{v}");
    }
    // Eleven soma roots: every several-roots message says first how many are somata, so
    // that the count survives the folding of the list.
    let v = run("eleven-soma-roots.swc");
    let roots: Vec<&str> = v["issues"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|i| i["code"] == "several-roots")
        .map(|i| i["message"].as_str().unwrap())
        .filter(|m| !m.starts_with("... and"))
        .collect();
    assert!(!roots.is_empty());
    for m in &roots {
        assert!(m.starts_with("22 roots (11 of them soma points)"), "{m}");
    }
    assert_eq!(v["morphio"]["reason"], "Multiple somata found:");
    // A fork's children at its position: NeuroM sees no zero-length segment.
    let v = run("fork-children-at-fork.swc");
    assert_eq!(v["morphio"]["loads"], true);
    assert_eq!(v["neurom"]["has_all_nonzero_segment_lengths"]["pass"], true);
    assert_eq!(
        theirs["morphio-neurom/cases/fork-children-at-fork.swc"]["neurom"]
            ["has_all_nonzero_segment_lengths"]["pass"],
        true
    );
    // A soma of coinciding points: MorphIO warns, NeuroM's soma radius is 0.
    let v = run("coinciding-soma.swc");
    assert_eq!(v["morphio"]["warnings"], json!(["SomaNonConform"]));
    assert_eq!(v["neurom"]["has_nonzero_soma_radius"]["pass"], false);
}

/// Where NeuroM's own verdict is rounding noise (a neurite on a line that is no axis), the
/// same NeuroM, NumPy and file give different verdicts under different OpenBLAS CPU kernels
/// (`fixtures/morphio-neurom/rounding.json`, pinned by `pin_rounding.py`): this tool says
/// `null`, "undecided", rather than one CPU's noise.
#[test]
fn a_flatness_verdict_that_is_noise_in_neurom_is_undecided_here() {
    let doc = pinned_doc("rounding.json");
    let files = doc["files"].as_object().unwrap();
    let mut flips = 0;
    for (name, rec) in files {
        let verdicts: Vec<bool> = rec["pass"]
            .as_object()
            .unwrap()
            .values()
            .map(|v| v.as_bool().unwrap())
            .collect();
        assert_eq!(verdicts.len(), 4, "{name}");
        flips += usize::from(verdicts.contains(&true) && verdicts.contains(&false));
    }
    // Most of these files show it: NeuroM says both, by CPU kernel.
    assert!(flips >= 5, "{flips} of {}", files.len());
    let file = fixtures_dir().join("morphio-neurom/rounding/diagonal-neurite.swc");
    let by_core = &files["morphio-neurom/rounding/diagonal-neurite.swc"]["pass"];
    assert_eq!(by_core["SkylakeX"], true);
    assert_eq!(by_core["Haswell"], false);
    let m = MorphioMorphology::from_bytes(&std::fs::read(&file).unwrap());
    assert!(m.verdict().loads);
    let report = m.neurom_checks(&NeuromOptions::new());
    let flat = report.get(NeuromCheck::HasNoFlatNeurites).unwrap();
    assert_eq!(flat.pass, None, "{flat:?}");
    let why = flat.message.as_deref().unwrap_or("");
    assert!(why.starts_with("undecided:"), "{why}");
    // Every other check has a verdict.
    for r in &report.results {
        if r.check != NeuromCheck::HasNoFlatNeurites {
            assert!(r.pass.is_some(), "{r:?}");
        }
    }
    // The CLI says the same, and --require on the check does not keep the file.
    let o = Cli::new()
        .args([
            "check",
            "--format",
            "jsonl",
            "--require",
            "has_no_flat_neurites",
        ])
        .arg(&file)
        .run();
    let v: Value = serde_json::from_str(o.out.trim()).unwrap_or_else(|e| panic!("{e}: {}", o.out));
    assert!(v["neurom"]["has_no_flat_neurites"]["pass"].is_null(), "{v}");
    assert_eq!(
        o.code, 3,
        "an undecided required check is not a pass: {}",
        o.err
    );
}
