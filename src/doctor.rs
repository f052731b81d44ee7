//! Step-by-step connection diagnosis: which step fails, and which option may help.

use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

use serde_json::Value;

use crate::client::{host_and_port, Client, Kind, ALTERNATE_BASE_URL};
use crate::download::{file_url, stream_checked};
use crate::error::{Error, FailureKind};
use crate::model::NeuronPage;

/// The result of one step of [`Client::diagnose`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    /// The step: `DNS`, `TCP`, `TLS`, `HTTP`, `health`, `database`, `file`.
    pub step: &'static str,
    /// Passed.
    pub ok: bool,
    /// What was seen.
    pub detail: String,
    /// On failure, what may help.
    pub hint: Option<String>,
}

impl Check {
    fn pass(step: &'static str, detail: impl Into<String>) -> Check {
        Check {
            step,
            ok: true,
            detail: detail.into(),
            hint: None,
        }
    }
    fn fail(step: &'static str, detail: impl Into<String>, hint: impl Into<String>) -> Check {
        Check {
            step,
            ok: false,
            detail: detail.into(),
            hint: Some(hint.into()),
        }
    }
}

impl Client {
    /// Check the connection step by step: DNS, TCP connect, TLS handshake (https only),
    /// HTTP, `/api/health`, that `/api/neuron/partition/species` is not empty (the database
    /// answers), and one file download. Stops at the first failing network step; the
    /// health check may fail while data works (NeuroMorpho's has), so it does not stop.
    pub fn diagnose(&self) -> Vec<Check> {
        let mut checks = Vec::new();
        let base = self.base_url().to_string();
        let https = base.starts_with("https://");
        let (host, port) = host_and_port(&base);
        let port = port.unwrap_or(if https { 443 } else { 80 });
        let alt = format!("the server may be down; try --base-url {ALTERNATE_BASE_URL}");

        // DNS
        let addrs: Vec<_> = match (host.as_str(), port).to_socket_addrs() {
            Ok(a) => a.collect(),
            Err(e) => {
                checks.push(Check::fail(
                    "DNS",
                    format!("{host}: {e}"),
                    "check the host name, your network or your proxy (--proxy, HTTPS_PROXY)",
                ));
                return checks;
            }
        };
        let shown: Vec<String> = addrs.iter().take(3).map(|a| a.ip().to_string()).collect();
        checks.push(Check::pass(
            "DNS",
            format!("{host} -> {}", shown.join(", ")),
        ));

        // TCP (direct; through a proxy this step says little, the HTTP step decides)
        let mut connected = None;
        let mut last_err = None;
        for a in &addrs {
            match TcpStream::connect_timeout(a, Duration::from_secs(10)) {
                Ok(_) => {
                    connected = Some(*a);
                    break;
                }
                Err(e) => last_err = Some(e),
            }
        }
        match connected {
            Some(a) => checks.push(Check::pass("TCP", format!("connected to {a}"))),
            None => {
                let e = last_err.map(|e| e.to_string()).unwrap_or_default();
                checks.push(Check::fail(
                    "TCP",
                    format!("{host}:{port}: {e}"),
                    alt.clone(),
                ));
                return checks;
            }
        }

        // TLS and HTTP: one plain request; a TLS failure shows as such.
        let once = match self.single_attempt() {
            Ok(c) => c,
            Err(e) => {
                checks.push(Check::fail("HTTP", e.to_string(), "check the options"));
                return checks;
            }
        };
        let probe = format!("{base}/api/health");
        let result = once.request(Kind::Api, &probe, &[], true, |resp| {
            Ok(resp.status().as_u16())
        });
        match &result {
            Err(Error::Request {
                kind: FailureKind::Tls,
                detail,
                ..
            }) => {
                checks.push(Check::fail(
                    "TLS",
                    detail.clone(),
                    "if a site proxy or an incomplete chain is the cause, add its CA or the intermediate with --ca-file PEM; --insecure skips the check at your own risk",
                ));
                return checks;
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
                    checks.push(Check::pass(
                        "TLS",
                        "handshake not reached or not the problem",
                    ));
                }
                checks.push(Check::fail(
                    "HTTP",
                    format!("{probe}: {detail} [{kind}]"),
                    alt.clone(),
                ));
                return checks;
            }
            _ => {
                if https && self.is_insecure() {
                    checks.push(Check::pass(
                        "TLS",
                        "handshake done; certificate NOT verified (--insecure)",
                    ));
                } else if https {
                    checks.push(Check::pass("TLS", "handshake and certificate verified"));
                }
                checks.push(Check::pass("HTTP", format!("{probe} answered")));
            }
        }

        // Health
        match once.get_json::<Value>(&probe, &[], "/api/health", false) {
            Ok(v) if v.get("status").and_then(|s| s.as_str()) == Some("UP") => {
                checks.push(Check::pass("health", "status UP"))
            }
            Ok(v) => checks.push(Check::fail(
                "health",
                format!("answered {v}"),
                "the server reports a problem; data may still work",
            )),
            Err(e) => checks.push(Check::fail(
                "health",
                e.to_string(),
                "the health check has failed while data worked before; see the next steps",
            )),
        }

        // Database: a partition with counts per species.
        let url = self.api_url("neuron/partition/species");
        match once.get_json::<Value>(&url, &[], "/api/neuron/partition/species", false) {
            Ok(v) => {
                let n = v
                    .get("fields")
                    .and_then(|f| f.as_object())
                    .map(|m| m.len())
                    .unwrap_or(0);
                if n > 0 {
                    checks.push(Check::pass("database", format!("{n} species listed")));
                } else {
                    checks.push(Check::fail(
                        "database",
                        "no species listed: the database is not (fully) available",
                        alt.clone(),
                    ));
                    return checks;
                }
            }
            Err(e) => {
                checks.push(Check::fail("database", e.to_string(), alt.clone()));
                return checks;
            }
        }

        // A file: the first neuron's standardized SWC, checked, not kept.
        let first = once.get_json::<NeuronPage>(
            &self.api_url("neuron"),
            &[("page", "0".into()), ("size", "1".into())],
            "the first neuron",
            false,
        );
        let neuron = match first {
            Ok(p) => p.embedded.and_then(|e| e.neurons.into_iter().next()),
            Err(e) => {
                checks.push(Check::fail("file", e.to_string(), alt));
                return checks;
            }
        };
        let Some(n) = neuron else {
            checks.push(Check::fail("file", "the catalog is empty", alt));
            return checks;
        };
        let Some(url) = file_url(
            &base,
            &n.archive,
            &n.neuron_name,
            None,
            crate::FileKind::Cng,
        ) else {
            checks.push(Check::fail(
                "file",
                "the first record has no name or archive",
                "report this to NeuroMorpho.Org",
            ));
            return checks;
        };
        let max = self.inner.max_file_size;
        let got = once.request(Kind::File, &url, &[], false, |resp| {
            stream_checked(resp, &mut std::io::sink(), true, max)
        });
        match got {
            Ok(bytes) => checks.push(Check::pass(
                "file",
                format!("{} ({bytes} bytes, SWC)", n.neuron_name),
            )),
            Err(e) => checks.push(Check::fail(
                "file",
                e.to_string(),
                "file downloads fail while the API works; try again later or --base-url",
            )),
        }
        checks
    }
}
