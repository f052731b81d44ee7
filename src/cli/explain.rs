//! One line for an error, naming what to do: a local network problem points at the network,
//! the proxy and `neuromorpho doctor`; only a server that answers with errors (or not at
//! all) is called down, with the alternate host suggested.

use neuromorpho::{Client, Error, FailureKind, ProxyMode, ALTERNATE_BASE_URL};

use super::args::NetConfig;

/// The proxy in use, as a user would name it, if any.
fn proxy_in_use(net: &NetConfig) -> Option<String> {
    match &net.proxy {
        ProxyMode::None => None,
        ProxyMode::Url(u) => Some(format!("--proxy {}", neuromorpho::redact(u))),
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

pub fn error(client: &Client, net: &NetConfig, e: Error) -> String {
    let alternate = if client.base_url() == ALTERNATE_BASE_URL {
        String::new()
    } else {
        format!("; NeuroMorpho.Org may be down: try --base-url {ALTERNATE_BASE_URL}")
    };
    match &e {
        Error::Request { .. } if e.is_unreachable() => {
            let check = match proxy_in_use(net) {
                Some(p) => format!("check your network and {p}"),
                None => "check your network connection and the address".to_string(),
            };
            format!("{e}; {check}, or run 'neuromorpho doctor' to see which step fails")
        }
        Error::Request { kind, .. } => match kind {
            FailureKind::Tls => format!("{e} (see 'neuromorpho doctor'){alternate}"),
            FailureKind::Http5xx | FailureKind::Timeout | FailureKind::Connection => {
                let via = proxy_in_use(net)
                    .map(|p| format!(" (through {p})"))
                    .unwrap_or_default();
                format!("{e}{via}{alternate}")
            }
            _ => e.to_string(),
        },
        _ => e.to_string(),
    }
}
