//! `neuromorpho doctor`: DNS, TCP, TLS, HTTP, the API's health, the database and a file
//! download, a line each; exit 1 when one fails.

use super::args::Config;
use super::{build_client, exit, logging, output, Failure};

pub fn run(config: &Config) -> Result<u8, Failure> {
    logging::init(config.verbosity, None);
    let client = build_client(&config.net)?;
    let checks = client.diagnose();
    let mut text = String::new();
    for c in &checks {
        let status = if c.ok { "ok" } else { "FAIL" };
        text.push_str(&format!("{status:<4} {:<9} {}\n", c.step, c.detail));
        if let Some(h) = &c.hint {
            text.push_str(&format!("{:<14} -> {h}\n", ""));
        }
    }
    output::print(&text)?;
    Ok(if checks.iter().all(|c| c.ok) {
        exit::OK
    } else {
        exit::ERROR
    })
}
