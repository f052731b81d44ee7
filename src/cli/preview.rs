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
        output::preview_selection(dataset, total),
        out_dir.join("downloads").display(),
        out_dir.join(metadata_file).display(),
    ))?;
    Ok(exit::OK)
}
