//! The library's layers, as `src/lib.rs` declares them: a module (a folder or a file at the
//! root of `src/`) uses only modules of its own layer or of a lower one, and the graph of
//! modules has no cycle. Read from the source (`crate::name` paths), so that a `use` that
//! reaches up fails here, with its file and line.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Bottom-up, as in `src/lib.rs`.
const LAYERS: &[&[&str]] = &[
    &["util", "error", "cancel", "progress"],
    &["archive", "swc"],
    &["store"],
    &["client"],
    &["api"],
    &["download", "tables"],
    &["job"],
];

fn layer_of(module: &str) -> Option<usize> {
    LAYERS.iter().position(|l| l.contains(&module))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The top module a file of `src/` belongs to (`None` for lib.rs, main.rs and the CLI).
fn module_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel
        .components()
        .next()?
        .as_os_str()
        .to_string_lossy()
        .into_owned();
    let name = first.strip_suffix(".rs").unwrap_or(&first).to_string();
    (!matches!(name.as_str(), "lib" | "main" | "cli")).then_some(name)
}

/// `(used module, line)` for every `crate::name` in a file, outside comments.
fn uses(text: &str) -> Vec<(String, usize)> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            let after = &rest[at + "crate::".len()..];
            let name: String = after
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            // `crate::{a, b}` lists: each name.
            if let Some(list) = after.strip_prefix('{') {
                let list = list.split('}').next().unwrap_or("");
                for item in list.split(',') {
                    let m: String = item
                        .trim()
                        .chars()
                        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                        .collect();
                    if !m.is_empty() {
                        out.push((m, n + 1));
                    }
                }
            } else if !name.is_empty() {
                out.push((name, n + 1));
            }
            rest = after;
        }
    }
    out
}

#[test]
fn every_module_uses_only_its_own_layer_or_lower_ones_and_there_is_no_cycle() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut wrong = Vec::new();
    for file in &files {
        let Some(module) = module_of(&src, file) else {
            continue;
        };
        let Some(own) = layer_of(&module) else {
            wrong.push(format!(
                "{}: module '{module}' is in no layer of this test (nor of src/lib.rs's list)",
                file.display()
            ));
            continue;
        };
        let text = std::fs::read_to_string(file).unwrap();
        for (used, line) in uses(&text) {
            // Items of the crate root (re-exports, macros) are not modules.
            let Some(theirs) = layer_of(&used) else {
                continue;
            };
            if used != module {
                graph
                    .entry(module.clone())
                    .or_default()
                    .insert(used.clone());
            }
            if theirs > own {
                wrong.push(format!(
                    "{}:{line}: '{module}' (layer {own}) uses '{used}' (layer {theirs}), a layer above it",
                    file.display()
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // No cycle (within a layer either): a depth-first walk never meets a module on its path.
    fn walk(
        m: &str,
        graph: &BTreeMap<String, BTreeSet<String>>,
        path: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) {
        if done.contains(m) {
            return;
        }
        if let Some(at) = path.iter().position(|p| p == m) {
            panic!("a cycle: {} -> {m}", path[at..].join(" -> "));
        }
        path.push(m.to_string());
        for next in graph.get(m).into_iter().flatten() {
            walk(next, graph, path, done);
        }
        path.pop();
        done.insert(m.to_string());
    }
    let mut done = BTreeSet::new();
    for m in graph.keys() {
        walk(m, &graph, &mut Vec::new(), &mut done);
    }
    // The test reads something: the job layer uses the download layer.
    assert!(
        graph.get("job").is_some_and(|d| d.contains("download")),
        "{graph:?}"
    );
}

#[test]
fn the_reader_of_uses_sees_lists_and_paths_but_not_comments() {
    let got = uses("use crate::{api, store::x};\nlet a = crate::swc::Foo; // crate::job\n");
    assert_eq!(
        got,
        [("api".into(), 1), ("store".into(), 1), ("swc".into(), 2)]
    );
}
