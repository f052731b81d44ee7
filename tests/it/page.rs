//! The collection page (`neuromorpho::page::build`): a folder downloaded from the fake server
//! with `--check`, its page read back as data (every neuron a row, verdicts, links,
//! thumbnails that are SVG), thumbnails kept apart from the data folders (verify stays clean),
//! reused, redrawn and removed as their files change, hostile names and manifests kept in
//! their place; and the page in a real headless browser: rows from the DOM after the script
//! ran, a filter in the URL, a hostile name shown as text, thumbnails drawn on a screenshot.

use crate::support;

use std::collections::BTreeSet;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use neuromorpho::page::{build, PageOptions, PageReport};
use neuromorpho::{CancelToken, Error, JobOptions, Query, VerifyOptions};
use serde_json::Value;
use support::png::decode_png;
use support::svg::parse_xml;
use support::*;

/// A name that is markup, and one that would end a script element.
const IMG_NAME: &str = "<img src=x onerror=\"document.title='pwned'\">";
const SCRIPT_NAME: &str = "</script><script>document.title='pwned2'</script>";
/// The neuron whose file has errors (a missing parent).
const BROKEN_NAME: &str = "broken_cell";

struct Collection {
    _server: FakeServer,
    _dir: TempDir,
    out: PathBuf,
    /// (id, name, species) of every neuron of the metadata table.
    neurons: Vec<(u64, String, String)>,
}

/// The test catalog: 30 generated neurons, the hostile names, two names that are markup and
/// one neuron whose file has errors.
fn test_catalog() -> Catalog {
    let mut catalog = Catalog::generate(30);
    catalog.push_hostile();
    let base = catalog.record_value(1);
    for (id, name, file) in [
        (90_001u64, IMG_NAME, None),
        (90_002, SCRIPT_NAME, None),
        (
            90_003,
            BROKEN_NAME,
            Some(std::fs::read(fixtures_dir().join("swc-broken/missing-parent.swc")).unwrap()),
        ),
    ] {
        let mut record = base.clone();
        record["neuron_id"] = Value::from(id);
        record["neuron_name"] = Value::from(name);
        let bytes = file.unwrap_or_else(|| catalog.swc_bytes(2).to_vec());
        catalog.push_raw(record, Some(bytes));
    }
    catalog
}

/// (id, name, species) of every row of `out/metadata.csv`.
fn metadata_rows(out: &Path) -> Vec<(u64, String, String)> {
    let mut reader = csv::Reader::from_path(out.join("metadata.csv")).unwrap();
    let headers = reader.headers().unwrap().clone();
    let at = |h: &str| headers.iter().position(|x| x == h).unwrap();
    let (id, name, species) = (at("neuron_id"), at("neuron_name"), at("species"));
    reader
        .records()
        .map(|r| {
            let r = r.unwrap();
            (
                r[id].parse().unwrap(),
                r[name].to_string(),
                r[species].to_string(),
            )
        })
        .collect()
}

fn collection() -> Collection {
    let server = FakeServer::start(test_catalog());
    let dir = TempDir::new();
    let out = dir.path().join("neurons");
    let summary = client(&server)
        .download_query(&Query::all(), &JobOptions::new(&out).check(true), |_| {})
        .unwrap();
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    let neurons = metadata_rows(&out);
    assert_eq!(neurons.len(), 30 + HOSTILE_NAMES.len() + 3);
    Collection {
        _server: server,
        _dir: dir,
        out,
        neurons,
    }
}

fn build_page(out: &Path) -> PageReport {
    build(out, &PageOptions::new().threads(2), |_| {}).unwrap()
}

/// The page's embedded data.
fn page_data(out: &Path) -> Value {
    let html = std::fs::read_to_string(out.join("index.html")).unwrap();
    let open = "<script type=\"application/json\" id=\"page-data\">";
    let start = html.find(open).unwrap() + open.len();
    let end = start + html[start..].find("</script>").unwrap();
    let json = &html[start..end];
    assert!(
        !json.contains('<') && !json.contains('>'),
        "markup in the data"
    );
    serde_json::from_str(json).unwrap()
}

/// Column key -> index into a row (after id, thumbnail and files).
fn column(data: &Value, key: &str) -> usize {
    3 + data["columns"]
        .as_array()
        .unwrap()
        .iter()
        .position(|c| c["key"] == key)
        .unwrap_or_else(|| panic!("no column {key}"))
}

fn row_of(data: &Value, id: u64) -> &Vec<Value> {
    data["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_array().unwrap())
        .find(|r| r[0] == id)
        .unwrap_or_else(|| panic!("no row {id}"))
}

#[test]
fn the_page_has_a_row_per_neuron_with_its_verdict_files_and_thumbnail() {
    let c = collection();
    let report = build_page(&c.out);
    assert_eq!(report.neurons, c.neurons.len());
    assert!(report.checked);
    assert_eq!(report.drawn + report.up_to_date, report.drawn);
    assert!(
        report.drawn > 0 && report.unreadable.is_empty(),
        "{report:?}"
    );
    let data = page_data(&c.out);
    let rows = data["rows"].as_array().unwrap();
    assert_eq!(rows.len(), c.neurons.len());
    let (name, species, verdict) = (
        column(&data, "name"),
        column(&data, "species"),
        column(&data, "verdict"),
    );
    for (id, n, s) in &c.neurons {
        let row = row_of(&data, *id);
        assert_eq!(row[name], Value::from(n.as_str()));
        assert_eq!(row[species], Value::from(s.as_str()));
        let expected = if n == BROKEN_NAME { "errors" } else { "ok" };
        assert!(
            row[verdict] == expected || (expected == "ok" && row[verdict] == "warnings"),
            "{n}: {}",
            row[verdict]
        );
        // Its CNG file is linked, and its thumbnail is an SVG file of the thumbnails folder.
        let files = row[2].as_array().unwrap();
        let cng = files.iter().find(|f| f[0] == "cng").unwrap();
        let href = cng[1].as_str().unwrap();
        assert!(
            href.starts_with("downloads/") && !href.contains(['<', '>', '"', ':', '#', '?']),
            "{href}"
        );
        let thumb = row[1].as_str().unwrap();
        assert!(
            thumb.starts_with("thumbnails/") && thumb.ends_with(".svg"),
            "{thumb}"
        );
        let svg = std::fs::read_to_string(c.out.join(thumb)).unwrap();
        parse_xml(&svg).unwrap_or_else(|e| panic!("{thumb}: {e}"));
        if n == BROKEN_NAME {
            assert!(svg.contains("error"), "{svg}");
        }
    }
    // Server text never reaches the page as markup.
    let html = std::fs::read_to_string(c.out.join("index.html")).unwrap();
    assert!(!html.contains("<img src=x") && !html.contains("</script><script>document"));
    assert!(!html.contains('\u{1b}'));
    // The histograms and the citations.
    assert_eq!(html.matches("<figure class=\"histogram\">").count(), 4);
    assert!(html.contains("NeuroMorpho.Org"));
    assert!(html.contains("by <b>species</b>"));
}

#[test]
fn verify_stays_clean_after_a_report() {
    let c = collection();
    build_page(&c.out);
    assert!(c.out.join("thumbnails").is_dir());
    let report = verifier()
        .verify(&c.out, &VerifyOptions::default(), |_| {})
        .unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.entries as usize, c.neurons.len());
}

#[test]
fn thumbnails_are_reused_redrawn_when_their_file_changes_and_removed_when_unused() {
    let c = collection();
    let first = build_page(&c.out);
    let again = build_page(&c.out);
    assert_eq!((again.drawn, again.up_to_date), (0, first.drawn));
    // A file changed in place (newer than its thumbnail) is drawn again.
    let data = page_data(&c.out);
    let row = row_of(&data, c.neurons[3].0);
    let swc = c.out.join(row[2][0][1].as_str().unwrap());
    let thumb = c.out.join(row[1].as_str().unwrap());
    let before = std::fs::read_to_string(&thumb).unwrap();
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&swc, b"1 1 0 0 0 5 -1\n2 3 0 300 0 1 1\n3 2 0 -300 0 1 1\n").unwrap();
    let third = build_page(&c.out);
    assert_eq!(third.drawn, 1, "{third:?}");
    assert_ne!(std::fs::read_to_string(&thumb).unwrap(), before);
    // A thumbnail no neuron uses is removed; other files of the folder are left alone.
    let stray = c
        .out
        .join("thumbnails")
        .join(format!("{}.svg", "ab".repeat(32)));
    let note = c.out.join("thumbnails/notes.txt");
    std::fs::write(&stray, "<svg/>").unwrap();
    std::fs::write(&note, "mine").unwrap();
    let fourth = build_page(&c.out);
    assert_eq!(fourth.removed, 1);
    assert!(!stray.exists() && note.exists());
}

#[test]
fn a_manifest_that_lies_about_a_sha256_names_no_file() {
    let c = collection();
    let manifest = c.out.join("manifest.jsonl");
    let text = std::fs::read_to_string(&manifest).unwrap();
    let mut lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    lines[0]["sha256"] = Value::from("../../../escaped");
    let path = lines[0]["path"].as_str().unwrap().to_string();
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&manifest, text).unwrap();
    let report = build_page(&c.out);
    assert!(
        report
            .unreadable
            .iter()
            .any(|u| u.starts_with(&path) && u.contains("SHA-256")),
        "{:?}",
        report.unreadable
    );
    let outside: Vec<PathBuf> = files_under(c.out.parent().unwrap())
        .into_iter()
        .filter(|p| !p.starts_with(&c.out))
        .collect();
    assert!(outside.is_empty(), "{outside:?}");
}

#[cfg(unix)]
#[test]
fn a_thumbnails_folder_that_is_a_link_is_refused() {
    let c = collection();
    let elsewhere = TempDir::new();
    std::os::unix::fs::symlink(elsewhere.path(), c.out.join("thumbnails")).unwrap();
    let e = build(&c.out, &PageOptions::new(), |_| {}).unwrap_err();
    assert!(e.to_string().contains("thumbnails"), "{e}");
    assert!(files_under(elsewhere.path()).is_empty());
    assert!(!c.out.join("index.html").exists());
}

#[test]
fn a_cancelled_build_writes_no_page() {
    let c = collection();
    let token = CancelToken::new();
    token.cancel();
    let e = build(&c.out, &PageOptions::new().cancel(&token), |_| {}).unwrap_err();
    assert!(matches!(e, Error::Cancelled), "{e:?}");
    assert!(!c.out.join("index.html").exists());
}

#[test]
fn without_checks_the_page_says_so() {
    let c = collection();
    std::fs::remove_file(c.out.join("checks.csv")).unwrap();
    let report = build(&c.out, &PageOptions::new().thumbnails(false), |_| {}).unwrap();
    assert!(!report.checked);
    let data = page_data(&c.out);
    let keys: Vec<&str> = data["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["key"].as_str().unwrap())
        .collect();
    assert_eq!(
        keys,
        [
            "name",
            "archive",
            "species",
            "brain_region",
            "cell_type",
            "verdict"
        ]
    );
    let verdict = column(&data, "verdict");
    assert!(data["rows"]
        .as_array()
        .unwrap()
        .iter()
        .all(|r| r[verdict] == "not checked" && r[1].is_null()));
}

// ------------------------------------------------------------------------------------------
// In a real browser

/// A headless Chromium, if one is installed (CI installs Debian's).
fn browser() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("NEUROMORPHO_BROWSER") {
        return Some(PathBuf::from(p));
    }
    let names = [
        "chromium-headless-shell",
        "chromium",
        "chromium-browser",
        "google-chrome",
    ];
    let path = std::env::var_os("PATH").unwrap_or_default();
    for dir in std::env::split_paths(&path).chain([PathBuf::from("/usr/bin")]) {
        for n in names {
            let p = dir.join(n);
            if p.is_file() {
                return Some(p);
            }
        }
    }
    None
}

/// Run the browser headless on `url` with `args`; its standard output. Killed after 90 s.
fn run_browser(browser: &Path, url: &str, args: &[String]) -> String {
    let profile = TempDir::new();
    let mut child = Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--hide-scrollbars",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{}: {e}", browser.display()));
    let mut stdout = child.stdout.take().unwrap();
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    let started = Instant::now();
    loop {
        if child.try_wait().unwrap().is_some() {
            break;
        }
        if started.elapsed() > Duration::from_secs(90) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{} did not finish in 90 s on {url}", browser.display());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    reader.join().unwrap()
}

fn file_url(path: &Path, fragment: &str) -> String {
    let mut url = String::from("file://");
    for b in path.to_string_lossy().bytes() {
        if b.is_ascii_alphanumeric() || b"/-._~".contains(&b) {
            url.push(b as char);
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url.push_str(fragment);
    url
}

/// The DOM after the script ran: the ids of the rows, and the text of the name cells.
fn dump_rows(browser: &Path, page: &Path, fragment: &str) -> (Vec<u64>, String) {
    let dom = run_browser(
        browser,
        &file_url(page, fragment),
        &["--window-size=1400,6000".into(), "--dump-dom".into()],
    );
    assert!(
        dom.contains("id=\"rows\""),
        "no table in the DOM: {}",
        &dom[..dom.len().min(500)]
    );
    let ids = dom
        .split("<tr class=\"row\" data-id=\"")
        .skip(1)
        .map(|s| s[..s.find('"').unwrap()].parse().unwrap())
        .collect();
    (ids, dom)
}

#[test]
fn the_page_in_a_headless_browser() {
    let Some(browser) = browser() else {
        println!("SKIPPED: no headless Chromium here (chromium-headless-shell or chromium); .ci/run installs one");
        return;
    };
    let c = collection();
    build_page(&c.out);
    let page = c.out.join("index.html");
    let all: BTreeSet<u64> = c.neurons.iter().map(|n| n.0).collect();

    // Every neuron has a row once the script ran.
    let (ids, dom) = dump_rows(&browser, &page, "");
    assert_eq!(ids.len(), all.len(), "{ids:?}");
    assert_eq!(ids.iter().copied().collect::<BTreeSet<_>>(), all);
    assert!(
        dom.contains(&format!("data-count=\"{}\"", all.len())),
        "the count shown"
    );
    // The hostile names are text: escaped in the DOM, no element made of them, the title kept.
    assert!(
        dom.contains("&lt;img src=x onerror=\"document.title='pwned'\"&gt;")
            || dom.contains("&lt;img src=x onerror=\"document.title=&#39;pwned&#39;\"&gt;"),
        "the name as text"
    );
    assert!(!dom.contains("<img src=\"x\"") && !dom.contains("<img src=x"));
    assert!(dom.contains("&lt;/script&gt;&lt;script&gt;"));
    assert!(!dom.contains("pwned</title>") && !dom.contains("<title>pwned"));

    // A filter in the URL leaves exactly the expected rows.
    let mice: BTreeSet<u64> = c
        .neurons
        .iter()
        .filter(|n| n.2.contains("mouse"))
        .map(|n| n.0)
        .collect();
    assert!(!mice.is_empty() && mice.len() < all.len());
    let (ids, _) = dump_rows(&browser, &page, "#species=mouse");
    assert_eq!(ids.iter().copied().collect::<BTreeSet<_>>(), mice);
    // Several keys add up; "has errors" is the verdict.
    let (ids, _) = dump_rows(&browser, &page, "#verdict=errors");
    assert_eq!(ids, [90_003]);
    let rats: BTreeSet<u64> = c
        .neurons
        .iter()
        .filter(|n| n.2.contains("rat") && n.1.contains('1'))
        .map(|n| n.0)
        .collect();
    let (ids, _) = dump_rows(&browser, &page, "#species=rat&name=1");
    assert_eq!(ids.iter().copied().collect::<BTreeSet<_>>(), rats);
    let (ids, _) = dump_rows(&browser, &page, "#species=%22no%20such%22");
    assert!(ids.is_empty());

    // The thumbnails are drawn: a screenshot holds the type colours (basal dendrites red,
    // apical purple, axons blue); the same page with the thumbnails gone holds none.
    let colours = |png: &Path| -> usize {
        let image = decode_png(&std::fs::read(png).unwrap()).unwrap();
        assert!(image.width >= 1000, "{}", image.width);
        [[255, 0, 0], [0, 0, 255], [128, 0, 128]]
            .iter()
            .map(|&rgb| image.count_near(rgb, 40))
            .sum()
    };
    let shots = TempDir::new();
    let shot = |name: &str| -> PathBuf {
        let png = shots.path().join(name);
        run_browser(
            &browser,
            &file_url(&page, ""),
            &[
                format!("--screenshot={}", png.display()),
                "--window-size=1400,4000".into(),
            ],
        );
        png
    };
    let with_png = shot("with.png");
    if let Some(keep) = std::env::var_os("NEUROMORPHO_KEEP_SCREENSHOT") {
        std::fs::copy(&with_png, keep).unwrap();
    }
    let with = colours(&with_png);
    std::fs::rename(c.out.join("thumbnails"), c.out.join("thumbnails-away")).unwrap();
    let without = colours(&shot("without.png"));
    assert!(
        with > 2000,
        "{with} pixels of the type colours with thumbnails"
    );
    assert!(
        without < 50,
        "{without} pixels of the type colours without them"
    );
}

#[test]
fn a_file_that_cannot_be_drawn_is_a_row_without_a_picture() {
    let c = collection();
    build_page(&c.out);
    let data = page_data(&c.out);
    let (id, name, _) = &c.neurons[5];
    let row = row_of(&data, *id);
    let swc = c.out.join(row[2][0][1].as_str().unwrap());
    std::thread::sleep(Duration::from_millis(20));
    std::fs::write(&swc, b"<!DOCTYPE html><html>gone</html>").unwrap();
    let report = build_page(&c.out);
    assert_eq!(report.unreadable.len(), 1, "{:?}", report.unreadable);
    assert!(
        report.unreadable[0].contains(&format!("downloads/{name}.swc")),
        "{:?}",
        report.unreadable
    );
    assert!(
        report.unreadable[0].contains("HTML"),
        "{:?}",
        report.unreadable
    );
    let data = page_data(&c.out);
    assert!(row_of(&data, *id)[1].is_null());
    // The others keep theirs.
    let pictures = data["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r[1].is_string())
        .count();
    assert_eq!(pictures, c.neurons.len() - 1);
}

/// The "done when", as a user runs it: `neuromorpho download QUERY -o OUT --check
/// --report` (with NeuroMorpho's pictures too), then the page: every neuron with its picture,
/// its metadata and its verdict; a filter by species or by "has errors" in the URL shows the
/// right rows in a real browser; `verify` stays clean (the page, thumbnails and images are
/// known); `neuromorpho report OUT` builds it again with every thumbnail up to date.
#[test]
fn download_check_report_from_the_command_line() {
    let server = FakeServer::start(test_catalog());
    let dir = TempDir::new();
    let out = dir.path().join("neurons");
    let o = cli(&server)
        .args(["download", "--all", "-o"])
        .arg(&out)
        .args(["--check", "--report", "--what", "cng,png", "--no-log"])
        .run();
    assert_eq!(
        o.code, 0,
        "a file with errors is kept and counted\n{}",
        o.err
    );
    let page = out.join("index.html");
    // The summary names the page, after the verdicts.
    let checked_at = o.err.find("checked ").expect("the --check line");
    let page_at = o
        .err
        .find(&format!("page: {}", page.display()))
        .unwrap_or_else(|| panic!("the page is named: {}", o.err));
    assert!(checked_at < page_at, "{}", o.err);
    assert!(
        o.err.contains("with the verdicts of checks.csv"),
        "{}",
        o.err
    );

    let neurons = metadata_rows(&out);
    assert_eq!(neurons.len(), 30 + HOSTILE_NAMES.len() + 3);
    let data = page_data(&out);
    assert_eq!(data["rows"].as_array().unwrap().len(), neurons.len());
    let (name, species, verdict) = (
        column(&data, "name"),
        column(&data, "species"),
        column(&data, "verdict"),
    );
    for (id, n, s) in &neurons {
        let row = row_of(&data, *id);
        assert_eq!(row[name], Value::from(n.as_str()));
        assert_eq!(row[species], Value::from(s.as_str()));
        let v = row[verdict].as_str().unwrap();
        if n == BROKEN_NAME {
            assert_eq!(v, "errors");
        } else {
            assert!(v == "ok" || v == "warnings", "{n}: {v}");
        }
        let thumb = row[1].as_str().unwrap_or_else(|| panic!("{n}: no picture"));
        assert!(out.join(thumb).is_file(), "{thumb}");
        // Its files are linked: the SWC file and NeuroMorpho's picture.
        let kinds: Vec<&str> = row[2]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f[0].as_str().unwrap())
            .collect();
        assert!(
            kinds.contains(&"cng") && kinds.contains(&"png"),
            "{n}: {kinds:?}"
        );
    }
    let o = cli(&server).arg("verify").arg(&out).run();
    assert_eq!(o.code, 0, "verify after a report: {}{}", o.out, o.err);
    assert!(!o.out.contains("index.html") && !o.out.contains("thumbnails"));

    // Built again by `report`: nothing to draw.
    let o = cli(&server).arg("report").arg(&out).run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(o.err.contains("0 drawn"), "{}", o.err);

    let Some(browser) = browser() else {
        println!("SKIPPED (browser part): no headless Chromium here; .ci/run installs one");
        return;
    };
    let all: BTreeSet<u64> = neurons.iter().map(|n| n.0).collect();
    let (ids, _) = dump_rows(&browser, &page, "");
    assert_eq!(ids.iter().copied().collect::<BTreeSet<_>>(), all);
    let mice: BTreeSet<u64> = neurons
        .iter()
        .filter(|n| n.2.contains("mouse"))
        .map(|n| n.0)
        .collect();
    assert!(!mice.is_empty() && mice.len() < all.len());
    let (ids, dom) = dump_rows(&browser, &page, "#species=mouse");
    assert_eq!(ids.iter().copied().collect::<BTreeSet<_>>(), mice);
    assert!(dom.contains("thumbnails/"), "the rows have their pictures");
    let (ids, _) = dump_rows(&browser, &page, "#verdict=errors");
    assert_eq!(ids, [90_003], "has errors: the broken neuron alone");
}
