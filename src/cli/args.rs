//! Raw arguments -> one validated `Config`. Runtime code never sees argument types.

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Duration;

use neuromorpho::{FileKind, MetadataFormat, Query, Shard};

use super::help;

/// A usage error: exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

/// How much to say on stderr.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verbosity {
    Quiet,
    Normal,
    Verbose,
}

/// Network settings shared by every command.
#[derive(Debug, Clone)]
pub struct NetConfig {
    pub base_url: String,
    pub user_agent: Option<String>,
    pub timeout: Duration,
    pub retries: u32,
    pub rate: f64,
    pub concurrency: usize,
    pub insecure: bool,
    pub ca_files: Vec<PathBuf>,
    pub proxy: neuromorpho::ProxyMode,
    pub max_file_size: u64,
}

/// A query as given: a file (read at run time, so that a missing or broken file is a run
/// error with exit code 1, not a usage error), plus `-f`/`--sort` from the command line.
#[derive(Debug, Clone)]
pub struct QuerySpec {
    pub file: Option<PathBuf>,
    pub extra: Query,
    pub all: bool,
    /// A short name for the log file: the query file's stem, `all` or `query`.
    pub stem: String,
}

impl QuerySpec {
    /// Read the file (if any) and merge the command-line filters into it.
    pub fn load(&self) -> neuromorpho::Result<Query> {
        let base = match &self.file {
            Some(path) => Query::from_file(path)?,
            None => Query::new(),
        };
        let query = base.merge(self.extra.clone());
        if self.all && !query.is_all() {
            return Err(neuromorpho::Error::Config(
                "--all cannot be combined with filters".into(),
            ));
        }
        Ok(query)
    }
}

/// Where the neurons come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// A query.
    Query(QuerySpec),
    /// Names given on the command line and/or in a file (`-` is stdin).
    Names {
        names: Vec<String>,
        file: Option<PathBuf>,
    },
    /// The `neuron_name` column of an earlier metadata file.
    MetadataFile(PathBuf),
}

/// A `download`, `metadata` or `get` run.
#[derive(Debug, Clone)]
pub struct JobConfig {
    pub source: Source,
    pub out_dir: PathBuf,
    pub metadata_file: PathBuf,
    pub metadata_format: MetadataFormat,
    pub group_by: Vec<String>,
    pub what: Vec<FileKind>,
    pub shard: Option<Shard>,
    pub morphometry: bool,
    pub download: bool,
    pub log_file: bool,
}

/// What to do.
#[derive(Debug, Clone)]
pub enum Command {
    Help(&'static str),
    Version,
    Fields {
        field: Option<String>,
    },
    Preview {
        query: QuerySpec,
        out_dir: PathBuf,
        metadata_file: PathBuf,
    },
    Job(JobConfig),
    Doctor,
}

/// Everything the run needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub net: NetConfig,
    pub verbosity: Verbosity,
    pub command: Command,
}

type Args = pico_args::Arguments;

fn usage(msg: impl Into<String>) -> UsageError {
    UsageError(msg.into())
}

fn pico(e: pico_args::Error) -> UsageError {
    usage(e.to_string())
}

/// Parse the command line (without the program name).
pub fn parse(raw: Vec<OsString>) -> Result<Config, UsageError> {
    let mut a = Args::from_vec(raw);
    // Global flags first: pico-args' subcommand() takes the first argument that remains.
    let help = a.contains(["-h", "--help"]);
    let version = a.contains(["-V", "--version"]);
    let verbose = a.contains(["-v", "--verbose"]);
    let quiet = a.contains(["-q", "--quiet"]);
    if verbose && quiet {
        return Err(usage("--verbose and --quiet cannot be used together"));
    }
    let verbosity = if quiet {
        Verbosity::Quiet
    } else if verbose {
        Verbosity::Verbose
    } else {
        Verbosity::Normal
    };
    let net = parse_net(&mut a)?;
    let sub = a.subcommand().map_err(pico)?;
    let command = match sub.as_deref() {
        None if version => Command::Version,
        None if help => Command::Help(help::MAIN),
        None => {
            let rest = a.finish();
            return Err(usage(match rest.first() {
                Some(arg) => format!("unexpected argument '{}' (a command comes first; see --help)", arg.to_string_lossy()),
                None => "no command given (try 'neuromorpho --help')".to_string(),
            }));
        }
        Some("help") => {
            let topic: Option<String> = a.opt_free_from_str().map_err(pico)?;
            Command::Help(match topic.as_deref() {
                Some(t) => help::for_command(t).ok_or_else(|| usage(format!("no help for unknown command '{t}'")))?,
                None => help::MAIN,
            })
        }
        Some(cmd) if help => Command::Help(
            help::for_command(cmd).ok_or_else(|| usage(format!("unknown command '{cmd}' (see --help)")))?,
        ),
        Some("fields") => Command::Fields {
            field: a.opt_free_from_str().map_err(pico)?,
        },
        Some("preview") => {
            let out_dir = out_dir(&mut a)?;
            let metadata_file = metadata_file(&mut a)?;
            let query = parse_query(&mut a)?;
            Command::Preview {
                query,
                out_dir,
                metadata_file,
            }
        }
        Some("metadata") => Command::Job(parse_job(&mut a, JobKind::Metadata)?),
        Some("download") => Command::Job(parse_job(&mut a, JobKind::Download)?),
        Some("get") => Command::Job(parse_job(&mut a, JobKind::Get)?),
        Some("doctor") => Command::Doctor,
        Some(other) => {
            return Err(usage(format!(
                "unknown command '{other}' (commands: fields, preview, metadata, download, get, doctor)"
            )))
        }
    };
    let rest = a.finish();
    if let Some(arg) = rest.first() {
        let arg = arg.to_string_lossy();
        return Err(usage(if arg.starts_with('-') {
            format!("unknown option '{arg}' (see --help)")
        } else {
            format!("unexpected argument '{arg}'")
        }));
    }
    Ok(Config {
        net,
        verbosity,
        command,
    })
}

fn parse_net(a: &mut Args) -> Result<NetConfig, UsageError> {
    let base_url: Option<String> = a.opt_value_from_str("--base-url").map_err(pico)?;
    let user_agent: Option<String> = a.opt_value_from_str("--user-agent").map_err(pico)?;
    let timeout: Option<f64> = a.opt_value_from_str("--timeout").map_err(pico)?;
    let retries: Option<u32> = a.opt_value_from_str("--retries").map_err(pico)?;
    let rate: Option<f64> = a.opt_value_from_str("--rate").map_err(pico)?;
    let concurrency: Option<usize> = a
        .opt_value_from_str(["-c", "--concurrency"])
        .map_err(pico)?;
    let insecure = a.contains("--insecure");
    let ca_files: Vec<PathBuf> = a
        .values_from_os_str("--ca-file", |s| Ok::<_, String>(PathBuf::from(s)))
        .map_err(pico)?;
    let no_proxy = a.contains("--no-proxy");
    let proxy: Option<String> = a.opt_value_from_str("--proxy").map_err(pico)?;
    let max_file_size: Option<String> = a.opt_value_from_str("--max-file-size").map_err(pico)?;

    let timeout = timeout.unwrap_or(60.0);
    if !(timeout > 0.0 && timeout <= 3600.0) {
        return Err(usage(format!(
            "--timeout must be between 0 and 3600 seconds, got {timeout}"
        )));
    }
    let retries = retries.unwrap_or(4);
    if !(1..=20).contains(&retries) {
        return Err(usage(format!(
            "--retries must be between 1 and 20, got {retries}"
        )));
    }
    let rate = rate.unwrap_or(5.0);
    if !(rate >= 0.0 && rate.is_finite()) {
        return Err(usage(format!(
            "--rate must be 0 (unlimited) or positive, got {rate}"
        )));
    }
    let concurrency = concurrency.unwrap_or(neuromorpho::client::DEFAULT_CONCURRENCY);
    if !(1..=neuromorpho::client::MAX_CONCURRENCY).contains(&concurrency) {
        return Err(usage(format!(
            "-c/--concurrency must be between 1 and {}, got {concurrency}",
            neuromorpho::client::MAX_CONCURRENCY
        )));
    }
    let proxy = match (no_proxy, proxy) {
        (true, Some(_)) => return Err(usage("--proxy and --no-proxy cannot be used together")),
        (true, None) => neuromorpho::ProxyMode::None,
        (false, Some(p)) => neuromorpho::ProxyMode::Url(p),
        (false, None) => neuromorpho::ProxyMode::Env,
    };
    let max_file_size = match max_file_size {
        None => 1 << 30,
        Some(s) => parse_size(&s).ok_or_else(|| {
            usage(format!(
                "--max-file-size '{s}': expected a size such as 500M or 2G"
            ))
        })?,
    };
    Ok(NetConfig {
        base_url: base_url.unwrap_or_else(|| neuromorpho::DEFAULT_BASE_URL.to_string()),
        user_agent,
        timeout: Duration::from_secs_f64(timeout),
        retries,
        rate,
        concurrency,
        insecure,
        ca_files,
        proxy,
        max_file_size,
    })
}

/// `123`, `10K`, `500M`, `2G` (powers of 1024).
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (&s[..i], 1u64 << 10),
        (i, 'm' | 'M') => (&s[..i], 1 << 20),
        (i, 'g' | 'G') => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    let n: u64 = num.trim().parse().ok()?;
    (n > 0).then(|| n.checked_mul(mult)).flatten()
}

fn out_dir(a: &mut Args) -> Result<PathBuf, UsageError> {
    Ok(
        a.opt_value_from_os_str(["-o", "--output"], |s| Ok::<_, String>(PathBuf::from(s)))
            .map_err(pico)?
            .unwrap_or_else(|| PathBuf::from("./neurons")),
    )
}

fn metadata_file(a: &mut Args) -> Result<PathBuf, UsageError> {
    Ok(
        a.opt_value_from_os_str(["-m", "--metadata"], |s| Ok::<_, String>(PathBuf::from(s)))
            .map_err(pico)?
            .unwrap_or_else(|| PathBuf::from("metadata.csv")),
    )
}

/// A query file (positional), `-f FIELD=V1,V2` (repeatable), `--sort FIELD[:desc]`, `--all`.
fn parse_query(a: &mut Args) -> Result<QuerySpec, UsageError> {
    let all = a.contains("--all");
    let filters: Vec<String> = a.values_from_str(["-f", "--filter"]).map_err(pico)?;
    let sort: Option<String> = a.opt_value_from_str("--sort").map_err(pico)?;
    let file: Option<PathBuf> = a
        .opt_free_from_os_str(|s| Ok::<_, String>(PathBuf::from(s)))
        .map_err(pico)?;
    if let Some(f) = file
        .as_ref()
        .filter(|f| f.to_string_lossy().starts_with('-'))
    {
        return Err(usage(format!(
            "unknown option '{}' (see --help)",
            f.display()
        )));
    }
    let mut extra = Query::new();
    for f in &filters {
        let (field, values) = f
            .split_once('=')
            .ok_or_else(|| usage(format!("-f '{f}': expected FIELD=VALUE[,VALUE...]")))?;
        let values: Vec<String> = values
            .split(',')
            .map(|v| v.trim().to_string())
            .filter(|v| !v.is_empty())
            .collect();
        if field.trim().is_empty() || values.is_empty() {
            return Err(usage(format!("-f '{f}': expected FIELD=VALUE[,VALUE...]")));
        }
        extra = extra.filter(field.trim(), values);
    }
    if let Some(s) = sort {
        let (field, dir) = match s.split_once(':') {
            Some((f, d)) => (f, d),
            None => (s.as_str(), "asc"),
        };
        let ascending = match dir {
            "asc" => true,
            "desc" => false,
            other => {
                return Err(usage(format!(
                    "--sort '{s}': direction must be asc or desc, got '{other}'"
                )))
            }
        };
        if field.trim().is_empty() {
            return Err(usage(format!("--sort '{s}': no field")));
        }
        extra = extra.sort_by(field.trim(), ascending);
    }
    if file.is_none() && filters.is_empty() && !all {
        return Err(usage(
            "no query: give a query file, or -f FIELD=VALUE, or --all for the whole catalog",
        ));
    }
    if all && !filters.is_empty() {
        return Err(usage("--all cannot be combined with -f filters"));
    }
    let stem = match &file {
        Some(path) => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "query".into()),
        None if all => "all".into(),
        None => "query".into(),
    };
    Ok(QuerySpec {
        file,
        extra,
        all,
        stem,
    })
}

#[derive(PartialEq)]
enum JobKind {
    Metadata,
    Download,
    Get,
}

fn parse_job(a: &mut Args, kind: JobKind) -> Result<JobConfig, UsageError> {
    let out_dir = out_dir(a)?;
    let metadata_given: Option<PathBuf> = a
        .opt_value_from_os_str(["-m", "--metadata"], |s| Ok::<_, String>(PathBuf::from(s)))
        .map_err(pico)?;
    let format: Option<String> = a.opt_value_from_str("--metadata-format").map_err(pico)?;
    let metadata_format: MetadataFormat = match format {
        None => MetadataFormat::Csv,
        Some(f) => f.parse().map_err(usage)?,
    };
    let morphometry = a.contains("--morphometry");
    let shard: Option<String> = a.opt_value_from_str("--shard").map_err(pico)?;
    let shard = shard.map(|s| Shard::parse(&s)).transpose().map_err(usage)?;
    let (group_by, what, log_file, from_csv, names_file) = if kind == JobKind::Metadata {
        (Vec::new(), Vec::new(), !a.contains("--no-log"), None, None)
    } else {
        let group: Option<String> = a.opt_value_from_str(["-g", "--group-by"]).map_err(pico)?;
        let group_by: Vec<String> = group
            .map(|g| {
                g.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        let what: Option<String> = a.opt_value_from_str("--what").map_err(pico)?;
        let what = match what {
            None => vec![FileKind::Cng],
            Some(w) => FileKind::parse_list(&w).map_err(usage)?,
        };
        let from_csv: Option<PathBuf> = if kind == JobKind::Download {
            a.opt_value_from_os_str("--from-csv", |s| Ok::<_, String>(PathBuf::from(s)))
                .map_err(pico)?
        } else {
            None
        };
        let names_file: Option<PathBuf> = if kind == JobKind::Get {
            a.opt_value_from_os_str("--names", |s| Ok::<_, String>(PathBuf::from(s)))
                .map_err(pico)?
        } else {
            None
        };
        (
            group_by,
            what,
            !a.contains("--no-log"),
            from_csv,
            names_file,
        )
    };
    let source = match kind {
        JobKind::Get => {
            let mut names: Vec<String> = Vec::new();
            while let Some(n) = a.opt_free_from_str::<String>().map_err(pico)? {
                if n.starts_with('-') {
                    return Err(usage(format!(
                        "unknown option '{n}' (see 'neuromorpho get --help')"
                    )));
                }
                names.push(n);
            }
            if names.is_empty() && names_file.is_none() {
                return Err(usage("no neuron names: give NAME... or --names FILE"));
            }
            Source::Names {
                names,
                file: names_file,
            }
        }
        _ => match from_csv {
            Some(path) => Source::MetadataFile(path),
            None => Source::Query(parse_query(a)?),
        },
    };
    let metadata_file = metadata_given.unwrap_or_else(|| {
        let ext = match metadata_format {
            MetadataFormat::Jsonl => "jsonl",
            _ => "csv",
        };
        match shard {
            // Shards of one job share the output folder: each writes its own table.
            Some(s) => PathBuf::from(format!("metadata.shard-{}-of-{}.{ext}", s.index, s.count)),
            None => PathBuf::from(format!("metadata.{ext}")),
        }
    });
    Ok(JobConfig {
        source,
        out_dir,
        metadata_file,
        metadata_format,
        group_by,
        what,
        shard,
        morphometry,
        download: kind != JobKind::Metadata,
        log_file,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<OsString> {
        s.split_whitespace().map(OsString::from).collect()
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("10"), Some(10));
        assert_eq!(parse_size("2K"), Some(2048));
        assert_eq!(parse_size("1G"), Some(1 << 30));
        assert_eq!(parse_size("0"), None);
        assert_eq!(parse_size("lots"), None);
    }

    #[test]
    fn download_flags() {
        let c = parse(args("download -f species=mouse,rat -f archive=X -o out -c 4 -g species,archive --no-log --what cng,logs")).unwrap();
        let Command::Job(j) = c.command else {
            panic!("not a job")
        };
        assert_eq!(c.net.concurrency, 4);
        assert_eq!(j.out_dir, PathBuf::from("out"));
        assert_eq!(j.metadata_file, PathBuf::from("metadata.csv"));
        assert_eq!(j.group_by, vec!["species", "archive"]);
        assert!(!j.log_file);
        assert_eq!(j.what.len(), 3);
        let Source::Query(spec) = j.source else {
            panic!("not a query")
        };
        assert_eq!(spec.load().unwrap().filters().len(), 2);
    }

    #[test]
    fn usage_errors() {
        for bad in [
            "download",
            "download -f species",
            "download --all -c 0",
            "download --all -c 1000",
            "download --all --bogus",
            "frobnicate",
            "download --all --sort neuron_id:sideways",
            "download --all --shard 4/3",
            "",
            "-v -q fields",
        ] {
            assert!(parse(args(bad)).is_err(), "{bad:?} should be a usage error");
        }
        assert!(matches!(
            parse(args("--verbose fields species")).unwrap().command,
            Command::Fields { field: Some(_) }
        ));
        assert!(matches!(
            parse(args("download --help")).unwrap().command,
            Command::Help(_)
        ));
    }

    #[test]
    fn shard_names_its_table() {
        let c = parse(args("download --all --shard 2/3")).unwrap();
        let Command::Job(j) = c.command else { panic!() };
        assert_eq!(j.metadata_file, PathBuf::from("metadata.shard-2-of-3.csv"));
    }
}
