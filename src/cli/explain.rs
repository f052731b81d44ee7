//! One line for an error, naming what to do: a request no server answered (DNS, a refused or
//! broken connection) points at the network, the proxy and `neuromorpho doctor`; only a
//! server that answers with errors is called down, with the alternate host suggested; a
//! timeout names both the network and `--timeout`.

use neuromorpho::{Client, Error, FailureKind, ProxyMode, ALTERNATE_BASE_URL};

use super::args::NetConfig;

/// The proxy in use, as a user would name it, if any.
fn proxy_in_use(net: &NetConfig) -> Option<String> {
    match &net.proxy {
        ProxyMode::None => None,
        ProxyMode::Url(u) => Some(format!("--proxy {}", neuromorpho::text::redact(u))),
        ProxyMode::Env => [
            "ALL_PROXY",
            "all_proxy",
            "HTTPS_PROXY",
            "https_proxy",
            "HTTP_PROXY",
            "http_proxy",
        ]
        .iter()
        .find(|v| std::env::var(v).is_ok_and(|x| !x.trim().is_empty()))
        .map(|v| format!("the proxy in {v}")),
        _ => None,
    }
}

/// Whether a request failed because the host name did not resolve: ureq's own verdict, or
/// the resolver's error that std passes on as it is (`failed to lookup address information`),
/// which the library classifies only as a network error.
fn is_dns_failure(e: &Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(s) = source {
        if matches!(
            s.downcast_ref::<ureq::Error>(),
            Some(ureq::Error::HostNotFound)
        ) {
            return true;
        }
        if s.downcast_ref::<std::io::Error>().is_some_and(|io| {
            io.to_string()
                .contains("failed to lookup address information")
        }) {
            return true;
        }
        source = s.source();
    }
    false
}

/// `check your network and --proxy URL` (or the proxy variable, or the address).
fn check_network(net: &NetConfig) -> String {
    match proxy_in_use(net) {
        Some(p) => format!("check your network and {p} (is the proxy running?)"),
        None => "check your network connection and the address".to_string(),
    }
}

pub fn error(client: &Client, net: &NetConfig, e: Error) -> String {
    let alternate = if client.base_url() == ALTERNATE_BASE_URL {
        String::new()
    } else {
        format!("; NeuroMorpho.Org may be down: try --base-url {ALTERNATE_BASE_URL}")
    };
    let doctor = "run 'neuromorpho doctor' to see which step fails";
    let line = super::output::chain(&e);
    match &e {
        // No server answered: the host did not resolve, nothing accepted the connection, or
        // the connection broke before an answer. That is the network, the address or the
        // proxy, not a server that is down.
        Error::Request {
            kind: FailureKind::Connection,
            ..
        } => {
            // A refused connection says so already; a failed lookup is only a "network error".
            let cause = if is_dns_failure(&e) {
                " (the host name did not resolve)"
            } else {
                ""
            };
            format!("{line}{cause}; {}, or {doctor}", check_network(net))
        }
        Error::Request { .. } if e.is_unreachable() => {
            format!("{line}; {}, or {doctor}", check_network(net))
        }
        Error::Request { kind, .. } => match kind {
            FailureKind::Tls => format!("{line} (see 'neuromorpho doctor'){alternate}"),
            // The server (or the proxy) answered, with errors.
            FailureKind::Http5xx => {
                let via = proxy_in_use(net)
                    .map(|p| format!(" (through {p})"))
                    .unwrap_or_default();
                format!("{line}{via}{alternate}")
            }
            // No answer in time: a slow server or a slow network, not a verdict on either.
            FailureKind::Timeout => {
                let other = if alternate.is_empty() {
                    String::new()
                } else {
                    format!(" or try --base-url {ALTERNATE_BASE_URL}")
                };
                format!(
                    "{line}; {}, or {doctor}; if the server is only slow, raise --timeout{other}",
                    check_network(net)
                )
            }
            _ => line,
        },
        _ => line,
    }
}
