//! The documentation holds together: README.md stays short enough to be read to the end,
//! every relative link of README.md and docs/*.md leads to a file (and a `#anchor` to a
//! heading of it), and the issue-code table of docs/check-codes.md is rendered from
//! `neuromorpho::swc::IssueCode` itself, so that it cannot drift from the code.
//!
//! After a change to `IssueCode` (a code, its severity or its summary):
//! `NEUROMORPHO_BLESS=1 cargo test --test it docs::` writes the table again (the last column,
//! written by hand, is kept per code), then review the diff of docs/check-codes.md.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use neuromorpho::swc::IssueCode;

/// The README's budget, in lines: what a newcomer reads to the end.
const README_MAX_LINES: usize = 250;

const TABLE_FILE: &str = "docs/check-codes.md";
const BEGIN: &str = "<!-- issue-codes: begin -->";
const END: &str = "<!-- issue-codes: end -->";
const BLESS: &str = "NEUROMORPHO_BLESS=1 cargo test --test it docs::";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// README.md and every docs/*.md, in name order.
fn pages() -> Vec<PathBuf> {
    let mut docs: Vec<PathBuf> = std::fs::read_dir(root().join("docs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "md"))
        .collect();
    docs.sort();
    let mut all = vec![root().join("README.md")];
    all.extend(docs);
    all
}

/// The lines of a Markdown text outside fenced code blocks, numbered from 1 (a `#` in a
/// code block is no heading, a `](` there no link).
fn outside_fences(text: &str) -> Vec<(usize, &str)> {
    let mut out = Vec::new();
    let mut fenced = false;
    for (i, line) in text.lines().enumerate() {
        let t = line.trim_start();
        if t.starts_with("```") || t.starts_with("~~~") {
            fenced = !fenced;
        } else if !fenced {
            out.push((i + 1, line));
        }
    }
    out
}

/// A line with its inline code spans emptied (what stands between an odd and an even
/// backtick): a `](` in code is no link.
fn without_code(line: &str) -> String {
    line.split('`')
        .enumerate()
        .map(|(k, part)| if k % 2 == 0 { part } else { "" })
        .collect::<Vec<_>>()
        .join("``")
}

/// The targets of inline links (`[text](target)`) and of link definitions (`[label]: target`),
/// with their line.
fn links(text: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in outside_fences(text) {
        let line = without_code(line);
        let mut rest = line.as_str();
        while let Some(at) = rest.find("](") {
            let after = &rest[at + 2..];
            let end = after.find(')').unwrap_or(after.len());
            // `[text](target "title")`: the target is the first word.
            let target = after[..end].split_whitespace().next().unwrap_or("");
            out.push((n, target.to_string()));
            rest = &after[end..];
        }
        let t = line.trim_start();
        if let (true, Some(close)) = (t.starts_with('['), t.find("]:")) {
            if let Some(target) = t[close + 2..].split_whitespace().next() {
                out.push((n, target.to_string()));
            }
        }
    }
    out
}

/// GitHub's anchor for a heading: lower case, punctuation dropped (but `-` and `_`), spaces
/// as `-`.
fn slug(heading: &str) -> String {
    heading
        .trim()
        .to_lowercase()
        .chars()
        .filter(|c| c.is_alphanumeric() || matches!(c, ' ' | '-' | '_'))
        .map(|c| if c == ' ' { '-' } else { c })
        .collect()
}

/// The anchors of a page's headings (a repeated heading gets `-1`, `-2`, ... as on GitHub).
fn anchors(text: &str) -> Vec<String> {
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut out = Vec::new();
    for (_, line) in outside_fences(text) {
        let hashes = line.chars().take_while(|&c| c == '#').count();
        if hashes == 0 || hashes > 6 || !line[hashes..].starts_with(' ') {
            continue;
        }
        let base = slug(&line[hashes..].trim_end_matches('#').replace('`', ""));
        let count = seen.entry(base.clone()).or_insert(0);
        out.push(if *count == 0 {
            base.clone()
        } else {
            format!("{base}-{count}")
        });
        *count += 1;
    }
    out
}

/// The relative links of `page` (whose text is `text`) that lead nowhere, as messages.
fn broken_links(page: &Path, text: &str) -> Vec<String> {
    let dir = page.parent().unwrap();
    let mut broken = Vec::new();
    for (line, target) in links(text) {
        if target.is_empty()
            || target.contains("://")
            || target.starts_with("mailto:")
            || target.starts_with('<')
        {
            continue;
        }
        let (path, anchor) = match target.split_once('#') {
            Some((p, a)) => (p, Some(a)),
            None => (target.as_str(), None),
        };
        let file = if path.is_empty() {
            page.to_path_buf()
        } else {
            dir.join(path)
        };
        let at = format!("{}:{line}: {target}", page.display());
        if !file.exists() {
            broken.push(format!("{at}: no file {}", file.display()));
            continue;
        }
        if let Some(anchor) = anchor {
            if file.extension().is_some_and(|x| x == "md")
                && !anchors(&read(&file)).iter().any(|a| a == anchor)
            {
                broken.push(format!("{at}: no heading #{anchor} in {}", file.display()));
            }
        }
    }
    broken
}

#[test]
fn the_readme_is_short() {
    let lines = read(&root().join("README.md")).lines().count();
    assert!(
        lines <= README_MAX_LINES,
        "README.md has {lines} lines, more than {README_MAX_LINES}: move the details into docs/"
    );
}

#[test]
fn every_relative_link_resolves() {
    let mut broken = Vec::new();
    let mut checked = 0;
    for page in pages() {
        let text = read(&page);
        checked += links(&text).len();
        broken.extend(broken_links(&page, &text));
    }
    assert!(checked > 0, "no link found: the scanner is broken");
    assert!(broken.is_empty(), "broken links:\n{}", broken.join("\n"));
}

/// The checker itself finds a missing file and a missing heading, and passes good links (so
/// that the test above can fail).
#[test]
fn the_link_checker_finds_what_is_broken() {
    let dir = std::env::temp_dir().join(format!("neuromorpho-docs-test-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("docs")).unwrap();
    std::fs::write(
        dir.join("docs/other.md"),
        "# Other page\n\n## `verify`'s options\n\n## Twice\n\n## Twice\n\n```sh\n# no heading\n```\n",
    )
    .unwrap();
    let page = dir.join("README.md");
    let text = "# Top\n\n\
        [good](docs/other.md) [good](docs/other.md#verifys-options) [good](#top)\n\
        [good](docs/other.md#twice-1 \"title\") [web](https://example.org/x.md#nothing)\n\
        [bad](docs/missing.md) and [bad](docs/other.md#no-heading)\n\
        `[in code](nowhere.md)`\n\
        ```text\n[in a block](nowhere.md)\n```\n\
        [ref]: docs/gone.md\n";
    std::fs::write(&page, text).unwrap();
    let broken = broken_links(&page, text);
    std::fs::remove_dir_all(&dir).unwrap();
    let want = [
        ":5: docs/missing.md: no file",
        ":5: docs/other.md#no-heading: no heading",
        ":10: docs/gone.md: no file",
    ];
    assert_eq!(broken.len(), want.len(), "{broken:#?}");
    for (got, want) in broken.iter().zip(want) {
        assert!(got.contains(want), "{got} (expected {want})");
    }
}

/// The cells of a table row: `| a | b |` -> ["a", "b"].
fn cells(row: &str) -> Vec<String> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    inner.split('|').map(|c| c.trim().to_string()).collect()
}

/// The table as `IssueCode` says it is: every code in `IssueCode::ALL`'s order, its
/// severity and its summary; the last column from `downstream` (by code), else `—`.
fn render(downstream: &BTreeMap<String, String>) -> String {
    let mut out = String::from(
        "| code | severity | meaning | what it breaks downstream |\n|---|---|---|---|\n",
    );
    for code in IssueCode::ALL {
        let summary = code.summary();
        assert!(
            !summary.is_empty() && !summary.contains(['|', '\n']),
            "IssueCode::{code:?}.summary() must be one line without '|': {summary:?}"
        );
        let last = downstream.get(code.as_str()).map_or("—", String::as_str);
        out.push_str(&format!(
            "| `{}` | {} | {} | {} |\n",
            code.as_str(),
            code.severity(),
            summary,
            last
        ));
    }
    out
}

#[test]
fn the_issue_code_table_is_issue_codes_own() {
    let path = root().join(TABLE_FILE);
    let text = read(&path);
    let (Some(begin), Some(end)) = (text.find(BEGIN), text.find(END)) else {
        panic!("{TABLE_FILE}: the table must stand between {BEGIN} and {END}");
    };
    assert!(begin < end, "{TABLE_FILE}: {END} before {BEGIN}");
    let start = begin + BEGIN.len() + 1;
    let table = &text[start.min(end)..end];
    // The hand-written column, by code (rows of codes that no longer exist are dropped).
    let downstream: BTreeMap<String, String> = table
        .lines()
        .skip(2)
        .map(cells)
        .filter(|c| c.len() == 4)
        .map(|c| (c[0].trim_matches('`').to_string(), c[3].clone()))
        .collect();
    let want = render(&downstream);
    if std::env::var_os("NEUROMORPHO_BLESS").is_some() {
        let new = format!("{}{want}{}", &text[..start], &text[end..]);
        std::fs::write(&path, new).unwrap();
        return;
    }
    if table != want {
        let first = table
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(table.lines().count().min(want.lines().count()));
        panic!(
            "{TABLE_FILE}: the issue-code table differs from neuromorpho::swc::IssueCode \
             (row {}):\n  in the file: {}\n  from code:   {}\n\
             Run `{BLESS}` to write it again, then review the diff.",
            first + 1,
            table.lines().nth(first).unwrap_or("(nothing)"),
            want.lines().nth(first).unwrap_or("(nothing)"),
        );
    }
}
