//! What the `neuromorpho` binary says: the cause when the first request cannot be made, the
//! run's log files, the summary, progress lines (their counts, rates and width) and plurals.

use crate::support;

use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use neuromorpho::store::Timestamp;
use support::*;

/// A loopback address where nothing listens (bound, then let go).
fn dead_address() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// The `*.log` files directly in `dir`, sorted.
fn logs_in(dir: &Path) -> Vec<String> {
    let mut logs: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".log"))
        .collect();
    logs.sort();
    logs
}

/// `YYYY-MM-DD-HH_MM` of a moment, as log names begin (UTC).
fn minute_of(t: Timestamp) -> String {
    let c = t.civil();
    format!(
        "{:04}-{:02}-{:02}-{:02}_{:02}",
        c.year, c.month, c.day, c.hour, c.minute
    )
}

/// A request no server answered is the network's, the address's or the proxy's problem:
/// the message says so, names `doctor`, and does not call NeuroMorpho.Org down.
fn assert_points_at_the_network(err: &str, what: &str) {
    assert!(err.starts_with("neuromorpho: error: "), "{what}: {err}");
    assert_eq!(err.trim().lines().count(), 1, "{what}: {err}");
    assert!(err.contains("check your network"), "{what}: {err}");
    assert!(err.contains("'neuromorpho doctor'"), "{what}: {err}");
    assert!(!err.contains("may be down"), "{what}: {err}");
    assert!(!err.contains("cng.gmu.edu"), "{what}: {err}");
}

// ------------------------------------------------------------------------------------------
// The cause when the first request cannot be made

#[test]
fn a_host_that_does_not_resolve_points_at_the_network() {
    let dir = TempDir::new();
    let out = dir.path().join("o");
    for args in [
        vec!["fields"],
        vec!["preview", "--all"],
        vec!["download", "--all", "--no-log", "-o", out.to_str().unwrap()],
    ] {
        let o = cli_at("http://no-such-host.invalid")
            .args(["--retries", "1"])
            .args(&args)
            .run();
        assert_eq!(o.code, 1, "{args:?}: {}", o.err);
        assert!(o.err.contains("no-such-host.invalid"), "{}", o.err);
        assert!(
            o.err.contains("the host name did not resolve"),
            "{args:?}: {}",
            o.err
        );
        assert_points_at_the_network(&o.err, &format!("{args:?}"));
        assert!(
            o.err
                .contains("check your network connection and the address"),
            "no proxy is set: {}",
            o.err
        );
    }
    assert!(!out.join("metadata.csv").exists());
}

#[test]
fn a_refused_connection_points_at_the_network() {
    let url = dead_address();
    for args in [vec!["fields"], vec!["preview", "-f", "species=rat"]] {
        let o = cli_at(&url).args(["--retries", "1"]).args(&args).run();
        assert_eq!(o.code, 1, "{args:?}: {}", o.err);
        assert!(o.err.contains("connection refused"), "{}", o.err);
        assert!(o.err.contains(&url), "names the URL: {}", o.err);
        assert_points_at_the_network(&o.err, &format!("{args:?}"));
    }
    let dir = TempDir::new();
    let o = cli_at(&url)
        .args(["--retries", "1", "get", "cnic_001", "--no-log", "-o"])
        .arg(dir.path())
        .run();
    assert_eq!(o.code, 1, "{}", o.err);
    assert_points_at_the_network(&o.err, "get");
}

#[test]
fn a_server_that_answers_with_errors_is_called_down_and_the_alternate_suggested() {
    let server = FakeServer::start(Catalog::generate(10));
    server.push_fault(FaultRule::new(Target::Count, 100, Fault::Status(503)));
    let dir = TempDir::new();
    let out = dir.path().join("o");
    for args in [
        vec!["preview", "--all"],
        vec!["download", "--all", "--no-log", "-o", out.to_str().unwrap()],
    ] {
        let o = cli(&server).args(["--retries", "1"]).args(&args).run();
        assert_eq!(o.code, 1, "{args:?}: {}", o.err);
        let err = &o.err;
        assert!(err.starts_with("neuromorpho: error: "), "{err}");
        assert!(err.contains("503"), "{args:?}: {err}");
        assert!(
            err.contains("NeuroMorpho.Org may be down: try --base-url http://cng.gmu.edu:8080"),
            "{args:?}: {err}"
        );
        assert!(!err.contains("check your network"), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{args:?}: {err}");
    }
    assert!(!out.join("metadata.csv").exists());
    assert_eq!(server.counters().files, 0);
}

#[test]
fn a_server_that_does_not_answer_in_time_names_the_network_and_the_timeout() {
    let server = FakeServer::start(Catalog::generate(5));
    server.push_fault(FaultRule::new(
        Target::Count,
        100,
        Fault::Delay(Duration::from_secs(3)),
    ));
    let o = cli(&server)
        .args(["--retries", "1", "--timeout", "0.3", "preview", "--all"])
        .run();
    assert_eq!(o.code, 1, "{}", o.err);
    let err = &o.err;
    assert!(err.contains("timed out"), "{err}");
    assert!(err.contains("check your network"), "{err}");
    assert!(err.contains("'neuromorpho doctor'"), "{err}");
    assert!(
        err.contains("raise --timeout or try --base-url http://cng.gmu.edu:8080"),
        "{err}"
    );
    assert!(
        !err.contains("may be down"),
        "no answer is not an error answer: {err}"
    );
    assert_eq!(err.trim().lines().count(), 1, "{err}");
}

#[test]
fn a_dead_proxy_is_named() {
    let server = FakeServer::start(Catalog::generate(5));
    let proxy = dead_address();
    // --proxy, with credentials that must not be shown.
    let with_secret = proxy.replace("http://", "http://user:s3cret@");
    let o = Cli::new()
        .args([
            "--base-url",
            &server.base_url(),
            "--rate",
            "0",
            "--retries",
            "1",
        ])
        .args(["--proxy", &with_secret, "fields"])
        .run();
    assert_eq!(o.code, 1, "{}", o.err);
    assert_points_at_the_network(&o.err, "--proxy");
    let port = proxy.rsplit(':').next().unwrap();
    assert!(
        o.err.contains("--proxy http://") && o.err.contains(port),
        "names the proxy: {}",
        o.err
    );
    assert!(o.err.contains("is the proxy running?"), "{}", o.err);
    assert!(!o.err.contains("s3cret"), "no password shown: {}", o.err);
    // A proxy from the environment is named by its variable.
    for var in ["HTTPS_PROXY", "HTTP_PROXY", "ALL_PROXY"] {
        let o = Cli::new()
            .args([
                "--base-url",
                &server.base_url(),
                "--rate",
                "0",
                "--retries",
                "1",
            ])
            .args(["fields"])
            .env(var, &proxy)
            .run();
        assert_eq!(o.code, 1, "{var}: {}", o.err);
        assert_points_at_the_network(&o.err, var);
        assert!(
            o.err.contains(&format!("the proxy in {var}")),
            "{var}: {}",
            o.err
        );
    }
    assert_eq!(server.counters().requests, 0, "nothing reached the server");
}

// ------------------------------------------------------------------------------------------
// Logs and the summary

#[test]
fn two_runs_in_the_same_minute_keep_both_logs() {
    let server = FakeServer::start(Catalog::generate(4));
    // Two runs that straddle a minute get two plain names: try again in a fresh folder.
    for attempt in 0..3 {
        let dir = TempDir::new();
        let out = dir.path().join("o");
        let before = minute_of(Timestamp::now());
        let first = cli(&server)
            .args(["download", "--all", "-o"])
            .arg(&out)
            .run();
        assert_eq!(first.code, 0, "{}", first.err);
        let second = cli(&server)
            .args(["download", "--all", "-o"])
            .arg(&out)
            .run();
        assert_eq!(second.code, 0, "{}", second.err);
        if minute_of(Timestamp::now()) != before {
            assert!(attempt < 2, "three attempts straddled a minute");
            continue;
        }
        let logs = logs_in(&out);
        assert_eq!(
            logs,
            [format!("{before}-all-2.log"), format!("{before}-all.log")],
            "{logs:?}"
        );
        // Neither overwrote the other: each holds its own run.
        let one = std::fs::read_to_string(out.join(format!("{before}-all.log"))).unwrap();
        let two = std::fs::read_to_string(out.join(format!("{before}-all-2.log"))).unwrap();
        assert!(one.contains("downloaded 4, skipped 0"), "{one}");
        assert!(two.contains("downloaded 0, skipped 4"), "{two}");
        assert!(!one.contains("skipped 4") && !two.contains("downloaded 4"));
        return;
    }
}

#[test]
fn a_log_name_taken_gets_the_next_number() {
    let server = FakeServer::start(Catalog::generate(3));
    let dir = TempDir::new();
    let out = dir.path().join("o");
    std::fs::create_dir_all(&out).unwrap();
    // The names of this minute and the next are taken (the run may start in either).
    let now = Timestamp::now();
    let minutes = [
        minute_of(now),
        minute_of(Timestamp::from_unix(now.unix() + 60)),
    ];
    let mut taken = Vec::new();
    for m in &minutes {
        for name in [format!("{m}-all.log"), format!("{m}-all-2.log")] {
            std::fs::write(out.join(&name), "another run's log\n").unwrap();
            taken.push(name);
        }
    }
    let o = cli(&server)
        .args(["download", "--all", "-o"])
        .arg(&out)
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    for name in &taken {
        let text = std::fs::read_to_string(out.join(name)).unwrap();
        assert_eq!(text, "another run's log\n", "{name} untouched");
    }
    let new: Vec<String> = logs_in(&out)
        .into_iter()
        .filter(|n| !taken.contains(n))
        .collect();
    assert_eq!(new.len(), 1, "{new:?}");
    assert!(
        minutes.iter().any(|m| new[0] == format!("{m}-all-3.log")),
        "{new:?}"
    );
}

#[test]
fn the_summary_is_printed_once_also_with_verbose() {
    let server = FakeServer::start(Catalog::generate(6));
    for verbose in [false, true] {
        let dir = TempDir::new();
        let out = dir.path().join("o");
        let mut run = cli(&server);
        if verbose {
            run = run.arg("-v");
        }
        let o = run.args(["download", "--all", "-o"]).arg(&out).run();
        assert_eq!(o.code, 0, "{}", o.err);
        let summary = "matched 6, downloaded 6, skipped 0, failed 0";
        assert_eq!(o.err.matches(summary).count(), 1, "-v {verbose}: {}", o.err);
        assert_eq!(o.err.matches("matched ").count(), 1, "{}", o.err);
        assert_eq!(o.err.matches("metadata: ").count(), 1, "{}", o.err);
        let logs = logs_in(&out);
        assert_eq!(logs.len(), 1, "{logs:?}");
        let log = std::fs::read_to_string(out.join(&logs[0])).unwrap();
        assert_eq!(log.matches(summary).count(), 1, "-v {verbose}: {log}");
        if verbose {
            assert!(o.err.contains("neuromorpho: debug: log file "), "{}", o.err);
        }
    }
    // The final error, likewise: once on stderr, once in the log.
    let dir = TempDir::new();
    let out = dir.path().join("o");
    let o = cli(&server)
        .args(["-v", "download", "-f", "species=nobody", "-o"])
        .arg(&out)
        .run();
    assert_eq!(o.code, 1, "{}", o.err);
    let what = "unknown value 'nobody' for field 'species'";
    assert_eq!(o.err.matches(what).count(), 1, "{}", o.err);
    let logs = logs_in(&out);
    let log = std::fs::read_to_string(out.join(&logs[0])).unwrap();
    assert_eq!(log.matches(what).count(), 1, "{log}");
}

// ------------------------------------------------------------------------------------------
// Counts, rates and plurals

/// Lines of stderr that are progress counts (`pages 1/2`, `files 3/4 ...`).
fn count_lines(err: &str) -> Vec<&str> {
    err.lines()
        .map(|l| l.trim_start_matches("neuromorpho: "))
        .filter(|l| l.starts_with("pages ") || l.starts_with("files "))
        .collect()
}

#[test]
fn no_meaningless_count_or_rate_line() {
    let server = FakeServer::start(Catalog::generate(40));
    let dir = TempDir::new();
    let out = dir.path().join("o");
    // A fast run: no rate (too little time to measure), no first tick, only the last.
    let o = cli(&server)
        .args(["download", "--all", "--no-log", "-o"])
        .arg(&out)
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(!o.err.contains("/s"), "no rate: {}", o.err);
    assert!(!o.err.contains("ETA"), "no ETA: {}", o.err);
    let counts = count_lines(&o.err);
    assert!(counts.contains(&"pages 1/1"), "{}", o.err);
    let files: Vec<&&str> = counts.iter().filter(|l| l.starts_with("files ")).collect();
    assert_eq!(files.len(), 1, "only the last tick: {}", o.err);
    assert!(files[0].starts_with("files 40/40 "), "{}", o.err);
    assert!(!o.err.contains("files 1/40"), "no first tick: {}", o.err);
    // Nothing to download in this shard (K/N: neuron_id mod N == K-1): no file count.
    let none = dir.path().join("none");
    let o = cli(&server)
        .args(["download", "--all", "--no-log", "--shard", "50/50", "-o"])
        .arg(&none)
        .run();
    assert!(
        (0..40)
            .filter_map(|i| server.catalog().id(i))
            .all(|id| id % 50 != 49),
        "no neuron in the last shard"
    );
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(!o.err.contains("checking and downloading"), "{}", o.err);
    assert!(!o.err.contains("files 0/0"), "{}", o.err);
    assert!(
        count_lines(&o.err).iter().all(|l| !l.starts_with("files ")),
        "{}",
        o.err
    );
    // metadata downloads nothing: no file count either.
    let o = cli(&server)
        .args(["metadata", "--all", "--no-log", "-o"])
        .arg(&out)
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(!o.err.contains("files "), "{}", o.err);
    assert!(!o.err.contains("downloading"), "{}", o.err);
}

#[test]
fn one_is_singular_and_more_are_plural() {
    let server = FakeServer::start(Catalog::generate(1));
    let dir = TempDir::new();
    let out = dir.path().join("one");
    let o = cli(&server)
        .args(["-v", "download", "--all", "--no-log", "--check", "-o"])
        .arg(&out)
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    for want in [
        "found 1 neuron; fetching 1 page of metadata",
        "checking and downloading 1 file\n",
        "wrote metadata for 1 neuron ",
        "checked 1 SWC file:",
    ] {
        assert!(o.err.contains(want), "wanted {want:?}: {}", o.err);
    }
    for wrong in ["1 neurons", "1 pages", "1 files", "1 SWC files", "(s)"] {
        assert!(!o.err.contains(wrong), "{wrong:?}: {}", o.err);
    }
    // One failure of two.
    let server = FakeServer::start(Catalog::generate(2));
    let gone = server.catalog().name(1).to_string();
    server.remove_file(&gone);
    let out = dir.path().join("two");
    for quiet in [false, true] {
        let mut run = cli(&server);
        if quiet {
            run = run.arg("-q");
        }
        let o = run
            .args(["download", "--all", "--no-log", "-o"])
            .arg(&out)
            .run();
        assert_eq!(o.code, 3, "{}", o.err);
        assert!(o.err.contains("1 file failed"), "-q {quiet}: {}", o.err);
        assert!(!o.err.contains("1 files"), "{}", o.err);
        if !quiet {
            assert!(
                o.err
                    .contains("found 2 neurons; fetching 1 page of metadata")
                    && o.err.contains("checking and downloading 2 files"),
                "{}",
                o.err
            );
        }
    }
    // Several pages.
    let server = FakeServer::start(Catalog::generate(501));
    let o = cli(&server)
        .args(["metadata", "--all", "--no-log", "-o"])
        .arg(dir.path().join("pages"))
        .run();
    assert_eq!(o.code, 0, "{}", o.err);
    assert!(
        o.err
            .contains("found 501 neurons; fetching 2 pages of metadata"),
        "{}",
        o.err
    );
}

// ------------------------------------------------------------------------------------------
// Progress lines on a terminal

/// `s` quoted for `sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// Runs the binary with its stdout and stderr on a pseudo-terminal (util-linux `script`),
/// `stty cols` set to `cols` first; returns the exit code and what the terminal showed.
/// None when `script` cannot be run here.
fn run_on_a_terminal(cols: u16, env: &[(&str, &str)], args: &[String]) -> Option<(i32, String)> {
    let mut line = format!(
        "stty cols {cols} rows 24; exec {}",
        sh_quote(env!("CARGO_BIN_EXE_neuromorpho"))
    );
    for a in args {
        line.push(' ');
        line.push_str(&sh_quote(a));
    }
    let mut cmd = Command::new("script");
    cmd.args(["-qefc", &line, "/dev/null"])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit());
    for v in CLEARED_ENV {
        cmd.env_remove(v);
    }
    cmd.env_remove("COLUMNS");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().ok()?;
    Some((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

/// The progress lines a terminal showed: the text between carriage returns and line ends,
/// without the erase-line sequence, that starts with a count.
fn drawn_progress(screen: &str) -> Vec<String> {
    screen
        .split(['\r', '\n'])
        .map(|s| s.replace("\x1b[2K", ""))
        .filter(|s| s.starts_with("files ") || s.starts_with("pages "))
        .collect()
}

/// A run whose file phase lasts over a second with files left (one file answers late), so
/// that a rate and an ETA are drawn, and with failures: progress lines longer than 40.
fn slow_run_args(server: &FakeServer, out: &Path) -> Vec<String> {
    let late = file_needle(server, 8);
    server.push_fault(FaultRule::new(
        Target::Path(late),
        1,
        Fault::Delay(Duration::from_millis(1200)),
    ));
    for i in [3, 5] {
        let name = server.catalog().name(i).to_string();
        server.remove_file(&name);
    }
    [
        "--base-url",
        &server.base_url(),
        "--no-proxy",
        "--rate",
        "0",
        "-c",
        "1",
        "download",
        "--all",
        "--no-log",
        "-o",
        out.to_str().unwrap(),
    ]
    .map(String::from)
    .to_vec()
}

#[test]
fn progress_lines_never_wider_than_the_terminal() {
    if Command::new("script").arg("--version").output().is_err() {
        eprintln!("note: util-linux `script` is not installed: no pseudo-terminal test");
        return;
    }
    for (cols, env) in [(40u16, vec![("COLUMNS", "40")]), (30, vec![])] {
        let server = FakeServer::start(Catalog::generate(30));
        let dir = TempDir::new();
        let args = slow_run_args(&server, &dir.path().join("o"));
        let Some((code, screen)) = run_on_a_terminal(cols, &env, &args) else {
            eprintln!("note: `script` cannot run here: no pseudo-terminal test");
            return;
        };
        assert_eq!(code, 3, "two files failed: {screen}");
        let drawn = drawn_progress(&screen);
        assert!(!drawn.is_empty(), "{screen:?}");
        for l in &drawn {
            assert!(
                l.chars().count() <= usize::from(cols),
                "wider than {cols}: {l:?} in {screen:?}"
            );
        }
        // The rate line was there, and cut (the full one is longer than the terminal).
        let rated: Vec<&String> = drawn.iter().filter(|l| l.contains("/s")).collect();
        assert!(!rated.is_empty(), "a rate was drawn: {drawn:?}");
        assert!(
            drawn.iter().any(|l| l.ends_with('…')),
            "a long line was cut: {drawn:?}"
        );
        // The last count says every file, redrawn in place on one terminal line.
        assert!(
            drawn.iter().any(|l| l.starts_with("files 30/30")),
            "{drawn:?}"
        );
        assert!(screen.contains("\r\x1b[2K"), "drawn in place: {screen:?}");
    }
}

#[test]
fn plain_progress_lines_are_not_cut() {
    // Not a terminal: whole lines (for a log), whatever COLUMNS says.
    let server = FakeServer::start(Catalog::generate(30));
    let dir = TempDir::new();
    let args = slow_run_args(&server, &dir.path().join("o"));
    let o = Cli::new().args(&args).env("COLUMNS", "20").run();
    assert_eq!(o.code, 3, "{}", o.err);
    assert!(!o.err.contains('\r'), "{:?}", o.err);
    assert!(!o.err.contains('…'), "{}", o.err);
    let last = count_lines(&o.err)
        .into_iter()
        .find(|l| l.starts_with("files 30/30"))
        .unwrap_or_else(|| panic!("{}", o.err))
        .to_string();
    assert!(last.ends_with("2 failed"), "{last}");
}

#[test]
fn a_socks_proxy_given_to_the_library_is_a_setting_error_not_a_panic() {
    let server = FakeServer::start(Catalog::generate(3));
    let built = client_builder(&server)
        .proxy(neuromorpho::ProxyMode::Url(
            "socks5://127.0.0.1:1080".into(),
        ))
        .build();
    match built {
        Err(e) => assert!(e.to_string().contains("proxy"), "{e}"),
        Ok(client) => {
            let e = client.fields().expect_err("no SOCKS support: an error");
            assert!(e.to_string().contains("socks"), "{e}");
        }
    }
}

#[test]
fn a_socks_proxy_in_the_environment_is_not_bypassed_silently() {
    let server = FakeServer::start(Catalog::generate(3));
    let o = Cli::new()
        .args([
            "--base-url",
            &server.base_url(),
            "--rate",
            "0",
            "--retries",
            "1",
        ])
        .args(["fields"])
        .env("ALL_PROXY", "socks5://127.0.0.1:1")
        .run();
    assert_eq!(o.code, 1, "{}", o.err);
    assert!(o.err.contains("ALL_PROXY"), "{}", o.err);
    assert_eq!(
        server.counters().requests,
        0,
        "nothing went around the proxy"
    );
}
