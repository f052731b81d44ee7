//! Self-tests of the fake NeuroMorpho.Org server (the `neuromorpho-fake-server` crate in tests/fake-server/): the other
//! tests and the benchmark rely on it behaving like the real server.

use crate::support;

use serde_json::Value;
use std::io::ErrorKind;
use std::time::{Duration, Instant};
use support::*;

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .proxy(None)
        .http_status_as_error(false)
        .build()
        .into()
}

struct Got {
    status: u16,
    content_type: String,
    body: Vec<u8>,
}

impl Got {
    fn text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("UTF-8 body")
    }
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("bad JSON ({e}): {}", self.text()))
    }
}

fn get_with(agent: &ureq::Agent, url: &str) -> Got {
    let mut resp = agent
        .get(url)
        .call()
        .unwrap_or_else(|e| panic!("GET {url}: {e}"));
    let content_type = resp
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    let body = resp.body_mut().read_to_vec().expect("read body");
    Got {
        status: resp.status().as_u16(),
        content_type,
        body,
    }
}

fn get(server: &FakeServer, path: &str) -> Got {
    get_with(&agent(), &format!("{}{path}", server.base_url()))
}

fn io_kind(err: &ureq::Error) -> Option<ErrorKind> {
    match err {
        ureq::Error::Io(e) => Some(e.kind()),
        _ => None,
    }
}

fn ids(envelope: &Value) -> Vec<u64> {
    envelope["_embedded"]["neuronResources"]
        .as_array()
        .map(|a| a.iter().map(|r| r["neuron_id"].as_u64().unwrap()).collect())
        .unwrap_or_default()
}

fn real_record() -> String {
    std::fs::read_to_string(fixtures_dir().join("api/neuron_id_1_cnic_001.json"))
        .unwrap()
        .trim()
        .to_string()
}

#[test]
fn catalog_is_deterministic_and_keeps_the_real_record() {
    let catalog = Catalog::generate(100);
    assert_eq!(catalog.len(), 100);
    assert_eq!(catalog.record_json(0), real_record());
    assert_eq!(catalog.id(0), Some(1));
    assert_eq!(catalog.id(7), Some(9), "ids have gaps");
    let real_keys: Vec<String> = catalog
        .record_value(0)
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect();
    assert_eq!(real_keys.len(), 45);
    let mut names = std::collections::HashSet::new();
    for i in 0..catalog.len() {
        let record = catalog.record_value(i);
        let keys: Vec<String> = record.as_object().unwrap().keys().cloned().collect();
        assert_eq!(keys, real_keys, "key order of record {i}");
        assert_eq!(record["neuron_id"].as_u64(), catalog.id(i));
        let name = catalog.name(i).into_owned();
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)),
            "{name}"
        );
        assert!(names.insert(name.clone()), "duplicate name {name}");
        assert_eq!(catalog.index_of_name(&name), Some(i));
        assert_eq!(catalog.index_of_id(catalog.id(i).unwrap()), Some(i));
        assert_eq!(record["archive"].as_str(), catalog.archive(i));
        assert_eq!(
            record["_links"]["self"]["href"],
            format!(
                "http://neuromorpho.org/api/neuron/id/{}",
                catalog.id(i).unwrap()
            )
        );
    }
    assert_eq!(
        Catalog::generate(100).record_json(57),
        catalog.record_json(57)
    );
    let species: std::collections::HashSet<String> = (0..100)
        .flat_map(|i| catalog.field_values(i, "species").unwrap())
        .collect();
    assert!(species.len() >= 6);
}

#[test]
fn health_and_paging_envelope() {
    let server = FakeServer::start(Catalog::generate(1234));
    let health = get(&server, "/api/health");
    assert_eq!(
        (health.status, health.text().as_str()),
        (200, r#"{"status":"UP"}"#)
    );
    assert_eq!(health.content_type, "application/json");

    let first = get(&server, "/api/neuron");
    assert_eq!(first.status, 200);
    let text = first.text();
    assert!(
        text.starts_with(r#"{"_embedded":{"neuronResources":[{"neuron_id":1,"#),
        "{}",
        &text[..80]
    );
    assert!(
        text.ends_with(r#""page":{"size":50,"totalElements":1234,"totalPages":25,"number":0}}"#)
    );
    let v = first.json();
    let top: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    assert_eq!(top, ["_embedded", "_links", "page"]);
    let links: Vec<&str> = v["_links"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(links, ["first", "self", "next", "last"]);
    assert!(text.contains(&real_record()), "record 0 is served verbatim");
    assert_eq!(ids(&v).len(), 50);

    let clamped = get(&server, "/api/neuron?size=1000&page=1").json();
    assert_eq!(
        clamped["page"],
        serde_json::json!({"size":500,"totalElements":1234,"totalPages":3,"number":1})
    );
    assert_eq!(ids(&clamped)[0], server.catalog().id(500).unwrap());

    let last = get(&server, "/api/neuron?size=500&page=2").json();
    assert_eq!(ids(&last).len(), 234);
    let beyond = get(&server, "/api/neuron?size=500&page=3");
    assert_eq!(beyond.status, 200);
    assert!(beyond.json().get("_embedded").is_none());
    assert_eq!(beyond.json()["page"]["number"], 3);

    let desc = get(&server, "/api/neuron?size=5&sort=neuron_id,desc").json();
    assert_eq!(ids(&desc)[0], server.catalog().id(1233).unwrap());
    let by_name = get(&server, "/api/neuron?size=500&sort=neuron_name").json();
    let names: Vec<&str> = by_name["_embedded"]["neuronResources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["neuron_name"].as_str().unwrap())
        .collect();
    assert!(names.windows(2).all(|w| w[0] <= w[1]));

    for bad in [
        "/api/neuron?size=abc",
        "/api/neuron?page=-1",
        "/api/neuron?size=0",
        "/api/neuron?sort=nope,asc",
    ] {
        let got = get(&server, bad);
        assert_eq!(got.status, 400, "{bad}");
        assert_eq!(got.json()["status"], 400);
    }
}

#[test]
fn records_by_id_and_name() {
    let server = FakeServer::start(Catalog::generate(50));
    let one = get(&server, "/api/neuron/id/1");
    assert_eq!((one.status, one.text()), (200, real_record()));
    assert_eq!(
        get(&server, "/api/neuron/name/cnic_001").text(),
        real_record()
    );
    let name = server.catalog().name(20).into_owned();
    let by_name = get(&server, &format!("/api/neuron/name/{name}")).json();
    assert_eq!(by_name["neuron_id"].as_u64(), server.catalog().id(20));
    let by_id = get(
        &server,
        &format!("/api/neuron/id/{}", server.catalog().id(20).unwrap()),
    )
    .json();
    assert_eq!(by_id, by_name);
    let missing = get(&server, "/api/neuron/name/AA1544");
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.text(),
        r#"{"status":404,"error":"Not Found","message":"Requested neuron not found","path":"/api/neuron/name/AA1544"}"#
    );
    assert_eq!(
        get(&server, "/api/neuron/id/8").status,
        404,
        "id 8 is a gap"
    );
    assert_eq!(get(&server, "/api/neuron/id/x").status, 400);
}

#[test]
fn select_semantics() {
    let server = FakeServer::start(Catalog::generate(500));
    let catalog = server.catalog();
    let expect = |q: &str, fq: &[&str]| -> Vec<u64> {
        catalog
            .query(q, fq)
            .unwrap()
            .into_iter()
            .map(|i| catalog.id(i).unwrap())
            .collect()
    };
    let select = |query: &str| get(&server, &format!("/api/neuron/select?{query}&size=500"));

    let mouse = expect("species:mouse", &[]);
    let or = select("q=species:mouse,rat").json();
    let mouse_or_rat = expect("species:mouse,rat", &[]);
    assert!(mouse_or_rat.len() > mouse.len() && !mouse.is_empty());
    assert_eq!(ids(&or), mouse_or_rat);
    assert_eq!(
        or["page"]["totalElements"].as_u64().unwrap() as usize,
        mouse_or_rat.len()
    );

    let and = select("q=species:mouse&fq=archive:Markram&fq=brain_region:hippocampus").json();
    let and_ids = ids(&and);
    assert!(!and_ids.is_empty());
    for id in &and_ids {
        let r = catalog.record_value(catalog.index_of_id(*id).unwrap());
        assert_eq!(r["species"], "mouse");
        assert_eq!(r["archive"], "Markram");
        assert!(r["brain_region"]
            .as_array()
            .unwrap()
            .contains(&Value::from("hippocampus")));
    }
    assert_eq!(
        and_ids,
        expect(
            "species:mouse",
            &["archive:Markram", "brain_region:hippocampus"]
        )
    );
    // Any element of an array field matches; level fields match one element.
    let neocortex = ids(&select("q=brain_region:neocortex").json());
    assert_eq!(neocortex[0], 1, "cnic_001 is the first neocortex neuron");
    let pyramidal = ids(&select("q=cell_type:pyramidal").json());
    assert!(pyramidal.contains(&1));
    assert_eq!(
        ids(&select("q=brain_region_2:CA1").json()),
        expect("brain_region:CA1", &[])
    );
    assert_eq!(select("q=brain_region_1:CA1").status, 404);
    assert!(ids(&select("q=cell_type_3:principal%20cell").json()).contains(&1));
    // Spaces: %20, quotes, several fields in q.
    let allen = expect("archive:Allen Cell Types", &[]);
    assert!(!allen.is_empty());
    assert_eq!(ids(&select("q=archive:Allen%20Cell%20Types").json()), allen);
    assert_eq!(
        ids(&select("q=archive:%22Allen%20Cell%20Types%22").json()),
        allen
    );
    assert_eq!(
        ids(&select("q=species:mouse%20archive:Allen%20Cell%20Types").json()),
        expect("species:mouse", &["archive:Allen Cell Types"])
    );
    // Wildcards, ranges, numeric ids, sort.
    let prefixed = ids(&select("q=neuron_name:cell_1*").json());
    assert!(!prefixed.is_empty());
    for id in &prefixed {
        assert!(catalog
            .name(catalog.index_of_id(*id).unwrap())
            .starts_with("cell_1"));
    }
    assert_eq!(ids(&select("q=neuron_id:1,2,3,8").json()), [1, 2, 3]);
    assert_eq!(
        select("q=neuron_id:%5B*%20TO%20*%5D").json()["page"]["totalElements"],
        500
    );
    let desc = ids(&select("q=species:mouse,rat&sort=neuron_id,desc").json());
    assert_eq!(desc, mouse_or_rat.iter().rev().copied().collect::<Vec<_>>());
    // Case-sensitive exact match; zero hits -> 404 JSON.
    let none = select("q=species:Mouse");
    assert_eq!(none.status, 404);
    assert_eq!(
        none.text(),
        r#"{"status":404,"error":"Not Found","message":"No neurons found","path":"/api/neuron/select"}"#
    );
    assert_eq!(none.content_type, "application/json");
    assert_eq!(select("q=UNKNOWN_FIELD:0").status, 400);
    assert_eq!(select("q=species:mouse&fq=nope:1").status, 400);
    assert_eq!(get(&server, "/api/neuron/select").status, 400);
    assert_eq!(get(&server, "/api/neuron/select?q=species").status, 400);
    // Count probe, page beyond the end.
    let count = select("q=species:mouse&size=1").json();
    assert_eq!(
        count["page"]["totalElements"].as_u64().unwrap() as usize,
        mouse.len()
    );
    let beyond = get(&server, "/api/neuron/select?q=species:mouse&page=99");
    assert_eq!(beyond.status, 200);
    assert!(beyond.json().get("_embedded").is_none());
    // POST with a JSON body.
    let mut resp = agent()
        .post(&format!("{}/api/neuron/select?size=500", server.base_url()))
        .header("content-type", "application/json")
        .send(r#"{"species":["mouse","rat"]}"#)
        .unwrap();
    let posted: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
    assert_eq!(ids(&posted), mouse_or_rat);
}

#[test]
fn fields_values_and_partition() {
    let server = FakeServer::start(Catalog::generate(300));
    let list = get(&server, "/api/neuron/fields").json();
    let fields = list["Neuron Fields"].as_array().unwrap();
    assert_eq!(fields.len(), NEURON_FIELDS.len());
    assert_eq!(fields[0], "neuron_id");
    assert!(fields.contains(&Value::from("Physical_Integrity")));

    let all = get(&server, "/api/neuron/fields/species?size=10000").json();
    let species: Vec<&str> = all["fields"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(species[0], "monkey", "first-seen order: cnic_001 first");
    assert_eq!(species.len(), 6);
    assert_eq!(
        all["page"],
        serde_json::json!({"size":10000,"totalElements":6,"totalPages":1,"number":0})
    );
    let paged = get(&server, "/api/neuron/fields/species?size=4&page=1").json();
    assert_eq!(paged["fields"].as_array().unwrap().len(), 2);
    assert_eq!(paged["fields"][0].as_str(), Some(species[4]));
    assert_eq!(paged["page"]["totalPages"], 2);
    // Array elements count individually; default size 50.
    let regions = get(&server, "/api/neuron/fields/brain_region").json();
    assert!(regions["fields"]
        .as_array()
        .unwrap()
        .contains(&Value::from("CA1")));
    assert_eq!(regions["page"]["size"], 50);
    let level1 = get(&server, "/api/neuron/fields/brain_region_1?size=100").json();
    assert!(!level1["fields"]
        .as_array()
        .unwrap()
        .contains(&Value::from("CA1")));
    let names = get(&server, "/api/neuron/fields/neuron_name?size=100&page=2").json();
    assert_eq!(names["page"]["totalElements"], 300);
    assert_eq!(names["fields"].as_array().unwrap().len(), 100);
    let unknown = get(&server, "/api/neuron/fields/nope");
    assert_eq!(
        (unknown.status, unknown.json()["status"].as_u64()),
        (404, Some(404))
    );

    let partition = get(&server, "/api/neuron/partition/species").json();
    let counts = partition["fields"].as_object().unwrap();
    assert_eq!(
        counts.values().map(|v| v.as_u64().unwrap()).sum::<u64>(),
        300
    );
    let mouse = server.catalog().query("species:mouse", &[]).unwrap().len() as u64;
    assert_eq!(counts["mouse"].as_u64(), Some(mouse));
    assert_eq!(get(&server, "/api/neuron/partition/nope").status, 404);
}

#[test]
fn morphometry() {
    let server = FakeServer::start(Catalog::generate(40));
    let one = get(&server, "/api/morphometry/id/1").json();
    let keys: Vec<&str> = one
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, MORPHOMETRY_KEYS);
    assert_eq!(one["surface"].as_f64(), Some(8842.91), "from the record");
    assert_eq!(one["neuron_name"], "cnic_001");
    assert_eq!(get(&server, "/api/morphometry/name/cnic_001").json(), one);
    assert_eq!(get(&server, "/api/morphometry/id/8").status, 404);

    let batch = get(
        &server,
        "/api/morphometry/select?q=Neuron_id:3,1,2,8&page=0&size=500",
    )
    .json();
    let got: Vec<u64> = batch["_embedded"]["measurements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["neuron_id"].as_u64().unwrap())
        .collect();
    assert_eq!(got, [1, 2, 3]);
    assert_eq!(batch["_embedded"]["measurements"][0], one);
    assert_eq!(
        get(&server, "/api/morphometry/select?q=Neuron_id:8").status,
        404
    );
    assert_eq!(
        get(&server, "/api/morphometry/select?q=species:mouse").status,
        400
    );
    server.set_refuse_morphometry_batch(true);
    assert_eq!(
        get(&server, "/api/morphometry/select?q=Neuron_id:1").status,
        400
    );
    assert_eq!(get(&server, "/api/morphometry/id/2").status, 200);
}

#[test]
fn persistence_vectors() {
    let server = FakeServer::start(Catalog::generate(40));
    let one = get(&server, "/api/pvec/id/1").json();
    let keys: Vec<&str> = one
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(
        keys,
        ["neuron_id", "scaling_factor", "distance", "coefficients"],
        "the select item keys of the API notes, in their order"
    );
    let coefficients = one["coefficients"].as_array().unwrap();
    assert_eq!(coefficients.len(), PVEC_LEN);
    assert!(coefficients
        .iter()
        .all(|c| c.as_f64().is_some_and(|x| (0.0..1.0).contains(&x))));
    // Full-precision doubles: a client that rounds them is caught.
    assert!(
        coefficients
            .iter()
            .filter(|c| c.to_string().len() > 12)
            .count()
            > 80,
        "{one}"
    );
    assert_eq!(Some(one.clone()), server.catalog().pvec_value(0));
    assert_eq!(get(&server, "/api/pvec/id/1").json(), one, "deterministic");
    assert_ne!(
        get(&server, "/api/pvec/id/2").json()["distance"],
        one["distance"]
    );
    // Rows whose id is 3 modulo 7 have none; nor has an id the catalog lacks.
    for id in [3, 10, 8, 999_999] {
        let got = get(&server, &format!("/api/pvec/id/{id}"));
        assert_eq!(got.status, 404, "{id}");
        assert_eq!(got.json()["status"], 404);
    }
    assert_eq!(get(&server, "/api/pvec/id/x").status, 400);

    let ids = |batch: &Value| -> Vec<u64> {
        batch["_embedded"]["pvecs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|m| m["neuron_id"].as_u64().unwrap())
            .collect()
    };
    let batch = get(
        &server,
        "/api/pvec/select?q=neuron_id:4,1,2,3,8&page=0&size=500",
    )
    .json();
    assert_eq!(ids(&batch), [1, 2, 4]);
    assert_eq!(batch["_embedded"]["pvecs"][0], one);
    assert_eq!(batch["page"]["totalElements"], 3);
    assert_eq!(
        ids(&get(&server, "/api/pvec/select?q=Neuron_id:2,1").json()),
        [1, 2]
    );
    assert_eq!(
        get(&server, "/api/pvec/select?q=neuron_id:3,10").status,
        404
    );
    assert_eq!(get(&server, "/api/pvec/select?q=species:mouse").status, 400);
    assert_eq!(get(&server, "/api/pvec/select").status, 400);

    server.set_pvec_select_omits(&[2]);
    assert_eq!(
        ids(&get(&server, "/api/pvec/select?q=neuron_id:1,2").json()),
        [1]
    );
    assert_eq!(
        get(&server, "/api/pvec/id/2").status,
        200,
        "still served alone"
    );
    server.set_pvec_select_omits(&[]);
    server.set_pvec_malformed(&[4]);
    let short = get(&server, "/api/pvec/id/4").json();
    assert_eq!(
        short["coefficients"].as_array().unwrap().len(),
        PVEC_LEN - 1
    );
    let batch = get(&server, "/api/pvec/select?q=neuron_id:4").json();
    assert_eq!(batch["_embedded"]["pvecs"][0], short);
    server.set_pvec_malformed(&[]);
    server.set_refuse_pvec_batch(true);
    assert_eq!(get(&server, "/api/pvec/select?q=neuron_id:1").status, 400);
    assert_eq!(get(&server, "/api/pvec/id/1").status, 200);

    let c = server.counters();
    assert_eq!((c.pvec_select, c.pvec_id), (8, 11), "{c:?}");
    assert_eq!(c.other, 0);

    // A release adds neurons, with vectors by the same rule.
    server.set_release(2);
    let added = server.catalog().added_in_release(2);
    let newcomer = server.catalog().id(added.start).unwrap();
    let got = get(&server, &format!("/api/pvec/id/{newcomer}"));
    assert_eq!(got.status, if newcomer % 7 == 3 { 404 } else { 200 });
}

#[test]
fn files_are_served_byte_identical() {
    let mut catalog = Catalog::generate(60);
    let hostile = [
        ("../x", "Markram"),
        ("a/b", "Markram"),
        ("", "Markram"),
        ("sp ace", "Allen Cell Types"),
    ];
    for (k, (name, archive)) in hostile.iter().enumerate() {
        let record =
            serde_json::json!({"neuron_id": 9000 + k, "neuron_name": name, "archive": archive});
        catalog.push_raw(record, Some(format!("raw file {k}\n").into_bytes()));
    }
    let no_archive = catalog.push_raw(
        serde_json::json!({"neuron_id": 9100, "neuron_name": "orphan"}),
        Some(b"x".to_vec()),
    );
    let no_file = catalog.push_raw(
        serde_json::json!({"neuron_id": 9101, "neuron_name": "nofile", "archive": "Amaral"}),
        None,
    );
    let server = FakeServer::start(catalog);
    let catalog = server.catalog();

    let fixture = |i: usize| {
        std::fs::read(
            fixtures_dir()
                .join("swc")
                .join(catalog.swc_fixture_name(i).unwrap()),
        )
        .unwrap()
    };
    let zero = get(
        &server,
        "/dableFiles/wearne_hof/CNG%20version/cnic_001.CNG.swc",
    );
    assert_eq!(zero.status, 200);
    assert_eq!(zero.content_type, "text/plain");
    assert_eq!(zero.body, fixture(0));
    let allen = (1..60)
        .find(|&i| catalog.archive(i) == Some("Allen Cell Types"))
        .unwrap();
    let path = catalog.cng_path(allen).unwrap();
    assert!(
        path.starts_with("/dableFiles/allen%20cell%20types/CNG%20version/"),
        "{path}"
    );
    assert_eq!(get(&server, &path).body, fixture(allen));
    assert_eq!(catalog.swc_bytes(allen), fixture(allen).as_slice());
    assert_eq!(
        get(
            &server,
            "/neuroMorpho/dableFiles/wearne_hof/CNG%20version/cnic_001.CNG.swc"
        )
        .body,
        fixture(0)
    );

    // Hostile names are served at their percent-encoded URL only.
    for (k, hostile) in hostile.iter().enumerate() {
        let got = get(&server, &catalog.cng_path(60 + k).unwrap());
        assert_eq!(
            (got.status, got.body),
            (200, format!("raw file {k}\n").into_bytes()),
            "{hostile:?}"
        );
    }
    assert_eq!(
        get(&server, "/dableFiles/markram/CNG%20version/../x.CNG.swc").status,
        404
    );
    assert_eq!(
        get(&server, "/dableFiles/markram/CNG%20version/a/b.CNG.swc").status,
        404
    );
    assert_eq!(catalog.cng_path(no_archive), None);
    assert_eq!(
        get(&server, &catalog.cng_path(no_file).unwrap()).status,
        404
    );

    // Missing files: 404 with an HTML body.
    let missing = get(&server, "/dableFiles/wearne_hof/CNG%20version/nope.CNG.swc");
    assert_eq!(missing.status, 404);
    assert_eq!(missing.content_type, "text/html");
    assert_eq!(
        missing.text(),
        "<html><head><title>404 Not Found</title></head><body><h1>Not Found</h1></body></html>"
    );
    assert_eq!(
        get(
            &server,
            "/dableFiles/Wearne_Hof/CNG%20version/cnic_001.CNG.swc"
        )
        .status,
        404,
        "case matters"
    );
    assert_eq!(
        get(
            &server,
            "/dableFiles/markram/CNG%20version/cnic_001.CNG.swc"
        )
        .status,
        404,
        "wrong archive"
    );
    server.remove_file("cnic_001");
    assert_eq!(
        get(
            &server,
            "/dableFiles/wearne_hof/CNG%20version/cnic_001.CNG.swc"
        )
        .status,
        404
    );

    // Source-Version and logs.
    assert_eq!(
        get(
            &server,
            "/dableFiles/wearne_hof/Source-Version/cnic_001.swc"
        )
        .body,
        fixture(0)
    );
    let xml = (1..60)
        .find(|&i| catalog.field_values(i, "original_format").unwrap() == ["Custom.xml"])
        .unwrap();
    let source = catalog.source_path(xml).unwrap();
    assert!(source.ends_with(".morph.xml"), "{source}");
    let got = get(&server, &source);
    assert_eq!(got.status, 200);
    assert_eq!(got.text(), get(&server, &source).text(), "deterministic");
    let asc = (1..60)
        .find(|&i| catalog.field_values(i, "original_format").unwrap() == ["Neurolucida.asc"])
        .unwrap();
    assert!(catalog.source_path(asc).unwrap().ends_with(".asc"));
    assert_eq!(get(&server, &catalog.source_path(asc).unwrap()).status, 200);
    assert_eq!(
        get(
            &server,
            "/dableFiles/wearne_hof/Remaining%20issues/cnic_001.CNG.swc.std"
        )
        .status,
        200
    );
    assert_eq!(
        get(
            &server,
            "/dableFiles/wearne_hof/Standardization%20log/cnic_001.std"
        )
        .status,
        200
    );
    assert_eq!(
        get(
            &server,
            "/dableFiles/wearne_hof/Standardization%20log/nope.std"
        )
        .status,
        404
    );
    assert_eq!(get(&server, "/nothing/here").status, 404);
}

#[test]
fn counters_connections_and_recording() {
    let server = FakeServer::start(Catalog::generate(100));
    let agent = agent();
    let base = server.base_url();
    for path in [
        "/api/health",
        "/api/neuron?size=1",
        "/api/neuron/select?q=species:mouse&size=1",
        "/api/neuron/select?q=species:mouse&size=20",
        "/api/neuron?page=1",
        "/api/neuron/fields",
        "/api/neuron/fields/species",
        "/api/neuron/partition/species",
        "/api/neuron/id/1",
        "/api/neuron/name/cnic_001",
        "/api/morphometry/id/1",
        "/dableFiles/wearne_hof/CNG%20version/cnic_001.CNG.swc",
        "/dableFiles/wearne_hof/CNG%20version/cnic_001.CNG.swc",
        "/neuron_info.jsp?neuron_name=cnic_001",
        "/favicon.ico",
    ] {
        get_with(&agent, &format!("{base}{path}"));
    }
    let c = server.counters();
    assert_eq!(c.connections, 1, "keep-alive reuses one connection: {c:?}");
    assert_eq!(c.requests, 15);
    assert_eq!(
        (
            c.health,
            c.count,
            c.pages,
            c.fields,
            c.field_values,
            c.partition
        ),
        (1, 2, 2, 1, 1, 1)
    );
    assert_eq!(
        (c.records, c.morphometry, c.files, c.jsp, c.other, c.faults),
        (2, 1, 2, 1, 1, 0)
    );
    assert_eq!(
        get_with(&agent, &format!("{base}/neuron_info.jsp")).status,
        403
    );
    assert_eq!(server.file_hits("cnic_001"), 2);
    assert_eq!(server.max_file_hits(), 2);
    let requests = server.requests();
    assert_eq!(requests.len(), 16);
    assert_eq!(
        requests[2].target,
        "/api/neuron/select?q=species:mouse&size=1"
    );
    assert_eq!(requests[0].method, "GET");
    assert!(requests[0]
        .user_agent
        .as_deref()
        .unwrap_or("")
        .starts_with("ureq"));

    let stats =
        Counters::from_json(&get_with(&agent, &format!("{base}/__fake/stats")).text()).unwrap();
    assert_eq!(stats, server.counters(), "/__fake/... is not counted");
    get_with(&agent, &format!("{base}/__fake/reset"));
    assert_eq!(server.counters(), Counters::default());
    assert_eq!((server.max_file_hits(), server.requests().len()), (0, 0));

    server.set_recording(false);
    get_with(&agent, &format!("{base}/api/health"));
    assert!(server.requests().is_empty());
    assert_eq!(server.counters().requests, 1);

    // A second agent opens a second connection; `Connection: close` is honoured.
    let mut resp = ureq::Agent::config_builder()
        .proxy(None)
        .build()
        .new_agent()
        .get(&format!("{base}/api/health"))
        .header("connection", "close")
        .call()
        .unwrap();
    assert_eq!(resp.headers().get("connection").unwrap(), "close");
    resp.body_mut().read_to_string().unwrap();
    assert_eq!(server.counters().connections, 1);
}

#[test]
fn malformed_requests_get_400_without_killing_the_server() {
    use std::io::{Read, Write};
    let server = FakeServer::start(Catalog::generate(5));
    for raw in [
        "garbage\r\n\r\n",
        "GET nopath HTTP/1.1\r\n\r\n",
        "GET / HTTP/1.1\r\nbad header line\r\n\r\n",
        "POST /api/neuron/select HTTP/1.1\r\nContent-Length: x\r\n\r\n",
    ] {
        let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
        s.write_all(raw.as_bytes()).unwrap();
        let mut answer = String::new();
        let _ = s.read_to_string(&mut answer);
        assert!(answer.starts_with("HTTP/1.1 400 "), "{raw:?} -> {answer:?}");
    }
    let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    s.write_all(b"GET /api/neuron/id/%ZZ%%%C3%28 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .unwrap();
    let mut answer = String::new();
    s.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 400 "), "{answer}");
    assert_eq!(get(&server, "/api/health").status, 200);
}

#[test]
fn each_fault_kind() {
    let server = FakeServer::start(Catalog::generate(200));
    let base = server.base_url();
    let url = |p: &str| format!("{base}{p}");
    let page1 = "/api/neuron?page=1&size=10";

    server.push_fault(FaultRule::new(Target::Page(1), 2, Fault::Status(503)));
    assert_eq!(
        get(&server, "/api/neuron?page=0&size=10").status,
        200,
        "other pages unaffected"
    );
    assert_eq!(
        get(&server, "/api/neuron?page=1&size=1").status,
        200,
        "a count is not a page"
    );
    for _ in 0..2 {
        let got = get(&server, page1);
        assert_eq!(got.status, 503);
        assert_eq!(got.json()["status"], 503);
    }
    assert_eq!(get(&server, page1).status, 200);
    assert_eq!(server.pending_faults(), 0);

    server.push_fault(FaultRule::new(
        Target::Count,
        1,
        Fault::TooMany {
            retry_after: "7".into(),
        },
    ));
    let resp = agent().get(&url("/api/neuron?size=1")).call().unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers().get("retry-after").unwrap(), "7");

    server.push_fault(FaultRule::new(Target::Api, 1, Fault::ResetBeforeHeaders));
    let err = agent().get(&url("/api/health")).call().unwrap_err();
    assert_eq!(io_kind(&err), Some(ErrorKind::ConnectionReset), "{err:?}");

    server.push_fault(FaultRule::new(Target::AnyFile, 1, Fault::ResetAfterHeaders));
    let mut resp = agent()
        .get(&url(
            "/dableFiles/wearne_hof/CNG%20version/cnic_001.CNG.swc",
        ))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    let err = resp.body_mut().read_to_vec().unwrap_err();
    // ureq reports a reset in the middle of a body as UnexpectedEof ("Peer disconnected").
    assert_eq!(io_kind(&err), Some(ErrorKind::UnexpectedEof), "{err:?}");

    server.push_fault(FaultRule::new(
        Target::Path("cnic_001.CNG".into()),
        1,
        Fault::Truncate,
    ));
    let mut resp = agent()
        .get(&url(
            "/dableFiles/wearne_hof/CNG%20version/cnic_001.CNG.swc",
        ))
        .call()
        .unwrap();
    let err = resp.body_mut().read_to_vec().unwrap_err();
    assert_eq!(io_kind(&err), Some(ErrorKind::UnexpectedEof), "{err:?}");

    server.push_fault(FaultRule::new(Target::Any, 1, Fault::Html200));
    let got = get(&server, "/api/neuron/id/1");
    assert_eq!((got.status, got.content_type.as_str()), (200, "text/html"));
    assert!(got.text().starts_with("<html>"));

    server.push_fault(FaultRule::new(Target::Any, 1, Fault::MalformedJson));
    let got = get(&server, "/api/neuron/id/1");
    assert_eq!(got.status, 200);
    assert!(serde_json::from_slice::<Value>(&got.body).is_err());
    assert!(real_record().starts_with(&got.text()));

    server.push_fault(FaultRule::new(
        Target::Any,
        1,
        Fault::Delay(Duration::from_millis(300)),
    ));
    let start = Instant::now();
    assert_eq!(get(&server, "/api/health").status, 200);
    assert!(start.elapsed() >= Duration::from_millis(300));

    server.push_fault(FaultRule::new(
        Target::Page(0),
        1,
        Fault::ReportTotalDelta(5),
    ));
    let shifted = get(&server, "/api/neuron?size=50").json();
    assert_eq!(
        shifted["page"],
        serde_json::json!({"size":50,"totalElements":205,"totalPages":5,"number":0})
    );
    assert_eq!(ids(&shifted).len(), 50);
    server.push_fault(FaultRule::new(
        Target::Any,
        1,
        Fault::ReportTotalDelta(-150),
    ));
    let shrunk = get(
        &server,
        "/api/neuron/select?q=neuron_id:%5B*%20TO%20*%5D&size=50",
    )
    .json();
    assert_eq!(shrunk["page"]["totalElements"], 50);
    assert_eq!(shrunk["page"]["totalPages"], 1);

    assert_eq!(server.counters().faults, 11);
    assert_eq!(server.pending_faults(), 0);
}

/// Raw socket view: a reset ends in ECONNRESET, a truncation in a clean EOF.
#[test]
fn resets_are_real_tcp_resets() {
    use std::io::{Read, Write};
    let server = FakeServer::start(Catalog::generate(5));
    let request =
        b"GET /dableFiles/wearne_hof/CNG%20version/cnic_001.CNG.swc HTTP/1.1\r\nHost: x\r\n\r\n";
    let full_len = server.catalog().swc_bytes(0).len();
    for (fault, expect_reset) in [
        (Fault::ResetBeforeHeaders, true),
        (Fault::ResetAfterHeaders, true),
        (Fault::Truncate, false),
    ] {
        server.push_fault(FaultRule::new(Target::AnyFile, 1, fault.clone()));
        let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
        s.write_all(request).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 8192];
        let end = loop {
            match s.read(&mut buf) {
                Ok(0) => break None,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => break Some(e.kind()),
            }
        };
        let reset = end == Some(ErrorKind::ConnectionReset);
        assert_eq!(reset, expect_reset, "{fault:?}: {end:?}");
        if fault != Fault::ResetBeforeHeaders {
            let text = String::from_utf8_lossy(&got);
            assert!(text.starts_with("HTTP/1.1 200 OK\r\n"), "{fault:?}");
            assert!(
                text.contains(&format!("Content-Length: {full_len}\r\n")),
                "{fault:?}"
            );
            assert!(got.len() < full_len, "{fault:?}: only part of the body");
        }
    }
}

#[test]
fn latency_applies_per_request_concurrently() {
    let server = FakeServer::start(Catalog::generate(10));
    server.set_latency(Duration::from_millis(300));
    let start = Instant::now();
    let threads: Vec<_> = (0..20)
        .map(|_| {
            let url = format!("{}/api/neuron/id/1", server.base_url());
            std::thread::spawn(move || get_with(&agent(), &url).status)
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 200);
    }
    let elapsed = start.elapsed();
    assert!(
        elapsed >= Duration::from_millis(300) && elapsed < Duration::from_millis(1500),
        "{elapsed:?}"
    );
    assert_eq!(server.counters().connections, 20);
}

#[test]
fn random_faults_never_hit_one_target_three_times_in_a_row() {
    let server = FakeServer::start(Catalog::generate(100));
    server.set_random_faults(0.6, 42);
    let agent = agent();
    let mut failures = 0;
    for k in 0..100 {
        let url = if k % 2 == 0 {
            format!("{}/api/neuron?page={}&size=10", server.base_url(), k % 10)
        } else {
            format!(
                "{}{}",
                server.base_url(),
                server.catalog().cng_path(k % 100).unwrap()
            )
        };
        let ok = (0..4).any(|_| match agent.get(&url).call() {
            Ok(mut resp) => {
                let html = resp
                    .headers()
                    .get("content-type")
                    .is_some_and(|v| v == "text/html");
                let body = resp.body_mut().read_to_vec();
                resp.status().as_u16() == 200 && !html && body.is_ok()
            }
            Err(_) => false,
        });
        if !ok {
            failures += 1;
        }
    }
    assert_eq!(failures, 0);
    let c = server.counters();
    assert!(c.faults > 50, "{c:?}");
    server.set_random_faults(0.0, 0);
    let before = server.counters().faults;
    for _ in 0..20 {
        assert_eq!(get(&server, "/api/health").status, 200);
    }
    assert_eq!(server.counters().faults, before);
}

#[test]
fn drop_stops_the_server() {
    let server = FakeServer::start(Catalog::generate(3));
    let addr = server.addr();
    let agent = agent();
    assert_eq!(
        get_with(&agent, &format!("http://{addr}/api/health")).status,
        200
    );
    drop(server);
    assert!(agent
        .get(&format!("http://{addr}/api/health"))
        .call()
        .is_err());
}

#[test]
fn large_catalog_builds_fast_and_pages_deep() {
    let start = Instant::now();
    let catalog = Catalog::generate(300_000);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
    let last_id = catalog.id(299_999).unwrap();
    let server = FakeServer::start_with(
        catalog,
        ServerOptions {
            recording: false,
            ..ServerOptions::default()
        },
    );
    let agent = agent();
    let base = server.base_url();
    let start = Instant::now();
    let page = get_with(&agent, &format!("{base}/api/neuron?page=599&size=500")).json();
    assert_eq!(
        page["page"],
        serde_json::json!({"size":500,"totalElements":300000,"totalPages":600,"number":599})
    );
    let got = ids(&page);
    assert_eq!(got.len(), 500);
    assert_eq!(*got.last().unwrap(), last_id);
    assert!(got.windows(2).all(|w| w[0] < w[1]));
    let select = get_with(
        &agent,
        &format!("{base}/api/neuron/select?q=species:mouse&fq=archive:Markram&size=500&page=3"),
    )
    .json();
    assert_eq!(ids(&select).len(), 500);
    for k in [0, 300, 598] {
        assert_eq!(
            ids(&get_with(&agent, &format!("{base}/api/neuron?page={k}&size=500")).json()).len(),
            500
        );
    }
    assert_eq!(
        get_with(
            &agent,
            &format!("{base}/api/neuron/name/{}", server.catalog().name(299_999))
        )
        .status,
        200
    );
    assert!(
        start.elapsed() < Duration::from_secs(20),
        "{:?}",
        start.elapsed()
    );
}

// ------------------------------------------------------------------------------------------
// Misbehaviours and features for clients under stress.

/// What a raw socket saw: the head (status line and headers), the body bytes, how the
/// connection ended (None: clean EOF) and how many reads delivered body bytes.
struct RawAnswer {
    head: String,
    body: Vec<u8>,
    end: Option<ErrorKind>,
    body_reads: usize,
}

impl RawAnswer {
    fn header(&self, name: &str) -> Option<String> {
        self.head.split("\r\n").skip(1).find_map(|line| {
            let (k, v) = line.split_once(':')?;
            k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
        })
    }
}

/// Sends `GET path` with `Connection: close` (plus `extra` header lines) on a fresh socket
/// and reads until the server closes.
fn raw_get(server: &FakeServer, path: &str, extra: &str) -> RawAnswer {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n"
    )
    .unwrap();
    let mut got = Vec::new();
    let mut head_len = None;
    let mut body_reads = 0;
    let mut buf = [0u8; 65536];
    let end = loop {
        match s.read(&mut buf) {
            Ok(0) => break None,
            Ok(n) => {
                got.extend_from_slice(&buf[..n]);
                match head_len {
                    Some(_) => body_reads += 1,
                    None => {
                        head_len = got.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4);
                        if head_len.is_some_and(|h| got.len() > h) {
                            body_reads += 1;
                        }
                    }
                }
            }
            Err(e) => break Some(e.kind()),
        }
    };
    let head_len = head_len.unwrap_or(got.len());
    RawAnswer {
        head: String::from_utf8_lossy(&got[..head_len]).into_owned(),
        body: got[head_len..].to_vec(),
        end,
        body_reads,
    }
}

/// A catalog of `n` generated neurons plus one raw neuron `tiny` (archive Markram) whose CNG
/// file is `file`; returns the catalog and the raw row.
fn with_tiny_file(n: usize, file: &[u8]) -> (Catalog, usize) {
    let mut catalog = Catalog::generate(n);
    let row = catalog.push_raw(
        serde_json::json!({"neuron_id": 5000, "neuron_name": "tiny", "archive": "Markram",
                           "original_format": "Neurozoom.swc"}),
        Some(file.to_vec()),
    );
    (catalog, row)
}

#[test]
fn trickle_sends_headers_at_once_then_one_byte_per_interval() {
    let (catalog, tiny) = with_tiny_file(3, b"1 1 0 0 0 1 -1\n");
    let server = FakeServer::start(catalog);
    let path = server.catalog().cng_path(tiny).unwrap();
    let interval = Duration::from_millis(20);
    server.push_fault(FaultRule::new(
        Target::AnyFile,
        1,
        Fault::Trickle { interval },
    ));
    let start = Instant::now();
    let got = raw_get(&server, &path, "");
    let elapsed = start.elapsed();
    assert!(got.head.starts_with("HTTP/1.1 200 OK\r\n"), "{}", got.head);
    assert_eq!(got.header("content-length").as_deref(), Some("15"));
    assert_eq!(got.body, b"1 1 0 0 0 1 -1\n");
    assert_eq!(got.end, None);
    assert!(elapsed >= interval * 15, "{elapsed:?}");
    assert!(
        got.body_reads >= 5,
        "one byte at a time: {} reads",
        got.body_reads
    );
    assert_eq!(server.counters().faults, 1);

    // A page: the head comes at once, then the JSON byte by byte (the client gives up here).
    use std::io::{Read, Write};
    server.push_fault(FaultRule::new(Target::Api, 1, Fault::Trickle { interval }));
    let mut s = std::net::TcpStream::connect(server.addr()).unwrap();
    s.write_all(b"GET /api/neuron/id/1 HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let start = Instant::now();
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    while !got.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = s.read(&mut buf).unwrap();
        got.extend_from_slice(&buf[..n]);
    }
    let head_at = start.elapsed();
    let head = String::from_utf8_lossy(&got).into_owned();
    let length = format!("Content-Length: {}\r\n", real_record().len());
    assert!(head.contains(&length), "true length at once: {head}");
    let mut body = got.split_off(head.find("\r\n\r\n").unwrap() + 4);
    while body.len() < 3 {
        let n = s.read(&mut buf).unwrap();
        body.extend_from_slice(&buf[..n]);
    }
    assert!(start.elapsed() >= head_at + interval * 2);
    assert!(real_record().as_bytes().starts_with(&body));
}

#[test]
fn partial_206_sends_the_first_third_with_a_content_range() {
    let server = FakeServer::start(Catalog::generate(3));
    let full = server.catalog().swc_bytes(0).to_vec();
    let third = full.len() / 3;
    server.push_fault(FaultRule::new(Target::AnyFile, 1, Fault::Partial206));
    let url = format!(
        "{}/dableFiles/wearne_hof/CNG%20version/cnic_001.CNG.swc",
        server.base_url()
    );
    let mut resp = agent().get(&url).call().unwrap();
    assert_eq!(resp.status().as_u16(), 206);
    let header = |k: &str| resp.headers().get(k).unwrap().to_str().unwrap().to_string();
    assert_eq!(
        header("content-range"),
        format!("bytes 0-{}/{}", third - 1, full.len())
    );
    assert_eq!(header("content-length"), third.to_string());
    let body = resp.body_mut().read_to_vec().unwrap();
    assert_eq!(body, full[..third]);
    // Pages too; the next request is normal again.
    server.push_fault(FaultRule::new(Target::Any, 1, Fault::Partial206));
    let got = get(&server, "/api/neuron/id/1");
    assert_eq!(got.status, 206);
    assert_eq!(
        got.body,
        real_record().as_bytes()[..real_record().len() / 3]
    );
    assert_eq!(get(&server, "/api/neuron/id/1").status, 200);
}

#[test]
fn close_delimited_bodies_end_with_the_connection() {
    let server = FakeServer::start(Catalog::generate(3));
    let full = server.catalog().swc_bytes(0).to_vec();
    let path = "/dableFiles/wearne_hof/CNG%20version/cnic_001.CNG.swc";
    for cut_at in [None, Some(100)] {
        server.push_fault(FaultRule::new(
            Target::AnyFile,
            1,
            Fault::CloseDelimited { cut_at },
        ));
        let got = raw_get(&server, path, "");
        assert!(got.head.starts_with("HTTP/1.1 200 OK\r\n"), "{}", got.head);
        assert_eq!(got.header("content-length"), None, "{}", got.head);
        assert_eq!(got.header("transfer-encoding"), None);
        assert_eq!(got.header("connection").as_deref(), Some("close"));
        assert_eq!(got.end, None, "a clean FIN, not a reset");
        assert_eq!(got.body, full[..cut_at.unwrap_or(full.len())]);
    }
    // An HTTP client cannot tell that the body was cut: it reads 100 bytes and no error.
    server.push_fault(FaultRule::new(
        Target::AnyFile,
        1,
        Fault::CloseDelimited { cut_at: Some(100) },
    ));
    let mut resp = agent()
        .get(&format!("{}{path}", server.base_url()))
        .call()
        .unwrap();
    assert_eq!(resp.status().as_u16(), 200);
    assert_eq!(resp.body_mut().read_to_vec().unwrap(), full[..100]);
    assert_eq!(get(&server, path).body, full, "normal again");
}

#[test]
fn not_modified_answers_304_to_any_request_whatever_its_headers() {
    let server = FakeServer::start(Catalog::generate(3));
    let catalog = server.catalog();
    let path = catalog.cng_path(0).unwrap();
    server.reset_counters();
    // A plain GET (no validator at all) gets a 304, with the file's own validators.
    server.push_fault(FaultRule::new(Target::AnyFile, 2, Fault::NotModified));
    let got = raw_get(&server, &path, "");
    assert!(
        got.head.starts_with("HTTP/1.1 304 Not Modified\r\n"),
        "{}",
        got.head
    );
    assert!(got.body.is_empty());
    assert_eq!(got.header("content-length"), None);
    assert_eq!(got.header("etag"), catalog.cng_etag(0));
    // A validator that does not match gets one too.
    let got = raw_get(&server, &path, "If-None-Match: \"0000000000000000\"\r\n");
    assert!(got.head.starts_with("HTTP/1.1 304 "), "{}", got.head);
    // An API answer as well, and without validators there are none in the 304.
    server.set_validators(false);
    server.push_fault(FaultRule::new(Target::Any, 2, Fault::NotModified));
    let got = raw_get(&server, "/api/neuron/id/1", "");
    assert!(got.head.starts_with("HTTP/1.1 304 "), "{}", got.head);
    assert!(got.body.is_empty());
    let got = raw_get(&server, &path, "");
    assert!(got.head.starts_with("HTTP/1.1 304 "), "{}", got.head);
    assert_eq!(got.header("etag"), None);
    let t = server.transfer_counters();
    assert_eq!((t.not_modified, t.file_bodies), (4, 0), "{t:?}");
    assert_eq!(server.counters().faults, 4);
    // Used up: normal again.
    let got = raw_get(&server, &path, "");
    assert!(got.head.starts_with("HTTP/1.1 200 OK\r\n"), "{}", got.head);
    assert_eq!(got.body, catalog.swc_bytes(0));
}

#[test]
fn empty_200_answers_ok_with_no_body_and_no_validators() {
    let server = FakeServer::start(Catalog::generate(3));
    let path = server.catalog().cng_path(0).unwrap();
    server.reset_counters();
    server.push_fault(FaultRule::new(Target::AnyFile, 1, Fault::Empty200));
    let got = raw_get(&server, &path, "");
    assert!(got.head.starts_with("HTTP/1.1 200 OK\r\n"), "{}", got.head);
    assert_eq!(got.header("content-length").as_deref(), Some("0"));
    assert_eq!(got.header("etag"), None);
    assert_eq!(got.header("last-modified"), None);
    assert!(got.body.is_empty());
    assert_eq!(got.end, None);
    assert_eq!(server.transfer_counters().file_bodies, 0);
    assert_eq!(server.counters().faults, 1);
    assert_eq!(
        raw_get(&server, &path, "").body,
        server.catalog().swc_bytes(0)
    );
}

#[test]
fn in_flight_max_counts_requests_handled_at_once() {
    let server = FakeServer::start(Catalog::generate(10));
    let url = format!("{}/api/neuron/id/1", server.base_url());
    // One at a time, each on a fresh connection: never two at once.
    for _ in 0..10 {
        assert_eq!(get_with(&agent(), &url).status, 200);
    }
    assert_eq!(server.transfer_counters().in_flight_max, 1);

    server.reset_counters();
    assert_eq!(server.transfer_counters().in_flight_max, 0);
    server.set_latency(Duration::from_millis(300));
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(4));
    let threads: Vec<_> = (0..4)
        .map(|_| {
            let (url, barrier) = (url.clone(), barrier.clone());
            std::thread::spawn(move || {
                let agent = agent();
                barrier.wait();
                get_with(&agent, &url).status
            })
        })
        .collect();
    for t in threads {
        assert_eq!(t.join().unwrap(), 200);
    }
    assert_eq!(server.transfer_counters().in_flight_max, 4);

    // A slow request in flight while two others come and go one after the other: 2.
    server.set_latency(Duration::ZERO);
    server.reset_counters();
    server.push_fault(FaultRule::new(
        Target::Path("/api/neuron/id/2".into()),
        1,
        Fault::Delay(Duration::from_millis(400)),
    ));
    let slow_url = format!("{}/api/neuron/id/2", server.base_url());
    let slow = std::thread::spawn(move || get_with(&agent(), &slow_url).status);
    std::thread::sleep(Duration::from_millis(100));
    for _ in 0..2 {
        assert_eq!(get_with(&agent(), &url).status, 200);
    }
    assert_eq!(slow.join().unwrap(), 200);
    assert_eq!(server.transfer_counters().in_flight_max, 2);
    // Control requests are not counted; the stats carry the field.
    let stats = get(&server, "/__fake/stats").text();
    assert_eq!(
        TransferCounters::from_json(&stats).unwrap().in_flight_max,
        2
    );
    assert_eq!(Counters::from_json(&stats).unwrap(), server.counters());
}

#[test]
fn basic_auth_answers_401_without_the_right_credentials() {
    let server = FakeServer::start(Catalog::generate(3));
    server.require_basic_auth(Some(("user", "pa:ss")));
    server.push_fault(FaultRule::new(Target::Any, 1, Fault::Status(503)));
    let url = format!("{}/api/health", server.base_url());
    for auth in [
        None,
        Some("Basic dXNlcjpwYXNz"),
        Some("Bearer dXNlcjpwYTpzcw=="),
    ] {
        let mut req = agent().get(&url);
        if let Some(auth) = auth {
            req = req.header("authorization", auth);
        }
        let mut resp = req.call().unwrap();
        assert_eq!(resp.status().as_u16(), 401, "{auth:?}");
        assert_eq!(
            resp.headers().get("www-authenticate").unwrap(),
            "Basic realm=\"NeuroMorpho.Org\""
        );
        let body: Value = serde_json::from_str(&resp.body_mut().read_to_string().unwrap()).unwrap();
        assert_eq!(body["status"], 401);
    }
    assert_eq!(server.pending_faults(), 1, "a 401 consumes no fault");
    let ok = |auth: &str| {
        agent()
            .get(&url)
            .header("authorization", auth)
            .call()
            .unwrap()
            .status()
            .as_u16()
    };
    assert_eq!(
        ok("Basic dXNlcjpwYTpzcw=="),
        503,
        "the fault comes after the check"
    );
    assert_eq!(ok("basic dXNlcjpwYTpzcw=="), 200);
    let recorded = server.requests();
    assert_eq!(
        recorded.last().unwrap().header("authorization"),
        Some("basic dXNlcjpwYTpzcw==")
    );
    assert_eq!(recorded[0].header("authorization"), None);
    assert_eq!(server.counters().requests, 5);
    assert_eq!(
        get(&server, "/__fake/stats").status,
        200,
        "control needs none"
    );
    server.require_basic_auth(None);
    assert_eq!(get(&server, "/api/health").status, 200);
}

#[test]
fn announced_total_lies_about_the_count() {
    let server = FakeServer::start(Catalog::generate(2));
    server.set_announced_total(Some(100_000_000));
    let count = get(&server, "/api/neuron?size=1").json();
    assert_eq!(
        count["page"],
        serde_json::json!({"size":1,"totalElements":100_000_000u64,"totalPages":100_000_000u64,"number":0})
    );
    let first = get(&server, "/api/neuron?size=50").json();
    assert_eq!(ids(&first), [1, 2]);
    assert_eq!(first["page"]["totalElements"], 100_000_000u64);
    assert_eq!(first["page"]["totalPages"], 2_000_000u64);
    assert!(first["_links"].get("next").is_some());
    for page in [1, 1_999_999] {
        let beyond = get(&server, &format!("/api/neuron?size=50&page={page}"));
        assert_eq!(beyond.status, 200);
        let v = beyond.json();
        assert!(v.get("_embedded").is_none(), "an empty page");
        assert_eq!(v["page"]["totalElements"], 100_000_000u64);
    }
    let all = "q=neuron_id:%5B*%20TO%20*%5D";
    let select = |query: &str| get(&server, &format!("/api/neuron/select?{all}&{query}"));
    assert_eq!(
        select("size=1").json()["page"]["totalElements"],
        100_000_000u64
    );
    let page0 = select("size=50").json();
    assert_eq!(ids(&page0), [1, 2]);
    assert_eq!(page0["page"]["totalPages"], 2_000_000u64);
    let beyond = select("size=50&page=1");
    assert_eq!(beyond.status, 404);
    assert_eq!(beyond.json()["message"], "No neurons found");
    let mut resp = agent()
        .post(&format!(
            "{}/api/neuron/select?size=50&page=1",
            server.base_url()
        ))
        .header("content-type", "application/json")
        .send(r#"{"species":["monkey","mouse"]}"#)
        .unwrap();
    assert_eq!(resp.status().as_u16(), 404);
    resp.body_mut().read_to_string().unwrap();
    server.set_announced_total(None);
    assert_eq!(select("size=1").json()["page"]["totalElements"], 2);
}

#[test]
fn odd_raw_records_are_served_in_pages_without_panics() {
    use serde_json::json;
    let mut catalog = Catalog::generate(3);
    let number = catalog.push_raw(json!(42), None);
    let string = catalog.push_raw(json!("just a string"), Some(b"x\n".to_vec()));
    let no_name = catalog.push_raw(
        json!({"neuron_id": 7001, "archive": "Markram", "original_format": "Neurozoom.swc"}),
        Some(b"1 1 0 0 0 1 -1\n".to_vec()),
    );
    let no_archive = catalog.push_raw(
        json!({"neuron_id": 7002, "neuron_name": "no-archive", "species": "mouse"}),
        Some(b"1 1 0 0 0 1 -1\n".to_vec()),
    );
    assert_eq!(catalog.len(), 7);
    assert_eq!(catalog.record_json(number), "42");
    assert_eq!(catalog.record_json(string), r#""just a string""#);
    assert_eq!(
        (catalog.id(number), catalog.name(number).as_ref()),
        (None, "")
    );
    assert_eq!(catalog.archive(string), None);
    for i in [number, string, no_name, no_archive] {
        assert_eq!(catalog.cng_path(i), None, "row {i} has no file URL");
        assert_eq!(catalog.source_path(i), None, "row {i} has no original URL");
    }
    let server = FakeServer::start(catalog);

    // Pages: records without an id first (as nulls sort), in push order; all counted.
    let page = get(&server, "/api/neuron?size=50").json();
    assert_eq!(page["page"]["totalElements"], 7);
    let records = page["_embedded"]["neuronResources"].as_array().unwrap();
    assert_eq!(records[0], json!(42));
    assert_eq!(records[1], json!("just a string"));
    let ids: Vec<Option<u64>> = records.iter().map(|r| r["neuron_id"].as_u64()).collect();
    assert_eq!(
        ids,
        [
            None,
            None,
            Some(1),
            Some(2),
            Some(3),
            Some(7001),
            Some(7002)
        ]
    );
    let two = get(&server, "/api/neuron?size=2&page=0").json();
    assert_eq!(
        two["_embedded"]["neuronResources"],
        json!([42, "just a string"])
    );
    let desc = get(&server, "/api/neuron?size=50&sort=neuron_id,desc").json();
    let tail = &desc["_embedded"]["neuronResources"].as_array().unwrap()[5..];
    assert_eq!(
        tail,
        [json!(42), json!("just a string")],
        "last, still in push order"
    );
    for sort in ["neuron_name", "archive,desc", "brain_region_2"] {
        let got = get(&server, &format!("/api/neuron?size=50&sort={sort}"));
        assert_eq!(got.status, 200, "{sort}");
        assert_eq!(got.json()["page"]["totalElements"], 7);
    }
    // Select: a clause never matches a key a record lacks (nor inside a non-object).
    let select = |q: &str| get(&server, &format!("/api/neuron/select?q={q}&size=50"));
    assert_eq!(
        select("neuron_id:%5B*%20TO%20*%5D").json()["page"]["totalElements"],
        5
    );
    assert_eq!(
        ids_of(&select("neuron_name:no-archive").json()),
        [Some(7002)]
    );
    assert_eq!(select("archive:Markram").json()["page"]["totalElements"], 2);
    assert_eq!(select("neuron_name:*").json()["page"]["totalElements"], 4);
    let mouse = server.catalog().query("species:mouse", &[]).unwrap();
    assert!(mouse.contains(&no_archive));
    // Look-ups, values, partitions, morphometry: no panic, sensible answers.
    assert_eq!(
        get(&server, "/api/neuron/id/7001").json()["archive"],
        "Markram"
    );
    assert_eq!(get(&server, "/api/neuron/name/no-archive").status, 200);
    let names = get(&server, "/api/neuron/fields/neuron_name?size=100").json();
    assert_eq!(names["page"]["totalElements"], 4);
    let partition = get(&server, "/api/neuron/partition/archive").json();
    let counted: u64 = partition["fields"]
        .as_object()
        .unwrap()
        .values()
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(counted, 4);
    assert_eq!(get(&server, "/api/morphometry/id/7001").status, 200);
    let batch = get(
        &server,
        "/api/morphometry/select?q=Neuron_id:%5B*%20TO%20*%5D&size=50",
    );
    assert_eq!(batch.json()["page"]["totalElements"], 5);
    assert_eq!(get(&server, "/api/health").status, 200);
}

fn ids_of(envelope: &Value) -> Vec<Option<u64>> {
    envelope["_embedded"]["neuronResources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["neuron_id"].as_u64())
        .collect()
}

/// Percent-encodes every byte outside RFC 3986 unreserved, as the client does.
fn encode_like_the_client(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

#[test]
fn hostile_names_are_served_at_their_percent_encoded_urls() {
    let mut catalog = Catalog::generate(20);
    let max_before = (0..20).filter_map(|i| catalog.id(i)).max().unwrap();
    let rows = catalog.push_hostile();
    assert_eq!(rows.len(), HOSTILE_NAMES.len());
    let names: Vec<&str> = HOSTILE_NAMES.iter().map(|(n, _)| *n).collect();
    assert!(names.iter().any(|n| n.contains("\u{1b}[2K\r")));
    assert!(names
        .iter()
        .any(|n| n.contains("matched 3, downloaded 3, failed 0")));
    assert!(names.iter().any(|n| n.contains('\u{202e}')));
    assert!(names.iter().any(|n| n.contains('/')));
    assert!(names.contains(&".."));
    let server = FakeServer::start(catalog);
    let catalog = server.catalog();
    let mut ids = std::collections::HashSet::new();
    for (k, &i) in rows.iter().enumerate() {
        let (name, archive) = HOSTILE_NAMES[k];
        assert_eq!(
            (catalog.name(i).as_ref(), catalog.archive(i)),
            (name, Some(archive))
        );
        let id = catalog.id(i).unwrap();
        assert!(id > max_before && ids.insert(id), "fresh id {id}");
        let record = catalog.record_value(i);
        assert_eq!(record["neuron_name"], name);
        assert_eq!(
            record["species"], "monkey",
            "the real record's other fields"
        );
        assert_eq!(
            record["_links"]["self"]["href"],
            format!("http://neuromorpho.org/api/neuron/id/{id}")
        );
        let path = catalog.cng_path(i).unwrap();
        assert_eq!(
            path,
            format!(
                "/dableFiles/{}/CNG%20version/{}.CNG.swc",
                encode_like_the_client(&archive.to_lowercase()),
                encode_like_the_client(name)
            )
        );
        let got = get(&server, &path);
        assert_eq!(got.status, 200, "{name:?}");
        assert_eq!(got.body, catalog.swc_bytes(i), "{name:?}");
        assert!(got.body.starts_with(b"#"), "a real SWC file");
        let by_id = get(&server, &format!("/api/neuron/id/{id}")).json();
        assert_eq!(by_id["neuron_name"], name);
        let by_name = get(
            &server,
            &format!("/api/neuron/name/{}", encode_like_the_client(name)),
        );
        assert_eq!(by_name.json()["neuron_id"], id, "{name:?}");
        let source = catalog.source_path(i).unwrap();
        assert!(source.ends_with(".swc"), "{source}");
        assert_eq!(get(&server, &source).body, catalog.swc_bytes(i));
    }
    // Only the encoded URL serves them: raw separators are other paths.
    assert_eq!(
        get(
            &server,
            "/dableFiles/markram/CNG%20version/../../../etc/passwd.CNG.swc"
        )
        .status,
        404
    );
    let page = get(&server, "/api/neuron?size=50").json();
    assert_eq!(
        page["page"]["totalElements"].as_u64().unwrap() as usize,
        20 + HOSTILE_NAMES.len()
    );
}

#[test]
fn originals_serve_one_json_line_and_binary_bytes() {
    use serde_json::json;
    let mut catalog = Catalog::generate(12);
    let skeleton = catalog.push_raw(
        json!({"neuron_id": 8001, "neuron_name": "skeleton 1", "archive": "MouseLight",
               "original_format": "CATMAID.json"}),
        Some(b"1 1 0 0 0 1 -1\n".to_vec()),
    );
    let server = FakeServer::start(catalog);
    let catalog = server.catalog();

    let big = one_line_json(2 * 1024 * 1024);
    assert_eq!(big.len(), 2 * 1024 * 1024);
    assert!(!big.contains(&b'\n'));
    let parsed: Value = serde_json::from_slice(&big).unwrap();
    assert!(parsed["nodes"].as_array().unwrap().len() > 10_000);
    catalog.set_original(skeleton, big.clone());
    let path = catalog.source_path(skeleton).unwrap();
    assert_eq!(
        path,
        "/dableFiles/mouselight/Source-Version/skeleton%201.json"
    );
    let got = get(&server, &path);
    assert_eq!(got.status, 200);
    assert!(got.body == big, "the 2 MiB line, byte for byte");
    assert_eq!(catalog.original_bytes(skeleton).unwrap(), big);

    // Binary bytes as a Custom.xml original (served as .morph.xml).
    let xml = (1..12)
        .find(|&i| catalog.field_values(i, "original_format").unwrap() == ["Custom.xml"])
        .unwrap();
    let binary: Vec<u8> = [0u8, 0xff, 0xfe, b'<', 0, 0xc3, 0x28, 0x80, b'\n', 0]
        .iter()
        .copied()
        .cycle()
        .take(1000)
        .collect();
    assert!(std::str::from_utf8(&binary).is_err());
    let before = get(&server, &catalog.source_path(xml).unwrap());
    assert!(before.text().starts_with("; Original Custom.xml"));
    catalog.set_original(xml, binary.clone());
    let source = catalog.source_path(xml).unwrap();
    assert!(source.ends_with(".morph.xml"), "{source}");
    let got = get(&server, &source);
    assert_eq!((got.status, &got.body), (200, &binary));
    assert_eq!(catalog.original_bytes(xml).unwrap(), binary);
    // The CNG file is untouched; other originals keep their generated text.
    assert_eq!(
        get(&server, &catalog.cng_path(xml).unwrap()).body,
        catalog.swc_bytes(xml)
    );
    let asc = (1..12)
        .find(|&i| catalog.field_values(i, "original_format").unwrap() == ["Neurolucida.asc"])
        .unwrap();
    assert_eq!(
        Some(get(&server, &catalog.source_path(asc).unwrap()).body),
        catalog.original_bytes(asc)
    );
}

#[test]
fn validators_and_conditional_requests() {
    let server = FakeServer::start(Catalog::generate(10));
    let catalog = server.catalog();
    let path = catalog.cng_path(3).unwrap();
    let url = format!("{}{path}", server.base_url());
    let fetch = |headers: &[(&str, &str)]| {
        let mut req = agent().get(&url);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let mut resp = req.call().unwrap();
        let h = |k: &str| {
            resp.headers()
                .get(k)
                .map(|v| v.to_str().unwrap().to_string())
        };
        let (etag, modified) = (h("etag"), h("last-modified"));
        let status = resp.status().as_u16();
        let body = resp.body_mut().read_to_vec().unwrap();
        (status, etag, modified, body)
    };
    let (status, etag, modified, body) = fetch(&[]);
    assert_eq!(status, 200);
    assert_eq!(body, catalog.swc_bytes(3));
    let etag = etag.unwrap();
    assert_eq!(Some(etag.clone()), catalog.cng_etag(3));
    assert!(
        etag.len() == 18
            && etag.starts_with('"')
            && etag.ends_with('"')
            && etag[1..17].bytes().all(|b| b.is_ascii_hexdigit()),
        "{etag}"
    );
    assert_eq!(modified.as_deref(), Some("Tue, 01 Aug 2023 00:00:00 GMT"));
    assert_eq!(release_date(1), "Tue, 01 Aug 2023 00:00:00 GMT");
    assert_eq!(fetch(&[]).1.unwrap(), etag, "stable");
    assert_ne!(catalog.cng_etag(4), Some(etag.clone()), "another body");

    server.reset_counters();
    let weak = format!("W/{etag}");
    let other = r#""0000000000000000""#;
    let cases: &[(&[(&str, &str)], u16)] = &[
        (&[("if-none-match", &etag)], 304),
        (&[("if-none-match", &weak)], 304),
        (&[("if-none-match", "*")], 304),
        (&[("if-none-match", &format!("{other}, {etag}"))], 304),
        (&[("if-none-match", other)], 200),
        (
            &[
                ("if-none-match", other),
                ("if-modified-since", "Wed, 01 Jan 2025 00:00:00 GMT"),
            ],
            200,
        ),
        (
            &[("if-modified-since", "Tue, 01 Aug 2023 00:00:00 GMT")],
            304,
        ),
        (
            &[("if-modified-since", "Wed, 01 Jan 2025 00:00:00 GMT")],
            304,
        ),
        (
            &[("if-modified-since", "Mon, 31 Jul 2023 23:59:59 GMT")],
            200,
        ),
        (&[("if-modified-since", "yesterday")], 200),
    ];
    for (headers, expect) in cases {
        let (status, got_etag, modified, body) = fetch(headers);
        assert_eq!(status, *expect, "{headers:?}");
        assert_eq!(got_etag.as_deref(), Some(etag.as_str()), "{headers:?}");
        assert!(modified.is_some());
        if status == 304 {
            assert!(body.is_empty());
        } else {
            assert_eq!(body, catalog.swc_bytes(3));
        }
    }
    let c = server.transfer_counters();
    assert_eq!((c.conditional, c.not_modified, c.file_bodies), (10, 6, 4));
    // The raw 304: no body, no Content-Length.
    let raw = raw_get(&server, &path, &format!("If-None-Match: {etag}\r\n"));
    assert!(
        raw.head.starts_with("HTTP/1.1 304 Not Modified\r\n"),
        "{}",
        raw.head
    );
    assert_eq!(raw.header("content-length"), None);
    assert_eq!(raw.header("etag").as_deref(), Some(etag.as_str()));
    assert!(raw.body.is_empty());
    // Other files carry validators too; 404s and API answers do not.
    for p in [
        catalog.source_path(3).unwrap(),
        "/dableFiles/wearne_hof/Standardization%20log/cnic_001.std".to_string(),
    ] {
        let got = raw_get(&server, &p, "");
        assert!(got.header("etag").is_some() && got.header("last-modified").is_some());
    }
    let missing = raw_get(
        &server,
        "/dableFiles/markram/CNG%20version/nope.CNG.swc",
        "",
    );
    assert_eq!(missing.header("etag"), None);
    assert_eq!(
        raw_get(&server, "/api/neuron/id/1", "").header("etag"),
        None
    );

    // Faults: a replaced answer sends no file body, a cut one does.
    server.reset_counters();
    server.push_fault(FaultRule::new(Target::AnyFile, 1, Fault::Html200));
    raw_get(&server, &path, "");
    server.push_fault(FaultRule::new(Target::AnyFile, 1, Fault::Truncate));
    raw_get(&server, &path, "");
    let head = agent().head(&url).call().unwrap();
    assert_eq!(head.status().as_u16(), 200);
    assert_eq!(server.transfer_counters().file_bodies, 1);

    // Off: no validators, conditions ignored (still counted).
    server.set_validators(false);
    server.reset_counters();
    let (status, etag_off, modified_off, body) = fetch(&[("if-none-match", &etag)]);
    assert_eq!((status, etag_off, modified_off), (200, None, None));
    assert_eq!(body, catalog.swc_bytes(3));
    let stats: Value = serde_json::from_str(&get(&server, "/__fake/stats").text()).unwrap();
    for (key, value) in [
        ("conditional", 1),
        ("not_modified", 0),
        ("file_bodies", 1),
        ("in_flight_max", 1),
        ("files", 1),
    ] {
        assert_eq!(stats[key], value, "{key} in {stats}");
    }
    server.set_validators(true);
    assert_eq!(fetch(&[("if-none-match", &etag)]).0, 304);
}

#[test]
fn releases_change_a_fifth_and_add_a_tenth() {
    let server = FakeServer::start(Catalog::generate(50));
    let catalog = server.catalog();
    let count = || {
        get(&server, "/api/neuron?size=1").json()["page"]["totalElements"]
            .as_u64()
            .unwrap() as usize
    };
    let file = |i: usize| {
        let got = raw_get(&server, &catalog.cng_path(i).unwrap(), "");
        assert!(
            got.head.starts_with("HTTP/1.1 200 "),
            "row {i}: {}",
            got.head
        );
        let (etag, modified) = (got.header("etag"), got.header("last-modified"));
        (got.body, etag.unwrap(), modified.unwrap())
    };
    assert_eq!((catalog.release(), catalog.len(), count()), (1, 50, 50));
    assert_eq!(
        (catalog.len_at_release(2), catalog.len_at_release(3)),
        (55, 60)
    );
    assert_eq!(catalog.added_in_release(1), 0..50);
    assert_eq!(catalog.added_in_release(2), 50..55);
    assert!(catalog.changed_in_release(1).is_empty());
    let changed = catalog.changed_in_release(2);
    assert_eq!(changed, (3..50).step_by(5).collect::<Vec<_>>());
    let before: Vec<_> = (0..50).map(file).collect();
    let all = "/api/neuron/select?q=neuron_id:%5B*%20TO%20*%5D&size=500";
    assert_eq!(get(&server, all).json()["page"]["totalElements"], 50);

    server.set_release(2);
    assert_eq!((catalog.release(), catalog.len(), count()), (2, 55, 55));
    assert_eq!(get(&server, all).json()["page"]["totalElements"], 55);
    for (i, old) in before.iter().enumerate() {
        let (body, etag, modified) = file(i);
        assert_eq!(Some(etag.clone()), catalog.cng_etag(i));
        assert_eq!(Some(modified.clone()), catalog.cng_last_modified(i));
        assert_eq!(body, catalog.cng_bytes(i).unwrap().as_ref());
        if changed.contains(&i) {
            assert_ne!(body, old.0, "row {i} reprocessed");
            assert!(body.starts_with(b"# reprocessed in release 2"));
            assert!(body.ends_with(catalog.swc_bytes(i)));
            assert_ne!(etag, old.1);
            assert_eq!(modified, release_date(2));
            assert_eq!(catalog.cng_release(i), 2);
        } else {
            assert_eq!((body, etag, modified), old.clone(), "row {i} unchanged");
        }
    }
    // A client revalidating with release-1 tags: 304 for unchanged files only.
    let revalidate = |i: usize| {
        let tag = format!("If-None-Match: {}\r\n", before[i].1);
        raw_get(&server, &catalog.cng_path(i).unwrap(), &tag)
            .head
            .starts_with("HTTP/1.1 304 ")
    };
    assert!(revalidate(4) && !revalidate(3));
    // New neurons: fresh ids and names, everywhere.
    let max_old = (0..50).filter_map(|i| catalog.id(i)).max().unwrap();
    let old_names: std::collections::HashSet<String> =
        (0..50).map(|i| catalog.name(i).into_owned()).collect();
    let page = get(&server, "/api/neuron?size=500").json();
    assert_eq!(ids(&page).len(), 55);
    for i in catalog.added_in_release(2) {
        let (id, name) = (catalog.id(i).unwrap(), catalog.name(i).into_owned());
        assert!(id > max_old && !old_names.contains(&name), "{id} {name}");
        assert_eq!(ids(&page)[i], id);
        assert_eq!(catalog.index_of_name(&name), Some(i));
        assert_eq!(get(&server, &format!("/api/neuron/id/{id}")).status, 200);
        let by_name = get(&server, &format!("/api/neuron/name/{name}")).json();
        assert_eq!(by_name["neuron_id"], id);
        let select = get(&server, &format!("/api/neuron/select?q=neuron_name:{name}"));
        assert_eq!(ids(&select.json()), [id]);
        let (body, _, modified) = file(i);
        assert_eq!(body, catalog.swc_bytes(i));
        assert_eq!((modified, catalog.release_added(i)), (release_date(2), 2));
    }
    let names = get(&server, "/api/neuron/fields/neuron_name?size=100").json();
    assert_eq!(names["page"]["totalElements"], 55);

    // Later releases: a different fifth each time; line endings kept (fixture 0 is CRLF).
    let mut crlf = 0;
    for n in 3..=6 {
        server.set_release(n);
        assert_eq!(count(), catalog.len_at_release(n));
        for i in catalog.changed_in_release(n) {
            let body = catalog.cng_bytes(i).unwrap();
            let base = catalog.swc_bytes(i);
            let first_line_crlf = base
                .iter()
                .position(|&b| b == b'\n')
                .is_some_and(|p| p > 0 && base[p - 1] == b'\r');
            let mut expect = format!("# reprocessed in release {n}").into_bytes();
            expect.extend_from_slice(if first_line_crlf { b"\r\n" } else { b"\n" });
            expect.extend_from_slice(base);
            assert_eq!(body.as_ref(), expect, "row {i} in release {n}");
            crlf += usize::from(first_line_crlf);
        }
    }
    assert!(crlf > 0, "a CRLF file was reprocessed");
    assert_eq!(catalog.cng_release(3), 2, "changed in 2, not since");
    // Back to release 1: everything as it was.
    server.set_release(1);
    assert_eq!(count(), 50);
    assert_eq!(file(3), before[3]);
    assert_eq!(get(&server, all).json()["page"]["totalElements"], 50);

    // The 300,000-neuron catalog stays cheap.
    let start = Instant::now();
    let big = Catalog::generate(300_000);
    big.set_release(2);
    assert_eq!(big.len(), 330_000);
    let last = 329_999;
    assert_eq!(big.index_of_name(&big.name(last)), Some(last));
    assert_eq!(big.index_of_id(big.id(last).unwrap()), Some(last));
    assert_eq!(big.changed_in_release(2).len(), 60_000);
    assert!(
        start.elapsed() < Duration::from_secs(2),
        "{:?}",
        start.elapsed()
    );
}
