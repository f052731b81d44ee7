//! The public surface is deliberate: every item the crate exports (its re-exports at the root
//! and in its public modules) is listed in `docs/public-api.txt`, and a change to the surface
//! must change that file too. `NEUROMORPHO_BLESS=1 cargo test --test it surface::` writes it
//! again after a deliberate change (then review the diff).

use std::collections::BTreeSet;
use std::path::Path;

/// The names a `pub use` statement exports (`pub use a::b::{C, D as E};` -> C, E).
fn exported(statement: &str) -> Vec<String> {
    let body = statement
        .trim()
        .trim_start_matches("pub use")
        .trim()
        .trim_end_matches(';');
    let names = match body.find('{') {
        Some(at) => body[at + 1..].trim_end_matches('}').to_string(),
        None => body.rsplit("::").next().unwrap_or("").to_string(),
    };
    names
        .split(',')
        .map(|n| n.trim())
        .filter(|n| !n.is_empty())
        .map(|n| n.rsplit(" as ").next().unwrap_or(n).trim().to_string())
        .map(|n| n.rsplit("::").next().unwrap_or(&n).to_string())
        .collect()
}

/// `pub use` statements (joined across lines) and `pub mod` names of a module's text, with
/// the prefix of the module they are in (inline `pub mod x { .. }` blocks included).
fn surface_of(text: &str, prefix: &str, src: &Path, dir: &Path, out: &mut BTreeSet<String>) {
    let mut lines = text.lines().peekable();
    let mut inline: Option<String> = None;
    while let Some(line) = lines.next() {
        let t = line.trim();
        if t.starts_with("//") || t.starts_with("#[cfg(test)]") {
            continue;
        }
        let here = match &inline {
            Some(m) => format!("{prefix}::{m}"),
            None => prefix.to_string(),
        };
        if t.starts_with("pub use ") {
            let mut statement = t.to_string();
            while !statement.ends_with(';') {
                match lines.next() {
                    Some(l) => statement.push_str(l.trim()),
                    None => break,
                }
            }
            for name in exported(&statement) {
                out.insert(format!("{here}::{name}"));
            }
        } else if let Some(rest) = t.strip_prefix("pub mod ") {
            let name: String = rest
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                .collect();
            out.insert(format!("{here}::{name} (module)"));
            if rest.trim_end().ends_with('{') {
                inline = Some(name);
            } else {
                // A module in its own file: its surface too.
                let file = [
                    dir.join(&name).join("mod.rs"),
                    dir.join(format!("{name}.rs")),
                ]
                .into_iter()
                .find(|p| p.exists());
                if let Some(file) = file {
                    let text = std::fs::read_to_string(&file).unwrap();
                    let sub = file.parent().unwrap_or(src).to_path_buf();
                    surface_of(&text, &format!("{here}::{name}"), src, &sub, out);
                }
            }
        } else if t == "}" && inline.is_some() {
            inline = None;
        }
    }
}

fn surface() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let src = root.join("src");
    let text = std::fs::read_to_string(src.join("lib.rs")).unwrap();
    let mut items = BTreeSet::new();
    surface_of(&text, "neuromorpho", &src, &src, &mut items);
    let mut out = String::from(
        "# The public items of the neuromorpho crate (re-exports at the root and in its public\n\
         # modules). Written by `NEUROMORPHO_BLESS=1 cargo test --test it surface::`; a change here\n\
         # is a change of the public API.\n",
    );
    for item in items {
        out.push_str(&item);
        out.push('\n');
    }
    out
}

#[test]
fn the_public_items_are_the_listed_ones() {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/public-api.txt");
    let now = surface();
    if std::env::var_os("NEUROMORPHO_BLESS").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, &now).unwrap();
        return;
    }
    let listed = std::fs::read_to_string(&path).unwrap_or_default();
    if listed != now {
        let old: BTreeSet<&str> = listed.lines().collect();
        let new: BTreeSet<&str> = now.lines().collect();
        let added: Vec<&&str> = new.difference(&old).collect();
        let removed: Vec<&&str> = old.difference(&new).collect();
        panic!(
            "the public surface changed: added {added:?}, removed {removed:?}.\n\
             If deliberate: NEUROMORPHO_BLESS=1 cargo test --test it surface::, and review docs/public-api.txt"
        );
    }
    // The list holds the API's entry points.
    for item in [
        "neuromorpho::Client",
        "neuromorpho::swc::Morphology",
        "neuromorpho::store::Manifest",
    ] {
        assert!(now.lines().any(|l| l == item), "{item} missing:\n{now}");
    }
}

#[test]
fn statements_are_read_whole() {
    assert_eq!(exported("pub use a::b::{C, D as E};"), ["C", "E"]);
    assert_eq!(exported("pub use crate::x::Y;"), ["Y"]);
    assert_eq!(exported("pub use x::{\n m::A,\n B };"), ["A", "B"]);
}
