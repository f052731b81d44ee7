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
//! * `+ MorphIO verdict + all NeuroM checks`: [`check_bytes_with`] with every NeuroM check
//!   (NeuroM's defaults): what `neuromorpho check --neurom` does per file.
//!
//! Then the copies are written to a temporary folder (the fixtures MorphIO refuses, i.e.
//! `dCH-cobalt.CNG.swc`, left out), and timed on the same files:
//! * `ours, files`: [`Morphology::from_path`] + validate + measures over every file, one thread;
//! * `ours, files, --neurom`: [`check_file`] with every NeuroM check (read, validate,
//!   measure, MorphIO's verdict, NeuroM's checks), one thread;
//! * `check_paths`: the whole check of the folder on `T` threads, with every NeuroM check;
//! * MorphIO: `morphio.Morphology(path)` over the same files in a Python process, timing
//!   only the load loop (the files are in the page cache: both sides read them). The Python
//!   is `--morphio PYTHON`, else `$MORPHIO_PYTHON`, else `venv/bin/python` or
//!   `.venv/bin/python` of the repository when it has `morphio`; without one, a note says so.
//!
//! The ratio that matters is MorphIO's load over `ours, files, --neurom`: at least 4x. It is
//! measured side by side: `--rounds R` rounds (default 5) of one pass of ours then one of
//! MorphIO's, so that a busy machine slows both in turn; the best of each side is compared,
//! and the round-by-round ratios are printed too.

use std::io::Write;
use std::ops::ControlFlow;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use neuromorpho::swc::{
    check_bytes_with, check_file, check_paths, CheckOptions, IssueCode, Morphology, NeuromOptions,
};

const USAGE: &str =
    "usage: swc-bench [--mb N] [--threads T] [--rounds R] [--morphio PYTHON] [--keep]";

struct Args {
    mb: f64,
    rounds: usize,
    threads: usize,
    morphio: Option<String>,
    keep: bool,
}

fn parse_args() -> Result<Args, String> {
    let mut a = Args {
        mb: 200.0,
        rounds: 5,
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
            "--rounds" => {
                a.rounds = value
                    .parse()
                    .map_err(|e| format!("--rounds {value}: {e}"))?
            }
            _ => return Err(format!("unknown option {flag}")),
        }
    }
    if a.mb.is_nan() || a.mb <= 0.0 || a.threads == 0 || a.rounds == 0 {
        return Err("--mb, --threads and --rounds must be positive".into());
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
for _ in range(int(sys.argv[2])):
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

/// [`check_file`] on every file, one after the other: the points read.
fn check_all(paths: &[PathBuf], options: &CheckOptions) -> usize {
    paths
        .iter()
        .map(|p| {
            let r = check_file(p, options).report;
            std::hint::black_box(&r.neurom);
            r.points.unwrap_or(0)
        })
        .sum()
}

fn best_of_3(run: impl FnMut() -> usize) -> (Duration, usize) {
    best_of(3, run)
}

fn best_of(times: usize, mut run: impl FnMut() -> usize) -> (Duration, usize) {
    let mut best = Duration::MAX;
    let mut points = 0;
    for _ in 0..times {
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
    let all_checks = NeuromOptions::new();
    let (t, n) = best_of_3(|| {
        corpus
            .inputs
            .iter()
            .map(|(_, b)| {
                let r = check_bytes_with(b, Some(&all_checks));
                std::hint::black_box(&r.neurom);
                r.points.unwrap_or(0)
            })
            .sum()
    });
    println!(
        "{}",
        line(
            "  + MorphIO verdict + all NeuroM checks",
            t,
            corpus.bytes,
            n
        )
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
    let one_thread = CheckOptions::new().threads(1).neurom(NeuromOptions::new());
    let (full, _) = best_of_3(|| check_all(&paths, &one_thread));
    println!(
        "{}",
        line(
            "ours, files, --neurom: + MorphIO + NeuroM checks",
            full,
            bytes,
            file_points
        )
    );
    let (t, n) = best_of_3(|| {
        let mut points = 0;
        let options = CheckOptions::new()
            .threads(args.threads)
            .neurom(NeuromOptions::new());
        let _ = check_paths([dir], &options, |r| {
            points += r.report.points.unwrap_or(0);
            ControlFlow::Continue(())
        });
        points
    });
    println!(
        "{}",
        line(
            &format!("check_paths --neurom ({} threads)", args.threads),
            t,
            bytes,
            n
        )
    );

    let Some(python) = morphio_python(args) else {
        println!(
            "(MorphIO not run: no Python with morphio; give --morphio PYTHON or set MORPHIO_PYTHON)"
        );
        return Ok(());
    };
    let python = &python;
    let list = dir.join("files.txt");
    let mut f = std::fs::File::create(&list).map_err(|e| format!("{}: {e}", list.display()))?;
    for p in &paths {
        writeln!(f, "{}", p.display()).map_err(|e| e.to_string())?;
    }
    drop(f);
    // Side by side, round after round: a noisy machine slows both in turn, and the best of
    // each round is what each side can do.
    let run_morphio = |loops: usize| -> Result<(String, Duration), String> {
        let out = Command::new(python)
            .arg("-c")
            .arg(MORPHIO_SNIPPET)
            .arg(&list)
            .arg(loops.to_string())
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
        match fields.as_slice() {
            [v, s, _points] => Ok((
                v.to_string(),
                Duration::from_secs_f64(s.parse::<f64>().map_err(|e| e.to_string())?),
            )),
            _ => Err(format!("unexpected output of the MorphIO snippet: {text}")),
        }
    };
    let mut version = String::new();
    let mut rounds = Vec::new();
    for _ in 0..args.rounds {
        let (mine, _) = best_of(1, || check_all(&paths, &one_thread));
        let (v, theirs) = run_morphio(1)?;
        version = v;
        rounds.push((mine, theirs));
    }
    let best_ours = rounds.iter().map(|r| r.0).min().unwrap_or(full).min(full);
    let morphio = rounds.iter().map(|r| r.1).min().unwrap_or(Duration::MAX);
    println!(
        "{}",
        line(
            &format!("MorphIO {version}: morphio.Morphology(path)"),
            morphio,
            bytes,
            file_points
        )
    );
    let mut ratios: Vec<f64> = rounds
        .iter()
        .map(|(o, m)| m.as_secs_f64() / o.as_secs_f64())
        .collect();
    ratios.sort_by(f64::total_cmp);
    let median = ratios.get(ratios.len() / 2).copied().unwrap_or(0.0);
    println!(
        "MorphIO / ours with every NeuroM check: {:.1}x, best against best of {} rounds \
         (one thread each; target: at least 4x); round by round: min {:.1}x, median {:.1}x, \
         max {:.1}x",
        morphio.as_secs_f64() / best_ours.as_secs_f64(),
        args.rounds,
        ratios.first().copied().unwrap_or(0.0),
        median,
        ratios.last().copied().unwrap_or(0.0),
    );
    println!(
        "MorphIO / ours without them: {:.1}x; MorphIO / check_paths --neurom on {} threads: {:.1}x",
        morphio.as_secs_f64() / ours.as_secs_f64(),
        args.threads,
        morphio.as_secs_f64() / t.as_secs_f64()
    );
    Ok(())
}

/// The Python that runs MorphIO: `--morphio`, `$MORPHIO_PYTHON`, or the repository's venv
/// when it can import morphio.
fn morphio_python(args: &Args) -> Option<String> {
    if let Some(p) = &args.morphio {
        return Some(p.clone());
    }
    if let Ok(p) = std::env::var("MORPHIO_PYTHON") {
        if !p.is_empty() {
            return Some(p);
        }
    }
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    ["venv/bin/python", ".venv/bin/python"]
        .iter()
        .map(|p| root.join(p))
        .find(|p| {
            Command::new(p)
                .args(["-c", "import morphio"])
                .output()
                .is_ok_and(|o| o.status.success())
        })
        .map(|p| p.display().to_string())
}
