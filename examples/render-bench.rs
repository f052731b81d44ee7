//! The performance evidence of issue 20: `render` beside NeuroM's matplotlib drawing of the
//! same files, in the same run; and the collection page of a 10,000-neuron folder.
//!
//! ```text
//! python3 -m venv VENV && VENV/bin/pip install neurom==4.0.6 matplotlib   # once, anywhere
//! cargo run --release --example render-bench -- --venv VENV
//! ```
//!
//! Flags: `--venv DIR` (or `NEUROM_VENV`: a virtualenv with NeuroM 4.0.6 and matplotlib;
//! without one the NeuroM side is skipped with a note), `--rounds N` (times every fixture is
//! drawn by the library, default 20), `--neurom-rounds N` (by NeuroM, default 1),
//! `--neurons N` (the page's collection, default 10,000), `--browser PATH` (a headless
//! Chromium to open the page with; default: found on `PATH`, skipped when absent),
//! `--keep DIR` (build the collection there and keep it).
//!
//! 1. Every real fixture (`fixtures/swc/*.swc`), read from disk, parsed, drawn (the xy view,
//!    true widths, 800 pixels) and written as an SVG file, one thread, N rounds; then NeuroM
//!    4.0.6 in a child Python process: `load_morphology`, `plot_morph` on a new figure,
//!    `savefig(..., format="svg")`, the same files, timed inside Python after its imports.
//!    Both rates count only the files NeuroM could load (it refuses a few fixtures), and the
//!    ratio is of those; the library's rate over all fixtures is printed too.
//! 2. A synthetic collection: N neurons (copies of the smaller fixtures, each made distinct
//!    by a comment line), a metadata table, `checks.csv` and a manifest with each file's
//!    SHA-256, as a download with `--check` leaves them. `page::build` is timed cold (every
//!    thumbnail drawn) and warm (every thumbnail up to date), on 2 threads; then, with a
//!    browser, the page is opened headless, plain and with a filter in its URL, and the
//!    times its script reports are printed.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use neuromorpho::page::{build, PageOptions};
use neuromorpho::swc::{check_bytes, Morphology, RenderOptions};

struct Args {
    venv: Option<PathBuf>,
    rounds: usize,
    neurom_rounds: usize,
    neurons: usize,
    browser: Option<PathBuf>,
    keep: Option<PathBuf>,
}

fn args() -> Args {
    let mut p = pico_args::Arguments::from_env();
    let venv: Option<PathBuf> = p
        .opt_value_from_str("--venv")
        .unwrap()
        .or_else(|| std::env::var_os("NEUROM_VENV").map(PathBuf::from));
    let a = Args {
        venv,
        rounds: p.opt_value_from_str("--rounds").unwrap().unwrap_or(20),
        neurom_rounds: p
            .opt_value_from_str("--neurom-rounds")
            .unwrap()
            .unwrap_or(1),
        neurons: p.opt_value_from_str("--neurons").unwrap().unwrap_or(10_000),
        browser: p
            .opt_value_from_str("--browser")
            .unwrap()
            .or_else(find_browser),
        keep: p.opt_value_from_str("--keep").unwrap(),
    };
    let rest = p.finish();
    assert!(rest.is_empty(), "unknown arguments: {rest:?}");
    a
}

fn find_browser() -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .flat_map(|d| ["chromium-headless-shell", "chromium"].map(|n| d.join(n)))
        .find(|p| p.is_file())
}

fn fixtures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/swc");
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "swc"))
        .collect();
    files.sort();
    files
}

/// A fresh folder under the system's temporary folder.
fn scratch(what: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("render-bench-{what}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Read, parse, draw and write every file, `rounds` times; files per second.
fn library_rate(files: &[PathBuf], rounds: usize, out: &Path) -> f64 {
    let options = RenderOptions::new();
    let started = Instant::now();
    for _ in 0..rounds {
        for f in files {
            let m = Morphology::from_path(f).unwrap();
            let svg = m.to_svg(
                &options
                    .clone()
                    .title(f.file_stem().unwrap().to_string_lossy()),
            );
            std::fs::write(out.join("x.svg"), svg).unwrap();
        }
    }
    (files.len() * rounds) as f64 / started.elapsed().as_secs_f64()
}

const NEUROM_SCRIPT: &str = r#"
import json, os, sys, time, warnings
warnings.simplefilter("ignore")
import matplotlib
matplotlib.use("svg")
import matplotlib.pyplot as plt
import neurom
from neurom.view import matplotlib_impl
rounds, out, files = int(sys.argv[1]), sys.argv[2], sys.argv[3:]
def draw(f):
    m = neurom.load_morphology(f)
    fig, ax = plt.subplots()
    try:
        matplotlib_impl.plot_morph(m, ax=ax)
        fig.savefig(os.path.join(out, "x.svg"), format="svg")
    finally:
        plt.close(fig)
loaded, failed = [], {}
for f in files:  # a first pass, untimed: which files NeuroM can read and draw
    try:
        draw(f)
        loaded.append(f)
    except Exception as e:
        failed[os.path.basename(f)] = type(e).__name__
start = time.perf_counter()
for _ in range(rounds):
    for f in loaded:
        draw(f)
seconds = time.perf_counter() - start
print(json.dumps({"version": neurom.__version__, "loaded": [os.path.basename(f) for f in loaded],
                  "failed": failed, "seconds": seconds, "drawn": rounds * len(loaded)}))
"#;

struct NeuromRun {
    version: String,
    loaded: Vec<String>,
    failed: Vec<String>,
    rate: f64,
}

fn neurom(venv: &Path, files: &[PathBuf], rounds: usize, out: &Path) -> Result<NeuromRun, String> {
    let python = venv.join("bin/python");
    if !python.is_file() {
        return Err(format!("{} is not there", python.display()));
    }
    let script = out.join("neurom_draw.py");
    std::fs::write(&script, NEUROM_SCRIPT).map_err(|e| e.to_string())?;
    let output = Command::new(&python)
        .arg(&script)
        .arg(rounds.to_string())
        .arg(out)
        .args(files)
        .env("MPLBACKEND", "svg")
        .output()
        .map_err(|e| format!("{}: {e}", python.display()))?;
    if !output.status.success() {
        return Err(format!(
            "NeuroM failed: {}",
            String::from_utf8_lossy(&output.stderr)
                .lines()
                .last()
                .unwrap_or("")
        ));
    }
    let v: serde_json::Value = serde_json::from_slice(
        output
            .stdout
            .split(|&b| b == b'\n')
            .rfind(|l| l.starts_with(b"{"))
            .unwrap_or(b"{}"),
    )
    .map_err(|e| format!("NeuroM's answer: {e}"))?;
    let names = |key: &str| -> Vec<String> {
        match &v[key] {
            serde_json::Value::Array(a) => a
                .iter()
                .filter_map(|x| x.as_str().map(String::from))
                .collect(),
            serde_json::Value::Object(o) => o
                .iter()
                .map(|(k, why)| format!("{k} ({})", why.as_str().unwrap_or("?")))
                .collect(),
            _ => Vec::new(),
        }
    };
    Ok(NeuromRun {
        version: v["version"].as_str().unwrap_or("?").to_string(),
        loaded: names("loaded"),
        failed: names("failed"),
        rate: v["drawn"].as_f64().unwrap_or(0.0) / v["seconds"].as_f64().unwrap_or(f64::NAN),
    })
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A folder as a download with `--check` leaves it, of `n` neurons.
fn collection(out: &Path, n: usize) {
    let small: Vec<(String, Vec<u8>)> = fixtures()
        .into_iter()
        .map(|p| {
            (
                p.file_stem().unwrap().to_string_lossy().into_owned(),
                std::fs::read(&p).unwrap(),
            )
        })
        .filter(|(_, b)| b.len() < 120_000)
        .collect();
    let checks: Vec<_> = small.iter().map(|(_, b)| check_bytes(b)).collect();
    std::fs::create_dir_all(out.join("downloads")).unwrap();
    let species = [
        "mouse",
        "rat",
        "human",
        "monkey",
        "zebrafish",
        "drosophila_melanogaster",
    ];
    let regions = ["neocortex", "hippocampus", "cerebellum", "retina"];
    let cells = ["pyramidal", "interneuron, basket", "purkinje", "granule"];
    let mut metadata =
        String::from("neuron_id,neuron_name,archive,species,brain_region,cell_type\n");
    let mut table = String::from(
        "neuron_id,neuron_name,file,points,roots,stems,bifurcations,tips,total_length,errors,warnings,issues\n",
    );
    let mut manifest = String::new();
    for i in 0..n {
        let k = i % small.len();
        let (stem, bytes) = &small[k];
        let name = format!("{stem}-{i}");
        let mut body = format!("# copy {i}\n").into_bytes();
        body.extend_from_slice(bytes);
        let rel = format!("downloads/{name}.swc");
        std::fs::write(out.join(&rel), &body).unwrap();
        let sha = hex(ring::digest::digest(&ring::digest::SHA256, &body).as_ref());
        let id = i + 1;
        let _ = writeln!(
            metadata,
            "{id},{name},archive_{},{},{},\"{}\"",
            i % 17,
            species[i % species.len()],
            regions[i % regions.len()],
            cells[(i / 3) % cells.len()]
        );
        let r = &checks[k];
        let num = |v: Option<usize>| v.map(|v| v.to_string()).unwrap_or_default();
        let _ = writeln!(
            table,
            "{id},{name},{rel},{},{},{},{},{},{},{},{},",
            num(r.points),
            num(r.roots),
            num(r.stems),
            num(r.bifurcations),
            num(r.tips),
            r.total_length
                .map(|l| format!("{l:.2}"))
                .unwrap_or_default(),
            r.errors,
            r.warnings
        );
        let entry = serde_json::json!({
            "neuron_id": id, "neuron_name": name, "kind": "cng", "path": rel,
            "url": format!("https://neuromorpho.org/dableFiles/a/CNG%20version/{name}.CNG.swc"),
            "bytes": body.len(), "sha256": sha, "fetched_at": "2026-12-01T00:00:00Z",
        });
        let _ = writeln!(manifest, "{entry}");
    }
    std::fs::write(out.join("metadata.csv"), metadata).unwrap();
    std::fs::write(out.join("checks.csv"), table).unwrap();
    std::fs::write(out.join("manifest.jsonl"), manifest).unwrap();
}

/// Open the page headless; the times its script reports.
fn open_in_browser(
    browser: &Path,
    page: &Path,
    fragment: &str,
) -> Option<(String, String, String, String)> {
    let profile = scratch("profile");
    let output = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--window-size=1400,1000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg(format!("file://{}{fragment}", page.display()))
        .output()
        .ok()?;
    let _ = std::fs::remove_dir_all(&profile);
    let dom = String::from_utf8_lossy(&output.stdout);
    let attr = |name: &str| -> String {
        let needle = format!("{name}=\"");
        dom.find(&needle)
            .map(|at| {
                let rest = &dom[at + needle.len()..];
                rest[..rest.find('"').unwrap_or(0)].to_string()
            })
            .unwrap_or_else(|| "?".into())
    };
    Some((
        attr("data-open-ms"),
        attr("data-script-ms"),
        attr("data-apply-ms"),
        attr("data-count"),
    ))
}

fn secs(d: Duration) -> String {
    format!("{:.2} s", d.as_secs_f64())
}

fn main() {
    let a = args();
    let files = fixtures();
    let out = scratch("svg");
    println!(
        "== render: the real fixtures ({} files), one thread",
        files.len()
    );
    let all_rate = library_rate(&files, a.rounds, &out);
    println!(
        "neuromorpho, every fixture: {all_rate:.0} files/s ({} rounds)",
        a.rounds
    );
    match a
        .venv
        .as_deref()
        .map(|v| neurom(v, &files, a.neurom_rounds, &out))
    {
        None => {
            println!("NeuroM: SKIPPED (no --venv or NEUROM_VENV with neurom 4.0.6 and matplotlib)")
        }
        Some(Err(why)) => println!("NeuroM: SKIPPED ({why})"),
        Some(Ok(run)) => {
            let same: Vec<PathBuf> = files
                .iter()
                .filter(|f| run.loaded.iter().any(|n| f.ends_with(n)))
                .cloned()
                .collect();
            let ours = library_rate(&same, a.rounds, &out);
            println!(
                "NeuroM {} refuses {}: {}",
                run.version,
                run.failed.len(),
                run.failed.join(", ")
            );
            println!("on the {} files both draw:", same.len());
            println!("  neuromorpho  {ours:>10.1} files/s");
            println!(
                "  NeuroM       {:>10.2} files/s (matplotlib, SVG, {} rounds)",
                run.rate, a.neurom_rounds
            );
            println!(
                "  ratio        {:>10.0}x  (goal: at least 50x)",
                ours / run.rate
            );
        }
    }
    let _ = std::fs::remove_dir_all(&out);

    println!(
        "\n== the collection page of {} neurons (2 threads)",
        a.neurons
    );
    let folder = a.keep.clone().unwrap_or_else(|| scratch("page"));
    let t = Instant::now();
    collection(&folder, a.neurons);
    println!("synthetic folder written in {}", secs(t.elapsed()));
    let options = PageOptions::new().threads(2);
    let cold = build(&folder, &options, |_| {}).unwrap();
    let warm = build(&folder, &options, |_| {}).unwrap();
    let page_bytes = std::fs::metadata(folder.join("index.html")).map_or(0, |m| m.len());
    let thumbs: u64 = std::fs::read_dir(folder.join("thumbnails"))
        .unwrap()
        .flatten()
        .map(|e| e.metadata().map_or(0, |m| m.len()))
        .sum();
    println!(
        "cold (every thumbnail drawn): {} — {} drawn, {:.0} thumbnails/s",
        secs(cold.elapsed),
        cold.drawn,
        cold.drawn as f64 / cold.elapsed.as_secs_f64()
    );
    println!(
        "warm (thumbnails up to date): {} — {} up to date",
        secs(warm.elapsed),
        warm.up_to_date
    );
    println!(
        "index.html {:.1} MB; thumbnails {:.1} MB ({:.1} kB each)",
        page_bytes as f64 / 1e6,
        thumbs as f64 / 1e6,
        thumbs as f64 / 1e3 / cold.drawn.max(1) as f64
    );
    match &a.browser {
        None => println!("browser: SKIPPED (no chromium-headless-shell or chromium)"),
        Some(b) => {
            for fragment in [
                "",
                "#species=mouse&cell_type=pyramidal",
                "#sort=-total_length",
            ] {
                match open_in_browser(b, &folder.join("index.html"), fragment) {
                    Some((open, script, apply, count)) => println!(
                        "browser, index.html{fragment}: open {open} ms (its script {script} ms, of which filter and sort {apply} ms), {count} rows match"
                    ),
                    None => println!("browser: could not run {}", b.display()),
                }
            }
        }
    }
    if a.keep.is_none() {
        let _ = std::fs::remove_dir_all(&folder);
    }
    let _ = std::io::stdout().flush();
}
