//! The one table of the command line: every option (its names, its value, its help, what
//! completes it, where it is accepted) and every command (its free arguments and its help).
//! The parser (`args`), the help texts (`help`) and the completion scripts (`completions`)
//! are all generated from it: adding an option is one entry in [`FLAGS`], plus the code in
//! `args` that turns its value into the `Config`.

/// What completes a value (of an option, or a command's free arguments).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hint {
    /// Nothing to offer: a switch, a number, a URL, a name.
    None,
    /// A file (folders are offered too, to walk into).
    File,
    /// A folder.
    Folder,
    /// A field name (`-g`, `--sort`).
    Field,
    /// `FIELD=`, the start of a filter (`-f`).
    FieldEquals,
    /// One of these words.
    Choice(&'static [&'static str]),
    /// A command's name (`help COMMAND`).
    Command,
}

/// Where an option is accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Scope {
    /// Anywhere on the line, before or after the command, whatever the command.
    Global,
    /// After one of these commands only.
    Commands(&'static [&'static str]),
}

/// One option of the command line.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Flag {
    /// `--output`: the name shown first.
    pub long: &'static str,
    /// `-o`.
    pub short: Option<&'static str>,
    /// neuromorphopy's names for the same option (`--output-dir`): accepted, listed in the
    /// help and completed.
    pub aliases: &'static [&'static str],
    /// The value's name in the help (`DIR`); `None` for a switch.
    pub value: Option<&'static str>,
    /// Given several times, every value is kept (`-f`, `--ca-file`); otherwise twice is a
    /// usage error (a switch given twice is harmless).
    pub repeat: bool,
    /// What completes its value.
    pub hint: Hint,
    /// Where it is accepted.
    pub scope: Scope,
    /// Its description in `--help` (wrapped to fit; `\n` starts a new line).
    pub help: &'static str,
    /// Its description in the help of these commands when the meaning differs there (`-c`
    /// is threads for `check`). A global option is listed in a command's help only if it is
    /// named here.
    pub help_in: &'static [(&'static str, &'static str)],
    /// A few words for completion menus.
    pub about: &'static str,
    /// A valid value (empty for a switch): the table's test parses every option with it.
    #[cfg_attr(not(test), allow(dead_code))]
    pub sample: &'static str,
}

impl Flag {
    /// Its names in the order the parser looks for them and messages list them: short,
    /// long, aliases (`-c`, `--concurrency`, `--concurrent`).
    pub fn names(&self) -> impl Iterator<Item = &'static str> {
        self.short
            .into_iter()
            .chain([self.long])
            .chain(self.aliases.iter().copied())
    }

    /// Whether `command` accepts it.
    pub fn accepted_by(&self, command: &str) -> bool {
        match self.scope {
            Scope::Global => true,
            Scope::Commands(list) => list.contains(&command),
        }
    }

    /// Its description in the help of `command` (`None`: the general one).
    pub fn help_for(&self, command: Option<&str>) -> &'static str {
        command
            .and_then(|c| self.help_in.iter().find(|(name, _)| *name == c))
            .map_or(self.help, |(_, text)| text)
    }
}

/// One command.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CommandSpec {
    pub name: &'static str,
    /// Its free arguments as its usage line shows them (`QUERY`, `[FIELD]`, `NAME...`).
    pub args: &'static str,
    /// What completes a free argument.
    pub args_hint: Hint,
    /// Free arguments that make a valid line (for the table's test).
    #[cfg_attr(not(test), allow(dead_code))]
    pub sample: &'static [&'static str],
    /// Its line in `neuromorpho --help` (wrapped to fit).
    pub summary: &'static str,
    /// A few words for completion menus.
    pub about: &'static str,
    /// Its help before the options.
    pub text: &'static str,
    /// Its help after the options (examples).
    pub more: &'static str,
}

/// The shells `completions` knows.
pub(crate) const SHELLS: &[&str] = &["bash", "zsh", "fish"];

/// Commands that take a query (a file, `-f`, `--sort`, `--all`).
const QUERY: &[&str] = &["preview", "metadata", "download"];
/// Commands that write a metadata table.
const TABLE: &[&str] = &["preview", "metadata", "download", "get"];
/// Commands that run a job (a log, a table, shards).
const JOB: &[&str] = &["metadata", "download", "get"];
/// Commands that download files.
const FILES: &[&str] = &["download", "get"];
/// The commands that check SWC files: `check`, and the file commands with `--check`.
const CHECKS: &[&str] = &["check", "download", "get"];
/// Commands that may build the collection's page.
const PAGE: &[&str] = &["download", "get", "report"];

/// The defaults every entry starts from (`..BASE`).
const BASE: Flag = Flag {
    long: "",
    short: None,
    aliases: &[],
    value: None,
    repeat: false,
    hint: Hint::None,
    scope: Scope::Global,
    help: "",
    help_in: &[],
    about: "",
    sample: "",
};

/// Every option, in the order of the help texts (global ones first).
pub(crate) const FLAGS: &[Flag] = &[
    // The network, the output and the help: accepted by every command.
    Flag {
        long: "--base-url",
        value: Some("URL"),
        help: "Server (default https://neuromorpho.org; alternate http://cng.gmu.edu:8080)",
        about: "the server",
        sample: "http://127.0.0.1:9",
        ..BASE
    },
    Flag {
        long: "--user-agent",
        value: Some("UA"),
        help: "Replace the User-Agent (default neuromorpho/VERSION (+REPO))",
        about: "replace the User-Agent",
        sample: "probe/1.0",
        ..BASE
    },
    Flag {
        long: "--timeout",
        value: Some("SECS"),
        help: "Wait at most this long for a connection, the headers, and each read of a body \
               (default 60)",
        about: "seconds to wait for a connection, headers, each read",
        sample: "5",
        ..BASE
    },
    Flag {
        long: "--speed-limit",
        value: Some("B"),
        help: "Abandon and retry a transfer slower than B bytes/s for --speed-time \
               (default 1000; 0: off)",
        about: "abandon a transfer slower than this (bytes/s)",
        sample: "10K",
        ..BASE
    },
    Flag {
        long: "--speed-time",
        value: Some("SECS"),
        help: "How long a transfer may stay under --speed-limit (default 30)",
        about: "... for this long (seconds)",
        sample: "10",
        ..BASE
    },
    Flag {
        long: "--max-time",
        value: Some("SECS"),
        help: "Bound each transfer as a whole (default: no bound)",
        about: "bound each transfer (seconds)",
        sample: "600",
        ..BASE
    },
    Flag {
        long: "--retries",
        value: Some("N"),
        help: "Attempts per request (default 4)",
        about: "attempts per request",
        sample: "2",
        ..BASE
    },
    Flag {
        long: "--rate",
        value: Some("R"),
        help: "API requests per second, 0 = unlimited (default 5)",
        about: "API requests per second (0: unlimited)",
        sample: "2",
        ..BASE
    },
    Flag {
        long: "--concurrency",
        short: Some("-c"),
        aliases: &["--concurrent"],
        value: Some("N"),
        help: "Parallel requests, 1..64 (default 20)",
        help_in: &[
            ("download", "Parallel downloads, 1..64 (default 20)"),
            ("get", "Parallel downloads, 1..64 (default 20)"),
            (
                "check",
                "Threads reading files, 1..64 (default: the CPUs, at most 8)",
            ),
            (
                "render",
                "Threads drawing files, 1..64 (default: the CPUs, at most 8)",
            ),
            (
                "report",
                "Threads drawing thumbnails, 1..64 (default: the CPUs, at most 8)",
            ),
        ],
        about: "parallel requests",
        sample: "4",
        ..BASE
    },
    Flag {
        long: "--ca-file",
        value: Some("PEM"),
        repeat: true,
        hint: Hint::File,
        help: "Add CA certificates to the built-in roots (repeatable); SSL_CERT_FILE is \
               honoured too",
        about: "add CA certificates (PEM)",
        sample: "ca.pem",
        ..BASE
    },
    Flag {
        long: "--insecure",
        help: "Do not verify TLS certificates (warns on every run)",
        about: "do not verify TLS certificates",
        ..BASE
    },
    Flag {
        long: "--proxy",
        value: Some("URL"),
        help: "Use this HTTP(S) proxy (default: the *_PROXY variables)",
        about: "use this proxy",
        sample: "http://127.0.0.1:3128",
        ..BASE
    },
    Flag {
        long: "--no-proxy",
        help: "Use no proxy, whatever the *_PROXY variables say",
        about: "use no proxy",
        ..BASE
    },
    Flag {
        long: "--max-file-size",
        value: Some("S"),
        help: "Abandon larger files (default 1G)",
        help_in: &[
            ("check", "Larger files are an error, not read (default 1G)"),
            ("render", "Larger files are an error, not read (default 1G)"),
        ],
        about: "abandon larger files (e.g. 500M)",
        sample: "500M",
        ..BASE
    },
    Flag {
        long: "--verbose",
        short: Some("-v"),
        help: "Debug logging",
        about: "debug logging",
        ..BASE
    },
    Flag {
        long: "--quiet",
        short: Some("-q"),
        help: "Only errors on stderr",
        about: "only errors",
        ..BASE
    },
    Flag {
        long: "--help",
        short: Some("-h"),
        help: "Help (of the command named, wherever it is on the line)",
        about: "help",
        ..BASE
    },
    Flag {
        long: "--version",
        short: Some("-V"),
        help: "Version",
        about: "version",
        ..BASE
    },
    // Where the output goes.
    Flag {
        long: "--output",
        short: Some("-o"),
        aliases: &["--output-dir"],
        value: Some("DIR"),
        hint: Hint::Folder,
        scope: Scope::Commands(&[
            "preview", "metadata", "download", "get", "verify", "render", "report",
        ]),
        help: "Output folder (default ./neurons)",
        help_in: &[
            ("verify", "The folder to check (instead of OUT)"),
            ("report", "The downloaded folder (instead of OUT)"),
            (
                "render",
                "Write the pictures into this folder (a folder's files keep their \
                 sub-folders); default: beside each SWC file",
            ),
        ],
        about: "output folder",
        sample: "elsewhere",
        ..BASE
    },
    Flag {
        long: "--metadata",
        short: Some("-m"),
        aliases: &["--metadata-filename"],
        value: Some("FILE"),
        hint: Hint::File,
        scope: Scope::Commands(TABLE),
        help: "Metadata file, relative to DIR (default metadata.csv)",
        about: "metadata file, relative to the output folder",
        sample: "table.csv",
        ..BASE
    },
    // The query.
    Flag {
        long: "--filter",
        short: Some("-f"),
        value: Some("FIELD=V1,V2"),
        repeat: true,
        hint: Hint::FieldEquals,
        scope: Scope::Commands(QUERY),
        help: "Neurons whose FIELD has one of these values (repeatable: fields AND'ed); \
               double quotes keep a value with commas whole",
        about: "FIELD=V1,V2",
        sample: "species=mouse",
        ..BASE
    },
    Flag {
        long: "--sort",
        value: Some("FIELD[:desc]"),
        hint: Hint::Field,
        scope: Scope::Commands(QUERY),
        help: "Sort by FIELD, ascending unless :desc (replaces a query file's sort)",
        about: "FIELD[:desc]",
        sample: "species:desc",
        ..BASE
    },
    Flag {
        long: "--all",
        scope: Scope::Commands(QUERY),
        help: "The whole catalog (no filter)",
        about: "the whole catalog",
        ..BASE
    },
    // What a job writes.
    Flag {
        long: "--group-by",
        short: Some("-g"),
        value: Some("FIELDS"),
        hint: Hint::Field,
        scope: Scope::Commands(FILES),
        help: "Comma-separated fields making sub-folders, one per field: the value as sent, \
               a list as its values joined with \", \" (neocortex, prefrontal, layer 3), \
               missing: unknown; / \\ and control characters become _",
        about: "fields making sub-folders",
        sample: "species",
        ..BASE
    },
    Flag {
        long: "--what",
        value: Some("KINDS"),
        hint: Hint::Choice(&["cng", "original", "logs", "png", "pvec"]),
        scope: Scope::Commands(JOB),
        help: "cng (default), original, logs, png (NeuroMorpho's picture, DIR/images/NAME.png), \
               pvec (persistence vectors in DIR/pvec.csv, 1 request per 500 neurons; metadata \
               takes pvec only) (comma-separated)",
        about: "which files",
        // The one form every command that takes it accepts (metadata: pvec only).
        sample: "pvec",
        ..BASE
    },
    Flag {
        long: "--metadata-format",
        value: Some("FORMAT"),
        hint: Hint::Choice(&["csv", "raw-csv", "jsonl"]),
        scope: Scope::Commands(JOB),
        help: "csv (neuromorphopy's cleaned values, default),\n\
               raw-csv (values untouched, lists joined with |),\n\
               jsonl (each record as the server sent it)",
        about: "table format",
        sample: "jsonl",
        ..BASE
    },
    Flag {
        long: "--neurom",
        scope: Scope::Commands(CHECKS),
        help: "also run every NeuroM 4.0.6 morphology check (NeuroM's defaults); each \
               report gains a neurom part (with download/get: checks.csv's neurom columns)",
        about: "run NeuroM's morphology checks",
        ..BASE
    },
    Flag {
        long: "--checks",
        value: Some("NAME,..."),
        scope: Scope::Commands(CHECKS),
        help: "run only these NeuroM checks, by NeuroM's names (has_axon,has_no_fat_ends,...)",
        about: "NeuroM checks to run",
        sample: "has_axon,has_no_fat_ends",
        ..BASE
    },
    Flag {
        long: "--neurom-preset",
        value: Some("PRESET"),
        hint: Hint::Choice(&["morph-check"]),
        scope: Scope::Commands(CHECKS),
        help: "NeuroM's checks with the thresholds of NeuroM's morph_check.yaml (morph-check)",
        about: "thresholds of morph_check.yaml",
        sample: "morph-check",
        ..BASE
    },
    Flag {
        long: "--neurom-set",
        value: Some("CHECK.PARAM=VALUE,..."),
        repeat: true,
        scope: Scope::Commands(CHECKS),
        help: "a threshold of one NeuroM check (has_no_jumps.max_distance=20); repeatable",
        about: "a NeuroM check's threshold",
        sample: "has_no_jumps.max_distance=20",
        ..BASE
    },
    Flag {
        long: "--require",
        value: Some("WHAT,..."),
        repeat: true,
        hint: Hint::Choice(&["swc", "morphio", "neurom"]),
        scope: Scope::Commands(CHECKS),
        help: "what a file must pass, else it counts as an error (exit code and summary; \
               with download/get, the file is kept and checks.csv's passes column says no): \
               swc (no error; the default), morphio (MorphIO loads it), neurom (every NeuroM \
               check run), or NeuroM check names; repeatable",
        about: "what a kept file must pass",
        sample: "morphio",
        ..BASE
    },
    Flag {
        long: "--morphometry",
        scope: Scope::Commands(JOB),
        help: "Add morph_* measurement columns (1 request per 500 neurons)",
        about: "add morphometry columns",
        ..BASE
    },
    Flag {
        long: "--shard",
        value: Some("K/N"),
        scope: Scope::Commands(JOB),
        help: "Only neurons with neuron_id mod N == K-1 (job arrays); the table is then \
               metadata.shard-K-of-N.csv (and failed/CITATIONS/log files are per shard too)",
        about: "K/N: this part of a job array",
        sample: "2/3",
        ..BASE
    },
    // Datasets (docs/datasets.md).
    Flag {
        long: "--sample",
        value: Some("N|P%"),
        scope: Scope::Commands(TABLE),
        help: "Keep a stable random sample of the matches: the N of smallest key, or P% of \
               them; the key depends only on neuron_id and --seed (not on sort, shard or \
               release)",
        about: "a stable sample: N neurons or P%",
        sample: "10%",
        ..BASE
    },
    Flag {
        long: "--seed",
        value: Some("S"),
        scope: Scope::Commands(TABLE),
        help: "The sample's seed, 0..2^64-1 (default 0): the same seed, the same sample",
        about: "the sample's seed",
        sample: "7",
        ..BASE
    },
    Flag {
        long: "--limit",
        value: Some("N"),
        scope: Scope::Commands(TABLE),
        help: "Keep the first N matches in the query's sort order (only their pages are \
               asked for); with --sample, the sample is taken of those",
        about: "the first N matches",
        sample: "100",
        ..BASE
    },
    Flag {
        long: "--mirror",
        value: Some("DIR"),
        hint: Hint::Folder,
        scope: Scope::Commands(FILES),
        help: "Take files from DIR, a folder this tool downloaded into (hard links where \
               possible, else copies, each checked against DIR's manifest); only what DIR \
               lacks or holds damaged is fetched; DIR is never changed",
        about: "take files from a local mirror",
        sample: "lab-mirror",
        ..BASE
    },
    Flag {
        long: "--from-csv",
        value: Some("FILE"),
        hint: Hint::File,
        scope: Scope::Commands(&["download"]),
        help: "Download the neurons of an earlier metadata file instead of a query \
               (1 look-up request per 500 names)",
        about: "the neurons of an earlier table",
        sample: "m.csv",
        ..BASE
    },
    Flag {
        long: "--names",
        value: Some("FILE"),
        hint: Hint::File,
        scope: Scope::Commands(&["get"]),
        help: "One name per line (# comments allowed; - reads stdin)",
        about: "a file of names (- : stdin)",
        sample: "names.txt",
        ..BASE
    },
    Flag {
        long: "--update",
        scope: Scope::Commands(FILES),
        help: "Bring the folder to the server's current release: new neurons are fetched, \
               every file held is revalidated with one conditional request (changed ones \
               replaced, the old copy kept in DIR/previous/DATE/), neurons no longer matched \
               are listed, never deleted. download without a QUERY repeats the query saved in DIR.",
        about: "revalidate held files, fetch new ones",
        ..BASE
    },
    Flag {
        long: "--check-hash",
        scope: Scope::Commands(FILES),
        help: "Skip a file in place only if its SHA-256 matches its manifest entry (the size \
               is always compared)",
        about: "compare SHA-256 before skipping",
        ..BASE
    },
    Flag {
        long: "--check",
        scope: Scope::Commands(FILES),
        help: "Check every SWC file held (as 'neuromorpho check' does) and write the verdicts \
               to DIR/checks.csv: neuron_id, neuron_name, file, points, roots, stems, \
               bifurcations, tips, total_length, errors, warnings, issues (code@line), \
               morphio, morphio_reason, neurom, neurom_failed, passes; files with errors are \
               kept and counted (--neurom, --checks, --require as for 'check')",
        about: "check every SWC file, verdicts in checks.csv",
        ..BASE
    },
    Flag {
        long: "--report",
        scope: Scope::Commands(FILES),
        help: "After the job (and after --check), build DIR/index.html: the collection's page \
               (as 'neuromorpho report' does)",
        about: "build the collection's page, DIR/index.html",
        ..BASE
    },
    Flag {
        long: "--split-by",
        value: Some("FIELD"),
        hint: Hint::Field,
        scope: Scope::Commands(PAGE),
        help: "The page's histograms are split by this metadata field (default species)",
        about: "split the histograms by this field",
        sample: "cell_type",
        ..BASE
    },
    Flag {
        long: "--columns",
        value: Some("FIELDS"),
        hint: Hint::Field,
        scope: Scope::Commands(PAGE),
        help: "The page's metadata columns, comma-separated (default \
               archive,species,brain_region,cell_type)",
        about: "the page's metadata columns",
        sample: "species,stain",
        ..BASE
    },
    Flag {
        long: "--no-thumbnails",
        scope: Scope::Commands(PAGE),
        help: "A page without pictures (none drawn; quicker for a huge folder)",
        about: "no pictures on the page",
        ..BASE
    },
    Flag {
        long: "--no-log",
        scope: Scope::Commands(JOB),
        help: "No log file in DIR",
        about: "no log file",
        ..BASE
    },
    // verify
    Flag {
        long: "--repair",
        scope: Scope::Commands(&["verify"]),
        help: "Fetch again (atomically) every file missing, cut or changed, and check once \
               more; exit 0 when everything holds then",
        about: "fetch again what failed",
        ..BASE
    },
    Flag {
        long: "--no-hash",
        scope: Scope::Commands(&["verify"]),
        help: "Compare sizes only (fast)",
        about: "sizes only",
        ..BASE
    },
    Flag {
        long: "--threads",
        short: Some("-j"),
        value: Some("N"),
        scope: Scope::Commands(&["verify"]),
        help: "Files hashed at once, 1..64 (default: the CPUs, at most 8)",
        about: "files hashed at once",
        sample: "3",
        ..BASE
    },
    // render
    Flag {
        long: "--view",
        value: Some("VIEW"),
        hint: Hint::Choice(&["xy", "xz", "yz", "sheet", "dendrogram"]),
        scope: Scope::Commands(&["render"]),
        help: "xy (default), xz, yz, sheet (the three at one scale) or dendrogram (path \
               distance against branching)",
        about: "what is drawn",
        sample: "sheet",
        ..BASE
    },
    Flag {
        long: "--width",
        value: Some("PX"),
        scope: Scope::Commands(&["render"]),
        help: "Draw every segment this many pixels wide, 0.1..50 (default: its true width, \
               from its radius)",
        about: "one line width for all segments (pixels)",
        sample: "1.5",
        ..BASE
    },
    Flag {
        long: "--size",
        value: Some("PX"),
        scope: Scope::Commands(&["render"]),
        help: "The picture's longer side, 100..10000 pixels (default 800)",
        about: "picture size (pixels)",
        sample: "400",
        ..BASE
    },
    // check
    Flag {
        long: "--format",
        value: Some("FORMAT"),
        hint: Hint::Choice(&["table", "jsonl"]),
        scope: Scope::Commands(&["check"]),
        help: "table (default) or jsonl",
        about: "output format",
        sample: "jsonl",
        ..BASE
    },
];

/// Every command, in the order of `neuromorpho --help`.
pub(crate) const COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        name: "fields",
        args: "[FIELD]",
        args_hint: Hint::Field,
        sample: &[],
        summary: "List the queryable fields, or every value of FIELD",
        about: "list the queryable fields, or a field's values",
        text: "List the fields a query can use, one per line; with FIELD, every value of that field
(all pages of /api/neuron/fields/FIELD), one per line.",
        more: "EXAMPLES:
    neuromorpho fields
    neuromorpho fields species",
    },
    CommandSpec {
        name: "preview",
        args: "QUERY",
        args_hint: Hint::File,
        sample: &["q.json"],
        summary: "Validate a query; print the count and the first 3 names",
        about: "validate a query, print the count",
        text: "Validate the query against the server (unknown fields or values are listed with the
closest valid ones), then print the number of neurons, the output folder, the metadata
file and the first 3 neuron names. Downloads nothing, writes nothing.

QUERY: a query file, and/or -f FIELD=V1,V2 (repeatable), --sort FIELD[:desc], or --all.",
        more: "EXAMPLE:
    neuromorpho preview -f species=mouse -f brain_region=neocortex",
    },
    CommandSpec {
        name: "metadata",
        args: "QUERY",
        args_hint: Hint::File,
        sample: &["q.json"],
        summary: "Search and write only the metadata table",
        about: "write only the metadata table",
        text: "Search and write only the metadata table (one row per neuron), page by page as pages
arrive; the file appears under its name only when complete.

QUERY: a query file, and/or -f FIELD=V1,V2 (repeatable), --sort FIELD[:desc], or --all.",
        more: "EXAMPLE:
    neuromorpho metadata --all --metadata-format jsonl -o catalog",
    },
    CommandSpec {
        name: "download",
        args: "QUERY",
        args_hint: Hint::File,
        sample: &["q.json"],
        summary: "Search, write the metadata table, download every SWC file",
        about: "the table, then every file",
        text: "Search, write the metadata table, then download every neuron's standardized SWC file to
DIR/downloads/NAME.swc (or DIR/downloads/VALUE1/VALUE2/NAME.swc with -g). Files already
present are skipped, so running the same command again finishes an interrupted job.
Each file is written to a hidden temporary file and renamed only when complete and
checked. Failures are listed in DIR/failed.csv (exit code 3). A log is written to
DIR/YYYY-MM-DD-HH_MM-QUERYNAME.log (UTC) unless --no-log.

QUERY: a query file, and/or -f FIELD=V1,V2 (repeatable), --sort FIELD[:desc], or --all.",
        more: "EXAMPLES:
    neuromorpho download examples/wearne-hof.json -o neurons
    neuromorpho download -f species=rat -g brain_region -c 8
    neuromorpho download --from-csv neurons/metadata.csv --shard $SLURM_ARRAY_TASK_ID/10",
    },
    CommandSpec {
        name: "get",
        args: "NAME...",
        args_hint: Hint::None,
        sample: &["cnic_001"],
        summary: "Download neurons by name",
        about: "neurons by name",
        text: "Download neurons by name: their records (one request per 500 names), the metadata table
and their files. Names the server does not know are reported (exit code 3).",
        more: "EXAMPLE:
    neuromorpho get cnic_001 C031097B-I4 -o two --what cng,original",
    },
    CommandSpec {
        name: "verify",
        args: "OUT",
        args_hint: Hint::Folder,
        sample: &["out"],
        summary: "Check a folder against its manifest (sizes, SHA-256); --repair",
        about: "check a folder against its manifest",
        text: "Check every file OUT/manifest.jsonl lists (present, size, SHA-256) and list the files of
OUT/downloads, OUT/original, OUT/logs and OUT/images that no entry names (the page,
index.html and thumbnails/, is not data). Offline. Prints each problem on stdout (PATH:
what is wrong) and a summary on stderr. Exit 0 when everything holds,
3 when not. `sha256sum -c SHA256SUMS` in OUT checks the same files without neuromorpho.",
        more: "EXAMPLE:
    neuromorpho verify neurons && neuromorpho verify neurons --repair",
    },
    CommandSpec {
        name: "check",
        args: "PATH...",
        args_hint: Hint::File,
        sample: &["x.swc"],
        summary: "Check SWC files and folders: what a reader would trip on, and NeuroM's \
                  measures (no network)",
        about: "check SWC files and folders",
        text: "Check SWC files, without the network: read and validate each one, and measure it with
NeuroM's definitions (stems = neurites, bifurcations, tips = leaves, total length).
PATH is a file (checked whatever its name), a folder (every .swc file under it, at any
depth, in name order; hidden files and links to folders are skipped), or - for stdin.
Files are read in parallel; each report is printed as soon as it is its turn, and memory
does not grow with the number of files. A summary goes to stderr at the end.

OUTPUT:
    --format table   (default, also when stdout is not a terminal) one line per file:
                     points, stems, bifurcations, tips, total_length (µm), errors,
                     warnings, file (last, so that the columns stay aligned); then each
                     issue on an indented line: 'line N: message [severity code]'.
                     '-' where a value is unknown: the tree measures are given only for
                     a file without error.
    --format jsonl   One JSON object per file and line, with the fields file, points,
                     roots, stems, bifurcations, tips, total_length (null when unknown)
                     and issues (each with code, severity, line (null when it applies to
                     no single line) and message).

Errors make a file unusable as a tree (no tree measures): io, too-large, empty, html,
too-few-fields, not-a-number, not-an-integer, non-finite, bad-id, duplicate-id,
missing-parent, cycle, no-root. Warnings leave a usable tree, but some make MorphIO (and
so NeuroM) refuse the file: soma-bifurcation, soma-child-of-neurite, unifurcation,
several-roots (a second soma), unsupported-type (negative, or 20 and above). The table of
every code, with what each breaks downstream, is in the library's docs of IssueCode.",
        more: "EXIT CODES:
    0  no file has an error (warnings allowed)
    1  nothing could be read: every path missing or unreadable, or no .swc file found
    2  usage error
    3  some file has an error

EXAMPLES:
    neuromorpho check neurons/downloads
    neuromorpho check cell.swc other.swc
    neuromorpho check neurons/downloads --format jsonl | jq 'select(.issues != [])'
    curl -s URL | neuromorpho check -",
    },
    CommandSpec {
        name: "render",
        args: "PATH...",
        args_hint: Hint::File,
        sample: &["x.swc"],
        summary: "Draw SWC files as SVG pictures (no network)",
        about: "draw SWC files as SVG",
        text: "Draw each SWC file as an SVG picture, without the network: every segment at its true
width (or --width), coloured by type as NeuroM colours them (soma black, axon blue, basal
dendrite red, apical dendrite purple; other types named in the legend), the soma as its
shape, a scale bar in µm and the file's name. PATH is walked as 'check' walks it: a file
(drawn whatever its name), a folder (every .swc file under it, in name order; hidden files
and links to folders skipped), or - for stdin (the picture goes to stdout).

OUTPUT: NAME.svg beside NAME.swc (NAME.VIEW.svg for a view other than xy), or in the
folder -o names (a folder's files keep their sub-folders there). Each picture is written
to a temporary file and renamed when complete; an input is never overwritten. A file with
errors is drawn as far as it can be read, says so on the picture and gets one line on
stderr; a file that cannot be read gets one line on stderr and no picture.",
        more: "EXIT CODES:
    0  every file drawn (warnings allowed)
    1  nothing could be read, or no .swc file found
    2  usage error
    3  some file has an error (drawn as far as it can be read) or could not be read
    130, 143  interrupted (Ctrl-C, SIGTERM): the pictures written so far are whole

EXAMPLES:
    neuromorpho render neurons/downloads -o pictures
    neuromorpho render cell.swc --view sheet --width 1
    curl -s URL | neuromorpho render - > cell.svg",
    },
    CommandSpec {
        name: "report",
        args: "OUT",
        args_hint: Hint::Folder,
        sample: &["out"],
        summary: "Build OUT/index.html: a page of the whole downloaded collection (offline)",
        about: "build the collection's page",
        text: "Build OUT/index.html from a downloaded folder, offline: one self-contained page (no network,
no external script or font) with a row per neuron (name, metadata columns, the verdicts
and measures of checks.csv when 'download --check' wrote it, links to its files), sortable
and filterable by any column, the filter kept in the URL (index.html#species=mouse,
#verdict=errors) so that a view can be shared; a thumbnail per neuron (drawn into
OUT/thumbnails/, again only when its SWC file changed); histograms of the measures split
by --split-by; the citations. 'verify' never counts index.html or thumbnails/ as unknown.",
        more: "EXIT CODES:
    0  the page is built
    1  the folder cannot be read, or the page cannot be written
    2  usage error
    3  the page is built, but some SWC file could not be drawn (listed on stderr)

EXAMPLES:
    neuromorpho report neurons && xdg-open neurons/index.html
    neuromorpho download -f species=mouse -o mice --check --report",
    },
    CommandSpec {
        name: "doctor",
        args: "",
        args_hint: Hint::None,
        sample: &[],
        summary: "Check the connection step by step (DNS, TCP, TLS, HTTP, API, files)",
        about: "check the connection step by step",
        text: "Check, one line each: DNS, TCP connect, TLS handshake (and which certificate problem),
HTTP, /api/health, that /api/neuron/partition/species is not empty, and one file
download. On failure it names the step and the option that may help. The global options
(--base-url, --proxy, --ca-file, ...) apply.",
        more: "",
    },
    CommandSpec {
        name: "completions",
        args: "SHELL",
        args_hint: Hint::Choice(SHELLS),
        sample: &["bash"],
        summary: "Print a completion script for bash, zsh or fish",
        about: "print a completion script",
        text: "Print a completion script for bash, zsh or fish: commands, options, field names
for -f, -g and --sort, and the choices of --what, --metadata-format and --format.",
        more: "INSTALL:
    bash:  neuromorpho completions bash > ~/.local/share/bash-completion/completions/neuromorpho
    zsh:   neuromorpho completions zsh > ~/.zfunc/_neuromorpho   (with fpath+=~/.zfunc)
    fish:  neuromorpho completions fish > ~/.config/fish/completions/neuromorpho.fish",
    },
    CommandSpec {
        name: "help",
        args: "[COMMAND]",
        args_hint: Hint::Command,
        sample: &[],
        summary: "Help on a command",
        about: "help on a command",
        text: "",
        more: "",
    },
];

/// The command named `name`.
pub(crate) fn command(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name == name)
}

/// The options a command accepts: its own in the table's order, then the global ones.
pub(crate) fn accepted_by(command: &str) -> Vec<&'static Flag> {
    let own = FLAGS
        .iter()
        .filter(|f| f.scope != Scope::Global && f.accepted_by(command));
    let global = FLAGS.iter().filter(|f| f.scope == Scope::Global);
    own.chain(global).collect()
}

/// Every command with the options it accepts (its own, then the global ones): what the
/// help and the completions list, and what the README's command list can be checked against.
pub(crate) fn commands_with_flags() -> Vec<(&'static CommandSpec, Vec<&'static Flag>)> {
    COMMANDS.iter().map(|c| (c, accepted_by(c.name))).collect()
}

/// The option named `name` (any of its names).
pub(crate) fn find(name: &str) -> Option<&'static Flag> {
    FLAGS.iter().find(|f| f.names().any(|n| n == name))
}

#[cfg(test)]
mod tests {
    use std::ffi::OsString;

    use super::super::{args, completions, help};
    use super::*;

    /// What `parse` makes of `words`: the config, or the usage error, as text.
    fn parse(words: &[&str]) -> Result<String, String> {
        let raw: Vec<OsString> = words.iter().map(OsString::from).collect();
        args::parse(raw).map(|c| format!("{c:?}")).map_err(|e| e.0)
    }

    /// The words of a text: runs of letters, digits, `-` and `_` (`-o,` gives `-o`).
    fn words(text: &str) -> Vec<&str> {
        text.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-' || c == '_'))
            .filter(|w| !w.is_empty())
            .collect()
    }

    /// The commands where `flag` must work (every one for a global option).
    fn contexts(flag: &Flag) -> Vec<&'static CommandSpec> {
        match flag.scope {
            Scope::Global => COMMANDS.iter().collect(),
            Scope::Commands(names) => names
                .iter()
                .map(|n| command(n).unwrap_or_else(|| panic!("{}: no command {n}", flag.long)))
                .collect(),
        }
    }

    /// The part of each script that completes `command`'s options: bash's word list, zsh's
    /// `_arguments` line, fish's lines for that command.
    fn completed_for(command: &str) -> [(&'static str, String); 3] {
        let bash = completions::script("bash").unwrap();
        let head = format!("        {command})\n");
        let bash_part = bash
            .split_once(&head)
            .and_then(|(_, rest)| rest.lines().next())
            .unwrap_or_else(|| panic!("bash: no case for {command}"))
            .to_string();
        let zsh = completions::script("zsh").unwrap();
        let zsh_part = zsh
            .lines()
            .find(|l| l.starts_with(&format!("        {command}) _arguments")))
            .unwrap_or_else(|| panic!("zsh: no case for {command}"))
            .to_string();
        let fish = completions::script("fish").unwrap();
        let cond = format!("-n '__fish_seen_subcommand_from {command}'");
        let fish_part: Vec<&str> = fish.lines().filter(|l| l.contains(&cond)).collect();
        [
            ("bash", bash_part),
            ("zsh", zsh_part),
            ("fish", fish_part.join("\n")),
        ]
    }

    /// Whether a script's part for one command completes the option name `name`.
    fn completes(shell: &str, part: &str, name: &str) -> bool {
        match shell {
            "bash" => words(part).contains(&name),
            "zsh" => [
                format!("'{name}["),
                format!("'*{name}["),
                format!("{{{name},"),
                format!(",{name}}}"),
            ]
            .iter()
            .any(|p| part.contains(p.as_str())),
            _ => {
                let pattern = match name.strip_prefix("--") {
                    Some(long) => format!(" -l {long} "),
                    None => format!(" -s {} ", name.trim_start_matches('-')),
                };
                part.lines().any(|l| l.contains(&pattern))
            }
        }
    }

    /// Every option of the table, by each of its names, in every command that accepts it:
    /// it parses with its sample value (nothing left over), changes the config (its value
    /// is read), is listed in that command's help (the main help for a global one), and
    /// each of the three completion scripts offers it there. A table entry the parser does
    /// not read fails here: the parser's sweep calls it a bug, or the config is unchanged.
    #[test]
    fn every_option_parses_is_read_documented_and_completed() {
        for flag in FLAGS {
            for name in flag.names() {
                let given: Vec<&str> = std::iter::once(name)
                    .chain(flag.value.map(|_| flag.sample))
                    .collect();
                let mut read_somewhere = false;
                for c in contexts(flag) {
                    // With the command's sample arguments, or without them when they do
                    // not go with the option (--from-csv and a query; -o and verify's OUT).
                    let mut base = vec![c.name];
                    base.extend(c.sample);
                    assert!(parse(&base).is_ok(), "{base:?}: {:?}", parse(&base));
                    let mut line = [base.as_slice(), &given].concat();
                    if parse(&line).is_err() {
                        base.truncate(1);
                        line = [base.as_slice(), &given].concat();
                    }
                    let got = parse(&line);
                    assert!(got.is_ok(), "{line:?}: {got:?}");
                    let read = got != parse(&base);
                    if flag.scope != Scope::Global {
                        assert!(read, "{line:?} parses as {base:?}: {name} is not read");
                    }
                    read_somewhere |= read;
                }
                // -V changes a line without a command only.
                read_somewhere |= parse(&given).is_ok() && parse(&given) != parse(&[]);
                assert!(read_somewhere, "{name} is never read");
            }
            // Listed in the help, by all its names.
            let helps: Vec<(&str, &str)> = match flag.scope {
                Scope::Global => vec![("main", help::main())],
                Scope::Commands(_) => contexts(flag)
                    .iter()
                    .map(|c| (c.name, help::for_command(c.name).unwrap()))
                    .collect(),
            };
            for (command, text) in helps {
                // Its entry: the line that starts with its names, and the lines under it.
                let lines: Vec<&str> = text.lines().collect();
                let first = flag.short.unwrap_or(flag.long);
                let at = lines
                    .iter()
                    .position(|l| l.trim_start().split([' ', ',']).next() == Some(first))
                    .unwrap_or_else(|| panic!("{command}'s help has no line for {}", flag.long));
                let entry: Vec<&str> = std::iter::once(lines[at])
                    .chain(
                        lines[at + 1..]
                            .iter()
                            .copied()
                            .take_while(|l| l.starts_with("     ")),
                    )
                    .collect();
                let entry = entry.join("\n");
                for name in flag.names() {
                    assert!(
                        words(&entry).contains(&name),
                        "{command}'s help: {name} not in {entry:?}"
                    );
                }
            }
            // Completed by each shell, after each command that accepts it.
            for c in contexts(flag) {
                for (shell, part) in completed_for(c.name) {
                    for name in flag.names() {
                        assert!(
                            completes(shell, &part, name),
                            "{shell}: {name} is not completed after {}",
                            c.name
                        );
                    }
                }
            }
        }
    }

    /// An option is unknown to the commands outside its scope, whatever its value.
    #[test]
    fn options_are_unknown_outside_their_commands() {
        for flag in FLAGS {
            let Scope::Commands(accepted) = flag.scope else {
                continue;
            };
            for c in COMMANDS.iter().filter(|c| !accepted.contains(&c.name)) {
                for name in flag.names() {
                    let mut line = vec![c.name];
                    line.extend(c.sample);
                    line.push(name);
                    line.extend(flag.value.map(|_| flag.sample));
                    let got = parse(&line);
                    let unknown = format!("unknown option '{name}'");
                    assert!(
                        got.as_ref().is_err_and(|e| e.contains(&unknown)),
                        "{line:?}: {got:?}"
                    );
                }
            }
        }
    }

    /// Every command parses with its sample arguments, has its help, is in the main help
    /// and is completed by each shell; every value hint of the table is one the scripts
    /// know (a choice's words are offered).
    #[test]
    fn every_command_parses_has_help_and_is_completed() {
        let scripts: Vec<String> = SHELLS
            .iter()
            .map(|s| completions::script(s).unwrap())
            .collect();
        for c in COMMANDS {
            let mut line = vec![c.name];
            line.extend(c.sample);
            assert!(parse(&line).is_ok(), "{line:?}: {:?}", parse(&line));
            let text = help::for_command(c.name).unwrap();
            if c.name == "help" {
                assert_eq!(text, help::main());
            } else {
                assert!(
                    text.starts_with(&format!("neuromorpho {}", c.name)),
                    "{text}"
                );
            }
            assert!(
                words(help::main()).contains(&c.name),
                "{} not in the main help",
                c.name
            );
            for script in &scripts {
                assert!(words(script).contains(&c.name), "{} not completed", c.name);
            }
        }
        for hint in FLAGS
            .iter()
            .map(|f| f.hint)
            .chain(COMMANDS.iter().map(|c| c.args_hint))
        {
            if let Hint::Choice(list) = hint {
                for script in &scripts {
                    for word in list {
                        assert!(words(script).contains(word), "{word} not completed");
                    }
                }
            }
        }
        // Names are unique: one option per name.
        let mut all: Vec<&str> = FLAGS.iter().flat_map(|f| f.names()).collect();
        let count = all.len();
        all.sort_unstable();
        all.dedup();
        assert_eq!(all.len(), count, "a name is declared twice");
    }

    /// The README (or docs/) mentions every command and each option it accepts (by one of
    /// its names), so that its command list can be checked against the table.
    #[test]
    fn every_option_is_in_the_readme() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut text = std::fs::read_to_string(root.join("README.md")).unwrap();
        if let Ok(entries) = std::fs::read_dir(root.join("docs")) {
            for e in entries.flatten() {
                if e.path().extension().is_some_and(|x| x == "md") {
                    text.push_str(&std::fs::read_to_string(e.path()).unwrap());
                }
            }
        }
        let known = words(&text);
        let mut missing = Vec::new();
        for (c, flags) in commands_with_flags() {
            if !text.contains(&format!("neuromorpho {}", c.name)) {
                missing.push(format!("command {}", c.name));
            }
            for f in flags {
                if !f.names().any(|n| known.contains(&n)) && !missing.contains(&f.long.into()) {
                    missing.push(f.long.to_string());
                }
            }
        }
        assert!(missing.is_empty(), "not in README.md or docs/: {missing:?}");
    }
}
