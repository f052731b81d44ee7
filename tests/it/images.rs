//! Issue 20, `--what png`: NeuroMorpho.Org's picture of each neuron (the record's `png_url`,
//! built from archive and name) saved as `OUT/images/NAME.png`, with what every other kind
//! has: a manifest entry, `verify` (and `--repair`), `--update` revalidation, failures in
//! `failed.csv`, shards. Only a whole PNG is kept: an HTML page served as 200, a cut body or
//! an empty body is a failure naming the file and the reason, with nothing at its final path.

use crate::support;

use std::path::{Path, PathBuf};

use neuromorpho::store::Timestamp;
use support::png::decode_png;
use support::*;

const N: usize = 10;

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn png_of(out: &Path, server: &FakeServer, i: usize) -> PathBuf {
    out.join("images")
        .join(format!("{}.png", server.catalog().name(i)))
}

/// `download --all --what cng,png` into `out` (and the extra arguments), its output.
fn download(server: &FakeServer, out: &Path, extra: &[&str]) -> CliOutput {
    let o = cli(server)
        .args([
            "download",
            "--all",
            "-o",
            s(out),
            "--no-log",
            "--what",
            "cng,png",
        ])
        .args(extra)
        .run();
    println!("exit {}\n{}", o.code, o.err);
    o
}

/// Rows of `<out>/failed.csv` as (neuron_name, url, reason, detail), sorted.
fn failed_rows(out: &Path) -> Vec<(String, String, String, String)> {
    let mut r = csv::Reader::from_path(out.join("failed.csv")).unwrap();
    let mut rows: Vec<_> = r
        .records()
        .map(|x| {
            let x = x.unwrap();
            (
                x[0].to_string(),
                x[1].to_string(),
                x[2].to_string(),
                x[3].to_string(),
            )
        })
        .collect();
    rows.sort();
    rows
}

/// The manifest's lines of kind `png`, as JSON values.
fn png_entries(out: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(out.join("manifest.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .filter(|v| v["kind"] == "png")
        .collect()
}

#[test]
fn every_neuron_gets_its_picture_recorded_and_verified() {
    let server = FakeServer::start(Catalog::generate(N));
    let out = TempDir::new();
    let o = download(&server, out.path(), &[]);
    assert_eq!(o.code, 0, "{}", o.err);
    let catalog = server.catalog();
    for i in 0..N {
        let p = png_of(out.path(), &server, i);
        let got = std::fs::read(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!(got, catalog.png_bytes(i), "{} is the server's", p.display());
        // A real image: it decodes, 8 x 8, white and coloured pixels.
        let image = decode_png(&got).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
        assert_eq!((image.width, image.height), (8, 8));
        let pixels: Vec<[u8; 4]> = (0..64).map(|k| image.pixel(k % 8, k / 8)).collect();
        assert!(pixels.contains(&[255, 255, 255, 255]), "{pixels:?}");
        assert!(pixels.iter().any(|p| p[1] == 40), "{pixels:?}");
        // The URL is the record's png_url on this server: the archive in its own case.
        assert_eq!(
            server.file_hits(&format!(
                "/images/imageFiles/{}/{}.png",
                catalog.archive(i).unwrap(),
                catalog.name(i)
            )),
            1,
            "row {i}"
        );
    }
    assert_ne!(
        catalog.png_bytes(1),
        catalog.png_bytes(2),
        "pictures differ"
    );
    let entries = png_entries(out.path());
    assert_eq!(entries.len(), N, "one manifest entry per picture");
    for e in &entries {
        let path = e["path"].as_str().unwrap();
        assert!(path.starts_with("images/") && path.ends_with(".png"), "{e}");
        assert!(
            e["url"].as_str().unwrap().contains("/images/imageFiles/"),
            "{e}"
        );
        let bytes = std::fs::read(out.path().join(path)).unwrap();
        assert_eq!(e["bytes"].as_u64(), Some(bytes.len() as u64), "{e}");
    }
    let sums = std::fs::read_to_string(out.path().join("SHA256SUMS")).unwrap();
    assert_eq!(
        sums.lines().filter(|l| l.ends_with(".png")).count(),
        N,
        "{sums}"
    );
    // verify holds, offline.
    let o = cli_at("http://127.0.0.1:9")
        .args(["verify", s(out.path())])
        .run();
    assert_eq!(o.code, 0, "{}{}", o.out, o.err);
    assert!(
        o.err.contains(&format!("verified {} files", 2 * N)),
        "{}",
        o.err
    );
    // A second run fetches nothing: the pictures are held.
    server.reset_counters();
    let o = download(&server, out.path(), &[]);
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(server.counters().files, 0, "everything is held");
}

#[test]
fn an_html_page_a_cut_body_or_an_empty_body_is_a_failure_with_nothing_kept() {
    let server = FakeServer::start(Catalog::generate(N));
    let catalog = server.catalog();
    // Rows and what they get, on every attempt.
    // (row, fault, reason in failed.csv, words of its detail)
    let plan: Vec<(usize, Fault, &str, &str)> = vec![
        (1, Fault::Html200, "not-png", "an HTML page"),
        (
            2,
            Fault::Truncate,
            "incomplete",
            "closed before the answer was complete",
        ),
        (3, Fault::Empty200, "not-png", "empty body"),
        (
            4,
            Fault::CloseDelimited { cut_at: Some(40) },
            "incomplete",
            "IEND",
        ),
    ];
    for (i, fault, _, _) in &plan {
        server.push_fault(FaultRule::new(
            Target::Path(catalog.png_path(*i).map(|p| percent_decode(&p)).unwrap()),
            100,
            fault.clone(),
        ));
    }
    let out = TempDir::new();
    let o = download(&server, out.path(), &["--retries", "1"]);
    assert_eq!(o.code, 3, "failures: exit 3\n{}", o.err);
    let rows = failed_rows(out.path());
    assert_eq!(rows.len(), plan.len(), "{rows:?}");
    for (i, _, reason, why) in &plan {
        let name = catalog.name(*i);
        let row = rows
            .iter()
            .find(|r| r.0 == name)
            .unwrap_or_else(|| panic!("row {i} not in failed.csv: {rows:?}"));
        assert!(row.1.ends_with(&format!("/{name}.png")), "{row:?}");
        assert_eq!(row.2, *reason, "row {i}: {row:?}");
        assert!(row.3.contains(why), "row {i}: {row:?} should say {why}");
        assert!(
            !png_of(out.path(), &server, *i).exists(),
            "nothing at the final path of row {i}"
        );
        // The CNG file of the same neuron is there: only the picture failed.
        assert!(cng_file(out.path(), &server, *i).is_file());
    }
    assert!(
        o.err.contains("failed.csv"),
        "the summary names the list: {}",
        o.err
    );
    assert_eq!(part_files(out.path()), Vec::<PathBuf>::new());
    assert_eq!(png_entries(out.path()).len(), N - plan.len());
    // Once the server answers, a rerun fetches exactly the missing pictures.
    server.clear_faults();
    server.reset_counters();
    let o = download(&server, out.path(), &[]);
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(server.counters().files, plan.len());
    for i in 0..N {
        assert_eq!(
            std::fs::read(png_of(out.path(), &server, i)).unwrap(),
            catalog.png_bytes(i)
        );
    }
}

#[test]
fn a_picture_in_place_that_is_not_a_png_is_fetched_again() {
    let server = FakeServer::start(Catalog::generate(N));
    let out = TempDir::new();
    assert_eq!(download(&server, out.path(), &[]).code, 0);
    // Without the manifest, a file in place is judged by its content.
    std::fs::remove_file(out.path().join("manifest.jsonl")).unwrap();
    let bad = png_of(out.path(), &server, 3);
    std::fs::write(&bad, b"<!DOCTYPE html><html>503</html>").unwrap();
    let cut = png_of(out.path(), &server, 4);
    let whole = std::fs::read(&cut).unwrap();
    std::fs::write(&cut, &whole[..whole.len() - 6]).unwrap();
    server.reset_counters();
    let o = download(&server, out.path(), &[]);
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(server.counters().files, 2, "the two bad pictures only");
    assert_eq!(std::fs::read(&bad).unwrap(), server.catalog().png_bytes(3));
    assert_eq!(std::fs::read(&cut).unwrap(), whole);
}

#[test]
fn verify_finds_damaged_and_unknown_pictures_and_repair_fetches_them() {
    let server = FakeServer::start(Catalog::generate(N));
    let out = TempDir::new();
    assert_eq!(download(&server, out.path(), &[]).code, 0);
    let damaged = png_of(out.path(), &server, 2);
    flip_byte(&damaged, 20);
    let gone = png_of(out.path(), &server, 5);
    std::fs::remove_file(&gone).unwrap();
    std::fs::write(out.path().join("images").join("stray.png"), b"x").unwrap();
    let o = cli(&server).args(["verify", s(out.path())]).run();
    assert_eq!(o.code, 3, "{}{}", o.out, o.err);
    let name = |i: usize| format!("images/{}.png", server.catalog().name(i));
    assert!(o.out.contains(&name(2)), "{}", o.out);
    assert!(o.out.contains(&name(5)), "{}", o.out);
    assert!(o.out.contains("images/stray.png"), "unknown: {}", o.out);
    // repair fetches what the manifest lists; a file nobody listed is left for the user.
    std::fs::remove_file(out.path().join("images").join("stray.png")).unwrap();
    let o = cli(&server)
        .args(["verify", s(out.path()), "--repair"])
        .run();
    assert!(o.err.contains("repaired 2 of 2"), "{}", o.err);
    assert_eq!(o.code, 0, "repaired: {}{}", o.out, o.err);
    assert_eq!(
        std::fs::read(&damaged).unwrap(),
        server.catalog().png_bytes(2)
    );
    assert_eq!(std::fs::read(&gone).unwrap(), server.catalog().png_bytes(5));
}

#[test]
fn update_revalidates_each_picture_and_replaces_the_changed_ones() {
    let server = FakeServer::start(Catalog::generate(N));
    let out = TempDir::new();
    assert_eq!(download(&server, out.path(), &[]).code, 0);
    let before: Vec<Vec<u8>> = (0..N)
        .map(|i| std::fs::read(png_of(out.path(), &server, i)).unwrap())
        .collect();
    server.set_release(2);
    let catalog = server.catalog();
    let changed = catalog.changed_in_release(2);
    assert!(!changed.is_empty());
    server.reset_counters();
    let o = cli(&server)
        .args(["download", "-o", s(out.path()), "--no-log", "--update"])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    let t = server.transfer_counters();
    assert!(
        t.conditional >= 2 * N,
        "every held file (SWC and picture) revalidated with one conditional request: {t:?}"
    );
    let previous = out.path().join("previous").join(Timestamp::now().date());
    for (i, held) in before.iter().enumerate() {
        let p = png_of(out.path(), &server, i);
        let now = std::fs::read(&p).unwrap();
        assert_eq!(now, catalog.png_bytes(i), "row {i} is current");
        let old = previous.join("images").join(p.file_name().unwrap());
        if changed.contains(&i) {
            assert_ne!(&now, held, "row {i} changed");
            assert_eq!(&std::fs::read(&old).unwrap(), held, "old copy kept");
        } else {
            assert_eq!(&now, held);
            assert!(!old.exists());
        }
    }
    // New neurons of the release got their pictures, and the folder verifies.
    for i in catalog.added_in_release(2) {
        assert!(png_of(out.path(), &server, i).is_file(), "new row {i}");
    }
    let o = cli(&server).args(["verify", s(out.path())]).run();
    assert_eq!(o.code, 0, "{}{}", o.out, o.err);
}

#[test]
fn shards_fetch_their_own_pictures_and_together_make_the_folder() {
    let server = FakeServer::start(Catalog::generate(N));
    let out = TempDir::new();
    for k in ["1/2", "2/2"] {
        let o = download(&server, out.path(), &["--shard", k]);
        assert_eq!(o.code, 0, "{k}: {}", o.err);
    }
    for i in 0..N {
        assert_eq!(
            std::fs::read(png_of(out.path(), &server, i)).unwrap(),
            server.catalog().png_bytes(i)
        );
    }
    assert_eq!(server.counters().files, 2 * N, "each file fetched once");
    let o = cli(&server).args(["verify", s(out.path())]).run();
    assert_eq!(o.code, 0, "{}{}", o.out, o.err);
}
