//! Step-by-step connection diagnosis: which step fails, and which option may help.

use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde_json::Value;

use crate::archive::NeuronPage;
use crate::client::{Client, Req, ALTERNATE_BASE_URL};
use crate::error::{Error, FailureKind};
use crate::util::text::shown;

/// The result of one step of [`Client::diagnose`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostic {
    /// The step: `DNS`, `TCP`, `TLS`, `HTTP`, `health`, `database`, `file`.
    pub step: &'static str,
    /// Passed.
    pub ok: bool,
    /// What was seen.
    pub detail: String,
    /// On failure, what may help.
    pub hint: Option<String>,
}

impl Diagnostic {
    fn pass(step: &'static str, detail: impl Into<String>) -> Diagnostic {
        Diagnostic {
            step,
            ok: true,
            detail: detail.into(),
            hint: None,
        }
    }
    fn fail(step: &'static str, detail: impl Into<String>, hint: impl Into<String>) -> Diagnostic {
        Diagnostic {
            step,
            ok: false,
            detail: detail.into(),
            hint: Some(hint.into()),
        }
    }
}

/// Steps so far; `Err` ends the diagnosis (a network step failed, later steps would only
/// repeat it).
type Steps = Vec<Diagnostic>;
type Step<T> = std::result::Result<T, ()>;

fn down_hint() -> String {
    format!("the server may be down; try --base-url {ALTERNATE_BASE_URL}")
}

impl Client {
    /// Diagnostic the connection step by step: DNS, TCP connect, TLS handshake (https only),
    /// HTTP, `/api/health`, that `/api/neuron/partition/species` is not empty (the database
    /// answers), and one file download. Stops at the first failing network step; the
    /// health check may fail while data works (NeuroMorpho's has), so it does not stop.
    pub fn diagnose(&self) -> Vec<Diagnostic> {
        let mut steps = Steps::new();
        let _ = self.diagnose_steps(&mut steps);
        steps
    }

    fn diagnose_steps(&self, steps: &mut Steps) -> Step<()> {
        let addrs = self.step_dns(steps)?;
        self.step_tcp(&addrs, steps)?;
        let once = match self.single_attempt() {
            Ok(c) => c,
            Err(e) => {
                steps.push(Diagnostic::fail("HTTP", e.to_string(), "check the options"));
                return Err(());
            }
        };
        once.step_tls_http(steps)?;
        once.step_health(steps);
        once.step_database(steps)?;
        once.step_file(steps);
        Ok(())
    }

    fn step_dns(&self, steps: &mut Steps) -> Step<Vec<SocketAddr>> {
        let (host, port, _) = self.endpoint();
        match (host, port).to_socket_addrs() {
            Ok(a) => {
                let addrs: Vec<SocketAddr> = a.collect();
                let ips: Vec<String> = addrs.iter().take(3).map(|a| a.ip().to_string()).collect();
                steps.push(Diagnostic::pass(
                    "DNS",
                    format!("{host} -> {}", ips.join(", ")),
                ));
                Ok(addrs)
            }
            Err(e) => {
                steps.push(Diagnostic::fail(
                    "DNS",
                    format!("{host}: {e}"),
                    "check the host name, your network or your proxy (--proxy, HTTPS_PROXY)",
                ));
                Err(())
            }
        }
    }

    /// Direct TCP; through a proxy this step says little, the HTTP step decides.
    fn step_tcp(&self, addrs: &[SocketAddr], steps: &mut Steps) -> Step<()> {
        let mut last_err = None;
        for a in addrs {
            match TcpStream::connect_timeout(a, Duration::from_secs(10)) {
                Ok(_) => {
                    steps.push(Diagnostic::pass("TCP", format!("connected to {a}")));
                    return Ok(());
                }
                Err(e) => last_err = Some(e),
            }
        }
        let e = last_err.map(|e| e.to_string()).unwrap_or_default();
        let (host, port, _) = self.endpoint();
        steps.push(Diagnostic::fail(
            "TCP",
            format!("{host}:{port}: {e}"),
            down_hint(),
        ));
        Err(())
    }

    /// TLS and HTTP: one plain request; a TLS failure shows as such.
    fn step_tls_http(&self, steps: &mut Steps) -> Step<()> {
        let (_, _, https) = self.endpoint();
        let probe = format!("{}/api/health", self.base_url());
        let result = self.request(&Req::api(&probe, &[]).quiet_not_found(true), |a| {
            Ok(a.status)
        });
        match &result {
            Err(Error::Request {
                kind: FailureKind::Tls,
                detail,
                ..
            }) => {
                steps.push(Diagnostic::fail(
                    "TLS",
                    shown(detail),
                    "if a site proxy or an incomplete chain is the cause, add its CA or the intermediate with --ca-file PEM; --insecure skips the check at your own risk",
                ));
                return Err(());
            }
            Err(Error::Request { kind, detail, .. })
                if !matches!(
                    kind,
                    FailureKind::Http5xx
                        | FailureKind::NotFound
                        | FailureKind::Http4xx
                        | FailureKind::RateLimited
                ) =>
            {
                if https {
                    steps.push(Diagnostic::pass(
                        "TLS",
                        "handshake not reached or not the problem",
                    ));
                }
                steps.push(Diagnostic::fail(
                    "HTTP",
                    format!("{probe}: {} [{kind}]", shown(detail)),
                    down_hint(),
                ));
                return Err(());
            }
            _ => {}
        }
        if https && self.is_insecure() {
            steps.push(Diagnostic::pass(
                "TLS",
                "handshake done; certificate NOT verified (--insecure)",
            ));
        } else if https {
            steps.push(Diagnostic::pass(
                "TLS",
                "handshake and certificate verified",
            ));
        }
        steps.push(Diagnostic::pass("HTTP", format!("{probe} answered")));
        Ok(())
    }

    fn step_health(&self, steps: &mut Steps) {
        let probe = format!("{}/api/health", self.base_url());
        match self.get_json::<Value>(&probe, &[], "/api/health", false) {
            Ok(v) if v.get("status").and_then(|s| s.as_str()) == Some("UP") => {
                steps.push(Diagnostic::pass("health", "status UP"))
            }
            Ok(v) => steps.push(Diagnostic::fail(
                "health",
                format!("answered {}", shown(&v.to_string())),
                "the server reports a problem; data may still work",
            )),
            Err(e) => steps.push(Diagnostic::fail(
                "health",
                e.to_string(),
                "the health check has failed while data worked before; see the next steps",
            )),
        }
    }

    /// The database: a partition with counts per species.
    fn step_database(&self, steps: &mut Steps) -> Step<()> {
        let url = self.api_url("neuron/partition/species");
        match self.get_json::<Value>(&url, &[], "/api/neuron/partition/species", false) {
            Ok(v) => {
                let n = v
                    .get("fields")
                    .and_then(|f| f.as_object())
                    .map(|m| m.len())
                    .unwrap_or(0);
                if n > 0 {
                    steps.push(Diagnostic::pass("database", format!("{n} species listed")));
                    Ok(())
                } else {
                    steps.push(Diagnostic::fail(
                        "database",
                        "no species listed: the database is not (fully) available",
                        down_hint(),
                    ));
                    Err(())
                }
            }
            Err(e) => {
                steps.push(Diagnostic::fail("database", e.to_string(), down_hint()));
                Err(())
            }
        }
    }

    /// A file: the first neuron's standardized SWC, checked, not kept.
    fn step_file(&self, steps: &mut Steps) {
        let first = self.get_json::<NeuronPage>(
            &self.api_url("neuron"),
            &[("page", "0".into()), ("size", "1".into())],
            "the first neuron",
            false,
        );
        let neuron = match first {
            Ok(p) => p.into_records().0.into_iter().next(),
            Err(e) => {
                steps.push(Diagnostic::fail("file", e.to_string(), down_hint()));
                return;
            }
        };
        let Some(n) = neuron else {
            steps.push(Diagnostic::fail(
                "file",
                "the catalog is empty",
                down_hint(),
            ));
            return;
        };
        let Some(url) = n.swc_url(self.base_url()) else {
            steps.push(Diagnostic::fail(
                "file",
                "the first record has no name or archive",
                "report this to NeuroMorpho.Org",
            ));
            return;
        };
        let got = self.request(&Req::file(&url), |answer| {
            answer.copy_checked(&mut std::io::sink(), crate::swc::Expect::Swc)
        });
        match got {
            Ok(bytes) => steps.push(Diagnostic::pass(
                "file",
                format!("{} ({bytes} bytes, SWC)", shown(n.neuron_name())),
            )),
            Err(e) => steps.push(Diagnostic::fail(
                "file",
                e.to_string(),
                "file downloads fail while the API works; try again later or --base-url",
            )),
        }
    }
}
