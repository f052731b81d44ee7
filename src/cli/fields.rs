//! `neuromorpho fields [FIELD]`: the queryable fields, or every value of one, a line each.

use neuromorpho::{Client, Error, FailureKind, Query};

use super::args::Config;
use super::{build_client, exit, explain, logging, output, Failure};

pub fn run(config: &Config, field: Option<&str>) -> Result<u8, Failure> {
    logging::init(config.verbosity, None);
    let client = build_client(&config.net)?;
    let list = list_fields(&client, field).map_err(|e| explain::error(&client, &config.net, e))?;
    let mut out = String::new();
    for v in list {
        out.push_str(&neuromorpho::text::escape(&v));
        out.push('\n');
    }
    output::print(&out)?;
    Ok(exit::OK)
}

/// `fields` or `fields FIELD`; an unknown field is named with the closest ones.
fn list_fields(client: &Client, field: Option<&str>) -> neuromorpho::Result<Vec<String>> {
    match field {
        None => client.fields(),
        Some(f) => client.field_values(f).map_err(|e| match e {
            // A wildcard skips the value check: only the field is judged.
            Error::Request {
                kind: FailureKind::NotFound | FailureKind::Http4xx,
                ..
            } => match client.validate(&Query::new().filter(f, ["*"])) {
                Err(invalid @ Error::InvalidQuery(_)) => invalid,
                _ => e,
            },
            other => other,
        }),
    }
}
