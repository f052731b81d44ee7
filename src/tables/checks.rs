//! `checks.csv`: the verdict of the SWC checks on every file a download holds (errors,
//! warnings, NeuroM's measures, MorphIO 3.5's load verdict, NeuroM's checks when asked, and
//! whether the file passes what is required), beside the metadata table, so that bad files
//! can be filtered out before training. A file with errors is still kept: it is what the
//! archive holds.

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::path::Path;

use crate::archive::files::FileKind;
use crate::download::HeldFile;
use crate::error::{Error, Result};
use crate::store::atomic_file::AtomicFile;
use crate::store::manifest::relative;
use crate::swc::{check_paths, CheckOptions, NeuromReport};
use crate::util::text::for_table;

/// Columns of the table.
const COLUMNS: usize = 17;

const HEADER: [&str; COLUMNS] = [
    "neuron_id",
    "neuron_name",
    "file",
    "points",
    "roots",
    "stems",
    "bifurcations",
    "tips",
    "total_length",
    "errors",
    "warnings",
    "issues",
    "morphio",
    "morphio_reason",
    "neurom",
    "neurom_failed",
    "passes",
];

/// What checking the files of a download found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Checked {
    pub files: u64,
    pub with_errors: u64,
    pub with_warnings: u64,
    pub neurom_failed: u64,
    pub rejected: u64,
}

/// Check the SWC files among `files` (in parallel) and write `path` (atomically): one row
/// per file, plus the rows of the table in place for files this run did not check (several
/// runs share a folder). `options` says which NeuroM checks run and what a file must pass.
/// The caller holds the folder lock.
pub(crate) fn write_checks(
    out_dir: &Path,
    files: &[HeldFile],
    path: &Path,
    options: &CheckOptions,
) -> Result<Checked> {
    let swc: Vec<&HeldFile> = files
        .iter()
        .filter(|f| {
            f.kind == FileKind::Cng
                || f.path
                    .extension()
                    .is_some_and(|e| e.eq_ignore_ascii_case("swc"))
        })
        .collect();
    let mut rows: Vec<[String; COLUMNS]> = Vec::with_capacity(swc.len());
    let mut checked = Checked::default();
    let paths: Vec<&Path> = swc.iter().map(|f| f.path.as_path()).collect();
    let mut i = 0;
    check_paths(paths, options, |report| {
        // Reports come back in the order given.
        if let Some(f) = swc.get(i) {
            let r = &report.report;
            checked.files += 1;
            checked.with_errors += u64::from(r.errors > 0);
            checked.with_warnings += u64::from(r.warnings > 0);
            let failed: Vec<&str> = r
                .neurom
                .as_ref()
                .map(|n| n.failed().map(|c| c.name()).collect())
                .unwrap_or_default();
            checked.neurom_failed += u64::from(!failed.is_empty());
            let passes = r.meets(&options.require);
            checked.rejected += u64::from(!passes);
            let num = |v: Option<usize>| v.map(|n| n.to_string()).unwrap_or_default();
            let issues: Vec<String> = r
                .issues
                .iter()
                .map(|is| match is.line {
                    Some(l) => format!("{}@{l}", is.code.as_str()),
                    None => is.code.as_str().to_string(),
                })
                .collect();
            rows.push([
                f.neuron_id.map(|n| n.to_string()).unwrap_or_default(),
                for_table(&f.neuron_name).into_owned(),
                relative(out_dir, &f.path).unwrap_or_default(),
                num(r.points),
                num(r.roots),
                num(r.stems),
                num(r.bifurcations),
                num(r.tips),
                r.total_length
                    .map(|l| format!("{l:.2}"))
                    .unwrap_or_default(),
                r.errors.to_string(),
                r.warnings.to_string(),
                issues.join(" "),
                match &r.morphio {
                    Some(m) if m.loads => "loads".to_string(),
                    Some(_) => "refuses".to_string(),
                    None => String::new(),
                },
                r.morphio
                    .as_ref()
                    .and_then(|m| m.refusal.as_ref())
                    .map(|why| for_table(&why.to_string()).into_owned())
                    .unwrap_or_default(),
                neurom_word(r.neurom.as_ref()).to_string(),
                failed.join(" "),
                if passes { "yes" } else { "no" }.to_string(),
            ]);
        }
        i += 1;
        ControlFlow::Continue(())
    })
    .map_err(|e| Error::io(path, std::io::Error::other(e.to_string())))?;
    let mine: HashSet<String> = rows.iter().map(|r| r[2].clone()).collect();
    keep_other_rows(path, &mine, &mut rows);
    write_table(path, &rows)?;
    Ok(checked)
}

/// The `neurom` column: empty when NeuroM's checks did not run; else `unloadable` (NeuroM
/// cannot load the file), `fail` (a check failed), `undecided` (none failed, one gave no
/// verdict) or `pass`.
fn neurom_word(report: Option<&NeuromReport>) -> &'static str {
    match report {
        None => "",
        Some(n) if n.load_error.is_some() => "unloadable",
        Some(n) if n.failed().next().is_some() => "fail",
        Some(n) if n.undecided().next().is_some() => "undecided",
        Some(_) => "pass",
    }
}

/// Rows of the table in place whose file this run did not check (a table of an older
/// version, with fewer columns, gives empty cells for the new ones).
fn keep_other_rows(path: &Path, mine: &HashSet<String>, rows: &mut Vec<[String; COLUMNS]>) {
    // A file of the folder: a FIFO or a link there is never waited on or followed.
    let Ok(Some(file)) = crate::store::safe_fs::open_regular(path) else {
        return;
    };
    let mut reader = csv::Reader::from_reader(file);
    for row in reader.records().flatten() {
        let cell = |i: usize| row.get(i).unwrap_or("").to_string();
        if mine.contains(&cell(2)) {
            continue;
        }
        rows.push(std::array::from_fn(cell));
    }
}

fn write_table(path: &Path, rows: &[[String; COLUMNS]]) -> Result<()> {
    let csv_err = |source| Error::Csv {
        path: path.to_path_buf(),
        source,
    };
    let file = AtomicFile::create(path, true).map_err(|e| Error::io(path, e))?;
    let mut w = csv::Writer::from_writer(file);
    w.write_record(HEADER).map_err(csv_err)?;
    for r in rows {
        w.write_record(r).map_err(csv_err)?;
    }
    let file = w
        .into_inner()
        .map_err(|e| Error::io(path, e.into_error()))?;
    file.commit().map_err(|e| Error::io(path, e))
}
