//! TLS controls and `doctor`: verification on by default, `--ca-file` / `ca_file()` /
//! `SSL_CERT_FILE` add a certificate, `--insecure` turns verification off with a warning, and
//! `doctor` names the failing step — over plain HTTP (the fake server) and over HTTPS (a
//! loopback TLS relay with the self-signed certificate of `fixtures/tls/`).

use crate::support;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use neuromorpho::{DownloadOptions, Error, FailureKind, Query};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use support::*;

// ------------------------------------------------------------------------------------------
// A loopback HTTPS server: TLS terminated here, each request relayed to the plain fake server.

fn cert_pem() -> PathBuf {
    fixtures_dir().join("tls/cert.pem")
}

fn key_pem() -> PathBuf {
    fixtures_dir().join("tls/key.pem")
}

/// Accepts TLS connections on 127.0.0.1 with the fixture certificate; per connection, reads
/// one decrypted request head, forwards it to the fake server with `Connection: close`, and
/// copies the answer back (the client then sees `Connection: close` and opens a new one).
struct TlsRelay {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// Handshakes completed.
    handshakes: Arc<AtomicUsize>,
    /// Why handshakes failed, as the server saw it (e.g. the client's alert).
    errors: Arc<Mutex<Vec<String>>>,
    accept: Option<thread::JoinHandle<()>>,
}

impl TlsRelay {
    fn start(backend: SocketAddr) -> TlsRelay {
        let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert_pem())
            .expect("fixtures/tls/cert.pem")
            .collect::<Result<_, _>>()
            .expect("a PEM certificate");
        let key = PrivateKeyDer::from_pem_file(key_pem()).expect("fixtures/tls/key.pem");
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .expect("the fixture certificate and key match");
        let config = Arc::new(config);
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let handshakes = Arc::new(AtomicUsize::new(0));
        let errors = Arc::new(Mutex::new(Vec::new()));
        let accept = {
            let (stop, handshakes, errors) = (stop.clone(), handshakes.clone(), errors.clone());
            thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = conn else { continue };
                    let (config, handshakes, errors) =
                        (config.clone(), handshakes.clone(), errors.clone());
                    thread::spawn(move || {
                        relay(stream, config, backend, &handshakes, &errors);
                    });
                }
            })
        };
        TlsRelay {
            addr,
            stop,
            handshakes,
            errors,
            accept: Some(accept),
        }
    }

    fn base_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    fn handshakes(&self) -> usize {
        self.handshakes.load(Ordering::SeqCst)
    }

    fn errors(&self) -> Vec<String> {
        self.errors.lock().unwrap().clone()
    }
}

impl Drop for TlsRelay {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn relay(
    stream: TcpStream,
    config: Arc<rustls::ServerConfig>,
    backend: SocketAddr,
    handshakes: &AtomicUsize,
    errors: &Mutex<Vec<String>>,
) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
    let conn = rustls::ServerConnection::new(config).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, stream);
    while tls.conn.is_handshaking() {
        if let Err(e) = tls.conn.complete_io(&mut tls.sock) {
            errors.lock().unwrap().push(e.to_string());
            return;
        }
    }
    handshakes.fetch_add(1, Ordering::SeqCst);
    // The request head (the client only sends GETs: no body).
    let mut head = Vec::new();
    let mut buf = [0u8; 4096];
    let end = loop {
        match tls.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => head.extend_from_slice(&buf[..n]),
        }
        if let Some(p) = head.windows(4).position(|w| w == b"\r\n\r\n") {
            break p;
        }
        if head.len() > 64 * 1024 {
            return;
        }
    };
    let text = String::from_utf8_lossy(&head[..end]).into_owned();
    let mut forwarded: String = text
        .split("\r\n")
        .filter(|l| !l.to_ascii_lowercase().starts_with("connection:"))
        .map(|l| format!("{l}\r\n"))
        .collect();
    forwarded.push_str("Connection: close\r\n\r\n");
    let Ok(mut up) = TcpStream::connect(backend) else {
        return;
    };
    if up.write_all(forwarded.as_bytes()).is_err() {
        return;
    }
    let _ = std::io::copy(&mut up, &mut tls);
    tls.conn.send_close_notify();
    let _ = tls.flush();
}

// ------------------------------------------------------------------------------------------
// Helpers

/// The CLI against `url` (see `support::cli_at`) with a single attempt per request
/// (`--retries 1`): a refused certificate fails at once.
fn cli_once(url: &str) -> Cli {
    cli_at(url).args(["--retries", "1"])
}

/// A client for `url` set up as `support::client_builder_at` does, with a single attempt per
/// request.
fn builder(url: &str) -> neuromorpho::ClientBuilder {
    client_builder_at(url).retries(1)
}

/// The lines of `doctor`'s output as (ok, step), hint lines left out.
fn doctor_steps(stdout: &str) -> Vec<(bool, String)> {
    stdout
        .lines()
        .filter(|l| l.starts_with("ok ") || l.starts_with("FAIL "))
        .map(|l| {
            let mut words = l.split_whitespace();
            let ok = words.next() == Some("ok");
            (ok, words.next().unwrap_or("").to_string())
        })
        .collect()
}

fn field_lines(stdout: &str) -> Vec<&str> {
    stdout.lines().collect()
}

// ------------------------------------------------------------------------------------------
// doctor over plain HTTP

#[test]
fn doctor_over_http_passes_every_step() {
    let server = FakeServer::start(Catalog::generate(40));
    let url = server.base_url();
    let CliOutput { code, out, err } = cli_once(&url).args(["doctor"]).run();
    println!("{out}{err}");
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let steps = doctor_steps(&out);
    let names: Vec<&str> = steps.iter().map(|(_, s)| s.as_str()).collect();
    // Plain HTTP: no TLS step.
    assert_eq!(names, ["DNS", "TCP", "HTTP", "health", "database", "file"]);
    assert!(steps.iter().all(|(ok, _)| *ok), "{out}");
    assert_eq!(
        out.lines().count(),
        6,
        "one line per step, no hints:\n{out}"
    );
    let k = server.counters();
    assert_eq!(k.health, 2, "probe + health check");
    assert_eq!(k.partition, 1);
    assert_eq!(k.files, 1, "one file download");
    // The file step names the first neuron and checked it as SWC.
    let file_line = out.lines().find(|l| l.contains(" file ")).unwrap();
    assert!(
        file_line.contains(&*server.catalog().name(0)) && file_line.contains("SWC"),
        "{file_line}"
    );
}

#[test]
fn doctor_against_a_closed_port_fails_at_tcp() {
    // A port that was free a moment ago and has no listener now.
    let port = {
        let l = TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let url = format!("http://127.0.0.1:{port}");
    let CliOutput { code, out, err } = cli_once(&url).args(["doctor"]).run();
    println!("{out}{err}");
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    let steps = doctor_steps(&out);
    assert_eq!(
        steps,
        [(true, "DNS".to_string()), (false, "TCP".to_string())],
        "{out}"
    );
    let fail = out.lines().find(|l| l.starts_with("FAIL")).unwrap();
    assert!(fail.contains(&format!("127.0.0.1:{port}")), "{fail}");
    // The hint names the option that may help.
    let hint = out
        .lines()
        .find(|l| l.trim_start().starts_with("->"))
        .unwrap();
    assert!(hint.contains("--base-url"), "{hint}");
}

// ------------------------------------------------------------------------------------------
// The library over HTTPS

#[test]
fn library_verifies_by_default_and_refuses_a_self_signed_certificate() {
    let server = FakeServer::start(Catalog::generate(30));
    let relay = TlsRelay::start(server.addr());
    let client = builder(&relay.base_url()).build().unwrap();
    let err = client.count(&Query::all()).unwrap_err();
    println!("{err}");
    match &err {
        Error::Request { kind, detail, .. } => {
            assert_eq!(*kind, FailureKind::Tls, "{err}");
            assert!(detail.contains("not trusted"), "{detail}");
            assert!(detail.contains("unknown issuer"), "{detail}");
            assert!(detail.contains("--ca-file"), "{detail}");
        }
        other => panic!("expected a TLS request error, got {other:?}"),
    }
    // Nothing got through: no handshake completed (the client hung up during it, before
    // sending a request), and the fake server behind the relay saw nothing.
    assert_eq!(server.counters().requests, 0);
    assert_eq!(relay.handshakes(), 0);
    let started = Instant::now();
    while relay.errors().is_empty() && started.elapsed() < Duration::from_secs(10) {
        thread::sleep(Duration::from_millis(10));
    }
    assert!(
        !relay.errors().is_empty(),
        "the relay saw the handshake fail"
    );
}

#[test]
fn library_ca_file_trusts_the_certificate() {
    let server = FakeServer::start(Catalog::generate(30));
    let relay = TlsRelay::start(server.addr());
    let client = builder(&relay.base_url())
        .ca_file(cert_pem())
        .build()
        .unwrap();
    assert_eq!(client.count(&Query::all()).unwrap(), 30);
    let neurons = client.search(&Query::all()).unwrap();
    assert_eq!(neurons.len(), 30);
    // A file over HTTPS, byte for byte.
    let out = TempDir::new();
    let report = client
        .download(&neurons[..3], &DownloadOptions::new(out.path()), |_| {})
        .unwrap();
    assert_eq!((report.downloaded, report.failed.len()), (3, 0));
    for (i, n) in neurons[..3].iter().enumerate() {
        let path = out
            .path()
            .join("downloads")
            .join(format!("{}.swc", n.neuron_name()));
        assert_eq!(
            std::fs::read(&path).unwrap(),
            server.catalog().swc_bytes(i),
            "{}",
            path.display()
        );
    }
    assert!(relay.handshakes() >= 1 + 1 + 3, "count, page, 3 files");
    assert_eq!(server.counters().files, 3);
}

#[test]
fn library_insecure_skips_verification() {
    let server = FakeServer::start(Catalog::generate(12));
    let relay = TlsRelay::start(server.addr());
    let client = builder(&relay.base_url()).insecure(true).build().unwrap();
    assert_eq!(client.count(&Query::all()).unwrap(), 12);
    assert_eq!(server.counters().count, 1);
}

#[test]
fn library_rejects_unusable_ca_files() {
    // A PEM file with a key and no certificate.
    let err = builder("https://127.0.0.1:1")
        .ca_file(key_pem())
        .build()
        .unwrap_err();
    assert!(matches!(err, Error::InvalidSetting { .. }), "{err:?}");
    assert!(err.to_string().contains("no certificate found"), "{err}");
    // A file that does not exist.
    let missing = fixtures_dir().join("tls/missing.pem");
    let err = builder("https://127.0.0.1:1")
        .ca_file(&missing)
        .build()
        .unwrap_err();
    assert!(err.to_string().contains("missing.pem"), "{err}");
}

// ------------------------------------------------------------------------------------------
// The CLI over HTTPS

#[test]
fn cli_refuses_an_untrusted_certificate_with_a_clear_message() {
    let server = FakeServer::start(Catalog::generate(20));
    let relay = TlsRelay::start(server.addr());
    let url = relay.base_url();
    let CliOutput { code, out, err } = cli_once(&url).args(["fields"]).run();
    println!("{err}");
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    assert!(out.is_empty(), "{out}");
    assert!(err.contains("not trusted"), "{err}");
    assert!(err.contains("unknown issuer"), "{err}");
    assert!(err.contains("--ca-file"), "{err}");
    assert!(err.contains("[tls]"), "{err}");
    assert_eq!(server.counters().requests, 0);
}

#[test]
fn cli_ca_file_succeeds_without_a_warning() {
    let server = FakeServer::start(Catalog::generate(20));
    let relay = TlsRelay::start(server.addr());
    let url = relay.base_url();
    let ca = cert_pem();
    let ca = ca.to_str().unwrap();
    let CliOutput { code, out, err } = cli_once(&url).args(["--ca-file", ca, "fields"]).run();
    assert_eq!(code, 0, "stderr:\n{err}");
    assert_eq!(field_lines(&out), NEURON_FIELDS);
    assert!(!err.contains("warning"), "{err}");
    assert_eq!(server.counters().fields, 1);
}

#[test]
fn cli_ssl_cert_file_is_honoured() {
    let server = FakeServer::start(Catalog::generate(20));
    let relay = TlsRelay::start(server.addr());
    let url = relay.base_url();
    let ca = cert_pem();
    let CliOutput { code, out, err } = cli_once(&url)
        .args(["fields", "species"])
        .env("SSL_CERT_FILE", ca.to_str().unwrap())
        .run();
    assert_eq!(code, 0, "stderr:\n{err}");
    let species: Vec<&str> = field_lines(&out);
    assert!(
        species.contains(&"monkey") && species.contains(&"mouse"),
        "{out}"
    );
    // SSL_CERT_FILE pointing nowhere is an error that names the file, not a silent fallback.
    let CliOutput { code, err, .. } = cli_once(&url)
        .args(["fields"])
        .env("SSL_CERT_FILE", "/nonexistent/ca.pem")
        .run();
    assert_eq!(code, 1, "{err}");
    assert!(err.contains("/nonexistent/ca.pem"), "{err}");
}

#[test]
fn cli_insecure_succeeds_and_warns_on_every_command() {
    let server = FakeServer::start(Catalog::generate(20));
    let relay = TlsRelay::start(server.addr());
    let url = relay.base_url();
    let CliOutput { code, out, err } = cli_once(&url).args(["--insecure", "fields"]).run();
    println!("{err}");
    assert_eq!(code, 0, "stderr:\n{err}");
    assert_eq!(field_lines(&out), NEURON_FIELDS);
    assert!(
        err.contains("warning") && err.contains("verification is OFF"),
        "{err}"
    );
    // A download job too (its logging starts later than for the other commands).
    let dir = TempDir::new();
    let dir_s = dir.path().to_str().unwrap();
    let CliOutput { code, err, .. } = cli_once(&url)
        .args([
            "--insecure",
            "download",
            "-f",
            "species=monkey",
            "-o",
            dir_s,
            "--no-log",
        ])
        .run();
    println!("{err}");
    assert_eq!(code, 0, "stderr:\n{err}");
    assert!(
        err.contains("warning") && err.contains("verification is OFF"),
        "download --insecure must warn:\n{err}"
    );
    let monkeys = (0..20)
        .filter(|&i| server.catalog().record_value(i)["species"] == "monkey")
        .count();
    assert!(monkeys > 0);
    assert_eq!(
        std::fs::read_dir(dir.path().join("downloads"))
            .unwrap()
            .count(),
        monkeys
    );
}

#[test]
fn cli_doctor_names_the_certificate_problem() {
    let server = FakeServer::start(Catalog::generate(20));
    let relay = TlsRelay::start(server.addr());
    let url = relay.base_url();
    let CliOutput { code, out, err } = cli_once(&url).args(["doctor"]).run();
    println!("{out}{err}");
    assert_eq!(code, 1, "stdout:\n{out}\nstderr:\n{err}");
    let steps = doctor_steps(&out);
    assert_eq!(
        steps,
        [
            (true, "DNS".to_string()),
            (true, "TCP".to_string()),
            (false, "TLS".to_string())
        ],
        "{out}"
    );
    let tls = out.lines().find(|l| l.starts_with("FAIL")).unwrap();
    assert!(
        tls.contains("unknown issuer") && tls.contains("not trusted"),
        "{tls}"
    );
    let hint = out
        .lines()
        .find(|l| l.trim_start().starts_with("->"))
        .unwrap();
    assert!(
        hint.contains("--ca-file") && hint.contains("--insecure"),
        "{hint}"
    );
    assert_eq!(server.counters().requests, 0);
}

#[test]
fn cli_doctor_passes_with_ca_file_and_with_insecure() {
    let server = FakeServer::start(Catalog::generate(20));
    let relay = TlsRelay::start(server.addr());
    let url = relay.base_url();
    let ca = cert_pem();
    let expected = ["DNS", "TCP", "TLS", "HTTP", "health", "database", "file"];

    let CliOutput { code, out, err } = cli_once(&url)
        .args(["doctor", "--ca-file", ca.to_str().unwrap()])
        .run();
    println!("{out}{err}");
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let steps = doctor_steps(&out);
    assert_eq!(
        steps.iter().map(|(_, s)| s.as_str()).collect::<Vec<_>>(),
        expected
    );
    assert!(steps.iter().all(|(ok, _)| *ok), "{out}");
    let tls = out.lines().find(|l| l.contains(" TLS ")).unwrap();
    assert!(tls.contains("certificate verified"), "{tls}");
    assert!(!err.contains("warning"), "{err}");

    let CliOutput { code, out, err } = cli_once(&url).args(["--insecure", "doctor"]).run();
    println!("{out}{err}");
    assert_eq!(code, 0, "stdout:\n{out}\nstderr:\n{err}");
    let steps = doctor_steps(&out);
    assert!(steps.iter().all(|(ok, _)| *ok), "{out}");
    assert_eq!(steps.len(), expected.len(), "{out}");
    // It does not claim a verification it did not do.
    let tls = out.lines().find(|l| l.contains(" TLS ")).unwrap();
    assert!(tls.contains("NOT verified"), "{tls}");
    assert!(err.contains("verification is OFF"), "{err}");
    // Both runs downloaded the file through the relay.
    assert_eq!(server.counters().files, 2);
}
