//! Throughput of the SWC reader on the real fixtures, and a comparison with MorphIO's reader.
//!
//! ```text
//! cargo run --release --example swc-bench
//! cargo run --release --example swc-bench -- --morphio /work/venv-swc/bin/python
//! ```
//!
//! Flags: `--mb N` (size of the corpus, default 200: copies of the 25 fixtures in memory),
//! `--threads T` (of the `check_paths` run, default 2), `--morphio PYTHON` (a Python with
//! `morphio` installed), `--keep` (keep the temporary folder).
//!
//! What is timed (best of 3 runs each, the corpus in memory):
//! * `parse`: [`Morphology::from_bytes`] over every copy, on one thread.
//! * `parse + validate + measures`: the same, then [`Morphology::validate`] and
//!   [`Morphology::measures`].
//!
//! Then the copies are written to a temporary folder (the fixtures MorphIO refuses, i.e.
//! `dCH-cobalt.CNG.swc`, left out), and timed on the same files:
//! * `ours, files`: [`Morphology::from_path`] + validate + measures over every file, one thread;
//! * `check_paths`: the whole check of the folder on `T` threads;
//! * with `--morphio`: `morphio.Morphology(path)` over the same files in one Python process,
//!   timing only the load loop (the files are in the page cache: both sides read them).

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use neuromorpho::swc::{check_paths, CheckOptions, IssueCode, Morphology};

const USAGE: &str = "usage: swc-bench [--mb N] [--threads T] [--morphio PYTHON] [--keep]";

struct Args {
    mb: f64,
    threads: usize,
    morphio: Option<String>,
    keep: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        mb: 200.0,
        threads: 2,
        morphio: None,
        keep: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        if flag == "--keep" {
            a.keep = true;
            continue;
        }
        if flag == "-h" || flag == "--help" {
            return Err(String::new());
        }
        let value = it.next().ok_or_else(|| format!("{flag} needs a value"))?;
        match flag.as_str() {
            "--mb" => a.mb = value.parse().map_err(|e| format!("--mb {value}: {e}"))?,
            "--threads" => {
                a.threads = value
                    .parse()
                    .map_err(|e| format!("--threads {value}: {e}"))?
            }
            "--morphio" => a.morphio = Some(value),
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if a.mb.is_nan() || a.mb <= 0.0 || a.threads == 0 {
        return Err("--mb and --threads must be positive".into());
    }
    Ok(a)
}

/// The MorphIO side: load every file, time only the loop.
const MORPHIO_SNIPPET: &str = r#"
import sys, time, morphio
from importlib.metadata import version
morphio.set_maximum_warnings(0)
paths = [l.rstrip("\n") for l in open(sys.argv[1])]
best = None
for _ in range(3):
    points = 0
    t = time.perf_counter()
    for p in paths:
        m = morphio.Morphology(p)
        points += len(m.points)
    dt = time.perf_counter() - t
    best = dt if best is None else min(best, dt)
print(version("morphio"), best, points)
"#;

struct Corpus {
    inputs: Vec<(String, Vec<u8>)>,
    bytes: usize,
}

fn load_corpus(mb: f64) -> Result<Corpus, String> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/swc");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "swc"))
        .collect();
    files.sort();
    let originals: Vec<(String, Vec<u8>)> = files
        .iter()
        .map(|p| {
            let name = p
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned();
            std::fs::read(p)
                .map(|b| (name, b))
                .map_err(|e| format!("{}: {e}", p.display()))
        })
        .collect::<Result<_, _>>()?;
    let set: usize = originals.iter().map(|(_, b)| b.len()).sum();
    let copies = ((mb * 1e6) / set as f64).ceil().max(1.0) as usize;
    let mut inputs = Vec::new();
    for c in 0..copies {
        for (name, bytes) in &originals {
            inputs.push((format!("{c:03}-{name}"), bytes.clone()));
        }
    }
    Ok(Corpus {
        bytes: set * copies,
        inputs,
    })
}

fn best_of_3(mut run: impl FnMut() -> usize) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut points = 0;
    for _ in 0..3 {
        let t = Instant::now();
        points = run();
        best = best.min(t.elapsed());
    }
    (best, points)
}

fn line(what: &str, time: Duration, bytes: usize, points: usize) -> String {
    let s = time.as_secs_f64();
    format!(
        "{what:<44} {s:>7.3} s  {:>7.1} MB/s  {:>6.2} M points/s",
        bytes as f64 / 1e6 / s,
        points as f64 / 1e6 / s
    )
}

fn main() {
    let args = match parse_args() {
        Ok(a) => a,
        Err(m) => {
            if !m.is_empty() {
                eprintln!("swc-bench: {m}");
            }
            eprintln!("{USAGE}");
            std::process::exit(2);
        }
    };
    if let Err(e) = run(&args) {
        eprintln!("swc-bench: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Result<(), String> {
    let corpus = load_corpus(args.mb)?;
    let points: usize = corpus
        .inputs
        .iter()
        .map(|(_, b)| Morphology::from_bytes(b).map_or(0, |m| m.points().len()))
        .sum();
    println!(
        "corpus: {} inputs (copies of the 25 fixtures), {:.1} MB, {points} points",
        corpus.inputs.len(),
        corpus.bytes as f64 / 1e6
    );

    let (t, n) = best_of_3(|| {
        corpus
            .inputs
            .iter()
            .map(|(_, b)| Morphology::from_bytes(b).map_or(0, |m| m.points().len()))
            .sum()
    });
    println!("{}", line("parse (1 thread)", t, corpus.bytes, n));
    let (t, n) = best_of_3(|| {
        corpus
            .inputs
            .iter()
            .map(|(_, b)| match Morphology::from_bytes(b) {
                Ok(m) => {
                    let v = m.validate();
                    let me = m.measures();
                    std::hint::black_box((v.errors, me.total_length));
                    me.points
                }
                Err(_) => 0,
            })
            .sum()
    });
    println!(
        "{}",
        line("parse + validate + measures (1 thread)", t, corpus.bytes, n)
    );

    // The same files on disk, without the one MorphIO refuses.
    let dir = std::env::temp_dir().join(format!("swc-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let result = on_files(args, &corpus, &dir);
    if args.keep {
        println!("kept {}", dir.display());
    } else {
        let _ = std::fs::remove_dir_all(&dir);
    }
    result
}

fn on_files(args: &Args, corpus: &Corpus, dir: &Path) -> Result<(), String> {
    let mut paths = Vec::new();
    let mut bytes = 0;
    for (name, b) in &corpus.inputs {
        let readable = Morphology::from_bytes(b)
            .map(|m| !m.validate().has(IssueCode::SomaBifurcation))
            .unwrap_or(false);
        if !readable {
            continue;
        }
        let path = dir.join(name);
        std::fs::write(&path, b).map_err(|e| format!("{}: {e}", path.display()))?;
        bytes += b.len();
        paths.push(path);
    }
    println!(
        "files: {} in {} ({:.1} MB; dCH-cobalt left out: MorphIO refuses it)",
        paths.len(),
        dir.display(),
        bytes as f64 / 1e6
    );
    let (ours, file_points) = best_of_3(|| {
        paths
            .iter()
            .map(|p| match Morphology::from_path(p) {
                Ok(m) => {
                    std::hint::black_box(m.validate().errors);
                    m.measures().points
                }
                Err(_) => 0,
            })
            .sum()
    });
    println!(
        "{}",
        line(
            "ours, files: read + parse + validate + measures",
            ours,
            bytes,
            file_points
        )
    );
    let (t, n) = best_of_3(|| {
        let mut points = 0;
        let options = CheckOptions::new().threads(args.threads);
        let _ = check_paths([dir], &options, |r| {
            points += r.report.points.unwrap_or(0);
            ControlFlow::Continue(())
        });
        points
    });
    println!(
        "{}",
        line(
            &format!("check_paths ({} threads)", args.threads),
            t,
            bytes,
            n
        )
    );

    let Some(python) = &args.morphio else {
        println!("(MorphIO: not run; give --morphio PYTHON)");
        return Ok(());
    };
    let list = dir.join("files.txt");
    let mut f = std::fs::File::create(&list).map_err(|e| format!("{}: {e}", list.display()))?;
    for p in &paths {
        writeln!(f, "{}", p.display()).map_err(|e| e.to_string())?;
    }
    drop(f);
    let out = Command::new(python)
        .arg("-c")
        .arg(MORPHIO_SNIPPET)
        .arg(&list)
        .output()
        .map_err(|e| format!("{python}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "the MorphIO snippet failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let fields: Vec<&str> = text.split_whitespace().collect();
    // MorphIO's own point count differs (section starts are duplicated, the soma apart).
    let (version, secs) = match fields.as_slice() {
        [v, s, _points] => (v.to_string(), s.parse::<f64>().map_err(|e| e.to_string())?),
        _ => return Err(format!("unexpected output of the MorphIO snippet: {text}")),
    };
    let morphio = Duration::from_secs_f64(secs);
    println!(
        "{}",
        line(
            &format!("MorphIO {version}: morphio.Morphology(path)"),
            morphio,
            bytes,
            file_points
        )
    );
    println!(
        "ours / MorphIO: {:.1}x (one thread each; the check on {} threads: {:.1}x)",
        morphio.as_secs_f64() / ours.as_secs_f64(),
        args.threads,
        morphio.as_secs_f64() / t.as_secs_f64()
    );
    Ok(())
}
