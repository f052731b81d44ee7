//! Issue 21, the library pieces: stable samples and limits, persistence vectors, subsets
//! from a local mirror, against the fake server.

use crate::support;

use std::collections::{BTreeSet, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use neuromorpho::dataset::Sampler;
use neuromorpho::store::{Manifest, ManifestEntry, Mirror, Taken};
use neuromorpho::tables::{pvec_columns, PvecWriter};
use neuromorpho::{
    CancelToken, DownloadOptions, Error, JobOptions, Limit, Neuron, Query, Sample, SearchEvent,
    Shard, VerifyOptions,
};
use support::*;

const SEED: u64 = 2024;

fn ids_of(neurons: &[Neuron]) -> Vec<u64> {
    neurons.iter().filter_map(Neuron::neuron_id).collect()
}

/// The sample of `ids` (in the order given), as a job takes it: offered one by one.
fn sample_of(sample: Sample, ids: &[u64]) -> BTreeSet<u64> {
    let mut sampler = Sampler::new(sample, SEED);
    let mut kept: Vec<u64> = ids
        .iter()
        .filter_map(|&id| sampler.offer(Some(id), id))
        .collect();
    assert_eq!(sampler.offered(), ids.len() as u64);
    kept.extend(sampler.finish());
    kept.into_iter().collect()
}

/// The `n` ids of smallest key, computed apart from the library's keeper.
fn smallest_keys(ids: &[u64], n: usize) -> BTreeSet<u64> {
    let mut by_key = ids.to_vec();
    by_key.sort_by_key(|&id| Sample::key(id, SEED));
    by_key.into_iter().take(n).collect()
}

fn samples() -> [Sample; 2] {
    ["10%".parse().unwrap(), Sample::Count(40)]
}

#[test]
fn a_sample_is_the_same_from_two_sort_orders() {
    let server = FakeServer::start(Catalog::generate(1200));
    let client = client(&server);
    let by_id = client.search(&Query::all()).unwrap();
    let by_name = client
        .search(&Query::all().sort_by("neuron_name", false))
        .unwrap();
    let (a, b) = (ids_of(&by_id), ids_of(&by_name));
    assert_ne!(a, b, "two orders");
    for sample in samples() {
        let (sa, sb) = (sample_of(sample, &a), sample_of(sample, &b));
        assert_eq!(sa, sb, "{sample}");
        match sample {
            Sample::Count(n) => assert_eq!(sa, smallest_keys(&a, n as usize)),
            _ => assert!(
                (80..=160).contains(&sa.len()),
                "about 10% of 1200: {}",
                sa.len()
            ),
        }
    }
    // Another seed gives another sample.
    let mut other = Sampler::new(Sample::Count(40), SEED + 1);
    for &id in &a {
        assert_eq!(other.offer(Some(id), id), None, "a count holds its neurons");
    }
    let other: BTreeSet<u64> = other.finish().into_iter().collect();
    assert_ne!(other, sample_of(Sample::Count(40), &a));
}

#[test]
fn the_shards_of_a_sample_make_the_unsharded_sample() {
    let server = FakeServer::start(Catalog::generate(900));
    let ids = ids_of(&client(&server).search(&Query::all()).unwrap());
    for sample in samples() {
        let whole = sample_of(sample, &ids);
        let mut union = BTreeSet::new();
        let mut total = 0;
        for k in 1..=3 {
            let shard = Shard::new(k, 3).unwrap();
            // Decided before the shard: the sample of all matches, then the shard's part.
            let mine: BTreeSet<u64> = sample_of(sample, &ids)
                .into_iter()
                .filter(|&id| shard.contains(Some(id)))
                .collect();
            assert!(!mine.is_empty(), "{sample} {shard}");
            total += mine.len();
            union.extend(mine);
        }
        assert_eq!(total, whole.len(), "{sample}: the shards never overlap");
        assert_eq!(union, whole, "{sample}");
    }
}

#[test]
fn after_a_release_a_sample_keeps_its_members() {
    let server = FakeServer::start(Catalog::generate(1000));
    let client = client(&server);
    let query = Query::new().filter("species", ["mouse", "rat"]);
    let before = ids_of(&client.search(&query).unwrap());
    server.set_release(2);
    let after = ids_of(&client.search(&query).unwrap());
    let old: HashSet<u64> = before.iter().copied().collect();
    let newcomers: Vec<u64> = after
        .iter()
        .copied()
        .filter(|id| !old.contains(id))
        .collect();
    assert!(
        newcomers.len() >= 10,
        "the release adds matches: {}",
        newcomers.len()
    );
    let still: HashSet<u64> = after.iter().copied().collect();

    // A share: every earlier member that still matches stays, and newcomers join by the
    // same rule.
    let share: Sample = "20%".parse().unwrap();
    let (s1, s2) = (sample_of(share, &before), sample_of(share, &after));
    assert!(s1
        .iter()
        .filter(|id| still.contains(id))
        .all(|id| s2.contains(id)));
    assert_eq!(
        s2.iter().filter(|id| old.contains(id)).count(),
        s1.iter().filter(|id| still.contains(id)).count()
    );
    assert_eq!(
        s2.difference(&s1).copied().collect::<BTreeSet<u64>>(),
        sample_of(share, &newcomers)
    );

    // A count: changed only by newcomers with smaller keys than the members they replace.
    let n = 30;
    let (c1, c2) = (
        sample_of(Sample::Count(n), &before),
        sample_of(Sample::Count(n), &after),
    );
    let joined: Vec<u64> = c2.difference(&c1).copied().collect();
    let left: Vec<u64> = c1.difference(&c2).copied().collect();
    assert!(
        joined.iter().all(|id| !old.contains(id)),
        "only newcomers join"
    );
    assert_eq!(joined.len(), left.len());
    let key = |id: &u64| Sample::key(*id, SEED);
    if let (Some(worst_joined), Some(best_left)) =
        (joined.iter().map(key).max(), left.iter().map(key).min())
    {
        assert!(worst_joined < best_left);
    }
    assert_eq!(c2, smallest_keys(&after, n as usize));
}

#[test]
fn a_limit_keeps_the_first_matches_in_the_sort_order_and_needs_few_pages() {
    let server = FakeServer::start(Catalog::generate(1400));
    let client = client(&server);
    let query = Query::all().sort_by("neuron_name", false);
    let all = client.search(&query).unwrap();
    let limit: Limit = "620".parse().unwrap();
    let total = client.count(&query).unwrap();
    let pages = limit.pages_needed(total, 500);
    assert_eq!(pages, 2);
    // A streaming search stopped once the pages the limit needs are in.
    let mut kept: Vec<String> = Vec::new();
    let mut pages_seen = 0;
    let stopped = client.search_each(&query, |event| {
        if let SearchEvent::Page {
            number, neurons, ..
        } = event
        {
            pages_seen += 1;
            for (i, n) in neurons.iter().enumerate() {
                if limit.admits(number * 500 + i as u64) {
                    kept.push(n.neuron_name().to_string());
                }
            }
            if pages_seen == pages {
                return Err(Error::Cancelled);
            }
        }
        Ok(())
    });
    assert!(matches!(stopped, Err(Error::Cancelled)));
    let first: Vec<String> = all[..620]
        .iter()
        .map(|n| n.neuron_name().to_string())
        .collect();
    assert_eq!(kept, first, "the first 620 in name order, descending");
    let mut sorted = first.clone();
    sorted.sort_by(|a, b| b.cmp(a));
    assert_eq!(sorted, first);
    assert_eq!(Limit::new(5000).unwrap().pages_needed(total, 500), 3);
}

/// Catalog rows by id.
fn row_of(server: &FakeServer, id: u64) -> usize {
    (0..server.catalog().len())
        .find(|&i| server.catalog().id(i) == Some(id))
        .unwrap()
}

#[test]
fn persistence_vectors_cost_one_select_per_500_ids_and_one_request_per_missing_id() {
    let server = FakeServer::start(Catalog::generate(1200));
    let client = client(&server);
    let neurons = client.search(&Query::all()).unwrap();
    let ids = ids_of(&neurons);
    server.reset_counters();
    let batch = client.persistence_vectors(&ids).unwrap();
    let without: Vec<u64> = ids.iter().copied().filter(|id| id % 7 == 3).collect();
    let c = server.counters();
    assert_eq!(
        c.pvec_select, 3,
        "1200 ids: 3 batches of at most 500 ({c:?})"
    );
    assert_eq!(
        c.pvec_id,
        without.len(),
        "one request per id a batch lacked"
    );
    assert_eq!(c.requests, c.pvec_select + c.pvec_id);
    assert_eq!(
        (batch.batch_requests, batch.single_requests),
        (3, without.len() as u64)
    );
    assert_eq!(batch.missing, without);
    assert!(batch.invalid.is_empty());
    assert_eq!(batch.vectors.len(), ids.len() - without.len());
    // Bit for bit what the server holds.
    for v in &batch.vectors {
        let want = server
            .catalog()
            .pvec_value(row_of(&server, v.neuron_id))
            .unwrap();
        assert_eq!(v.distance, want["distance"].as_f64().unwrap());
        assert_eq!(v.scaling_factor, want["scaling_factor"].as_f64().unwrap());
        let coefficients: Vec<f64> = want["coefficients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_f64().unwrap())
            .collect();
        assert_eq!(v.coefficients, coefficients, "neuron {}", v.neuron_id);
    }

    // Into pvec.csv, and back exactly.
    let out = TempDir::new();
    let path = out.path().join("pvec.csv");
    let mut table = PvecWriter::create(&path).unwrap();
    for n in &neurons {
        if let Some(v) = n.neuron_id().and_then(|id| batch.get(id)) {
            table.write(n.neuron_name(), v).unwrap();
        }
    }
    table.finish().unwrap();
    let mut reader = csv::Reader::from_path(&path).unwrap();
    let header: Vec<String> = reader.headers().unwrap().iter().map(String::from).collect();
    assert_eq!(header.len(), 104);
    assert_eq!(header, pvec_columns());
    assert_eq!(
        &header[..5],
        [
            "neuron_id",
            "neuron_name",
            "distance",
            "scaling_factor",
            "coeff00"
        ]
    );
    assert_eq!(header[103], "coeff99");
    let mut rows = 0;
    for row in reader.records() {
        let row = row.unwrap();
        let id: u64 = row[0].parse().unwrap();
        let v = batch.get(id).unwrap();
        let n = neurons.iter().find(|n| n.neuron_id() == Some(id)).unwrap();
        assert_eq!(&row[1], n.neuron_name());
        let back: Vec<f64> = row.iter().skip(4).map(|c| c.parse().unwrap()).collect();
        assert_eq!(back, v.coefficients);
        assert_eq!(row[2].parse::<f64>().unwrap(), v.distance);
        rows += 1;
    }
    assert_eq!(rows, batch.vectors.len());
}

#[test]
fn persistence_vectors_fall_back_to_one_request_per_id() {
    let server = FakeServer::start(Catalog::generate(300));
    let client = client(&server);
    let ids = ids_of(&client.search(&Query::all()).unwrap());
    let with: Vec<u64> = ids.iter().copied().filter(|id| id % 7 != 3).collect();

    // A batch the server refuses: every id of it alone.
    server.set_refuse_pvec_batch(true);
    server.reset_counters();
    let refused = client.persistence_vectors(&ids).unwrap();
    let c = server.counters();
    assert_eq!((c.pvec_select, c.pvec_id), (1, ids.len()), "{c:?}");
    assert_eq!(ids_of_vectors(&refused), with);
    server.set_refuse_pvec_batch(false);

    // Ids a batch answer leaves out are asked alone, and found.
    let left_out = [with[0], with[7], with[100]];
    server.set_pvec_select_omits(&left_out);
    server.set_pvec_malformed(&[with[5]]);
    server.reset_counters();
    let batch = client.persistence_vectors(&ids).unwrap();
    let without = ids.len() - with.len();
    assert_eq!(server.counters().pvec_id, without + left_out.len());
    let mut found = ids_of_vectors(&batch);
    found.push(with[5]);
    found.sort_unstable();
    assert_eq!(found, with, "all but the malformed one");
    assert_eq!(batch.invalid.len(), 1);
    assert_eq!(batch.invalid[0].neuron_id, with[5]);
    assert_eq!(batch.invalid[0].why, "99 coefficients, not 100");
    // Duplicates are asked once.
    server.reset_counters();
    let twice = client
        .persistence_vectors(&[with[1], with[1], with[2]])
        .unwrap();
    assert_eq!(twice.vectors.len(), 2);
    assert_eq!(server.counters().requests, 1);
}

fn ids_of_vectors(batch: &neuromorpho::PvecBatch) -> Vec<u64> {
    batch.vectors.iter().map(|v| v.neuron_id).collect()
}

#[test]
fn persistence_vectors_stop_when_cancelled() {
    let server = FakeServer::start(Catalog::generate(300));
    let token = CancelToken::new();
    let client = client(&server).with_cancel(&token);
    let ids: Vec<u64> = (1..=300).collect();
    token.cancel();
    assert!(matches!(
        client.persistence_vectors(&ids),
        Err(Error::Cancelled)
    ));
    assert_eq!(server.counters().requests, 0, "nothing sent");

    // Cancelled while the fallback is under way.
    let token = CancelToken::new();
    let client = client_builder(&server)
        .concurrency(2)
        .build()
        .unwrap()
        .with_cancel(&token);
    server.set_refuse_pvec_batch(true);
    server.set_latency(Duration::from_millis(20));
    let canceller = token.clone();
    let t = std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(200));
        canceller.cancel();
    });
    let started = Instant::now();
    let got = client.persistence_vectors(&ids);
    t.join().unwrap();
    assert!(matches!(got, Err(Error::Cancelled)), "{got:?}");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    assert!(server.counters().pvec_id < ids.len(), "stopped early");
}

// ------------------------------------------------------------------------------------------
// Mirrors

/// Every file of a folder with its bytes and modification time.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>, std::time::SystemTime)> {
    files_under(dir)
        .into_iter()
        .map(|p| {
            let m = std::fs::symlink_metadata(&p).unwrap();
            (p.clone(), std::fs::read(&p).unwrap(), m.modified().unwrap())
        })
        .collect()
}

/// A mirror of the whole catalog, made by the tool's own job.
fn make_mirror(server: &FakeServer, dir: &Path) {
    let summary = client(server)
        .download_query(&Query::all(), &JobOptions::new(dir), |_| {})
        .unwrap();
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
}

/// The subset's neurons: those of a query.
fn subset_neurons(server: &FakeServer) -> Vec<Neuron> {
    let neurons = client(server)
        .search(&Query::new().filter("species", ["mouse"]))
        .unwrap();
    assert!(neurons.len() >= 5, "{}", neurons.len());
    neurons
}

/// Take each neuron's CNG file from the mirror to the path the mirror holds it at, and
/// record it in the subset's manifest and `SHA256SUMS` as a job would.
fn take_subset(
    server: &FakeServer,
    mirror: &Mirror,
    neurons: &[Neuron],
    subset: &Path,
) -> Vec<(Taken, PathBuf)> {
    let mut out = Vec::new();
    let mut entries: Vec<ManifestEntry> = Vec::new();
    for n in neurons {
        let url = n.swc_url(&server.base_url()).unwrap();
        let rel = mirror
            .entry(&url)
            .expect("the mirror holds it")
            .path
            .clone();
        let dest = subset.join(&rel);
        std::fs::create_dir_all(dest.parent().unwrap()).unwrap();
        let taken = mirror.take_into(&url, &dest).unwrap();
        if let Taken::Linked { source, sha256, .. } | Taken::Copied { source, sha256, .. } = &taken
        {
            let mut e = (**source).clone();
            assert_eq!(&e.sha256, sha256);
            e.url = url;
            entries.push(e);
        }
        out.push((taken, dest));
    }
    entries.sort_by(|a, b| a.path.cmp(&b.path));
    let lines: String = entries
        .iter()
        .map(|e| serde_json::to_string(e).unwrap() + "\n")
        .collect();
    std::fs::write(subset.join("manifest.jsonl"), lines).unwrap();
    let sums: String = entries
        .iter()
        .map(|e| format!("{}  {}\n", e.sha256, e.path))
        .collect();
    std::fs::write(subset.join("SHA256SUMS"), sums).unwrap();
    out
}

#[test]
fn a_healthy_mirror_gives_every_file_with_no_request_and_one_inode() {
    let server = FakeServer::start(Catalog::generate(60));
    let (mirror_dir, subset) = (TempDir::new(), TempDir::new());
    make_mirror(&server, mirror_dir.path());
    let before = snapshot(mirror_dir.path());
    let neurons = subset_neurons(&server);
    let mirror = Mirror::open(mirror_dir.path()).unwrap();
    assert_eq!(mirror.len(), 60);
    server.reset_counters();
    let taken = take_subset(&server, &mirror, &neurons, subset.path());
    assert_eq!(server.counters().requests, 0, "nothing asked of the server");
    for (t, dest) in &taken {
        assert!(matches!(t, Taken::Linked { .. }), "{t:?}");
        let rel = dest.strip_prefix(subset.path()).unwrap();
        let (m, s) = (
            std::fs::metadata(mirror_dir.path().join(rel)).unwrap(),
            std::fs::metadata(dest).unwrap(),
        );
        assert_eq!((m.dev(), m.ino()), (s.dev(), s.ino()), "{}", rel.display());
    }
    assert_eq!(snapshot(mirror_dir.path()), before, "the mirror unchanged");
    assert_no_temp(subset.path());

    // The subset is a collection of its own: verify holds on it.
    let report = client(&server)
        .verify(subset.path(), &VerifyOptions::default(), |_| {})
        .unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.ok, neurons.len() as u64);
    if have_sha256sum() {
        let (code, text) = sha256sum_check(subset.path(), "SHA256SUMS").unwrap();
        assert_eq!(code, 0, "{text}");
    }

    // A later update of the subset replaces its names, never the mirror's files.
    server.set_release(2);
    let changed: HashSet<usize> = server.catalog().changed_in_release(2).into_iter().collect();
    let subset_rows: Vec<usize> = neurons
        .iter()
        .map(|n| row_of(&server, n.neuron_id().unwrap()))
        .collect();
    assert!(
        subset_rows.iter().any(|i| changed.contains(i)),
        "a file of the subset changes"
    );
    let options = JobOptions::from(DownloadOptions::new(subset.path()).update(true));
    let summary = client(&server)
        .download_query(&Query::new().filter("species", ["mouse"]), &options, |_| {})
        .unwrap();
    assert!(summary.failed.is_empty(), "{:?}", summary.failed);
    assert_eq!(
        snapshot(mirror_dir.path()),
        before,
        "the mirror unchanged by the update"
    );
    for (i, (_, dest)) in subset_rows.iter().zip(&taken) {
        let rel = dest.strip_prefix(subset.path()).unwrap();
        let mirror_meta = std::fs::metadata(mirror_dir.path().join(rel)).unwrap();
        let same_inode = std::fs::metadata(dest).unwrap().ino() == mirror_meta.ino();
        assert_eq!(same_inode, !changed.contains(i), "{}", rel.display());
        assert_eq!(
            std::fs::read(dest).unwrap(),
            server.catalog().cng_bytes(*i).unwrap().as_ref()
        );
    }
}

#[test]
fn a_flipped_byte_in_the_mirror_is_fetched_from_the_server_and_the_mirror_stays() {
    let server = FakeServer::start(Catalog::generate(40));
    let (mirror_dir, subset) = (TempDir::new(), TempDir::new());
    make_mirror(&server, mirror_dir.path());
    let neurons = subset_neurons(&server);
    let victim = &neurons[2];
    let rel = format!("downloads/{}.swc", victim.neuron_name());
    flip_byte(&mirror_dir.path().join(&rel), 10);
    let before = snapshot(mirror_dir.path());
    let mirror = Mirror::open(mirror_dir.path()).unwrap();
    server.reset_counters();
    let taken = take_subset(&server, &mirror, &neurons, subset.path());
    assert_eq!(server.counters().requests, 0);
    for (t, dest) in &taken {
        if dest.ends_with(&rel) {
            match t {
                Taken::Damaged { why } => {
                    assert!(why.contains(&rel) && why.contains("SHA-256"), "{why}")
                }
                other => panic!("{other:?}"),
            }
            assert!(!dest.exists(), "nothing placed for a damaged copy");
        } else {
            assert!(t.is_taken(), "{t:?}");
        }
    }
    assert_eq!(snapshot(mirror_dir.path()), before, "the mirror untouched");
    // What the mirror could not give comes from the server: only that file is asked for.
    let options = JobOptions::new(subset.path());
    let summary = client(&server)
        .download_query(&Query::new().filter("species", ["mouse"]), &options, |_| {})
        .unwrap();
    assert_eq!(summary.downloaded, 1, "{summary:?}");
    assert_eq!(server.counters().files, 1);
    assert_eq!(
        server.file_hits(&format!("/{}.CNG.swc", victim.neuron_name())),
        1
    );
    let report = client(&server)
        .verify(subset.path(), &VerifyOptions::default(), |_| {})
        .unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(snapshot(mirror_dir.path()), before);
}

#[test]
fn a_mirror_on_another_file_system_gives_copies() {
    let shm = Path::new("/dev/shm");
    let subset = TempDir::new();
    let other_fs = std::fs::metadata(shm)
        .ok()
        .filter(|m| m.is_dir() && m.dev() != std::fs::metadata(subset.path()).unwrap().dev());
    let Some(_) = other_fs else {
        eprintln!("no /dev/shm on another file system than the temp dir: copies are covered by the unit tests");
        return;
    };
    let mirror_dir = shm.join(format!("neuromorpho-test-mirror-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&mirror_dir);
    struct Gone(PathBuf);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _gone = Gone(mirror_dir.clone());
    let server = FakeServer::start(Catalog::generate(30));
    make_mirror(&server, &mirror_dir);
    let before = snapshot(&mirror_dir);
    let neurons = subset_neurons(&server);
    let mirror = Mirror::open(&mirror_dir).unwrap();
    server.reset_counters();
    let taken = take_subset(&server, &mirror, &neurons, subset.path());
    assert_eq!(server.counters().requests, 0);
    for (t, dest) in &taken {
        assert!(matches!(t, Taken::Copied { .. }), "{t:?}");
        let rel = dest.strip_prefix(subset.path()).unwrap();
        assert_eq!(
            std::fs::read(dest).unwrap(),
            std::fs::read(mirror_dir.join(rel)).unwrap()
        );
    }
    assert_eq!(snapshot(&mirror_dir), before);
    let report = client(&server)
        .verify(subset.path(), &VerifyOptions::default(), |_| {})
        .unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    // The subset's manifest says what it holds.
    assert_eq!(Manifest::load(subset.path()).unwrap().len(), neurons.len());
}

#[test]
fn a_folder_without_a_manifest_is_no_mirror() {
    let dir = TempDir::new();
    std::fs::create_dir_all(dir.path().join("downloads")).unwrap();
    std::fs::write(dir.path().join("downloads/x.swc"), "1 1 0 0 0 1 -1\n").unwrap();
    let err = Mirror::open(dir.path()).unwrap_err().to_string();
    assert!(
        err.contains("no manifest.jsonl") && !err.contains('\n'),
        "{err}"
    );
    let mirror_dir = TempDir::new();
    let server = FakeServer::start(Catalog::generate(5));
    make_mirror(&server, mirror_dir.path());
    let mirror = Mirror::open(mirror_dir.path()).unwrap();
    let err = mirror
        .check_apart(&mirror_dir.path().join("subset"))
        .unwrap_err();
    assert!(err.to_string().contains("must be apart"), "{err}");
}

// ------------------------------------------------------------------------------------------
// The options of the jobs: samples, limits, pvec and mirrors end to end.

/// The `neuron_id` column of a CSV table, in its order.
fn table_ids(path: &Path) -> Vec<u64> {
    let mut r = csv::Reader::from_path(path).unwrap();
    let headers = r.headers().unwrap().clone();
    let col = headers.iter().position(|h| h == "neuron_id").unwrap();
    r.records()
        .map(|row| row.unwrap()[col].parse().unwrap())
        .collect()
}

/// The counts of a summary add up to its files.
fn assert_adds_up(s: &neuromorpho::JobSummary) {
    assert_eq!(
        s.downloaded + s.skipped + s.unchanged() + s.failed.len() as u64,
        s.files,
        "{s:?}"
    );
    if let Some(m) = &s.mirror {
        assert_eq!(m.taken + m.from_server, s.downloaded, "{m:?}");
        assert!(m.linked <= m.taken && m.damaged <= m.from_server, "{m:?}");
    }
}

/// A table-only job with a sample.
fn sampled_table(
    server: &FakeServer,
    query: &Query,
    out: &Path,
    sample: Sample,
    shard: Option<Shard>,
) -> (neuromorpho::JobSummary, BTreeSet<u64>) {
    let options = JobOptions::new(out)
        .metadata_only(true)
        .sample(Some(sample))
        .seed(SEED)
        .shard(shard);
    let s = client(server)
        .download_query(query, &options, |_| {})
        .unwrap();
    assert_adds_up(&s);
    let ids: BTreeSet<u64> = table_ids(&options.metadata_path()).into_iter().collect();
    assert_eq!(ids.len() as u64, s.selected);
    (s, ids)
}

#[test]
fn a_job_takes_the_same_sample_from_two_sort_orders_and_its_shards_make_it_whole() {
    let server = FakeServer::start(Catalog::generate(1200));
    let ids = ids_of(&client(&server).search(&Query::all()).unwrap());
    for sample in samples() {
        let want = sample_of(sample, &ids);
        let (a, b) = (TempDir::new(), TempDir::new());
        server.reset_counters();
        let (s1, by_id) = sampled_table(&server, &Query::all(), a.path(), sample, None);
        // A sample costs the pages, no more: the count and 3 pages of 500.
        let c = server.counters();
        assert_eq!((c.requests, c.pages), (4, 3), "{sample}: {c:?}");
        let by_name = Query::all().sort_by("neuron_name", false);
        let (s2, named) = sampled_table(&server, &by_name, b.path(), sample, None);
        assert_eq!(by_id, want, "{sample}");
        assert_eq!(named, want, "{sample}: the sort changes nothing");
        let sampled = s1.sampled.clone().unwrap();
        assert_eq!(
            (sampled.population, sampled.kept, sampled.seed),
            (1200, want.len() as u64, SEED)
        );
        assert_eq!(sampled.sample, Some(sample));
        assert_eq!((s1.matched, s1.selected), (1200, want.len() as u64));
        assert_eq!(s2.sampled, s1.sampled);
        // Three shards into one folder: each its own table, their union the sample.
        let shards = TempDir::new();
        let mut union = BTreeSet::new();
        let mut total = 0;
        for k in 1..=3 {
            let shard = Shard::new(k, 3).unwrap();
            let (s, mine) =
                sampled_table(&server, &Query::all(), shards.path(), sample, Some(shard));
            assert!(mine.iter().all(|&id| shard.contains(Some(id))));
            assert_eq!(s.sampled.as_ref().unwrap().kept, want.len() as u64);
            total += mine.len();
            union.extend(mine);
        }
        assert_eq!(total, want.len(), "{sample}: the shards never overlap");
        assert_eq!(union, want, "{sample}");
    }
    // A count's table is in id order (the same table whatever the sort).
    let out = TempDir::new();
    let (_, _) = sampled_table(
        &server,
        &Query::all().sort_by("neuron_name", true),
        out.path(),
        Sample::Count(40),
        None,
    );
    let order = table_ids(&out.path().join("metadata.csv"));
    let mut sorted = order.clone();
    sorted.sort_unstable();
    assert_eq!(order, sorted);
    assert_no_temp(out.path());
}

#[test]
fn a_job_sample_after_a_release_keeps_its_members() {
    let server = FakeServer::start(Catalog::generate(1000));
    let query = Query::new().filter("species", ["mouse", "rat"]);
    let share: Sample = "20%".parse().unwrap();
    let (d1, d2, c1, c2) = (
        TempDir::new(),
        TempDir::new(),
        TempDir::new(),
        TempDir::new(),
    );
    let (_, s1) = sampled_table(&server, &query, d1.path(), share, None);
    let (_, n1) = sampled_table(&server, &query, c1.path(), Sample::Count(30), None);
    let before: HashSet<u64> = ids_of(&client(&server).search(&query).unwrap())
        .into_iter()
        .collect();
    server.set_release(2);
    let after = ids_of(&client(&server).search(&query).unwrap());
    let still: HashSet<u64> = after.iter().copied().collect();
    assert!(after.iter().filter(|id| !before.contains(id)).count() >= 10);
    let (_, s2) = sampled_table(&server, &query, d2.path(), share, None);
    let (_, n2) = sampled_table(&server, &query, c2.path(), Sample::Count(30), None);
    // A share: every earlier member that still matches stays; only newcomers join.
    assert!(s1
        .iter()
        .filter(|id| still.contains(id))
        .all(|id| s2.contains(id)));
    assert!(s2.difference(&s1).all(|id| !before.contains(id)));
    assert_eq!(s2, sample_of(share, &after));
    // A count: only newcomers join, each with a smaller key than every member it replaces.
    let joined: Vec<u64> = n2.difference(&n1).copied().collect();
    let left: Vec<u64> = n1.difference(&n2).copied().collect();
    assert!(joined.iter().all(|id| !before.contains(id)));
    assert_eq!(joined.len(), left.len());
    let key = |id: &u64| Sample::key(*id, SEED);
    if let (Some(worst), Some(best)) = (joined.iter().map(key).max(), left.iter().map(key).min()) {
        assert!(worst < best);
    }
    assert_eq!(n2, smallest_keys(&after, 30));
}

#[test]
fn a_job_limit_keeps_the_first_matches_in_the_sort_order_and_asks_only_their_pages() {
    let server = FakeServer::start(Catalog::generate(1400));
    let query = Query::all().sort_by("neuron_name", false);
    let first: Vec<u64> = ids_of(&client(&server).search(&query).unwrap()[..620]);
    let out = TempDir::new();
    let options = JobOptions::new(out.path()).limit(Some("620".parse().unwrap()));
    server.reset_counters();
    let s = client(&server)
        .download_query(&query, &options, |_| {})
        .unwrap();
    assert_adds_up(&s);
    let c = server.counters();
    assert_eq!(c.pages, 2, "2 of the 3 pages: {c:?}");
    assert_eq!(c.files, 620);
    assert_eq!(table_ids(&out.path().join("metadata.csv")), first);
    assert_eq!((s.matched, s.selected, s.downloaded), (1400, 620, 620));
    let sampled = s.sampled.unwrap();
    assert_eq!(
        (sampled.population, sampled.kept, sampled.sample),
        (620, 620, None)
    );
    assert_eq!(Manifest::load(out.path()).unwrap().len(), 620);

    // With a sample: the sample of those first 620.
    let out = TempDir::new();
    let (s, ids) = {
        let options = JobOptions::new(out.path())
            .metadata_only(true)
            .limit(Some("620".parse().unwrap()))
            .sample(Some(Sample::Count(25)))
            .seed(SEED);
        let s = client(&server)
            .download_query(&query, &options, |_| {})
            .unwrap();
        (s, table_ids(&out.path().join("metadata.csv")))
    };
    assert_eq!(
        ids.into_iter().collect::<BTreeSet<u64>>(),
        smallest_keys(&first, 25)
    );
    assert_eq!(s.sampled.unwrap().population, 620);
    // The run file keeps them with the query.
    let saved = neuromorpho::SavedRun::load(out.path(), None)
        .unwrap()
        .unwrap();
    assert_eq!(
        (saved.sample, saved.seed, saved.limit.map(|l| l.get())),
        (Some(Sample::Count(25)), SEED, Some(620))
    );
    let again = saved.apply_to(JobOptions::new(out.path()).metadata_only(true));
    let s = client(&server)
        .download_query(&saved.query, &again, |_| {})
        .unwrap();
    assert_eq!(s.sampled.unwrap().kept, 25);
    let run: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.path().join("neuromorpho-run.json")).unwrap())
            .unwrap();
    assert_eq!(run["sampled"]["population"], 620);
    assert_eq!(run["sampled"]["kept"], 25);
}

/// The rows of pvec.csv by id: (name, coefficients).
fn pvec_rows(path: &Path) -> Vec<(u64, String, Vec<f64>)> {
    let mut r = csv::Reader::from_path(path).unwrap();
    assert_eq!(
        r.headers()
            .unwrap()
            .iter()
            .map(String::from)
            .collect::<Vec<_>>(),
        pvec_columns()
    );
    r.records()
        .map(|row| {
            let row = row.unwrap();
            let coefficients = row.iter().skip(4).map(|c| c.parse().unwrap()).collect();
            (row[0].parse().unwrap(), row[1].to_string(), coefficients)
        })
        .collect()
}

#[test]
fn a_job_writes_pvec_csv_with_one_request_per_500_neurons_and_lists_those_without() {
    let server = FakeServer::start(Catalog::generate(1200));
    let ids = ids_of(&client(&server).search(&Query::all()).unwrap());
    let without: BTreeSet<u64> = ids.iter().copied().filter(|id| id % 7 == 3).collect();
    let out = TempDir::new();
    let options = JobOptions::new(out.path()).metadata_only(true).pvec(true);
    server.reset_counters();
    let s = client(&server)
        .download_query(&Query::all(), &options, |_| {})
        .unwrap();
    assert_adds_up(&s);
    let c = server.counters();
    assert_eq!(
        (c.pvec_select, c.pvec_id),
        (3, 0),
        "1 request per 500 neurons: {c:?}"
    );
    let p = s.pvec.clone().unwrap();
    assert_eq!(p.vectors as usize, ids.len() - without.len());
    assert_eq!((p.missing as usize, p.requests), (without.len(), 3));
    let table = s.written.pvec.clone().unwrap();
    assert_eq!(table, out.path().join("pvec.csv"));
    let rows = pvec_rows(&table);
    assert_eq!(rows.len(), ids.len() - without.len());
    for (id, name, coefficients) in &rows {
        let i = row_of(&server, *id);
        assert_eq!(name, &server.catalog().name(i));
        let want: Vec<f64> = server.catalog().pvec_value(i).unwrap()["coefficients"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_f64().unwrap())
            .collect();
        assert_eq!(coefficients, &want, "bit for bit");
    }
    // Each neuron without a vector: a listed failure of kind pvec, not a broken table.
    let failed: BTreeSet<u64> = s
        .failed
        .iter()
        .map(|f| {
            assert_eq!(f.reason, neuromorpho::FailureKind::Pvec);
            f.neuron_id.unwrap()
        })
        .collect();
    assert_eq!(failed, without);
    let listed = failed_csv_rows(&out.path().join("failed.csv"));
    assert_eq!(listed.len(), without.len());
    assert!(listed.iter().all(|r| r[2] == "pvec"), "{:?}", listed[0]);

    // Merged across runs: a second run of a part keeps the rows of the others.
    let part = Query::new().filter("species", ["mouse"]);
    let s2 = client(&server)
        .download_query(&part, &options, |_| {})
        .unwrap();
    assert!(s2.pvec.unwrap().vectors > 0);
    let merged = pvec_rows(&table);
    assert_eq!(merged.len(), rows.len());
    let as_set = |r: &[(u64, String, Vec<f64>)]| r.iter().map(|x| x.0).collect::<BTreeSet<u64>>();
    assert_eq!(as_set(&merged), as_set(&rows));

    // With the files: the numbers still add up, and a shard has its own table.
    let files = TempDir::new();
    let shard = Shard::new(1, 2).unwrap();
    let options = JobOptions::new(files.path()).pvec(true).shard(Some(shard));
    let s = client(&server)
        .download_query(&Query::all(), &options, |_| {})
        .unwrap();
    assert_adds_up(&s);
    assert_eq!(s.downloaded, s.selected);
    let mine = ids.iter().filter(|&&id| shard.contains(Some(id))).count();
    let table = files.path().join("pvec.shard-1-of-2.csv");
    assert_eq!(s.written.pvec.as_deref(), Some(table.as_path()));
    assert_eq!(
        pvec_rows(&table).len(),
        mine - without
            .iter()
            .filter(|&&id| shard.contains(Some(id)))
            .count()
    );
}

#[test]
fn a_job_asks_a_vector_alone_only_when_a_batch_is_refused_or_says_it_holds_more() {
    let server = FakeServer::start(Catalog::generate(600));
    let ids = ids_of(&client(&server).search(&Query::all()).unwrap());
    let with: Vec<u64> = ids.iter().copied().filter(|id| id % 7 != 3).collect();
    let run = |server: &FakeServer| {
        let out = TempDir::new();
        let options = JobOptions::new(out.path()).metadata_only(true).pvec(true);
        server.reset_counters();
        let s = client(server)
            .download_query(&Query::all(), &options, |_| {})
            .unwrap();
        assert_adds_up(&s);
        let rows: Vec<u64> = pvec_rows(&out.path().join("pvec.csv"))
            .iter()
            .map(|r| r.0)
            .collect();
        (s, rows, server.counters())
    };
    // Left out of the answers, and not counted: those neurons have no vector, as far as
    // the server says; nobody asks each one (that would be a request per missing neuron).
    let left_out = [with[0], with[7], with[100]];
    server.set_pvec_select_omits(&left_out);
    let (s, rows, c) = run(&server);
    assert_eq!((c.pvec_select, c.pvec_id), (2, 0), "{c:?}");
    assert_eq!(rows.len(), with.len() - 3);
    assert_eq!(s.pvec.unwrap().missing as usize, ids.len() - with.len() + 3);
    // Left out but counted: the answer of the first batch says it holds more, so the ids
    // it lacks are asked alone (only that batch's: the second answer is whole).
    server.set_pvec_omits_counted(true);
    server.set_pvec_malformed(&[with[5]]);
    let (s, rows, c) = run(&server);
    let first_batch = &ids[..500];
    assert!(left_out.iter().all(|id| first_batch.contains(id)));
    let lacking = first_batch.iter().filter(|id| *id % 7 == 3).count() + left_out.len();
    assert_eq!((c.pvec_select, c.pvec_id), (2, lacking), "{c:?}");
    assert_eq!(rows.len(), with.len() - 1, "all but the malformed one");
    let bad: Vec<&neuromorpho::FailedFile> = s
        .failed
        .iter()
        .filter(|f| f.neuron_id == Some(with[5]))
        .collect();
    assert_eq!(bad.len(), 1);
    assert!(
        bad[0].detail.contains("99 coefficients"),
        "{}",
        bad[0].detail
    );
    server.set_pvec_select_omits(&[]);
    server.set_pvec_malformed(&[]);
    // A refused batch: every id of it alone.
    server.set_refuse_pvec_batch(true);
    let (_, rows, c) = run(&server);
    assert_eq!((c.pvec_select, c.pvec_id), (2, ids.len()), "{c:?}");
    assert_eq!(rows.len(), with.len());
}

/// A subset job: the mouse neurons, their files from the mirror.
fn subset_job(server: &FakeServer, mirror: &Path, subset: &Path) -> neuromorpho::JobSummary {
    let files = DownloadOptions::new(subset).mirror(Mirror::open(mirror).unwrap());
    let s = client(server)
        .download_query(
            &Query::new().filter("species", ["mouse"]),
            &JobOptions::from(files),
            |_| {},
        )
        .unwrap();
    assert_adds_up(&s);
    s
}

/// The subset is a collection of its own: manifest, SHA256SUMS, table and citations
/// complete, and verify holds.
fn assert_complete(server: &FakeServer, subset: &Path, n: usize) {
    assert_eq!(Manifest::load(subset).unwrap().len(), n);
    let sums = std::fs::read_to_string(subset.join("SHA256SUMS")).unwrap();
    assert_eq!(sums.lines().count(), n);
    assert_eq!(table_ids(&subset.join("metadata.csv")).len(), n);
    assert!(subset.join("CITATIONS.md").is_file());
    let report = client(server)
        .verify(subset, &VerifyOptions::default(), |_| {})
        .unwrap();
    assert!(report.is_ok(), "{:?}", report.problems);
    assert_eq!(report.ok, n as u64);
    if have_sha256sum() {
        let (code, text) = sha256sum_check(subset, "SHA256SUMS").unwrap();
        assert_eq!(code, 0, "{text}");
    }
    assert_no_temp(subset);
}

#[test]
fn a_job_with_a_healthy_mirror_asks_for_no_file_and_shares_inodes() {
    let server = FakeServer::start(Catalog::generate(60));
    let (mirror_dir, subset) = (TempDir::new(), TempDir::new());
    make_mirror(&server, mirror_dir.path());
    let before = snapshot(mirror_dir.path());
    let n = subset_neurons(&server).len();
    server.reset_counters();
    let s = subset_job(&server, mirror_dir.path(), subset.path());
    assert_eq!(server.counters().files, 0, "no file asked of the server");
    let m = s.mirror.clone().unwrap();
    assert_eq!(
        (m.taken, m.linked, m.from_server, m.damaged),
        (n as u64, n as u64, 0, 0)
    );
    assert_eq!((s.downloaded, s.bytes), (n as u64, 0));
    for e in Manifest::load(subset.path()).unwrap().entries().unwrap() {
        let (a, b) = (
            std::fs::metadata(mirror_dir.path().join(&e.path)).unwrap(),
            std::fs::metadata(subset.path().join(&e.path)).unwrap(),
        );
        assert_eq!((a.dev(), a.ino()), (b.dev(), b.ino()), "{}", e.path);
        // The mirror's validators came along, for a later --update.
        assert_eq!(
            Mirror::open(mirror_dir.path())
                .unwrap()
                .entry(&e.url)
                .unwrap()
                .sha256,
            e.sha256
        );
    }
    assert_complete(&server, subset.path(), n);
    // Run again: every file is in place and skipped.
    let again = subset_job(&server, mirror_dir.path(), subset.path());
    assert_eq!((again.skipped, again.downloaded), (n as u64, 0));
    assert_eq!(snapshot(mirror_dir.path()), before, "the mirror unchanged");
    // A subset in the mirror (or holding it) is refused before anything is written.
    let inside = mirror_dir.path().join("subset");
    let files = DownloadOptions::new(&inside).mirror(Mirror::open(mirror_dir.path()).unwrap());
    let err = client(&server)
        .download_query(&Query::all(), &JobOptions::from(files), |_| {})
        .unwrap_err();
    assert!(err.to_string().contains("must be apart"), "{err}");
    let _ = std::fs::remove_dir_all(&inside);
    assert_eq!(snapshot(mirror_dir.path()), before);
}

#[test]
fn a_job_fetches_a_damaged_mirror_file_from_the_server_and_leaves_the_mirror_alone() {
    let server = FakeServer::start(Catalog::generate(40));
    let (mirror_dir, subset) = (TempDir::new(), TempDir::new());
    make_mirror(&server, mirror_dir.path());
    let neurons = subset_neurons(&server);
    let victim = &neurons[2];
    flip_byte(
        &mirror_dir
            .path()
            .join(format!("downloads/{}.swc", victim.neuron_name())),
        10,
    );
    let before = snapshot(mirror_dir.path());
    server.reset_counters();
    let s = subset_job(&server, mirror_dir.path(), subset.path());
    assert_eq!(server.counters().files, 1);
    assert_eq!(
        server.file_hits(&format!("/{}.CNG.swc", victim.neuron_name())),
        1
    );
    let m = s.mirror.clone().unwrap();
    let n = neurons.len() as u64;
    assert_eq!((m.taken, m.from_server, m.damaged), (n - 1, 1, 1));
    assert_eq!(snapshot(mirror_dir.path()), before, "the mirror untouched");
    assert_complete(&server, subset.path(), neurons.len());
    let fetched = subset
        .path()
        .join(format!("downloads/{}.swc", victim.neuron_name()));
    let mirrored = mirror_dir
        .path()
        .join(format!("downloads/{}.swc", victim.neuron_name()));
    assert_ne!(
        std::fs::metadata(&fetched).unwrap().ino(),
        std::fs::metadata(&mirrored).unwrap().ino()
    );
}

#[test]
fn a_job_with_a_mirror_on_another_file_system_copies() {
    let shm = Path::new("/dev/shm");
    let subset = TempDir::new();
    let other_fs = std::fs::metadata(shm)
        .ok()
        .filter(|m| m.is_dir() && m.dev() != std::fs::metadata(subset.path()).unwrap().dev());
    let Some(_) = other_fs else {
        eprintln!("no /dev/shm on another file system than the temp dir: copies are covered by the unit tests");
        return;
    };
    let mirror_dir = shm.join(format!(
        "neuromorpho-test-job-mirror-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&mirror_dir);
    struct Gone(PathBuf);
    impl Drop for Gone {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _gone = Gone(mirror_dir.clone());
    let server = FakeServer::start(Catalog::generate(30));
    make_mirror(&server, &mirror_dir);
    let before = snapshot(&mirror_dir);
    let n = subset_neurons(&server).len() as u64;
    server.reset_counters();
    let s = subset_job(&server, &mirror_dir, subset.path());
    assert_eq!(server.counters().files, 0);
    let m = s.mirror.unwrap();
    assert_eq!((m.taken, m.linked, m.from_server), (n, 0, 0), "copies");
    assert_eq!(snapshot(&mirror_dir), before);
    assert_complete(&server, subset.path(), n as usize);
}
