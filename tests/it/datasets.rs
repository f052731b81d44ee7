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
