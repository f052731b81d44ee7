//! Shared helpers of the integration tests: the fake NeuroMorpho.Org server, a temp dir, a
//! client set up for the fake server, file listings, and the `neuromorpho` binary run as a
//! process.
//!
//! Every helper keeps tests off the network: the library client and the CLI never use a proxy
//! (proxy variables of CI or HPC machines must not hijack 127.0.0.1).

pub mod folder;
pub use folder::*;
pub use neuromorpho_fake_server::*;

use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use neuromorpho::{Client, ClientBuilder, ProxyMode};

// ------------------------------------------------------------------------------------------
// Folders

/// A fresh directory under `std::env::temp_dir()`, removed (with its contents) on drop.
pub struct TempDir {
    path: PathBuf,
}

impl TempDir {
    /// Creates a unique, empty directory. Panics if it cannot be created.
    pub fn new() -> TempDir {
        static COUNTER: AtomicUsize = AtomicUsize::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "neuromorpho-test-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
        TempDir { path }
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Default for TempDir {
    fn default() -> TempDir {
        TempDir::new()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// `fixtures/` of this crate (real API answers and SWC files).
pub fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("fixtures")
}

/// Every file (not folder) under `dir`, at any depth, hidden ones included, sorted. Each path
/// is `dir` joined with the file's relative path (absolute when `dir` is, as a [`TempDir`]
/// is); a caller that wants relative paths strips `dir` with `Path::strip_prefix`.
///
/// A folder that does not exist has no files (a run that is still going on may not have
/// created it yet); any other error reading a folder panics.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let entries = match std::fs::read_dir(&d) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
            Err(e) => panic!("cannot list {}: {e}", d.display()),
        };
        for e in entries {
            let p = e
                .unwrap_or_else(|e| panic!("cannot list {}: {e}", d.display()))
                .path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The folder's own records of what it holds, at the top of an output folder after every
/// download: the manifest, the checksums for `sha256sum -c`, and the folder lock.
pub const FOLDER_RECORDS: [&str; 3] = ["manifest.jsonl", "SHA256SUMS", ".neuromorpho.lock"];

/// [`files_under`] without the [`FOLDER_RECORDS`] at the top of `dir`.
pub fn files_but_records(dir: &Path) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| {
            !(p.parent() == Some(dir)
                && p.file_name()
                    .is_some_and(|n| FOLDER_RECORDS.iter().any(|r| n == *r)))
        })
        .collect()
}

/// Whether `path` is a temporary download file. The library streams each file (and the
/// metadata table) into a hidden `.<name>.part` beside its target; any name ending in `.part`
/// counts, so that no leftover escapes a check.
pub fn is_part(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().ends_with(".part"))
}

/// The temporary files ([`is_part`]) anywhere under `dir`, sorted: a finished or resumed run
/// leaves none.
pub fn part_files(dir: &Path) -> Vec<PathBuf> {
    files_under(dir)
        .into_iter()
        .filter(|p| is_part(p))
        .collect()
}

// ------------------------------------------------------------------------------------------
// The library

/// A client builder for `url` (the fake server, or another loopback server such as a TLS
/// relay in front of it), set up for tests: no proxy, no rate limit, 8 requests at once and a
/// 5 ms retry base delay, so that retries cost no time. Callers chain what a test needs on top
/// (`.retries(n)`, `.read_timeout(..)`, `.ca_file(..)`, ...).
pub fn client_builder_at(url: &str) -> ClientBuilder {
    Client::builder()
        .base_url(url)
        .proxy(ProxyMode::None)
        .rate(0.0)
        .concurrency(8)
        .retry_base_delay(Duration::from_millis(5))
}

/// [`client_builder_at`] the fake server.
pub fn client_builder(server: &FakeServer) -> ClientBuilder {
    client_builder_at(&server.base_url())
}

/// [`client_builder`] built; panics if the client cannot be built.
pub fn client(server: &FakeServer) -> Client {
    client_builder(server).build().unwrap()
}

/// The decoded URL path tail of catalog row `i`'s CNG file (`/<name>.CNG.swc`), for
/// `FakeServer::file_hits` and `Target::Path`: unique among the catalog's files (the leading
/// `/` keeps `12_DSGC` from matching `112_DSGC`).
pub fn file_needle(server: &FakeServer, i: usize) -> String {
    format!("/{}.CNG.swc", server.catalog().name(i))
}

// ------------------------------------------------------------------------------------------
// The binary

/// Variables removed from the environment of every run of the binary: proxies (they must not
/// hijack 127.0.0.1), a CA bundle (`SSL_CERT_FILE`: tests that want one set it with
/// [`Cli::env`]) and `RUST_LOG` (it would change what the binary prints, which tests check).
pub const CLEARED_ENV: [&str; 8] = [
    "ALL_PROXY",
    "all_proxy",
    "HTTPS_PROXY",
    "https_proxy",
    "HTTP_PROXY",
    "http_proxy",
    "RUST_LOG",
    "SSL_CERT_FILE",
];

/// How long [`Cli::run`] lets the binary run before it calls it a hang, kills it and panics.
pub const CLI_TIME_LIMIT: Duration = Duration::from_secs(120);

/// The `neuromorpho` binary with `--base-url <server> --no-proxy --rate 0`; add the command
/// and its options with [`Cli::args`].
pub fn cli(server: &FakeServer) -> Cli {
    cli_at(&server.base_url())
}

/// The `neuromorpho` binary with `--base-url <url> --no-proxy --rate 0` (for a URL that is not
/// the fake server's: a TLS relay, a closed port).
pub fn cli_at(url: &str) -> Cli {
    Cli::new().args(["--base-url", url, "--no-proxy", "--rate", "0"])
}

/// A run of the `neuromorpho` binary to be: its arguments, extra environment variables, what it
/// reads on stdin and how long it may take. Build one with [`cli`], [`cli_at`] or
/// [`Cli::new`] (no arguments at all), then [`Cli::run`] it (as often as wanted), or take the
/// [`Cli::command`] to spawn and kill it yourself.
#[derive(Clone, Debug)]
pub struct Cli {
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
    stdin: Option<Vec<u8>>,
    time_limit: Duration,
}

/// What a finished run gave back.
#[derive(Clone, Debug)]
pub struct CliOutput {
    /// The exit code (-1 if a signal ended the process).
    pub code: i32,
    /// Standard output (invalid UTF-8 replaced).
    pub out: String,
    /// Standard error (invalid UTF-8 replaced).
    pub err: String,
}

impl Default for Cli {
    fn default() -> Cli {
        Cli::new()
    }
}

impl Cli {
    /// The binary with no arguments, an empty stdin and the [`CLI_TIME_LIMIT`].
    pub fn new() -> Cli {
        Cli {
            args: Vec::new(),
            env: Vec::new(),
            stdin: None,
            time_limit: CLI_TIME_LIMIT,
        }
    }

    /// One more argument.
    pub fn arg(mut self, arg: impl AsRef<OsStr>) -> Cli {
        self.args.push(arg.as_ref().to_owned());
        self
    }

    /// More arguments, after those already there.
    pub fn args<I>(mut self, args: I) -> Cli
    where
        I: IntoIterator,
        I::Item: AsRef<OsStr>,
    {
        self.args
            .extend(args.into_iter().map(|a| a.as_ref().to_owned()));
        self
    }

    /// Sets an environment variable for the run (after the [`CLEARED_ENV`] ones are removed,
    /// so it may set one of those).
    pub fn env(mut self, key: impl AsRef<OsStr>, value: impl AsRef<OsStr>) -> Cli {
        self.env
            .push((key.as_ref().to_owned(), value.as_ref().to_owned()));
        self
    }

    /// What the binary reads on stdin (empty by default).
    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Cli {
        self.stdin = Some(bytes.into());
        self
    }

    /// How long [`Cli::run`] waits before it calls the run a hang ([`CLI_TIME_LIMIT`] by
    /// default).
    pub fn time_limit(mut self, limit: Duration) -> Cli {
        self.time_limit = limit;
        self
    }

    /// The process to start: the binary, the arguments, the environment without
    /// [`CLEARED_ENV`] plus [`Cli::env`]'s variables, and stdin from `/dev/null` (what
    /// [`Cli::stdin`] sets is only fed by [`Cli::run`]). Stdout and stderr are left to the
    /// caller. For a test that spawns the binary and kills it itself.
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_neuromorpho"));
        cmd.args(&self.args).stdin(Stdio::null());
        for v in CLEARED_ENV {
            cmd.env_remove(v);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        cmd
    }

    /// Runs the binary to the end and returns its exit code, stdout and stderr. Kills it and
    /// panics if it is still running after the time limit (a hang).
    pub fn run(&self) -> CliOutput {
        let mut cmd = self.command();
        if self.stdin.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("run the neuromorpho binary");
        // Feed stdin and drain both pipes at once, so that no pipe fills up and blocks the
        // binary; dropping the stdin pipe closes it.
        let feed = child.stdin.take().map(|mut pipe| {
            let bytes = self.stdin.clone().unwrap_or_default();
            thread::spawn(move || {
                let _ = pipe.write_all(&bytes);
            })
        });
        let stdout = drain(child.stdout.take().unwrap());
        let stderr = drain(child.stderr.take().unwrap());
        let started = Instant::now();
        let status = loop {
            if let Some(status) = child.try_wait().unwrap() {
                break status;
            }
            if started.elapsed() > self.time_limit {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "neuromorpho {:?} still running after {:?}",
                    self.args, self.time_limit
                );
            }
            thread::sleep(Duration::from_millis(20));
        };
        if let Some(feed) = feed {
            let _ = feed.join();
        }
        CliOutput {
            code: status.code().unwrap_or(-1),
            out: stdout.join().unwrap(),
            err: stderr.join().unwrap(),
        }
    }
}

/// Reads `pipe` to its end on a thread of its own.
fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        let _ = pipe.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

// ------------------------------------------------------------------------------------------
// Guards, signals and on-disk checks shared by the cancellation and hostile-input tests

/// A call running on a thread of its own, started by [`spawn_guarded`]: wait for it with a
/// time limit, so that a hang fails the test instead of hanging the suite.
pub struct Guarded<T> {
    rx: std::sync::mpsc::Receiver<thread::Result<T>>,
    what: String,
}

/// Runs `f` on a thread of its own; [`Guarded::wait`] gets its result.
pub fn spawn_guarded<T, F>(what: &str, f: F) -> Guarded<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    let (tx, rx) = std::sync::mpsc::channel();
    thread::spawn(move || {
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(f));
        let _ = tx.send(result);
    });
    Guarded {
        rx,
        what: what.to_string(),
    }
}

impl<T> Guarded<T> {
    /// Waits at most `limit`: a panic inside the call comes back as `Err(payload)` (as from
    /// `catch_unwind`), its value as `Ok`; still running after `limit` panics (a hang; the
    /// thread is left behind).
    pub fn wait(self, limit: Duration) -> thread::Result<T> {
        match self.rx.recv_timeout(limit) {
            Ok(result) => result,
            Err(_) => panic!("{}: still running after {limit:?} (a hang)", self.what),
        }
    }
}

/// [`spawn_guarded`] then [`Guarded::wait`]: `f` on a thread of its own, at most `limit`.
pub fn within<T, F>(limit: Duration, what: &str, f: F) -> thread::Result<T>
where
    T: Send + 'static,
    F: FnOnce() -> T + Send + 'static,
{
    spawn_guarded(what, f).wait(limit)
}

/// The text of a panic payload (`panic!("...")` with or without arguments).
pub fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "<not a string>".into())
}

/// Sends `signal` (`"INT"`, `"TERM"`, ...) to process `pid` with `kill(1)`.
pub fn send_signal(pid: u32, signal: &str) {
    let status = Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -{signal} {pid}: {status}");
}

/// Waits for `child` to exit, at most `limit` (then kills it and panics): its exit code
/// (-1 when a signal ended it).
pub fn wait_exit(child: &mut std::process::Child, limit: Duration) -> i32 {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status.code().unwrap_or(-1);
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("the process did not exit within {limit:?}");
        }
        thread::sleep(Duration::from_millis(5));
    }
}

/// Reads what is left in a child's pipe (after it exited).
pub fn read_all(pipe: Option<impl Read>) -> String {
    let mut bytes = Vec::new();
    if let Some(mut p) = pipe {
        let _ = p.read_to_end(&mut bytes);
    }
    String::from_utf8_lossy(&bytes).into_owned()
}

/// `<out>/downloads/<name>.swc` of catalog row `i` (no grouping).
pub fn cng_file(out: &Path, server: &FakeServer, i: usize) -> PathBuf {
    out.join("downloads")
        .join(format!("{}.swc", server.catalog().name(i)))
}

/// The catalog rows whose CNG file is in place under `out` (no grouping), each checked
/// byte for byte against the catalog (a file under its final name is always complete).
pub fn rows_in_place(out: &Path, server: &FakeServer) -> Vec<usize> {
    let mut rows = Vec::new();
    for i in 0..server.catalog().len() {
        let p = cng_file(out, server, i);
        if let Ok(bytes) = std::fs::read(&p) {
            assert!(
                bytes == server.catalog().swc_bytes(i),
                "{} is under its final name but not complete ({} of {} bytes)",
                p.display(),
                bytes.len(),
                server.catalog().swc_bytes(i).len()
            );
            rows.push(i);
        }
    }
    rows
}

/// Rows of a `failed.csv` as (neuron_name, url, reason, detail), in file order.
pub fn failed_csv_rows(path: &Path) -> Vec<[String; 4]> {
    let mut r = csv::Reader::from_path(path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        ["neuron_name", "url", "reason", "detail"]
    );
    r.records()
        .map(|x| {
            let x = x.unwrap();
            [0, 1, 2, 3].map(|k| x.get(k).unwrap_or("").to_string())
        })
        .collect()
}

/// The characters a terminal obeys or that reorder a line, as found in `text`: C0 controls
/// but `\n` (and `\t`), C1 controls, DEL and the bidirectional controls.
pub fn terminal_controls(text: &str) -> Vec<char> {
    text.chars()
        .filter(|&c| {
            (c.is_control() && c != '\n' && c != '\t')
                || matches!(c, '\u{061C}' | '\u{200E}' | '\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')
        })
        .collect()
}

/// A client for offline work (`verify`): no proxy, no server it would ever ask.
pub fn verifier() -> Client {
    Client::builder()
        .base_url("http://127.0.0.1:9")
        .proxy(ProxyMode::None)
        .build()
        .unwrap()
}
