//! This crate's MorphIO and NeuroM verdicts, in the format of
//! `fixtures/morphio-neurom/pin_verdicts.py` (which records MorphIO's and NeuroM's own), so
//! that the two can be compared file by file on any set of SWC files.
//!
//! ```text
//! cargo run --release --example verdicts -- --root fixtures fixtures/swc fixtures/swc-broken
//! ```
//!
//! Folders are walked for `*.swc` (sorted, as the Python script walks them); names are
//! recorded relative to `--root`.

use std::path::{Path, PathBuf};

use neuromorpho::swc::{Fault, MorphioMorphology, NeuromCheck, NeuromOptions, NeuromReport};
use serde_json::{json, Map, Value};

fn swc_files(path: &Path, out: &mut Vec<PathBuf>) {
    if !path.is_dir() {
        out.push(path.to_path_buf());
        return;
    }
    let Ok(entries) = std::fs::read_dir(path) else {
        return;
    };
    let mut entries: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    entries.sort();
    let (dirs, files): (Vec<PathBuf>, Vec<PathBuf>) = entries.into_iter().partition(|p| p.is_dir());
    for f in files {
        if f.extension().is_some_and(|e| e.eq_ignore_ascii_case("swc")) {
            out.push(f);
        }
    }
    for d in dirs {
        swc_files(&d, out);
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

fn neurom(report: &NeuromReport) -> Value {
    if let Some(e) = &report.load_error {
        return json!({ "load_error": e });
    }
    let mut out = Map::new();
    for r in &report.results {
        let v = match r.pass {
            None => json!({"pass": null, "error": r.message}),
            Some(pass) if without_info(r.check) => {
                json!({"pass": pass, "count": null, "info": null})
            }
            Some(pass) => {
                let mut info: Vec<Value> = r.faults.iter().map(|f| entry(r.check, f)).collect();
                if r.check == NeuromCheck::HasNoOverlappingPoint {
                    info.sort_by_key(|e| e.to_string());
                }
                json!({"pass": pass, "count": r.count, "info": info})
            }
        };
        out.insert(r.check.name().to_string(), v);
    }
    Value::Object(out)
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut root = PathBuf::from(".");
    if let Some(at) = args.iter().position(|a| a == "--root") {
        if at + 1 < args.len() {
            root = PathBuf::from(args.remove(at + 1));
        }
        args.remove(at);
    }
    if args.is_empty() {
        eprintln!("usage: verdicts [--root DIR] PATH...");
        std::process::exit(2);
    }
    let mut files = Vec::new();
    for a in &args {
        swc_files(Path::new(a), &mut files);
    }
    let options = NeuromOptions::new().max_faults(usize::MAX);
    let mut out = Map::new();
    for path in files {
        let Ok(bytes) = std::fs::read(&path) else {
            eprintln!("{}: cannot read", path.display());
            continue;
        };
        let m = MorphioMorphology::from_bytes(&bytes);
        let v = m.verdict();
        let reason = v
            .refusal
            .as_ref()
            .map(|r| json!({"class": r.class, "message": r.message, "line": r.line}));
        let warnings: Vec<Value> = v
            .warnings
            .iter()
            .map(|w| json!([w.kind.name(), w.count, w.line]))
            .collect();
        let name = path
            .strip_prefix(&root)
            .unwrap_or(&path)
            .to_string_lossy()
            .into_owned();
        out.insert(
            name,
            json!({
                "morphio": {"loads": v.loads, "reason": reason, "warnings": warnings},
                "neurom": neurom(&m.neurom_checks(&options)),
            }),
        );
    }
    let doc = json!({ "files": out });
    println!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
}
