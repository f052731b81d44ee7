//! TLS settings: rustls with verification on against one built-in set of Mozilla roots,
//! optionally extra CA certificates, or no verification at all.

use std::path::PathBuf;
use std::sync::{Arc, OnceLock};

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::error::{Error, Result};

/// The Mozilla roots (webpki-root-certs), converted once per process.
fn mozilla_roots() -> &'static [Certificate<'static>] {
    static ROOTS: OnceLock<Vec<Certificate<'static>>> = OnceLock::new();
    ROOTS.get_or_init(|| {
        webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|c| Certificate::from_der(c.as_ref()).to_owned())
            .collect()
    })
}

/// Build ureq's TLS configuration.
///
/// Extra CA files are *added* to the Mozilla roots: a site proxy's CA or a server's missing
/// intermediate certificate then verifies without turning verification off. (ureq's own
/// webpki-roots feature is off, so the binary carries one set of roots, not two.)
pub(crate) fn tls_config(insecure: bool, ca_files: &[PathBuf]) -> Result<TlsConfig> {
    let mut roots: Vec<Certificate<'static>> = mozilla_roots().to_vec();
    for path in ca_files {
        let shown = path.display();
        let pem =
            std::fs::read(path).map_err(|e| Error::setting("ca_file", format!("{shown}: {e}")))?;
        let before = roots.len();
        for item in ureq::tls::parse_pem(&pem) {
            match item {
                Ok(PemItem::Certificate(c)) => roots.push(c),
                Ok(_) => {}
                Err(e) => {
                    return Err(Error::setting(
                        "ca_file",
                        format!("{shown}: not a valid PEM file ({e})"),
                    ))
                }
            }
        }
        if roots.len() == before {
            return Err(Error::setting(
                "ca_file",
                format!(
                    "{shown}: no certificate found (expected PEM '-----BEGIN CERTIFICATE-----')"
                ),
            ));
        }
        log::debug!(
            "added {} CA certificate(s) from {shown}",
            roots.len() - before
        );
    }
    Ok(TlsConfig::builder()
        .disable_verification(insecure)
        .root_certs(RootCerts::Specific(Arc::new(roots)))
        .build())
}
