//! TLS settings: rustls with verification on, optionally extra CA certificates or no verification.

use std::path::PathBuf;
use std::sync::Arc;

use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};

use crate::error::{Error, Result};

/// Build ureq's TLS configuration.
///
/// Extra CA files are *added* to the compiled-in Mozilla roots (ureq's `RootCerts::Specific`
/// replaces the set, so we merge ourselves): a site proxy's CA or a server's missing
/// intermediate certificate then verifies without turning verification off.
pub(crate) fn tls_config(insecure: bool, ca_files: &[PathBuf]) -> Result<TlsConfig> {
    let mut builder = TlsConfig::builder().disable_verification(insecure);
    if !ca_files.is_empty() {
        let mut roots: Vec<Certificate<'static>> = webpki_root_certs::TLS_SERVER_ROOT_CERTS
            .iter()
            .map(|c| Certificate::from_der(c.as_ref()).to_owned())
            .collect();
        for path in ca_files {
            let pem = std::fs::read(path)
                .map_err(|e| Error::Config(format!("CA file {}: {e}", path.display())))?;
            let before = roots.len();
            for item in ureq::tls::parse_pem(&pem) {
                match item {
                    Ok(PemItem::Certificate(c)) => roots.push(c),
                    Ok(_) => {}
                    Err(e) => {
                        return Err(Error::Config(format!(
                            "CA file {}: not a valid PEM file ({e})",
                            path.display()
                        )))
                    }
                }
            }
            if roots.len() == before {
                return Err(Error::Config(format!(
                    "CA file {}: no certificate found (expected PEM '-----BEGIN CERTIFICATE-----')",
                    path.display()
                )));
            }
            log::debug!(
                "added {} CA certificate(s) from {}",
                roots.len() - before,
                path.display()
            );
        }
        builder = builder.root_certs(RootCerts::Specific(Arc::new(roots)));
    }
    Ok(builder.build())
}
