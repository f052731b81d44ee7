//! Live checks against the real NeuroMorpho.Org — opt-in, never part of an offline run:
//! every test is `#[ignore]`d (so `cargo test` reports them as ignored, not as passed), and
//! runs with
//!
//! ```text
//! cargo test --test it live:: -- --ignored --test-threads 1
//! ```
//!
//! `NEUROMORPHO_LIVE_BASE_URL` points them at another host (e.g. `http://cng.gmu.edu:8080`).
//! Unlike the offline tests these honour the `*_PROXY` variables (a compute node often
//! reaches the internet only through one), and they keep the library's polite defaults.
//! They ask for a handful of requests in all: a count, one record, one file.

use crate::support;

use neuromorpho::{Client, DownloadOptions, NameLookup, Query};
use support::*;

/// The real record used throughout: neuron 1, `cnic_001` of the Wearne_Hof archive.
const NAME: &str = "cnic_001";

/// The server the live tests talk to.
fn live(test: &str) -> Option<String> {
    eprintln!("live::{test}: talking to the real NeuroMorpho.Org");
    Some(
        std::env::var("NEUROMORPHO_LIVE_BASE_URL")
            .unwrap_or_else(|_| neuromorpho::DEFAULT_BASE_URL.to_string()),
    )
}

/// Library defaults (TLS verified, proxies from the environment, 5 requests/s, 4 attempts).
fn client(base: &str) -> Client {
    Client::builder()
        .base_url(base)
        .concurrency(2)
        .build()
        .expect("a client with the default settings")
}

#[test]
#[ignore = "talks to the real NeuroMorpho.Org; run with: cargo test --test it live:: -- --ignored"]
fn live_counts_a_small_query() {
    let Some(base) = live("live_counts_a_small_query") else {
        return;
    };
    let c = client(&base);
    let query = Query::new().filter("archive", ["Wearne_Hof"]);
    let n = c.count(&query).unwrap();
    eprintln!("Wearne_Hof: {n} neurons on {base}");
    assert!(n > 0, "the Wearne_Hof archive is not empty");
    // A value that matches nothing is a count of 0, not an error.
    let none = Query::new().filter("archive", ["no-such-archive-neuromorpho-test"]);
    assert_eq!(c.count(&none).unwrap(), 0);
}

#[test]
#[ignore = "talks to the real NeuroMorpho.Org; run with: cargo test --test it live:: -- --ignored"]
fn live_fetches_one_record() {
    let Some(base) = live("live_fetches_one_record") else {
        return;
    };
    let c = client(&base);
    let NameLookup { found, missing, .. } = c
        .neurons_by_name(&[
            NAME.to_string(),
            "no-such-neuron-neuromorpho-test".to_string(),
        ])
        .unwrap();
    assert_eq!(missing, ["no-such-neuron-neuromorpho-test"]);
    assert_eq!(found.len(), 1);
    let n = &found[0];
    assert_eq!(n.neuron_name(), NAME);
    assert_eq!(n.neuron_id(), Some(1));
    assert_eq!(n.archive(), "Wearne_Hof");
    // The same keys as the record kept in fixtures/ (the API's schema has not moved).
    let fixture: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(fixtures_dir().join("api/neuron_id_1_cnic_001.json")).unwrap(),
    )
    .unwrap();
    let want: Vec<&String> = fixture.as_object().unwrap().keys().collect();
    let got: Vec<&String> = n.fields().keys().collect();
    assert_eq!(got, want, "record keys, in the server's order");
}

#[test]
#[ignore = "talks to the real NeuroMorpho.Org; run with: cargo test --test it live:: -- --ignored"]
fn live_downloads_one_file() {
    let Some(base) = live("live_downloads_one_file") else {
        return;
    };
    let c = client(&base);
    let found = c.neurons_by_name([NAME]).unwrap().found;
    let out = TempDir::new();
    let report = c
        .download(&found, &DownloadOptions::new(out.path()), |_| {})
        .unwrap();
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.downloaded, 1);
    let path = out.path().join("downloads").join(format!("{NAME}.swc"));
    let bytes = std::fs::read(&path).unwrap();
    eprintln!("{NAME}: {} bytes", bytes.len());
    assert_eq!(bytes.len() as u64, report.bytes);
    assert!(bytes.len() > 1000, "an SWC file of some size");
    // The library already refused anything that is not SWC; look at it once more anyway.
    let text = String::from_utf8_lossy(&bytes);
    let first_point = text
        .lines()
        .find(|l| !l.trim_start().starts_with('#') && !l.trim().is_empty())
        .unwrap();
    assert_eq!(first_point.split_whitespace().count(), 7, "{first_point}");
}

#[test]
#[ignore = "talks to the real NeuroMorpho.Org; run with: cargo test --test it live:: -- --ignored"]
fn live_tls_verifies() {
    let Some(base) = live("live_tls_verifies") else {
        return;
    };
    if !base.starts_with("https://") {
        eprintln!("live_tls_verifies skipped: {base} is not https");
        return;
    }
    // Verification on (the default): the server's chain verifies against the built-in roots.
    let c = client(&base);
    let checks = c.diagnose();
    for ch in &checks {
        eprintln!(
            "{} {} {}",
            if ch.ok { "ok  " } else { "FAIL" },
            ch.step,
            ch.detail
        );
    }
    let tls = checks
        .iter()
        .find(|ch| ch.step == "TLS")
        .expect("a TLS step");
    assert!(tls.ok, "TLS: {} ({:?})", tls.detail, tls.hint);
    assert!(tls.detail.contains("verified"), "{}", tls.detail);
    // --ca-file ADDS to the built-in roots: with our self-signed test certificate added,
    // the real server still verifies.
    let with_ca = Client::builder()
        .base_url(&base)
        .concurrency(2)
        .ca_file(fixtures_dir().join("tls/cert.pem"))
        .build()
        .unwrap();
    with_ca
        .count(&Query::new().filter("archive", ["Wearne_Hof"]))
        .unwrap_or_else(|e| panic!("with an extra CA file: {e}"));
}
