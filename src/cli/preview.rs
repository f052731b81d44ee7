//! `neuromorpho preview QUERY`: the count, the folders it would write and the first names;
//! writes nothing.

use std::path::Path;

use super::args::{Config, Dataset, QuerySpec};
use super::{build_client, describe, exit, explain, logging, output, Failure};

pub fn run(
    config: &Config,
    query: &QuerySpec,
    out_dir: &Path,
    metadata_file: &Path,
    dataset: &Dataset,
) -> Result<u8, Failure> {
    logging::init(config.verbosity, None);
    let query = query.load()?;
    let client = build_client(&config.net)?;
    let fail = |e| explain::error(&client, &config.net, e);
    client.validate(&query).map_err(fail)?;
    let total = client.count(&query).map_err(fail)?;
    let first = client.first(&query, 3).map_err(fail)?;
    let names: Vec<String> = first
        .iter()
        .map(|n| neuromorpho::text::escape(n.neuron_name()).into_owned())
        .collect();
    let names = if names.is_empty() {
        "(none)".to_string()
    } else {
        names.join(", ")
    };
    output::print(&format!(
        "query:     {}\nneurons:   {total}\n{}output:    {}\nmetadata:  {}\nfirst:     {names}\n",
        describe(&query),
        selection(dataset, total),
        out_dir.join("downloads").display(),
        out_dir.join(metadata_file).display(),
    ))?;
    Ok(exit::OK)
}

/// `preview`'s line for `--limit`/`--sample` (empty without them): how many the job would
/// keep of the matches. A share's count is known only once every page is read.
fn selection(d: &Dataset, total: u64) -> String {
    if d.sample.is_none() && d.limit.is_none() {
        return String::new();
    }
    let population = d.limit.map_or(total, |l| l.kept_of(total));
    let mut line = String::from("keeps:     ");
    match d.sample {
        Some(neuromorpho::Sample::Count(n)) => line.push_str(&format!(
            "a sample of {} of {population}",
            n.min(population)
        )),
        Some(share) => line.push_str(&format!(
            "a sample of {share} of {population} (about {})",
            {
                let p = match share {
                    neuromorpho::Sample::Fraction(p) => p.as_fraction(),
                    _ => 1.0,
                };
                (population as f64 * p).round() as u64
            }
        )),
        None => line.push_str(&format!("the first {population}")),
    }
    if d.sample.is_some() {
        line.push_str(&format!(" (seed {})", d.seed.unwrap_or(0)));
    }
    if let (Some(l), Some(_)) = (d.limit, d.sample) {
        line.push_str(&format!(", of the first {l} matches"));
    }
    line.push('\n');
    line
}
