//! The `neuromorpho` binary's command line: options and their aliases, help anywhere, `-f`
//! values with commas, `-g` folders, and every mistake named (exit 2 for usage errors, 1 for
//! a query the server refuses).

use crate::support;

use std::path::Path;

use serde_json::json;
use support::*;

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.to_string_lossy().into_owned()
}

/// The file names directly in `dir` (none when it does not exist), sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    names.sort();
    names
}

/// A usage error: exit 2, one line `neuromorpho: usage error: ...`, returned for more checks.
fn usage_error(o: &CliOutput, what: &str) -> String {
    assert_eq!(o.code, 2, "{what}: {}", o.err);
    assert!(
        o.err.starts_with("neuromorpho: usage error: "),
        "{what}: {}",
        o.err
    );
    assert_eq!(o.err.trim().lines().count(), 1, "{what}: {}", o.err);
    assert_eq!(o.out, "", "{what}: nothing on stdout");
    o.err.clone()
}

// ------------------------------------------------------------------------------------------
// Aliases

#[test]
fn neuromorphopy_long_options_work_as_aliases() {
    let server = FakeServer::start(Catalog::generate(60));
    let dir = TempDir::new();
    let out = dir.path().join("aliased");
    let o = cli(&server)
        .args(["download", "-f", "species=monkey", "--output-dir"])
        .arg(&out)
        .args(["--metadata-filename", "table.csv", "--concurrent", "3"])
        .args(["--no-log"])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    let expected = server.catalog().query("species:monkey", &[]).unwrap();
    assert!(!expected.is_empty());
    let rows = std::fs::read_to_string(out.join("table.csv")).unwrap();
    assert_eq!(rows.lines().count(), expected.len() + 1, "{rows}");
    assert!(
        !out.join("metadata.csv").exists(),
        "the alias named the table"
    );
    for &i in &expected {
        let name = server.catalog().name(i).to_string();
        assert!(out.join("downloads").join(format!("{name}.swc")).is_file());
    }
    // preview and metadata take them too.
    let o = cli(&server)
        .args(["preview", "--all", "--output-dir", "elsewhere"])
        .args(["--metadata-filename", "m.csv"])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    let shown = Path::new("elsewhere").join("m.csv");
    assert!(o.out.contains(&shown.display().to_string()), "{}", o.out);
    let meta = dir.path().join("meta");
    let o = cli(&server)
        .args(["metadata", "--all", "--no-log", "--output-dir"])
        .arg(&meta)
        .args(["--metadata-filename", "all.csv", "--concurrent", "2"])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(meta.join("all.csv").is_file());
}

#[test]
fn an_option_and_its_alias_together_is_a_usage_error() {
    for (a, b, value) in [
        ("-c", "--concurrent", "3"),
        ("-o", "--output-dir", "x"),
        ("--output", "--output-dir", "x"),
        ("-m", "--metadata-filename", "x.csv"),
    ] {
        let o = Cli::new()
            .args(["download", "--all", a, value, b, value])
            .run();
        let err = usage_error(&o, &format!("{a} {b}"));
        assert!(
            err.contains("are the same option") && err.contains(a) && err.contains(b),
            "{err}"
        );
    }
}

#[test]
fn an_option_given_twice_is_named_and_a_repeated_flag_is_harmless() {
    for args in [
        vec!["--rate", "1", "--rate", "2", "fields"],
        vec!["download", "--all", "-o", "a", "-o", "b"],
        vec![
            "download",
            "--all",
            "--sort",
            "neuron_id",
            "--sort",
            "species",
        ],
        vec!["--timeout", "5", "fields", "--timeout", "6"],
    ] {
        let o = Cli::new().args(&args).run();
        let err = usage_error(&o, &format!("{args:?}"));
        assert!(err.contains("is given twice"), "{args:?}: {err}");
    }
    // Repeatable options and repeated flags.
    let server = FakeServer::start(Catalog::generate(30));
    let o = cli(&server)
        .args([
            "-q",
            "-q",
            "preview",
            "-f",
            "species=rat",
            "-f",
            "species=mouse",
        ])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    let n = server
        .catalog()
        .query("species:mouse,rat", &[])
        .unwrap()
        .len();
    assert!(o.out.contains(&format!("neurons:   {n}")), "{}", o.out);
}

#[test]
fn the_help_lists_the_aliases() {
    let main = Cli::new().arg("--help").run();
    assert_eq!(main.code, 0);
    assert!(main.out.contains("--concurrent"), "{}", main.out);
    for cmd in ["download", "metadata", "preview"] {
        let o = Cli::new().args(["help", cmd]).run();
        assert_eq!(o.code, 0, "{cmd}");
        for alias in ["--output-dir", "--metadata-filename"] {
            assert!(
                o.out.contains(alias),
                "{cmd} --help lacks {alias}: {}",
                o.out
            );
        }
    }
    let o = Cli::new().args(["help", "download"]).run();
    assert!(o.out.contains("--concurrent"), "{}", o.out);
}

// ------------------------------------------------------------------------------------------
// Help anywhere

#[test]
fn help_anywhere_prints_that_commands_help_and_exits_0() {
    let server = FakeServer::start(Catalog::generate(5));
    let download = Cli::new().args(["help", "download"]).run().out;
    assert!(download.starts_with("neuromorpho download"), "{download}");
    for args in [
        vec!["download", "-f", "species=mouse", "--help"],
        vec!["download", "-f", "species=mouse", "-h"],
        vec!["download", "--help", "-f", "species=mouse"],
        vec!["download", "--bogus", "-c", "abc", "--help"],
        vec!["-v", "download", "--all", "-o", "somewhere", "-h"],
    ] {
        let o = cli(&server).args(&args).run();
        assert_eq!(o.code, 0, "{args:?}: {}", o.err);
        assert_eq!(o.out, download, "{args:?}");
        assert_eq!(o.err, "", "{args:?}");
    }
    for (args, start) in [
        (vec!["fields", "specie", "--help"], "neuromorpho fields"),
        (vec!["get", "a", "b", "-h"], "neuromorpho get"),
        (
            vec!["check", "dir", "--format", "xml", "-h"],
            "neuromorpho check",
        ),
        (vec!["verify", "out", "--help"], "neuromorpho verify"),
        (
            vec!["completions", "tcsh", "--help"],
            "neuromorpho completions",
        ),
        (vec!["preview", "-h"], "neuromorpho preview"),
        (vec!["--help"], "neuromorpho "),
        (vec!["help", "help"], "neuromorpho "),
        (vec!["help", "--help"], "neuromorpho "),
        (vec!["-h"], "neuromorpho "),
    ] {
        let o = cli(&server).args(&args).run();
        assert_eq!(o.code, 0, "{args:?}: {}", o.err);
        assert!(o.out.starts_with(start), "{args:?}: {}", o.out);
    }
    assert!(Cli::new().arg("-h").run().out.contains("COMMANDS:"));
    assert!(Cli::new()
        .args(["help", "help"])
        .run()
        .out
        .contains("COMMANDS:"));
    let o = Cli::new().args(["help", "frobnicate"]).run();
    assert!(usage_error(&o, "help frobnicate").contains("unknown command 'frobnicate'"));
    assert_eq!(
        server.counters().requests,
        0,
        "help asks nothing of the server"
    );
}

// ------------------------------------------------------------------------------------------
// -g

#[test]
fn a_typo_in_group_by_is_an_error_with_suggestions_and_writes_nothing() {
    let server = FakeServer::start(Catalog::generate(40));
    let dir = TempDir::new();
    let out = dir.path().join("g");
    let o = cli(&server)
        .args(["download", "--all", "-g", "specis", "--no-log", "-o"])
        .arg(&out)
        .run();
    assert_eq!(o.code, 1, "{}", o.err);
    assert!(
        o.err.contains("-g/--group-by")
            && o.err.contains("unknown field 'specis'")
            && o.err.contains("did you mean: species"),
        "{}",
        o.err
    );
    assert_eq!(o.err.trim().lines().count(), 1, "{}", o.err);
    assert_eq!(files_under(&out), Vec::<std::path::PathBuf>::new());
    assert_eq!(server.counters().files, 0);
    // With a log: no table, no download, no manifest; at most the run's log, saying why
    // (see the blocked test below: not even that).
    let o = cli(&server)
        .args(["download", "--all", "-g", "species,brain_regin", "-o"])
        .arg(&out)
        .run();
    assert_eq!(o.code, 1, "{}", o.err);
    assert!(
        o.err.contains("unknown field 'brain_regin'") && o.err.contains("brain_region"),
        "{}",
        o.err
    );
    let names = names_in(&out);
    assert!(names.len() <= 1, "{names:?}");
    for name in &names {
        assert!(name.ends_with("-all.log"), "{names:?}");
        let log = std::fs::read_to_string(out.join(name)).unwrap();
        assert!(log.contains("unknown field 'brain_regin'"), "{log}");
    }
    assert_eq!(server.counters().files, 0);
}

#[test]
fn a_typo_in_group_by_creates_no_folder_and_no_log() {
    let server = FakeServer::start(Catalog::generate(5));
    let dir = TempDir::new();
    let out = dir.path().join("never");
    let o = cli(&server)
        .args(["download", "--all", "-g", "specis", "-o"])
        .arg(&out)
        .run();
    assert_eq!(o.code, 1, "{}", o.err);
    assert!(!out.exists(), "{:?}", files_under(&out));
}

/// A raw record for the group tests: a real name, archive and file; `extra` fields on top.
fn raw(id: u64, name: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut r = json!({
        "neuron_id": id,
        "neuron_name": name,
        "archive": "Wearne_Hof",
        "species": "monkey",
    });
    for (k, v) in extra.as_object().unwrap() {
        r[k] = v.clone();
    }
    r
}

#[test]
fn group_by_folders_follow_one_rule_for_lists_and_scalars() {
    let mut catalog = Catalog::generate(12);
    let swc = b"1 1 0 0 0 1 -1\n2 3 0 5 0 1 1\n".to_vec();
    let rows = [
        catalog.push_raw(
            raw(
                9001,
                "raw_empty_list",
                json!({"brain_region": [], "strain": ""}),
            ),
            Some(swc.clone()),
        ),
        catalog.push_raw(
            raw(
                9002,
                "raw_null",
                json!({"brain_region": null, "strain": "a/b\\c"}),
            ),
            Some(swc.clone()),
        ),
        catalog.push_raw(
            raw(
                9003,
                "raw_list_slash",
                json!({"brain_region": ["CA1/CA3", "..hidden"], "strain": 7}),
            ),
            Some(swc.clone()),
        ),
        catalog.push_raw(raw(9004, "raw_missing", json!({})), Some(swc.clone())),
    ];
    let server = FakeServer::start(catalog);
    let dir = TempDir::new();
    let out = dir.path().join("g");
    let o = cli(&server)
        .args(["download", "--all", "--no-log", "-q", "-o"])
        .arg(&out)
        .args(["-g", "brain_region,strain"])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    let downloads = out.join("downloads");
    // Generated rows: a list joined with ", ", a string as sent ("C57BL/6" made safe).
    for i in 0..12 {
        let rec = server.catalog().record_value(i);
        let region: Vec<&str> = rec["brain_region"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap())
            .collect();
        // Some generated strains are null: `unknown`.
        let strain = rec["strain"]
            .as_str()
            .map_or("unknown".to_string(), |s| s.replace('/', "_"));
        let p = downloads
            .join(region.join(", "))
            .join(strain)
            .join(format!("{}.swc", server.catalog().name(i)));
        assert!(p.is_file(), "{}", p.display());
    }
    for (row, region, strain) in [
        (rows[0], "unknown", "unknown"),
        (rows[1], "unknown", "a_b_c"),
        (rows[2], "CA1_CA3, ..hidden", "7"),
        (rows[3], "unknown", "unknown"),
    ] {
        let name = server.catalog().name(row).to_string();
        let p = downloads
            .join(region)
            .join(strain)
            .join(format!("{name}.swc"));
        assert!(
            p.is_file(),
            "{name}: {} not in {:?}",
            p.display(),
            files_under(&downloads)
        );
    }
    // Nothing outside downloads/ (no value escaped its folder).
    for f in files_under(&out) {
        assert!(f.starts_with(&out), "{}", f.display());
    }
}

#[test]
fn group_by_a_field_no_record_holds_is_unknown() {
    // The server lists Physical_Integrity; the records hold physical_Integrity.
    let server = FakeServer::start(Catalog::generate(8));
    let dir = TempDir::new();
    let out = dir.path().join("g");
    let o = cli(&server)
        .args([
            "download",
            "--all",
            "--no-log",
            "-q",
            "-g",
            "Physical_Integrity",
            "-o",
        ])
        .arg(&out)
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    let folders = names_in(&out.join("downloads"));
    assert_eq!(folders, ["unknown"]);
    assert_eq!(names_in(&out.join("downloads/unknown")).len(), 8);
}

#[test]
fn an_empty_group_by_is_a_usage_error() {
    for g in [",", " , "] {
        let o = cli_at("http://127.0.0.1:9")
            .args(["download", "--all", "-g", g])
            .run();
        let err = usage_error(&o, g);
        assert!(err.contains("-g"), "{err}");
    }
}

// ------------------------------------------------------------------------------------------
// -f values with commas

#[test]
fn a_quoted_filter_value_keeps_its_commas() {
    let server = FakeServer::start(Catalog::generate(50));
    let expected = server
        .catalog()
        .query("domain:\"Dendrites, Soma, No Axon\"", &[])
        .unwrap();
    assert_eq!(expected.len(), 50, "every record has this domain");
    let o = cli(&server)
        .args(["preview", "-f", "domain=\"Dendrites, Soma, No Axon\""])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(
        o.out.contains("neurons:   50") && o.out.contains("domain: Dendrites, Soma, No Axon"),
        "{}",
        o.out
    );
    // With another field and a plain value list: AND across fields, OR within.
    let dir = TempDir::new();
    let out = dir.path().join("q");
    let o = cli(&server)
        .args(["download", "-q", "--no-log", "-o"])
        .arg(&out)
        .args([
            "-f",
            "domain=\"Dendrites, Soma, No Axon\"",
            "-f",
            "species=rat,mouse",
        ])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    let expected = server
        .catalog()
        .query(
            "species:mouse,rat",
            &["domain:\"Dendrites, Soma, No Axon\""],
        )
        .unwrap();
    assert!(!expected.is_empty());
    assert_eq!(names_in(&out.join("downloads")).len(), expected.len());
}

#[test]
fn a_value_suggested_for_a_filter_is_quoted_when_it_holds_a_comma() {
    let server = FakeServer::start(Catalog::generate(20));
    let o = cli(&server)
        .args(["preview", "-f", "domain=Dendrites"])
        .run();
    assert_eq!(o.code, 1, "{}", o.err);
    assert!(
        o.err
            .contains("unknown value 'Dendrites' for field 'domain'")
            && o.err.contains("did you mean: \"Dendrites, Soma, No Axon\""),
        "{}",
        o.err
    );
    assert_eq!(o.err.trim().lines().count(), 1, "{}", o.err);
    // The suggestion pasted back works.
    let o = cli(&server)
        .args(["preview", "-f", "domain=\"Dendrites, Soma, No Axon\""])
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
}

#[test]
fn an_unclosed_quote_in_a_filter_is_a_usage_error() {
    let o = Cli::new()
        .args(["download", "-f", "domain=\"Dendrites, Soma"])
        .run();
    let err = usage_error(&o, "unclosed quote");
    assert!(
        err.contains("-f 'domain=\"Dendrites, Soma'") && err.contains("double quote"),
        "{err}"
    );
}

// ------------------------------------------------------------------------------------------
// Every mistake named

#[test]
fn a_bad_sort_field_gets_the_closest_fields() {
    let server = FakeServer::start(Catalog::generate(20));
    let o = cli(&server)
        .args(["preview", "--all", "--sort", "neuron_nam"])
        .run();
    assert_eq!(o.code, 1, "{}", o.err);
    assert!(
        o.err.contains("unknown field 'neuron_nam") && o.err.contains("did you mean: neuron_name"),
        "{}",
        o.err
    );
    assert_eq!(o.err.trim().lines().count(), 1, "{}", o.err);
    let dir = TempDir::new();
    let out = dir.path().join("s");
    let o = cli(&server)
        .args([
            "download",
            "-f",
            "species=rat",
            "--sort",
            "specis:desc",
            "--no-log",
            "-o",
        ])
        .arg(&out)
        .run();
    assert_eq!(o.code, 1, "{}", o.err);
    assert!(
        o.err.contains("unknown field 'specis") && o.err.contains("(did you mean: species"),
        "{}",
        o.err
    );
    assert_eq!(o.err.trim().lines().count(), 1, "{}", o.err);
    assert!(!out.join("metadata.csv").exists());
    assert_eq!(server.counters().files, 0);
}

#[test]
fn each_options_parse_error_names_the_option_and_its_form() {
    for (args, needles) in [
        (
            vec!["-c", "abc"],
            vec![
                "-c/--concurrency/--concurrent 'abc'",
                "a whole number between 1 and 64",
            ],
        ),
        (
            vec!["--retries", "x"],
            vec!["--retries 'x'", "between 1 and 20"],
        ),
        (
            vec!["--timeout", "soon"],
            vec!["--timeout 'soon'", "seconds"],
        ),
        (
            vec!["--rate", "fast"],
            vec!["--rate 'fast'", "0 (unlimited)"],
        ),
        (
            vec!["--max-file-size", "big"],
            vec!["--max-file-size 'big'", "500M"],
        ),
        (vec!["--speed-limit", "x"], vec!["--speed-limit 'x'", "10K"]),
        (vec!["--shard", "x"], vec!["--shard", "K/N"]),
        (
            vec!["--metadata-format", "xml"],
            vec!["--metadata-format", "csv, raw-csv or jsonl"],
        ),
        (
            vec!["--what", "pdf"],
            vec!["--what", "'pdf'", "cng, original, logs"],
        ),
        (
            vec!["--sort", "neuron_id:up"],
            vec!["--sort 'neuron_id:up'", "asc or desc"],
        ),
        (vec!["-f", "species"], vec!["-f 'species'", "FIELD=VALUE"]),
        (vec!["--base-url"], vec!["--base-url needs a value"]),
        (
            vec!["--proxy", "socks5://user:pw@127.0.0.1:1080"],
            vec![
                "--proxy 'socks5://***@127.0.0.1:1080'",
                "http:// or https://",
            ],
        ),
    ] {
        let o = Cli::new().args(["download", "--all"]).args(&args).run();
        let err = usage_error(&o, &format!("{args:?}"));
        for n in needles {
            assert!(err.contains(n), "{args:?}: wanted {n:?} in {err}");
        }
    }
    let o = Cli::new().args(["check", "x", "--format", "xml"]).run();
    assert!(usage_error(&o, "--format").contains("--format 'xml'"));
    let o = Cli::new().args(["verify", "x", "-j", "many"]).run();
    assert!(usage_error(&o, "-j").contains("-j/--threads 'many'"));
}

#[test]
fn limits_say_their_real_range() {
    for (args, range) in [
        (vec!["--timeout", "0"], "between 0.001 and 86400"),
        (vec!["--timeout", "90000"], "between 0.001 and 86400"),
        (vec!["--speed-time", "0"], "between 0.001 and 86400"),
        (vec!["--max-time", "0"], "between 0.001 and 86400"),
        (vec!["--retries", "0"], "between 1 and 20"),
        (vec!["--retries", "21"], "between 1 and 20"),
        (vec!["-c", "0"], "between 1 and 64"),
        (vec!["-c", "65"], "between 1 and 64"),
        (vec!["--rate", "5000"], "between 0.01 and 1000"),
    ] {
        let o = Cli::new().args(["download", "--all"]).args(&args).run();
        let err = usage_error(&o, &format!("{args:?}"));
        assert!(err.contains(range), "{args:?}: {err}");
        assert!(err.contains(args[0]), "names the option: {err}");
    }
    // The edges of each range are accepted (help exits before any network use).
    for args in [
        vec!["--timeout", "0.001"],
        vec!["--timeout", "86400"],
        vec!["--retries", "1"],
        vec!["--retries", "20"],
        vec!["-c", "1"],
        vec!["-c", "64"],
        vec!["--rate", "0"],
        vec!["--rate", "1000"],
    ] {
        let server = FakeServer::start(Catalog::generate(3));
        // Not --rate twice: the helper gives --rate 0 already.
        let o = Cli::new()
            .args(["--base-url", &server.base_url(), "--no-proxy"])
            .args(&args)
            .args(["fields"])
            .run();
        assert_eq!(o.code, 0, "{args:?}: {}", o.err);
    }
}

#[test]
fn unknown_options_are_usage_errors_in_every_command() {
    for cmd in [
        vec!["fields"],
        vec!["fields", "species"],
        vec!["preview", "--all"],
        vec!["metadata", "--all"],
        vec!["download", "--all"],
        vec!["get", "cnic_001"],
        vec!["verify", "out"],
        vec!["check", "x.swc"],
        vec!["doctor"],
        vec!["completions", "bash"],
        vec!["help"],
        vec!["help", "download"],
    ] {
        for bad in ["-z", "--bogus"] {
            let o = Cli::new().args(&cmd).arg(bad).run();
            let err = usage_error(&o, &format!("{cmd:?} {bad}"));
            assert!(
                err.contains(&format!("unknown option '{bad}'")),
                "{cmd:?}: {err}"
            );
        }
    }
    // Before the command, too.
    let o = Cli::new().args(["-z", "fields"]).run();
    let err = usage_error(&o, "-z fields");
    assert!(err.contains("unknown option '-z'"), "{err}");
    // Options of another command are unknown here.
    let o = Cli::new().args(["metadata", "--all", "--check"]).run();
    assert!(usage_error(&o, "metadata --check").contains("'--check'"));
    let o = Cli::new().args(["get", "x", "--from-csv", "m.csv"]).run();
    assert!(usage_error(&o, "get --from-csv").contains("'--from-csv'"));
}

#[test]
fn from_csv_with_a_query_says_they_exclude_each_other() {
    let dir = TempDir::new();
    let q = write(dir.path(), "q.json", r#"{"filters": {"species": ["rat"]}}"#);
    for query in [
        vec!["--all"],
        vec!["-f", "species=rat"],
        vec![q.as_str()],
        vec!["--sort", "neuron_id"],
    ] {
        let o = Cli::new()
            .args(["download", "--from-csv", "m.csv"])
            .args(&query)
            .run();
        let err = usage_error(&o, &format!("{query:?}"));
        assert!(
            err.contains("--from-csv and a query cannot be used together"),
            "{query:?}: {err}"
        );
    }
    let o = Cli::new()
        .args(["download", "--all", "-f", "species=rat"])
        .run();
    assert!(usage_error(&o, "--all -f").contains("--all cannot be combined"));
    let o = Cli::new().args(["-v", "-q", "fields"]).run();
    assert!(usage_error(&o, "-v -q").contains("--verbose and --quiet"));
    let o = Cli::new()
        .args(["--proxy", "http://127.0.0.1:1", "--no-proxy", "fields"])
        .run();
    assert!(usage_error(&o, "--proxy --no-proxy").contains("--proxy and --no-proxy"));
}

#[test]
fn json_and_yaml_errors_give_a_real_line_and_column() {
    let server = FakeServer::start(Catalog::generate(5));
    let dir = TempDir::new();
    for (name, text, line, column) in [
        ("a.json", "{\"filters\": {\"species\": [\"mouse\"}\n", 1, 33),
        (
            "b.json",
            "{\"filters\":\n  {\"species\": [\"mouse\" \"rat\"]}}\n",
            2,
            24,
        ),
        // The end of the file: the position after its last character, not column 0.
        ("c.json", "{\"filters\": {\"species\": [\"mouse\"]}\n", 2, 1),
        ("d.json", "", 1, 1),
        ("e.yaml", "filters:\n  species: [mouse\n", 3, 1),
        (
            "f.yaml",
            "filters:\n  species:\n    - mouse\n   - rat\n",
            4,
            4,
        ),
    ] {
        let path = write(dir.path(), name, text);
        let o = cli(&server).args(["preview", &path]).run();
        assert_eq!(o.code, 1, "{name}: {}", o.err);
        let want = format!("{name}: invalid ");
        assert!(o.err.contains(&want), "{name}: {}", o.err);
        let at = format!("at line {line}, column {column}");
        assert!(o.err.contains(&at), "{name}: wanted {at:?} in {}", o.err);
        assert!(!o.err.contains("column 0"), "{name}: {}", o.err);
        assert_eq!(o.err.trim().lines().count(), 1, "{name}: {}", o.err);
    }
    assert_eq!(server.counters().requests, 0);
}

#[test]
fn a_broken_saved_query_gives_one_real_position() {
    let dir = TempDir::new();
    write(dir.path(), "neuromorpho-run.json", "{\"query\": \n");
    let o = cli_at("http://127.0.0.1:9")
        .args(["download", "--update", "--no-log", "-o"])
        .arg(dir.path())
        .run();
    assert_eq!(o.code, 1, "{}", o.err);
    assert!(
        o.err.contains("neuromorpho-run.json: line 2, column 1"),
        "{}",
        o.err
    );
    assert!(!o.err.contains("column 0"), "{}", o.err);
    assert_eq!(o.err.matches("line ").count(), 1, "one position: {}", o.err);
}

#[test]
fn a_broken_jsonl_table_for_from_csv_gives_one_real_position() {
    let dir = TempDir::new();
    let table = write(
        dir.path(),
        "metadata.jsonl",
        "{\"neuron_name\":\"a\"}\n{\"neuron_name\":\"b\"}\n{\"neuron_name\": \"c\"\n",
    );
    let o = cli_at("http://127.0.0.1:9")
        .args(["download", "--from-csv", &table, "--no-log", "-o"])
        .arg(dir.path().join("o"))
        .run();
    assert_eq!(o.code, 1, "{}", o.err);
    assert!(
        o.err.contains("metadata.jsonl: line 3, column 19"),
        "{}",
        o.err
    );
    assert!(!o.err.contains("line 1"), "{}", o.err);
    assert_eq!(o.err.matches("line ").count(), 1, "one position: {}", o.err);
}
