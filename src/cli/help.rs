//! Help texts, one per command.

pub const MAIN: &str = concat!(
    "neuromorpho ",
    env!("CARGO_PKG_VERSION"),
    " — search NeuroMorpho.Org and download neuron morphologies (SWC) with their metadata

USAGE:
    neuromorpho [GLOBAL OPTIONS] <COMMAND> [ARGS]

COMMANDS:
    fields [FIELD]      List the queryable fields, or every value of FIELD
    preview QUERY       Validate a query; print the count and the first 3 names
    metadata QUERY      Search and write only the metadata table
    download QUERY      Search, write the metadata table, download every SWC file
    get NAME...         Download neurons by name
    verify OUT          Check a folder against its manifest (sizes, SHA-256); --repair
    check PATH...       Check SWC files and folders: what a reader would trip on, and
                        NeuroM's measures (no network)
    doctor              Check the connection step by step (DNS, TCP, TLS, HTTP, API, files)
    completions SHELL   Print a completion script for bash, zsh or fish
    help [COMMAND]      Help on a command

QUERY is a query file (JSON, or YAML), neuromorphopy's format:
    {\"filters\": {\"species\": [\"mouse\"], \"brain_region\": [\"neocortex\"]},
     \"sort\": {\"field\": \"neuron_id\", \"ascending\": true}}
and/or -f FIELD=V1,V2 (repeatable; double quotes keep a value with commas whole:
-f 'domain=\"Dendrites, Soma, No Axon\"'), --sort FIELD[:desc], or --all for the whole
catalog. Values are OR'ed within a field, fields AND'ed. With a file, -f adds values to
the file's list for that field (or a new field), and --sort replaces the file's sort.

GLOBAL OPTIONS:
    --base-url URL      Server (default https://neuromorpho.org; alternate
                        http://cng.gmu.edu:8080)
    --user-agent UA     Replace the User-Agent (default neuromorpho/VERSION (+REPO))
    --timeout SECS      Wait at most this long for a connection, the headers, and each
                        read of a body (default 60)
    --speed-limit B     Abandon and retry a transfer slower than B bytes/s ...
    --speed-time SECS   ... for SECS (defaults 1000 and 30; --speed-limit 0: off)
    --max-time SECS     Bound each transfer as a whole (default: no bound)
    --retries N         Attempts per request (default 4)
    --rate R            API requests per second, 0 = unlimited (default 5)
    -c, --concurrency N Parallel requests, 1..64 (default 20; also --concurrent)
    --ca-file PEM       Add CA certificates to the built-in roots (repeatable);
                        SSL_CERT_FILE is honoured too
    --insecure          Do not verify TLS certificates (warns on every run)
    --proxy URL         Use this HTTP(S) proxy; --no-proxy: none (default: *_PROXY)
    --max-file-size S   Abandon larger files (default 1G)
    -v, --verbose       Debug logging
    -q, --quiet         Only errors on stderr
    -h, --help          Help;  -V, --version  Version
    RUST_LOG=neuromorpho=debug works as well.

EXIT CODES:
    0  all done
    1  error: bad query, server unreachable, nothing downloaded (check: nothing readable)
    2  usage error
    3  finished, but some files failed (listed in OUT/failed.csv; the others are in place);
       check: some file has an error

EXAMPLES:
    neuromorpho fields species
    neuromorpho preview query.json
    neuromorpho download query.yaml -o neurons -c 8 -g species,brain_region
    neuromorpho download -f species=mouse -f cell_type=pyramidal -o mouse_pyr
    neuromorpho get cnic_001 C031097B-I4 -o some
    neuromorpho check neurons/downloads
    neuromorpho check neurons/downloads --format jsonl > report.jsonl
"
);

pub const FIELDS: &str = "neuromorpho fields [FIELD]

List the fields a query can use, one per line; with FIELD, every value of that field
(all pages of /api/neuron/fields/FIELD), one per line.

EXAMPLES:
    neuromorpho fields
    neuromorpho fields species
";

pub const PREVIEW: &str = "neuromorpho preview QUERY [-o DIR] [-m FILE]

Validate the query against the server (unknown fields or values are listed with the
closest valid ones), then print the number of neurons, the output folder, the metadata
file and the first 3 neuron names. Downloads nothing, writes nothing.

QUERY: a query file, and/or -f FIELD=V1,V2 (repeatable), --sort FIELD[:desc], or --all.

OPTIONS:
    -o, --output DIR     Output folder to show (default ./neurons; also --output-dir)
    -m, --metadata FILE  Metadata file to show, relative to DIR (default metadata.csv;
                         also --metadata-filename)

EXAMPLE:
    neuromorpho preview -f species=mouse -f brain_region=neocortex
";

pub const METADATA: &str = "neuromorpho metadata QUERY [-o DIR] [-m FILE] [OPTIONS]

Search and write only the metadata table (one row per neuron), page by page as pages
arrive; the file appears under its name only when complete.

OPTIONS:
    -o, --output DIR            Output folder (default ./neurons; also --output-dir)
    -m, --metadata FILE         Relative to DIR (default metadata.csv; also
                                --metadata-filename)
    --metadata-format FORMAT    csv (neuromorphopy's cleaned values, default),
                                raw-csv (values untouched, lists joined with |),
                                jsonl (each record as the server sent it)
    --morphometry               Add morph_* measurement columns (1 request per 500 neurons)
    --shard K/N                 Only neurons with neuron_id mod N == K-1
    --no-log                    No log file in DIR

EXAMPLE:
    neuromorpho metadata --all --metadata-format jsonl -o catalog
";

pub const DOWNLOAD: &str =
    "neuromorpho download QUERY [-o DIR] [-m FILE] [-c N] [-g FIELDS] [OPTIONS]

Search, write the metadata table, then download every neuron's standardized SWC file to
DIR/downloads/NAME.swc (or DIR/downloads/VALUE1/VALUE2/NAME.swc with -g). Files already
present are skipped, so running the same command again finishes an interrupted job.
Each file is written to a hidden temporary file and renamed only when complete and
checked. Failures are listed in DIR/failed.csv (exit code 3). A log is written to
DIR/YYYY-MM-DD-HH_MM-QUERYNAME.log (UTC) unless --no-log.

OPTIONS:
    -o, --output DIR            Output folder (default ./neurons; also --output-dir)
    -m, --metadata FILE         Relative to DIR (default metadata.csv; also
                                --metadata-filename)
    -c, --concurrency N         Parallel downloads, 1..64 (default 20; also --concurrent)
    -g, --group-by FIELDS       Comma-separated fields making sub-folders, one per field:
                                the value as sent, a list as its values joined with
                                \", \" (neocortex, prefrontal, layer 3), missing: unknown;
                                / \\ and control characters become _
    --what KINDS                cng (default), original, logs (comma-separated)
    --metadata-format FORMAT    csv (default), raw-csv, jsonl
    --morphometry               Add morph_* measurement columns
    --shard K/N                 Only neurons with neuron_id mod N == K-1 (job arrays);
                                the table is then metadata.shard-K-of-N.csv (and
                                failed/CITATIONS/log files are per shard too)
    --from-csv FILE             Download the neurons of an earlier metadata file
                                instead of a query (1 look-up request per 500 names)
    --update                    Bring the folder to the server's current release: new
                                neurons are fetched, every file held is revalidated
                                with one conditional request (changed ones replaced,
                                the old copy kept in DIR/previous/DATE/), neurons no
                                longer matched are listed, never deleted. Without a
                                QUERY, the query saved in DIR is used.
    --check-hash                Skip a file in place only if its SHA-256 matches its
                                manifest entry (the size is always compared)
    --check                     Check every SWC file held (as 'neuromorpho check' does)
                                and write the verdicts to DIR/checks.csv: neuron_id,
                                neuron_name, file, points, roots, stems, bifurcations,
                                tips, total_length, errors, warnings, issues (code@line);
                                files with errors are kept and counted
    --no-log                    No log file
    -v, --verbose / -q, --quiet

EXAMPLES:
    neuromorpho download examples/wearne-hof.json -o neurons
    neuromorpho download -f species=rat -g brain_region -c 8
    neuromorpho download --from-csv neurons/metadata.csv --shard $SLURM_ARRAY_TASK_ID/10
";

pub const GET: &str = "neuromorpho get NAME... [--names FILE] [-o DIR] [OPTIONS]

Download neurons by name: their records (one request per 500 names), the metadata table
and their files. Names the server does not know are reported (exit code 3).

OPTIONS:
    --names FILE     One name per line (# comments allowed; - reads stdin)
    -o, -m, -c, -g, --what, --metadata-format, --morphometry, --update, --check-hash,
    --check, --no-log: as for download

EXAMPLE:
    neuromorpho get cnic_001 C031097B-I4 -o two --what cng,original
";

pub const VERIFY: &str = "neuromorpho verify OUT [--repair] [--no-hash] [-j N]

Check every file OUT/manifest.jsonl lists (present, size, SHA-256) and list the files of
OUT/downloads, OUT/original and OUT/logs that no entry names. Offline. Prints each problem
on stdout (PATH: what is wrong) and a summary on stderr. Exit 0 when everything holds,
3 when not. `sha256sum -c SHA256SUMS` in OUT checks the same files without neuromorpho.

OPTIONS:
    --repair      Fetch again (atomically) every file missing, cut or changed, and check
                  once more; exit 0 when everything holds then
    --no-hash     Compare sizes only (fast)
    -j, --threads N  Files hashed at once (default: CPUs, at most 8)

EXAMPLE:
    neuromorpho verify neurons && neuromorpho verify neurons --repair
";

pub const COMPLETIONS: &str = "neuromorpho completions bash|zsh|fish

Print a completion script: commands, options, field names for -f, -g and --sort, and
the choices of --what, --metadata-format and --format.

INSTALL:
    bash:  neuromorpho completions bash > ~/.local/share/bash-completion/completions/neuromorpho
    zsh:   neuromorpho completions zsh > ~/.zfunc/_neuromorpho   (with fpath+=~/.zfunc)
    fish:  neuromorpho completions fish > ~/.config/fish/completions/neuromorpho.fish
";

pub const DOCTOR: &str = "neuromorpho doctor [--base-url URL]

Check, one line each: DNS, TCP connect, TLS handshake (and which certificate problem),
HTTP, /api/health, that /api/neuron/partition/species is not empty, and one file
download. On failure it names the step and the option that may help.
";

pub const CHECK: &str = "neuromorpho check PATH... [--format table|jsonl] [-c N]

Check SWC files, without the network: read and validate each one, and measure it with
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
every code, with what each breaks downstream, is in the library's docs of IssueCode.

OPTIONS:
    --format FORMAT      table (default) or jsonl
    -c, --concurrency N  Threads reading files, 1..64 (default: the CPUs, at most 8)
    --max-file-size S    Larger files are an error, not read (default 1G)

EXIT CODES:
    0  no file has an error (warnings allowed)
    1  nothing could be read: every path missing or unreadable, or no .swc file found
    2  usage error
    3  some file has an error

EXAMPLES:
    neuromorpho check neurons/downloads
    neuromorpho check cell.swc other.swc
    neuromorpho check neurons/downloads --format jsonl | jq 'select(.issues != [])'
    curl -s URL | neuromorpho check -
";

/// The help of a command, by name.
pub fn for_command(name: &str) -> Option<&'static str> {
    Some(match name {
        "fields" => FIELDS,
        "preview" => PREVIEW,
        "metadata" => METADATA,
        "download" => DOWNLOAD,
        "get" => GET,
        "doctor" => DOCTOR,
        "verify" => VERIFY,
        "check" => CHECK,
        "completions" => COMPLETIONS,
        "help" => MAIN,
        _ => return None,
    })
}
