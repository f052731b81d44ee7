//! Issue 21 through the command line: `--sample`, `--seed`, `--limit`, `--what pvec` and
//! `--mirror` against the fake server.

use crate::support;

use std::collections::BTreeSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use neuromorpho::{Query, Sample, Shard};
use support::*;

const SEED: u64 = 7;

/// The `neuron_id` column of a CSV table, in its order.
fn table_ids(path: &Path) -> Vec<u64> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers = r.headers().unwrap().clone();
    let col = headers.iter().position(|h| h == "neuron_id").unwrap();
    r.records()
        .map(|row| row.unwrap()[col].parse().unwrap())
        .collect()
}

fn id_set(path: &Path) -> BTreeSet<u64> {
    table_ids(path).into_iter().collect()
}

/// The ids of a query's matches, in its order.
fn ids(server: &FakeServer, query: &Query) -> Vec<u64> {
    client(server)
        .search(query)
        .unwrap()
        .iter()
        .filter_map(|n| n.neuron_id())
        .collect()
}

/// The `n` ids of smallest key.
fn smallest_keys(ids: &[u64], n: usize, seed: u64) -> BTreeSet<u64> {
    let mut by_key = ids.to_vec();
    by_key.sort_by_key(|&id| Sample::key(id, seed));
    by_key.into_iter().take(n).collect()
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The summary line (`matched ...`) of a run's stderr.
fn summary_line(err: &str) -> &str {
    err.lines()
        .find(|l| l.contains("matched "))
        .unwrap_or_else(|| panic!("no summary in {err}"))
}

/// A number after `word ` in a line (`downloaded 40`).
fn number_after(line: &str, word: &str) -> u64 {
    let at = line
        .find(&format!("{word} "))
        .unwrap_or_else(|| panic!("no '{word}' in {line}"));
    line[at + word.len() + 1..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

/// The summary's numbers add up: downloaded + skipped + failed == files.
fn assert_adds_up(err: &str, files: u64) {
    let line = summary_line(err);
    let (d, k, f) = (
        number_after(line, "downloaded"),
        number_after(line, "skipped"),
        number_after(line, "failed"),
    );
    assert_eq!(d + k + f, files, "{line}");
}

#[test]
fn bad_dataset_options_are_one_line_usage_errors() {
    let server = FakeServer::start(Catalog::generate(20));
    let dir = TempDir::new();
    let out = dir.path().join("out");
    let no_manifest = dir.path().join("plain");
    std::fs::create_dir_all(no_manifest.join("downloads")).unwrap();
    let mirror = dir.path().join("mirror");
    let o = cli(&server)
        .args(["download", "--all", "-o", s(&mirror), "--no-log"])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    let inside = mirror.join("subset");
    for (args, says) in [
        (
            vec!["--sample", "0"],
            "--sample '0' must keep at least 1 neuron",
        ),
        (
            vec!["--sample", "101%"],
            "--sample '101%' must be a share above 0%",
        ),
        (vec!["--seed", "x"], "--seed 'x': expected a whole number"),
        (vec!["--limit", "-1"], "--limit '-1' must be a whole number"),
        (vec!["--limit", "0"], "--limit '0' must be a whole number"),
        (vec!["--what", "cng,pvecs"], "unknown file kind 'pvecs'"),
        (vec!["--mirror", s(&no_manifest)], "no manifest.jsonl"),
        (vec!["--mirror", s(&out)], "--mirror"),
    ] {
        let o = cli(&server)
            .args(["download", "--all", "-o", s(&out)])
            .args(&args)
            .run();
        assert_eq!(o.code, 2, "{args:?}: {}", o.err);
        assert!(o.err.contains(says), "{args:?}: {}", o.err);
        assert_eq!(o.err.trim_end().lines().count(), 1, "{args:?}: {}", o.err);
        assert!(o.err.contains("usage error: "), "{}", o.err);
    }
    // A mirror equal to -o, or holding it, or inside it.
    for (o_dir, m) in [(&mirror, &mirror), (&inside, &mirror)] {
        let o = cli(&server)
            .args(["download", "--all", "-o", s(o_dir), "--mirror", s(m)])
            .run();
        assert_eq!(o.code, 2, "{}", o.err);
        assert!(o.err.contains("must be apart"), "{}", o.err);
        assert_eq!(o.err.trim_end().lines().count(), 1, "{}", o.err);
    }
    assert!(!inside.exists(), "nothing written");
    assert!(!out.exists(), "nothing written");
    // metadata takes pvec alone.
    let o = cli(&server)
        .args(["metadata", "--all", "-o", s(&out), "--what", "cng"])
        .run();
    assert_eq!(o.code, 2, "{}", o.err);
}

#[test]
fn a_sample_is_the_same_from_two_sort_orders_and_two_shards_make_it() {
    let server = FakeServer::start(Catalog::generate(1100));
    let all = ids(&server, &Query::all());
    let want = smallest_keys(&all, 60, SEED);
    let dir = TempDir::new();
    let (a, b, shards) = (
        dir.path().join("a"),
        dir.path().join("b"),
        dir.path().join("s"),
    );
    let o = cli(&server)
        .args([
            "metadata",
            "--all",
            "--sample",
            "60",
            "--seed",
            "7",
            "-o",
            s(&a),
        ])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(
        o.err.contains("sampled 60 of 1100 matches (seed 7)"),
        "{}",
        o.err
    );
    assert!(
        summary_line(&o.err).contains("matched 1100, kept 60"),
        "{}",
        o.err
    );
    let o = cli(&server)
        .args([
            "metadata",
            "--all",
            "--sort",
            "neuron_name:desc",
            "--sample",
            "60",
        ])
        .args(["--seed", "7", "-o", s(&b)])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(id_set(&a.join("metadata.csv")), want);
    assert_eq!(
        std::fs::read(a.join("metadata.csv")).unwrap(),
        std::fs::read(b.join("metadata.csv")).unwrap(),
        "the same table from either sort"
    );
    let mut union = BTreeSet::new();
    for k in 1..=2 {
        let o = cli(&server)
            .args([
                "metadata",
                "--all",
                "--sample",
                "60",
                "--seed",
                "7",
                "-o",
                s(&shards),
            ])
            .args(["--shard", &format!("{k}/2")])
            .run();
        assert_eq!(o.code, 0, "{}", o.err);
        let part = id_set(&shards.join(format!("metadata.shard-{k}-of-2.csv")));
        let shard = Shard::new(k, 2).unwrap();
        assert!(part.iter().all(|&id| shard.contains(Some(id))));
        assert!(union.is_disjoint(&part));
        union.extend(part);
    }
    assert_eq!(union, want);
    // A share, and preview says what a job would keep.
    let share: Sample = "10%".parse().unwrap();
    let c = dir.path().join("c");
    let o = cli(&server)
        .args([
            "metadata",
            "--all",
            "--sample",
            "10%",
            "--seed",
            "7",
            "-o",
            s(&c),
        ])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    let kept: BTreeSet<u64> = all
        .iter()
        .copied()
        .filter(|&id| share.keeps(id, SEED) == Some(true))
        .collect();
    assert_eq!(id_set(&c.join("metadata.csv")), kept);
    let o = cli(&server)
        .args(["preview", "--all", "--sample", "60", "--seed", "7"])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(
        o.out.contains("keeps:     a sample of 60 of 1100 (seed 7)"),
        "{}",
        o.out
    );
}

#[test]
fn a_sample_after_a_release_and_an_update_keeps_its_members() {
    let server = FakeServer::start(Catalog::generate(800));
    let dir = TempDir::new();
    let (count, share) = (dir.path().join("count"), dir.path().join("share"));
    let before = ids(&server, &Query::all());
    for (out, sample) in [(&count, "25"), (&share, "20%")] {
        let o = cli(&server)
            .args([
                "download",
                "--all",
                "--sample",
                sample,
                "--seed",
                "7",
                "-o",
                s(out),
            ])
            .run();
        assert_eq!(o.code, 0, "{}", o.err);
        let n = id_set(&out.join("metadata.csv")).len() as u64;
        assert_adds_up(&o.err, n);
    }
    let c1 = id_set(&count.join("metadata.csv"));
    let s1 = id_set(&share.join("metadata.csv"));
    assert_eq!(c1, smallest_keys(&before, 25, SEED));
    server.set_release(2);
    let after = ids(&server, &Query::all());
    assert!(after.len() > before.len());
    // --update without a query: the saved query, with its sample and seed.
    let mut gone = Vec::new();
    for out in [&count, &share] {
        let o = cli(&server)
            .args(["download", "--update", "-o", s(out)])
            .run();
        assert_eq!(o.code, 0, "{}", o.err);
        assert!(o.err.contains("(seed 7)"), "{}", o.err);
        gone.push(number_after(summary_line(&o.err), "gone"));
    }
    // The members a newcomer pushed out are no longer sampled: listed as gone, their rows
    // and files kept (an update never deletes).
    let now = smallest_keys(&after, 25, SEED);
    let c2 = id_set(&count.join("metadata.csv"));
    let s2 = id_set(&share.join("metadata.csv"));
    let old: BTreeSet<u64> = before.iter().copied().collect();
    let left: BTreeSet<u64> = c1.difference(&now).copied().collect();
    assert!(!left.is_empty(), "the release changes the sample");
    assert_eq!(
        c2,
        now.union(&left).copied().collect(),
        "the saved sample and seed"
    );
    assert_eq!(gone[0], left.len() as u64);
    assert!(
        now.difference(&c1).all(|id| !old.contains(id)),
        "only newcomers join"
    );
    // The table of a share keeps its earlier rows; the members still matching are there.
    assert!(s1.is_subset(&s2));
    let share_now: BTreeSet<u64> = after
        .iter()
        .copied()
        .filter(|&id| "20%".parse::<Sample>().unwrap().keeps(id, SEED) == Some(true))
        .collect();
    assert!(share_now.is_subset(&s2));
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(count.join("neuromorpho-run.json")).unwrap())
            .unwrap();
    assert_eq!(
        (run["sample"].as_str(), run["seed"].as_u64()),
        (Some("25"), Some(7))
    );
    assert_eq!(
        run["sampled"]["population"].as_u64(),
        Some(after.len() as u64)
    );
}

#[test]
fn a_limit_keeps_the_first_matches_of_a_sort() {
    let server = FakeServer::start(Catalog::generate(1300));
    let query = Query::all().sort_by("neuron_name", false);
    let first: Vec<u64> = ids(&server, &query)[..520].to_vec();
    let dir = TempDir::new();
    let out = dir.path().join("out");
    server.reset_counters();
    let o = cli(&server)
        .args([
            "download",
            "--all",
            "--sort",
            "neuron_name:desc",
            "--limit",
            "520",
            "-o",
            s(&out),
        ])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(table_ids(&out.join("metadata.csv")), first);
    let c = server.counters();
    assert_eq!((c.pages, c.files), (2, 520), "{c:?}");
    assert!(o.err.contains("kept the first 520 matches"), "{}", o.err);
    assert_adds_up(&o.err, 520);
    // A --from-csv run with a limit and a sample: of the names, in the table's order.
    let sub = dir.path().join("sub");
    let o = cli(&server)
        .args([
            "download",
            "--from-csv",
            s(&out.join("metadata.csv")),
            "--limit",
            "100",
        ])
        .args(["--sample", "10", "--seed", "7", "-o", s(&sub)])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(
        id_set(&sub.join("metadata.csv")),
        smallest_keys(&first[..100], 10, SEED)
    );
    assert!(
        o.err
            .contains("sampled 10 of 100 matches (seed 7), of the first 100"),
        "{}",
        o.err
    );
}

#[test]
fn pvec_costs_one_request_per_500_and_lists_neurons_without_one() {
    let server = FakeServer::start(Catalog::generate(1100));
    let all = ids(&server, &Query::all());
    let without = all.iter().filter(|id| *id % 7 == 3).count() as u64;
    let dir = TempDir::new();
    let out = dir.path().join("out");
    server.reset_counters();
    let o = cli(&server)
        .args(["download", "--all", "--what", "cng,pvec", "-o", s(&out)])
        .run();
    assert_eq!(o.code, 3, "a failure of kind pvec: {}", o.err);
    let c = server.counters();
    assert_eq!((c.pvec_select, c.pvec_id), (3, 0), "{c:?}");
    let rows = id_set(&out.join("pvec.csv"));
    assert_eq!(rows.len() as u64, all.len() as u64 - without);
    let line = summary_line(&o.err);
    assert_eq!(number_after(line, "downloaded"), all.len() as u64);
    assert_adds_up(&o.err, all.len() as u64 + without);
    assert!(
        o.err.contains(&format!(
            "persistence vectors {} in {}, without one {without}",
            rows.len(),
            out.join("pvec.csv").display()
        )),
        "{}",
        o.err
    );
    assert!(
        o.err
            .contains(&format!("{without} neurons without a persistence vector")),
        "{}",
        o.err
    );
    let failed = failed_csv_rows(&out.join("failed.csv"));
    assert_eq!(failed.len() as u64, without);
    assert!(
        failed.iter().all(|r| r[2] == "pvec" && r[1].is_empty()),
        "{failed:?}"
    );
    // metadata --what pvec: the tables alone, no file.
    let tables = dir.path().join("tables");
    let o = cli(&server)
        .args([
            "metadata",
            "-f",
            "species=mouse",
            "--what",
            "pvec",
            "-o",
            s(&tables),
        ])
        .run();
    assert_eq!(o.code, 3, "{}", o.err);
    assert!(tables.join("pvec.csv").is_file());
    assert!(!tables.join("downloads").exists());
}

#[test]
fn a_mirror_gives_a_subset_with_no_file_request_and_stays_as_it_was() {
    let server = FakeServer::start(Catalog::generate(80));
    let dir = TempDir::new();
    let (mirror, subset, other) = (
        dir.path().join("mirror"),
        dir.path().join("subset"),
        dir.path().join("other"),
    );
    let o = cli(&server)
        .args(["download", "--all", "-o", s(&mirror)])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    let snapshot = |d: &Path| -> Vec<(String, Vec<u8>, std::time::SystemTime)> {
        rel_files(d)
            .into_iter()
            .map(|r| {
                let p = d.join(&r);
                (
                    r,
                    std::fs::read(&p).unwrap(),
                    std::fs::metadata(&p).unwrap().modified().unwrap(),
                )
            })
            .collect()
    };
    let before = snapshot(&mirror);
    let mice = server.catalog().query("species:mouse", &[]).unwrap().len() as u64;
    assert!(mice >= 5);
    server.reset_counters();
    let o = cli(&server)
        .args([
            "download",
            "-f",
            "species=mouse",
            "-o",
            s(&subset),
            "--mirror",
            s(&mirror),
        ])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(server.counters().files, 0, "no file request");
    assert!(
        o.err.contains(&format!(
            "from the mirror {mice} (linked {mice}), from the server 0"
        )),
        "{}",
        o.err
    );
    assert_adds_up(&o.err, mice);
    for f in rel_files(&subset.join("downloads")) {
        let (a, b) = (
            std::fs::metadata(mirror.join("downloads").join(&f)).unwrap(),
            std::fs::metadata(subset.join("downloads").join(&f)).unwrap(),
        );
        assert_eq!((a.dev(), a.ino()), (b.dev(), b.ino()), "{f}");
    }
    let v = cli(&server).args(["verify", s(&subset)]).run();
    assert_eq!(v.code, 0, "{}{}", v.out, v.err);
    assert_eq!(snapshot(&mirror), before, "the mirror unchanged");

    // A flipped byte in the mirror: that file from the server, said so.
    let victim = rel_files(&subset.join("downloads"))[1].clone();
    flip_byte(&mirror.join("downloads").join(&victim), 12);
    let before = snapshot(&mirror);
    server.reset_counters();
    let o = cli(&server)
        .args([
            "download",
            "-f",
            "species=mouse",
            "-o",
            s(&other),
            "--mirror",
            s(&mirror),
        ])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert_eq!(server.counters().files, 1);
    assert!(
        o.err.contains("SHA-256") && o.err.contains(&victim),
        "{}",
        o.err
    );
    assert!(
        o.err
            .contains("from the server 1 (1 damaged in the mirror)"),
        "{}",
        o.err
    );
    assert_adds_up(&o.err, mice);
    let v = cli(&server).args(["verify", s(&other)]).run();
    assert_eq!(v.code, 0, "{}{}", v.out, v.err);
    assert_eq!(snapshot(&mirror), before, "the mirror untouched");
}
