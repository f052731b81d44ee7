//! Raw arguments -> one validated `Config`. Runtime code never sees argument types. Every
//! default and range comes from the library (`ClientBuilder`'s constants); every mistake is
//! a usage error that names the option and the form it expects.

use std::ffi::OsString;
use std::ops::RangeInclusive;
use std::path::PathBuf;
use std::time::Duration;

use neuromorpho::swc::View;
use neuromorpho::{
    ClientBuilder, FileKind, Limit, MetadataFormat, ProxyMode, Query, Sample, Shard,
};

use super::flags::{self, Flag, Scope, FLAGS};
use super::help;

/// A usage error: exit code 2.
#[derive(Debug)]
pub struct UsageError(pub String);

fn usage(msg: impl Into<String>) -> UsageError {
    UsageError(msg.into())
}

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
    /// `-c` was given (`check` takes it as its number of threads).
    pub concurrency_given: bool,
    pub insecure: bool,
    pub ca_files: Vec<PathBuf>,
    pub proxy: ProxyMode,
    pub max_file_size: u64,
    pub speed_limit: u64,
    pub speed_time: Duration,
    pub max_time: Option<Duration>,
}

/// A query as given: a file (read at run time, so that a missing or broken file is a run
/// error with exit code 1, not a usage error), plus `-f`/`--sort` from the command line,
/// which add to the file's (values merge into a field's list; a sort replaces the file's).
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
    pub fn load(&self) -> Result<Query, String> {
        let base = match &self.file {
            Some(path) => Query::from_file(path).map_err(|e| super::output::chain(&e))?,
            None => Query::new(),
        };
        let query = base.merge(self.extra.clone());
        if self.all && !query.is_all() {
            return Err("--all cannot be combined with filters (the query file has some)".into());
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
    /// The query an earlier search saved in the output folder (`--update` without a query).
    Saved,
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
    pub update: bool,
    pub check_hash: bool,
    pub check: bool,
    /// NeuroM's checks and what a file must pass, with `--check`.
    pub check_settings: super::check_settings::CheckSettings,
    /// `--report`: build the page after the job.
    pub report: bool,
    /// How the page is built (with `--report`).
    pub page: PageConfig,
    /// `--sample`, `--seed`, `--limit` (`None`: not given).
    pub dataset: Dataset,
    /// `pvec` among `--what`.
    pub pvec: bool,
    /// `--mirror DIR` (opened and checked when the job starts).
    pub mirror: Option<PathBuf>,
    /// Which of the settings that shape a folder were given on the command line (the others
    /// come from the folder's run file when the query does).
    pub given: Given,
}

/// Settings of a job given on the command line, not defaulted.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Given {
    pub group_by: bool,
    pub what: bool,
    pub metadata_file: bool,
    pub metadata_format: bool,
    pub morphometry: bool,
}

/// How the collection's page is built (`report`, `download --report`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PageConfig {
    /// `--split-by`.
    pub split_by: Option<String>,
    /// `--columns`.
    pub columns: Option<Vec<String>>,
    /// Not `--no-thumbnails`.
    pub thumbnails: bool,
}

/// What `render` draws, and how.
#[derive(Debug, Clone, PartialEq)]
pub struct RenderConfig {
    pub view: View,
    /// `--width`: one width for every segment, in pixels.
    pub width: Option<f64>,
    /// `--size`: the picture's longer side, in pixels.
    pub size: Option<f64>,
}

/// `--sample`, `--seed` and `--limit` as given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Dataset {
    pub sample: Option<Sample>,
    pub seed: Option<u64>,
    pub limit: Option<Limit>,
}

/// How `check` writes its reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckFormat {
    /// Aligned columns, each issue on its own line under its file.
    Table,
    /// One JSON object per file and line.
    Jsonl,
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
        dataset: Dataset,
    },
    Job(Box<JobConfig>),
    Doctor,
    Verify {
        out_dir: PathBuf,
        repair: bool,
        hash: bool,
        threads: Option<usize>,
    },
    /// The completion script of a shell.
    Completions(String),
    /// `check PATH...`: `threads` is `-c` when given (else the library's default).
    Check {
        paths: Vec<PathBuf>,
        format: CheckFormat,
        threads: Option<usize>,
        settings: super::check_settings::CheckSettings,
    },
    /// `render PATH... [-o OUT]`: `threads` is `-c` when given.
    Render {
        paths: Vec<PathBuf>,
        out_dir: Option<PathBuf>,
        render: RenderConfig,
        threads: Option<usize>,
    },
    /// `report OUT`: `threads` is `-c` when given.
    Report {
        out_dir: PathBuf,
        page: PageConfig,
        threads: Option<usize>,
    },
}

/// Everything the run needs.
#[derive(Debug, Clone)]
pub struct Config {
    pub net: NetConfig,
    pub verbosity: Verbosity,
    pub command: Command,
}

type Args = pico_args::Arguments;

/// Parse the command line (without the program name).
pub fn parse(raw: Vec<OsString>) -> Result<Config, UsageError> {
    // `--help` anywhere: the help of the command named, whatever else is there.
    let help_names: Vec<&str> = flags::find("--help")
        .map(|f| f.names().collect())
        .unwrap_or_default();
    if raw.iter().any(|a| help_names.iter().any(|h| a == h)) {
        let text = raw
            .iter()
            .filter_map(|a| a.to_str())
            .find_map(help::for_command)
            .unwrap_or_else(help::main);
        return Ok(Config {
            net: default_net(),
            verbosity: Verbosity::Normal,
            command: Command::Help(text),
        });
    }
    let mut l = Line {
        args: Args::from_vec(raw),
        command: None,
    };
    // Global options first: pico-args' subcommand() takes the first argument that remains.
    let version = l.switch("--version");
    let verbose = l.switch("--verbose");
    let quiet = l.switch("--quiet");
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
    let net = parse_net(&mut l)?;
    let sub = l
        .args
        .subcommand()
        .map_err(|e| usage(format!("the command: {e}")))?;
    let command = match sub {
        None if version => Command::Version,
        None => {
            let rest = l.args.finish();
            return Err(usage(match rest.first() {
                Some(arg) if arg.to_string_lossy().starts_with('-') => {
                    format!("unknown option '{}' (see --help)", shown(arg))
                }
                Some(arg) => format!(
                    "unexpected argument '{}' (a command comes first; see --help)",
                    shown(arg)
                ),
                None => "no command given (try 'neuromorpho --help')".to_string(),
            }));
        }
        Some(name) => {
            let Some(spec) = flags::command(&name) else {
                let known: Vec<&str> = flags::COMMANDS
                    .iter()
                    .map(|c| c.name)
                    .filter(|c| *c != "help")
                    .collect();
                return Err(usage(format!(
                    "unknown command '{}' (commands: {})",
                    neuromorpho::text::escape(&name),
                    known.join(", ")
                )));
            };
            // From here on, the options of this command are taken too.
            l.command = Some(spec.name);
            parse_command(&mut l, spec.name, &net)?
        }
    };
    l.sweep()?;
    l.reject_leftovers()?;
    Ok(Config {
        net,
        verbosity,
        command,
    })
}

/// The command `name`, once the global options are taken.
fn parse_command(l: &mut Line, name: &str, net: &NetConfig) -> Result<Command, UsageError> {
    Ok(match name {
        "help" => {
            let topic = l.free()?;
            Command::Help(match topic.as_deref() {
                Some(t) => help::for_command(t)
                    .ok_or_else(|| usage(format!("no help for unknown command '{t}'")))?,
                None => help::main(),
            })
        }
        "fields" => Command::Fields { field: l.free()? },
        "preview" => Command::Preview {
            out_dir: out_dir(l)?,
            metadata_file: l
                .path("--metadata")?
                .unwrap_or_else(|| PathBuf::from("metadata.csv")),
            dataset: parse_dataset(l)?,
            query: parse_query(l)?,
        },
        "metadata" => Command::Job(Box::new(parse_job(l, JobKind::Metadata)?)),
        "download" => Command::Job(Box::new(parse_job(l, JobKind::Download)?)),
        "get" => Command::Job(Box::new(parse_job(l, JobKind::Get)?)),
        "doctor" => Command::Doctor,
        "verify" => {
            let repair = l.switch("--repair");
            let hash = !l.switch("--no-hash");
            let threads = l.number("--threads", 1..=64, "a whole number")?;
            let out_dir = match l.path("--output")? {
                Some(p) => p,
                None => l
                    .free()?
                    .map(PathBuf::from)
                    .ok_or_else(|| usage("verify needs a folder: neuromorpho verify OUT"))?,
            };
            Command::Verify {
                out_dir,
                repair,
                hash,
                threads,
            }
        }
        "check" => parse_check(l, net)?,
        "render" => parse_render(l, net)?,
        "report" => {
            let page = parse_page(l)?;
            let out_dir = match l.path("--output")? {
                Some(p) => p,
                None => l
                    .free()?
                    .map(PathBuf::from)
                    .ok_or_else(|| usage("report needs a folder: neuromorpho report OUT"))?,
            };
            Command::Report {
                out_dir,
                page,
                threads: net.concurrency_given.then_some(net.concurrency),
            }
        }
        "completions" => {
            let shell = l.free()?.ok_or_else(|| {
                usage("completions needs a shell: neuromorpho completions bash|zsh|fish")
            })?;
            let script = super::completions::script(&shell).ok_or_else(|| {
                usage(format!(
                    "completions: unknown shell '{}' (expected bash, zsh or fish)",
                    neuromorpho::text::escape(&shell)
                ))
            })?;
            Command::Completions(script)
        }
        // A command of the table without a parser: the table's test finds it.
        other => {
            return Err(usage(format!(
                "the command '{other}' is declared but not parsed (a bug)"
            )))
        }
    })
}

fn shown(arg: &std::ffi::OsStr) -> String {
    neuromorpho::text::escape(&arg.to_string_lossy()).into_owned()
}

/// The command line being parsed. Options are taken off it through their entry in the
/// table (names, aliases, value, repeatable), in the order the code asks for them (that
/// order decides which of two mistakes is named first); an option the command does not
/// accept is never taken, so it is left over: an unknown option.
struct Line {
    args: Args,
    /// The command once known; before it, only global options are taken.
    command: Option<&'static str>,
}

impl Line {
    /// The table's entry for the option `long`, if it may be taken here.
    fn flag(&self, long: &str) -> Option<&'static Flag> {
        let flag = FLAGS.iter().find(|f| f.long == long)?;
        let here = match self.command {
            None => flag.scope == Scope::Global,
            Some(command) => flag.accepted_by(command),
        };
        here.then_some(flag)
    }

    /// A switch: given once or more (a repeated switch changes nothing).
    fn switch(&mut self, long: &str) -> bool {
        let Some(flag) = self.flag(long) else {
            return false;
        };
        let mut found = false;
        for name in flag.names() {
            while self.args.contains(name) {
                found = true;
            }
        }
        found
    }

    /// The next value of `flag` by any of its names, with the name it was given by.
    fn next_value(
        &mut self,
        flag: &'static Flag,
    ) -> Result<Option<(&'static str, OsString)>, UsageError> {
        for name in flag.names() {
            let v: Option<OsString> = self
                .args
                .opt_value_from_os_str(name, |s| Ok::<_, String>(s.to_owned()))
                .map_err(|_| usage(format!("{name} needs a value")))?;
            if let Some(v) = v {
                return Ok(Some((name, v)));
            }
        }
        Ok(None)
    }

    /// The values of the option `long`, in the order given, each with the name it was given
    /// by and turned into a `T` by `convert`: every one for a repeatable option (each
    /// converted as it is taken); otherwise at most one (twice is a mistake, named before a
    /// bad value).
    fn values<T>(
        &mut self,
        long: &str,
        convert: fn(&'static str, OsString) -> Result<T, UsageError>,
    ) -> Result<Vec<(&'static str, T)>, UsageError> {
        let Some(flag) = self.flag(long) else {
            return Ok(Vec::new());
        };
        let mut values = Vec::new();
        let mut once: Option<(&'static str, OsString)> = None;
        while let Some((name, v)) = self.next_value(flag)? {
            if flag.repeat {
                values.push((name, convert(name, v)?));
                continue;
            }
            if let Some((first, _)) = &once {
                return Err(usage(if *first == name {
                    format!("{first} is given twice; give it once")
                } else {
                    format!("{first} and {name} are the same option; give it once")
                }));
            }
            once = Some((name, v));
        }
        if let Some((name, v)) = once {
            values.push((name, convert(name, v)?));
        }
        Ok(values)
    }

    /// Every value of a text option, in the order given (`-f`).
    fn texts(&mut self, long: &str) -> Result<Vec<(&'static str, String)>, UsageError> {
        self.values(long, |name, v| {
            v.into_string()
                .map_err(|v| usage(format!("{name} '{}': not valid UTF-8", shown(&v))))
        })
    }

    /// A text option.
    fn text(&mut self, long: &str) -> Result<Option<(&'static str, String)>, UsageError> {
        Ok(self.texts(long)?.into_iter().next())
    }

    fn path(&mut self, long: &str) -> Result<Option<PathBuf>, UsageError> {
        Ok(self.paths(long)?.into_iter().next())
    }

    /// Every value of a path option (any bytes), in the order given.
    fn paths(&mut self, long: &str) -> Result<Vec<PathBuf>, UsageError> {
        let values = self.values(long, |_, v| Ok(PathBuf::from(v)))?;
        Ok(values.into_iter().map(|(_, p)| p).collect())
    }

    /// A number option in `range`, named by all its names in every message.
    fn number<T>(
        &mut self,
        long: &str,
        range: RangeInclusive<T>,
        form: &str,
    ) -> Result<Option<T>, UsageError>
    where
        T: std::str::FromStr + PartialOrd + std::fmt::Display + Copy,
    {
        let label = self
            .flag(long)
            .map(|f| f.names().collect::<Vec<_>>().join("/"))
            .unwrap_or_default();
        let Some((_, v)) = self.text(long)? else {
            return Ok(None);
        };
        let n: T = v.trim().parse().map_err(|_| {
            usage(format!(
                "{label} '{}': expected {form} between {} and {}",
                neuromorpho::text::escape(&v),
                range.start(),
                range.end()
            ))
        })?;
        if !range.contains(&n) {
            return Err(usage(format!(
                "{label} must be between {} and {}, got {n}",
                range.start(),
                range.end()
            )));
        }
        Ok(Some(n))
    }

    /// Seconds (`30`, `0.5`) in `range`.
    fn seconds(
        &mut self,
        long: &str,
        range: RangeInclusive<Duration>,
    ) -> Result<Option<Duration>, UsageError> {
        let secs = self.number(
            long,
            range.start().as_secs_f64()..=range.end().as_secs_f64(),
            "a number of seconds",
        )?;
        Ok(secs.and_then(|s| Duration::try_from_secs_f64(s).ok()))
    }

    /// A free argument; one that looks like an option is an unknown option.
    fn free(&mut self) -> Result<Option<String>, UsageError> {
        match self.free_path()? {
            Some(p) => p
                .into_os_string()
                .into_string()
                .map(Some)
                .map_err(|s| usage(format!("'{}' is not valid UTF-8", shown(&s)))),
            None => Ok(None),
        }
    }

    /// A free argument taken as a path (any bytes); one that looks like an option, other
    /// than `-` (stdin), is an unknown option.
    fn free_path(&mut self) -> Result<Option<PathBuf>, UsageError> {
        let v: Option<OsString> = self
            .args
            .opt_free_from_os_str(|s| Ok::<_, String>(s.to_owned()))
            .map_err(|e| usage(e.to_string()))?;
        match v {
            Some(s) if s.to_string_lossy().starts_with('-') && s != "-" => {
                self.unread(&s)?;
                Err(usage(format!(
                    "unknown option '{}' (see --help)",
                    shown(&s)
                )))
            }
            other => Ok(other.map(PathBuf::from)),
        }
    }

    /// An option accepted here but still on the line when the code is done with options:
    /// a table entry whose value no code reads (a bug, which the table's test finds).
    fn unread(&self, arg: &std::ffi::OsStr) -> Result<(), UsageError> {
        let accepted = FLAGS
            .iter()
            .filter(|f| self.flag(f.long).is_some())
            .flat_map(|f| f.names())
            .find(|n| arg == *n);
        match accepted {
            Some(name) => Err(usage(format!(
                "{name} is accepted here but not read (a bug)"
            ))),
            None => Ok(()),
        }
    }

    /// Whether the arguments left hold one of these options (not taking it).
    fn holds(&self, longs: &[&str]) -> bool {
        let rest = self.args.clone().finish();
        longs
            .iter()
            .filter_map(|long| self.flag(long))
            .flat_map(|f| f.names())
            .any(|name| rest.iter().any(|r| r == name))
    }

    /// Every option accepted here was asked for (see [`Line::unread`]).
    fn sweep(&self) -> Result<(), UsageError> {
        self.args
            .clone()
            .finish()
            .iter()
            .try_for_each(|arg| self.unread(arg))
    }

    /// Whatever was not taken is a mistake: an unknown option or an extra argument.
    fn reject_leftovers(self) -> Result<(), UsageError> {
        let rest = self.args.finish();
        match rest.first() {
            None => Ok(()),
            Some(arg) if arg.to_string_lossy().starts_with('-') => Err(usage(format!(
                "unknown option '{}' (see --help)",
                shown(arg)
            ))),
            Some(arg) => Err(usage(format!("unexpected argument '{}'", shown(arg)))),
        }
    }
}

fn default_net() -> NetConfig {
    NetConfig {
        base_url: neuromorpho::DEFAULT_BASE_URL.to_string(),
        user_agent: None,
        timeout: ClientBuilder::DEFAULT_READ_TIMEOUT,
        retries: ClientBuilder::DEFAULT_RETRIES,
        rate: ClientBuilder::DEFAULT_RATE,
        concurrency: ClientBuilder::DEFAULT_CONCURRENCY,
        concurrency_given: false,
        insecure: false,
        ca_files: Vec::new(),
        proxy: ProxyMode::Env,
        max_file_size: ClientBuilder::DEFAULT_MAX_FILE_SIZE,
        speed_limit: ClientBuilder::DEFAULT_SPEED_LIMIT,
        speed_time: ClientBuilder::DEFAULT_SPEED_TIME,
        max_time: None,
    }
}

fn parse_net(l: &mut Line) -> Result<NetConfig, UsageError> {
    let mut net = default_net();
    if let Some((_, url)) = l.text("--base-url")? {
        net.base_url = url;
    }
    net.user_agent = l.text("--user-agent")?.map(|(_, v)| v);
    let timeouts = ClientBuilder::TIMEOUT;
    if let Some(secs) = l.seconds("--timeout", timeouts.clone())? {
        net.timeout = secs;
    }
    if let Some(n) = l.number("--retries", ClientBuilder::RETRIES, "a whole number")? {
        net.retries = n;
    }
    if let Some((_, r)) = l.text("--rate")? {
        net.rate = parse_rate(&r)?;
    }
    if let Some(n) = l.number(
        "--concurrency",
        ClientBuilder::CONCURRENCY,
        "a whole number",
    )? {
        net.concurrency = n;
        net.concurrency_given = true;
    }
    net.insecure = l.switch("--insecure");
    net.ca_files = l.paths("--ca-file")?;
    let no_proxy = l.switch("--no-proxy");
    let proxy = l.text("--proxy")?.map(|(_, v)| v);
    net.proxy = match (no_proxy, proxy) {
        (true, Some(_)) => return Err(usage("--proxy and --no-proxy cannot be used together")),
        (true, None) => ProxyMode::None,
        (false, Some(p)) => ProxyMode::Url(check_proxy_url(&p)?),
        (false, None) => ProxyMode::Env,
    };
    if let Some((_, s)) = l.text("--max-file-size")? {
        net.max_file_size = parse_size(&s).ok_or_else(|| {
            usage(format!(
                "--max-file-size '{}': expected a size such as 500M or 2G",
                neuromorpho::text::escape(&s)
            ))
        })?;
    }
    if let Some((_, s)) = l.text("--speed-limit")? {
        net.speed_limit = parse_size(&s)
            .or((s.trim() == "0").then_some(0))
            .ok_or_else(|| {
                usage(format!(
                    "--speed-limit '{}': expected bytes per second such as 1000 or 10K (0: off)",
                    neuromorpho::text::escape(&s)
                ))
            })?;
    }
    if let Some(secs) = l.seconds("--speed-time", timeouts.clone())? {
        net.speed_time = secs;
    }
    net.max_time = l.seconds("--max-time", timeouts)?;
    Ok(net)
}

/// `--proxy URL`: an HTTP(S) proxy (`http://host:port`, `https://...`, or `host:port`). The
/// HTTP client is built without SOCKS support (it would abort the run on one), so a SOCKS
/// URL is refused here, naming the option.
fn check_proxy_url(url: &str) -> Result<String, UsageError> {
    let url = url.trim();
    let scheme = url.split_once("://").map(|(s, _)| s.to_ascii_lowercase());
    match scheme.as_deref() {
        None | Some("http" | "https") if !url.is_empty() => Ok(url.to_string()),
        None | Some("http" | "https") => Err(usage("--proxy needs a value")),
        Some(other) => Err(usage(format!(
            "--proxy '{}': expected an http:// or https:// proxy URL ({other}:// is not supported)",
            neuromorpho::text::redact(url)
        ))),
    }
}

/// `--rate`: 0 (unlimited) or a rate in the library's range.
fn parse_rate(s: &str) -> Result<f64, UsageError> {
    let range = ClientBuilder::RATE;
    let bad = || {
        usage(format!(
            "--rate '{}': expected 0 (unlimited) or requests per second between {} and {}",
            neuromorpho::text::escape(s),
            range.start(),
            range.end()
        ))
    };
    let r: f64 = s.trim().parse().map_err(|_| bad())?;
    if r == 0.0 || range.contains(&r) {
        Ok(r)
    } else {
        Err(bad())
    }
}

/// `123`, `10K`, `500M`, `2G` (powers of 1024).
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let (num, mult) = match s.char_indices().last()? {
        (i, 'k' | 'K') => (s.get(..i)?, 1u64 << 10),
        (i, 'm' | 'M') => (s.get(..i)?, 1 << 20),
        (i, 'g' | 'G') => (s.get(..i)?, 1 << 30),
        _ => (s, 1),
    };
    let n: u64 = num.trim().parse().ok()?;
    (n > 0).then(|| n.checked_mul(mult)).flatten()
}

fn out_dir(l: &mut Line) -> Result<PathBuf, UsageError> {
    Ok(l.path("--output")?
        .unwrap_or_else(|| PathBuf::from("./neurons")))
}

/// Split `V1,V2,"V3, with comma"` at the commas outside double quotes; quotes are removed.
pub fn split_values(s: &str) -> Result<Vec<String>, String> {
    let mut values = Vec::new();
    let mut current = String::new();
    let mut quoted = false;
    for c in s.chars() {
        match c {
            '"' => quoted = !quoted,
            ',' if !quoted => values.push(std::mem::take(&mut current)),
            c => current.push(c),
        }
    }
    if quoted {
        return Err("a double quote is not closed".into());
    }
    values.push(current);
    Ok(values
        .into_iter()
        .map(|v| v.trim().to_string())
        .filter(|v| !v.is_empty())
        .collect())
}

/// A query file (positional), `-f FIELD=V1,V2` (repeatable), `--sort FIELD[:desc]`, `--all`.
fn parse_query(l: &mut Line) -> Result<QuerySpec, UsageError> {
    let all = l.switch("--all");
    let filters: Vec<String> = l.texts("--filter")?.into_iter().map(|(_, f)| f).collect();
    let sort = l.text("--sort")?.map(|(_, v)| v);
    let file = l.free()?.map(PathBuf::from);
    let mut extra = Query::new();
    for f in &filters {
        let form = || {
            usage(format!(
                "-f '{}': expected FIELD=VALUE[,VALUE...] (quote a value that holds commas: \
                 -f 'domain=\"Dendrites, Soma, No Axon\"')",
                neuromorpho::text::escape(f)
            ))
        };
        let (field, values) = f.split_once('=').ok_or_else(form)?;
        let values = split_values(values)
            .map_err(|why| usage(format!("-f '{}': {why}", neuromorpho::text::escape(f))))?;
        if field.trim().is_empty() || values.is_empty() {
            return Err(form());
        }
        extra = extra.filter(field.trim(), values);
    }
    if let Some(s) = sort {
        extra = parse_sort(&s, extra)?;
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

/// `--sort FIELD[:asc|:desc]`.
fn parse_sort(s: &str, query: Query) -> Result<Query, UsageError> {
    let (field, dir) = s.split_once(':').unwrap_or((s, "asc"));
    let ascending = match dir {
        "asc" => true,
        "desc" => false,
        other => {
            return Err(usage(format!(
                "--sort '{}': the direction must be asc or desc, got '{}'",
                neuromorpho::text::escape(s),
                neuromorpho::text::escape(other)
            )))
        }
    };
    if field.trim().is_empty() {
        return Err(usage(format!(
            "--sort '{}': no field (expected FIELD or FIELD:desc)",
            neuromorpho::text::escape(s)
        )));
    }
    Ok(query.sort_by(field.trim(), ascending))
}

/// `check PATH... [--format table|jsonl] [--neurom] [--checks ...] [--neurom-preset ...]
/// [--neurom-set ...] [--require ...]` (`-c N` was taken with the network options).
fn parse_check(l: &mut Line, net: &NetConfig) -> Result<Command, UsageError> {
    let format = match l.text("--format")? {
        None => CheckFormat::Table,
        Some((_, f)) => match f.trim() {
            "table" => CheckFormat::Table,
            "jsonl" => CheckFormat::Jsonl,
            other => {
                return Err(usage(format!(
                    "--format '{}': expected table or jsonl",
                    neuromorpho::text::escape(other)
                )))
            }
        },
    };
    let settings = parse_check_settings(l)?;
    let mut paths = Vec::new();
    while let Some(p) = l.free_path()? {
        paths.push(p);
    }
    if paths.is_empty() {
        return Err(usage(
            "no path given: check PATH... (SWC files, folders, or - for stdin)",
        ));
    }
    Ok(Command::Check {
        paths,
        format,
        threads: net.concurrency_given.then_some(net.concurrency),
        settings,
    })
}

/// `--neurom`, `--checks`, `--neurom-preset`, `--neurom-set` and `--require` (`check`, and
/// `download`/`get` with `--check`).
fn parse_check_settings(l: &mut Line) -> Result<super::check_settings::CheckSettings, UsageError> {
    super::check_settings::CheckSettings::parse(super::check_settings::CheckFlags {
        neurom: l.switch("--neurom"),
        checks: l.text("--checks")?.map(|(_, v)| v),
        preset: l.text("--neurom-preset")?.map(|(_, v)| v),
        set: l
            .texts("--neurom-set")?
            .into_iter()
            .map(|(_, v)| v)
            .collect(),
        require: l.texts("--require")?.into_iter().map(|(_, v)| v).collect(),
    })
    .map_err(usage)
}

/// `render PATH... [-o OUT] [--view V] [--width PX] [--size PX]`.
fn parse_render(l: &mut Line, net: &NetConfig) -> Result<Command, UsageError> {
    let out_dir = l.path("--output")?;
    let view = match l.text("--view")? {
        None => View::Xy,
        Some((name, v)) => v.parse::<View>().map_err(|_| {
            usage(format!(
                "{name} '{}': expected xy, xz, yz, sheet or dendrogram",
                neuromorpho::text::escape(&v)
            ))
        })?,
    };
    let width = l.number("--width", 0.1..=50.0, "a number of pixels")?;
    let size = l.number("--size", 100.0..=10000.0, "a number of pixels")?;
    let mut paths = Vec::new();
    while let Some(p) = l.free_path()? {
        paths.push(p);
    }
    if paths.is_empty() {
        return Err(usage(
            "no path given: render PATH... (SWC files, folders, or - for stdin)",
        ));
    }
    Ok(Command::Render {
        paths,
        out_dir,
        render: RenderConfig { view, width, size },
        threads: net.concurrency_given.then_some(net.concurrency),
    })
}

/// The page's options: `--split-by FIELD`, `--columns A,B`, `--no-thumbnails`.
fn parse_page(l: &mut Line) -> Result<PageConfig, UsageError> {
    let split_by = match l.text("--split-by")? {
        Some((name, f)) if f.trim().is_empty() => {
            return Err(usage(format!("{name}: no field given (e.g. cell_type)")))
        }
        Some((_, f)) => Some(f.trim().to_string()),
        None => None,
    };
    let columns = match l.text("--columns")? {
        Some((name, c)) => {
            let list: Vec<String> = c
                .split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect();
            if list.is_empty() {
                return Err(usage(format!(
                    "{name}: no field given (expected FIELD[,FIELD...], e.g. species,stain)"
                )));
            }
            Some(list)
        }
        None => None,
    };
    Ok(PageConfig {
        split_by,
        columns,
        thumbnails: !l.switch("--no-thumbnails"),
    })
}

#[derive(PartialEq)]
enum JobKind {
    Metadata,
    Download,
    Get,
}

fn parse_job(l: &mut Line, kind: JobKind) -> Result<JobConfig, UsageError> {
    let out_dir = out_dir(l)?;
    let metadata_given = l.path("--metadata")?;
    let mut given = Given {
        metadata_file: metadata_given.is_some(),
        ..Given::default()
    };
    let metadata_format: MetadataFormat = match l.text("--metadata-format")? {
        None => MetadataFormat::Csv,
        Some((_, f)) => {
            given.metadata_format = true;
            f.parse()
                .map_err(|e: neuromorpho::Error| usage(format!("--metadata-format: {e}")))?
        }
    };
    let morphometry = l.switch("--morphometry");
    given.morphometry = morphometry;
    // download and get only: for metadata, the table leaves them on the line (unknown).
    let update = l.switch("--update");
    let check_hash = l.switch("--check-hash");
    let check_settings = parse_check_settings(l)?;
    // NeuroM's checks or a requirement ask for the check: no --check needed besides.
    let check =
        l.switch("--check") || check_settings.neurom.is_some() || check_settings.require.is_some();
    let report = l.switch("--report");
    let page = parse_page(l)?;
    let shard = match l.text("--shard")? {
        None => None,
        Some((_, s)) => Some(
            s.parse::<Shard>()
                .map_err(|e| usage(format!("--shard: {e}")))?,
        ),
    };
    let log_file = !l.switch("--no-log");
    let dataset = parse_dataset(l)?;
    let mirror = l.path("--mirror")?;
    let mut pvec = false;
    let (group_by, what) = if kind == JobKind::Metadata {
        if let Some((_, w)) = l.text("--what")? {
            let (kinds, p) = parse_what(&w)?;
            if !kinds.is_empty() {
                return Err(usage(
                    "--what: metadata writes no files, only the tables: it takes pvec alone \
                     (use download for files)",
                ));
            }
            pvec = p;
        }
        (Vec::new(), Vec::new())
    } else {
        let group_by = match l.text("--group-by")? {
            None => Vec::new(),
            Some((name, g)) => {
                given.group_by = true;
                let fields: Vec<String> = g
                    .split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect();
                if fields.is_empty() {
                    return Err(usage(format!(
                        "{name} '{}': no field given (expected FIELD[,FIELD...], e.g. species,brain_region)",
                        neuromorpho::text::escape(&g)
                    )));
                }
                fields
            }
        };
        let what = match l.text("--what")? {
            None => vec![FileKind::Cng],
            Some((_, w)) => {
                given.what = true;
                let (kinds, p) = parse_what(&w)?;
                pvec = p;
                kinds
            }
        };
        (group_by, what)
    };
    let from_csv = l.path("--from-csv")?;
    let names_file = l.path("--names")?;
    let source = match kind {
        JobKind::Get => {
            let mut names: Vec<String> = Vec::new();
            while let Some(n) = l.free()? {
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
            Some(path) => {
                let query_given = l.switch("--all")
                    || !l.texts("--filter")?.is_empty()
                    || l.text("--sort")?.is_some()
                    || l.free()?.is_some();
                if query_given {
                    return Err(usage(
                        "--from-csv and a query cannot be used together: the neurons come from the file",
                    ));
                }
                Source::MetadataFile(path)
            }
            // An update without a query repeats the folder's (checked at run time).
            None if update && !query_given(l) => Source::Saved,
            None => Source::Query(parse_query(l)?),
        },
    };
    let metadata_file = metadata_given.unwrap_or_else(|| {
        let ext = metadata_format.extension();
        // Shards of one job share the output folder: each writes its own table.
        let part = shard.map(Shard::suffix).unwrap_or_default();
        PathBuf::from(format!("metadata{part}.{ext}"))
    });
    let download = kind != JobKind::Metadata && !what.is_empty();
    Ok(JobConfig {
        source,
        out_dir,
        metadata_file,
        metadata_format,
        group_by,
        what,
        shard,
        morphometry,
        // `--what pvec` alone: the tables, no file.
        download,
        log_file,
        update,
        check_hash,
        check,
        check_settings,
        report,
        page,
        dataset,
        pvec,
        mirror,
        given,
    })
}

/// `--sample N|P%`, `--seed S`, `--limit N`.
fn parse_dataset(l: &mut Line) -> Result<Dataset, UsageError> {
    // The library's words, after the option's name (not "invalid setting sample:").
    let tail = |e: neuromorpho::Error, setting: &str| {
        let text = e.to_string();
        let prefix = format!("invalid setting {setting}: ");
        text.strip_prefix(&prefix).unwrap_or(&text).to_string()
    };
    let sample = match l.text("--sample")? {
        None => None,
        Some((name, v)) => Some(
            v.parse::<Sample>()
                .map_err(|e| usage(format!("{name} {}", tail(e, "sample"))))?,
        ),
    };
    let seed = match l.text("--seed")? {
        None => None,
        Some((name, v)) => Some(v.trim().parse::<u64>().map_err(|_| {
            usage(format!(
                "{name} '{}': expected a whole number from 0 to {}",
                neuromorpho::text::escape(&v),
                u64::MAX
            ))
        })?),
    };
    let limit = match l.text("--limit")? {
        None => None,
        Some((name, v)) => Some(
            v.parse::<Limit>()
                .map_err(|e| usage(format!("{name} {}", tail(e, "limit"))))?,
        ),
    };
    Ok(Dataset {
        sample,
        seed,
        limit,
    })
}

/// Whether the command line still holds a query (a file, `-f`, `--sort` or `--all`),
/// without taking it.
fn query_given(l: &Line) -> bool {
    l.holds(&["--filter", "--sort", "--all"])
        || l.args
            .clone()
            .finish()
            .iter()
            .any(|r| !r.to_string_lossy().starts_with('-'))
}

/// `--what cng,original,logs,pvec` (`logs` is both standardization reports; `pvec` is no
/// file but the table of persistence vectors): the kinds, and whether pvec was named.
fn parse_what(s: &str) -> Result<(Vec<FileKind>, bool), UsageError> {
    let mut kinds = Vec::new();
    let mut pvec = false;
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let new: Vec<FileKind> = match part {
            "pvec" => {
                pvec = true;
                continue;
            }
            "logs" => vec![FileKind::RemainingIssues, FileKind::StandardizationLog],
            other => vec![other.parse::<FileKind>().map_err(|_| {
                usage(format!(
                    "--what: unknown file kind '{}' (expected cng, original, logs, png, pvec)",
                    neuromorpho::text::escape(other)
                ))
            })?],
        };
        for k in new {
            if !kinds.contains(&k) {
                kinds.push(k);
            }
        }
    }
    if kinds.is_empty() && !pvec {
        return Err(usage(
            "--what: no file kind given (expected cng, original, logs, png, pvec)",
        ));
    }
    Ok((kinds, pvec))
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
        assert_eq!(parse_size("99999999999999999G"), None);
    }

    #[test]
    fn values_with_commas_in_quotes() {
        assert_eq!(split_values("a,b").unwrap(), ["a", "b"]);
        assert_eq!(
            split_values("\"Dendrites, Soma, No Axon\",Axon").unwrap(),
            ["Dendrites, Soma, No Axon", "Axon"]
        );
        assert!(split_values("\"open").is_err());
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
    fn neuromorphopy_aliases() {
        let c = parse(args(
            "download q.json --output-dir out --metadata-filename m.csv --concurrent 7",
        ))
        .unwrap();
        let Command::Job(j) = c.command else { panic!() };
        assert_eq!(c.net.concurrency, 7);
        assert_eq!(j.out_dir, PathBuf::from("out"));
        assert_eq!(j.metadata_file, PathBuf::from("m.csv"));
        assert!(parse(args("download q.json -c 3 --concurrent 4")).is_err());
    }

    #[test]
    fn usage_errors() {
        for bad in [
            "download",
            "download -f species",
            "download --all -c 0",
            "download --all -c 1000",
            "download --all -c abc",
            "download --all --bogus",
            "frobnicate",
            "download --all --sort neuron_id:sideways",
            "download --all --shard 4/3",
            "download --all --rate 1e-30",
            "download --all --timeout 0",
            "download --from-csv m.csv --all",
            "fields -z",
            "",
            "-v -q fields",
        ] {
            assert!(parse(args(bad)).is_err(), "{bad:?} should be a usage error");
        }
        let e = parse(args("download --all -c abc")).unwrap_err().0;
        assert!(
            e.contains("-c/--concurrency/--concurrent") && e.contains("'abc'"),
            "{e}"
        );
        let e = parse(args("download --all --timeout 0")).unwrap_err().0;
        assert!(e.contains("between 0.001 and 86400"), "{e}");
        assert!(matches!(
            parse(args("--verbose fields species")).unwrap().command,
            Command::Fields { field: Some(_) }
        ));
        assert!(matches!(
            parse(args("download -f species=mouse --help"))
                .unwrap()
                .command,
            Command::Help(text) if text == help::for_command("download").unwrap()
        ));
    }

    #[test]
    fn check_paths_format_and_threads() {
        let c = parse(args("check a.swc dir - --format jsonl -c 3")).unwrap();
        let Command::Check {
            paths,
            format,
            threads,
            ..
        } = c.command
        else {
            panic!("not check")
        };
        assert_eq!(paths, ["a.swc", "dir", "-"].map(PathBuf::from));
        assert_eq!(format, CheckFormat::Jsonl);
        assert_eq!(threads, Some(3));
        let c = parse(args("check dir")).unwrap();
        assert!(matches!(
            c.command,
            Command::Check {
                format: CheckFormat::Table,
                threads: None,
                ..
            }
        ));
        for bad in [
            "check",
            "check dir --format xml",
            "check dir --format",
            "check dir --bogus",
            "check dir -c 0",
        ] {
            assert!(parse(args(bad)).is_err(), "{bad:?} should be a usage error");
        }
        let e = parse(args("check dir --format xml")).unwrap_err().0;
        assert!(e.contains("--format 'xml'"), "{e}");
        assert!(matches!(
            parse(args("check dir --help")).unwrap().command,
            Command::Help(text) if text == help::for_command("check").unwrap()
        ));
    }

    #[test]
    fn shard_names_its_table() {
        let c = parse(args("download --all --shard 2/3")).unwrap();
        let Command::Job(j) = c.command else { panic!() };
        assert_eq!(j.metadata_file, PathBuf::from("metadata.shard-2-of-3.csv"));
    }
}
